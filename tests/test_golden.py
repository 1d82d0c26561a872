"""The reference stack against the real Linux kernel, byte for byte.

tests/data/golden_*.pcap were recorded by tests/data/make_captures.py: real clients (iputils ping, busybox,
fping, nping, hping3, hand-made scapy frames) in one network namespace, the Linux kernel answering in another,
tcpdump on the kernel's side. Here every frame the kernel received is fed to a ReferenceStack configured as that
kernel; the stack's replies must equal the kernel's replies, except for the fields in KERNEL_CHOSEN, and the
stack must stay silent exactly where the kernel did. Reads committed files only: no root needed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scapy.utils import RawPcapReader

from labkit.checksum import internet_checksum
from labkit.headers import ipv4_header_len
from labkit.outcomes import Outcome
from labkit.stack import HostConfig, ReferenceStack

DATA = Path(__file__).resolve().parent / "data"
CAPTURES = sorted(DATA.glob("golden_*.pcap"))
KERNEL_MAC = bytes.fromhex("029900000002")
KERNEL = HostConfig(ipv4=("10.99.0.2",), ipv6=("fd99::2",), mac="02:99:00:00:00:02")
# Sysctls a scenario changed in the kernel (make_captures.py Scenario.sysctls), as ReferenceStack options.
STACK_OPTIONS = {"golden_frag_memory": {"frag_high_thresh": 20000}}

# Fields whose value the kernel picks for itself: the comparison skips exactly these bits and nothing else.
# Everything else (TTL 64, DF clear, TOS/traffic class, options, hop limit 64, NA flags, ...) is compared
# exactly; test_kernel_chosen_fields_really_differ shows each entry is needed.
KERNEL_CHOSEN = {
    "ip.id": "IPv4 identification: Linux draws it from a hashed per-destination counter (ip_select_ident)",
    "ip.chksum": "IPv4 header checksum: covers ip.id and option timestamps; instead checked valid on both sides",
    "ip.options.ts.time": "times the kernel writes into an IP Timestamp option (ms since midnight UT, its clock)",
    "icmp.ts_rx": "ICMP Timestamp Reply receive timestamp (ms since midnight UT, the kernel's clock)",
    "icmp.ts_tx": "ICMP Timestamp Reply transmit timestamp (same clock; Linux sets it equal to ts_rx)",
    "icmp.chksum": "ICMP checksum of Timestamp Replies only (covers ts_rx/ts_tx); checked valid on both sides",
    "ipv6.fl": "IPv6 flow label of echo replies and errors: auto_flowlabels hashes the flow with a per-boot key",
    "ipv6.frag.id": "IPv6 Fragment header identification of fragmented replies (random, ipv6_select_ident)",
}


# ------------------------------------------------------------------------------------------------ reading


@dataclass
class Frame:
    time: float
    data: bytes


def read_frames(path: Path) -> list[Frame]:
    frames = []
    with RawPcapReader(str(path)) as reader:
        for data, meta in reader:
            frames.append(Frame(meta.sec + meta.usec / 1e6, bytes(data)))
    return frames


def ethertype(frame: bytes) -> int:
    return struct.unpack_from("!H", frame, 12)[0]


def ipv6_upper(frame: bytes) -> tuple[int, int, int | None]:
    """(next header, offset of the upper layer, offset of a Fragment header or None) in an IPv6 frame."""
    next_header, offset, fragment = frame[20], 54, None
    while next_header in (0, 43, 44, 60) and offset + 8 <= len(frame):
        if next_header == 44:
            fragment = offset
            next_header, offset = frame[offset], offset + 8
            if struct.unpack_from("!H", frame, fragment + 2)[0] & 0xFFF8:
                return next_header, -1, fragment  # not the first fragment: no upper-layer header here
        else:
            next_header, offset = frame[offset], offset + (frame[offset + 1] + 1) * 8
    return next_header, offset, fragment


def is_kernel_reply(frame: bytes) -> bool:
    """Outbound frames that answer something; ARP requests, NS and MLD are the kernel's own chatter."""
    kind = ethertype(frame)
    if kind == 0x0806:
        return struct.unpack_from("!H", frame, 20)[0] == 2
    if kind == 0x86DD:
        next_header, offset, _ = ipv6_upper(frame)
        return not (next_header == 58 and offset > 0 and frame[offset] in (133, 135, 143))
    return kind == 0x0800


def unit_key(frame: bytes) -> tuple:
    """What a reply answers, for pairing the kernel's replies with the stack's: addresses and ICMP id/seq."""
    kind = ethertype(frame)
    if kind == 0x0806:
        return ("arp", frame[28:32], frame[38:42])
    if kind == 0x0800:
        ihl = ipv4_header_len(frame[14:])
        offset = 14 + ihl
        if struct.unpack_from("!H", frame, 20)[0] & 0x1FFF:
            return ("ip4-later-fragment", frame[26:34], frame[18:20])
        return ("ip4", frame[26:34], frame[offset], frame[offset + 4 : offset + 8])
    next_header, offset, _ = ipv6_upper(frame)
    if offset < 0:
        return ("ip6-later-fragment", frame[22:54])
    selector = frame[offset + 8 : offset + 24] if frame[offset] == 136 else frame[offset + 4 : offset + 8]
    return ("ip6", frame[22:54], frame[offset], selector)


def fragment_group(frame: bytes) -> tuple | None:
    """Frames of one fragmented datagram share this; None for an unfragmented frame."""
    kind = ethertype(frame)
    if kind == 0x0800 and struct.unpack_from("!H", frame, 20)[0] & 0x3FFF:
        return ("ip4", frame[26:34], frame[18:20])
    if kind == 0x86DD:
        _, _, fragment = ipv6_upper(frame)
        if fragment is not None:
            return ("ip6", frame[22:54], frame[fragment + 4 : fragment + 8])
    return None


# ------------------------------------------------------------------------------------------------ comparing


def free_bits(frame: bytes, first_frame: bytes, request: bytes | None) -> dict[str, list[tuple[int, int]]]:
    """KERNEL_CHOSEN name -> [(byte offset, bit mask)] in this reply frame. first_frame is the unit's first
    fragment (it says what the reply is); request is the IP-level first fragment of what it answers."""
    spans: dict[str, list[tuple[int, int]]] = {}
    kind = ethertype(frame)
    if kind == 0x0800:
        spans["ip.id"] = [(18, 0xFF), (19, 0xFF)]
        spans["ip.chksum"] = [(24, 0xFF), (25, 0xFF)]
        ihl = ipv4_header_len(frame[14:])
        spans["ip.options.ts.time"] = _timestamp_option_times(frame, ihl, request)
        first_offset = 14 + ipv4_header_len(first_frame[14:])
        is_first = not struct.unpack_from("!H", frame, 20)[0] & 0x1FFF
        if is_first and first_frame[first_offset] == 14:  # Timestamp Reply
            icmp = 14 + ihl
            spans["icmp.chksum"] = [(icmp + 2, 0xFF), (icmp + 3, 0xFF)]
            spans["icmp.ts_rx"] = [(icmp + i, 0xFF) for i in range(12, 16)]
            spans["icmp.ts_tx"] = [(icmp + i, 0xFF) for i in range(16, 20)]
    elif kind == 0x86DD:
        next_header, offset, _ = ipv6_upper(first_frame)
        if next_header == 58 and offset > 0 and first_frame[offset] in (3, 129):  # echo reply, Time Exceeded
            spans["ipv6.fl"] = [(15, 0x0F), (16, 0xFF), (17, 0xFF)]
        _, _, fragment = ipv6_upper(frame)
        if fragment is not None:
            spans["ipv6.frag.id"] = [(fragment + i, 0xFF) for i in range(4, 8)]
    return {name: bits for name, bits in spans.items() if bits}


def _timestamp_option_times(frame: bytes, ihl: int, request: bytes | None) -> list[tuple[int, int]]:
    """The time words the kernel stamped: entries between the request's pointer and the reply's pointer."""
    reply_ts = _find_option(frame[34 : 14 + ihl], 68)
    if reply_ts is None or request is None:
        return []
    request_ts = _find_option(request[20 : ipv4_header_len(request)], 68)
    if request_ts is None:
        return []
    start = 34 + reply_ts
    flag = frame[start + 3] & 0x0F
    entry, time_at = (4, 0) if flag == 0 else (8, 4)
    request_pointer = request[20 + request_ts + 2]
    reply_pointer = frame[start + 2]
    return [
        (start + slot - 1 + time_at + i, 0xFF)
        for slot in range(request_pointer, reply_pointer, entry)
        for i in range(4)
    ]


def _find_option(options: bytes, wanted: int) -> int | None:
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if kind == wanted:
            return i
        if i + 1 >= len(options) or options[i + 1] < 2:
            return None
        i += options[i + 1]
    return None


def checksum_problems(frame: bytes, label: str) -> list[str]:
    """The masked checksums must still be right: a reply with a stale checksum is a wrong reply."""
    problems = []
    if ethertype(frame) == 0x0800:
        ihl = ipv4_header_len(frame[14:])
        if internet_checksum(frame[14 : 14 + ihl]):
            problems.append(f"{label}: IPv4 header checksum is wrong")
        is_first = not struct.unpack_from("!H", frame, 20)[0] & 0x3FFF
        if is_first and frame[23] == 1:
            total = struct.unpack_from("!H", frame, 16)[0]
            if internet_checksum(frame[14 + ihl : 14 + total]):
                problems.append(f"{label}: ICMP checksum is wrong")
    return problems


def compare_units(
    kernel: list[bytes], stack: list[bytes], request: bytes | None, used: set[str] | None = None
) -> list[str]:
    """Differences between the kernel's reply frames and the stack's, outside KERNEL_CHOSEN. Empty = match.
    `used` collects the KERNEL_CHOSEN names whose bits actually differed."""
    if len(kernel) != len(stack):
        return [f"kernel sent {len(kernel)} frame(s), stack {len(stack)}"]
    problems: list[str] = []
    for number, (theirs, ours) in enumerate(zip(kernel, stack)):
        label = f"frame {number + 1}/{len(kernel)}"
        if len(theirs) != len(ours):
            problems.append(f"{label}: kernel {len(theirs)} bytes, stack {len(ours)} bytes")
            continue
        masks: dict[int, int] = {}
        for name, bits in free_bits(theirs, kernel[0], request).items():
            assert name in KERNEL_CHOSEN, name
            for offset, mask in bits:
                masks[offset] = masks.get(offset, 0) | mask
                if used is not None and (theirs[offset] ^ ours[offset]) & mask:
                    used.add(name)
        differing = [i for i in range(len(theirs)) if (theirs[i] ^ ours[i]) & ~masks.get(i, 0) & 0xFF]
        if differing:
            shown = ", ".join(f"@{i}: kernel {theirs[i]:02x} stack {ours[i]:02x}" for i in differing[:8])
            problems.append(
                f"{label}: {len(differing)} byte(s) differ: {shown}\n  kernel {theirs.hex()}\n  stack  {ours.hex()}"
            )
        problems += checksum_problems(theirs, f"{label} (kernel)") + checksum_problems(ours, f"{label} (stack)")
    return problems


# ------------------------------------------------------------------------------------------------ replaying


@dataclass
class Unit:
    time: float
    frames: list[bytes]
    key: tuple
    request: bytes | None = None  # IP-level first fragment of the request (stack units)
    reason: str = ""
    matched: bool = False


@dataclass
class Replay:
    kernel_units: list[Unit] = field(default_factory=list)
    stack_units: list[Unit] = field(default_factory=list)
    silent: list[tuple[bytes, str, str]] = field(default_factory=list)  # (frame, kind, reason) the stack ignored
    problems: list[str] = field(default_factory=list)
    pairs: list[tuple[Unit, Unit]] = field(default_factory=list)


def group_units(frames: list[Frame]) -> list[Unit]:
    units: list[Unit] = []
    open_groups: dict[tuple, Unit] = {}
    for frame in frames:
        group = fragment_group(frame.data)
        if group is not None and group in open_groups:
            open_groups[group].frames.append(frame.data)
            continue
        unit = Unit(frame.time, [frame.data], ())
        units.append(unit)
        if group is not None:
            open_groups[group] = unit
    for unit in units:
        firsts = [f for f in unit.frames if "later-fragment" not in unit_key(f)[0]]
        unit.key = unit_key(firsts[0] if firsts else unit.frames[0])
    return units


def replay(path: Path) -> Replay:
    frames = read_frames(path)
    now = [frames[0].time if frames else 0.0]
    stack = ReferenceStack(KERNEL, clock=lambda: now[0], **STACK_OPTIONS.get(path.stem, {}))
    result = Replay()
    first_fragments: dict[tuple, bytes] = {}
    outbound: list[Frame] = []
    for frame in frames:
        now[0] = frame.time
        _expire(stack, frame.time, result)
        if frame.data[6:12] == KERNEL_MAC:
            if is_kernel_reply(frame.data):
                outbound.append(frame)
            continue
        request = frame.data[14:]
        group = fragment_group(frame.data)
        is_first_fragment = ethertype(frame.data) == 0x0800 and not struct.unpack_from("!H", request, 6)[0] & 0x1FFF
        if group is not None and is_first_fragment:
            first_fragments[group] = request
        answer = stack.respond(frame.data, "ether")
        assert "internal error" not in answer.reason, answer.reason
        if answer.replies:
            unit = group_units([Frame(frame.time, r) for r in answer.replies])
            assert len(unit) == 1, f"one request, one reply datagram: {answer.reason}"
            unit[0].request = first_fragments.get(group, request) if group else request
            unit[0].reason = answer.reason
            result.stack_units.append(unit[0])
        else:
            result.silent.append((frame.data, answer.kind, answer.reason))
    result.kernel_units = group_units(outbound)
    _expire(stack, now[0] + 0.001, result)
    for ours in result.stack_units:
        candidates = [k for k in result.kernel_units if not k.matched and k.key == ours.key and k.time >= ours.time]
        if not candidates:
            result.problems.append(
                f"the stack replied ({ours.reason}) where the kernel sent nothing:\n  stack {ours.frames[0].hex()}"
            )
            continue
        theirs = min(candidates, key=lambda unit: unit.time)
        theirs.matched = ours.matched = True
        result.pairs.append((theirs, ours))
        result.problems += [f"{ours.reason}: {p}" for p in compare_units(theirs.frames, ours.frames, ours.request)]
    for theirs in result.kernel_units:
        if not theirs.matched:
            silent = "; ".join(reason for _, _, reason in result.silent[-3:])
            result.problems.append(
                f"the kernel replied and the stack did not (recent stack reasons: {silent}):\n"
                f"  kernel {theirs.frames[0].hex()}"
            )
    return result


def _expire(stack: ReferenceStack, now: float, result: Replay) -> None:
    """Time Exceeded messages the stack owes by `now` (reassembly timeouts), as units sent at their due time."""
    for expired in stack.expire(now):
        unit = group_units([Frame(expired.at, r) for r in expired.replies])[0]
        unit.request, unit.reason = None, expired.reason
        result.stack_units.append(unit)


# ------------------------------------------------------------------------------------------------ tests


def test_captures_are_committed() -> None:
    names = {path.stem.removeprefix("golden_") for path in CAPTURES}
    for wanted in (
        "ping",
        "ping_s0",
        "ping_s1472_df",
        "ping_rr",
        "ping_tos_ttl",
        "ping_s3000",
        "ping6",
        "busybox_ping",
        "fping",
        "nping_echo",
        "nping_timestamp",
        "hping3_echo",
        "hping3_timestamp",
        "crafted",
        "crafted_v6",
        "frag_timeout",
        "frag_memory",
    ):
        assert wanted in names, f"tests/data/golden_{wanted}.pcap is missing: run tests/data/make_captures.py"


@pytest.mark.parametrize("path", CAPTURES, ids=[path.stem.removeprefix("golden_") for path in CAPTURES])
def test_stack_answers_like_the_kernel(path: Path) -> None:
    result = replay(path)
    assert not result.problems, "\n".join(result.problems)
    if path.stem == "golden_ping_broadcast":
        assert not result.kernel_units and not result.stack_units
        assert {reason.code for _, _, reason in result.silent} <= {Outcome.IPV4_BROADCAST, Outcome.IPV4_NOT_FOR_US}
    else:
        assert result.pairs, "a capture that shows no reply proves nothing"


def test_every_kind_of_reply_is_covered() -> None:
    kinds = set()
    for path in CAPTURES:
        for _, ours in replay(path).pairs:
            kinds.add((ours.key[0], ours.key[2] if ours.key[0] != "arp" else "arp"))
    # ICMP echo/timestamp replies, ICMPv6 echo reply and NA, ARP replies.
    assert {("ip4", 0), ("ip4", 14), ("ip6", 129), ("ip6", 136), ("arp", "arp")} <= kinds


def test_kernel_chosen_fields_really_differ() -> None:
    """Minimal list: every KERNEL_CHOSEN field differed between kernel and stack in some capture."""
    used: set[str] = set()
    for path in CAPTURES:
        for theirs, ours in replay(path).pairs:
            compare_units(theirs.frames, ours.frames, ours.request, used)
    assert used == set(KERNEL_CHOSEN)


def test_silent_where_the_kernel_was_silent_with_a_reason() -> None:
    result = replay(DATA / "golden_crafted.pcap")
    codes = {reason.code for _, _, reason in result.silent}
    expected = {
        Outcome.IPV4_BAD_CHECKSUM,
        Outcome.ICMP_BAD_CHECKSUM,
        Outcome.ICMPV6_BAD_CHECKSUM,
        Outcome.ICMP_TRUNCATED,
        Outcome.ICMP_NOT_ANSWERED,
        Outcome.FRAG_OVERLAP,
        Outcome.FRAG_DUPLICATE,
        Outcome.IPV4_BROADCAST,
        Outcome.ARP_NOT_OURS,
        Outcome.IPV6_NOT_OUR_GROUP,
        Outcome.NDP_HOP_LIMIT,
        Outcome.IPV4_TRUNCATED,
        Outcome.IPV4_BAD_IHL,
        Outcome.IPV4_OWN_SOURCE,
        Outcome.ETHER_NOT_FOR_US,
        Outcome.ICMP_TIMESTAMP_SHORT,
    }
    assert expected <= codes, f"no silent frame has {sorted(expected - codes)}"


def _echo6_seq(frame: bytes) -> int:
    _, offset, _ = ipv6_upper(frame)
    return struct.unpack_from("!H", frame, offset + 6)[0]


def test_ipv6_options_linux_drops_are_dropped() -> None:
    """net/ipv6/exthdrs.c ip6_parse_tlv, seen on the kernel: golden_crafted_v6 (seq numbers from craft_v6)."""
    result = replay(DATA / "golden_crafted_v6.pcap")
    dropped = {
        _echo6_seq(frame): reason.code
        for frame, _, reason in result.silent
        if ethertype(frame) == 0x86DD and ipv6_upper(frame)[0] == 58 and frame[ipv6_upper(frame)[1]] == 128
    }
    assert dropped == {
        34: Outcome.IPV6_PADDING,
        35: Outcome.IPV6_PADN_NONZERO,
        36: Outcome.IPV6_PADDING,
        39: Outcome.IPV6_TOO_MANY_OPTIONS,
        40: Outcome.IPV6_TOO_MANY_OPTIONS,
        41: Outcome.IPV6_PADDING,
    }
    answered = {
        _echo6_seq(theirs.frames[0]): theirs.frames[0][22:38]
        for theirs, _ in result.pairs
        if unit_key(theirs.frames[0])[2] == 129
    }
    assert sorted(answered) == [31, 32, 33, 37, 38]
    assert answered[31] == bytes.fromhex("fd990000000000000000000000000002"), "ff02::1 from fd99::1: global source"


def test_reassembly_memory_limit_like_the_kernel() -> None:
    """golden_frag_memory (ipfrag_high_thresh 20000): once IPv4 reassembly memory is over the limit, every IPv4
    fragment is refused -- a complete fragmented echo goes unanswered -- while IPv6 and whole packets are not."""
    result = replay(DATA / "golden_frag_memory.pcap")
    refused = [reason.code for frame, _, reason in result.silent if ethertype(frame) == 0x0800]
    assert refused[-2:] == [Outcome.FRAG_MEMORY_FULL] * 2 and Outcome.FRAG_HELD in refused
    keys = [unit_key(theirs.frames[0]) for theirs, _ in result.pairs]
    replied = sorted(key[2] for key in keys if key[0] != "arp")
    assert replied == [0, 129]  # the whole IPv4 echo and the fragmented IPv6 one


def test_reassembly_timeouts_like_the_kernel() -> None:
    """golden_frag_timeout: Time Exceeded after 30 s (IPv4) and 60 s (IPv6) when the first fragment was in,
    none without it; the rest of a datagram 35 s late completes it in IPv6 only."""
    result = replay(DATA / "golden_frag_timeout.pcap")
    errors = [(theirs, ours) for theirs, ours in result.pairs if ours.request is None]
    start = read_frames(DATA / "golden_frag_timeout.pcap")[0].time
    assert sorted(round(ours.time - start) for _, ours in errors) == [30, 60]
    for theirs, ours in errors:
        assert 0 <= theirs.time - ours.time < 2.0, "the kernel's timer wheel fires a little late, never early"
    assert any(unit_key(theirs.frames[0])[2] == 129 for theirs, _ in result.pairs), "IPv6 completed in time"
    late_v4 = [reason.code for frame, _, reason in result.silent if ethertype(frame) == 0x0800]
    assert late_v4 == [Outcome.FRAG_HELD] * 3


# -- the comparator itself must be able to fail


def _golden_pair(name: str, index: int = 0) -> tuple[Unit, Unit]:
    return replay(DATA / name).pairs[index]


def _tamper(frame: bytes, offset: int, value: int, *, fix_ip_checksum: bool = True) -> bytes:
    data = bytearray(frame)
    data[offset] = value
    if fix_ip_checksum:
        ihl = ipv4_header_len(data[14:])
        data[24:26] = b"\0\0"
        data[24:26] = internet_checksum(bytes(data[14 : 14 + ihl])).to_bytes(2, "big")
    return bytes(data)


def test_comparator_rejects_wrong_replies() -> None:
    theirs, ours = _golden_pair("golden_ping.pcap", 1)  # pair 0 is ARP, pair 1 the first echo reply
    assert ethertype(ours.frames[0]) == 0x0800
    assert compare_units(theirs.frames, ours.frames, ours.request) == []
    reply = ours.frames[0]
    wrong = {
        "ttl": _tamper(reply, 22, 63),
        "df": _tamper(reply, 20, reply[20] | 0x40),
        "tos": _tamper(reply, 15, 0x10),
        "payload": _tamper(reply, len(reply) - 1, reply[-1] ^ 1, fix_ip_checksum=False),
        "icmp type": _tamper(reply, 34, 8, fix_ip_checksum=False),
        "stale ip checksum": _tamper(reply, 18, reply[18] ^ 0xFF, fix_ip_checksum=False),
        "truncated": reply[:-1],
    }
    for what, frame in wrong.items():
        assert compare_units(theirs.frames, [frame], ours.request), f"a reply with a wrong {what} passed"
    assert compare_units(theirs.frames, [], ours.request)
    # A different IP ID (with its checksum fixed) is the kernel's choice, so it passes.
    assert compare_units(theirs.frames, [_tamper(reply, 19, reply[19] ^ 0x5A)], ours.request) == []


def test_comparator_rejects_a_wrong_record_route() -> None:
    theirs, ours = next(
        (k, s) for k, s in replay(DATA / "golden_ping_rr.pcap").pairs if ethertype(s.frames[0]) == 0x0800
    )
    reply = ours.frames[0]
    assert reply[34] == 7 and compare_units(theirs.frames, ours.frames, ours.request) == []
    second_entry = 34 + 10  # last byte of the second recorded address
    assert compare_units(theirs.frames, [_tamper(reply, second_entry, 9)], ours.request)


def test_comparator_rejects_a_wrong_timestamp_originate() -> None:
    theirs, ours = next(
        (k, s) for k, s in replay(DATA / "golden_hping3_timestamp.pcap").pairs if ethertype(s.frames[0]) == 0x0800
    )
    reply = bytearray(ours.frames[0])
    assert reply[34] == 14
    reply[42] ^= 0xFF  # originate timestamp: copied, not chosen
    reply[36:38] = b"\0\0"
    reply[36:38] = internet_checksum(bytes(reply[34:54])).to_bytes(2, "big")
    assert compare_units(theirs.frames, [bytes(reply)], ours.request)


# -- what the captures say about Linux (the stack relies on these)


def test_linux_facts_from_the_captures() -> None:
    ipv4_replies = ipv6_echo_replies = timestamps = 0
    for path in CAPTURES:
        result = replay(path)
        for theirs, ours in result.pairs:
            first = theirs.frames[0]
            if ours.request is None:  # Time Exceeded after a reassembly timeout: see its own test
                continue
            if ethertype(first) == 0x0800:
                ipv4_replies += 1
                assert first[20] & 0x40 == 0, "Linux ICMP replies never set DF (IP_PMTUDISC_DONT)"
                assert first[22] == 64, "Linux replies with its own TTL (ip_default_ttl)"
                assert first[15] == ours.request[1], "Linux copies the request's TOS byte, ECN bits included"
                if first[34] == 14:
                    timestamps += 1
                    assert first[46:50] == first[50:54], "Linux sets receive == transmit timestamp"
            elif ethertype(first) == 0x86DD and unit_key(first)[2] == 129:
                ipv6_echo_replies += 1
                assert first[21] == 64
                request_class = ((ours.request[0] & 0xF) << 4) | (ours.request[1] >> 4)
                assert ((first[14] & 0xF) << 4) | (first[15] >> 4) == request_class
    assert ipv4_replies > 20 and ipv6_echo_replies > 8 and timestamps >= 4
