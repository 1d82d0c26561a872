"""The `labkit` command end to end, as a user runs it: a subprocess, its exit status, stdout, stderr, files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labkit_cli import run_labkit as labkit
from messages_server import DEFAULT_TEST_KEY, text
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import PcapWriter

from labkit.packets import to_hex
from labkit.pcap import read_capture
from labkit.stack import echo_reply

PINGER_MAC = "02:00:00:00:00:01"
HOST_MAC = "02:00:00:00:00:02"
T0 = 1_700_000_000.0


def _requests() -> list[bytes]:
    return [
        bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=i) / ICMP(type=8, id=0x77, seq=i) / (b"abcdefgh" * 4))
        for i in (1, 2)
    ]


@pytest.fixture
def capture(tmp_path) -> Path:
    frames = [
        Ether(src=PINGER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=PINGER_MAC, psrc="10.0.0.1", pdst="10.0.0.2")
    ]
    frames += [Ether(src=PINGER_MAC, dst=HOST_MAC) / IP(packet) for packet in _requests()]
    path = tmp_path / "in.pcap"
    writer = PcapWriter(str(path), sync=True)
    for i, frame in enumerate(frames):
        frame.time = T0 + i
        writer.write(frame)
    writer.close()
    return path


def _assert_clean_failure(result: subprocess.CompletedProcess, directory: Path, expected_files: set[str]) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labkit: "), result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name for p in directory.iterdir()} == expected_files  # no OUT, no temp file


# --- labkit pcap -------------------------------------------------------------------------------------------


def test_pcap_reference_writes_output_and_summary(capture, tmp_path):
    result = labkit("pcap", str(capture), "-o", str(tmp_path / "out.pcap"), "--model", "reference")
    assert result.returncode == 0, result.stderr
    assert "packets read:     3" in result.stdout and "replies written:  3" in result.stdout
    assert "reference" in result.stdout
    assert len(read_capture(tmp_path / "out.pcap").packets) == 6


@pytest.mark.parametrize(
    "model",
    [
        "simulated",
        "simulated:3",
        "simulated:5:latency=0.25,icmp_checksum=0.5",
        "reference",
    ],
)
def test_pcap_accepts_registry_names(capture, tmp_path, model):
    result = labkit("pcap", str(capture), "-o", str(tmp_path / "out.pcap"), "--model", model, "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "packets read:     3" in result.stdout
    if model.startswith("simulated"):
        assert "SIMULATED" in result.stdout


def test_pcap_record_then_replay_gives_the_same_capture(capture, tmp_path):
    recording = tmp_path / "rec.jsonl"
    first = labkit("pcap", str(capture), "-o", str(tmp_path / "a.pcap"), "--model", f"record:{recording}:simulated:8")
    assert first.returncode == 0, first.stderr
    assert len(recording.read_text().splitlines()) == 2  # two echo requests went to the model
    second = labkit("pcap", str(capture), "-o", str(tmp_path / "b.pcap"), "--model", f"replay:{recording}")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def test_pcap_through_claude_on_a_loopback_messages_server(capture, tmp_path, messages_server):
    messages_server.script(*(text(to_hex(echo_reply(request))) for request in _requests()))
    out = tmp_path / "out.pcap"
    result = labkit(
        "pcap",
        str(capture),
        "-o",
        str(out),
        "--model",
        "claude:claude-haiku-4-5",
        "--workers",
        "1",
        env_extra={"ANTHROPIC_API_KEY": DEFAULT_TEST_KEY, "ANTHROPIC_BASE_URL": messages_server.url},
    )
    assert result.returncode == 0, result.stderr
    assert "claude:claude-haiku-4-5" in result.stdout and "SIMULATED" not in result.stdout
    assert "real latency" in result.stdout
    assert "2 by the model" in result.stdout
    assert len(messages_server.message_requests) == 2
    packets = read_capture(out).packets
    replies = [p for p in packets if p.data[14:] in {echo_reply(r) for r in _requests()}]
    assert len(replies) == 2
    for reply, request_time in zip(replies, (T0 + 1, T0 + 2)):
        assert reply.ts_ns > round(request_time * 1e9)  # stamped with the real latency of the HTTP call


def test_pcap_missing_input(tmp_path):
    result = labkit("pcap", str(tmp_path / "nope.pcap"), "-o", str(tmp_path / "out.pcap"), "--model", "reference")
    _assert_clean_failure(result, tmp_path, set())
    assert "no such file" in result.stderr


def test_pcap_input_that_is_not_a_capture(tmp_path):
    (tmp_path / "in.pcap").write_text("GET / HTTP/1.1\r\n\r\n")
    result = labkit("pcap", str(tmp_path / "in.pcap"), "-o", str(tmp_path / "out.pcap"), "--model", "reference")
    _assert_clean_failure(result, tmp_path, {"in.pcap"})
    assert "not a pcap" in result.stderr


def test_pcap_truncated_input(capture, tmp_path):
    data = capture.read_bytes()
    capture.write_bytes(data[:-7])
    result = labkit("pcap", str(capture), "-o", str(tmp_path / "out.pcap"), "--model", "reference")
    _assert_clean_failure(result, tmp_path, {"in.pcap"})
    assert "truncated" in result.stderr


def test_pcap_claude_without_a_key_fails_cleanly(capture, tmp_path):
    result = labkit("pcap", str(capture), "-o", str(tmp_path / "out.pcap"), "--model", "claude")
    _assert_clean_failure(result, tmp_path, {"in.pcap"})
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_pcap_unknown_model_and_strategy(capture, tmp_path):
    bad_model = labkit("pcap", str(capture), "-o", str(tmp_path / "out.pcap"), "--model", "gpt")
    _assert_clean_failure(bad_model, tmp_path, {"in.pcap"})
    bad_strategy = labkit("pcap", str(capture), "-o", str(tmp_path / "out.pcap"), "--strategy", "telepathy")
    _assert_clean_failure(bad_strategy, tmp_path, {"in.pcap"})


# --- labkit bench ------------------------------------------------------------------------------------------


def test_bench_prints_the_table_and_resumes(tmp_path):
    out = tmp_path / "r.jsonl"
    first = labkit(
        "bench", "--model", "simulated:1", "--strategy", "zero-shot", "few-shot", "--n", "20", "--out", str(out)
    )
    assert first.returncode == 0, first.stderr
    assert "valid reply [95% CI]" in first.stdout and "few-shot" in first.stdout
    assert "40 attempts run" in first.stdout and "not Claude's" in first.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40 and {"accepted", "judge_reason", "wrong_fields"} <= rows[0].keys()
    again = labkit(
        "bench", "--model", "simulated:1", "--strategy", "zero-shot", "few-shot", "--n", "20", "--out", str(out)
    )
    assert "0 attempts run, 40 already in" in again.stdout
    assert again.stdout.splitlines()[2:4] == first.stdout.splitlines()[2:4]  # same table rows


def test_bench_several_models_in_one_run():
    result = labkit(
        "bench",
        "--model",
        "simulated:1:icmp_checksum=1.0",
        "--model",
        "reference",
        "--strategy",
        "zero-shot",
        "--n",
        "10",
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()
    simulated = next(line for line in table if line.startswith("simulated:1"))
    reference = next(line for line in table if line.startswith("reference"))
    assert simulated.count("100.0% [") == 1 and "0.0% [0.0%-" in simulated  # valid, but never accepted
    assert reference.count("100.0% [") == 2  # valid and accepted


def test_bench_stops_at_budget():
    result = labkit("bench", "--model", "simulated", "--strategy", "zero-shot", "--n", "50", "--budget-usd", "0.005")
    assert result.returncode == 0, result.stderr
    assert "stopped at budget" in result.stdout


def test_bench_interrupted_run_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "r.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_MODEL"}
    command = [
        sys.executable,
        "-c",
        "import sys; from labkit.cli import main; sys.exit(main())",
        "bench",
        "--model",
        "simulated:2:latency=0.02,real_time=1",
        "--n",
        "200",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 5):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and "interrupted" in stderr
    done = len(out.read_text().splitlines())
    assert 5 <= done < 200
    same = labkit(
        "bench", "--model", "simulated:2:latency=0.02,real_time=1", "--n", str(done + 2), "--out", str(out), timeout=60
    )
    assert same.returncode == 0, same.stderr
    assert f"2 attempts run, {done} already in" in same.stdout


def test_bench_bad_strategy_is_one_line():
    result = labkit("bench", "--strategy", "telepathy", "--n", "1")
    assert result.returncode == 2 and result.stderr.startswith("labkit: ") and "Traceback" not in result.stderr


# --- help and the default model (QA regressions) ----------------------------------------------------------


def test_top_level_help_explains_models_and_the_offline_default():
    result = labkit("--help")
    assert result.returncode == 0
    for name in ("simulated", "reference", "claude", "record:", "replay:", "ANTHROPIC_API_KEY", "LABKIT_MODEL"):
        assert name in result.stdout, name
    assert "no --model and no $LABKIT_MODEL" in result.stdout


def test_bench_help_shows_percent_signs_once():
    result = labkit("bench", "--help")
    assert "%%" not in result.stdout and "95% confidence" in result.stdout.replace("\n", " ")


def test_commands_without_a_model_say_they_use_the_simulated_default(capture, tmp_path):
    for args in (("bench", "--n", "1"), ("pcap", str(capture), "-o", str(tmp_path / "o.pcap"))):
        result = labkit(*args)
        assert result.returncode == 0, result.stderr
        assert "SIMULATED" in result.stderr and "offline default" in result.stderr, args


def test_interrupted_bench_says_its_results_are_saved_and_resumes(tmp_path):
    out = tmp_path / "b.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("LABKIT_MODEL", "ANTHROPIC_API_KEY")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from labkit.cli import main; sys.exit(main())",
            "bench",
            "--model",
            "simulated:1:latency=0.2,real_time=1",
            "--workers",
            "1",
            "--n",
            "200",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while (not out.exists() or out.read_text().count("\n") < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    saved = out.read_text().count("\n")
    assert f"they are saved in {out}" in err and "rerun the same command to resume" in err and "Traceback" not in err
    assert saved >= 2
