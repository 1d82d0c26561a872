"""pcap mode: answer every request in a capture file and write requests plus replies, in virtual time.

Why virtual time: a reply is stamped at request time + the model's latency, so Wireshark shows the RTT the model
would have caused on a real wire, without us waiting for it. The stack runs on the capture's clock too
(fragment timeouts, Timestamp replies), so a capture answers the same whenever it is replayed.

Who answers what: packets a host answers by rule (ARP, NDP, ICMP timestamp, fragment reassembly) go to the
reference stack; unfragmented IPv4/IPv6 echo requests go to the model (``model.attempt``). With the ``reference``
model the reference stack answers everything, which is the fast path measured by benchmarks/pcap_throughput.py.

Streaming: records are read (labkit.capture), answered and written one at a time; a record is written as soon
as nothing earlier can still come, so memory is bounded by the model's latency window (the calls in flight and
the records stamped inside it), not by the capture. Output is classic pcap with the input's link type, renamed
into place only when the whole run succeeded; a paid model's answers are kept beside it meanwhile
(labkit.resume), so a failed run is resumed without paying again.
"""

from __future__ import annotations

import heapq
import os
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from labkit.capture import (  # noqa: F401  (re-exported: labkit.pcap was where these lived)
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NAMES,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    Capture,
    CapturedPacket,
    CaptureReader,
    CaptureWriter,
    check_output_path,
    display_name,
    read_capture,
    write_capture,
)
from labkit.errors import LabkitError
from labkit.gate import classify
from labkit.headers import ip_version, trim_to_ip_length
from labkit.outcomes import code_of
from labkit.ratelimit import Budget, checked_budget

if TYPE_CHECKING:  # imported where used: only a model run keeps answers
    from labkit.resume import AnswerJournal

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
VLAN_ETHERTYPES = (0x8100, 0x88A8, 0x9100)
BROADCAST_MAC = b"\xff" * 6

SLL_OUTGOING = 4  # packet type "sent by us": how Wireshark marks the host's own replies in a cooked capture

# How long a kernel takes to answer by rule. Stack-answered replies get this, so they sort after their request.
STACK_LATENCY_S = 20e-6


# --- link layers: turn a captured frame into what the reference stack takes, and replies back -------------


@dataclass(frozen=True)
class Unwrapped:
    """A captured frame as the stack sees it: an Ethernet frame (link "ether") or an IP packet (link "ip")."""

    stack_input: bytes | None  # None: not something a host answers at this layer
    link: str
    context: bytes = b""  # what the link layer needs to wrap a reply (the request's own link header)
    reason: str = ""  # why stack_input is None


class LinkLayer:
    """Adapter for one pcap link type. Wrapping keeps the input link type so the output opens like the input."""

    name = "?"

    def __init__(self, host_mac: bytes = b"\x02\x00\x00\x00\x00\x02") -> None:
        self.host_mac = host_mac

    def unwrap(self, frame: bytes) -> Unwrapped:
        raise NotImplementedError

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        """reply is what the stack or model produced: an Ethernet frame for link "ether", else an IP packet."""
        raise NotImplementedError


_ETHERTYPE_OF_VERSION: dict[int | None, int] = {4: ETHERTYPE_IPV4, 6: ETHERTYPE_IPV6}


def _ethertype_for(packet: bytes, fallback: int) -> int:
    return _ETHERTYPE_OF_VERSION.get(ip_version(packet), fallback)


def _trimmed(frame: bytes) -> bytes:
    """An Ethernet frame without the padding after its IP packet: a NIC pads frames to 60 bytes, and padding
    must never reach the model or the judge (labkit.headers.trim_to_ip_length, the one place that trims)."""
    if frame[12:14] not in (b"\x08\x00", b"\x86\xdd"):
        return frame
    packet = frame[14:]
    trimmed = trim_to_ip_length(packet)
    return frame if len(trimmed) == len(packet) else frame[:14] + trimmed


def ethernet_reply(request_frame: bytes, reply_packet: bytes, host_mac: bytes | None = None) -> bytes:
    """Wrap an IP reply in Ethernet with the request's MACs swapped (the reply goes back where it came from).
    A request sent to a broadcast/multicast MAC is answered from host_mac: a group address is never a source."""
    fallback = int.from_bytes(request_frame[12:14], "big")
    source = request_frame[0:6]
    if source[0] & 1 and host_mac is not None:
        source = host_mac
    return request_frame[6:12] + source + _ethertype_for(reply_packet, fallback).to_bytes(2, "big") + reply_packet


class EthernetLink(LinkLayer):
    """DLT_EN10MB. VLAN tags are taken off for the stack and put back on replies."""

    name = "Ethernet"

    def unwrap(self, frame: bytes) -> Unwrapped:
        if len(frame) < 14:
            return Unwrapped(None, "ether", reason="runt Ethernet frame")
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype not in VLAN_ETHERTYPES:
            return Unwrapped(_trimmed(frame), "ether")
        end = 12
        while len(frame) >= end + 6 and int.from_bytes(frame[end : end + 2], "big") in VLAN_ETHERTYPES:
            end += 4
        tags = frame[12:end]
        return Unwrapped(_trimmed(frame[:12] + frame[end:]), "ether", context=tags)

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        return reply[:12] + context + reply[12:] if context else reply


class RawIPLink(LinkLayer):
    """LINKTYPE_RAW and friends: the record is the IP packet."""

    name = "raw IP"

    def unwrap(self, frame: bytes) -> Unwrapped:
        return Unwrapped(trim_to_ip_length(frame), "ip")

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        return reply


class LoopbackLink(LinkLayer):
    """NULL/LOOP: a 4-byte address family; the reply reuses the request's header (same family)."""

    name = "loopback"

    def unwrap(self, frame: bytes) -> Unwrapped:
        if len(frame) < 4:
            return Unwrapped(None, "ip", reason="runt loopback frame")
        return Unwrapped(trim_to_ip_length(frame[4:]), "ip", context=frame[:4])

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        return context + reply


class CookedLink(LinkLayer):
    """Linux cooked capture (SLL v1/v2). The stack gets a synthesised Ethernet frame so ARP works too;
    replies are marked "outgoing" with the host's MAC, as `tcpdump -i any` shows a host's own replies."""

    def __init__(self, version: int, host_mac: bytes = b"\x02\x00\x00\x00\x00\x02") -> None:
        super().__init__(host_mac)
        self.version = version
        self.header_len = 16 if version == 1 else 20
        self.name = "Linux cooked" + (" v2" if version == 2 else "")

    def _fields(self, frame: bytes) -> tuple[int, int, int, bytes]:
        if self.version == 1:
            pkttype, arphrd, addrlen = struct.unpack_from("!HHH", frame, 0)
            address, protocol = frame[6:14], int.from_bytes(frame[14:16], "big")
        else:
            protocol = int.from_bytes(frame[0:2], "big")
            arphrd, pkttype, addrlen = struct.unpack_from("!HBB", frame, 8)
            address = frame[12:20]
        return pkttype, arphrd, protocol, address[: min(addrlen, 8)]

    def unwrap(self, frame: bytes) -> Unwrapped:
        if len(frame) < self.header_len:
            return Unwrapped(None, "ether", reason="runt cooked-capture frame")
        pkttype, arphrd, protocol, address = self._fields(frame)
        if pkttype == SLL_OUTGOING:
            return Unwrapped(None, "ether", reason="sent by the capturing host")
        source = (address + b"\x00" * 6)[:6]
        destination = BROADCAST_MAC if pkttype in (1, 2) else self.host_mac
        synthetic = destination + source + protocol.to_bytes(2, "big") + frame[self.header_len :]
        return Unwrapped(_trimmed(synthetic), "ether", context=arphrd.to_bytes(2, "big"))

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        arphrd = int.from_bytes(context, "big") if context else 1
        source, protocol, payload = reply[6:12], reply[12:14], reply[14:]
        if self.version == 1:
            header = struct.pack("!HHH", SLL_OUTGOING, arphrd, 6) + source + b"\x00\x00" + protocol
        else:
            header = protocol + b"\x00\x00" + struct.pack("!IHBB", 0, arphrd, SLL_OUTGOING, 6) + source + b"\x00\x00"
        return header + payload


def link_layer_for(linktype: int, host_mac: bytes = b"\x02\x00\x00\x00\x00\x02") -> LinkLayer:
    if linktype == LINKTYPE_ETHERNET:
        return EthernetLink(host_mac)
    if linktype in (LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return RawIPLink(host_mac)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return LoopbackLink(host_mac)
    if linktype == LINKTYPE_LINUX_SLL:
        return CookedLink(1, host_mac)
    if linktype == LINKTYPE_LINUX_SLL2:
        return CookedLink(2, host_mac)
    supported = ", ".join(f"{number} {name}" for number, name in sorted(LINKTYPE_NAMES.items()))
    raise LabkitError(
        f"link type {linktype} is not supported (supported: {supported}); "
        "re-capture on an Ethernet interface or with `tcpdump -i any`"
    )


# --- answering ---------------------------------------------------------------------------------------------


@dataclass
class PcapSummary:
    """What a pcap run did; ``lines()`` is what the CLI prints.

    Every model reply is judged as Linux ping would receive it (labkit.judge, ping socket): a reply written
    is not a reply accepted, and a wrong checksum must not count as an answer.
    """

    input_path: str
    output_path: str
    model: str
    simulated: bool
    strategy: str
    linktype: int
    virtual_time: bool = True
    packets_read: int = 0
    replies_written: int = 0
    answered_by_model: int = 0  # model replies written (accepted or not)
    answered_by_stack: int = 0
    time_exceeded: int = 0  # ICMP Time Exceeded sent because a reassembly timed out (stack.expire)
    unanswered: Counter = field(default_factory=Counter)  # reason -> how many packets
    model_accepted: int = 0  # model replies Linux ping accepts
    model_rejected: Counter = field(default_factory=Counter)  # judge's reason -> how many model replies
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  # spent by this run's calls (reused answers were paid for by an earlier run)
    reused_answers: int = 0  # answers kept from an earlier run that failed, not paid for again
    reused_cost_usd: float = 0.0
    model_latencies_s: array = field(default_factory=lambda: array("d"))  # in the order of their requests

    @property
    def unanswered_total(self) -> int:
        return sum(self.unanswered.values())

    def _kind(self) -> str:
        timing = "virtual-time latency: modelled, not waited for" if self.virtual_time else "real latency"
        if self.model == "reference":
            return "deterministic reference stack, not an LLM"
        return f"SIMULATED, not Claude; {timing}" if self.simulated else timing

    def lines(self) -> list[str]:
        link = LINKTYPE_NAMES.get(self.linktype, str(self.linktype))
        rejected = sum(self.model_rejected.values())
        out = [
            f"labkit pcap: {self.input_path} -> {self.output_path} ({link})",
            f"model: {self.model} [{self._kind()}], strategy: {self.strategy}",
            f"packets read:     {self.packets_read}",
            f"replies written:  {self.replies_written} (requests answered: {self.answered_by_stack} by the reference "
            f"stack, {self.answered_by_model} by the model)",
        ]
        if self.time_exceeded:
            out.append(f"time exceeded:    {self.time_exceeded} (fragment reassembly timed out, as Linux reports it)")
        if self.answered_by_model:
            out.append(f"model replies:    {self.model_accepted} accepted by Linux ping, {rejected} rejected")
            out += _counted(self.model_rejected)
        out.append(f"unanswered:       {self.unanswered_total}")
        out += _counted(self.unanswered)
        if self.answered_by_model or self.model_latencies_s:
            out.append(self._calls_line())
        return out

    def _calls_line(self) -> str:
        latencies = sorted(self.model_latencies_s)
        median = latencies[len(latencies) // 2] if latencies else 0.0
        cost = f"${self.cost_usd:.4f}" + (" (simulated)" if self.simulated else "")
        line = (
            f"model calls: {len(latencies) - self.reused_answers}, median latency {median * 1000:.1f} ms, "
            f"tokens in/out {self.input_tokens}/{self.output_tokens}, cost {cost}"
        )
        if self.reused_answers:
            line += (
                f"; {self.reused_answers} answers reused from the earlier run that failed "
                f"(${self.reused_cost_usd:.4f}, not paid again)"
            )
        return line

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _counted(counts: Counter) -> list[str]:
    width = len(str(max(counts.values(), default=0)))
    return [f"  {count:>{width}}  {reason}" for reason, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]


@dataclass(frozen=True)
class _ModelJob:
    request: CapturedPacket
    unwrapped: Unwrapped
    packet: bytes  # the IP echo request handed to the model
    ticket: int = -1  # its place among the model's requests (_InRequestOrder), taken when it is asked


class _InRequestOrder:
    """Model latencies in the order of their requests, whatever order parallel calls finish in.

    Each call takes a ticket when it is asked; its latency is appended once every earlier ticket's is in, so
    no more latencies wait here than there are calls in flight."""

    def __init__(self, into: array) -> None:
        self._into, self._waiting = into, dict[int, float]()
        self._issued = self._next = 0

    def ticket(self) -> int:
        self._issued += 1
        return self._issued - 1

    def put(self, ticket: int, latency_s: float) -> None:
        self._waiting[ticket] = latency_s
        while self._next in self._waiting:
            self._into.append(self._waiting.pop(self._next))
            self._next += 1


def reason_key(reason: object) -> str:
    """One key per kind of reason, so the summary counts kinds rather than listing every packet: the outcome
    code a stack result or reason carries (labkit.outcomes, with its summary); text without a code (the
    link-layer reasons here, which hold no per-packet detail) as it is."""
    code = code_of(reason)
    return code.label if code is not None else str(reason)


def is_reference(model) -> bool:
    return getattr(model, "name", None) == "reference"


def answer_capture(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    model=None,
    seed: int | None = None,
    *,
    strategy: str = "zero-shot",
    workers: int | None = None,
    progress: bool = False,
    budget_usd: float | None = None,
    resume: bool = True,
) -> PcapSummary:
    """Answer every packet of in_path a host would answer and write requests + replies to out_path.

    ``in_path``: a pcap or pcapng file (gzip'd too), a pipe, or "-" for standard input; read once, streamed.
    ``model`` is a Model, a registry name (None: the registry's default) or a function of no arguments that
    builds one (called once the input has been read); ``seed`` goes to the registry when a name is given.
    ``workers`` parallel model calls (None: 1 for virtual-time models, 4 for real ones).
    ``budget_usd``: each call reserves its worst-case cost before it starts, and no call starts that could
    take the total past the budget (the rest stay unanswered). Nothing is written unless the whole run
    succeeds; a paid model's answers are kept meanwhile in OUT.answers.jsonl and, with ``resume``, a rerun
    reuses them instead of paying again (``resume=False`` discards them).
    """
    checked_budget(budget_usd)
    with CaptureReader(in_path) as reader:  # reads the header: a bad file fails before a model is set up
        check_output_path(out_path, in_path)  # before any model call: a run must not be paid for and then lost
        link = link_layer_for(reader.linktype)
        run = _Run(link, _resolve_model(_built(model), seed), strategy, reader, in_path, out_path)
        run.keep_answers(resume)
        if budget_usd is not None:
            run.budget = Budget(budget_usd)
        if workers is None:
            workers = 1 if getattr(run.model, "virtual_time", True) else 4
        try:
            with CaptureWriter(out_path, reader.linktype, reader.nanosecond, reader.snaplen) as writer:
                run.stream(reader, writer, workers, progress)
        except LabkitError as exc:
            raise run.failed(exc) from None
        finally:
            run.close()
    run.succeeded()
    return run.summary


def _resolve_model(model, seed: int | None):
    if model is not None and not isinstance(model, str):
        return model
    from labkit.models.registry import get_model

    return get_model(model, seed=seed) if seed is not None else get_model(model)


def _answer_by_rule(run: _Run, order: _InOrder, packet: CapturedPacket) -> _ModelJob | None:
    """The stack's answer to one record, written through `order`; an echo request for the model comes back as
    a job instead. The stack runs on the capture's clock (fragment timeouts, Timestamp reply fields)."""
    summary = run.summary
    if packet.wirelen > len(packet.data):
        summary.unanswered["cut short by the capture's snap length (capture with -s 0)"] += 1
        return None
    seconds, nanoseconds = divmod(packet.ts_ns, 1_000_000_000)
    run.clock.now = seconds + nanoseconds / 1e9  # as exact as a float gets: ts_ns / 1e9 rounds 1e18 first
    unwrapped, result, for_model = classify(run.link, run.stack, packet.data)
    run._last_link, run._last_context = unwrapped.link, unwrapped.context
    if result is None:
        summary.unanswered[reason_key(unwrapped.reason)] += 1
        return None
    if run.use_model and for_model is not None:
        return _ModelJob(packet, unwrapped, for_model)
    if not result.replies:
        summary.unanswered[reason_key(result.reason)] += 1
        return None
    summary.answered_by_stack += 1
    for reply in result.replies:
        order.add(packet.ts_ns + run.stack_delay_ns, run.link.wrap(reply, unwrapped.link, unwrapped.context))
    return None


class _CaptureClock:
    """The capture's time in seconds: the stack's clock and wall clock in pcap mode."""

    now = 0.0

    def __call__(self) -> float:
        return self.now


REQUEST, REPLY = 0, 1  # on equal timestamps a request is written before a reply


class _InOrder:
    """Writes records in timestamp order as soon as no earlier one can still come.

    Why it stays small: a reply is stamped at its request's time plus a latency, so what waits here is what
    falls inside the latency window. A capture that is itself out of order keeps its disorder.
    """

    def __init__(self, writer: CaptureWriter) -> None:
        self._writer = writer
        self._heap: list[tuple[int, int, int, bytes, int]] = []  # (2 * ts_ns + kind, count, ts_ns, data, wirelen)
        self._count = 0
        self.replies = 0

    def add(self, ts_ns: int, data: bytes, wirelen: int = 0, kind: int = REPLY) -> None:
        heapq.heappush(self._heap, (2 * ts_ns + kind, self._count, ts_ns, data, wirelen))
        self._count += 1
        self.replies += kind

    def request(self, ts_ns: int, data: bytes, wirelen: int, waiting: bool) -> None:
        """A request read now: written at once when nothing is waiting (nothing earlier can come), the
        common case with the reference stack, so most records never touch the heap."""
        if self._heap or waiting:
            self.add(ts_ns, data, wirelen, REQUEST)
        else:
            self._writer.write(ts_ns, data, wirelen)

    def flush(self, until_ns: int | None = None) -> None:
        """Write every request stamped until_ns or earlier and every reply before it (all when None)."""
        heap, write, pop = self._heap, self._writer.write, heapq.heappop
        limit = 2 * until_ns + REPLY if until_ns is not None else None
        while heap and (limit is None or heap[0][0] < limit):
            _key, _count, ts_ns, data, wirelen = pop(heap)
            write(ts_ns, data, wirelen)


class _ModelCalls:
    """At most `workers` model calls in flight (in this thread when workers is 1); finished ones handed back.

    Reading waits while all workers are busy, so a capture of a million requests never queues a million
    paid calls, and Ctrl-C or an error cancels what has not started.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
        self._pending: dict[Future, _ModelJob] = {}
        self._done: list[tuple[_ModelJob, object]] = []

    def submit(self, job: _ModelJob, call: Callable[[], object]) -> None:
        if self._pool is None:
            self._done.append((job, call()))
            return
        if len(self._pending) >= self._workers:
            self._collect(FIRST_COMPLETED)
        self._pending[self._pool.submit(call)] = job

    def _collect(self, when: str) -> None:
        finished, _ = wait(self._pending, return_when=when)
        for future in finished:
            self._done.append((self._pending.pop(future), future.result()))

    def finished(self, *, all_of_them: bool = False) -> list[tuple[_ModelJob, object]]:
        if not self._pending and not self._done:
            return []
        if self._pending and all_of_them:
            self._collect("ALL_COMPLETED")
        elif self._pending:
            for future in [f for f in self._pending if f.done()]:
                self._done.append((self._pending.pop(future), future.result()))
        done, self._done = self._done, []
        return done

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def earliest_ns(self, default: int) -> int:
        """The earliest request still waiting for its reply: nothing after it may be written yet."""
        if not self._pending:
            return default
        return min(default, min(job.request.ts_ns for job in self._pending.values()))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _built(model):
    """A model given as a factory is built only now: a bad capture must fail before a key is asked for."""
    return model() if callable(model) and not hasattr(model, "attempt") else model


def _keeps_answers(model) -> bool:
    """Answers cost money (or come from a server) unless the model is simulated or the reference stack."""
    return not getattr(model, "simulated", False) and not is_reference(model)


class _Run:
    """One pass over a capture in record order: the stack keeps fragment state; echo requests go to the model."""

    def __init__(self, link: LinkLayer, model, strategy: str, reader: CaptureReader, in_path, out_path) -> None:
        from labkit.stack import HostConfig, ReferenceStack

        config = HostConfig(answer_any=True)
        link.host_mac = bytes.fromhex(config.mac.replace(":", ""))
        self.link, self.model, self.strategy = link, model, strategy
        self.clock = _CaptureClock()
        self.stack = ReferenceStack(config, clock=self.clock, wall_clock=self.clock)
        self.stack_delay_ns = round(STACK_LATENCY_S * 1e9)
        self._last_link, self._last_context = "ip", b""  # how the latest record was framed: errors reuse it
        self.use_model = not is_reference(model)
        self.budget: Budget | None = None  # set when budget_usd is given
        self.journal: AnswerJournal | None = None
        self._out_path = out_path
        self.summary = PcapSummary(
            input_path=display_name(in_path),
            output_path=str(out_path),
            model=model.name,
            simulated=bool(getattr(model, "simulated", False)),
            strategy="reference stack" if is_reference(model) else strategy,
            linktype=reader.linktype,
            virtual_time=bool(getattr(model, "virtual_time", False)),
        )
        self.latencies = _InRequestOrder(self.summary.model_latencies_s)

    def keep_answers(self, resume: bool) -> None:
        if not (self.use_model and _keeps_answers(self.model)):
            return
        from labkit.resume import AnswerJournal

        journal = self.journal = AnswerJournal(self._out_path, self.model.name, self.strategy, reuse=resume)
        if not resume:
            journal.discard()

    def stream(self, reader: CaptureReader, writer: CaptureWriter, workers: int, progress: bool) -> None:
        from tqdm.auto import tqdm

        order, calls = _InOrder(writer), _ModelCalls(workers)
        with tqdm(desc=self.model.name, unit="pkt", disable=not progress, file=sys.stderr) as bar:
            try:
                for packet in reader:
                    self._expire(order, packet.ts_ns)
                    order.flush(calls.earliest_ns(packet.ts_ns))
                    self.summary.packets_read += 1
                    order.request(packet.ts_ns, packet.data, packet.wirelen, calls.busy)
                    job = _answer_by_rule(self, order, packet)
                    if job is not None:
                        self._dispatch(job, calls, order)
                    for done, attempt in calls.finished():
                        self._model_reply(order, done, attempt)
                    if progress:
                        bar.update()
                for done, attempt in calls.finished(all_of_them=True):
                    self._model_reply(order, done, attempt)
                order.flush()
            finally:
                calls.close()
        self.summary.replies_written = order.replies

    def _expire(self, order: _InOrder, now_ns: int) -> None:
        """Time Exceeded for every reassembly that timed out before this record, at the time Linux sends it.
        Only within the capture: an error due after its last record was never on this wire."""
        seconds, nanoseconds = divmod(now_ns, 1_000_000_000)
        for result in self.stack.expire(seconds + nanoseconds / 1e9):
            at_ns = round(result.at * 1e9) if result.at is not None else now_ns
            for reply in result.replies:
                order.add(min(at_ns, now_ns), self.link.wrap(reply, self._last_link, self._last_context))
            self.summary.time_exceeded += 1

    def _dispatch(self, job: _ModelJob, calls: _ModelCalls, order: _InOrder) -> None:
        """Reuse an answer kept from a failed run, else reserve the call's worst case, then ask."""
        kept = self.journal.take(job.packet) if self.journal is not None else None
        if kept is not None:
            self.summary.reused_answers += 1
            self.summary.reused_cost_usd += kept.cost_usd or 0.0
            self._model_reply(order, replace(job, ticket=self.latencies.ticket()), kept, reused=True)
            return
        reservation = None
        if self.budget is not None:
            from labkit.prompts import get_strategy
            from labkit.responder import reserve_estimate_usd

            estimate = reserve_estimate_usd(self.model, get_strategy(self.strategy).build(job.packet))
            reservation = self.budget.reserve(estimate)
            if reservation is None:
                self.summary.unanswered["model not asked: --budget-usd reached"] += 1
                return
        job = replace(job, ticket=self.latencies.ticket())
        calls.submit(job, lambda: self._ask(job, reservation))

    def _ask(self, job: _ModelJob, reservation) -> object:
        """One model call (maybe in a worker thread): settle its reservation, keep its answer at once."""
        spent = 0.0
        try:
            attempt = self.model.attempt(job.packet, self.strategy)
            spent = attempt.cost_usd or 0.0
            if self.journal is not None:
                self.journal.record(attempt)
            return attempt
        finally:
            if reservation is not None and self.budget is not None:
                self.budget.settle(reservation, spent)

    def _model_reply(self, order: _InOrder, job: _ModelJob, attempt, *, reused: bool = False) -> None:
        from labkit.judge import judge

        summary = self.summary
        self.latencies.put(job.ticket, attempt.latency_s)
        if not reused:
            summary.cost_usd += attempt.cost_usd or 0.0
            summary.input_tokens += attempt.usage.input_tokens
            summary.output_tokens += attempt.usage.output_tokens
        if attempt.reply is None:
            summary.unanswered[f"model reply unusable: {reason_key(attempt.parse_error or 'no reply')}"] += 1
            return
        summary.answered_by_model += 1
        verdict = judge(job.packet, attempt.reply)
        if verdict.accepted:
            summary.model_accepted += 1
        else:
            summary.model_rejected[reason_key(verdict.reason)] += 1
        order.add(job.request.ts_ns + round(attempt.latency_s * 1e9), self._frame(job, attempt.reply))

    def _frame(self, job: _ModelJob, reply: bytes) -> bytes:
        if job.unwrapped.link == "ether":
            request_frame = job.unwrapped.stack_input
            assert request_frame is not None  # gate.classify makes a model job only from a frame the stack took
            frame = ethernet_reply(request_frame, reply, self.link.host_mac)
            return self.link.wrap(frame, "ether", job.unwrapped.context)
        return self.link.wrap(reply, "ip", job.unwrapped.context)

    def failed(self, error: LabkitError) -> LabkitError:
        """The error, saying where the answers already paid for are kept."""
        if self.journal is None or not self.journal.kept_total:
            return error
        return LabkitError(
            f"{error}; nothing was written, but the {self.journal.kept_total} model answers paid for "
            f"are kept in {self.journal.path}: run the same command again to reuse them"
        )

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    def succeeded(self) -> None:
        if self.journal is not None:
            self.journal.discard()


# --- running many model calls ------------------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")


def bounded_pool(
    tasks: Sequence[T], run: Callable[[T], R], workers: int, stop: Callable[[], bool] = lambda: False
) -> Iterator[tuple[int, R]]:
    """Yield (position, result) as tasks finish, with at most `workers` running; no task starts once stop() is
    true. Why bounded: Ctrl-C, an error or a budget then cancels what has not started, instead of a queue of
    thousands of paid API calls going on in the background. workers=1 runs in this thread, in order."""
    if workers <= 1:
        for position, task in enumerate(tasks):
            if stop():
                return
            yield position, run(task)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: dict[Future, int] = {}
    started = 0
    try:
        while True:
            while started < len(tasks) and len(pending) < workers and not stop():
                pending[pool.submit(run, tasks[started])] = started
                started += 1
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
