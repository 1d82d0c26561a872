"""Notebook 10's checkers: right answers pass, the usual slips get the hint that names them."""

from __future__ import annotations

import ipaddress
import socket

from scapy.utils6 import in6_getnsma

from labkit.checksum import icmpv6_offset, icmpv6_pseudo_header, internet_checksum
from labkit.exercises import check_checksum_words, check_solicited_node
from labkit.exercises.ipv6 import _cases, checksum_words, solicited_node
from labkit.packets import echo_request, echo_request_v6


def test_word_counts_are_what_the_checksums_cover() -> None:
    v4 = echo_request()
    assert checksum_words(v4) == (len(v4) - 20) // 2 == 32
    v6 = echo_request_v6()
    message = v6[icmpv6_offset(v6) :]
    covered = icmpv6_pseudo_header(v6[8:24], v6[24:40], len(message)) + message
    assert checksum_words(v6) == len(covered) // 2 == 52
    assert internet_checksum(covered) == 0  # the words counted are exactly the ones that sum to 0xffff


def test_word_count_hints_name_the_slip() -> None:
    v6 = echo_request_v6()
    assert check_checksum_words(v6, 52)
    assert "pseudo-header" in str(check_checksum_words(v6, 32))
    assert "bytes" in str(check_checksum_words(v6, 104))
    assert not check_checksum_words(v6, "lots")


def test_reference_solicited_node_matches_scapy() -> None:
    for address in _cases():
        scapy_form = socket.inet_ntop(socket.AF_INET6, in6_getnsma(socket.inet_pton(socket.AF_INET6, address)))
        assert ipaddress.IPv6Address(solicited_node(address)) == ipaddress.IPv6Address(scapy_form)


def test_solicited_node_checker_accepts_right_code_and_diagnoses_wrong_code() -> None:
    def right(address: str) -> str:
        low = int(ipaddress.IPv6Address(address)) & 0xFFFFFF
        return str(ipaddress.IPv6Address((0xFF0200000000000000000001FF << 24) | low))

    def kept_32_bits(address: str) -> str:
        low = int(ipaddress.IPv6Address(address)) & 0xFFFFFFFF
        return str(ipaddress.IPv6Address((0xFF0200000000000000000001 << 32) | low))

    def kept_16_bits(address: str) -> str:
        return right(address).rsplit(":", 2)[0] + ":ff00:" + address.rsplit(":", 1)[-1]

    assert check_solicited_node(right)
    assert "32 bits" in str(check_solicited_node(kept_32_bits))
    assert not check_solicited_node(kept_16_bits)
    crashed = check_solicited_node(lambda address: 1 / 0)
    assert not crashed and "ZeroDivisionError" in str(crashed)


def test_word_count_names_a_forgotten_odd_byte() -> None:
    odd = echo_request(payload=bytes(1001))  # 1009 bytes of ICMP message
    assert checksum_words(odd) == 505
    assert check_checksum_words(odd, 505)
    assert "odd last byte" in str(check_checksum_words(odd, 504))
    assert "odd" not in str(check_checksum_words(echo_request(), 31))  # an even message has no odd byte
