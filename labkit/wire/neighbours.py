"""The responder's neighbour table: which MAC may receive a reply to which IP address, learnt as Linux learns.

Why: Linux never answers "the MAC the request came from". It routes the reply to the request's source
address and looks that address up in its neighbour table; with no entry it sends an ARP request (IPv6: a
Neighbour Solicitation) first and holds the reply until someone answers for the address. So a forged source
gets its reply at the address's real owner, or nowhere -- never at the forger's MAC. A raw-socket responder
that answered the frame's sender would hand spoofed traffic straight back to the spoofer.

What creates or updates an entry, as in arp_process() and ndisc_recv_ns()/ndisc_recv_na() with default
sysctls (arp_accept=0, drop_unsolicited_na=0 but no entry is created by one):
  * an ARP request for one of our addresses creates or updates the sender's entry;
  * an ARP reply or a gratuitous ARP only updates an entry that exists or that we asked for;
  * a Neighbour Solicitation with a source link-layer option creates or updates the sender's entry;
  * a Neighbour Advertisement updates an entry that exists or that we asked for.
Everything else (an unsolicited ARP reply, a gratuitous ARP for an unknown address) leaves the table alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from labkit.checksum import icmpv6_pseudo_header, internet_checksum
from labkit.headers import ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, IPV6_HEADER, PROTO_ICMPV6

ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6 = 0x0800, 0x0806, 0x86DD
ETHER_HEADER = 14
BROADCAST_MAC = b"\xff" * 6
SOLICIT_TIMEOUT_S = 1.0  # one ARP probe's wait (net.ipv4.neigh.*.retrans_time_ms = 1000)
MAX_ENTRIES = 1024


class Neighbours:
    """IP address (4 or 16 bytes) -> MAC, plus the addresses we are soliciting."""

    def __init__(self, our_mac: bytes, ours: Callable[[bytes], bool], clock: Callable[[], float] = time.monotonic):
        self.our_mac, self._ours, self._clock = our_mac, ours, clock
        self._table: dict[bytes, bytes] = {}
        self._asked: dict[bytes, float] = {}  # address -> when we solicited it

    def lookup(self, address: bytes) -> bytes | None:
        return self._table.get(address)

    def learn(self, frame: bytes) -> bytes | None:
        """Update the table from an ARP or NDP frame; the address whose entry changed, if any."""
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype == ETHERTYPE_ARP and len(frame) >= ETHER_HEADER + 28:
            return self._learn_arp(frame[ETHER_HEADER:])
        if ethertype == ETHERTYPE_IPV6 and len(frame) >= ETHER_HEADER + IPV6_HEADER + 24:
            return self._learn_ndp(frame[ETHER_HEADER:], frame[6:12])
        return None

    def _learn_arp(self, arp: bytes) -> bytes | None:
        op, sha, spa, tpa = int.from_bytes(arp[6:8], "big"), arp[8:14], arp[14:18], arp[24:28]
        if arp[2:6] != b"\x08\x00\x06\x04" or spa == bytes(4) or sha[0] & 1:
            return None
        if op == 1 and self._ours(tpa) and spa != tpa:
            return self._set(spa, sha)
        return self._update(spa, sha)  # a reply, or gratuitous: only what we know or asked for

    def _learn_ndp(self, packet: bytes, frame_src: bytes) -> bytes | None:
        if packet[6] != PROTO_ICMPV6 or packet[7] != 255:
            return None
        icmp = packet[IPV6_HEADER:]
        option = _lladdr_option(icmp[24:], 1 if icmp[0] == ICMPV6_NEIGHBOR_SOLICIT else 2)
        if icmp[0] == ICMPV6_NEIGHBOR_SOLICIT and option is not None and packet[8:24] != bytes(16):
            return self._set(packet[8:24], option)
        if icmp[0] == ICMPV6_NEIGHBOR_ADVERT:
            return self._update(icmp[8:24], option or frame_src)
        return None

    def _set(self, address: bytes, mac: bytes) -> bytes | None:
        if len(self._table) >= MAX_ENTRIES and address not in self._table:
            self._table.pop(next(iter(self._table)))
        self._asked.pop(address, None)
        self._table[address] = mac
        return address

    def _update(self, address: bytes, mac: bytes) -> bytes | None:
        return self._set(address, mac) if address in self._table or address in self._asked else None

    def solicit(self, ours: bytes, theirs: bytes) -> bytes | None:
        """The ARP request / Neighbour Solicitation to send for `theirs`, or None if one is already out."""
        now = self._clock()
        if now - self._asked.get(theirs, -SOLICIT_TIMEOUT_S) < SOLICIT_TIMEOUT_S:
            return None
        self._asked[theirs] = now
        if len(self._asked) > MAX_ENTRIES:
            self._asked.pop(next(iter(self._asked)))
        return (
            arp_request(self.our_mac, ours, theirs)
            if len(theirs) == 4
            else neighbour_solicitation(self.our_mac, ours, theirs)
        )


def _lladdr_option(options: bytes, kind: int) -> bytes | None:
    """The source (1) or target (2) link-layer address option of an NS/NA, if present."""
    while len(options) >= 8 and options[1]:
        if options[0] == kind:
            return options[2:8]
        options = options[options[1] * 8 :]
    return None


def arp_request(our_mac: bytes, ours: bytes, theirs: bytes) -> bytes:
    """Who has `theirs`? Tell `ours` (broadcast, RFC 826)."""
    return (
        BROADCAST_MAC
        + our_mac
        + ETHERTYPE_ARP.to_bytes(2, "big")
        + b"\x00\x01\x08\x00\x06\x04\x00\x01"
        + our_mac
        + ours
        + bytes(6)
        + theirs
    )


def neighbour_solicitation(our_mac: bytes, ours: bytes, theirs: bytes) -> bytes:
    """An NS for `theirs` to its solicited-node group, with our link-layer address (RFC 4861 §4.3)."""
    group = bytes.fromhex("ff0200000000000000000001ff") + theirs[13:]
    body = bytes([ICMPV6_NEIGHBOR_SOLICIT, 0, 0, 0]) + bytes(4) + theirs + b"\x01\x01" + our_mac
    checksum = internet_checksum(icmpv6_pseudo_header(ours, group, len(body)) + body)
    body = body[:2] + checksum.to_bytes(2, "big") + body[4:]
    header = b"\x60\x00\x00\x00" + len(body).to_bytes(2, "big") + bytes([PROTO_ICMPV6, 255]) + ours + group
    return b"\x33\x33" + group[12:] + our_mac + ETHERTYPE_IPV6.to_bytes(2, "big") + header + body
