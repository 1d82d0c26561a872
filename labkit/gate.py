"""The one ingress gate: which frames a model may answer, decided by the reference stack, as Linux decides.

Why one module: pcap mode and the live responder must refuse the same things -- bad IPv4 header, ICMP and
ICMPv6 checksums, martian sources, our own address as a source, broadcasts, ARP that Linux ignores -- before
any model sees a byte. A real model answers whatever it is asked, so the check cannot be left to it. The
reference stack (labkit.stack, held to the golden kernel captures) already applies Linux's receive checks; the
gate asks it first and hands a model only the echo requests the stack itself would answer.
"""

from __future__ import annotations

import re
from typing import Protocol

from labkit.headers import PROTO_ICMPV6, ip_version, is_fragment
from labkit.stack import StackResult, echo_reply


class Unwrapping(Protocol):
    """What the gate needs from a link layer: turn a frame into what the stack takes (pcap.LinkLayer does)."""

    def unwrap(self, frame: bytes): ...


class Responding(Protocol):
    def respond(self, packet: bytes, link: str = "ip") -> StackResult: ...


def classify(link: Unwrapping, stack: Responding, frame: bytes):
    """(frame as the stack sees it, the stack's result or None, the IP echo request for the model or None).

    The stack decides whether a host answers at all (addresses, broadcasts, martians, checksums); an echo
    request it answers goes to the model only when it is a whole datagram -- a fragment's reply comes from the
    stack, which reassembled it, since the model sees one packet at a time.
    """
    unwrapped = link.unwrap(frame)
    if unwrapped.stack_input is None:
        return unwrapped, None, None
    result = stack.respond(unwrapped.stack_input, unwrapped.link)
    if result.kind not in ("echo", "echo6"):
        return unwrapped, result, None
    packet = unwrapped.stack_input[14:] if unwrapped.link == "ether" else unwrapped.stack_input
    return unwrapped, result, packet if _whole_datagram(packet) else None


def _whole_datagram(packet: bytes) -> bool:
    if ip_version(packet) == 4:
        return not is_fragment(packet)
    if packet[6] == PROTO_ICMPV6:  # ICMPv6 straight after the IPv6 header: no fragment header
        return True
    return echo_reply(packet) is not None  # extension headers: let the stack's parser decide


# Which of Linux's receive checks refused a frame, named once for counters ("ingress: bad ICMP checksum").
_CHECKS = (
    ("bad IP header checksum", "bad IPv4 header checksum"),
    ("bad ICMPv6 checksum", "bad ICMPv6 checksum"),
    ("bad ICMP checksum", "bad ICMP checksum"),
    ("martian source", "martian source"),
    ("is our own address", "our own address as source"),
    ("broadcast", "sent to broadcast/multicast"),
    ("multicast", "sent to broadcast/multicast"),
    ("unspecified address", "unspecified source"),
)
_ASIDE = re.compile(r"\s*\([^)]*\)")
_NUMBER = re.compile(r"0x[0-9a-fA-F]+|\d+(\.\d+){3}|[0-9a-fA-F:]*::[0-9a-fA-F:]*|\b\d+\b")


def check_name(reason: str) -> str:
    """A short, countable name for the check behind a stack reason ("bad ICMP checksum", "martian source")."""
    for needle, name in _CHECKS:
        if needle in reason:
            return name
    short = _NUMBER.sub("N", _ASIDE.sub("", reason.split(";")[0].removeprefix("malformed: ")))
    return short.strip(" :") or reason
