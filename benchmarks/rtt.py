"""RTT of labkit's live responder against the Linux kernel's own echo reply, and against the floor, on one veth.

    sudo python benchmarks/rtt.py [--count 300] [--model reference] [--interval 0.005]

One run, one pair of network namespaces: the kernel owns 10.0.0.3 on the responder side, and a real `ping`
from the other namespace measures, in rounds so drift hits all alike:
  * the kernel's echo reply (10.0.0.3);
  * the floor: benchmarks/floor/floor_responder.py, the least a Python raw-socket responder can do (wake, recv,
    swap, send; no checks), and the same in C when a C compiler is found -- what any user-space responder that
    sleeps between packets pays before it does any work;
  * `labkit respond --interface` answering 10.0.0.2 (a real subprocess of the CLI).
Only one responder runs at a time, so none wakes for another's pings. Prints the medians and same-run ratios,
where labkit's per-packet time goes in-process (ingress gate, model.attempt, egress check), and the machine's
load average, since other work on the machine moves every median.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from netns import in_ns, ip, netns_available, veth_pair  # noqa: E402  (tests/netns.py: namespaces that clean up)

RTT = re.compile(r"icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms")
LABKIT = [sys.executable, "-c", "import sys; from labkit.cli import main; sys.exit(main())"]
FLOOR = REPO / "benchmarks" / "floor"
KERNEL_ADDR = "10.0.0.3"


def ping_rtts(pair, address: str, count: int, interval: float) -> list[float]:
    done = pair.run_in_ping(
        ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2", address], timeout=count * interval + 30
    )
    return [float(m.group(1)) for m in RTT.finditer(done.stdout)]


def labkit_argv(pair, model: str) -> list[str]:
    options = ["--interface", pair.labkit_if, "--address", pair.labkit_addr, "--model", model, "--quiet"]
    return [*LABKIT, "respond", *options]


def floor_argvs(pair, workdir: Path) -> dict[str, list[str]]:
    """The floor responders: Python always, C when `cc` can build it."""
    argvs = {"floor (Python)": [sys.executable, str(FLOOR / "floor_responder.py"), pair.labkit_if, pair.labkit_addr]}
    compiler = shutil.which("cc") or shutil.which("gcc")
    binary = workdir / "floor_responder"
    build = [compiler or "cc", "-O2", "-o", str(binary), str(FLOOR / "floor_responder.c")]
    if compiler and subprocess.run(build).returncode == 0:
        argvs["floor (C)"] = [str(binary), pair.labkit_if, pair.labkit_addr]
    return argvs


@contextmanager
def running(pair, argv: list[str], ready: str, summary: list[str]) -> Iterator[None]:
    """One responder in the responder namespace, from its ready line until SIGTERM; its output into `summary`."""
    proc = subprocess.Popen(
        in_ns(pair.labkit_ns, argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL),  # a background job ignores SIGINT
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if ready not in banner:
        proc.kill()
        raise SystemExit(f"{argv[0]} did not start: {banner}{proc.stdout.read()}")
    try:
        ping_rtts(pair, pair.labkit_addr, 3, 0.05)  # warm up ARP
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            summary[:] = proc.communicate(timeout=30)[0].splitlines()
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


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
    per_round = max(args.count // args.rounds, 1)
    summary: list[str] = []
    with veth_pair() as pair, tempfile.TemporaryDirectory() as workdir:
        ip("addr", "add", f"{KERNEL_ADDR}/24", "dev", pair.labkit_if, netns=pair.labkit_ns)
        responders = {**floor_argvs(pair, Path(workdir)), f"labkit --model {args.model}": labkit_argv(pair, args.model)}
        rtts: dict[str, list[float]] = {"kernel echo reply": [], **{name: [] for name in responders}}
        ping_rtts(pair, KERNEL_ADDR, 3, 0.05)
        for _ in range(args.rounds):
            rtts["kernel echo reply"] += ping_rtts(pair, KERNEL_ADDR, per_round, args.interval)
            for name, argv in responders.items():
                with running(pair, argv, "Ctrl-C stops" if name.startswith("labkit") else "ready", summary):
                    rtts[name] += ping_rtts(pair, pair.labkit_addr, per_round, args.interval)
    report(rtts, per_round * args.rounds, args, summary)
    return 0


def report(rtts: dict[str, list[float]], sent: int, args: argparse.Namespace, summary: list[str]) -> None:
    medians = {name: statistics.median(values) if values else float("nan") for name, values in rtts.items()}
    kernel, labkit = medians["kernel echo reply"], medians[f"labkit --model {args.model}"]
    print(
        f"rtt benchmark on one veth pair, {sent} pings each, interval {args.interval} s, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}"
    )
    for name, values in rtts.items():
        print(
            f"  {name:<26} median {medians[name]:.3f} ms  p95 {_p95(values):.3f} ms  received {len(values)}/{sent}"
            f"  {medians[name] / kernel:5.1f}x kernel"
        )
    print(f"  ratio labkit/kernel        {labkit / kernel:.1f}x (median)")
    print(f"  ratio labkit/floor (Python) {labkit / medians['floor (Python)']:.1f}x (median)")
    profile = per_packet_profile(args.model)
    print(
        "  labkit per-packet steps (in-process medians): "
        + ", ".join(f"{name} {us:.0f} us" for name, us in profile.items())
    )
    print(
        "  responder summary: "
        + " | ".join(line.strip() for line in summary if line.startswith(("requests", "model latency")))
    )


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")


if __name__ == "__main__":
    sys.exit(main())
