"""Turn a solutions notebook (notebooks/solutions/NN-*.ipynb) into an nbgrader source notebook.

Why: the series keeps worked answers in cells tagged `solution` and self-checks in cells tagged
`exercise-check`; nbgrader wants `### BEGIN SOLUTION` regions and graded test cells. This maps one onto the
other, so an instructor who grades with nbgrader starts from the same tested source as everyone else:

  - a code cell tagged `solution` -> an nbgrader "autograded answer" cell whose whole source is one
    BEGIN/END SOLUTION region (the student's blank `answer = None` cell above it stays: with the nbgrader
    setting below, `nbgrader generate_assignment` leaves only a comment in its place);
  - a markdown cell tagged `solution` -> a "manually graded answer" cell (1 point);
  - a code cell tagged `exercise-check` -> an "autograder tests" cell (1 point) that asserts the check's
    Feedback, so a wrong answer fails the test and shows the hint;
  - every other cell -> read-only.

    python scripts/to_nbgrader.py notebooks/solutions/05-hallucinated-bytes.ipynb source/ps05/ps05.ipynb

and in nbgrader_config.py:  c.ClearSolutions.code_stub = {"python": "# your answer goes in the cell above"}
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

SOLUTION, CHECK = "solution", "exercise-check"


def _asserting(source: str) -> str:
    """The check cell with its last expression (the checker's Feedback) shown and asserted."""
    last = ast.parse(source).body[-1]
    if not isinstance(last, ast.Expr):
        raise ValueError(f"an exercise-check cell must end with the checker call:\n{source}")
    lines = source.splitlines()
    head, call = "\n".join(lines[: last.lineno - 1]), "\n".join(lines[last.lineno - 1 :])
    return (f"{head}\n" if head else "") + f"feedback = {call}\ndisplay(feedback)\nassert feedback, str(feedback)"


BLANK = re.compile(r"^\w+ = None\s+# your", re.MULTILINE)  # `answer = None  # your answer here`


def _has_blank(source: str) -> bool:
    """Does the cell hold a student's blank, which the student must be able to edit?"""
    return bool(BLANK.search(source))


def convert(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An nbgrader source notebook from a labkit solutions notebook (outputs cleared)."""
    for number, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        meta = {"schema_version": 3, "grade_id": f"cell-{number}", "locked": True, "solution": False, "grade": False}
        if SOLUTION in tags and cell.cell_type == "code":
            cell.source = f"### BEGIN SOLUTION\n{cell.source}\n### END SOLUTION"
            meta.update(locked=False, solution=True)
        elif SOLUTION in tags:
            meta.update(locked=False, solution=True, grade=True, points=1)
        elif CHECK in tags and cell.cell_type == "code":
            cell.source = _asserting(cell.source)
            meta.update(grade=True, points=1)
        elif cell.cell_type == "code" and _has_blank(cell.source):
            meta.update(locked=False)  # the student's blank: editable
        cell.metadata["nbgrader"] = meta
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: to_nbgrader.py SOLUTIONS.ipynb OUT.ipynb", file=sys.stderr)
        return 2
    source, target = map(Path, argv)
    nb = convert(nbformat.read(source, as_version=4))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
