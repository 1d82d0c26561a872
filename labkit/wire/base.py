"""What every attachment offers: receive a request, send a reply, close. Knows nothing of models."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from labkit.errors import LabkitError, NeedsRoot

# What to do when an attachment needs privileges we do not have. One text, used by every attachment,
# so the advice is the same whichever way in the user tried.
PRIVILEGE_ADVICE = (
    "Run it as root (sudo labkit respond ...), or inside a network namespace where you are root "
    "(sudo ip netns exec <ns> labkit respond ..., or unshare -rn), or answer a capture file instead "
    "(labkit pcap), or use the software wire, which needs no privileges (labkit respond --software)."
)


class WireGone(LabkitError):
    """The attachment stopped working for good (interface deleted, device closed); stop with a summary."""


@runtime_checkable
class Wire(Protocol):
    """Something that receives request frames and sends reply frames.

    `link` is "ether" when frames start with an Ethernet header (raw socket) and "ip" when they start at
    the IP header (TUN, software wire). `recv` returns None when nothing arrived within `timeout` seconds,
    so the caller can check whether it should stop.
    """

    link: str

    def recv(self, timeout: float) -> bytes | None: ...

    def send(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def needs_root(what: str, capability: str, exc: OSError | None = None) -> NeedsRoot:
    """The one NeedsRoot message: what failed, why, and the four ways out."""
    why = f" ({exc.strerror})" if exc is not None and exc.strerror else ""
    return NeedsRoot(f"{what} needs root or {capability}{why}. {PRIVILEGE_ADVICE}")
