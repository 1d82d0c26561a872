"""Checkers for the LLM tasks: write a strategy and benchmark it; decide from two intervals whether one strategy
is really better; choose a strategy and a budget that meet a latency target.

Why these checks compute their answers from the student's own results: the simulated model is being rebuilt and
a real model gives other numbers, so no right answer may be written down in advance. `results` is run_bench's
DataFrame and `summary` is summarise()'s (duck-typed: this floor does not import the runners).
"""

from __future__ import annotations

import math
from typing import Any

from labkit.errors import LabkitError
from labkit.evidence import intervals_overlap
from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.prompts import STRATEGIES
from labkit.strategy_files import resolve_strategy

MIN_ATTEMPTS = 30  # fewer gives an interval too wide to say anything about a strategy


def check_strategy_benchmark(strategy: Any, results: Any) -> Feedback:  # a student's objects, checked here
    """ "Write your own strategy and benchmark it": a working strategy of the student's own, run at least
    MIN_ATTEMPTS times in `results`."""
    if strategy is None or strategy is Ellipsis:
        return _wrong("no strategy yet.", "make one with template_strategy(name, template) or a Strategy subclass.")
    try:
        chosen = resolve_strategy(strategy)
    except LabkitError as error:
        return _wrong(f"your strategy does not work yet: {error}", "")
    if chosen.name in STRATEGIES and chosen is STRATEGIES[chosen.name]:
        return _wrong(f"{chosen.name!r} is a built-in strategy.", "write your own: a template or a subclass.")
    if results is None or not hasattr(results, "columns"):
        return _wrong("no results yet.", "run run_bench([model], [your_strategy, ...], n=...) and pass its DataFrame.")
    mine = results[results["strategy"] == chosen.name]
    if len(mine) < MIN_ATTEMPTS:
        return _wrong(
            f"the results hold {len(mine)} attempts of {chosen.name!r}.",
            f"pass the strategy object itself to run_bench, with n of at least {MIN_ATTEMPTS}.",
        )
    accepted = int(mine["accepted"].astype(bool).sum())
    return _right(
        f"{chosen.name!r} ran {len(mine)} times; {accepted} replies accepted "
        f"({accepted / len(mine):.0%}), {mine['output_tokens'].mean():.0f} output tokens on average."
    )


_NEITHER = {"neither", "none", "no", "tie", "same", "can't tell", "cannot tell", "not shown", "unknown"}


def _row(summary: Any, strategy: str):
    rows = summary[summary["strategy"] == strategy]
    if len(rows) != 1:
        raise LabkitError(f"the summary has {len(rows)} rows for strategy {strategy!r}; pass summarise(results)")
    return rows.iloc[0]


def check_really_better(answer: object, summary: object, a: str, b: str) -> Feedback:
    """ "Is one of strategies a and b really better (accept rate)?" Answer a's name, b's name, or "neither".
    Right: "neither" when the 95 % intervals overlap, else the one with the higher rate."""
    first, second = _row(summary, a), _row(summary, b)
    ci_a, ci_b = (first.accept_lo, first.accept_hi), (second.accept_lo, second.accept_hi)
    shown = (
        f"{a} {first.accept_rate:.0%} [{ci_a[0]:.0%}, {ci_a[1]:.0%}], "
        f"{b} {second.accept_rate:.0%} [{ci_b[0]:.0%}, {ci_b[1]:.0%}]"
    )
    overlap = intervals_overlap(ci_a, ci_b)
    right = "neither" if overlap else (a if first.accept_rate > second.accept_rate else b)
    if not isinstance(answer, str) or not answer.strip():
        return _wrong("no answer yet.", f'answer "{a}", "{b}" or "neither".')
    given = answer.strip().lower()
    given = "neither" if given in _NEITHER else given
    if given == right.lower():
        why = (
            "the intervals overlap, so these runs cannot tell them apart" if overlap else "the intervals do not overlap"
        )
        return _right(f"{right}: {shown}; {why}.")
    if given not in (a.lower(), b.lower(), "neither"):
        return _wrong(f"{answer!r} is not one of the choices.", f'answer "{a}", "{b}" or "neither".')
    if overlap:
        return _wrong(
            f"{shown}.",
            "the higher rate is not enough: the 95 % intervals overlap, so a rerun could "
            "order them the other way. More attempts narrow the intervals.",
        )
    if given == "neither":
        return _wrong(f"{shown}.", "the intervals do not overlap: these runs do show a difference.")
    return _wrong(f"{shown}.", "compare the accept rates: the other one is higher, and the intervals do not overlap.")


def check_latency_plan(
    summary: object, strategy: object, budget_usd: object, *, pings: int, p95_target_s: float
) -> Feedback:
    """ "Choose a strategy and a budget for `pings` pings so that 95 % of replies come within the target."""
    if not isinstance(strategy, str) or not strategy.strip():
        return _wrong("no strategy chosen yet.", "give a strategy name from the summary table.")
    try:
        row = _row(summary, strategy.strip())
    except LabkitError as error:
        return _wrong(str(error), "choose one of the strategies in the table.")
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, (int, float)) or not math.isfinite(budget_usd):
        return _wrong(f"{budget_usd!r} is not a budget in dollars.", "give a number, e.g. 0.25.")
    if row.latency_p95_s > p95_target_s:
        return _wrong(
            f"{strategy}'s p95 latency is {row.latency_p95_s:.2f} s, above the {p95_target_s:.2f} s target.",
            "latency grows with the tokens a model writes: look for a strategy with fewer output "
            "tokens (or fewer round trips).",
        )
    needed = pings * row.cost_per_reply_usd
    if budget_usd < needed:
        paid = int(budget_usd // row.cost_per_reply_usd) if row.cost_per_reply_usd else pings
        return _wrong(
            f"${budget_usd:.4f} pays for about {paid} of the {pings} pings at ${row.cost_per_reply_usd:.5f} each.",
            "the budget guard stops the rest: budget = pings × cost per reply, with some room for the worst case.",
        )
    if needed and budget_usd > 2 * needed:
        return _wrong(
            f"${budget_usd:.4f} is more than twice what {pings} pings cost (${needed:.4f}).",
            "a budget is a cap: set it a little above the expected cost, so a runaway is stopped early.",
        )
    return _right(
        f"{strategy}: p95 {row.latency_p95_s:.2f} s within {p95_target_s:.2f} s; ${budget_usd:.4f} "
        f"covers {pings} pings at ${row.cost_per_reply_usd:.5f} each."
    )
