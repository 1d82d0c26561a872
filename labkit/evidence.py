"""Where a conclusion comes from: a simulated prediction (and the assumptions it rests on) or a measurement.

Why: a simulator's output is its assumptions played back. A notebook that reports "tool use cuts checksum
errors" from simulated runs has found its own premise, so every conclusion drawn from model results carries a
tag, printed in the output itself, that says which kind of evidence it is: measured (model, n, date of the
recording) or simulated (which assumptions). Intervals that overlap are said to overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.page import fit

Z95 = 1.959964
DEFAULT_ASSUMPTIONS = (
    "per-digit copy slips and per-addition checksum slips at assumed rates, decision and prose "
    "rates assumed, latency assumed; see docs/simulator.md",
)


@dataclass(frozen=True)
class Evidence:
    """What a set of results can support: a measurement, or a prediction made from assumptions."""

    measured: bool
    models: tuple[str, ...]
    n: int
    date: str | None = None
    assumptions: tuple[str, ...] = ()

    def __str__(self) -> str:
        models = ", ".join(self.models) or "no model"
        if self.measured:
            when = f", recorded {self.date}" if self.date else ", date unknown"
            return fit(f"MEASURED: {models}, n={self.n}{when}")
        rests_on = "; ".join(self.assumptions or DEFAULT_ASSUMPTIONS)
        return fit(f"SIMULATED prediction ({models}, n={self.n}): rests on {rests_on} -- not a finding about Claude")

    def _repr_html_(self) -> str:
        import html

        colour = "#0550ae" if self.measured else "#9a6700"
        return f'<p style="border-left:4px solid {colour};padding-left:6px"><b>{html.escape(str(self))}</b></p>'


def evidence_of(results: Any, *, assumptions: Sequence[str] | str | None = None, date: str | None = None) -> Evidence:
    """The tag for a bench DataFrame (columns `model`, `simulated`, optionally `recorded`) or a list of Attempts.

    Any simulated row makes the whole set a simulated prediction: a mix is only as strong as its weakest part.
    """
    rows = _rows(results)
    models = tuple(dict.fromkeys(str(row.get("model", "?")) for row in rows))
    simulated = any(bool(row.get("simulated", False)) for row in rows)
    dates = sorted({str(row["recorded"]) for row in rows if row.get("recorded")})
    when = date or (dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}" if dates else None)
    if isinstance(assumptions, str):
        assumptions = (assumptions,)
    return Evidence(
        measured=not simulated,
        models=models,
        n=len(rows),
        date=when,
        assumptions=tuple(assumptions or ()) if simulated else (),
    )


def tag(results: Any, *, recorded: str | None = None, assumptions: Sequence[str] | str | None = None) -> str:
    """The line to print under a conclusion (`recorded`: a replay's date, ReplayModel.recorded)."""
    return str(evidence_of(results, assumptions=assumptions, date=recorded))


def _rows(results: Any) -> list[dict]:
    if hasattr(results, "to_dict") and hasattr(results, "columns"):  # a pandas DataFrame
        return results.to_dict("records")
    return [
        item
        if isinstance(item, dict)
        else {"model": getattr(item, "model", ""), "simulated": getattr(item, "simulated", False)}
        for item in results
    ]


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval: honest at small n and at rates near 0 or 1, where the normal one is not."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(flags: Iterable[Any]) -> tuple[float, tuple[float, float]]:
    """(share of true flags, its 95 % Wilson interval): one flag per attempt in, what compare_rates takes out."""
    values = [bool(flag) for flag in flags]
    hits = sum(values)
    return hits / max(len(values), 1), wilson_interval(hits, len(values))


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two (low, high) intervals share any value."""
    return a[0] <= b[1] and b[0] <= a[1]


def compare_rates(
    name_a: str, rate_a: float, ci_a: tuple[float, float], name_b: str, rate_b: float, ci_b: tuple[float, float]
) -> str:
    """One sentence comparing two rates that stays honest: overlapping 95 % intervals are called overlapping."""
    shown_a = f"{name_a} {rate_a:.0%} [{ci_a[0]:.0%}, {ci_a[1]:.0%}]"
    shown_b = f"{name_b} {rate_b:.0%} [{ci_b[0]:.0%}, {ci_b[1]:.0%}]"
    if intervals_overlap(ci_a, ci_b):
        return fit(
            f"{shown_a} and {shown_b}: the 95 % intervals overlap, so these runs cannot tell them apart "
            "(more attempts, or a direct test of the difference, could)."
        )
    higher, lower = (shown_a, shown_b) if rate_a > rate_b else (shown_b, shown_a)
    return fit(f"{higher} is higher than {lower}: the 95 % intervals do not overlap.")


def overlap_text(name_a: str, successes_a: int, n_a: int, name_b: str, successes_b: int, n_b: int) -> str:
    """compare_rates for two counts of successes, with their Wilson intervals."""
    return compare_rates(
        name_a,
        successes_a / max(n_a, 1),
        wilson_interval(successes_a, n_a),
        name_b,
        successes_b / max(n_b, 1),
        wilson_interval(successes_b, n_b),
    )
