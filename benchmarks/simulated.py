"""What one simulated attempt costs in CPU, per strategy, next to the reference model: notebooks and CI run
thousands of them, so the simulator of mechanisms must stay cheap.

    python benchmarks/simulated.py [--n 300] [--rounds 5]

The same n bench requests (labkit.bench.make_request, sizes 0-1472, ~15 % IPv6) go through each model and
strategy, in rounds that alternate the models so drift hits all alike. Prints the median milliseconds per
attempt over the rounds and its ratio to the reference model's, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _machine import machine_line  # noqa: E402

from labkit.bench import make_request  # noqa: E402
from labkit.models import get_model  # noqa: E402

STRATEGIES = ("zero-shot", "step-by-step", "fields-only", "tool-use")


def per_attempt_ms(model_name: str, strategy: str, requests: list[bytes]) -> float:
    model = get_model(model_name)
    started = time.perf_counter()
    for request in requests:
        model.attempt(request, strategy)
    return (time.perf_counter() - started) / len(requests) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    requests = [make_request(0, index).packet for index in range(args.n)]
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for strategy in STRATEGIES:
            for model in ("reference", "simulated:1"):
                times.setdefault((model, strategy), []).append(per_attempt_ms(model, strategy, requests))
    print(machine_line())
    print(f"n={args.n} requests x {args.rounds} rounds; median ms per attempt")
    print(f"{'strategy':<14} {'reference':>10} {'simulated':>10} {'ratio':>7}")
    for strategy in STRATEGIES:
        ref = statistics.median(times[("reference", strategy)])
        sim = statistics.median(times[("simulated:1", strategy)])
        print(f"{strategy:<14} {ref:>10.2f} {sim:>10.2f} {sim / ref:>6.1f}x")


if __name__ == "__main__":
    main()
