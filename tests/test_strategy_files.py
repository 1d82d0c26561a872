"""Student strategies: a template or a class, from a notebook cell or a .py file, through run_bench and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from labkit_cli import run_labkit

from labkit.bench import run_bench, summarise
from labkit.errors import LabkitError
from labkit.models.reference import ReferenceModel
from labkit.packets import echo_request, echo_request_v6
from labkit.prompts import STRATEGIES, Spec
from labkit.stack import echo_reply
from labkit.strategy_files import load_strategy, resolve_strategies, resolve_strategy, template_strategy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "strategies"


@pytest.mark.parametrize("answer", ["hex", "final-hex", "fields"])
def test_a_template_is_filled_and_reads_its_own_perfect_answer(answer) -> None:
    mine = template_strategy("mine", "IPv{version}, {length} bytes: {hex} / {words}", answer=answer)
    for request in (echo_request(), echo_request_v6()):
        prompt = mine.build(request)
        assert request.hex() in prompt.user and f"IPv{request[0] >> 4}, {len(request)} bytes" in prompt.user
        reply = echo_reply(request)
        assert mine.answer_to_reply(mine.render_answer(reply, request), request).data == reply


@pytest.mark.parametrize(
    "template, message",
    [
        ("x {foo} {hex}", "{foo}"),
        ("no packet here", "never shows the packet"),
        ("{hex", "template"),
    ],
)
def test_a_bad_template_is_one_line(template, message) -> None:
    with pytest.raises(LabkitError) as caught:
        template_strategy("bad", template)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_name_must_not_hide_a_built_in() -> None:
    with pytest.raises(LabkitError, match="built-in"):
        template_strategy("zero-shot", "{hex}")
    assert resolve_strategy("spec") is STRATEGIES["spec"]
    assert resolve_strategy(Spec).name == "spec"


def test_a_strategy_that_cannot_read_its_own_answer_is_refused() -> None:
    class Broken(Spec):
        name = "broken"

        def answer_to_reply(self, text, request):
            return super().answer_to_reply(text[:-4], request)

    with pytest.raises(LabkitError, match="cannot read its own perfect answer"):
        resolve_strategy(Broken())


def test_a_cell_strategy_runs_in_run_bench_next_to_a_built_in() -> None:
    mine = template_strategy("mine", "Reply to {hex} in hex.")
    frame = run_bench([ReferenceModel()], [mine, "zero-shot"], n=5)
    summary = summarise(frame).set_index("strategy")
    assert list(summary.index) == ["mine", "zero-shot"]
    assert summary.loc["mine", "accept_rate"] == 1.0  # the reference stack answers every request right
    assert all(isinstance(name, str) for name in frame["strategy"])


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_every_example_loads(path) -> None:
    strategy = load_strategy(path)
    assert strategy.name and strategy.name not in STRATEGIES


@pytest.mark.parametrize(
    "source, message",
    [
        ("def broken(:", "SyntaxError"),
        ("raise RuntimeError('boom')", "RuntimeError: boom"),
        ("X = 1", "define STRATEGY"),
        ("STRATEGY = 'no packet'", "never shows the packet"),
    ],
)
def test_a_broken_file_is_one_line_naming_it(tmp_path, source, message) -> None:
    path = tmp_path / "student.py"
    path.write_text(source)
    with pytest.raises(LabkitError) as caught:
        load_strategy(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_two_strategies_with_one_name_are_an_error() -> None:
    with pytest.raises(LabkitError, match="two strategies"):
        resolve_strategies([template_strategy("same", "{hex}"), template_strategy("same", "a {hex}")])


def test_bench_cli_takes_a_path() -> None:
    path = EXAMPLES / "terse-template.py"
    done = run_labkit("bench", "--model", "reference", "--strategy", str(path), "zero-shot", "--n", "3")
    assert done.returncode == 0, done.stderr
    assert "terse-template" in done.stdout and "zero-shot" in done.stdout
    bad = run_labkit("bench", "--model", "reference", "--strategy", "missing.py", "--n", "1")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "missing.py" in bad.stderr


@pytest.mark.parametrize("answer", ["hex", "final-hex", "fields"])
def test_every_answer_format_survives_the_simulated_models_mistakes(answer) -> None:
    mine = template_strategy(f"mine-{answer}", "{hex}", answer=answer)
    frame = run_bench(["simulated"], [mine], n=150)
    assert len(frame) == 150 and 0 < frame["accepted"].sum() < 150
