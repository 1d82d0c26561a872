"""Capture files in and out, one record at a time: classic pcap and pcapng in (plain or gzip'd, from a file, a
pipe or `-` for standard input), classic pcap out, written atomically.

Why our own reader and writer: pcap mode streams, so memory stays bounded by the model's latency window and
not by the capture; a pipe can be read only once; and every fault must be one line (LabkitError), never a
traceback -- scapy's pcapng reader stops silently at a cut block and reads a second section's timestamps with
the first section's interfaces. The formats: classic pcap (wiki.wireshark.org/Development/LibpcapFileFormat)
and pcapng (IETF draft-ietf-opsawg-pcapng: blocks SHB 0x0A0D0D0A, IDB 1, PB 2, SPB 3, EPB 6; if_tsresol 9,
if_tsoffset 14). Every section of a pcapng has its own byte order and interfaces.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from labkit.errors import LabkitError

# --- link types (tcpdump.org/linktypes.html) ---------------------------------------------------------------

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

STDIN = "-"
DEFAULT_SNAPLEN = 262144  # libpcap's MAXIMUM_SNAPLEN: what tcpdump -s 0 writes
MAX_RECORD = 0x4000000  # 64 MiB: no link type has frames that large; a record claiming more is corruption
PCAP_MAX_SECONDS = 0xFFFFFFFF  # classic pcap stores seconds in 32 bits: 2106-02-07 06:28:15 UTC is the last
_FIX_HINT = "re-capture it, or repair it with `editcap IN OUT` / pcapfix"


@dataclass(frozen=True)
class CapturedPacket:
    """One record of a capture: timestamp in integer nanoseconds (no float drift), bytes, and on-wire length."""

    ts_ns: int
    data: bytes
    wirelen: int


@dataclass
class Capture:
    """A whole capture in memory: for tests, notebooks and small files. pcap mode streams instead."""

    linktype: int
    packets: list[CapturedPacket]
    nanosecond: bool = False  # the input had nanosecond timestamps: keep that precision on output
    snaplen: int = DEFAULT_SNAPLEN
    format: str = "pcap"  # "pcap" or "pcapng"


# --- opening: one open, compression named or undone --------------------------------------------------------

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_COMPRESSION = {  # what Wireshark may read but labkit does not: named, with the command that undoes it
    b"\xfd7zX": ("xz", "xz -dk"),
    b"BZh": ("bzip2", "bzip2 -dk"),
    b"\x28\xb5\x2f\xfd": ("zstd", "zstd -d"),
    b"\x04\x22\x4d\x18": ("lz4", "lz4 -d"),
}


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read (to sniff the format): a pipe cannot seek back."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix, self._stream = prefix, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count], self._prefix = self._prefix[:count], self._prefix[count:]
            return count
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def display_name(path: str | os.PathLike) -> str:
    return "standard input" if str(path) == STDIN else str(path)


def _open_raw(path: str | os.PathLike) -> BinaryIO:
    if str(path) == STDIN:
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # once: a pipe (/dev/stdin, <(...)) cannot be opened twice
    except FileNotFoundError:
        raise LabkitError(f"{path}: no such file; give the path of a .pcap or .pcapng capture") from None
    except IsADirectoryError:
        raise LabkitError(f"{path}: is a directory; give the path of a .pcap or .pcapng capture") from None
    except PermissionError:
        raise LabkitError(f"{path}: permission denied; check the file's permissions") from None
    except OSError as exc:
        raise LabkitError(f"{path}: cannot open ({exc.strerror}); give the path of a capture") from None


def _read_exactly(stream: BinaryIO | io.BufferedIOBase, count: int) -> bytes:
    data = stream.read(count)
    while data is not None and 0 < len(data) < count:  # a pipe hands out what it has
        more = stream.read(count - len(data))
        if not more:
            break
        data += more
    return data or b""


class CaptureReader:
    """Records of one capture, read once, in file order. Use as a context manager; iterate for CapturedPackets.

    ``linktype``, ``nanosecond``, ``snaplen`` and ``format`` are known once it is opened (for pcapng: from its
    first interface). A pcapng whose later interface (in any section) has another link type is refused when
    that interface's first packet comes: the output has one link type.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.name = display_name(path)
        self._handle = _open_raw(path)
        self._stream: BinaryIO | io.BufferedIOBase = self._handle  # or a GzipFile over it
        self.compressed = ""
        try:
            self._records = self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> Iterator[CapturedPacket]:
        magic = self._sniff()
        if magic in _PCAP_MAGICS:
            endian, self.nanosecond = _PCAP_MAGICS[magic]
            self.format = "pcap"
            return self._pcap_records(endian)
        if magic == _PCAPNG_MAGIC:
            self.format, self.nanosecond = "pcapng", True
            return _PcapngParser(self.name, self._read).start(self)
        shown = f"{self.name} (gzip'd)" if self.compressed else self.name
        if len(magic) < 4:
            raise LabkitError(f"{shown}: file is empty or too short to be a capture; {_FIX_HINT}")
        raise LabkitError(
            f"{shown}: not a pcap or pcapng file (starts with {magic.hex()}); "
            "save the capture as pcap from Wireshark or `tcpdump -w`"
        )

    def _sniff(self) -> bytes:
        magic = self._read(4)
        if magic[:2] == _GZIP_MAGIC:
            self.compressed = "gzip"
            self._stream = gzip.GzipFile(fileobj=io.BufferedReader(_Prefixed(magic, self._handle)))
            return self._read(4)
        for prefix, (kind, command) in _OTHER_COMPRESSION.items():
            if magic.startswith(prefix):
                raise LabkitError(
                    f"{self.name}: is compressed with {kind}, which labkit does not read; "
                    f"decompress it first (`{command} FILE`) or save it uncompressed from Wireshark"
                )
        return magic

    def _read(self, count: int) -> bytes:
        try:
            return _read_exactly(self._stream, count)
        except (EOFError, zlib.error, OSError) as exc:
            raise self._unreadable(exc) from None

    def _unreadable(self, error: Exception) -> LabkitError:
        if isinstance(error, (EOFError, zlib.error, gzip.BadGzipFile)):
            return LabkitError(f"{self.name}: the gzip'd capture is cut or corrupt ({error}); {_FIX_HINT}")
        return LabkitError(f"{self.name}: cannot read ({getattr(error, 'strerror', None) or error})")

    def _guarded(self, records: Iterator[CapturedPacket]) -> Iterator[CapturedPacket]:
        """The records, with a read error (a corrupt gzip stream, an I/O error) as one line."""
        try:
            yield from records
        except (EOFError, zlib.error, OSError) as exc:
            raise self._unreadable(exc) from None

    def _pcap_records(self, endian: str) -> Iterator[CapturedPacket]:
        header = self._read(20)
        if len(header) < 20:
            raise LabkitError(f"{self.name}: truncated pcap file header; {_FIX_HINT}")
        _major, _minor, _zone, _sigfigs, snaplen, linktype = struct.unpack(endian + "HHiIII", header)
        self.linktype = linktype & 0x0FFFFFFF  # upper bits carry FCS flags, not the link type
        self.snaplen = snaplen or DEFAULT_SNAPLEN
        return self._pcap_body(struct.Struct(endian + "IIII"), 1 if self.nanosecond else 1000)

    def _pcap_body(self, record: struct.Struct, scale: int) -> Iterator[CapturedPacket]:
        count, read = 0, self._stream.read  # a blocking read(n) returns n bytes unless the stream ends
        while True:
            head = read(16)
            if not head:
                return
            if len(head) < 16:
                raise LabkitError(
                    f"{self.name}: truncated after packet {count} (cut inside a record header); {_FIX_HINT}"
                )
            sec, frac, caplen, wirelen = record.unpack(head)
            count += 1
            if caplen > MAX_RECORD:
                raise LabkitError(
                    f"{self.name}: packet {count} claims {caplen} bytes; the file is corrupt; {_FIX_HINT}"
                )
            data = read(caplen)
            if len(data) < caplen:
                raise LabkitError(
                    f"{self.name}: truncated inside packet {count} ({len(data)} of {caplen} bytes); {_FIX_HINT}"
                )
            yield CapturedPacket(sec * 1_000_000_000 + frac * scale, data, wirelen)

    def __iter__(self) -> Iterator[CapturedPacket]:
        return self._guarded(self._records)

    def close(self) -> None:
        if self._handle is not sys.stdin.buffer:
            self._handle.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    ns_per_tick: tuple[int, int] = (1000, 1)  # ns = ticks * numerator // denominator (default: microseconds)
    offset_ns: int = 0


@dataclass
class _PcapngParser:
    """Block by block; each Section Header Block starts afresh (byte order, interfaces), as Wireshark reads it."""

    name: str
    _read: Callable[[int], bytes]
    endian: str = "<"
    section: int = 0
    interfaces: list[_Interface] = field(default_factory=list)
    last_ts_ns: int = 0

    def start(self, reader: CaptureReader) -> Iterator[CapturedPacket]:
        """Read up to the first interface (its link type is the output's), then hand out packets lazily."""
        self._section_header()
        self.linktype = -1  # not known yet: packets before the first interface description are refused below
        while not self.interfaces and (block := self._next_block()) is not None:
            if block[0] == 1:
                self._interface(block[1])
            elif block[0] in (2, 3, 6):
                raise LabkitError(f"{self._where()}: a packet comes before any interface description; {_FIX_HINT}")
        interface = self.interfaces[0] if self.interfaces else _Interface(LINKTYPE_ETHERNET, DEFAULT_SNAPLEN)
        self.linktype = reader.linktype = interface.linktype
        reader.snaplen = interface.snaplen or DEFAULT_SNAPLEN
        return self._all()

    def _all(self) -> Iterator[CapturedPacket]:
        while (block := self._next_block()) is not None:
            yield from self._packets(*block)

    def _where(self) -> str:
        return f"{self.name}: section {self.section}"

    def _section_header(self) -> None:
        head = self._read(8)  # length, then the byte-order magic (the block type was read as the file magic)
        if len(head) < 8:
            raise LabkitError(f"{self.name}: truncated pcapng section header; {_FIX_HINT}")
        order = head[4:8]
        if order not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            raise LabkitError(f"{self.name}: bad pcapng byte-order magic in section {self.section + 1}; {_FIX_HINT}")
        self.endian = "<" if order == b"\x4d\x3c\x2b\x1a" else ">"
        self.section += 1
        self.interfaces = []
        (length,) = struct.unpack(self.endian + "I", head[:4])
        self._body(length, 12)

    def _body(self, length: int, done: int) -> bytes:
        """The rest of a block whose first `done` bytes were read, trailer checked and cut off."""
        if length < 12 or length % 4 or length < done + 4 or length > MAX_RECORD:
            raise LabkitError(f"{self._where()}: corrupt pcapng block length {length}; {_FIX_HINT}")
        rest = self._read(length - done)
        if len(rest) < length - done:
            raise LabkitError(f"{self._where()}: truncated pcapng block; {_FIX_HINT}")
        (trailer,) = struct.unpack(self.endian + "I", rest[-4:])
        if trailer != length:
            raise LabkitError(f"{self._where()}: corrupt pcapng block (lengths {length} and {trailer}); {_FIX_HINT}")
        return rest[:-4]

    def _next_block(self) -> tuple[int, bytes] | None:
        """(block type, body) of the next non-section block, or None at the end of the file."""
        while True:
            head = self._read(4)
            if not head:
                return None
            if head == _PCAPNG_MAGIC:
                self._section_header()
                continue
            more = self._read(4)
            if len(head) < 4 or len(more) < 4:
                raise LabkitError(f"{self._where()}: truncated pcapng block header; {_FIX_HINT}")
            (block_type,) = struct.unpack(self.endian + "I", head)
            (length,) = struct.unpack(self.endian + "I", more)
            return block_type, self._body(length, 8)

    def _packets(self, block_type: int, body: bytes) -> list[CapturedPacket]:
        if block_type == 1:
            self._interface(body)
            return []
        if block_type == 6:  # Enhanced Packet Block
            if_id, high, low, caplen, wirelen = struct.unpack_from(self.endian + "IIIII", body, 0)
            return [self._packet(body, if_id, high, low, caplen, wirelen, 20)]
        if block_type == 2:  # obsolete Packet Block: 16-bit interface id and drops count
            if_id, _drops, high, low, caplen, wirelen = struct.unpack_from(self.endian + "HHIIII", body, 0)
            return [self._packet(body, if_id, high, low, caplen, wirelen, 20)]
        if block_type == 3:  # Simple Packet Block: interface 0, no timestamp (keep the previous one)
            (wirelen,) = struct.unpack_from(self.endian + "I", body, 0)
            interface = self._interface_at(0)
            caplen = min(wirelen, len(body) - 4, interface.snaplen or wirelen)
            return [self._checked(0, self.last_ts_ns, body[4 : 4 + caplen], wirelen)]
        return []  # name resolution, statistics, custom blocks: nothing to answer

    def _packet(
        self, body: bytes, if_id: int, high: int, low: int, caplen: int, wirelen: int, start: int
    ) -> CapturedPacket:
        if start + caplen > len(body):
            raise LabkitError(f"{self._where()}: packet claims {caplen} bytes in a shorter block; {_FIX_HINT}")
        interface = self._interface_at(if_id)
        numerator, denominator = interface.ns_per_tick
        ts_ns = ((high << 32) | low) * numerator // denominator + interface.offset_ns
        return self._checked(if_id, ts_ns, body[start : start + caplen], wirelen)

    def _checked(self, if_id: int, ts_ns: int, data: bytes, wirelen: int) -> CapturedPacket:
        linktype = self._interface_at(if_id).linktype
        if linktype != self.linktype:
            raise LabkitError(
                f"{self._where()}, interface {if_id}: link type {linktype} "
                f"({LINKTYPE_NAMES.get(linktype, 'unknown')}) differs from the first interface's {self.linktype}; "
                "the output has one link type, so split it first "
                "(`tshark -r IN -Y frame.interface_id==0 -w OUT`, or editcap per section)"
            )
        self.last_ts_ns = ts_ns
        return CapturedPacket(ts_ns, data, wirelen)

    def _interface_at(self, if_id: int) -> _Interface:
        if if_id >= len(self.interfaces):
            raise LabkitError(
                f"{self._where()}: a packet names interface {if_id}, which the section does not describe; {_FIX_HINT}"
            )
        return self.interfaces[if_id]

    def _interface(self, body: bytes) -> None:
        if len(body) < 8:
            raise LabkitError(f"{self._where()}: truncated interface description; {_FIX_HINT}")
        linktype, _reserved, snaplen = struct.unpack_from(self.endian + "HHI", body, 0)
        interface = _Interface(linktype, snaplen)
        for code, value in _options(body, 8, self.endian):
            if code == 9 and value:  # if_tsresol: 10^-n, or 2^-n with the high bit set
                exponent = value[0] & 0x7F
                interface.ns_per_tick = (10**9, 1 << exponent) if value[0] & 0x80 else (10**9, 10**exponent)
            elif code == 14 and len(value) == 8:  # if_tsoffset: seconds added to every timestamp
                interface.offset_ns = struct.unpack(self.endian + "q", value)[0] * 1_000_000_000
        self.interfaces.append(interface)


def _options(body: bytes, offset: int, endian: str) -> Iterator[tuple[int, bytes]]:
    while offset + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, offset)
        if code == 0:
            return
        yield code, body[offset + 4 : offset + 4 + length]
        offset += 4 + (length + 3) // 4 * 4


def read_capture(path: str | os.PathLike) -> Capture:
    """A whole capture in memory (for small files, tests and notebooks); LabkitError for a bad one."""
    with CaptureReader(path) as reader:
        packets = list(reader)
        return Capture(reader.linktype, packets, reader.nanosecond, reader.snaplen, reader.format)


# --- writing ---------------------------------------------------------------------------------------------


def check_output_path(path: str | os.PathLike, in_path: str | os.PathLike | None = None) -> Path:
    """The file a capture may be written to, checked before any work (or money) is spent on it.

    Why so careful: the write is atomic (a temp file renamed over OUT), and renaming over a device, a pipe or
    /dev/stdout as root would replace it with a regular file; renaming over IN would lose the capture.
    A symlink is followed, so the file it points to is replaced and the link kept.
    """
    if not str(path).strip():
        raise LabkitError("the output path is empty; give a file name such as answered.pcap")
    if str(path) == STDIN:
        raise LabkitError(
            "-o -: the output cannot go to standard output (it is written to a file and renamed "
            "into place when complete); give a file name such as answered.pcap"
        )
    shown, path = path, Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a device, pipe or socket)"
        raise LabkitError(f"{shown}: is {kind}; write the capture to a regular file, e.g. answered.pcap")
    if in_path is not None and str(in_path) != STDIN and path.exists():
        try:
            same = os.path.samefile(path, in_path)
        except OSError:
            same = False
        if same:
            raise LabkitError(
                f"{shown}: is also the input; writing it would lose the original capture, so choose another output path"
            )
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


def pcap_seconds_check(ts_ns: int, what: str = "a record") -> None:
    """Refuse, in one line, a time classic pcap cannot store (its seconds field is 32 bits)."""
    if not 0 <= ts_ns // 1_000_000_000 <= PCAP_MAX_SECONDS:
        raise LabkitError(
            f"{what} would be stamped {ts_ns / 1e9:.6f} s after 1970, past 2106-02-07 06:28:15 UTC, the last "
            "time classic pcap can hold; shift the capture's times back first (e.g. `editcap -t -86400 IN OUT`)"
        )


class CaptureWriter:
    """Classic pcap, written as records come and renamed into place only on commit(): all or nothing.

    As a context manager it commits when the block ends normally and removes the temp file otherwise.
    """

    def __init__(
        self, path: str | os.PathLike, linktype: int, nanosecond: bool = False, snaplen: int = DEFAULT_SNAPLEN
    ) -> None:
        self.path = check_output_path(path)
        self.count = 0
        self._divisor = 1 if nanosecond else 1000
        self._record = struct.Struct("<IIII")
        try:
            fd, self._temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        except OSError as exc:
            raise LabkitError(f"{self.path}: cannot write there ({exc.strerror}); choose another output path") from None
        os.fchmod(fd, _new_file_mode(self.path))
        self._out = os.fdopen(fd, "wb", buffering=1 << 20)
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        self._guarded(
            self._out.write, struct.pack("<IHHiIII", magic, 2, 4, 0, 0, max(snaplen, DEFAULT_SNAPLEN), linktype)
        )

    def write(self, ts_ns: int, data: bytes, wirelen: int = 0) -> None:
        sec, frac = divmod(ts_ns // self._divisor, 1_000_000_000 // self._divisor)
        if sec > PCAP_MAX_SECONDS or sec < 0:
            pcap_seconds_check(ts_ns, f"packet {self.count + 1} of the output")
        length = len(data)
        try:
            self._out.write(self._record.pack(sec, frac, length, wirelen if wirelen > length else length) + data)
        except OSError as exc:
            raise self._failed(exc) from None
        self.count += 1

    def _guarded(self, action, *args) -> None:
        try:
            action(*args)
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, error: OSError) -> LabkitError:
        """Remove the partial file; the error to raise (a full disk is not a traceback)."""
        self.abort()
        return LabkitError(f"{self.path}: cannot write ({error.strerror}); choose another output path")

    def commit(self) -> None:
        self._guarded(self._out.close)
        self._guarded(os.replace, self._temp, self.path)

    def abort(self) -> None:
        try:
            self._out.close()
        except OSError:
            pass
        try:
            os.unlink(self._temp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, exc_type, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_capture(path: str | os.PathLike, capture: Capture) -> None:
    """Write a whole Capture as classic pcap, atomically."""
    largest = max((len(p.data) for p in capture.packets), default=0)
    with CaptureWriter(path, capture.linktype, capture.nanosecond, max(capture.snaplen, largest)) as writer:
        for packet in capture.packets:
            writer.write(packet.ts_ns, packet.data, packet.wirelen)
