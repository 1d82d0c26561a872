"""Record what a model said, and replay it later: a lab that ran once against Claude runs again offline.

A recording is a JSONL file, one line per exchange: the request hex, the strategy, the prompt (system,
user, tools, max_tokens), the model's final text, usage, latency, tool calls, the model name and id,
and the time (ISO 8601, UTC). labkit.models.fit reads the same lines to fit the simulated model. It holds
nothing from the transport: no API key, no headers, no base URL.

Replay is keyed on the prompt: the SHA-256 of its system, user and tools (see `prompt_key`), so the
same packet asked with the same strategy finds its answer whatever order the requests come in. When a
prompt was recorded several times, replay hands the answers out in recorded order and then cycles
(1st call -> 1st answer, 2nd -> 2nd, ..., then back to the 1st), so a bench that asked the same packet
N times sees the same N answers again. Replayed latency is the recorded one, reported as virtual.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from labkit.errors import LabkitError
from labkit.models.base import Completion, Model, Usage
from labkit.packets import to_hex
from labkit.prompts import Prompt, Strategy

RECORDING_FORMAT = 1
T = TypeVar("T")


def prompt_key(prompt: Prompt) -> str:
    """SHA-256 of the prompt's full text: system, user and tool definitions (not max_tokens)."""
    canonical = json.dumps(
        {"system": prompt.system, "user": prompt.user, "tools": [dict(tool) for tool in prompt.tools]},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _record_hint(path: Path) -> str:
    return f"record it with model 'record:{path}:claude' (or record:{path}:<model>)"


def _not_a_regular_file(path: Path) -> str:
    """What an existing path is when it is not an ordinary file (symlinks followed)."""
    return "a directory" if path.is_dir() else "not a regular file (a device, pipe or socket)"


def _check_record_path(path: Path) -> None:
    """Refuse a recording path that cannot take appended lines, now, before any (possibly paid) call.

    Why: appending to a device or pipe blocks or never lands, and a missing directory is a typo more
    often than a wish, so it is refused rather than created (as `labkit pcap -o` and `bench --out` do).
    """
    target = Path(os.path.realpath(path))  # a symlink is followed: the file it points to is appended to
    if target.exists():
        if not target.is_file():
            raise LabkitError(f"{path}: is {_not_a_regular_file(target)}; record to a regular file, e.g. haiku.jsonl")
        if not os.access(target, os.W_OK):
            raise LabkitError(f"{path}: cannot write (permission denied); choose another recording path")
        return
    if not target.parent.is_dir():
        raise LabkitError(
            f"{path}: directory {target.parent} does not exist; create it or choose another recording path"
        )
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise LabkitError(f"{path}: cannot write in {target.parent} (permission denied); choose another recording path")


class RecordingModel(Model):
    """Wraps any model; every completion is also appended to a JSONL file (one line per exchange).

    The path is checked when the model is built; the file is created only by the first exchange recorded,
    so a run in which no call succeeds leaves no empty recording behind.
    """

    def __init__(self, path: str | Path, inner: Model) -> None:
        self.path = Path(path)
        self.inner = inner
        self.name = f"record:{self.path}:{inner.name}"
        self.model_id = inner.model_id
        self.simulated = inner.simulated
        self.virtual_time = inner.virtual_time
        self.priced_as = inner.priced_as
        self._lock = threading.Lock()
        _check_record_path(self.path)

    def describe(self) -> str:
        return f"{self.inner.describe()}; every answer also recorded to {self.path}"

    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        """Ask the inner model, then append the exchange; a failed call is not recorded."""
        completion = self.inner.complete(prompt, strategy, request)
        line = {
            "format": RECORDING_FORMAT,
            "key": prompt_key(prompt),
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "model": self.inner.name,
            "model_id": completion.model_id,
            "simulated": self.inner.simulated,
            "priced_as": self.inner.priced_as,
            "strategy": strategy.name,
            "request": to_hex(request),
            "prompt": prompt.to_dict(),
            "text": completion.text,
            "usage": completion.usage.to_dict(),
            "latency_s": completion.latency_s,
            "virtual_latency": completion.virtual_latency,
            "tool_calls": completion.tool_calls,
        }
        encoded = json.dumps(line, ensure_ascii=False) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(encoded)
        except OSError as exc:
            raise LabkitError(
                f"cannot append to the recording {self.path}: {exc.strerror}; free space or pick another path"
            ) from None
        return completion


def read_jsonl(path: str | Path, convert: Callable[[dict], T], what: str, fix: str) -> list[T]:
    """`convert` applied to every non-blank line of a JSONL file (a recording, or saved attempts).

    Every problem is one LabkitError naming the file -- and the line, for a line that is not JSON or that
    `convert` rejects with ValueError, TypeError, KeyError or AttributeError -- ending in `fix`, what to do.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a device or pipe would be read until memory runs out, or forever
        raise LabkitError(
            f"{path}: is {_not_a_regular_file(path)}, not a recording; "
            "give the path of a JSONL file, e.g. recordings/haiku.jsonl"
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabkitError(f"no recording at {path}; {_record_hint(path)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabkitError(f"cannot read the recording {path}: {exc}; record it again") from None
    converted = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            converted.append(convert(json.loads(line)))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise LabkitError(f"{path}:{number} is not {what} ({type(exc).__name__}: {exc}); {fix}") from None
    return converted


def completion_of(entry: dict, *, virtual: bool = True) -> Completion:
    """The Completion a recorded exchange holds. Replayed latency is virtual: nobody waited for it this time."""
    return Completion(
        text=entry["text"],
        usage=Usage.from_dict(entry.get("usage")),
        latency_s=float(entry["latency_s"]),
        model_id=entry.get("model_id", ""),
        virtual_latency=virtual,
        tool_calls=int(entry.get("tool_calls", 0)),
    )


def _checked_exchange(entry: dict) -> dict:
    """A replayable line, checked now so a broken file fails at load, not mid-bench."""
    if not all(isinstance(entry.get(name), str) for name in ("key", "text", "model_id")):
        raise TypeError("key, text and model_id must be strings")
    Usage.from_dict(entry["usage"])
    float(entry["latency_s"])
    return entry


def _load(path: Path) -> list[dict]:
    """The exchanges of a recording; a clear LabkitError for a missing file or a broken line."""
    return read_jsonl(path, _checked_exchange, "a recorded exchange", "record the file again")


class ReplayModel(Model):
    """Answers from a recording, deterministically; never touches the network."""

    virtual_time = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        exchanges = _load(self.path)
        if not exchanges:  # e.g. a run that recorded nothing: say so, rather than "no recording of this prompt"
            raise LabkitError(f"{self.path} is an empty recording (no exchanges); {_record_hint(self.path)}")
        self._answers: dict[str, list[dict]] = defaultdict(list)
        for entry in exchanges:
            self._answers[entry["key"]].append(entry)
        self.simulated = any(entry.get("simulated", False) for entry in exchanges)
        model_ids = {entry["model_id"] for entry in exchanges}
        self.model_id = model_ids.pop() if len(model_ids) == 1 else "replay"
        # Price as the recording was priced (a simulated stand-in is priced as the model it imitates).
        priced = {entry.get("priced_as", "") for entry in exchanges}
        self.priced_as = priced.pop() if len(priced) == 1 else ""
        # Replaying simulated answers must still say so in the name (labkit's honesty rule).
        self.name = f"replay:{self.path}" + (" [simulated]" if self.simulated else "")
        days = sorted({str(entry.get("time", ""))[:10] for entry in exchanges} - {""})
        # When the answers were recorded, for labkit.evidence.tag: "2026-11-20" or "2026-11-20 to 2026-11-22".
        self.recorded = " to ".join(dict.fromkeys((days[0], days[-1]))) if days else ""
        self._served: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def describe(self) -> str:
        kind = "SIMULATED answers (not Claude)" if self.simulated else f"answers from {self.model_id}"
        return f"{self.name} -- {len(self)} recorded {kind}, replayed offline with recorded (virtual) latency"

    def __len__(self) -> int:
        """Number of recorded exchanges."""
        return sum(len(answers) for answers in self._answers.values())

    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        """The recorded answer to this prompt (the next one, cycling, if it was recorded several times)."""
        key = prompt_key(prompt)
        answers = self._answers.get(key)
        if not answers:
            raise LabkitError(
                f"{self.path} has no recording of this prompt (strategy {strategy.name}, key {key[:12]}); "
                f"{_record_hint(self.path)}"
            )
        with self._lock:
            entry = answers[self._served[key] % len(answers)]
            self._served[key] += 1
        return completion_of(entry)
