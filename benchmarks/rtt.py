"""RTT of labkit's live responder against the Linux kernel's own echo reply, on the same veth pair.

    sudo python benchmarks/rtt.py [--count 300] [--model reference] [--interval 0.005]

One run, one pair of network namespaces: the kernel owns 10.0.0.3 on the labkit side, `labkit respond
--interface` answers 10.0.0.2 there (a real subprocess of the CLI), and a real `ping` from the other
namespace measures both, alternating in rounds so drift hits both alike. Prints the medians and their
ratio, plus where labkit's per-packet time goes (ingress gate, model.attempt, egress check) in-process,
and the machine's load average, since other work on the machine moves both medians.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from netns import in_ns, ip, netns_available, veth_pair  # noqa: E402  (tests/netns.py: namespaces that clean up)

RTT = re.compile(r"icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms")
LABKIT = [sys.executable, "-c", "import sys; from labkit.cli import main; sys.exit(main())"]


def ping_rtts(pair, address: str, count: int, interval: float) -> list[float]:
    done = pair.run_in_ping(
        ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2", address], timeout=count * interval + 30
    )
    return [float(m.group(1)) for m in RTT.finditer(done.stdout)]


def start_responder(pair, model: str) -> subprocess.Popen:
    argv = in_ns(
        pair.labkit_ns,
        [*LABKIT, "respond", "--interface", pair.labkit_if, "--address", pair.labkit_addr, "--model", model, "--quiet"],
    )
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if "Ctrl-C stops" not in banner:
        proc.kill()
        raise SystemExit(f"labkit respond did not start: {banner}{proc.stdout.read()}")
    return proc


def per_packet_profile(model_name: str, n: int = 2000) -> dict[str, float]:
    """Median microseconds of each step labkit takes per echo request, in-process and warm.

    The responder passes each frame through the ingress gate (the reference stack's receive checks), asks the
    model, then checks the reply: a reply equal to the reference reply (apart from the IPv4 ID) passes the
    fast path; one that differs costs strict_refusal and checksum.verify as well.
    """
    from labkit.checksum import verify
    from labkit.egress import same_as_reference, strict_refusal
    from labkit.gate import classify
    from labkit.models import get_model
    from labkit.packets import echo_request
    from labkit.responder import _WireLink
    from labkit.stack import HostConfig, ReferenceStack

    model = get_model(model_name)
    stack, link = ReferenceStack(HostConfig(ipv4=("10.0.0.2",))), _WireLink("ip")
    requests = [echo_request(ident=0x77, seq=i, payload=bytes(56)) for i in range(64)]
    steps: dict[str, list[float]] = {
        "gate.classify": [],
        "model.attempt": [],
        "egress fast path": [],
        "egress.strict_refusal + verify": [],
    }
    for i in range(n):
        request = requests[i % len(requests)]
        t0 = time.perf_counter()
        expected = classify(link, stack, request)[1].replies[0]
        t1 = time.perf_counter()
        reply = model.attempt(request, "zero-shot").reply
        t2 = time.perf_counter()
        same_as_reference(reply, expected)
        t3 = time.perf_counter()
        strict_refusal(reply, expected)
        verify(reply)
        t4 = time.perf_counter()
        for name, spent in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            steps[name].append(spent * 1e6)
    return {name: statistics.median(values) for name, values in steps.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="pings per target (split into rounds)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--model", default="reference")
    args = parser.parse_args()
    why_not = netns_available()
    if why_not:
        print(f"rtt benchmark: {why_not}", file=sys.stderr)
        return 2
    kernel: list[float] = []
    labkit: list[float] = []
    per_round = max(args.count // args.rounds, 1)
    with veth_pair() as pair:
        ip("addr", "add", "10.0.0.3/24", "dev", pair.labkit_if, netns=pair.labkit_ns)
        responder = start_responder(pair, args.model)
        try:
            ping_rtts(pair, "10.0.0.3", 3, 0.05)  # warm up ARP on both paths
            ping_rtts(pair, pair.labkit_addr, 3, 0.05)
            for _ in range(args.rounds):
                kernel += ping_rtts(pair, "10.0.0.3", per_round, args.interval)
                labkit += ping_rtts(pair, pair.labkit_addr, per_round, args.interval)
        finally:
            responder.send_signal(signal.SIGTERM)  # a background job ignores SIGINT
            summary = responder.communicate(timeout=30)[0]
    sent = per_round * args.rounds
    k_med, l_med = statistics.median(kernel), statistics.median(labkit)
    print(
        f"rtt benchmark on one veth pair, {sent} pings each, interval {args.interval} s, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  kernel echo reply        median {k_med:.3f} ms  p95 {_p95(kernel):.3f} ms  received {len(kernel)}/{sent}")
    print(
        f"  labkit --model {args.model:<9} median {l_med:.3f} ms  p95 {_p95(labkit):.3f} ms  "
        f"received {len(labkit)}/{sent}"
    )
    print(f"  ratio labkit/kernel      {l_med / k_med:.1f}x (median)")
    profile = per_packet_profile(args.model)
    print(
        "  labkit per-packet steps (in-process medians): "
        + ", ".join(f"{name} {us:.0f} us" for name, us in profile.items())
    )
    print(
        "  responder summary: "
        + " | ".join(line.strip() for line in summary.splitlines() if line.startswith(("requests", "model latency")))
    )
    return 0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")


if __name__ == "__main__":
    sys.exit(main())
