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
from labkit.packets import echo_request
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
        reply[22:24] = b"\x00\x00"
        reply[22:24] = internet_checksum(bytes(reply[20:])).to_bytes(2, "big")
        return bytes(reply)

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
