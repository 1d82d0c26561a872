"""Run the notebooks under nbval with the offline default, whatever the shell exported.

The committed outputs were made with LABKIT_MODEL unset and no API key (the simulated model), so each
notebook's kernel must start in that same environment or its outputs could not match. nbval starts a
kernel when the first cell of a notebook is set up; this wrapper removes the two variables just for
that moment and puts them back afterwards, so tests outside notebooks/ are not affected.
"""

from __future__ import annotations

import os

import pytest

OFFLINE_UNSET = ("LABKIT_MODEL", "ANTHROPIC_API_KEY")


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
