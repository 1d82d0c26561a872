"""Model names, the same everywhere (CLI --model, notebooks, $LABKIT_MODEL), and the banner saying which is used.

  reference                          the reference stack (code, not an LLM)
  simulated[:seed][:key=value,...]   the seeded offline stand-in -- NOT Claude (the default when nothing is set)
  claude[:model-id]                  Anthropic's Claude (default claude-haiku-4-5); needs ANTHROPIC_API_KEY
  replay:<file>                      answers recorded earlier, replayed offline
  record:<file>:<model>              any model above, with every answer also written to <file>

Simulated options (in the name, or as keyword arguments to get_model): latency=<seconds> (fixed), a rate per
failure mode (icmp_checksum, ip_checksum, digit_flip, type_copied, unswapped, truncated, prose, garbled;
0..1, set exactly for every strategy), errors=<factor> (scales the rates not set), stands_in_for=<model id>
(whose prices cost estimates use), fit=<file> (a recording to fit, or a saved SimulatedConfig JSON),
real_time=1 (sleep the latency for real). Example: simulated:7:icmp_checksum=1.0,latency=1.0
A file inside a name cannot contain "," (or ":" for fit=); pass get_model("simulated", fit=path) instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from labkit.errors import LabkitError
from labkit.models.base import Model

if TYPE_CHECKING:   # imported lazily at run time: the registry loads without building any model
    from labkit.models.simulated import SimulatedConfig

ENV_VAR = "LABKIT_MODEL"
OFFLINE_DEFAULT = "simulated"
DEFAULT_CLAUDE = "claude-haiku-4-5"
NAMES_HELP = ("reference, simulated[:seed][:key=value,...], claude[:model-id], replay:<file>, "
              "record:<file>:<model>")
_FLOAT_OPTIONS = ("latency", "errors")


def resolve_name(name: str | None = None) -> str:
    """The model name to use: the one given, else $LABKIT_MODEL, else the offline default "simulated"."""
    chosen = name if name is not None else os.environ.get(ENV_VAR, "").strip() or OFFLINE_DEFAULT
    chosen = str(chosen).strip()
    if not chosen:
        raise LabkitError(f"empty model name; use one of: {NAMES_HELP}")
    return chosen


def _split(name: str) -> tuple[str, str]:
    kind, _, rest = name.partition(":")
    return kind.strip().lower(), rest


def _bad(name: str, why: str) -> LabkitError:
    return LabkitError(f"bad model name {name!r}: {why}; use one of: {NAMES_HELP}")


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
    for item in (parts[0].split(",") if parts else []):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise _bad(name, f"option {item!r} is not key=value (e.g. simulated:7:latency=1.0)")
        options[key.strip()] = value.strip()
    return seed, options


def _simulated_kwargs(name: str, options: dict[str, object]) -> dict:
    from labkit.models.simulated import FAILURE_MODES, SimulatedConfig

    kwargs: dict = {}
    for key, value in options.items():
        if key in FAILURE_MODES or key in _FLOAT_OPTIONS:
            try:
                kwargs[key] = float(value)
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
            allowed = ", ".join(("latency", "errors", "real_time", "stands_in_for", "fit") + FAILURE_MODES)
            raise _bad(name, f"unknown simulated option {key!r} (options: {allowed})")
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
    if isinstance(data, dict) and "rates" in data:
        return SimulatedConfig.from_dict(data)
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


def _claude(name: str, rest: str, kw: dict) -> Model:
    model_id = rest.strip() or kw.pop("model_id", DEFAULT_CLAUDE)
    try:
        from labkit.models.claude import ClaudeModel
    except ImportError as error:
        raise LabkitError(f"the Claude model cannot load ({error}); reinstall labkit with its dependencies") from None
    try:
        return ClaudeModel(model_id=model_id, **kw)
    except TypeError as error:
        raise _bad(name, f"claude does not take these options ({error})") from None


def _recording() -> ModuleType:
    try:
        from labkit.models import recording
    except ImportError as error:
        raise LabkitError(f"recordings cannot load ({error})") from None
    return recording


def get_model(name: str | None = None, **kw) -> Model:
    """The model for a name (see the module docstring); None -> $LABKIT_MODEL -> "simulated".

    `seed` is accepted for every model, so runners can pass their --seed through, and used only by the
    simulated model (the others are deterministic or are real models that cannot be seeded).
    """
    name = resolve_name(name)
    kind, rest = _split(name)
    if kind == "simulated":
        return _simulated(name, rest, dict(kw))
    if kind != "record":
        kw.pop("seed", None)
    if kind == "reference":
        if rest.strip():
            raise _bad(name, "reference takes no options")
        if kw:
            raise _bad(name, f"reference takes no options (got {', '.join(kw)})")
        from labkit.models.reference import ReferenceModel
        return ReferenceModel()
    if kind == "claude":
        return _claude(name, rest, dict(kw))
    if kind == "replay":
        if not rest.strip():
            raise _bad(name, "give the recording to replay, e.g. replay:recordings/haiku.jsonl")
        return _recording().ReplayModel(rest.strip(), **kw)
    if kind == "record":
        path, sep, inner = rest.partition(":")
        if not sep or not path.strip() or not inner.strip():
            raise _bad(name, "record needs a file and a model, e.g. record:haiku.jsonl:claude")
        return _recording().RecordingModel(path.strip(), get_model(inner.strip(), **kw))
    raise _bad(name, f"unknown model kind {kind!r}")


def describe_model(name: str | None = None) -> str:
    """One line saying what a name means -- simulated ones say SIMULATED and NOT Claude. Builds no API client."""
    name = resolve_name(name)
    kind, rest = _split(name)
    if kind in ("simulated", "reference"):
        return get_model(name).describe()
    if kind == "claude":
        model_id = rest.strip() or DEFAULT_CLAUDE
        return (f"claude:{model_id} -- Anthropic's Claude ({model_id}) through the Messages API: real calls, "
                "real latency, real cost (needs ANTHROPIC_API_KEY)")
    if kind == "replay":
        return (f"{name} -- answers recorded earlier, replayed offline with their recorded latency (virtual); "
                "the recording says which model gave them")
    if kind == "record":
        path, _, inner = rest.partition(":")
        return f"{describe_model(inner.strip() or None)}; every answer also recorded to {path.strip()}"
    raise _bad(name, f"unknown model kind {kind!r}")


def describe_default() -> str:
    """The banner a notebook or the CLI prints first: which model answers, and where that choice came from."""
    from_env = os.environ.get(ENV_VAR, "").strip()
    origin = (f"chosen by ${ENV_VAR}" if from_env else
              f"the offline default; set ${ENV_VAR} (or --model) to choose, e.g. {ENV_VAR}=claude")
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
