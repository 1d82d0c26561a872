"""labkit.exercises: self-checks accept the ways people write right answers, hint at the usual mistakes, and the
code checkers reject the usual buggy implementations."""

import pytest
from scapy.layers.inet import ICMP, IP

from labkit.checksum import internet_checksum
from labkit.exercises import (
    Feedback,
    check_byte,
    check_checksum,
    check_echo_reply,
    check_hex_field,
    check_swap,
    check_which_field,
)
from labkit.packets import echo_request, echo_request_v6, to_hex

REQUEST = echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=7, ttl=64)


def scapy_reply(request: bytes, **ip_fields) -> bytes:
    ip = IP(request)
    fields = dict(src=ip.dst, dst=ip.src, ttl=64, id=ip.id)
    fields.update(ip_fields)
    return bytes(IP(**fields) / ICMP(type=0, id=ip[ICMP].id, seq=ip[ICMP].seq) / bytes(ip[ICMP].payload))


REPLY = scapy_reply(REQUEST)


def test_feedback_prints_tick_or_cross_with_hint():
    assert str(Feedback(True, "right.")) == "✓ right."
    assert str(Feedback(False, "wrong.", "look again.")) == "✗ wrong. Hint: look again."
    assert repr(Feedback(False, "wrong.")) == "✗ wrong."
    assert "&lt;b&gt;" in Feedback(True, "a <b>")._repr_html_() and "✓" in Feedback(True, "a")._repr_html_()
    assert bool(Feedback(True, "")) and not bool(Feedback(False, ""))


@pytest.mark.parametrize("answer", ["40", "0x40", " 40 ", 64, "64", b"\x40"])
def test_hex_field_accepts_the_ttl_however_written(answer):
    feedback = check_hex_field(REQUEST, "ip.ttl", answer)
    assert feedback.correct, feedback


@pytest.mark.parametrize("answer", ["41", "0x80", 65, "4000", "", None, True, b"\x41"])
def test_hex_field_rejects_wrong_ttls_with_a_hint(answer):
    feedback = check_hex_field(REQUEST, "ttl", answer)
    assert not feedback.correct and "offset 8" in feedback.hint


def test_hex_field_other_fields():
    assert check_hex_field(REQUEST, "ip.src", "10.0.0.1").correct
    assert check_hex_field(REQUEST, "ip.src", "0a 00 00 01").correct
    assert not check_hex_field(REQUEST, "ip.src", "10.0.0.2").correct
    assert check_hex_field(REQUEST, "icmp.type", "8 (echo-request)").correct
    assert check_hex_field(REQUEST, "icmp.id", "0x1234").correct
    assert check_hex_field(REQUEST, "ip.ihl", 5).correct
    assert check_hex_field(REQUEST, "ip.version", "4").correct
    assert "bits 4..7" in check_hex_field(REQUEST, "ip.ihl", 6).hint
    with pytest.raises(ValueError, match="no field 'ip.bogus'"):
        check_hex_field(REQUEST, "ip.bogus", "00")
    with pytest.raises(ValueError, match="ambiguous.*ip.id, icmp.id"):
        check_hex_field(REQUEST, "id", "00")  # ambiguous: ip.id or icmp.id


def test_hex_field_names_a_number_read_little_endian():
    from labkit.exercises import mystery_request

    mystery = mystery_request()  # sequence 300 = 01 2c
    assert check_hex_field(mystery, "icmp.seq", 300).correct
    reversed_order = check_hex_field(mystery, "icmp.seq", 0x2C01)
    assert not reversed_order.correct and "most significant byte first" in reversed_order.hint


def test_checksum_right_answers():
    header = bytearray(REQUEST[:20])
    header[10:12] = b"\x00\x00"
    right = internet_checksum(bytes(header))
    for answer in (
        right,
        f"0x{right:04x}",
        f"{right:04X}",
        f"{right >> 8:02x} {right & 0xFF:02x}",
        right.to_bytes(2, "big"),
    ):
        assert check_checksum(bytes(header), answer).correct


def test_checksum_hints_name_the_mistake():
    data = bytes.fromhex("ffff0002")  # a sum with a carry
    right = internet_checksum(data)
    folded = ~right & 0xFFFF
    assert "complement" in check_checksum(data, folded).hint
    assert "carries" in check_checksum(data, (0xFFFF + 0x0002) & 0xFFFF).hint
    swapped = int.from_bytes(right.to_bytes(2, "big")[::-1], "big")
    assert "swapped" in check_checksum(data, swapped).hint
    assert "trace" in check_checksum(data, 0x1234).hint
    assert not check_checksum(data, "banana").correct


def test_echo_reply_check():
    assert check_echo_reply(REQUEST, to_hex(REPLY), expected=REPLY).correct
    assert check_echo_reply(REQUEST, "```\n" + to_hex(REPLY) + "\n```", expected=REPLY).correct
    unswapped = scapy_reply(REQUEST, src="10.0.0.1", dst="10.0.0.2")
    feedback = check_echo_reply(REQUEST, to_hex(unswapped), expected=REPLY)
    assert not feedback.correct and "swap" in feedback.hint and "ip.src" in feedback.message
    still_request = bytearray(REPLY)
    still_request[20] = 8
    feedback = check_echo_reply(REQUEST, bytes(still_request), expected=REPLY)
    assert not feedback.correct and "type 0" in feedback.hint
    feedback = check_echo_reply(REQUEST, "no idea", expected=REPLY)
    assert not feedback.correct and "could not read" in feedback.message


def test_which_field():
    assert check_which_field(REQUEST, 8, "TTL").correct
    assert check_which_field(REQUEST, 8, "ip.ttl").correct
    assert check_which_field(REQUEST, 8, "time to live").correct
    assert check_which_field(REQUEST, 22, "ICMP checksum").correct
    assert check_which_field(REQUEST, 11, "header checksum").correct
    assert check_which_field(REQUEST, 0, "version").correct and check_which_field(REQUEST, 0, "IHL").correct
    assert check_which_field(REQUEST, 7, "fragment offset").correct
    assert check_which_field(REQUEST, 14, "source address").correct
    wrong = check_which_field(REQUEST, 22, "ip.chksum")
    assert not wrong.correct and "ICMP header, which starts at byte 20" in wrong.hint
    assert not check_which_field(REQUEST, 9, "ttl").correct
    assert not check_which_field(REQUEST, 9, "").correct
    v6 = echo_request_v6()
    assert check_which_field(v6, 7, "hop limit").correct and check_which_field(v6, 2, "flow label").correct


def test_swap():
    assert check_swap(REQUEST, REPLY).correct
    assert check_swap(REQUEST, to_hex(REPLY)).correct
    unchanged = check_swap(REQUEST, REQUEST)
    assert not unchanged.correct and "unchanged" in unchanged.message
    half = scapy_reply(REQUEST, dst="10.0.0.2")
    assert "destination" in check_swap(REQUEST, half).message
    v6 = echo_request_v6("fd00::1", "fd00::2")
    swapped6 = v6[:8] + v6[24:40] + v6[8:24] + v6[40:]
    assert check_swap(v6, swapped6).correct and not check_swap(v6, REPLY).correct
    assert not check_swap(REQUEST, "zz").correct


def test_prediction_checks_numbers_within_tolerance_and_text_loosely() -> None:
    from labkit.exercises import check_prediction

    assert not check_prediction(None, 3)
    assert check_prediction("3", 3)
    assert check_prediction(2.5, 3, tolerance=0.5)
    wrong = check_prediction(5, 3, why="TTL is the host's choice")
    assert not wrong and "off by +2" in str(wrong) and "host's choice" in str(wrong)
    assert check_prediction("Echo  Reply", "echo reply")
    assert not check_prediction("echo request", "echo reply")


# --- checker faults found in review (issue 12) -------------------------------------------------------------------


def test_a_named_layer_must_be_right() -> None:
    """'ip checksum' is the IP header checksum, not the ICMP one at byte 22."""
    assert not check_which_field(REQUEST, 22, "ip checksum").correct
    assert not check_which_field(REQUEST, 22, "IPv4 checksum").correct
    assert "wrong header" in check_which_field(REQUEST, 22, "ip checksum").message
    assert check_which_field(REQUEST, 22, "icmp checksum").correct
    assert check_which_field(REQUEST, 10, "ip checksum").correct
    assert not check_which_field(REQUEST, 10, "icmp checksum").correct
    assert not check_which_field(REQUEST, 22, "header checksum").correct  # RFC 791's name for the IP field


@pytest.mark.parametrize(
    "offset, label",
    [
        (22, "icmp.checksum"),
        (24, "icmp.ident"),
        (1, "ip.dsfield"),
        (0, "ip.hdr_len"),
        (6, "ip.flags.df"),
        (7, "ip.frag_offset"),
        (8, "ip.ttl"),
        (10, "ip.checksum"),
    ],
)
def test_wireshark_field_names_are_accepted(offset, label) -> None:
    assert check_which_field(REQUEST, offset, label).correct


def test_wireshark_labels_opcode_and_echo_reply_are_accepted() -> None:
    from scapy.layers.l2 import ARP, Ether

    frame = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01") / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2"))
    assert check_which_field(frame, 21, "opcode", link="ether").correct
    assert check_which_field(frame, 21, "arp.opcode", link="ether").correct
    assert check_hex_field(frame, "opcode", 1, link="ether").correct
    for label in ("echo reply", "Echo (ping) reply", "echo-reply", "0 (echo-reply)", 0):
        assert check_hex_field(REPLY, "icmp.type", label).correct, label
    assert not check_hex_field(REPLY, "icmp.type", "echo request").correct
    assert check_hex_field(REQUEST, "icmp.type", "Echo (ping) request").correct


def test_byte_order_slip_is_named() -> None:
    feedback = check_hex_field(REQUEST, "icmp.seq", "07 00")  # sequence 7 written little-endian
    assert not feedback.correct and "wrong order" in feedback.message and "big-endian" in feedback.hint
    assert check_hex_field(REQUEST, "icmp.seq", "00 07").correct
    slipped = bytearray(REPLY)
    slipped[26:28] = REPLY[27:28] + REPLY[26:27]
    feedback = check_echo_reply(REQUEST, bytes(slipped), expected=REPLY)
    assert not feedback.correct and "icmp.seq" in feedback.hint and "big-endian" in feedback.hint


def _with_icmp_checksum(reply: bytes, value: int) -> bytes:
    changed = bytearray(reply)
    changed[22:24] = value.to_bytes(2, "big")
    return bytes(changed)


def test_lost_end_around_carry_is_named() -> None:
    data = bytes.fromhex("ffff0001ff00ff00")  # carries in the sum
    right = internet_checksum(data)
    for slip, word in ((1, "lost"), (-1, "added twice")):
        feedback = check_checksum(data, (right + slip) & 0xFFFF)
        assert not feedback.correct and "carry" in feedback.hint and word in feedback.hint, feedback
    right = internet_checksum(REPLY[20:22] + b"\x00\x00" + REPLY[24:])
    for slip in (1, -1):
        feedback = check_echo_reply(REQUEST, _with_icmp_checksum(REPLY, (right + slip) & 0xFFFF), expected=REPLY)
        assert not feedback.correct and "carry" in feedback.hint, feedback
    swapped = _with_icmp_checksum(REPLY, int.from_bytes(right.to_bytes(2, "big")[::-1], "big"))
    assert "big-endian" in check_echo_reply(REQUEST, swapped, expected=REPLY).hint


def test_a_changed_ttl_needs_a_new_header_checksum() -> None:
    changed = bytearray(REPLY)
    changed[8] = 128
    feedback = check_echo_reply(REQUEST, bytes(changed), expected=REPLY)
    assert not feedback.correct and "TTL" in feedback.hint and "recompute" in feedback.hint
    assert check_echo_reply(REQUEST, scapy_reply(REQUEST, ttl=128), expected=REPLY).correct  # free, if consistent


def test_check_byte_reads_hex_and_names_slips() -> None:
    packet = echo_request()  # data starts at 28; byte 28 + n holds n from 16 on
    assert check_byte(packet, 60, "20").correct and check_byte(packet, 60, 0x20).correct
    assert check_byte(packet, 60, "0x20").correct
    decimal = check_byte(packet, 60, 20)
    assert not decimal.correct and "decimal" in decimal.message
    as_text = check_byte(packet, 60, "32")
    assert not as_text.correct and "int 32" in as_text.hint
    from_data = check_byte(packet, 32, packet[60], data_start=28)
    assert not from_data.correct and "start of the packet" in from_data.hint
    assert "off by one" in check_byte(packet, 60, packet[61]).hint
    assert not check_byte(packet, 60, "zz").correct


# --- code checkers: a right implementation passes, the usual buggy ones fail with the right hint -----------------


def _words(data: bytes, order: str = "big") -> list[int]:
    padded = data + b"\x00" * (len(data) % 2)
    return [int.from_bytes(padded[i : i + 2], order) for i in range(0, len(padded), 2)]


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum_right(data: bytes) -> int:
    return ~_fold(sum(_words(data))) & 0xFFFF


CHECKSUM_BUGS = {
    "carry": lambda data: ~sum(_words(data)) & 0xFFFF,  # no end-around carry
    "complement": lambda data: _fold(sum(_words(data))),  # no complement
    "byte order": lambda data: ~_fold(sum(_words(data, "little"))) & 0xFFFF,  # little-endian words
    "odd length": lambda data: ~_fold(sum(_words(data[: len(data) // 2 * 2]))) & 0xFFFF,  # last byte dropped
    "16 bits": lambda data: ~_fold(sum(_words(data))),  # Python's ~ is negative
    "raised": lambda data: ~_fold(sum(data[i] << 8 | data[i + 1] for i in range(0, len(data), 2))) & 0xFFFF,
}


def test_checksum_code_checker_accepts_a_right_implementation() -> None:
    from labkit.exercises import check_internet_checksum

    feedback = check_internet_checksum(checksum_right)
    assert feedback.correct and "inputs" in feedback.message


@pytest.mark.parametrize("bug", sorted(CHECKSUM_BUGS))
def test_checksum_code_checker_names_each_bug(bug) -> None:
    from labkit.exercises import check_internet_checksum

    feedback = check_internet_checksum(CHECKSUM_BUGS[bug])
    assert not feedback.correct and "first failing case" in feedback.message or "raised" in feedback.message
    assert bug in (feedback.hint + feedback.message).lower().replace("endian", "byte order"), feedback


def _ones_add(a: int, b: int) -> int:
    return _fold(a + b)


def update_right(hc: int, m: int, m_new: int) -> int:
    return ~_ones_add(_ones_add(~hc & 0xFFFF, ~m & 0xFFFF), m_new) & 0xFFFF


UPDATE_BUGS = {
    "carry": lambda hc, m, n: ~((~hc & 0xFFFF) + (~m & 0xFFFF) + n) & 0xFFFF,
    "~hc": lambda hc, m, n: ~_ones_add(_ones_add(hc, ~m & 0xFFFF), n) & 0xFFFF,
    "complement": lambda hc, m, n: _ones_add(_ones_add(~hc & 0xFFFF, ~m & 0xFFFF), n),
    "~m": lambda hc, m, n: ~_ones_add(_ones_add(~hc & 0xFFFF, m), n) & 0xFFFF,
    "wrong way round": lambda hc, m, n: update_right(hc, n, m),
}


def test_incremental_update_checker_accepts_rfc_1624_eqn_3_and_matches_recomputation() -> None:
    from labkit.exercises import check_incremental_update

    assert check_incremental_update(update_right).correct
    # the reference really is a recomputation: change one word of a real header and compare
    header = bytearray(REPLY[:20])
    header[10:12] = b"\x00\x00"
    old = internet_checksum(bytes(header))
    header[8:10] = bytes([7, header[9]])
    assert update_right(
        old, int.from_bytes(REPLY[8:10], "big"), int.from_bytes(header[8:10], "big")
    ) == internet_checksum(bytes(header))


@pytest.mark.parametrize("bug", sorted(UPDATE_BUGS))
def test_incremental_update_checker_names_each_bug(bug) -> None:
    from labkit.exercises import check_incremental_update

    feedback = check_incremental_update(UPDATE_BUGS[bug])
    assert not feedback.correct and "first failing case" in feedback.message
    assert bug in feedback.hint.lower(), feedback


def lookup_right(packet: bytes, offset: int) -> str:
    from labkit.fields import field_at, field_map

    return field_at(field_map(packet), offset).name


def _lookup_fixed_20(packet: bytes, offset: int) -> str:
    """Hard-codes a 20-byte IP header: wrong as soon as there are IP options."""
    names = (
        [
            "ip.version",
            "ip.tos",
            "ip.len",
            "ip.len",
            "ip.id",
            "ip.id",
            "ip.flags",
            "ip.frag",
            "ip.ttl",
            "ip.proto",
            "ip.chksum",
            "ip.chksum",
        ]
        + ["ip.src"] * 4
        + ["ip.dst"] * 4
        + ["icmp.type", "icmp.code", "icmp.chksum", "icmp.chksum", "icmp.id", "icmp.id", "icmp.seq", "icmp.seq"]
    )
    return names[offset] if offset < len(names) else "icmp.data"


def _lookup_off_by_one(packet: bytes, offset: int) -> str:
    ihl = (packet[0] & 0x0F) * 4
    if 0 < offset - ihl <= 8:
        return lookup_right(packet, offset - 1)
    return lookup_right(packet, offset)


def test_field_lookup_checker() -> None:
    from labkit.exercises import check_field_lookup

    assert check_field_lookup(lookup_right).correct
    assert check_field_lookup(lambda p, o: lookup_right(p, o).split(".")[1] if o < 20 else lookup_right(p, o)).correct
    hard_coded = check_field_lookup(_lookup_fixed_20)
    assert not hard_coded.correct and "IHL" in hard_coded.hint and "not at 20" in hard_coded.hint
    off_by_one = check_field_lookup(_lookup_off_by_one)
    assert not off_by_one.correct and "off by one" in off_by_one.hint
    assert "string" in check_field_lookup(lambda p, o: 8).hint


def reply_right(request: bytes) -> bytes:
    ihl = (request[0] & 0x0F) * 4
    header = bytearray(request[:ihl])
    header[8] = 64
    header[12:20] = request[16:20] + request[12:16]
    header[10:12] = b"\x00\x00"
    header[10:12] = checksum_right(bytes(header)).to_bytes(2, "big")
    icmp = bytearray(request[ihl:])
    icmp[0], icmp[2:4] = 0, b"\x00\x00"
    icmp[2:4] = checksum_right(bytes(icmp)).to_bytes(2, "big")
    return bytes(header + icmp)


def _reply_unswapped(request: bytes) -> bytes:
    reply = bytearray(reply_right(request))
    reply[12:20] = request[12:20]
    return bytes(reply)


def _reply_old_icmp_checksum(request: bytes) -> bytes:
    reply = bytearray(reply_right(request))
    reply[22:24] = request[22:24]
    return bytes(reply)


def _reply_ttl_without_new_checksum(request: bytes) -> bytes:
    reply = bytearray(reply_right(request))
    reply[10:12] = request[10:12]
    return bytes(reply)


def _reply_seq_little_endian(request: bytes) -> bytes:
    changed = bytearray(request)
    changed[26:28] = request[27:28] + request[26:27]
    return reply_right(bytes(changed))


def test_reply_builder_checker_uses_the_judge() -> None:
    from labkit.exercises import check_reply_builder
    from labkit.stack import echo_reply

    assert check_reply_builder(reply_right).correct
    assert check_reply_builder(echo_reply).correct
    assert "swap" in check_reply_builder(_reply_unswapped).hint
    assert "ICMP checksum" in check_reply_builder(_reply_old_icmp_checksum).message
    assert "TTL" in check_reply_builder(_reply_ttl_without_new_checksum).hint
    slipped = check_reply_builder(_reply_seq_little_endian)
    assert not slipped.correct and "icmp.seq" in slipped.hint and "big-endian" in slipped.hint
    assert "bytes" in check_reply_builder(lambda request: None).hint
    assert "raised" in check_reply_builder(lambda request: request[100]).message


def test_code_checkers_are_deterministic() -> None:
    from labkit.exercises import check_internet_checksum

    first = str(check_internet_checksum(CHECKSUM_BUGS["byte order"]))
    assert first == str(check_internet_checksum(CHECKSUM_BUGS["byte order"]))


def test_carry_cases_need_one_payload_that_never_carries_and_one_that_does():
    from labkit.exercises import check_carry_cases
    from labkit.exercises.code import carry_dropped

    right, dropped = carry_dropped(bytes.fromhex("ff" * 8))
    assert right != dropped  # big words carry, so dropping carries shows
    assert carry_dropped(bytes(8))[0] == carry_dropped(bytes(8))[1]  # zeros never carry
    assert check_carry_cases(bytes(8), bytes.fromhex("ff" * 8))
    assert "passes 0xffff" in str(check_carry_cases(bytes.fromhex("ff" * 8), bytes.fromhex("ff" * 8)))
    assert "never passes 0xffff" in str(check_carry_cases(bytes(8), bytes(8)))
    assert not check_carry_cases(None, b"")
