"""Build the teaching notebooks (notebooks/NN-*.ipynb) from their text sources (notebooks/src/NN-*.md).

Why text sources: each notebook is one MyST Markdown file (jupytext's `md:myst` format) that editors, linters and
reviewers read as prose, as d2l keeps one Markdown file per section. The committed .ipynb files are the product
students open; they carry outputs, so after editing a source rebuild and execute it:

    python scripts/build_notebooks.py 03-checksum-by-hand --execute   # one notebook
    python scripts/build_notebooks.py --execute                       # all of them
    python scripts/build_notebooks.py --check                         # do the .ipynb files match their sources?

Each source builds two notebooks. Cells tagged `solution` (a worked answer, or the answer to a "why" question)
are left out of the student notebook, notebooks/NN-*.ipynb, and kept in notebooks/solutions/NN-*.ipynb, which
nbval runs too. A cell that calls an exercise's checker is tagged `exercise-check`; in the solutions
notebook its output must start with ✓, or tests/test_notebook_sources.py fails.

Execution uses the offline default (LABKIT_MODEL and ANTHROPIC_API_KEY removed), so the committed outputs are
exactly what CI and every reader see. tests/test_notebook_sources.py runs the --check comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"
SOURCE_FORMAT = "md:myst"
# The display name the venv's ipykernel registers: any other name makes JupyterLab rewrite the metadata on
# opening, which marks a notebook that nobody touched as modified.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
OFFLINE_UNSET = ("LABKIT_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def source_path(name: str) -> Path:
    return SOURCES / f"{name}.md"


def names() -> list[str]:
    """Every notebook that has a source, in series order."""
    return sorted(path.stem for path in SOURCES.glob("[0-9][0-9]-*.md"))


SOLUTION_TAG = "solution"


def built_path(name: str, solutions: bool = False) -> Path:
    return (NOTEBOOKS / "solutions" if solutions else NOTEBOOKS) / f"{name}.ipynb"


def generated_note(name: str, solutions: bool = False) -> str:
    """The line every built notebook ends with, so nobody edits the .ipynb by hand and loses the change."""
    src = f"../src/{name}.md" if solutions else f"src/{name}.md"
    other = (
        f"The student version, without worked answers: [../{name}.ipynb](../{name}.ipynb)."
        if solutions
        else f"Worked answers, once you have tried: [solutions/{name}.ipynb](solutions/{name}.ipynb)."
    )
    return (
        f"{other}\n\n<small>For instructors: this notebook is built from [`src/{name}.md`]({src}); to change "
        f"it, edit that file and run `python scripts/build_notebooks.py {name} --execute`.</small>"
    )


def from_source(name: str, solutions: bool = False) -> nbformat.NotebookNode:
    """The notebook a source describes, without outputs: stable cell ids, the venv's kernelspec, a generated note.

    solutions=False leaves out the cells tagged `solution`; their ids still count, so a cell keeps its id in
    both versions.
    """
    nb = jupytext.read(source_path(name), fmt=SOURCE_FORMAT)
    nb.cells.append(nbformat.v4.new_markdown_cell(generated_note(name, solutions)))
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number:02d}"  # stable ids keep rebuilds free of noise in git diffs
        cell.metadata.pop("lines_to_next_cell", None)
    if not solutions:
        nb.cells = [cell for cell in nb.cells if SOLUTION_TAG not in cell.metadata.get("tags", ())]
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "labkit": {"generated_from": f"src/{name}.md", "solutions": solutions},
    }
    return nb


def cell_key(cell) -> tuple[str, str, tuple[str, ...]]:
    """What a source decides about a cell: its type, its text and its tags (not outputs or execution counts)."""
    return cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ()))


def mismatches(name: str) -> list[str]:
    """How the committed notebooks (student and solutions) differ from their source; empty when they match."""
    return [problem for solutions in (False, True) for problem in _mismatches(name, solutions)]


def _mismatches(name: str, solutions: bool) -> list[str]:
    built = built_path(name, solutions)
    shown = built.relative_to(NOTEBOOKS)
    if not built.exists():
        return [f"{shown} is missing: run `python scripts/build_notebooks.py {name} --execute`"]
    want = [cell_key(cell) for cell in from_source(name, solutions).cells]
    have = [cell_key(cell) for cell in nbformat.read(built, as_version=4).cells]
    problems = [f"{shown}: cell {i} differs from src/{name}.md" for i, (a, b) in enumerate(zip(want, have)) if a != b]
    if len(want) != len(have):
        problems.append(f"{shown}: {len(have)} cells in the notebook, {len(want)} in its source")
    return problems


def stable_widget_ids(nb, name: str):
    """Replace the random widget model ids in saved widget state and outputs with ids derived from the
    notebook name and creation order, so re-executing an unchanged notebook gives an identical file."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    if not state:
        return nb
    text = json.dumps(nb)
    for number, old_id in enumerate(list(state)):
        text = text.replace(old_id, hashlib.md5(f"{name}-{number}".encode()).hexdigest())
    return nbformat.from_dict(json.loads(text))


def execute(nb, name: str, where: Path, allow_errors: bool = False):
    """Run a notebook in the offline default environment and in its own folder, as nbval and every reader do."""
    from nbclient import NotebookClient

    saved = {key: os.environ.pop(key) for key in OFFLINE_UNSET if key in os.environ}
    # Cells marked NBVAL_SKIP are never run here (nbval skips them too); they keep no output.
    skipped = {i: cell for i, cell in enumerate(nb.cells) if cell.source.lstrip().startswith("# NBVAL_SKIP")}
    nb.cells = [cell for i, cell in enumerate(nb.cells) if i not in skipped]
    try:
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(where)}},
            store_widget_state=True,
            record_timing=False,
            allow_errors=allow_errors,
        ).execute()
    finally:
        os.environ.update(saved)
    for i in sorted(skipped):
        nb.cells.insert(i, skipped[i])
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return stable_widget_ids(nb, name)


def build(name: str, *, run: bool, allow_errors: bool = False) -> list[Path]:
    """Write the student notebook and its solutions notebook (executed when run is set)."""
    written = []
    for solutions in (False, True):
        nb = from_source(name, solutions)
        path = built_path(name, solutions)
        if run:
            nb = execute(nb, name, path.parent, allow_errors)
        nbformat.write(nb, path)
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (e.g. 01-hexdump); default all")
    parser.add_argument("--execute", action="store_true", help="run the notebooks so they carry outputs")
    parser.add_argument("--allow-errors", action="store_true", help="keep going past failing cells (drafting only)")
    parser.add_argument("--check", action="store_true", help="only compare the notebooks with their sources")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(names()))
    if unknown:
        parser.error(f"no source for {', '.join(unknown)} in {SOURCES.relative_to(ROOT)}/ (have: {', '.join(names())})")
    chosen = args.names or names()
    if args.check:
        problems = [problem for name in chosen for problem in mismatches(name)]
        print("\n".join(problems) or f"{len(chosen)} notebooks and their solutions match their sources")
        return 1 if problems else 0
    for name in chosen:
        for path in build(name, run=args.execute, allow_errors=args.allow_errors):
            print("built", path.relative_to(NOTEBOOKS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
