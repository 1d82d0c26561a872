"""Model names: the same grammar everywhere, clear errors for bad names, and a banner that never hides simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.errors import LabkitError, ModelError
from labkit.models import describe_default, describe_model, get_model
from labkit.models.reference import ReferenceModel
from labkit.models.registry import KINDS, NAMES_HELP, markdown_table, models_help
from labkit.models.simulated import SimulatedModel
from labkit.packets import echo_request

REQUEST = echo_request()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_MODEL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def test_default_is_the_simulated_model_and_the_banner_says_so() -> None:
    model = get_model()
    assert isinstance(model, SimulatedModel) and model.name == "simulated:0"
    banner = describe_default()
    assert "SIMULATED" in banner and "NOT Claude" in banner and "LABKIT_MODEL" in banner


def test_environment_variable_chooses_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_MODEL", "reference")
    assert isinstance(get_model(), ReferenceModel)
    assert "not an LLM" in describe_default() and "chosen by $LABKIT_MODEL" in describe_default()
    assert isinstance(get_model("simulated:2"), SimulatedModel)  # an explicit name wins over the variable
    monkeypatch.setenv("LABKIT_MODEL", "claude")
    banner = describe_default()
    assert "Claude (claude-haiku-4-5)" in banner and "SIMULATED" not in banner


@pytest.mark.parametrize(
    "name, expected",
    [
        ("simulated", "simulated:0"),
        ("simulated:7", "simulated:7"),
        ("Simulated:7", "simulated:7"),
        ("simulated:7:icmp_checksum=1.0,latency=1.0", "simulated:7:icmp_checksum=1.0,latency=1.0"),
        ("simulated:latency=0.5", "simulated:0:latency=0.5"),
        ("reference", "reference"),
    ],
)
def test_names_parse(name: str, expected: str) -> None:
    model = get_model(name)
    assert model.name == expected
    assert get_model(model.name).name == expected  # the name a model reports builds the same model again


def test_simulated_options_take_effect() -> None:
    model = get_model("simulated:7:icmp_checksum=1.0,latency=1.0")
    attempt = model.attempt(REQUEST)
    assert attempt.latency_s == 1.0
    assert model.config.forced["icmp_checksum"] == 1.0
    keyword = get_model("simulated", seed=7, latency=1.0, icmp_checksum=1.0)
    assert keyword.name == "simulated:7:latency=1.0,icmp_checksum=1.0"
    assert keyword.attempt(REQUEST).raw_text == attempt.raw_text
    assert get_model("simulated:1:real_time=1,latency=0").real_time


def test_claude_names_build_the_claude_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    default = get_model("claude")
    assert default.name == "claude:claude-haiku-4-5" and not default.simulated
    assert get_model("claude:claude-sonnet-4-5").model_id == "claude-sonnet-4-5"
    assert "Messages API" in describe_model("claude:claude-opus-4-5")


def test_claude_without_a_key_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY"):
        get_model("claude")
    assert "claude-haiku-4-5" in describe_model("claude")  # the banner needs no key


def test_record_and_replay_names(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    recorder = get_model(f"record:{path}:simulated:3")
    first = recorder.attempt(REQUEST, "spec")
    assert recorder.simulated and "simulated" in recorder.name
    replay = get_model(f"replay:{path}")
    again = replay.attempt(REQUEST, "spec")
    assert again.raw_text == first.raw_text and again.simulated
    assert "recorded to" in describe_model(f"record:{path}:simulated:3")
    assert "SIMULATED" in describe_model(f"record:{path}:simulated:3")


@pytest.mark.parametrize(
    "name, why",
    [
        ("gpt-4", "unknown model kind"),
        ("  ", "empty model name"),
        ("simulated:seven", "whole number"),
        ("simulated:-1", "0 or more"),
        ("simulated:7:bogus=1", "unknown simulated option"),
        ("simulated:7:latency", "key=value"),
        ("simulated:7:latency=soon", "must be a number"),
        ("simulated:7:icmp_checksum=2", "between 0 and 1"),
        ("simulated:7:copy_slip=-0.1", "between 0 and 1"),
        ("messages:qwen2.5:7b", "messages needs"),
        ("simulated:7:fit=/nonexistent/recording.jsonl", "no such file"),
        ("reference:3", "no options"),
        ("replay:", "give the recording"),
        ("record:only-a-file.jsonl", "record needs a file and a model"),
        ("replay:/nonexistent/recording.jsonl", "no recording"),
    ],
)
def test_bad_names_give_a_clear_labkit_error(name: str, why: str) -> None:
    with pytest.raises(LabkitError, match=why) as raised:
        get_model(name)
    assert "\n" not in str(raised.value)


def test_bad_names_list_the_grammar(tmp_path) -> None:
    with pytest.raises(LabkitError, match=r"simulated\[:seed\]"):
        get_model("gpt-4")
    with pytest.raises(LabkitError, match="no options"):
        get_model("reference", latency=3)
    assert get_model("reference", seed=3).name == "reference"  # runners pass --seed to every model
    assert get_model(f"record:{tmp_path / 'run.jsonl'}:simulated", seed=4).inner.name == "simulated:4"


def test_choose_model_falls_back_to_the_offline_default(monkeypatch) -> None:
    from labkit.models import choose_model

    monkeypatch.delenv("LABKIT_MODEL", raising=False)
    model = choose_model()
    assert model.simulated and "simulated" in model.name


def test_choose_model_replays_a_named_recording(tmp_path) -> None:
    from labkit.errors import LabkitError
    from labkit.models import choose_model

    with pytest.raises(LabkitError, match="missing.jsonl"):
        choose_model(recording=str(tmp_path / "missing.jsonl"))


def test_choose_model_asks_for_the_key_and_never_prints_it(monkeypatch, capsys) -> None:
    from labkit.models import choose_model

    secret = "sk-ant-typed-in-class-0000"
    monkeypatch.setattr("getpass.getpass", lambda prompt="": secret)
    model = choose_model(ask_for_key=True)
    assert model.name.startswith("claude")
    print(model.describe(), repr(model))
    assert secret not in capsys.readouterr().out


README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_model_table_is_generated_from_the_registry() -> None:
    assert markdown_table() in README.read_text(encoding="utf-8")


def test_help_texts_come_from_the_kinds() -> None:
    from labkit.cli import build_parser

    epilog = build_parser().epilog or ""
    for kind in KINDS.values():
        assert kind.grammar in NAMES_HELP and kind.grammar in models_help() and kind.grammar in epilog
        assert kind.help in epilog


def test_every_kind_describes_its_example_without_a_key() -> None:
    for kind in KINDS.values():
        if kind.kind in ("replay",):
            continue  # describing a replay needs no file, but its example is not shipped
        line = describe_model(kind.example)
        assert line and "\n" not in line
        if kind.kind == "simulated":
            assert "SIMULATED" in line and "NOT Claude" in line
