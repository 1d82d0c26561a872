"""messages:<model-id>@<url>: a local Messages API server (Ollama, llama-server, vLLM, LiteLLM) one name away.

Tested end to end against tests/messages_server.py on loopback, playing a perfect, obedient model that is
not labkit's: its echo replies are built here from RFC 792 and RFC 1071, not by labkit's reference stack.
Nothing here is a real model and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import re

import pytest
from messages_server import MessagesServer, text

from labkit.bench import run_bench, summarise
from labkit.cli import main as cli_main
from labkit.errors import LabkitError
from labkit.judge import judge
from labkit.models import describe_model, get_model
from labkit.models.messages import KEY_ENV, PLACEHOLDER_KEY
from labkit.pcap import answer_capture, read_capture
from labkit.responder import ping_software

MODEL_ID = "qwen2.5:7b"  # Ollama's style: a colon inside the model id
GOLDEN = "tests/data/golden_ping.pcap"


def _rfc1071(data: bytes) -> int:
    data += b"\x00" * (len(data) % 2)
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def obedient_reply(request: bytes) -> bytes:
    """An IPv4 echo reply written from the RFCs: addresses swapped, TTL 64, type 0, both checksums new."""
    header_len = (request[0] & 0x0F) * 4
    header = bytearray(request[:header_len])
    header[12:16], header[16:20] = request[16:20], request[12:16]
    header[8], header[10:12] = 64, b"\x00\x00"
    header[10:12] = _rfc1071(bytes(header)).to_bytes(2, "big")
    icmp = bytearray(request[header_len:])
    icmp[0], icmp[2:4] = 0, b"\x00\x00"
    icmp[2:4] = _rfc1071(bytes(icmp)).to_bytes(2, "big")
    return bytes(header + icmp)


def obedient(server: MessagesServer, request) -> object:
    """Answer the zero-shot prompt with the right reply, as hex (what a perfect model would write)."""
    user = request.body["messages"][-1]["content"]
    packet = bytes.fromhex(max(re.findall(r"[0-9a-f]{40,}", user), key=len))
    return text(obedient_reply(packet).hex())(server, request)


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-must-never-reach-another-server")
    monkeypatch.delenv("LABKIT_MODEL", raising=False)
    with MessagesServer(api_key=PLACEHOLDER_KEY) as running:
        yield running


def name_for(server: MessagesServer) -> str:
    return f"messages:{MODEL_ID}@{server.url}"


def test_the_name_carries_model_id_and_url_through_the_unchanged_sdk(server: MessagesServer) -> None:
    server.script(obedient)
    model = get_model(name_for(server))
    attempt = model.attempt(bytes.fromhex(_first_request_hex()))
    assert judge(attempt.request, attempt.reply).accepted
    sent = server.message_requests[0]
    assert sent.body["model"] == MODEL_ID and sent.path == "/v1/messages"
    assert not attempt.simulated and model.name == name_for(server)
    assert attempt.priced_as == "" and attempt.cost_usd == 0.0 and "cost unknown" in attempt.summary()
    assert "cost unknown" in describe_model(name_for(server))


def test_credentials_in_the_url_are_used_but_never_shown(server: MessagesServer) -> None:
    host = server.url.removeprefix("http://")
    model = get_model(f"messages:{MODEL_ID}@http://teacher:hunter2@{host}/?token=abc")
    assert "hunter2" not in model.name and "token" not in model.name and "hunter2" not in model.describe()


def test_a_key_of_its_own_never_the_anthropic_key(server: MessagesServer, monkeypatch) -> None:
    server.script(obedient)
    get_model(name_for(server)).attempt(bytes.fromhex(_first_request_hex()))
    assert server.message_requests[0].status == 200  # the placeholder was sent, not ANTHROPIC_API_KEY
    monkeypatch.setenv(KEY_ENV, "proxy-key-1")
    server.script(obedient)
    with pytest.raises(LabkitError, match=KEY_ENV):  # the server wants the placeholder: 401, named
        get_model(name_for(server)).attempt(bytes.fromhex(_first_request_hex()))


@pytest.mark.parametrize(
    "name, why",
    [
        ("messages:qwen2.5:7b", "@<http"),
        ("messages:@http://127.0.0.1:9", "model id"),
        ("messages:qwen@ftp://x", "@<http"),
    ],
)
def test_bad_messages_names_say_the_grammar(name: str, why: str) -> None:
    with pytest.raises(LabkitError, match=re.escape(why)):
        get_model(name)


def test_bench_and_the_environment_variable(server: MessagesServer, monkeypatch) -> None:
    server.script(*[obedient] * 6)
    monkeypatch.setenv("LABKIT_MODEL", name_for(server))
    frame = run_bench([None], ["zero-shot"], 3, sizes=[0, 56])
    assert len(frame) == 6 and frame["accepted"].all() and not frame["simulated"].any()
    assert set(frame["model"]) == {name_for(server)} and frame["cost_usd"].sum() == 0
    assert summarise(frame)["accept_rate"].iloc[0] == 1.0


def test_cli_bench_with_the_name(server: MessagesServer, capsys) -> None:
    server.script(*[obedient] * 2)
    assert cli_main(["bench", "--model", name_for(server), "--n", "2"]) == 0
    out = capsys.readouterr().out
    assert name_for(server) in out and "100.0%" in out


def test_pcap_mode(server: MessagesServer, tmp_path) -> None:
    requests = [p for p in read_capture(GOLDEN).packets]
    server.script(*[obedient] * len(requests))
    summary = answer_capture(GOLDEN, tmp_path / "answered.pcap", name_for(server), workers=1)
    assert summary.answered_by_model >= 1 and summary.model == name_for(server)
    assert len(read_capture(tmp_path / "answered.pcap").packets) == summary.packets_read + summary.replies_written


def test_respond_over_the_software_wire(server: MessagesServer) -> None:
    server.script(*[obedient] * 3)
    pinged, stats = ping_software(get_model(name_for(server)), count=3, interval=0.0, out=None)
    assert pinged.received == 3 and stats.checksum_errors == 0


def test_record_then_replay_offline(server: MessagesServer, tmp_path) -> None:
    path = tmp_path / "local.jsonl"
    server.script(*[obedient] * 2)
    recorded = run_bench([f"record:{path}:{name_for(server)}"], ["zero-shot"], 2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["model_id"] for line in lines} == {MODEL_ID} and not any(line["simulated"] for line in lines)
    assert PLACEHOLDER_KEY not in path.read_text() and "sk-ant" not in path.read_text()
    calls = len(server.message_requests)
    replayed = run_bench([f"replay:{path}"], ["zero-shot"], 2)
    assert len(server.message_requests) == calls  # offline: no call reached the server
    assert list(replayed["raw_text"]) == list(recorded["raw_text"]) and replayed["accepted"].all()


def _first_request_hex() -> str:
    from labkit.packets import echo_request

    return echo_request().hex()
