"""Software wire: an in-process cable plus a pinger that prints what Linux `ping` would print.

Needs no root and no network, so the live half of the course runs on Binder and laptops too. Two ends:
`wire.responder` is a Wire (IP packets in, replies out) and `wire.host` is where the Pinger sits.

Time comes in two flavours. Real time: the pinger sleeps `interval` between requests and RTTs are clock
time. Virtual time: the pinger does not sleep; request i is stamped as sent at (i-1)*interval and a reply's
RTT is exactly the `delay_s` the responder attached to it (a simulated model's virtual latency), so a "3 s"
model gives "time=3000 ms" lines instantly, and the same digits on every run. A reply sent without a delay
(a real model, answering in real time) gets the real time it took, as does every reply in real time.

The pinger judges replies the way Linux ping does, through a `check` function handed in by the caller
(labkit.judge.judge; the wire floor cannot import the judge floor). A reply Linux would drop (a bad
checksum, say) is lost, as on a real host, but where ping would print nothing the pinger prints one line in
parentheses saying why, e.g. "(icmp_seq=1: a ping socket drops this: ICMP checksum ...)". A packet that does not
match any request (another echo id) is ignored silently, as ping does.

The data is what iputils sends (labkit.packets.ping_payload): a 16-byte struct timeval of the send time, then
bytes equal to their offset. As in iputils, `time=` is the arrival time minus the timeval the reply echoes, so a
reply that changes those 16 bytes shows a wrong time (the judge says so). The clock behind the stamp is the
wall clock in real time (gettimeofday, as ping) and the virtual clock, from 0 s, in virtual time.
"""

from __future__ import annotations

import math
import queue
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from labkit.headers import ICMP_HEADER, IPV6_HEADER, PROTO_ICMP, PROTO_ICMPV6, ip_version, ipv4_header_len
from labkit.packets import PING_DATA_BYTES, echo_request, echo_request_v6, ping_payload, ping_sent_at
from labkit.wire.base import WireGone


class _ChecksumLike(Protocol):
    @property
    def ok(self) -> bool: ...


class Verdict(Protocol):
    """What the pinger needs from a judgement (labkit.judge.Judgement fits); read-only, as a frozen one is."""

    @property
    def accepted(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def checksums(self) -> Iterable[_ChecksumLike]: ...


ReplyCheck = Callable[[bytes, bytes | None], Verdict]  # (request, reply) -> verdict


_Carried = tuple[bytes, "float | None"]  # a packet and its virtual delay (None: it took real time)


class _End:
    """One end of the cable: sends into one queue, receives from the other."""

    link = "ip"

    def __init__(self, inbox: queue.Queue[_Carried], outbox: queue.Queue[_Carried], cable: SoftwareWire):
        self._inbox, self._outbox, self._cable = inbox, outbox, cable

    def recv_with_delay(self, timeout: float) -> _Carried | None:
        """(packet, virtual delay or None) or None after `timeout`; WireGone once the cable is unplugged."""
        if self._cable.unplugged:
            raise WireGone("the software wire was unplugged")
        try:
            return self._inbox.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def recv(self, timeout: float) -> bytes | None:
        item = self.recv_with_delay(timeout)
        return None if item is None else item[0]

    def send(self, data: bytes, delay_s: float | None = None) -> None:
        """Put `data` on the cable; `delay_s`: virtual time it spent getting here (None: it took real time)."""
        if self._cable.unplugged:
            raise WireGone("the software wire was unplugged")
        self._outbox.put((bytes(data), None if delay_s is None else float(delay_s)))

    def frame_done(self) -> None:
        """The receiver has finished with one packet it took (answered, dropped or ignored)."""
        self._inbox.task_done()

    def peer_idle(self, timeout: float) -> bool:
        """True once the other end has finished with every packet we sent it (it calls frame_done())."""
        sent = self._outbox
        with sent.all_tasks_done:
            return sent.all_tasks_done.wait_for(lambda: sent.unfinished_tasks == 0, timeout)

    def close(self) -> None:
        """Closing one end leaves the cable usable for the other; unplug() ends both."""


class SoftwareWire:
    """An in-process cable: `host` end for the pinger, `responder` end (a Wire) for the responder.

    virtual_time=True: the responder may attach a model's modelled latency to each reply (send(..., delay_s))
    instead of waiting it out. False: the cable runs in real time like a real wire, so the responder waits.
    """

    def __init__(self, virtual_time: bool = True) -> None:
        to_responder: queue.Queue[_Carried] = queue.Queue()
        to_host: queue.Queue[_Carried] = queue.Queue()
        self.unplugged = False
        self.virtual_time = virtual_time
        self.host = _End(to_host, to_responder, self)
        self.responder = _End(to_responder, to_host, self)
        self.responder.carries_virtual_delay = virtual_time  # type: ignore[attr-defined]

    def unplug(self) -> None:
        """Pull the cable out: both ends raise WireGone from now on (like an interface going away)."""
        self.unplugged = True


@dataclass
class PingStats:
    """The numbers behind ping's statistics block; RTTs in seconds."""

    destination: str
    transmitted: int = 0
    received: int = 0
    duplicates: int = 0
    rejected: int = 0  # matched a request, but Linux would drop it (judge's verdict)
    corrupted: int = 0  # of those, how many had a wrong checksum
    ignored: int = 0  # packets Linux ping would not match to a request
    rtts: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    ignored_reasons: list[str] = field(default_factory=list)

    @property
    def loss_percent(self) -> float:
        if not self.transmitted:
            return 0.0
        return (self.transmitted - self.received) * 100.0 / self.transmitted

    def summary_lines(self) -> list[str]:
        """Exactly the shape of iputils ping's closing block."""
        counts = f"{self.transmitted} packets transmitted, {self.received} received"
        if self.duplicates:
            counts += f", +{self.duplicates} duplicates"
        counts += f", {self.loss_percent:g}% packet loss, time {self.elapsed_s * 1000:.0f}ms"
        lines = [f"--- {self.destination} ping statistics ---", counts]
        if self.rtts:
            ms = [r * 1000 for r in self.rtts]
            avg = sum(ms) / len(ms)
            mdev = math.sqrt(max(sum(m * m for m in ms) / len(ms) - avg * avg, 0.0))
            lines.append(f"rtt min/avg/max/mdev = {min(ms):.3f}/{avg:.3f}/{max(ms):.3f}/{mdev:.3f} ms")
        return lines


def format_rtt_ms(rtt_s: float) -> str:
    """iputils' precision rule: 0.045, 3.21, 32.1, 302 ms."""
    ms = rtt_s * 1000
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def echo_ids(packet: bytes) -> tuple[int, int, int, int] | None:
    """(icmp type, id, seq, ttl/hop limit) of an unfragmented ICMP/ICMPv6 packet, else None.

    Byte-level on purpose: the pinger only needs to know which request a reply claims to answer.
    """
    if len(packet) < 28:
        return None
    version = ip_version(packet)
    if version == 4:
        ihl = ipv4_header_len(packet)
        if packet[9] != PROTO_ICMP or len(packet) < ihl + ICMP_HEADER:
            return None
        icmp, ttl = ihl, packet[8]
    elif version == 6:
        if len(packet) < IPV6_HEADER + ICMP_HEADER or packet[6] != PROTO_ICMPV6:
            return None
        icmp, ttl = IPV6_HEADER, packet[7]
    else:
        return None
    ident, seq = struct.unpack_from("!HH", packet, icmp + 4)
    return packet[icmp], ident, seq, ttl


@dataclass
class _Sent:
    request: bytes
    sent_at: float  # on the pinger's clock (virtual or real), seconds since start
    real_sent: float  # time.monotonic() at send
    stamp: float | None  # the send time written into the data (None: a payload the caller chose)
    answered: bool = False


# Pinger's default output: whatever sys.stdout is when a line is printed. Why not `out=sys.stdout`: that binds
# the stream at import time, so a notebook's or pytest's later redirection of stdout would be bypassed.
CURRENT_STDOUT = object()


class Pinger:
    """Sends echo requests down the host end and reports like Linux ping."""

    def __init__(
        self,
        end: _End,
        *,
        check: ReplyCheck,
        src: str = "10.0.0.1",
        dst: str = "10.0.0.2",
        ident: int = 0x4C4B,
        payload: bytes | None = None,
        out: TextIO | object | None = CURRENT_STDOUT,
    ):
        self.end, self.check, self.src, self.dst, self.ident = end, check, src, dst, ident
        self.payload = payload
        self.out = out
        self.v6 = ":" in dst
        self.lines: list[str] = []  # everything printed, also kept for notebooks and tests
        self._last_arrival = 0.0
        self._real_time = False
        self._epoch = 0.0  # what the stamp's clock read at the start: the wall clock in real time, else 0

    def _print(self, line: str) -> None:
        self.lines.append(line)
        if self.out is not None:
            out = sys.stdout if self.out is CURRENT_STDOUT else self.out
            print(line, file=out, flush=True)  # type: ignore[arg-type]  # a TextIO, or the CURRENT_STDOUT marker

    def _send(self, seq: int, sent_at: float) -> _Sent:
        """Build request `seq` stamped at `sent_at`, put it on the wire, and remember what was stamped."""
        real_sent, payload = time.monotonic(), self.payload
        if payload is None:  # like ping: the send time as a timeval, then bytes equal to their offset
            payload = ping_payload(self._epoch + sent_at)
        build = echo_request_v6 if self.v6 else echo_request
        request = build(src=self.src, dst=self.dst, ident=self.ident, seq=seq, payload=payload)
        self.end.send(request)
        stamp = ping_sent_at(payload) if self.payload is None else None
        return _Sent(request, sent_at, real_sent, stamp)

    def run(
        self, count: int = 4, interval: float = 1.0, *, real_time: bool = False, deadline_s: float = 10.0
    ) -> PingStats:
        """Ping `count` times; print lines as ping would; return the statistics.

        In virtual time each request is sent once the responder has finished with the previous one
        (the software wire knows when it has), so nothing waits for replies that will not come.
        `deadline_s` is how long a reply may take before it counts as lost (ping's -W).
        """
        if count < 1 or interval < 0 or deadline_s <= 0:
            raise ValueError("count must be >= 1, interval >= 0 and deadline_s > 0")
        size = len(self.payload) if self.payload is not None else PING_DATA_BYTES
        overhead = 48 if self.v6 else 28
        mode = "real time" if real_time else "virtual time"
        self._print(f"PING {self.dst} ({self.dst}) {size}({size + overhead}) bytes of data. [software wire, {mode}]")
        stats = PingStats(destination=self.dst)
        self._last_arrival, self._real_time = 0.0, real_time
        self._epoch = time.time() if real_time else 0.0
        sent: dict[int, _Sent] = {}
        arrived: list[tuple[float, str]] = []  # (arrival on the pinger's clock, line), printed in order
        start = time.monotonic()

        def take(timeout: float) -> bool:
            item = self.end.recv_with_delay(timeout)
            if item is not None:
                self._account(item[0], item[1], sent, stats, arrived, deadline_s)
            return item is not None

        def flush(upto: float) -> None:
            arrived.sort()
            while arrived and arrived[0][0] <= upto:
                self._print(arrived.pop(0)[1])

        try:  # Ctrl-C ends the run like ping's: no more requests, statistics as they stand
            for seq in range(1, count + 1):
                due = (seq - 1) * interval
                if real_time:
                    while time.monotonic() - start < due:  # keep receiving while waiting for the slot
                        take(max(due - (time.monotonic() - start), 0.0))
                        flush(math.inf)
                    due = time.monotonic() - start
                sent[seq] = self._send(seq, due)
                stats.transmitted += 1
                if not real_time:
                    flush(due)
                    self._wait_for_peer(take, deadline_s)
            self._drain(take, sent, deadline_s)
        except KeyboardInterrupt:
            pass
        flush(math.inf)
        last_sent = max((s.sent_at for s in sent.values()), default=0.0)
        stats.elapsed_s = time.monotonic() - start if real_time else max(last_sent, self._last_arrival)
        self._print("")
        for line in stats.summary_lines():
            self._print(line)
        return stats

    def _wait_for_peer(self, take: Callable[[float], bool], deadline_s: float) -> None:
        """Virtual time: wait (in real time) until the responder has finished with what we sent."""
        give_up = time.monotonic() + deadline_s
        while time.monotonic() < give_up:
            if take(0.0):
                continue
            if self.end.peer_idle(0.02):
                while take(0.0):
                    pass
                return

    def _drain(self, take: Callable[[float], bool], sent: dict[int, _Sent], deadline_s: float) -> None:
        """After the last request: collect replies until all are in, the responder is idle, or the deadline."""
        give_up = time.monotonic() + deadline_s
        while time.monotonic() < give_up and not all(s.answered for s in sent.values()):
            if take(0.02):
                continue
            if self.end.peer_idle(0.0):
                while take(0.0):
                    pass
                return

    def _account(
        self,
        reply: bytes,
        delay: float | None,
        sent: dict[int, _Sent],
        stats: PingStats,
        arrived: list[tuple[float, str]],
        deadline_s: float,
    ) -> None:
        ids = echo_ids(reply)
        entry = sent.get(ids[2]) if ids is not None and ids[1] == self.ident else None
        if entry is None:
            stats.ignored += 1
            stats.ignored_reasons.append("does not match any request we sent (id/seq)")
            return
        verdict = self.check(entry.request, reply)
        # how long it really took on the pinger's clock; virtual: exactly the delay, no real-time jitter
        elapsed = time.monotonic() - entry.real_sent if self._real_time or delay is None else delay
        if elapsed > deadline_s:
            stats.ignored += 1
            stats.ignored_reasons.append(f"arrived after {elapsed:.1f} s, past the {deadline_s:g} s deadline")
            return
        _, _, seq, ttl = ids  # type: ignore[misc]
        arrival = entry.sent_at + elapsed
        if not verdict.accepted:  # Linux drops it silently; we say why, in a line unlike ping's own
            stats.rejected += 1
            stats.corrupted += any(not check.ok for check in verdict.checksums)
            self._arrive(arrived, arrival, f"(icmp_seq={seq}: {verdict.reason})")
            return
        rtt = self._echoed_rtt(entry, reply, elapsed)
        line = self._reply_line(entry, reply, seq, ttl, rtt) + "".join(
            f" {warning}" for warning in getattr(verdict, "warnings", ())
        )
        if entry.answered:
            stats.duplicates += 1
            line += " (DUP!)"
        else:
            entry.answered = True
            stats.received += 1
            if rtt is not None:
                stats.rtts.append(rtt)
        self._arrive(arrived, arrival, line)

    def _reply_line(self, entry: _Sent, reply: bytes, seq: int, ttl: int, rtt: float | None) -> str:
        """ping's "64 bytes from ...: icmp_seq=1 ttl=64 time=0.045 ms"; no time for a truncated reply."""
        size = len(reply) - self._icmp_start(reply)
        source = socket.inet_ntop(socket.AF_INET6, reply[8:24]) if self.v6 else socket.inet_ntoa(reply[12:16])
        line = f"{size} bytes from {source}: icmp_seq={seq} ttl={ttl}"
        if rtt is not None and size >= len(entry.request) - self._icmp_start(entry.request):
            line += f" time={format_rtt_ms(rtt)} ms"
        return line

    def _icmp_start(self, packet: bytes) -> int:
        return IPV6_HEADER if self.v6 else ipv4_header_len(packet)

    def _echoed_rtt(self, entry: _Sent, reply: bytes, elapsed: float) -> float | None:
        """ping's time=: arrival minus the send time the reply echoes, in whole microseconds, never below 0.

        gather_statistics() does this, and clamps a negative time to 0 ("time of day goes back"); a reply too
        short to hold the timeval has no time. A payload the caller chose carries no stamp, so its time is the
        pinger's own record."""
        if entry.stamp is None:
            return elapsed
        echoed = ping_sent_at(reply[self._icmp_start(reply) + ICMP_HEADER :])
        if echoed is None:
            return None
        return max(round((elapsed + (entry.stamp - echoed)) * 1_000_000), 0) / 1_000_000  # stamps first: precision

    def _arrive(self, arrived: list[tuple[float, str]], at: float, line: str) -> None:
        arrived.append((at, line))
        self._last_arrival = max(self._last_arrival, at)
