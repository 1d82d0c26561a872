"""Colours and CSS shared by every labkit widget.

Colours come from the Okabe–Ito palette (safe for the common kinds of colour blindness), lightened so black
text stays readable on them. Nothing is told by colour alone: fields also have boundaries and legend names,
hallucinated bytes are bold, underlined and marked with ^^.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from labkit.roles import COPIED, DECISION, HOST, RECOMPUTED, ROLES, SWAPPED

# Okabe & Ito (2008), "Color Universal Design"; black is left out because it is the text colour.
OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
)
MARK_COLOUR = "#D55E00"  # vermillion: hallucinated bytes and failed checks (always with a non-colour cue too)
OK_COLOUR = "#009E73"
MISSING_BACKGROUND = "#ffffff"


def tint(colour: str, strength: float = 0.45) -> str:
    """The colour mixed with white, so that black monospace text on it keeps a good contrast."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    mixed = (round(channel * strength + 255 * (1 - strength)) for channel in (red, green, blue))
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def field_colours(labels: list[str]) -> dict[str, str]:
    """A background colour for each field label, cycling through the palette in packet order.

    Cycling by position keeps neighbouring fields apart; the same packet layout always gets the same colours,
    so a request and its reply shown side by side match.
    """
    return {label: tint(OKABE_ITO[index % len(OKABE_ITO)]) for index, label in enumerate(labels)}


# Bytes are coloured by their role in a reply (labkit.roles). Copied bytes, most of a packet, stay quiet; the
# few that a responder must compute stand out. Each role also has a pattern, so it survives greyscale printing.
ROLE_BACKGROUNDS: dict[str, str] = {
    COPIED: "#f2f2f2",
    SWAPPED: tint(OKABE_ITO[1]),  # sky blue
    DECISION: tint(OKABE_ITO[0]),  # orange
    RECOMPUTED: tint(OKABE_ITO[6]),  # reddish purple, striped
    HOST: tint(OKABE_ITO[3], 0.6),  # yellow, dotted
}
ROLE_PATTERNS: dict[str, str] = {
    COPIED: "",
    SWAPPED: "background-image:linear-gradient(to bottom,transparent 80%,rgba(0,0,0,.35) 80%)",
    DECISION: "font-weight:bold",
    RECOMPUTED: "background-image:repeating-linear-gradient(45deg,transparent 0 3px,rgba(0,0,0,.18) 3px 5px)",
    HOST: "background-image:radial-gradient(rgba(0,0,0,.3) 1px,transparent 1.2px);background-size:5px 5px",
}
ROLE_MARKS = {COPIED: "", SWAPPED: "⇄", DECISION: "!", RECOMPUTED: "Σ", HOST: "*"}  # text form and legend


def role_style(role: str | None) -> str:
    """Inline CSS for a byte of this role: background colour plus its greyscale-safe pattern."""
    if role is None:
        return f"background:{MISSING_BACKGROUND}"
    pattern = ROLE_PATTERNS[role]
    return f"background-color:{ROLE_BACKGROUNDS[role]}" + (f";{pattern}" if pattern else "")


def role_legend_html() -> str:
    """The five roles with their swatches: what the colours of a reply's bytes mean."""
    items = "".join(
        f'<li data-role-key="{role}"><span class="labkit-swatch" style="{role_style(role)}"></span>'
        f"<b>{role}</b> {ROLE_MARKS[role]}: <span>{esc(text)}</span></li>"
        for role, text in ROLES.items()
    )
    return f'<ul class="labkit-legend" data-role="roles">{items}</ul>'


def esc(value: object) -> str:
    """HTML-escape any value for text or a quoted attribute."""
    return html.escape(str(value), quote=True)


# One stylesheet for all views. Inline styles carry the essentials (colours, bold, underline) so the static
# HTML still reads where a renderer strips <style> blocks (GitHub); the sheet adds hover and layout niceties.
BASE_CSS = """
.labkit-view { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 13px; color: #111;
  line-height: 1.35; }
.labkit-view h4 { margin: 4px 0 6px 0; font-size: 14px; }
.labkit-hex { border-collapse: separate; border-spacing: 2px 2px;
  font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.labkit-hex td { padding: 1px 3px; text-align: center; border-radius: 2px; min-width: 1.6em; }
.labkit-hex td.labkit-off { color: #555; text-align: right; padding-right: 8px; background: none; }
.labkit-hex td.labkit-gap { min-width: 0.6em; padding: 0; background: none; }
.labkit-hex td.labkit-byte { cursor: help; border: 1px solid transparent; }
.labkit-hex td.labkit-byte:hover { outline: 2px solid #000; }
.labkit-hex td.labkit-start { border-left: 2px solid #333; }
.labkit-hex td.labkit-layer { border-left: 6px double #000; }
.labkit-hex td.labkit-byte label { display: block; cursor: pointer; margin: 0; }
.labkit-hex td.labkit-byte input { position: absolute; opacity: 0; width: 1px; height: 1px; margin: 0; }
.labkit-hex td.labkit-byte:has(input:focus-visible) { outline: 3px solid #0072B2 !important; outline-offset: 1px; }
.labkit-info { margin: 6px 0; padding: 4px 8px; border: 1px solid #999; white-space: pre-line; min-height: 2.6em; }
.labkit-info [data-info-for] { display: none; }
.labkit-layers { margin: 2px 0 4px 0; color: #222; }
.labkit-hex td[data-selected="1"]:not(:has(input)) { outline: 2px solid #000; font-weight: bold; }
.labkit-hex td[data-hallucinated="1"] { font-weight: bold; text-decoration: underline; text-decoration-thickness: 2px; }
.labkit-hex tr.labkit-marker td { color: #000; font-weight: bold; padding-top: 0; padding-bottom: 0;
  line-height: 1; background: none; }
.labkit-legend { display: flex; flex-wrap: wrap; gap: 4px 10px; margin: 6px 0; padding: 0; list-style: none; }
.labkit-legend li { display: inline-flex; align-items: center; gap: 4px; cursor: help; }
.labkit-legend li[data-selected="1"] { font-weight: bold; text-decoration: underline; }
.labkit-swatch { display: inline-block; width: 1.1em; height: 1.1em; border: 1px solid #333; border-radius: 2px; }
.labkit-side { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.labkit-table { border-collapse: collapse; margin: 6px 0; }
.labkit-table th, .labkit-table td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; }
.labkit-table td.labkit-mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.labkit-table tr[data-current="1"] td { background: #fff3b0; font-weight: bold; }
.labkit-verdict { margin: 6px 0; padding: 4px 8px; border-left: 4px solid #333; }
.labkit-verdict[data-accepted="0"] { border-left-style: double; border-left-width: 6px; }
.labkit-counters { display: flex; flex-wrap: wrap; gap: 8px 18px; margin: 4px 0; }
.labkit-counter b { font-size: 18px; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
"""


_CSS_SAFE = re.compile(r"[\w.+/:, -]+")


def hover_css(labels: Iterable[str]) -> str:
    """Rules that outline all bytes of a field while the mouse is on one of them or on its legend entry.

    Uses :has(), which JupyterLab's browsers support; where it is not supported the title tooltips still work.
    """
    rules = []
    for label in labels:
        if not _CSS_SAFE.fullmatch(label):
            continue  # a label we cannot quote safely just loses the hover outline, never breaks the sheet
        rules.append(
            f'.labkit-view:has([data-field="{label}"]:hover) td[data-field="{label}"] {{ outline: 2px solid #000; }}'
        )
    return "\n".join(rules)


def pick_css(labels: Iterable[str]) -> str:
    """Rules for click-to-select without a kernel: a byte is a radio button of its field; the checked one
    outlines all the field's bytes and shows the field's details in the info box (same :has() as hover_css)."""
    rules = []
    for label in labels:
        if not _CSS_SAFE.fullmatch(label):
            continue
        picked = f'.labkit-view:has(input[data-pick="{label}"]:checked)'
        rules.append(f'{picked} td[data-field="{label}"] {{ outline: 2px solid #000; font-weight: bold; }}')
        rules.append(f'{picked} [data-info-for="{label}"] {{ display: block; }}')
        rules.append(f"{picked} [data-info-default] {{ display: none; }}")
        rules.append(f'{picked} .labkit-legend li[data-field="{label}"] {{ font-weight: bold; }}')
        # a click elsewhere overrides the selection made from Python (dropdown): its marks give way
        other = f'.labkit-view:has(input[data-pick]:checked:not([data-pick="{label}"]))'
        rules.append(f'{other} [data-selection-for="{label}"] {{ display: none; }}')
        rules.append(
            f'{other} .labkit-legend li[data-field="{label}"][data-selected] '
            "{ font-weight: normal; text-decoration: none; }"
        )
    return "\n".join(rules)


def style_block(labels: Iterable[str] = ()) -> str:
    """The <style> element each view embeds, so a saved HTML page looks the same on its own."""
    labels = list(labels)
    return f"<style>{BASE_CSS}{hover_css(labels)}\n{pick_css(labels)}</style>"
