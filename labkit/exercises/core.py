"""Self-checks for the notebooks: each check_<name>(...) returns Feedback(correct, message).

A learner types an answer in a cell, the check says ✓ or ✗ and, when wrong, gives a hint that points at the
mistake without giving the answer away. Checks accept answers the way people write them ("0x40", "40", 64,
"10.0.0.1", "TTL", "ip.ttl") and never raise on a malformed answer: that is feedback too.

    check_hex_field(packet, "ip.ttl", "40")          # what is the TTL byte of this packet?
    check_checksum(header_bytes, "0x66a6")           # compute the RFC 1071 checksum
    check_echo_reply(request, reply_hex)             # write the whole echo reply
    check_which_field(packet, 8, "ttl")              # which field holds byte 8?
    check_swap(request, reply_hex)                   # are the addresses swapped?
"""

from __future__ import annotations

import re

from labkit.checksum import trace
from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.fields import Field, field_at, field_map
from labkit.judge import judge
from labkit.parse import extract_hex


def _as_bytes(answer: object, min_bytes: int = 1) -> tuple[bytes | None, str | None]:
    """An answer given as bytes or as hex text (any formatting extract_hex tolerates)."""
    if isinstance(answer, (bytes, bytearray)):
        return bytes(answer), None
    if not isinstance(answer, str):
        return None, f"expected hex text or bytes, got {type(answer).__name__}"
    parsed = extract_hex(answer, min_bytes=min_bytes)
    return parsed.data, parsed.error


def _find_field(fields: list[Field], name: str) -> Field | None:
    wanted = name.strip().lower()
    for field in fields:
        if field.name.lower() == wanted:
            return field
    matches = [f for f in fields if f.name.lower().rsplit(".", 1)[-1] == wanted]
    return matches[0] if len(matches) == 1 else None


def _position(offset: int) -> str:
    return f"offset {offset} (0x{offset:x}): row {offset // 16 * 16:04x} of the hexdump, column {offset % 16}"


# --- check_hex_field ------------------------------------------------------------------------------------------

def check_hex_field(packet: bytes, field: str, answer: object, link: str = "ip") -> Feedback:
    """"What is the <field> of this packet?" Accepts the field's bytes in hex ("40", "0x40", "00 54"),
    its value as an int (64) or decimal text ("64"), or its decoded form ("10.0.0.1", "8 (echo-request)").
    `field` is a field-map name ("ip.ttl") or its last part ("ttl") when that is unambiguous."""
    fields = field_map(packet, link)
    target = _find_field(fields, field)
    if target is None:
        same_leaf = [f.name for f in fields if f.name.rsplit(".", 1)[-1] == field.strip().lower()]
        if len(same_leaf) > 1:
            raise ValueError(f"field {field!r} is ambiguous here: say which one of {', '.join(same_leaf)}")
        raise ValueError(f"no field {field!r} in this packet; names are {', '.join(f.name for f in fields)}")
    raw = bytes(packet[target.offset:target.end])
    where = f"{target.name} is {target.length} byte{'s' if target.length > 1 else ''} at {_position(target.offset)}"
    if target.bits is not None:
        where += f", bits {target.bits[0]}..{sum(target.bits) - 1} of that span"
    label = target.name
    if isinstance(answer, bool):
        return _wrong(f"{answer!r} is not a value.", where)
    if isinstance(answer, int):
        if isinstance(target.value, int) and answer == target.value:
            return _right(f"{label} = {answer} (0x{answer:x}).")
        return _wrong(f"{answer} is not the value of {label}.", where)
    if isinstance(answer, (bytes, bytearray)):
        if bytes(answer) == raw and target.bits is None:
            return _right(f"{label} is {raw.hex(' ')}.")
        return _wrong(f"{bytes(answer).hex(' ')} is not {label}.", where)
    if not isinstance(answer, str) or not answer.strip():
        return _wrong("no answer given.", where)
    text = answer.strip()
    if text.lower() == target.describe().lower() or text == str(target.value):
        return _right(f"{label} = {target.describe()}.")
    digits = re.sub(r"\s+|0[xX]", "", text)
    if re.fullmatch(r"[0-9a-fA-F]+", digits):
        value = int(digits, 16)
        if target.bits is None and len(digits) == 2 * target.length and bytes.fromhex(digits) == raw:
            return _right(f"{label} is {raw.hex(' ')}.")
        if isinstance(target.value, int) and value == target.value and text.lower().startswith("0x"):
            return _right(f"{label} = 0x{value:x} ({value}).")
        if isinstance(target.value, int) and target.bits is not None and value == target.value:
            return _right(f"{label} = {target.value} (a bit field inside {raw.hex(' ')}).")
        if isinstance(target.value, int) and text.isdigit() and int(text) == target.value:
            return _right(f"{label} = {target.value} in decimal (the bytes are {raw.hex(' ')}).")
        if len(digits) != 2 * target.length and target.bits is None:
            return _wrong(f"{text!r} has {len(digits)} hex digits but {label} is {target.length} byte(s).", where)
    return _wrong(f"{text!r} is not {label}.", where)


# --- check_checksum -------------------------------------------------------------------------------------------

def _as_int(answer: object) -> int | None:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        return answer
    if isinstance(answer, (bytes, bytearray)) and len(answer) == 2:
        return int.from_bytes(answer, "big")
    if isinstance(answer, str):
        digits = re.sub(r"\s+|0[xX]", "", answer)
        if re.fullmatch(r"[0-9a-fA-F]{1,4}", digits):
            return int(digits, 16)
    return None


def check_checksum(data: bytes, answer: object) -> Feedback:
    """"Compute the RFC 1071 checksum of these bytes" (checksum field already zeroed). Answer as "0x1c3f",
    "1c3f", "1c 3f" or an int. Hints name the usual slip: no complement, carries not folded, bytes swapped."""
    result = trace(data)
    value = _as_int(answer)
    if value is None:
        return _wrong(f"{answer!r} is not a 16-bit hex number.", "write four hex digits, e.g. 0x1c3f.")
    if value == result.checksum:
        return _right(f"the checksum is 0x{result.checksum:04x}.")
    if value == result.folded:
        hint = "that is the one's-complement sum; the checksum is its complement (flip every bit)."
    elif value == (~result.total) & 0xFFFF or value == result.total & 0xFFFF:
        hint = "the carries above 16 bits must be added back into the low 16 bits before the complement."
    elif value == int.from_bytes(result.checksum.to_bytes(2, "big")[::-1], "big"):
        hint = "the bytes are swapped: words are big-endian (network byte order), first byte high."
    else:
        hint = (f"add the {len(result.steps)} 16-bit words, fold each carry back in, then complement; "
                f"labkit.checksum.trace(data).lines() shows every step.")
    return _wrong(f"0x{value:04x} is not the checksum.", hint)


# --- check_echo_reply -----------------------------------------------------------------------------------------

_FIELD_HINTS = {
    "ip.src": "the reply comes from the address the request was sent to: swap source and destination.",
    "ip.dst": "the reply goes back to whoever sent the request: swap source and destination.",
    "ipv6.src": "the reply comes from the address the request was sent to: swap source and destination.",
    "ipv6.dst": "the reply goes back to whoever sent the request: swap source and destination.",
    "icmp.type": "an echo reply is ICMP type 0 (the request was type 8).",
    "icmpv6.type": "an ICMPv6 echo reply is type 129 (the request was 128).",
    "icmp.chksum": "recompute the ICMP checksum over the whole ICMP message after changing the type.",
    "icmpv6.cksum": "the ICMPv6 checksum also covers a pseudo-header with both addresses; recompute it.",
    "ip.chksum": "recompute the IP header checksum over the 20-byte header with the checksum field zeroed.",
    "icmp.id": "copy the identifier from the request unchanged.",
    "icmp.seq": "copy the sequence number from the request unchanged.",
    "icmpv6.id": "copy the identifier from the request unchanged.",
    "icmpv6.seq": "copy the sequence number from the request unchanged.",
    "icmp.data": "copy the request's data byte for byte.",
    "icmpv6.data": "copy the request's data byte for byte.",
    "ip.len": "the total length counts the header and everything after it, in bytes.",
}


def check_echo_reply(request: bytes, reply_hex: object, expected: bytes | None = None) -> Feedback:
    """"Write the echo reply to this request as hex." Judged like a model's answer (labkit.judge): correct
    when every byte matches the reference reply (IP id, TTL and DF are free) and Linux ping would accept it."""
    reply, error = _as_bytes(reply_hex, min_bytes=20)
    if reply is None:
        return _wrong(f"could not read your hex: {error}.", "paste the whole packet as hex digits, starting at 45 (or 60).")
    verdict = judge(request, reply, expected=expected)
    if verdict.correct and not verdict.warnings:
        return _right("a perfect echo reply: Linux ping would accept it.")
    wrong = verdict.wrong_fields
    if wrong:
        first = next((name for name in _FIELD_HINTS if name in wrong), wrong[0])
        hint = _FIELD_HINTS.get(first, f"look at {first}: compare it with the request.")
        fields = ", ".join(wrong[:6]) + (" ..." if len(wrong) > 6 else "")
        status = "ping would accept it" if verdict.accepted else verdict.reason
        return _wrong(f"{len(verdict.hallucinated)} byte(s) differ, in {fields}; {status}.", hint)
    return _wrong(f"almost: {verdict.reason}.", "compare the length and the last bytes with the request.")


# --- check_which_field ----------------------------------------------------------------------------------------

_ALIASES = {
    "ttl": "ttl", "time to live": "ttl", "hop limit": "hlim", "hoplimit": "hlim", "hlim": "hlim",
    "checksum": "chksum", "header checksum": "chksum", "chksum": "chksum", "cksum": "chksum",
    "source": "src", "source address": "src", "src": "src", "destination": "dst", "dst": "dst",
    "destination address": "dst", "identifier": "id", "identification": "id", "id": "id",
    "sequence": "seq", "sequence number": "seq", "seq": "seq", "type": "type", "code": "code",
    "protocol": "proto", "proto": "proto", "next header": "nh", "nh": "nh", "total length": "len", "length": "len",
    "len": "len", "payload length": "plen", "plen": "plen", "version": "version", "ihl": "ihl",
    "header length": "ihl", "tos": "tos", "type of service": "tos", "dscp": "tos", "flags": "flags",
    "fragment offset": "frag", "frag": "frag", "data": "data", "payload": "data", "options": "options",
    "traffic class": "tc", "tc": "tc", "flow label": "fl", "fl": "fl", "target": "tgt", "tgt": "tgt",
}


def _canonical(name: str) -> str:
    """'ip.ttl' -> 'ttl', 'Time to Live' -> 'ttl', 'ICMP checksum' -> 'chksum'."""
    text = name.strip().lower().replace("_", " ")
    text = text.rsplit(".", 1)[-1] if "." in text else text
    text = re.sub(r"^(ipv6|ipv4|ip|icmpv6|icmp|ethernet|ether|arp)\s+", "", text)
    return _ALIASES.get(text, text)


def check_which_field(packet: bytes, offset: int, answer_name: str, link: str = "ip") -> Feedback:
    """"Which field holds byte <offset>?" Accepts "ip.ttl", "ttl", "TTL", "time to live", "ICMP checksum"...
    A byte shared by bit fields (version and IHL, flags and fragment offset) accepts any of them."""
    fields = field_map(packet, link)
    owner = field_at(fields, offset)
    if owner is None:
        raise ValueError(f"no field covers offset {offset} of this {len(packet)}-byte packet")
    candidates = [f for f in fields if f.offset <= offset < f.end and (f.length == owner.length or f.bits)]
    if not isinstance(answer_name, str) or not answer_name.strip():
        return _wrong("no answer given.", f"find {_position(offset)} in the hexdump.")
    given = _canonical(answer_name)
    for candidate in candidates:
        if given == _canonical(candidate.name):
            layer_given = answer_name.strip().lower()
            if "." in layer_given and layer_given.split(".")[0] != candidate.name.split(".")[0]:
                continue
            return _right(f"byte {offset} belongs to {candidate.name} ({candidate.layer}), value {candidate.describe()}.")
    layer_start = min(f.offset for f in fields if f.layer == owner.layer)
    return _wrong(f"byte {offset} is not in {answer_name.strip()!r}.",
                  f"byte {offset} lies in the {owner.layer} header, which starts at byte {layer_start}; "
                  f"it is byte {offset - layer_start} of that header.")


# --- check_swap -----------------------------------------------------------------------------------------------

def check_swap(request: bytes, reply: object) -> Feedback:
    """"Swap the addresses": the reply's source must be the request's destination and vice versa."""
    data, error = _as_bytes(reply, min_bytes=20)
    if data is None:
        return _wrong(f"could not read your packet: {error}.", "give the reply as hex, starting with the IP header.")
    version = request[0] >> 4
    if not data or data[0] >> 4 != version:
        return _wrong(f"the reply must be IPv{version} like the request.", "keep the first byte of the header.")
    src, dst = (slice(12, 16), slice(16, 20)) if version == 4 else (slice(8, 24), slice(24, 40))
    src_ok, dst_ok = data[src] == request[dst], data[dst] == request[src]
    if src_ok and dst_ok:
        return _right("source and destination are swapped.")
    if data[src] == request[src] and data[dst] == request[dst]:
        return _wrong("the addresses are copied unchanged.", "the reply goes back: source and destination change places.")
    which = "source" if not src_ok else "destination"
    other = "destination" if not src_ok else "source"
    return _wrong(f"the {which} address is wrong.", f"the reply's {which} is the request's {other}.")

