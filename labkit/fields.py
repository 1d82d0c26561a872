"""The field map: every header field of a packet with its name, layer, byte span and value.

Widgets colour bytes from this map and the judge names wrong fields from it, so spans must be exact.
It is parsed byte by byte with int.from_bytes (no scapy per packet: the responder and the judge call it for
every reply); tests/test_fields.py checks every value against scapy's own dissection.

Names follow scapy's field names with a dotted layer prefix ("ip.ttl", "icmpv6.tgt"). Beyond the list in
docs/ARCHITECTURE.md this module adds:
- IP options: "ip.options" (all option bytes) plus one set of sub-fields per option, "ip.opt.<kind>.<part>",
  kind = eol | nop | rr | lsrr | ssrr | ts | ra | <type number>; parts type, len, ptr, route (addresses), data,
  oflw, flg, value. A kind seen twice gets a number: "ip.opt.nop2".
- ICMP: "icmp.addr_mask" (types 17/18), "icmp.gw" (5), "icmp.unused" (other error messages).
- ICMPv6: "icmpv6.res" (NS/NA reserved bits), "icmpv6.R"/"S"/"O" (NA flags), ND options "icmpv6.opt.type",
  ".len", ".lladdr" or ".data" (a second option is "icmpv6.opt2.*"), "icmpv6.mtu" (packet too big),
  "icmpv6.ptr" (parameter problem), "icmpv6.unused" (other errors).
- IPv6 extension headers: "ipv6.hbh.*", "ipv6.dest.*", "ipv6.rh.*", "ipv6.frag.*".
- "ip.payload"/"ipv6.payload" for a payload that is not ICMP (or a non-first fragment), "ether.payload" for an
  unknown EtherType, and "<layer>.padding" for bytes after the length the header declares (Ethernet padding).
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TypeVar

from labkit.headers import (
    IPV4_MIN_HEADER,
    IPV6_HEADER,
    PROTO_DSTOPTS,
    PROTO_FRAGMENT,
    PROTO_HOPOPTS,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_ROUTING,
    ipv4_header_len,
)

_V = TypeVar("_V", int, str, bytes)

ICMP_TYPES = {
    0: "echo-reply",
    3: "dest-unreach",
    4: "source-quench",
    5: "redirect",
    8: "echo-request",
    11: "time-exceeded",
    12: "parameter-problem",
    13: "timestamp-request",
    14: "timestamp-reply",
    15: "information-request",
    16: "information-reply",
    17: "address-mask-request",
    18: "address-mask-reply",
}
ICMPV6_TYPES = {
    1: "dest-unreach",
    2: "packet-too-big",
    3: "time-exceeded",
    4: "parameter-problem",
    128: "echo-request",
    129: "echo-reply",
    133: "router-solicitation",
    134: "router-advertisement",
    135: "neighbor-solicitation",
    136: "neighbor-advertisement",
    137: "redirect",
}
IP_PROTOCOLS = {
    0: "IPv6 hop-by-hop",
    1: "ICMP",
    2: "IGMP",
    6: "TCP",
    17: "UDP",
    43: "IPv6 routing",
    44: "IPv6 fragment",
    58: "ICMPv6",
    59: "no next header",
    60: "IPv6 destination options",
}
ETHER_TYPES = {0x0800: "IPv4", 0x0806: "ARP", 0x86DD: "IPv6", 0x8100: "802.1Q VLAN"}
ARP_OPS = {1: "who-has", 2: "is-at"}
IP_OPTION_KINDS = {0: "eol", 1: "nop", 7: "rr", 131: "lsrr", 137: "ssrr", 68: "ts", 148: "ra"}
ND_OPTION_NAMES = {
    1: "source link-layer address",
    2: "target link-layer address",
    3: "prefix information",
    4: "redirected header",
    5: "MTU",
}

_UINT, _IPV4, _IPV4_LIST, _IPV6, _MAC, _BYTES = "uint", "ipv4", "ipv4 list", "ipv6", "mac", "bytes"


@dataclass(frozen=True)
class Field:
    """One header field. A bit field gives the whole byte span that holds it plus `bits`."""

    name: str
    layer: str
    offset: int
    length: int
    value: int | str | bytes
    bits: tuple[int, int] | None = None  # (first bit within the span, bit count), bit 0 = most significant
    kind: str = dataclass_field(default=_UINT, compare=False, repr=False)  # how `value` is decoded from bytes

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def int_value(self) -> int:
        """The value of a number field ("ip.ttl"). Typed accessors, because `value` is int | str | bytes and
        a caller that knows the field's kind should not have to isinstance-check it (nor tell mypy)."""
        return self._typed(int, "a number")

    @property
    def text(self) -> str:
        """The value of an address field: "10.0.0.1", "fd00::1", "02:00:00:00:00:01"."""
        return self._typed(str, "an address")

    @property
    def raw(self) -> bytes:
        """The value of a data field ("icmp.data", "ip.options"): its bytes."""
        return self._typed(bytes, "data")

    def _typed(self, kind: type[_V], what: str) -> _V:
        if not isinstance(self.value, kind):
            raise TypeError(f"{self.name} is not {what}: its value is {type(self.value).__name__} {self.value!r}")
        return self.value

    def describe(self) -> str:
        """Decoded, human text: "8 (echo-request)", "10.0.0.1", "DF"."""
        return describe_value(self.name, self.value, self.length)


def _new_field(
    name: str, layer: str, offset: int, length: int, value: int | str | bytes, bits: tuple[int, int] | None, kind: str
) -> Field:
    """Field(...) without the frozen dataclass's per-attribute object.__setattr__: a third of the cost, and
    field_map makes ~20 fields for every packet the judge and the guard look at. Same object, same fields."""
    made = object.__new__(Field)
    made.__dict__.update(name=name, layer=layer, offset=offset, length=length, value=value, bits=bits, kind=kind)
    return made


def _uint(raw: bytes, bits: tuple[int, int] | None) -> int:
    number = int.from_bytes(raw, "big")
    if bits is not None:
        first, count = bits
        number = (number >> (len(raw) * 8 - first - count)) & ((1 << count) - 1)
    return number


def _decode(raw: bytes, kind: str, bits: tuple[int, int] | None) -> int | str | bytes:
    if kind == _UINT:
        return _uint(raw, bits)
    if kind == _IPV4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if kind == _IPV4_LIST:
        return ", ".join(socket.inet_ntop(socket.AF_INET, raw[i : i + 4]) for i in range(0, len(raw) - 3, 4))
    if kind == _IPV6:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if kind == _MAC:
        return ":".join(f"{b:02x}" for b in raw)
    return bytes(raw)


def read_value(field: Field, data: bytes) -> int | str | bytes | None:
    """Decode the same span of *other* bytes the way `field` was decoded (None if `data` is too short).

    The judge uses this to read what a model put where the expected reply has a field.
    """
    raw = bytes(data[field.offset : field.end])
    if len(raw) < field.length:
        return None
    return _decode(raw, field.kind, field.bits)


class _Map:
    """Collects fields while walking the bytes; every add() checks that the span is really there."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.fields: list[Field] = []

    def need(self, end: int, what: str) -> None:
        if end > len(self.data):
            raise ValueError(
                f"truncated {what}: needs bytes up to offset {end}, but the packet has only {len(self.data)} bytes"
            )

    def add(self, name: str, layer: str, offset: int, length: int, bits: tuple[int, int] | None = None) -> int:
        """A number field (the walk branches on these, so they come back as int)."""
        raw = self._span(name, layer, offset, length)
        value = int.from_bytes(raw, "big") if bits is None else _uint(raw, bits)  # most fields: no call
        self.fields.append(_new_field(name, layer, offset, length, value, bits, _UINT))
        return value

    def add_decoded(self, name: str, layer: str, offset: int, length: int, kind: str) -> None:
        """An address or data field, decoded by `kind`."""
        raw = self._span(name, layer, offset, length)
        self.fields.append(_new_field(name, layer, offset, length, _decode(raw, kind, None), None, kind))

    def _span(self, name: str, layer: str, offset: int, length: int) -> bytes:
        end = offset + length
        if end > len(self.data):  # checked inline: the message is only formatted when it is needed
            self.need(end, f"{layer} field {name}")
        return self.data[offset:end]

    def add_rest(self, name: str, layer: str, start: int, end: int) -> None:
        """A bytes field for whatever lies between start and end (nothing when empty)."""
        if end > start:
            self.add_decoded(name, layer, start, end - start, _BYTES)

    def uint(self, offset: int, length: int) -> int:
        return int.from_bytes(self.data[offset : offset + length], "big")


def _ethernet(m: _Map) -> None:
    m.add_decoded("ether.dst", "Ethernet", 0, 6, _MAC)
    m.add_decoded("ether.src", "Ethernet", 6, 6, _MAC)
    ether_type = m.add("ether.type", "Ethernet", 12, 2)
    if ether_type == 0x0800:
        end = _ipv4(m, 14)
    elif ether_type == 0x86DD:
        end = _ipv6(m, 14)
    elif ether_type == 0x0806:
        end = _arp(m, 14)
    else:
        m.add_rest("ether.payload", "Ethernet", 14, len(m.data))
        return
    m.add_rest("ether.padding", "Ethernet", end, len(m.data))


def _arp(m: _Map, base: int) -> int:
    m.need(base + 8, "ARP header")
    m.add("arp.hwtype", "ARP", base, 2)
    m.add("arp.ptype", "ARP", base + 2, 2)
    hwlen = m.add("arp.hwlen", "ARP", base + 4, 1)
    plen = m.add("arp.plen", "ARP", base + 5, 1)
    m.add("arp.op", "ARP", base + 6, 2)
    m.need(base + 8 + 2 * (hwlen + plen), "ARP addresses")
    hw_kind = _MAC if hwlen == 6 else _BYTES
    p_kind = _IPV4 if plen == 4 else _IPV6 if plen == 16 else _BYTES
    offset = base + 8
    for name, length, kind in (
        ("hwsrc", hwlen, hw_kind),
        ("psrc", plen, p_kind),
        ("hwdst", hwlen, hw_kind),
        ("pdst", plen, p_kind),
    ):
        m.add_decoded(f"arp.{name}", "ARP", offset, length, kind)
        offset += length
    return offset


def _ipv4(m: _Map, base: int) -> int:
    m.need(base + IPV4_MIN_HEADER, "IPv4 header (20 bytes)")
    version = m.add("ip.version", "IPv4", base, 1, bits=(0, 4))
    if version != 4:
        raise ValueError(f"not IPv4: the version nibble is {version}")
    ihl = m.add("ip.ihl", "IPv4", base, 1, bits=(4, 4))
    header_len = ipv4_header_len(m.data[base : base + 1])
    if header_len < IPV4_MIN_HEADER:
        raise ValueError(f"malformed IPv4 header: IHL {ihl} means {header_len} bytes, the minimum is 5 (20 bytes)")
    m.add("ip.tos", "IPv4", base + 1, 1)
    total_length = m.add("ip.len", "IPv4", base + 2, 2)
    m.add("ip.id", "IPv4", base + 4, 2)
    flags = m.add("ip.flags", "IPv4", base + 6, 1, bits=(0, 3))
    frag = m.add("ip.frag", "IPv4", base + 6, 2, bits=(3, 13))
    m.add("ip.ttl", "IPv4", base + 8, 1)
    proto = m.add("ip.proto", "IPv4", base + 9, 1)
    m.add("ip.chksum", "IPv4", base + 10, 2)
    m.add_decoded("ip.src", "IPv4", base + 12, 4, _IPV4)
    m.add_decoded("ip.dst", "IPv4", base + 16, 4, _IPV4)
    header_end = base + header_len
    m.need(header_end, f"IPv4 options (IHL {ihl} = {header_len} bytes)")
    if header_len > IPV4_MIN_HEADER:
        m.add_decoded("ip.options", "IPv4", base + IPV4_MIN_HEADER, header_len - IPV4_MIN_HEADER, _BYTES)
        _ip_options(m, base + IPV4_MIN_HEADER, header_end)
    if total_length < header_len:
        raise ValueError(
            f"malformed IPv4 header: total length {total_length} is shorter than the header ({header_len} bytes)"
        )
    end = base + total_length
    m.need(end, f"IPv4 packet (total length {total_length})")
    if proto == PROTO_ICMP and frag == 0:
        _icmp(m, header_end, end, truncated=bool(flags & 1))
    else:
        m.add_rest("ip.payload", "IPv4", header_end, end)
    return end


def _ip_options(m: _Map, start: int, end: int) -> None:
    seen: dict[str, int] = {}
    offset = start
    while offset < end:
        option_type = m.data[offset]
        kind = IP_OPTION_KINDS.get(option_type, str(option_type))
        seen[kind] = seen.get(kind, 0) + 1
        prefix = f"ip.opt.{kind}" + (str(seen[kind]) if seen[kind] > 1 else "")
        if option_type in (0, 1):  # End of Option List / No-Operation: one byte
            m.add(f"{prefix}", "IPv4", offset, 1)
            offset += 1
            if option_type == 0:
                m.add_rest("ip.opt.pad", "IPv4", offset, end)
                return
            continue
        if offset + 2 > end:
            raise ValueError(f"malformed IPv4 option at offset {offset}: type {option_type} has no length byte")
        length = m.data[offset + 1]
        if length < 2 or offset + length > end:
            raise ValueError(
                f"malformed IPv4 option at offset {offset}: type {option_type} says length {length}, "
                f"but {end - offset} option bytes remain"
            )
        m.add(f"{prefix}.type", "IPv4", offset, 1)
        m.add(f"{prefix}.len", "IPv4", offset + 1, 1)
        if option_type in (7, 131, 137) and length >= 3:  # record route, loose/strict source route
            m.add(f"{prefix}.ptr", "IPv4", offset + 2, 1)
            routes = (length - 3) // 4 * 4
            if routes:
                m.add_decoded(f"{prefix}.route", "IPv4", offset + 3, routes, _IPV4_LIST)
            m.add_rest(f"{prefix}.data", "IPv4", offset + 3 + routes, offset + length)
        elif option_type == 68 and length >= 4:  # timestamp
            m.add(f"{prefix}.ptr", "IPv4", offset + 2, 1)
            m.add(f"{prefix}.oflw", "IPv4", offset + 3, 1, bits=(0, 4))
            m.add(f"{prefix}.flg", "IPv4", offset + 3, 1, bits=(4, 4))
            m.add_rest(f"{prefix}.data", "IPv4", offset + 4, offset + length)
        elif option_type == 148 and length == 4:  # router alert
            m.add(f"{prefix}.value", "IPv4", offset + 2, 2)
        else:
            m.add_rest(f"{prefix}.data", "IPv4", offset + 2, offset + length)
        offset += length


def _icmp(m: _Map, start: int, end: int, truncated: bool) -> None:
    """ICMP for IPv4. `truncated`: a first fragment, whose data goes on in the next fragment."""
    m.need(start + 4, "ICMP header")
    if end - start < 4:
        raise ValueError(f"truncated ICMP header: {end - start} bytes inside the IP packet, need at least 4")
    icmp_type = m.add("icmp.type", "ICMP", start, 1)
    m.add("icmp.code", "ICMP", start + 1, 1)
    m.add("icmp.chksum", "ICMP", start + 2, 2)
    data_start = start + 4
    if end - start >= 8:
        if icmp_type in (0, 8, 13, 14, 15, 16, 17, 18):
            m.add("icmp.id", "ICMP", start + 4, 2)
            m.add("icmp.seq", "ICMP", start + 6, 2)
        elif icmp_type == 5:
            m.add_decoded("icmp.gw", "ICMP", start + 4, 4, _IPV4)
        else:
            m.add("icmp.unused", "ICMP", start + 4, 4)
        data_start = start + 8
    if icmp_type in (13, 14) and end - start >= 20:
        for index, name in enumerate(("ts_ori", "ts_rx", "ts_tx")):
            m.add(f"icmp.{name}", "ICMP", start + 8 + 4 * index, 4)
        data_start = start + 20
    elif icmp_type in (17, 18) and end - start >= 12:
        m.add_decoded("icmp.addr_mask", "ICMP", start + 8, 4, _IPV4)
        data_start = start + 12
    elif icmp_type in (13, 14, 17, 18) and not truncated:
        raise ValueError(f"truncated ICMP {ICMP_TYPES[icmp_type]}: {end - start} bytes")
    m.add_rest("icmp.data", "ICMP", data_start, end)


_IPV6_EXTENSIONS = {PROTO_HOPOPTS: "hbh", PROTO_DSTOPTS: "dest", PROTO_ROUTING: "rh", PROTO_FRAGMENT: "frag"}


def _ipv6(m: _Map, base: int) -> int:
    m.need(base + IPV6_HEADER, "IPv6 header (40 bytes)")
    version = m.add("ipv6.version", "IPv6", base, 1, bits=(0, 4))
    if version != 6:
        raise ValueError(f"not IPv6: the version nibble is {version}")
    m.add("ipv6.tc", "IPv6", base, 2, bits=(4, 8))
    m.add("ipv6.fl", "IPv6", base + 1, 3, bits=(4, 20))
    payload_length = m.add("ipv6.plen", "IPv6", base + 4, 2)
    next_header = m.add("ipv6.nh", "IPv6", base + 6, 1)
    m.add("ipv6.hlim", "IPv6", base + 7, 1)
    m.add_decoded("ipv6.src", "IPv6", base + 8, 16, _IPV6)
    m.add_decoded("ipv6.dst", "IPv6", base + 24, 16, _IPV6)
    end = base + IPV6_HEADER + payload_length
    m.need(end, f"IPv6 packet (payload length {payload_length})")
    offset, fragment_offset = base + IPV6_HEADER, 0
    while next_header in _IPV6_EXTENSIONS:
        short = _IPV6_EXTENSIONS[next_header]
        prefix = f"ipv6.{short}"
        if offset + 8 > end:
            raise ValueError(f"truncated IPv6 {short} extension header at offset {offset}")
        following = m.add(f"{prefix}.nh", "IPv6", offset, 1)
        if next_header == PROTO_FRAGMENT:
            m.add(f"{prefix}.res1", "IPv6", offset + 1, 1)
            fragment_offset = m.add(f"{prefix}.offset", "IPv6", offset + 2, 2, bits=(0, 13))
            m.add(f"{prefix}.res2", "IPv6", offset + 2, 2, bits=(13, 2))
            m.add(f"{prefix}.m", "IPv6", offset + 2, 2, bits=(15, 1))
            m.add(f"{prefix}.id", "IPv6", offset + 4, 4)
            length = 8
        else:
            length = (m.add(f"{prefix}.len", "IPv6", offset + 1, 1) + 1) * 8
            if offset + length > end:
                raise ValueError(f"truncated IPv6 {short} extension header: {length} bytes at offset {offset}")
            if next_header == PROTO_ROUTING:
                m.add(f"{prefix}.type", "IPv6", offset + 2, 1)
                m.add(f"{prefix}.segleft", "IPv6", offset + 3, 1)
                m.add_rest(f"{prefix}.data", "IPv6", offset + 4, offset + length)
            else:
                m.add_rest(f"{prefix}.options", "IPv6", offset + 2, offset + length)
        next_header, offset = following, offset + length
    if next_header == PROTO_ICMPV6 and fragment_offset == 0:
        _icmpv6(m, offset, end)
    else:
        m.add_rest("ipv6.payload", "IPv6", offset, end)
    return end


def _icmpv6(m: _Map, start: int, end: int) -> None:
    if end - start < 4:
        raise ValueError(f"truncated ICMPv6 header: {end - start} bytes, need at least 4")
    icmp_type = m.add("icmpv6.type", "ICMPv6", start, 1)
    m.add("icmpv6.code", "ICMPv6", start + 1, 1)
    m.add("icmpv6.cksum", "ICMPv6", start + 2, 2)
    if icmp_type in (128, 129):
        if end - start < 8:
            raise ValueError(f"truncated ICMPv6 echo: {end - start} bytes, need at least 8")
        m.add("icmpv6.id", "ICMPv6", start + 4, 2)
        m.add("icmpv6.seq", "ICMPv6", start + 6, 2)
        m.add_rest("icmpv6.data", "ICMPv6", start + 8, end)
    elif icmp_type in (135, 136):
        if end - start < 24:
            raise ValueError(f"truncated ICMPv6 {ICMPV6_TYPES[icmp_type]}: {end - start} bytes, need at least 24")
        if icmp_type == 136:
            m.add("icmpv6.R", "ICMPv6", start + 4, 1, bits=(0, 1))
            m.add("icmpv6.S", "ICMPv6", start + 4, 1, bits=(1, 1))
            m.add("icmpv6.O", "ICMPv6", start + 4, 1, bits=(2, 1))
            m.add("icmpv6.res", "ICMPv6", start + 4, 4, bits=(3, 29))
        else:
            m.add("icmpv6.res", "ICMPv6", start + 4, 4)
        m.add_decoded("icmpv6.tgt", "ICMPv6", start + 8, 16, _IPV6)
        _nd_options(m, start + 24, end)
    elif icmp_type in (1, 2, 3, 4) and end - start >= 8:
        name = {2: "mtu", 4: "ptr"}.get(icmp_type, "unused")
        m.add(f"icmpv6.{name}", "ICMPv6", start + 4, 4)
        m.add_rest("icmpv6.data", "ICMPv6", start + 8, end)
    else:
        m.add_rest("icmpv6.data", "ICMPv6", start + 4, end)


def _nd_options(m: _Map, start: int, end: int) -> None:
    offset, count = start, 0
    while offset < end:
        count += 1
        prefix = "icmpv6.opt" + (str(count) if count > 1 else "")
        if offset + 2 > end:
            raise ValueError(f"truncated neighbour discovery option at offset {offset}")
        length = m.data[offset + 1] * 8
        if length == 0 or offset + length > end:
            raise ValueError(
                f"malformed neighbour discovery option at offset {offset}: length {length} bytes, {end - offset} remain"
            )
        option_type = m.add(f"{prefix}.type", "ICMPv6", offset, 1)
        m.add(f"{prefix}.len", "ICMPv6", offset + 1, 1)
        if option_type in (1, 2) and length == 8:
            m.add_decoded(f"{prefix}.lladdr", "ICMPv6", offset + 2, 6, _MAC)
        else:
            m.add_rest(f"{prefix}.data", "ICMPv6", offset + 2, offset + length)
        offset += length


def field_map(data: bytes, link: str = "ip") -> list[Field]:
    """Every header field of an IP packet (link="ip") or an Ethernet frame (link="ether"), in wire order.

    Raises ValueError with a message saying what is missing when the data is truncated or malformed.
    Bytes after the length the IP header declares become a "<layer>.padding" field.
    The list is new on every call; the fields in it are shared (they are frozen).
    """
    return list(_mapped(bytes(data), link))


@functools.lru_cache(maxsize=64)
def _mapped(data: bytes, link: str) -> tuple[Field, ...]:
    """The field map of one packet, remembered: on the per-packet path the same bytes are mapped by the prompt,
    the parser, the judge and the guard in turn. Errors are not cached (lru_cache never caches a raise)."""
    m = _Map(data)
    if link == "ether":
        m.need(14, "Ethernet header (14 bytes)")
        _ethernet(m)
    elif link == "ip":
        if not data:
            raise ValueError("empty packet: no bytes to map")
        version = data[0] >> 4
        if version == 4:
            end = _ipv4(m, 0)
            m.add_rest("ip.padding", "IPv4", end, len(data))
        elif version == 6:
            end = _ipv6(m, 0)
            m.add_rest("ipv6.padding", "IPv6", end, len(data))
        else:
            raise ValueError(f"not an IP packet: the first nibble is {version}, expected 4 or 6")
    else:
        raise ValueError(f"unknown link {link!r}: use 'ip' or 'ether'")
    return tuple(m.fields)


def field_spans(data: bytes, link: str = "ip") -> dict[str, tuple[int, int]]:
    """name -> (offset, length) for every field of the packet: where to read or write a field by name.
    Raises ValueError like field_map."""
    return {f.name: (f.offset, f.length) for f in _mapped(bytes(data), link)}


def field_at(fields: list[Field], offset: int) -> Field | None:
    """The most specific field covering byte `offset`: the shortest span, the first one on a tie."""
    covering = [f for f in fields if f.offset <= offset < f.end]
    return min(covering, key=lambda f: f.length) if covering else None


def _bit_groups(fields: list[Field]) -> dict[str, str]:
    """Bit fields that share bytes form a group ("ip.version+ihl"), so their bytes get one owner."""
    group_of: dict[str, str] = {}
    bit_fields = [f for f in fields if f.bits is not None]
    index = 0
    while index < len(bit_fields):
        members = [bit_fields[index]]
        end = members[0].end
        index += 1
        while index < len(bit_fields) and bit_fields[index].offset < end:
            members.append(bit_fields[index])
            end = max(end, bit_fields[index].end)
            index += 1
        if len(members) > 1:
            stem, _, _ = members[0].name.rpartition(".")
            name = members[0].name + "".join(
                "+" + m.name[len(stem) + 1 :] if m.name.startswith(stem + ".") else "+" + m.name for m in members[1:]
            )
            for member in members:
                group_of[member.name] = name
    return group_of


def byte_owners(fields: list[Field], size: int) -> list[str | None]:
    """For each byte, the name of the most specific field holding it; bytes shared by bit fields get the
    group name ("ip.version+ihl", "ip.flags+frag", "ipv6.version+tc+fl"); None where no field lies."""
    groups = _bit_groups(fields)
    owners: list[str | None] = [None] * size
    best_length = [0] * size
    for f in fields:
        name = groups.get(f.name, f.name)
        for offset in range(max(f.offset, 0), min(f.end, size)):
            if owners[offset] is None or f.length < best_length[offset]:
                owners[offset], best_length[offset] = name, f.length
    return owners


# --- describe(): decoded text -------------------------------------------------------------------------------


def _flags_text(value: int) -> str:
    names = [name for bit, name in ((4, "evil"), (2, "DF"), (1, "MF")) if value & bit]
    return "+".join(names) if names else "none"


def describe_value(name: str, value: int | str | bytes | bytearray, length: int = 0) -> str:
    """Human text for a field value, by field name (shared by Field.describe and the judge)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        shown = bytes(value[:16]).hex(" ")
        return f"{len(value)} bytes: {shown}{' ...' if len(value) > 16 else ''}"
    leaf = name.rsplit(".", 1)[-1]
    named = {
        "icmp.type": ICMP_TYPES,
        "icmpv6.type": ICMPV6_TYPES,
        "ip.proto": IP_PROTOCOLS,
        "ipv6.nh": IP_PROTOCOLS,
        "arp.op": ARP_OPS,
    }.get(name)
    if named is not None:
        return f"{value} ({named.get(value, 'unknown')})"
    if name == "ether.type" or name in ("arp.ptype",):
        return f"0x{value:04x} ({ETHER_TYPES.get(value, 'unknown')})"
    if name == "ip.flags":
        return _flags_text(value)
    if name == "ip.ihl":
        return f"{value} ({value * 4} bytes)"
    if name == "ip.tos":
        return f"0x{value:02x} (DSCP {value >> 2}, ECN {value & 3})"
    if name == "ip.frag":
        return f"{value} ({value * 8} bytes)"
    hex_digits = {"chksum": 4, "cksum": 4, "id": 4, "tc": 2, "fl": 5, "res": 2}.get(leaf)
    if hex_digits:
        return f"0x{value:0{hex_digits}x}"
    if name.startswith("icmpv6.opt") and leaf == "type":
        return f"{value} ({ND_OPTION_NAMES.get(value, 'unknown')})"
    if name.startswith("ip.opt.") and (leaf == "type" or leaf in ("eol", "nop")):
        return f"{value} ({IP_OPTION_KINDS.get(value, 'unknown')})"
    return str(value)
