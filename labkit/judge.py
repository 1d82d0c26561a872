"""The judge: how a model's echo reply compares with the reference reply, byte by byte and field by field,
and whether Linux ping would accept it.

What the receiver checks was measured, not guessed: iputils ping 20221126 on Linux 6.x, pinging through a TUN
device in a network namespace while a script answered with deliberately broken replies. In the kernel,
ip_rcv_core() drops a bad IPv4 header checksum or a total length beyond the data, routing drops a packet for
an address that is not local, and fragments wait in reassembly. What happens to a bad ICMP checksum depends on
the socket ping uses:
- "ping-socket" (SOCK_DGRAM ICMP, what unprivileged ping uses wherever net.ipv4.ping_group_range allows it,
  e.g. systemd's default): icmp_rcv() validates the checksum before ping_rcv() and drops bad ones. The
  socket is found by the echo id, so a wrong id reaches nobody.
- "raw-socket" (root, or ping_group_range "1 0" as in a fresh network namespace): raw_local_deliver() hands
  the packet to raw sockets before icmp_rcv() checks anything, and iputils passes csfailed=0 for echo replies,
  so a bad ICMP checksum is counted as received. iputils itself drops replies whose id is not its own.
For IPv6 both kinds of socket drop a bad ICMPv6 checksum (the kernel verifies it on raw ICMPv6 sockets too,
RFC 3542). In both cases iputils counts a reply with a different sequence number as the reply to *that*
icmp_seq, prints "(DIFFERENT ADDRESS!)" for a reply from another source, "(truncated)" for a short payload and
"wrong data byte #n" for a changed one, yet still counts those replies as received: they are accepted here
with a warning.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from labkit.checksum import ChecksumCheck, icmpv6_offset, verify
from labkit.fields import ICMP_TYPES, ICMPV6_TYPES, field_map, read_value
from labkit.headers import (
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    ICMP_HEADER,
    ICMPV6_ECHO_REPLY,
    ICMPV6_ECHO_REQUEST,
    IPV4_MIN_HEADER,
    IPV6_HEADER,
    PROTO_ICMP,
    ip_version,
    ipv4_header_len,
    ipv4_total_len,
    ipv6_payload_len,
    is_fragment,
)
from labkit.packets import PING_TIMEVAL_BYTES  # iputils skips the timeval when it compares data
from labkit.stack import echo_reply
from labkit.taxonomy import ErrorRun, classify

RECEIVERS = ("ping-socket", "raw-socket")
# How a rejection names the receiver it assumes: "Linux drops this" would be false for a raw-socket ping,
# which gets a bad ICMP checksum that a ping socket never sees.
_DROPPED = {"ping-socket": "a ping socket drops this", "raw-socket": "a raw-socket ping never sees this"}
# IPv4 fields a responder may choose freely (docs/ARCHITECTURE.md): id, ttl, the DF bit, and the header
# checksum that follows from them. Offsets within the IPv4 header.
_FREE_V4_BYTES = {4: "ip.id", 5: "ip.id", 8: "ip.ttl", 10: "ip.chksum", 11: "ip.chksum"}
_DF_BIT = 0x40


@dataclass(frozen=True)
class FieldVerdict:
    name: str
    offset: int
    length: int
    expected: object
    got: object  # None when the reply is too short to hold the field
    ok: bool


@dataclass(frozen=True)
class Judgement:
    expected: bytes | None
    got: bytes | None
    byte_ok: tuple[bool, ...]  # one per byte of the longer of the two; missing bytes are False
    hallucinated: tuple[int, ...]  # offsets that are wrong
    fields: tuple[FieldVerdict, ...]
    checksums: tuple[ChecksumCheck, ...]
    accepted: bool  # would Linux ping accept this as the reply to the request?
    reason: str  # "accepted", "accepted, but ..." or "a ping socket drops this: ..."
    warnings: tuple[str, ...] = ()  # what ping prints about an accepted reply ("(DIFFERENT ADDRESS!)")
    free: tuple[int, ...] = ()  # offsets that differ only in fields a stack may choose (IPv4 id, ttl, DF)
    receiver: str = "ping-socket"
    causes: tuple[ErrorRun, ...] = ()  # labkit.taxonomy: each differing run of digits and its likely cause

    @property
    def correct(self) -> bool:
        """Every byte right (free choices allowed) and accepted: a perfect reply."""
        return self.accepted and not self.hallucinated and self.got is not None

    @property
    def wrong_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.ok)


# --- byte and field verdicts --------------------------------------------------------------------------------


def _free_offsets(expected: bytes, got: bytes, checks: list[ChecksumCheck]) -> set[int]:
    """Offsets where the reply differs from the reference only by a free IPv4 choice with a valid checksum.
    `checks` is verify(got)."""
    if (
        len(expected) < IPV4_MIN_HEADER
        or len(got) < IPV4_MIN_HEADER
        or expected[0] != got[0]
        or ip_version(expected) != 4
    ):
        return set()
    ip_check = next((c for c in checks if c.name == "ip.chksum"), None)
    if ip_check is None or not ip_check.ok:
        return set()
    free = {offset for offset in _FREE_V4_BYTES if expected[offset] != got[offset]}
    if (expected[6] ^ got[6]) == _DF_BIT:
        free.add(6)
    return free


def _compare_bytes(
    expected: bytes | None, got: bytes | None, checks: list[ChecksumCheck]
) -> tuple[tuple[bool, ...], tuple[int, ...], tuple[int, ...]]:
    expected_bytes, got_bytes = expected or b"", got or b""
    if expected_bytes == got_bytes:  # the common case on the per-packet path: skip the byte loop
        return (True,) * len(got_bytes), (), ()
    free = _free_offsets(expected_bytes, got_bytes, checks) if expected and got else set()
    common = min(len(expected_bytes), len(got_bytes))
    byte_ok = [a == b for a, b in zip(expected_bytes, got_bytes)]
    for offset in free:
        byte_ok[offset] = True
    byte_ok += [False] * (max(len(expected_bytes), len(got_bytes)) - common)
    hallucinated = tuple(i for i, ok in enumerate(byte_ok) if not ok)
    return tuple(byte_ok), hallucinated, tuple(sorted(free))


def _verdict(name: str, offset: int, length: int, expected: object, got: object, ok: bool) -> FieldVerdict:
    """FieldVerdict(...) without the frozen dataclass's per-attribute object.__setattr__ (as fields._new_field
    does for Field): the judge makes one per field of every reply, on the per-packet path."""
    made = object.__new__(FieldVerdict)
    made.__dict__.update(name=name, offset=offset, length=length, expected=expected, got=got, ok=ok)
    return made


def _compare_fields(expected: bytes | None, got: bytes | None, free: set[int]) -> tuple[FieldVerdict, ...]:
    if not expected:
        return ()
    try:
        fields = field_map(expected)
    except ValueError:
        return ()
    if got == expected:  # the common case: every field right, nothing to decode again
        return tuple(_verdict(f.name, f.offset, f.length, f.value, f.value, True) for f in fields)
    verdicts = []
    for field in fields:
        start, end = field.offset, field.offset + field.length
        got_value: int | str | bytes | None
        if got is not None and got[start:end] == expected[start:end]:
            got_value = field.value  # same bytes, same decoding
        else:
            got_value = read_value(field, got) if got is not None else None
        ok = got_value == field.value
        if (
            not ok
            and got is not None
            and got_value is not None
            and field.name in ("ip.id", "ip.ttl", "ip.chksum", "ip.flags")
        ):
            ok = all(offset in free or expected[offset] == got[offset] for offset in range(field.offset, field.end))
        verdicts.append(_verdict(field.name, field.offset, field.length, field.value, got_value, ok))
    return tuple(verdicts)


# --- the receiver -------------------------------------------------------------------------------------------


def _drop(why: str, receiver: str) -> tuple[bool, str, tuple[str, ...]]:
    return False, f"{_DROPPED[receiver]}: {why}", ()


def _address(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def _payload_warnings(sent: bytes, got: bytes) -> list[str]:
    if len(got) < len(sent):
        return [f"ping prints (truncated): {len(got)} data bytes instead of {len(sent)}"]
    for index in range(PING_TIMEVAL_BYTES, len(sent)):
        if got[index] != sent[index]:
            return [f"ping prints 'wrong data byte #{index} should be 0x{sent[index]:x} but was 0x{got[index]:x}'"]
    if got[:PING_TIMEVAL_BYTES] != sent[:PING_TIMEVAL_BYTES]:
        return ["the first data bytes (ping's send timestamp) changed, so the round-trip time shown is wrong"]
    return []


def _echo_checks(request_echo: bytes, reply_echo: bytes, reply_type: int, names: dict[int, str]) -> str | None:
    """Why ping would not take this echo header (type, id, seq) as the reply to the request's; None if it would."""
    if reply_echo[0] != reply_type:
        got_type = reply_echo[0]
        return (
            f"wrong type: ICMP{'v6' if reply_type == ICMPV6_ECHO_REPLY else ''} type {got_type} "
            f"({names.get(got_type, 'unknown')}), ping waits for type {reply_type} ({names[reply_type]})"
        )
    request_id, reply_id = request_echo[4:6], reply_echo[4:6]
    if reply_id != request_id:
        return (
            f"wrong id: 0x{reply_id.hex()} is not ping's id 0x{request_id.hex()}, so no ping socket "
            f"matches and iputils ignores it"
        )
    request_seq, reply_seq = int.from_bytes(request_echo[6:8], "big"), int.from_bytes(reply_echo[6:8], "big")
    if reply_seq != request_seq:
        return f"wrong seq: ping counts it as the reply to icmp_seq={reply_seq}, not to icmp_seq={request_seq}"
    return None


def _should_be(label: str, check: ChecksumCheck) -> str:
    return f"{label} 0x{check.found:04x} should be 0x{check.expected:04x}"


def _accepted(
    warnings: list[str], source: bytes, pinged: bytes, sent_data: bytes, got_data: bytes
) -> tuple[bool, str, tuple[str, ...]]:
    """The end of both receive paths: ping takes the reply, and prints what it notices about it."""
    if source != pinged:
        warnings.append(
            f"ping prints (DIFFERENT ADDRESS!): the reply comes from {_address(source)}, not {_address(pinged)}"
        )
    warnings += _payload_warnings(sent_data, got_data)
    return True, "accepted" + (", but " + "; ".join(warnings) if warnings else ""), tuple(warnings)


def _receive_v4(
    request: bytes, got: bytes, receiver: str, checks: list[ChecksumCheck]
) -> tuple[bool, str, tuple[str, ...]]:
    if len(got) < 20:
        return _drop(f"truncated: {len(got)} bytes, an IPv4 header needs 20", receiver)
    if ip_version(got) != 4:
        return _drop(f"not IPv4: the version nibble is {got[0] >> 4}", receiver)
    ihl = ipv4_header_len(got)
    if ihl < IPV4_MIN_HEADER or len(got) < ihl:
        return _drop(
            f"malformed IPv4 header: IHL {got[0] & 0x0F} ({ihl} bytes) with {len(got)} bytes present", receiver
        )
    ip_check = next(c for c in checks if c.name == "ip.chksum")
    if not ip_check.ok:
        return _drop(_should_be("IP header checksum", ip_check), receiver)
    total = ipv4_total_len(got)
    if total > len(got):
        return _drop(f"truncated: the IP total length says {total} bytes but only {len(got)} arrived", receiver)
    if total < ihl:
        return _drop(f"malformed: the IP total length {total} is shorter than the header ({ihl} bytes)", receiver)
    if is_fragment(got):
        return False, "Linux holds this fragment for reassembly; a lone fragment never reaches ping", ()
    request_ihl = ipv4_header_len(request)
    if got[16:20] != request[12:16]:
        return _drop(f"addressed to {_address(got[16:20])}, not to the pinger at {_address(request[12:16])}", receiver)
    if ihl > 20:
        try:
            field_map(got)
        except ValueError as error:
            if "option" in str(error):
                return _drop(f"bad IP options ({error})", receiver)
    if got[9] != PROTO_ICMP:
        return False, f"not ICMP: protocol {got[9]}, so ping never sees it", ()
    icmp = got[ihl:total]
    if len(icmp) < ICMP_HEADER:
        return _drop(f"truncated: {len(icmp)} ICMP bytes, an echo reply needs 8", receiver)
    warnings = []
    icmp_check = next((c for c in checks if c.name == "icmp.chksum"), None)
    if icmp_check is not None and not icmp_check.ok:
        if receiver == "ping-socket":
            return _drop(_should_be("ICMP checksum", icmp_check), receiver)
        warnings.append(
            _should_be("ICMP checksum", icmp_check) + "; iputils on a raw socket does not check it, "
            "a ping socket would drop the reply"
        )
    wrong = _echo_checks(request[request_ihl:], icmp, ICMP_ECHO_REPLY, ICMP_TYPES)
    if wrong:
        return False, wrong, ()
    request_total = ipv4_total_len(request)
    return _accepted(warnings, got[12:16], request[16:20], request[request_ihl + 8 : request_total], icmp[8:])


def _receive_v6(
    request: bytes, got: bytes, receiver: str, checks: list[ChecksumCheck]
) -> tuple[bool, str, tuple[str, ...]]:
    if len(got) < 40:
        return _drop(f"truncated: {len(got)} bytes, an IPv6 header needs 40", receiver)
    if ip_version(got) != 6:
        return _drop(f"not IPv6: the version nibble is {got[0] >> 4}", receiver)
    end = IPV6_HEADER + ipv6_payload_len(got)
    if end > len(got):
        return _drop(f"truncated: the payload length says {end - 40} bytes but only {len(got) - 40} arrived", receiver)
    if got[24:40] != request[8:24]:
        return _drop(f"addressed to {_address(got[24:40])}, not to the pinger at {_address(request[8:24])}", receiver)
    offset = icmpv6_offset(got, end)
    if offset is None:
        return False, "not ICMPv6, so ping never sees it", ()
    icmp = got[offset:end]
    if len(icmp) < ICMP_HEADER:
        return _drop(f"truncated: {len(icmp)} ICMPv6 bytes, an echo reply needs 8", receiver)
    check = next((c for c in checks if c.name == "icmpv6.cksum"), None)
    if check is not None and not check.ok:
        return _drop(_should_be("ICMPv6 checksum", check), receiver)
    request_offset = icmpv6_offset(request) or 40
    wrong = _echo_checks(request[request_offset:], icmp, ICMPV6_ECHO_REPLY, ICMPV6_TYPES)
    if wrong:
        return False, wrong, ()
    return _accepted([], got[8:24], request[24:40], request[request_offset + 8 :], icmp[8:])


def _is_echo_request(request: bytes) -> bool:
    if len(request) >= IPV4_MIN_HEADER + ICMP_HEADER and ip_version(request) == 4:
        ihl = ipv4_header_len(request)
        return request[9] == PROTO_ICMP and len(request) >= ihl + ICMP_HEADER and request[ihl] == ICMP_ECHO_REQUEST
    if len(request) >= IPV6_HEADER + ICMP_HEADER and ip_version(request) == 6:
        offset = icmpv6_offset(request)
        return offset is not None and len(request) >= offset + ICMP_HEADER and request[offset] == ICMPV6_ECHO_REQUEST
    return False


def _check_receiver(receiver: str) -> None:
    if receiver not in RECEIVERS:
        raise ValueError(f"unknown receiver {receiver!r}: use one of {', '.join(RECEIVERS)}")


def receive(request: bytes, reply: bytes | None, receiver: str = "ping-socket") -> tuple[bool, str, tuple[str, ...]]:
    """Would Linux ping, having sent `request`, accept `reply`? (accepted, reason, warnings)."""
    _check_receiver(receiver)
    return _receive(
        bytes(request), None if reply is None else bytes(reply), receiver, verify(reply) if reply is not None else []
    )


def _receive(
    request: bytes, reply: bytes | None, receiver: str, checks: list[ChecksumCheck]
) -> tuple[bool, str, tuple[str, ...]]:
    """receive() with verify(reply) already done, so judge() checks each checksum once."""
    if reply is None:
        return False, "nothing to send: the answer was not hex that could be read", ()
    if not _is_echo_request(request):
        return False, "no ping is waiting: the request is not an ICMP echo request", ()
    if ip_version(request) == 4:
        if ip_version(reply) == 6:
            return _drop("an IPv6 packet cannot answer an IPv4 ping", receiver)
        return _receive_v4(request, reply, receiver, checks)
    if ip_version(reply) == 4:
        return _drop("an IPv4 packet cannot answer an IPv6 ping", receiver)
    return _receive_v6(request, reply, receiver, checks)


def judge(
    request: bytes, reply: bytes | None, expected: bytes | None = None, *, receiver: str = "ping-socket"
) -> Judgement:
    """Compare `reply` with the reference reply (labkit.stack.echo_reply unless `expected` is given).

    Never raises on any bytes: a reply the judge cannot read is judged as rejected, with the reason.
    `receiver` chooses which Linux ping to model, "ping-socket" or "raw-socket" (see the module docstring).
    """
    _check_receiver(receiver)
    request = bytes(request)
    got = bytes(reply) if reply is not None else None
    if expected is None and _is_echo_request(request):
        expected = echo_reply(request)
    expected = bytes(expected) if expected is not None else None
    checks = verify(got) if got is not None else []
    byte_ok, hallucinated, free = _compare_bytes(expected, got, checks)
    fields = _compare_fields(expected, got, set(free))
    try:
        accepted, reason, warnings = _receive(request, got, receiver, checks)
    except Exception as error:  # noqa: BLE001 - the judge reports, it never crashes a run
        accepted, reason, warnings = False, f"the judge could not read this reply ({type(error).__name__}: {error})", ()
    causes = classify(request, got, expected, free=free) if hallucinated and expected and got is not None else ()
    return Judgement(
        expected, got, byte_ok, hallucinated, fields, tuple(checks), accepted, reason, warnings, free, receiver, causes
    )


# --- the responder's guardrail -------------------------------------------------------------------------------


def guard(request: bytes, reply: bytes | None, *, raw: bool = False) -> str | None:
    """Is this reply safe to put on the wire? None if so, else why not.

    Strict (default): it must parse as an IP packet of the request's version, go from the address the request
    was sent to back to the requester, and be an echo reply (type 0 / 129) with the request's id and seq.
    raw=True lets hallucinated content through but still only as an IP packet addressed to the requester.
    Checksums are not the guard's business: a bad checksum harms nobody, and the responder reports it.
    """
    try:
        if reply is None:
            return "nothing to send: the answer did not contain readable hex"
        request, reply = bytes(request), bytes(reply)
        version = ip_version(request)
        if version not in (4, 6):
            return "the request is not an IP packet"
        header = IPV4_MIN_HEADER if version == 4 else IPV6_HEADER
        if len(reply) < header or ip_version(reply) != version:
            return f"not an IPv{version} packet (the request was IPv{version})"
        requester = request[12:16] if version == 4 else request[8:24]
        responder = request[16:20] if version == 4 else request[24:40]
        destination = reply[16:20] if version == 4 else reply[24:40]
        source = reply[12:16] if version == 4 else reply[8:24]
        if destination != requester:
            return f"not addressed to the requester: dst {_address(destination)}, requester {_address(requester)}"
        if raw:
            return None
        if source != responder:
            return f"wrong source: {_address(source)}, the request was sent to {_address(responder)}"
        try:
            fields = {f.name: f.value for f in field_map(reply)}
        except ValueError as error:
            return f"does not parse as IP: {error}"
        request_fields = {f.name: f.value for f in field_map(request)}
        prefix, reply_type = ("icmp", 0) if version == 4 else ("icmpv6", 129)
        if fields.get(f"{prefix}.type") != reply_type:
            return f"not an echo reply (type {fields.get(f'{prefix}.type')!r}, expected {reply_type})"
        for part in ("id", "seq"):
            if fields.get(f"{prefix}.{part}") != request_fields.get(f"{prefix}.{part}"):
                # !r: these fields decode to ints (or None when absent), which print the same either way
                return (
                    f"not the reply to this request: {part} {fields.get(f'{prefix}.{part}')!r} "
                    f"!= {request_fields.get(f'{prefix}.{part}')!r}"
                )
        return None
    except Exception as error:  # noqa: BLE001 - a guard that crashes would let nothing (or everything) through
        return f"refused: the guard could not read the packets ({type(error).__name__}: {error})"
