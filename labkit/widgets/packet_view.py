"""PacketView: a hex grid in which every byte wears the colour of its role in a reply, inside field and
layer boundaries; click a byte (or Tab to it and use the arrow keys) to select its field, on the page without a
kernel and, with one, in Python too (`view.selected`, `view.observe(callback, names="selected")`)."""

from __future__ import annotations

import hashlib

import ipywidgets
import traitlets

from labkit.fields import Field
from labkit.widgets.base import LabkitView
from labkit.widgets.grid import WIDTH, grid_html, grid_text, marked_rows, visible_rows
from labkit.widgets.layout import PacketLayout, as_bytes
from labkit.widgets.pick import PickGrid
from labkit.widgets.style import esc

NO_SELECTION = "(no field selected)"


class PacketView(LabkitView):
    """A packet (IPv4/ICMP, IPv6/ICMPv6, or an Ethernet frame such as ARP) coloured by field, with a legend.

    Colours say what a byte does on its way into a reply (copied, swapped, decision, recomputed, host's
    choice; labkit.roles). Hover a byte or a legend entry for the field's name, decoded value and offset; click
    a byte or move to it with the keyboard to outline its field and show the same details on the page
    (pure HTML and CSS, so it works in a saved notebook too); the dropdown or `select` does it from Python.
    `selected` (a trait) is the selected field's name, whichever way it was chosen; observe it to react to a pick.
    """

    css_class = "labkit-view labkit-packet"
    selected = traitlets.Unicode(None, allow_none=True)

    def __init__(
        self, packet: bytes | str, link: str | None = None, *, title: str = "", select: str | None = None
    ) -> None:
        self.layout_map = PacketLayout(as_bytes(packet), link)
        self.heading = title
        self._syncing = False
        self.dropdown = ipywidgets.Dropdown(
            options=[NO_SELECTION, *(f.name for f in self.layout_map.fields)],
            value=NO_SELECTION,
            description="field",
            layout=ipywidgets.Layout(width="320px"),
        )
        super().__init__(controls=[self.dropdown])
        self.dropdown.observe(self._on_dropdown, names="value")
        traitlets.link((self._html, "selected"), (self, "selected"))  # a pick on the page arrives here
        self.select(select)
        self._refresh()

    def _body_widget(self) -> PickGrid:
        return PickGrid()

    @property
    def packet(self) -> bytes:
        return self.layout_map.data

    @property
    def fields(self) -> list[Field]:
        return self.layout_map.fields

    @property
    def selected_offsets(self) -> tuple[int, ...]:
        return self.layout_map.offsets_of(self.selected) if self.selected else ()

    @property
    def shown_rows(self) -> set[int] | None:
        """Rows drawn (None = all): a long packet shows its first 8 rows, its last 2 and the selected field's."""
        rows = -(-len(self.packet) // WIDTH)
        return visible_rows(rows, marked_rows(self.selected_offsets), head=8, tail=2, context=0, threshold=16)

    def title_at(self, offset: int) -> str:
        """What hovering the byte at `offset` shows."""
        return self.layout_map.title_at(offset)

    def select(self, name: str | None) -> None:
        """Outline the bytes of one field (a field name or a legend label); None clears the selection."""
        self.selected = name

    @traitlets.validate("selected")
    def _valid_selection(self, proposal: dict) -> str | None:
        if proposal["value"] is not None:
            self.layout_map.offsets_of(proposal["value"])  # raises LabkitError naming the valid fields
        return proposal["value"]

    @traitlets.observe("selected")
    def _on_selected(self, change: dict) -> None:
        name = change["new"]
        wanted = name if name in self.dropdown.options else NO_SELECTION
        self._syncing = True  # moving the dropdown to match must not select again
        try:
            self.dropdown.value = wanted
        finally:
            self._syncing = False
        self._refresh()

    def _on_dropdown(self, change: dict) -> None:
        if not self._syncing:
            self.select(None if change["new"] == NO_SELECTION else change["new"])

    def body_html(self) -> str:
        layout = self.layout_map
        heading = f"{esc(self.heading)} · " if self.heading else ""
        selection = ""
        if self.selected:
            offsets = self.selected_offsets
            selection = (
                f'<div data-role="selection" data-selection-for="{esc(self.selected)}">selected '
                f"<code>{esc(self.selected)}</code>: "
                f"bytes {offsets[0]}–{offsets[-1]}</div>"
            )
        group = "labkit-pick-" + hashlib.sha1(layout.data + self.heading.encode()).hexdigest()[:10]
        return (
            f"<h4>{heading}{esc(layout.summary())}</h4>{layout.layers_html()}"
            f"{grid_html(layout.cells(self.selected_offsets, pick=group), show_rows=self.shown_rows)}"
            f"{layout.info_html()}{layout.roles_html()}{layout.legend_html(self.selected)}{selection}"
        )

    def css_labels(self) -> list[str]:
        return [entry.label for entry in self.layout_map.legend]

    def text(self) -> str:
        layout = self.layout_map
        head = f"PacketView: {self.heading + ' · ' if self.heading else ''}{layout.summary()}"
        rows = grid_text(layout.data, annotations=layout.text_keys(), show_rows=self.shown_rows)
        lines = [head, *rows, "legend:", *layout.legend_text()]
        if self.selected:
            offsets = self.selected_offsets
            lines.append(f"selected: {self.selected} (bytes {offsets[0]}–{offsets[-1]})")
        return "\n".join(lines)
