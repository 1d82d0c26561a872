"""pcap mode: capture I/O, link layers, who answers what, virtual-time stamps, checksums as tshark sees them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from labkit_cli import api_env, run_labkit
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
    cut_path.write_bytes(data[: 24 + cut] if cut < 16 else data[: len(data) - cut])
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


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A capture of ARP, IPv4 echo, IPv6 echo, a neighbour solicitation and TCP, 10 ms apart."""
    frames = [
        Ether(src=PINGER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=PINGER_MAC, psrc="10.0.0.1", pdst="10.0.0.2"),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(1),
        Ether(src=PINGER_MAC, dst=HOST_MAC)
        / IPv6(src="fd00::1", dst="fd00::2")
        / ICMPv6EchoRequest(id=7, seq=1, data=b"v6 ping"),
        Ether(src=PINGER_MAC, dst="33:33:ff:00:00:02")
        / IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=255)
        / ICMPv6ND_NS(tgt="fd00::2"),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80, flags="S"),
        Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(2),
    ]
    return _write_pcap(tmp_path / "mixed.pcap", [_stamped(f, T0 + i * 0.01) for i, f in enumerate(frames)])


def _tshark_count(path: Path, display_filter: str) -> int:
    result = subprocess.run(
        [
            "tshark",
            "-n",
            "-o",
            "ip.check_checksum:TRUE",
            "-r",
            str(path),
            "-Y",
            display_filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return len(result.stdout.split())


BAD_CHECKSUM = 'ip.checksum.status == "Bad" || icmp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"'
GOOD_ICMP = 'icmp.checksum.status == "Good" || icmpv6.checksum.status == "Good"'
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (CI installs it)")


def test_reference_answers_what_a_host_answers(tmp_path, mixed):
    out = tmp_path / "out.pcap"
    summary = answer_capture(mixed, out, "reference")
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
        ("10.0.0.2", "10.0.0.1", 1, HOST_MAC, PINGER_MAC),
        ("10.0.0.2", "10.0.0.1", 2, HOST_MAC, PINGER_MAC),
    ]
    assert any(p.haslayer("ICMPv6EchoReply") for p in packets)
    assert any(p.haslayer("ICMPv6ND_NA") for p in packets)


@needs_tshark
def test_tshark_finds_no_bad_checksum_in_reference_output(tmp_path, mixed):
    out = tmp_path / "out.pcap"
    answer_capture(mixed, out, "reference")
    assert _tshark_count(out, GOOD_ICMP) >= 7  # the filter works: requests and replies were verified
    assert _tshark_count(out, BAD_CHECKSUM) == 0
    assert _tshark_count(out, "icmp.resp_to || icmpv6.resp_to") == 3  # Wireshark pairs every reply


@needs_tshark
def test_tshark_flags_a_model_that_corrupts_checksums(tmp_path, mixed):
    out = tmp_path / "out.pcap"
    summary = answer_capture(mixed, out, "simulated:1:icmp_checksum=1.0")
    assert summary.answered_by_model == 3 and summary.simulated
    assert _tshark_count(out, BAD_CHECKSUM) == 3


def test_reply_time_is_request_time_plus_model_latency(tmp_path, mixed):
    out = tmp_path / "out.pcap"
    answer_capture(mixed, out, "simulated:4:latency=1.5,errors=0")
    capture = read_capture(out)
    sent = {bytes(p.data)[14:]: p.ts_ns for p in read_capture(mixed).packets}
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


def test_same_seed_same_output(tmp_path, mixed):
    answer_capture(mixed, tmp_path / "a.pcap", "simulated", seed=11)
    answer_capture(mixed, tmp_path / "b.pcap", "simulated", seed=11)
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def test_unusable_model_answers_are_counted_with_their_reason(tmp_path, mixed):
    summary = answer_capture(mixed, tmp_path / "o.pcap", "simulated:2:prose=1.0")
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


def test_a_failing_model_leaves_no_output_behind(tmp_path, mixed):
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
        answer_capture(mixed, previous, BrokenModel())
    assert previous.read_bytes() == b"an earlier result the user wants to keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.pcap", "out.pcap"]


def test_summary_names_the_model_and_says_simulated(tmp_path, mixed):
    summary = answer_capture(mixed, tmp_path / "o.pcap", "simulated:3")
    text = str(summary)
    assert "simulated:3" in text and "SIMULATED" in text
    assert "packets read:     6" in text and "unanswered:       " in text


def test_a_multicast_echo_is_answered_from_the_host_mac_not_the_group():
    request = bytes(
        Ether(src=PINGER_MAC, dst="33:33:00:00:00:01") / IPv6(src="fe80::1", dst="ff02::1") / ICMPv6EchoRequest()
    )
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
    path = _write_pcap(
        tmp_path / "frag.pcap", [_stamped(p, T0 + i * 0.001) for i, p in enumerate(pieces)], linktype=LINKTYPE_RAW
    )
    summary = answer_capture(path, tmp_path / "out.pcap", "simulated:1")
    assert (summary.answered_by_model, summary.answered_by_stack) == (0, 1)
    assert summary.replies_written == 3  # the reply is fragmented like Linux does
    assert sum(summary.unanswered.values()) == 2 and all("held" in reason for reason in summary.unanswered)


# --- output path safety (QA regressions) -------------------------------------------------------------------


@pytest.fixture
def small(tmp_path) -> Path:
    """A capture of one echo request."""
    return _write_pcap(tmp_path / "in.pcap", [_stamped(_echo(), 1.0)])


def test_output_onto_the_input_is_refused_and_the_input_kept(tmp_path, small):
    before = small.read_bytes()
    with pytest.raises(LabkitError, match="also the input"):
        answer_capture(small, small, "reference")
    assert small.read_bytes() == before


def test_output_onto_a_device_is_refused_not_replaced(tmp_path, small):
    # As root the atomic rename used to replace /dev/null (or /dev/full, /dev/stdout) with a regular file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(LabkitError, match="not a regular file"):
        write_capture(fifo, Capture(LINKTYPE_RAW, []))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(LabkitError, match="not a regular file"):  # a fifo stands in for /dev/null: no risk
        answer_capture(small, fifo, "reference")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_empty_output_path_is_a_clear_error(tmp_path, small):
    with pytest.raises(LabkitError, match="output path is empty"):
        answer_capture(small, "", "reference")


def test_output_through_a_symlink_keeps_the_link(tmp_path, small):
    target = tmp_path / "real.pcap"
    target.write_bytes(b"old")
    link = tmp_path / "link.pcap"
    link.symlink_to(target)
    answer_capture(small, link, "reference")
    assert link.is_symlink() and read_capture(target).packets


def test_written_capture_gets_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_capture(tmp_path / "out.pcap", Capture(LINKTYPE_RAW, []))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.pcap").stat().st_mode) == 0o644


def test_missing_output_directory_fails_before_any_model_call(tmp_path, small):
    class Exploding:
        name, simulated, virtual_time = "exploding", False, False

        def attempt(self, *args, **kwargs):
            raise AssertionError("a model was called although the output cannot be written")

    with pytest.raises(LabkitError, match="does not exist"):
        answer_capture(small, tmp_path / "nope" / "out.pcap", Exploding())


# --- streaming in bounded memory ------------------------------------------------------------------------------


def _ping_capture(path: Path, n: int, spacing: float = 0.001) -> Path:
    """n echo requests, `spacing` seconds apart, written as one record at a time."""
    from labkit.capture import CaptureWriter

    with CaptureWriter(path, LINKTYPE_ETHERNET) as writer:
        for i in range(n):
            frame = bytes(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(i % 65536))
            writer.write(round((T0 + i * spacing) * 1e9), frame)
    return path


@pytest.fixture
def pings(tmp_path):
    """pings(n, spacing=0.001): the path of a capture of n echo requests."""
    return lambda n, spacing=0.001: _ping_capture(tmp_path / "in.pcap", n, spacing)


def _peak_rss_kib(capture: Path, out: Path) -> int:
    """Peak RSS of a fresh process answering `capture` (the imports are the same in every run)."""
    import subprocess
    import sys

    code = (
        "import resource, sys; from labkit.pcap import answer_capture; "
        "answer_capture(sys.argv[1], sys.argv[2], 'reference'); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(capture), str(out)], capture_output=True, text=True, timeout=300, check=True
    )
    return int(done.stdout.split()[-1])


def test_memory_does_not_grow_with_the_capture(tmp_path):
    from labkit.capture import CaptureWriter

    frame = bytes(Ether(src=PINGER_MAC, dst=HOST_MAC) / _echo(1, payload=bytes(200)))
    for name, n in (("small", 2_000), ("large", 30_000)):
        with CaptureWriter(tmp_path / f"{name}.pcap", LINKTYPE_ETHERNET) as writer:
            for i in range(n):
                writer.write(T0_NS + i * 1_000_000, frame)
    small = _peak_rss_kib(tmp_path / "small.pcap", tmp_path / "a.pcap")
    large = _peak_rss_kib(tmp_path / "large.pcap", tmp_path / "b.pcap")
    assert len(read_capture(tmp_path / "b.pcap").packets) == 60_000
    # Holding the capture and its replies would take ~30,000 x 2 x ~400 bytes, about 24 MB more.
    assert large - small < 8 * 1024, (small, large)


def test_replies_come_out_in_timestamp_order_with_latency_longer_than_the_gaps(tmp_path, pings):
    path = pings(300, 0.01)  # the simulated latency is ~seconds
    summary = answer_capture(path, tmp_path / "out.pcap", "simulated:5")
    out = read_capture(tmp_path / "out.pcap").packets
    assert len(out) == 300 + summary.replies_written and summary.answered_by_model > 250
    times = [p.ts_ns for p in out]
    assert times == sorted(times)
    assert max(summary.model_latencies_s) > 0.5  # replies really did interleave with later requests


def test_parallel_workers_keep_the_order(tmp_path, pings):
    import random
    import threading
    import time as clock

    from labkit.models.base import Model
    from labkit.models.reference import ReferenceModel

    class Jittery(Model):
        """Finishes in random order, with a modelled latency, so results come back out of order."""

        name, model_id, simulated, virtual_time = "jittery", "jittery", True, True
        _inner, _rng, _lock = ReferenceModel(), random.Random(3), threading.Lock()

        def attempt(self, request, strategy="zero-shot"):
            with self._lock:
                delay = self._rng.random()
            clock.sleep(delay / 500)
            attempt = self._inner.attempt(request, strategy)
            attempt.latency_s = delay
            return attempt

        def complete(self, prompt, strategy, request):
            raise NotImplementedError

    path = pings(200, 0.002)
    summary = answer_capture(path, tmp_path / "out.pcap", Jittery(), workers=4)
    times = [p.ts_ns for p in read_capture(tmp_path / "out.pcap").packets]
    assert summary.answered_by_model == 200 and len(times) == 400 and times == sorted(times)


def test_model_latencies_follow_capture_order_with_parallel_workers(tmp_path, pings):
    """Every fourth call is slow, so later requests finish first; the latencies still follow the requests."""
    import threading
    import time as clock

    from labkit.models.reference import ReferenceModel

    class SlowEveryFourth:
        name, model_id, simulated, virtual_time = "slow-every-fourth", "slow-every-fourth", True, True

        def __init__(self) -> None:
            self.finished: list[int] = []
            self._lock, self._inner = threading.Lock(), ReferenceModel()

        def attempt(self, request, strategy="zero-shot"):
            seq = int.from_bytes(request[26:28], "big")
            clock.sleep(0.05 if seq % 4 == 0 else 0.0)
            attempt = self._inner.attempt(request, strategy)
            attempt.latency_s = 1.0 + seq / 100  # a different latency for every request
            with self._lock:
                self.finished.append(seq)
            return attempt

    model = SlowEveryFourth()
    summary = answer_capture(pings(24), tmp_path / "out.pcap", model, workers=4)
    assert model.finished != sorted(model.finished), "the calls must finish out of order for this test to mean much"
    assert list(summary.model_latencies_s) == [1.0 + seq / 100 for seq in range(24)]


# --- capture time drives the stack ------------------------------------------------------------------------------


def test_fragments_35_seconds_apart_get_no_echo_reply(tmp_path):
    from scapy.layers.inet import fragment

    big = IP(src="10.0.0.1", dst="10.0.0.2", id=77) / ICMP(type=8, id=1, seq=1) / (b"x" * 2000)
    first, second = fragment(big, fragsize=1480)
    path = _write_pcap(tmp_path / "late.pcap", [_stamped(first, T0), _stamped(second, T0 + 35)], linktype=LINKTYPE_RAW)
    answer_capture(path, tmp_path / "out.pcap", "reference")
    replies = [IP(p.data) for p in read_capture(tmp_path / "out.pcap").packets if IP(p.data).src == "10.0.0.2"]
    assert not any(ICMP in r and r[ICMP].type == 0 for r in replies)  # Linux's 30 s timeout ran out
    on_time = _write_pcap(
        tmp_path / "soon.pcap", [_stamped(first, T0), _stamped(second, T0 + 25)], linktype=LINKTYPE_RAW
    )
    assert answer_capture(on_time, tmp_path / "out2.pcap", "reference").answered_by_stack == 1


def test_timestamp_reply_fields_come_from_the_capture_clock(tmp_path):
    """ICMP Timestamp (RFC 792): milliseconds since midnight UTC, of the capture's clock, not today's."""
    request = IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=13, id=5, seq=1, ts_ori=1)
    path = _write_pcap(tmp_path / "ts.pcap", [_stamped(request, T0 + 0.25)], linktype=LINKTYPE_RAW)
    answer_capture(path, tmp_path / "out.pcap", "reference")
    reply = IP(read_capture(tmp_path / "out.pcap").packets[1].data)
    expected = round((T0 + 0.25) * 1000) % 86_400_000
    assert reply[ICMP].type == 14 and reply[ICMP].ts_rx == expected and reply[ICMP].ts_tx == expected


# --- padding never reaches the model --------------------------------------------------------------------------


class _Spy:
    """A perfect model that remembers what it was given."""

    name, model_id, simulated, virtual_time = "spy", "spy", True, True

    def __init__(self) -> None:
        from labkit.models.reference import ReferenceModel

        self.seen: list[bytes] = []
        self._inner = ReferenceModel()

    def attempt(self, request, strategy="zero-shot"):
        self.seen.append(request)
        return self._inner.attempt(request, strategy)


@pytest.mark.parametrize("linktype", [LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW])
def test_link_padding_is_trimmed_before_the_model_and_the_judge(tmp_path, linktype):
    packet = IP(src="10.0.0.1", dst="10.0.0.2", id=3) / ICMP(type=8, id=9, seq=1)  # 28 bytes: padded to 60
    frames = {
        LINKTYPE_ETHERNET: Ether(src=PINGER_MAC, dst=HOST_MAC) / packet,
        LINKTYPE_LINUX_SLL: CookedLinux(
            pkttype=0, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("020000000001") + b"\0\0"
        )
        / packet,
        LINKTYPE_RAW: packet,
    }
    padded = bytes(frames[linktype]) + bytes(18)
    capture = Capture(linktype, [CapturedPacket(T0_NS, padded, len(padded))])
    write_capture(tmp_path / "in.pcap", capture)
    spy = _Spy()
    summary = answer_capture(tmp_path / "in.pcap", tmp_path / "out.pcap", spy)
    assert spy.seen == [bytes(packet)]
    assert (summary.model_accepted, summary.model_rejected) == (1, {})
    reply = read_capture(tmp_path / "out.pcap").packets[1].data
    assert len(reply) == len(padded) - 18  # a 28-byte reply, as the kernel sends, not 46


T0_NS = round(T0 * 1e9)


# --- summary verdicts and the budget -------------------------------------------------------------------------


def test_summary_judges_each_model_reply(tmp_path, mixed):
    summary = answer_capture(mixed, tmp_path / "o.pcap", "simulated:1:icmp_checksum=1.0")
    assert summary.answered_by_model == 3 and summary.model_accepted == 0
    assert sum(summary.model_rejected.values()) == 3
    assert all("checksum" in reason.lower() for reason in summary.model_rejected)
    text = str(summary)
    assert "model replies:    0 accepted by Linux ping, 3 rejected" in text
    good = answer_capture(mixed, tmp_path / "g.pcap", "simulated:1:errors=0")
    assert (good.model_accepted, sum(good.model_rejected.values())) == (3, 0)


def _estimate(model_name: str, packet: bytes, strategy: str = "zero-shot") -> float:
    from labkit.models.registry import get_model
    from labkit.prompts import get_strategy
    from labkit.responder import reserve_estimate_usd

    return reserve_estimate_usd(get_model(model_name), get_strategy(strategy).build(packet))


@pytest.mark.parametrize("workers", [1, 3])
def test_budget_is_reserved_before_each_call_and_never_overshot(tmp_path, pings, workers):
    path = pings(12)
    estimate = _estimate("simulated:6", bytes(_echo(0)))
    budget = 4.5 * estimate  # room for four worst-case reservations, whatever the workers
    summary = answer_capture(path, tmp_path / "o.pcap", "simulated:6", budget_usd=budget, workers=workers)
    asked = len(summary.model_latencies_s)
    assert asked >= 4 and summary.cost_usd <= budget
    assert summary.unanswered["model not asked: --budget-usd reached"] == 12 - asked


def test_a_budget_smaller_than_one_call_asks_nothing(tmp_path, mixed):
    summary = answer_capture(mixed, tmp_path / "o.pcap", "simulated:6", budget_usd=1e-9)
    assert summary.answered_by_model == 0 and summary.cost_usd == 0
    assert summary.unanswered["model not asked: --budget-usd reached"] == 3


# --- a run that failed late resumes without paying again --------------------------------------------------------


class _Paid:
    """A real-looking model (not simulated) that counts its calls and can fail at call `fail_at`."""

    simulated, virtual_time = False, True
    name, model_id = "paid-test", "paid-test"

    def __init__(self, fail_at: int | None = None) -> None:
        from labkit.models.simulated import SimulatedModel

        self.calls = 0
        self.fail_at = fail_at
        self._inner = SimulatedModel(9)

    def attempt(self, request, strategy="zero-shot"):
        self.calls += 1
        if self.calls == self.fail_at:
            raise LabkitError("the API went away")
        attempt = self._inner.attempt(request, strategy)
        attempt.model, attempt.simulated, attempt.cost_usd = self.name, False, 0.01
        return attempt


def test_a_run_that_failed_at_call_36_of_42_resumes_without_paying_again(tmp_path, pings):
    path = pings(42)
    out = tmp_path / "out.pcap"
    with pytest.raises(LabkitError, match=r"API went away; .*35 model answers paid for are kept in .*answers\.jsonl"):
        answer_capture(path, out, _Paid(fail_at=36))
    assert not out.exists()  # all or nothing
    again = _Paid()
    summary = answer_capture(path, out, again)
    assert again.calls == 42 - 35
    assert summary.reused_answers == 35 and round(summary.cost_usd, 6) == 0.07
    assert "35 answers reused" in str(summary)
    assert not (tmp_path / "out.pcap.answers.jsonl").exists()  # the output holds them now
    fresh = tmp_path / "fresh.pcap"
    answer_capture(path, fresh, _Paid())
    assert out.read_bytes() == fresh.read_bytes()  # resumed output = an uninterrupted run's


def test_resume_false_pays_again(tmp_path, pings):
    path = pings(5)
    with pytest.raises(LabkitError):
        answer_capture(path, tmp_path / "out.pcap", _Paid(fail_at=4))
    again = _Paid()
    answer_capture(path, tmp_path / "out.pcap", again, resume=False)
    assert again.calls == 5


def test_kept_answers_of_another_model_are_not_reused(tmp_path, pings):
    path = pings(5)
    with pytest.raises(LabkitError):
        answer_capture(path, tmp_path / "out.pcap", _Paid(fail_at=4))
    other = _Paid()
    other.name = "another-model"
    answer_capture(path, tmp_path / "out.pcap", other)
    assert other.calls == 5


# --- the command line's messages ------------------------------------------------------------------------------


@pytest.fixture
def pcap_cli(tmp_path, small):
    """`labkit pcap <one echo request> -o o.pcap ARGS`, as a user runs it."""

    def run(*args: str, env_extra: dict | None = None):
        return run_labkit("pcap", str(small), "-o", str(tmp_path / "o.pcap"), *args, env_extra=env_extra)

    return run


def test_seed_in_the_name_and_seed_flag_say_which_wins(pcap_cli):
    done = pcap_cli("--model", "simulated:3", "--seed", "4")
    assert done.returncode == 0, done.stderr
    assert "--seed 4 overrides the seed 3 in simulated:3" in done.stderr
    assert "model: simulated:4" in done.stdout
    same = pcap_cli("--model", "simulated:4", "--seed", "4")
    assert same.returncode == 0 and "overrides" not in same.stderr


def test_seed_with_a_model_that_is_not_simulated_says_it_is_ignored(pcap_cli):
    done = pcap_cli("--model", "reference", "--seed", "4")
    assert done.returncode == 0 and "reference ignores it" in done.stderr


def test_api_flags_are_refused_for_models_without_an_api(pcap_cli):
    done = pcap_cli("--model", "simulated", "--timeout", "5")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--timeout apply to models that call an API" in done.stderr


def test_timeout_flag_reaches_the_client_and_the_advice_names_it(pcap_cli, messages_server):
    """A server slower than --timeout: the error names the flag that raises it (a flag that exists)."""
    from messages_server import slow

    messages_server.script(slow(2.0))
    done = pcap_cli("--model", "claude", "--timeout", "0.5", env_extra=api_env(messages_server))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "0.5 s" in done.stderr and "--timeout" in done.stderr


def test_max_tool_turns_flag_reaches_the_model_and_the_advice_names_it(pcap_cli, messages_server):
    from messages_server import tool_use

    messages_server.script(*[tool_use("internet_checksum", {"hex": "00"}) for _ in range(3)])
    done = pcap_cli(
        "--model", "claude", "--strategy", "tool-use", "--max-tool-turns", "1", env_extra=api_env(messages_server)
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "after 1 turns" in done.stderr and "--max-tool-turns" in done.stderr


def test_memory_benchmark_runs_at_tiny_sizes(capsys, monkeypatch):
    """benchmarks/pcap_memory.py is not run in CI at full size; this keeps it working."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import pcap_memory

    pcap_memory.main(["--sizes", "200", "400", "--runs", "1", "--scapy-n", "40"])
    out = capsys.readouterr().out
    assert "peak RSS 400 / 200 packets" in out and "x faster" in out


def test_reassembly_timeouts_send_time_exceeded_on_the_captures_clock(tmp_path) -> None:
    """golden_frag_timeout.pcap (Linux 6.18): first fragments whose rest never comes in time. Linux sends one ICMP
    Time Exceeded (code 1) per family, 30 s (IPv4) and 60 s (IPv6) after the first fragment, plus timer slack;
    pcap mode must send the same errors at the due time, on the capture's clock, and no echo reply."""
    from scapy.layers.inet import ICMP
    from scapy.layers.inet6 import ICMPv6TimeExceeded
    from scapy.utils import rdpcap

    source = Path(__file__).parent / "data" / "golden_frag_timeout.pcap"
    out = tmp_path / "answered.pcap"
    summary = answer_capture(source, out, "reference")
    assert summary.time_exceeded == 2
    kernel = [p for p in rdpcap(str(source)) if (ICMP in p and p[ICMP].type == 11) or ICMPv6TimeExceeded in p]
    ours = [p for p in rdpcap(str(out)) if (ICMP in p and p[ICMP].type == 11) or ICMPv6TimeExceeded in p]
    ours = [p for p in ours if all(bytes(p) != bytes(k) or p.time != k.time for k in kernel)]
    assert [ICMP in p for p in ours] == [True, False]
    assert all((p[ICMP].code if ICMP in p else p[ICMPv6TimeExceeded].code) == 1 for p in ours)
    for mine, theirs in zip(ours, kernel):
        assert 0 <= float(theirs.time - mine.time) < 2.5  # Linux is late by its timer slack, never early
