"""What naming the causes costs: the judge on wrong replies, with the taxonomy, against the taxonomy alone.

    python benchmarks/taxonomy_cost.py [--n 500]

For --n requests from labkit.bench's generator (sizes 0-1472, ~15 % IPv6), the reference reply gets one copy
slip in its data and a checksum left as it was (the commonest real mistake). Timed, one request at a time:
  judge      labkit.judge.judge(request, wrong_reply): verdicts plus Judgement.causes
  classify   labkit.taxonomy.classify alone (the part of `judge` that names causes)
Perfect replies skip the taxonomy, so the per-packet path for right answers is unchanged. Medians in
microseconds, and the same-run ratio classify / judge.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402

from labkit.bench import make_request  # noqa: E402
from labkit.judge import judge  # noqa: E402
from labkit.stack import echo_reply  # noqa: E402
from labkit.taxonomy import classify  # noqa: E402


def _wrong(reply: bytes) -> bytes:
    slipped = bytearray(reply)
    slipped[-1] ^= 0x01  # the last data byte (or the checksum of an empty echo): one digit
    return bytes(slipped)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    judged, classified, named = [], [], 0
    for index in range(args.n):
        request = make_request(0, index).packet
        wrong = _wrong(echo_reply(request))
        start = time.perf_counter_ns()
        verdict = judge(request, wrong)
        middle = time.perf_counter_ns()
        classify(request, wrong, verdict.expected, free=verdict.free)
        end = time.perf_counter_ns()
        judged.append((middle - start) / 1000)
        classified.append((end - middle) / 1000)
        named += bool(verdict.causes)
    judge_us, classify_us = statistics.median(judged), statistics.median(classified)
    print(machine_line())
    print(f"{args.n} wrong replies (one slipped digit each); causes named for {named}")
    print(f"judge (with causes)  median {judge_us:8.1f} µs")
    print(f"classify alone       median {classify_us:8.1f} µs   ratio classify/judge {classify_us / judge_us:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
