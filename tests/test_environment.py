"""The dependency ranges are decided once, in pyproject.toml; conda and Binder must agree with them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOT_PACKAGES = {"python", "pip"}


def split_requirement(spec: str) -> tuple[str, str]:
    """'scapy>=2.6,<2.9' -> ('scapy', '>=2.6,<2.9'); names are compared case- and dash-insensitively."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    assert match, f"cannot read requirement {spec!r}"
    name, version = match.groups()
    return name.lower().replace("_", "-"), version.replace(" ", "")


def pyproject_runtime() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["notebooks"]
    return dict(split_requirement(spec) for spec in specs)


def conda_packages(path: Path) -> dict[str, str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    return {name: version for name, version in map(split_requirement, conda) if name not in NOT_PACKAGES}


@pytest.mark.parametrize("env_file", ["environment.yml", "binder/environment.yml"])
def test_conda_environment_matches_pyproject(env_file: str) -> None:
    assert conda_packages(ROOT / env_file) == pyproject_runtime()


def test_conda_environment_pins_python_311() -> None:
    for env_file in ("environment.yml", "binder/environment.yml"):
        deps = yaml.safe_load((ROOT / env_file).read_text())["dependencies"]
        assert "python=3.11" in deps, env_file


def test_environment_installs_labkit_itself() -> None:
    deps = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert any(line.endswith(" .") for line in pip_section)
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post_build and "--editable ." in post_build


def test_a_drifted_range_would_be_caught(tmp_path: Path) -> None:
    """The comparison is strict: changing one bound must make the environments disagree."""
    drifted = (ROOT / "environment.yml").read_text().replace("scapy>=2.6,<2.9", "scapy>=2.5,<2.9")
    (tmp_path / "environment.yml").write_text(drifted)
    assert conda_packages(tmp_path / "environment.yml") != pyproject_runtime()
