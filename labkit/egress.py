"""The egress check: may a model's reply go on the wire? Strict mode compares it with the reply Linux sends.

Why compare with the reference reply rather than judge the reply alone: an echo reply is fixed by its request
in almost every byte (RFC 792, RFC 4443 §4.2): type 0/129, code 0, the request's id, seq and exactly its data,
the request's addresses swapped, a length that follows from the data. A model that answers whatever it is
asked can write anything else -- 17 times the data, a redirect, a spoofed source -- so every fixed field is
checked, and only what Linux chooses for itself (IPv4 ID, TTL, DF, TOS, IPv6 flow label and hop limit, IP
options) may differ. Checksums are reported separately (labkit.checksum.verify): a wrong one harms nobody.

Raw mode keeps only the last line of defence: an IP packet of the request's version, addressed to the
requester (docs/live.md says what that does and does not prevent).
"""

from __future__ import annotations

from labkit.checksum import internet_checksum
from labkit.headers import (
    ICMP_HEADER,
    IPV4_MIN_HEADER,
    IPV6_HEADER,
    PROTO_ICMP,
    PROTO_ICMPV6,
    ip_packet_len,
    ip_version,
    ipv4_header_len,
    is_fragment,
)


def addresses(packet: bytes) -> tuple[bytes, bytes]:
    """(source, destination) of an IPv4 or IPv6 packet, as bytes."""
    return (packet[12:16], packet[16:20]) if ip_version(packet) == 4 else (packet[8:24], packet[24:40])


def _icmp_start(packet: bytes) -> int:
    return ipv4_header_len(packet) if ip_version(packet) == 4 else IPV6_HEADER


def raw_refusal(reply: bytes, request: bytes) -> str | None:
    """Raw mode: None if `reply` is an IP packet of the request's version addressed to the requester."""
    version = ip_version(request)
    if ip_version(reply) != version or len(reply) < (IPV4_MIN_HEADER if version == 4 else IPV6_HEADER):
        return f"not an IPv{version} packet"
    if addresses(reply)[1] != addresses(request)[0]:
        return "not addressed to the requester"
    return None


def _ip_refusal(reply: bytes, expected: bytes) -> str | None:
    """The IP header: a sane, unfragmented packet of the right protocol, between the request's addresses."""
    if ip_version(reply) != ip_version(expected):
        return "not an IP packet of the request's version"
    if len(reply) < (IPV4_MIN_HEADER if ip_version(reply) == 4 else IPV6_HEADER):
        return "truncated IP header"
    if ip_packet_len(reply) != len(reply):
        return "IP length field differs from the bytes sent"
    if addresses(reply)[1] != addresses(expected)[1]:
        return "not addressed to the requester"
    if addresses(reply)[0] != addresses(expected)[0]:
        return "wrong source address"
    if ip_version(reply) == 4:
        header = ipv4_header_len(reply)
        if header < IPV4_MIN_HEADER or header + ICMP_HEADER > len(reply):
            return "bad IPv4 header length"
        if is_fragment(reply):
            return "a fragment"
        if reply[9] != PROTO_ICMP:
            return "not ICMP"
    elif reply[6] != PROTO_ICMPV6 or len(reply) < IPV6_HEADER + ICMP_HEADER:
        return "not ICMPv6"
    return None


def same_as_reference(reply: bytes, expected: bytes) -> bool:
    """True when `reply` is the reference reply apart from the IPv4 ID (with a header checksum to match) or the
    IPv6 flow label: then it is right in every field and checksum, and the field-by-field check can be skipped.

    Why a fast path: the reference model writes exactly this, and the live responder's RTT is the benchmark
    (benchmarks/rtt.py); a few slice comparisons cost far less than strict_refusal() plus checksum.verify().
    """
    if len(reply) != len(expected) or not reply:
        return False
    if ip_version(expected) == 4:
        return (
            reply[:4] == expected[:4]
            and reply[6:10] == expected[6:10]
            and reply[12:] == expected[12:]
            and internet_checksum(reply[: ipv4_header_len(reply)]) == 0
        )
    return reply[4:] == expected[4:] and reply[0] == expected[0] and reply[1] >> 4 == expected[1] >> 4


def strict_refusal(reply: bytes, expected: bytes) -> str | None:
    """Strict mode: None if `reply` matches `expected` (the reference echo reply) in every field the protocol
    fixes; else the first field that differs, as a short reason to count."""
    try:
        problem = _ip_refusal(reply, expected)
        if problem:
            return problem
        got, want = reply[_icmp_start(reply) :], expected[_icmp_start(expected) :]
        for name, span in (("type", slice(0, 1)), ("code", slice(1, 2)), ("id", slice(4, 6)), ("seq", slice(6, 8))):
            if got[span] != want[span]:
                return f"wrong {name}"
        if len(got) != len(want):
            return "wrong length (the data must be the request's)"
        if got[ICMP_HEADER:] != want[ICMP_HEADER:]:
            return "wrong data (not the request's)"
        return None
    except (IndexError, ValueError) as error:  # never let an unreadable reply through
        return f"unreadable ({type(error).__name__})"
