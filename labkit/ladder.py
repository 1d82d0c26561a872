"""Who answers a ping, and how fast: the kernel, labkit's reference stack and a model, side by side (notebook 09).

Why a module: the comparison is three measurements taken three different ways (a real `ping` of loopback,
a timed Python call, the model's own latency), and each way has a pitfall -- so it lives here, tested, and the
notebook cell only prints it. The kernel's number is `ping`'s own round trip on loopback: traffic never
leaves this host's loopback device.
"""

from __future__ import annotations

import math
import re
import shutil
import statistics
import subprocess
import timeit
from collections.abc import Mapping, Sequence

from labkit.packets import echo_request
from labkit.stack import echo_reply

LOOPBACK = "127.0.0.1"
RTT = re.compile(r"icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms")  # one line of iputils ping's output


def kernel_rtts(count: int = 10) -> list[float]:
    """`ping`'s round trips to this host's loopback, in seconds ([] where there is no `ping`)."""
    if not shutil.which("ping"):
        return []
    command = ["ping", "-n", "-c", str(count), "-i", "0.2", LOOPBACK]
    output = subprocess.run(command, capture_output=True, text=True, timeout=30 + count).stdout
    return [float(ms) / 1000 for ms in RTT.findall(output)]


def reference_times(request: bytes, runs: int = 200) -> list[float]:
    """Seconds the reference stack takes to *build* one reply -- no sending, unlike `ping`'s round trip."""
    return [timeit.timeit(lambda: echo_reply(request), number=1) for _ in range(runs)]


def model_attempts(model: object, asks: int = 20, strategy: str = "zero-shot") -> list:
    """`asks` attempts at different requests; each carries its latency (modelled when the model is simulated)."""
    return [model.attempt(echo_request(seq=seq), strategy) for seq in range(1, asks + 1)]  # type: ignore[attr-defined]


def median(samples: Sequence[float]) -> float:
    """The median, or NaN for no samples (a missing `ping` should print, not crash)."""
    return statistics.median(samples) if samples else math.nan


def ladder_lines(ladder: Mapping[str, Sequence[float]], slow: str, fast: str) -> list[str]:
    """One line per responder (median in ms, sample count), then how many orders of magnitude `slow` is
    above `fast` -- a ratio of medians from the same run."""
    lines = [f"{name:28} median {median(s) * 1000:12,.3f} ms   ({len(s)} samples)" for name, s in ladder.items()]
    orders = math.log10(median(ladder[slow]) / median(ladder[fast]))
    return [*lines, f"{slow} is {orders:.1f} orders of magnitude slower than {fast}, on this machine"]
