"""The bake-off's Pareto plot: accept rate (with its 95 % interval) against mean output tokens.

Why output tokens: they are what a reply costs in money and in latency (a model writes one token at a time),
so the interesting strategies are those no other beats on both axes -- the Pareto front, drawn as a line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.errors import LabkitError
from labkit.plots import MARKERS, SERIES_COLOURS, _figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pareto_figure(board, *, title: str = "Bake-off: accepted replies against output tokens") -> Figure:
    """One point per strategy with its Wilson interval; the front joined by a dashed line; simulated says so."""
    if board is None or len(board) == 0:
        raise LabkitError("nothing to plot: no strategy produced results")
    figure = _figure()
    axes = figure.add_subplot()
    for i, row in enumerate(board.itertuples()):
        colour, marker = SERIES_COLOURS[i % len(SERIES_COLOURS)], MARKERS[i % len(MARKERS)]
        # clamped: at a rate of 0 or 1 the Wilson bound can sit a rounding error inside the rate
        errors = [[max(0.0, row.accept_rate - row.accept_lo)], [max(0.0, row.accept_hi - row.accept_rate)]]
        axes.errorbar(
            [row.output_tokens_mean],
            [row.accept_rate],
            yerr=errors,
            fmt=marker,
            color=colour,
            capsize=3,
            label=row.strategy,
        )
        axes.annotate(
            row.strategy,
            (row.output_tokens_mean, row.accept_rate),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    front = board[board["pareto"]].sort_values("output_tokens_mean")
    axes.plot(front["output_tokens_mean"], front["accept_rate"], "--", color="grey", label="Pareto front")
    tokens = board["output_tokens_mean"]
    wide = tokens.min() > 0 and tokens.max() / tokens.min() > 10  # a log axis only when the range needs one
    if wide:
        axes.set_xscale("log")
    axes.set_xlabel("mean output tokens per reply" + (" (log scale)" if wide else ""))
    axes.set_ylabel("share of replies accepted (95% CI)")
    axes.set_ylim(-0.02, 1.02)
    simulated = bool(board["simulated"].any())
    axes.set_title(title + (" (SIMULATED model)" if simulated else ""))
    axes.legend(fontsize=8, loc="lower right")
    return figure
