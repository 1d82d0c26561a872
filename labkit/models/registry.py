"""Model names, the same everywhere (CLI --model, notebooks, $LABKIT_MODEL), and the banner saying which is used.

Each model kind is ONE entry of KINDS: its name grammar, its one-line help, how a name builds the model and
how a name is described (without building an API client). NAMES_HELP, the CLI's model list and the README's
model table are generated from KINDS (tests/test_registry.py checks the README), so adding a kind means
adding one ModelKind here plus its module and tests -- see docs/extending.md.

Simulated options (in the name, or as keyword arguments to get_model) are listed by
labkit.models.simulated.OPTION_HELP. A file inside a name cannot contain "," (or ":" for fit=); pass
get_model("simulated", fit=path) instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from labkit.errors import LabkitError
from labkit.models.base import Model

if TYPE_CHECKING:  # imported lazily at run time: the registry loads without building any model
    from labkit.models.simulated import SimulatedConfig

ENV_VAR = "LABKIT_MODEL"
OFFLINE_DEFAULT = "simulated"
DEFAULT_CLAUDE = "claude-haiku-4-5"


@dataclass(frozen=True)
class ModelKind:
    """One kind of model: everything labkit knows about it, in one place."""

    kind: str  # the word before the first ":"
    grammar: str  # how a name of this kind is written
    help: str  # one line for --help and the README
    example: str  # a name that works (offline where possible)
    build: Callable[[str, str, dict], Model]  # (whole name, text after "kind:", keyword options)
    describe: Callable[[str, str], str]  # (whole name, rest) -> one line; builds no API client
    takes_seed: bool = False  # does --seed mean anything to it


def resolve_name(name: str | None = None) -> str:
    """The model name to use: the one given, else $LABKIT_MODEL, else the offline default "simulated"."""
    chosen = name if name is not None else os.environ.get(ENV_VAR, "").strip() or OFFLINE_DEFAULT
    chosen = str(chosen).strip()
    if not chosen:
        raise LabkitError(f"empty model name; use one of: {names_help()}")
    return chosen


def _split(name: str) -> tuple[str, str]:
    kind, _, rest = name.partition(":")
    return kind.strip().lower(), rest


def _bad(name: str, why: str) -> LabkitError:
    return LabkitError(f"bad model name {name!r}: {why}; use one of: {names_help()}")


# --- simulated --------------------------------------------------------------------------------------------


def _parse_simulated(name: str, rest: str) -> tuple[int, dict[str, str]]:
    """(seed, options as text) from the part after "simulated:"."""
    seed, options = 0, {}
    parts = rest.split(":", 1) if rest else []
    if parts and "=" not in parts[0]:
        try:
            seed = int(parts.pop(0))
        except ValueError:
            raise _bad(name, "the seed after simulated: must be a whole number, e.g. simulated:7") from None
        if seed < 0:
            raise _bad(name, "the seed must be 0 or more")
    for item in parts[0].split(",") if parts else []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise _bad(name, f"option {item!r} is not key=value (e.g. simulated:7:latency=1.0)")
        options[key.strip()] = value.strip()
    return seed, options


def _simulated_kwargs(name: str, options: dict[str, object]) -> dict:
    from labkit.models.simulated import NUMBER_OPTIONS, OPTION_NAMES, SimulatedConfig

    kwargs: dict = {}
    for key, value in options.items():
        if key in NUMBER_OPTIONS:
            try:
                kwargs[key] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise _bad(name, f"{key} must be a number, not {value!r}") from None
        elif key == "real_time":
            kwargs[key] = str(value).strip().lower() in ("1", "true", "yes", "on")
        elif key == "stands_in_for":
            kwargs[key] = str(value)
        elif key == "fit":
            kwargs["config"] = load_simulated_config(str(value))
        elif key == "config":
            if not isinstance(value, SimulatedConfig):
                raise _bad(name, "config= takes a SimulatedConfig; use fit=<file> to load one from a file")
            kwargs[key] = value
        else:
            raise _bad(name, f"unknown simulated option {key!r} (options: {', '.join(OPTION_NAMES)})")
    return kwargs


def load_simulated_config(path: str) -> SimulatedConfig:
    """A SimulatedConfig from a saved config JSON, or fitted from a recording JSONL."""
    from labkit.models.fit import fit_recording
    from labkit.models.simulated import SimulatedConfig

    file = Path(path)
    if not file.is_file():
        raise LabkitError(f"fit={path}: no such file; give a recording (JSONL) or a saved simulated config (JSON)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and "mechanisms" in data:
        return SimulatedConfig.from_dict(data)
    if isinstance(data, dict) and "rates" in data:
        raise LabkitError(
            f"fit={path} is an old simulated config (fixed failure-mode rates); fit the recording "
            "it came from again: the simulator now models mechanisms"
        )
    return fit_recording(file)


def _simulated(name: str, rest: str, kw: dict) -> Model:
    from labkit.models.simulated import SimulatedModel

    seed, text_options = _parse_simulated(name, rest)
    seed = int(kw.pop("seed", seed))
    options: dict[str, object] = {**text_options, **kw}
    canonical = f"simulated:{seed}"
    shown = [f"{key}={value}" for key, value in options.items() if key != "config"]
    if shown:
        canonical += ":" + ",".join(shown)
    return SimulatedModel(seed, name=canonical, **_simulated_kwargs(name, options))


def _describe_built(name: str, rest: str) -> str:
    return get_model(name).describe()


# --- reference, claude, messages ----------------------------------------------------------------------------


def _reference(name: str, rest: str, kw: dict) -> Model:
    if rest.strip():
        raise _bad(name, "reference takes no options")
    if kw:
        raise _bad(name, f"reference takes no options (got {', '.join(kw)})")
    from labkit.models.reference import ReferenceModel

    return ReferenceModel()


def _claude_module() -> ModuleType:
    try:
        from labkit.models import claude
    except ImportError as error:
        raise LabkitError(f"the Claude model cannot load ({error}); reinstall labkit with its dependencies") from None
    return claude


def _claude(name: str, rest: str, kw: dict) -> Model:
    model_id = rest.strip() or kw.pop("model_id", DEFAULT_CLAUDE)
    try:
        return _claude_module().ClaudeModel(model_id=model_id, **kw)
    except TypeError as error:
        raise _bad(name, f"claude does not take these options ({error})") from None


def _describe_claude(name: str, rest: str) -> str:
    model_id = rest.strip() or DEFAULT_CLAUDE
    return (
        f"claude:{model_id} -- Anthropic's Claude ({model_id}) through the Messages API: real calls, "
        "real latency, real cost (needs ANTHROPIC_API_KEY)"
    )


def _messages_parts(name: str, rest: str) -> tuple[str, str]:
    from labkit.models.messages import split_name

    try:
        return split_name(rest)
    except LabkitError as error:
        raise _bad(name, str(error)) from None


def _messages(name: str, rest: str, kw: dict) -> Model:
    model_id, url = _messages_parts(name, rest)
    _claude_module()
    from labkit.models.messages import MessagesModel

    try:
        return MessagesModel(model_id, url, **kw)
    except TypeError as error:
        raise _bad(name, f"messages does not take these options ({error})") from None


def _describe_messages(name: str, rest: str) -> str:
    from labkit.models.messages import display_name

    model_id, url = _messages_parts(name, rest)
    return (
        f"{display_name(model_id, url)} -- {model_id} on a Messages API server (Ollama, llama-server, "
        "vLLM, LiteLLM): real calls, real latency, cost unknown"
    )


# --- recordings ---------------------------------------------------------------------------------------------


def _recording() -> ModuleType:
    try:
        from labkit.models import recording
    except ImportError as error:
        raise LabkitError(f"recordings cannot load ({error})") from None
    return recording


def _replay(name: str, rest: str, kw: dict) -> Model:
    if not rest.strip():
        raise _bad(name, "give the recording to replay, e.g. replay:recordings/haiku.jsonl")
    return _recording().ReplayModel(rest.strip(), **kw)


def _describe_replay(name: str, rest: str) -> str:
    return (
        f"{name} -- answers recorded earlier, replayed offline with their recorded latency (virtual); "
        "the recording says which model gave them"
    )


def _record_parts(name: str, rest: str) -> tuple[str, str]:
    path, sep, inner = rest.partition(":")
    if not sep or not path.strip() or not inner.strip():
        raise _bad(name, "record needs a file and a model, e.g. record:haiku.jsonl:claude")
    return path.strip(), inner.strip()


def _record(name: str, rest: str, kw: dict) -> Model:
    path, inner = _record_parts(name, rest)
    return _recording().RecordingModel(path, get_model(inner, **kw))


def _describe_record(name: str, rest: str) -> str:
    path, inner = _record_parts(name, rest)
    return f"{describe_model(inner)}; every answer also recorded to {path}"


KINDS: dict[str, ModelKind] = {
    kind.kind: kind
    for kind in (
        ModelKind(
            "reference",
            "reference",
            "labkit's reference stack (answers like Linux; code, not an LLM)",
            "reference",
            _reference,
            _describe_built,
        ),
        ModelKind(
            "simulated",
            "simulated[:seed][:key=value,...]",
            "the offline default: a seeded stand-in that makes an LLM's mistakes by mechanism; "
            "its output always says SIMULATED; it is not Claude",
            "simulated:7",
            _simulated,
            _describe_built,
            takes_seed=True,
        ),
        ModelKind(
            "claude",
            "claude[:model-id]",
            f"Claude via the anthropic SDK; needs ANTHROPIC_API_KEY (default {DEFAULT_CLAUDE})",
            "claude:claude-haiku-4-5",
            _claude,
            _describe_claude,
        ),
        ModelKind(
            "messages",
            "messages:<model-id>@<url>",
            "any Messages API server (Ollama, llama-server, vLLM, LiteLLM); cost unknown",
            "messages:qwen2.5:7b@http://localhost:11434",
            _messages,
            _describe_messages,
        ),
        ModelKind(
            "replay",
            "replay:<file>",
            "replay a recording, offline and deterministic",
            "replay:recordings/haiku.jsonl",
            _replay,
            _describe_replay,
        ),
        ModelKind(
            "record",
            "record:<file>:<model>",
            "run <model> and record every exchange to <file> (never keys or headers)",
            "record:haiku.jsonl:claude",
            _record,
            _describe_record,
            takes_seed=True,
        ),
    )
}


def names_help() -> str:
    """Every kind's grammar, comma-separated: what errors list."""
    return ", ".join(kind.grammar for kind in KINDS.values())


NAMES_HELP = names_help()


def models_help() -> str:
    """The CLI's model section (labkit --help), one line per kind."""
    width = max(len(kind.grammar) for kind in KINDS.values()) + 2
    lines = [f"  {kind.grammar:<{width}}{kind.help}" for kind in KINDS.values()]
    return (
        "models (--model NAME, or $LABKIT_MODEL for every command):\n" + "\n".join(lines) + "\n\n"
        "With no --model and no $LABKIT_MODEL every command uses the simulated model, offline, and says so.\n"
    )


def markdown_table() -> str:
    """The README's model table, generated from KINDS (tests check the README holds exactly this)."""
    rows = [f"| `{kind.grammar}` | {kind.help} | `{kind.example}` |" for kind in KINDS.values()]
    return "\n".join(["| name | what it is | example |", "|---|---|---|", *rows])


def _kind_of(name: str) -> tuple[ModelKind, str]:
    kind, rest = _split(name)
    found = KINDS.get(kind)
    if found is None:
        raise _bad(name, f"unknown model kind {kind!r}")
    return found, rest


def get_model(name: str | None = None, **kw) -> Model:
    """The model for a name (see KINDS); None -> $LABKIT_MODEL -> "simulated".

    `seed` is accepted for every model, so runners can pass their --seed through, and used only by kinds that
    take it (the simulated model, and a recording of one); the others are deterministic or real models.
    """
    name = resolve_name(name)
    kind, rest = _kind_of(name)
    if not kind.takes_seed:
        kw.pop("seed", None)
    return kind.build(name, rest, dict(kw))


def describe_model(name: str | None = None) -> str:
    """One line saying what a name means -- simulated ones say SIMULATED and NOT Claude. Builds no API client."""
    name = resolve_name(name)
    kind, rest = _kind_of(name)
    return kind.describe(name, rest)


def describe_default() -> str:
    """The banner a notebook or the CLI prints first: which model answers, and where that choice came from."""
    from_env = os.environ.get(ENV_VAR, "").strip()
    origin = (
        f"chosen by ${ENV_VAR}"
        if from_env
        else f"the offline default; set ${ENV_VAR} (or --model) to choose, e.g. {ENV_VAR}=claude"
    )
    return f"Model: {describe_model(None)} ({origin})"


def choose_model(*, ask_for_key: bool = False, recording: str | None = None) -> Model:
    """The notebooks' model choice, in one place: Claude with a key typed now (hidden input, kept only in
    this process's memory), else a recording to replay, else $LABKIT_MODEL, else the offline simulated model.

    The key is handed straight to the client and never printed or put in the environment, so it cannot end
    up in a notebook's saved output.
    """
    if ask_for_key:
        from getpass import getpass

        return get_model("claude", api_key=getpass("Anthropic API key (input hidden): "))
    if recording:
        return get_model(f"replay:{recording}")
    return get_model()
