"""The bake-off: three example strategies and a broken one, one command, a leaderboard and a plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from labkit.bakeoff import BAKEOFF_SEED, leaderboard, leaderboard_table, run_bakeoff
from labkit.bench import BenchRequest, make_request
from labkit.models.reference import ReferenceModel
from labkit.strategy_files import template_strategy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "strategies"


def test_the_command_scores_the_examples_reports_the_broken_one_and_writes_the_plot(tmp_path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('no module named magic')\n")
    plot = tmp_path / "board.png"
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from labkit.cli import main; sys.exit(main())", "bakeoff",
         str(EXAMPLES), str(broken), "--model", "simulated", "--n", "40", "--plot", str(plot)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("broken:")] == [
        f"broken: {broken}: ImportError: no module named magic"]
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
    assert str(result.evidence).startswith("MEASURED")   # the reference stack is not simulated
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
    return [{"model": "m", "strategy": name, "simulated": True, "valid_reply": True, "accepted": i < accepted,
             "correct": i < accepted, "reply_bytes": 84, "byte_errors": 0, "wrong_fields": [], "latency_s": 1.0,
             "input_tokens": 10, "output_tokens": tokens, "cost_usd": 0.0} for i in range(n)]


def test_ranks_front_and_ties_follow_the_intervals() -> None:
    frame = pd.DataFrame(_row("big", 90, 100, 300) + _row("small", 85, 100, 40) + _row("bad", 30, 100, 50))
    board = leaderboard(frame).set_index("strategy")
    assert list(board["rank"]) == [1, 2, 3]
    assert board.loc["big", "vs_leader"] == "leader"
    assert board.loc["small", "vs_leader"] == "overlaps"     # 85/100 and 90/100: Wilson intervals overlap
    assert board.loc["bad", "vs_leader"] == "below"
    assert dict(board["pareto"]) == {"big": True, "small": True, "bad": False}   # bad: small beats it on both
    assert isinstance(make_request(0, 0), BenchRequest)
