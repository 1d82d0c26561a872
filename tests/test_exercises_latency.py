"""Notebook 09's one-addition reply checksum: right answers agree with a full recomputation on generated
requests, and each common slip gets the hint that names it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.checksum import internet_checksum
from labkit.exercises import check_reply_checksum_update
from labkit.packets import echo_request

requests = st.builds(
    lambda ident, seq, payload: echo_request(ident=ident, seq=seq, payload=payload)[20:],
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=40),
)


def _old(icmp: bytes) -> int:
    return int.from_bytes(icmp[2:4], "big")


@settings(max_examples=200, deadline=None)
@given(icmp=requests)
def test_the_full_recomputation_is_right_and_the_rfc1624_update_agrees(icmp):
    assert check_reply_checksum_update(icmp, internet_checksum(b"\0\0\0\0" + icmp[4:]))
    total = _old(icmp) + 0x0800
    assert check_reply_checksum_update(icmp, (total & 0xFFFF) + (total >> 16))


@settings(max_examples=200, deadline=None)
@given(icmp=requests)
def test_a_lost_carry_is_named_whenever_the_addition_carries(icmp):
    old = _old(icmp)
    feedback = check_reply_checksum_update(icmp, (old + 0x0800) & 0xFFFF)
    if old + 0x0800 > 0xFFFF:
        assert not feedback and "end-around carry" in feedback.hint
    else:
        assert feedback  # no carry: dropping it changes nothing


@settings(max_examples=100, deadline=None)
@given(icmp=requests)
def test_the_wrong_direction_and_the_wrong_byte_are_named(icmp):
    old = _old(icmp)
    backwards = check_reply_checksum_update(icmp, (old - 0x0800) & 0xFFFF)
    assert not backwards and "wrong direction" in backwards.hint
    low_byte = check_reply_checksum_update(icmp, (old + 0x0008) % 0xFFFF)
    assert not low_byte and ("high byte" in low_byte.hint or "end-around" in low_byte.hint)
    unchanged = check_reply_checksum_update(icmp, old)
    assert not unchanged and "must change" in unchanged.hint


def test_the_notebooks_request_needs_the_carry():
    icmp = echo_request(ident=0x5FC9, seq=9, payload=b"incremental update, RFC 1624 eq. 3")[20:]
    assert _old(icmp) + 0x0800 > 0xFFFF
    assert "carried" in str(check_reply_checksum_update(icmp, "0x0300"))
    assert not check_reply_checksum_update(icmp, 0x02FF)


@pytest.mark.parametrize("answer", [None, "zz", True, -1, 0x10000, 1.5])
def test_no_number_is_a_clear_hint(answer):
    feedback = check_reply_checksum_update(echo_request()[20:], answer)
    assert not feedback and feedback.hint


def test_not_an_echo_request_is_refused():
    with pytest.raises(ValueError):
        check_reply_checksum_update(b"\x00\x00\x12\x34", 0)
