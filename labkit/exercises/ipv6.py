"""Exercises for notebook 10: the arithmetic IPv6 adds (pseudo-header words) and neighbour discovery's
solicited-node addresses, written by the student and checked on many generated addresses.

Why these two: the pseudo-header is why an IPv6 ping gives a model more words to add than an IPv4 one, and the
solicited-node address is the small piece of code that replaces ARP's broadcast, which a student can write in
three lines and get subtly wrong (keeping 32 bits instead of 24 is the classic slip).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable

from labkit.checksum import icmpv6_offset
from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.headers import IPV6_HEADER, ip_version, ipv4_header_len, ipv4_total_len, ipv6_payload_len

PSEUDO_HEADER_BYTES = 40  # RFC 8200 section 8.1: source, destination, upper-layer length, zeros, next header
CASES = 300  # generated addresses per check: enough to hit every nibble position many times


def _covered_bytes(packet: bytes) -> int:
    """How many bytes the ICMP (IPv4) or ICMPv6 checksum covers: the message, plus the pseudo-header for IPv6."""
    if ip_version(packet) == 4:
        return ipv4_total_len(packet) - ipv4_header_len(packet)
    start = icmpv6_offset(packet) or IPV6_HEADER
    return PSEUDO_HEADER_BYTES + IPV6_HEADER + ipv6_payload_len(packet) - start


def checksum_words(packet: bytes) -> int:
    """How many 16-bit words the ICMP (IPv4) or ICMPv6 checksum of this packet adds (an odd last byte padded)."""
    return (_covered_bytes(packet) + 1) // 2


def check_checksum_words(packet: bytes, answer: object) -> Feedback:
    """How many 16-bit words does this packet's ICMP/ICMPv6 checksum add? Hints name the usual slips."""
    try:
        given = int(str(answer).strip())
    except ValueError:
        return _wrong(f"{answer!r} is not a whole number of 16-bit words.")
    right = checksum_words(packet)
    if given == right:
        return _right(f"{right} words.")
    if ip_version(packet) == 6 and given == right - PSEUDO_HEADER_BYTES // 2:
        return _wrong(
            f"{given} counts only the ICMPv6 message.",
            "The ICMPv6 checksum also covers a pseudo-header (RFC 8200 section 8.1): how many bytes is it?",
        )
    if given == 2 * right or given == 2 * right - 1:
        return _wrong(f"{given} looks like a count of bytes.", "A 16-bit word is two bytes.")
    if given == right - 1 and _covered_bytes(packet) % 2:
        return _wrong(
            f"{given} leaves out the odd last byte.",
            "An odd byte still takes a word: it is padded with a zero byte (RFC 1071), so round up.",
        )
    return _wrong(f"{given} words is not right.", "Count the bytes the checksum covers, then halve (round up).")


def solicited_node(address: str) -> str:
    """The solicited-node multicast address (RFC 4291 section 2.7.1): ff02::1:ff00:0/104 plus the low 24 bits."""
    low24 = int(ipaddress.IPv6Address(address)) & 0xFFFFFF
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low24))


def _cases(seed: int = 10) -> list[str]:
    rng = random.Random(seed)
    edges = ["fd00::2", "fe80::200:ff:fe00:2", "2001:db8::1", "::1", "fd00::ffff:ffff", "fd00::1:0:0"]
    return edges + [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(CASES - len(edges))]


def check_solicited_node(function: Callable[[str], object]) -> Feedback:
    """Run the student's solicited_node(address) on generated addresses; name the first failing case and the slip."""
    for address in _cases():
        want = solicited_node(address)
        try:
            result = function(address)
            if result is None:
                return _wrong("solicited_node returned None.", "Write the function's body and return the address.")
            got = str(ipaddress.IPv6Address(str(result)))
        except Exception as error:  # the student's code: any failure is feedback, never a traceback
            return _wrong(f"solicited_node({address!r}) failed: {type(error).__name__}: {error}")
        if got != want:
            return _wrong(f"solicited_node({address!r}) gave {got}, expected {want}.", _slip(address, got))
    return _right(f"Right for all {CASES} generated addresses.")


def _slip(address: str, got: str) -> str:
    value, mine = int(ipaddress.IPv6Address(address)), int(ipaddress.IPv6Address(got))
    if mine & 0xFFFFFFFF == value & 0xFFFFFFFF:
        return "You kept 32 bits; only the low 24 go in, after the 'ff' byte of the prefix."
    if mine & 0xFFFFFF == value & 0xFFFFFF:
        return "The low 24 bits are right; check the fixed prefix ff02::1:ff00:0/104."
    if mine & 0xFFFF == value & 0xFFFF:
        return "You kept 16 bits; the address keeps the low 24 bits (the last three bytes)."
    return "Take the address's last three bytes and put them after ff02::1:ff."
