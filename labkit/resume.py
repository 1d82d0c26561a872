"""Answers already paid for, kept beside a run's output until the run succeeds, so a rerun does not pay again.

Why: pcap mode's output is all or nothing (a capture with holes would teach the wrong thing), so a model that
fails at call 36 of 42 used to cost all 42 calls again on the next run. Each answer a paid model gives is
appended to ``OUT.answers.jsonl`` (one ``Attempt.to_dict()`` a line, flushed as it comes, so a crash keeps
what came before it); the next run with the same model and strategy takes the answers for the same request
bytes from there, in order, before it asks the model. A successful run removes the file: its answers are
in the output then. Attempts hold prompts and answers only, never keys or headers.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from pathlib import Path
from typing import TextIO

from labkit.errors import LabkitError
from labkit.models.base import Attempt

SUFFIX = ".answers.jsonl"


def journal_path(out_path: str | Path) -> Path:
    """Where the answers of a run writing ``out_path`` are kept."""
    return Path(str(out_path) + SUFFIX)


class AnswerJournal:
    """The kept answers of one output path, for one model and strategy; thread-safe appends."""

    def __init__(self, out_path: str | Path, model: str, strategy: str, *, reuse: bool = True) -> None:
        self.path = journal_path(out_path)
        self.model, self.strategy = model, strategy
        self._kept: dict[bytes, deque[Attempt]] = defaultdict(deque)
        self.available = self._load() if reuse else 0
        self.reused = 0
        self.recorded = 0
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    def _load(self) -> int:
        """Read what an earlier run kept; a line cut by a crash (the last one) is skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise LabkitError(
                f"{self.path}: cannot read the answers kept from an earlier run ({exc}); "
                "remove it (or run with --no-resume) to start afresh"
            ) from None
        count = 0
        for line in lines:
            try:
                attempt = Attempt.from_dict(json.loads(line))
            except (ValueError, LabkitError):
                continue
            if attempt.model == self.model and attempt.strategy == self.strategy:
                self._kept[attempt.request].append(attempt)
                count += 1
        return count

    def take(self, request: bytes) -> Attempt | None:
        """An answer kept for these request bytes (each used once), or None: ask the model."""
        with self._lock:
            kept = self._kept.get(request)
            if not kept:
                return None
            self.reused += 1
            return kept.popleft()

    def record(self, attempt: Attempt) -> None:
        """Keep a paid-for answer now, before anything else can fail."""
        line = json.dumps(attempt.to_dict(), separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8")
                self._file.write(line)
                self._file.flush()
            except OSError as exc:
                raise LabkitError(
                    f"{self.path}: cannot keep the model's answers ({exc.strerror}); "
                    "free some space or choose another output path"
                ) from None
            self.recorded += 1

    @property
    def kept_total(self) -> int:
        """Answers a rerun could reuse: what was kept before this run plus what this run recorded."""
        return self.available + self.recorded

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def discard(self) -> None:
        """The run succeeded (its answers are in the output) or the user asked to start afresh."""
        self.close()
        self.path.unlink(missing_ok=True)
