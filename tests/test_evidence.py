"""Conclusions carry their source: simulated predictions name assumptions, measurements name model, n and date."""

from __future__ import annotations

import pandas as pd

from labkit.evidence import compare_rates, evidence_of, intervals_overlap


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
