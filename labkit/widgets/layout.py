"""A packet's bytes laid out by field: who owns each byte, its colour, its tooltip and its legend entry.

Built on labkit.fields (the field map); PacketView, DiffView and the checksum walkthrough all draw from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from labkit.errors import LabkitError
from labkit.fields import Field, byte_owners, field_map
from labkit.packets import from_hex, ip_version
from labkit.roles import ROLES, role_of_names
from labkit.widgets.grid import Cell
from labkit.widgets.style import ROLE_MARKS, esc, role_legend_html, role_style

_KEYS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def guess_link(data: bytes) -> str:
    """'ip' when the data starts like an IPv4/IPv6 header, else 'ether' (an Ethernet frame, e.g. ARP)."""
    return "ip" if ip_version(data) is not None else "ether"


def as_bytes(data: bytes | bytearray | str, what: str = "packet") -> bytes:
    """Bytes as given, or hex text (whitespace allowed); a clear LabkitError for anything else."""
    if isinstance(data, str):
        try:
            return from_hex(data)
        except ValueError as exc:
            raise LabkitError(f"{what}: {exc}") from None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise LabkitError(f"{what}: expected bytes or a hex string, got {type(data).__name__}")


def _span(field: Field) -> str:
    last = field.end - 1
    where = f"byte {field.offset}" if field.length == 1 else f"bytes {field.offset}–{last}"
    if field.bits is not None:
        first, count = field.bits
        where += f", bit {first}" if count == 1 else f", bits {first}–{first + count - 1}"
    return where


@dataclass(frozen=True)
class LegendEntry:
    key: str  # one character for the text legend
    label: str  # the owner label ("ip.src", "ip.version+ihl")
    colour: str  # CSS declarations for its role (style.role_style)
    offset: int
    length: int
    members: tuple[Field, ...]
    role: str = "copied"

    @property
    def value_text(self) -> str:
        return " / ".join(field.describe() for field in self.members) or "?"

    @property
    def title(self) -> str:
        return (
            "\n".join(f"{field.name} = {field.describe()} ({_span(field)})" for field in self.members)
            or f"{self.label} (bytes {self.offset}–{self.offset + self.length - 1})"
        )


class PacketLayout:
    """Field map + owners + colours for one packet. Raises LabkitError if the bytes cannot be mapped."""

    def __init__(self, data: bytes, link: str | None = None) -> None:
        self.data = bytes(data)
        self.link = link or guess_link(self.data)
        try:
            self.fields: list[Field] = field_map(self.data, self.link)
        except ValueError as exc:
            raise LabkitError(f"cannot lay out this packet by field: {exc}") from None
        self.owners: list[str | None] = byte_owners(self.fields, len(self.data))

    @cached_property
    def legend(self) -> tuple[LegendEntry, ...]:
        """One entry per owner label in packet order; the order fixes colours and keys, so equal layouts match."""
        labels: list[str] = []
        for owner in self.owners:
            if owner is not None and owner not in labels:
                labels.append(owner)
        entries = []
        for index, label in enumerate(labels):
            offsets = [i for i, owner in enumerate(self.owners) if owner == label]
            members = tuple(
                f
                for f in self.fields
                if f.name == label
                or (
                    f.length > 0
                    and all(0 <= i < len(self.owners) and self.owners[i] == label for i in range(f.offset, f.end))
                )
            )
            role = self.role_at(offsets[0])
            assert role is not None, "offsets come from self.owners, so they lie inside the data"
            entries.append(
                LegendEntry(
                    _KEYS[index % len(_KEYS)],
                    label,
                    role_style(role),
                    offsets[0],
                    offsets[-1] - offsets[0] + 1,
                    members,
                    role,
                )
            )
        return tuple(entries)

    def role_at(self, offset: int) -> str | None:
        """What the byte at `offset` does on its way into a reply (labkit.roles); None past the end."""
        if not 0 <= offset < len(self.data):
            return None
        owner = self.owners[offset]
        if owner in self._owner_roles:
            return self._owner_roles[owner]
        return role_of_names([field.name for field in self.fields_at(offset)])

    @cached_property
    def _owner_roles(self) -> dict[str, str]:
        """One role per owner label, so a bit-field group (ip.flags+frag) has one colour across its bytes."""
        names: dict[str, list[str]] = {}
        for offset, owner in enumerate(self.owners):
            if owner is not None:
                names.setdefault(owner, []).extend(field.name for field in self.fields_at(offset))
        return {owner: role_of_names(found) for owner, found in names.items()}

    def is_layer_start(self, offset: int) -> bool:
        """The first byte of a layer after the first (where IPv4 ends and ICMP begins)."""
        return offset in self._layer_starts

    @cached_property
    def _layer_starts(self) -> dict[int, str]:
        starts: dict[int, str] = {}
        for field in self.fields:
            if field.layer not in starts.values() and field.length > 0:
                starts[field.offset] = field.layer
        return starts

    def layers_html(self) -> str:
        """'IPv4 bytes 0–19 | ICMP bytes 20–83': where each layer sits, in words."""
        starts = sorted(self._layer_starts.items())
        parts = []
        for index, (start, layer) in enumerate(starts):
            end = starts[index + 1][0] - 1 if index + 1 < len(starts) else len(self.data) - 1
            parts.append(f'<span data-layer="{esc(layer)}"><b>{esc(layer)}</b> bytes {start}–{end}</span>')
        return f'<div class="labkit-layers" data-role="layers">{" ┃ ".join(parts)} (layers start at ‖)</div>'

    def info_html(self) -> str:
        """The tooltips, on the page: one block per field, shown when one of its bytes is picked."""
        blocks = "".join(
            f'<div data-info-for="{esc(entry.label)}"><b>{esc(entry.label)}</b> — {entry.role}: '
            f"{esc(ROLES[entry.role])}\n{esc(entry.title)}\nbytes {entry.offset}–{entry.offset + entry.length - 1}: "
            f"{esc(self.data[entry.offset : entry.offset + entry.length].hex(' '))}</div>"
            for entry in self.legend
        )
        hint = (
            "Click a byte, or Tab into the bytes and move with the arrow keys: its field, value and role "
            "are shown here."
        )
        return (
            f'<div class="labkit-info" data-role="info" aria-live="polite">'
            f"<span data-info-default>{hint}</span>{blocks}</div>"
        )

    @staticmethod
    def roles_html() -> str:
        return role_legend_html()

    @cached_property
    def _entry_by_label(self) -> dict[str, LegendEntry]:
        return {entry.label: entry for entry in self.legend}

    @property
    def layers(self) -> list[str]:
        seen: list[str] = []
        for field in self.fields:
            if field.layer not in seen:
                seen.append(field.layer)
        return seen

    def summary(self) -> str:
        """ "IPv4/ICMP echo-request, 84 bytes"."""
        kind = next(
            (
                f.describe().split("(")[-1].rstrip(")")
                for f in self.fields
                if f.name in ("icmp.type", "icmpv6.type", "arp.op")
            ),
            "",
        )
        return f"{'/'.join(self.layers)}{' ' + kind if kind else ''}, {len(self.data)} bytes"

    def fields_at(self, offset: int) -> list[Field]:
        return [f for f in self.fields if f.offset <= offset < f.end]

    def title_at(self, offset: int) -> str:
        """The tooltip for one byte: each field holding it, decoded, with its span, then the byte itself."""
        if not 0 <= offset < len(self.data):
            raise LabkitError(f"offset {offset} is outside the packet (0–{len(self.data) - 1})")
        lines = [f"{f.name} = {f.describe()} ({_span(f)})" for f in self.fields_at(offset)]
        lines.append(f"offset {offset} (0x{offset:04x}): 0x{self.data[offset]:02x}")
        return "\n".join(lines)

    def offsets_of(self, name: str) -> tuple[int, ...]:
        """Bytes of a field (by field name) or of a legend label (a bit-field group)."""
        if name in self._entry_by_label:
            return tuple(i for i, owner in enumerate(self.owners) if owner == name)
        for field in self.fields:
            if field.name == name:
                return tuple(range(field.offset, field.end))
        raise LabkitError(f"no field {name!r} in this packet; choose one of: " + ", ".join(f.name for f in self.fields))

    def colour_at(self, offset: int) -> str:
        """CSS for the byte's background: its role's colour and pattern."""
        return role_style(self.role_at(offset))

    def is_field_start(self, offset: int) -> bool:
        """Where the owner changes a boundary line is drawn, so fields are told apart by more than colour."""
        return 0 < offset < len(self.owners) and self.owners[offset] != self.owners[offset - 1]

    def cells(self, selected: tuple[int, ...] = (), pick: str = "") -> list[Cell]:
        """One Cell per byte; with `pick` (a radio group name) each byte is a radio button of its field."""
        chosen = set(selected)
        first = selected[0] if selected else None
        return [
            Cell(
                offset,
                value,
                self.owners[offset],
                self.colour_at(offset),
                self.title_at(offset),
                self.is_field_start(offset),
                offset in chosen,
                role=self.role_at(offset),
                layer_start=self.is_layer_start(offset) and offset > 0,
                pick=pick,
                checked=offset == first,
            )
            for offset, value in enumerate(self.data)
        ]

    def text_keys(self) -> list[str]:
        """One legend key per byte, for the text form (a "aa bb cc" line under each hexdump row)."""
        keys = {entry.label: entry.key for entry in self.legend}
        return [keys.get(owner, "") if owner else "" for owner in self.owners]

    def legend_text(self) -> list[str]:
        width = max((len(entry.label) for entry in self.legend), default=0)
        return [
            f"  {entry.key}  {entry.label:<{width}}  @{entry.offset:<3} {entry.length:>2}B  "
            f"{entry.role + ' ' + ROLE_MARKS[entry.role]:<12}  {entry.value_text}"
            for entry in self.legend
        ]

    def legend_html(self, selected: str | None = None) -> str:
        items = []
        layer = None
        for entry in self.legend:
            entry_layer = entry.members[0].layer if entry.members else None
            if entry_layer is not None and entry_layer != layer:
                if layer is not None:  # each layer starts a new legend line
                    items.append('<li aria-hidden="true" style="flex-basis:100%;height:0;margin:0;padding:0"></li>')
                layer = entry_layer
                items.append(
                    f'<li data-layer="{esc(layer)}" style="font-weight:bold;cursor:default">{esc(layer)}:</li>'
                )
            chosen = (
                ' data-selected="1"'
                if selected is not None and selected in (entry.label, *(f.name for f in entry.members))
                else ""
            )
            items.append(
                f'<li data-field="{esc(entry.label)}" data-byte-role="{entry.role}"{chosen} title="{esc(entry.title)}">'
                f'<span class="labkit-swatch" style="{entry.colour}"></span>'
                f"<code>{esc(entry.label)}</code> <span>{esc(entry.value_text)}</span></li>"
            )
        return f'<ul class="labkit-legend" data-role="legend">{"".join(items)}</ul>'
