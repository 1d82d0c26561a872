"""The software wire and its pinger: no root, no network. Replies here come from a tiny hand-made peer
(the reference stack's echo_reply, optionally spoiled), so these tests exercise the wire and the pinger
alone; tests/test_responder.py drives the real Responder over the same wire."""

from __future__ import annotations

import re
import threading
import time

import pytest

from labkit.checksum import internet_checksum
from labkit.judge import judge
from labkit.packets import DEFAULT_PAYLOAD, PING_TIMEVAL_BYTES, echo_request, ping_payload, ping_sent_at
from labkit.stack import echo_reply
from labkit.wire import WireGone
from labkit.wire.software import Pinger, PingStats, SoftwareWire, echo_ids, format_rtt_ms

# The shape of a reply line from iputils ping, also used by tests/test_live.py on real ping output.
PING_LINE = re.compile(r"^(\d+) bytes from ([0-9a-f.:]+): icmp_seq=(\d+) ttl=(\d+) time=([\d.]+) ms")
STATS_LINE = re.compile(r"^(\d+) packets transmitted, (\d+) received(, \+\d+ \w+)*, ([\d.]+)% packet loss, time \d+ms$")


class Peer:
    """A thread at the responder end answering with `make(request)`, attaching `delay_s` of virtual time."""

    def __init__(self, wire: SoftwareWire, make, delay_s: float = 0.0, sleep_s: float = 0.0):
        self.wire, self.make, self.delay_s, self.sleep_s = wire, make, delay_s, sleep_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop)

    def loop(self) -> None:
        end = self.wire.responder
        while not self.stop.is_set():
            request = end.recv(0.02)
            if request is None:
                continue
            time.sleep(self.sleep_s)
            reply = self.make(request)
            if reply is not None:
                end.send(reply, delay_s=self.delay_s)
            end.frame_done()

    def __enter__(self) -> Peer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def with_icmp_checksum(packet: bytearray) -> bytes:
    """An IPv4 ICMP packet with its ICMP checksum recomputed, so a change to the data is its only fault."""
    packet[22:24] = b"\x00\x00"
    packet[22:24] = internet_checksum(bytes(packet[20:])).to_bytes(2, "big")
    return bytes(packet)


def restamped(reply: bytes, shift_s: float) -> bytes:
    """The reply with its echoed send time moved by `shift_s` (a model that garbles ping's timestamp)."""
    packet = bytearray(reply)
    packet[28:44] = ping_payload(ping_sent_at(reply[28:]) + shift_s)[:PING_TIMEVAL_BYTES]
    return with_icmp_checksum(packet)


def spoil_icmp_checksum(reply: bytes) -> bytes:
    spoiled = bytearray(reply)
    spoiled[22] ^= 0x01
    return bytes(spoiled)


def test_rtt_precision_follows_iputils() -> None:
    assert format_rtt_ms(3.021) == "3021"
    assert format_rtt_ms(0.0321) == "32.1"
    assert format_rtt_ms(0.00321) == "3.21"
    assert format_rtt_ms(0.000045) == "0.045"


def test_statistics_block_has_the_iputils_shape() -> None:
    stats = PingStats("10.0.0.2", transmitted=4, received=3, duplicates=1, rtts=[1.0, 2.0, 3.0], elapsed_s=3.5)
    lines = stats.summary_lines()
    assert lines[0] == "--- 10.0.0.2 ping statistics ---"
    assert lines[1] == "4 packets transmitted, 3 received, +1 duplicates, 25% packet loss, time 3500ms"
    assert STATS_LINE.match(lines[1])
    assert (
        PingStats("10.0.0.2", transmitted=3, received=1)
        .summary_lines()[1]
        .startswith("3 packets transmitted, 1 received, 66.6667% packet loss")
    )
    assert lines[2] == "rtt min/avg/max/mdev = 1000.000/2000.000/3000.000/816.497 ms"


def test_echo_ids_reads_type_id_seq_ttl() -> None:
    request = echo_request(ident=0xBEEF, seq=7, ttl=33)
    assert echo_ids(request) == (8, 0xBEEF, 7, 33)
    assert echo_ids(b"\x45" + bytes(10)) is None


def test_virtual_time_prints_the_modelled_latency_without_waiting() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    started = time.monotonic()
    with Peer(wire, echo_reply, delay_s=3.021):
        stats = pinger.run(count=3, interval=1.0)
    assert time.monotonic() - started < 2.0, "virtual time must not sleep 3 x 3 s"
    replies = [PING_LINE.match(line) for line in pinger.lines if PING_LINE.match(line)]
    assert [m.group(3) for m in replies] == ["1", "2", "3"]
    assert all(m.group(1) == "64" and m.group(2) == "10.0.0.2" and m.group(4) == "64" for m in replies)
    assert all(3021 <= float(m.group(5)) < 3100 for m in replies)
    assert stats.received == 3 and stats.loss_percent == 0
    assert pinger.lines[-3] == "--- 10.0.0.2 ping statistics ---"
    assert STATS_LINE.match(pinger.lines[-2]).group(4) == "0"
    assert stats.elapsed_s >= 2 + 3.021  # last request at 2 s, its reply 3.021 s later


def test_virtual_time_prints_replies_in_arrival_order() -> None:
    """A slow first reply arrives after a fast second one, as it would on a real wire."""
    wire = SoftwareWire()
    delays = iter([2.5, 0.1])
    end = wire.responder

    def peer() -> None:
        for _ in range(2):
            request = end.recv(2.0)
            end.send(echo_reply(request), delay_s=next(delays))
            end.frame_done()

    thread = threading.Thread(target=peer)
    thread.start()
    pinger = Pinger(wire.host, check=judge, out=None)
    pinger.run(count=2, interval=1.0)
    thread.join()
    seqs = [PING_LINE.match(line).group(3) for line in pinger.lines if PING_LINE.match(line)]
    assert seqs == ["2", "1"]


def test_bad_checksum_is_loss_and_the_pinger_says_why() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, lambda r: spoil_icmp_checksum(echo_reply(r))):
        stats = pinger.run(count=2, interval=0.5)
    assert stats.received == 0 and stats.rejected == 2 and stats.corrupted == 2 and stats.loss_percent == 100
    notes = [line for line in pinger.lines if line.startswith("(icmp_seq=")]
    assert len(notes) == 2 and all("checksum" in line.lower() for line in notes)
    assert not any(PING_LINE.match(line) for line in pinger.lines)
    assert "2 packets transmitted, 0 received, 100% packet loss" in pinger.lines[-1]


def test_replies_linux_would_not_match_are_ignored() -> None:
    """Wrong echo id, checksum recomputed so the id is the only fault: ping never matches it to a request."""

    def wrong_id(request: bytes) -> bytes:
        reply = bytearray(echo_reply(request))
        reply[24:26] = b"\x00\x01"
        return with_icmp_checksum(reply)

    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, wrong_id):
        stats = pinger.run(count=2, interval=0.1)
    assert stats.received == 0 and stats.corrupted == 0 and stats.ignored == 2
    assert stats.loss_percent == 100


def test_no_answer_at_all_is_loss_and_does_not_hang() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    started = time.monotonic()
    with Peer(wire, lambda r: None):
        stats = pinger.run(count=3, interval=1.0)
    assert stats.received == 0 and stats.loss_percent == 100
    assert time.monotonic() - started < 2.0


def test_real_time_waits_for_interval_and_measures_clock_time() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    started = time.monotonic()
    with Peer(wire, echo_reply, sleep_s=0.05):
        stats = pinger.run(count=3, interval=0.1, real_time=True)
    assert time.monotonic() - started >= 0.2
    assert stats.received == 3
    assert all(0.05 <= rtt < 0.5 for rtt in stats.rtts)
    assert "[software wire, real time]" in pinger.lines[0]


def test_ipv6_ping_over_the_software_wire() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, src="fd00::1", dst="fd00::2", out=None)
    with Peer(wire, echo_reply, delay_s=0.5):
        stats = pinger.run(count=2, interval=1.0)
    assert stats.received == 2
    assert PING_LINE.match(pinger.lines[1]).group(2) == "fd00::2"


def test_unplugged_wire_raises_wire_gone() -> None:
    wire = SoftwareWire()
    wire.unplug()
    with pytest.raises(WireGone):
        wire.responder.recv(0.0)
    with pytest.raises(WireGone):
        wire.host.send(b"x")


def test_ctrl_c_ends_the_run_with_statistics_like_ping(sigint_raises) -> None:
    import _thread

    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    timer = threading.Timer(0.35, _thread.interrupt_main)
    with Peer(wire, echo_reply):
        timer.start()
        stats = pinger.run(count=100, interval=0.1, real_time=True)
        timer.join()
    assert 2 <= stats.transmitted < 10 and stats.received >= 2
    assert pinger.lines[-3] == "--- 10.0.0.2 ping statistics ---"


def test_pinger_prints_to_stdout_as_it_is_now_not_as_it_was_at_import(capsys) -> None:
    # `out=sys.stdout` as a default bound the stream at import time: redirections (notebooks, pytest) missed it.
    import contextlib
    import io

    from labkit.wire.software import Pinger, SoftwareWire

    wire = SoftwareWire()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        Pinger(wire.host, check=lambda request, reply: None)._print("PING line")
    assert buffer.getvalue() == "PING line\n"


def requests_sent(count: int, interval: float, **run) -> tuple[list[bytes], Pinger]:
    """The requests a pinger puts on the wire (answered by the reference stack), and the pinger."""
    wire, seen = SoftwareWire(), []

    def answer(request: bytes) -> bytes:
        seen.append(request)
        return echo_reply(request)

    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, answer):
        pinger.run(count=count, interval=interval, **run)
    return seen, pinger


def test_the_pingers_data_is_iputils_layout_with_the_virtual_send_time() -> None:
    """A 16-byte timeval (little-endian tv_sec, tv_usec) of the send time, then DEFAULT_PAYLOAD's bytes."""
    seen, _ = requests_sent(3, 1.5)
    data = [request[28:] for request in seen]
    assert all(len(d) == len(DEFAULT_PAYLOAD) for d in data)
    assert all(d[PING_TIMEVAL_BYTES:] == DEFAULT_PAYLOAD[PING_TIMEVAL_BYTES:] for d in data)
    assert [ping_sent_at(d) for d in data] == [0.0, 1.5, 3.0]
    assert data[1][:PING_TIMEVAL_BYTES] == (1).to_bytes(8, "little") + (500_000).to_bytes(8, "little")


def test_ping_payload_rebuilds_the_golden_captures_data_byte_for_byte() -> None:
    """Real iputils data (tests/data/golden_ping.pcap) = ping_payload(the send time it carries)."""
    from scapy.layers.inet import ICMP
    from scapy.utils import rdpcap

    requests = [p for p in rdpcap("tests/data/golden_ping.pcap") if ICMP in p and p[ICMP].type == 8]
    assert requests
    for packet in requests:
        data = bytes(packet[ICMP].payload)
        assert ping_payload(ping_sent_at(data), size=len(data)) == data


def test_in_real_time_the_stamp_is_the_wall_clock_as_gettimeofday() -> None:
    before = time.time()
    seen, pinger = requests_sent(2, 0.1, real_time=True)
    stamps = [ping_sent_at(request[28:]) for request in seen]
    assert before <= stamps[0] <= stamps[1] <= time.time()
    assert stamps[1] - stamps[0] >= 0.09  # the interval, less the first request's few microseconds past 0 s


def test_time_is_computed_from_the_echoed_timestamp_as_iputils_does() -> None:
    """A reply 0.25 s late whose echoed stamp says it was sent 0.5 s earlier shows 750 ms, as ping would."""
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, lambda r: restamped(echo_reply(r), -0.5), delay_s=0.25):
        stats = pinger.run(count=2, interval=1.0)
    times = [PING_LINE.match(line).group(5) for line in pinger.lines if PING_LINE.match(line)]
    assert times == ["750", "750"] and stats.rtts == [0.75, 0.75]
    assert all("timestamp" in line for line in pinger.lines if PING_LINE.match(line)), "the judge's warning"


def test_a_stamp_from_the_future_shows_zero_like_iputils() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, lambda r: restamped(echo_reply(r), 10.0), delay_s=0.25):
        stats = pinger.run(count=1)
    assert stats.rtts == [0.0] and "time=0.000 ms" in pinger.lines[1]


def test_real_time_rtt_from_the_stamp_matches_the_clock() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, echo_reply, sleep_s=0.2):
        stats = pinger.run(count=2, interval=0.05, real_time=True)
    assert stats.received == 2 and all(0.2 <= rtt < 1.5 for rtt in stats.rtts)


def test_a_truncated_reply_shows_no_time_like_iputils() -> None:
    """ping prints "(truncated)" instead of a time; with no timeval echoed there is no RTT to count."""

    def short(request: bytes) -> bytes:
        reply = bytearray(echo_reply(request)[: 20 + 8 + 10])
        reply[2:4] = len(reply).to_bytes(2, "big")
        reply[10:12] = b"\x00\x00"
        reply[10:12] = internet_checksum(bytes(reply[:20])).to_bytes(2, "big")
        return with_icmp_checksum(reply)

    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, out=None)
    with Peer(wire, short, delay_s=0.25):
        stats = pinger.run(count=1)
    assert stats.received == 1 and stats.rtts == []
    assert pinger.lines[1].startswith("18 bytes from 10.0.0.2: icmp_seq=1 ttl=64 ")
    assert "time=" not in pinger.lines[1] and "truncated" in pinger.lines[1]


def test_a_payload_the_caller_chose_is_timed_from_the_pingers_record() -> None:
    wire = SoftwareWire()
    pinger = Pinger(wire.host, check=judge, payload=b"hello", out=None)
    with Peer(wire, echo_reply, delay_s=0.25):
        stats = pinger.run(count=1)
    assert stats.rtts == [0.25] and "time=250 ms" in pinger.lines[1]
