"""The answer parser on hostile input: is extracting hex linear in the answer's length?

    python benchmarks/parse_markers.py [--runs 5]

Shapes (each holds a correct echo reply, which must be found): many "FINAL: 45 00" lines, many bare
"ANSWER:" lines, one line of backticks, many bare "FINAL:" markers before a ```hex fence, and one marked reply
followed by many lines that say "final answer" without being markers. Sizes 256 KB, 1 MB and
4 MB (parse.MAX_ANSWER_CHARS). Figures: median seconds per shape and size over --runs runs, and the ratio of the
4 MB time to the 1 MB time (4 when linear; the quadratic parser this replaced took 33 s at 256 KB). Goal: every
1 MB shape under 1 s. Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402

from labkit.packets import echo_request, to_hex  # noqa: E402
from labkit.parse import MAX_ANSWER_CHARS, extract_hex  # noqa: E402
from labkit.stack import echo_reply  # noqa: E402

GOAL_S = 1.0
REPLY = echo_reply(echo_request())
HEX = to_hex(REPLY)
SIZES = {"256 KB": 256_000, "1 MB": 1_000_000, "4 MB": MAX_ANSWER_CHARS - 2_000}


def shapes(size: int) -> dict[str, str]:
    """Answers of about `size` characters whose last block is the right reply."""
    return {
        "FINAL: lines": "FINAL: 45 00\n" * (size // 13) + f"FINAL: {HEX}\n",
        "bare ANSWER: lines": "ANSWER:\n" * (size // 8) + HEX,
        "one line of fences": "```" * (size // 3) + f"\nFINAL: {HEX}",
        "bare FINAL: then a fence": "FINAL:\n" * (size // 7) + f"```hex\n{HEX}\n```",
        "marker words, no markers": f"FINAL: {HEX}\n\n" + "the final answer, not a marker\n" * (size // 31),
    }


def median_seconds(text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        parsed = extract_hex(text)
        times.append(time.perf_counter() - started)
        if parsed.data != REPLY:
            raise SystemExit(f"parse_markers: the reply was not found ({parsed.error})")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine_line())
    print(f"medians of {args.runs} runs, seconds; ratio = 4 MB / 1 MB (4.0 when linear)")
    results = {
        name: {label: median_seconds(text, args.runs) for label, size in SIZES.items() for text in [shapes(size)[name]]}
        for name in shapes(1)
    }
    print(f"{'shape':<26}" + "".join(f"{label:>10}" for label in SIZES) + f"{'ratio':>8}")
    missed = []
    for name, row in results.items():
        ratio = row["4 MB"] / row["1 MB"] if row["1 MB"] else float("nan")
        print(f"{name:<26}" + "".join(f"{row[label]:>10.3f}" for label in SIZES) + f"{ratio:>8.1f}")
        if row["1 MB"] >= GOAL_S:
            missed.append(name)
    print(f"goal: every 1 MB shape under {GOAL_S:.0f} s: " + ("met" if not missed else f"MISSED ({', '.join(missed)})"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
