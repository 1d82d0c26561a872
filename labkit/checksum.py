"""The RFC 1071 internet checksum, a step-by-step trace of it for teaching, and checking a packet's checksums.

This module owns the checksum arithmetic and where the checksums sit (IPv4 header, ICMP, ICMPv6 with its
pseudo-header); prompts, the judge and the models import it rather than summing bytes themselves.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from labkit.headers import (
    IPV4_MIN_HEADER,
    IPV6_HEADER,
    PROTO_DSTOPTS,
    PROTO_HOPOPTS,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_ROUTING,
    ip_version,
    ipv4_header_len,
    ipv4_total_len,
    ipv6_payload_len,
    is_fragment,
)


def internet_checksum(data: bytes) -> int:
    """One's complement of the one's-complement sum of 16-bit big-endian words (RFC 1071).

    An odd length is padded with one zero byte. Why the arithmetic below: 2**16 is 1 modulo 0xFFFF, so the
    sum of the 16-bit words is congruent to the whole packet read as one big-endian integer, and the
    end-around-carry sum is that remainder (0xFFFF rather than 0 unless every word is zero). One big-integer
    remainder in C is several times faster than summing the words in Python on the per-packet path.
    """
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    whole = int.from_bytes(data, "big")
    total = whole % 0xFFFF or (0xFFFF if whole else 0)
    return ~total & 0xFFFF


def _fold(total: int) -> int:
    """Add the carries above bit 15 back in until none is left: the one's-complement sum in 16 bits."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def word_sum(data: bytes) -> int:
    """The plain sum of the 16-bit big-endian words (odd length padded with a zero byte), nothing folded."""
    padded = bytes(data) + b"\x00" if len(data) % 2 else bytes(data)
    return sum(struct.unpack(f">{len(padded) // 2}H", padded))


def carries_folded(total: int) -> int:
    """How many end-around carries a running sum folds back on its way to `word_sum` = `total`.

    Why no loop is needed: each fold turns a carry out of bit 15 into a 1 at the bottom, taking 0xFFFF off,
    and the running sum ends at _fold(total); so the count is their difference over 0xFFFF. trace() counts
    the same carries one word at a time (a test holds the two together).
    """
    return (total - _fold(total)) // 0xFFFF


@dataclass(frozen=True)
class ChecksumStep:
    """One 16-bit word added to the running one's-complement sum.

    `sum_after` is already folded back to 16 bits; `carry_folded` says whether this addition overflowed,
    i.e. a carry out of bit 15 was added back at the bottom (the "end-around carry" of RFC 1071).
    """

    offset: int
    word: int
    sum_before: int
    sum_after: int
    carry_folded: bool


@dataclass(frozen=True)
class ChecksumTrace:
    """The whole RFC 1071 computation, step by step, for teaching.

    `total` is the plain sum of all words (carries kept), `folded` the 16-bit one's-complement sum after
    folding the carries back in, and `checksum` its complement (what goes into the header).
    """

    data: bytes
    steps: tuple[ChecksumStep, ...]
    total: int
    folded: int
    checksum: int

    def lines(self) -> list[str]:
        """Readable text, one line per word, then the fold and the complement."""
        out = [f"RFC 1071 checksum over {len(self.data)} bytes = {len(self.steps)} 16-bit words"]
        if len(self.data) % 2:
            out.append(
                f"odd length: the last byte 0x{self.data[-1]:02x} is padded with a zero byte "
                f"-> word 0x{self.data[-1]:02x}00"
            )
        for step in self.steps:
            line = (
                f"@{step.offset:04x}  {step.word:04x}   0x{step.sum_before:04x} + 0x{step.word:04x}"
                f" = 0x{step.sum_before + step.word:04x}"
            )
            if step.carry_folded:
                unfolded = step.sum_before + step.word - 0x10000
                line += f"  carry! fold it back: 0x{unfolded:04x} + 1 = 0x{step.sum_after:04x}"
            out.append(line)
        carries = sum(step.carry_folded for step in self.steps)
        out.append(
            f"sum without folding 0x{self.total:x}; with the {carries} carr{'y' if carries == 1 else 'ies'} "
            f"folded back: 0x{self.folded:04x}"
        )
        out.append(f"one's complement: ~0x{self.folded:04x} = 0x{self.checksum:04x}  <- the checksum")
        return out


def trace(data: bytes) -> ChecksumTrace:
    """internet_checksum, but keeping every step: each word, the running sum, each carry folded back."""
    data = bytes(data)
    padded = data + b"\x00" if len(data) % 2 else data
    steps = []
    running = 0
    for offset in range(0, len(padded), 2):
        word = (padded[offset] << 8) | padded[offset + 1]
        after = running + word
        carry = after > 0xFFFF
        if carry:
            after = (after & 0xFFFF) + 1
        steps.append(ChecksumStep(offset, word, running, after, carry))
        running = after
    total = sum(step.word for step in steps)
    folded = _fold(total)
    return ChecksumTrace(data, tuple(steps), total, folded, ~folded & 0xFFFF)


@dataclass(frozen=True)
class ChecksumCheck:
    """One checksum found in a packet next to the one it should hold."""

    name: str  # "ip.chksum" | "icmp.chksum" | "icmpv6.cksum"
    offset: int  # where the 2-byte checksum sits in the packet
    found: int
    expected: int  # computed with the checksum field zeroed

    @property
    def ok(self) -> bool:
        """Would a receiver accept it? 0xffff also verifies when 0x0000 is computed (both are one's-complement zero)."""
        return self.found == self.expected or (self.expected == 0 and self.found == 0xFFFF)


def _zeroed(data: bytes, offset: int) -> bytes:
    return data[:offset] + b"\x00\x00" + data[offset + 2 :]


def _check(name: str, covered: bytes, field_offset: int, packet_offset: int, prefix: bytes = b"") -> ChecksumCheck:
    found = int.from_bytes(covered[field_offset : field_offset + 2], "big")
    expected = internet_checksum(prefix + _zeroed(covered, field_offset))
    return ChecksumCheck(name, packet_offset + field_offset, found, expected)


def icmpv6_pseudo_header(src: bytes, dst: bytes, length: int) -> bytes:
    """The RFC 8200 section 8.1 pseudo-header an ICMPv6 checksum covers before the message itself:
    source, destination, upper-layer length (4 bytes), three zero bytes, next header 58."""
    return bytes(src) + bytes(dst) + length.to_bytes(4, "big") + bytes(3) + bytes([PROTO_ICMPV6])


# IPv6 extension headers that may sit between the fixed header and ICMPv6 (hop-by-hop, routing, destination options).
_IPV6_SKIPPABLE = frozenset({PROTO_HOPOPTS, PROTO_ROUTING, PROTO_DSTOPTS})


def icmpv6_offset(packet: bytes, end: int | None = None) -> int | None:
    """Where the ICMPv6 message of an IPv6 packet starts, past any hop-by-hop, routing and destination-options
    headers that fit before `end` (default: the end of the data); None when the chain leads elsewhere.

    Shared by verify() and the judge so both find the message the same way. The caller checks that the
    message itself is long enough.
    """
    end = len(packet) if end is None else end
    next_header, offset = packet[6], IPV6_HEADER
    while next_header in _IPV6_SKIPPABLE and offset + 8 <= end:
        next_header, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
    return offset if next_header == PROTO_ICMPV6 else None


def _verify_ipv4(packet: bytes) -> list[ChecksumCheck]:
    ihl = ipv4_header_len(packet)
    if ihl < IPV4_MIN_HEADER or len(packet) < ihl:
        return []
    checks = [_check("ip.chksum", packet[:ihl], 10, 0)]
    total_length = ipv4_total_len(packet)
    if packet[9] != PROTO_ICMP or is_fragment(packet) or total_length > len(packet) or total_length < ihl + 4:
        return checks  # not ICMP, only part of it, or truncated: its checksum cannot be checked here
    checks.append(_check("icmp.chksum", packet[ihl:total_length], 2, ihl))
    return checks


def _verify_ipv6(packet: bytes) -> list[ChecksumCheck]:
    if len(packet) < IPV6_HEADER:
        return []
    end = IPV6_HEADER + ipv6_payload_len(packet)
    if end > len(packet):
        return []
    offset = icmpv6_offset(packet, end)
    if offset is None or offset + 4 > end:
        return []
    message = packet[offset:end]
    pseudo = icmpv6_pseudo_header(packet[8:24], packet[24:IPV6_HEADER], len(message))
    return [_check("icmpv6.cksum", message, 2, offset, prefix=pseudo)]


def verify(packet: bytes | bytearray) -> list[ChecksumCheck]:
    """Check the checksums a receiver would: IPv4 header and ICMP, or ICMPv6 over the pseudo-header.

    Never raises: a checksum that cannot be located (truncated data, a fragment, another protocol) is simply
    left out, so the list holds only what could be checked.
    """
    try:
        packet = bytes(packet)
        if not packet:
            return []
        version = ip_version(packet)
        if version == 4:
            return _verify_ipv4(packet)
        if version == 6:
            return _verify_ipv6(packet)
    except Exception:  # noqa: BLE001 - contract: verify() never raises on any input
        return []
    return []


def with_checksums(packet: bytes | bytearray) -> bytes:
    """`packet` with every checksum verify() locates set to its correct value (IPv4 header and ICMP, or
    ICMPv6): what a sender that erred in the other bytes but did its arithmetic would put on the wire.

    The checksums cover disjoint bytes (the ICMP checksum does not cover the IP header, the ICMPv6
    pseudo-header holds no checksum), so they can be set in any order.
    """
    fixed = bytearray(packet)
    for check in verify(packet):
        fixed[check.offset : check.offset + 2] = check.expected.to_bytes(2, "big")
    return bytes(fixed)
