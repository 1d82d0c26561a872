"""benchmarks/rtt.py is not run in CI at full size; a tiny run keeps it (and its floor responders) working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from netns import netns_available

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))


def test_rtt_benchmark_measures_kernel_floor_and_labkit_with_no_loss():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "rtt.py"), "--count", "6", "--rounds", "2", "--interval", "0.02"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    received = dict(re.findall(r"^  (\S.*?)\s+median .* received (\d+)/6", done.stdout, re.MULTILINE))
    assert {"kernel echo reply", "floor (Python)", "labkit --model reference"} <= set(received), done.stdout
    assert set(received.values()) == {"6"}, done.stdout  # every responder, the floors too, answered every ping
    assert "ratio labkit/floor (Python)" in done.stdout
