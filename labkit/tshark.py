"""tshark, Wireshark's text-mode twin, as notebook 07 uses it: a listing, the packets with bad checksums, the
detail view, and the round-trip times Wireshark computes.

Why a module: the options matter and are easy to forget. Wireshark has not validated IPv4 header checksums by
default since 1.2 (checksum offloading makes a host's own outgoing packets look wrong: Wireshark wiki,
CaptureSetup/Offloading), so a filter for bad checksums silently misses a wrong IP header checksum unless
validation is switched on with `-o ip.check_checksum:TRUE`. Every call here switches it on.
"""

from __future__ import annotations

import shutil
import subprocess
from os import PathLike

VALIDATE = ("-o", "ip.check_checksum:TRUE")
BAD_CHECKSUM = "ip.checksum.status == 0 || icmp.checksum.status == 0 || icmpv6.checksum.status == 0"


def available() -> bool:
    """True when tshark is installed (Debian: `apt-get install tshark`; Binder: binder/apt.txt)."""
    return shutil.which("tshark") is not None


def _run(path: str | PathLike, *args: str, validate: bool = True) -> str:
    command = ["tshark", "-r", str(path), *(VALIDATE if validate else ()), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"tshark failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def listing(path: str | PathLike) -> str:
    """One line per packet, as Wireshark's packet list shows it."""
    return _run(path)


def bad_checksums(path: str | PathLike, *, validate: bool = True) -> str:
    """The packets whose IPv4, ICMP or ICMPv6 checksum Wireshark marks as bad (validation switched on; with
    validate=False, tshark's own defaults, which leave IPv4 header checksums unchecked)."""
    return _run(path, "-Y", BAD_CHECKSUM, validate=validate)


def detail(path: str | PathLike, frame: int) -> str:
    """Wireshark's detail pane (`tshark -V`) for one frame: every field, with checksum verdicts."""
    return _run(path, "-V", "-Y", f"frame.number == {int(frame)}")


def response_times_ms(path: str | PathLike) -> list[tuple[int, float]]:
    """(icmp_seq, RTT in ms) for every echo reply Wireshark matched to its request (the field icmp.resptime)."""
    rows = _run(path, "-Y", "icmp.resptime", "-T", "fields", "-e", "icmp.seq", "-e", "icmp.resptime")
    pairs = [line.split("\t") for line in rows.splitlines() if "\t" in line]
    return [(int(seq.split(",")[0]), float(ms)) for seq, ms in pairs if seq and ms]


def round_trips_ms(path: str | PathLike) -> list[tuple[int, float]]:
    """(icmp_seq, RTT in ms) computed as Wireshark does, without Wireshark: each echo reply's time minus the
    time of the request with the same identifier and sequence number. The fallback when tshark is missing."""
    from scapy.layers.inet import ICMP
    from scapy.utils import rdpcap

    sent: dict[tuple[int, int], float] = {}
    found = []
    for packet in rdpcap(str(path)):
        if ICMP not in packet:
            continue
        icmp = packet[ICMP]
        key = (int(icmp.id), int(icmp.seq))
        if icmp.type == 8:
            sent.setdefault(key, float(packet.time))
        elif icmp.type == 0 and key in sent:
            found.append((key[1], round((float(packet.time) - sent[key]) * 1000, 3)))
    return found
