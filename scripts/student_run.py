#!/usr/bin/env python3
"""The course as a non-root student: `./lab.sh` run as an ordinary user, every notebook run in Chromium.

Why: root's `.venv` links into root's own Python, which other users cannot read, so nothing else shows what a
student on a laptop sees (no root, Debian's python3, the README's first command). Run as root:

    .venv/bin/python scripts/student_run.py                 # every notebook, screenshots in test-artifacts/nonroot/
    .venv/bin/python scripts/student_run.py 00 05 08        # just these

It creates the user `student` if missing, copies this checkout (tracked and new files) to ~student/labkit,
starts `./lab.sh --no-browser` there as that user on 127.0.0.1 with a token, runs each notebook with
Run > Run All Cells, saves it, and reports error outputs, stderr, widgets that failed to show and output lines
wider than the page, with screenshots 1280 px wide. tests/browser/test_nonroot.py runs it on three notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "nonroot"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
USER = "student"
WIDTH, HEIGHT = 1280, 900
PIP_SETTINGS = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT")
# What does not fit: a box wider than its cell gets a scroll bar a student may miss; a text line longer than
# its box is wrapped by JupyterLab mid-word ("at a" / "ssumed"); a code line longer than its editor is cut off
# at the right edge until scrolled. All measured on the page as it is shown.
OUTPUT_BOXES = ".jp-OutputArea-output pre, .jp-OutputArea-output table, .jp-MarkdownOutput pre"
OVERFLOW_JS = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const cells = [...nb.querySelectorAll('.jp-Cell')];
  const longest = lines => lines.reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 160);
  const found = [];
  const add = (el, kind, over, line) => found.push({cell: cells.indexOf(el.closest('.jp-Cell')), kind, over, line});
  for (const el of nb.querySelectorAll('__BOXES__')) {
    if (el.scrollWidth > el.clientWidth + 2) {
      add(el, 'scrolls', el.scrollWidth - el.clientWidth, longest(el.textContent.split('\\n')));
      continue;
    }
    if (el.tagName !== 'PRE') continue;
    const probe = document.createElement('span');
    probe.textContent = 'M'.repeat(100);
    el.appendChild(probe);
    const fits = Math.floor(el.clientWidth / (probe.getBoundingClientRect().width / 100));
    probe.remove();
    for (const line of el.textContent.split('\\n')) {
      if (line.length > fits) add(el, 'wraps', line.length - fits, line.slice(0, 160));
    }
  }
  for (const el of nb.querySelectorAll('.jp-CodeCell .cm-scroller')) {
    const lines = [...el.querySelectorAll('.cm-line')].map(line => line.textContent);
    if (el.scrollWidth > el.clientWidth + 2) add(el, 'code scrolls', el.scrollWidth - el.clientWidth, longest(lines));
  }
  return found;
}""".replace("__BOXES__", OUTPUT_BOXES)
PROMPTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .map(p => p.textContent.trim())"""


@dataclass
class NotebookRun:
    """What one notebook showed a non-root student."""

    name: str
    seconds: float = 0.0
    executed: int = 0
    code_cells: int = 0
    errors: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    widget_errors: int = 0
    overflow: list[dict] = field(default_factory=list)
    text: str = ""  # the notebook as the page shows it (markdown, code and outputs)
    outputs: str = ""  # what the code cells printed or returned as text, from the saved file
    reopened: tuple[int, int] | None = None  # (widget views shown, widget views saved) after reopening

    def reopened_ok(self) -> bool:
        return self.reopened is None or self.reopened[0] == self.reopened[1]

    def ok(self) -> bool:
        return not self.errors and not self.widget_errors and self.executed == self.code_cells and self.reopened_ok()

    def summary(self) -> str:
        head = f"{self.name}: {self.executed}/{self.code_cells} cells run in {self.seconds:.0f} s"
        lines = [head, *(f"  ERROR {e}" for e in self.errors), *(f"  stderr {s}" for s in self.stderr)]
        if self.widget_errors:
            lines.append(f"  {self.widget_errors} x 'Error displaying widget'")
        if self.reopened is not None:
            lines.append("  reopened without its kernel: {} of {} saved widgets shown".format(*self.reopened))
        unit = {"scrolls": "px", "wraps": "characters", "code scrolls": "px"}
        lines += [
            f"  {o['kind']} (cell {o['cell']}, {o['over']} {unit[o['kind']]} too long): {o['line']}"
            for o in self.overflow
        ]
        return "\n".join(lines)


def ensure_user(user: str = USER) -> pwd.struct_passwd:
    """An ordinary user with a home, made once (like a student's own account on a laptop)."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", user], check=True)
        return pwd.getpwnam(user)


def copy_checkout(account: pwd.struct_passwd) -> Path:
    """This checkout's files as they are now (tracked and new, not ignored) in ~user/labkit, owned by the user.

    The user's .venv is kept, so a second run does not download everything again."""
    target = Path(account.pw_dir) / "labkit"
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    if target.exists():
        for child in target.iterdir():
            if child.name != ".venv":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run(["chown", "-R", f"{account.pw_uid}:{account.pw_gid}", str(target)], check=True)
    return target


def as_student(account: pwd.struct_passwd) -> list[str]:
    """The command prefix that runs as the user: their uid, gid and groups, no capabilities left over."""
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]


def installed_checkout(timeout: float = 900) -> tuple[pwd.struct_passwd, Path]:
    """The user and a fresh copy of this checkout with its .venv, made by scripts/install.sh run as the user
    (the first time it downloads everything, minutes; then it finds the .venv up to date in a moment)."""
    account = ensure_user()
    checkout = copy_checkout(account)
    done = subprocess.run(
        [*as_student(account), "scripts/install.sh"],
        env=student_env(account),
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"scripts/install.sh as {account.pw_name} failed ({done.returncode}): {tail}")
    return account, checkout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def student_env(account: pwd.struct_passwd) -> dict[str, str]:
    """A login-like environment: no root PATH, no pyenv; only where pip finds packages is passed on."""
    env = {
        "HOME": account.pw_dir,
        "USER": account.pw_name,
        "LOGNAME": account.pw_name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "SHELL": "/bin/bash",
    }
    env.update({k: os.environ[k] for k in PIP_SETTINGS if k in os.environ})
    return env


class StudentLab:
    """`./lab.sh --no-browser` as the user, on 127.0.0.1 with a token; stop() ends it and its kernels."""

    def __init__(self, checkout: Path, account: pwd.struct_passwd, log_path: Path) -> None:
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log_path = log_path
        argv = ["./lab.sh", "--no-browser", "--ip=127.0.0.1", f"--port={self.url.rsplit(':', 1)[1]}"]
        argv += [f"--IdentityProvider.token={self.token}", "--ServerApp.port_retries=0"]
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(
                [*as_student(account), *argv],
                cwd=checkout,
                env=student_env(account),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float) -> None:
        """lab.sh installs first (minutes on a fresh account), then serves."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"./lab.sh did not serve:\n{self.log_path.read_text()[-3000:]}") from None
                time.sleep(0.5)

    def kernels(self) -> list[dict]:
        return json.loads(urllib.request.urlopen(f"{self.url}/api/kernels?token={self.token}", timeout=10).read())

    def stop(self) -> None:
        """SIGTERM to the whole process group (Jupyter shuts its kernels down), SIGKILL if it lingers."""
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def _run_all(page) -> None:
    """Click into the first code cell, then Run > Run All Cells (again if the first click came too early)."""
    for _ in range(4):
        page.locator(".jp-CodeCell .jp-InputArea-editor").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            if any(re.search(r"[*0-9]", p) for p in page.evaluate(PROMPTS_JS)):
                return
            time.sleep(0.3)
    raise RuntimeError("Run All Cells did not start")


def _wait_done(page, timeout: float) -> None:
    """Done when no cell is queued or running and the kernel has been idle for two seconds."""
    deadline, idle_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        busy = any("*" in p for p in page.evaluate(PROMPTS_JS))
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
        if busy or not idle:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > 2:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the notebook was still running after {timeout:.0f} s")


def _saved_outputs(path: Path, run: NotebookRun) -> None:
    """Errors and stderr from the saved file: exactly what the kernel sent, not what the page chose to show."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    run.code_cells = len(cells)
    run.executed = sum(1 for c in cells if c.get("execution_count"))
    for number, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                run.errors.append(f"code cell {number}: {out['ename']}: {out['evalue']}"[:300])
            elif out.get("name") == "stderr":
                run.stderr.append(f"code cell {number}: {''.join(out['text']).strip()[:300]}")
            run.outputs += "".join(out.get("text") or out.get("data", {}).get("text/plain", "")) + "\n"


def _save(page, path: Path) -> None:
    before = path.stat().st_mtime
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 20
    while path.stat().st_mtime == before and time.monotonic() < deadline:
        time.sleep(0.3)


def screenshot(page, out: Path) -> list[Path]:
    """The notebook 1280 px wide, top to bottom: one picture per screen (the notebook scrolls, not the page)."""
    outer = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer").first
    shots: list[Path] = []
    top = 0
    while True:
        reached = outer.evaluate("(el, top) => { el.scrollTop = top; return el.scrollTop; }", top)
        time.sleep(0.4)
        shot = out.with_name(f"{out.stem}-{len(shots) + 1:02d}.png")
        page.screenshot(path=str(shot))
        shots.append(shot)
        height, view = outer.evaluate("el => [el.scrollHeight, el.clientHeight]")
        if reached + view >= height - 2 or len(shots) >= 60:
            return shots
        top = reached + view - 60  # a little overlap, so no line is cut in two without showing whole once


def _answer_news_toast(page) -> None:
    """JupyterLab asks once whether to fetch Jupyter news; a student answers No (the toast covers outputs)."""
    no = page.locator(".jp-toast-button", has_text=re.compile(r"^No$"))
    try:
        no.first.click(timeout=8_000)
    except Exception:  # not asked (already answered): nothing to do
        pass


def run_notebook(page, lab: StudentLab, checkout: Path, name: str, timeout: float = 900) -> NotebookRun:
    """Open, Run All, wait, save; then read the saved outputs and the page."""
    run = NotebookRun(name)
    started = time.monotonic()
    page.goto(f"{lab.url}/lab/tree/{name}?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    _run_all(page)
    _wait_done(page, timeout)
    run.seconds = time.monotonic() - started
    path = checkout / "notebooks" / name
    _save(page, path)
    _saved_outputs(path, run)
    run.widget_errors = page.get_by_text("Error displaying widget").count()
    run.overflow = page.evaluate(OVERFLOW_JS)
    run.text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").evaluate("el => el.textContent")
    return run


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SHOWN_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
  .filter(el => el.querySelector(':scope > .jupyter-widgets') && !el.parentElement.closest('.jupyter-widgets'))
  .filter(el => !el.textContent.includes('Error displaying widget'))
  .length"""


def _saved_views(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for cell in cells for out in cell.get("outputs", []) if WIDGET_VIEW in out.get("data", {}))


def _shown_after_reload(page, saved: int) -> int:
    page.reload()
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    no_kernel = page.locator(".jp-Dialog select")
    if no_kernel.count():  # "Select Kernel": a student without the kernel picks No Kernel
        no_kernel.select_option(label="No Kernel")
        page.locator(".jp-Dialog button.jp-mod-accept").click()
    deadline, shown = time.monotonic() + 20, 0
    while time.monotonic() < deadline and shown < saved:
        time.sleep(0.5)
        shown = page.evaluate(SHOWN_JS)
    return shown


def reopen(page, path: Path, run: NotebookRun) -> None:
    """With the kernel shut down, reopen the saved notebook: its widgets must show from the state saved in it
    (lab.sh turns saving widget state on). Once more if the first reopening loses the race that
    @jupyter-widgets/jupyterlab-manager can lose (see tests/browser/test_jupyterlab.py)."""
    saved = _saved_views(path)
    if not saved:
        return
    shown = _shown_after_reload(page, saved)
    if shown < saved:
        shown = _shown_after_reload(page, saved)
    run.reopened = (shown, saved)


def _close_all(page) -> None:
    """Shut the notebook's kernel, so the next notebook starts from a clean, quiet machine."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Shut Down All Kernels")).click()
    try:  # JupyterLab asks "Shut down all kernels?"
        page.locator(".jp-Dialog button.jp-mod-accept").click(timeout=5_000)
    except Exception:  # not asked: no kernel was running
        pass
    page.wait_for_selector(".jp-Dialog", state="detached")


def notebooks(wanted: list[str]) -> list[str]:
    names = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    chosen = [n for n in names if not wanted or any(n.startswith(w) for w in wanted)]
    if not chosen:
        raise SystemExit(f"student_run: no notebook starts with {' or '.join(wanted)}")
    return chosen


def run_course(names: list[str], shots: bool = True, ready_timeout: float = 900) -> list[NotebookRun]:
    """The whole student run: user, copy, ./lab.sh, Chromium through each notebook; always stops the server."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    account = ensure_user()
    checkout = copy_checkout(account)
    lab = StudentLab(checkout, account, ARTIFACTS / "lab.log")
    runs = []
    try:
        started = time.monotonic()
        lab.wait_ready(ready_timeout)
        print(f"./lab.sh served as {account.pw_name} after {time.monotonic() - started:.0f} s", flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
                page.set_default_timeout(45_000)
                page.goto(f"{lab.url}/lab?token={lab.token}")  # sets the login cookie, as the printed URL does
                page.wait_for_selector("#jp-main-dock-panel")
                _answer_news_toast(page)
                for name in names:
                    run = run_notebook(page, lab, checkout, name)
                    if shots:
                        screenshot(page, ARTIFACTS / name.replace(".ipynb", ".png"))
                    _close_all(page)
                    reopen(page, checkout / "notebooks" / name, run)
                    _close_all(page)
                    runs.append(run)
                    print(run.summary(), flush=True)
            finally:
                browser.close()
    finally:
        lab.stop()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="number prefixes (00 05 08); default: every notebook")
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("student_run: run as root (it creates the user `student` and runs as it)", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"student_run: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    runs = run_course(notebooks(args.notebooks), shots=not args.no_screenshots)
    return 0 if all(r.ok() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
