"""One exception type for bad input, so faces (CLI, notebooks) can show a one-line message, not a traceback."""

from __future__ import annotations


class LabkitError(Exception):
    """A problem the user can fix; the message says what to do."""


class ArgumentError(LabkitError):
    """A library function was given a bad value for one of its parameters.

    Why a subclass: a notebook that calls ``run_bench(n=-1)`` must read about ``n``, a terminal user who typed
    ``--n -1`` about ``--n``. The message names the parameter; the CLI renders it with its flag (`for_flag`).
    """

    def __init__(self, parameter: str, value: object, problem: str) -> None:
        self.parameter, self.value, self.problem = parameter, value, problem
        super().__init__(f"{parameter}={value!r}: {problem}")

    def for_flag(self, flag: str) -> str:
        """The same message as the CLI user typed it: "--n -1: must be 0 or more"."""
        shown = self.value if str(self.value).strip() else repr(self.value)
        return f"{flag} {shown}: {self.problem}"


class NeedsRoot(LabkitError):
    """Raised when an attachment needs root or CAP_NET_RAW and does not have it."""


class ModelError(LabkitError):
    """A model could not be reached or refused the request (missing key, rejected key, API down)."""
