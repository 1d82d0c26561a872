"""The reading checks (notebooks 00-02): right answers pass, the usual slips get the hint that names them,
and the unseen packets are what their docstrings say -- checked against the judge and iputils' rule."""

from __future__ import annotations

import pytest

from labkit.exercises import (
    check_header_length,
    check_which_accepted,
    check_wrong_data_byte,
    data_slip_reply,
    mystery_request,
    options_request,
    reply_lineup,
)
from labkit.exercises.reading import wrong_data_byte
from labkit.golden import golden_exchange
from labkit.judge import judge
from labkit.packets import echo_request
from labkit.stack import echo_reply


def test_header_length_counts_words_and_names_the_slips() -> None:
    packet = options_request()
    assert packet[0] == 0x46
    assert check_header_length(packet, 24) and check_header_length(packet, " 24 ")
    assert not check_header_length(packet, "lots")
    assert check_header_length(echo_request(), 20)
    assert "32-bit words" in str(check_header_length(packet, 6))
    assert "version" in str(check_header_length(packet, 4))
    assert "without options" in str(check_header_length(packet, 20))
    assert "whole byte" in str(check_header_length(packet, 0x46))
    assert not check_header_length(packet, None)


@pytest.mark.parametrize("slipped", [16, 17, 42, 55])
def test_wrong_data_byte_follows_iputils_numbering(slipped: int) -> None:
    """iputils numbers data bytes from the start of the data and compares from #16 (after the timestamp)."""
    request = echo_request(seq=5)
    reply = bytearray(echo_reply(request))
    reply[28 + slipped] ^= 0x01
    assert wrong_data_byte(request, bytes(reply)) == (slipped, slipped, slipped ^ 0x01)
    warnings = " ".join(judge(request, bytes(reply), receiver="raw-socket").warnings)
    assert f"#{slipped} should be 0x{slipped:x} but was 0x{slipped ^ 1:x}" in warnings  # the judge agrees


def test_a_changed_timestamp_is_not_a_wrong_data_byte() -> None:
    request = echo_request()
    reply = bytearray(echo_reply(request))
    reply[28] ^= 0xFF
    assert wrong_data_byte(request, bytes(reply)) is None


def test_wrong_data_byte_check_names_counting_slips() -> None:
    request = echo_request(seq=2)
    reply = data_slip_reply(request)
    n, should, was = wrong_data_byte(request, reply)
    assert judge(request, reply).accepted  # both checksums fit the slipped byte: a ping socket delivers it
    assert check_wrong_data_byte(request, reply, (n, should, was))
    assert check_wrong_data_byte(request, reply, f"wrong data byte #{n} should be 0x{should:x} but was 0x{was:x}")
    assert "start of the packet" in str(check_wrong_data_byte(request, reply, (n + 28, should, was)))
    assert "timestamp" in str(check_wrong_data_byte(request, reply, (n - 16, should, was)))
    assert "ICMP header" in str(check_wrong_data_byte(request, reply, (n + 8, should, was)))
    assert "what ping sent" in str(check_wrong_data_byte(request, reply, (n, was, should)))
    assert not check_wrong_data_byte(request, reply, None)
    with pytest.raises(ValueError):
        check_wrong_data_byte(request, echo_reply(request), (n, should, was))


def test_lineup_is_what_its_docstring_says() -> None:
    request = echo_request(seq=2)
    lineup = reply_lineup(request)
    taken = {label for label, reply in lineup.items() if judge(request, reply).accepted}
    assert taken == {"A", "D", "E"}
    assert lineup["A"][8] == lineup["B"][8] == 128 and lineup["A"][10:12] != lineup["B"][10:12]
    assert lineup["E"][6] & 0x40 and lineup["E"][4:6] != request[4:6]


def test_which_accepted_check_explains_the_first_misjudged_reply() -> None:
    request = golden_exchange("ping").request  # a real request: DF set, Linux's IP ID
    lineup = reply_lineup(request)
    right = "".join(sorted(label for label, reply in lineup.items() if judge(request, reply).accepted))
    assert check_which_accepted(right, request, lineup)
    assert check_which_accepted(list(right.lower()), request, lineup)
    assert check_which_accepted(", ".join(right[:-1]) + " and " + right[-1], request, lineup)
    assert "IP header checksum" in str(check_which_accepted(right + "B", request, lineup))
    assert "host's own choice" in str(check_which_accepted(right.replace("A", ""), request, lineup))
    assert "only warns" in str(check_which_accepted(right.replace("D", ""), request, lineup))
    assert "no reply F" in str(check_which_accepted("F", request, lineup))
    assert not check_which_accepted(None, request, lineup)


def test_mystery_request_needs_both_sequence_bytes() -> None:
    request = mystery_request()
    assert request[26:28] == bytes([0x01, 0x2C])


def test_one_wrong_hex_digit_after_byte_0_always_breaks_a_checksum() -> None:
    """Notebook 00's why-answer 2: one changed digit changes one 16-bit word by less than 0xffff, which a
    one's-complement sum cannot absorb, and every byte after byte 0 is covered by one of the two checksums."""
    from labkit.checksum import verify
    from labkit.packets import from_hex, to_hex

    text = to_hex(echo_reply(echo_request()))
    for position in range(2, len(text)):
        for digit in "0123456789abcdef".replace(text[position], ""):
            checks = verify(from_hex(text[:position] + digit + text[position + 1 :]))
            assert checks and not all(check.ok for check in checks), (position, digit)


def test_a_change_confined_to_one_word_changes_the_checksum_unless_it_swaps_the_two_zeros() -> None:
    """Notebook 03 §5: one's-complement addition notices any change of a single word, except 0000 <-> ffff."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from labkit.checksum import internet_checksum

    @settings(max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=20), st.data())
    def one_word(words: list[int], data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(words) - 1))
        new = data.draw(st.integers(0, 0xFFFF).filter(lambda w: w != words[index]))
        before = b"".join(w.to_bytes(2, "big") for w in words)
        after = before[: 2 * index] + new.to_bytes(2, "big") + before[2 * index + 2 :]
        zeros = {words[index], new} == {0x0000, 0xFFFF}
        assert (internet_checksum(before) == internet_checksum(after)) == zeros

    one_word()
    assert internet_checksum(b"\x12\x34\x00\x00") == internet_checksum(b"\x12\x34\xff\xff")
