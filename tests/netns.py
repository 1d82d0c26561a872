"""Network namespaces and veth pairs for root tests, as context managers that always clean up.

Names are unique per process (lk-<pid>-<n>-a) so parallel or crashed runs never collide, and the
namespaces are deleted in `finally`, so a failing test leaves nothing behind. All traffic stays inside
the namespaces: 10.x addresses only.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_counter = itertools.count(1)


def is_root() -> bool:
    return os.geteuid() == 0


def netns_available() -> str | None:
    """None when namespaces work here, else why not (used as a skip reason)."""
    if not is_root():
        return "needs root (network namespaces, raw sockets, TUN); CI runs these as root"
    if shutil.which("ip") is None:
        return "needs iproute2 (`ip`)"
    probe = f"lk-{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def unique_prefix() -> str:
    """'lk-<pid>-<n>': short enough that '<prefix>-a' fits the 15-character interface name limit."""
    return f"lk-{os.getpid() % 100000}-{next(_counter)}"


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def in_ns(netns: str, argv: Sequence[str]) -> list[str]:
    """argv run inside `netns`."""
    return ["ip", "netns", "exec", netns, *argv]


@contextlib.contextmanager
def namespace(name: str | None = None) -> Iterator[str]:
    """A fresh network namespace with loopback up; deleted afterwards whatever happens."""
    name = name or unique_prefix()
    ip("netns", "add", name)
    try:
        ip("link", "set", "lo", "up", netns=name)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@dataclass(frozen=True)
class VethPair:
    """Two namespaces joined by a veth: the pinger side has an address, the labkit side has none."""

    ping_ns: str
    ping_if: str
    ping_addr: str  # e.g. "10.0.0.1"
    labkit_ns: str
    labkit_if: str
    labkit_addr: str  # the address labkit answers for; the kernel on that side does not own it

    def run_in_ping(self, argv: Sequence[str], timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(in_ns(self.ping_ns, argv), capture_output=True, text=True, timeout=timeout, **kw)


@contextlib.contextmanager
def veth_pair(
    ping_addr: str = "10.0.0.1",
    labkit_addr: str = "10.0.0.2",
    prefix_len: int = 24,
    ping_addr6: str | None = None,
    ping_group_range: str | None = "0 2147483647",
) -> Iterator[VethPair]:
    """Two namespaces and a veth between them; everything removed on exit, even when the test fails.

    Deleting a namespace deletes the veth end inside it, and with it the peer. `ping_group_range` is set in
    the pinger's namespace as systemd sets it on most distributions, so iputils ping uses an ICMP datagram
    socket, on which the kernel drops replies with a bad checksum (a fresh namespace has "1 0": ping falls
    back to a raw socket, and iputils does not check echo reply checksums there). None leaves it alone.
    """
    prefix = unique_prefix()
    with namespace(f"{prefix}-p") as ping_ns, namespace(f"{prefix}-l") as labkit_ns:
        ping_if, labkit_if = f"{prefix}-a", f"{prefix}-b"
        ip("link", "add", ping_if, "netns", ping_ns, "type", "veth", "peer", "name", labkit_if, "netns", labkit_ns)
        if ping_group_range is not None:
            subprocess.run(
                in_ns(ping_ns, ["sysctl", "-qw", f"net.ipv4.ping_group_range={ping_group_range}"]),
                check=True,
                capture_output=True,
            )
        ip("addr", "add", f"{ping_addr}/{prefix_len}", "dev", ping_if, netns=ping_ns)
        if ping_addr6:
            ip("addr", "add", ping_addr6, "dev", ping_if, "nodad", netns=ping_ns)
        ip("link", "set", ping_if, "up", netns=ping_ns)
        ip("link", "set", labkit_if, "up", netns=labkit_ns)
        yield VethPair(ping_ns, ping_if, ping_addr, labkit_ns, labkit_if, labkit_addr)
