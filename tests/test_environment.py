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


def test_binder_installs_tshark_and_ci_tests_with_what_binder_has() -> None:
    """Notebook 07 is the Binder demo and shows tshark's view; CI installs every package Binder's apt.txt does."""
    apt = [
        line.strip()
        for line in (ROOT / "binder" / "apt.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "tshark" in apt
    install = (ROOT / "scripts" / "install.sh").read_text()
    test_packages = re.search(r"apt_install (iproute2 [^|]*)", install.replace("\\\n", " ")).group(1).split()
    assert set(apt) <= set(test_packages), f"add {set(apt) - set(test_packages)} to scripts/install.sh --test"


def _binder_badge():
    import importlib.util

    spec = importlib.util.spec_from_file_location("binder_badge", ROOT / "scripts" / "binder_badge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "url, repo",
    [
        ("https://github.com/netlab/labkit.git", ("netlab", "labkit")),
        ("https://github.com/netlab/labkit", ("netlab", "labkit")),
        ("git@github.com:some-one/lab.kit.git", ("some-one", "lab.kit")),
        ("ssh://git@github.com/o/r.git", ("o", "r")),
        ("https://token@github.com/o/r.git", ("o", "r")),
        ("/work/main", None),
        ("https://gitlab.com/o/r.git", None),
    ],
)
def test_binder_badge_reads_the_owner_from_any_github_remote(url: str, repo) -> None:
    assert _binder_badge().github_repo(url) == repo


def test_binder_badge_rewrites_the_readme_badge_and_only_it() -> None:
    badge = _binder_badge()
    readme = (ROOT / "README.md").read_text()
    rewritten = badge.with_badge(readme, badge.badge("netlab", "labkit"))
    assert "https://mybinder.org/v2/gh/netlab/labkit/HEAD?urlpath=lab/tree/notebooks/00-setup.ipynb" in rewritten
    assert (ROOT / badge.NOTEBOOK).exists()
    assert len(rewritten.splitlines()) == len(readme.splitlines())
    assert badge.with_badge(rewritten, badge.badge(*badge.PLACEHOLDER)) == readme  # the README holds the default
