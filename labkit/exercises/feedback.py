"""Feedback: what every exercise checker returns -- ✓ or ✗ with a hint that names the mistake.

One type for every checker, so a notebook cell shows the same thing whatever it checks, and a test can tell
a passing solution from a failing one by `bool(feedback)`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from labkit.page import fit


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str
    hint: str = ""

    def __str__(self) -> str:
        if self.correct:
            return fit(f"✓ {self.message}")
        return fit(f"✗ {self.message}" + (f" Hint: {self.hint}" if self.hint else ""))

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.correct

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.correct else "#cf222e"
        return f'<span style="color:{colour};font-family:monospace">{html.escape(str(self))}</span>'


def _right(message: str) -> Feedback:
    return Feedback(True, message)


def _wrong(message: str, hint: str = "") -> Feedback:
    return Feedback(False, message, hint)
