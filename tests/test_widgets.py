"""Widget state, read the way a browser or a reader would: which bytes are marked, what hovering shows,
what a selection highlights, how the checksum walkthrough steps, and what the Dashboard counts.

The HTML is parsed (html.parser) rather than searched as text, so an attribute on the wrong cell fails.
"""

from __future__ import annotations

import io
import threading
import time
from html.parser import HTMLParser

import pytest

from labkit.checksum import verify
from labkit.errors import LabkitError
from labkit.fields import byte_owners, field_map
from labkit.packets import echo_request, echo_request_v6, hexdump_lines
from labkit.stack import echo_reply
from labkit.widgets import ChecksumWalkthrough, Dashboard, DiffView, PacketView
from labkit.widgets.style import tint


class Cells(HTMLParser):
    """Every element with its attributes and text, and the data-role containers it sits in."""

    VOID = {"br", "meta", "img", "input", "hr", "col"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self._open: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {k: (v or "") for k, v in attrs}
        attributes["_text"] = ""
        roles = tuple(a["data-role"] for _, a in self._open if "data-role" in a)
        self.elements.append(
            (tag, attributes, roles + ((attributes["data-role"],) if "data-role" in attributes else ()))
        )
        if tag not in self.VOID:
            self._open.append((tag, attributes))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, attributes in self._open:
            attributes["_text"] += data

    def tds(self, role: str | None = None, **wanted: str) -> list[dict[str, str]]:
        found = []
        for tag, attributes, roles in self.elements:
            if tag != "td" or (role is not None and role not in roles):
                continue
            if all(attributes.get(key.replace("_", "-")) == value for key, value in wanted.items()):
                found.append(attributes)
        return found

    def offsets(self, role: str | None = None, **wanted: str) -> set[int]:
        return {int(cell["data-offset"]) for cell in self.tds(role, **wanted) if "data-offset" in cell}


# Okabe & Ito (2008), written out here rather than read from labkit.widgets.style, so a palette edit fails a test.
OKABE_ITO_PUBLISHED = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


@pytest.fixture(autouse=True)
def no_leaked_dashboard_threads():
    """Every test leaves no Dashboard refresh thread behind (a notebook must not collect stray threads)."""
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [t for t in threading.enumerate() if t.name == "labkit-dashboard"]
        if not alive:
            return
        time.sleep(0.02)
    pytest.fail(f"leaked Dashboard threads: {alive}")


@pytest.fixture(scope="module")
def request_v4() -> bytes:
    return echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=1)


@pytest.fixture(scope="module")
def reply_v4(request_v4) -> bytes:
    return echo_reply(request_v4)


def arp_frame() -> bytes:
    from scapy.layers.l2 import ARP, Ether

    return bytes(
        Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01")
        / ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", pdst="10.0.0.2")
    )


# --- PacketView ----------------------------------------------------------------------------------------------


# What each field does on its way into the reply, written out here (not read from labkit.roles).
EXPECTED_ROLES = {
    "ip.id": "host",
    "ip.flags+frag": "host",
    "ip.ttl": "host",
    "ip.chksum": "recomputed",
    "ip.src": "swapped",
    "ip.dst": "swapped",
    "icmp.type": "decision",
    "icmp.chksum": "recomputed",
}


def _background(cell: dict) -> str:
    return cell["style"].split("background-color:")[1].split(";")[0]


def test_packet_view_colours_every_byte_by_its_role(request_v4):
    view = PacketView(request_v4)
    owners = byte_owners(field_map(request_v4), len(request_v4))
    cells = Cells(view.to_html()).tds()
    byte_cells = [c for c in cells if "data-offset" in c]
    assert [int(c["data-offset"]) for c in byte_cells] == list(range(len(request_v4)))
    assert [c["data-field"] for c in byte_cells] == owners
    roles = {cell["data-field"]: cell["data-byte-role"] for cell in byte_cells}
    assert roles == {owner: EXPECTED_ROLES.get(owner, "copied") for owner in owners}
    colour_of: dict[str, set[str]] = {}
    for cell in byte_cells:
        colour_of.setdefault(cell["data-byte-role"], set()).add(_background(cell))
    assert all(len(colours) == 1 for colours in colour_of.values()), "one role, one colour"
    assert len(set().union(*colour_of.values())) == 5, "five roles, five colours"
    computed = {_background(c) for c in byte_cells if c["data-byte-role"] != "copied"}
    assert computed <= {tint(c) for c in OKABE_ITO_PUBLISHED} | {tint("#F0E442", 0.6)}, "Okabe-Ito: colour-blind safe"
    patterns = {
        c["data-byte-role"]: c["style"].count("background-image") + c["style"].count("font-weight") for c in byte_cells
    }
    assert all(patterns[role] for role in ("swapped", "decision", "recomputed", "host")), "greyscale: a pattern each"
    # field boundaries stay; the IPv4/ICMP layer boundary is heavier
    starts = {int(c["data-offset"]) for c in byte_cells if "labkit-start" in c["class"]}
    assert {12, 16, 20, 22} <= starts
    assert {int(c["data-offset"]) for c in byte_cells if "labkit-layer" in c["class"]} == {20}
    legend = [
        attributes
        for tag, attributes, _ in Cells(view.to_html()).elements
        if tag == "li" and "data-field" in attributes
    ]
    assert [item["data-field"] for item in legend] == list(dict.fromkeys(owners))
    assert {a["data-role-key"] for t, a, _ in Cells(view.to_html()).elements if "data-role-key" in a} == {
        "copied",
        "swapped",
        "decision",
        "recomputed",
        "host",
    }


def test_every_byte_is_a_radio_of_its_field_for_click_and_keyboard(request_v4):
    view = PacketView(request_v4, select="icmp.chksum")
    parsed = Cells(view.to_html())
    radios = [a for tag, a, _ in parsed.elements if tag == "input"]
    assert len(radios) == len(request_v4)
    assert len({r["name"] for r in radios}) == 1, "one group per view: arrow keys walk the bytes"
    owners = byte_owners(field_map(request_v4), len(request_v4))
    assert [r["data-pick"] for r in radios] == owners
    assert [i for i, r in enumerate(radios) if "checked" in r] == [22], "the selection is the checked radio"
    info = [a for tag, a, _ in parsed.elements if "data-info-for" in a]
    assert {a["data-info-for"] for a in info} == set(owners)
    assert "10.0.0.1" in next(a["_text"] for a in info if a["data-info-for"] == "ip.src"), "tooltip on the page"
    css = view.to_html()
    assert 'input[data-pick="icmp.chksum"]:checked) td[data-field="icmp.chksum"]' in css
    assert "focus-visible" in css


def test_hovering_a_byte_names_its_field_decoded_with_its_offset(request_v4):
    view = PacketView(request_v4)
    assert "ip.src = 10.0.0.1 (bytes 12–15)" in view.title_at(13)
    assert "offset 13 (0x000d): 0x00" in view.title_at(13)
    assert "icmp.type = 8 (echo-request) (byte 20)" in view.title_at(20)
    assert "ip.flags = none" in view.title_at(6) and "ip.frag = 0" in view.title_at(6)
    cells = {int(c["data-offset"]): c for c in Cells(view.to_html()).tds() if "data-offset" in c}
    assert cells[13]["title"] == view.title_at(13)
    assert cells[20]["title"] == view.title_at(20)
    with pytest.raises(LabkitError, match="outside the packet"):
        view.title_at(len(request_v4))


def test_selecting_a_field_highlights_exactly_its_bytes(request_v4):
    view = PacketView(request_v4)
    assert Cells(view.to_html()).offsets(data_selected="1") == set()
    view.select("icmp.chksum")
    assert view.selected_offsets == (22, 23)
    assert view.dropdown.value == "icmp.chksum"
    assert Cells(view.to_html()).offsets(data_selected="1") == {22, 23}
    view.dropdown.value = "ip.dst"  # what the browser does: the observer re-renders
    assert view.selected == "ip.dst"
    assert Cells(view._html.value).offsets(data_selected="1") == {16, 17, 18, 19}
    view.select("ip.flags+frag")  # a legend label (bit-field group) works too
    assert view.selected_offsets == (6, 7) and view.selected == "ip.flags+frag"
    view.select(None)
    assert Cells(view.to_html()).offsets(data_selected="1") == set()
    with pytest.raises(LabkitError, match="no field 'ip.nope'.*ip.src"):
        view.select("ip.nope")


def _pick_on_page(view: PacketView, field: str) -> None:
    """What the page sends when a byte's radio changes: an ipywidgets "update" message on the grid's comm."""
    view._html._handle_msg(
        {"content": {"data": {"method": "update", "state": {"selected": field}, "buffer_paths": []}}, "buffers": []}
    )


def test_a_pick_on_the_page_reaches_python_and_fires_observers(request_v4):
    view = PacketView(request_v4)
    seen: list[str | None] = []
    view.observe(lambda change: seen.append(change["new"]), names="selected")
    assert "selected" in view._html.keys and "value" in view._html.keys, "synced with the page"
    _pick_on_page(view, "ip.src")
    assert view.selected == "ip.src" and seen == ["ip.src"]
    assert view.dropdown.value == "ip.src"
    assert Cells(view._html.value).offsets(data_selected="1") == {12, 13, 14, 15}, "redrawn from Python"
    assert "selected: ip.src (bytes 12–15)" in view.text()
    _pick_on_page(view, "ip.src")  # the next byte of the same field: no change, no callback
    _pick_on_page(view, "icmp.chksum")
    assert seen == ["ip.src", "icmp.chksum"]
    view.select("ip.dst")  # and Python's choice goes to the page, so a saved notebook keeps it
    assert view._html.get_state()["selected"] == "ip.dst"
    assert seen[-1] == "ip.dst"
    with pytest.raises(LabkitError, match="no field 'ip.nope'"):
        view.selected = "ip.nope"
    assert view.selected == "ip.dst"


def test_packet_view_handles_ipv6_and_arp_frames():
    v6 = PacketView(echo_request_v6("fd00::1", "fd00::2"))
    assert "ipv6.src = fd00::1" in v6.title_at(8)
    assert "icmpv6.type = 128 (echo-request)" in v6.title_at(40)
    assert v6.layout_map.summary().startswith("IPv6/ICMPv6 echo-request")
    arp = PacketView(arp_frame())
    assert arp.layout_map.link == "ether"
    assert "arp.psrc = 10.0.0.1" in arp.title_at(28)
    assert "ether.src = 02:00:00:00:00:01" in arp.title_at(6)
    assert "arp.op = 1 (who-has)" in arp.title_at(20)
    with pytest.raises(LabkitError, match="cannot lay out"):
        PacketView(b"\x45\x00\x00")


def test_text_repr_is_the_hexdump_with_a_legend_and_stable(request_v4):
    text = repr(PacketView(request_v4, title="request"))
    assert text == repr(PacketView(request_v4, title="request"))
    assert "object at 0x" not in text and "model_id" not in text
    lines = text.splitlines()
    for row in hexdump_lines(request_v4):
        assert row in lines
    key_line = lines[lines.index(hexdump_lines(request_v4)[0]) + 1]
    assert key_line.split() == list("abccddeefghhiiii")  # one legend key under each byte
    assert any(line.split()[:2] == ["i", "ip.src"] and line.endswith("10.0.0.1") for line in lines)
    bundle = PacketView(request_v4)._repr_mimebundle_()
    assert bundle["text/plain"] == repr(PacketView(request_v4))
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == PacketView(request_v4).to_html()


def test_static_html_export(tmp_path, request_v4):
    path = PacketView(request_v4).save_html(tmp_path / "packet.html")
    page = path.read_text()
    assert page.startswith("<!doctype html>") and 'data-role="legend"' in page
    assert PacketView(request_v4).static().data == PacketView(request_v4).to_html()


# --- DiffView ------------------------------------------------------------------------------------------------


def corrupt(reply: bytes, offsets) -> bytes:
    bad = bytearray(reply)
    for offset in offsets:
        bad[offset] ^= 0x10
    return bytes(bad)


def test_diff_view_marks_exactly_the_corrupted_bytes(request_v4, reply_v4):
    corrupted = {13, 23, 40}
    view = DiffView(request_v4, corrupt(reply_v4, corrupted))
    assert set(view.marked_offsets) == corrupted
    cells = Cells(view.to_html())
    assert cells.offsets("model", data_hallucinated="1") == corrupted
    assert cells.offsets("reference", data_hallucinated="1") == set()
    markers = {int(c["data-marker-for"]): c["_text"] for c in cells.tds("model") if "data-marker-for" in c}
    assert markers == {offset: "^^" for offset in corrupted}
    marked_cell = next(c for c in cells.tds("model") if c.get("data-offset") == "23")
    assert "font-weight:bold" in marked_cell["style"] and "underline" in marked_cell["style"]
    assert "HALLUCINATED" in marked_cell["title"] and "icmp.chksum" in marked_cell["title"]


def test_diff_view_says_which_fields_are_wrong_and_what_linux_does(request_v4, reply_v4):
    # The ICMP checksum alone is wrong: only the receiver's checksum check can catch it.
    bad = corrupt(reply_v4, {23})
    view = DiffView(request_v4, bad)
    parsed = Cells(view.to_html())
    rows = {
        attrs["data-field"]: attrs["data-ok"]
        for tag, attrs, roles in parsed.elements
        if "fields" in roles and "data-ok" in attrs
    }
    assert rows["icmp.chksum"] == "0" and rows["ip.src"] == "1" and rows["icmp.data"] == "1"
    assert [name for name, ok in rows.items() if ok == "0"] == ["icmp.chksum"]
    wrong_rows = [
        attrs["data-field"]
        for tag, attrs, roles in parsed.elements
        if tag == "tr" and "wrong-fields" in roles and "data-field" in attrs
    ]
    assert wrong_rows == ["icmp.chksum"]
    expected = verify(reply_v4)[1].expected
    found = int.from_bytes(bad[22:24], "big")
    assert f"a ping socket drops this: ICMP checksum 0x{found:04x} should be 0x{expected:04x}" in view.text()
    assert f"✗ icmp.chksum 0x{found:04x} should be 0x{expected:04x}" in view.text()
    assert "✓ ip.chksum" in view.text()
    verdict = [a for t, a, _ in Cells(view.to_html()).elements if a.get("data-role") == "verdict"][0]
    assert verdict["data-accepted"] == "0"


def test_diff_view_text_puts_markers_under_the_bytes(request_v4, reply_v4):
    view = DiffView(request_v4, corrupt(reply_v4, {13, 23}))
    lines = view.text().splitlines()
    model_rows = lines[lines.index(next(line for line in lines if line.startswith("model reply"))) + 1 :]
    first_row, marker_line = model_rows[0], model_rows[1]
    column = first_row.index("0a 10 00 02")  # bytes 12..15, byte 13 corrupted to 0x10
    assert marker_line[column + 3 : column + 5] == "^^"
    assert marker_line.count("^^") == 1
    assert view.text() == DiffView(request_v4, corrupt(reply_v4, {13, 23})).text()


def test_correct_and_free_choice_replies_are_not_marked(request_v4, reply_v4):
    view = DiffView(request_v4, reply_v4)
    assert view.marked_offsets == ()
    assert "accepts this reply" in view.text() and "^^" not in view.text()
    # TTL 99 with a recomputed header checksum: a choice Linux may make, not a hallucination.
    from scapy.layers.inet import IP

    other = IP(reply_v4)
    other.ttl, other.chksum = 99, None
    free_view = DiffView(request_v4, bytes(other))
    assert free_view.marked_offsets == ()
    cells = Cells(free_view.to_html())
    changed = {i for i, (a, b) in enumerate(zip(reply_v4, bytes(other))) if a != b}
    assert 8 in changed and changed <= {8, 10, 11}
    assert cells.offsets("model", data_free="1") == changed
    assert cells.offsets("model", data_hallucinated="1") == set()


def test_short_and_missing_replies(request_v4, reply_v4):
    short = DiffView(request_v4, reply_v4[:40])
    assert set(short.marked_offsets) == set(range(40, len(reply_v4)))
    cells = Cells(short.to_html())
    assert cells.offsets("model", data_missing="1") == set(range(40, len(reply_v4)))
    none = DiffView(request_v4, None, parse_error="no hex found in the answer")
    assert "no hex found in the answer" in none.to_html() and "no hex found" in none.text()
    assert Cells(none.to_html()).offsets("model") == set()


def test_diff_view_from_a_simulated_attempt(request_v4):
    from labkit.models.registry import get_model

    model = get_model("simulated:3")
    attempts = [model.attempt(echo_request(seq=seq), "zero-shot") for seq in range(1, 40)]
    for attempt in attempts:
        view = DiffView.from_attempt(attempt)
        assert "simulated" in view.heading
        if attempt.reply is not None:
            differing = {
                i
                for i in range(max(len(attempt.reply), len(view.expected)))
                if i >= len(attempt.reply) or i >= len(view.expected) or attempt.reply[i] != view.expected[i]
            }
            assert set(view.marked_offsets) | set(view.free_offsets) == differing
    assert any(DiffView.from_attempt(a).marked_offsets for a in attempts), "the simulated model makes mistakes"


# --- ChecksumWalkthrough -------------------------------------------------------------------------------------


def test_walkthrough_steps_forward_and_back(reply_v4):
    walk = ChecksumWalkthrough.for_packet(reply_v4, "icmp.chksum")
    steps = walk.trace.steps
    assert len(steps) == (len(reply_v4) - 20) // 2
    assert walk.position == 0 and walk.back_button.disabled and not walk.next_button.disabled
    walk.back()
    assert walk.position == 0
    walk.forward()
    walk.next_button.click()  # the button does what forward() does
    assert walk.position == 2
    current = [a for t, a, _ in Cells(walk.to_html()).elements if t == "tr" and a.get("data-current") == "1"]
    assert [row["data-step"] for row in current] == ["2"]
    assert Cells(walk.to_html()).offsets(data_selected="1") == {steps[2].offset, steps[2].offset + 1}
    assert f"0x{steps[2].sum_before:04x} + 0x{steps[2].word:04x}" in walk.explanation()
    walk.back_button.click()
    assert walk.position == 1
    walk.last_button.click()
    assert walk.at_end and walk.next_button.disabled
    assert f"= 0x{walk.trace.checksum:04x}. That is the checksum." in walk.explanation()
    assert walk.trace.checksum == walk.check.expected == int.from_bytes(reply_v4[22:24], "big")
    assert "which matches" in walk.explanation()
    walk.forward()
    assert walk.at_end
    with pytest.raises(LabkitError, match="does not exist"):
        walk.go(walk.last_position + 1)


def test_walkthrough_explains_the_end_around_carry():
    walk = ChecksumWalkthrough(bytes.fromhex("ffff0002"))
    walk.forward()
    assert walk.trace.steps[1].carry_folded
    assert "carry" in walk.explanation() and "0x0001 + 1 = 0x0002" in walk.explanation()
    assert ">> @0002" in walk.text()


def test_walkthrough_covers_ip_header_and_icmpv6_pseudo_header(reply_v4):
    ip = ChecksumWalkthrough.for_packet(reply_v4, "ip.chksum")
    assert len(ip.trace.data) == 20 and ip.trace.checksum == ip.check.expected
    v6_request = echo_request_v6("fd00::1", "fd00::2")
    v6 = ChecksumWalkthrough.for_packet(v6_request, "icmpv6.cksum")
    assert v6.trace.data[:32] == v6_request[8:40]  # the pseudo-header starts with source and destination
    assert v6.trace.checksum == v6.check.expected and v6.check.ok
    broken = corrupt(reply_v4, {23})
    walk = ChecksumWalkthrough.for_packet(broken, "icmp.chksum")
    walk.go(walk.last_position)
    assert "does not match: a receiver drops this packet" in walk.explanation()
    with pytest.raises(LabkitError, match="no icmpv6.cksum"):
        ChecksumWalkthrough.for_packet(reply_v4, "icmpv6.cksum")
    with pytest.raises(LabkitError, match="unknown checksum"):
        ChecksumWalkthrough.for_packet(reply_v4, "tcp.chksum")


# --- Dashboard -----------------------------------------------------------------------------------------------


def test_dashboard_from_a_snapshot_counts_and_draws_latencies():
    import collections

    from labkit.responder import ResponderStats

    stats = ResponderStats(
        requests=10,
        answered=7,
        dropped=collections.Counter({"bad checksum": 2, "budget": 1}),
        spent_usd=0.0123,
        latencies=[0.5, 1.0, 2.0, 2.5, 3.0, 3.0, 4.0],
    )
    dashboard = Dashboard(stats)
    assert not dashboard.running
    html = dashboard.to_html()
    cells = Cells(html)
    reasons = {a["data-reason"] for t, a, _ in cells.elements if t == "tr" and "data-reason" in a}
    assert reasons == {"bad checksum", "budget"}
    counters = {a["data-counter"]: a["_text"] for t, a, _ in cells.elements if "data-counter" in a}
    assert counters["answered"].startswith("7") and counters["dropped"].startswith("3")
    assert "$0.0123" in counters["spent"]
    bars = [a for t, a, _ in cells.elements if t == "rect"]
    assert sum(1 for _ in bars) >= 2
    text = dashboard.text()
    assert "answered 7" in text and "dropped 3" in text and text == Dashboard(stats).text()
    assert sum(int(line.split()[-1]) for line in text.splitlines() if "#" in line) == 7


def test_dashboard_follows_a_running_responder_and_stops_cleanly():
    from labkit.judge import judge
    from labkit.models.registry import get_model
    from labkit.responder import Responder
    from labkit.wire.software import Pinger, SoftwareWire

    wire = SoftwareWire()
    responder = Responder(wire.responder, get_model("reference"), addresses=("10.0.0.2",))
    pinger = Pinger(wire.host, check=judge, src="10.0.0.1", dst="10.0.0.2", out=io.StringIO())
    with responder:
        dashboard = Dashboard(responder, interval=0.02)
        assert dashboard.running
        pinger.run(3, 0.01, deadline_s=5)
        deadline = time.monotonic() + 5
        while dashboard.snapshot.answered < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert dashboard.snapshot.answered == 3
        assert dashboard.refreshes > 1
    deadline = time.monotonic() + 5
    while dashboard.running and time.monotonic() < deadline:  # it notices the responder stopped
        time.sleep(0.02)
    assert not dashboard.running
    assert "stopped" in dashboard.text()
    dashboard.close()
    assert not dashboard.running


def test_dashboard_stop_ends_the_thread_even_while_the_responder_runs():
    from labkit.models.registry import get_model
    from labkit.responder import Responder
    from labkit.wire.software import SoftwareWire

    def assert_stays_still(dashboard: Dashboard) -> None:
        assert not dashboard.running
        count = dashboard.refreshes
        time.sleep(0.1)  # five intervals: a live thread would have refreshed
        assert dashboard.refreshes == count

    responder = Responder(SoftwareWire().responder, get_model("reference"))
    with responder:
        dashboard = Dashboard(responder, interval=0.02)
        assert dashboard.running
        dashboard.stop()
        assert_stays_still(dashboard)
        dashboard.start()  # a restart gets a thread of its own, and stops like the first
        assert dashboard.running
        dashboard.close()
        assert_stays_still(dashboard)


def test_dashboard_histogram_keeps_zero_latencies():
    from labkit.responder import ResponderStats
    from labkit.widgets.dashboard import log_bins

    assert log_bins([0.0, 0.0, 0.0]) == [(0.0, 0.0, 3)]
    bins = log_bins([0.0, 0.001, 0.01, 0.1])
    assert bins[0] == (0.0, 0.0, 1) and sum(count for _, _, count in bins) == 4
    html = Dashboard(ResponderStats(requests=3, answered=3, latencies=[0.0] * 3)).to_html()
    assert html.count("<rect") == 1 and "no latencies yet" not in html


def test_long_packets_show_headers_marks_and_a_gap_line():
    request = echo_request(payload=bytes(1400))
    reply = echo_reply(request)
    view = DiffView(request, corrupt(reply, {23, 700}))
    cells = Cells(view.to_html())
    assert cells.offsets("model", data_hallucinated="1") == {23, 700}
    drawn = cells.offsets("model")
    assert set(range(64)) <= drawn and {688, 700, 719} <= drawn and max(drawn) == len(reply) - 1
    assert 1000 not in drawn and len(drawn) < len(reply) // 3
    skipped = [
        int(a["data-skipped-rows"]) for t, a, roles in cells.elements if "data-skipped-rows" in a and "model" in roles
    ]
    assert sum(skipped) * 16 + len(drawn) == len(reply)
    assert "rows not shown" in view.text() and view.text().count("^^") == 2 + 1  # two marks + the key
    packet = PacketView(request)
    assert 1000 not in Cells(packet.to_html()).offsets()
    packet.select("icmp.data")  # a selected field is drawn whole
    assert set(range(28, len(request))) <= Cells(packet.to_html()).offsets(data_selected="1")


def test_diff_view_explains_a_checksum_field_right_but_checksum_wrong(request_v4, reply_v4):
    view = DiffView(request_v4, corrupt(reply_v4, {40}))  # a data byte: the (copied) checksum no longer adds up
    notes = view.checksum_pairs()
    assert len(notes) == 1 and notes[0].startswith("✓ icmp.chksum matches the reference, but ✗ icmp.chksum 0x")
    assert "wrong for the bytes actually sent" in notes[0]
    parsed = Cells(view.to_html())
    assert any("checksum-pairs" in roles for _, _, roles in parsed.elements)
    assert "note: ✓ icmp.chksum matches the reference" in repr(view)
    from labkit.checksum import with_checksums

    consistent = DiffView(request_v4, with_checksums(corrupt(reply_v4, {40})))
    assert "the arithmetic was right and the copy was wrong" in consistent.checksum_pairs()[0]


def test_diff_view_names_the_cause_of_each_marked_run(request_v4, reply_v4):
    bad = bytearray(reply_v4)
    bad[12:16], bad[16:20] = request_v4[12:16], request_v4[16:20]  # addresses not swapped
    bad[40] ^= 0x03  # one copy slip
    view = DiffView(request_v4, bytes(bad))
    rows = [a for tag, a, roles in Cells(view.to_html()).elements if tag == "tr" and "data-cause" in a]
    assert [(r["data-cause"], r["data-offsets"]) for r in rows] == [
        ("unswapped", "15"),
        ("unswapped", "19"),
        ("substitution", "40"),
    ]
    assert "likely cause: copy slip" in view.title_at(40)
    assert "likely causes:" in repr(view)


def test_walkthrough_static_form_shows_every_step_and_the_checksum(reply_v4):
    walk = ChecksumWalkthrough.for_packet(reply_v4, "icmp.chksum")
    checksum = f"0x{walk.trace.checksum:04x}"
    for html in (walk._repr_mimebundle_()["text/html"], walk.static().data):
        parsed = Cells(html)
        rows = [a for t, a, _ in parsed.elements if t == "tr" and "data-step" in a]
        assert [int(r["data-step"]) for r in rows] == list(range(walk.last_position + 1))
        assert all(r["_text"].count("0x") >= 2 for r in rows[:-1]), "every running sum is filled in"
        assert checksum in rows[-1]["_text"] and "That is the checksum" in html
        assert "step 1 of" not in html
    live = Cells(walk.to_html())
    every = [a for t, a, roles in live.elements if t == "tr" and "all-steps" in roles and "data-step" in a]
    assert len(every) == walk.last_position + 1, "the live view keeps all steps in a collapsed block too"
    assert checksum in repr(walk).splitlines()[0]
