"""The bake-off: three example strategies and a broken one, one command, a leaderboard and a plot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from labkit_cli import api_env, run_labkit
from messages_server import DEFAULT_TEST_KEY

from labkit.bakeoff import BAKEOFF_SEED, leaderboard, leaderboard_table, run_bakeoff
from labkit.bench import BenchRequest, make_request
from labkit.models.reference import ReferenceModel
from labkit.strategy_files import template_strategy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "strategies"


@pytest.fixture
def bakeoff():
    """`labkit bakeoff examples/strategies/ ARGS`: the command as a class runs it."""

    def run(*args: str, env_extra: dict | None = None):
        return run_labkit("bakeoff", str(EXAMPLES), *args, env_extra=env_extra, timeout=300)

    return run


def test_the_command_scores_the_examples_reports_the_broken_one_and_writes_the_plot(bakeoff, tmp_path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('no module named magic')\n")
    plot = tmp_path / "board.png"
    done = bakeoff(str(broken), "--model", "simulated", "--n", "40", "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("broken:")] == [
        f"broken: {broken}: ImportError: no module named magic"
    ]
    for name in ("terse-template", "words-spec", "checklist"):
        assert any(name in line for line in lines), name
    assert "accepted [95% CI]" in done.stdout and "SIMULATED prediction" in done.stdout
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert "Traceback" not in done.stderr


def test_every_strategy_gets_the_same_requests_and_none_is_printed() -> None:
    a, b = template_strategy("a", "{hex}"), template_strategy("b", "Reply: {hex}")
    result = run_bakeoff([a, b], model=ReferenceModel(), n=6)
    by = result.results.groupby("strategy")["request_hex"].apply(list)
    assert by["a"] == by["b"] == [make_request(BAKEOFF_SEED, i).packet.hex() for i in range(6)]
    assert result.broken == [] and list(result.board["accept_rate"]) == [1.0, 1.0]
    assert str(result.evidence).startswith("MEASURED")  # the reference stack is not simulated
    assert make_request(BAKEOFF_SEED, 0).packet.hex() not in leaderboard_table(result.board)


def test_a_strategy_that_fails_while_running_costs_one_line() -> None:
    class Crashes(type(template_strategy("x", "{hex}"))):
        def build(self, request):
            if len(request) > 300:
                raise ZeroDivisionError("student bug")
            return super().build(request)

    crash = Crashes("crashes", "{hex}")
    result = run_bakeoff([crash, template_strategy("fine", "{hex}")], model=ReferenceModel(), n=20)
    assert result.broken == [("crashes", "failed while running: ZeroDivisionError: student bug")]
    assert list(result.board["strategy"]) == ["fine"]


def _row(name, accepted, n, tokens) -> list[dict]:
    return [
        {
            "model": "m",
            "strategy": name,
            "simulated": True,
            "valid_reply": True,
            "accepted": i < accepted,
            "correct": i < accepted,
            "reply_bytes": 84,
            "byte_errors": 0,
            "wrong_fields": [],
            "latency_s": 1.0,
            "input_tokens": 10,
            "output_tokens": tokens,
            "cost_usd": 0.0,
        }
        for i in range(n)
    ]


def test_ranks_front_and_ties_follow_the_intervals() -> None:
    frame = pd.DataFrame(_row("big", 90, 100, 300) + _row("small", 85, 100, 40) + _row("bad", 30, 100, 50))
    board = leaderboard(frame).set_index("strategy")
    assert list(board["rank"]) == [1, 2, 3]
    assert board.loc["big", "vs_leader"] == "leader"
    assert board.loc["small", "vs_leader"] == "overlaps"  # 85/100 and 90/100: Wilson intervals overlap
    assert board.loc["bad", "vs_leader"] == "below"
    assert dict(board["pareto"]) == {"big": True, "small": True, "bad": False}  # bad: small beats it on both
    assert isinstance(make_request(0, 0), BenchRequest)


def _obedient(server, request):
    """A perfect, obedient model that is not labkit's: it finds the request's hex in the prompt and answers
    with the reference reply as hex."""
    from messages_server import text

    from labkit.packets import to_hex
    from labkit.parse import extract_hex
    from labkit.stack import echo_reply

    content = request.body["messages"][-1]["content"]
    prompt = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)
    packet = extract_hex(prompt.split(":", 1)[-1]).data
    return text(to_hex(echo_reply(packet)))(server, request)


def test_the_bakeoff_runs_against_another_model_by_name(bakeoff, messages_server, tmp_path) -> None:
    n = 4
    messages_server.script(*[_obedient] * (3 * n))
    plot, env = str(tmp_path / "p.png"), api_env(messages_server)
    done = bakeoff("--model", "claude", "--n", str(n), "--plot", plot, "--workers", "1", env_extra=env)
    assert done.returncode == 0, done.stderr
    assert "MEASURED: claude:claude-haiku-4-5" in done.stdout
    assert done.stdout.count("100.0% [") == 3 and "broken:" not in done.stdout
    assert DEFAULT_TEST_KEY not in done.stdout + done.stderr
    assert len(messages_server.message_requests) == 3 * n


def test_a_replay_that_lacks_the_prompts_reports_each_strategy_in_one_line(bakeoff, tmp_path) -> None:
    recording = tmp_path / "class.jsonl"
    run_labkit("bench", "--model", f"record:{recording}:simulated", "--n", "2")
    done = bakeoff("--model", f"replay:{recording}", "--n", "2", "--plot", "none")
    broken = [line for line in done.stdout.splitlines() if line.startswith("broken:")]
    assert len(broken) == 3 and all("no recording of this prompt" in line for line in broken)
    assert done.returncode == 1 and "Traceback" not in done.stderr
