"""Notebook 08's live lab: the system `ping` in a network namespace of its own, answered by a Responder.

Why a namespace for the pinger: every address it can reach is one this lab created. It holds only loopback
and one end of a veth pair (10.0.0.1/24); the other end stays in this namespace with no address, IPv4
forwarding, ARP answers and IPv6 off (as scripts/live-demo.sh does), so the kernel here neither answers nor
routes what arrives; only the Responder, on a raw socket on that end, answers 10.0.0.2. No packet can
leave the machine. Everything is removed by close(), at exit, or when building it fails halfway.

The pinger's namespace sets net.ipv4.ping_group_range as systemd's default sysctl file does, so `ping` opens
an ICMP datagram ("ping") socket; receiver="raw-socket" empties the range, so root's `ping` falls back to a raw socket.
Counters come from `nstat` inside the pinger's namespace, read before and after each ping.
Without root nothing is built: every method prints why and returns None, so a notebook still runs.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import LabkitError
from labkit.evidence import Evidence, evidence_of
from labkit.models.base import Model
from labkit.responder import Responder, ResponderStats
from labkit.wire.raw import RawWire

PINGER_ADDRESS = "10.0.0.1/24"
ANSWERED = "10.0.0.2"
# net.ipv4.ping_group_range per receiver: all groups may open ping sockets (systemd's default), or none.
RECEIVERS = {"ping-socket": "0 2147483647", "raw-socket": "1 0"}
COUNTERS = ("IcmpInMsgs", "IcmpInErrors", "IcmpInCsumErrors", "IcmpInEchoReps", "IcmpOutEchos")
LIVE_DEMO = Path(__file__).resolve().parent.parent / "scripts" / "live-demo.sh"
_TOOLS = ("ip", "ping", "nstat")
_labs = itertools.count(1)  # several labs in one process get different names
NOT_ROOT = "needs root (network namespaces and a raw socket)"
# Printed when a non-root student builds a lab: what they can do instead (Binder, a laptop, a class VM).
WITHOUT_ROOT = (
    "  Without root: the software wire (ping_software) runs the same responder and guard in virtual time;\n"
    "  the notebook as handed out (before you ran it) shows a root run: its ping lines and nstat counters;\n"
    "  on a machine where you have root, `sudo scripts/live-demo.sh` runs the real ping from a shell."
)


def unavailable() -> str | None:
    """None when the live lab can run here, else one line saying why not (shown instead of running)."""
    if os.geteuid() != 0:
        return NOT_ROOT
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (Debian: iproute2, iputils-ping)"
    return None


def _run(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise LabkitError(f"live lab: `{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


@dataclass
class PingRun:
    """One `ping` inside the lab: what it printed and the pinger namespace's ICMP counters around it."""

    receiver: str
    output: str
    before: dict[str, int]
    after: dict[str, int]
    moved: dict[str, int] = field(init=False)
    received: int = field(init=False)

    def __post_init__(self) -> None:
        self.moved = {
            name: self.after[name] - self.before[name] for name in COUNTERS if self.after[name] != self.before[name]
        }
        found = re.search(r"(\d+) received", self.output)  # ping's statistics line
        self.received = int(found.group(1)) if found else 0

    def counter_lines(self) -> list[str]:
        """One line per counter: before -> after (+change), in the pinger's namespace."""
        return [
            f"{name:<17} {self.before[name]:>4} -> {self.after[name]:<4} (+{self.after[name] - self.before[name]})"
            for name in COUNTERS
        ]


def _counters(netns: str) -> dict[str, int]:
    """Absolute ICMP counters in `netns` (nstat -a: since boot of the namespace; -s: no history file)."""
    text = _run("ip", "netns", "exec", netns, "nstat", "-asz", *COUNTERS)
    values = dict.fromkeys(COUNTERS, 0)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in values:
            values[parts[0]] = int(parts[1])
    return values


class LiveLab:
    """A pinger namespace, a veth, and a Responder answering 10.0.0.2 with `model`; close() removes them."""

    def __init__(self, model: Model, strategy: str = "zero-shot", **responder_options: object) -> None:
        self.why_not = unavailable()
        tag = f"lkl{os.getpid() % 100000}-{next(_labs)}"  # within the 15-character interface name limit
        self.netns, self.pinger_if, self.labkit_if = tag, f"{tag}a", f"{tag}b"
        self.responder: Responder | None = None
        self._wire: RawWire | None = None
        if self.why_not is not None:
            print(f"(live lab not started: {self.why_not})")
            if self.why_not == NOT_ROOT:
                print(WITHOUT_ROOT)
            return
        atexit.register(self.close)
        try:
            self._build()
            self._wire = RawWire(self.labkit_if)
            self.responder = Responder(self._wire, model, strategy, addresses=(ANSWERED,), **responder_options).start()  # type: ignore[arg-type]
        except LabkitError as exc:  # e.g. a container that forbids namespaces: say so, do not fail
            self.close()
            self.why_not, self.responder = str(exc), None
            print(f"(live lab not started: {self.why_not})")
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        _run("ip", "netns", "add", self.netns)
        _run("ip", "link", "add", self.pinger_if, "netns", self.netns, "type", "veth", "peer", "name", self.labkit_if)
        for setting in (
            "ipv6.conf.{}.disable_ipv6=1",
            "ipv4.conf.{}.forwarding=0",
            "ipv4.conf.{}.arp_ignore=8",
        ):  # the kernel here neither routes nor answers ARP
            _run("sysctl", "-qw", "net." + setting.format(self.labkit_if))
        _run("ip", "link", "set", self.labkit_if, "up")
        _run("ip", "-n", self.netns, "addr", "add", PINGER_ADDRESS, "dev", self.pinger_if)
        for dev in (self.pinger_if, "lo"):
            _run("ip", "-n", self.netns, "link", "set", dev, "up")

    def route(self) -> str | None:
        """How the pinger's namespace reaches 10.0.0.2 (`ip route get`): over the lab's veth, nowhere else."""
        if self._skipped():
            return None
        routes = _run("ip", "-n", self.netns, "route", "show").strip()
        links = _run("ip", "-n", self.netns, "-brief", "link", "show").strip()
        text = (
            f"routes in {self.netns}:\n{routes}\ninterfaces in {self.netns}:\n{links}\n"
            f"ip route get {ANSWERED}:\n{_run('ip', '-n', self.netns, 'route', 'get', ANSWERED).strip()}"
        )
        print(text)
        return text

    def ping(self, count: int = 4, receiver: str = "ping-socket", wait_s: float = 6.0) -> PingRun | None:
        """The system `ping -c count 10.0.0.2` in the pinger's namespace, on a ping socket or a raw socket."""
        if receiver not in RECEIVERS:
            raise LabkitError(f"receiver must be one of {', '.join(RECEIVERS)}, not {receiver!r}")
        if self._skipped():
            return None
        group_range = f"net.ipv4.ping_group_range={RECEIVERS[receiver]}"
        _run("ip", "netns", "exec", self.netns, "sysctl", "-qw", group_range)
        before = _counters(self.netns)
        output = _run(
            "ip",
            "netns",
            "exec",
            self.netns,
            "ping",
            "-n",
            "-c",
            str(count),
            "-i",
            "0.2",
            "-W",
            f"{wait_s:g}",
            ANSWERED,
            check=False,
        )
        after = _counters(self.netns)
        run = PingRun(receiver, output, before, after)
        print(f"[{receiver}: net.ipv4.ping_group_range = {RECEIVERS[receiver]}]\n{output.rstrip()}")
        print("\nICMP counters in the pinger's namespace (nstat), before -> after:")
        print("\n".join(run.counter_lines()))
        return run

    def stats(self) -> ResponderStats | None:
        return None if self.responder is None else self.responder.stats

    def _skipped(self) -> bool:
        if self.why_not is not None:
            print(f"(skipped: {self.why_not})")
        elif self.responder is None:
            print("(skipped: the live lab is closed)")
        return self.responder is None

    def close(self) -> None:
        """Stop the responder and remove the veth and the namespace; safe to call twice."""
        if unavailable() is not None:
            return
        if self.responder is not None:
            self.responder.stop("the live lab closed")
            self.responder = None
        if self._wire is not None:
            self._wire.close()
            self._wire = None
        _run("ip", "link", "del", self.labkit_if, check=False)
        _run("ip", "netns", "del", self.netns, check=False)

    def __enter__(self) -> LiveLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SIMULATED_ASSUMPTIONS = ("labkit's assumed latencies and mistakes (docs/simulator.md)",)


def responder_evidence(model: Model, stats: ResponderStats) -> Evidence:
    """What a responder run can support: one row per request the model was asked about, tagged by evidence_of."""
    rows = [{"model": model.name, "simulated": model.simulated}] * stats.requests
    return evidence_of(rows, assumptions=SIMULATED_ASSUMPTIONS if model.simulated else None)


def run_live_demo(model_name: str, count: int = 4, receivers: str = "ping-socket") -> str:
    """scripts/live-demo.sh with an offline model, its output as text (the path is found here, not in cells)."""
    if model_name.split(":", 1)[0].startswith("claude"):
        raise LabkitError("the notebook runs the live demo only with offline models; run claude from a shell")
    if not LIVE_DEMO.is_file():
        raise LabkitError(f"{LIVE_DEMO} is not here: the live demo comes with the labkit repository, not the wheel")
    env = dict(os.environ, LABKIT_DEMO_RECEIVERS=receivers)
    done = subprocess.run(
        ["bash", str(LIVE_DEMO), model_name, str(count)], capture_output=True, text=True, env=env, timeout=300
    )
    return done.stdout + done.stderr
