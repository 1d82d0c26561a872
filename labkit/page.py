"""Prose that fits the page: labkit's printed sentences wrapped at word boundaries, for a notebook at 1280 px.

Why: JupyterLab wraps an output line that is too long anywhere (its output `pre` has `word-break: break-all`),
so a long sentence printed by labkit is cut mid-word. With the file browser open at 1280 px an output line
holds about 107 characters. Hex, tables and command banners are not prose and are left as they are.
"""

from __future__ import annotations

import textwrap

PAGE_COLUMNS = 100


def fit(text: str, indent: str = "  ") -> str:
    """`text` wrapped at PAGE_COLUMNS on spaces, each of its own lines apart, continuation lines indented."""
    return "\n".join(
        textwrap.fill(line, PAGE_COLUMNS, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
        for line in text.splitlines() or [""]
    )
