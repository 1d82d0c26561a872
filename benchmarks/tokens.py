"""Output tokens per reply for each prompt strategy, estimated offline from the prompt and a perfect answer.

    python benchmarks/tokens.py [--n 500]

Why: output tokens cost 5x input tokens and set the latency, and they grow with the packet for every strategy
that writes the whole reply as hex. The estimate is labkit.models.simulated.estimate_usage -- the same estimator
the simulated model reports -- applied to each strategy's prompt and its perfect answer (render_answer of the
reference reply, plus tool calls for tool-use). Figures: medians over --n varied requests (labkit.bench's
generator) and for ping's default 56-byte IPv4 request, with the ratio to zero-shot (full hex).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402

from labkit.bench import make_request  # noqa: E402
from labkit.models.simulated import estimate_usage  # noqa: E402
from labkit.packets import echo_request  # noqa: E402
from labkit.prompts import STRATEGIES  # noqa: E402
from labkit.stack import echo_reply  # noqa: E402


def usage_for(strategy, request: bytes):
    reply = echo_reply(request)
    calls = strategy.tool_inputs(reply) if hasattr(strategy, "tool_inputs") else []
    return estimate_usage(strategy.build(request), strategy.render_answer(reply, request), calls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args(argv)
    requests = [make_request(0, index).packet for index in range(args.n)]
    ping = echo_request()  # 56 data bytes: `ping` with no options

    rows = []
    for name, strategy in STRATEGIES.items():
        usages = [usage_for(strategy, request) for request in requests]
        default = usage_for(strategy, ping)
        rows.append(
            (
                name,
                statistics.median(u.output_tokens for u in usages),
                statistics.mean(u.output_tokens for u in usages),
                statistics.median(u.input_tokens for u in usages),
                default.output_tokens,
                default.input_tokens,
            )
        )
    baseline = next(row for row in rows if row[0] == "zero-shot")

    print(machine_line())
    print(
        f"estimated tokens per reply (labkit.models.simulated.estimate_usage); medians over {args.n} varied "
        "requests, and ping's default 84-byte request"
    )
    print("(the varied median is mostly the 56-byte ping; the mean shows how output grows with packet size)")
    print(
        f"{'strategy':<14}{'out median':>12}{'vs zero-shot':>14}{'out mean':>10}{'vs zero-shot':>14}"
        f"{'in median':>11}{'out (ping)':>12}{'in (ping)':>11}"
    )
    for name, out_median, out_mean, in_median, out_ping, in_ping in rows:
        print(
            f"{name:<14}{out_median:>12.0f}{out_median / baseline[1]:>13.2f}x{out_mean:>10.0f}"
            f"{out_mean / baseline[2]:>13.2f}x{in_median:>11.0f}{out_ping:>12}{in_ping:>11}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
