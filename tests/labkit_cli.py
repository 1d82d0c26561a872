"""Running the `labkit` command as a user does, for the tests that check its output: a fresh Python, its exit
status, stdout and stderr. One place, so every such test starts from the same clean environment."""

from __future__ import annotations

import os
import subprocess
import sys

from messages_server import DEFAULT_TEST_KEY

# Set on a developer's machine, these would change which model a test talks to, or leak a real key into it.
_USER_SETTINGS = ("LABKIT_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def run_labkit(*args: str, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`labkit ARGS` without the user's model or API settings (plus `env_extra`); text output captured."""
    env = {k: v for k, v in os.environ.items() if k not in _USER_SETTINGS}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", "import sys; from labkit.cli import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def api_env(server) -> dict[str, str]:
    """The environment that points labkit's Claude model at a loopback MessagesServer, with the test key."""
    return {"ANTHROPIC_API_KEY": DEFAULT_TEST_KEY, "ANTHROPIC_BASE_URL": server.url}
