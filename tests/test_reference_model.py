"""The reference model: the reference stack's answers through every strategy's format, and Attempt records."""

from __future__ import annotations

import json

import pytest

from labkit.models.base import Attempt
from labkit.models.reference import ReferenceModel
from labkit.packets import echo_request, echo_request_v6
from labkit.prompts import STRATEGIES
from labkit.stack import echo_reply


def _odd_requests() -> dict[str, bytes]:
    """Requests whose reply Linux does not build by copying: the reserved IP flag set, IPv6 extension headers."""
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN

    v6 = IPv6(src="fd00::1", dst="fd00::2")
    echo6 = ICMPv6EchoRequest(id=7, seq=5, data=bytes(range(40)))
    return {
        "ipv4-evil-bit": bytes(IP(src="10.0.0.1", dst="10.0.0.2", flags="evil") / ICMP(id=7, seq=5) / (b"x" * 8)),
        "ipv6-hop-by-hop": bytes(v6 / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0")]) / echo6),
        "ipv6-two-headers": bytes(
            v6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt(options=[PadN(optdata=bytes(4))]) / echo6
        ),
    }


ODD = _odd_requests()
REQUESTS = [echo_request("10.0.0.1", "10.0.0.2", seq=3), echo_request_v6("fd00::1", "fd00::2", seq=4), *ODD.values()]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("request_packet", REQUESTS, ids=["ipv4", "ipv6", *ODD])
def test_reference_answers_correctly_in_every_strategy(strategy: str, request_packet: bytes) -> None:
    """A perfect answer in each format gives Linux's reply -- also where Linux does not copy the request
    (fields-only and tool-use used to keep the reserved flag and the extension headers; step-by-step read the
    reply at the request's ICMPv6 offset)."""
    expected = echo_reply(request_packet)
    assert expected is not None and len(expected) <= len(request_packet)
    attempt = ReferenceModel().attempt(request_packet, strategy)
    assert attempt.parse_error is None, attempt.parse_error
    assert attempt.reply == expected
    assert attempt.strategy == strategy


def test_step_by_step_working_describes_the_reply_it_gives() -> None:
    from labkit.prompts import get_strategy

    request = ODD["ipv6-two-headers"]
    reply = echo_reply(request)
    text = get_strategy("step-by-step").render_answer(reply, request)
    assert "40 bytes of IP header" in text and "type 128 -> 129" in text


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
