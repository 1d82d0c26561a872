"""The working checker: generated step-by-step answers in three layouts, each with one planted error, must
have that error reported as the first false step; correct working must pass; unreadable working is said so."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.checksum import trace
from labkit.packets import echo_request, echo_request_v6, to_hex
from labkit.prompts import get_strategy
from labkit.stack import echo_reply
from labkit.taxonomy import checksum_input, checksum_offsets
from labkit.working import check_working

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = ("labkit", "running", "table")


@st.composite
def requests(draw) -> bytes:
    payload = draw(st.binary(min_size=4, max_size=40))
    ident, seq = draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF))
    if draw(st.booleans()):
        return echo_request(ident=ident, seq=seq, payload=payload)
    return echo_request_v6(ident=ident, seq=seq, payload=payload)


def _section_name(request: bytes) -> str:
    return "icmp.chksum" if request[0] >> 4 == 4 else "icmpv6.cksum"


def _running_lines(words: list[int], plant: int | None, delta: int, table: bool) -> tuple[list[str], int | None]:
    """A running sum as models write it, with `delta` added to the result of step `plant` (carried on)."""
    lines, planted_line, running = [], None, words[0]
    if table:
        running = 0
    start = 0 if table else 1
    for index in range(start, len(words)):
        raw = running + words[index]
        after = (raw & 0xFFFF) + (raw >> 16)
        if index == plant:
            after = (after + delta) & 0xFFFF
            planted_line = len(lines)
        if table:
            lines.append(f"| {index + 1} | 0x{words[index]:04x} | 0x{after:04x} |")
        elif raw >> 16 and index != plant:
            lines.append(f"0x{running:04x} + 0x{words[index]:04x} = 0x{raw:05x}")
            lines.append(f"carry: 0x{raw:05x} -> 0x{raw & 0xFFFF:04x} + 0x1 = 0x{after:04x}")
        else:
            lines.append(f"0x{running:04x} + 0x{words[index]:04x} = 0x{after:04x}")
        running = after
    return lines, planted_line, running


def _answer(request: bytes, layout: str, plant: str | None, where: int, delta: int) -> tuple[str, int | None, str]:
    """(answer text, 1-based line of the planted error or None, the kind of step planted)."""
    reply = echo_reply(request)
    name = _section_name(request)
    words = [step.word for step in trace(checksum_input(reply, name)).steps]
    final = ["", "FINAL:", "```hex", to_hex(reply), "```"]
    if layout == "labkit":
        text = get_strategy("step-by-step").render_answer(reply, request)
        lines = text.splitlines()
        number = next(i for i, line in enumerate(lines) if "words" in line and "checksum" in line.lower())
        if plant == "word":
            listed = lines[number].split("words ")[1].split()
            index = where % len(listed)
            listed[index] = f"{(int(listed[index], 16) + delta) & 0xFFFF:04x}"
            lines[number] = lines[number].split("words ")[0] + "words " + " ".join(listed)
            return "\n".join(lines), number + 1, "word"
        if plant in ("sum", "fold", "complement"):
            key = {"sum": "sum 0x", "fold": "folded 0x", "complement": "complement -> 0x"}[plant]
            line = lines[number + 1]
            head, tail = line.split(key)
            value = tail.split(",")[0]
            wrong = f"{(int(value, 16) + delta) & (0xFFFFF if plant == 'sum' else 0xFFFF):x}"
            lines[number + 1] = head + key + wrong + tail[len(value) :]
            return "\n".join(lines), number + 2, plant
        return text, None, ""
    first = 0 if layout == "table" else 1
    body, planted, running = _running_lines(
        words, first + where % (len(words) - first) if plant else None, delta, layout == "table"
    )
    protocol = "ICMP" if name == "icmp.chksum" else "ICMPv6"
    header = ["1. The addresses swapped, the type changed.", f"2. {protocol} checksum:"]
    if layout == "table":
        header.append("| # | word | running sum |")
    complement = f"One's complement: ~0x{running:04x} = 0x{~running & 0xFFFF:04x}"
    lines = header + body + [complement] + final
    line = None if planted is None else len(header) + planted + 1
    return "\n".join(lines), line, "add"


@SETTINGS
@given(requests(), st.sampled_from(LAYOUTS))
def test_correct_working_has_no_false_step(request, layout) -> None:
    text, _, _ = _answer(request, layout, None, 0, 0)
    result = check_working(text, request, echo_reply(request))
    assert result.parsed, result.error
    assert result.first_false is None, str(result)
    assert any(step.kind in ("word", "add") for section in result.sections for step in section.steps)


@SETTINGS
@given(
    requests(),
    st.sampled_from(LAYOUTS),
    st.sampled_from(["word", "sum", "fold", "complement"]),
    st.integers(0, 200),
    st.integers(1, 0xFFFE),
)
def test_first_false_step_is_the_planted_one(request, layout, plant, where, delta) -> None:
    if layout != "labkit":
        plant = "add"
    text, line, kind = _answer(request, layout, plant, where, delta)
    result = check_working(text, request, echo_reply(request))
    assert result.parsed, result.error
    false = result.first_false
    assert false is not None, text
    assert false.line == line, (str(result), text)
    if layout == "labkit":
        assert false.kind == kind
    # the final answer (the correct reply) holds the right checksum: reached through wrong working
    assert _section_name(request) in result.right_through_wrong_working


def test_wrong_final_checksum_after_right_working_is_the_answer_step() -> None:
    request = echo_request()
    reply = echo_reply(request)
    text = get_strategy("step-by-step").render_answer(reply, request)
    offset = checksum_offsets(reply)["icmp.chksum"]
    written = bytearray(reply)
    written[offset] ^= 0x10
    result = check_working(text, request, bytes(written))
    assert result.first_false is not None and result.first_false.kind == "answer"
    assert not result.right_through_wrong_working


def test_unreadable_working_says_so() -> None:
    request = echo_request()
    assert "no line names a checksum" in check_working("I just know the answer.", request).error
    assert not check_working("The ICMP checksum is easy, trust me.", request).parsed
    assert "cannot check the working" in str(check_working("", request))


def test_a_lost_carry_in_the_running_sum_is_found() -> None:
    request = echo_request(payload=b"\xff\xff" * 8)
    reply = echo_reply(request)
    words = [step.word for step in trace(checksum_input(reply, "icmp.chksum")).steps]
    lines, running = ["ICMP checksum:"], words[0]
    lost_at = None
    for word in words[1:]:
        raw = running + word
        after = raw & 0xFFFF  # drops the carry: the classic mistake
        if raw >> 16 and lost_at is None:
            lost_at = len(lines) + 1
        lines.append(f"0x{running:04x} + 0x{word:04x} = 0x{after:04x}")
        running = after
    assert lost_at is not None  # 0xffff words overflow at once
    result = check_working("\n".join(lines), request, reply)
    assert result.first_false.line == lost_at and result.first_false.kind == "add"


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("0123456789abcdefx+=~-> \n|:ICMPchecksumwordsfoldedcarrycomplementFINAL")),
        max_size=400,
    )
)
def test_any_text_is_checked_or_called_unreadable_never_raises(text) -> None:
    request = echo_request()
    result = check_working(text, request, echo_reply(request))
    assert result.parsed or result.error
    assert isinstance(str(result), str)
