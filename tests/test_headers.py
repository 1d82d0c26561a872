"""labkit.headers against scapy's own dissection: the named helpers must agree with an independent parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw

from labkit import headers
from labkit.packets import DEFAULT_PAYLOAD, PING_TIMEVAL_BYTES


@settings(max_examples=60, deadline=None)
@given(
    options=st.integers(0, 10),
    flags=st.sampled_from([0, 1, 2, 3]),
    frag=st.integers(0, 0x1FFF),
    data=st.binary(max_size=64),
)
def test_ipv4_helpers_match_scapy(options: int, flags: int, frag: int, data: bytes) -> None:
    packet = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01" * 4 * options, flags=flags, frag=frag) / ICMP() / Raw(data)
    )
    parsed = IP(packet)
    assert headers.ipv4_header_len(packet) == parsed.ihl * 4
    assert headers.ipv4_total_len(packet) == parsed.len == len(packet)
    assert headers.ipv4_fragment_offset(packet) == parsed.frag * 8
    assert headers.ipv4_more_fragments(packet) == bool(parsed.flags.MF)
    assert headers.is_fragment(packet) == (bool(parsed.flags.MF) or parsed.frag != 0)
    assert headers.ipv4_payload(packet + b"\x00" * 18) == bytes(parsed.payload)


def test_trim_drops_ethernet_padding_only() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP())  # 28 bytes: a padded frame adds 18
    assert headers.trim_to_ip_length(packet + bytes(18)) == packet
    v6 = bytes(IPv6(src="fd00::1", dst="fd00::2") / Raw(b"x" * 8))
    assert headers.trim_to_ip_length(v6 + bytes(4)) == v6
    assert headers.trim_to_ip_length(packet[:10]) == packet[:10]  # lengths not trustworthy: unchanged
    assert headers.trim_to_ip_length(b"") == b""


def test_default_payload_is_what_iputils_sends() -> None:
    """tests/data/golden_ping.pcap: a 16-byte timeval, then bytes equal to their offset."""
    assert len(DEFAULT_PAYLOAD) == 56
    assert all(DEFAULT_PAYLOAD[i] == i for i in range(PING_TIMEVAL_BYTES, 56))
