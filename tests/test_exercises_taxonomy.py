"""The find-the-false-step exercise: a planted lost carry is the first false step check_working reports, the
final checksum stays right (right answer, wrong working), and the checker tells early, late and right apart."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.checksum import verify
from labkit.errors import LabkitError
from labkit.exercises import check_first_false_step, planted_working
from labkit.packets import echo_request
from labkit.working import check_working


@settings(max_examples=30, deadline=None)
@given(payload=st.binary(min_size=8, max_size=40), ident=st.integers(0, 0xFFFF))
def test_the_planted_carry_is_the_first_false_step_and_the_final_stays_right(payload, ident):
    request = echo_request(ident=ident, payload=payload)
    try:
        text, reply = planted_working(request)
    except LabkitError:
        return  # a sum without a carry: nothing to plant
    check = check_working(text, request, reply)
    first = check.first_false
    assert first is not None and first.kind == "add" and first.claimed == first.actual & 0xFFFF
    assert check.right_through_wrong_working == ("icmp.chksum",)
    assert all(c.ok for c in verify(reply))
    assert check_first_false_step(first.line, text, request, reply)
    assert not check_first_false_step(first.line - 1, text, request, reply)
    assert not check_first_false_step(first.line + 1, text, request, reply)


def test_hints_name_the_mistake():
    request = echo_request(payload=b"labkit!!")
    text, reply = planted_working(request)
    assert "lost end-around carry" in str(check_first_false_step(7, text, request, reply))
    assert "later" in check_first_false_step(3, text, request, reply).hint
    assert "carries an earlier error on" in check_first_false_step(8, text, request, reply).hint
    assert not check_first_false_step(None, text, request, reply)
    assert not check_first_false_step("seven", text, request, reply)


def test_a_sum_without_carries_is_refused():
    with pytest.raises(LabkitError):
        planted_working(echo_request(payload=b""))
