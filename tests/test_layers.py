"""The floors of docs/ARCHITECTURE.md, enforced: a labkit module never imports one on a higher floor.

Packets and checksums know nothing of models; models know nothing of the wire; only the faces
(CLI, widgets, plots) may import everything. A new module must be given a floor here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "labkit"

# Most specific prefix wins: "labkit.models.fit" falls under "labkit.models".
FLOORS = {
    "labkit": 0,
    "labkit.errors": 0,
    "labkit.page": 0,
    "labkit.headers": 1,
    "labkit.outcomes": 1,
    "labkit.packets": 1,
    "labkit.checksum": 1,
    "labkit.pricing": 1,
    "labkit.ratelimit": 1,
    "labkit.capture": 1,
    "labkit.fields": 2,
    "labkit.stack": 2,
    "labkit.reassembly": 2,
    "labkit.ipv4_options": 2,
    "labkit.parse": 2,
    "labkit.wire": 2,
    "labkit.tshark": 2,
    "labkit.own_capture": 2,
    "labkit.roles": 2,
    "labkit.prompts": 3,
    "labkit.taxonomy": 3,
    "labkit.working": 3,
    "labkit.judge": 3,
    "labkit.exercises": 3,
    "labkit.strategy_files": 3,
    "labkit.gate": 3,
    "labkit.egress": 3,
    "labkit.models": 4,
    "labkit.pcap": 5,
    "labkit.responder": 5,
    "labkit.live_lab": 5,
    "labkit.bench": 5,
    "labkit.ladder": 5,
    "labkit.bakeoff": 5,
    "labkit.evidence": 1,
    "labkit.golden": 2,
    "labkit.resume": 5,
    "labkit.cli": 6,
    "labkit.widgets": 6,
    "labkit.plots": 6,
    "labkit.bakeoff_plot": 6,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor_of(name: str) -> int | None:
    candidates = [prefix for prefix in FLOORS if name == prefix or name.startswith(prefix + ".")]
    return FLOORS[max(candidates, key=len)] if candidates else None


def labkit_imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every labkit import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "labkit" or name.startswith("labkit.")]


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_module_imports_only_lower_floors(path: Path) -> None:
    own = module_name(path)
    own_floor = floor_of(own)
    assert own_floor is not None, f"{own} has no floor: add it to FLOORS and docs/ARCHITECTURE.md"
    upward = []
    for line, target in labkit_imports(path):
        target_floor = floor_of(target)
        # "from labkit.models import x" names a submodule or an attribute: judge by the package.
        if target_floor is not None and target_floor > own_floor:
            upward.append(f"line {line}: {target} (floor {target_floor})")
    assert not upward, f"{own} (floor {own_floor}) imports upward: " + "; ".join(upward)


def test_checker_catches_an_upward_import() -> None:
    """The checker itself must be able to fail: a packets-level file importing a model is flagged."""
    relative = labkit_imports(PACKAGE / "packets.py", "from .models.registry import get_model\n")
    absolute = labkit_imports(PACKAGE / "packets.py", "import labkit.responder\n")
    assert any(floor_of(name) == 4 for _, name in relative)
    assert any(floor_of(name) == 5 for _, name in absolute)
    assert floor_of("labkit.packets") == 1
