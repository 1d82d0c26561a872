"""Packaging and the command's own flags: what a new user meets first (install, --version, a bad argument)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import labkit
from labkit.cli import flag_of, main
from labkit.errors import ArgumentError

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_has_one_source_and_the_command_prints_it(capsys) -> None:
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "labkit.__version__"}
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"labkit {labkit.__version__}"


def test_license_is_an_spdx_string_with_its_file() -> None:
    """A table (`{text = ...}`) makes setuptools print its deprecation box on every install."""
    project = PYPROJECT["project"]
    assert isinstance(project["license"], str) and re.fullmatch(r"[A-Za-z0-9.\-+ ()]+", project["license"])
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), name
    assert project["license"] in (ROOT / "LICENSE").read_text()


def test_package_data_names_only_files_that_exist() -> None:
    for package, patterns in PYPROJECT["tool"]["setuptools"].get("package-data", {}).items():
        for pattern in patterns:
            assert list((ROOT / package.replace(".", "/")).glob(pattern)), f"package-data {package}: {pattern}"


def test_lint_and_type_checkers_are_pinned_and_run_by_test_sh() -> None:
    pins = {re.split(r"[=<>]", spec)[0]: spec for spec in PYPROJECT["project"]["optional-dependencies"]["test"]}
    assert "==" in pins["ruff"] and "==" in pins["mypy"]
    script = (ROOT / "test.sh").read_text()
    assert "ruff check" in script and "ruff format --check" in script and "mypy" in script


def test_an_argument_error_names_the_parameter_for_python_and_the_flag_for_the_cli() -> None:
    error = ArgumentError("budget_usd", -1.0, "must be 0 or more dollars")
    assert str(error) == "budget_usd=-1.0: must be 0 or more dollars"
    assert error.for_flag(flag_of("budget_usd")) == "--budget-usd -1.0: must be 0 or more dollars"
    assert flag_of("strategies") == "--strategy"


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--workers", "0", "--n", "1"], "labkit: --workers 0: must be 1 or more"),
        (["bench", "--budget-usd", "nan", "--n", "1"], "labkit: --budget-usd nan: must be 0 or more dollars"),
        (["bench", "--strategy", "telepathy", "--n", "1"], "labkit: --strategy telepathy: unknown prompt strategy"),
    ],
)
def test_the_cli_shows_library_argument_errors_with_its_flags(args, message) -> None:
    """The installed `labkit` script, as a user runs it: one line naming the flag the user typed."""
    command = Path(sys.executable).with_name("labkit")
    result = subprocess.run(
        [str(command), *args], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
