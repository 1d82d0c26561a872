"""ClaudeModel against a real HTTP server on loopback (tests/messages_server.py): the SDK really talks HTTP.

The server's "model" text is written here, from the reference stack's correct reply, so these tests
check labkit's plumbing (retries, errors, usage, caching marks, the tool loop), not Claude.
"""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest
from messages_server import (
    DEFAULT_TEST_KEY,
    MessagesServer,
    malformed,
    overloaded,
    presented_key,
    rate_limited,
    server_error,
    slow,
    text,
    tool_use,
    unauthorized,
)

from labkit.errors import ModelError
from labkit.models.claude import DEFAULT_MODEL_ID, ClaudeModel, RetryPolicy
from labkit.packets import echo_request, to_hex
from labkit.prompts import Prompt, get_strategy
from labkit.stack import echo_reply

REQUEST = echo_request("10.0.0.1", "10.0.0.2", ident=0x4242, seq=7, payload=b"labkit loopback test")
REPLY = echo_reply(REQUEST)
FAST = RetryPolicy(max_retries=2, backoff_s=0.01, max_backoff_s=0.05)


def claude(server: MessagesServer, **kw) -> ClaudeModel:
    kw.setdefault("retry", FAST)
    return ClaudeModel(api_key=DEFAULT_TEST_KEY, base_url=server.url, **kw)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and DEFAULT_TEST_KEY not in message
    return message


def test_success_parses_reply_and_records_usage(messages_server):
    messages_server.script(text(to_hex(REPLY)))
    model = claude(messages_server)
    attempt = model.attempt(REQUEST, "zero-shot")
    assert attempt.reply == REPLY and attempt.parse_error is None
    assert attempt.raw_text == to_hex(REPLY)
    assert attempt.model_id == DEFAULT_MODEL_ID and not attempt.simulated and "simulated" not in attempt.model
    sent = messages_server.message_requests[0]
    served = sent.answer["usage"]
    assert attempt.usage.input_tokens == served["input_tokens"]
    assert attempt.usage.output_tokens == served["output_tokens"]
    assert attempt.cost_usd > 0
    assert sent.body["model"] == DEFAULT_MODEL_ID
    assert to_hex(REQUEST) in sent.body["messages"][0]["content"]
    assert presented_key(sent.headers) == DEFAULT_TEST_KEY
    assert DEFAULT_TEST_KEY.encode() not in sent.raw_body


@pytest.mark.parametrize(
    "wrap",
    [
        lambda h: f"Here is the echo reply:\n\n{h}\n\nThe addresses are swapped and the checksums recomputed.",
        lambda h: f"```hex\n{h}\n```",
        lambda h: "Sure! ```\n" + " ".join(h[i : i + 2] for i in range(0, len(h), 2)) + "\n``` Done.",
    ],
    ids=["prose", "hex-fence", "spaced-fence"],
)
def test_hex_wrapped_in_prose_or_fences(messages_server, wrap):
    messages_server.script(text(wrap(to_hex(REPLY))))
    attempt = claude(messages_server).attempt(REQUEST, "zero-shot")
    assert attempt.reply == REPLY, attempt.parse_error


def test_wrong_hex_from_the_model_is_kept_not_corrected(messages_server):
    wrong = bytearray(REPLY)
    wrong[-1] ^= 0xFF
    messages_server.script(text(to_hex(bytes(wrong))))
    assert claude(messages_server).attempt(REQUEST, "zero-shot").reply == bytes(wrong)


def test_429_is_retried_honouring_retry_after(messages_server):
    messages_server.script(rate_limited(retry_after="0.3"), text(to_hex(REPLY)))
    started = time.monotonic()
    patient = RetryPolicy(max_retries=2, backoff_s=0.01, max_backoff_s=1.0)
    attempt = claude(messages_server, retry=patient).attempt(REQUEST)
    assert attempt.reply == REPLY
    assert time.monotonic() - started >= 0.3
    assert [r.status for r in messages_server.message_requests] == [429, 200]


@pytest.mark.parametrize("failure", [overloaded, server_error], ids=["529-overloaded", "500"])
def test_transient_failure_is_retried_then_succeeds(messages_server, failure):
    messages_server.script(failure(), failure(), text(to_hex(REPLY)))
    assert claude(messages_server).attempt(REQUEST).reply == REPLY
    assert len(messages_server.message_requests) == 3


def test_overloaded_until_retries_are_exhausted_is_a_clear_error(messages_server):
    messages_server.script(*[overloaded() for _ in range(3)])
    with pytest.raises(ModelError) as error:
        claude(messages_server).attempt(REQUEST)
    message = one_line(error)
    assert "3 tries" in message and "529 overloaded_error" in message and "try again" in message
    assert len(messages_server.message_requests) == 3 and messages_server.pending == 0


def test_rejected_key_is_a_clear_error_and_not_retried(messages_server):
    wrong_key = "sk-ant-wrong-key-do-not-print"
    model = ClaudeModel(api_key=wrong_key, base_url=messages_server.url, retry=FAST)
    messages_server.script(text("never served"))
    with pytest.raises(ModelError) as error:
        model.attempt(REQUEST)
    message = one_line(error)
    assert "rejected the API key" in message and "ANTHROPIC_API_KEY" in message and wrong_key not in message
    assert wrong_key not in repr(model)
    assert len(messages_server.message_requests) == 1


def test_revoked_key_401_is_a_clear_error(messages_server):
    messages_server.script(unauthorized())
    with pytest.raises(ModelError, match="401 authentication_error"):
        claude(messages_server).attempt(REQUEST)


def test_refused_request_is_a_clear_error_and_not_retried(messages_server):
    # Nothing scripted: the server answers 400 invalid_request_error, as the API does for a bad request.
    with pytest.raises(ModelError) as error:
        claude(messages_server).attempt(REQUEST)
    assert "refused the request (400 invalid_request_error: messages_server: the test script" in one_line(error)
    assert len(messages_server.message_requests) == 1


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY is not set.*simulated"):
        ClaudeModel()


def test_key_and_base_url_come_from_the_environment(messages_server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_TEST_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", messages_server.url)
    messages_server.script(text(to_hex(REPLY)))
    model = ClaudeModel(retry=FAST)
    assert model.attempt(REQUEST).reply == REPLY
    assert DEFAULT_TEST_KEY not in repr(model) and DEFAULT_TEST_KEY not in str(vars(model))


def test_key_never_reaches_the_logs(messages_server, caplog):
    caplog.set_level(logging.DEBUG)  # the SDK's and HTTP client's debug logs included
    messages_server.script(overloaded(), text(to_hex(REPLY)))
    claude(messages_server).attempt(REQUEST)
    assert "Sending HTTP Request" in caplog.text  # the SDK did log this exchange
    assert DEFAULT_TEST_KEY not in caplog.text


def test_timeout_is_a_clear_error_and_quick(messages_server):
    messages_server.script(slow(5.0))
    started = time.monotonic()
    with pytest.raises(ModelError) as error:
        claude(messages_server, timeout_s=0.3).attempt(REQUEST)
    assert "did not answer within 0.3 s" in one_line(error)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b'{"id": "msg_trunc', "application/json"),
        (b"{}", "application/json"),
        (b"<html>bad gateway</html>", "text/html"),
    ],
    ids=["truncated-json", "empty-object", "html"],
)
def test_malformed_body_is_a_clear_error(messages_server, body, content_type):
    messages_server.script(malformed(body, content_type))
    with pytest.raises(ModelError) as error:
        claude(messages_server).attempt(REQUEST)
    assert "malformed response" in one_line(error)


def test_tool_use_loop_runs_labkit_tool_and_sums_usage(messages_server):
    strategy = get_strategy("tool-use")
    prompt = strategy.build(REQUEST)  # names the request by packet_id for the tool
    calls = strategy.tool_inputs(REPLY, REQUEST)  # the decisions a perfect model hands the checksum tool
    messages_server.script(
        *[tool_use("internet_checksum", call, preface="Let me get the checksums.") for call in calls],
        text(strategy.render_answer(REPLY, REQUEST)),
    )
    model = claude(messages_server)
    completion = model.complete(prompt, strategy, REQUEST)
    assert completion.tool_calls == len(calls) == 1
    assert strategy.answer_to_reply(completion.text, REQUEST).data == REPLY
    sent = messages_server.message_requests
    assert len(sent) == 2 and all(r.body["tools"][0]["name"] == "internet_checksum" for r in sent)
    for turn, call in enumerate(calls, start=1):
        asked = sent[turn - 1].answer["content"][-1]
        result = sent[turn].body["messages"][-1]["content"][0]
        assert result["tool_use_id"] == asked["id"]
        assert result["content"] == strategy.run_tool("internet_checksum", call)
        assert json.loads(result["content"])["icmp_checksum"].startswith("0x") and not result.get("is_error")
    assert completion.usage.output_tokens == sum(r.answer["usage"]["output_tokens"] for r in sent)
    assert completion.usage.input_tokens == sum(r.answer["usage"]["input_tokens"] for r in sent)


def test_bad_tool_arguments_go_back_to_the_model_as_an_error(messages_server):
    strategy = get_strategy("tool-use")
    messages_server.script(tool_use("internet_checksum", {"hex": "zz"}), text(to_hex(REPLY)))
    completion = claude(messages_server).complete(strategy.build(REQUEST), strategy, REQUEST)
    result = messages_server.message_requests[1].body["messages"][-1]["content"][0]
    assert result["content"].startswith("error:") and completion.tool_calls == 1


def test_tool_loop_is_bounded(messages_server):
    strategy = get_strategy("tool-use")
    messages_server.script(*[tool_use("internet_checksum", {"hex": "0800"}) for _ in range(3)])
    with pytest.raises(ModelError) as error:
        claude(messages_server, max_tool_turns=2).attempt(REQUEST, strategy)
    assert "after 2 turns" in one_line(error)
    assert len(messages_server.message_requests) == 3


def test_long_fixed_prompt_gets_cache_control_and_cache_usage_is_recorded(messages_server):
    strategy = get_strategy("spec")
    long_system = "Reference notes on IPv4 and ICMP. " * 600  # ~20 kB: over every model's minimum
    prompt = Prompt(system=long_system, user=f"Request in hex: {to_hex(REQUEST)}")
    messages_server.script(text(to_hex(REPLY)), text(to_hex(REPLY)))
    model = claude(messages_server)
    first = model.complete(prompt, strategy, REQUEST)
    second = model.complete(prompt, strategy, REQUEST)
    system = messages_server.message_requests[0].body["system"]
    assert system == [{"type": "text", "text": long_system, "cache_control": {"type": "ephemeral"}}]
    assert first.usage.cache_write_tokens > 0 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens and second.usage.cache_write_tokens == 0


def test_short_fixed_prompt_is_sent_plain(messages_server):
    messages_server.script(text(to_hex(REPLY)))
    claude(messages_server).attempt(REQUEST, "spec")
    assert isinstance(messages_server.message_requests[0].body["system"], str)


def test_retry_policy_caps_waits():
    policy = RetryPolicy(max_retries=5, backoff_s=1.0, max_backoff_s=4.0)
    assert policy.delay(0, 2.5) == 2.5 and policy.delay(0, 60) == 4.0
    assert 0.75 <= policy.delay(0, None) <= 1.0 and policy.delay(10, None) == 4.0


def test_credentials_in_the_base_url_never_reach_errors_or_reprs(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on: every call fails with a connection error
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "proxy-secret-9f8e"
    model = ClaudeModel(
        api_key=DEFAULT_TEST_KEY,
        base_url=f"http://user:{secret}@127.0.0.1:{port}/v?token={secret}",
        retry=FAST,
        timeout_s=2.0,
    )
    assert model.base_url == f"http://127.0.0.1:{port}/v"
    with pytest.raises(ModelError) as error:
        model.attempt(REQUEST)
    assert "connection failed" in one_line(error) and f"127.0.0.1:{port}" in one_line(error)
    assert secret not in one_line(error) and secret not in repr(model) and secret not in model.describe()


def test_retry_and_redaction_helpers_live_where_any_http_model_can_use_them() -> None:
    from labkit.models import claude, http_retry, messages

    assert claude.RetryPolicy is http_retry.RetryPolicy and claude.displayable_url is http_retry.displayable_url
    assert issubclass(messages.MessagesModel, claude.ClaudeModel)  # the local-server model reuses them
    assert http_retry.displayable_url("http://u:secret@127.0.0.1:8080/base?key=k") == "http://127.0.0.1:8080/base"
    assert http_retry.retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert http_retry.retry_after_s({"retry-after": "soon"}) is None
    assert http_retry.RetryPolicy(max_backoff_s=2).delay(0, 60) == 2
