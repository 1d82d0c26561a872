"""Capture files from the wild: multi-section pcapng, gzip, pipes and standard input, times near 2^32 s.

Each of these ended in a traceback (or in silently wrong timestamps) before labkit read captures itself;
tshark is the independent reader the timestamps are checked against.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, PcapWriter

from labkit.capture import PCAP_MAX_SECONDS, CaptureReader, read_capture
from labkit.errors import LabkitError
from labkit.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, answer_capture

PINGER_MAC, HOST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (CI installs it)")


def _frame(seq: int) -> bytes:
    return bytes(
        Ether(src=PINGER_MAC, dst=HOST_MAC)
        / IP(src="10.0.0.1", dst="10.0.0.2", id=seq)
        / ICMP(type=8, id=0x4242, seq=seq)
        / b"labkit-ping-data"
    )


# A pcapng written by hand, so a section can have its own byte order, interfaces and time resolution.
def _block(kind: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", kind, length) + body + struct.pack(endian + "I", length)


def _section(
    frames: list[tuple[int, bytes]], *, linktype: int = LINKTYPE_ETHERNET, tsresol: int | None = None, endian: str = "<"
) -> bytes:
    """frames: (ticks, bytes); one interface; if_tsresol given as the raw option byte."""
    shb = _block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)
    options = b""
    if tsresol is not None:
        options = struct.pack(endian + "HH", 9, 1) + bytes([tsresol, 0, 0, 0]) + struct.pack(endian + "HH", 0, 0)
    idb = _block(1, struct.pack(endian + "HHI", linktype, 0, 0) + options, endian)
    epbs = b"".join(
        _block(
            6, struct.pack(endian + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data, endian
        )
        for ticks, data in frames
    )
    return shb + idb + epbs


T0 = 1_700_000_000


def _two_sections(tmp_path: Path) -> Path:
    """Section 1: microseconds, little-endian. Section 2: nanoseconds, big-endian -- as `cat a.pcapng b.pcapng`."""
    first = _section([(T0 * 10**6 + 250_000, _frame(1))], tsresol=6)
    second = _section([(T0 * 10**9 + 10**9 + 123_456_789, _frame(2))], tsresol=9, endian=">")
    path = tmp_path / "two.pcapng"
    path.write_bytes(first + second)
    return path


def _tshark_epochs_ns(path: Path) -> list[int]:
    result = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(Decimal(line) * 10**9) for line in result.stdout.split()]


def test_multi_section_pcapng_reads_each_section_with_its_own_interfaces(tmp_path):
    capture = read_capture(_two_sections(tmp_path))
    assert [p.ts_ns for p in capture.packets] == [T0 * 10**9 + 250_000_000, (T0 + 1) * 10**9 + 123_456_789]
    assert [p.data for p in capture.packets] == [_frame(1), _frame(2)]


@needs_tshark
def test_multi_section_timestamps_agree_with_tshark(tmp_path):
    path = _two_sections(tmp_path)
    assert [p.ts_ns for p in read_capture(path).packets] == _tshark_epochs_ns(path)


def test_multi_section_pcapng_is_answered(tmp_path):
    summary = answer_capture(_two_sections(tmp_path), tmp_path / "out.pcap", "reference")
    assert (summary.packets_read, summary.replies_written) == (2, 2)
    times = [p.ts_ns for p in read_capture(tmp_path / "out.pcap").packets]
    assert times == sorted(times) and times[0] // 10**9 == T0  # not 1970


def test_a_second_section_with_another_link_type_is_refused_in_one_line(tmp_path):
    raw_ip = _frame(2)[14:]
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(_section([(T0 * 10**6, _frame(1))]) + _section([(T0 * 10**6, raw_ip)], linktype=LINKTYPE_RAW))
    with pytest.raises(LabkitError, match=r"section 2, interface 0: link type 101 .* differs") as error:
        answer_capture(path, tmp_path / "out.pcap", "reference")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out.pcap").exists()


def test_power_of_two_time_resolution(tmp_path):
    path = tmp_path / "pow2.pcapng"
    path.write_bytes(_section([(T0 << 20, _frame(1))], tsresol=0x80 | 20))
    assert read_capture(path).packets[0].ts_ns == T0 * 10**9


def test_cut_second_section_is_an_error(tmp_path):
    data = _two_sections(tmp_path).read_bytes()
    (tmp_path / "cut.pcapng").write_bytes(data[:-6])
    with pytest.raises(LabkitError, match="truncated"):
        read_capture(tmp_path / "cut.pcapng")


# --- compression -----------------------------------------------------------------------------------------


def _pcap(tmp_path: Path, name: str = "in.pcap") -> Path:
    writer = PcapWriter(str(tmp_path / name), sync=True)
    for seq in (1, 2):
        packet = Ether(_frame(seq))
        packet.time = T0 + seq
        writer.write(packet)
    writer.close()
    return tmp_path / name


def test_gzipped_pcap_is_read(tmp_path):
    plain = _pcap(tmp_path)
    zipped = tmp_path / "in.pcap.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_capture(zipped).packets == read_capture(plain).packets


def test_gzipped_pcapng_is_read(tmp_path):
    path = _two_sections(tmp_path)
    zipped = tmp_path / "two.pcapng.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    assert read_capture(zipped).packets == read_capture(path).packets


def test_cut_gzip_is_named(tmp_path):
    data = gzip.compress(_pcap(tmp_path).read_bytes())
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(LabkitError, match="gzip'd capture is cut or corrupt"):
        read_capture(tmp_path / "cut.gz")


def test_gzipped_text_says_gzip(tmp_path):
    (tmp_path / "notes.gz").write_bytes(gzip.compress(b"hello, not a capture\n"))
    with pytest.raises(LabkitError, match=r"notes.gz \(gzip'd\): not a pcap"):
        read_capture(tmp_path / "notes.gz")


def test_xz_is_named_with_the_command_that_undoes_it(tmp_path):
    (tmp_path / "in.pcap.xz").write_bytes(b"\xfd7zXZ\x00\x00" + bytes(20))
    with pytest.raises(LabkitError, match=r"compressed with xz.*xz -dk"):
        read_capture(tmp_path / "in.pcap.xz")


# --- pipes and standard input ------------------------------------------------------------------------------


def _labkit(*args: str, stdin=None, shell: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LABKIT_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    command = [sys.executable, "-c", "import sys; from labkit.cli import main; sys.exit(main())", *args]
    if shell is not None:  # bash process substitution: labkit gets /dev/fd/N, a pipe that can be read once
        command = ["bash", "-c", " ".join(f"'{part}'" for part in command) + " " + shell]
    return subprocess.run(command, stdin=stdin, capture_output=True, env=env, timeout=120)


def test_pcapng_on_a_pipe_is_read_once(tmp_path):
    writer = PcapNgWriter(str(tmp_path / "in.pcapng"))
    for seq in (1, 2, 3):
        writer.write(Ether(_frame(seq)))
    writer.close()
    out = tmp_path / "out.pcap"
    done = _labkit("pcap", "-o", str(out), "--model", "reference", shell=f"<(cat '{tmp_path / 'in.pcapng'}')")
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    assert len(read_capture(out).packets) == 6


def test_dash_means_standard_input(tmp_path):
    out = tmp_path / "out.pcap"
    with open(_pcap(tmp_path), "rb") as stdin:
        done = _labkit("pcap", "-", "-o", str(out), "--model", "reference", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert b"standard input" in done.stdout
    assert len(read_capture(out).packets) == 4


def test_gzip_on_standard_input(tmp_path):
    zipped = tmp_path / "in.pcap.gz"
    zipped.write_bytes(gzip.compress(_pcap(tmp_path).read_bytes()))
    with open(zipped, "rb") as stdin:
        done = _labkit("pcap", "-", "-o", str(tmp_path / "out.pcap"), "--model", "reference", stdin=stdin)
    assert done.returncode == 0, done.stderr


def test_reader_is_lazy(tmp_path):
    """Streaming starts before the end of the file: the reader hands out the first record, then fails at the
    cut -- a reader that loaded the whole file first would fail before handing out anything."""
    data = _pcap(tmp_path).read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[:-5])
    with CaptureReader(tmp_path / "cut.pcap") as reader:
        records = iter(reader)
        assert next(records).data == _frame(1)
        with pytest.raises(LabkitError, match="truncated inside packet 2"):
            next(records)


# --- times near the end of classic pcap's 32-bit seconds ------------------------------------------------------


def _capture_at(tmp_path: Path, seconds: float) -> Path:
    packet = Ether(_frame(1))
    packet.time = seconds
    writer = PcapWriter(str(tmp_path / "late.pcap"), sync=True)
    writer.write(packet)
    writer.close()
    return tmp_path / "late.pcap"


def test_reply_past_2106_is_refused_in_one_line_and_writes_nothing(tmp_path):
    path = _capture_at(tmp_path, PCAP_MAX_SECONDS + 0.5)  # the request fits; request + 1 s latency does not
    with pytest.raises(LabkitError, match="past 2106-02-07") as error:
        answer_capture(path, tmp_path / "out.pcap", "simulated:1:latency=1.0")
    assert "editcap -t" in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.pcap"]


def test_reply_just_before_the_limit_is_written(tmp_path):
    path = _capture_at(tmp_path, PCAP_MAX_SECONDS - 2)
    answer_capture(path, tmp_path / "out.pcap", "simulated:1:latency=1.0")
    stamps = [p.ts_ns // 10**9 for p in read_capture(tmp_path / "out.pcap").packets]
    assert stamps == [PCAP_MAX_SECONDS - 2, PCAP_MAX_SECONDS - 1]


def test_late_reply_through_the_cli_has_no_traceback(tmp_path):
    path = _capture_at(tmp_path, PCAP_MAX_SECONDS + 0.99999)  # the stack answers 20 µs later: in 2106
    done = _labkit("pcap", str(path), "-o", str(tmp_path / "out.pcap"), "--model", "reference")
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert done.stderr.decode().count("\n") == 1 and b"past 2106" in done.stderr


def test_dash_as_output_is_refused_rather_than_a_file_named_dash(tmp_path):
    with pytest.raises(LabkitError, match="standard output"):
        answer_capture(_pcap(tmp_path), "-", "reference")
