"""checksum.py: RFC 1071 against scapy, the teaching trace, and verify() on real and broken packets."""

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.utils import checksum as scapy_checksum

from labkit.checksum import (
    carries_folded,
    icmpv6_offset,
    icmpv6_pseudo_header,
    internet_checksum,
    trace,
    verify,
    with_checksums,
    word_sum,
)
from labkit.packets import echo_request, echo_request_v6


@given(st.binary(max_size=300))
def test_internet_checksum_matches_scapy(data):
    assert internet_checksum(data) == scapy_checksum(data)


def test_rfc1071_worked_example_and_odd_length():
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (after folding the carry), checksum 220d
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert internet_checksum(b"\x45") == internet_checksum(b"\x45\x00") == 0xBAFF


def test_internet_checksum_stays_fast():
    packet = bytes(range(256)) * 6
    start = time.perf_counter()
    for _ in range(2000):
        internet_checksum(packet)
    assert time.perf_counter() - start < 1.0  # ~microseconds each; generous for slow CI


@given(st.binary(max_size=120))
def test_trace_agrees_with_the_fast_checksum(data):
    result = trace(data)
    assert result.checksum == internet_checksum(data)
    assert len(result.steps) == (len(data) + 1) // 2
    assert result.total == sum(step.word for step in result.steps)
    running = 0
    for step in result.steps:
        assert step.sum_before == running
        raw = step.sum_before + step.word
        assert step.carry_folded == (raw > 0xFFFF)
        assert step.sum_after == (raw - 0xFFFF if step.carry_folded else raw)
        running = step.sum_after
    if data:
        assert result.folded == running
    assert len(result.lines()) == len(result.steps) + 3 + len(data) % 2


def test_trace_lines_teach_the_carry_and_complement():
    text = "\n".join(trace(bytes.fromhex("ffff0002")).lines())
    assert "0x10001" in text and "carry" in text and "0x0002" in text
    assert "~0x0002 = 0xfffd" in text


def test_trace_of_odd_length_explains_padding():
    text = "\n".join(trace(b"\x12\x34\x56").lines())
    assert "padded" in text and "0x5600" in text


def test_verify_good_packets():
    for packet in (echo_request(), echo_request(options=b"\x07\x07\x04" + bytes(4)), echo_request(payload=b"odd")):
        checks = verify(packet)
        assert [c.name for c in checks] == ["ip.chksum", "icmp.chksum"]
        assert all(c.ok for c in checks)
    (check,) = verify(echo_request_v6())
    assert check.name == "icmpv6.cksum" and check.ok and check.offset == 42


def test_verify_expected_matches_what_scapy_computes():
    packet = echo_request(payload=b"abc")
    broken = bytearray(packet)
    broken[10:12] = b"\x00\x00"
    broken[22:24] = b"\xde\xad"
    ip = IP(bytes(broken))
    del ip.chksum, ip[ICMP].chksum
    fixed = IP(bytes(ip))
    ip_check, icmp_check = verify(bytes(broken))
    assert (ip_check.found, ip_check.expected, ip_check.ok) == (0, fixed.chksum, False)
    assert (icmp_check.found, icmp_check.expected, icmp_check.ok) == (0xDEAD, fixed[ICMP].chksum, False)
    assert icmp_check.offset == 22


def test_verify_icmpv6_uses_the_pseudo_header():
    packet = bytes(IPv6(src="fd00::1", dst="fd00::2") / ICMPv6ND_NS(tgt="fd00::2"))
    (check,) = verify(packet)
    assert check.ok
    # the same ICMPv6 message between other addresses no longer verifies: the addresses are covered
    moved = packet[:39] + b"\x03" + packet[40:]
    (check,) = verify(moved)
    assert not check.ok and check.found == IPv6(packet)[ICMPv6ND_NS].cksum


def test_verify_skips_what_it_cannot_check():
    packet = echo_request()
    assert [c.name for c in verify(packet[:40])] == ["ip.chksum"]  # truncated: ICMP unknowable
    fragment = bytes(IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / ICMP() / (b"x" * 40))
    assert [c.name for c in verify(fragment)] == ["ip.chksum"]
    assert verify(b"") == [] and verify(b"\x45\x00") == [] and verify(echo_request_v6()[:30]) == []


def test_zero_and_ffff_are_both_accepted_when_zero_is_computed():
    from labkit.checksum import ChecksumCheck

    assert ChecksumCheck("icmp.chksum", 22, 0xFFFF, 0).ok
    assert not ChecksumCheck("icmp.chksum", 22, 0, 0xFFFF).ok


@given(st.binary(max_size=120))
def test_verify_never_raises(data):
    for check in verify(data):
        assert 0 <= check.found <= 0xFFFF and 0 <= check.expected <= 0xFFFF


@given(st.binary(max_size=60))
def test_verify_never_raises_on_ip_looking_data(tail):
    for head in (b"\x45", b"\x4f", b"\x60", b"\x46\x00\x00\x20"):
        verify(head + tail)


def test_pseudo_header_matches_scapy():
    from scapy.layers.inet6 import in6_chksum

    packet = echo_request_v6("fd00::7", "fd00::9", payload=b"odd")
    message = bytearray(packet[40:])
    message[2:4] = b"\x00\x00"
    pseudo = icmpv6_pseudo_header(packet[8:24], packet[24:40], len(message))
    assert len(pseudo) == 40 and pseudo[-1] == 58
    assert internet_checksum(pseudo + bytes(message)) == in6_chksum(58, IPv6(packet), bytes(message))


def test_icmpv6_offset_skips_extension_headers_and_stops_elsewhere():
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop

    assert icmpv6_offset(echo_request_v6()) == 40
    chained = bytes(
        IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / ICMPv6EchoRequest()
    )
    assert icmpv6_offset(chained) == 56
    assert icmpv6_offset(chained, end=48) is None  # the second header does not fit before `end`
    assert icmpv6_offset(bytes(IPv6() / UDP())) is None


def test_with_checksums_repairs_every_checksum_and_nothing_else():
    for packet in (echo_request(payload=b"abc"), echo_request_v6(payload=b"abc")):
        broken = bytearray(packet)
        for check in verify(packet):
            broken[check.offset] ^= 0x5A
        broken[-1] ^= 0xFF  # a changed data byte: the checksums must follow it
        fixed = with_checksums(bytes(broken))
        assert all(check.ok for check in verify(fixed)) and len(verify(fixed)) == len(verify(packet))
        checked = {o for check in verify(packet) for o in (check.offset, check.offset + 1)}
        assert all(fixed[i] == broken[i] for i in range(len(fixed)) if i not in checked)
        assert fixed != packet  # the data change is kept, not undone


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1500))
def test_carries_folded_counts_what_trace_counts_word_by_word(data):
    steps = trace(data)
    assert word_sum(data) == steps.total
    assert carries_folded(steps.total) == sum(step.carry_folded for step in steps.steps)
