"""The documents say what the code does: ARCHITECTURE.md's signatures, and every command in README and docs/.

Why: a signature or a command that drifted teaches the next reader something false, and nobody notices until a
student pastes it. These tests fail with the document's line and what to write instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from docs_check import check_architecture

ROOT = Path(__file__).resolve().parents[1]


def test_architecture_names_and_signatures_exist_as_written() -> None:
    findings = check_architecture((ROOT / "docs" / "ARCHITECTURE.md").read_text())
    assert not findings, "docs/ARCHITECTURE.md has drifted from the code; fix each line:\n" + "\n".join(
        str(finding) for finding in findings)


def test_architecture_has_a_checked_block_for_every_module() -> None:
    """A module with no block is a module the document does not describe; this test would not notice it drift."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    for module in ("packets", "headers", "checksum", "ratelimit", "pricing", "fields", "stack", "parse", "prompts",
                   "judge", "exercises", "pcap", "bench", "responder", "plots", "errors"):
        assert f"`labkit/{module}.py`" in text, f"docs/ARCHITECTURE.md: add a ### `labkit/{module}.py` section"


DRIFTED = [
    ("def echo_request(src, dst)", "echo_request takes (src, dst, ident"),
    ("def no_such_function(x) -> int", "there is no no_such_function in labkit.packets"),
    ('def hexdump_lines(data: bytes, width: int = 8) -> list[str]', "default of width is 16"),
    ("def hexdump(data, *, width)", "hexdump takes (data), the document says (data, *, width)"),
    ("def to_hex(...) -> str", None),
    ("def echo_request(src, ..., ttl, ...) -> bytes", None),
    ("def echo_request(ttl, ..., src) -> bytes", "parameters out of order"),
    ("this is not code", "cannot read this line"),
]


@pytest.mark.parametrize("line, problem", DRIFTED)
def test_the_architecture_check_finds_drift(line: str, problem: str | None) -> None:
    """The check itself can fail: a wrong name, parameter list, default or an unreadable line is reported."""
    findings = check_architecture(f"### `labkit/packets.py`\n```python\n{line}\n```\n")
    if problem is None:
        assert findings == []
    else:
        assert len(findings) == 1 and problem in findings[0].problem, findings


def test_the_architecture_check_reads_classes_and_members() -> None:
    text = ("### `labkit/widgets/`\n```python\nDashboard(responder_or_stats, *, interval=0.5)\n    .refresh(); .nope\n"
            "```\n### `labkit/pcap.py`\n```python\nPcapSummary: packets_read, tokens\n```\n")
    problems = [finding.problem for finding in check_architecture(text)]
    assert problems == [
        "Dashboard takes (source, *, interval, title, autostart), the document says (responder_or_stats, *, interval)",
        "Dashboard has no member nope",
        "PcapSummary has no attribute tokens",
    ]
