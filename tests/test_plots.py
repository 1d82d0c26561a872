"""The figures, built from real labkit results: a simulated model benched over ~100 attempts, the reference
model's measured latencies and (where ping exists) the kernel's on loopback. Checks read the figure back:
axes, scales, artists, and that the same seed gives the same data while another seed does not."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from collections import Counter

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labkit import plots  # noqa: E402
from labkit.bench import run_bench, summarise  # noqa: E402
from labkit.errors import LabkitError  # noqa: E402
from labkit.evidence import wilson_interval  # noqa: E402
from labkit.judge import judge  # noqa: E402
from labkit.models.registry import get_model  # noqa: E402
from labkit.packets import echo_request  # noqa: E402
from labkit.stack import HostConfig, ReferenceStack  # noqa: E402

STRATEGIES = ("zero-shot", "few-shot", "tool-use")
N = 34  # per strategy: ~100 attempts in all


def bench(seed: int):
    return run_bench([f"simulated:{seed}"], STRATEGIES, n=N, seed=seed, workers=1)


@pytest.fixture(scope="module")
def results():
    return bench(7)


def kernel_latencies() -> list[float]:
    """RTTs of the kernel's own echo replies on loopback, from iputils ping (empty if ping is unavailable)."""
    if shutil.which("ping") is None:
        return []
    try:
        out = subprocess.run(
            ["ping", "-n", "-c", "5", "-i", "0.05", "127.0.0.1"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [float(ms) / 1000 for ms in re.findall(r"time=([\d.]+) ms", out)]


def reference_latencies(count: int = 20) -> list[float]:
    """Wall-clock time of labkit's reference stack answering echo requests (the reference *model* reports 0 s)."""
    stack = ReferenceStack(HostConfig())
    latencies = []
    for seq in range(1, count + 1):
        request = echo_request(seq=seq)
        started = time.perf_counter()
        result = stack.respond(request)
        latencies.append(time.perf_counter() - started)
        assert result.kind == "echo"
    return latencies


def wcag_contrast(first, second) -> float:
    """WCAG 2 contrast ratio, written out here so the test does not grade plots.py with its own formula."""
    from matplotlib.colors import to_rgb

    def luminance(colour) -> float:
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --- latency CDF ----------------------------------------------------------------------------------------------


def test_latency_cdf_on_a_log_axis(results):
    samples = {"reference stack": reference_latencies(), "simulated:7": list(results["latency_s"])}
    kernel = kernel_latencies()
    if kernel:
        samples = {"kernel (loopback ping)": kernel, **samples}
    figure = plots.latency_cdf(samples)
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert "seconds" in axes.get_xlabel() and axes.get_ylabel()
    lines = axes.get_lines()
    assert len(lines) == len(samples)
    for line, values in zip(lines, samples.values()):
        assert list(line.get_xdata())[1:] == sorted(values)
        assert line.get_ydata()[0] == 0 and line.get_ydata()[-1] == pytest.approx(1.0)
    figure.canvas.draw() if hasattr(figure.canvas, "draw") else None
    low, high = axes.get_xlim()
    labelled = [t for t in axes.get_xticklabels() if t.get_text() and low <= t.get_position()[0] <= high]
    assert len(labelled) >= 2, "the log axis labels its ticks"
    assert all(re.search(r"(µs|ms|s)$", t.get_text()) for t in labelled)
    assert low < min(min(v) for v in samples.values()) and high > max(max(v) for v in samples.values())
    assert len({str(line.get_linestyle()) for line in lines}) == len(lines), "greyscale: styles differ"
    assert len({line.get_marker() for line in lines}) == len(lines)
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert any(text.startswith("simulated:7 (n=") for text in legend)
    assert png_bytes(figure).startswith(b"\x89PNG")


def test_latency_cdf_rejects_empty_input():
    with pytest.raises(LabkitError, match="positive latencies"):
        plots.latency_cdf({})
    with pytest.raises(LabkitError, match="no positive latencies for 'reference'"):
        plots.latency_cdf({"reference": [0.0, 0.0], "model": [1.0]})


def test_latency_cdf_says_when_latencies_pile_up_at_a_cap():
    capped = [2.5, 3.0, 3.2] + [5.0] * 6
    text = " ".join(t.get_text() for t in plots.latency_cdf({"simulated": capped}).axes[0].texts)
    assert "6 of 9 at exactly 5 s" in text and "not a measured spread" in text
    assert not plots.latency_cdf({"spread": [1.0, 2.0, 3.0, 4.0]}).axes[0].texts


def test_role_error_rates_from_bench_results(results):
    figure = plots.role_error_rates(results, by="strategy")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["copied", "swapped", "decision", "recomputed", "host"]
    expected_top = 0.0
    for _, rows in results.groupby("strategy"):
        parsed = rows[rows["reply_hex"].notna()]
        checksum_wrong = sum(
            any(name.endswith(("chksum", "cksum")) for name in names) for names in parsed["wrong_fields"]
        )
        expected_top = max(expected_top, checksum_wrong / max(len(parsed), 1))
    labels = " ".join(t.get_text() for t in axes.texts)
    assert f"{round(100 * expected_top)}%" in labels
    assert axes.get_xlim()[1] < 100, "the scale fits the data"
    hatches = {patch.get_hatch() for patch in axes.patches}
    assert len(hatches) == len(STRATEGIES), "greyscale: a hatch per group"


def test_role_error_rates_bars_are_the_wilson_intervals_of_the_counts():
    """3 of 10 replies with a wrong checksum: the recomputed bar spans Wilson(3, 10), the others Wilson(0, 10)."""
    from labkit.stack import echo_reply

    request = echo_request(seq=1)
    good = echo_reply(request)
    spoiled = bytearray(good)
    spoiled[22] ^= 0xFF
    figure = plots.role_error_rates({"one": [judge(request, bytes(spoiled))] * 3 + [judge(request, good)] * 7})
    axes = figure.axes[0]
    roles = [t.get_text() for t in axes.get_yticklabels()]
    [bars] = [c for c in axes.collections if c.get_segments()]
    spans = {role: sorted(point[0] for point in segment) for role, segment in zip(roles, bars.get_segments())}
    assert spans.pop("recomputed") == pytest.approx([100 * bound for bound in wilson_interval(3, 10)])
    assert all(span == pytest.approx([0.0, 100 * wilson_interval(0, 10)[1]]) for span in spans.values())
    assert [round(patch.get_width()) for patch in axes.patches] == [0, 0, 0, 30, 0]


def test_summary_html_fits_a_1280_pixel_screen(results):
    html = plots.summary_html(summarise(results))
    assert "max-width:1280px" in html and html.count("<tr>") == 1 + len(STRATEGIES)
    assert "likely causes" in html


# --- per-field error heatmap ----------------------------------------------------------------------------------


def test_field_heatmap_from_bench_results(results):
    figure = plots.field_error_heatmap(results, by="strategy")
    axes = figure.axes[0]
    image = axes.get_images()[0].get_array()
    fields = [label.get_text() for label in axes.get_yticklabels()]
    columns = [label.get_text().split("\n")[0] for label in axes.get_xticklabels()]
    assert columns == list(STRATEGIES)
    assert fields, "a simulated model gets some field wrong in ~100 attempts"
    for row, name in enumerate(fields):
        for column, strategy in enumerate(columns):
            group = results[results["strategy"] == strategy]
            wrong = sum(name in names for names in group["wrong_fields"])
            assert image[row, column] == pytest.approx(wrong / len(group))
    assert len(axes.texts) == len(fields) * len(columns), "every cell carries its number (greyscale)"
    mapped = axes.get_images()[0]
    for text in axes.texts:  # each number stays readable on its cell: WCAG 4.5:1, in colour and in greyscale
        column, row = (round(v) for v in text.get_position())
        cell = mapped.cmap(mapped.norm(image[row, column]))
        assert wcag_contrast(text.get_color(), cell) >= 4.5, (text.get_text(), text.get_color(), cell)
    assert axes.get_xlabel() == "strategy" and axes.get_ylabel() == "header field"
    assert "share" in figure.axes[1].get_ylabel()  # the colour bar says what the colour means


def test_field_heatmap_from_judgements_lists_every_field():
    model = get_model("simulated:5")
    attempts = [model.attempt(echo_request(seq=seq)) for seq in range(1, 41)]
    judgements = [judge(a.request, a.reply) for a in attempts]
    figure = plots.field_error_heatmap({"simulated:5 (judgements)": judgements, "simulated:5 (attempts)": attempts})
    axes = figure.axes[0]
    fields = [label.get_text() for label in axes.get_yticklabels()]
    assert fields[:3] == ["ip.version", "ip.ihl", "ip.tos"]  # wire order, correct fields included
    image = axes.get_images()[0].get_array()
    assert np.allclose(image[:, 0], image[:, 1])  # judged here or before: the same numbers
    wrong = Counter(name for j in judgements for name in j.wrong_fields)
    for row, name in enumerate(fields):
        assert image[row, 0] == pytest.approx(wrong[name] / len(judgements))


def test_field_heatmap_numbers_stay_readable_mid_scale():
    # Wrong in 1 of 2 attempts: a 50 % cell, mid-scale, where a fixed black/white cut-off fails WCAG.
    from labkit.stack import echo_reply

    request = echo_request(seq=3)
    reply = echo_reply(request)
    broken = bytearray(reply)
    broken[23] ^= 0x01
    half = [judge(request, bytes(broken)), judge(request, reply)]
    axes = plots.field_error_heatmap({"half wrong": half}).axes[0]
    mapped = axes.get_images()[0]
    checked = 0
    for text in axes.texts:
        column, row = (round(v) for v in text.get_position())
        value = mapped.get_array()[row, column]
        assert wcag_contrast(text.get_color(), mapped.cmap(mapped.norm(value))) >= 4.5, text.get_text()
        checked += value == 0.5
    assert checked == 1  # the icmp.chksum cell


# --- success by strategy ---------------------------------------------------------------------------------------


def test_success_by_strategy_with_wilson_intervals(results):
    figure = plots.success_by_strategy(results)
    axes = figure.axes[0]
    bars = axes.patches
    summary = summarise(results)
    assert len(bars) == len(STRATEGIES)
    assert [b.get_height() for b in bars] == pytest.approx(list(100 * summary["accept_rate"]))
    assert [t.get_text() for t in axes.get_xticklabels()] == list(STRATEGIES)
    error_lines = [c for c in axes.collections if c.get_segments()]
    segments = error_lines[0].get_segments()
    for segment, row in zip(segments, summary.itertuples()):
        low, high = sorted(point[1] for point in segment)
        assert (low, high) == pytest.approx((100 * row.accept_lo, 100 * row.accept_hi))
    assert "95%" in axes.get_ylabel() and axes.get_xlabel() == "prompt strategy"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["simulated:7"]  # says it is simulated


def test_success_by_strategy_from_booleans_and_two_models():
    figure = plots.success_by_strategy({"zero-shot": [True] * 8 + [False] * 2, "tool-use": [True] * 10})
    axes = figure.axes[0]
    assert [b.get_height() for b in axes.patches] == pytest.approx([80.0, 100.0])
    low, high = wilson_interval(8, 10)
    segment = [c for c in axes.collections if c.get_segments()][0].get_segments()[0]
    assert sorted(p[1] for p in segment) == pytest.approx([100 * low, 100 * high])
    two = run_bench(["simulated:1", "simulated:2"], ["zero-shot"], n=10, seed=1)
    figure = plots.success_by_strategy(two)
    hatches = {bar.get_hatch() for bar in figure.axes[0].patches}
    assert len(figure.axes[0].patches) == 2 and len(hatches) == 2, "models differ by hatch, not colour alone"
    with pytest.raises(LabkitError):
        plots.success_by_strategy({})


# --- determinism ----------------------------------------------------------------------------------------------


def figure_data(frame) -> tuple:
    cdf = plots.latency_cdf({"model": list(frame["latency_s"])}).axes[0].get_lines()[0]
    heat = plots.field_error_heatmap(frame).axes[0].get_images()[0].get_array()
    bars = [b.get_height() for b in plots.success_by_strategy(frame).axes[0].patches]
    return list(cdf.get_xdata()), np.asarray(heat).tolist(), bars


def test_same_seed_same_figures_other_seed_other_figures(results):
    again = figure_data(bench(7))
    assert figure_data(results) == again
    assert figure_data(bench(8)) != again
