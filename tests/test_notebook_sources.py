"""Every committed notebook matches its text source (notebooks/src/NN-*.md), so an edit made in one place is
never silently lost in the other. The comparison is scripts/build_notebooks.py --check's: cell types, texts
and tags; outputs are nbval's business."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)


def test_every_notebook_has_a_source_and_every_source_a_notebook() -> None:
    built = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert built == build_notebooks.names()


@pytest.mark.parametrize("name", build_notebooks.names())
def test_notebook_matches_its_source(name: str) -> None:
    assert build_notebooks.mismatches(name) == []


@pytest.mark.parametrize("name", build_notebooks.names())
def test_notebook_says_where_to_edit_it(name: str) -> None:
    nb = build_notebooks.from_source(name)
    assert nb.metadata["labkit"]["generated_from"] == f"src/{name}.md"
    assert f"src/{name}.md" in nb.cells[-1].source


def test_a_changed_source_is_detected(tmp_path, monkeypatch) -> None:
    """The check can fail: edit a copy of a source and the comparison names the cell."""
    name = build_notebooks.names()[0]
    sources = tmp_path / "src"
    sources.mkdir()
    text = build_notebooks.source_path(name).read_text()
    (sources / f"{name}.md").write_text(text.replace("#", "# changed:", 1))
    monkeypatch.setattr(build_notebooks, "SOURCES", sources)
    assert any("differs" in problem for problem in build_notebooks.mismatches(name))


CHECK_TAG = "exercise-check"  # a cell that calls an exercise's checker; in a solutions notebook it must say ✓


def _check_outputs(nb) -> list[tuple[int, str]]:
    found = []
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and CHECK_TAG in cell.metadata.get("tags", ()):
            text = "".join(
                output.get("text", "") or output.get("data", {}).get("text/plain", "")
                for output in cell.get("outputs", [])
            )
            found.append((number, text.strip()))
    return found


@pytest.mark.parametrize("name", build_notebooks.names())
def test_every_solution_passes_its_own_checker(name: str) -> None:
    """nbval re-runs the solutions notebooks and compares their outputs with these, so this holds for a fresh run."""
    import nbformat

    nb = nbformat.read(build_notebooks.built_path(name, solutions=True), as_version=4)
    failing = [(number, text) for number, text in _check_outputs(nb) if not text.startswith("✓")]
    assert failing == [], f"solutions/{name}.ipynb: checker cells that do not say ✓: {failing}"
