"""pcap mode: answer every request in a capture file and write requests plus replies, in virtual time.

Why virtual time: a reply is stamped at request time + the model's latency, so Wireshark shows the RTT the model
would have caused on a real wire, without us waiting for it.

Who answers what: packets a host answers by rule (ARP, NDP, ICMP timestamp, fragment reassembly) go to the
reference stack; unfragmented IPv4/IPv6 echo requests go to the model (``model.attempt``). With the ``reference``
model the reference stack answers everything, which is the fast path measured by benchmarks/pcap_throughput.py.

pcap I/O is stdlib ``struct`` for classic pcap (strict about truncation, ~1 µs a packet) and scapy's
``RawPcapNgReader`` for pcapng input (after a block-framing check, since scapy stops silently on a cut file).
Output is always classic pcap with the input's link type.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar
from labkit.errors import LabkitError
from labkit.gate import classify
from labkit.outcomes import code_of
from labkit.ratelimit import checked_budget

# --- link types --------------------------------------------------------------------------------------------

LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in host byte order
LINKTYPE_ETHERNET = 1  # DLT_EN10MB
LINKTYPE_RAW = 101  # raw IPv4/IPv6 (also written as DLT_RAW 12 or 14 by some systems)
LINKTYPE_LOOP = 108  # OpenBSD loopback: address family in network byte order
LINKTYPE_LINUX_SLL = 113  # Linux cooked capture v1 (tcpdump -i any)
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276  # Linux cooked capture v2

LINKTYPE_NAMES = {
    LINKTYPE_NULL: "NULL (BSD loopback)",
    LINKTYPE_ETHERNET: "Ethernet",
    12: "raw IP (DLT_RAW 12)",
    14: "raw IP (DLT_RAW 14)",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_LOOP: "LOOP (OpenBSD loopback)",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
}

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
VLAN_ETHERTYPES = (0x8100, 0x88A8, 0x9100)
BROADCAST_MAC = b"\xff" * 6

SLL_OUTGOING = 4  # packet type "sent by us": how Wireshark marks the host's own replies in a cooked capture

# How long a kernel takes to answer by rule. Stack-answered replies get this, so they sort after their request.
STACK_LATENCY_S = 20e-6


@dataclass(frozen=True)
class CapturedPacket:
    """One record of a capture: timestamp in integer nanoseconds (no float drift), bytes, and on-wire length."""

    ts_ns: int
    data: bytes
    wirelen: int


@dataclass
class Capture:
    linktype: int
    packets: list[CapturedPacket]
    nanosecond: bool = False  # the input had nanosecond timestamps: keep that precision on output
    snaplen: int = 262144
    format: str = "pcap"  # "pcap" or "pcapng"


# --- reading ---------------------------------------------------------------------------------------------

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_FIX_HINT = "re-capture it, or repair it with `editcap IN OUT` / pcapfix"


def read_capture(path: str | os.PathLike) -> Capture:
    """Read a classic pcap or pcapng file; LabkitError for a missing, foreign or truncated file."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
            if magic in _PCAP_MAGICS:
                return _read_pcap(handle, path, *_PCAP_MAGICS[magic])
    except FileNotFoundError:
        raise LabkitError(f"{path}: no such file; give the path of a .pcap or .pcapng capture") from None
    except IsADirectoryError:
        raise LabkitError(f"{path}: is a directory; give the path of a .pcap or .pcapng capture") from None
    except PermissionError:
        raise LabkitError(f"{path}: permission denied; check the file's permissions") from None
    if magic == _PCAPNG_MAGIC:
        return _read_pcapng(path)
    if len(magic) < 4:
        raise LabkitError(f"{path}: file is empty or too short to be a capture; {_FIX_HINT}")
    raise LabkitError(
        f"{path}: not a pcap or pcapng file (starts with {magic.hex()}); "
        "save the capture as pcap from Wireshark or `tcpdump -w`"
    )


def _read_pcap(handle, path: Path, endian: str, nanosecond: bool) -> Capture:
    header = handle.read(20)
    if len(header) < 20:
        raise LabkitError(f"{path}: truncated pcap file header; {_FIX_HINT}")
    _major, _minor, _zone, _sigfigs, snaplen, linktype = struct.unpack(endian + "HHiIII", header)
    linktype &= 0x0FFFFFFF  # upper bits carry FCS flags, not the link type
    record = struct.Struct(endian + "IIII")
    scale = 1 if nanosecond else 1000
    packets: list[CapturedPacket] = []
    read = handle.read
    while True:
        head = read(16)
        if not head:
            break
        if len(head) < 16:
            raise LabkitError(f"{path}: truncated after packet {len(packets)} (cut inside a record header); {_FIX_HINT}")
        sec, frac, caplen, wirelen = record.unpack(head)
        if caplen > 0x4000000:  # 64 MiB: no link type has frames that large; the file is corrupt
            raise LabkitError(f"{path}: packet {len(packets) + 1} claims {caplen} bytes; the file is corrupt; {_FIX_HINT}")
        data = read(caplen)
        if len(data) < caplen:
            raise LabkitError(
                f"{path}: truncated inside packet {len(packets) + 1} ({len(data)} of {caplen} bytes); {_FIX_HINT}"
            )
        packets.append(CapturedPacket(sec * 1_000_000_000 + frac * scale, data, wirelen))
    return Capture(linktype, packets, nanosecond, snaplen or 262144, "pcap")


def _check_pcapng_framing(path: Path) -> None:
    """Walk pcapng block lengths so a cut file is an error (scapy would stop quietly at the cut)."""
    data = path.read_bytes()
    offset, endian = 0, "<"
    while offset < len(data):
        if len(data) - offset < 12:
            raise LabkitError(f"{path}: truncated pcapng block at byte {offset}; {_FIX_HINT}")
        if data[offset : offset + 4] == _PCAPNG_MAGIC:
            order = data[offset + 8 : offset + 12]
            if order == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif order == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise LabkitError(f"{path}: bad pcapng byte-order magic at byte {offset}; {_FIX_HINT}")
        (length,) = struct.unpack_from(endian + "I", data, offset + 4)
        if length < 12 or length % 4 or offset + length > len(data):
            raise LabkitError(f"{path}: truncated or corrupt pcapng block at byte {offset}; {_FIX_HINT}")
        (trailer,) = struct.unpack_from(endian + "I", data, offset + length - 4)
        if trailer != length:
            raise LabkitError(f"{path}: corrupt pcapng block at byte {offset}; {_FIX_HINT}")
        offset += length


def _read_pcapng(path: Path) -> Capture:
    from scapy.utils import RawPcapNgReader

    _check_pcapng_framing(path)
    packets: list[CapturedPacket] = []
    linktypes: set[int] = set()
    try:
        reader = RawPcapNgReader(str(path))
        with reader:
            for data, meta in reader:
                linktypes.add(meta.linktype)
                ticks = (meta.tshigh << 32) | meta.tslow
                packets.append(CapturedPacket(ticks * 1_000_000_000 // meta.tsresol, data, meta.wirelen))
    except Exception as exc:  # scapy raises assorted errors on malformed blocks; report one line, not a traceback
        raise LabkitError(f"{path}: unreadable pcapng ({exc}); {_FIX_HINT}") from None
    if len(linktypes) > 1:
        raise LabkitError(
            f"{path}: interfaces with different link types {sorted(linktypes)}; "
            "split it per interface (`tshark -r IN -Y frame.interface_id==0 -w OUT`) first"
        )
    linktype = linktypes.pop() if linktypes else next(iter(_interface_linktypes(reader)), LINKTYPE_ETHERNET)
    return Capture(linktype, packets, True, 262144, "pcapng")


def _interface_linktypes(reader) -> list[int]:
    return [interface[0] for interface in getattr(reader, "interfaces", [])]


# --- writing ---------------------------------------------------------------------------------------------


def check_output_path(path: str | os.PathLike, in_path: str | os.PathLike | None = None) -> Path:
    """The file a capture may be written to, checked before any work (or money) is spent on it.

    Why so careful: the write is atomic (a temp file renamed over OUT), and renaming over a device, a pipe or
    /dev/stdout as root would replace it with a regular file; renaming over IN would lose the capture.
    A symlink is followed, so the file it points to is replaced and the link kept.
    """
    if not str(path).strip():
        raise LabkitError("the output path is empty; give a file name such as answered.pcap")
    shown, path = path, Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a device, pipe or socket)"
        raise LabkitError(f"{shown}: is {kind}; write the capture to a regular file, e.g. answered.pcap")
    if in_path is not None and path.exists():
        try:
            same = os.path.samefile(path, in_path)
        except OSError:
            same = False
        if same:
            raise LabkitError(f"{shown}: is also the input; writing it would lose the original capture, "
                              "so choose another output path")
    if not path.parent.is_dir():
        raise LabkitError(f"{shown}: directory {path.parent} does not exist; create it or choose another output path")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise LabkitError(f"{shown}: cannot write in {path.parent} (permission denied); choose another output path")
    return path


def _new_file_mode(path: Path) -> int:
    """Keep the mode of the file being replaced, else what open() would give (0666 minus the umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_capture(path: str | os.PathLike, capture: Capture) -> None:
    """Write classic pcap atomically: a temp file in the same directory, renamed only when complete."""
    path = check_output_path(path)
    directory = path.parent
    magic = 0xA1B23C4D if capture.nanosecond else 0xA1B2C3D4
    divisor = 1 if capture.nanosecond else 1000
    largest = max((len(p.data) for p in capture.packets), default=0)
    snaplen = max(capture.snaplen, largest, 65535)
    record = struct.Struct("<IIII")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise LabkitError(f"{path}: cannot write there ({exc.strerror}); choose another output path") from None
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, capture.linktype))
            chunks = []
            for packet in capture.packets:
                sec, frac = divmod(packet.ts_ns // divisor, 1_000_000_000 // divisor)
                chunks.append(record.pack(sec, frac, len(packet.data), max(packet.wirelen, len(packet.data))))
                chunks.append(packet.data)
            out.write(b"".join(chunks))
        os.replace(temp_name, path)
    except BaseException as exc:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise LabkitError(f"{path}: cannot write ({exc.strerror}); choose another output path") from None
        raise


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


def _ethertype_for(packet: bytes, fallback: int) -> int:
    version = packet[0] >> 4 if packet else 0
    return {4: ETHERTYPE_IPV4, 6: ETHERTYPE_IPV6}.get(version, fallback)


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
            return Unwrapped(frame, "ether")
        end = 12
        while len(frame) >= end + 6 and int.from_bytes(frame[end : end + 2], "big") in VLAN_ETHERTYPES:
            end += 4
        tags = frame[12:end]
        return Unwrapped(frame[:12] + frame[end:], "ether", context=tags)

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        return reply[:12] + context + reply[12:] if context else reply


class RawIPLink(LinkLayer):
    """LINKTYPE_RAW and friends: the record is the IP packet."""

    name = "raw IP"

    def unwrap(self, frame: bytes) -> Unwrapped:
        return Unwrapped(frame, "ip")

    def wrap(self, reply: bytes, link: str, context: bytes) -> bytes:
        return reply


class LoopbackLink(LinkLayer):
    """NULL/LOOP: a 4-byte address family; the reply reuses the request's header (same family)."""

    name = "loopback"

    def unwrap(self, frame: bytes) -> Unwrapped:
        if len(frame) < 4:
            return Unwrapped(None, "ip", reason="runt loopback frame")
        return Unwrapped(frame[4:], "ip", context=frame[:4])

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
        return Unwrapped(synthetic, "ether", context=arphrd.to_bytes(2, "big"))

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
    """What a pcap run did; ``lines()`` is what the CLI prints."""

    input_path: str
    output_path: str
    model: str
    simulated: bool
    strategy: str
    linktype: int
    virtual_time: bool = True
    packets_read: int = 0
    replies_written: int = 0
    answered_by_model: int = 0
    answered_by_stack: int = 0
    unanswered: Counter = field(default_factory=Counter)  # reason -> how many packets
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model_latencies_s: list[float] = field(default_factory=list)

    @property
    def unanswered_total(self) -> int:
        return sum(self.unanswered.values())

    def lines(self) -> list[str]:
        timing = "virtual-time latency: modelled, not waited for" if self.virtual_time else "real latency"
        kind = f"SIMULATED, not Claude; {timing}" if self.simulated else timing
        if self.model == "reference":
            kind = "deterministic reference stack, not an LLM"
        link = LINKTYPE_NAMES.get(self.linktype, str(self.linktype))
        out = [
            f"labkit pcap: {self.input_path} -> {self.output_path} ({link})",
            f"model: {self.model} [{kind}], strategy: {self.strategy}",
            f"packets read:     {self.packets_read}",
            f"replies written:  {self.replies_written} "
            f"(requests answered: {self.answered_by_model} by the model, {self.answered_by_stack} by the reference stack)",
            f"unanswered:       {self.unanswered_total}",
        ]
        width = len(str(max(self.unanswered.values(), default=0)))
        for reason, count in sorted(self.unanswered.items(), key=lambda item: (-item[1], item[0])):
            out.append(f"  {count:>{width}}  {reason}")
        if self.answered_by_model or self.model_latencies_s:
            latencies = sorted(self.model_latencies_s)
            median = latencies[len(latencies) // 2] if latencies else 0.0
            cost = f"${self.cost_usd:.4f}" + (" (simulated)" if self.simulated else "")
            out.append(
                f"model calls: {len(latencies)}, median latency {median * 1000:.1f} ms, "
                f"tokens in/out {self.input_tokens}/{self.output_tokens}, cost {cost}"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class _ModelJob:
    request: CapturedPacket
    unwrapped: Unwrapped
    packet: bytes  # the IP echo request handed to the model


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
) -> PcapSummary:
    """Answer every packet of in_path a host would answer and write requests + replies to out_path.

    ``model`` is a Model or a registry name (None: the registry's default); ``seed`` goes to the registry when
    a name is given. ``workers`` parallel model calls (None: 1 for virtual-time models, 4 for real ones).
    ``budget_usd``: no model call starts once the estimated cost reaches it (the rest stay unanswered).
    Nothing is written unless the whole run succeeds.
    """
    checked_budget(budget_usd)
    capture = read_capture(in_path)
    check_output_path(out_path, in_path)  # before any model call: a run must not be paid for and then lost
    link = link_layer_for(capture.linktype)  # bad input fails before a model (which may need a key) is set up
    from labkit.stack import HostConfig, ReferenceStack

    model = _resolve_model(model, seed)
    config = HostConfig(answer_any=True)
    link.host_mac = bytes.fromhex(config.mac.replace(":", ""))
    summary = PcapSummary(
        input_path=str(in_path),
        output_path=str(out_path),
        model=model.name,
        simulated=bool(getattr(model, "simulated", False)),
        strategy="reference stack" if is_reference(model) else strategy,
        linktype=capture.linktype,
        virtual_time=bool(getattr(model, "virtual_time", False)),
        packets_read=len(capture.packets),
    )
    if workers is None:
        workers = 1 if getattr(model, "virtual_time", True) else 4
    replies, jobs = _answer_by_rule(capture, link, ReferenceStack(config), summary, use_model=not is_reference(model))
    replies.extend(_answer_by_model(jobs, link, model, strategy, summary, workers, progress, budget_usd))
    summary.replies_written = len(replies)
    records = sorted(capture.packets + replies, key=lambda packet: packet.ts_ns)  # stable: request before reply
    write_capture(out_path, Capture(capture.linktype, records, capture.nanosecond, capture.snaplen))
    return summary


def _resolve_model(model, seed: int | None):
    if model is not None and not isinstance(model, str):
        return model
    from labkit.models.registry import get_model

    return get_model(model, seed=seed) if seed is not None else get_model(model)


def _answer_by_rule(
    capture: Capture, link: LinkLayer, stack, summary: PcapSummary, *, use_model: bool
) -> tuple[list[CapturedPacket], list[_ModelJob]]:
    """One pass in capture order (the stack keeps fragment state): rule-answered replies, and echo requests
    left for the model."""
    replies: list[CapturedPacket] = []
    jobs: list[_ModelJob] = []
    stack_delay_ns = round(STACK_LATENCY_S * 1e9)
    for packet in capture.packets:
        if packet.wirelen > len(packet.data):
            summary.unanswered["cut short by the capture's snap length (capture with -s 0)"] += 1
            continue
        unwrapped, result, for_model = classify(link, stack, packet.data)
        if result is None:
            summary.unanswered[reason_key(unwrapped.reason)] += 1
            continue
        if use_model and for_model is not None:
            jobs.append(_ModelJob(packet, unwrapped, for_model))
            continue
        if not result.replies:
            summary.unanswered[reason_key(result.reason)] += 1
            continue
        summary.answered_by_stack += 1
        for reply in result.replies:
            frame = link.wrap(reply, unwrapped.link, unwrapped.context)
            replies.append(CapturedPacket(packet.ts_ns + stack_delay_ns, frame, len(frame)))
    return replies, jobs


def _answer_by_model(
    jobs: list[_ModelJob], link: LinkLayer, model, strategy: str, summary: PcapSummary, workers: int,
    progress: bool, budget_usd: float | None,
) -> list[CapturedPacket]:
    """Ask the model for each echo reply (a thread pool for real models); stop asking at the budget."""
    if not jobs:
        return []
    from tqdm.auto import tqdm

    attempts: list = [None] * len(jobs)

    def over_budget() -> bool:
        return budget_usd is not None and summary.cost_usd >= budget_usd

    with tqdm(total=len(jobs), desc=model.name, unit="req", disable=not progress, file=sys.stderr) as bar:
        for position, attempt in bounded_pool(jobs, lambda job: model.attempt(job.packet, strategy), workers,
                                              over_budget):
            attempts[position] = attempt
            summary.cost_usd += attempt.cost_usd or 0.0
            bar.update()
    replies: list[CapturedPacket] = []
    for job, attempt in zip(jobs, attempts):
        if attempt is None:
            summary.unanswered["model not asked: --budget-usd reached"] += 1
            continue
        summary.model_latencies_s.append(attempt.latency_s)
        summary.input_tokens += attempt.usage.input_tokens
        summary.output_tokens += attempt.usage.output_tokens
        if attempt.reply is None:
            summary.unanswered[f"model reply unusable: {reason_key(attempt.parse_error or 'no reply')}"] += 1
            continue
        summary.answered_by_model += 1
        if job.unwrapped.link == "ether":
            frame = ethernet_reply(job.unwrapped.stack_input, attempt.reply, link.host_mac)
            frame = link.wrap(frame, "ether", job.unwrapped.context)
        else:
            frame = link.wrap(attempt.reply, "ip", job.unwrapped.context)
        ts_ns = job.request.ts_ns + round(attempt.latency_s * 1e9)
        replies.append(CapturedPacket(ts_ns, frame, len(frame)))
    return replies


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
