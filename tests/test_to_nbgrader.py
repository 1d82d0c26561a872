"""scripts/to_nbgrader.py: solution cells become nbgrader solution regions, checks become asserting tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from labkit.exercises import Feedback

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("to_nbgrader", ROOT / "scripts" / "to_nbgrader.py")
to_nbgrader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(to_nbgrader)


@pytest.mark.parametrize("name", ["05-hallucinated-bytes", "06-prompt-strategies", "09-latency-and-cost"])
def test_every_tagged_cell_is_mapped(name) -> None:
    nb = to_nbgrader.convert(nbformat.read(ROOT / "notebooks" / "solutions" / f"{name}.ipynb", as_version=4))
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    checks = [c for c in nb.cells if "exercise-check" in c.metadata.get("tags", [])]
    assert solutions and checks
    for cell in solutions:
        assert cell.metadata.nbgrader["solution"] and not cell.metadata.nbgrader["locked"]
        if cell.cell_type == "code":
            assert cell.source.startswith("### BEGIN SOLUTION\n") and cell.source.endswith("\n### END SOLUTION")
    for cell in checks:
        assert cell.metadata.nbgrader["grade"] and cell.metadata.nbgrader["points"] == 1
        assert "assert feedback" in cell.source
    assert any(not c.metadata.nbgrader["locked"] and "answer = None" in c.source for c in nb.cells)
    ids = [c.metadata.nbgrader["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("verdict", [True, False])
def test_a_check_cell_fails_exactly_when_the_check_does(verdict) -> None:
    source = to_nbgrader._asserting("x = 1\ncheck(\n    x)")
    namespace = {"check": lambda x: Feedback(verdict, "msg", "hint"), "display": lambda value: None}
    if verdict:
        exec(source, namespace)
    else:
        with pytest.raises(AssertionError, match="hint"):
            exec(source, namespace)
