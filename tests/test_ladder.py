"""labkit.ladder: the kernel/reference/model comparison of notebook 09 -- real measurements where it can, and
honest gaps (NaN, []) where it cannot."""

from __future__ import annotations

import math
import shutil

import pytest

from labkit.ladder import kernel_rtts, ladder_lines, median, model_attempts, reference_times
from labkit.models import get_model
from labkit.packets import echo_request


def test_median_is_the_middle_and_nan_for_nothing():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert math.isnan(median([]))


def test_the_ladder_reports_the_ratio_of_medians():
    lines = ladder_lines({"slow": [1.0, 1.0, 1.0], "fast": [0.001, 0.001]}, "slow", "fast")
    assert lines[0].startswith("slow") and "1,000.000 ms" in lines[0] and "(3 samples)" in lines[0]
    assert lines[-1] == "slow is 3.0 orders of magnitude slower than fast, on this machine"


def test_reference_times_are_real_and_small():
    times = reference_times(echo_request(), runs=5)
    assert len(times) == 5 and all(0 < t < 1 for t in times)


def test_model_attempts_ask_distinct_requests():
    attempts = model_attempts(get_model("simulated:7"), asks=3)
    assert len(attempts) == 3 and all(a.latency_s > 0 for a in attempts)
    assert len({a.request for a in attempts}) == 3


@pytest.mark.skipif(not shutil.which("ping"), reason="no ping here")
def test_kernel_rtts_parse_pings_own_lines():
    rtts = kernel_rtts(count=2)
    if not rtts:
        pytest.skip("this host cannot ping its loopback (no ping socket or raw socket allowed)")
    assert len(rtts) == 2 and all(0 < t < 1 for t in rtts)
