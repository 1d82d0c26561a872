"""Capture your own ping, safely: real `ping` in a throw-away network namespace, recorded by `tcpdump -w`.

Why a namespace: the ping goes to an address that exists only inside a namespace this module creates and
deletes, over a veth pair whose far end drops everything, so no packet can leave the machine and nothing
answers it -- the requests are left for labkit's pcap mode to answer (notebook 07). Needs root (creating
namespaces); without it, `why_not()` says so and nothing is run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from os import PathLike

SOURCE, TARGET = "10.199.0.1", "10.199.0.2"  # both exist only inside the namespace made here
TARGET_MAC = "02:00:00:00:00:02"  # a static neighbour entry: no ARP, and no host owns it


def why_not() -> str | None:
    """None when a capture can be made here, else the reason (shown in the notebook instead of running)."""
    if os.geteuid() != 0:
        # Printed after "Not capturing: " in notebook 07: kept within the 107 characters a line shows at 1280 px.
        return "needs root (it creates a network namespace); use the capture made in section 1 instead"
    missing = [tool for tool in ("ip", "ping", "tcpdump") if shutil.which(tool) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def capture_own_ping(out_path: str | PathLike, count: int = 4, interval: float = 0.2) -> str:
    """Run `ping -c count TARGET` inside a fresh namespace, write what tcpdump saw to out_path, return ping's output."""
    reason = why_not()
    if reason:
        raise PermissionError(reason)
    name = f"lk-own-{os.getpid() % 100000}"
    _ip("netns", "add", name)
    try:
        _wire_up(name)
        return _ping_while_capturing(name, out_path, count, interval)
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _wire_up(name: str) -> None:
    for args in (
        ("link", "set", "lo", "up"),
        ("link", "add", "v0", "type", "veth", "peer", "name", "v1"),
        ("addr", "add", f"{SOURCE}/24", "dev", "v0"),
        ("link", "set", "v0", "up"),
        ("link", "set", "v1", "up"),
        ("neigh", "add", TARGET, "lladdr", TARGET_MAC, "dev", "v0", "nud", "permanent"),
    ):
        _ip("-n", name, *args)


def _ping_while_capturing(name: str, out_path: str | PathLike, count: int, interval: float) -> str:
    tcpdump = subprocess.Popen(
        ["ip", "netns", "exec", name, "tcpdump", "-U", "-i", "v0", "-w", str(out_path), "icmp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_listening(tcpdump)
        ping = subprocess.run(
            ["ip", "netns", "exec", name, "ping", "-c", str(count), "-i", str(interval), "-W", "1", TARGET],
            capture_output=True,
            text=True,
            timeout=30,
        )
        time.sleep(0.2)  # let tcpdump write the last packet before it is stopped
        return ping.stdout
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)


def _wait_listening(tcpdump: subprocess.Popen) -> None:
    """tcpdump prints 'listening on' once its capture is open; a ping sent before that would be missed."""
    assert tcpdump.stderr is not None
    line = tcpdump.stderr.readline()
    if "listening" not in line:
        raise RuntimeError(f"tcpdump did not start: {line.strip()}")
