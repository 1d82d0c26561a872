"""pcap mode throughput: a deterministic 10,000-packet capture through `labkit pcap --model reference`.

    python benchmarks/pcap_throughput.py [--n 10000] [--runs 5]

Goal: >= 10,000 packets/s for the whole command (process start, imports, read, answer, write). Also prints the
in-process figure (answer_capture alone) and the simulated model's (the model path, in virtual time).
Figures are medians of --runs runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402
from make_capture import make_capture  # noqa: E402

from labkit.pcap import answer_capture  # noqa: E402

GOAL_PPS = 10_000


def _median_seconds(run, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        capture, out = Path(tmp) / "in.pcap", Path(tmp) / "out.pcap"
        make_capture(capture, args.n, seed=0)
        command = [
            sys.executable,
            "-c",
            "import sys; from labkit.cli import main; sys.exit(main())",
            "pcap",
            str(capture),
            "-o",
            str(out),
            "--model",
            "reference",
        ]

        def cli() -> None:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

        cli_s = _median_seconds(cli, args.runs)
        inproc_s = _median_seconds(lambda: answer_capture(capture, out, "reference"), args.runs)
        sim_s = _median_seconds(lambda: answer_capture(capture, out, "simulated"), args.runs)
        summary = answer_capture(capture, out, "reference")

    print(machine_line())
    print(f"capture: {args.n} packets (Ethernet; echo v4/v6, ARP, NDP, TCP), {args.runs} runs, medians")
    print(f"replies written: {summary.replies_written}, unanswered: {summary.unanswered_total}")
    print(
        f"labkit pcap --model reference (whole command): {cli_s:.3f} s  {args.n / cli_s:,.0f} packets/s  "
        f"({args.n / cli_s / GOAL_PPS:.1f}x the {GOAL_PPS:,}/s goal)"
    )
    print(f"answer_capture, reference (in process):        {inproc_s:.3f} s  {args.n / inproc_s:,.0f} packets/s")
    print(f"answer_capture, simulated (model path):         {sim_s:.3f} s  {args.n / sim_s:,.0f} packets/s")
    return 0 if args.n / cli_s >= GOAL_PPS else 1


if __name__ == "__main__":
    sys.exit(main())
