"""The LLM-task checkers: right answers pass, the common wrong ones get the hint that names the mistake."""

from __future__ import annotations

import pandas as pd
import pytest

from labkit.bench import run_bench
from labkit.exercises import check_latency_plan, check_really_better, check_strategy_benchmark
from labkit.models.reference import ReferenceModel
from labkit.strategy_files import template_strategy


def _summary(*rows) -> pd.DataFrame:
    columns = ["strategy", "accept_rate", "accept_lo", "accept_hi", "latency_p95_s", "cost_per_reply_usd"]
    return pd.DataFrame(rows, columns=columns)


SUMMARY = _summary(
    ("a", 0.80, 0.71, 0.87, 5.0, 0.002), ("b", 0.84, 0.76, 0.90, 2.0, 0.001), ("c", 0.40, 0.31, 0.50, 1.0, 0.0005)
)


def test_benchmark_check_needs_the_students_own_strategy_and_enough_runs() -> None:
    mine = template_strategy("mine", "{hex}")
    results = run_bench([ReferenceModel()], [mine], n=30)
    assert check_strategy_benchmark(mine, results)
    assert not check_strategy_benchmark(mine, results.head(5))
    assert "built-in" in str(check_strategy_benchmark("zero-shot", results))
    assert not check_strategy_benchmark(None, results)


@pytest.mark.parametrize("answer, right", [("neither", True), ("b", False), ("a", False), ("can't tell", True)])
def test_overlapping_intervals_mean_neither(answer, right) -> None:
    feedback = check_really_better(answer, SUMMARY, "a", "b")
    assert bool(feedback) is right
    if answer == "b":
        assert "overlap" in feedback.hint


@pytest.mark.parametrize("answer, right", [("b", True), ("neither", False), ("c", False), ("B", True)])
def test_separate_intervals_name_the_better_one(answer, right) -> None:
    assert bool(check_really_better(answer, SUMMARY, "b", "c")) is right


def test_latency_plan() -> None:
    assert check_latency_plan(SUMMARY, "b", 0.11, pings=100, p95_target_s=3.0)
    too_slow = check_latency_plan(SUMMARY, "a", 0.25, pings=100, p95_target_s=3.0)
    assert not too_slow and "output tokens" in too_slow.hint
    too_small = check_latency_plan(SUMMARY, "b", 0.05, pings=100, p95_target_s=3.0)
    assert not too_small and "50 of the 100" in str(too_small)
    assert not check_latency_plan(SUMMARY, "b", 5.0, pings=100, p95_target_s=3.0)
    assert not check_latency_plan(SUMMARY, "zzz", 1.0, pings=100, p95_target_s=3.0)
    assert not check_latency_plan(SUMMARY, "b", "lots", pings=100, p95_target_s=3.0)
