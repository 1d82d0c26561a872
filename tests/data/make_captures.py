#!/usr/bin/env python3
"""Record the golden captures: real clients ping the real Linux kernel inside two network namespaces.

Why: labkit's reference stack claims to answer "like Linux". These captures are the proof; tests/test_golden.py
replays every request in them through the reference stack and compares the replies with the kernel's, byte for byte.

Run as root from anywhere:  python3 tests/data/make_captures.py   (writes tests/data/golden_*.pcap)
Topology: netns lk-gold-a (clients, lka 02:99:00:00:00:01, 10.99.0.1/24, fd99::1/64)
          <-veth-> netns lk-gold-b (the kernel under test, lkb 02:99:00:00:00:02, 10.99.0.2/24, fd99::2/64).
tcpdump captures on lkb (the responder side). The namespaces are always deleted, even on failure or Ctrl-C.
Traffic never leaves the two namespaces.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# LABKIT_NS_PREFIX lets two people record at once on one machine without deleting each other's namespaces.
NS_PREFIX = os.environ.get("LABKIT_NS_PREFIX", "lk-gold")
NS_CLIENT, NS_KERNEL = f"{NS_PREFIX}-a", f"{NS_PREFIX}-b"
IF_CLIENT, IF_KERNEL = "lka", "lkb"
MAC_CLIENT, MAC_KERNEL = "02:99:00:00:00:01", "02:99:00:00:00:02"
IP_CLIENT, IP_KERNEL = "10.99.0.1", "10.99.0.2"
IP6_CLIENT, IP6_KERNEL = "fd99::1", "fd99::2"
DATA_DIR = Path(__file__).resolve().parent

# MLD messages (ICMPv6 130-132, 143 behind a hop-by-hop header) are kernel chatter, not requests or replies;
# other hop-by-hop packets (crafted_v6) stay in.
CAPTURE_FILTER = (
    "not (ip6 and ip6[6] == 0 and ip6[40] == 58 and "
    "(ip6[48] == 143 or ip6[48] == 130 or ip6[48] == 131 or ip6[48] == 132))"
)


@dataclass(frozen=True)
class Scenario:
    name: str  # file is golden_<name>.pcap
    what: str  # one line for README.md
    argv: tuple[str, ...] = ()  # client command run in NS_CLIENT; empty -> crafted frames (see CRAFTERS)
    linger: float = 0.3  # seconds to keep capturing after the client is done (kernel timers)
    sysctls: tuple[tuple[str, str, str], ...] = ()  # (name, value for this scenario, Linux default), in order


def _client(*argv: str) -> tuple[str, ...]:
    return tuple(argv)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "ping",
        "iputils ping, 56 data bytes (plus the ARP exchange)",
        _client("ping", "-c", "2", "-i", "0.2", IP_KERNEL),
    ),
    Scenario(
        "ping_s0", "iputils ping -s 0 (empty payload)", _client("ping", "-c", "2", "-i", "0.2", "-s", "0", IP_KERNEL)
    ),
    Scenario("ping_s1", "iputils ping -s 1", _client("ping", "-c", "2", "-i", "0.2", "-s", "1", IP_KERNEL)),
    Scenario(
        "ping_s1472_df",
        "iputils ping -s 1472 -M do (a full 1500-byte packet with DF)",
        _client("ping", "-c", "2", "-i", "0.2", "-s", "1472", "-M", "do", IP_KERNEL),
    ),
    Scenario("ping_pattern", "iputils ping -p ff00", _client("ping", "-c", "2", "-i", "0.2", "-p", "ff00", IP_KERNEL)),
    Scenario(
        "ping_tos_ttl",
        "iputils ping -Q 0x10 -t 7 (TOS and TTL of the request)",
        _client("ping", "-c", "2", "-i", "0.2", "-Q", "0x10", "-t", "7", IP_KERNEL),
    ),
    Scenario(
        "ping_tos_ecn",
        "iputils ping -Q 0xb9 (DSCP and ECN bits set)",
        _client("ping", "-c", "2", "-i", "0.2", "-Q", "0xb9", IP_KERNEL),
    ),
    Scenario(
        "ping_rr", "iputils ping -R (Record Route option)", _client("ping", "-c", "2", "-i", "0.2", "-R", IP_KERNEL)
    ),
    Scenario(
        "ping_ts",
        "iputils ping -T tsonly (IP Timestamp option)",
        _client("ping", "-c", "2", "-i", "0.2", "-T", "tsonly", IP_KERNEL),
    ),
    Scenario(
        "ping_tsaddr",
        "iputils ping -T tsandaddr (IP Timestamp option with addresses)",
        _client("ping", "-c", "2", "-i", "0.2", "-T", "tsandaddr", IP_KERNEL),
    ),
    Scenario(
        "ping_tsprespec",
        "iputils ping -T tsprespec 10.99.0.2 10.99.0.1 (prespecified timestamp addresses)",
        _client("ping", "-c", "2", "-i", "0.2", "-T", "tsprespec", IP_KERNEL, IP_CLIENT, IP_KERNEL),
    ),
    Scenario(
        "ping_s3000",
        "iputils ping -s 3000 (fragmented request and reply)",
        _client("ping", "-c", "2", "-i", "0.2", "-s", "3000", IP_KERNEL),
    ),
    Scenario(
        "ping_rr_s3000",
        "iputils ping -R -s 3000 (options and fragments together)",
        _client("ping", "-c", "2", "-i", "0.2", "-R", "-s", "3000", IP_KERNEL),
    ),
    Scenario(
        "ping_broadcast",
        "iputils ping -b 10.99.0.255 (Linux ignores: icmp_echo_ignore_broadcasts=1)",
        _client("ping", "-c", "2", "-i", "0.2", "-W", "0.3", "-b", "10.99.0.255"),
    ),
    Scenario(
        "ping6", "iputils ping -6 (plus the NDP exchange)", _client("ping", "-6", "-c", "2", "-i", "0.2", IP6_KERNEL)
    ),
    Scenario("ping6_s0", "iputils ping -6 -s 0", _client("ping", "-6", "-c", "2", "-i", "0.2", "-s", "0", IP6_KERNEL)),
    Scenario(
        "ping6_tclass",
        "iputils ping -6 -Q 0x10 -t 7 (traffic class and hop limit)",
        _client("ping", "-6", "-c", "2", "-i", "0.2", "-Q", "0x10", "-t", "7", IP6_KERNEL),
    ),
    Scenario(
        "ping6_tclass_ecn",
        "iputils ping -6 -Q 0xb9 (traffic class with ECN bits)",
        _client("ping", "-6", "-c", "2", "-i", "0.2", "-Q", "0xb9", IP6_KERNEL),
    ),
    Scenario(
        "ping6_s3000",
        "iputils ping -6 -s 3000 (fragmented IPv6 request and reply)",
        _client("ping", "-6", "-c", "2", "-i", "0.2", "-s", "3000", IP6_KERNEL),
    ),
    Scenario(
        "ping6_allnodes",
        "iputils ping -6 ff02::1%lka (multicast echo, answered from the link-local address)",
        _client("ping", "-6", "-c", "2", "-i", "0.2", "-W", "0.3", f"ff02::1%{IF_CLIENT}"),
    ),
    Scenario("busybox_ping", "busybox ping", _client("busybox", "ping", "-c", "2", IP_KERNEL)),
    Scenario("busybox_ping6", "busybox ping -6", _client("busybox", "ping", "-6", "-c", "2", IP6_KERNEL)),
    Scenario("fping", "fping -c 2", _client("fping", "-c", "2", "-p", "200", IP_KERNEL)),
    Scenario("fping6", "fping -6 -c 2", _client("fping", "-6", "-c", "2", "-p", "200", IP6_KERNEL)),
    Scenario(
        "nping_echo",
        "nping --icmp (8-byte ICMP, no payload)",
        _client("nping", "--icmp", "-c", "2", "--delay", "200ms", IP_KERNEL),
    ),
    Scenario(
        "nping_code",
        "nping --icmp --icmp-code 5 (a nonzero code in an echo request)",
        _client("nping", "--icmp", "--icmp-code", "5", "-c", "2", "--delay", "200ms", IP_KERNEL),
    ),
    Scenario(
        "nping_timestamp",
        "nping --icmp --icmp-type time (ICMP Timestamp Request)",
        _client("nping", "--icmp", "--icmp-type", "time", "-c", "2", "--delay", "200ms", IP_KERNEL),
    ),
    Scenario("hping3_echo", "hping3 -1", _client("hping3", "-1", "-c", "2", "-i", "u200000", IP_KERNEL)),
    Scenario(
        "hping3_timestamp",
        "hping3 --icmp-ts (ICMP Timestamp Request)",
        _client("hping3", "--icmp-ts", "-c", "2", "-i", "u200000", IP_KERNEL),
    ),
    Scenario(
        "hping3_data",
        "hping3 -1 -d 100 -K 3 (payload and a nonzero code)",
        _client("hping3", "-1", "-d", "100", "-K", "3", "-c", "2", "-i", "u200000", IP_KERNEL),
    ),
    Scenario("crafted", "scapy frames for edge cases (see craft())"),
    Scenario(
        "crafted_v6",
        "scapy IPv6 frames: echo to ff02::1 from a global address, Hop-by-Hop and Destination "
        "Options Linux drops or keeps (see craft_v6())",
    ),
    Scenario(
        "frag_timeout",
        "fragments completed 35 s late or never, 62 s in all: Time Exceeded when the first "
        "fragment was in (see craft_frag_timeout())",
        linger=27.0,
    ),
    Scenario(
        "frag_memory",
        "ipfrag_high_thresh lowered to 20000: 40 lost first fragments fill IPv4 reassembly "
        "memory, then every IPv4 fragment is refused; IPv6 and whole packets are not "
        "(see craft_frag_memory())",
        sysctls=(
            ("net.ipv4.ipfrag_low_thresh", "10000", "3145728"),
            ("net.ipv4.ipfrag_high_thresh", "20000", "4194304"),
        ),
    ),
)


# ---------------------------------------------------------------- crafted edge cases (run inside NS_CLIENT)


def craft() -> None:
    """Send hand-made frames the ordinary clients cannot make, so the captures show how Linux treats them."""
    from scapy.all import (
        ARP,
        ICMP,
        IP,
        Ether,
        ICMPv6EchoRequest,
        ICMPv6ND_NS,
        ICMPv6NDOptSrcLLAddr,
        IPOption_RR,
        IPv6,
        IPv6ExtHdrFragment,
        Raw,
        checksum,
        fragment,
        fragment6,
        sendp,
    )

    eth = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x0800)
    frames: list[bytes] = []

    def add(pkt) -> None:
        frames.append(bytes(pkt))

    def ip(**kw):
        return IP(src=IP_CLIENT, dst=IP_KERNEL, **kw)

    # ARP for our address (answered), for someone else (ignored) and an address probe from 0.0.0.0 (answered).
    add(Ether(src=MAC_CLIENT, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=MAC_CLIENT, psrc=IP_CLIENT, pdst=IP_KERNEL))
    add(Ether(src=MAC_CLIENT, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=MAC_CLIENT, psrc=IP_CLIENT, pdst="10.99.0.77"))
    add(Ether(src=MAC_CLIENT, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=MAC_CLIENT, psrc="0.0.0.0", pdst=IP_KERNEL))
    # Echo with trailing bytes beyond ip.len (like Ethernet padding): Linux trims to ip.len.
    add(eth / Raw(bytes(ip(id=101) / ICMP(type=8, id=0x4C4B, seq=1) / b"abc") + b"\xee" * 20))
    # ip.len larger than the bytes that arrived (truncated packet): dropped.
    add(eth / Raw(bytes(ip(id=115) / ICMP(type=8, id=0x4C4B, seq=15) / (b"t" * 40))[:50]))
    # Echo in a frame sent to another host's MAC: dropped (PACKET_OTHERHOST).
    add(Ether(src=MAC_CLIENT, dst="02:99:00:00:00:99") / ip(id=116) / ICMP(type=8, id=0x4C4B, seq=16) / b"otherhost")
    # Echo to our unicast address inside a broadcast frame: answered (Linux goes by the IP address).
    add(Ether(src=MAC_CLIENT, dst="ff:ff:ff:ff:ff:ff") / ip(id=117) / ICMP(type=8, id=0x4C4B, seq=17) / b"l2bcast")
    # Echo that claims to come from our own address: a martian source, dropped.
    add(eth / IP(src=IP_KERNEL, dst=IP_KERNEL, id=118) / ICMP(type=8, id=0x4C4B, seq=18) / b"martian")
    # Header length below 5 words: dropped.
    add(eth / Raw(b"\x44" + bytes(ip(id=119) / ICMP(type=8, id=0x4C4B, seq=19) / b"ihl4")[1:]))
    # Echo with TTL 1 and an odd-length payload: answered with our own TTL.
    add(eth / ip(id=120, ttl=1) / ICMP(type=8, id=0x4C4B, seq=20) / b"odd")
    # Bad IP header checksum, bad ICMP checksum: silently dropped.
    add(eth / ip(id=102, chksum=0x1234) / ICMP(type=8, id=0x4C4B, seq=2) / b"badiphdr")
    add(eth / ip(id=103) / ICMP(type=8, id=0x4C4B, seq=3, chksum=0x1234) / b"badicmp")
    # ICMP shorter than its 8-byte header: dropped.
    add(eth / ip(id=104, proto=1) / Raw(b"\x08\x00\xf7\xff"))
    # Echo with an option Linux does not echo (Router Alert): the reply has no options.
    add(
        eth
        / IP(src=IP_CLIENT, dst=IP_KERNEL, id=105, options=b"\x94\x04\x00\x00")
        / ICMP(type=8, id=0x4C4B, seq=5)
        / b"ra"
    )
    # Record Route, full (pointer past the end): echoed unchanged.
    full_rr = IPOption_RR(pointer=12, routers=["10.99.0.1", "10.99.0.3"])
    add(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=106, options=full_rr) / ICMP(type=8, id=0x4C4B, seq=6) / b"rrfull")
    # Timestamp request with extra data after the three timestamps, and one that is too short.
    add(eth / ip(id=107) / ICMP(type=13, id=0x4C4B, seq=7, ts_ori=123456, ts_rx=1, ts_tx=2) / b"extra-data")
    short = bytearray(bytes(ICMP(type=13, id=0x4C4B, seq=8))[:11])
    short[2:4] = checksum(bytes(short[:2]) + b"\0\0" + bytes(short[4:])).to_bytes(2, "big")
    add(eth / ip(id=108, proto=1) / Raw(bytes(short)))
    # Address mask request (type 17) and an echo reply (type 0): Linux sends nothing.
    add(eth / ip(id=109) / ICMP(type=17, id=0x4C4B, seq=9) / (b"\x00" * 4))
    add(eth / ip(id=110) / ICMP(type=0, id=0x4C4B, seq=10) / b"reply")
    # Fragmented echo, fragments sent last-first.
    big = ip(id=111) / ICMP(type=8, id=0x4C4B, seq=11) / (bytes(range(256)) * 8)
    for frag in reversed(fragment(big, fragsize=800)):
        add(eth / frag)
    # Overlapping fragments (second overlaps the first): Linux discards the whole datagram.
    ov = bytes(ip(id=112) / ICMP(type=8, id=0x4C4B, seq=12) / (b"O" * 200))
    add(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=112, flags="MF", frag=0, proto=1) / Raw(ov[20 : 20 + 104]))
    add(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=112, flags=0, frag=12, proto=1) / Raw(ov[20 + 96 :]))
    # A fragment wholly inside one already held is a duplicate: dropped, the datagram still completes.
    dup = bytes(ip(id=113) / ICMP(type=8, id=0x4C4B, seq=13) / (b"D" * 200))
    add(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=113, flags="MF", frag=0, proto=1) / Raw(dup[20 : 20 + 104]))
    add(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=113, flags="MF", frag=1, proto=1) / Raw(dup[20 + 8 : 20 + 40]))
    add(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=113, flags=0, frag=13, proto=1) / Raw(dup[20 + 104 :]))
    # Echo to the limited broadcast address: ignored.
    add(
        Ether(src=MAC_CLIENT, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=IP_CLIENT, dst="255.255.255.255", id=114)
        / ICMP(type=8, id=0x4C4B, seq=14)
        / b"bcast"
    )
    # ICMPv6: echo with a nonzero code, echo with a bad checksum.
    eth6 = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x86DD)
    add(eth6 / IPv6(src=IP6_CLIENT, dst=IP6_KERNEL) / ICMPv6EchoRequest(code=7, id=0x4C4B, seq=21, data=b"code7"))
    add(eth6 / IPv6(src=IP6_CLIENT, dst=IP6_KERNEL) / ICMPv6EchoRequest(id=0x4C4B, seq=22, data=b"bad", cksum=0x1234))
    # ICMPv6 echo with trailing bytes beyond the payload length: trimmed, answered.
    add(
        eth6
        / Raw(
            bytes(IPv6(src=IP6_CLIENT, dst=IP6_KERNEL) / ICMPv6EchoRequest(id=0x4C4B, seq=23, data=b"trim6"))
            + b"\xee" * 9
        )
    )
    # Fragmented ICMPv6 echo, fragments sent last-first.
    big6 = (
        IPv6(src=IP6_CLIENT, dst=IP6_KERNEL)
        / IPv6ExtHdrFragment(id=0x4C4B0024)
        / ICMPv6EchoRequest(id=0x4C4B, seq=24, data=bytes(range(256)) * 8)
    )
    for frag in reversed(fragment6(big6, 1000)):
        add(eth6 / frag)
    # Neighbour solicitations: multicast with SLLA, unicast with and without SLLA, for someone else, DAD probe.
    sn = "ff02::1:ff00:2"
    add(
        Ether(src=MAC_CLIENT, dst="33:33:ff:00:00:02")
        / IPv6(src=IP6_CLIENT, dst=sn, hlim=255)
        / ICMPv6ND_NS(tgt=IP6_KERNEL)
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_CLIENT)
    )
    add(
        eth6
        / IPv6(src=IP6_CLIENT, dst=IP6_KERNEL, hlim=255)
        / ICMPv6ND_NS(tgt=IP6_KERNEL)
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_CLIENT)
    )
    add(eth6 / IPv6(src=IP6_CLIENT, dst=IP6_KERNEL, hlim=255) / ICMPv6ND_NS(tgt=IP6_KERNEL))
    add(
        Ether(src=MAC_CLIENT, dst="33:33:ff:00:00:77")
        / IPv6(src=IP6_CLIENT, dst="ff02::1:ff00:77", hlim=255)
        / ICMPv6ND_NS(tgt="fd99::77")
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_CLIENT)
    )
    add(Ether(src=MAC_CLIENT, dst="33:33:ff:00:00:02") / IPv6(src="::", dst=sn, hlim=255) / ICMPv6ND_NS(tgt=IP6_KERNEL))
    # NS with a hop limit other than 255: dropped (it could have come from off-link).
    add(
        Ether(src=MAC_CLIENT, dst="33:33:ff:00:00:02")
        / IPv6(src=IP6_CLIENT, dst=sn, hlim=64)
        / ICMPv6ND_NS(tgt=IP6_KERNEL)
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_CLIENT)
    )

    for frame in frames:
        sendp(frame, iface=IF_CLIENT, verbose=False)
        time.sleep(0.05)


def _send(frames: list[bytes], gap: float = 0.05) -> None:
    from scapy.all import sendp

    for frame in frames:
        sendp(frame, iface=IF_CLIENT, verbose=False)
        time.sleep(gap)


def craft_v6() -> None:
    """IPv6 frames for source address selection and the Hop-by-Hop / Destination Options checks of
    net/ipv6/exthdrs.c ip6_parse_tlv: at most 7 bytes of padding in a row, PadN contents all zero, at most 8
    non-padding options (max_hbh_opts_number / max_dst_opts_number)."""
    from scapy.all import Ether, ICMPv6EchoRequest, IPv6, Raw

    to_kernel = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x86DD)

    def echo(seq: int, data: bytes) -> ICMPv6EchoRequest:
        return ICMPv6EchoRequest(id=0x4C4B, seq=seq, data=data)

    frames = [
        # Echo to all nodes and to our solicited-node group from a global source: which source does Linux pick?
        Ether(src=MAC_CLIENT, dst="33:33:00:00:00:01") / IPv6(src=IP6_CLIENT, dst="ff02::1") / echo(31, b"all"),
        Ether(src=MAC_CLIENT, dst="33:33:ff:00:00:02") / IPv6(src=IP6_CLIENT, dst="ff02::1:ff00:2") / echo(32, b"sn"),
    ]
    cases = [
        # (seq, header kind, option bytes)      Hop-by-Hop = 0, Destination Options = 60
        (33, 0, b"\x00" * 6),  # six Pad1: 6 bytes of padding, kept
        (34, 0, b"\x01\x0c" + bytes(12)),  # PadN of 14 bytes: more than 7, dropped
        (35, 0, b"\x01\x04\x01\x00\x00\x00"),  # PadN with a nonzero byte: dropped
        (36, 0, b"\x00\x00\x01\x04" + bytes(4) + b"\x1e\x00" + b"\x01\x02\x00\x00"),  # 2 Pad1 + PadN(6) = 8: dropped
        (37, 0, b"\x00\x01\x04" + bytes(4) + b"\x1e\x00" + b"\x01\x02\x00\x00\x00"),  # Pad1 + PadN(6) = 7: kept
        (38, 60, b"\x1e\x00" * 8 + b"\x01\x04" + bytes(4)),  # 8 unknown skippable options: kept
        (39, 60, b"\x1e\x00" * 9 + b"\x01\x02" + bytes(2)),  # 9 options: more than 8, dropped
        (40, 0, b"\x1e\x00" * 9 + b"\x01\x02" + bytes(2)),  # 9 in Hop-by-Hop: dropped
        (41, 60, b"\x01\x0c" + bytes(12)),  # PadN of 14 in Destination Options: dropped
    ]
    for seq, kind, tlvs in cases:
        assert (len(tlvs) + 2) % 8 == 0, seq
        icmp = bytes(echo(seq, b"opts"))
        header = bytes((58, (len(tlvs) + 2) // 8 - 1)) + tlvs
        ip6 = IPv6(src=IP6_CLIENT, dst=IP6_KERNEL, nh=kind) / Raw(header) / Raw(icmp)
        packet = bytearray(bytes(ip6))
        frames.append(to_kernel / Raw(bytes(_fix_icmpv6_checksum(packet, 40 + len(header)))))
    _send([bytes(frame) for frame in frames])


def _fix_icmpv6_checksum(packet: bytearray, icmp_at: int) -> bytearray:
    """Set the ICMPv6 checksum of a packet scapy could not sum (its extension header was given as raw bytes)."""
    from scapy.all import IPv6, in6_chksum

    packet[icmp_at + 2 : icmp_at + 4] = b"\0\0"
    total = in6_chksum(58, IPv6(src=IP6_CLIENT, dst=IP6_KERNEL), bytes(packet[icmp_at:]))
    packet[icmp_at + 2 : icmp_at + 4] = total.to_bytes(2, "big")
    return packet


def craft_frag_timeout() -> None:
    """Fragments whose datagrams do not complete in time. ip_expire / ip6_expire_frag_queue send Time Exceeded
    (fragment reassembly time exceeded) after ipfrag_time (30 s) / ip6frag_time (60 s), but only when the first
    fragment is in (INET_FRAG_FIRST_IN). The rest of two datagrams comes 35 s late: too late for IPv4 (a new,
    silent queue), in time for IPv6. The capture keeps running (Scenario.linger) past the IPv6 timeout."""
    from scapy.all import ICMP, IP, Ether, ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, Raw, fragment6

    eth = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x0800)
    eth6 = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x86DD)
    big = bytes(IP(src=IP_CLIENT, dst=IP_KERNEL, id=201) / ICMP(type=8, id=0x4C4B, seq=51) / (bytes(range(256)) * 4))

    def v4(ident: int, offset: int, more: bool, data: bytes, tos: int = 0) -> Ether:
        return (
            eth
            / IP(src=IP_CLIENT, dst=IP_KERNEL, id=ident, tos=tos, flags="MF" if more else 0, frag=offset // 8, proto=1)
            / Raw(data)
        )

    def v6(ident: int, seq: int) -> list:
        whole = (
            IPv6(src=IP6_CLIENT, dst=IP6_KERNEL)
            / IPv6ExtHdrFragment(id=ident)
            / ICMPv6EchoRequest(id=0x4C4B, seq=seq, data=bytes(range(256)) * 4)
        )
        return [eth6 / piece for piece in fragment6(whole, 700)]

    late4 = v4(201, 600, False, big[20 + 600 :])
    first6, late6 = v6(0x4C4B0203, 52)
    lone6, _ = v6(0x4C4B0205, 53)
    stray6 = v6(0x4C4B0204, 54)[1]
    _send(
        [
            bytes(v4(201, 0, True, big[20 : 20 + 600], tos=0xB9)),  # first IPv4 fragment (with a TOS), rest 35 s late
            bytes(v4(202, 600, False, big[20 + 600 :])),  # a later IPv4 fragment only: expires silently
            bytes(first6),  # first IPv6 fragment, rest 35 s late (in time)
            bytes(lone6),  # first IPv6 fragment only: Time Exceeded at 60 s
            bytes(stray6),  # a later IPv6 fragment only: expires silently
        ]
    )
    time.sleep(35)
    _send([bytes(late4), bytes(late6)])


def craft_frag_memory() -> None:
    """inet_frag_find refuses every fragment of a family while that family's reassembly memory is over
    ipfrag_high_thresh (lowered for this scenario): a complete fragmented echo then goes unanswered, while
    IPv6 fragments (ip6frag_high_thresh) and whole packets are still answered. Ends long before the 30 s
    timeout, so no Time Exceeded (which icmp_ratelimit would thin out) shows."""
    from scapy.all import ICMP, IP, Ether, ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, fragment, fragment6

    eth = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x0800)
    eth6 = Ether(src=MAC_CLIENT, dst=MAC_KERNEL, type=0x86DD)

    def echo4(ident: int, seq: int) -> list:
        whole = IP(src=IP_CLIENT, dst=IP_KERNEL, id=ident) / ICMP(type=8, id=0x4C4B, seq=seq) / (bytes(range(256)) * 4)
        return [eth / piece for piece in fragment(whole, fragsize=600)]

    frames = [echo4(300 + i, 60)[0] for i in range(40)]  # first fragments whose rest never comes
    frames += echo4(400, 61)  # a whole fragmented echo: refused now
    frames.append(eth / IP(src=IP_CLIENT, dst=IP_KERNEL, id=401) / ICMP(type=8, id=0x4C4B, seq=62) / b"whole")
    whole6 = (
        IPv6(src=IP6_CLIENT, dst=IP6_KERNEL)
        / IPv6ExtHdrFragment(id=0x4C4B0402)
        / ICMPv6EchoRequest(id=0x4C4B, seq=63, data=bytes(range(256)) * 4)
    )
    frames += [eth6 / piece for piece in fragment6(whole6, 700)]  # IPv6 has its own limit: answered
    _send([bytes(frame) for frame in frames], gap=0.02)


CRAFTERS = {
    "crafted": craft,
    "crafted_v6": craft_v6,
    "frag_timeout": craft_frag_timeout,
    "frag_memory": craft_frag_memory,
}


# ---------------------------------------------------------------- namespaces and capture


def sh(*argv: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(argv, check=check, stdout=out, stderr=out)


def in_ns(ns: str, *argv: str) -> tuple[str, ...]:
    return ("ip", "netns", "exec", ns, *argv)


def teardown() -> None:
    for ns in (NS_CLIENT, NS_KERNEL):
        sh("ip", "netns", "del", ns, check=False, quiet=True)


def setup() -> None:
    teardown()
    for ns in (NS_CLIENT, NS_KERNEL):
        sh("ip", "netns", "add", ns)
        # Quiet links: no router solicitations, no DAD on link-local addresses, so captures hold only the exchange.
        sh(
            *in_ns(
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.accept_ra=0",
                "net.ipv6.conf.all.accept_ra=0",
                "net.ipv6.conf.default.router_solicitations=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_dad=0",
            )
        )
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh(
        "ip",
        "-n",
        NS_CLIENT,
        "link",
        "add",
        IF_CLIENT,
        "address",
        MAC_CLIENT,
        "type",
        "veth",
        "peer",
        "name",
        IF_KERNEL,
        "address",
        MAC_KERNEL,
        "netns",
        NS_KERNEL,
    )
    sh("ip", "-n", NS_CLIENT, "addr", "add", f"{IP_CLIENT}/24", "dev", IF_CLIENT)
    sh("ip", "-n", NS_CLIENT, "addr", "add", f"{IP6_CLIENT}/64", "dev", IF_CLIENT, "nodad")
    sh("ip", "-n", NS_KERNEL, "addr", "add", f"{IP_KERNEL}/24", "dev", IF_KERNEL)
    sh("ip", "-n", NS_KERNEL, "addr", "add", f"{IP6_KERNEL}/64", "dev", IF_KERNEL, "nodad")
    sh("ip", "-n", NS_CLIENT, "link", "set", IF_CLIENT, "up")
    sh("ip", "-n", NS_KERNEL, "link", "set", IF_KERNEL, "up")
    sh(*in_ns(NS_CLIENT, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_broadcasts=0"))  # client only
    time.sleep(1.5)  # let link-up chatter (MLD reports) pass before the first capture


def capture(scenario: Scenario, out: Path) -> None:
    """Record one scenario into `out`; a failed or interrupted run leaves the previous file untouched."""
    for ns, dev in ((NS_CLIENT, IF_CLIENT), (NS_KERNEL, IF_KERNEL)):
        sh("ip", "-n", ns, "neigh", "flush", "dev", dev)  # every capture shows the ARP/NDP exchange afresh
    for name, value, _ in scenario.sysctls:
        sh(*in_ns(NS_KERNEL, "sysctl", "-qw", f"{name}={value}"))
    partial = out.with_suffix(".partial")
    tcpdump = subprocess.Popen(
        in_ns(
            NS_KERNEL,
            "tcpdump",
            "-Z",
            "root",
            "-i",
            IF_KERNEL,
            "-U",
            "-s",
            "0",
            "--immediate-mode",
            "-w",
            str(partial),
            CAPTURE_FILTER,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    finished = False
    try:
        assert tcpdump.stderr is not None
        line = tcpdump.stderr.readline()  # "listening on lkb ..." once the capture is armed
        if "listening" not in line:
            raise RuntimeError(f"tcpdump did not start: {line.strip()}")
        if scenario.argv:
            sh(*in_ns(NS_CLIENT, "timeout", "20", *scenario.argv), check=False, quiet=True)
        else:
            sh(*in_ns(NS_CLIENT, sys.executable, __file__, "--craft", scenario.name))
        time.sleep(scenario.linger)
        finished = True
    finally:
        for name, _, default in reversed(scenario.sysctls):
            sh(*in_ns(NS_KERNEL, "sysctl", "-qw", f"{name}={default}"), check=False)
        tcpdump.send_signal(signal.SIGINT)
        try:
            tcpdump.wait(timeout=5)
        except subprocess.TimeoutExpired:
            tcpdump.kill()
            tcpdump.wait()
        if finished and partial.exists() and partial.stat().st_size > 24:  # more than a pcap file header
            os.replace(partial, out)
        else:
            partial.unlink(missing_ok=True)
            if finished:
                raise RuntimeError(f"{scenario.name}: nothing was captured")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--craft", choices=sorted(CRAFTERS), help=argparse.SUPPRESS)  # internal: inside NS_CLIENT
    parser.add_argument("--only", nargs="*", help="scenario names to record (default: all)")
    args = parser.parse_args()
    if args.craft:
        CRAFTERS[args.craft]()
        return 0
    if os.geteuid() != 0:
        print("make_captures: run as root (it creates network namespaces)", file=sys.stderr)
        return 2
    # Turn SIGTERM/SIGHUP into SystemExit so the finally block deletes the namespaces.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    try:
        setup()
        for scenario in SCENARIOS:
            if args.only and scenario.name not in args.only:
                continue
            out = DATA_DIR / f"golden_{scenario.name}.pcap"
            capture(scenario, out)
            print(f"{out.name}: {scenario.what}")
    finally:
        teardown()
    print(f"kernel: {os.uname().release}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
