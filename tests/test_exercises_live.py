"""Notebook 08's counter prediction: the raw-socket run still moves IcmpInCsumErrors once per bad reply;
checked against the kernel's rule without a run and against a run's measured counters with one."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from labkit.exercises import check_csum_errors


@dataclass
class FakeRun:
    """What check_csum_errors reads from a live_lab.PingRun: the counters that moved."""

    moved: dict[str, int] = field(default_factory=dict)


@given(replies=st.integers(1, 50))
def test_without_a_run_the_kernels_rule_decides(replies):
    assert check_csum_errors(replies, replies)
    zero = check_csum_errors(0, replies)
    assert not zero and "copy" in zero.hint
    double = check_csum_errors(2 * replies, replies)
    assert not double and "once" in double.hint


@given(replies=st.integers(1, 50), measured=st.integers(0, 50))
def test_with_a_run_the_measurement_decides(replies, measured):
    run = FakeRun({"IcmpInCsumErrors": measured} if measured else {})
    assert check_csum_errors(measured, replies, run)
    if measured != replies:
        assert not check_csum_errors(replies, replies, run)


def test_not_a_count_is_a_clear_hint():
    for bad in (None, "4", True, -1, 2.0):
        feedback = check_csum_errors(bad, 4)
        assert not feedback and feedback.hint
