"""Run the notebooks under nbval with the offline default and the sanitising rules, whatever the shell exported.

The committed outputs were made with LABKIT_MODEL unset and no API key (the simulated model), so each
notebook's kernel must start in that same environment or its outputs could not match. nbval starts a
kernel when the first cell of a notebook is set up; this wrapper removes those variables just for
that moment and puts them back afterwards, so tests outside notebooks/ are not affected.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

OFFLINE_UNSET = ("LABKIT_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")


def pytest_configure(config):
    """`pytest --nbval notebooks/`, typed exactly so, applies the sanitising rules without an extra flag."""
    if getattr(config.option, "nbval_sanitize_with", "absent") is None:
        config.option.nbval_sanitize_with = str(SANITIZE)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    if getattr(item, "path", None) is None or item.path.suffix != ".ipynb":
        yield
        return
    saved = {name: os.environ.pop(name) for name in OFFLINE_UNSET if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
