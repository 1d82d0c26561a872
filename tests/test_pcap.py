"""pcap mode: capture I/O, link layers, who answers what, virtual-time stamps, checksums as tshark sees them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, CookedLinux, Ether
from scapy.utils import PcapNgWriter, PcapWriter, rdpcap

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


def test_reason_key_counts_by_outcome_code():
    from labkit.stack import HostConfig, ReferenceStack

    stack = ReferenceStack(HostConfig())
    nine, seven = (stack.respond(bytes(IP(src="10.0.0.1", dst=dst) / ICMP())) for dst in ("10.0.0.9", "10.0.0.7"))
    assert nine.reason != seven.reason and reason_key(nine.reason) == reason_key(seven.reason)
    assert reason_key(nine).startswith("ipv4.not_for_us")


# --- answering -------------------------------------------------------------------------------------------

T0 = 1_700_000_000.0


def _mixed_ethernet_capture(tmp_path: Path) -> Path:
    """ARP, IPv4 echo, IPv6 echo, a neighbour solicitation and TCP, 10 ms apart."""
    frames = [
        Ether(src=PINGER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=PINGER_MAC, psrc="10.0.0.1", pdst="10.0.0.2"),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(1),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / IPv6(src="fd00::1", dst="fd00::2") / ICMPv6EchoRequest(id=7, seq=1, data=b"v6 ping"),
        Ether(src=PINGER_MAC, dst="33:33:ff:00:00:02") / IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=255)
        / ICMPv6ND_NS(tgt="fd00::2"),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80, flags="S"),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(2),
    ]
    return _write_pcap(tmp_path / "mixed.pcap", [_stamped(f, T0 + i * 0.01) for i, f in enumerate(frames)])


def _tshark_count(path: Path, display_filter: str) -> int:
    result = subprocess.run(
        ["tshark", "-n", "-o", "ip.check_checksum:TRUE", "-r", str(path), "-Y", display_filter, "-T", "fields",
         "-e", "frame.number"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return len(result.stdout.split())


BAD_CHECKSUM = 'ip.checksum.status == "Bad" || icmp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"'
GOOD_ICMP = 'icmp.checksum.status == "Good" || icmpv6.checksum.status == "Good"'
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (CI installs it)")


def test_reference_answers_what_a_host_answers(tmp_path):
    out = tmp_path / "out.pcap"
    summary = answer_capture(_mixed_ethernet_capture(tmp_path), out, "reference")
    assert (summary.packets_read, summary.replies_written, summary.answered_by_stack) == (6, 5, 5)
    assert summary.unanswered_total == 1 and "TCP" in next(iter(summary.unanswered))
    packets = rdpcap(str(out))
    assert len(packets) == 11
    times = [float(p.time) for p in packets]
    assert times == sorted(times)
    arp_reply = next(p for p in packets if ARP in p and p[ARP].op == 2)
    assert (arp_reply[ARP].psrc, arp_reply[ARP].pdst, arp_reply.dst) == ("10.0.0.2", "10.0.0.1", PINGER_MAC)
    echo_replies = [p for p in packets if ICMP in p and p[ICMP].type == 0]
    assert [(p[IP].src, p[IP].dst, p[ICMP].seq, p.src, p.dst) for p in echo_replies] == [
        ("10.0.0.2", "10.0.0.1", 1, HOST_MAC, PINGER_MAC), ("10.0.0.2", "10.0.0.1", 2, HOST_MAC, PINGER_MAC)]
    assert any(p.haslayer("ICMPv6EchoReply") for p in packets)
    assert any(p.haslayer("ICMPv6ND_NA") for p in packets)


@needs_tshark
def test_tshark_finds_no_bad_checksum_in_reference_output(tmp_path):
    out = tmp_path / "out.pcap"
    answer_capture(_mixed_ethernet_capture(tmp_path), out, "reference")
    assert _tshark_count(out, GOOD_ICMP) >= 7  # the filter works: requests and replies were verified
    assert _tshark_count(out, BAD_CHECKSUM) == 0
    assert _tshark_count(out, "icmp.resp_to || icmpv6.resp_to") == 3  # Wireshark pairs every reply


@needs_tshark
def test_tshark_flags_a_model_that_corrupts_checksums(tmp_path):
    out = tmp_path / "out.pcap"
    summary = answer_capture(_mixed_ethernet_capture(tmp_path), out, "simulated:1:icmp_checksum=1.0")
    assert summary.answered_by_model == 3 and summary.simulated
    assert _tshark_count(out, BAD_CHECKSUM) == 3


def test_reply_time_is_request_time_plus_model_latency(tmp_path):
    out = tmp_path / "out.pcap"
    answer_capture(_mixed_ethernet_capture(tmp_path), out, "simulated:4:latency=1.5,errors=0")
    capture = read_capture(out)
    sent = {bytes(p.data)[14:]: p.ts_ns for p in read_capture(tmp_path / "mixed.pcap").packets}
    from labkit.stack import echo_reply

    for request, ts_ns in sent.items():
        reply = echo_reply(request)
        if reply is None:
            continue
        replies = [p for p in capture.packets if p.data[14:] == reply]
        assert len(replies) == 1
        assert replies[0].ts_ns - ts_ns == 1_500_000_000  # virtual time: nothing waited 1.5 s
    arp = next(p for p in capture.packets if p.data[12:14] == b"\x08\x06" and p.data[21] == 2)
    assert arp.ts_ns - round(T0 * 1e9) == 20_000  # ARP answered by the stack, at kernel speed


def test_same_seed_same_output(tmp_path):
    capture = _mixed_ethernet_capture(tmp_path)
    answer_capture(capture, tmp_path / "a.pcap", "simulated", seed=11)
    answer_capture(capture, tmp_path / "b.pcap", "simulated", seed=11)
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def test_unusable_model_answers_are_counted_with_their_reason(tmp_path):
    summary = answer_capture(_mixed_ethernet_capture(tmp_path), tmp_path / "o.pcap", "simulated:2:prose=1.0")
    assert summary.answered_by_model == 0 and summary.replies_written == 2  # ARP + NA by the stack
    unusable = sum(count for reason, count in summary.unanswered.items() if reason.startswith("model reply unusable"))
    assert unusable == 3


def test_raw_ip_capture_stays_raw_ip(tmp_path):
    path = _write_pcap(tmp_path / "raw.pcap", [_stamped(_echo(i), T0 + i) for i in range(3)], linktype=LINKTYPE_RAW)
    out = tmp_path / "out.pcap"
    summary = answer_capture(path, out, "reference")
    assert summary.replies_written == 3
    capture = read_capture(out)
    assert capture.linktype == LINKTYPE_RAW
    replies = [IP(p.data) for p in capture.packets if IP(p.data)[ICMP].type == 0]
    assert [(r.src, r.dst) for r in replies] == [("10.0.0.2", "10.0.0.1")] * 3


def test_linux_cooked_capture_gets_outgoing_replies(tmp_path):
    frames = [
        CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("020000000001") + b"\0\0") / _echo(1),
        CookedLinux(pkttype=1, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("020000000001") + b"\0\0", proto=0x0806)
        / ARP(op=1, hwsrc=PINGER_MAC, psrc="10.0.0.1", pdst="10.0.0.2"),
    ]
    path = _write_pcap(tmp_path / "sll.pcap", [_stamped(f, T0 + i) for i, f in enumerate(frames)])
    out = tmp_path / "out.pcap"
    summary = answer_capture(path, out, "reference")
    assert summary.replies_written == 2
    capture = read_capture(out)
    assert capture.linktype == LINKTYPE_LINUX_SLL
    replies = [CookedLinux(p.data) for p in capture.packets if p.data[0:2] == b"\x00\x04"]
    assert len(replies) == 2
    assert replies[0][ICMP].type == 0 and replies[0][IP].dst == "10.0.0.1"
    assert replies[1][ARP].op == 2 and replies[1][ARP].pdst == "10.0.0.1"


def test_pcapng_input_gives_pcap_output(tmp_path):
    writer = PcapNgWriter(str(tmp_path / "in.pcapng"))
    for i in range(2):
        writer.write(_stamped(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(i), T0 + i))
    writer.close()
    summary = answer_capture(tmp_path / "in.pcapng", tmp_path / "out.pcap", "reference")
    assert summary.replies_written == 2
    assert (tmp_path / "out.pcap").read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")


def test_packets_cut_by_snaplen_are_not_answered(tmp_path):
    full = bytes(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(payload=bytes(200)))
    capture = Capture(LINKTYPE_ETHERNET, [CapturedPacket(0, full[:96], len(full))], snaplen=96)
    write_capture(tmp_path / "cut.pcap", capture)
    summary = answer_capture(tmp_path / "cut.pcap", tmp_path / "out.pcap", "reference")
    assert summary.replies_written == 0
    [reason] = summary.unanswered
    assert reason.startswith("cut short by the capture's snap length")


def test_a_failing_model_leaves_no_output_behind(tmp_path):
    from labkit.models.base import Model

    class BrokenModel(Model):
        name = "simulated-broken"
        model_id = "simulated"
        simulated = True
        virtual_time = True

        def complete(self, prompt, strategy, request):
            raise LabkitError("the API is down")

    previous = tmp_path / "out.pcap"
    previous.write_bytes(b"an earlier result the user wants to keep")
    with pytest.raises(LabkitError, match="API is down"):
        answer_capture(_mixed_ethernet_capture(tmp_path), previous, BrokenModel())
    assert previous.read_bytes() == b"an earlier result the user wants to keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.pcap", "out.pcap"]


def test_summary_names_the_model_and_says_simulated(tmp_path):
    summary = answer_capture(_mixed_ethernet_capture(tmp_path), tmp_path / "o.pcap", "simulated:3")
    text = str(summary)
    assert "simulated:3" in text and "SIMULATED" in text
    assert "packets read:     6" in text and "unanswered:       " in text


def test_budget_stops_model_calls_and_says_so(tmp_path):
    summary = answer_capture(_mixed_ethernet_capture(tmp_path), tmp_path / "o.pcap", "simulated:6", budget_usd=1e-9)
    assert summary.answered_by_model + sum(
        n for reason, n in summary.unanswered.items() if reason.startswith("model reply")) == 1  # only the first
    assert summary.unanswered["model not asked: --budget-usd reached"] == 2


def test_a_multicast_echo_is_answered_from_the_host_mac_not_the_group():
    request = bytes(Ether(src=PINGER_MAC, dst="33:33:00:00:00:01") / IPv6(src="fe80::1", dst="ff02::1")
                    / ICMPv6EchoRequest())
    frame = ethernet_reply(request, bytes(IPv6(src="fe80::2", dst="fe80::1")), bytes.fromhex("020000000002"))
    assert Ether(frame).src == HOST_MAC and Ether(frame).dst == PINGER_MAC


def test_bounded_pool_keeps_order_keys_and_stops_starting_after_an_error():
    import threading

    from labkit.pcap import bounded_pool

    started = []
    lock = threading.Lock()

    def run(task: int) -> int:
        with lock:
            started.append(task)
        if task == 3:
            raise LabkitError("the API is down")
        return task * task

    results = {}
    with pytest.raises(LabkitError):
        for position, value in bounded_pool(list(range(100)), run, 2):
            results[position] = value
    assert all(value == position * position for position, value in results.items())
    assert len(started) <= 6  # at most `workers` in flight: the other ~95 paid calls never started


def test_bounded_pool_stop_is_checked_before_each_start():
    from labkit.pcap import bounded_pool

    checks = []

    def stop() -> bool:
        checks.append(True)
        return len(checks) > 5

    for workers in (1, 3):
        checks.clear()
        out = sorted(bounded_pool(list(range(20)), lambda task: task, workers, stop))
        assert out == [(i, i) for i in range(5)]


def test_fragmented_echo_is_reassembled_and_answered_by_the_stack(tmp_path):
    from scapy.layers.inet import fragment

    big = IP(src="10.0.0.1", dst="10.0.0.2", id=99) / ICMP(type=8, id=1, seq=1) / (b"x" * 3000)
    pieces = fragment(big, fragsize=1480)
    assert len(pieces) == 3
    path = _write_pcap(tmp_path / "frag.pcap", [_stamped(p, T0 + i * 0.001) for i, p in enumerate(pieces)],
                       linktype=LINKTYPE_RAW)
    summary = answer_capture(path, tmp_path / "out.pcap", "simulated:1")
    assert (summary.answered_by_model, summary.answered_by_stack) == (0, 1)
    assert summary.replies_written == 3  # the reply is fragmented like Linux does
    assert sum(summary.unanswered.values()) == 2 and all("held" in reason for reason in summary.unanswered)


# --- output path safety (QA regressions) -------------------------------------------------------------------


def _small_capture(tmp_path: Path) -> Path:
    return _write_pcap(tmp_path / "in.pcap", [_stamped(_echo(), 1.0)])


def test_output_onto_the_input_is_refused_and_the_input_kept(tmp_path):
    source = _small_capture(tmp_path)
    before = source.read_bytes()
    with pytest.raises(LabkitError, match="also the input"):
        answer_capture(source, source, "reference")
    assert source.read_bytes() == before


def test_output_onto_a_device_is_refused_not_replaced(tmp_path):
    # As root the atomic rename used to replace /dev/null (or /dev/full, /dev/stdout) with a regular file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(LabkitError, match="not a regular file"):
        write_capture(fifo, Capture(LINKTYPE_RAW, []))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(LabkitError, match="not a regular file"):   # a fifo stands in for /dev/null: no risk
        answer_capture(_small_capture(tmp_path), fifo, "reference")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_empty_output_path_is_a_clear_error(tmp_path):
    with pytest.raises(LabkitError, match="output path is empty"):
        answer_capture(_small_capture(tmp_path), "", "reference")


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.pcap"
    target.write_bytes(b"old")
    link = tmp_path / "link.pcap"
    link.symlink_to(target)
    answer_capture(_small_capture(tmp_path), link, "reference")
    assert link.is_symlink() and read_capture(target).packets


def test_written_capture_gets_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_capture(tmp_path / "out.pcap", Capture(LINKTYPE_RAW, []))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.pcap").stat().st_mode) == 0o644


def test_missing_output_directory_fails_before_any_model_call(tmp_path):
    class Exploding:
        name, simulated, virtual_time = "exploding", False, False

        def attempt(self, *args, **kwargs):
            raise AssertionError("a model was called although the output cannot be written")

    with pytest.raises(LabkitError, match="does not exist"):
        answer_capture(_small_capture(tmp_path), tmp_path / "nope" / "out.pcap", Exploding())
