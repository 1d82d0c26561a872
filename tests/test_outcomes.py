"""labkit.outcomes: every decision has one stable code, and a reason carries it wherever the text goes."""

from __future__ import annotations

import copy
import json
import pickle
import re

from labkit.outcomes import Outcome, Reason, code_of
from labkit.stack import ReferenceStack

KINDS = {
    "echo",
    "echo6",
    "timestamp",
    "arp",
    "ndp",
    "time-exceeded",
    "ignored",
    "malformed",
    "held",
    "unparsed",
    "dropped",
}


def test_codes_are_dotted_unique_and_kinds_known() -> None:
    codes = [outcome.value for outcome in Outcome]
    assert len(codes) == len(set(codes))
    for outcome in Outcome:
        assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9_]+", outcome.value), outcome
        assert outcome.kind in KINDS and outcome.summary and "\n" not in outcome.summary
        assert outcome == outcome.value and Outcome(outcome.value) is outcome  # compare with plain strings


def test_a_reason_is_text_that_keeps_its_code() -> None:
    reason = Outcome.IPV4_NOT_FOR_US.reason("not addressed to us (dst 10.0.0.9)")
    assert isinstance(reason, Reason) and reason == "not addressed to us (dst 10.0.0.9)"
    assert reason.code is Outcome.IPV4_NOT_FOR_US and code_of(reason) is Outcome.IPV4_NOT_FOR_US
    for again in (pickle.loads(pickle.dumps(reason)), copy.deepcopy(reason)):
        assert again == reason and again.code is reason.code
    assert json.loads(json.dumps({"why": reason}))["why"] == reason  # serialises as its text
    assert Outcome.FRAG_HELD.reason() == Outcome.FRAG_HELD.summary
    assert code_of("plain text") is None and code_of(Outcome.ECHO_REPLY) is Outcome.ECHO_REPLY


def test_stack_results_count_by_code_not_by_text() -> None:
    stack = ReferenceStack()
    from scapy.layers.inet import ICMP, IP

    results = [stack.respond(bytes(IP(src="10.0.0.1", dst=f"10.0.0.{n}") / ICMP())) for n in (7, 8, 9)]
    assert len({r.reason for r in results}) == 3 and {r.code for r in results} == {Outcome.IPV4_NOT_FOR_US}
    assert all(code_of(r) is r.code and r.kind == "ignored" for r in results)
