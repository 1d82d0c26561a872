"""Shared fixtures: only the loopback Messages API server (see tests/messages_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from messages_server import MessagesServer


@pytest.fixture
def messages_server() -> Iterator[MessagesServer]:
    """A real HTTP server on 127.0.0.1:<random port> speaking the Messages API, scripted by the test."""
    with MessagesServer() as server:
        yield server


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt during the test even when the runner ignores SIGINT, as background jobs
    of non-interactive shells and some CI runners do (Python then never installs its handler)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
