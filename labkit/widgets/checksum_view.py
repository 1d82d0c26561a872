"""ChecksumWalkthrough: RFC 1071 one word at a time, forward and back, with the current step highlighted.

The arithmetic is labkit.checksum.trace(); this view only chooses which bytes to sum (a header, an ICMP
message, an ICMPv6 message behind its pseudo-header) and shows the steps.
"""

from __future__ import annotations

import socket

import ipywidgets

from labkit.checksum import ChecksumCheck, icmpv6_pseudo_header, trace, verify
from labkit.errors import LabkitError
from labkit.fields import Field
from labkit.widgets.base import LabkitView
from labkit.widgets.grid import WIDTH, Cell, grid_html, marked_rows, visible_rows
from labkit.widgets.layout import PacketLayout, as_bytes
from labkit.widgets.style import MISSING_BACKGROUND, esc, style_block

PSEUDO_BACKGROUND = "background:#e0e0e0"
CHECKSUM_FIELDS = {"ip.chksum": "IPv4", "icmp.chksum": "ICMP", "icmpv6.cksum": "ICMPv6"}


class ChecksumWalkthrough(LabkitView):
    """Step through the internet checksum of `data` (the bytes as summed, checksum field already zeroed).

    Use `ChecksumWalkthrough.for_packet(packet, "icmp.chksum")` to have the right bytes picked from a packet.
    Positions 0..len(steps)-1 add one 16-bit word each; the last position folds and complements.
    """

    css_class = "labkit-view labkit-checksum"

    def __init__(
        self,
        data: bytes | str,
        *,
        title: str = "",
        labels: list[str] | None = None,
        backgrounds: list[str] | None = None,
        check: ChecksumCheck | None = None,
    ) -> None:
        self.trace = trace(as_bytes(data, "checksum data"))
        if not self.trace.steps:
            raise LabkitError("nothing to checksum: give at least one byte")
        size = len(self.trace.data)
        self.heading = title
        self.labels = labels if labels is not None else [""] * size  # what each summed byte is, for tooltips
        self.backgrounds = backgrounds if backgrounds is not None else [f"background:{MISSING_BACKGROUND}"] * size
        if len(self.labels) != size or len(self.backgrounds) != size:
            raise LabkitError("labels and backgrounds need one entry per summed byte")
        self.check = check
        self.position = 0
        button = ipywidgets.Layout(width="auto")
        self.first_button = ipywidgets.Button(description="◀◀ start", layout=button)
        self.back_button = ipywidgets.Button(description="◀ back", layout=button)
        self.next_button = ipywidgets.Button(description="next ▶", layout=button, button_style="primary")
        self.last_button = ipywidgets.Button(description="end ▶▶", layout=button)
        self.status = ipywidgets.Label()
        self.first_button.on_click(lambda _: self.go(0))
        self.back_button.on_click(lambda _: self.back())
        self.next_button.on_click(lambda _: self.forward())
        self.last_button.on_click(lambda _: self.go(self.last_position))
        controls = ipywidgets.HBox(
            [self.first_button, self.back_button, self.next_button, self.last_button, self.status]
        )
        super().__init__(controls=[controls])
        self._refresh()

    # --- choosing the bytes -----------------------------------------------------------------------------
    @classmethod
    def for_packet(
        cls, packet: bytes | str, checksum: str = "icmp.chksum", *, link: str | None = None, title: str = ""
    ) -> ChecksumWalkthrough:
        """The walkthrough for one checksum of a packet: "ip.chksum", "icmp.chksum" or "icmpv6.cksum"."""
        layout = PacketLayout(as_bytes(packet), link)
        if checksum not in CHECKSUM_FIELDS:
            raise LabkitError(f"unknown checksum {checksum!r}; use one of {', '.join(CHECKSUM_FIELDS)}")
        by_name = {field.name: field for field in layout.fields}
        if checksum not in by_name:
            present = [name for name in CHECKSUM_FIELDS if name in by_name]
            raise LabkitError(f"this packet has no {checksum}; it has: {', '.join(present) or 'no checksum'}")
        field = by_name[checksum]
        layer = [f for f in layout.fields if f.layer == CHECKSUM_FIELDS[checksum] and not f.name.endswith("padding")]
        if checksum == "ip.chksum":
            start = layer[0].offset
            end = start + by_name["ip.ihl"].int_value * 4
        else:
            start, end = layer[0].offset, max(f.end for f in layer)
        covered = list(range(start, end))
        data = bytearray(layout.data[start:end])
        data[field.offset - start : field.offset - start + 2] = b"\x00\x00"
        labels = [layout.owners[i] or "" for i in covered]
        labels[field.offset - start : field.offset - start + 2] = [f"{checksum} set to zero while summing"] * 2
        backgrounds = [layout.colour_at(i) for i in covered]
        if checksum == "icmpv6.cksum":
            pseudo, pseudo_labels = _ipv6_pseudo_header(by_name, len(data))
            data = bytearray(pseudo) + data
            labels = pseudo_labels + labels
            backgrounds = [PSEUDO_BACKGROUND] * len(pseudo) + backgrounds
        check = next((c for c in verify(layout.data[_ip_start(layout) :]) if c.name == checksum), None)
        heading = title or f"{checksum} of this {'/'.join(layout.layers)} packet"
        return cls(bytes(data), title=heading, labels=labels, backgrounds=backgrounds, check=check)

    # --- stepping -----------------------------------------------------------------------------------------
    @property
    def last_position(self) -> int:
        return len(self.trace.steps)

    @property
    def at_end(self) -> bool:
        return self.position == self.last_position

    def go(self, position: int) -> None:
        if not 0 <= position <= self.last_position:
            raise LabkitError(f"step {position} does not exist: choose 0 to {self.last_position}")
        self.position = position
        self._refresh()

    def forward(self) -> None:
        """One word further (stays on the final fold-and-complement step)."""
        self.go(min(self.position + 1, self.last_position))

    def back(self) -> None:
        self.go(max(self.position - 1, 0))

    def _refresh(self) -> None:
        self.first_button.disabled = self.back_button.disabled = self.position == 0
        self.next_button.disabled = self.last_button.disabled = self.at_end
        self.status.value = f"step {self.position + 1} of {self.last_position + 1}"
        super()._refresh()

    # --- what the current step says ---------------------------------------------------------------------
    def current_offsets(self) -> tuple[int, ...]:
        """Offsets (in the summed data) of the word added at this step; all of them at the final step."""
        if self.at_end:
            return tuple(range(len(self.trace.data)))
        offset = self.trace.steps[self.position].offset
        return tuple(i for i in (offset, offset + 1) if i < len(self.trace.data))

    def explanation(self) -> str:
        """The current step in words."""
        steps = self.trace.steps
        if self.at_end:
            carries = sum(step.carry_folded for step in steps)
            text = (
                f"All {len(steps)} words added ({carries} carr{'y' if carries == 1 else 'ies'} folded back): "
                f"the one's-complement sum is 0x{self.trace.folded:04x}. Complement it (flip every bit): "
                f"~0x{self.trace.folded:04x} = 0x{self.trace.checksum:04x}. That is the checksum."
            )
            if self.check is not None:
                verdict = (
                    "matches: a receiver accepts it"
                    if self.check.ok
                    else "does not match: a receiver drops this packet"
                )
                text += f" The packet holds 0x{self.check.found:04x}, which {verdict}."
            return text
        step = steps[self.position]
        where = self.word_label(self.position) or f"bytes {step.offset}–{step.offset + 1}"
        raw_sum = step.sum_before + step.word
        text = (
            f"Word {self.position + 1} of {len(steps)} at offset {step.offset} ({where}): "
            f"0x{step.sum_before:04x} + 0x{step.word:04x} = 0x{raw_sum:04x}."
        )
        if step.carry_folded:
            text += (
                f" That overflows 16 bits: the carry goes back in at the bottom (end-around carry): "
                f"0x{raw_sum & 0xFFFF:04x} + 1 = 0x{step.sum_after:04x}."
            )
        return text

    def word_label(self, index: int) -> str:
        """What the word of step `index` is made of: "ip.ttl + ip.proto", "ip.src"."""
        offset = self.trace.steps[index].offset
        names = []
        for label in self.labels[offset : offset + 2]:
            if label and label not in names:
                names.append(label)
        return " + ".join(names)

    # --- rendering --------------------------------------------------------------------------------------
    def _cells(self) -> list[Cell]:
        current = set(self.current_offsets())
        return [
            Cell(
                offset,
                value,
                self.labels[offset] or None,
                self.backgrounds[offset],
                f"{self.labels[offset]}\nsummed byte {offset}: 0x{value:02x}".strip(),
                offset > 0 and self.labels[offset] != self.labels[offset - 1],
                offset in current,
            )
            for offset, value in enumerate(self.trace.data)
        ]

    def window(self, before: int = 4, after: int = 6) -> tuple[int, int]:
        """The rows of the step table shown around the current step (long packets have 50+ words)."""
        count = len(self.trace.steps)
        centre = min(self.position, count - 1)
        return max(0, centre - before), min(count, centre + after + 1)

    def body_html(self, *, every_step: bool = False) -> str:
        """The grid, the current step in words and the step table: around the current step when live, every
        step with every running sum when `every_step` (the static form)."""
        steps = self.trace.steps
        first, last = (0, len(steps)) if every_step else self.window()
        rows = [f'<tr><td colspan="6">⋮ {first} earlier word{"s" if first > 1 else ""}</td></tr>'] if first > 0 else []
        rows += [self._step_row(index, every_step) for index in range(first, last)]
        if last < len(steps):
            later = len(steps) - last
            rows.append(f'<tr><td colspan="6">⋮ {later} more word{"s" if later > 1 else ""}</td></tr>')
        rows.append(self._final_row(every_step))
        heading = esc(self.heading) if self.heading else f"RFC 1071 checksum over {len(self.trace.data)} bytes"
        keep = marked_rows(self.current_offsets()) if not (self.at_end or every_step) else set()
        shown = visible_rows(-(-len(self.trace.data) // WIDTH), keep, head=3, tail=1, context=1, threshold=8)
        explanation = self._final_text() if every_step else self.explanation()
        table = (
            f'<table class="labkit-table" data-role="steps"><tr><th>#</th><th>offset</th><th>bytes</th>'
            f"<th>word</th><th>running sum</th><th>carry</th></tr>{''.join(rows)}</table>"
        )
        every = (
            ""
            if every_step
            else (
                f'<details data-role="all-steps"><summary>all {len(steps)} words and the result: the checksum is '
                f"0x{self.trace.checksum:04x}</summary>"
                f"{self._all_steps_table()}</details>"
            )
        )
        return (
            f"<h4>{heading}</h4>{grid_html(self._cells(), show_rows=shown)}"
            f'<div class="labkit-verdict" data-role="explanation">{esc(explanation)}</div>{table}{every}'
        )

    def _all_steps_table(self) -> str:
        rows = [self._step_row(index, True) for index in range(len(self.trace.steps))]
        rows.append(self._final_row(True, mark=False))
        return (
            f'<table class="labkit-table" data-role="every-step"><tr><th>#</th><th>offset</th><th>bytes</th>'
            f"<th>word</th><th>running sum</th><th>carry</th></tr>{''.join(rows)}</table>"
        )

    def _step_row(self, index: int, every_step: bool) -> str:
        step = self.trace.steps[index]
        done = every_step or index <= self.position
        current = ' data-current="1"' if index == self.position and not every_step else ""
        after = f"0x{step.sum_after:04x}" if done else ""
        carry = ("carry ↺ +1" if step.carry_folded else "") if done else ""
        return (
            f'<tr data-step="{index}"{current}><td>{index + 1}</td>'
            f'<td class="labkit-mono">{step.offset}</td><td>{esc(self.word_label(index))}</td>'
            f'<td class="labkit-mono">0x{step.word:04x}</td>'
            f'<td class="labkit-mono">{after}</td><td>{carry}</td></tr>'
        )

    def _final_row(self, every_step: bool, *, mark: bool = True) -> str:
        current = ' data-current="1"' if mark and (self.at_end or every_step) else ""
        final = f"~0x{self.trace.folded:04x} = <b>0x{self.trace.checksum:04x}</b>" if self.at_end or every_step else ""
        return (
            f'<tr data-step="{self.last_position}"{current}><td>{self.last_position + 1}</td>'
            f'<td></td><td>fold and complement</td><td></td><td class="labkit-mono">{final}</td><td></td></tr>'
        )

    def _final_text(self) -> str:
        """The explanation of the last step, whatever the current position (for the static form)."""
        saved = self.position
        self.position = self.last_position
        try:
            return self.explanation()
        finally:
            self.position = saved

    def static_html(self) -> str:
        """Every step, every running sum, the fold and the checksum: what a saved notebook shows without a kernel."""
        return f'{style_block(self.css_labels())}<div class="{self.css_class}">{self.body_html(every_step=True)}</div>'

    def text(self) -> str:
        lines = self.trace.lines()
        header = 1 + len(self.trace.data) % 2
        current = {header + self.position} if not self.at_end else {len(lines) - 2, len(lines) - 1}
        marked = [(">> " if index in current else "   ") + line for index, line in enumerate(lines)]
        title = f"{self.heading} · " if self.heading else ""
        return "\n".join(
            [
                f"ChecksumWalkthrough: {title}step {self.position + 1} of {self.last_position + 1} "
                f"(every step below; the checksum is 0x{self.trace.checksum:04x})",
                *marked,
                self.explanation(),
            ]
        )


def _ip_start(layout: PacketLayout) -> int:
    """Where the IP packet starts inside the laid-out bytes (after an Ethernet header, if any)."""
    first_ip = next((f for f in layout.fields if f.layer in ("IPv4", "IPv6")), None)
    return first_ip.offset if first_ip is not None else 0


def _ipv6_pseudo_header(by_name: dict[str, Field], message_length: int) -> tuple[bytes, list[str]]:
    """The bytes labkit.checksum sums before an ICMPv6 message, with a tooltip label for each of them."""
    source = socket.inet_pton(socket.AF_INET6, by_name["ipv6.src"].text)
    destination = socket.inet_pton(socket.AF_INET6, by_name["ipv6.dst"].text)
    pseudo = icmpv6_pseudo_header(source, destination, message_length)
    labels = (
        ["pseudo-header: source address"] * 16
        + ["pseudo-header: destination address"] * 16
        + ["pseudo-header: ICMPv6 length"] * 4
        + ["pseudo-header: zero"] * 3
        + ["pseudo-header: next header 58 (ICMPv6)"]
    )
    return pseudo, labels
