"""pcap mode in bounded memory: peak RSS and throughput of `labkit pcap --model reference` from 10,000 to
1,000,000 packets, and the scapy loop a user would otherwise write, in the same run.

    python benchmarks/pcap_memory.py [--sizes 10000 100000 1000000] [--runs 3] [--scapy-n 10000]

Each figure is the median of --runs runs of a fresh process (the whole command: start-up, imports, read,
answer, write), with its CPU time and peak RSS from wait4(); throughput is per CPU second, since on a shared
machine other jobs stretch wall time (wall time is printed too). The captures come from make_capture.py: the first
10,000 frames are generated, then repeated with rising timestamps, so every size has the same traffic mix.
Goals: peak RSS at the largest size <= 1.5x the smallest; packets/s not falling with size; labkit many times
faster than the scapy loop (PcapReader, build each reply, PcapWriter) on the same capture.
Exit 1 when the memory or throughput goal is missed. Not run in CI (a test runs it at tiny sizes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402
from make_capture import make_capture  # noqa: E402

MEMORY_GOAL = 1.5  # peak RSS at the largest size, at most this times the smallest
THROUGHPUT_FLOOR = 0.8  # packets/s at the largest size, at least this times the smallest (noise allowance)

LABKIT = "import sys; from labkit.cli import main; sys.exit(main())"

# What a user would write with scapy alone: read each packet, build the reply a host sends, write both.
SCAPY_LOOP = r"""
import sys
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.utils import PcapReader, PcapWriter

def reply_to(p):
    if ICMP in p and p[ICMP].type == 8:
        return (Ether(src=p.dst, dst=p.src) / IP(src=p[IP].dst, dst=p[IP].src, tos=p[IP].tos)
                / ICMP(type=0, id=p[ICMP].id, seq=p[ICMP].seq) / bytes(p[ICMP].payload))
    if ICMPv6EchoRequest in p:
        request = p[ICMPv6EchoRequest]
        return (Ether(src=p.dst, dst=p.src) / IPv6(src=p[IPv6].dst, dst=p[IPv6].src)
                / ICMPv6EchoReply(id=request.id, seq=request.seq, data=request.data))
    if ARP in p and p[ARP].op == 1:
        return (Ether(src="02:00:00:00:00:02", dst=p.src) / ARP(op=2, hwsrc="02:00:00:00:00:02", psrc=p[ARP].pdst,
                                                                 hwdst=p[ARP].hwsrc, pdst=p[ARP].psrc))
    return None

with PcapReader(sys.argv[1]) as reader, PcapWriter(sys.argv[2]) as writer:
    for packet in reader:
        writer.write(packet)
        reply = reply_to(packet)
        if reply is not None:
            reply.time = packet.time + 20e-6
            writer.write(reply)
"""


def run_process(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one child process, from wait4's rusage (its own).

    CPU seconds (user + system) are what to compare on a shared machine: other jobs stretch wall time."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{command[:4]}... failed with exit code {child.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def medians(command: list[str], runs: int) -> tuple[float, float, int]:
    results = [run_process(command) for _ in range(runs)]
    return tuple(statistics.median(r[i] for r in results) for i in range(3))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scapy-n", type=int, default=10_000, help="packets for the scapy loop (it is slow)")
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    print(machine_line(), flush=True)
    print(f"labkit pcap --model reference, whole command, fresh process each run; medians of {args.runs} runs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.pcap"
        for n in sizes:
            capture = make_capture(Path(tmp) / f"in-{n}.pcap", n, seed=0, distinct=10_000)
            seconds, cpu, rss = medians(
                [sys.executable, "-c", LABKIT, "pcap", str(capture), "-o", str(out), "--model", "reference"], args.runs
            )
            rows.append((n, cpu, rss))
            print(
                f"  {n:>9,} packets  wall {seconds:8.2f} s  CPU {cpu:8.2f} s  {n / cpu:>9,.0f} packets/CPU-s  "
                f"peak RSS {rss / 1024:6.1f} MiB",
                flush=True,
            )
            capture.unlink()
        scapy_capture = make_capture(Path(tmp) / "scapy.pcap", args.scapy_n, seed=0, distinct=10_000)
        _, labkit_s, _ = medians(
            [sys.executable, "-c", LABKIT, "pcap", str(scapy_capture), "-o", str(out), "--model", "reference"],
            args.runs,
        )
        _, scapy_s, scapy_rss = medians([sys.executable, "-c", SCAPY_LOOP, str(scapy_capture), str(out)], args.runs)
    (n0, s0, rss0), (n1, s1, rss1) = rows[0], rows[-1]
    memory_ratio, speed_ratio = rss1 / rss0, (n1 / s1) / (n0 / s0)
    print(f"peak RSS {n1:,} / {n0:,} packets: {memory_ratio:.2f}x (goal <= {MEMORY_GOAL}x)")
    print(f"packets/CPU-s {n1:,} / {n0:,} packets: {speed_ratio:.2f}x (goal: not falling, >= {THROUGHPUT_FLOOR}x)")
    print(
        f"scapy loop (PcapReader, build each reply, PcapWriter), {args.scapy_n:,} packets: CPU {scapy_s:.2f} s "
        f"{args.scapy_n / scapy_s:,.0f} packets/CPU-s, peak RSS {scapy_rss / 1024:.1f} MiB; "
        f"labkit CPU {labkit_s:.2f} s: {scapy_s / labkit_s:.1f}x faster (whole commands, start-up included)"
    )
    print(
        f"steady throughput, labkit at {n1:,} packets / scapy loop: {(n1 / s1) / (args.scapy_n / scapy_s):.1f}x "
        "(packets per CPU second)"
    )
    return 0 if memory_ratio <= MEMORY_GOAL and speed_ratio >= THROUGHPUT_FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
