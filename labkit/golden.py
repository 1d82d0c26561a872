"""Real packets for the notebooks: pings from iputils and the Linux kernel's replies, as tcpdump recorded them.

Why: a student should compare a model's reply with what a real kernel sent, not only with labkit's reference
stack. These are copies of three of the golden captures in tests/data/ (made by tests/data/make_captures.py:
iputils ping 20221126 in one network namespace, Linux 6.18 answering in another; see tests/data/README.md),
shipped as package data so that an installed labkit has them too.

    exchange = golden_exchange("ping")          # first echo request and the kernel's reply, as IP packets
    exchange.request, exchange.reply           # bytes (the first fragment when fragmented)
    exchange.request_fragments                 # every fragment, in capture order
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scapy.utils import RawPcapReader

from labkit.errors import LabkitError
from labkit.fields import field_map

CAPTURES = Path(__file__).resolve().parent / "data"
# name -> (file, what the client ran): the scenarios of tests/data/README.md that the notebooks use
GOLDEN = {
    "ping": ("golden_ping.pcap", "ping -c 2 10.99.0.2 (56 data bytes)"),
    "ping_tos_ttl": ("golden_ping_tos_ttl.pcap", "ping -Q 0x10 -t 7 10.99.0.2 (TOS 0x10, TTL 7)"),
    "ping_s3000": ("golden_ping_s3000.pcap", "ping -s 3000 10.99.0.2 (3008 bytes of ICMP: fragmented)"),
}
CLIENT, KERNEL = bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])  # the two namespaces' IPv4 addresses
_ETHERNET, _IPV4 = 14, b"\x08\x00"


@dataclass(frozen=True)
class GoldenExchange:
    name: str
    command: str  # what the client ran
    request_fragments: tuple[bytes, ...]  # IP packets from the client (one unless fragmented)
    reply_fragments: tuple[bytes, ...]  # IP packets the kernel sent back
    delay_s: float  # tcpdump's time from the request's last fragment to the reply's first

    @property
    def request(self) -> bytes:
        return self.request_fragments[0]

    @property
    def reply(self) -> bytes:
        return self.reply_fragments[0]


def _ipv4_packets(path: Path) -> list[tuple[float, bytes]]:
    """(time, IPv4 packet) for each IPv4 frame of an Ethernet capture (ARP and anything else left out)."""
    with RawPcapReader(str(path)) as reader:
        return [
            (meta.sec + meta.usec / 1e6, bytes(frame[_ETHERNET:])) for frame, meta in reader if frame[12:14] == _IPV4
        ]


def _datagrams(packets: list[tuple[float, bytes]], source: bytes) -> list[list[tuple[float, bytes]]]:
    """Packets from `source` grouped into datagrams by IP ID, in capture order (fragments stay together)."""
    groups: dict[bytes, list[tuple[float, bytes]]] = {}
    for time, packet in packets:
        if packet[12:16] == source:
            groups.setdefault(packet[4:6], []).append((time, packet))
    return list(groups.values())


def golden_exchange(name: str = "ping", index: int = 0) -> GoldenExchange:
    """The index-th echo request of a golden capture and the kernel's reply to it."""
    if name not in GOLDEN:
        raise LabkitError(f"no golden capture {name!r}: choose one of {', '.join(GOLDEN)}")
    file, command = GOLDEN[name]
    packets = _ipv4_packets(CAPTURES / file)
    requests, replies = _datagrams(packets, CLIENT), _datagrams(packets, KERNEL)
    if not 0 <= index < min(len(requests), len(replies)):
        raise LabkitError(f"{file} holds {min(len(requests), len(replies))} exchanges; index {index} is not one")
    request, reply = requests[index], replies[index]
    return GoldenExchange(
        name, command, tuple(p for _, p in request), tuple(p for _, p in reply), reply[0][0] - request[-1][0]
    )


# Why each field of Linux's echo reply has its value, as the golden captures show (tests/data/README.md). The
# IP ID, TTL and DF are the kernel's own choices (the judge accepts any value for them, with a valid header
# checksum); fields not listed are copied from the request.
LINUX_REPLY_RULES = {
    "ip.id": "Linux's choice: a fresh ID from its own counter",
    "ip.flags": "Linux's choice: DF always clear on an echo reply",
    "ip.ttl": "Linux's choice: its own default TTL (64), never the request's",
    "ip.chksum": "recomputed: it covers the ID, flags and TTL",
    "ip.src": "swapped: the reply comes from the address that was pinged",
    "ip.dst": "swapped: the reply goes back to the pinger",
    "icmp.type": "8 (echo request) becomes 0 (echo reply)",
    "icmp.chksum": "recomputed: the type changed",
}


def reply_rules(request: bytes, reply: bytes) -> list[tuple[str, str, str, str]]:
    """(field, value in the request, value in the reply, why) for each field of an IPv4 echo exchange."""
    before = {f.name: f.describe() for f in field_map(request)}
    after = {f.name: f.describe() for f in field_map(reply)}
    return [
        (
            name,
            before[name],
            after.get(name, "-"),
            LINUX_REPLY_RULES.get(name, "copied" if before[name] == after.get(name) else "changed"),
        )
        for name in before
    ]


class _HtmlView(Protocol):
    """What SideBySide needs of a view: HTML for the notebook (repr gives the text)."""

    def to_html(self) -> str: ...


class SideBySide:
    """Two or more views (anything with to_html() and a text repr, such as PacketView) next to each other in
    HTML, one under the other as text. Static HTML rather than an ipywidgets box, so a saved notebook still
    shows them without a kernel."""

    def __init__(self, *views: _HtmlView) -> None:
        self.views = views

    def __repr__(self) -> str:
        return "\n\n".join(repr(view) for view in self.views)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        cells = "".join(f'<div style="flex:1 1 0;min-width:0">{view.to_html()}</div>' for view in self.views)
        return {
            "text/plain": repr(self),
            "text/html": f'<div style="display:flex;gap:16px;align-items:flex-start">{cells}</div>',
        }
