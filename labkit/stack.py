"""The reference stack: a host that answers like Linux, byte for byte (tests/test_golden.py is the proof).

Why it exists: every answer a model gives is judged against it, pcap mode answers whole captures with it, and
the live responder can fall back on it. So it must be right (golden captures of the real kernel), fast (the echo
path is plain struct/bytes work, no scapy: a few microseconds) and never crash on hostile bytes.

What it answers, as Linux 6.x with default sysctls does:
  * ICMP Echo Request (type 8) -> Echo Reply: code, id, seq and data copied; TOS copied (all 8 bits, ECN too);
    TTL is ours (64); DF clear (Linux's ICMP socket uses IP_PMTUDISC_DONT); a fresh IP ID (a counter here;
    Linux hashes per destination). echo_reply() below copies the request's ID instead, which Linux never does.
  * ICMP Timestamp Request (type 13, >= 4 bytes of data) -> 20-byte Timestamp Reply, code 0: originate copied,
    receive = transmit = milliseconds since midnight UT; extra request data is dropped.
  * IPv4 options (labkit.ipv4_options), as ip_options_compile()/ip_options_echo() do: Record Route gets our
    address on input and again on output; Timestamp gets our time (and address) on input and output; other
    options are not echoed; source-routed packets are dropped (accept_source_route=0).
  * Fragmented requests are reassembled (labkit.reassembly: memory per address family, 30 s / 60 s timeouts on
    the clock given, ICMP Time Exceeded from `expire()` when the first fragment was in) and replies longer than
    the MTU are fragmented as Linux does (options that are not "copied" become NOPs in later fragments).
  * ICMPv6 Echo Request (to our addresses, ff02::1 and our solicited-node groups) with traffic class copied;
    a multicast request is answered from the address source selection picks for the requester (RFC 6724
    rule 2, scope: link-local for a link-local requester, else a global address); IPv6 fragments both ways.
    Hop-by-Hop and Destination Options are checked as ip6_parse_tlv does (at most 7 bytes of padding in a
    row, PadN all zero, at most 8 options).
  * ARP requests (link="ether") and Neighbour Solicitations for our addresses (NA flags and the target
    link-layer option follow ndisc_recv_ns: the option only when the NS went to a multicast address).
Everything else gets no reply and a reason saying why, and what Linux would have sent where that is an error
message this stack does not model (port/protocol unreachable, parameter problem, TCP RST). Every result
carries a stable code (labkit.outcomes.Outcome, e.g. "ipv4.not_for_us") next to that prose.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from labkit.checksum import icmpv6_pseudo_header, internet_checksum
from labkit.headers import (
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    ICMP_HEADER,
    ICMP_TIME_EXCEEDED,
    ICMP_TIMESTAMP,
    ICMP_TIMESTAMP_REPLY,
    ICMPV6_ECHO_REQUEST,
    ICMPV6_NEIGHBOR_SOLICIT,
    IPV4_MIN_HEADER,
    IPV6_HEADER,
    PROTO_DSTOPTS,
    PROTO_FRAGMENT,
    PROTO_HOPOPTS,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_ROUTING,
    ipv4_header_len,
    ipv6_payload_len,
    is_fragment,
)
from labkit.ipv4_options import (
    Options,
    is_unicast_v4,
    options_echo,
    options_for_later_fragments,
    options_in,
    validate_ipv4,
)
from labkit.outcomes import NoReply, Outcome, Reason
from labkit.reassembly import (
    FRAG_HIGH_THRESH,
    FRAG_TIMEOUT_V4_S,
    FRAG_TIMEOUT_V6_S,
    Expired,
    NoReassembly,
    Reassembler,
)

LINKS = ("ip", "ether")
ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
IPV6_MIN_MTU = 1280
ICMP_ERROR_MAX = 576  # icmp_send: an ICMPv4 error is at most 576 bytes (RFC 1812 4.3.2.3)
ICMP_ERROR_TOS = 0xC0  # IPTOS_PREC_INTERNETCONTROL, ORed into the request's RT_TOS bits (0x1E)

_ICMP_NAMES = {
    0: "echo reply",
    3: "destination unreachable",
    4: "source quench",
    5: "redirect",
    8: "echo request",
    9: "router advertisement",
    10: "router solicitation",
    11: "time exceeded",
    12: "parameter problem",
    13: "timestamp request",
    14: "timestamp reply",
    15: "information request",
    16: "information reply",
    17: "address mask request",
    18: "address mask reply",
    42: "extended echo request",
    43: "extended echo reply",
}
_ICMPV6_NAMES = {
    1: "destination unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    130: "MLD query",
    131: "MLD report",
    132: "MLD done",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbour solicitation",
    136: "neighbour advertisement",
    137: "redirect",
    143: "MLDv2 report",
}
_ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
_ALL_NODES_MAC = bytes.fromhex("333300000001")
_SOLICITED_PREFIX = bytes.fromhex("ff0200000000000000000001ff")


# ------------------------------------------------------------------------------------------------- interface


def _parse_address(text: str, version: int) -> bytes:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is None or address.version != version:
        example = "10.0.0.2" if version == 4 else "fd00::2"
        raise ValueError(f"HostConfig: {text!r} is not an IPv{version} address; write it like {example}")
    return address.packed


def _parse_mac(text: str) -> bytes:
    parts = str(text).split(":")
    try:
        if len(parts) != 6 or any(len(p) != 2 for p in parts):
            raise ValueError
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"HostConfig.mac={text!r}: write a MAC like 02:00:00:00:00:02") from None


@dataclass(frozen=True)
class HostConfig:
    """Who the stack is. answer_any=True answers every unicast destination (pcap mode: be whichever host each
    request was sent to), but still never broadcast or multicast IPv4 echo (icmp_echo_ignore_broadcasts=1),
    and never address probes (IPv6 DAD, ARP from 0.0.0.0) for addresses not listed here: answering those
    would claim an address some other host is about to take."""

    ipv4: tuple[str, ...] = ("10.0.0.2",)
    ipv6: tuple[str, ...] = ("fd00::2",)
    mac: str = "02:00:00:00:00:02"
    answer_any: bool = False
    ttl: int = 64  # IPv4 TTL and IPv6 hop limit of replies (net.ipv4.ip_default_ttl, ipv6 hop_limit)
    mtu: int = 1500  # replies longer than this are fragmented (IPv6 never below 1280)

    def __post_init__(self) -> None:
        for name in ("ipv4", "ipv6"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        for text in self.ipv4:
            _parse_address(text, 4)
        for text in self.ipv6:
            _parse_address(text, 6)
        _parse_mac(self.mac)
        if not 1 <= int(self.ttl) <= 255:
            raise ValueError(f"HostConfig.ttl={self.ttl}: use a TTL between 1 and 255 (Linux default 64)")
        if not 68 <= int(self.mtu) <= 65535:
            raise ValueError(f"HostConfig.mtu={self.mtu}: use an MTU between 68 and 65535 (Ethernet: 1500)")


@dataclass(frozen=True)
class StackResult:
    """What a host sends back for one received packet: replies (IP packets, or Ethernet frames for
    link="ether"; several when a reply is fragmented) and why: `reason` is prose that carries its stable
    `code` (labkit.outcomes); `kind` groups codes ("echo", "echo6", "timestamp", "arp", "ndp",
    "time-exceeded", "ignored", "malformed", "held"). `at` is set on Time Exceeded results from `expire()`:
    the clock time Linux sends them."""

    replies: tuple[bytes, ...]
    reason: Reason
    at: float | None = None

    @property
    def code(self) -> Outcome:
        return self.reason.code

    @property
    def kind(self) -> str:
        return self.reason.code.kind


class ReferenceStack:
    """A Linux-like host for one HostConfig. Keeps fragment state, so feed it packets in arrival order."""

    def __init__(
        self,
        config: HostConfig = HostConfig(),
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        frag_timeout: float = FRAG_TIMEOUT_V4_S,
        frag_timeout_v6: float = FRAG_TIMEOUT_V6_S,
        frag_high_thresh: int = FRAG_HIGH_THRESH,
    ) -> None:
        """clock: seconds for fragment timeouts (pcap mode passes capture time); wall_clock: Unix time for
        ICMP and IP-option timestamps (capture time too). The fragment limits default to Linux's sysctls."""
        self.config = config
        self._wall_clock = wall_clock
        self._mac = _parse_mac(config.mac)
        self._v4 = frozenset(_parse_address(a, 4) for a in config.ipv4)
        self._link_local = _eui64_link_local(self._mac)
        self._v6 = frozenset({_parse_address(a, 6) for a in config.ipv6} | {self._link_local})
        self._v6_groups = frozenset({_ALL_NODES} | {_solicited_node(a) for a in self._v6})
        self._ids = itertools.count(1)
        self._frags: Reassembler | NoReassembly = Reassembler(
            clock, timeout_v4=frag_timeout, timeout_v6=frag_timeout_v6, high_thresh=frag_high_thresh
        )

    # -- public

    def respond(self, packet: bytes, link: str = "ip") -> StackResult:
        """The replies a Linux host with this config sends for `packet`, or none and the reason. Never raises."""
        try:
            if not isinstance(packet, (bytes, bytearray, memoryview)):
                return _nothing(Outcome.NOT_BYTES, f"malformed: expected bytes, got {type(packet).__name__}")
            data = bytes(packet)
            if link == "ip":
                reply = self._ip(data, l2_group=False)
                return StackResult(reply.packets, reply.reason)
            if link == "ether":
                return self._ether(data)
            return _nothing(Outcome.UNKNOWN_LINK, f"unknown link {link!r}: use 'ip' or 'ether'")
        except NoReply as silent:
            return StackResult((), silent.reason)
        except Exception as exc:  # noqa: BLE001 -- respond() promises never to raise; tests assert this never shows
            return _nothing(Outcome.INTERNAL_ERROR, f"internal error (a labkit bug): {type(exc).__name__}: {exc}")

    def expire(self, now: float | None = None) -> tuple[StackResult, ...]:
        """ICMP Time Exceeded (fragment reassembly time exceeded) for every datagram whose reassembly timed out
        by `now` (default: the clock) with its first fragment in, oldest first; each is returned once, with
        `.at` the time Linux sends it. Call it as time passes (pcap mode: before each packet, and with the
        capture's end time). Replies are Ethernet frames when that first fragment came in one.
        Not modelled: icmp_ratelimit (Linux thins out bursts of errors to one host) and the IP options Linux
        would echo into an error about a first fragment that carried some."""
        results = []
        for expired in self._frags.expired(now):
            try:
                results.append(self._time_exceeded(expired))
            except NoReply:
                continue
        return tuple(results)

    # -- link layer

    def _ether(self, frame: bytes) -> StackResult:
        if len(frame) < 14:
            raise NoReply(Outcome.ETHER_TRUNCATED, f"malformed: truncated Ethernet header ({len(frame)} bytes < 14)")
        dst, src = frame[:6], frame[6:12]
        ethertype = int.from_bytes(frame[12:14], "big")
        group = bool(dst[0] & 1)
        if not group and dst != self._mac and not self.config.answer_any:
            raise NoReply(Outcome.ETHER_NOT_FOR_US, f"not addressed to us (Ethernet dst {_mac_text(dst)})")
        if ethertype == ETH_P_ARP:
            return self._arp(frame[14:])
        if ethertype == ETH_P_IP:
            reply = self._ipv4(frame[14:], l2_group=group, l2=(src, dst))
        elif ethertype == ETH_P_IPV6:
            reply = self._ipv6(frame[14:], l2_group=group, l2=(src, dst))
        elif ethertype in (0x8100, 0x88A8):
            raise NoReply(Outcome.ETHER_VLAN, "VLAN-tagged frame: not modelled (untag it first)")
        else:
            raise NoReply(Outcome.ETHER_OTHER, f"other protocol (EtherType 0x{ethertype:04x}): not modelled")
        if not reply.packets:
            return StackResult((), reply.reason)
        head = self._ether_header(reply.l2_dst or src, dst, reply.v6, neighbour=reply.reason.code.kind == "ndp")
        return StackResult(tuple(head + p for p in reply.packets), reply.reason)

    def _ether_header(self, to: bytes, request_dst: bytes, v6: bool, *, neighbour: bool = False) -> bytes:
        """Under answer_any we are whichever host the request was sent to, so IP answers come from its MAC."""
        group = bool(request_dst[0] & 1)
        ours = request_dst if (self.config.answer_any and not group and not neighbour) else self._mac
        return to + ours + (ETH_P_IPV6 if v6 else ETH_P_IP).to_bytes(2, "big")

    def _arp(self, arp: bytes) -> StackResult:
        """arp_process: answer requests for our addresses (probes from 0.0.0.0 too), to the sender's MAC."""
        if len(arp) < 28:
            raise NoReply(Outcome.ARP_TRUNCATED, f"malformed: truncated ARP packet ({len(arp)} bytes < 28)")
        hwtype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", arp)
        if hwtype not in (1, 6) or ptype != ETH_P_IP or hlen != 6 or plen != 4:
            raise NoReply(
                Outcome.ARP_NOT_ETHERNET, f"ARP for hardware {hwtype}/protocol 0x{ptype:04x}: not Ethernet/IPv4"
            )
        sha, spa, tpa = arp[8:14], arp[14:18], arp[24:28]
        if op != 1:
            what = "reply" if op == 2 else f"op {op}"
            raise NoReply(Outcome.ARP_NOT_REQUEST, f"ARP {what}: Linux learns from it, sends nothing")
        if tpa[0] >= 224 or tpa[0] == 127:
            raise NoReply(
                Outcome.ARP_NEVER_ANSWERED, f"ARP request for {_ip4_text(tpa)}: Linux never answers for that address"
            )
        probe = spa == b"\0\0\0\0"  # RFC 5227 address probe: is anyone using tpa? (answer_any: only ours)
        if tpa not in self._v4 and not (self.config.answer_any and tpa != spa and not probe and is_unicast_v4(tpa)):
            why = "an address probe for an address not in our config" if probe else "not our address"
            raise NoReply(Outcome.ARP_NOT_OURS, f"ARP request for {_ip4_text(tpa)}: {why}")
        if spa[0] >= 224:
            raise NoReply(Outcome.ARP_BAD_SENDER, f"ARP request from {_ip4_text(spa)}: not a unicast sender")
        reply = sha + self._mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02" + self._mac + tpa + sha + spa
        who = "an address probe" if spa == b"\0\0\0\0" else _ip4_text(spa)
        text = f"ARP reply: {_ip4_text(tpa)} is at {_mac_text(self._mac)} (to {who})"
        return StackResult((reply,), Outcome.ARP_REPLY.reason(text))

    # -- IP

    def _ip(self, packet: bytes, l2_group: bool) -> _Reply:
        if not packet:
            raise NoReply(Outcome.IP_EMPTY, "malformed: empty packet")
        version = packet[0] >> 4
        if version == 4:
            return self._ipv4(packet, l2_group)
        if version == 6:
            return self._ipv6(packet, l2_group, None)
        raise NoReply(Outcome.IP_BAD_VERSION, f"malformed: IP version {version} (not 4 or 6)")

    def _ipv4(self, packet: bytes, l2_group: bool, l2: tuple[bytes, bytes] | None = None) -> _Reply:
        request, hlen = validate_ipv4(packet)
        src, dst = request[12:16], request[16:20]
        self._check_v4_addresses(src, dst, l2_group)
        now_ms = None
        options = None
        if hlen > IPV4_MIN_HEADER:
            now_ms = self._now_ms()
            options = options_in(bytearray(request[IPV4_MIN_HEADER:hlen]), dst, self._v4_local_check(dst), now_ms)
        if is_fragment(request):
            done = self._frags.add_v4(request, hlen, options, l2)
            if isinstance(done, Reason):
                raise NoReply(done.code, done)
            request, held = done
            options = held if isinstance(held, Options) else None  # reassembly keeps them untyped
            hlen = ipv4_header_len(request)
        if request[9] != PROTO_ICMP:
            raise NoReply(*_other_protocol(request[9], 4))
        icmp = request[hlen:]
        body, code, what, now_ms = self._icmp_answer(icmp, now_ms)
        reply_options = b""
        if options is not None:
            echoed = options_echo(options, dst, self._v4_local_check(dst), now_ms)
            if echoed is None:
                raise NoReply(
                    Outcome.IPV4_OPTIONS_FULL, "IP options leave no room for our entries: Linux sends no reply"
                )
            reply_options = echoed
        packets = _ipv4_packets(
            request[1], self._ip_id(request), self.config.ttl, dst, src, reply_options, body, self.config.mtu
        )
        return _Reply(packets, code.reason(f"{what} to {_ip4_text(src)}" + _fragment_note(packets)))

    def _icmp_answer(self, icmp: bytes, now_ms: int | None) -> tuple[bytes, Outcome, str, int | None]:
        """icmp_echo / icmp_timestamp: the reply's ICMP message, its outcome and name, and the time stamped."""
        if len(icmp) < ICMP_HEADER:
            raise NoReply(
                Outcome.ICMP_TRUNCATED, f"malformed: ICMP message of {len(icmp)} bytes is shorter than its header"
            )
        if internet_checksum(icmp):
            found, expected = _checksum_field(icmp), internet_checksum(icmp[:2] + b"\0\0" + icmp[4:])
            raise NoReply(
                Outcome.ICMP_BAD_CHECKSUM,
                f"malformed: bad ICMP checksum 0x{found:04x} (should be 0x{expected:04x}); Linux drops it",
            )
        icmp_type = icmp[0]
        if icmp_type == ICMP_ECHO_REQUEST:
            checksum = _checksum_after_type_change(icmp, 0xF7FF, alone=True)  # type 8 -> 0: adds -0x0800
            body, code, what = bytes((ICMP_ECHO_REPLY, icmp[1])) + checksum + icmp[4:], Outcome.ECHO_REPLY, "echo reply"
        elif icmp_type == ICMP_TIMESTAMP:
            if len(icmp) < 12:
                raise NoReply(
                    Outcome.ICMP_TIMESTAMP_SHORT, "malformed: timestamp request without its 4-byte originate timestamp"
                )
            if now_ms is None:
                now_ms = self._now_ms()
            stamp = now_ms.to_bytes(4, "big")
            body = _with_checksum(bytes((ICMP_TIMESTAMP_REPLY, 0, 0, 0)) + icmp[4:12] + stamp + stamp)
            code, what = Outcome.TIMESTAMP_REPLY, "timestamp reply"
        else:
            name = _ICMP_NAMES.get(icmp_type, "unknown type")
            raise NoReply(Outcome.ICMP_NOT_ANSWERED, f"ICMP type {icmp_type} ({name}): Linux sends no reply")
        return body, code, what, now_ms

    def _check_v4_addresses(self, src: bytes, dst: bytes, l2_group: bool) -> None:
        first = src[0]
        if 224 <= first < 240 or src == b"\xff\xff\xff\xff" or first == 0 or first == 127:
            raise NoReply(Outcome.IPV4_MARTIAN_SOURCE, f"martian source {_ip4_text(src)}: Linux drops it")
        if dst in self._v4:
            if src in self._v4:
                raise NoReply(
                    Outcome.IPV4_OWN_SOURCE, f"source {_ip4_text(src)} is our own address: Linux drops it as martian"
                )
            return
        first = dst[0]
        if dst == b"\xff\xff\xff\xff" or 224 <= first < 240:
            kind = "broadcast" if first == 255 else "multicast"
            raise NoReply(
                Outcome.IPV4_BROADCAST,
                f"sent to {kind} {_ip4_text(dst)}: Linux ignores echo and timestamp "
                "requests to broadcast/multicast (icmp_echo_ignore_broadcasts=1)",
            )
        if not self.config.answer_any:
            raise NoReply(Outcome.IPV4_NOT_FOR_US, f"not addressed to us (dst {_ip4_text(dst)})")
        if not is_unicast_v4(dst):
            raise NoReply(Outcome.IPV4_MARTIAN_DESTINATION, f"martian destination {_ip4_text(dst)}: Linux drops it")
        if l2_group:
            raise NoReply(
                Outcome.IPV4_L2_BROADCAST,
                f"{_ip4_text(dst)} came in a link-layer broadcast: with "
                "answer_any it may be a directed broadcast, which Linux ignores",
            )
        if src == dst:
            raise NoReply(
                Outcome.IPV4_SOURCE_IS_DESTINATION,
                f"source {_ip4_text(src)} is the address it was sent to: Linux drops it",
            )

    def _v4_local_check(self, dst: bytes) -> Callable[[bytes], bool]:
        """Is an address one of ours? (Under answer_any the request's dst is ours too.)"""
        return lambda address: address == dst or address in self._v4

    def _ipv6(self, packet: bytes, l2_group: bool, l2: tuple[bytes, bytes] | None) -> _Reply:
        request = _validate_ipv6(packet)
        src, dst = request[8:24], request[24:40]
        multicast = self._check_v6_addresses(src, dst)
        next_header, offset = _skip_extension_headers(request)
        if next_header == PROTO_FRAGMENT:
            done = self._frags.add_v6(request, offset, l2)
            if isinstance(done, Reason):
                raise NoReply(done.code, done)
            if done is not request:
                request = done
                next_header, offset = _skip_extension_headers(request)
        if next_header != PROTO_ICMPV6:
            raise NoReply(*_other_protocol(next_header, 6))
        icmp = request[offset:]
        if len(icmp) < ICMP_HEADER:
            raise NoReply(
                Outcome.ICMPV6_TRUNCATED, f"malformed: ICMPv6 message of {len(icmp)} bytes is shorter than its header"
            )
        if _icmpv6_checksum(src, dst, icmp):
            found, expected = _checksum_field(icmp), _icmpv6_checksum(src, dst, icmp[:2] + b"\0\0" + icmp[4:])
            raise NoReply(
                Outcome.ICMPV6_BAD_CHECKSUM,
                f"malformed: bad ICMPv6 checksum 0x{found:04x} (should be 0x{expected:04x}); Linux drops it",
            )
        icmp_type = icmp[0]
        if icmp_type == ICMPV6_ECHO_REQUEST:
            return self._echo6(request, icmp, multicast)
        if icmp_type == ICMPV6_NEIGHBOR_SOLICIT:
            return self._neighbour_advert(request, icmp, l2[0] if l2 else None)
        name = _ICMPV6_NAMES.get(icmp_type, "unknown type")
        raise NoReply(
            Outcome.ICMPV6_NOT_ANSWERED,
            f"ICMPv6 type {icmp_type} ({name}): not answered (Linux sends no reply or it is not modelled)",
        )

    def _check_v6_addresses(self, src: bytes, dst: bytes) -> bool:
        """True when dst is one of our multicast groups; raises when the packet is not for us."""
        if src[0] == 0xFF or src == _LOOPBACK6 or src[:12] == _V4_MAPPED:
            raise NoReply(Outcome.IPV6_MARTIAN_SOURCE, f"martian source {_ip6_text(src)}: Linux drops it")
        if dst in self._v6:
            return False
        if dst[0] == 0xFF:
            scope = dst[1] & 0x0F
            if scope != 2 or not (dst in self._v6_groups or (self.config.answer_any and dst[:13] == _SOLICITED_PREFIX)):
                raise NoReply(Outcome.IPV6_NOT_OUR_GROUP, f"sent to multicast {_ip6_text(dst)}: not a group we joined")
            return True
        if not self.config.answer_any:
            raise NoReply(Outcome.IPV6_NOT_FOR_US, f"not addressed to us (dst {_ip6_text(dst)})")
        if dst == _UNSPECIFIED6 or dst == _LOOPBACK6:
            raise NoReply(Outcome.IPV6_MARTIAN_DESTINATION, f"martian destination {_ip6_text(dst)}: Linux drops it")
        return False

    def _echo6(self, request: bytes, icmp: bytes, multicast: bool) -> _Reply:
        src, dst = request[8:24], request[24:40]
        if src == _UNSPECIFIED6:
            raise NoReply(
                Outcome.ICMPV6_FROM_UNSPECIFIED, "echo request from the unspecified address: there is no one to answer"
            )
        # icmpv6_echo_reply leaves the source of a reply to a multicast request to source address selection.
        our = self._source_for(src) if multicast else dst
        if multicast:  # a new source address: the pseudo-header changes, so sum it all again
            body = b"\x81" + icmp[1:2] + b"\0\0" + icmp[4:]
            body = body[:2] + _icmpv6_checksum(our, src, body).to_bytes(2, "big") + body[4:]
        else:  # same addresses (swapped), same length: only the type changes, 128 -> 129
            body = b"\x81" + icmp[1:2] + _checksum_after_type_change(icmp, 0x0100, alone=False) + icmp[4:]
        traffic_class = ((request[0] & 0x0F) << 4) | (request[1] >> 4)
        flow_label = self._flow_label(request, our, src)
        packets = _ipv6_packets(
            traffic_class,
            flow_label,
            self.config.ttl,
            our,
            src,
            58,
            body,
            max(self.config.mtu, IPV6_MIN_MTU),
            self._frag_id6,
        )
        return _Reply(
            packets, Outcome.ECHO6_REPLY.reason(f"echo reply to {_ip6_text(src)}" + _fragment_note(packets)), v6=True
        )

    def _neighbour_advert(self, request: bytes, icmp: bytes, l2_src: bytes | None) -> _Reply:
        src, dst = request[8:24], request[24:40]
        if request[7] != 255:
            raise NoReply(
                Outcome.NDP_HOP_LIMIT, f"neighbour solicitation with hop limit {request[7]} (not 255): Linux drops it"
            )
        if icmp[1] != 0 or len(icmp) < 24:
            raise NoReply(
                Outcome.NDP_MALFORMED, "malformed: neighbour solicitation with a nonzero code or under 24 bytes"
            )
        target = icmp[8:24]
        if target[0] == 0xFF:
            raise NoReply(Outcome.NDP_MALFORMED, f"malformed: neighbour solicitation for multicast {_ip6_text(target)}")
        source_lladdr = _nd_source_lladdr(icmp[24:])
        dad = src == _UNSPECIFIED6
        if dad and (dst[:13] != _SOLICITED_PREFIX or source_lladdr is not None):
            raise NoReply(
                Outcome.NDP_MALFORMED,
                "malformed: address probe (from ::) must go to a solicited-node group "
                "without a source link-layer option",
            )
        if target == src:
            raise NoReply(
                Outcome.NDP_OWN_ADDRESS,
                f"neighbour solicitation from {_ip6_text(src)} for its own address: nothing to resolve",
            )
        # answer_any stands in for whichever host a request was sent to -- but an address probe (DAD, from ::)
        # asks whether anyone already uses an address: only the configured addresses are really ours to defend.
        ours = target in self._v6 or (
            self.config.answer_any and not dad and target != _UNSPECIFIED6 and target != _LOOPBACK6
        )
        if not ours:
            why = "an address probe (DAD) for an address not in our config" if dad else "not our address"
            raise NoReply(Outcome.NDP_NOT_OURS, f"neighbour solicitation for {_ip6_text(target)}: {why}")
        if self.config.answer_any and dst[:13] == _SOLICITED_PREFIX and dst != _solicited_node(target):
            raise NoReply(
                Outcome.NDP_OTHER_GROUP, f"neighbour solicitation for {_ip6_text(target)} sent to another group"
            )
        multicast = dst[0] == 0xFF
        l2_dst: bytes | None
        if dad:
            reply_dst, flags, with_option, l2_dst = _ALL_NODES, 0x20, True, _ALL_NODES_MAC
        else:
            reply_dst, flags, with_option = src, 0x40 | (0x20 if multicast else 0), multicast
            l2_dst = source_lladdr or l2_src
        body = bytearray(b"\x88\x00\0\0" + bytes((flags, 0, 0, 0)) + target)
        if with_option:
            body += b"\x02\x01" + self._mac
        checksum = _icmpv6_checksum(target, reply_dst, bytes(body))
        body[2:4] = checksum.to_bytes(2, "big")
        packet = _ipv6_header(0, 0, len(body), 58, 255, target, reply_dst) + bytes(body)
        to = "all nodes (answering an address probe)" if dad else _ip6_text(src)
        return _Reply(
            (packet,),
            Outcome.NEIGHBOUR_ADVERT.reason(
                f"neighbour advertisement: {_ip6_text(target)} is at {_mac_text(self._mac)} (to {to})"
            ),
            v6=True,
            l2_dst=l2_dst,
        )

    def _source_for(self, destination: bytes) -> bytes:
        """Our address that source address selection (RFC 6724, ipv6_dev_get_saddr) picks for `destination`:
        rule 2 (the smallest scope that reaches it), rule 6 (same label: ULA with ULA), rule 8 (longest common
        prefix). golden_ping6_allnodes (a link-local requester) and golden_crafted_v6 (a global one) show it."""
        want = _scope6(destination)

        def rank(address: bytes) -> tuple:
            scope = _scope6(address)
            return (
                scope < want,
                scope if scope >= want else -scope,
                _label6(address) != _label6(destination),
                -_common_prefix(address, destination),
            )

        return min(sorted(self._v6), key=rank)

    def _time_exceeded(self, expired: Expired) -> StackResult:
        """ip_expire / ip6frag_expire_frag_queue: ICMP Time Exceeded code 1 quoting the first fragment,
        as icmp_send / icmp6_send build it (golden_frag_timeout.pcap)."""
        first = expired.first
        if expired.version == 4:
            src, dst = first[12:16], first[16:20]
            quote = first[: ICMP_ERROR_MAX - IPV4_MIN_HEADER - ICMP_HEADER]
            body = _with_checksum(bytes((ICMP_TIME_EXCEEDED, 1, 0, 0)) + bytes(4) + quote)
            tos = (first[1] & 0x1E) | ICMP_ERROR_TOS
            packet = _ipv4_packet(tos, self._ip_id(first), 0, self.config.ttl, dst, src, b"", body)
            packets: tuple[bytes, ...] = (packet,)
            to = _ip4_text(src)
        else:
            src, dst = first[8:24], first[24:40]
            if dst[0] == 0xFF:  # icmp6_send: no error about a packet sent to a multicast group (RFC 4443 2.4)
                raise NoReply(Outcome.IPV6_MULTICAST_ECHO, "no Time Exceeded for a multicast datagram")
            quote = first[: IPV6_MIN_MTU - IPV6_HEADER - ICMP_HEADER]
            icmp6 = bytearray(b"\x03\x01\0\0" + bytes(4) + quote)
            icmp6[2:4] = _icmpv6_checksum(dst, src, bytes(icmp6)).to_bytes(2, "big")
            packets = (
                _ipv6_header(0, self._flow_label(first, dst, src), len(icmp6), PROTO_ICMPV6, self.config.ttl, dst, src)
                + bytes(icmp6),
            )
            to = _ip6_text(src)
        reason = Outcome.FRAG_TIME_EXCEEDED.reason(f"time exceeded to {to}: fragment reassembly timed out")
        if isinstance(expired.context, tuple):
            l2_src, l2_dst = expired.context
            head = self._ether_header(l2_src, l2_dst, expired.version == 6)
            packets = tuple(head + packet for packet in packets)
        return StackResult(packets, reason, at=expired.at)

    # -- choices Linux makes for itself (kernel-chosen fields)

    def _ip_id(self, request: bytes) -> int:
        return next(self._ids) & 0xFFFF

    def _frag_id6(self) -> int:
        return (next(self._ids) * 0x9E3779B1) & 0xFFFFFFFF

    def _flow_label(self, request: bytes, src: bytes, dst: bytes) -> int:
        # Linux (auto_flowlabels=1) hashes the flow with a per-boot key; a stable hash keeps the idea.
        return zlib.crc32(src + dst + b"\x3a") & 0xFFFFF

    def _now_ms(self) -> int:
        """Milliseconds since midnight UT, the unit of ICMP and IP-option timestamps (inet_current_timestamp)."""
        return int(self._wall_clock() * 1000) % 86_400_000


def echo_reply(request: bytes) -> bytes | None:
    """The single correct echo reply for one unfragmented IPv4 or IPv6 echo request, whatever its (unicast) dst;
    None when a Linux host would not answer it with one echo reply (not an echo request, a fragment, malformed,
    broadcast or multicast). Free fields are taken from the request so diffs stay small: the IPv4 ID is COPIED
    (Linux never copies it: it picks a fresh one) and so is the IPv6 flow label; the judge and the responder's
    egress check treat both as free. The reply is never fragmented (it is the reply a model should write)."""
    result = _ECHO_ONLY.respond(request, "ip")
    if result.kind not in ("echo", "echo6") or len(result.replies) != 1:
        return None
    return result.replies[0]


class _EchoOnlyStack(ReferenceStack):
    """answer_any, no MTU limit, no fragment state, free fields copied from the request (see echo_reply)."""

    def __init__(self) -> None:
        super().__init__(HostConfig(ipv4=(), ipv6=(), answer_any=True, mtu=65535))
        self._frags = NoReassembly()

    def _ip_id(self, request: bytes) -> int:
        return int.from_bytes(request[4:6], "big")

    def _flow_label(self, request: bytes, src: bytes, dst: bytes) -> int:
        return ((request[1] & 0x0F) << 16) | (request[2] << 8) | request[3]

    def _check_v6_addresses(self, src: bytes, dst: bytes) -> bool:
        if dst[0] == 0xFF:
            raise NoReply(Outcome.IPV6_MULTICAST_ECHO, f"sent to multicast {_ip6_text(dst)}")
        return super()._check_v6_addresses(src, dst)


# ------------------------------------------------------------------------------------------------- internals


def _nothing(code: Outcome, text: str) -> StackResult:
    return StackResult((), code.reason(text))


@dataclass(frozen=True)
class _Reply:
    """An IP-level answer; _ether() wraps it in Ethernet."""

    packets: tuple[bytes, ...]
    reason: Reason
    v6: bool = False
    l2_dst: bytes | None = None  # Ethernet destination when it is not the request's source


_UNSPECIFIED6 = bytes(16)
_LOOPBACK6 = bytes(15) + b"\x01"
_V4_MAPPED = bytes(10) + b"\xff\xff"


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def _ip4_text(address: bytes) -> str:
    return socket.inet_ntoa(address)


def _ip6_text(address: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, address)


def _eui64_link_local(mac: bytes) -> bytes:
    """fe80::/64 with the modified EUI-64 interface ID (Linux's default addr_gen_mode)."""
    return b"\xfe\x80" + bytes(6) + bytes((mac[0] ^ 2,)) + mac[1:3] + b"\xff\xfe" + mac[3:6]


def _solicited_node(address: bytes) -> bytes:
    return _SOLICITED_PREFIX + address[13:]


def _checksum_after_type_change(message: bytes, delta: int, *, alone: bool) -> bytes:
    """The checksum after the type byte changes, for a message whose checksum was just verified: `delta` is
    the change of the first 16-bit word as a one's complement number (RFC 1624, eqn. 3).

    Equal to summing the whole reply again, and it saves a pass over the data: a full-size echo reply costs
    one checksum, not two. One's complement has two zeros: a reply summed `alone` (no pseudo-header) whose
    words are all zero sums to +0, so its checksum is 0xffff, as Linux sends, not the 0x0000 the update gives.
    """
    total = (_checksum_field(message) ^ 0xFFFF) + delta
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    if alone and total == 0xFFFF and not message[1] and not any(message[4:]):
        return b"\xff\xff"
    return (~total & 0xFFFF).to_bytes(2, "big")


def _fragment_note(packets: tuple[bytes, ...]) -> str:
    return f" ({len(packets)} fragments)" if len(packets) > 1 else ""


_PROTOCOL_OUTCOMES = {
    (4, 6): Outcome.IP_TCP,
    (6, 6): Outcome.IP_TCP,
    (4, 17): Outcome.IP_UDP,
    (6, 17): Outcome.IP_UDP,
    (4, 2): Outcome.IP_IGMP,
    (6, 59): Outcome.IP_NO_NEXT,
}


def _other_protocol(number: int, version: int) -> tuple[Outcome, str]:
    """Why a packet of another protocol gets no answer here (and what Linux would send)."""
    known = _PROTOCOL_OUTCOMES.get((version, number))
    if known is not None:
        return known, known.summary
    error = "ICMP protocol unreachable" if version == 4 else "ICMPv6 parameter problem"
    text = f"IP protocol {number} is not modelled (Linux would answer {error} if it has no handler)"
    return Outcome.IP_OTHER_PROTOCOL, text


def _scope6(address: bytes) -> int:
    """RFC 4291 scope: 2 link-local, 14 global (ULA too, RFC 6724 3.1), a multicast address's own scope."""
    if address[0] == 0xFF:
        return address[1] & 0x0F
    if address[:2] == b"\xfe\x80" or address == _LOOPBACK6:
        return 2
    return 14


def _label6(address: bytes) -> int:
    """RFC 6724 default policy labels that matter here: ULA (fc00::/7) apart from the rest."""
    return 13 if address[0] & 0xFE == 0xFC else 1


def _common_prefix(a: bytes, b: bytes) -> int:
    bits = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return 128 - bits.bit_length()


def _checksum_field(message: bytes) -> int:
    """The checksum an ICMP or ICMPv6 message carries (bytes 2-3)."""
    return int.from_bytes(message[2:4], "big")


def _with_checksum(message: bytes) -> bytes:
    """An ICMP message with its checksum (bytes 2-3, zero on entry) filled in."""
    return message[:2] + internet_checksum(message).to_bytes(2, "big") + message[4:]


# -- IPv4

_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")


def _ipv4_packets(
    tos: int, ident: int, ttl: int, src: bytes, dst: bytes, options: bytes, body: bytes, mtu: int
) -> tuple[bytes, ...]:
    """One ICMP datagram, fragmented like ip_append_data + ip_fragment when it is longer than the MTU."""
    hlen = IPV4_MIN_HEADER + len(options)
    if hlen + len(body) <= mtu:
        return (_ipv4_packet(tos, ident, 0, ttl, src, dst, options, body),)
    per_fragment = (mtu - hlen) & ~7
    later_options = options_for_later_fragments(options)
    packets = []
    for offset in range(0, len(body), per_fragment):
        more = offset + per_fragment < len(body)
        flags = (offset >> 3) | (0x2000 if more else 0)
        packets.append(
            _ipv4_packet(
                tos,
                ident,
                flags,
                ttl,
                src,
                dst,
                options if offset == 0 else later_options,
                body[offset : offset + per_fragment],
            )
        )
    return tuple(packets)


def _ipv4_packet(
    tos: int, ident: int, flags: int, ttl: int, src: bytes, dst: bytes, options: bytes, payload: bytes
) -> bytes:
    hlen = IPV4_MIN_HEADER + len(options)
    header = _IPV4_HEADER.pack(0x40 | (hlen >> 2), tos, hlen + len(payload), ident, flags, ttl, 1, 0, src, dst)
    header += options
    checksum = internet_checksum(header)
    return header[:10] + bytes((checksum >> 8, checksum & 0xFF)) + header[12:] + payload


# -- IPv6


def _validate_ipv6(packet: bytes) -> bytes:
    size = len(packet)
    if size < IPV6_HEADER:
        raise NoReply(Outcome.IPV6_TRUNCATED, f"malformed: truncated IPv6 header ({size} bytes < 40)")
    if packet[0] >> 4 != 6:
        raise NoReply(Outcome.IP_BAD_VERSION, f"malformed: IP version {packet[0] >> 4} in an IPv6 packet")
    total = IPV6_HEADER + ipv6_payload_len(packet)
    if total > size:
        raise NoReply(
            Outcome.IPV6_TRUNCATED,
            f"malformed: truncated: payload length says {total - IPV6_HEADER} bytes, {size - IPV6_HEADER} arrived",
        )
    return packet[:total] if total < size else packet


def _skip_extension_headers(packet: bytes) -> tuple[int, int]:
    """(next header, offset) after hop-by-hop, destination-options and spent routing headers."""
    next_header, offset = packet[6], IPV6_HEADER
    while next_header in (PROTO_HOPOPTS, PROTO_DSTOPTS, PROTO_ROUTING):
        if next_header == PROTO_HOPOPTS and offset != IPV6_HEADER:
            raise NoReply(
                Outcome.IPV6_HOP_BY_HOP_NOT_FIRST,
                "malformed: hop-by-hop header not first (Linux answers Parameter Problem)",
            )
        length = (packet[offset + 1] + 1) * 8 if len(packet) >= offset + 8 else 8
        if len(packet) < offset + length:
            raise NoReply(Outcome.IPV6_EXTENSION_TRUNCATED, "malformed: truncated IPv6 extension header")
        if next_header == PROTO_ROUTING:
            if packet[offset + 3]:
                raise NoReply(Outcome.IPV6_ROUTING, "routing header with segments left: not modelled")
        else:
            _check_tlv_options(packet[offset + 2 : offset + length])
        next_header, offset = packet[offset], offset + length
    return next_header, offset


IPV6_PAD1, IPV6_PADN = 0, 1
IPV6_MAX_PADDING = 7  # ip6_parse_tlv: "7 is therefore the highest valid value" of padding in a row
IPV6_MAX_OPTIONS = 8  # net.ipv6.max_hbh_opts_number / max_dst_opts_number
_KNOWN_OPTIONS = (5,)  # Router Alert; other options go by their action bits (RFC 8200 4.2)


def _check_tlv_options(options: bytes) -> None:
    """ip6_parse_tlv: what Linux drops in a Hop-by-Hop or Destination Options header (golden_crafted_v6)."""
    i, padding, count = 0, 0, 0
    while i < len(options):
        kind = options[i]
        if kind == IPV6_PAD1:
            length = 1
        elif i + 2 > len(options) or i + 2 + options[i + 1] > len(options):
            raise NoReply(Outcome.IPV6_OPTION_TRUNCATED, "malformed: truncated IPv6 option")
        else:
            length = 2 + options[i + 1]
        if kind in (IPV6_PAD1, IPV6_PADN):
            padding += length
            if padding > IPV6_MAX_PADDING:
                raise NoReply(Outcome.IPV6_PADDING, f"{padding} bytes of padding in a row: Linux drops it (at most 7)")
            if kind == IPV6_PADN and any(options[i + 2 : i + length]):
                raise NoReply(Outcome.IPV6_PADN_NONZERO, "PadN option with non-zero contents: Linux drops it")
        else:
            count, padding = count + 1, 0
            if count > IPV6_MAX_OPTIONS:
                raise NoReply(Outcome.IPV6_TOO_MANY_OPTIONS, "more than 8 options in one header: Linux drops it")
            _check_option_action(kind)
        i += length


def _check_option_action(kind: int) -> None:
    """ip6_tlvopt_unknown: the top two bits of an unknown option's type say what to do with the packet."""
    if kind in _KNOWN_OPTIONS or not kind >> 6:
        return
    if kind >> 6 == 1:
        raise NoReply(Outcome.IPV6_OPTION_UNKNOWN_DROP, f"unknown IPv6 option 0x{kind:02x}: Linux drops it")
    raise NoReply(
        Outcome.IPV6_OPTION_UNKNOWN_ERROR,
        f"unknown IPv6 option 0x{kind:02x}: Linux drops it and answers Parameter Problem (not modelled)",
    )


def _nd_source_lladdr(options: bytes) -> bytes | None:
    lladdr, i = None, 0
    while i + 2 <= len(options):
        length = options[i + 1] * 8
        if length == 0 or i + length > len(options):
            raise NoReply(Outcome.NDP_MALFORMED, "malformed: neighbour discovery option with a bad length")
        if options[i] == 1 and length >= 8:
            lladdr = options[i + 2 : i + 8]
        i += length
    return lladdr


def _icmpv6_checksum(src: bytes, dst: bytes, message: bytes) -> int:
    return internet_checksum(icmpv6_pseudo_header(src, dst, len(message)) + message)


def _ipv6_header(
    traffic_class: int, flow_label: int, payload_length: int, next_header: int, hop_limit: int, src: bytes, dst: bytes
) -> bytes:
    first = (6 << 28) | (traffic_class << 20) | flow_label
    return struct.pack("!IHBB", first, payload_length, next_header, hop_limit) + src + dst


def _ipv6_packets(
    traffic_class: int,
    flow_label: int,
    hop_limit: int,
    src: bytes,
    dst: bytes,
    next_header: int,
    body: bytes,
    mtu: int,
    frag_id: Callable[[], int],
) -> tuple[bytes, ...]:
    if IPV6_HEADER + len(body) <= mtu:
        return (_ipv6_header(traffic_class, flow_label, len(body), next_header, hop_limit, src, dst) + body,)
    per_fragment = (mtu - 48) & ~7
    ident = frag_id()
    packets = []
    for offset in range(0, len(body), per_fragment):
        chunk = body[offset : offset + per_fragment]
        more = offset + per_fragment < len(body)
        fragment = struct.pack("!BBHI", next_header, 0, offset | int(more), ident)
        packets.append(
            _ipv6_header(traffic_class, flow_label, 8 + len(chunk), 44, hop_limit, src, dst) + fragment + chunk
        )
    return tuple(packets)


_ECHO_ONLY = _EchoOnlyStack()
