"""The hex grid every view is built from: one cell per byte, as HTML (for people) and as text (for terminals).

A cell carries everything a reader or a test needs as data attributes: data-offset, data-field,
data-hallucinated, data-selected, plus a title tooltip with the field's name, decoded value and offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from labkit.packets import hexdump_lines
from labkit.widgets.style import MARK_COLOUR, MISSING_BACKGROUND, esc

WIDTH = 16
MARKER = "^^"
FREE_MARKER = "~~"


@dataclass(frozen=True)
class Cell:
    """One byte as drawn: `value` None means the byte is missing (a reply shorter than the reference)."""

    offset: int
    value: int | None
    field: str | None = None
    background: str = f"background:{MISSING_BACKGROUND}"  # CSS declarations: colour and pattern (style.role_style)
    title: str = ""
    field_start: bool = False
    selected: bool = False
    hallucinated: bool = False
    free: bool = False  # differs from the reference only by a choice a stack may make freely
    role: str | None = None  # labkit.roles: copied, swapped, decision, recomputed, host
    layer_start: bool = False  # the first byte of a layer (IPv4, ICMP, ...): a heavier boundary
    pick: str = ""  # radio group: clicking or arrowing to the byte selects its field (no kernel needed)
    checked: bool = False  # the byte whose radio is checked (the first byte of the selected field)


def _rows(cells: Sequence[Cell], width: int) -> Iterable[Sequence[Cell]]:
    for start in range(0, len(cells), width):
        yield cells[start : start + width]


def _cell_html(cell: Cell) -> str:
    classes = ["labkit-byte"]
    if cell.field_start:
        classes.append("labkit-start")
    if cell.layer_start:
        classes.append("labkit-layer")
    style = [cell.background]
    attributes = [f'data-offset="{cell.offset}"']
    if cell.field is not None:
        attributes.append(f'data-field="{esc(cell.field)}"')
    if cell.role is not None:
        attributes.append(f'data-byte-role="{cell.role}"')
    if cell.selected:
        attributes.append('data-selected="1"')
        if not cell.pick:  # a pickable byte shows the selection through its checked radio (style.pick_css)
            style.append("outline:2px solid #000;font-weight:bold")
    if cell.hallucinated:
        attributes.append('data-hallucinated="1"')
        style.append(f"font-weight:bold;text-decoration:underline;box-shadow:inset 0 0 0 2px {MARK_COLOUR}")
    if cell.free:
        attributes.append('data-free="1"')
        style.append("font-style:italic;border-bottom:2px dotted #000")
    if cell.value is None:
        attributes.append('data-missing="1"')
        text = "··"
    else:
        text = f"{cell.value:02x}"
    if cell.pick and cell.field is not None and cell.value is not None:
        checked = " checked" if cell.checked else ""
        # data-lm-suppress-shortcuts: JupyterLab would take the arrow keys for its own shortcuts; here they
        # walk the bytes. Lumino tests the focused element itself first, so the attribute sits on the input.
        text = (
            f'<label><input type="radio" name="{cell.pick}" data-pick="{esc(cell.field)}" '
            f'data-lm-suppress-shortcuts="true" '
            f'aria-label="byte {cell.offset}, {esc(cell.field)}"{checked}>{text}</label>'
        )
    return (
        f'<td class="{" ".join(classes)}" {" ".join(attributes)} style="{";".join(style)}"'
        f' title="{esc(cell.title)}">{text}</td>'
    )


def marked_rows(offsets: Iterable[int], width: int = WIDTH) -> set[int]:
    """Row numbers holding any of `offsets`: where a ^^ marker row goes."""
    return {offset // width for offset in offsets}


def visible_rows(
    total_rows: int, keep: Iterable[int] = (), *, head: int = 4, tail: int = 1, context: int = 1, threshold: int = 8
) -> set[int] | None:
    """Which rows of a long packet to draw: the headers (`head` rows), the last `tail` rows and `context` rows
    around every row in `keep` (marked or selected bytes). None = draw all (short packets, <= `threshold` rows).

    A 1500-byte packet is 94 rows; drawing them all makes notebooks of megabytes and hides the few marked bytes.
    """
    if total_rows <= threshold:
        return None
    rows = set(range(min(head, total_rows))) | set(range(max(total_rows - tail, 0), total_rows))
    for row in keep:
        rows.update(r for r in range(row - context, row + context + 1) if 0 <= r < total_rows)
    return rows


def _skipped_runs(total_rows: int, shown: set[int] | None) -> dict[int, int]:
    """First hidden row of each hidden run -> how many rows the run has."""
    runs: dict[int, int] = {}
    if shown is None:
        return runs
    start = None
    for row in range(total_rows + 1):
        hidden = row < total_rows and row not in shown
        if hidden and start is None:
            start = row
        elif not hidden and start is not None:
            runs[start] = row - start
            start = None
    return runs


def _skip_text(start_row: int, count: int, width: int) -> str:
    first, last = start_row * width, (start_row + count) * width - 1
    return f"⋮ {count} row{'s' if count != 1 else ''} not shown (0x{first:04x}–0x{last:04x}, {count * width} bytes)"


def grid_html(
    cells: Sequence[Cell],
    *,
    width: int = WIDTH,
    markers: bool = False,
    label: str = "",
    marker_rows: set[int] | None = None,
    show_rows: set[int] | None = None,
) -> str:
    """A <table> of bytes, 16 a row split 8+8; with `markers`, a ^^ row under every row with hallucinated bytes.

    `marker_rows` forces (possibly empty) marker rows under those rows, so two grids side by side stay aligned.
    `show_rows` (from visible_rows) draws only those rows, with one "⋮ n rows not shown" line per gap.
    """
    half = width // 2
    rows = []
    all_rows = list(_rows(cells, width))
    skipped = _skipped_runs(len(all_rows), show_rows)
    for row_index, row in enumerate(all_rows):
        if row_index in skipped:
            rows.append(
                f'<tr class="labkit-skip" data-skipped-rows="{skipped[row_index]}"><td></td>'
                f'<td colspan="{width + 1}" style="color:#555;text-align:left">'
                f"{esc(_skip_text(row_index, skipped[row_index], width))}</td></tr>"
            )
        if show_rows is not None and row_index not in show_rows:
            continue
        tds = [f'<td class="labkit-off">{row[0].offset:04x}</td>']
        for index, cell in enumerate(row):
            if index == half:
                tds.append('<td class="labkit-gap"></td>')
            tds.append(_cell_html(cell))
        rows.append(f"<tr>{''.join(tds)}</tr>")
        wanted = row_index in marker_rows if marker_rows is not None else any(c.hallucinated for c in row)
        if markers and wanted:
            marks = ['<td class="labkit-off">&nbsp;</td>']  # keeps an empty spacer row as tall as a marked one
            for index, cell in enumerate(row):
                if index == half:
                    marks.append('<td class="labkit-gap"></td>')
                mark = MARKER if cell.hallucinated else ""
                marks.append(f'<td data-marker-for="{cell.offset}">{mark}</td>' if mark else "<td></td>")
            rows.append(f'<tr class="labkit-marker" aria-hidden="true">{"".join(marks)}</tr>')
    caption = f'<caption style="text-align:left;font-weight:bold">{esc(label)}</caption>' if label else ""
    return f'<table class="labkit-hex">{caption}{"".join(rows)}</table>'


def byte_column(index_in_row: int, offset_digits: int = 4, width: int = WIDTH) -> int:
    """Text column where a byte's two hex digits start in a packets.hexdump row."""
    return offset_digits + 2 + 3 * index_in_row + (1 if index_in_row >= width // 2 else 0)


def annotation_line(marks: Sequence[str], offset_digits: int = 4, width: int = WIDTH) -> str:
    """A line aligned under a hexdump row: two characters (or blanks) under each byte."""
    line = [" "] * (byte_column(width - 1, offset_digits, width) + 2)
    for index, mark in enumerate(marks):
        column = byte_column(index, offset_digits, width)
        line[column : column + 2] = list(f"{mark:<2}"[:2])
    return "".join(line).rstrip()


def grid_text(
    data: bytes,
    *,
    annotations: Sequence[str] | None = None,
    markers: Iterable[int] = (),
    free: Iterable[int] = (),
    width: int = WIDTH,
    length: int | None = None,
    show_rows: set[int] | None = None,
) -> list[str]:
    """packets.hexdump rows, each followed by an optional annotation line (legend keys per byte) and,
    under rows holding marked offsets, a ^^ line (~~ under `free` ones). `length` extends markers past the
    end of short data."""
    marked = set(markers)
    allowed = set(free) - marked
    total = max(len(data), length or 0, (max(marked) + 1) if marked else 0)
    offset_digits = max(4, len(f"{max(total - 1, 0):x}"))
    dump = hexdump_lines(data, width) if data else []
    lines = []
    skipped = _skipped_runs(-(-total // width), show_rows)
    for row_index, start in enumerate(range(0, total, width)):
        if row_index in skipped:
            lines.append(" " * (offset_digits + 2) + _skip_text(row_index, skipped[row_index], width))
        if show_rows is not None and row_index not in show_rows:
            continue
        lines.append(dump[row_index] if row_index < len(dump) else f"{start:0{offset_digits}x}")
        span = range(start, min(start + width, total))
        if annotations is not None:
            keys = [annotations[offset] if offset < len(annotations) else "" for offset in span]
            if any(keys):
                lines.append(annotation_line(keys, offset_digits, width))
        if marked.intersection(span) or allowed.intersection(span):
            lines.append(
                annotation_line(
                    [MARKER if offset in marked else FREE_MARKER if offset in allowed else "" for offset in span],
                    offset_digits,
                    width,
                )
            )
    return lines
