"""Conclusions carry their source: simulated predictions name assumptions, measurements name model, n and date."""

from __future__ import annotations

import pandas as pd
import pytest

from labkit.bench import run_bench
from labkit.evidence import compare_rates, evidence_of, intervals_overlap, overlap_text, tag, wilson_interval
from labkit.models import get_model


def test_simulated_rows_make_a_prediction_that_names_its_assumptions() -> None:
    df = pd.DataFrame({"model": ["simulated:0", "simulated:0"], "simulated": [True, True]})
    tag = str(evidence_of(df, assumptions=["each hex digit slips with p=0.001"]))
    assert tag.startswith("SIMULATED prediction") and "p=0.001" in tag and "n=2" in tag


def test_measured_rows_name_model_n_and_date_and_one_simulated_row_spoils_them() -> None:
    rows = [{"model": "replay:class.jsonl", "simulated": False, "recorded": "2026-11-25"}] * 3
    assert str(evidence_of(rows)) == "MEASURED: replay:class.jsonl, n=3, recorded 2026-11-25"
    assert not evidence_of(rows + [{"model": "simulated", "simulated": True}]).measured


def test_overlapping_intervals_are_called_overlapping() -> None:
    assert intervals_overlap((0.1, 0.3), (0.25, 0.5)) and not intervals_overlap((0.1, 0.2), (0.3, 0.4))
    assert "overlap, so" in compare_rates("a", 0.2, (0.1, 0.3), "b", 0.3, (0.25, 0.5))
    assert "is higher than" in compare_rates("a", 0.15, (0.1, 0.2), "b", 0.35, (0.3, 0.4))


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_overlap_is_said_as_overlap() -> None:
    assert intervals_overlap((0.1, 0.5), (0.4, 0.9)) and not intervals_overlap((0.1, 0.3), (0.4, 0.9))
    close = overlap_text("zero-shot", 60, 100, "spec", 66, 100)
    assert "overlap, so these runs cannot tell them apart" in " ".join(close.split())  # wrapped to fit the page
    apart = overlap_text("zero-shot", 20, 100, "tool-use", 95, 100)
    assert "do not overlap" in apart and apart.startswith("tool-use")


def test_simulated_results_are_tagged_as_predictions() -> None:
    frame = run_bench(["simulated:1"], ["zero-shot"], 5)
    line = tag(frame)
    assert line.startswith("SIMULATED prediction") and "n=5" in line and "rests on" in line
    assert "docs/simulator.md" in line
    attempts = [get_model("simulated:2").attempt(bytes.fromhex(frame["request_hex"][0]))]
    assert not evidence_of(attempts).measured


def test_measured_results_name_model_n_and_date(tmp_path) -> None:
    path = tmp_path / "ref.jsonl"
    run_bench([f"record:{path}:reference"], ["zero-shot"], 4)
    replay = get_model(f"replay:{path}")
    frame = run_bench([replay], ["zero-shot"], 4)
    line = tag(frame, recorded=replay.recorded)
    assert line.startswith("MEASURED: replay:") and "n=4" in line
    assert replay.recorded and replay.recorded[:2] == "20" and f"recorded {replay.recorded}" in line


def test_share_is_the_rate_and_wilson_interval_of_its_flags() -> None:
    from labkit.evidence import share, wilson_interval

    assert share([True, False, 1, 0, "x"]) == (3 / 5, wilson_interval(3, 5))
    assert share([]) == (0.0, (0.0, 1.0))


def test_printed_prose_fits_the_page_and_keeps_every_word() -> None:
    """Evidence lines are wrapped on spaces at labkit.page.PAGE_COLUMNS: JupyterLab would cut them mid-word."""
    from labkit.page import PAGE_COLUMNS, fit

    line = str(evidence_of([{"model": "simulated:0", "simulated": True}] * 3, assumptions=["x " * 120]))
    assert all(len(row) <= PAGE_COLUMNS for row in line.splitlines()) and len(line.splitlines()) > 1
    whole = f"SIMULATED prediction (simulated:0, n=3): rests on {'x ' * 120}-- not a finding about Claude"
    assert line.split() == whole.split()
    text = "word " * 60 + "0123456789abcdef" * 10
    assert fit(text).split() == text.split()  # nothing lost, a long hex run never broken
    assert fit("short line") == "short line"
