"""exercises.py: self-checks accept the ways people write right answers and hint at the usual mistakes."""

import pytest
from scapy.layers.inet import ICMP, IP

from labkit.checksum import internet_checksum
from labkit.exercises import Feedback, check_checksum, check_echo_reply, check_hex_field, check_swap, \
    check_which_field
from labkit.packets import echo_request, echo_request_v6, to_hex

REQUEST = echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=7, ttl=64)


def scapy_reply(request: bytes, **ip_fields) -> bytes:
    ip = IP(request)
    fields = dict(src=ip.dst, dst=ip.src, ttl=64, id=ip.id)
    fields.update(ip_fields)
    return bytes(IP(**fields) / ICMP(type=0, id=ip[ICMP].id, seq=ip[ICMP].seq) / bytes(ip[ICMP].payload))


REPLY = scapy_reply(REQUEST)


def test_feedback_prints_tick_or_cross_with_hint():
    assert str(Feedback(True, "right.")) == "✓ right."
    assert str(Feedback(False, "wrong.", "look again.")) == "✗ wrong. Hint: look again."
    assert repr(Feedback(False, "wrong.")) == "✗ wrong."
    assert "&lt;b&gt;" in Feedback(True, "a <b>")._repr_html_() and "✓" in Feedback(True, "a")._repr_html_()
    assert bool(Feedback(True, "")) and not bool(Feedback(False, ""))


@pytest.mark.parametrize("answer", ["40", "0x40", " 40 ", 64, "64", b"\x40"])
def test_hex_field_accepts_the_ttl_however_written(answer):
    feedback = check_hex_field(REQUEST, "ip.ttl", answer)
    assert feedback.correct, feedback


@pytest.mark.parametrize("answer", ["41", "0x80", 65, "4000", "", None, True, b"\x41"])
def test_hex_field_rejects_wrong_ttls_with_a_hint(answer):
    feedback = check_hex_field(REQUEST, "ttl", answer)
    assert not feedback.correct and "offset 8" in feedback.hint


def test_hex_field_other_fields():
    assert check_hex_field(REQUEST, "ip.src", "10.0.0.1").correct
    assert check_hex_field(REQUEST, "ip.src", "0a 00 00 01").correct
    assert not check_hex_field(REQUEST, "ip.src", "10.0.0.2").correct
    assert check_hex_field(REQUEST, "icmp.type", "8 (echo-request)").correct
    assert check_hex_field(REQUEST, "icmp.id", "0x1234").correct
    assert check_hex_field(REQUEST, "ip.ihl", 5).correct
    assert check_hex_field(REQUEST, "ip.version", "4").correct
    assert "bits 4..7" in check_hex_field(REQUEST, "ip.ihl", 6).hint
    with pytest.raises(ValueError, match="no field 'ip.bogus'"):
        check_hex_field(REQUEST, "ip.bogus", "00")
    with pytest.raises(ValueError, match="ambiguous.*ip.id, icmp.id"):
        check_hex_field(REQUEST, "id", "00")   # ambiguous: ip.id or icmp.id


def test_checksum_right_answers():
    header = bytearray(REQUEST[:20])
    header[10:12] = b"\x00\x00"
    right = internet_checksum(bytes(header))
    for answer in (right, f"0x{right:04x}", f"{right:04X}", f"{right >> 8:02x} {right & 0xFF:02x}",
                   right.to_bytes(2, "big")):
        assert check_checksum(bytes(header), answer).correct


def test_checksum_hints_name_the_mistake():
    data = bytes.fromhex("ffff0002")          # a sum with a carry
    right = internet_checksum(data)
    folded = ~right & 0xFFFF
    assert "complement" in check_checksum(data, folded).hint
    assert "carries" in check_checksum(data, (0xFFFF + 0x0002) & 0xFFFF).hint
    swapped = int.from_bytes(right.to_bytes(2, "big")[::-1], "big")
    assert "swapped" in check_checksum(data, swapped).hint
    assert "trace" in check_checksum(data, 0x1234).hint
    assert not check_checksum(data, "banana").correct


def test_echo_reply_check():
    assert check_echo_reply(REQUEST, to_hex(REPLY), expected=REPLY).correct
    assert check_echo_reply(REQUEST, "```\n" + to_hex(REPLY) + "\n```", expected=REPLY).correct
    unswapped = scapy_reply(REQUEST, src="10.0.0.1", dst="10.0.0.2")
    feedback = check_echo_reply(REQUEST, to_hex(unswapped), expected=REPLY)
    assert not feedback.correct and "swap" in feedback.hint and "ip.src" in feedback.message
    still_request = bytearray(REPLY)
    still_request[20] = 8
    feedback = check_echo_reply(REQUEST, bytes(still_request), expected=REPLY)
    assert not feedback.correct and "type 0" in feedback.hint
    feedback = check_echo_reply(REQUEST, "no idea", expected=REPLY)
    assert not feedback.correct and "could not read" in feedback.message


def test_which_field():
    assert check_which_field(REQUEST, 8, "TTL").correct
    assert check_which_field(REQUEST, 8, "ip.ttl").correct
    assert check_which_field(REQUEST, 8, "time to live").correct
    assert check_which_field(REQUEST, 22, "ICMP checksum").correct
    assert check_which_field(REQUEST, 11, "header checksum").correct
    assert check_which_field(REQUEST, 0, "version").correct and check_which_field(REQUEST, 0, "IHL").correct
    assert check_which_field(REQUEST, 7, "fragment offset").correct
    assert check_which_field(REQUEST, 14, "source address").correct
    wrong = check_which_field(REQUEST, 22, "ip.chksum")
    assert not wrong.correct and "ICMP header, which starts at byte 20" in wrong.hint
    assert not check_which_field(REQUEST, 9, "ttl").correct
    assert not check_which_field(REQUEST, 9, "").correct
    v6 = echo_request_v6()
    assert check_which_field(v6, 7, "hop limit").correct and check_which_field(v6, 2, "flow label").correct


def test_swap():
    assert check_swap(REQUEST, REPLY).correct
    assert check_swap(REQUEST, to_hex(REPLY)).correct
    unchanged = check_swap(REQUEST, REQUEST)
    assert not unchanged.correct and "unchanged" in unchanged.message
    half = scapy_reply(REQUEST, dst="10.0.0.2")
    assert "destination" in check_swap(REQUEST, half).message
    v6 = echo_request_v6("fd00::1", "fd00::2")
    swapped6 = v6[:8] + v6[24:40] + v6[8:24] + v6[40:]
    assert check_swap(v6, swapped6).correct and not check_swap(v6, REPLY).correct
    assert not check_swap(REQUEST, "zz").correct


def test_prediction_checks_numbers_within_tolerance_and_text_loosely() -> None:
    from labkit.exercises import check_prediction

    assert not check_prediction(None, 3)
    assert check_prediction("3", 3)
    assert check_prediction(2.5, 3, tolerance=0.5)
    wrong = check_prediction(5, 3, why="TTL is the host's choice")
    assert not wrong and "off by +2" in str(wrong) and "host's choice" in str(wrong)
    assert check_prediction("Echo  Reply", "echo reply")
    assert not check_prediction("echo request", "echo reply")
