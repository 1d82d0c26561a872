"""The class bake-off: many submitted strategies, one model, one seeded request set that nobody is shown.

Why: a leaderboard is only fair when every strategy answers the same requests and nobody could tune on them,
and only honest when ranks that the 95 % intervals cannot separate are said to be tied. A submission that does
not load, or fails while it runs, costs one line in the report, never the others' results.

    result = run_bakeoff(["subs/alice.py", "subs/bob.py"], model="simulated", n=200)
    print(leaderboard_table(result.board))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.bench import run_bench, summarise
from labkit.errors import LabkitError
from labkit.evidence import Evidence, evidence_of, intervals_overlap
from labkit.prompts import Strategy
from labkit.strategy_files import resolve_strategy

if TYPE_CHECKING:  # for the annotations only: run_bakeoff imports pandas where it is used
    import pandas as pd

# Not bench's default seed 0, so a strategy tuned on `labkit bench` has not seen these requests. An instructor
# who wants a set that nobody can reproduce passes their own --seed and keeps it to themselves.
BAKEOFF_SEED = 20260511
SIMULATED_CAVEAT = (
    "a simulated model does not read the wording of a prompt: its scores follow its own "
    "assumptions and each strategy's answer format; only a real model ranks the prompts"
)


@dataclass
class Bakeoff:
    """What a bake-off produced: the leaderboard (a DataFrame), every attempt, and the submissions that failed."""

    board: pd.DataFrame
    results: pd.DataFrame
    broken: list[tuple[str, str]] = field(default_factory=list)  # (submission, one-line reason)
    evidence: Evidence | None = None


def submissions(paths: Iterable[str | Path]) -> list[str]:
    """The .py files named, with a directory standing for the .py files in it (sorted); order kept."""
    found: list[str] = []
    for path in map(Path, paths):
        found += [str(p) for p in sorted(path.glob("*.py"))] if path.is_dir() else [str(path)]
    return list(dict.fromkeys(found))


def load_all(specs: Iterable) -> tuple[dict[str, tuple[str, Strategy]], list[tuple[str, str]]]:
    """(name -> (submission, strategy), broken): every submission that loads, and one line for each that does not."""
    loaded: dict[str, tuple[str, Strategy]] = {}
    broken: list[tuple[str, str]] = []
    for spec in specs:
        label = spec if isinstance(spec, str) else getattr(spec, "name", repr(spec))
        try:
            strategy = resolve_strategy(spec)
        except LabkitError as error:
            broken.append((label, str(error).removeprefix(f"{label}: ")))
            continue
        if strategy.name in loaded:
            broken.append((label, f"the name {strategy.name!r} is already used by {loaded[strategy.name][0]}"))
            continue
        loaded[strategy.name] = (label, strategy)
    return loaded, broken


def run_bakeoff(
    specs: Iterable,
    model="simulated",
    n: int = 200,
    *,
    seed: int = BAKEOFF_SEED,
    budget_usd: float | None = None,
    workers: int | None = None,
) -> Bakeoff:
    """Score each submission (paths, names or Strategy objects) on the same n requests of `seed`."""
    import pandas as pd

    from labkit.models.registry import get_model

    model_object = get_model(model) if model is None or isinstance(model, str) else model
    loaded, broken = load_all(specs)
    frames = []
    for label, strategy in loaded.values():
        try:
            frames.append(run_bench([model_object], [strategy], n, workers, seed=seed, budget_usd=budget_usd))
        except Exception as error:  # a student's code or a missing recording: one line, the others go on
            reason = str(error) if isinstance(error, LabkitError) else f"{type(error).__name__}: {error}"
            broken.append((label, f"failed while running: {reason}"))
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    board = leaderboard(results, {name: label for name, (label, _) in loaded.items()})
    evidence = evidence_of(results, assumptions=[SIMULATED_CAVEAT]) if len(results) else None
    return Bakeoff(board=board, results=results, broken=broken, evidence=evidence)


def leaderboard(results, sources: dict[str, str] | None = None):
    """summarise() ranked by accept rate (then fewer output tokens), with `pareto` (no other entry is at least
    as accurate and cheaper in output tokens) and `vs_leader` ("leader", "overlaps" or "below")."""
    board = summarise(results)
    if board.empty:
        return board
    board = board.sort_values(["accept_rate", "output_tokens_mean"], ascending=[False, True], kind="stable")
    board = board.reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    board["submission"] = [(sources or {}).get(name, name) for name in board["strategy"]]
    board["pareto"] = [_on_front(row, board) for row in board.itertuples()]
    leader = (board.loc[0, "accept_lo"], board.loc[0, "accept_hi"])
    board["vs_leader"] = [
        "leader" if i == 0 else "overlaps" if intervals_overlap(leader, (lo, hi)) else "below"
        for i, (lo, hi) in enumerate(zip(board["accept_lo"], board["accept_hi"]))
    ]
    return board


def _on_front(row, board) -> bool:
    """No other entry accepts at least as often with at most as many output tokens, and is better in one."""
    for other in board.itertuples():
        if other.Index == row.Index:
            continue
        if (
            other.accept_rate >= row.accept_rate
            and other.output_tokens_mean <= row.output_tokens_mean
            and (other.accept_rate > row.accept_rate or other.output_tokens_mean < row.output_tokens_mean)
        ):
            return False
    return True


def leaderboard_table(board) -> str:
    """The leaderboard as fixed-width text: rank, strategy, accept rate [95 % CI], tokens, latency, cost."""
    headers = [
        "#",
        "strategy",
        "n",
        "accepted [95% CI]",
        "vs leader",
        "tok out",
        "tok in",
        "p50 s",
        "p95 s",
        "$/reply",
        "pareto",
    ]
    rows = [
        [
            str(r.rank),
            r.strategy,
            str(r.n),
            f"{r.accept_rate:6.1%} [{r.accept_lo:.1%}-{r.accept_hi:.1%}]",
            r.vs_leader,
            f"{r.output_tokens_mean:.0f}",
            f"{r.input_tokens_mean:.0f}",
            f"{r.latency_p50_s:.2f}",
            f"{r.latency_p95_s:.2f}",
            f"{r.cost_per_reply_usd:.5f}",
            "*" if r.pareto else "",
        ]
        for r in board.itertuples()
    ]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    left = {1, 4, 10}

    def line(cells: list[str]) -> str:
        padded = (c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
