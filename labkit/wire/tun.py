"""TUN attachment: the kernel owns one address on a tun device, labkit answers for the peer address.

Example: tun 10.77.0.1/30 belongs to the kernel; `ping 10.77.0.2` is routed into the tun, labkit reads it
and writes the reply back. Packets start at the IP header (IFF_TUN | IFF_NO_PI), so `link` is "ip".
Set up with plain ioctls, no extra library. The device is not persistent: it disappears when we close it.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import select
import socket
import struct

from labkit.errors import LabkitError
from labkit.wire.base import WireGone, needs_root

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCSIFADDR = 0x8916
SIOCSIFNETMASK = 0x891C
IFF_UP = 0x0001
IFNAMSIZ = 16
MAX_PACKET = 65535
GONE_ERRNOS = {errno.EBADFD, errno.EBADF, errno.ENODEV, errno.ENXIO, errno.EIO}


def _ifreq_flags(name: str, flags: int) -> bytes:
    return struct.pack(f"{IFNAMSIZ}sH22x", name.encode(), flags)


def _ifreq_ipv4(name: str, address: str) -> bytes:
    """struct ifreq holding a struct sockaddr_in, for SIOCSIFADDR / SIOCSIFNETMASK."""
    return struct.pack(f"{IFNAMSIZ}sH2x4s8x", name.encode(), socket.AF_INET, socket.inet_aton(address))


def configure_ipv4(name: str, interface: ipaddress.IPv4Interface) -> None:
    """Give the kernel `interface` (address/prefix) on device `name` and bring it up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ctl:
        fcntl.ioctl(ctl, SIOCSIFADDR, _ifreq_ipv4(name, str(interface.ip)))
        fcntl.ioctl(ctl, SIOCSIFNETMASK, _ifreq_ipv4(name, str(interface.netmask)))
        flags = struct.unpack(f"{IFNAMSIZ}sH22x", fcntl.ioctl(ctl, SIOCGIFFLAGS, _ifreq_flags(name, 0)))[1]
        fcntl.ioctl(ctl, SIOCSIFFLAGS, _ifreq_flags(name, flags | IFF_UP))


class TunWire:
    """IP packets through /dev/net/tun (needs root or CAP_NET_ADMIN)."""

    link = "ip"

    def __init__(self, name: str = "labkit0", kernel_address: str | None = "10.77.0.1/30"):
        if not name or len(name.encode()) >= IFNAMSIZ:
            raise LabkitError(f"a tun name must be 1 to {IFNAMSIZ - 1} characters, got {name!r}")
        try:
            self._fd = os.open("/dev/net/tun", os.O_RDWR)
        except FileNotFoundError as exc:
            raise LabkitError(
                "/dev/net/tun does not exist here (containers often lack it); "
                "load the tun module, use --interface, or use --software"
            ) from exc
        except PermissionError as exc:
            raise needs_root("opening /dev/net/tun", "CAP_NET_ADMIN", exc) from exc
        try:
            granted = fcntl.ioctl(self._fd, TUNSETIFF, _ifreq_flags(name, IFF_TUN | IFF_NO_PI))
            self.name = granted[:IFNAMSIZ].rstrip(b"\x00").decode()
            if kernel_address is not None:
                configure_ipv4(self.name, self._parse_interface(kernel_address))
        except PermissionError as exc:
            os.close(self._fd)
            raise needs_root(f"creating tun device {name}", "CAP_NET_ADMIN", exc) from exc
        except OSError as exc:
            os.close(self._fd)
            hint = " (is a device of that name already in use?)" if exc.errno == errno.EBUSY else ""
            raise LabkitError(f"cannot set up tun device {name}: {exc.strerror}{hint}") from exc
        except LabkitError:
            os.close(self._fd)
            raise
        self.kernel_address = kernel_address
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    @staticmethod
    def _parse_interface(text: str) -> ipaddress.IPv4Interface:
        try:
            return ipaddress.IPv4Interface(text)
        except ValueError as exc:
            raise LabkitError(f"{text!r} is not an IPv4 address with prefix, e.g. 10.77.0.1/30") from exc

    def recv(self, timeout: float) -> bytes | None:
        try:
            if not self._poll.poll(timeout * 1000):
                return None
            return os.read(self._fd, MAX_PACKET)
        except (OSError, ValueError) as exc:
            raise self._translate(exc) from exc

    def send(self, data: bytes) -> None:
        try:
            os.write(self._fd, data)
        except (OSError, ValueError) as exc:
            raise self._translate(exc) from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, ValueError) or getattr(exc, "errno", None) in GONE_ERRNOS:
            return WireGone(f"tun device {self.name} went away ({exc})")
        return exc

    def __repr__(self) -> str:
        return f"TunWire({self.name!r}, kernel_address={self.kernel_address!r})"
