"""Dashboard: live counters and a latency histogram for a running Responder.

A background thread re-reads `responder.stats` every `interval` seconds and stops by itself once the
responder has stopped (or when you call `stop()` / `close()`), so a notebook never keeps a stray thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from labkit.plots import format_seconds  # one formatter for the figures and the dashboard
from labkit.responder import Responder, ResponderStats
from labkit.widgets.base import LabkitView
from labkit.widgets.style import OKABE_ITO, esc

HISTOGRAM_BINS = 12


def log_bins(latencies: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[tuple[float, float, int]]:
    """(low, high, count) on log-spaced bins: kernel microseconds and model seconds fit one axis."""
    values = [value for value in latencies if value > 0]
    zeros = sum(1 for value in latencies if value <= 0)  # the reference model reports 0 s: its own bar
    result = [(0.0, 0.0, zeros)] if zeros else []
    if not values:
        return result
    low, high = min(values), max(values)
    if math.isclose(low, high):
        return result + [(low, high, len(values))]
    lo_log, hi_log = math.log10(low), math.log10(high)
    step = (hi_log - lo_log) / bins
    counts = [0] * bins
    for value in values:
        counts[min(int((math.log10(value) - lo_log) / step), bins - 1)] += 1
    return result + [
        (10 ** (lo_log + i * step), 10 ** (lo_log + (i + 1) * step), count) for i, count in enumerate(counts)
    ]


def histogram_svg(latencies: Sequence[float], width: int = 420, height: int = 140) -> str:
    """Inline SVG histogram (no JavaScript, renders in static HTML too)."""
    bins = log_bins(latencies)
    if not bins:
        return '<svg data-role="histogram" width="420" height="30"><text x="4" y="20">no latencies yet</text></svg>'
    top, bottom, left = 14, height - 34, 8
    bar_width = min((width - 2 * left) / len(bins), 36.0)
    right = left + bar_width * len(bins)
    tallest = max(count for _, _, count in bins)
    parts = [
        f'<svg data-role="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="latency histogram, log scale">'
    ]
    for index, (low, high, count) in enumerate(bins):
        bar_height = (bottom - top) * count / tallest if tallest else 0
        x = left + index * bar_width
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{bottom - bar_height:.1f}" width="{bar_width - 2:.1f}" '
            f'height="{bar_height:.1f}" fill="{OKABE_ITO[4]}" stroke="#000" stroke-width="0.5">'
            f"<title>{esc(format_seconds(low))} – {esc(format_seconds(high))}: {count}</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{bottom - bar_height - 2:.1f}" font-size="10" '
                f'text-anchor="middle">{count}</text>'
            )
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right:.1f}" y2="{bottom}" stroke="#000"/>')
    low_text, high_text = format_seconds(bins[0][0]), format_seconds(bins[-1][1])
    parts.append(f'<text x="{left}" y="{bottom + 13}" font-size="11">{esc(low_text)}</text>')
    if high_text != low_text:
        parts.append(
            f'<text x="{right:.1f}" y="{bottom + 13}" font-size="11" text-anchor="end">{esc(high_text)}</text>'
        )
    parts.append(
        f'<text x="{left}" y="{bottom + 28}" font-size="11">model latency per reply '
        f"(log-spaced bins, {len(latencies)} replies)</text></svg>"
    )
    return "".join(parts)


def histogram_text(latencies: Sequence[float], width: int = 30) -> list[str]:
    """The same bins as rows of #, for repr(): terminals and nbval compare text, not SVG."""
    bins = log_bins(latencies)
    tallest = max((count for _, _, count in bins), default=0)
    return [
        f"  {format_seconds(low):>9} – {format_seconds(high):<9} {'#' * round(width * count / tallest):<{width}}"
        f" {count}"
        for low, high, count in bins
        if tallest
    ]


class Dashboard(LabkitView):
    """Counters (answered, dropped by reason, spent) and a latency histogram for a Responder.

    Pass a Responder to watch it live, or a ResponderStats snapshot for a static picture.
    """

    css_class = "labkit-view labkit-dashboard"

    def __init__(
        self, source: Responder | ResponderStats, *, interval: float = 0.5, title: str = "", autostart: bool = True
    ) -> None:
        self.responder = source if isinstance(source, Responder) else None
        self.snapshot: ResponderStats = source.stats if isinstance(source, Responder) else source
        self.interval = interval
        self.heading = title
        self.refreshes = 0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__()
        self.refresh()
        if autostart and self.responder is not None:
            self.start()

    @property
    def running(self) -> bool:
        """True while the refresh thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def refresh(self) -> None:
        """Read the responder's stats once and redraw."""
        if self.responder is not None:
            self.snapshot = self.responder.stats
        self.refreshes += 1
        self._refresh()

    def start(self) -> None:
        """Start the refresh thread (a no-op for a snapshot or while one runs)."""
        if self.responder is None or self.running:
            return
        # A fresh event per thread: a thread that outlived stop()'s join timeout stays told to stop even if
        # start() is called again, instead of being revived by clearing a shared event.
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(self._halt,), name="labkit-dashboard", daemon=True)
        self._thread.start()

    def _loop(self, halt: threading.Event) -> None:
        while not halt.wait(self.interval):
            self.refresh()
            if self.snapshot.stopped_reason is not None:
                return  # the responder is done: the last picture stays

    def stop(self, timeout: float = 5.0) -> None:
        """Stop updating (the responder keeps running); safe to call twice, and from the refresh thread."""
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():  # keep the handle: `running` must not claim a live thread has ended
                return
        self._thread = None

    def close(self) -> None:
        """Stop the thread first: otherwise it would keep redrawing a widget that is gone."""
        self.stop()
        super().close()

    # --- rendering --------------------------------------------------------------------------------------
    def _state(self) -> str:
        stats = self.snapshot
        if stats.stopped_reason:
            return f"stopped: {stats.stopped_reason}"
        return "running" if self.responder is not None else "snapshot"

    def body_html(self) -> str:
        stats = self.snapshot
        counters = [
            ("requests", stats.requests),
            ("answered", stats.answered),
            ("dropped", stats.dropped_total),
            ("checksum errors", stats.checksum_errors),
            ("in flight", stats.in_flight),
            ("ARP/NDP", stats.neighbour),
            ("spent", f"${stats.spent_usd:.4f}"),
        ]
        boxes = "".join(
            f'<div class="labkit-counter" data-counter="{esc(name)}"><b>{esc(value)}</b><br>{esc(name)}</div>'
            for name, value in counters
        )
        reasons = "".join(
            f'<tr data-reason="{esc(reason)}"><td class="labkit-mono">{count}</td><td>{esc(reason)}</td></tr>'
            for reason, count in stats.dropped.most_common()
        )
        dropped = (
            f'<table class="labkit-table" data-role="dropped"><tr><th>dropped</th><th>reason</th></tr>{reasons}</table>'
            if reasons
            else '<div data-role="dropped">nothing dropped</div>'
        )
        heading = f"{esc(self.heading)} · " if self.heading else ""
        return (
            f'<h4>{heading}responder <span data-role="state">{esc(self._state())}</span></h4>'
            f'<div class="labkit-counters">{boxes}</div>{histogram_svg(stats.latencies)}{dropped}'
        )

    def text(self) -> str:
        heading = f"{self.heading} · " if self.heading else ""
        lines = [f"Dashboard: {heading}responder {self._state()}", *self.snapshot.summary_lines()]
        if self.snapshot.latencies:
            lines += ["latency histogram (log bins):", *histogram_text(self.snapshot.latencies)]
        return "\n".join(lines)
