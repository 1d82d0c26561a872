"""judge.py: byte and field verdicts, checksums, the Linux receiver's verdict, and the responder's guard.

Expected replies are built with scapy here (independent of labkit.stack). The receiver rules encode what
iputils ping 20221126 on Linux 6.x was measured to do (see the judge module docstring).
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6

from labkit.judge import guard, judge, receive
from labkit.packets import echo_request, echo_request_v6


def scapy_reply(request: bytes, **ip_overrides) -> bytes:
    """The echo reply Linux sends, built by scapy: addresses swapped, type 0, checksums recomputed."""
    ip = IP(request)
    fields = dict(src=ip.dst, dst=ip.src, ttl=64, id=ip.id, tos=ip.tos)
    fields.update(ip_overrides)
    return bytes(IP(**fields) / ICMP(type=0, id=ip[ICMP].id, seq=ip[ICMP].seq) / bytes(ip[ICMP].payload))


def scapy_reply_v6(request: bytes) -> bytes:
    ip6 = IPv6(request)
    echo = ip6[ICMPv6EchoRequest]
    return bytes(IPv6(src=ip6.dst, dst=ip6.src, hlim=64) / ICMPv6EchoReply(id=echo.id, seq=echo.seq, data=echo.data))


def rebuilt(packet: bytes, **changes) -> bytes:
    """`packet` with IP/ICMP fields changed and every length and checksum recomputed by scapy."""
    ip = IP(packet)
    for name, value in changes.items():
        layer, _, field = name.partition("_")
        setattr(ip if layer == "ip" else ip[ICMP], field, value)
    del ip.chksum, ip[ICMP].chksum, ip.len
    return bytes(ip)


REQUEST = echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=7)
REPLY = scapy_reply(REQUEST)
REQUEST6 = echo_request_v6("fd00::1", "fd00::2", ident=0x4321, seq=3)
REPLY6 = scapy_reply_v6(REQUEST6)


def test_a_correct_reply():
    verdict = judge(REQUEST, REPLY, expected=REPLY)
    assert verdict.accepted and verdict.reason == "accepted" and verdict.correct
    assert verdict.hallucinated == () and all(verdict.byte_ok) and len(verdict.byte_ok) == len(REPLY)
    assert all(f.ok for f in verdict.fields) and {f.name for f in verdict.fields} >= {"ip.src", "icmp.seq"}
    assert [c.name for c in verdict.checksums] == ["ip.chksum", "icmp.chksum"] and all(c.ok for c in verdict.checksums)


def test_bad_icmp_checksum_is_dropped_by_the_kernel_on_a_ping_socket():
    broken = bytearray(REPLY)
    broken[22:24] = (int.from_bytes(REPLY[22:24], "big") ^ 0x0010).to_bytes(2, "big")
    verdict = judge(REQUEST, bytes(broken), expected=REPLY)
    found, should = int.from_bytes(broken[22:24], "big"), int.from_bytes(REPLY[22:24], "big")
    assert not verdict.accepted
    assert verdict.reason == f"a ping socket drops this: ICMP checksum 0x{found:04x} should be 0x{should:04x}"
    assert verdict.hallucinated == (22,) or verdict.hallucinated == (23,)
    assert [f.name for f in verdict.fields if not f.ok] == ["icmp.chksum"]
    # iputils on a raw socket (root in a fresh namespace) does not check it: counted, with a warning here
    raw = judge(REQUEST, bytes(broken), expected=REPLY, receiver="raw-socket")
    assert raw.accepted and "ICMP checksum" in raw.reason and raw.warnings


# Each rejection names the receiver it assumes: only a ping socket loses a bad ICMP checksum (issue 11).
DROPPED = {"ping-socket": "a ping socket drops this", "raw-socket": "a raw-socket ping never sees this"}


def test_a_rejection_names_its_receiver():
    wrong_dst = rebuilt(REPLY, ip_dst="10.0.0.9")
    for receiver, words in DROPPED.items():
        assert judge(REQUEST, wrong_dst, expected=REPLY, receiver=receiver).reason.startswith(words + ": ")
        assert "Linux drops" not in judge(REQUEST, wrong_dst, expected=REPLY, receiver=receiver).reason


def test_bad_ip_header_checksum_is_dropped_by_any_receiver():
    broken = bytearray(REPLY)
    broken[10] ^= 0xFF
    for receiver in ("ping-socket", "raw-socket"):
        verdict = judge(REQUEST, bytes(broken), expected=REPLY, receiver=receiver)
        assert not verdict.accepted and verdict.reason.startswith(f"{DROPPED[receiver]}: IP header checksum 0x")
        assert verdict.hallucinated == (10,)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"icmp_id": 0x1235}, "wrong id: 0x1235 is not ping's id 0x1234"),
        ({"icmp_seq": 8}, "wrong seq: ping counts it as the reply to icmp_seq=8, not to icmp_seq=7"),
        ({"icmp_type": 8}, "wrong type: ICMP type 8 (echo-request), ping waits for type 0 (echo-reply)"),
        ({"ip_dst": "10.0.0.9"}, "addressed to 10.0.0.9, not to the pinger at 10.0.0.1"),
        ({"ip_proto": 17}, "not ICMP: protocol 17"),
        ({"ip_flags": "MF"}, "fragment"),
    ],
)
def test_replies_ping_does_not_take(changes, reason):
    for receiver in ("ping-socket", "raw-socket"):
        verdict = judge(REQUEST, rebuilt(REPLY, **changes), expected=REPLY, receiver=receiver)
        assert not verdict.accepted and reason in verdict.reason
        assert verdict.hallucinated


def test_wrong_source_is_accepted_with_ping_s_warning():
    verdict = judge(REQUEST, rebuilt(REPLY, ip_src="10.0.0.9"), expected=REPLY)
    assert verdict.accepted and "(DIFFERENT ADDRESS!)" in verdict.reason and not verdict.correct
    assert "ip.src" in verdict.wrong_fields and 15 in verdict.hallucinated


def test_changed_and_short_payloads_are_counted_with_a_warning():
    payload = bytearray(IP(REPLY)[ICMP].payload.load)
    payload[30] ^= 0x55
    ip = IP(REPLY)
    ip[ICMP].remove_payload()
    changed = rebuilt(bytes(ip / bytes(payload)))
    verdict = judge(REQUEST, changed, expected=REPLY)
    assert verdict.accepted and "wrong data byte #30" in verdict.reason
    assert 28 + 30 in verdict.hallucinated and "icmp.data" in verdict.wrong_fields
    ip[ICMP].remove_payload()
    short = rebuilt(bytes(ip / bytes(payload[:10])))
    verdict = judge(REQUEST, short, expected=REPLY)
    assert verdict.accepted and "(truncated)" in verdict.reason
    assert verdict.hallucinated[-1] == len(REPLY) - 1 and len(verdict.byte_ok) == len(REPLY)


def test_truncated_and_unparseable_replies():
    verdict = judge(REQUEST, REPLY[:50], expected=REPLY)
    assert not verdict.accepted and "total length says 84 bytes but only 50 arrived" in verdict.reason
    assert verdict.hallucinated == tuple(range(50, 84))
    assert [f.got for f in verdict.fields if f.name == "icmp.data"] == [None]
    verdict = judge(REQUEST, None, expected=REPLY)
    assert not verdict.accepted and "not hex" in verdict.reason
    assert verdict.hallucinated == tuple(range(84)) and verdict.checksums == ()
    for junk in (b"", b"\x00", b"\x45" * 19, b"\x60" + bytes(10), bytes(200)):
        verdict = judge(REQUEST, junk, expected=REPLY)
        assert not verdict.accepted and verdict.reason


def test_free_choices_are_not_hallucinations():
    """A stack may pick its own IP id, TTL and DF bit (and the header checksum that follows)."""
    free = scapy_reply(REQUEST, ttl=255, id=0xBEEF, flags="DF")
    verdict = judge(REQUEST, free, expected=REPLY)
    assert verdict.accepted and verdict.correct and verdict.hallucinated == ()
    assert set(verdict.free) == {4, 5, 6, 8, 10, 11}
    assert all(f.ok for f in verdict.fields)
    # ...but not other flags, and not with a header checksum that does not match
    evil = judge(REQUEST, scapy_reply(REQUEST, flags="evil"), expected=REPLY)
    assert 6 in evil.hallucinated and "ip.flags" in evil.wrong_fields


def test_longer_reply_marks_the_extra_bytes():
    verdict = judge(REQUEST, REPLY + b"\x00\x00", expected=REPLY)
    assert verdict.hallucinated == (84, 85) and len(verdict.byte_ok) == 86
    assert verdict.accepted  # Linux trims bytes beyond the IP total length


def test_no_reply_expected_for_a_non_echo_request():
    not_echo = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=13))
    verdict = judge(not_echo, REPLY, expected=None)
    assert not verdict.accepted and "not an ICMP echo request" in verdict.reason
    assert verdict.fields == () and verdict.hallucinated == tuple(range(len(REPLY)))


def test_ipv6_known_answers():
    verdict = judge(REQUEST6, REPLY6, expected=REPLY6)
    assert verdict.accepted and verdict.correct and [c.name for c in verdict.checksums] == ["icmpv6.cksum"]
    broken = bytearray(REPLY6)
    broken[42] ^= 0x01
    for receiver in ("ping-socket", "raw-socket"):  # the kernel checks ICMPv6 checksums on raw sockets too
        verdict = judge(REQUEST6, bytes(broken), expected=REPLY6, receiver=receiver)
        assert not verdict.accepted and verdict.reason.startswith(f"{DROPPED[receiver]}: ICMPv6 checksum 0x")
    ip6 = IPv6(REPLY6)
    ip6[ICMPv6EchoReply].type = 128
    del ip6[ICMPv6EchoReply].cksum
    verdict = judge(REQUEST6, bytes(ip6), expected=REPLY6)
    assert not verdict.accepted and "ping waits for type 129 (echo-reply)" in verdict.reason
    assert not judge(REQUEST6, REPLY, expected=REPLY6).accepted
    assert "IPv6 packet cannot answer an IPv4 ping" in judge(REQUEST, REPLY6, expected=REPLY).reason


def test_default_expected_comes_from_the_reference_stack():
    stack = pytest.importorskip("labkit.stack")
    verdict = judge(REQUEST, stack.echo_reply(REQUEST))
    assert verdict.accepted and verdict.correct
    assert judge(REQUEST, REPLY).accepted


def test_unknown_receiver_is_an_error():
    with pytest.raises(ValueError, match="unknown receiver"):
        judge(REQUEST, REPLY, expected=REPLY, receiver="windows")


# --- property tests ------------------------------------------------------------------------------------------

requests_v4 = st.builds(
    echo_request,
    src=st.ip_addresses(v=4).map(str),
    dst=st.ip_addresses(v=4).map(str),
    ident=st.integers(0, 0xFFFF),
    seq=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=120),
)


def v4_receiver_outcome(offset: int, receiver: str) -> bool:
    """Whether Linux ping still accepts a correct IPv4 reply after one byte at `offset` changed."""
    if offset < 20:
        return False  # any single-byte change breaks the IP header checksum
    if receiver == "ping-socket":
        return False  # ...and any change after it breaks the ICMP checksum
    return offset not in (20, 24, 25, 26, 27)  # raw socket: type, id and seq still matter to iputils


@settings(max_examples=150, deadline=None)
@given(request=requests_v4, data=st.data(), receiver=st.sampled_from(["ping-socket", "raw-socket"]))
def test_any_single_corrupted_byte_is_flagged_exactly_there(request, data, receiver):
    reply = scapy_reply(request)
    assert judge(request, reply, expected=reply, receiver=receiver).accepted
    offset = data.draw(st.integers(0, len(reply) - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    broken = bytearray(reply)
    broken[offset] ^= flip
    verdict = judge(request, bytes(broken), expected=reply, receiver=receiver)
    assert verdict.hallucinated == (offset,)
    assert [i for i, ok in enumerate(verdict.byte_ok) if not ok] == [offset]
    wrong = [f for f in verdict.fields if not f.ok]
    assert wrong and all(f.offset <= offset < f.offset + f.length for f in wrong)
    assert verdict.accepted == v4_receiver_outcome(offset, receiver), verdict.reason
    if not verdict.accepted:
        assert verdict.reason.startswith((DROPPED[receiver], "wrong ", "not ICMP", "Linux holds"))


@settings(max_examples=80, deadline=None)
@given(ident=st.integers(0, 0xFFFF), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=80), data=st.data())
def test_any_single_corrupted_byte_is_flagged_exactly_there_v6(ident, seq, payload, data):
    request = echo_request_v6("fd00::1", "fd00::2", ident, seq, payload)
    reply = scapy_reply_v6(request)
    offset = data.draw(st.integers(0, len(reply) - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    broken = bytearray(reply)
    broken[offset] ^= flip
    verdict = judge(request, bytes(broken), expected=reply)
    assert verdict.hallucinated == (offset,)
    # Only traffic class, flow label and hop limit are outside the ICMPv6 checksum: a change there still arrives.
    outside_checksum = offset in (1, 2, 3, 7) or (offset == 0 and flip < 0x10)
    assert verdict.accepted == outside_checksum, verdict.reason


@given(st.binary(max_size=120), st.binary(max_size=120))
def test_judge_and_guard_never_raise(request, reply):
    for candidate in (reply, None):
        verdict = judge(request, candidate, expected=reply or None)
        assert isinstance(verdict.reason, str) and verdict.reason
        result = guard(request, candidate)
        assert result is None or isinstance(result, str)
    receive(REQUEST, reply)


# --- guard ---------------------------------------------------------------------------------------------------


def test_guard_lets_a_correct_reply_through_whatever_its_checksums():
    assert guard(REQUEST, REPLY) is None
    assert guard(REQUEST6, REPLY6) is None
    broken = bytearray(REPLY)
    broken[22] ^= 0xFF
    broken[10] ^= 0xFF
    assert guard(REQUEST, bytes(broken)) is None, "checksums are reported, not guarded"


@pytest.mark.parametrize(
    "reply, why",
    [
        (None, "nothing to send"),
        (b"hello", "not an IPv4 packet"),
        (REPLY6, "not an IPv4 packet"),
        (rebuilt(REPLY, ip_dst="10.0.0.99"), "not addressed to the requester: dst 10.0.0.99"),
        (rebuilt(REPLY, ip_src="10.0.0.98"), "wrong source: 10.0.0.98"),
        (rebuilt(REPLY, icmp_type=8), "not an echo reply"),
        (rebuilt(REPLY, icmp_id=1), "id 1 != 4660"),
        (rebuilt(REPLY, icmp_seq=99), "seq 99 != 7"),
        (REPLY[:40], "does not parse as IP"),
    ],
)
def test_guard_refuses_in_strict_mode(reply, why):
    assert why in guard(REQUEST, reply)


def test_guard_raw_mode_only_insists_on_an_ip_packet_for_the_requester():
    assert guard(REQUEST, rebuilt(REPLY, icmp_type=8), raw=True) is None
    assert guard(REQUEST, rebuilt(REPLY, ip_src="10.0.0.98"), raw=True) is None
    assert guard(REQUEST, REPLY[:40], raw=True) is None
    assert "not addressed to the requester" in guard(REQUEST, rebuilt(REPLY, ip_dst="10.0.0.99"), raw=True)
    assert "not an IPv4 packet" in guard(REQUEST, b"\x00" * 40, raw=True)
    assert "not an IPv6 packet" in guard(REQUEST6, REPLY, raw=True)
    assert "nothing to send" in guard(REQUEST, None, raw=True)
