"""pcap mode: capture I/O, link layers, who answers what, virtual-time stamps, checksums as tshark sees them."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, CookedLinux, Ether
from scapy.utils import PcapNgWriter, PcapWriter, rdpcap, wrpcap

from labkit.errors import LabkitError
from labkit.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_RAW,
    Capture,
    CapturedPacket,
    EthernetLink,
    answer_capture,
    ethernet_reply,
    read_capture,
    reason_key,
    write_capture,
)

PINGER_MAC = "02:00:00:00:00:01"
HOST_MAC = "02:00:00:00:00:02"


def _echo(seq: int = 1, dst: str = "10.0.0.2", payload: bytes = b"labkit-ping-data-0123456789abcdef") -> IP:
    return IP(src="10.0.0.1", dst=dst, id=seq, flags="DF") / ICMP(type=8, id=0x4242, seq=seq) / payload


def _write_pcap(path: Path, packets, linktype: int | None = None, nano: bool = False) -> Path:
    writer = PcapWriter(str(path), linktype=linktype, nano=nano, sync=True)
    for packet in packets:
        writer.write(packet)
    writer.close()
    return path


def _stamped(packet, t: float):
    packet.time = t
    return packet


# --- reading and writing ---------------------------------------------------------------------------------


def test_read_classic_pcap_gives_bytes_and_exact_timestamps(tmp_path):
    frames = [_stamped(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(i), 1700000000 + i * 0.25) for i in range(3)]
    path = _write_pcap(tmp_path / "in.pcap", frames)
    capture = read_capture(path)
    assert capture.linktype == LINKTYPE_ETHERNET
    assert [p.data for p in capture.packets] == [bytes(f) for f in frames]
    assert [p.ts_ns for p in capture.packets] == [1700000000_000_000_000 + i * 250_000_000 for i in range(3)]


def test_read_nanosecond_pcap_keeps_nanoseconds(tmp_path):
    from decimal import Decimal

    frame = _stamped(Ether() / _echo(), Decimal("1700000000.123456789"))
    capture = read_capture(_write_pcap(tmp_path / "ns.pcap", [frame], nano=True))
    assert capture.nanosecond
    assert capture.packets[0].ts_ns == 1700000000_123456789


def test_read_pcapng(tmp_path):
    frames = [_stamped(Ether() / _echo(i), 1700000000 + i) for i in range(4)]
    writer = PcapNgWriter(str(tmp_path / "in.pcapng"))
    for frame in frames:
        writer.write(frame)
    writer.close()
    capture = read_capture(tmp_path / "in.pcapng")
    assert capture.format == "pcapng"
    assert capture.linktype == LINKTYPE_ETHERNET
    assert [p.data for p in capture.packets] == [bytes(f) for f in frames]
    assert capture.packets[2].ts_ns == 1700000002_000_000_000


def test_written_pcap_reads_back_with_scapy(tmp_path):
    packets = [CapturedPacket(1_700_000_000_000_001_000 + i * 1000, bytes(_echo(i)), 0) for i in range(3)]
    write_capture(tmp_path / "out.pcap", Capture(LINKTYPE_RAW, packets))
    back = rdpcap(str(tmp_path / "out.pcap"))
    assert [bytes(p) for p in back] == [p.data for p in packets]
    assert [round(float(p.time) * 1e6) for p in back] == [p.ts_ns // 1000 for p in packets]


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(LabkitError, match="no such file"):
        read_capture(tmp_path / "absent.pcap")


def test_not_a_pcap_is_an_error(tmp_path):
    path = tmp_path / "notes.pcap"
    path.write_text("this is a text file, not a capture\n")
    with pytest.raises(LabkitError, match="not a pcap"):
        read_capture(path)


@pytest.mark.parametrize("cut", [3, 10, 30, 50])
def test_truncated_pcap_is_an_error(tmp_path, cut):
    path = _write_pcap(tmp_path / "whole.pcap", [Ether() / _echo(i) for i in range(2)])
    data = path.read_bytes()
    cut_path = tmp_path / "cut.pcap"
    cut_path.write_bytes(data[:24 + cut] if cut < 16 else data[: len(data) - cut])
    with pytest.raises(LabkitError, match="truncated|too short"):
        read_capture(cut_path)


def test_truncated_pcapng_is_an_error(tmp_path):
    writer = PcapNgWriter(str(tmp_path / "whole.pcapng"))
    for i in range(3):
        writer.write(Ether() / _echo(i))
    writer.close()
    data = (tmp_path / "whole.pcapng").read_bytes()
    (tmp_path / "cut.pcapng").write_bytes(data[:-10])
    with pytest.raises(LabkitError, match="truncated|corrupt"):
        read_capture(tmp_path / "cut.pcapng")


def test_write_into_missing_directory_is_an_error(tmp_path):
    with pytest.raises(LabkitError, match="does not exist"):
        write_capture(tmp_path / "nope" / "out.pcap", Capture(LINKTYPE_RAW, []))


def test_unsupported_linktype_is_an_error_and_writes_nothing(tmp_path):
    path = _write_pcap(tmp_path / "wifi.pcap", [Ether() / _echo()], linktype=105)  # 802.11
    with pytest.raises(LabkitError, match="link type 105 is not supported"):
        answer_capture(path, tmp_path / "out.pcap", "reference")
    assert not (tmp_path / "out.pcap").exists()
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind either


# --- link layers -----------------------------------------------------------------------------------------


def test_ethernet_reply_swaps_macs_and_sets_ethertype():
    request = bytes(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo())
    v6 = bytes(IPv6(src="fd00::2", dst="fd00::1") / ICMPv6EchoRequest())
    frame = ethernet_reply(request, v6)
    parsed = Ether(frame)
    assert (parsed.src, parsed.dst, parsed.type) == (HOST_MAC, PINGER_MAC, 0x86DD)
    assert frame[14:] == v6


def test_vlan_tag_is_removed_for_the_stack_and_restored_on_replies():
    from scapy.layers.l2 import Dot1Q

    tagged = bytes(Ether(src=PINGER_MAC, dst=HOST_MAC) / Dot1Q(vlan=42) / _echo())
    link = EthernetLink()
    unwrapped = link.unwrap(tagged)
    assert unwrapped.stack_input == bytes(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo())
    rewrapped = link.wrap(unwrapped.stack_input, "ether", unwrapped.context)
    assert rewrapped == tagged


def test_reason_key_drops_parenthesised_detail():
    assert reason_key("not addressed to us (dst 10.0.0.9)") == reason_key("not addressed to us (dst 10.0.0.7)")
