"""Prompt strategies: each shows the request hex, and a perfect answer in its format parses back to the right reply."""

from __future__ import annotations

import json
import re

import pytest
from scapy.all import IPOption_RR

from labkit.bench import make_request
from labkit.checksum import internet_checksum, verify
from labkit.errors import LabkitError
from labkit.fields import field_spans
from labkit.judge import judge
from labkit.packets import echo_request, echo_request_v6, to_hex
from labkit.prompts import (
    PACKET_REGISTRY_SIZE,
    STRATEGIES,
    Prompt,
    ToolUse,
    assemble_fields,
    few_shot_examples,
    get_strategy,
    packet_id,
)
from labkit.stack import echo_reply

REQUESTS = {
    "ipv4": echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=1),
    "ipv4-odd-payload": echo_request("10.3.4.5", "10.6.7.8", ident=0x00FF, seq=99, payload=b"odd!!", ttl=17),
    "ipv4-options": echo_request("10.0.0.1", "10.0.0.2", options=b"\x01\x01\x01\x00"),
    "ipv6": echo_request_v6("fd00::1", "fd00::2", ident=0x4321, seq=2),
}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("label", list(REQUESTS))
def test_prompt_contains_request_hex(strategy: str, label: str) -> None:
    request = REQUESTS[label]
    prompt = STRATEGIES[strategy].build(request)
    assert to_hex(request) in prompt.user
    assert prompt.max_tokens > 0
    assert to_hex(request) in prompt.text()


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("label", list(REQUESTS))
def test_render_answer_round_trips_to_the_correct_reply(strategy: str, label: str) -> None:
    request = REQUESTS[label]
    correct = echo_reply(request)
    assert correct is not None
    chosen = STRATEGIES[strategy]
    parsed = chosen.answer_to_reply(chosen.render_answer(correct, request), request)
    assert parsed.error is None
    assert parsed.data == correct


def test_every_strategy_documents_what_it_teaches() -> None:
    assert list(STRATEGIES) == ["zero-shot", "spec", "few-shot", "step-by-step", "fields-only", "tool-use"]
    for name, strategy in STRATEGIES.items():
        assert strategy.name == name
        assert len(strategy.teaches) > 80, name


def test_zero_shot_is_the_original_experiments_prompt() -> None:
    prompt = STRATEGIES["zero-shot"].build(REQUESTS["ipv4"])
    assert prompt.system == ""
    assert prompt.user.startswith(f"Here is an ICMP echo request packet in hex: {to_hex(REQUESTS['ipv4'])}")
    assert "swap the source and destination addresses, set type to 0, recompute the checksums" in prompt.user
    assert prompt.user.endswith("Output only the hex.")
    assert "129" in STRATEGIES["zero-shot"].build(REQUESTS["ipv6"]).user


def test_spec_spells_out_the_rfc_rules() -> None:
    system = STRATEGIES["spec"].build(REQUESTS["ipv4"]).system
    for needle in ("RFC 792", "RFC 1071", "RFC 4443", "pseudo-header", "one's complement"):
        assert needle in system


def test_few_shot_examples_come_from_the_reference_stack() -> None:
    system = STRATEGIES["few-shot"].build(REQUESTS["ipv4"]).system
    examples = few_shot_examples()
    assert {4, 6} == {request[0] >> 4 for request, _ in examples}
    for request, reply in examples:
        assert reply == echo_reply(request)
        assert to_hex(request) in system and to_hex(reply) in system


def test_step_by_step_needs_a_final_block_and_ignores_hex_in_the_working() -> None:
    strategy, request = STRATEGIES["step-by-step"], REQUESTS["ipv4"]
    correct = echo_reply(request)
    assert not strategy.answer_to_reply(to_hex(correct), request).ok
    decoy = f"The request was {to_hex(request)}.\nFINAL:\n```hex\n{to_hex(correct)}\n```"
    assert strategy.answer_to_reply(decoy, request).data == correct
    rendered = strategy.render_answer(correct, request)
    assert "FINAL:" in rendered and "folded" in rendered


def test_fields_only_keeps_the_models_wrong_checksum() -> None:
    strategy, request = STRATEGIES["fields-only"], REQUESTS["ipv4"]
    correct = echo_reply(request)
    answer = json.loads(strategy.render_answer(correct, request))
    right = int(answer["icmp_checksum"], 16)
    answer["icmp_checksum"] = f"0x{(right + 1) & 0xFFFF:04x}"
    got = strategy.answer_to_reply("```json\n" + json.dumps(answer) + "\n```", request).data
    assert got is not None and got != correct
    checks = {check.name: check for check in verify(got)}
    assert not checks["icmp.chksum"].ok and checks["icmp.chksum"].found == (right + 1) & 0xFFFF
    assert checks["ip.chksum"].ok
    assert len(strategy.render_answer(correct, request)) < len(to_hex(correct))  # fewer output tokens


@pytest.mark.parametrize(
    "answer, why",
    [
        ({"type": 0, "src": "10.0.0.2", "dst": "10.0.0.1", "icmp_checksum": "0x1234"}, "ip_checksum"),
        ({"type": 0, "src": "fd00::2", "dst": "10.0.0.1", "icmp_checksum": "0x1", "ip_checksum": "0x1"}, "IPv4"),
        ({"type": 300, "src": "10.0.0.2", "dst": "10.0.0.1", "icmp_checksum": "0x1", "ip_checksum": "0x1"}, "fit"),
        ({"type": 0, "src": "10.0.0.2", "dst": "10.0.0.1", "icmp_checksum": "zz", "ip_checksum": "0x1"}, "number"),
    ],
)
def test_fields_only_rejects_bad_json_with_a_reason(answer: dict, why: str) -> None:
    parsed = STRATEGIES["fields-only"].answer_to_reply(json.dumps(answer), REQUESTS["ipv4"])
    assert not parsed.ok and why in parsed.error


def test_fields_only_without_json_is_an_error() -> None:
    parsed = STRATEGIES["fields-only"].answer_to_reply("The reply swaps the addresses.", REQUESTS["ipv4"])
    assert not parsed.ok and "JSON" in parsed.error
    with pytest.raises(ValueError):
        assemble_fields({"type": 0}, REQUESTS["ipv6"])


@pytest.mark.parametrize("label", list(REQUESTS))
def test_tool_use_checksums_come_from_code(label: str) -> None:
    strategy, request = STRATEGIES["tool-use"], REQUESTS[label]
    prompt = strategy.build(request)
    assert [tool["name"] for tool in prompt.tools] == ["internet_checksum"]
    correct = echo_reply(request)
    calls = strategy.tool_inputs(correct, request)
    assert len(calls) == 1 and to_hex(request) not in json.dumps(calls)  # decisions, not the packet
    result = json.loads(strategy.run_tool("internet_checksum", calls[0]))
    spans = field_spans(correct)
    icmp_offset = spans["icmp.chksum" if label.startswith("ipv4") else "icmpv6.cksum"][0]
    assert result["icmp_checksum"] == "0x" + correct[icmp_offset : icmp_offset + 2].hex()
    if label.startswith("ipv4"):
        assert result["ip_checksum"] == "0x" + correct[10:12].hex()
    else:
        assert "ip_checksum" not in result
    # the final answer is the decisions plus what the tool returned: exactly the perfect answer
    answer = {key: value for key, value in calls[0].items() if key != "packet_id"} | result
    assert strategy.answer_to_reply(json.dumps(answer), request).data == correct


def test_tool_use_wrong_decision_gets_right_checksums_of_a_wrong_packet() -> None:
    strategy, request = STRATEGIES["tool-use"], REQUESTS["ipv4"]
    strategy.build(request)
    decisions = {key: value for key, value in strategy.tool_inputs(echo_reply(request), request)[0].items()}
    decisions["type"] = 8  # the model kept the request's type
    result = json.loads(strategy.run_tool("internet_checksum", decisions))
    answer = {key: value for key, value in decisions.items() if key != "packet_id"} | result
    reply = strategy.answer_to_reply(json.dumps(answer), request).data
    assert all(check.ok for check in verify(reply))  # the arithmetic was code's...
    verdict = judge(request, reply)
    assert not verdict.accepted and "icmp.type" in verdict.wrong_fields  # ...the decision was wrong


def test_tool_use_run_tool_reports_mistakes_as_text() -> None:
    strategy, request = STRATEGIES["tool-use"], REQUESTS["ipv4"]
    handle = strategy.build(request).user.split('packet_id "')[1].split('"')[0]
    assert handle == packet_id(request)
    good = {"packet_id": handle, "type": 0, "src": "10.0.0.2", "dst": "10.0.0.1"}
    assert strategy.run_tool("internet_checksum", good).startswith("{")
    for bad in (
        {**good, "packet_id": "000000000000"},
        {k: v for k, v in good.items() if k != "dst"},
        {**good, "src": "10.0.0.300"},
        {**good, "dst": "fd00::1"},
        {**good, "df": "maybe"},
        {**good, "ttl": 256},
        {**good, "ip_options": "zz"},
        {},
        {"packet_id": 7},
    ):
        assert strategy.run_tool("internet_checksum", bad).startswith("error:"), bad
    assert strategy.run_tool("rm_rf", good).startswith("error:")
    # the tool's first form, the checksum of given bytes, still answers
    expected = f"0x{internet_checksum(bytes.fromhex('45000054')):04x}"
    assert strategy.run_tool("internet_checksum", {"hex": "0x4500 0054"}) == expected
    assert strategy.run_tool("internet_checksum", {"hex": "45zz"}).startswith("error:")
    with pytest.raises(LabkitError):
        STRATEGIES["zero-shot"].run_tool("internet_checksum", {"hex": "00"})


def test_tool_use_registry_is_bounded() -> None:
    strategy = ToolUse()
    requests = [echo_request(seq=seq) for seq in range(PACKET_REGISTRY_SIZE + 5)]
    for request in requests:
        strategy.remember(request)
    assert len(strategy._packets) == PACKET_REGISTRY_SIZE
    first = {"packet_id": packet_id(requests[0]), "type": 0, "src": "10.0.0.2", "dst": "10.0.0.1"}
    assert "unknown packet_id" in strategy.run_tool("internet_checksum", first)  # the oldest is forgotten
    assert strategy.run_tool("internet_checksum", first | {"packet_id": packet_id(requests[-1])}).startswith("{")


def test_tool_definition_is_a_valid_messages_api_tool() -> None:
    (tool,) = STRATEGIES["tool-use"].tools
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool["name"]) and tool["description"]
    schema = tool["input_schema"]
    assert schema["type"] == "object" and set(schema["required"]) <= set(schema["properties"])
    json_types = {"string": str, "integer": int, "boolean": bool}
    for label, request in REQUESTS.items():
        for call in STRATEGIES["tool-use"].tool_inputs(echo_reply(request), request):
            assert set(schema["required"]) <= set(call) <= set(schema["properties"]), label
            for key, value in call.items():
                assert isinstance(value, json_types[schema["properties"][key]["type"]]), (label, key)


def test_tool_use_still_reads_a_hex_answer() -> None:
    request = REQUESTS["ipv4"]
    assert STRATEGIES["tool-use"].answer_to_reply(to_hex(echo_reply(request)), request).data == echo_reply(request)


def _varied_requests() -> list[bytes]:
    """DF on and off, IP options (NOP, Record Route, Timestamp), TOS, TTL, sizes, IPv4 and IPv6."""
    rr = bytes(IPOption_RR(pointer=4, routers=["0.0.0.0"] * 3))
    timestamps = bytes([68, 16, 5, 0]) + bytes(12)
    requests = [make_request(11, index).packet for index in range(60)]
    for df in (True, False):
        for options in (b"", b"\x01\x01\x01\x00", rr, timestamps):
            for payload in (b"", b"x", bytes(range(200))):
                requests.append(
                    echo_request(
                        "10.1.1.1",
                        "10.2.2.2",
                        df=df,
                        options=options,
                        payload=payload,
                        tos=0xB8 if df else 3,
                        ttl=3 if options else 64,
                    )
                )
    requests += [echo_request_v6("fe80::1", "fe80::2", payload=payload, hlim=1) for payload in (b"", bytes(999))]
    return requests


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategys_perfect_answer_is_accepted(strategy: str) -> None:
    chosen = STRATEGIES[strategy]
    for request in _varied_requests():
        correct = echo_reply(request)
        assert correct is not None
        parsed = chosen.answer_to_reply(chosen.render_answer(correct, request), request)
        assert parsed.data == correct, (strategy, to_hex(request)[:48], parsed.error)
        verdict = judge(request, parsed.data)
        assert verdict.accepted, (strategy, to_hex(request)[:48], verdict.reason)


def test_fields_only_df_request_perfect_answer_is_accepted() -> None:
    # ping on Linux sets DF; the reference reply (like Linux's) clears it, and the JSON must carry that
    request = echo_request(df=True)
    strategy = STRATEGIES["fields-only"]
    answer = json.loads(strategy.render_answer(echo_reply(request), request))
    assert answer["df"] is False
    reply = strategy.answer_to_reply(json.dumps(answer), request).data
    assert judge(request, reply).accepted and reply == echo_reply(request)
    kept = strategy.answer_to_reply(json.dumps({**answer, "df": True}), request).data  # DF kept: still wrong
    assert not judge(request, kept).accepted and "checksum" in judge(request, kept).reason  # checksum stays
    assert not strategy.answer_to_reply(json.dumps({**answer, "df": "maybe"}), request).ok


def test_get_strategy_accepts_spellings_and_names_the_choices() -> None:
    assert get_strategy("fields_only") is STRATEGIES["fields-only"]
    assert get_strategy("ToolUse") is STRATEGIES["tool-use"]
    assert get_strategy(STRATEGIES["spec"]) is STRATEGIES["spec"]
    with pytest.raises(LabkitError, match="zero-shot"):
        get_strategy("telepathy")


def test_non_ip_request_is_a_clear_error() -> None:
    with pytest.raises(LabkitError, match="IPv4 or IPv6"):
        STRATEGIES["zero-shot"].build(b"\x00" * 28)


def test_prompt_dict_round_trip() -> None:
    prompt = STRATEGIES["tool-use"].build(REQUESTS["ipv4"])
    again = Prompt.from_dict(json.loads(json.dumps(prompt.to_dict())))
    assert again == prompt
