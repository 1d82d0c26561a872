"""The course as a non-root student, in Chromium: `./lab.sh` (README's first command) run as the ordinary user
`student` on a copy of this checkout, with Debian's python3, then notebooks 00, 05, 07 and 08 run top to bottom.

Why a separate user: root's .venv links into root's own Python, which no other user can read, so the root
browser test (test_jupyterlab.py) cannot show what a student without root sees. Checks: lab.sh serves as that
user; every code cell runs, none shows an error and no widget fails to show; 07's and 08's root-only cells
say why they do not run, and 08 what a student can do instead; saved, with the kernel shut down and
reopened, 05's and 08's widgets show from the state saved in the file. Screenshots (1280 px wide) go to
test-artifacts/nonroot/. The whole course, every notebook: scripts/student_run.py (docs/instructors.md).
The first run on a machine installs the student's .venv from the package index (minutes); later runs reuse it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.live_lab import WITHOUT_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = ["00", "05", "07", "08"]


def _student_run():
    spec = importlib.util.spec_from_file_location("student_run", REPO / "scripts" / "student_run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _why_skip(student_run) -> str | None:
    if os.geteuid() != 0:
        return "needs root: it creates the user `student` and runs JupyterLab as that user"
    if not student_run.CHROMIUM.exists():
        return f"{student_run.CHROMIUM} is missing (apt-get install chromium); CI installs it"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright); CI installs it"
    missing = [tool for tool in ("useradd", "setpriv", "git") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


def test_a_student_without_root_runs_00_05_07_08_in_chromium() -> None:
    student_run = _student_run()
    reason = _why_skip(student_run)
    if reason:
        pytest.skip(reason)
    try:  # the student's own .venv, as ./lab.sh would make it (later runs find it up to date)
        student_run.installed_checkout()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:  # e.g. no package index reachable
        pytest.skip(f"user student has no working .venv: {exc}")
    runs = student_run.run_course(student_run.notebooks(NOTEBOOKS))
    report = "\n".join(run.summary() for run in runs)
    assert [run.name[:2] for run in runs] == NOTEBOOKS, report
    for run in runs:
        assert not run.errors, report
        assert run.widget_errors == 0, report
        assert run.code_cells > 0 and run.executed == run.code_cells, report
        assert "Traceback" not in run.text, report
        assert run.reopened_ok(), report
    assert [run.reopened is not None for run in runs] == [False, True, False, True], "05, 08 have widgets to reopen"
    assert "Not capturing: needs root (it creates a network namespace)" in runs[2].outputs  # 07, your own ping
    printed = runs[-1].outputs
    assert "live lab not started: needs root" in printed, "08 ran its root cells as root: not a student's run"
    for advice in WITHOUT_ROOT.splitlines():
        assert advice in printed, "08 does not tell a non-root student what to do instead"
    assert "run the notebook as root" not in printed
    assert "not root, so no namespaces; running the software wire instead" in printed  # the live demo's cell
