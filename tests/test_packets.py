"""packets.py: hex in/out, hexdump layout (checked against scapy's hexdump), scapy-built echo requests."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.utils import hexdump as scapy_hexdump

from labkit.packets import DEFAULT_PAYLOAD, echo_request, echo_request_v6, from_hex, hexdump, ip_version, to_hex


@given(st.binary(max_size=200))
def test_hex_round_trip(data):
    assert from_hex(to_hex(data)) == data
    assert to_hex(data) == to_hex(data).lower()
    assert " " not in to_hex(data)


def test_from_hex_allows_whitespace_and_either_case():
    assert from_hex("45 00\n00\t1C\r\n") == bytes([0x45, 0, 0, 0x1C])


@pytest.mark.parametrize("text, why", [("45 0g", "not hex"), ("0x45", "not hex"), ("450", "odd"), ("45:00", "not hex")])
def test_from_hex_is_strict(text, why):
    with pytest.raises(ValueError, match=why):
        from_hex(text)


@given(st.binary(max_size=100))
def test_hexdump_matches_scapy_and_round_trips(data):
    ours = hexdump(data)
    theirs = scapy_hexdump(data, dump=True)
    normalise = lambda text: [re.sub(r"\s+", " ", line).strip().lower() for line in text.splitlines() if line.strip()]
    assert normalise(ours) == normalise(theirs)
    rows = ours.splitlines() if data else []
    assert len(rows) == (len(data) + 15) // 16
    recovered = b"".join(bytes.fromhex(row[6 : 6 + 48]) for row in rows)
    assert recovered == data


def test_hexdump_layout():
    rows = hexdump(bytes(range(0x41, 0x41 + 20))).splitlines()
    assert rows[0] == "0000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP"
    # the short last row keeps the ASCII gutter in the same column
    assert rows[1] == "0010  51 52 53 54" + " " * 39 + "QRST"
    assert rows[1].index("QRST") == rows[0].index("ABCD")
    assert hexdump(b"\x00\x7f\x80 ~").endswith("  ... ~")


def test_hexdump_offsets_grow_beyond_64k():
    assert hexdump(bytes(0x10010)).splitlines()[-1].startswith("10000  ")


def test_echo_request_is_what_scapy_dissects():
    packet = echo_request("10.0.0.7", "10.0.0.9", ident=0xBEEF, seq=42, payload=b"hello", ttl=33, tos=0x10)
    ip = IP(packet)
    assert (ip.src, ip.dst, ip.ttl, ip.tos, ip.len) == ("10.0.0.7", "10.0.0.9", 33, 0x10, len(packet))
    assert (ip[ICMP].type, ip[ICMP].id, ip[ICMP].seq, bytes(ip[ICMP].payload)) == (8, 0xBEEF, 42, b"hello")
    assert bytes(IP(packet)) == packet
    assert len(echo_request()) == 20 + 8 + len(DEFAULT_PAYLOAD) == 84  # like ping's default


def test_echo_request_options_and_df():
    packet = echo_request(options=b"\x07\x07\x04" + bytes(4), df=True, ip_id=7)
    ip = IP(packet)
    assert ip.ihl == 7 and ip.options[0].option == 7 and ip.flags == "DF" and ip.id == 7


def test_echo_request_refuses_options_an_ipv4_header_cannot_hold():
    assert IP(echo_request(options=bytes(40))).ihl == 15  # 40 bytes is the most that fits
    with pytest.raises(ValueError, match="44 bytes.*at most 40"):
        echo_request(options=bytes(41))  # scapy pads to 44 and would wrap IHL


def test_echo_request_v6_is_what_scapy_dissects():
    packet = echo_request_v6("fd00::7", "fd00::9", ident=5, seq=6, payload=b"xyz", hlim=9)
    ip6 = IPv6(packet)
    assert (ip6.src, ip6.dst, ip6.hlim, ip6.plen) == ("fd00::7", "fd00::9", 9, len(packet) - 40)
    echo = ip6[ICMPv6EchoRequest]
    assert (echo.id, echo.seq, echo.data) == (5, 6, b"xyz")


def test_ip_version():
    assert ip_version(echo_request()) == 4
    assert ip_version(echo_request_v6()) == 6
    assert ip_version(b"") is None
    assert ip_version(b"\x50") is None
