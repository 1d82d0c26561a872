"""fields.py: every field's span and value checked against scapy's own dissection."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import (
    ICMP,
    IP,
    IPOption_LSRR,
    IPOption_NOP,
    IPOption_Router_Alert,
    IPOption_RR,
    IPOption_Timestamp,
)
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Padding, Raw

from labkit.fields import Field, byte_owners, field_at, field_map, field_spans, read_value
from labkit.packets import echo_request, echo_request_v6

UNCHECKED = {"ip.opt.pad"}  # zero bytes after End of Options: scapy shows them as more EOL options


def _ip_options_by_offset(ip, base):
    """scapy's parsed IP options, keyed by the packet offset of each option's type byte."""
    out, offset = {}, base + 20
    for option in ip.options:
        out[offset] = option
        offset += len(bytes(option))
    return out


def _icmpv6_layer(pkt):
    layer = pkt[IPv6].payload
    while layer.name.startswith("IPv6 Extension Header"):
        layer = layer.payload
    return layer


def _nd_options(pkt, start):
    out, offset, layer = {}, start, _icmpv6_layer(pkt).payload
    while layer and not isinstance(layer, (Raw, Padding)):
        out[offset] = layer
        offset += len(bytes(layer)) - len(bytes(layer.payload))
        layer = layer.payload
    return out


def scapy_value(pkt, field: Field, base: int):
    """What scapy dissects for the field our map names. Raises KeyError for a name the oracle cannot map."""
    layer_name, _, rest = field.name.partition(".")
    if field.name.startswith("ip.opt."):
        options = _ip_options_by_offset(pkt[IP], base)
        kind_and_index, _, part = rest[len("opt.") :].partition(".")
        start = max(o for o in options if o <= field.offset)
        option = options[start]
        if part == "data":  # the option's remaining bytes, as scapy re-serialises the option
            return bytes(option)[field.offset - start : field.end - start]
        if part in ("", "type"):
            return (option.copy_flag << 7) | (option.optclass << 5) | option.option
        return {
            "len": lambda: option.length,
            "ptr": lambda: option.pointer,
            "oflw": lambda: option.oflw,
            "flg": lambda: option.flg,
            "route": lambda: ", ".join(option.routers),
            "value": lambda: option.alert,
        }[part]()
    if field.name.startswith("icmpv6.opt"):
        options = _nd_options(pkt, field.offset - {"type": 0, "len": 1, "lladdr": 2}[rest.split(".")[-1]])
        option = options[min(options, key=lambda o: abs(o - field.offset) if o <= field.offset else 1e9)]
        return getattr(option, rest.split(".")[-1])
    if field.name.endswith(".padding"):
        return pkt[Padding].load
    if layer_name == "ether":
        return getattr(pkt[Ether], rest)
    if layer_name == "arp":
        return getattr(pkt[ARP], rest)
    if layer_name == "ip":
        if rest == "options":
            return b"".join(bytes(option) for option in pkt[IP].options)
        if rest == "payload":
            return bytes(pkt[IP].payload)
        return getattr(pkt[IP], rest)
    if layer_name == "icmp":
        return bytes(pkt[ICMP].payload) if rest == "data" else getattr(pkt[ICMP], rest)
    if layer_name == "ipv6":
        if rest in ("hbh.nh", "hbh.len"):
            return getattr(pkt[IPv6ExtHdrHopByHop], rest[4:])
        if rest in ("dest.nh", "dest.len"):
            return getattr(pkt[IPv6ExtHdrDestOpt], rest[5:])
        if rest in ("hbh.options", "dest.options"):
            ext = pkt[IPv6ExtHdrHopByHop] if rest.startswith("hbh") else pkt[IPv6ExtHdrDestOpt]
            return bytes(ext)[2 : len(bytes(ext)) - len(bytes(ext.payload))]
        return getattr(pkt[IPv6], rest)
    if layer_name == "icmpv6":
        layer = _icmpv6_layer(pkt)
        if rest == "data" and not isinstance(layer, (ICMPv6EchoRequest, ICMPv6EchoReply)):
            return bytes(layer.payload)
        return getattr(layer, rest)
    raise KeyError(field.name)


def assert_matches_scapy(data: bytes, link: str = "ip"):
    fields = field_map(data, link)
    pkt = Ether(data) if link == "ether" else IP(data) if data[0] >> 4 == 4 else IPv6(data)
    base = 14 if link == "ether" else 0
    checked = 0
    for field in fields:
        assert 0 <= field.offset and field.end <= len(data), field
        assert read_value(field, data) == field.value, field
        if field.name in UNCHECKED:
            continue
        expected = scapy_value(pkt, field, base)
        if isinstance(field.value, int):
            expected = int(expected)
        elif isinstance(field.value, bytes):
            expected = bytes(expected)
        assert field.value == expected, f"{field.name}: ours {field.value!r}, scapy {expected!r}"
        checked += 1
    assert checked >= len(fields) - 2
    owners = byte_owners(fields, len(data))
    assert None not in owners, f"bytes without a field at {[i for i, o in enumerate(owners) if o is None]}"
    return fields


def names(fields):
    return [f.name for f in fields]


ECHO_PACKETS = [
    echo_request(),
    echo_request(payload=b""),
    echo_request(payload=b"x"),
    echo_request(payload=bytes(1400), ttl=1, tos=0xB8, df=True, ip_id=0xFFFF),
    echo_request(options=[IPOption_RR(routers=["0.0.0.0"] * 9)]),
    echo_request(options=[IPOption_NOP(), IPOption_Router_Alert()]),
    echo_request(options=[IPOption_Timestamp(flg=1, oflw=3)]),
    echo_request(options=[IPOption_LSRR(routers=["10.0.0.5", "10.0.0.6"]), IPOption_NOP(), IPOption_NOP()]),
    echo_request(options=b"\x01\x01\x01\x00"),
    bytes(IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=0, id=7, seq=9) / b"pong"),
]


@pytest.mark.parametrize("packet", ECHO_PACKETS, ids=range(len(ECHO_PACKETS)))
def test_ipv4_echo_matches_scapy(packet):
    fields = assert_matches_scapy(packet)
    assert names(fields)[:12] == [
        "ip.version",
        "ip.ihl",
        "ip.tos",
        "ip.len",
        "ip.id",
        "ip.flags",
        "ip.frag",
        "ip.ttl",
        "ip.proto",
        "ip.chksum",
        "ip.src",
        "ip.dst",
    ]
    assert {"icmp.type", "icmp.code", "icmp.chksum", "icmp.id", "icmp.seq"} <= set(names(fields))


def test_exact_spans_of_a_plain_echo_request():
    spans = {f.name: (f.offset, f.length, f.bits) for f in field_map(echo_request())}
    assert spans["ip.version"] == (0, 1, (0, 4)) and spans["ip.ihl"] == (0, 1, (4, 4))
    assert spans["ip.flags"] == (6, 1, (0, 3)) and spans["ip.frag"] == (6, 2, (3, 13))
    assert spans["ip.ttl"] == (8, 1, None) and spans["ip.chksum"] == (10, 2, None)
    assert spans["ip.src"] == (12, 4, None) and spans["ip.dst"] == (16, 4, None)
    assert spans["icmp.type"] == (20, 1, None) and spans["icmp.chksum"] == (22, 2, None)
    assert spans["icmp.id"] == (24, 2, None) and spans["icmp.seq"] == (26, 2, None)
    assert spans["icmp.data"] == (28, 56, None)


def test_record_route_sub_fields():
    packet = echo_request(options=[IPOption_RR(routers=["10.9.8.7", "0.0.0.0"])])
    fields = {f.name: f for f in assert_matches_scapy(packet)}
    assert fields["ip.options"].offset == 20 and fields["ip.options"].length == 12
    assert (fields["ip.opt.rr.type"].value, fields["ip.opt.rr.len"].value, fields["ip.opt.rr.ptr"].value) == (7, 11, 4)
    assert fields["ip.opt.rr.route"].value == "10.9.8.7, 0.0.0.0"
    assert (fields["ip.opt.rr.route"].offset, fields["ip.opt.rr.route"].length) == (23, 8)
    assert field_at(list(fields.values()), 20).name == "ip.opt.rr.type"  # sub-field beats the container


@pytest.mark.parametrize("icmp_type", [13, 14])
def test_icmp_timestamp_fields(icmp_type):
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=icmp_type, id=3, seq=4, ts_ori=1, ts_rx=2, ts_tx=3))
    fields = {f.name: f for f in assert_matches_scapy(packet)}
    assert [fields[n].value for n in ("icmp.ts_ori", "icmp.ts_rx", "icmp.ts_tx")] == [1, 2, 3]
    assert fields["icmp.ts_tx"].offset == 36


def test_icmp_address_mask_and_error_messages():
    assert_matches_scapy(bytes(IP() / ICMP(type=18, addr_mask="255.255.255.0")))
    quoted = echo_request()[:28]
    error = bytes(IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=3, code=3) / quoted)
    fields = {f.name: f for f in field_map(error)}
    assert fields["icmp.unused"].offset == 24 and fields["icmp.data"].value == quoted
    redirect = bytes(IP() / ICMP(type=5, gw="10.0.0.254") / quoted)
    assert_matches_scapy(redirect)


def test_ipv4_first_fragment_and_later_fragment():
    first = bytes(IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / ICMP(id=1, seq=1) / (b"a" * 32))
    assert "icmp.data" in names(assert_matches_scapy(first))
    later = bytes(IP(src="10.0.0.1", dst="10.0.0.2", frag=5, proto=1) / (b"b" * 16))
    fields = field_map(later)
    assert names(fields)[-1] == "ip.payload" and "icmp.type" not in names(fields)


V6_PACKETS = [
    echo_request_v6(),
    echo_request_v6(payload=b""),
    bytes(IPv6(src="fd00::2", dst="fd00::1", tc=0xB8, fl=0xABCDE, hlim=255) / ICMPv6EchoReply(id=1, seq=2, data=b"z")),
    bytes(
        IPv6(src="fd00::1", dst="ff02::1:ff00:2")
        / ICMPv6ND_NS(tgt="fd00::2")
        / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
    ),
    bytes(
        IPv6(src="fd00::2", dst="fd00::1")
        / ICMPv6ND_NA(tgt="fd00::2", R=0, S=1, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:02")
    ),
    bytes(IPv6(src="fd00::1", dst="fd00::2") / ICMPv6ND_NS(tgt="fd00::2")),
    bytes(IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / ICMPv6EchoRequest(id=5, seq=6, data=b"hbh")),
    bytes(IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrDestOpt() / ICMPv6EchoRequest(id=5, seq=6)),
]


@pytest.mark.parametrize("packet", V6_PACKETS, ids=range(len(V6_PACKETS)))
def test_ipv6_matches_scapy(packet):
    fields = assert_matches_scapy(packet)
    assert names(fields)[:8] == [
        "ipv6.version",
        "ipv6.tc",
        "ipv6.fl",
        "ipv6.plen",
        "ipv6.nh",
        "ipv6.hlim",
        "ipv6.src",
        "ipv6.dst",
    ]


def test_ipv6_bit_fields_and_nd_target():
    fields = {f.name: f for f in field_map(V6_PACKETS[2])}
    assert (fields["ipv6.tc"].offset, fields["ipv6.tc"].length, fields["ipv6.tc"].bits) == (0, 2, (4, 8))
    assert (fields["ipv6.fl"].offset, fields["ipv6.fl"].length, fields["ipv6.fl"].bits) == (1, 3, (4, 20))
    assert fields["ipv6.fl"].value == 0xABCDE and fields["ipv6.tc"].value == 0xB8
    na = {f.name: f for f in field_map(V6_PACKETS[4])}
    assert na["icmpv6.tgt"].value == "fd00::2" and (na["icmpv6.tgt"].offset, na["icmpv6.tgt"].length) == (48, 16)
    assert (na["icmpv6.R"].value, na["icmpv6.S"].value, na["icmpv6.O"].value) == (0, 1, 1)
    assert na["icmpv6.opt.lladdr"].value == "02:00:00:00:00:02"


ETHER_FRAMES = [
    bytes(
        Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
        / ARP(psrc="10.0.0.1", pdst="10.0.0.2", hwsrc="02:00:00:00:00:01")
    ),
    bytes(
        Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=2, psrc="10.0.0.1", pdst="10.0.0.2")
        / Padding(load=bytes(18))
    ),
    bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(echo_request())),
    bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(echo_request_v6())),
    bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(echo_request(payload=b""))
        / Padding(load=bytes(18))
    ),
]


@pytest.mark.parametrize("frame", ETHER_FRAMES, ids=range(len(ETHER_FRAMES)))
def test_ethernet_frames_match_scapy(frame):
    fields = assert_matches_scapy(frame, "ether")
    assert names(fields)[:3] == ["ether.dst", "ether.src", "ether.type"]


def test_arp_spans():
    fields = {f.name: f for f in field_map(ETHER_FRAMES[0], "ether")}
    spans = [(fields[n].offset, fields[n].length) for n in ("arp.op", "arp.hwsrc", "arp.psrc", "arp.hwdst", "arp.pdst")]
    assert spans == [(20, 2), (22, 6), (28, 4), (32, 6), (38, 4)]
    assert fields["arp.psrc"].describe() == "10.0.0.1" and fields["arp.op"].describe() == "1 (who-has)"


@pytest.mark.parametrize(
    "packet, link",
    [
        (echo_request(), "ip"),
        (echo_request_v6(), "ip"),
        (V6_PACKETS[3], "ip"),
        (ETHER_FRAMES[0], "ether"),
        (echo_request(options=[IPOption_RR()]), "ip"),
    ],
)
def test_every_truncation_is_a_clear_value_error(packet, link):
    for cut in range(len(packet)):
        with pytest.raises(ValueError, match="truncated|empty|malformed"):
            field_map(packet[:cut], link)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x55" + bytes(30), "first nibble is 5"),
        (b"\x44" + bytes(30), "IHL 4"),
        (bytes.fromhex("4600001c0001000040010000000000000000000007ff0000") + bytes(4), "malformed IPv4 option"),
    ],
)
def test_malformed_input_says_why(data, message):
    with pytest.raises(ValueError, match=message):
        field_map(data)
    with pytest.raises(ValueError, match="unknown link"):
        field_map(echo_request(), "wifi")


def test_describe_decodes_values():
    text = {f.name: f.describe() for f in field_map(echo_request(df=True))}
    assert text["icmp.type"] == "8 (echo-request)" and text["ip.proto"] == "1 (ICMP)"
    assert text["ip.flags"] == "DF" and text["ip.src"] == "10.0.0.1" and text["ip.ihl"] == "5 (20 bytes)"
    assert text["icmp.chksum"].startswith("0x") and text["icmp.data"].startswith("56 bytes: 00 00")
    assert {f.name: f.describe() for f in field_map(echo_request_v6())}["icmpv6.type"] == "128 (echo-request)"


def test_byte_owners_groups_shared_bit_fields():
    owners = byte_owners(field_map(echo_request()), 84)
    assert owners[0] == "ip.version+ihl" and owners[6] == owners[7] == "ip.flags+frag"
    assert owners[8] == "ip.ttl" and owners[83] == "icmp.data"
    v6 = byte_owners(field_map(echo_request_v6()), 50)
    assert v6[:4] == ["ipv6.version+tc+fl"] * 4 and v6[40] == "icmpv6.type"
    assert byte_owners(field_map(echo_request()), 90)[84:] == [None] * 6


def test_field_at():
    fields = field_map(echo_request())
    assert field_at(fields, 8).name == "ip.ttl"
    assert field_at(fields, 7).name == "ip.frag"
    assert field_at(fields, 500) is None


def test_read_value_reads_other_bytes_the_same_way():
    fields = {f.name: f for f in field_map(echo_request())}
    other = echo_request(src="10.1.2.3", df=True)
    assert read_value(fields["ip.src"], other) == "10.1.2.3"
    assert read_value(fields["ip.flags"], other) == 2
    assert read_value(fields["icmp.data"], other[:40]) is None


OPTION_CHOICES = [
    IPOption_NOP(),
    IPOption_RR(routers=["0.0.0.0"]),
    IPOption_RR(routers=["10.0.0.1"] * 3),
    IPOption_Router_Alert(),
    IPOption_Timestamp(flg=0),
    IPOption_LSRR(routers=["10.0.0.9"]),
]


@settings(max_examples=60, deadline=None)
@given(
    options=st.lists(st.sampled_from(OPTION_CHOICES), max_size=3),
    payload=st.binary(max_size=200),
    ident=st.integers(0, 0xFFFF),
    seq=st.integers(0, 0xFFFF),
    ttl=st.integers(0, 255),
    tos=st.integers(0, 255),
    df=st.booleans(),
    src=st.ip_addresses(v=4).map(str),
    dst=st.ip_addresses(v=4).map(str),
)
def test_random_echo_requests_match_scapy(options, payload, ident, seq, ttl, tos, df, src, dst):
    option_bytes = -(-sum(len(bytes(option)) for option in options) // 4) * 4  # padded to whole words
    if option_bytes > 40:  # more than an IPv4 header holds: echo_request must refuse, not wrap the IHL
        with pytest.raises(ValueError, match="at most 40"):
            echo_request(src, dst, ident, seq, payload, ttl, tos, df=df, options=list(options))
        return
    packet = echo_request(src, dst, ident, seq, payload, ttl, tos, df=df, options=list(options))
    fields = assert_matches_scapy(packet)
    assert {f.name: f.value for f in fields}["icmp.id"] == ident


@settings(max_examples=30, deadline=None)
@given(
    payload=st.binary(max_size=200),
    ident=st.integers(0, 0xFFFF),
    seq=st.integers(0, 0xFFFF),
    src=st.ip_addresses(v=6).map(str),
    dst=st.ip_addresses(v=6).map(str),
)
def test_random_v6_echo_requests_match_scapy(payload, ident, seq, src, dst):
    assert_matches_scapy(echo_request_v6(src, dst, ident, seq, payload))


@given(st.binary(max_size=80))
def test_field_map_only_raises_value_error(data):
    for link in ("ip", "ether"):
        try:
            fields = field_map(data, link)
        except ValueError as error:
            assert str(error)
        else:
            assert all(f.end <= len(data) for f in fields)


def test_field_spans_and_repeated_maps_are_independent_lists():
    packet = echo_request()
    spans = field_spans(packet)
    assert spans["ip.ttl"] == (8, 1) and spans["icmp.chksum"] == (22, 2) and spans["icmp.data"] == (28, 56)
    first = field_map(packet)
    first.clear()  # a caller changing its list must not change the next one
    assert field_map(bytearray(packet)) == field_map(packet) != []
    with pytest.raises(ValueError, match="truncated"):
        field_spans(packet[:30])


def test_typed_accessors_give_each_kind_of_value_its_type():
    """int_value / text / raw: callers that know a field's kind get a typed value, and a wrong guess says so."""
    fields = {f.name: f for f in field_map(echo_request(payload=b"abc"))}
    assert fields["ip.ttl"].int_value == 64 and fields["ip.ihl"].int_value == 5
    assert fields["ip.src"].text == "10.0.0.1"
    assert fields["icmp.data"].raw == b"abc"
    with pytest.raises(TypeError, match="ip.src is not a number"):
        _ = fields["ip.src"].int_value
    with pytest.raises(TypeError, match="ip.ttl is not an address"):
        _ = fields["ip.ttl"].text
    with pytest.raises(TypeError, match="ip.ttl is not data"):
        _ = fields["ip.ttl"].raw
