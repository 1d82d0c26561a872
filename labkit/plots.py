"""The series' figures, from real labkit results: latency CDF, per-field error heatmap, success by strategy.

Every function returns a matplotlib Figure (nothing is shown or saved here), the same data always gives the
same figure, and each reads in greyscale: series differ by line style, marker and hatch, not colour alone,
and heatmap cells carry their number. Rates come with 95 % Wilson intervals (labkit.evidence).
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from labkit.bench import summarise
from labkit.errors import LabkitError
from labkit.evidence import wilson_interval
from labkit.fields import field_map
from labkit.judge import judge
from labkit.roles import ROLES, role_of_names

if TYPE_CHECKING:
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure

# Okabe–Ito, as in labkit.widgets.style; black first because it survives any printer.
SERIES_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--")
HEATMAP_CMAP = "cividis"  # perceptually uniform and monotonic in lightness: colour-blind and greyscale safe


def _figure(width: float = 7.0, height: float = 4.2) -> Figure:
    # Figure() directly (not pyplot): no global state, no GUI backend, nothing leaks between calls.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _with_simulated(label: str, simulated: bool) -> str:
    return f"{label} (simulated)" if simulated and "simulated" not in label else label


# --- latency CDF --------------------------------------------------------------------------------------------


def _wilson_rate(successes: int, trials: int) -> tuple[float, float, float]:
    """(rate, low, high) with the 95 % Wilson interval; no trials: 0 with an empty interval, not (0, 1)."""
    if not trials:
        return 0.0, 0.0, 0.0
    return (successes / trials, *wilson_interval(successes, trials))


def _bars_with_intervals(
    axes, index: int, positions, percents, errors, *, thickness: float, label: str | None, horizontal: bool = False
) -> BarContainer:
    """Series `index` as hatched bars with black error bars `errors` = (lengths below, lengths above): one
    look for every bar plot of the series."""
    import numpy as np

    style = {
        "color": SERIES_COLOURS[(index + 1) % len(SERIES_COLOURS)],
        "edgecolor": "black",
        "hatch": HATCHES[index % len(HATCHES)],
        "alpha": 0.85,
        "label": label,
    }
    lengths = np.array(errors)
    if horizontal:
        bars = axes.barh(positions, percents, height=thickness, **style)
        axes.errorbar(percents, positions, xerr=lengths, fmt="none", ecolor="black", capsize=3, linewidth=1)
    else:
        bars = axes.bar(positions, percents, width=thickness, **style)
        axes.errorbar(positions, percents, yerr=lengths, fmt="none", ecolor="black", capsize=4, linewidth=1.2)
    return bars


def _error_bar(rate: float, low: float, high: float) -> tuple[float, float, float]:
    """A rate in percent with its bar's length below and above, as errorbar() takes them; never negative
    (float rounding at rates of 0 or 1 would make a length of -1e-15)."""
    return 100 * rate, max(0.0, 100 * (rate - low)), max(0.0, 100 * (high - rate))


def latency_cdf(samples: Mapping[str, Sequence[float]], *, title: str = "Echo reply latency") -> Figure:
    """Empirical CDF of latencies (seconds) per label on a log axis, e.g. kernel vs reference stack vs a model.

    Labels of simulated sources should say so ("simulated:7"); this function plots what it is given.
    """
    series = {
        label: sorted(float(v) for v in values if v is not None and float(v) > 0) for label, values in samples.items()
    }
    if not series:
        raise LabkitError("latency_cdf needs at least one label with positive latencies (in seconds)")
    empty = [label for label, values in series.items() if not values]
    if empty:
        raise LabkitError(
            f"no positive latencies for {', '.join(map(repr, empty))}: a log axis cannot show 0 s "
            "(the reference model reports 0; time the reference stack itself instead)"
        )
    figure = _figure()
    axes = figure.add_subplot()
    styles = zip(itertools.cycle(SERIES_COLOURS), itertools.cycle(LINE_STYLES), itertools.cycle(MARKERS))
    for (label, values), (colour, style, marker) in zip(series.items(), styles):
        n = len(values)
        # Start the staircase at 0 on the first value so it does not begin in mid-air; the last step reaches 1.
        xs, fractions = [values[0], *values], [0.0, *((i + 1) / n for i in range(n))]
        median = statistics.median(values)  # the same median every figure and notebook quotes
        axes.step(
            xs,
            fractions,
            where="post",
            color=colour,
            linestyle=style,
            linewidth=1.8,
            marker=marker,
            markevery=max(1, n // 8),
            markersize=5,
            clip_on=False,
            label=f"{label} (n={n}, median {format_seconds(median)})",
        )
    notes = [note for label, values in series.items() for note in _piled_up(label, values)]
    if notes:  # a wall in the curve is a cap of the source (the simulator clips to 2-5 s), not a finding
        axes.text(
            0.01,
            0.99,
            "\n".join(notes),
            transform=axes.transAxes,
            va="top",
            ha="left",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "#888888", "linewidth": 0.5},
        )
    low = min(values[0] for values in series.values())
    high = max(values[-1] for values in series.values())
    axes.set_xscale("log")
    axes.set_xlim(low / 1.5, high * 1.5)
    _label_seconds(axes.xaxis, high / low)
    axes.set_xlabel("latency (seconds, log scale)")
    axes.set_ylabel("fraction of replies at or below")
    axes.set_ylim(0, 1.0)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"])
    axes.grid(True, which="major", linestyle=":", linewidth=0.6, color="#888888")
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=8)
    return figure


def _piled_up(label: str, values: Sequence[float]) -> list[str]:
    """Say so when many latencies sit at exactly the smallest or largest value: a clip, drawn as a wall."""
    notes = []
    for end, name in ((values[0], "lowest"), (values[-1], "highest")):
        count = values.count(end)
        if count >= max(3, 0.05 * len(values)):
            notes.append(
                f"{label}: {count} of {len(values)} at exactly {format_seconds(end)} ({name}): "
                "a limit of the source, not a measured spread"
            )
    return notes


def _label_seconds(axis, span: float) -> None:
    """Labelled ticks in the unit that reads best (85 µs, 20 ms, 2 s): at 1-2-5 steps over a narrow range (a
    log axis with only decade labels leaves a 2-5 s range with no number on it), at decades over a wide one."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if span < 300 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: format_seconds(value)))
    axis.set_minor_formatter(NullFormatter())


def format_seconds(seconds: float) -> str:
    """Latency in the unit that reads best (85 µs, 3.2 ms, 2.41 s): kernel and model times differ 10⁵-fold."""
    if seconds <= 0:
        return "0 s"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of any matplotlib colour (0 black .. 1 white)."""
    from matplotlib.colors import to_rgb

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in to_rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast_ratio(first, second) -> float:
    """WCAG 2 contrast ratio of two colours (1 .. 21); 4.5 is the floor for small text."""
    lighter, darker = sorted((_relative_luminance(first), _relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _readable_text_colour(background) -> str:
    """Black or white, whichever contrasts more with the cell: a fixed cut-off on the value left mid-scale
    numbers of the heatmap below WCAG's 4.5:1, which is what printing in greyscale makes worse."""
    return "black" if _contrast_ratio("black", background) >= _contrast_ratio("white", background) else "white"


# --- per-field error heatmap -------------------------------------------------------------------------------


def _field_errors_from_frame(frame, by: str) -> tuple[dict[str, int], dict[str, Counter]]:
    for column in (by, "wrong_fields"):
        if column not in frame.columns:
            raise LabkitError(f"the results have no {column!r} column; pass a labkit.bench.run_bench DataFrame")
    trials: dict[str, int] = {}
    wrong: dict[str, Counter] = {}
    for group, rows in frame.groupby(by, sort=False):
        label = str(group)
        if by == "model" and "simulated" in rows.columns:
            label = _with_simulated(label, bool(rows["simulated"].astype(bool).any()))
        trials[label] = len(rows)
        wrong[label] = Counter(name for names in rows["wrong_fields"] for name in (names or []))
    return trials, wrong


def _field_errors_from_judgements(
    groups: Mapping[str, Sequence],
) -> tuple[dict[str, int], dict[str, Counter], list[str]]:
    trials: dict[str, int] = {}
    wrong: dict[str, Counter] = {}
    seen_fields: list[str] = []
    for label, items in groups.items():
        counter: Counter = Counter()
        for item in items:
            verdict = judge(item.request, item.reply) if hasattr(item, "request") else item  # Attempt or Judgement
            for field_verdict in verdict.fields:
                if field_verdict.name not in seen_fields:
                    seen_fields.append(field_verdict.name)
                if not field_verdict.ok:
                    counter[field_verdict.name] += 1
        trials[label] = len(items)
        wrong[label] = counter
    return trials, wrong, seen_fields


def field_error_heatmap(
    results, *, by: str = "strategy", max_fields: int = 16, title: str = "Which fields go wrong"
) -> Figure:
    """Share of attempts in which each field was wrong, per group (a heatmap with the % in every cell).

    `results`: a run_bench DataFrame (grouped by the column `by`, e.g. "strategy" or "model"), or a mapping
    label -> list of judge.Judgement or models.Attempt (judged here). Fields never wrong are left out of a
    DataFrame (it only lists wrong ones); from judgements every field judged appears, in wire order.
    """
    import numpy as np

    if hasattr(results, "columns"):
        trials, wrong = _field_errors_from_frame(results, by)
        fields = [name for name, _ in sum(wrong.values(), Counter()).most_common()]
        fields.sort(key=lambda name: -sum(wrong[g][name] / max(trials[g], 1) for g in trials))
    elif isinstance(results, Mapping):
        trials, wrong, fields = _field_errors_from_judgements(results)
    else:
        raise LabkitError("field_error_heatmap takes a bench DataFrame or a dict label -> judgements/attempts")
    if not trials or not any(trials.values()):
        raise LabkitError("field_error_heatmap needs at least one trial")
    if len(fields) > max_fields:  # keep the most often wrong ones, still in their original order
        keep = set(sorted(fields, key=lambda name: -sum(wrong[g][name] for g in trials))[:max_fields])
        fields = [name for name in fields if name in keep]
    groups = list(trials)
    rates = np.array(
        [[wrong[g][name] / trials[g] if trials[g] else np.nan for g in groups] for name in fields], dtype=float
    ).reshape(len(fields), len(groups))
    figure = _figure(max(5.0, 1.3 * len(groups) + 3.0), max(2.8, 0.34 * max(len(fields), 1) + 1.6))
    axes = figure.add_subplot()
    top = float(np.nanmax(rates)) if fields and not np.all(np.isnan(rates)) else 0.0
    image = axes.imshow(
        rates if fields else np.zeros((1, len(groups))), cmap=HEATMAP_CMAP, vmin=0.0, vmax=max(top, 0.01), aspect="auto"
    )  # the scale fits the data: 3 % is not "black"
    axes.set_xticks(range(len(groups)), [f"{g}\n(n={trials[g]})" for g in groups], fontsize=8)
    axes.set_yticks(range(len(fields)), fields, fontsize=8, fontfamily="monospace")
    for row in range(len(fields)):
        for column in range(len(groups)):
            value = rates[row, column]
            text = "–" if np.isnan(value) else f"{value:.0%}"
            cell = "white" if np.isnan(value) else image.cmap(image.norm(value))
            axes.text(column, row, text, ha="center", va="center", fontsize=8, color=_readable_text_colour(cell))
    if not fields:
        axes.text((len(groups) - 1) / 2, 0, "no field was ever wrong", ha="center", va="center", color="white")
        axes.set_yticks([])
    axes.set_xlabel(by)
    axes.set_ylabel("header field")
    axes.set_title(title)
    colourbar = figure.colorbar(image, ax=axes, fraction=0.05)
    colourbar.set_label(f"attempts with this field wrong (share; scale 0–{max(top, 0.01):.0%})")
    return figure


# --- error rates by role -----------------------------------------------------------------------------------


def _wrong_roles(item) -> set[str] | None:
    """The roles of the bytes an attempt got wrong (None when there was no reply to compare)."""
    if hasattr(item, "hallucinated"):
        verdict = item
    elif isinstance(item, Mapping) or hasattr(item, "request_hex"):
        request_hex = item["request_hex"] if isinstance(item, Mapping) else item.request_hex
        reply_hex = item["reply_hex"] if isinstance(item, Mapping) else item.reply_hex
        if not isinstance(reply_hex, str):
            return None
        verdict = judge(bytes.fromhex(request_hex), bytes.fromhex(reply_hex))
    else:
        verdict = judge(item.request, item.reply)
    if verdict.got is None or not verdict.expected:
        return None
    try:
        fields = field_map(verdict.expected)
    except ValueError:
        return None
    roles = set()
    for offset in verdict.hallucinated:
        names = [f.name for f in fields if f.offset <= offset < f.end]
        roles.add(role_of_names(names) if offset < len(verdict.expected) else "copied")
    return roles


def role_error_rates(results, *, by: str = "strategy", title: str = "Which kind of byte goes wrong") -> Figure:
    """Per group, the share of replies with a wrong byte in each role (copied, swapped, decision, recomputed,
    host), with 95 % Wilson intervals, on an axis scaled to the data.

    The series' claim in one picture: copied bytes survive, computed bytes break. `results`: a run_bench
    DataFrame (grouped by `by`) or a mapping label -> list of judge.Judgement or models.Attempt. Only replies
    that parsed are counted (a missing reply has no bytes to blame).
    """

    if hasattr(results, "columns"):
        if by not in results.columns:
            raise LabkitError(f"the results have no {by!r} column; pass a labkit.bench.run_bench DataFrame")
        groups = {str(label): [row for _, row in rows.iterrows()] for label, rows in results.groupby(by, sort=False)}
    elif isinstance(results, Mapping):
        groups = {str(label): list(items) for label, items in results.items()}
    else:
        raise LabkitError("role_error_rates takes a bench DataFrame or a dict label -> judgements/attempts")
    roles = list(ROLES)
    counts: dict[str, tuple[Counter, int]] = {}
    for label, items in groups.items():
        wrong = [r for r in (_wrong_roles(item) for item in items) if r is not None]
        counts[label] = (Counter(role for found in wrong for role in found), len(wrong))
    if not any(n for _, n in counts.values()):
        raise LabkitError("role_error_rates needs at least one reply that parsed")
    figure = _figure(7.0, 0.5 * len(roles) * max(1, len(counts)) ** 0.5 + 2.0)
    axes = figure.add_subplot()
    height = 0.8 / len(counts)
    top = 0.0
    for index, (label, (counter, n)) in enumerate(counts.items()):
        rates, below, above, positions = [], [], [], []
        for r_index, role in enumerate(roles):
            percent, down, up = _error_bar(*_wilson_rate(counter[role], n))
            rates.append(percent)
            below.append(down)
            above.append(up)
            positions.append(r_index - 0.4 + height * (index + 0.5))
            top = max(top, percent + up)
        errors, name = (below, above), f"{label} (n={n})"
        bars = _bars_with_intervals(
            axes, index, positions, rates, errors, thickness=height * 0.9, label=name, horizontal=True
        )
        for bar, rate, extra, role in zip(bars, rates, above, roles):
            axes.annotate(
                f"{rate:.0f}% ({counter[role]}/{n})",
                (rate + extra, bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
    axes.set_yticks(range(len(roles)), roles, fontsize=9)
    axes.invert_yaxis()
    axes.set_xlim(0, max(5.0, top * 1.35))  # fits the data, with room for the labels
    axes.set_xlabel("replies with a wrong byte of this role (%, 95% Wilson interval)")
    axes.grid(True, axis="x", linestyle=":", linewidth=0.6, color="#888888")
    axes.set_title(title)
    axes.legend(fontsize=8, loc="lower right", title=by)
    return figure


def summary_html(summary, *, max_width_px: int = 1280) -> str:
    """The bench summary as an HTML table that fits a `max_width_px` screen: rates with their interval in one
    cell, long text wrapped, numbers right-aligned (pandas' default repr of 20 columns scrolls sideways)."""
    import html

    columns = [
        ("model", lambda r: r.model + (" (simulated)" if r.simulated and "simulated" not in r.model else "")),
        ("strategy", lambda r: r.strategy),
        ("n", lambda r: str(r.n)),
        ("accepted [95% CI]", lambda r: f"{r.accept_rate:.0%} [{r.accept_lo:.0%}–{r.accept_hi:.0%}]"),
        ("exact", lambda r: f"{r.correct_rate:.0%}"),
        ("most often wrong", lambda r: r.top_wrong_fields),
        ("likely causes", lambda r: getattr(r, "causes", "-")),
        ("p50 s", lambda r: f"{r.latency_p50_s:.2f}"),
        ("$/reply", lambda r: f"{r.cost_per_reply_usd:.5f}"),
    ]
    head = "".join(f"<th style='padding:2px 6px;text-align:left'>{html.escape(name)}</th>" for name, _ in columns)
    cell = "<td style='padding:2px 6px;overflow-wrap:anywhere'>{}</td>"
    body = "".join(
        "<tr>" + "".join(cell.format(html.escape(str(get(row)))) for _, get in columns) + "</tr>"
        for row in summary.itertuples(index=False)
    )
    return (
        f"<table data-role='bench-summary' style='max-width:{max_width_px}px;width:100%;table-layout:auto;"
        f"border-collapse:collapse;font-size:12px'><tr>{head}</tr>{body}</table>"
    )


# --- success by strategy -----------------------------------------------------------------------------------


def success_by_strategy(results, *, metric: str = "accept", title: str = "Replies Linux ping accepts") -> Figure:
    """Success rate per prompt strategy (one bar per model) with 95 % Wilson intervals.

    `results`: a run_bench DataFrame (metric "accept": the receiver accepts; "valid": the answer parsed), or
    a mapping strategy -> sequence of booleans (one per attempt).
    """

    if metric not in ("accept", "valid"):
        raise LabkitError(f"metric must be 'accept' or 'valid', not {metric!r}")
    table: dict[str, dict[str, tuple[float, float, float, int]]] = {}  # model -> strategy -> (rate, lo, hi, n)
    if hasattr(results, "columns"):
        summary = summarise(results)
        if summary.empty:
            raise LabkitError("success_by_strategy needs at least one attempt")
        for row in summary.itertuples(index=False):
            model = _with_simulated(row.model, bool(row.simulated))
            table.setdefault(model, {})[row.strategy] = (
                getattr(row, f"{metric}_rate"),
                getattr(row, f"{metric}_lo"),
                getattr(row, f"{metric}_hi"),
                int(row.n),
            )
    elif isinstance(results, Mapping):
        rows = {}
        for strategy, outcomes in results.items():
            outcomes = [bool(o) for o in outcomes]
            if outcomes:
                rows[strategy] = (*_wilson_rate(sum(outcomes), len(outcomes)), len(outcomes))
        if not rows:
            raise LabkitError("success_by_strategy needs at least one attempt")
        table["results"] = rows
    else:
        raise LabkitError("success_by_strategy takes a bench DataFrame or a dict strategy -> list of booleans")
    strategies = list(dict.fromkeys(s for per_model in table.values() for s in per_model))
    models = list(table)
    named = models != ["results"]  # a plain dict of booleans has one unnamed series: no legend
    figure = _figure(max(5.0, 1.1 * len(strategies) * max(1, len(models)) ** 0.5 + 2.5), 4.2)
    axes = figure.add_subplot()
    width = 0.8 / len(models)
    for index, model in enumerate(models):
        positions, heights, below, above, counts = [], [], [], [], []
        for s_index, strategy in enumerate(strategies):
            if strategy not in table[model]:
                continue
            rate, low, high, n = table[model][strategy]
            percent, down, up = _error_bar(rate, low, high)
            positions.append(s_index - 0.4 + width * (index + 0.5))
            heights.append(percent)
            below.append(down)
            above.append(up)
            counts.append(n)
        bars = _bars_with_intervals(
            axes, index, positions, heights, (below, above), thickness=width * 0.92, label=model if named else None
        )
        for bar, height, top, n in zip(bars, heights, above, counts):  # above the interval: readable on hatches
            axes.annotate(
                f"{height:.0f}%\nn={n}",
                (bar.get_x() + bar.get_width() / 2, height + top + 1.5),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    axes.set_xticks(range(len(strategies)), strategies, rotation=15)
    axes.set_xlabel("prompt strategy")
    axes.set_ylabel(("accepted" if metric == "accept" else "parsed") + " (% of attempts, 95% CI)")
    axes.set_ylim(0, 118)
    axes.set_yticks(range(0, 101, 20))
    axes.grid(True, axis="y", linestyle=":", linewidth=0.6, color="#888888")
    axes.set_title(f"{title}\n(error bars: 95% Wilson intervals)", fontsize=11)
    if named:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="model")
    return figure


# --- size sweep ---------------------------------------------------------------------------------------------


def accept_by_size(results, *, title: str = "Accept rate by packet size") -> Figure:
    """Two panels from a size sweep (run_bench(..., sizes=...)): accept rate against payload length and
    against the 16-bit additions a model makes to compute the checksums, one line per model and strategy,
    with 95 % Wilson intervals. Simulated series say so in the legend."""
    import numpy as np

    from labkit.bench import sweep_summary

    summary = sweep_summary(results)
    if summary.empty:
        raise LabkitError("accept_by_size needs the rows of a size sweep (run_bench with sizes=...)")
    figure = _figure(11.0, 4.2)
    panels = figure.subplots(1, 2, sharey=True)
    series = list(dict.fromkeys(zip(summary["model"], summary["strategy"])))
    for index, (model, strategy) in enumerate(series):
        rows = summary[(summary["model"] == model) & (summary["strategy"] == strategy)]
        bars = [_error_bar(*r) for r in zip(rows["accept_rate"], rows["accept_lo"], rows["accept_hi"])]
        rate, errors = np.array([b[0] for b in bars]), np.array([[b[1] for b in bars], [b[2] for b in bars]])
        label = f"{_with_simulated(model, bool(rows['simulated'].any()))} [{strategy}]"
        for axes, column in zip(panels, ("payload_len", "checksum_additions")):
            axes.errorbar(
                rows[column].to_numpy(),
                rate,
                yerr=errors,
                capsize=3,
                color=SERIES_COLOURS[index % len(SERIES_COLOURS)],
                linestyle=LINE_STYLES[index % len(LINE_STYLES)],
                marker=MARKERS[index % len(MARKERS)],
                label=label if axes is panels[0] else None,
            )
    for axes, xlabel in zip(panels, ("ICMP payload (bytes)", "16-bit additions in the checksums")):
        axes.set_xlabel(xlabel)
        axes.set_ylim(-2, 102)
        axes.grid(True, linestyle=":", linewidth=0.6, color="#888888")
    panels[0].set_ylabel("accepted by Linux ping (% of attempts, 95% CI)")
    figure.suptitle(f"{title}\n(error bars: 95% Wilson intervals; n per point in the table)", fontsize=11)
    figure.legend(fontsize=8, loc="outside lower center", ncols=min(3, len(series)))
    return figure
