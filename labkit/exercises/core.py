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

from labkit.checksum import ChecksumTrace, trace
from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.fields import Field, field_at, field_map
from labkit.judge import Judgement, judge
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
    matches = _named_fields(fields, name)
    return matches[0] if len(matches) == 1 else None


def _named_fields(fields: list[Field], name: str) -> list[Field]:
    """The fields an answer like "ttl", "ICMP checksum" or Wireshark's "icmp.ident" can mean."""
    return [f for f in fields if _matches(name, f.name)]


def _position(offset: int) -> str:
    return f"offset {offset} (0x{offset:x}): row {offset // 16 * 16:04x} of the hexdump, column {offset % 16}"


# --- check_hex_field ------------------------------------------------------------------------------------------


def check_hex_field(packet: bytes, field: str, answer: object, link: str = "ip") -> Feedback:
    """ "What is the <field> of this packet?" Accepts the field's bytes in hex ("40", "0x40", "00 54"),
    its value as an int (64) or decimal text ("64"), or its decoded form ("10.0.0.1", "8 (echo-request)").
    `field` is a field-map name ("ip.ttl") or its last part ("ttl") when that is unambiguous."""
    fields = field_map(packet, link)
    target = _find_field(fields, field)
    if target is None:
        same_leaf = [f.name for f in _named_fields(fields, field)]
        if len(same_leaf) > 1:
            raise ValueError(f"field {field!r} is ambiguous here: say which one of {', '.join(same_leaf)}")
        raise ValueError(f"no field {field!r} in this packet; names are {', '.join(f.name for f in fields)}")
    raw = bytes(packet[target.offset : target.end])
    where = f"{target.name} is {target.length} byte{'s' if target.length > 1 else ''} at {_position(target.offset)}"
    if target.bits is not None:
        where += f", bits {target.bits[0]}..{sum(target.bits) - 1} of that span"
    label = target.name
    if isinstance(answer, bool):
        return _wrong(f"{answer!r} is not a value.", where)
    if isinstance(answer, int):
        if isinstance(target.value, int) and answer == target.value:
            return _right(f"{label} = {answer} (0x{answer:x}).")
        if target.bits is None and target.length > 1 and answer == int.from_bytes(raw, "little"):
            return _wrong(
                f"{answer} (0x{answer:x}) reads the bytes {raw.hex(' ')} in the wrong order.", _BYTE_ORDER_HINT
            )
        return _wrong(f"{answer} is not the value of {label}.", where)
    if isinstance(answer, (bytes, bytearray)):
        if bytes(answer) == raw and target.bits is None:
            return _right(f"{label} is {raw.hex(' ')}.")
        return _wrong(f"{bytes(answer).hex(' ')} is not {label}.", where)
    if not isinstance(answer, str) or not answer.strip():
        return _wrong("no answer given.", where)
    text = answer.strip()
    if text.lower() == target.describe().lower() or text == str(target.value) or _same_label(text, target):
        return _right(f"{label} = {target.describe()}.")
    digits = re.sub(r"\s+|0[xX]", "", text)
    if re.fullmatch(r"[0-9a-fA-F]+", digits):
        value = int(digits, 16)
        if target.bits is None and len(digits) == 2 * target.length and bytes.fromhex(digits) == raw:
            return _right(f"{label} is {raw.hex(' ')}.")
        if target.bits is None and len(digits) == 2 * target.length > 2 and bytes.fromhex(digits) == raw[::-1]:
            return _wrong(f"{text!r} has the right bytes in the wrong order.", _BYTE_ORDER_HINT)
        if isinstance(target.value, int) and value == target.value and text.lower().startswith("0x"):
            return _right(f"{label} = 0x{value:x} ({value}).")
        if isinstance(target.value, int) and target.bits is not None and value == target.value:
            return _right(f"{label} = {target.value} (a bit field inside {raw.hex(' ')}).")
        if isinstance(target.value, int) and text.isdigit() and int(text) == target.value:
            return _right(f"{label} = {target.value} in decimal (the bytes are {raw.hex(' ')}).")
        if len(digits) != 2 * target.length and target.bits is None:
            return _wrong(f"{text!r} has {len(digits)} hex digits but {label} is {target.length} byte(s).", where)
    return _wrong(f"{text!r} is not {label}.", where)


_BYTE_ORDER_HINT = (
    "byte order: the network sends the most significant byte first (big-endian), so the "
    "number 3 in a 2-byte field is written 00 03, not 03 00."
)


def _label_words(text: str) -> str:
    """'Echo (ping) reply' -> 'echo reply', 'echo-reply' -> 'echo reply': Wireshark's and scapy's names alike."""
    return " ".join(re.sub(r"\(ping\)|[-_()]", " ", text.lower()).split())


def _same_label(text: str, field: Field) -> bool:
    """Does the answer name the field's decoded value as Wireshark or scapy label it ("echo reply" for
    "0 (echo-reply)")?"""
    named = re.search(r"\(([^)]*)\)", field.describe())
    return named is not None and not named.group(1)[:1].isdigit() and _label_words(text) == _label_words(named.group(1))


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
    """ "Compute the RFC 1071 checksum of these bytes" (checksum field already zeroed). Answer as "0x1c3f",
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
    elif _carry_slip(value, result.checksum, result):
        hint = _carry_hint(value, result.checksum)
    else:
        hint = (
            f"add the {len(result.steps)} 16-bit words, fold each carry back in, then complement; "
            f"labkit.checksum.trace(data).lines() shows every step."
        )
    return _wrong(f"0x{value:04x} is not the checksum.", hint)


def _carries(result: ChecksumTrace) -> int:
    return sum(step.carry_folded for step in result.steps)


def _carry_slip(value: int, right: int, result: ChecksumTrace) -> bool:
    """Off by a few in the last digit: an end-around carry lost (value too high) or counted twice (too low)."""
    off = min((value - right) % 0x10000, (right - value) % 0x10000)
    return 0 < off <= max(_carries(result), 1)


def _carry_hint(value: int, right: int) -> str:
    lost = (value - right) % 0x10000 < 0x8000
    return (
        f"off by {min((value - right) % 0x10000, (right - value) % 0x10000)} in the last digit: an end-around "
        f"carry was {'lost' if lost else 'added twice'}. Every time the running sum passes 0xffff, drop the "
        f"17th bit and add 1 at the bottom, exactly once."
    )


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


def _order_slip(verdict: Judgement) -> str | None:
    """A multi-byte field written with its bytes reversed ("03 00" for sequence 3)."""
    for field in verdict.fields:
        if field.ok or field.length < 2 or verdict.got is None or len(verdict.got) < field.offset + field.length:
            continue
        span = slice(field.offset, field.offset + field.length)
        if verdict.expected is not None and verdict.got[span] == verdict.expected[span][::-1]:
            return f"{field.name}: {_BYTE_ORDER_HINT}"
    return None


def _reply_hint(verdict: Judgement) -> str:
    """The hint for a wrong echo reply: a named slip if it is a common one, else the first wrong field's rule."""
    wrong = verdict.wrong_fields
    first = next((name for name in _FIELD_HINTS if name in wrong), wrong[0] if wrong else None)
    return (
        _order_slip(verdict)
        or _ttl_slip(verdict)
        or _checksum_slip(verdict)
        or _FIELD_HINTS.get(first or "", f"look at {first}: compare it with the request.")
    )


_HOST_CHOSEN = {"ip.chksum", "ip.ttl", "ip.id", "ip.flags"}


def _ttl_slip(verdict: Judgement) -> str | None:
    """Only the host's own choices (TTL, IP ID, DF) and the header checksum are off: the checksum was kept
    from the request, or not recomputed after choosing them."""
    ip_check = next((c for c in verdict.checksums if c.name == "ip.chksum"), None)
    if ip_check is None or ip_check.ok or not set(verdict.wrong_fields) <= _HOST_CHOSEN:
        return None
    return (
        "the IP header checksum does not fit your header: the TTL, IP ID and DF flag are yours to choose "
        "(Linux chooses its own), but then recompute the checksum over the header as you wrote it."
    )


def _checksum_slip(verdict: Judgement) -> str | None:
    """A checksum that is wrong for the reply's own bytes in a recognisable way: swapped bytes, a lost carry,
    no complement."""
    for check in verdict.checksums:
        if check.ok:
            continue
        if check.found == int.from_bytes(check.expected.to_bytes(2, "big")[::-1], "big"):
            return f"{check.name} has its two bytes swapped: {_BYTE_ORDER_HINT}"
        if check.found == ~check.expected & 0xFFFF:
            return f"{check.name} is the one's-complement sum, not its complement: flip every bit."
        if 0 < min((check.found - check.expected) % 0x10000, (check.expected - check.found) % 0x10000) <= 8:
            return f"{check.name} is {_carry_hint(check.found, check.expected)}"
    return None


def check_echo_reply(request: bytes, reply_hex: object, expected: bytes | None = None) -> Feedback:
    """ "Write the echo reply to this request as hex." Judged like a model's answer (labkit.judge): correct
    when every byte matches the reference reply (IP id, TTL and DF are free) and Linux ping would accept it."""
    reply, error = _as_bytes(reply_hex, min_bytes=20)
    if reply is None:
        return _wrong(
            f"could not read your hex: {error}.", "paste the whole packet as hex digits, starting at 45 (or 60)."
        )
    verdict = judge(request, reply, expected=expected)
    if verdict.correct and not verdict.warnings:
        return _right("a perfect echo reply: Linux ping would accept it.")
    wrong = verdict.wrong_fields
    if wrong:
        hint = _reply_hint(verdict)
        fields = ", ".join(wrong[:6]) + (" ..." if len(wrong) > 6 else "")
        status = "ping would accept it" if verdict.accepted else verdict.reason
        return _wrong(f"{len(verdict.hallucinated)} byte(s) differ, in {fields}; {status}.", hint)
    return _wrong(f"almost: {verdict.reason}.", "compare the length and the last bytes with the request.")


# --- check_which_field ----------------------------------------------------------------------------------------

_ALIASES = {
    "ttl": "ttl",
    "time to live": "ttl",
    "hop limit": "hlim",
    "hoplimit": "hlim",
    "hlim": "hlim",
    "checksum": "chksum",
    "header checksum": "chksum",
    "chksum": "chksum",
    "cksum": "chksum",
    "source": "src",
    "source address": "src",
    "src": "src",
    "destination": "dst",
    "dst": "dst",
    "destination address": "dst",
    "identifier": "id",
    "identification": "id",
    "id": "id",
    "ident": "id",
    "sequence": "seq",
    "sequence number": "seq",
    "seq": "seq",
    "type": "type",
    "code": "code",
    "protocol": "proto",
    "proto": "proto",
    "next header": "nh",
    "nh": "nh",
    "nxt": "nh",
    "total length": "len",
    "length": "len",
    "len": "len",
    "payload length": "plen",
    "plen": "plen",
    "version": "version",
    "ihl": "ihl",
    "header length": "ihl",
    "hdr len": "ihl",
    "tos": "tos",
    "type of service": "tos",
    "dscp": "tos",
    "dsfield": "tos",
    "differentiated services": "tos",
    "differentiated services field": "tos",
    "flags": "flags",
    "df": "flags",
    "mf": "flags",
    "fragment offset": "frag",
    "frag offset": "frag",
    "frag": "frag",
    "data": "data",
    "payload": "data",
    "options": "options",
    "traffic class": "tc",
    "tc": "tc",
    "tclass": "tc",
    "flow label": "fl",
    "fl": "fl",
    "flow": "fl",
    "target": "tgt",
    "tgt": "tgt",
    "opcode": "op",
    "op": "op",
    "operation": "op",
}
# Layer words as people, scapy and Wireshark write them ("ipv4 ttl", "ip.ttl", "eth.dst").
_LAYERS = {
    "ip": "ip",
    "ipv4": "ip",
    "ipv6": "ipv6",
    "icmp": "icmp",
    "icmpv6": "icmpv6",
    "ether": "ether",
    "ethernet": "ether",
    "eth": "ether",
    "arp": "arp",
}
_LAYER_WORD = re.compile(r"^(ipv6|ipv4|ip|icmpv6|icmp|ethernet|ether|eth|arp)\s+(.*)$")


def _named(name: str) -> tuple[str | None, str]:
    """(layer or None, canonical leaf): 'ip.ttl' -> ('ip', 'ttl'), 'ICMP checksum' -> ('icmp', 'chksum'),
    'icmp.ident' (Wireshark) -> ('icmp', 'id'), 'Time to Live' -> (None, 'ttl'). The layer is kept, so that
    "ip checksum" is not taken for the ICMP checksum."""
    text = " ".join(name.strip().lower().replace("_", " ").split())
    layer = None
    if "." in text:
        head, _, rest = text.partition(".")
        layer, text = _LAYERS.get(head), rest.rsplit(".", 1)[-1]
    elif (word := _LAYER_WORD.match(text)) is not None:
        layer, text = _LAYERS[word.group(1)], word.group(2)
    elif text == "header checksum":
        layer = "ip"  # RFC 791's name; ICMP's field is just "Checksum" (RFC 792)
    return layer, _ALIASES.get(text, text)


def _matches(answer: str, field_name: str) -> bool:
    layer, leaf = _named(answer)
    actual = field_name.split(".")[0]
    layer_ok = layer is None or layer == actual or (layer, actual) in {("ip", "ipv6"), ("icmp", "icmpv6")}
    return layer_ok and leaf == _named(field_name)[1]


def check_which_field(packet: bytes, offset: int, answer_name: str, link: str = "ip") -> Feedback:
    """ "Which field holds byte <offset>?" Accepts "ip.ttl", "ttl", "TTL", "time to live", "ICMP checksum",
    Wireshark's names ("icmp.ident", "arp.opcode")... A named layer must be right: "ip checksum" is not the
    ICMP checksum. A byte shared by bit fields (version and IHL, flags and fragment offset) accepts any of them."""
    fields = field_map(packet, link)
    owner = field_at(fields, offset)
    if owner is None:
        raise ValueError(f"no field covers offset {offset} of this {len(packet)}-byte packet")
    candidates = [f for f in fields if f.offset <= offset < f.end and (f.length == owner.length or f.bits)]
    if not isinstance(answer_name, str) or not answer_name.strip():
        return _wrong("no answer given.", f"find {_position(offset)}.")
    for candidate in candidates:
        if _matches(answer_name, candidate.name):
            return _right(
                f"byte {offset} belongs to {candidate.name} ({candidate.layer}), value {candidate.describe()}."
            )
    layer_start = min(f.offset for f in fields if f.layer == owner.layer)
    where = (
        f"byte {offset} lies in the {owner.layer} header, which starts at byte {layer_start}; "
        f"it is byte {offset - layer_start} of that header."
    )
    leaf = _named(answer_name)[1]
    if any(leaf == _named(c.name)[1] for c in candidates):
        return _wrong(
            f"the right kind of field, in the wrong header: byte {offset} is not in {answer_name.strip()!r}.", where
        )
    return _wrong(f"byte {offset} is not in {answer_name.strip()!r}.", where)


# --- check_byte -----------------------------------------------------------------------------------------------


def check_byte(packet: bytes, offset: int, answer: object, *, data_start: int | None = None) -> Feedback:
    """ "What value does byte <offset> hold?" Text is read as hex, as a hexdump shows it ("2a", "0x2a"); an int
    is the value (42). Diagnoses the usual slips: hex read as decimal, counting from the start of the data
    instead of the packet (give `data_start`), and the neighbouring byte."""
    right = packet[offset]
    value = _as_int(answer)
    if value is None or not 0 <= value <= 0xFF:
        return _wrong(f"{answer!r} is not a byte value.", 'write it as in the hexdump, e.g. "2a", or as an int.')
    if value == right:
        return _right(f"byte {offset} is 0x{right:02x} ({right}).")
    if isinstance(answer, int) and str(answer) == f"{right:x}":
        return _wrong(
            f"{answer} is the hexdump's digits read as a decimal number.",
            f'the hexdump shows hex: write "{right:02x}" or "0x{right:02x}" (the int {right}).',
        )
    if isinstance(answer, str) and answer.strip().isdigit() and int(answer.strip()) == right:
        return _wrong(
            f"{answer.strip()!r} is read as hex, as a hexdump shows it.",
            f"that decimal value is right: give it as the int {right} (or as hex, 0x{right:02x}).",
        )
    if data_start is not None and 0 <= offset + data_start < len(packet) and value == packet[offset + data_start]:
        return _wrong(
            f"0x{value:02x} is byte {offset + data_start} of the packet.",
            f"count from the start of the packet, not of the data (which starts at byte {data_start}).",
        )
    near = [o for o in (offset - 1, offset + 1) if 0 <= o < len(packet) and packet[o] == value]
    if near:
        return _wrong(f"0x{value:02x} is byte {near[0]}, the neighbour.", "off by one: bytes are counted from 0.")
    return _wrong(f"0x{value:02x} is not byte {offset}.", f"find {_position(offset)}.")


# --- check_swap -----------------------------------------------------------------------------------------------


def check_swap(request: bytes, reply: object) -> Feedback:
    """ "Swap the addresses": the reply's source must be the request's destination and vice versa."""
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
        return _wrong(
            "the addresses are copied unchanged.", "the reply goes back: source and destination change places."
        )
    which = "source" if not src_ok else "destination"
    other = "destination" if not src_ok else "source"
    return _wrong(f"the {which} address is wrong.", f"the reply's {which} is the request's {other}.")
