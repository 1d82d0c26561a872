"""The live responder: requests come off a wire, a model answers them, guarded replies go back on the wire.

One reader thread takes frames off the wire. ARP and NDP for our address are answered at once by the
reference stack (deterministic, never by the model: without them nobody could even reach us). Echo requests
for us go to a thread pool, so requests are answered concurrently (up to `max_inflight`; more are dropped as
busy, not queued) and a slow model does not make RTTs queue up. Before a call: the rate limit and the budget (a reservation of the worst-case
cost, so a flood of concurrent requests cannot overshoot). After it: the guard. Everything not sent is
counted by reason and logged.

Time: a real wire (raw socket, TUN) runs in real time, so a virtual-time model's modelled latency is waited
out (in the pool) before its reply is sent, and ping shows it; the software wire in virtual time carries the
latency along with the reply instead, and nothing sleeps. A virtual-time model is asked right in the reader
thread (it only computes; a thread hop would only add latency); real model calls go to the pool.

Strict (default): a reply goes out only if labkit.judge.guard passes it (parses, addressed to the requester,
the echo reply to that request) and its checksums are right, unless `send_bad_checksum`. Raw: whatever the
model produced goes out, as in the original experiment, as long as it is an IP packet to the requester.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import math
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from labkit.checksum import verify
from labkit.errors import LabkitError, ModelError
from labkit.judge import guard, judge
from labkit.models.base import Model
from labkit.pricing import price_for
from labkit.prompts import Prompt, Strategy, get_strategy
from labkit.ratelimit import Budget, Reservation, TokenBucket, checked_budget
from labkit.stack import HostConfig, ReferenceStack, echo_reply
from labkit.wire.base import Wire, WireGone
from labkit.wire.software import CURRENT_STDOUT, PingStats, Pinger, SoftwareWire

log = logging.getLogger("labkit.responder")

ETH_IPV4, ETH_ARP, ETH_IPV6 = 0x0800, 0x0806, 0x86DD
ICMPV6_NEIGHBOR_SOLICIT = 135
INPUT_CHARS_PER_TOKEN = 2       # worst case for hex-heavy prompts; reservations must over-, not underestimate


def reserve_estimate_usd(model: Model, prompt: Prompt) -> float:
    """The most one call with `prompt` can cost at list prices (0 for unpriced models such as the reference).

    Every tool turn resends the conversation so far, so tools multiply the input; outputs are at most
    max_tokens a turn.
    """
    found = price_for(model.priced_as or model.model_id)
    if found is None:
        return 0.0
    price = found[1]
    turns = 1 + (int(getattr(model, "max_tool_turns", 4)) if prompt.tools else 0)
    base_input = len(prompt.text()) / INPUT_CHARS_PER_TOKEN + 512 * len(prompt.tools)
    input_tokens = sum(base_input + turn * prompt.max_tokens for turn in range(turns))
    output_tokens = turns * prompt.max_tokens
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


@dataclass
class ResponderStats:
    """Live numbers. `latencies` are the model's latencies in seconds (modelled ones in virtual time)."""

    frames: int = 0                  # everything the wire delivered
    requests: int = 0                # echo requests addressed to us
    answered: int = 0                # replies put on the wire
    neighbour: int = 0               # ARP / NDP answers from the reference stack
    ignored: int = 0                 # not for us, or not something we answer
    dropped: collections.Counter = field(default_factory=collections.Counter)   # reason -> count
    checksum_errors: int = 0         # model replies with a wrong IP/ICMP checksum (sent or not)
    spent_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)
    in_flight: int = 0
    wire_errors: int = 0
    stopped_reason: str | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def copy(self) -> "ResponderStats":
        return replace(self, dropped=collections.Counter(self.dropped), latencies=list(self.latencies))

    def summary_lines(self) -> list[str]:
        lines = [f"requests {self.requests}, answered {self.answered}, dropped {self.dropped_total}, "
                 f"checksum errors {self.checksum_errors}, ARP/NDP answered {self.neighbour}, "
                 f"ignored {self.ignored}, wire errors {self.wire_errors}, spent ${self.spent_usd:.6f}"]
        for reason, count in self.dropped.most_common():
            lines.append(f"  dropped {count:>5} x {reason}")
        if self.latencies:
            ordered = sorted(self.latencies)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            lines.append(f"model latency min/median/p95/max = {ordered[0] * 1000:.3f}/"
                         f"{ordered[len(ordered) // 2] * 1000:.3f}/{p95 * 1000:.3f}/{ordered[-1] * 1000:.3f} ms")
        if self.stopped_reason:
            lines.append(f"stopped: {self.stopped_reason}")
        return lines


@dataclass(frozen=True)
class _Job:
    packet: bytes                    # the IP packet (Ethernet header and padding stripped)
    peer_mac: bytes | None           # who to send the reply frame to (raw socket only)

    @property
    def label(self) -> str:
        """"10.0.0.1 id=0x1234 seq=3", for logs; computed only when something is logged."""
        return echo_request_label(self.packet)


class _Refused(Exception):
    """A request for us that labkit will not put to a model; the message is the drop reason."""


@dataclass(frozen=True)
class _Prepared:
    frame: bytes | None              # what to put on the wire; None when dropped
    cost_usd: float
    latency_s: float                 # the model's latency (modelled, for virtual-time models)


def _ip(packet: bytes, version: int) -> tuple[bytes, bytes]:
    return (packet[12:16], packet[16:20]) if version == 4 else (packet[8:24], packet[24:40])


def echo_request_label(packet: bytes) -> str:
    version = packet[0] >> 4
    src = socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6, _ip(packet, version)[0])
    icmp = (packet[0] & 0x0F) * 4 if version == 4 else 40
    ident, seq = struct.unpack_from("!HH", packet, icmp + 4)
    return f"{src} id={ident:#06x} seq={seq}"


class Responder:
    """Answer echo requests arriving on `wire` with `model`; start()/stop() in the background or serve().

    `addresses` are the IPs labkit answers for (default: 10.0.0.2 and fd00::2). `count` and `duration_s`
    make it stop by itself (after that many echo requests, or seconds). `timeout_s`: a reply that took
    longer is stale and dropped. Use it as a context manager in notebooks: `with Responder(...) as r: ...`.
    """

    def __init__(self, wire: Wire, model: Model, strategy: str | Strategy = "zero-shot", max_inflight: int = 16,
                 strict: bool = True, raw: bool = False, rate: float | None = None,
                 budget_usd: float | None = None, *, send_bad_checksum: bool = False,
                 addresses: Sequence[str] = ("10.0.0.2", "fd00::2"), mac: str | None = None,
                 count: int | None = None, duration_s: float | None = None, timeout_s: float = 30.0):
        if max_inflight < 1:
            raise LabkitError(f"--max-inflight must be at least 1, got {max_inflight}")
        if count is not None and count < 1:
            raise LabkitError(f"--count must be at least 1, got {count}")
        if duration_s is not None and not duration_s > 0:   # "not >" also catches NaN
            raise LabkitError(f"--duration must be positive, got {duration_s}")
        checked_budget(budget_usd)
        if rate is not None and not rate > 0:
            raise LabkitError(f"--rate must be a positive number of model calls per second, got {rate}")
        if not timeout_s > 0:   # 0 or less would drop every reply, however fast
            raise LabkitError(f"--timeout must be a positive number of seconds, got {timeout_s}")
        self.wire, self.model = wire, model
        self.strategy = get_strategy(strategy)
        self.max_inflight = max_inflight
        self.raw = raw or not strict
        self.send_bad_checksum = send_bad_checksum
        self.count, self.duration_s, self.timeout_s = count, duration_s, timeout_s
        self.bucket = TokenBucket(rate) if rate is not None else None
        self.budget = Budget(budget_usd) if budget_usd is not None else None
        v4, v6 = self._split_addresses(addresses)
        self._v4 = {socket.inet_aton(a) for a in v4}
        self._v6 = {socket.inet_pton(socket.AF_INET6, a) for a in v6}
        mac = mac or getattr(wire, "mac", None) or HostConfig().mac
        self.mac = mac
        self._mac_bytes = bytes.fromhex(mac.replace(":", ""))
        self.stack = ReferenceStack(HostConfig(ipv4=tuple(v4), ipv6=tuple(v6), mac=mac))
        self._virtual_delay = bool(model.virtual_time and getattr(wire, "carries_virtual_delay", False))
        self._frame_done: Callable[[], None] = getattr(wire, "frame_done", lambda: None)
        self._stats = ResponderStats()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._reader: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._started_at = 0.0
        self._recent: collections.deque[tuple[float, str, object]] = collections.deque(maxlen=500)

    @staticmethod
    def _split_addresses(addresses: Sequence[str]) -> tuple[list[str], list[str]]:
        v4, v6 = [], []
        for address in addresses:
            host = unicast_address(address, "--address")
            (v6 if host.version == 6 else v4).append(str(host))
        return v4, v6

    # ---- life cycle -------------------------------------------------------------------------------------
    def start(self) -> "Responder":
        if self._reader is not None:
            raise LabkitError("this responder was already started; make a new one")
        self._started_at = time.monotonic()
        self._pool = ThreadPoolExecutor(max_workers=self.max_inflight, thread_name_prefix="labkit-answer")
        self._reader = threading.Thread(target=self._read_loop, name="labkit-reader", daemon=True)
        self._reader.start()
        return self

    def stop(self, reason: str = "stopped by the caller") -> ResponderStats:
        """Stop reading, wait for the answers in flight, join every thread; returns the final stats."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join()
        with self._lock:
            if self._stats.stopped_reason is None:
                self._stats.stopped_reason = reason
        return self.stats

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it stops by itself (count, duration, wire gone); True if it did."""
        return self._finished.wait(timeout)

    def serve(self) -> ResponderStats:
        """Run in the foreground until done; Ctrl-C (or a notebook's interrupt) stops it cleanly."""
        self.start()
        try:
            while not self.wait(0.2):
                pass
        except KeyboardInterrupt:
            return self.stop("interrupted")
        return self.stop()

    def __enter__(self) -> "Responder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> ResponderStats:
        with self._lock:
            return self._stats.copy()

    def wait_idle(self, timeout: float) -> bool:
        """True once no model call or reply is in flight (e.g. before reading the stats in a notebook)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._stats.in_flight == 0, timeout)

    # ---- reading ----------------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        consecutive_errors = 0
        try:
            while not self._stop.is_set() and not self._done_by_itself():
                try:
                    frame = self.wire.recv(0.1)
                except WireGone as exc:
                    self._finish(f"wire gone: {exc}")
                    log.warning("stopping: %s", exc)
                    break
                except OSError as exc:    # interface down, buffer trouble: count, back off, keep trying
                    consecutive_errors += 1
                    with self._lock:
                        self._stats.wire_errors += 1
                    log.warning("wire error (%s); retrying", exc)
                    self._stop.wait(min(0.05 * consecutive_errors, 1.0))
                    continue
                consecutive_errors = 0
                if frame is None:
                    continue
                handed_over = False
                try:
                    handed_over = self._handle(frame)
                except Exception as exc:       # a hostile frame must never kill the reader
                    self._drop(f"could not handle frame: {type(exc).__name__}", str(exc))
                finally:
                    if not handed_over:
                        self._frame_done()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=False)
            if self._stats.stopped_reason is None and not self._stop.is_set():
                self._finish("done")
            self._finished.set()

    def _done_by_itself(self) -> bool:
        if self.duration_s is not None and time.monotonic() - self._started_at >= self.duration_s:
            self._finish(f"duration {self.duration_s:g} s reached")
            return True
        if self.count is not None and self._stats.requests >= self.count:
            self._finish(f"count {self.count} reached")
            return True
        return False

    def _finish(self, reason: str) -> None:
        with self._lock:
            if self._stats.stopped_reason is None:
                self._stats.stopped_reason = reason

    def _handle(self, frame: bytes) -> bool:
        """Classify one frame; True if frame_done is taken care of (answered here, or by the pool later)."""
        with self._lock:
            self._stats.frames += 1
        peer_mac = None
        packet = frame
        if self.wire.link == "ether":
            if len(frame) < 14:
                return self._ignore()
            ethertype = struct.unpack_from("!H", frame, 12)[0]
            if frame[0:6] != self._mac_bytes and not frame[0] & 1:    # unicast to someone else
                return self._ignore()
            if ethertype == ETH_ARP or self._is_neighbour_solicit(frame, ethertype):
                return self._answer_neighbour(frame)
            if ethertype not in (ETH_IPV4, ETH_IPV6):
                return self._ignore()
            peer_mac, packet = frame[6:12], frame[14:]
        try:
            packet = self._echo_request_for_us(packet)
        except _Refused as refused:
            return self._drop(str(refused))
        if packet is None:
            return self._ignore()
        return self._submit(_Job(packet, peer_mac))

    def _ignore(self) -> bool:
        with self._lock:
            self._stats.ignored += 1
        return False

    @staticmethod
    def _is_neighbour_solicit(frame: bytes, ethertype: int) -> bool:
        return ethertype == ETH_IPV6 and len(frame) >= 14 + 41 and frame[14 + 6] == 58 \
            and frame[14 + 40] == ICMPV6_NEIGHBOR_SOLICIT

    def _answer_neighbour(self, frame: bytes) -> bool:
        result = self.stack.respond(frame, link="ether")
        if result.kind not in ("arp", "ndp") or not result.replies:
            return self._ignore()
        for reply in result.replies:
            self._send(reply, 0.0)
        with self._lock:
            self._stats.neighbour += 1
        self._event("neighbour", result.reason)
        return False

    def _echo_request_for_us(self, packet: bytes) -> bytes | None:
        """The echo request trimmed to its IP length if it is one for our address; _Refused if it is a fragment."""
        if len(packet) < 28:
            return None
        version = packet[0] >> 4
        if version == 4:
            ihl = (packet[0] & 0x0F) * 4
            total = struct.unpack_from("!H", packet, 2)[0]
            fragmented = struct.unpack_from("!H", packet, 6)[0] & 0x3FFF
            if ihl < 20 or total < ihl + 8 or total > len(packet) or packet[9] != 1 or packet[16:20] not in self._v4:
                return None
            if fragmented:
                raise _Refused("fragmented request (labkit answers unfragmented echo requests only)")
            return packet[:total] if packet[ihl] == 8 else None
        if version == 6:
            total = 40 + struct.unpack_from("!H", packet, 4)[0]
            if len(packet) < 48 or total > len(packet) or packet[6] != 58 or packet[40] != 128:
                return None
            return packet[:total] if packet[24:40] in self._v6 else None
        return None

    # ---- answering --------------------------------------------------------------------------------------
    def _submit(self, job: _Job) -> bool:
        """Limits first, then the model: in the pool, or right here when the model never waits."""
        with self._lock:
            self._stats.requests += 1
            busy = self._stats.in_flight >= self.max_inflight
        if busy:
            return self._drop(f"busy: {self.max_inflight} requests already in flight", job.label)
        if self.bucket is not None and not self.bucket.take():
            return self._drop("rate limit", job.label)
        reservation = None
        if self.budget is not None:
            estimate = reserve_estimate_usd(self.model, self.strategy.build(job.packet))
            reservation = self.budget.reserve(estimate)
            if reservation is None:
                return self._drop("budget exhausted", f"{job.label} (would need up to ${estimate:.6f})")
        with self._lock:
            self._stats.in_flight += 1
        assert self._pool is not None
        if not self.model.virtual_time:           # real calls wait: answer them concurrently
            self._pool.submit(self._answer, job, reservation)
            return True
        # A virtual-time model only computes, so a thread hop would only add latency. If the reply has to
        # wait out a modelled latency on a real wire, that waiting happens in the pool.
        try:
            prepared = self._prepare(job)
        except Exception as exc:
            self._drop(f"internal error: {type(exc).__name__}", f"{job.label}: {exc}")
            prepared = _Prepared(None, 0.0, 0.0)
        if prepared.frame is not None and prepared.latency_s > 0 and not self._virtual_delay:
            self._pool.submit(self._answer, job, reservation, prepared)
        else:
            self._answer(job, reservation, prepared)
        return True

    def _answer(self, job: _Job, reservation: Reservation | None, prepared: _Prepared | None = None) -> None:
        """Ask (unless already asked), send; always settles the budget, the in-flight count and the frame."""
        spent = prepared.cost_usd if prepared is not None else 0.0
        try:
            if prepared is None:
                prepared = self._prepare(job)
                spent = prepared.cost_usd
            if prepared.frame is not None:
                self._deliver(job, prepared)
        except Exception as exc:        # a worker must never die silently
            self._drop(f"internal error: {type(exc).__name__}", f"{job.label}: {exc}")
        finally:
            if reservation is not None and self.budget is not None:
                self.budget.settle(reservation, spent)
            with self._idle:
                self._stats.in_flight -= 1
                self._stats.spent_usd += spent
                self._idle.notify_all()
            self._frame_done()

    def _prepare(self, job: _Job) -> _Prepared:
        """One model call for one request, guarded: the frame to send (None if dropped), cost, latency."""
        started = time.monotonic()
        try:
            attempt = self.model.attempt(job.packet, self.strategy)
        except ModelError as exc:
            self._drop("model error", f"{job.label}: {exc}")
            return _Prepared(None, 0.0, 0.0)
        except LabkitError as exc:
            self._drop("model refused the request", f"{job.label}: {exc}")
            return _Prepared(None, 0.0, 0.0)
        except Exception as exc:
            self._drop(f"model crashed: {type(exc).__name__}", f"{job.label}: {exc}")
            return _Prepared(None, 0.0, 0.0)
        waited = time.monotonic() - started
        cost, latency = attempt.cost_usd, attempt.latency_s
        with self._lock:
            self._stats.latencies.append(latency)
        if (waited if not attempt.virtual_latency else latency) > self.timeout_s:
            self._drop("timeout", f"{job.label}: answered after {max(waited, latency):.1f} s "
                                  f"(limit {self.timeout_s:g} s)")
            return _Prepared(None, cost, latency)
        reply = attempt.reply
        if reply is None:
            self._drop("unparseable answer", f"{job.label}: {attempt.parse_error}")
            return _Prepared(None, cost, latency)
        if reply == echo_reply(job.packet):
            # Byte for byte the reference stack's reply (a byte-level fast path, microseconds): by construction
            # the echo reply to this request, to the requester, with right checksums. Skips the guard's parse.
            reason, bad = None, []
        else:
            reason = guard(job.packet, reply, raw=self.raw)
            bad = [check for check in verify(reply) if not check.ok]
        if bad:
            with self._lock:
                self._stats.checksum_errors += 1
            log.info("checksum error in the reply to %s: %s", job.label,
                     ", ".join(f"{c.name} {c.found:#06x} should be {c.expected:#06x}" for c in bad))
        if reason is not None:
            self._drop(f"guard: {reason}", job.label)
            return _Prepared(None, cost, latency)
        if bad and not self.raw and not self.send_bad_checksum:
            self._drop("bad checksum (not sent; --send-bad-checksum sends it)", job.label)
            return _Prepared(None, cost, latency)
        frame = reply if job.peer_mac is None else self._ether(job.peer_mac, reply)
        return _Prepared(frame, cost, latency)

    def _deliver(self, job: _Job, prepared: _Prepared) -> None:
        """Send, after waiting out a modelled latency when the wire runs in real time."""
        if self.model.virtual_time and not self._virtual_delay and prepared.latency_s > 0:
            if self._stop.wait(prepared.latency_s):
                self._drop("stopped while waiting out the modelled latency", job.label)
                return
        assert prepared.frame is not None
        if self._send(prepared.frame, prepared.latency_s):
            with self._lock:
                self._stats.answered += 1
            self._event("answered", job)

    def _ether(self, peer_mac: bytes, packet: bytes) -> bytes:
        ethertype = ETH_IPV4 if packet[0] >> 4 == 4 else ETH_IPV6
        return peer_mac + self._mac_bytes + struct.pack("!H", ethertype) + packet

    def _drop(self, reason: str, detail: str = "") -> bool:
        with self._lock:
            self._stats.dropped[reason] += 1
        log.info("dropped %s: %s", detail or "frame", reason)
        self._event("dropped", f"{reason} ({detail})" if detail else reason)
        return False

    def _event(self, kind: str, detail: object) -> None:
        self._recent.append((time.time(), kind, detail))   # rendered lazily: the answer path stays cheap

    def events(self) -> list[tuple[float, str, str]]:
        """The last 500 events as (unix time, "answered" | "dropped" | "neighbour", detail), for dashboards."""
        return [(when, kind, detail.label if isinstance(detail, _Job) else str(detail))
                for when, kind, detail in list(self._recent)]

    def _send(self, data: bytes, delay_s: float) -> bool:
        try:
            if self._virtual_delay:
                self.wire.send(data, delay_s=delay_s)    # type: ignore[call-arg]
            else:
                self.wire.send(data)
        except (OSError, WireGone) as exc:
            with self._lock:
                self._stats.wire_errors += 1
            self._drop("wire error on send", str(exc))
            if isinstance(exc, WireGone):
                self._finish(f"wire gone: {exc}")
                self._stop.set()
            return False
        return True


def unicast_address(text: str, option: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A host's own address: parsed strictly (inet_aton would take "10.1"), and one a host can own.

    Why: the unspecified, broadcast and multicast addresses are never a host's own, so a model "answering
    for" them only ever produces garbage that the guard drops; say so up front instead.
    """
    try:
        host = ipaddress.ip_address(text.strip())
    except ValueError:
        example = "10.0.0.1" if option == "--source" else "10.0.0.2"
        raise LabkitError(f"{text!r} is not an IPv4 or IPv6 address (give e.g. {option} {example})") from None
    broadcast = host.version == 4 and host == ipaddress.IPv4Address("255.255.255.255")
    if host.is_unspecified or host.is_multicast or broadcast:
        raise LabkitError(f"{option} {text}: a host never owns this address (unspecified, broadcast or "
                          "multicast); give a unicast address such as 10.0.0.2")
    return host


def ping_software(model: Model, count: int = 4, interval: float = 1.0, *, real_time: bool = False,
                  strategy: str | Strategy = "zero-shot", src: str = "10.0.0.1", dst: str = "10.0.0.2",
                  payload: bytes | None = None, deadline_s: float = 10.0, out=CURRENT_STDOUT,
                  **responder_options) -> tuple[PingStats, ResponderStats]:
    """`ping dst` against `model` over the software wire: no root, no network. Prints classic ping lines.

    real_time=False: nothing sleeps, a simulated model's modelled latency shows up in the RTTs. True: the
    pinger waits its interval and the responder waits out modelled latencies, like on a real wire.

    The pinger judges every reply with labkit.judge.judge, as Linux ping would: a bad checksum is loss.
    `responder_options` go to Responder (raw=True, send_bad_checksum=True, max_inflight=..., ...).
    """
    source, target = unicast_address(src, "--source"), unicast_address(dst, "--address")
    if source.version != target.version:
        raise LabkitError(f"the pinger's address {src} and the answered address {dst} are not the same IP "
                          "version; give two IPv4 or two IPv6 addresses (--source and --address)")
    if source == target:
        raise LabkitError(f"the pinger and the responder both have {dst}; give the pinger another --source")
    if not count >= 1:
        raise LabkitError(f"--count must be at least 1, got {count}")
    if not (interval >= 0 and math.isfinite(interval)):
        raise LabkitError(f"--interval must be 0 or more seconds, got {interval}")
    wire = SoftwareWire(virtual_time=not real_time)
    responder = Responder(wire.responder, model, strategy, addresses=(dst,), **responder_options)
    pinger = Pinger(wire.host, check=judge, src=src, dst=dst, payload=payload, out=out)
    responder.start()
    try:
        ping_stats = pinger.run(count, interval, real_time=real_time, deadline_s=deadline_s)
    finally:
        stats = responder.stop("the pinger finished")
    return ping_stats, stats
