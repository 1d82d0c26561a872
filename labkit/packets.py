"""Packets as plain bytes: hex in and out, a classic hexdump, and scapy-built echo requests.

Everything above this floor passes packets around as `bytes` (an IP packet unless the name says `frame`),
so this module is the one place that turns them into text and back.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from labkit.headers import ip_version

__all__ = [
    "DEFAULT_PAYLOAD",
    "from_hex",
    "hexdump",
    "hexdump_lines",
    "ip_version",
    "to_hex",
    "echo_request",
    "echo_request_v6",
    "ping_payload",
    "ping_sent_at",
]

# What iputils ping sends by default on 64-bit Linux: 56 data bytes. The first 16 are a `struct timeval`
# (tv_sec, tv_usec as two 8-byte longs, little-endian on x86-64) that ping reads back from the reply to
# compute `time=`; they are zero here so that requests are reproducible. iputils fills the data with bytes
# equal to their offset (ping_common.c: `outpack[i + 8] = i`) before writing the timestamp, so byte 16 is
# 0x10, byte 17 is 0x11...
PING_TIMEVAL_BYTES = 16
PING_DATA_BYTES = 56
_TIMEVAL = struct.Struct("<qq")  # tv_sec, tv_usec as x86-64 Linux lays them out


def ping_payload(sent_at_s: float = 0.0, size: int = PING_DATA_BYTES) -> bytes:
    """iputils ping's data for a request sent at `sent_at_s` (seconds, as gettimeofday gives them).

    Offset bytes first, then the timeval over the first 16 (ping4_send_probe); below 16 bytes ping sends no
    timestamp and shows no time=, so neither does this."""
    pattern = bytes(i & 0xFF for i in range(size))
    if size < PING_TIMEVAL_BYTES:
        return pattern
    micros = round(sent_at_s * 1_000_000)
    return _TIMEVAL.pack(*divmod(micros, 1_000_000)) + pattern[PING_TIMEVAL_BYTES:]


def ping_sent_at(data: bytes) -> float | None:
    """The send time ping reads back from echoed data (gather_statistics); None if too short to hold one."""
    if len(data) < PING_TIMEVAL_BYTES:
        return None
    seconds, micros = _TIMEVAL.unpack_from(data)
    return seconds + micros / 1_000_000


DEFAULT_PAYLOAD = ping_payload(0.0)

_NOT_HEX = re.compile(r"[^0-9a-fA-F]")
_PRINTABLE = frozenset(range(0x20, 0x7F))
MAX_IPV4_OPTIONS = 40  # IHL is 4 bits: at most 15 words of header, 5 of them fixed


def to_hex(data: bytes) -> str:
    """Lowercase hex without spaces ("4500001c..."), the form prompts and recordings use."""
    return bytes(data).hex()


def from_hex(text: str) -> bytes:
    """Strict hex to bytes: whitespace is allowed anywhere, anything else is an error.

    Tolerant extraction from a model's free text lives in labkit.parse; this is for hex we wrote ourselves.
    """
    digits = "".join(text.split())
    bad = _NOT_HEX.search(digits)
    if bad:
        raise ValueError(f"not hex: {bad.group()!r} at digit {bad.start()} (only 0-9, a-f and whitespace are allowed)")
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)}): every byte needs two digits")
    return bytes.fromhex(digits)


def _ascii_gutter(chunk: bytes) -> str:
    return "".join(chr(b) if b in _PRINTABLE else "." for b in chunk)


def hexdump_lines(data: bytes, width: int = 16) -> list[str]:
    """The rows of `hexdump`, for callers that colour or annotate rows one by one."""
    data = bytes(data)
    offset_digits = max(4, len(f"{max(len(data) - 1, 0):x}"))
    half = width // 2
    hex_width = width * 3  # "xx " per byte plus one extra space between the halves, minus the trailing space
    rows = []
    for start in range(0, len(data), width):
        chunk = data[start : start + width]
        left = " ".join(f"{b:02x}" for b in chunk[:half])
        right = " ".join(f"{b:02x}" for b in chunk[half:])
        hex_part = f"{left}  {right}" if right else left
        rows.append(f"{start:0{offset_digits}x}  {hex_part:<{hex_width}}  {_ascii_gutter(chunk)}".rstrip())
    return rows


def hexdump(data: bytes) -> str:
    """A classic hexdump: offset, 16 bytes a row split 8+8, ASCII gutter ('.' for unprintable bytes).

    0000  45 00 00 54 00 01 00 00  40 01 66 a4 0a 00 00 01   E..T....@.f.....
    """
    return "\n".join(hexdump_lines(data))


def echo_request(
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    ident: int = 0x1234,
    seq: int = 1,
    payload: bytes = DEFAULT_PAYLOAD,
    ttl: int = 64,
    tos: int = 0,
    *,
    ip_id: int = 1,
    df: bool = False,
    options: bytes | Iterable = b"",
) -> bytes:
    """An IPv4 ICMP echo request built by scapy (checksums filled in).

    `options` are IP options, either raw bytes (padded to a multiple of 4 by scapy) or scapy IPOption objects;
    more than 40 bytes of them is a ValueError (scapy would wrap the 4-bit IHL and build a broken header).
    """
    from scapy.layers.inet import ICMP, IP  # scapy is slow to import; only pay for it when building packets
    from scapy.packet import Raw

    ip = IP(src=src, dst=dst, ttl=ttl, tos=tos, id=ip_id, flags="DF" if df else 0)
    if options:
        ip.options = options
        option_bytes = len(bytes(ip)) - 20
        if option_bytes > MAX_IPV4_OPTIONS:
            raise ValueError(
                f"IP options take {option_bytes} bytes, but an IPv4 header holds at most "
                f"{MAX_IPV4_OPTIONS}: give fewer or shorter options"
            )
    return bytes(ip / ICMP(type=8, code=0, id=ident, seq=seq) / Raw(load=bytes(payload)))


def echo_request_v6(
    src: str = "fd00::1",
    dst: str = "fd00::2",
    ident: int = 0x1234,
    seq: int = 1,
    payload: bytes = DEFAULT_PAYLOAD,
    hlim: int = 64,
) -> bytes:
    """An IPv6 ICMPv6 echo request built by scapy (checksum over the pseudo-header filled in)."""
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    return bytes(IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6EchoRequest(id=ident, seq=seq, data=bytes(payload)))
