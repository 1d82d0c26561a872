"""Predict, then run: the student writes a prediction before running a cell; the check compares it with what happened.

Why: a prediction written down first turns "run and read" into a test of the student's model of the system,
and the interesting moment is a wrong prediction, so the feedback says how far off it was.
"""

from __future__ import annotations

from labkit.exercises.feedback import Feedback, _right, _wrong


def check_prediction(prediction: object, actual: object, *, tolerance: float = 0.0, why: str = "") -> Feedback:
    """Compare a prediction made before running a cell with the value the cell produced.

    Numbers match within `tolerance` (absolute); anything else must be equal (strings case- and space-blind).
    `why` is shown after a wrong prediction: the idea the student's model of the system is missing.
    """
    if prediction is None or prediction == "" or prediction is Ellipsis:
        return _wrong("No answer yet: write it in the cell above, then run this one.")
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            guessed = float(prediction)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _wrong(f"{prediction!r} is not a number; the cell produced a number.", why)
        if abs(guessed - actual) <= tolerance:
            return _right(f"You predicted {prediction}; the cell produced {actual}.")
        return _wrong(f"You predicted {prediction}; the cell produced {actual} (off by {guessed - actual:+g}).", why)
    if _normal(prediction) == _normal(actual):
        return _right(f"You predicted {actual!r}, and that is what happened.")
    return _wrong(f"You predicted {prediction!r}; the cell produced {actual!r}.", why)


def _normal(value: object) -> object:
    return " ".join(value.lower().split()) if isinstance(value, str) else value
