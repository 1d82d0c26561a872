"""The reference model: the reference stack's answers through every strategy's format, and Attempt records."""

from __future__ import annotations

import json

import pytest

from labkit.models.base import Attempt
from labkit.models.reference import ReferenceModel
from labkit.packets import echo_request, echo_request_v6
from labkit.prompts import STRATEGIES
from labkit.stack import echo_reply

REQUESTS = [echo_request("10.0.0.1", "10.0.0.2", seq=3), echo_request_v6("fd00::1", "fd00::2", seq=4)]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("request_packet", REQUESTS, ids=["ipv4", "ipv6"])
def test_reference_answers_correctly_in_every_strategy(strategy: str, request_packet: bytes) -> None:
    attempt = ReferenceModel().attempt(request_packet, strategy)
    assert attempt.reply == echo_reply(request_packet)
    assert attempt.parse_error is None
    assert attempt.strategy == strategy


def test_reference_is_labelled_as_code_not_an_llm() -> None:
    model = ReferenceModel()
    attempt = model.attempt(REQUESTS[0])
    assert attempt.model == "reference" and not attempt.simulated
    assert attempt.latency_s == 0.0 and attempt.virtual_latency
    assert attempt.cost_usd == 0.0 and attempt.usage.input_tokens == 0
    assert "not an LLM" in model.describe()
    assert "no cost" in attempt.summary()


def test_a_packet_that_is_not_an_echo_request_gets_no_reply() -> None:
    from scapy.layers.inet import IP, UDP

    udp = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"hello")
    attempt = ReferenceModel().attempt(udp)
    assert attempt.reply is None and attempt.parse_error


def test_attempt_round_trips_through_json() -> None:
    for strategy in STRATEGIES:
        attempt = ReferenceModel().attempt(REQUESTS[0], strategy)
        again = Attempt.from_dict(json.loads(json.dumps(attempt.to_dict())))
        assert again == attempt
    data = attempt.to_dict()
    assert data["request"] == REQUESTS[0].hex() and isinstance(data["reply"], str)
