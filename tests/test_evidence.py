"""Conclusions carry their source: SIMULATED predictions name their assumptions, MEASURED results name model,
n and recording date; overlapping Wilson intervals are called overlapping."""

from __future__ import annotations

import pytest

from labkit.bench import run_bench
from labkit.models import get_model
from labkit.models.evidence import intervals_overlap, overlap_text, provenance, tag, wilson_interval


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_overlap_is_said_as_overlap() -> None:
    assert intervals_overlap((0.1, 0.5), (0.4, 0.9)) and not intervals_overlap((0.1, 0.3), (0.4, 0.9))
    close = overlap_text("zero-shot", 60, 100, "spec", 66, 100)
    assert "overlap, so these runs do not show a difference" in close
    apart = overlap_text("zero-shot", 20, 100, "tool-use", 95, 100)
    assert "do not overlap" in apart and "tool-use is higher" in apart


def test_simulated_results_are_tagged_as_predictions() -> None:
    frame = run_bench(["simulated:1"], ["zero-shot"], 5)
    line = tag(frame)
    assert line.startswith("SIMULATED prediction") and "n=5" in line and "assumptions" in line
    assert "docs/simulator.md" in line
    attempts = [get_model("simulated:2").attempt(bytes.fromhex(frame["request_hex"][0]))]
    assert provenance(attempts).simulated


def test_measured_results_name_model_n_and_date(tmp_path) -> None:
    path = tmp_path / "ref.jsonl"
    run_bench([f"record:{path}:reference"], ["zero-shot"], 4)
    replay = get_model(f"replay:{path}")
    frame = run_bench([replay], ["zero-shot"], 4)
    line = tag(frame, recorded=replay.recorded)
    assert line.startswith("MEASURED: replay:") and "n=4" in line
    assert replay.recorded and replay.recorded[:2] == "20" and f"recorded {replay.recorded}" in line
