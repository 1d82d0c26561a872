"""The live responder: requests come off a wire, a model answers them, checked replies go back on the wire.

One reader thread takes frames off the wire and passes each through the ingress gate (labkit.gate, shared
with pcap mode): the reference stack applies Linux's receive checks -- IPv4 header, ICMP and ICMPv6
checksums, martian sources, our own address as source, broadcasts -- and reassembles fragments, so a model
is asked only about echo requests Linux would answer. ARP, NDP, timestamp requests and reassembled
fragmented pings are answered by the stack at once (deterministic, never by the model: the model sees one
unfragmented packet at a time). On Ethernet, a reply goes to the MAC the neighbour table holds for the
request's source, as Linux sends it, after an ARP/NDP solicitation if there is no entry yet
(labkit.wire.neighbours).

Echo requests for the model are answered concurrently (up to `max_inflight`; more are dropped as busy, not
queued), each in its own daemon thread, so a stalled API never holds up a stop. Before a call: the rate
limit, the shared API backoff and the budget (a reservation of the worst-case cost, so a flood of concurrent
requests cannot overshoot). A call that outlives `timeout_s` is abandoned: its slot is freed at once and a
late answer is thrown away. After the call: the egress check (labkit.egress).

Time: a real wire (raw socket, TUN) runs in real time, so a virtual-time model's modelled latency is waited
out before its reply is sent, and ping shows it; the software wire in virtual time carries the latency along
with the reply instead, and nothing sleeps. A virtual-time model is asked right in the reader thread.

Strict (default): a reply goes out only if it matches its request in every field the protocol fixes
(labkit.egress.strict_refusal) and its checksums are right, unless `send_bad_checksum`. Raw: whatever the
model produced goes out, as in the original experiment, as long as it is an IP packet to the requester.

Rate limits (429) and overload (529): while the responder is live, the model client does not retry (a ping
waits about a second; five tries over 15 s while holding a slot help nobody). Instead the first such error
starts a shared backoff (1 s, doubling to 30 s, reset by a success) during which new requests are shed
without a call, counted as "API backoff".
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import math
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from labkit.checksum import verify
from labkit.egress import addresses as ip_addresses
from labkit.egress import raw_refusal, same_as_reference, strict_refusal
from labkit.errors import LabkitError, ModelError
from labkit.gate import check_name, classify
from labkit.headers import (
    ICMP_ECHO_REQUEST,
    ICMPV6_ECHO_REQUEST,
    IPV6_HEADER,
    PROTO_ICMP,
    PROTO_ICMPV6,
    ip_version,
    ipv4_header_len,
    is_fragment,
    trim_to_ip_length,
)
from labkit.judge import judge
from labkit.models.base import Model
from labkit.outcomes import Outcome
from labkit.pricing import price_for
from labkit.prompts import Prompt, Strategy, get_strategy
from labkit.ratelimit import Budget, Reservation, TokenBucket, checked_budget
from labkit.stack import HostConfig, ReferenceStack
from labkit.wire.base import Wire, WireGone
from labkit.wire.neighbours import ETHER_HEADER, ETHERTYPE_IPV4, ETHERTYPE_IPV6, SOLICIT_TIMEOUT_S, Neighbours
from labkit.wire.software import CURRENT_STDOUT, Pinger, PingStats, SoftwareWire

log = logging.getLogger("labkit.responder")

INPUT_CHARS_PER_TOKEN = 2  # worst case for hex-heavy prompts; reservations must over-, not underestimate
STOP_GRACE_S = 0.5  # how long stop() lets answers in flight finish before abandoning them
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 30.0
OVERLOAD_ERRORS = ("rate_limit_error", "overloaded_error")
HELD_PER_ADDRESS = 3  # requests held while we solicit the requester's MAC


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
    """Live numbers. `latencies` are the model's latencies in seconds (modelled ones in virtual time).

    Every drop belongs to one counted request, so `dropped_total <= requests`; frames that are not echo
    requests for us (fragments on their way to reassembly, other traffic) are `ignored` or `fragments`.
    """

    frames: int = 0  # everything the wire delivered
    requests: int = 0  # echo requests addressed to us (a fragmented one counts once)
    answered: int = 0  # replies put on the wire
    neighbour: int = 0  # ARP / NDP answers from the reference stack
    ignored: int = 0  # not for us, or not something we answer
    dropped: collections.Counter = field(default_factory=collections.Counter)  # reason -> count
    dropped_codes: collections.Counter = field(default_factory=collections.Counter)  # labkit.outcomes code -> count
    checksum_errors: int = 0  # model replies with a wrong IP/ICMP checksum (sent or not)
    spent_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)
    in_flight: int = 0
    wire_errors: int = 0
    stopped_reason: str | None = None
    ignored_reasons: collections.Counter = field(default_factory=collections.Counter)  # why ignored
    fragments: int = 0  # fragments taken in for reassembly
    by_stack: int = 0  # answered by the reference stack (reassembled pings, timestamps)
    abandoned: int = 0  # model calls given up on (timeout, or still running at stop)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def copy(self) -> ResponderStats:
        return replace(
            self,
            dropped=collections.Counter(self.dropped),
            dropped_codes=collections.Counter(self.dropped_codes),
            latencies=list(self.latencies),
            ignored_reasons=collections.Counter(self.ignored_reasons),
        )

    def summary_lines(self) -> list[str]:
        lines = [
            f"requests {self.requests}, answered {self.answered}, dropped {self.dropped_total}, "
            f"checksum errors {self.checksum_errors}, ARP/NDP answered {self.neighbour}, "
            f"ignored {self.ignored}, wire errors {self.wire_errors}, spent ${self.spent_usd:.6f}"
        ]
        if self.fragments or self.by_stack or self.abandoned:
            lines.append(
                f"fragments {self.fragments}, answered by the reference stack {self.by_stack}, "
                f"model calls abandoned {self.abandoned}"
            )
        for reason, count in self.dropped.most_common():
            lines.append(f"  dropped {count:>5} x {reason}")
        for reason, count in self.ignored_reasons.most_common(5):
            lines.append(f"  ignored {count:>5} x {reason}")
        if self.latencies:
            ordered = sorted(self.latencies)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            lines.append(
                f"model latency min/median/p95/max = {ordered[0] * 1000:.3f}/"
                f"{ordered[len(ordered) // 2] * 1000:.3f}/{p95 * 1000:.3f}/{ordered[-1] * 1000:.3f} ms"
            )
        if self.stopped_reason:
            lines.append(f"stopped: {self.stopped_reason}")
        return lines


@dataclass(frozen=True)
class _Job:
    packet: bytes  # the IP echo request (Ethernet header and padding stripped)
    expected: bytes  # the reference stack's reply to it: what strict mode compares with
    peer_mac: bytes | None  # who to send the reply frame to (Ethernet only)

    @property
    def label(self) -> str:
        """ "10.0.0.1 id=0x1234 seq=3", for logs; computed only when something is logged."""
        return echo_request_label(self.packet)


@dataclass
class _Ticket:
    """One model call in flight. Whoever claims it first (the worker, the timeout, stop) settles it."""

    job: _Job
    reservation: Reservation | None
    started: float
    claimed: bool = False


@dataclass(frozen=True)
class _Prepared:
    frame: bytes | None  # what to put on the wire; None when dropped
    cost_usd: float
    latency_s: float  # the model's latency (modelled, for virtual-time models)
    late: str = ""  # why the answer came too late ("" if in time): dropped as "timeout"


@dataclass(frozen=True)
class _Unwrapped:
    stack_input: bytes
    link: str


class _WireLink:
    """The gate's view of a live wire: frames go to the stack as they are (trimmed of link padding)."""

    def __init__(self, link: str) -> None:
        self.link = link

    def unwrap(self, frame: bytes) -> _Unwrapped:
        if self.link == "ether":
            return _Unwrapped(frame[:ETHER_HEADER] + trim_to_ip_length(frame[ETHER_HEADER:]), "ether")
        return _Unwrapped(trim_to_ip_length(frame), "ip")


def echo_request_label(packet: bytes) -> str:
    version = ip_version(packet)
    src = socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6, ip_addresses(packet)[0])
    icmp = ipv4_header_len(packet) if version == 4 else IPV6_HEADER
    ident, seq = struct.unpack_from("!HH", packet, icmp + 4)
    return f"{src} id={ident:#06x} seq={seq}"


class _LogLimiter:
    """At most one log line a second per reason; the lines held back are counted in the next one.

    Why: a fragment flood or a scan would otherwise write thousands of lines; the counters keep the numbers.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: collections.Counter = collections.Counter()

    def info(self, key: str, message: str) -> None:
        now = self._clock()
        if now - self._last.get(key, -math.inf) < 1.0:
            self._held[key] += 1
            return
        self._last[key] = now
        more = self._held.pop(key, 0)
        log.info("%s%s", message, f" (and {more} more like it)" if more else "")


class Responder:
    """Answer echo requests arriving on `wire` with `model`; start()/stop() in the background or serve().

    `addresses` are the IPs labkit answers for (default: 10.0.0.2 and fd00::2). `count` and `duration_s`
    make it stop by itself (after that many echo requests, or seconds). `timeout_s`: a model call that takes
    longer is abandoned and its slot freed. Use it as a context manager in notebooks:
    `with Responder(...) as r: ...`.
    """

    def __init__(
        self,
        wire: Wire,
        model: Model,
        strategy: str | Strategy = "zero-shot",
        max_inflight: int = 16,
        strict: bool = True,
        raw: bool = False,
        rate: float | None = None,
        budget_usd: float | None = None,
        *,
        send_bad_checksum: bool = False,
        addresses: Sequence[str] = ("10.0.0.2", "fd00::2"),
        mac: str | None = None,
        count: int | None = None,
        duration_s: float | None = None,
        timeout_s: float = 30.0,
    ):
        self._check_options(max_inflight, count, duration_s, budget_usd, rate, timeout_s)
        self.wire, self.model = wire, model
        self.strategy = get_strategy(strategy)
        self.max_inflight = max_inflight
        self.raw = raw or not strict
        self.send_bad_checksum = send_bad_checksum
        self.count, self.duration_s, self.timeout_s = count, duration_s, timeout_s
        self.bucket = TokenBucket(rate) if rate is not None else None
        self.budget = Budget(budget_usd) if budget_usd is not None else None
        v4, v6 = self._split_addresses(addresses)
        self._ours = {socket.inet_aton(a) for a in v4} | {socket.inet_pton(socket.AF_INET6, a) for a in v6}
        mac = mac or getattr(wire, "mac", None) or HostConfig().mac
        self.mac = mac
        self._mac_bytes = bytes.fromhex(mac.replace(":", ""))
        self.stack = ReferenceStack(HostConfig(ipv4=tuple(v4), ipv6=tuple(v6), mac=mac))
        self._link = _WireLink(wire.link)
        self._neighbours = Neighbours(self._mac_bytes, self._ours.__contains__)
        self._held: dict[bytes, list[tuple[float, _Job]]] = {}
        self._virtual_delay = bool(model.virtual_time and getattr(wire, "carries_virtual_delay", False))
        self._frame_done: Callable[[], None] = getattr(wire, "frame_done", lambda: None)
        self._stats = ResponderStats()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._reader: threading.Thread | None = None
        self._tickets: list[_Ticket] = []
        self._backoff_until, self._backoff_s = 0.0, 0.0
        self._saved_retry: object = None
        self._started_at = 0.0
        self._logs = _LogLimiter()
        self._recent: collections.deque[tuple[float, str, object]] = collections.deque(maxlen=500)

    @staticmethod
    def _check_options(
        max_inflight: int,
        count: int | None,
        duration_s: float | None,
        budget_usd: float | None,
        rate: float | None,
        timeout_s: float,
    ) -> None:
        if max_inflight < 1:
            raise LabkitError(f"--max-inflight must be at least 1, got {max_inflight}")
        if count is not None and count < 1:
            raise LabkitError(f"--count must be at least 1, got {count}")
        if duration_s is not None and not duration_s > 0:  # "not >" also catches NaN
            raise LabkitError(f"--duration must be positive, got {duration_s}")
        checked_budget(budget_usd)
        if rate is not None and not rate > 0:
            raise LabkitError(f"--rate must be a positive number of model calls per second, got {rate}")
        if not timeout_s > 0:  # 0 or less would drop every reply, however fast
            raise LabkitError(f"--timeout must be a positive number of seconds, got {timeout_s}")

    @staticmethod
    def _split_addresses(addresses: Sequence[str]) -> tuple[list[str], list[str]]:
        v4: list[str] = []
        v6: list[str] = []
        for address in addresses:
            host = unicast_address(address, "--address")
            (v6 if host.version == 6 else v4).append(str(host))
        return v4, v6

    # ---- life cycle -------------------------------------------------------------------------------------
    def start(self) -> Responder:
        if self._reader is not None:
            raise LabkitError("this responder was already started; make a new one")
        self._warn_small_budget()
        self._no_client_retries()
        self._started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read_loop, name="labkit-reader", daemon=True)
        self._reader.start()
        return self

    def _warn_small_budget(self) -> None:
        """A budget below one call's reservation answers nothing: say so now, not after a silent run."""
        if self.budget is None:
            return
        from labkit.packets import echo_request

        estimate = reserve_estimate_usd(self.model, self.strategy.build(echo_request()))
        if estimate > self.budget.limit_usd:
            log.warning(
                "--budget-usd %g is less than one model call reserves (up to $%.6f for a 56-byte ping): "
                "no request will be answered; raise the budget",
                self.budget.limit_usd,
                estimate,
            )

    def _no_client_retries(self) -> None:
        """Live, a rate limit sheds requests (the shared backoff) instead of retrying inside a held slot."""
        policy = getattr(self.model, "retry", None)
        if policy is not None and hasattr(policy, "max_retries"):
            self._saved_retry = policy
            self.model.retry = replace(policy, max_retries=0)  # type: ignore[attr-defined]

    def stop(self, reason: str = "stopped by the caller") -> ResponderStats:
        """Stop reading; let answers in flight finish for up to STOP_GRACE_S, then abandon (and count) the rest."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join()
        with self._idle:
            self._idle.wait_for(lambda: self._stats.in_flight == 0, STOP_GRACE_S)
        for ticket in list(self._tickets):
            if self._claim(ticket):
                with self._lock:
                    self._stats.abandoned += 1
                self._drop(Outcome.LIVE_STOPPED, "abandoned: model still answering at stop", ticket.job.label)
                self._release(ticket, ticket.reservation.amount_usd if ticket.reservation else 0.0)
        self._drop_held("stopped while waiting for the requester's MAC")
        if self._saved_retry is not None:
            self.model.retry = self._saved_retry  # type: ignore[attr-defined]
            self._saved_retry = None
        with self._lock:
            if self._stats.stopped_reason is None:
                self._stats.stopped_reason = reason
        return self.stats

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it stops by itself (count, duration, wire gone); True if it did."""
        return self._finished.wait(timeout)

    def serve(self) -> ResponderStats:
        """Run in the foreground until done; Ctrl-C (or a notebook's interrupt) stops it within about a second.

        A second Ctrl-C while stopping is ignored, so the summary is never lost.
        """
        self.start()
        try:
            while not self.wait(0.2):
                pass
        except KeyboardInterrupt:
            with _interrupts_ignored():
                return self.stop("interrupted")
        with _interrupts_ignored():
            return self.stop()

    def __enter__(self) -> Responder:
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
                self._expire()
                try:
                    frame = self.wire.recv(0.1)
                except WireGone as exc:
                    self._finish(f"wire gone: {exc}")
                    log.warning("stopping: %s", exc)
                    break
                except OSError as exc:  # interface down, buffer trouble: count, back off, keep trying
                    consecutive_errors += 1
                    with self._lock:
                        self._stats.wire_errors += 1
                    log.warning("wire error (%s); retrying", exc)
                    self._stop.wait(min(0.05 * consecutive_errors, 1.0))
                    continue
                consecutive_errors = 0
                if frame is not None:
                    self._take(frame)
        finally:
            if self._stats.stopped_reason is None and not self._stop.is_set():
                self._finish("done")
            self._finished.set()

    def _take(self, frame: bytes) -> None:
        handed_over = False
        try:
            handed_over = self._handle(frame)
        except Exception as exc:  # a hostile frame must never kill the reader
            self._ignore(f"could not handle frame: {type(exc).__name__}")
            log.info("could not handle a frame: %s", exc)
        finally:
            if not handed_over:
                self._frame_done()

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

    def _expire(self) -> None:
        """Abandon model calls past the timeout (their slots free up now) and held requests nobody claimed."""
        now = time.monotonic()
        for ticket in list(self._tickets):
            if now - ticket.started > self.timeout_s and self._claim(ticket):
                with self._lock:
                    self._stats.abandoned += 1
                self._drop(
                    Outcome.LIVE_TIMEOUT, "timeout", f"{ticket.job.label}: no answer within {self.timeout_s:g} s"
                )
                self._release(ticket, ticket.reservation.amount_usd if ticket.reservation else 0.0)
        for address in [a for a, held in self._held.items() if now - held[0][0] > SOLICIT_TIMEOUT_S * 3]:
            for _, job in self._held.pop(address):
                self._refuse(
                    Outcome.LIVE_NO_NEIGHBOUR,
                    "no neighbour answered for the requester (Linux would not reply either)",
                    job.packet,
                    "held while soliciting its MAC",
                )

    # ---- the ingress gate ------------------------------------------------------------------------------
    def _handle(self, frame: bytes) -> bool:
        """Gate one frame; True if frame_done is taken care of (by the model's worker later)."""
        with self._lock:
            self._stats.frames += 1
        if self.wire.link == "ether" and len(frame) >= ETHER_HEADER:
            if frame[0:6] != self._mac_bytes and not frame[0] & 1:
                return self._ignore("unicast to another MAC")  # PACKET_OTHERHOST: Linux drops it too
            self._learn(frame)
        unwrapped, result, for_model = classify(self._link, self.stack, frame)
        packet = unwrapped.stack_input[ETHER_HEADER:] if unwrapped.link == "ether" else unwrapped.stack_input
        if result.kind in ("arp", "ndp"):
            return self._answer_by_stack(result, neighbour=True)
        if result.kind == "held":
            with self._lock:
                self._stats.fragments += 1
            return False
        if result.kind not in ("echo", "echo6", "timestamp"):
            if self._is_echo_request_for_us(packet):  # a request Linux refuses: a counted drop
                return self._refuse(result.code, f"ingress: {check_name(result.reason)}", packet, result.reason)
            return self._ignore(check_name(result.reason))
        if for_model is None:  # reassembled fragments or a timestamp: the stack answers
            return self._answer_by_stack(result, neighbour=False, request=result.kind != "timestamp")
        reply = result.replies[0][ETHER_HEADER:] if unwrapped.link == "ether" else result.replies[0]
        return self._route(_Job(for_model, reply, None))

    def _is_echo_request_for_us(self, packet: bytes) -> bool:
        version = ip_version(packet)
        if version == 4 and len(packet) >= 28 and packet[9] == PROTO_ICMP and not is_fragment(packet):
            return ip_addresses(packet)[1] in self._ours and packet[ipv4_header_len(packet)] == ICMP_ECHO_REQUEST
        if version == 6 and len(packet) >= 48 and packet[6] == PROTO_ICMPV6:
            return ip_addresses(packet)[1] in self._ours and packet[IPV6_HEADER] == ICMPV6_ECHO_REQUEST
        return False

    def _refuse(self, code: Outcome, reason: str, packet: bytes, detail: str) -> bool:
        with self._lock:
            self._stats.requests += 1
        self._drop(code, reason, f"{echo_request_label(packet)} ({detail})")
        return False

    def _ignore(self, reason: str = "") -> bool:
        with self._lock:
            self._stats.ignored += 1
            if reason:
                self._stats.ignored_reasons[reason] += 1
        return False

    def _answer_by_stack(self, result, *, neighbour: bool, request: bool = False) -> bool:
        sent = all([self._send(reply, 0.0) for reply in result.replies])
        with self._lock:
            if neighbour:
                self._stats.neighbour += 1
            else:
                self._stats.by_stack += 1
                self._stats.requests += request
                self._stats.answered += request and sent
        self._event("neighbour" if neighbour else "answered", result.reason)
        return False

    # ---- neighbours (Ethernet): reply to the MAC that owns the source address, as Linux does --------------
    def _learn(self, frame: bytes) -> None:
        learnt = self._neighbours.learn(frame)
        if learnt is not None and learnt in self._held:
            mac = self._neighbours.lookup(learnt)
            for _, job in self._held.pop(learnt):
                self._submit(_Job(job.packet, job.expected, mac))

    def _route(self, job: _Job) -> bool:
        """Find the requester's MAC (Ethernet) before asking the model; hold the request while we ask."""
        if self.wire.link != "ether":
            return self._submit(job)
        source, ours = ip_addresses(job.packet)[0], ip_addresses(job.expected)[0]
        mac = self._neighbours.lookup(source)
        if mac is not None:
            return self._submit(_Job(job.packet, job.expected, mac))
        held = self._held.setdefault(source, [])
        if len(held) >= HELD_PER_ADDRESS:
            return self._refuse(
                Outcome.LIVE_NO_NEIGHBOUR,
                "no neighbour entry yet: queue for the requester full",
                job.packet,
                "not held",
            )
        held.append((time.monotonic(), job))
        solicitation = self._neighbours.solicit(ours, source)
        if solicitation is not None:
            self._send(solicitation, 0.0)
        return False

    def _drop_held(self, reason: str) -> None:
        for held in self._held.values():
            for _, job in held:
                self._refuse(Outcome.LIVE_STOPPED, reason, job.packet, "held while soliciting its MAC")
        self._held.clear()

    # ---- answering --------------------------------------------------------------------------------------
    def _submit(self, job: _Job) -> bool:
        """Limits first, then the model: in a thread of its own, or right here when the model never waits."""
        with self._lock:
            self._stats.requests += 1
            busy = self._stats.in_flight >= self.max_inflight
        if busy:
            return self._drop(Outcome.LIVE_BUSY, f"busy: {self.max_inflight} requests already in flight", job.label)
        if time.monotonic() < self._backoff_until:
            return self._drop(Outcome.LIVE_BACKOFF, Outcome.LIVE_BACKOFF.summary, job.label)
        if self.bucket is not None and not self.bucket.take():
            return self._drop(Outcome.LIVE_RATE_LIMIT, "rate limit", job.label)
        reservation = None
        if self.budget is not None:
            estimate = reserve_estimate_usd(self.model, self.strategy.build(job.packet))
            reservation = self.budget.reserve(estimate)
            if reservation is None:
                return self._drop(
                    Outcome.LIVE_BUDGET, "budget exhausted", f"{job.label} (would need up to ${estimate:.6f})"
                )
        ticket = _Ticket(job, reservation, time.monotonic())
        with self._lock:
            self._stats.in_flight += 1
            self._tickets.append(ticket)
        if not self.model.virtual_time:  # real calls wait: answer them concurrently
            self._spawn(self._answer, ticket)
            return True
        # A virtual-time model only computes, so a thread hop would only add latency. If the reply has to
        # wait out a modelled latency on a real wire, that waiting happens in a thread.
        try:
            prepared = self._prepare(job)
        except Exception as exc:
            self._drop(Outcome.LIVE_INTERNAL_ERROR, f"internal error: {type(exc).__name__}", f"{job.label}: {exc}")
            prepared = _Prepared(None, 0.0, 0.0)
        if prepared.frame is not None and prepared.latency_s > 0 and not self._virtual_delay:
            self._spawn(self._answer, ticket, prepared)
        else:
            self._answer(ticket, prepared)
        return True

    @staticmethod
    def _spawn(target: Callable[..., None], *args: object) -> None:
        """A daemon thread per answer: a stalled HTTP call can then never keep the process from exiting."""
        threading.Thread(target=target, args=args, name="labkit-answer", daemon=True).start()

    def _claim(self, ticket: _Ticket) -> bool:
        with self._lock:
            if ticket.claimed:
                return False
            ticket.claimed = True
            return True

    def _release(self, ticket: _Ticket, spent: float) -> None:
        """Settle a claimed ticket: budget, in-flight count, the wire's frame."""
        if ticket.reservation is not None and self.budget is not None:
            self.budget.settle(ticket.reservation, spent)
        with self._idle:
            self._stats.in_flight -= 1
            self._stats.spent_usd += spent
            if ticket in self._tickets:
                self._tickets.remove(ticket)
            self._idle.notify_all()
        self._frame_done()

    def _answer(self, ticket: _Ticket, prepared: _Prepared | None = None) -> None:
        """Ask (unless already asked), send; settles the ticket unless a timeout or stop claimed it first."""
        job = ticket.job
        try:
            if prepared is None:
                prepared = self._prepare(job)
        except Exception as exc:  # a worker must never die silently
            self._drop(Outcome.LIVE_INTERNAL_ERROR, f"internal error: {type(exc).__name__}", f"{job.label}: {exc}")
            prepared = _Prepared(None, 0.0, 0.0)
        if (
            prepared.frame is not None
            and not self._virtual_delay
            and self.model.virtual_time
            and prepared.latency_s > 0
            and self._stop.wait(prepared.latency_s)
        ):
            if self._claim(ticket):
                self._drop(Outcome.LIVE_STOPPED, "stopped while waiting out the modelled latency", job.label)
                self._release(ticket, prepared.cost_usd)
            return
        if not self._claim(ticket):  # abandoned (timeout or stop): already counted, the answer thrown away
            return
        if prepared.late:
            self._drop(Outcome.LIVE_TIMEOUT, "timeout", f"{job.label}: {prepared.late} (limit {self.timeout_s:g} s)")
        try:
            if prepared.frame is not None:
                self._deliver(job, prepared)
        finally:
            self._release(ticket, prepared.cost_usd)

    def _prepare(self, job: _Job) -> _Prepared:
        """One model call for one request, checked: the frame to send (None if dropped), cost, latency."""
        started = time.monotonic()
        try:
            attempt = self.model.attempt(job.packet, self.strategy)
        except ModelError as exc:
            self._note_overload(str(exc))
            self._drop(Outcome.LIVE_MODEL_ERROR, "model error", f"{job.label}: {exc}")
            return _Prepared(None, 0.0, 0.0)
        except LabkitError as exc:
            self._drop(Outcome.LIVE_MODEL_REFUSED, "model refused the request", f"{job.label}: {exc}")
            return _Prepared(None, 0.0, 0.0)
        except Exception as exc:
            self._drop(Outcome.LIVE_MODEL_CRASHED, f"model crashed: {type(exc).__name__}", f"{job.label}: {exc}")
            return _Prepared(None, 0.0, 0.0)
        self._backoff_s = 0.0
        waited = time.monotonic() - started
        cost, latency = attempt.cost_usd, attempt.latency_s
        with self._lock:
            self._stats.latencies.append(latency)
        if (waited if not attempt.virtual_latency else latency) > self.timeout_s:  # counted once claimed
            return _Prepared(None, cost, latency, f"answered after {max(waited, latency):.1f} s")
        frame = self._checked_frame(job, attempt.reply, attempt.parse_error)
        return _Prepared(frame, cost, latency)

    def _note_overload(self, message: str) -> None:
        """429/529: start or lengthen the shared backoff; new requests are shed until it ends."""
        if any(kind in message for kind in OVERLOAD_ERRORS):
            self._backoff_s = min(max(self._backoff_s * 2, BACKOFF_FIRST_S), BACKOFF_MAX_S)
            self._backoff_until = time.monotonic() + self._backoff_s
            log.warning("API rate limited or overloaded: shedding new requests for %.0f s", self._backoff_s)

    def _checked_frame(self, job: _Job, reply: bytes | None, parse_error: str | None) -> bytes | None:
        """The egress check: the frame to send, or None (counted by reason)."""
        if reply is None:
            self._drop(Outcome.LIVE_UNPARSEABLE, "unparseable answer", f"{job.label}: {parse_error}")
            return None
        if same_as_reference(reply, job.expected):  # right in every byte that matters: no more to check
            return reply if job.peer_mac is None else self._ether(job.peer_mac, reply)
        bad = [check for check in verify(reply) if not check.ok]
        if bad:
            with self._lock:
                self._stats.checksum_errors += 1
            self._logs.info(
                "checksum error",
                f"checksum error in the reply to {job.label}: "
                + ", ".join(f"{c.name} {c.found:#06x} should be {c.expected:#06x}" for c in bad),
            )
        reason = raw_refusal(reply, job.packet) if self.raw else strict_refusal(reply, job.expected)
        if reason is not None:
            code = Outcome.LIVE_RAW if self.raw else Outcome.LIVE_STRICT
            self._drop(code, f"{'raw' if self.raw else 'strict'}: {reason}", job.label)
            return None
        if bad and not self.raw and not self.send_bad_checksum:
            self._drop(Outcome.LIVE_BAD_CHECKSUM, "bad checksum (not sent; --send-bad-checksum sends it)", job.label)
            return None
        return reply if job.peer_mac is None else self._ether(job.peer_mac, reply)

    def _deliver(self, job: _Job, prepared: _Prepared) -> None:
        assert prepared.frame is not None
        if self._send(prepared.frame, prepared.latency_s):
            with self._lock:
                self._stats.answered += 1
            self._event("answered", job)

    def _ether(self, peer_mac: bytes, packet: bytes) -> bytes:
        ethertype = ETHERTYPE_IPV4 if ip_version(packet) == 4 else ETHERTYPE_IPV6
        return peer_mac + self._mac_bytes + struct.pack("!H", ethertype) + packet

    def _drop(self, code: Outcome, reason: str, detail: str = "") -> bool:
        """Count a request not answered: by its reason (what the summary prints) and by its outcome code."""
        with self._lock:
            self._stats.dropped[reason] += 1
            self._stats.dropped_codes[code] += 1
        self._logs.info(reason, f"dropped {detail or 'frame'}: {reason}")
        self._event("dropped", f"{reason} ({detail})" if detail else reason)
        return False

    def _event(self, kind: str, detail: object) -> None:
        self._recent.append((time.time(), kind, detail))  # rendered lazily: the answer path stays cheap

    def events(self) -> list[tuple[float, str, str]]:
        """The last 500 events as (unix time, "answered" | "dropped" | "neighbour", detail), for dashboards."""
        return [
            (when, kind, detail.label if isinstance(detail, _Job) else str(detail))
            for when, kind, detail in list(self._recent)
        ]

    def _send(self, data: bytes, delay_s: float) -> bool:
        try:
            if self._virtual_delay:
                self.wire.send(data, delay_s=delay_s)  # type: ignore[call-arg]
            else:
                self.wire.send(data)
        except (OSError, WireGone) as exc:
            with self._lock:
                self._stats.wire_errors += 1
            log.warning("wire error on send: %s", exc)
            if isinstance(exc, WireGone):
                self._finish(f"wire gone: {exc}")
                self._stop.set()
            return False
        return True


@contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """While stopping, a second Ctrl-C or SIGTERM must not cut the summary short (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
        raise LabkitError(
            f"{option} {text}: a host never owns this address (unspecified, broadcast or "
            "multicast); give a unicast address such as 10.0.0.2"
        )
    return host


def ping_software(
    model: Model,
    count: int = 4,
    interval: float = 1.0,
    *,
    real_time: bool = False,
    strategy: str | Strategy = "zero-shot",
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    payload: bytes | None = None,
    deadline_s: float = 10.0,
    out=CURRENT_STDOUT,
    **responder_options,
) -> tuple[PingStats, ResponderStats]:
    """`ping dst` against `model` over the software wire: no root, no network. Prints classic ping lines.

    real_time=False: nothing sleeps, a simulated model's modelled latency shows up in the RTTs. True: the
    pinger waits its interval and the responder waits out modelled latencies, like on a real wire.

    The pinger judges every reply with labkit.judge.judge, as Linux ping would: a bad checksum is loss.
    `responder_options` go to Responder (raw=True, send_bad_checksum=True, max_inflight=..., ...).
    """
    source, target = unicast_address(src, "--source"), unicast_address(dst, "--address")
    if source.version != target.version:
        raise LabkitError(
            f"the pinger's address {src} and the answered address {dst} are not the same IP "
            "version; give two IPv4 or two IPv6 addresses (--source and --address)"
        )
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
        with _interrupts_ignored():
            stats = responder.stop("the pinger finished")
    return ping_stats, stats
