"""Packets for exercises that the notebooks show only as hex, built here so the cell that shows them gives
nothing away.

Why: `echo_request(seq=300)` in a cell answers "what is the sequence number?" before the student reads a byte.
Building the packet here keeps the question about the bytes. Every packet is deterministic, so the notebooks'
outputs are the same on every run.
"""

from __future__ import annotations

from labkit.checksum import with_checksums
from labkit.headers import ICMP_HEADER, ipv4_header_len
from labkit.packets import echo_request
from labkit.stack import echo_reply

NOP = 0x01  # RFC 791: the No Operation option, one byte; four of them make the header one word longer
DF = 0x40  # the Don't Fragment bit, in byte 6 of the IPv4 header
SLIPPED_DATA_BYTE = 42  # data byte iputils will name; its pattern value 0x2a is written 0x7a (a digit slip)


def options_request() -> bytes:
    """An echo request whose IP header carries 4 bytes of options (IHL 6): byte 0 is 0x46, not 0x45."""
    return echo_request("172.16.5.9", "172.16.5.1", ident=0x3C21, seq=7, options=bytes([NOP] * 4))


def mystery_request() -> bytes:
    """An echo request from another ping, with a sequence number above 255 (two bytes matter)."""
    return echo_request("192.168.7.3", "192.168.7.1", ident=0x51F3, seq=300, ip_id=0x2E4B)


def _reference(request: bytes) -> bytes:
    """labkit's reply to an echo request (the exercises only pass echo requests)."""
    reply = echo_reply(request)
    if reply is None:
        raise ValueError("not an echo request: there is no reply to vary")
    return reply


def _set(packet: bytes, offset: int, value: bytes) -> bytes:
    """The packet with `value` written at `offset`, both checksums recomputed over the result."""
    changed = bytearray(packet)
    changed[offset : offset + len(value)] = value
    return with_checksums(bytes(changed))


def data_slip_reply(request: bytes) -> bytes:
    """A reply with one data byte copied wrong and both checksums computed over what was written: the
    checksums verify, so even a ping socket delivers it."""
    reply = _reference(request)
    offset = ipv4_header_len(reply) + ICMP_HEADER + SLIPPED_DATA_BYTE
    return _set(reply, offset, bytes([reply[offset] ^ 0x50]))


def reply_lineup(request: bytes) -> dict[str, bytes]:
    """Five candidate replies to `request`, each different from labkit's reference in one way.

    A: TTL 128, header checksum recomputed.      B: TTL 128, header checksum left as the reference's.
    C: type left at 8, checksums recomputed.     D: one data byte wrong, checksums computed over it.
    E: its own IP ID, DF set, header checksum recomputed.
    """
    reply = _reference(request)
    ttl_128 = bytearray(reply)
    ttl_128[8] = 128
    return {
        "A": _set(reply, 8, bytes([128])),
        "B": bytes(ttl_128),
        "C": _set(reply, ipv4_header_len(reply), bytes([8])),
        "D": data_slip_reply(request),
        "E": _set(reply, 4, bytes([request[4] ^ 0xFF, request[5] ^ 0xFF, DF, 0])),
    }
