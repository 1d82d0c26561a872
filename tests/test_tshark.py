"""labkit.tshark against real tshark: validation on catches a bad IPv4 header checksum that the default misses,
and the RTTs Wireshark computes (icmp.resptime) equal labkit's own."""

from __future__ import annotations

import subprocess

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.packet import Raw
from scapy.utils import wrpcap

from labkit import tshark

needs_tshark = pytest.mark.skipif(not tshark.available(), reason="needs tshark (apt-get install tshark)")


@pytest.fixture
def capture(tmp_path):
    """Request at t=1.0 s, reply with a wrong IPv4 header checksum at t=3.5 s, request 2 and a good reply."""
    packets = []
    for seq, (sent, answered, ip_sum) in enumerate([(1.0, 3.5, 0x1234), (2.0, 2.25, None)], start=1):
        request = IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, id=7, seq=seq) / Raw(b"x" * 8)
        reply = IP(src="10.0.0.2", dst="10.0.0.1", chksum=ip_sum) / ICMP(type=0, id=7, seq=seq) / Raw(b"x" * 8)
        request.time, reply.time = sent, answered
        packets += [request, reply]
    path = tmp_path / "pings.pcap"
    wrpcap(str(path), packets)
    return path


@needs_tshark
def test_default_tshark_misses_the_bad_ip_checksum_and_validation_finds_it(capture) -> None:
    default = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", tshark.BAD_CHECKSUM], capture_output=True, text=True
    ).stdout
    assert default.strip() == ""  # why every call in labkit.tshark switches validation on
    flagged = tshark.bad_checksums(capture).strip().splitlines()
    assert len(flagged) == 1 and "reply" in flagged[0]


@needs_tshark
def test_wiresharks_response_times_equal_labkits(capture) -> None:
    assert tshark.response_times_ms(capture) == [(1, 2500.0), (2, 250.0)]
    assert tshark.round_trips_ms(capture) == [(1, 2500.0), (2, 250.0)]
    assert "Header Checksum" in tshark.detail(capture, 2)


def test_round_trips_without_tshark(capture) -> None:
    assert tshark.round_trips_ms(capture) == [(1, 2500.0), (2, 250.0)]


@needs_tshark
def test_icmp_checksums_are_validated_even_by_default(tmp_path) -> None:
    """Notebook 07 says ICMP checksums are validated by default; only the IPv4 header's is not."""
    reply = IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=0, id=7, seq=1, chksum=0x1234) / Raw(b"x" * 8)
    path = tmp_path / "bad-icmp.pcap"
    wrpcap(str(path), [reply])
    default = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "icmp.checksum.status == 0"], capture_output=True, text=True
    ).stdout
    assert len(default.strip().splitlines()) == 1
