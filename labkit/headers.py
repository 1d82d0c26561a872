"""Named IPv4/IPv6/ICMP header facts: the one place where header arithmetic and protocol numbers live.

Why a module of its own: the same bit-twiddling ("IHL times four", "is this a fragment?") was written out
in many modules, sometimes spelt two ways. Naming it once, as dpkt does, means a reader meets a word instead
of a mask, and a fix is made once. Everything here works on plain `bytes` starting at the IP header and
never raises for short input unless it says so.
"""

from __future__ import annotations

import struct

# IP protocol numbers (IANA "Assigned Internet Protocol Numbers"; RFC 8200 for the IPv6 extension headers).
PROTO_HOPOPTS = 0
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ROUTING = 43
PROTO_FRAGMENT = 44
PROTO_ICMPV6 = 58
PROTO_NONE = 59
PROTO_DSTOPTS = 60

# ICMP (RFC 792) and ICMPv6 (RFC 4443, RFC 4861) types labkit deals with.
ICMP_ECHO_REPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11
ICMP_TIMESTAMP = 13
ICMP_TIMESTAMP_REPLY = 14
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129
ICMPV6_NEIGHBOR_SOLICIT = 135
ICMPV6_NEIGHBOR_ADVERT = 136

# IPv4 header layout (RFC 791).
IPV4_MIN_HEADER = 20
IPV6_HEADER = 40
ICMP_HEADER = 8
IPV4_FLAG_RESERVED = 0x8000  # the "evil" bit: Linux never sets it on what it sends
IPV4_FLAG_DF = 0x4000
IPV4_FLAG_MF = 0x2000
IPV4_OFFSET_MASK = 0x1FFF  # fragment offset, in units of 8 bytes


def ip_version(packet: bytes) -> int | None:
    """4, 6, or None when the first nibble is neither (or there is no first byte)."""
    if not packet:
        return None
    version = packet[0] >> 4
    return version if version in (4, 6) else None


def ipv4_header_len(packet: bytes) -> int:
    """The IPv4 header length in bytes: the IHL nibble counts 32-bit words."""
    return (packet[0] & 0x0F) * 4


def ipv4_total_len(packet: bytes) -> int:
    """The IPv4 total length field (header plus payload), in bytes."""
    return struct.unpack_from("!H", packet, 2)[0]


def ipv4_flags_offset(packet: bytes) -> int:
    """The 16-bit flags + fragment offset word of an IPv4 header."""
    return struct.unpack_from("!H", packet, 6)[0]


def ipv4_fragment_offset(packet: bytes) -> int:
    """Where this fragment's data starts in the datagram, in bytes."""
    return (ipv4_flags_offset(packet) & IPV4_OFFSET_MASK) * 8


def ipv4_more_fragments(packet: bytes) -> bool:
    """True when the MF flag says more fragments follow."""
    return bool(ipv4_flags_offset(packet) & IPV4_FLAG_MF)


def is_fragment(packet: bytes) -> bool:
    """True for any IPv4 fragment (MF set or a non-zero offset), the test the kernel's ip_is_fragment makes."""
    return bool(ipv4_flags_offset(packet) & (IPV4_FLAG_MF | IPV4_OFFSET_MASK))


def ipv4_payload(packet: bytes) -> bytes:
    """The bytes after the IPv4 header, up to the total length (link-layer padding dropped)."""
    return packet[ipv4_header_len(packet) : ipv4_total_len(packet)]


def ipv6_payload_len(packet: bytes) -> int:
    """The IPv6 payload length field: the bytes after the fixed 40-byte header."""
    return struct.unpack_from("!H", packet, 4)[0]


def ip_packet_len(packet: bytes) -> int | None:
    """How long the IP packet says it is (IPv4 total length, IPv6 40 + payload length), or None if unknown.

    A frame from a physical NIC is padded to 60 bytes; this is the length to trim it to.
    """
    version = ip_version(packet)
    if version == 4 and len(packet) >= IPV4_MIN_HEADER:
        return ipv4_total_len(packet)
    if version == 6 and len(packet) >= IPV6_HEADER:
        return IPV6_HEADER + ipv6_payload_len(packet)
    return None


def trim_to_ip_length(packet: bytes) -> bytes:
    """The packet without trailing link-layer padding; unchanged when its length fields cannot be trusted.

    The one place both pcap mode and the live responder trim, so padding never reaches a model.
    """
    length = ip_packet_len(packet)
    if length is None or length > len(packet) or length < IPV4_MIN_HEADER:
        return packet
    return packet[:length]
