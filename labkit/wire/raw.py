"""Raw-socket attachment: an AF_PACKET socket on one interface, Ethernet frames in and out.

labkit answers for an address the kernel does not have on that interface, so the kernel never answers
first (and drops the requests silently, as they are not addressed to it). ARP and NDP for that address
are labkit's job too; the responder answers them with the reference stack.
"""

from __future__ import annotations

import errno
import json
import select
import shutil
import socket
import subprocess
from pathlib import Path

from labkit.errors import LabkitError
from labkit.wire.base import WireGone, needs_root

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_IGNORE_OUTGOING = 263, 23  # <linux/if_packet.h>
PACKET_OUTGOING = 4  # sll_pkttype of frames this host sent; we must not answer our own replies
MAX_FRAME = 65535
# errno values meaning the interface is gone for good (deleted, moved to another namespace).
GONE_ERRNOS = {errno.ENODEV, errno.ENXIO, errno.EBADF}


def interface_exists(interface: str) -> bool:
    try:
        socket.if_nametoindex(interface)
    except OSError:
        return False
    return True


def interface_mac(interface: str) -> str:
    """The interface's own MAC, so the frames the peer sends to it are ones the NIC accepts."""
    try:
        return Path(f"/sys/class/net/{interface}/address").read_text().strip()
    except OSError as exc:
        raise LabkitError(f"cannot read the MAC address of {interface}: {exc.strerror}") from exc


def kernel_addresses(interface: str) -> list[str]:
    """IP addresses the kernel itself owns on `interface` (it would answer pings to them before us).

    Empty when `ip` is not installed: the check is advice, not a requirement.
    """
    ip_tool = shutil.which("ip")
    if ip_tool is None:
        return []
    done = subprocess.run(
        [ip_tool, "-j", "addr", "show", "dev", interface], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return []
    try:
        entries = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return []
    return [info["local"] for entry in entries for info in entry.get("addr_info", []) if "local" in info]


def open_packet_socket() -> socket.socket:
    """An AF_PACKET socket seeing every protocol (PermissionError without root or CAP_NET_RAW)."""
    return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))


class RawWire:
    """Ethernet frames on one interface through an AF_PACKET socket (needs root or CAP_NET_RAW)."""

    link = "ether"

    def __init__(self, interface: str):
        if not interface_exists(interface):
            raise LabkitError(
                f"there is no interface named {interface!r} here; list them with `ip link` "
                "(inside a namespace: `ip netns exec <ns> ip link`)"
            )
        self.interface = interface
        try:
            self._sock = open_packet_socket()
        except PermissionError as exc:
            raise needs_root(f"a raw socket on {interface}", "CAP_NET_RAW", exc) from exc
        try:
            self._sock.bind((interface, ETH_P_ALL))
        except OSError as exc:
            self._sock.close()
            raise LabkitError(f"cannot attach to {interface}: {exc.strerror}") from exc
        self.mac = interface_mac(interface)
        try:  # our own replies never reach us: one wake-up and copy fewer per reply (Linux 4.20+)
            self._sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # older kernels: recv() still filters PACKET_OUTGOING
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)

    def recv(self, timeout: float) -> bytes | None:
        """One frame addressed to or seen by this interface (never one we sent), or None after `timeout`."""
        try:
            if not self._poll.poll(timeout * 1000):
                return None
            frame, address = self._sock.recvfrom(MAX_FRAME)
        except (OSError, ValueError) as exc:
            raise self._translate(exc) from exc
        if address[2] == PACKET_OUTGOING:
            return None
        return frame

    def send(self, data: bytes) -> None:
        try:
            self._sock.send(data)
        except (OSError, ValueError) as exc:
            raise self._translate(exc) from exc

    def close(self) -> None:
        self._sock.close()

    def _translate(self, exc: Exception) -> Exception:
        """A deleted interface becomes WireGone (stop); anything else stays an OSError (count, retry)."""
        gone = isinstance(exc, ValueError) or getattr(exc, "errno", None) in GONE_ERRNOS
        if gone or not interface_exists(self.interface):
            return WireGone(f"interface {self.interface} went away ({exc})")
        return exc

    def __repr__(self) -> str:
        return f"RawWire({self.interface!r}, mac={self.mac})"
