"""Record through ClaudeModel against the loopback Messages API server, then replay offline, byte for byte."""

from __future__ import annotations

import json
import os

import pytest
from messages_server import DEFAULT_TEST_KEY, MessagesServer, overloaded, text, tool_use

from labkit.errors import LabkitError
from labkit.models.claude import ClaudeModel, RetryPolicy
from labkit.models.recording import RecordingModel, ReplayModel, prompt_key
from labkit.packets import echo_request, echo_request_v6, to_hex
from labkit.prompts import Prompt, get_strategy
from labkit.stack import echo_reply

FAST = RetryPolicy(max_retries=2, backoff_s=0.01, max_backoff_s=0.05)
REQUESTS = [
    echo_request("10.0.0.1", "10.0.0.2", ident=0x0101, seq=1, payload=b"record me"),
    echo_request("10.0.0.1", "10.0.0.2", ident=0x0101, seq=2, payload=b"record me too"),
    echo_request_v6("fd00::1", "fd00::2", ident=0x0202, seq=3, payload=b"v6 as well"),
]


def recorder(server: MessagesServer, path) -> RecordingModel:
    return RecordingModel(path, ClaudeModel(api_key=DEFAULT_TEST_KEY, base_url=server.url, retry=FAST))


def answers(request: bytes) -> list[str]:
    """What the scripted 'model' says: right, wrapped in prose, and one with a flipped byte."""
    reply = echo_reply(request)
    wrong = bytearray(reply)
    wrong[-1] ^= 0x01
    return [to_hex(reply), f"The reply is:\n```hex\n{to_hex(reply)}\n```", to_hex(bytes(wrong))]


def test_recording_replays_byte_identically(messages_server, tmp_path):
    path = tmp_path / "claude.jsonl"
    strategies = ["zero-shot", "spec", "few-shot"]
    messages_server.script(overloaded())  # a retried failure is not an exchange, and is not recorded
    for request in REQUESTS:
        messages_server.script(*[text(answer) for answer in answers(request)])
    model = recorder(messages_server, path)
    recorded = [model.attempt(request, strategy) for request, strategy in zip(REQUESTS, strategies) for _ in range(3)]
    assert len(path.read_text().splitlines()) == len(recorded) == 9
    assert DEFAULT_TEST_KEY not in path.read_text()

    replay = ReplayModel(path)
    # Ask in a different order: replay is keyed on the prompt, in recorded order per prompt.
    order = list(range(len(recorded)))
    order = order[3:] + order[:3]
    for index in order:
        original = recorded[index]
        again = replay.attempt(original.request, original.strategy)
        assert again.raw_text == original.raw_text
        assert again.reply == original.reply and again.parse_error == original.parse_error
        assert again.usage == original.usage and again.cost_usd == original.cost_usd
        assert again.latency_s == original.latency_s and again.virtual_latency
        assert again.model_id == original.model_id and again.model == f"replay:{path}"
        assert not again.simulated
    assert sum(a.reply == echo_reply(a.request) for a in recorded) == 6  # the flipped byte stays flipped


def test_recording_line_holds_the_exchange_and_no_secrets(messages_server, tmp_path):
    path = tmp_path / "one.jsonl"
    request = REQUESTS[0]
    messages_server.script(text(to_hex(echo_reply(request))))
    attempt = recorder(messages_server, path).attempt(request, "spec")
    line = json.loads(path.read_text())
    assert line["prompt"] == attempt.prompt.to_dict() and line["request"] == to_hex(request)
    assert line["text"] == attempt.raw_text and line["model_id"] == "claude-haiku-4-5"
    assert line["usage"] == attempt.usage.to_dict() and line["latency_s"] == attempt.latency_s
    assert line["time"].endswith("Z") and line["time"][:2] == "20"
    serialized = path.read_text().lower()
    for secret in (DEFAULT_TEST_KEY.lower(), "x-api-key", "authorization", "bearer", messages_server.url):
        assert secret not in serialized


def test_tool_use_exchange_replays_with_tool_count(messages_server, tmp_path):
    path = tmp_path / "tools.jsonl"
    strategy = get_strategy("tool-use")
    request = REQUESTS[0]
    reply = echo_reply(request)
    calls = strategy.tool_inputs(reply, request)
    messages_server.script(
        *[tool_use("internet_checksum", call) for call in calls], text(strategy.render_answer(reply, request))
    )
    original = recorder(messages_server, path).attempt(request, strategy)
    again = ReplayModel(path).attempt(request, strategy)
    assert original.reply == again.reply == reply
    assert again.tool_calls == original.tool_calls == 1
    assert json.loads(path.read_text())["prompt"]["tools"][0]["name"] == "internet_checksum"


def test_repeated_prompt_replays_in_order_then_cycles(tmp_path):
    path = tmp_path / "cycle.jsonl"
    strategy = get_strategy("zero-shot")
    prompt = strategy.build(REQUESTS[0])
    lines = [
        {
            "key": prompt_key(prompt),
            "text": f"answer {n}",
            "usage": {"input_tokens": n},
            "latency_s": n,
            "model_id": "claude-haiku-4-5",
        }
        for n in (1, 2)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replay = ReplayModel(path)
    texts = [replay.complete(prompt, strategy, REQUESTS[0]).text for _ in range(5)]
    assert texts == ["answer 1", "answer 2", "answer 1", "answer 2", "answer 1"]


def test_prompt_key_covers_system_user_and_tools():
    base = Prompt(system="s", user="u")
    keys = {prompt_key(p) for p in (base, Prompt("s2", "u"), Prompt("s", "u2"), Prompt("s", "u", ({"name": "t"},)))}
    assert len(keys) == 4
    assert prompt_key(Prompt(system="s", user="u", max_tokens=5)) == prompt_key(base)


def test_unrecorded_prompt_is_a_clear_error(messages_server, tmp_path):
    path = tmp_path / "partial.jsonl"
    messages_server.script(text(to_hex(echo_reply(REQUESTS[0]))))
    recorder(messages_server, path).attempt(REQUESTS[0], "zero-shot")
    with pytest.raises(LabkitError) as error:
        ReplayModel(path).attempt(REQUESTS[0], "spec")
    message = str(error.value)
    assert str(path) in message and f"record:{path}:claude" in message and "\n" not in message


def test_missing_or_broken_recording_is_a_clear_error(tmp_path):
    with pytest.raises(LabkitError, match="no recording at .*record:"):
        ReplayModel(tmp_path / "absent.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"key": "k", "text": "t", "usage": {}, "latency_s": 1, "model_id": "m"}\nnot json\n')
    with pytest.raises(LabkitError, match=r"broken.jsonl:2 "):
        ReplayModel(broken)


def test_failed_call_is_not_recorded(messages_server, tmp_path):
    path = tmp_path / "fail.jsonl"
    messages_server.script(*[overloaded() for _ in range(3)])
    model = recorder(messages_server, path)
    with pytest.raises(LabkitError):
        model.attempt(REQUESTS[0])
    assert not path.exists()  # created by the first exchange recorded, so a failed run leaves no empty file


def test_empty_recording_says_empty_and_how_to_record(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(LabkitError) as error:
        ReplayModel(path)
    message = str(error.value)
    assert "empty recording" in message and f"record:{path}:claude" in message
    assert "no recording of this prompt" not in message and "\n" not in message


@pytest.mark.timeout(10)  # without the file-type check, reading a FIFO with no writer blocks forever
def test_replay_requires_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    link = tmp_path / "link.jsonl"
    link.symlink_to(fifo)
    for path, kind in ((fifo, "not a regular file"), (link, "not a regular file"), (tmp_path, "a directory")):
        with pytest.raises(LabkitError) as error:
            ReplayModel(path)
        assert kind in str(error.value) and "JSONL file" in str(error.value) and "\n" not in str(error.value)
    from labkit.models.registry import get_model

    recording = tmp_path / "real.jsonl"
    original = get_model(f"record:{recording}:simulated:3").attempt(REQUESTS[0], "spec")
    link.unlink()
    link.symlink_to(recording)  # a symlink to a recording is followed
    assert ReplayModel(link).attempt(REQUESTS[0], "spec").raw_text == original.raw_text


def test_record_refuses_a_missing_directory_before_any_call(messages_server, tmp_path):
    from labkit.models.registry import get_model

    missing = tmp_path / "nonexist"
    with pytest.raises(LabkitError) as error:
        get_model(f"record:{missing / 'r.jsonl'}:simulated")
    assert "does not exist" in str(error.value) and "\n" not in str(error.value)
    assert not missing.exists()
    with pytest.raises(LabkitError, match="does not exist"):
        recorder(messages_server, missing / "r.jsonl")  # refused when built, before a paid call could be made
    assert messages_server.requests == [] and not missing.exists()


@pytest.mark.timeout(10)  # without the check, appending to a FIFO with no reader would block
def test_record_refuses_a_path_that_is_not_a_regular_file(tmp_path):
    from labkit.models.registry import get_model

    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "not a regular file"), (tmp_path, "a directory")):
        with pytest.raises(LabkitError) as error:
            get_model(f"record:{path}:simulated")
        assert kind in str(error.value) and "regular file" in str(error.value) and "\n" not in str(error.value)


def test_registry_names_record_and_replay(messages_server, tmp_path):
    from labkit.models.registry import get_model

    path = tmp_path / "named.jsonl"
    messages_server.script(text(to_hex(echo_reply(REQUESTS[0]))))
    recording = get_model(f"record:{path}:claude", api_key=DEFAULT_TEST_KEY, base_url=messages_server.url, retry=FAST)
    first = recording.attempt(REQUESTS[0])
    replay = get_model(f"replay:{path}")
    assert isinstance(replay, ReplayModel) and replay.attempt(REQUESTS[0]).raw_text == first.raw_text
    assert "claude-haiku-4-5" in replay.describe() and "SIMULATED" not in replay.describe()


def test_replay_of_a_simulated_recording_still_says_simulated(tmp_path):
    from labkit.models.registry import get_model

    path = tmp_path / "sim.jsonl"
    original = get_model(f"record:{path}:simulated:3").attempt(REQUESTS[0], "spec")
    assert original.simulated
    again = ReplayModel(path).attempt(REQUESTS[0], "spec")
    assert again.simulated and "simulated" in again.model and again.raw_text == original.raw_text
