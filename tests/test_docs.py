"""The documents say what the code does: ARCHITECTURE.md's signatures, and every command in README and docs/.

Why: a signature or a command that drifted teaches the next reader something false, and nobody notices until a
student pastes it. These tests fail with the document's line and what to write instead.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from docs_check import check_architecture

ROOT = Path(__file__).resolve().parents[1]


def test_architecture_names_and_signatures_exist_as_written() -> None:
    findings = check_architecture((ROOT / "docs" / "ARCHITECTURE.md").read_text())
    assert not findings, "docs/ARCHITECTURE.md has drifted from the code; fix each line:\n" + "\n".join(
        str(finding) for finding in findings
    )


def test_architecture_has_a_checked_block_for_every_module() -> None:
    """A module with no block is a module the document does not describe; this test would not notice it drift."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    modules = sorted(
        path.relative_to(ROOT).as_posix() for path in (ROOT / "labkit").glob("*.py") if path.name != "__init__.py"
    )
    packages = ["labkit/exercises/"]
    for module in modules + packages:
        assert f"`{module}`" in text, f"docs/ARCHITECTURE.md: add a ### `{module}` section"


DRIFTED = [
    ("def echo_request(src, dst)", "echo_request takes (src, dst, ident"),
    ("def no_such_function(x) -> int", "there is no no_such_function in labkit.packets"),
    ("def hexdump_lines(data: bytes, width: int = 8) -> list[str]", "default of width is 16"),
    ("def hexdump(data, *, width)", "hexdump takes (data), the document says (data, *, width)"),
    ("def to_hex(...) -> str", None),
    ("def echo_request(src, ..., ttl, ...) -> bytes", None),
    ("def echo_request(ttl, ..., src) -> bytes", "parameters out of order"),
    ("this is not code", "cannot read this line"),
    ('def hexdump("bytes" | "str")', "cannot read the parameters of hexdump"),
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
    text = (
        "### `labkit/widgets/`\n```python\nDashboard(responder_or_stats, *, interval=0.5)\n    .refresh(); .nope\n"
        "```\n### `labkit/pcap.py`\n```python\nPcapSummary: packets_read, tokens\n```\n"
    )
    problems = [finding.problem.split("\n")[0] for finding in check_architecture(text)]
    assert problems == [
        "Dashboard takes (source, *, interval, title, autostart), the document says (responder_or_stats, *, interval)",
        "Dashboard has no member nope",
        "PcapSummary has no attribute tokens",
    ]


# --- every command in README.md and docs/*.md ------------------------------------------------------------------

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"```bash", "```sh", "```shell", "```console"}
SYSTEM_COMMANDS = {"ip", "ping", "sysctl", "export", "source"}  # the host's tools: nothing of ours to check
# Servers an instructor runs on their own machine (docs/local-models.md): documented, never run or installed here.
EXTERNAL_SERVERS = {"ollama", "llama-server", "vllm", "litellm"}
VENV_LABKIT = ".venv/bin/labkit"  # what `sudo` needs: sudo resets PATH, so a bare `labkit` is not found
REPO_DIRS = ("notebooks/", "scripts/", "docs/", "examples/", "tests/", "benchmarks/", "binder/")


@dataclass(frozen=True)
class Command:
    where: str  # "README.md:58"
    text: str  # the command as written, without its comment
    argv: list[str]  # after env assignments, sudo and `ip netns exec NAME`
    privileged: bool  # sudo or a network namespace: never run here

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def _unwrap(tokens: list[str]) -> tuple[list[str], bool]:
    privileged = False
    while tokens:
        if re.fullmatch(r"[A-Za-z_]\w*=.*", tokens[0]):
            tokens = tokens[1:]
        elif tokens[0] == "sudo":
            tokens, privileged = [t for t in tokens[1:2] if t != "-E"] + tokens[2:], True
        elif tokens[:3] == ["ip", "netns", "exec"]:
            tokens, privileged = tokens[4:], True
        else:
            return tokens, privileged
    return tokens, privileged


def shell_commands() -> list[Command]:
    """Every command in a shell fence of README.md or docs/*.md (`a; b` and `a && b` are two)."""
    found = []
    for path in DOCUMENTS:
        inside, pending, first = False, "", 0
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if inside and line.rstrip().endswith("\\"):  # a continued command: join it with the next line
                pending, first = pending + line.rstrip()[:-1] + " ", first or number
                continue
            line, number, pending, first = pending + line, first or number, "", 0
            if line.strip().startswith("```"):
                inside = not inside and line.strip() in SHELL_FENCES
                continue
            if not inside:
                continue
            code = re.sub(r"<[^>]*>", "PLACEHOLDER", line)  # <the kernel's address>
            code = re.sub(r"(^|\s)#.*$", "", code).strip()
            for part in re.split(r";|&&", code):
                if part.strip():
                    tokens, privileged = _unwrap(shlex.split(part))
                    found.append(Command(f"{path.relative_to(ROOT)}:{number}", part.strip(), tokens, privileged))
    return found


COMMANDS = shell_commands()


def test_the_documents_have_commands_to_check() -> None:
    labkit_commands = [c for c in COMMANDS if c.argv[:1] == ["labkit"]]
    assert len(labkit_commands) >= 8 and any("examples/ping.pcap" in c.text for c in labkit_commands)


def command_problem(command: Command) -> str | None:
    """What is wrong with a documented command: a labkit flag it lacks, a script or path that is not there."""
    program = command.argv[0] if command.argv else ""
    if command.privileged and program == "labkit":
        return f"sudo resets PATH, so `sudo labkit` is not found: write `sudo {VENV_LABKIT}`"
    if program == VENV_LABKIT:
        program = "labkit"
    for token in command.argv[1:]:
        if token.startswith(REPO_DIRS) and not (ROOT / token).exists():
            return f"{token} does not exist"
    if program == "labkit":
        from labkit.cli import build_parser

        try:
            build_parser().parse_args(command.argv[1:])
        except SystemExit as stop:
            return None if stop.code == 0 else "labkit does not accept these arguments (its error is printed above)"
    elif program.startswith(("./", "scripts/")):
        script = ROOT / program
        if not (script.is_file() and os.access(script, os.X_OK)):
            return f"{program} is not an executable script"
    elif program not in SYSTEM_COMMANDS | EXTERNAL_SERVERS | {"python", "jupyter", "conda"}:
        # their paths were checked above
        return f"teach tests/test_docs.py what `{program}` is"
    return None


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_documented_command_names_things_that_exist(command: Command) -> None:
    """labkit subcommands and flags parse; scripts exist and are executable; repository paths exist."""
    problem = command_problem(command)
    assert problem is None, f"{command}: {problem}"


@pytest.mark.parametrize(
    "text",
    [
        "labkit bench --no-such-flag",
        "labkit teleport",
        "scripts/no-such.sh",
        "python -m pytest notebooks/missing.ipynb",
        "curl example.invalid",
    ],
)
def test_a_drifted_command_is_caught(text: str) -> None:
    tokens, privileged = _unwrap(shlex.split(text))
    assert command_problem(Command("test", text, tokens, privileged)) is not None


def _runs_offline(command: Command) -> bool:
    """A labkit command with no root and no key: the simulated model, the reference stack, or the default."""
    if command.privileged or command.argv[:1] != ["labkit"]:
        return False
    argv = command.argv
    models = [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == "--model"]
    if any(not model.startswith(("simulated", "reference")) for model in models):
        return False
    inputs = [
        token for i, token in enumerate(argv) if token.endswith(".pcap") and argv[i - 1] not in ("-o", "--output")
    ]
    return all((ROOT / token).exists() for token in inputs)  # in.pcap in a recipe is the reader's own capture


OFFLINE = [c for c in COMMANDS if _runs_offline(c)]


@pytest.mark.parametrize("command", OFFLINE, ids=str)
def test_offline_commands_run_as_written(command: Command, tmp_path: Path) -> None:
    """Run exactly as printed, from a directory that has the repository's examples/ (outputs land in tmp_path)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LABKIT_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    }
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(command.argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def test_the_pcap_command_in_the_readme_answers_the_shipped_capture(tmp_path: Path) -> None:
    """examples/ping.pcap is what scripts/make_example_capture.py derives, and the README's command answers it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_example_capture import EXAMPLE, pinger_side
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    from labkit.pcap import read_capture

    assert read_capture(EXAMPLE) == pinger_side(), "regenerate it: python scripts/make_example_capture.py"
    (command,) = [c for c in OFFLINE if c.argv[:3] == ["labkit", "pcap", "examples/ping.pcap"]]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    done = subprocess.run(
        command.argv,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
    )
    answered = read_capture(tmp_path / command.argv[command.argv.index("-o") + 1])
    read = len(pinger_side().packets)
    assert f"packets read:     {read}" in done.stdout
    # The ARP request is answered by the stack; each echo request is answered or counted with its reason.
    written = int(re.search(r"replies written:\s+(\d+)", done.stdout).group(1))
    unanswered = int(re.search(r"unanswered:\s+(\d+)", done.stdout).group(1))
    assert len(answered.packets) == read + written and written + unanswered == read


def test_every_repository_path_the_documents_name_exists() -> None:
    """`labkit/fields.py`, `scripts/build_notebooks.py`...: a renamed file leaves the docs pointing at nothing."""
    missing, checked = [], 0
    for path in [*DOCUMENTS, ROOT / "benchmarks" / "README.md"]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name in re.findall(r"`((?:labkit|tests|scripts|docs|examples|binder|benchmarks)/[\w./-]*)`", line):
                checked += 1
                if "*" not in name and not (ROOT / name).exists():
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert not missing, "these paths do not exist; fix the document:\n" + "\n".join(missing)
    assert checked > 30  # the pattern still finds the documents' paths


# --- the names docs/extending.md tells people to edit ------------------------------------------------------------

_CODE_NAME = re.compile(r"`([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)(?:\([^`]*\))?`")
_MODULE_PATH = re.compile(r"`((?:labkit|tests|scripts)/[\w/]+\.py)`")


def _looks_like_code(name: str) -> bool:
    """snake_case, CamelCase or CONSTANT names; not prose words, tags or field names such as `ip.ttl`."""
    last = name.split(".")[-1]
    return "_" in last or (last[:1].isupper() and any(c.islower() for c in last[1:])) or last.isupper()


def extending_names() -> list[tuple[int, str, list[str]]]:
    """(line, name, files it should be in) for each code name in a checklist item of docs/extending.md: the
    files are those the item names, else those its section names before its first item."""
    found, section_files, item_files, item = [], [], [], []
    lines = (ROOT / "docs" / "extending.md").read_text().splitlines()

    def flush() -> None:
        files = item_files or section_files
        found.extend((number, name, list(files)) for number, name in item if files)

    for number, line in enumerate(lines, start=1):
        if line.startswith("## ") or re.match(r"^\d+\. ", line):
            flush()
            item, item_files = [], []
            if line.startswith("## "):
                section_files = []
        paths = _MODULE_PATH.findall(line)
        (item_files if re.match(r"^(\d+\. |\s)", line) and item is not None else section_files).extend(paths)
        item.extend((number, name) for name in _CODE_NAME.findall(line) if _looks_like_code(name))
    flush()
    return found


def test_extending_names_only_what_exists_in_the_files_it_points_to() -> None:
    missing = []
    for number, name, files in extending_names():
        sources = " ".join((ROOT / path).read_text() for path in files if (ROOT / path).exists())
        if not all(re.search(rf"\b{re.escape(part)}\b", sources) for part in name.split(".")):
            missing.append(f"docs/extending.md:{number}: `{name}` is not in {', '.join(files)}")
    assert len(extending_names()) > 20  # the checklists still name code
    assert not missing, "docs/extending.md names code that is not there; fix the checklist:\n" + "\n".join(missing)
