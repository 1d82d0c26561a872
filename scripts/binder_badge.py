"""Point the README's Binder badge at the GitHub repository this clone came from (`git remote get-url origin`).

    python scripts/binder_badge.py            print the badge for this clone's origin
    python scripts/binder_badge.py --write    put it in README.md (then commit README.md)
    python scripts/binder_badge.py --check    exit 1 if README.md's badge is not this origin's

Why a script: mybinder.org needs the owner and repository name in its URL, which no relative link can supply,
and whoever hosts labkit should not have to find and edit the placeholder by hand. A clone whose origin is not
on GitHub (a local path, another host) keeps the placeholder OWNER/labkit and is told why.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PLACEHOLDER = ("OWNER", "labkit")
NOTEBOOK = "notebooks/00-setup.ipynb"
_GITHUB = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$"
)
_BADGE = re.compile(
    r"^\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(https://mybinder\.org/v2/gh/[^)]*\)$", re.MULTILINE
)


def github_repo(url: str) -> tuple[str, str] | None:
    """(owner, repository) of a GitHub remote URL in any of git's spellings; None for anything else."""
    match = _GITHUB.match(url.strip())
    return (match["owner"], match["repo"]) if match else None


def badge(owner: str, repo: str) -> str:
    """The README's first line after the title: Binder opens the setup notebook in JupyterLab."""
    link = f"https://mybinder.org/v2/gh/{owner}/{repo}/HEAD?urlpath=lab/tree/{NOTEBOOK}"
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({link})"


def origin_url(root: Path = ROOT) -> str | None:
    result = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def with_badge(readme: str, line: str) -> str:
    if not _BADGE.search(readme):
        raise SystemExit("binder_badge: README.md has no Binder badge line to replace")
    return _BADGE.sub(lambda _: line, readme, count=1)


def main(argv: list[str]) -> int:
    url = origin_url()
    repo = github_repo(url) if url else None
    if repo is None:
        print(
            f"binder_badge: origin is {url or 'not set'}, not a GitHub repository; the badge keeps "
            f"{'/'.join(PLACEHOLDER)}",
            file=sys.stderr,
        )
        repo = PLACEHOLDER
    line = badge(*repo)
    if "--write" in argv:
        README.write_text(with_badge(README.read_text(), line))
        print(f"binder_badge: README.md now points at {'/'.join(repo)}")
    elif "--check" in argv:
        if line not in README.read_text():
            print(
                f"binder_badge: README.md's badge is not {'/'.join(repo)}; run scripts/binder_badge.py --write",
                file=sys.stderr,
            )
            return 1
    else:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
