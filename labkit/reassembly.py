"""Fragment reassembly as Linux does it (net/ipv4/ip_fragment.c, net/ipv6/reassembly.c, inet_fragment.c).

Why a module of its own: the reference stack's reply logic does not need to know how fragments wait, time out
and are counted against memory, and this part has rules of its own, checked against the kernel
(tests/data/golden_frag_timeout.pcap, golden_crafted.pcap):

* Time runs on the clock it is given (pcap mode gives capture time), never on the wall clock by itself.
  A queue lives `timeout` seconds from its first fragment: ipfrag_time = 30 s for IPv4, ip6frag_time = 60 s
  for IPv6 (Linux defaults; the timer is not re-armed by later fragments).
* When a queue expires and its first fragment (offset 0) was in, Linux sends ICMP Time Exceeded code 1
  (ip_expire / ip6frag_expire_frag_queue: INET_FRAG_FIRST_IN). `expired()` hands those to the stack.
* Memory is limited per address family (ipfrag_high_thresh / ip6frag_high_thresh, 4 MiB each): while a
  family's held fragments are over the limit, inet_frag_find() refuses every fragment of that family.
* Overlaps discard the datagram (RFC 5722); a fragment wholly inside a held run is a duplicate and ignored.
Not modelled: ipfrag_max_dist (IPv4 restarts a queue after 64 fragments from its source went elsewhere in
between) and the kernel's exact skb truesize (a fragment is charged its data plus FRAGMENT_OVERHEAD here).
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.headers import (
    IPV4_FLAG_MF,
    IPV6_HEADER,
    PROTO_DSTOPTS,
    PROTO_HOPOPTS,
    PROTO_ICMPV6,
    PROTO_ROUTING,
    ipv4_flags_offset,
    ipv4_fragment_offset,
)
from labkit.outcomes import Outcome, Reason

FRAG_TIMEOUT_V4_S = 30.0  # net.ipv4.ipfrag_time
FRAG_TIMEOUT_V6_S = 60.0  # net.ipv6.ip6frag_time
FRAG_HIGH_THRESH = 4 * 1024 * 1024  # net.ipv4.ipfrag_high_thresh and net.ipv6.ip6frag_high_thresh
FRAGMENT_OVERHEAD = 512  # bytes charged per held fragment besides its data, like an skb's truesize
MAX_EXPIRED_KEPT = 1024  # Time Exceeded messages waiting for expired(); older ones are dropped
_CHAINED = (PROTO_HOPOPTS, PROTO_DSTOPTS, PROTO_ROUTING)


@dataclass(frozen=True)
class Expired:
    """A datagram whose reassembly timed out with its first fragment in: Linux answers ICMP Time Exceeded."""

    at: float  # clock time of the expiry (first fragment's arrival + the family's timeout)
    version: int  # 4 or 6
    first: bytes  # the first fragment as it arrived (IP packet, IPv6 with its Fragment header)
    context: object  # what the caller handed in with that fragment (the stack: Ethernet addresses)


@dataclass
class _Queue:
    """One datagram being reassembled (inet_frag_queue). Runs are Linux's "fragment runs": a run grows only
    when a fragment continues the highest one in order; any other fragment starts a run of its own."""

    created: float
    version: int
    pieces: dict[int, bytes] = field(default_factory=dict)  # offset -> data
    run_starts: list[int] = field(default_factory=list)  # sorted, parallel to run_ends
    run_ends: list[int] = field(default_factory=list)
    length: int = 0  # highest end seen (the datagram length once the last fragment is in)
    last_in: bool = False
    first_header: bytes | None = None  # IPv4: first fragment's header; IPv6: unfragmentable part
    first_packet: bytes = b""  # the first fragment as it arrived (quoted in Time Exceeded)
    first_context: object = None
    first_options: object = None  # the stack's parsed IPv4 options of the first fragment
    first_next_header: int = 0
    meat: int = 0  # data bytes held
    charge: int = 0  # what counts against the family's memory limit

    def insert(self, start: int, end: int) -> str | None:
        """inet_frag_queue_insert: "dup" (wholly inside one run: drop the fragment), "overlap" (drop the
        datagram, RFC 5722) or None (inserted)."""
        starts, ends = self.run_starts, self.run_ends
        if not starts:
            starts.append(start)
            ends.append(end)
        elif ends[-1] < end:  # goes after everything held
            if start < ends[-1]:
                return "overlap"
            if start == ends[-1]:
                ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
        else:
            index = bisect.bisect_right(starts, start) - 1
            if index >= 0 and start < ends[index]:
                return "dup" if end <= ends[index] else "overlap"
            if index + 1 < len(starts) and starts[index + 1] < end:
                return "overlap"
            starts.insert(index + 1, start)
            ends.insert(index + 1, end)
        return None


@dataclass(frozen=True)
class _Fragment:
    """One fragment, family-neutral: where its data goes and what to keep if it is the first."""

    version: int
    key: tuple
    offset: int
    more: bool
    data: bytes
    header: bytes
    packet: bytes
    context: object
    options: object = None
    next_header: int = 0


class Reassembler:
    """Timed, memory-bounded fragment queues for IPv4 and IPv6. Thread-safe; feed fragments in arrival order."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        timeout_v4: float = FRAG_TIMEOUT_V4_S,
        timeout_v6: float = FRAG_TIMEOUT_V6_S,
        high_thresh: int = FRAG_HIGH_THRESH,
    ) -> None:
        self._clock = clock
        self._timeout = {4: timeout_v4, 6: timeout_v6}
        self._high_thresh = high_thresh
        self._queues: dict[tuple, _Queue] = {}
        self._charged = {4: 0, 6: 0}
        self._expired: deque[Expired] = deque(maxlen=MAX_EXPIRED_KEPT)
        self._lock = threading.Lock()

    def memory(self, version: int) -> int:
        """Bytes charged to one family's queues (what ipfrag_high_thresh limits)."""
        return self._charged[version]

    def expired(self, now: float | None = None) -> list[Expired]:
        """Queues that timed out by `now` (default: the clock) with their first fragment in, oldest first.
        Each is returned once."""
        with self._lock:
            self._expire(self._clock() if now is None else now)
            found = sorted(self._expired, key=lambda item: item.at)
            self._expired.clear()
        return found

    def add_v4(
        self, packet: bytes, hlen: int, options: object = None, context: object = None
    ) -> tuple[bytes, object] | Reason:
        """The whole datagram (header of the first fragment, lengths fixed) and its first fragment's options
        once complete; else a Reason (held, duplicate, dropped)."""
        flags_offset = ipv4_flags_offset(packet)
        fragment = _Fragment(
            4,
            (4, packet[12:16], packet[16:20], packet[4:6], packet[9]),
            ipv4_fragment_offset(packet),
            bool(flags_offset & IPV4_FLAG_MF),
            packet[hlen:],
            packet[:hlen],
            packet,
            context,
            options,
        )
        with self._lock:
            outcome = self._add(fragment)
            if isinstance(outcome, Reason):
                return outcome
            payload = self._join(fragment.key, outcome)
        header = bytearray(outcome.first_header or b"")
        total = len(header) + len(payload)
        if total > 65535:
            return Outcome.FRAG_TOO_LONG.reason(
                f"malformed: reassembled datagram of {total} bytes is over 65535; Linux drops it"
            )
        header[2:4] = total.to_bytes(2, "big")
        header[6:8] = b"\0\0"
        return bytes(header) + payload, outcome.first_options

    def add_v6(self, packet: bytes, offset: int, context: object = None) -> bytes | Reason:
        """offset: where the Fragment header starts. Returns the packet without it once complete."""
        if len(packet) < offset + 8:
            return Outcome.FRAG_MALFORMED.reason("malformed: truncated IPv6 fragment header")
        next_header = packet[offset]
        frag_field = (packet[offset + 2] << 8) | packet[offset + 3]
        frag_offset, more = frag_field & 0xFFF8, bool(frag_field & 1)
        data = packet[offset + 8 :]
        if frag_offset == 0 and not more:  # atomic fragment: not fragmented at all
            return strip_fragment_header(packet, offset)
        problem = _v6_fragment_problem(frag_offset, more, data, next_header)
        if problem:
            return Outcome.FRAG_MALFORMED.reason(f"malformed: {problem}")
        fragment = _Fragment(
            6,
            (6, packet[8:24], packet[24:40], packet[offset + 4 : offset + 8]),
            frag_offset,
            more,
            data,
            packet[:offset],
            packet,
            context,
            None,
            next_header,
        )
        with self._lock:
            outcome = self._add(fragment)
            if isinstance(outcome, Reason):
                return outcome
            payload = self._join(fragment.key, outcome)
        head = bytearray(outcome.first_header or b"")
        _set_last_next_header(head, outcome.first_next_header)
        head[4:6] = (len(head) - IPV6_HEADER + len(payload)).to_bytes(2, "big")
        return bytes(head) + payload

    # -- internals (called with the lock held)

    def _add(self, fragment: _Fragment) -> _Queue | Reason:
        """ip_frag_queue / ip6_frag_queue: the queue when the datagram is complete, else why not."""
        now = self._clock()
        self._expire(now)
        version = fragment.version
        if self._charged[version] > self._high_thresh:  # inet_frag_find refuses: over ipfrag_high_thresh
            return Outcome.FRAG_MEMORY_FULL.reason(
                f"malformed: IPv{version} reassembly memory over {self._high_thresh} bytes; Linux drops the fragment"
            )
        queue = self._queues.get(fragment.key)
        if queue is None:
            queue = self._queues[fragment.key] = _Queue(created=now, version=version)
        problem = self._place(queue, fragment)
        if problem is not None:
            return problem
        charge = len(fragment.data) + FRAGMENT_OVERHEAD
        queue.meat += len(fragment.data)
        queue.charge += charge
        self._charged[version] += charge
        if queue.last_in and queue.first_header is not None and queue.meat == queue.length:
            return queue
        return self._held(queue, Outcome.FRAG_HELD, "")

    def _place(self, queue: _Queue, fragment: _Fragment) -> Reason | None:
        """Put the fragment's data in the queue, or say why it (or its datagram) went."""
        offset, data = fragment.offset, fragment.data
        end = offset + len(data)
        if not fragment.more:
            if end < queue.length or (queue.last_in and end != queue.length):
                return self._discard(fragment.key, Outcome.FRAG_BAD_END, "fragment ends before data already held")
            queue.last_in, queue.length = True, end
        else:
            if end & 7 and fragment.version == 4:  # IPv4 trims a non-final fragment to 8-byte units
                end &= ~7
                data = data[: end - offset]
            if end > queue.length:
                if queue.last_in:
                    return self._discard(fragment.key, Outcome.FRAG_BAD_END, "fragment beyond the datagram's end")
                queue.length = end
        if end == offset:
            return self._discard(fragment.key, Outcome.FRAG_EMPTY, "empty fragment")
        verdict = queue.insert(offset, end)
        if verdict == "dup":
            return self._held(queue, Outcome.FRAG_DUPLICATE, "duplicate fragment ignored; ")
        if verdict == "overlap":
            return self._discard(fragment.key, Outcome.FRAG_OVERLAP, "overlapping fragments (RFC 5722, as Linux)")
        queue.pieces[offset] = data
        if offset == 0:
            queue.first_header, queue.first_options = fragment.header, fragment.options
            queue.first_next_header, queue.first_packet = fragment.next_header, fragment.packet
            queue.first_context = fragment.context
        return None

    @staticmethod
    def _held(queue: _Queue, code: Outcome, note: str) -> Reason:
        total = str(queue.length) if queue.last_in else "?"
        return code.reason(f"fragment held ({note}{len(queue.pieces)} in, {queue.meat}/{total} bytes)")

    def _discard(self, key: tuple, code: Outcome, why: str) -> Reason:
        queue = self._queues.pop(key)
        self._charged[queue.version] -= queue.charge
        return code.reason(f"malformed: {why}: datagram discarded")

    def _join(self, key: tuple, queue: _Queue) -> bytes:
        del self._queues[key]
        self._charged[queue.version] -= queue.charge
        return b"".join(queue.pieces[offset] for offset in sorted(queue.pieces))

    def _expire(self, now: float) -> None:
        """Drop queues whose time is up; keep a Time Exceeded for those that had their first fragment."""
        for key, queue in list(self._queues.items()):
            deadline = queue.created + self._timeout[queue.version]
            if now >= deadline:
                del self._queues[key]
                self._charged[queue.version] -= queue.charge
                if 0 in queue.pieces:
                    self._expired.append(Expired(deadline, queue.version, queue.first_packet, queue.first_context))


def _v6_fragment_problem(offset: int, more: bool, data: bytes, next_header: int) -> str:
    """What ip6_frag_rcv refuses before queueing (with Parameter Problem, not modelled); "" when fine."""
    if more and len(data) % 8:
        return "IPv6 fragment not a multiple of 8 bytes (Linux answers Parameter Problem)"
    if offset + len(data) > 65535:
        return "IPv6 fragment beyond 65535 bytes (Linux answers Parameter Problem)"
    if offset == 0 and next_header == PROTO_ICMPV6 and len(data) < 8:
        return "first IPv6 fragment without the whole ICMPv6 header (RFC 7112)"
    return ""


def strip_fragment_header(packet: bytes, fragment_at: int) -> bytes:
    """The packet without its Fragment header (an atomic fragment), lengths and next-header chain fixed."""
    head = bytearray(packet[:fragment_at])
    _set_last_next_header(head, packet[fragment_at])
    rest = packet[fragment_at + 8 :]
    head[4:6] = (len(head) - IPV6_HEADER + len(rest)).to_bytes(2, "big")
    return bytes(head) + rest


def _set_last_next_header(head: bytearray, next_header: int) -> None:
    """Point the last header of the unfragmentable part at what followed the Fragment header."""
    position, current, offset = 6, head[6], IPV6_HEADER
    while current in _CHAINED and offset < len(head):
        position, current = offset, head[offset]
        offset += (head[offset + 1] + 1) * 8
    head[position] = next_header


class NoReassembly:
    """For a stateless stack (echo_reply): a fragment is never a whole echo request."""

    def add_v4(self, *_: object, **__: object) -> Reason:
        return Outcome.FRAG_NOT_WHOLE.reason("ignored: a fragment, not a whole echo request")

    add_v6 = add_v4

    def expired(self, now: float | None = None) -> list[Expired]:
        return []
