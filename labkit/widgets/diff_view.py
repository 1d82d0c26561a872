"""DiffView: the reference reply and a model's reply side by side, hallucinated bytes marked.

Marks never rely on colour alone: a hallucinated byte is bold and underlined, has a ^^ marker under it and
carries data-hallucinated="1"; every field gets ✓ or ✗; the receiver's verdict is spelled out in words.
The verdicts themselves come from labkit.judge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.errors import LabkitError
from labkit.fields import describe_value
from labkit.judge import FieldVerdict, Judgement, judge
from labkit.widgets.base import LabkitView
from labkit.widgets.grid import WIDTH, Cell, grid_html, grid_text, marked_rows, visible_rows
from labkit.widgets.layout import PacketLayout, as_bytes
from labkit.widgets.style import esc, role_legend_html, role_style

if TYPE_CHECKING:
    from labkit.models.base import Attempt

OK, BAD = "✓", "✗"


def _shown(name: str, value: object, length: int) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, (int, str, bytes, bytearray)):
        return describe_value(name, value, length)
    return str(value)


def _difference(verdict: FieldVerdict) -> str:
    """For a wrong bytes field (payload, options): where it first differs, which a 16-byte preview may not show."""
    expected, got = verdict.expected, verdict.got
    if not isinstance(expected, (bytes, bytearray)) or not isinstance(got, (bytes, bytearray)):
        return ""
    for index, (want, have) in enumerate(zip(expected, got)):
        if want != have:
            return (
                f"first difference at byte {index} of the field (packet offset {verdict.offset + index}): "
                f"0x{have:02x}, reference 0x{want:02x}"
            )
    return f"{len(got)} bytes instead of {len(expected)}" if len(got) != len(expected) else ""


def _ranges(offsets: tuple[int, ...]) -> str:
    """13, 23, 50–83: runs of consecutive offsets collapsed."""
    parts, start = [], None
    for index, offset in enumerate(offsets):
        if start is None:
            start = offset
        if index + 1 == len(offsets) or offsets[index + 1] != offset + 1:
            parts.append(str(start) if start == offset else f"{start}–{offset}")
            start = None
    return ", ".join(parts)


def _layout_or_none(data: bytes | None, link: str | None) -> PacketLayout | None:
    if not data:
        return None
    try:
        return PacketLayout(data, link)
    except LabkitError:
        return None  # a reply too broken to map still gets drawn, just without field colours


class DiffView(LabkitView):
    """Reference reply vs a model's reply for one request, judged by labkit.judge.

    `expected` defaults to the reference stack's reply; pass `judgement` if you already have one.
    """

    css_class = "labkit-view labkit-diff"

    def __init__(
        self,
        request: bytes | str,
        reply: bytes | str | None,
        expected: bytes | str | None = None,
        *,
        title: str = "",
        link: str | None = None,
        judgement: Judgement | None = None,
        model_label: str = "model reply",
        parse_error: str | None = None,
    ) -> None:
        self.request = as_bytes(request, "request")
        reply_bytes = None if reply is None else as_bytes(reply, "reply")
        expected_bytes = None if expected is None else as_bytes(expected, "expected reply")
        self.judgement = judgement or judge(self.request, reply_bytes, expected_bytes)
        self.heading = title
        self.model_label = model_label
        self.parse_error = parse_error  # why a model's text gave no reply bytes, if it did not
        reference = self.judgement.expected
        self.layout_map = _layout_or_none(reference, link) or _layout_or_none(self.judgement.got, link)
        super().__init__()
        self._refresh()

    @classmethod
    def from_attempt(cls, attempt: Attempt, *, title: str = "") -> DiffView:
        """Judge one labkit Attempt (request, reply, model, strategy) and show it."""
        label = f"{attempt.model} reply" + (
            " (simulated)" if attempt.simulated and "simulated" not in attempt.model else ""
        )
        return cls(
            attempt.request,
            attempt.reply,
            title=title or f"{attempt.model} · {attempt.strategy}",
            model_label=label,
            parse_error=attempt.parse_error,
        )

    # --- state tests and notebooks read -----------------------------------------------------------------
    @property
    def expected(self) -> bytes | None:
        return self.judgement.expected

    @property
    def got(self) -> bytes | None:
        return self.judgement.got

    @property
    def marked_offsets(self) -> tuple[int, ...]:
        """Offsets drawn as hallucinated (exactly the judge's `hallucinated`)."""
        return tuple(sorted(self.judgement.hallucinated))

    @property
    def free_offsets(self) -> tuple[int, ...]:
        """Offsets that differ only where a stack may choose freely (IPv4 id, TTL, DF): not hallucinated."""
        return tuple(self.judgement.free)

    @property
    def size(self) -> int:
        return max(len(self.expected or b""), len(self.got or b""), max(self.marked_offsets, default=-1) + 1)

    @property
    def shown_rows(self) -> set[int] | None:
        """Rows drawn (None = all): long packets show their headers, the end, and the rows around each mark."""
        got_length = len(self.got or b"")
        present = [offset for offset in (*self.marked_offsets, *self.free_offsets) if offset < got_length]
        missing = [offset for offset in self.marked_offsets if offset >= got_length]
        return visible_rows(-(-self.size // WIDTH), marked_rows(present + missing[:1]))

    def title_at(self, offset: int) -> str:
        """What hovering byte `offset` of the model's reply shows."""
        expected, got = self.expected or b"", self.got or b""
        lines: list[str] = []
        if self.layout_map is not None and offset < len(self.layout_map.data):
            lines.extend(f"{f.name} ({f.layer})" for f in self.layout_map.fields_at(offset))
        want = f"0x{expected[offset]:02x}" if offset < len(expected) else "nothing (reply too long)"
        have = f"0x{got[offset]:02x}" if offset < len(got) else "nothing (reply too short)"
        if offset in self.judgement.hallucinated:
            lines.append(f"offset {offset}: HALLUCINATED — reference {want}, model {have}")
            if self.cause_at(offset):
                lines.append(f"likely cause: {self.cause_at(offset)}")
        elif offset in self.free_offsets:
            lines.append(f"offset {offset}: {have}, reference {want} — a free choice (IPv4 id, TTL or DF), allowed")
        else:
            lines.append(f"offset {offset}: {have}, as the reference")
        return "\n".join(lines)

    # --- rendering --------------------------------------------------------------------------------------
    def _background(self, offset: int) -> str:
        if self.layout_map is not None and offset < len(self.layout_map.data):
            return self.layout_map.colour_at(offset)
        return role_style(None)

    def _role(self, offset: int) -> str | None:
        if self.layout_map is not None and offset < len(self.layout_map.data):
            return self.layout_map.role_at(offset)
        return None

    def cause_at(self, offset: int) -> str:
        """The taxonomy's cause for a marked byte ("" when none): what DiffView writes next to the run."""
        return next((run.label for run in self.judgement.causes if offset in run.offsets), "")

    def checksum_pairs(self) -> list[str]:
        """Why a checksum field can be ✓ while its checksum is ✗ (and the other way round), in words."""
        verdicts = {verdict.name: verdict for verdict in self.judgement.fields}
        notes = []
        for check in self.judgement.checksums:
            verdict = verdicts.get(check.name)
            if verdict is None or verdict.ok == check.ok:
                continue
            if verdict.ok:
                notes.append(
                    f"{OK} {check.name} matches the reference, but {BAD} {check.name} 0x{check.found:04x} "
                    f"should be 0x{check.expected:04x}: the value is right for the correct reply, and "
                    "other bytes of this reply differ, so it is wrong for the bytes actually sent. "
                    "A receiver checks the bytes it gets."
                )
            else:
                notes.append(
                    f"{BAD} {check.name} differs from the reference, but {OK} it is valid for the bytes "
                    "this reply holds: the arithmetic was right and the copy was wrong."
                )
        return notes

    def _owner(self, offset: int) -> str | None:
        if self.layout_map is not None and offset < len(self.layout_map.owners):
            return self.layout_map.owners[offset]
        return None

    def _cells(self, data: bytes | None, marks: bool) -> list[Cell]:
        data = data or b""
        marked = set(self.judgement.hallucinated) if marks else set()
        free = set(self.free_offsets) if marks else set()
        length = self.size if marks else len(data)
        cells = []
        for offset in range(length):
            owner = self._owner(offset)
            title = (
                self.title_at(offset)
                if marks
                else (
                    self.layout_map.title_at(offset)
                    if self.layout_map is not None
                    and offset < len(self.layout_map.data)
                    and self.layout_map.data == data
                    else f"offset {offset}"
                )
            )
            start = self.layout_map.is_field_start(offset) if self.layout_map is not None else False
            layer = self.layout_map.is_layer_start(offset) and offset > 0 if self.layout_map is not None else False
            cells.append(
                Cell(
                    offset,
                    data[offset] if offset < len(data) else None,
                    owner,
                    self._background(offset),
                    title,
                    start,
                    False,
                    offset in marked,
                    offset in free,
                    role=self._role(offset),
                    layer_start=layer,
                )
            )
        return cells

    def _fields_html(self) -> str:
        """Every field as a ✓/✗ chip, then a table of the wrong ones: reference value next to the model's."""
        chips, wrong = [], []
        for verdict in self.judgement.fields:
            mark = OK if verdict.ok else BAD
            style = "" if verdict.ok else ' style="font-weight:bold;text-decoration:underline"'
            chips.append(
                f'<li data-field="{esc(verdict.name)}" data-ok="{int(verdict.ok)}"{style} '
                f'title="{esc(verdict.name)} @{verdict.offset}: {"correct" if verdict.ok else "wrong"}">'
                f"{mark} <code>{esc(verdict.name)}</code></li>"
            )
            if not verdict.ok:
                wrong.append(
                    f'<tr data-field="{esc(verdict.name)}"><td><b>{BAD}</b></td>'
                    f"<td><code>{esc(verdict.name)}</code></td>"
                    f'<td class="labkit-mono">{verdict.offset}</td>'
                    f'<td class="labkit-mono">{esc(_shown(verdict.name, verdict.expected, verdict.length))}</td>'
                    f'<td class="labkit-mono"><b><u>{esc(_shown(verdict.name, verdict.got, verdict.length))}</u></b>'
                    f"{'<br>' + esc(_difference(verdict)) if _difference(verdict) else ''}</td></tr>"
                )
        table = (
            '<table class="labkit-table" data-role="wrong-fields"><tr><th></th><th>wrong field</th>'
            f"<th>offset</th><th>reference</th><th>{esc(self.model_label)}</th></tr>{''.join(wrong)}</table>"
            if wrong
            else ""
        )
        return f'<ul class="labkit-legend" data-role="fields">{"".join(chips)}</ul>{table}'

    def _causes_html(self) -> str:
        """One row per marked run: where, which field, the taxonomy's likely cause and the digits."""
        rows = "".join(
            f'<tr data-cause="{esc(run.cause)}" data-offsets="{_ranges(run.offsets)}"><td class="labkit-mono">'
            f"{_ranges(run.offsets)}</td><td><code>{esc(run.field or '-')}</code></td><td><b>{esc(run.label)}</b>"
            f"</td><td>{esc(run.detail)}</td></tr>"
            for run in self.judgement.causes
        )
        return (
            '<table class="labkit-table" data-role="causes"><tr><th>bytes</th><th>field</th>'
            f"<th>likely cause (labkit.taxonomy)</th><th>detail</th></tr>{rows}</table>"
            if rows
            else ""
        )

    def _checksum_lines(self) -> list[tuple[bool, str]]:
        return [
            (
                check.ok,
                f"{check.name} 0x{check.found:04x}"
                + (" is valid" if check.ok else f" should be 0x{check.expected:04x}"),
            )
            for check in self.judgement.checksums
        ]

    def _summary(self) -> str:
        marked, free = self.marked_offsets, self.free_offsets
        if marked:
            plural = len(marked) != 1
            text = (
                f"{len(marked)} hallucinated byte{'s' if plural else ''} at offset{'s' if plural else ''} "
                f"{_ranges(marked)}"
            )
        elif self.got is None:
            text = "no reply"
        else:
            text = "no hallucinated bytes"
        if free:
            text += f" ({len(free)} byte{'s' if len(free) != 1 else ''} differ by free choice: {_ranges(free)})"
        return text

    def _verdict_text(self) -> str:
        if self.judgement.accepted:
            reason = self.judgement.reason
            rest = reason[len("accepted") :] if reason.startswith("accepted") else f" ({reason})"
            return f"{OK} Linux ping accepts this reply{rest}."
        return f"{BAD} {self.judgement.reason}"

    def body_html(self) -> str:
        heading = f"{esc(self.heading)} · " if self.heading else ""
        summary = self._summary()
        rows = marked_rows(self.judgement.hallucinated)
        shown = self.shown_rows
        if self.got is None:
            no_reply = esc(self.parse_error or "no reply bytes")
            right = f'<div data-role="no-reply"><b>{BAD} no reply</b>: {no_reply}</div>'
        else:
            right = grid_html(
                self._cells(self.got, True), markers=True, label=self.model_label, marker_rows=rows, show_rows=shown
            )
        left = (
            grid_html(
                self._cells(self.expected, False),
                label="reference reply (what Linux sends)",
                markers=self.got is not None,
                marker_rows=rows,
                show_rows=shown,
            )
            if self.expected
            else '<div data-role="no-reference">no reference reply for this request</div>'
        )
        checks = "".join(
            f'<li data-checksum="{esc(line.split()[0])}" data-ok="{int(ok)}"><b>{OK if ok else BAD}</b> '
            f"{esc(line)}</li>"
            for ok, line in self._checksum_lines()
        )
        legend = (
            self.layout_map.layers_html() + role_legend_html() + self.layout_map.legend_html()
            if self.layout_map is not None
            else ""
        )
        pairs = "".join(f"<li>{esc(note)}</li>" for note in self.checksum_pairs())
        pairs = f'<ul data-role="checksum-pairs" class="labkit-verdict">{pairs}</ul>' if pairs else ""
        accepted = int(self.judgement.accepted)
        return (
            f"<h4>{heading}{summary}</h4>"
            f'<div class="labkit-side"><div data-role="reference">{left}</div>'
            f'<div data-role="model">{right}</div></div>{legend}'
            f'<div class="labkit-verdict" data-role="verdict" data-accepted="{accepted}">'
            f"{esc(self._verdict_text())}</div>"
            f'<ul data-role="checksums" style="list-style:none;padding-left:0;margin:4px 0">{checks}</ul>'
            f"{pairs}{self._causes_html()}{self._fields_html()}"
        )

    def css_labels(self) -> list[str]:
        return [entry.label for entry in self.layout_map.legend] if self.layout_map is not None else []

    def text(self) -> str:
        marked = self.marked_offsets
        head = f"DiffView: {self.heading + ' · ' if self.heading else ''}{self._summary()}"
        lines = [head, "reference reply:"]
        lines += grid_text(self.expected, show_rows=self.shown_rows) if self.expected else ["  (none)"]
        legend = (("^^ = hallucinated", marked), ("~~ = free choice", self.free_offsets))
        keys = [text for text, shown in legend if shown]
        lines.append(f"{self.model_label}{' (' + ', '.join(keys) + ')' if keys else ''}:")
        if self.got is None:
            lines.append(f"  (no reply: {self.parse_error or 'no reply bytes'})")
        else:
            lines += grid_text(
                self.got, markers=marked, free=self.free_offsets, length=self.size, show_rows=self.shown_rows
            )
        lines.append("fields:")
        for verdict in self.judgement.fields:
            shown = _shown(verdict.name, verdict.got, verdict.length)
            if not verdict.ok:
                shown = (
                    _difference(verdict)
                    or f"{shown}  (reference: {_shown(verdict.name, verdict.expected, verdict.length)})"
                )
            lines.append(f"  {OK if verdict.ok else BAD} {verdict.name:<14} {shown}")
        if self.judgement.checksums:
            lines.append("checksums:")
            lines += [f"  {OK if ok else BAD} {line}" for ok, line in self._checksum_lines()]
            lines += [f"  note: {note}" for note in self.checksum_pairs()]
        if self.judgement.causes:
            lines.append("likely causes:")
            lines += [f"  {run.describe()}" for run in self.judgement.causes]
        lines.append(f"verdict: {self._verdict_text()}")
        return "\n".join(lines)
