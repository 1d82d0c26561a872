"""One exception type for bad input, so faces (CLI, notebooks) can show a one-line message, not a traceback."""


class LabkitError(Exception):
    """A problem the user can fix; the message says what to do."""


class NeedsRoot(LabkitError):
    """Raised when an attachment needs root or CAP_NET_RAW and does not have it."""


class ModelError(LabkitError):
    """A model could not be reached or refused the request (missing key, rejected key, API down)."""
