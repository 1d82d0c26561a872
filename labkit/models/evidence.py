"""Where a conclusion about a model comes from, said in the output itself: a SIMULATED prediction (and the
assumptions it rests on) or a MEASUREMENT (which model, how many attempts, when it was recorded).

Why: the simulated model's defaults are assumptions, so anything concluded from its numbers is a prediction
to be tested, never a finding. A notebook calls `tag(results)` under each conclusion, and `overlap_text`
to say whether two rates differ beyond their 95 % intervals -- overlapping intervals are called overlapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

Z95 = 1.959964


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval: honest at small n and at rates near 0 or 1, where the normal one is not."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def intervals_overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Do two (low, high) intervals share any value?"""
    return first[0] <= second[1] and second[0] <= first[1]


def overlap_text(name_a: str, successes_a: int, n_a: int, name_b: str, successes_b: int, n_b: int) -> str:
    """One sentence comparing two rates by their Wilson intervals, worded so it stays true either way."""
    a, b = wilson_interval(successes_a, n_a), wilson_interval(successes_b, n_b)
    shown = (f"{name_a} {successes_a}/{n_a} [{a[0]:.0%}-{a[1]:.0%}], "
             f"{name_b} {successes_b}/{n_b} [{b[0]:.0%}-{b[1]:.0%}]")
    if intervals_overlap(a, b):
        return f"{shown}: the 95% intervals overlap, so these runs do not show a difference"
    higher = name_a if successes_a / max(n_a, 1) > successes_b / max(n_b, 1) else name_b
    return f"{shown}: the 95% intervals do not overlap; {higher} is higher in these runs"


@dataclass(frozen=True)
class Provenance:
    """Where a set of results comes from: simulated (with its assumptions) or measured (model, n, date)."""

    simulated: bool
    models: tuple[str, ...]
    n: int
    recorded: str = ""          # the date(s) of the recording, for measurements
    assumptions: str = ""       # what a simulated prediction rests on

    def label(self) -> str:
        models = ", ".join(self.models) or "unknown model"
        if self.simulated:
            return (f"SIMULATED prediction ({models}, n={self.n}; assumptions: {self.assumptions or 'labkit defaults'})"
                    " -- test it against a real model before calling it a finding")
        return f"MEASURED: {models}, n={self.n}, recorded {self.recorded or 'date unknown'}"


SIMULATOR_ASSUMPTIONS = ("per-digit copy slips and per-addition checksum slips at assumed rates, decision and "
                         "prose rates assumed, latency assumed; see docs/simulator.md")


def provenance(results, *, recorded: str | None = None, assumptions: str | None = None) -> Provenance:
    """The Provenance of bench results (a DataFrame or row dicts) or of a list of Attempts.

    `recorded`: the recording's date (ReplayModel.recorded gives it); a live measurement defaults to today.
    """
    rows = _rows(results)
    simulated = any(bool(row.get("simulated")) for row in rows)
    models = tuple(dict.fromkeys(str(row.get("model", "")) for row in rows))
    when = recorded or ("" if simulated else date.today().isoformat())
    return Provenance(simulated=simulated, models=models, n=len(rows), recorded=when,
                      assumptions=(assumptions or SIMULATOR_ASSUMPTIONS) if simulated else "")


def tag(results, *, recorded: str | None = None, assumptions: str | None = None) -> str:
    """The line to print under a conclusion: "SIMULATED prediction (...)" or "MEASURED: <model>, n=..., ..."."""
    return provenance(results, recorded=recorded, assumptions=assumptions).label()


def _rows(results) -> list[dict]:
    if hasattr(results, "to_dict") and hasattr(results, "columns"):   # a pandas DataFrame
        return results.to_dict("records")
    return [row if isinstance(row, dict) else {"model": getattr(row, "model", ""),
                                               "simulated": getattr(row, "simulated", False)} for row in results]
