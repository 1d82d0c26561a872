"""parse.extract_hex: tolerant of formatting, strict about the hex, never raises."""

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit.parse as parse
from labkit.outcomes import Outcome
from labkit.packets import echo_request, echo_request_v6, hexdump, to_hex
from labkit.parse import MAX_ANSWER_CHARS, ParsedHex, extract_hex

PACKET = echo_request()
HEX = to_hex(PACKET)
SPACED = " ".join(HEX[i : i + 2] for i in range(0, len(HEX), 2))
FENCE = "```"


@pytest.mark.parametrize(
    "text",
    [
        HEX,
        HEX.upper(),
        SPACED,
        f"{FENCE}\n{HEX}\n{FENCE}",
        f"{FENCE}hex\n{SPACED}\n{FENCE}",
        f"{FENCE}hex\n{HEX}",  # unclosed fence at the end of the answer
        " ".join("0x" + HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        ", ".join("0x" + HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        "0x" + HEX,
        "\n".join(SPACED[i : i + 48] for i in range(0, len(SPACED), 48)),  # rows of 16 bytes
        HEX[:40] + "\n\n" + HEX[40:],  # rows separated by blank lines
        f"Sure! Here is the echo reply:\n\n{HEX}\n\nI swapped the addresses.",
        f"The reply is {HEX}.",
        f"Reply:\n{SPACED}.\nThe checksum is fine.",
        f"Answer: `{HEX}`",
        f"**FINAL:** `{HEX}`",
        f"Here is the packet as a hexdump:\n{hexdump(PACKET)}\n",
        f"{FENCE}\n{hexdump(PACKET)}\n{FENCE}",
        ":".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)),  # colon-separated, like Wireshark's "Copy"
        f"FINAL: {':'.join(HEX[i : i + 2] for i in range(0, len(HEX), 2))}",
        f"The reply is {':'.join(HEX[i : i + 2] for i in range(0, len(HEX), 2))}.",
        "\n".join(
            ":".join(HEX[i : i + 2] for i in range(row, min(row + 32, len(HEX)), 2)) for row in range(0, len(HEX), 32)
        ),
    ],
)
def test_tolerant_formats(text):
    parsed = extract_hex(text)
    assert parsed.error is None and parsed.data == PACKET and parsed.ok


def test_marked_final_block_wins_over_earlier_blocks():
    draft = HEX[:-4] + "0000"
    text = f"Step 1 draft:\n{draft}\nchecksum fixed.\nFINAL:\n{HEX}\n\nThat's it."
    assert extract_hex(text).data == PACKET
    text = f"FINAL:\n{FENCE}\n{HEX}\n{FENCE}\nafterwards a note: {draft}"
    assert extract_hex(text).data == PACKET, "the marked block beats a later unmarked one"
    text = f"{FENCE}\n{draft}\n{FENCE}\n{FENCE}hex\n{HEX}\n{FENCE}\n{FENCE}\n{draft}\n{FENCE}"
    assert extract_hex(text).data == PACKET, "a ```hex fence is marked"


def test_last_block_wins_without_markers():
    draft = HEX[:-4] + "0000"
    assert extract_hex(f"{FENCE}\n{draft}\n{FENCE}\nfixed:\n{FENCE}\n{HEX}\n{FENCE}").data == PACKET
    assert extract_hex(f"first try {draft}\nbetter:\n{HEX}").data == PACKET
    code = f"{FENCE}python\nprint('hello')\n{FENCE}"
    assert extract_hex(f"{FENCE}\n{HEX}\n{FENCE}\n{code}").data == PACKET, "a fence without hex is no candidate"


def test_ipv6_and_length_limits():
    v6 = echo_request_v6()
    assert extract_hex(to_hex(v6)).data == v6
    assert extract_hex(to_hex(v6), max_bytes=50).error == f"too long: {len(v6)} bytes, expected at most 50"
    assert extract_hex("45 00 00 1c").error == "too short: 4 bytes, expected at least 20"
    assert extract_hex("45 00 00 1c", min_bytes=4).data == bytes.fromhex("4500001c")


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("I cannot do that.", "no hex"),
        (HEX[:-1], "odd number of hex digits"),
        (HEX[:20] + "g" + HEX[21:], "non-hex character 'g'"),
        (SPACED[:30] + " zz " + SPACED[30:], "non-hex character 'z'"),
        (f"The reply is {HEX[:30]}q{HEX[31:]}", "non-hex character 'q'"),
        (f"{FENCE}hex\n{HEX[:50]}-{HEX[50:]}\n{FENCE}", "non-hex character '-'"),
        (f"FINAL:\n{SPACED[:60]}\n{SPACED[60:90]} ?? {SPACED[90:]}", "non-hex character '?'"),
        (f"{FENCE}hex\n{FENCE}", "empty"),
    ],
)
def test_strict_errors_say_why(text, why):
    parsed = extract_hex(text)
    assert parsed.data is None and not parsed.ok
    assert why in parsed.error


@pytest.mark.parametrize(
    "text, code",
    [
        ("", Outcome.PARSE_EMPTY),
        ("I cannot do that.", Outcome.PARSE_NO_HEX),
        (HEX[:-1], Outcome.PARSE_ODD_DIGITS),
        (HEX[:20] + "g" + HEX[21:], Outcome.PARSE_NON_HEX),
        ("45 00 00 1c", Outcome.PARSE_TOO_SHORT),
        (HEX * 2000, Outcome.PARSE_TOO_LONG),
        (f"{FENCE}hex\n{FENCE}", Outcome.PARSE_EMPTY),
    ],
)
def test_errors_carry_a_stable_code(text, code):
    assert extract_hex(text).error.code is code


@pytest.mark.parametrize(
    "text, letter, digit",
    [
        (HEX[:20] + "O" + HEX[21:], "O", "0"),  # inside a run of digits
        (SPACED[:30] + " 4O " + SPACED[33:], "O", "0"),
        (SPACED[:30] + " OO " + SPACED[30:], "O", "0"),  # a whole byte of letters, between bytes
        (f"FINAL: {SPACED[:60]} 1l {SPACED[63:]}", "l", "1"),
        (HEX[:-1] + " O", "O", "0"),  # at the end: once an odd count (a word)
        (SPACED[:-1] + "I", "I", "1"),
        (HEX[:-1] + "S", "S", "5"),
    ],
)
def test_lookalike_letters_are_named(text, letter, digit):
    error = extract_hex(text).error
    assert error.code is Outcome.PARSE_LOOKALIKE, error
    assert f"letter {letter!r}" in error and f"digit {digit}" in error


def test_many_markers_parse_in_linear_time():
    """An answer of many FINAL:/ANSWER: lines (a hostile server, a shared replay file) stays cheap."""
    shapes = {
        "FINAL lines": "FINAL: 45 00\n" * 77_000 + f"FINAL: {HEX}\n",
        "ANSWER lines, no blank": ("ANSWER:\n" * 125_000) + HEX,
        "one line of fences": "```" * 330_000 + f"\nFINAL: {HEX}",
        "bare markers then a fence": "FINAL:\n" * 142_000 + f"```hex\n{HEX}\n```",
        "marker words that are not markers": f"FINAL: {HEX}\n\n" + "the final answer, not a marker\n" * 32_000,
    }
    for name, text in shapes.items():
        assert len(text) >= 990_000, name
        started = time.perf_counter()
        parsed = extract_hex(text)
        elapsed = time.perf_counter() - started
        assert parsed.data == PACKET, (name, parsed.error)
        assert elapsed < 1.0, f"{name}: {elapsed:.2f} s for {len(text)} characters"


def test_answers_over_the_cap_are_refused_unread():
    parsed = extract_hex("0" * (MAX_ANSWER_CHARS + 1))
    assert parsed.error.code is Outcome.PARSE_TOO_LARGE and str(MAX_ANSWER_CHARS) in parsed.error


def test_not_text():
    assert "not text" in extract_hex(None).error  # type: ignore[arg-type]
    assert "not text" in extract_hex(PACKET).error  # type: ignore[arg-type]


def test_parsed_hex_ok_property():
    assert ParsedHex(b"x", None).ok and not ParsedHex(None, "why").ok


@settings(max_examples=300)
@given(st.text())
def test_never_raises_on_arbitrary_text(text):
    parsed = extract_hex(text, min_bytes=1)
    assert (parsed.data is None) != (parsed.error is None)


@settings(max_examples=200)
@given(st.text(alphabet="0123456789abcdefABCDEFxX` \n\t:FINAL-hex.,*#>", max_size=300))
def test_never_raises_on_hex_like_text(text):
    parsed = extract_hex(text, min_bytes=1)
    assert (parsed.data is None) != (parsed.error is None)


@given(
    st.binary(min_size=20, max_size=300),
    st.sampled_from(["{}", "```\n{}\n```", "FINAL: {}", "Reply:\n{}\nDone."]),
    st.booleans(),
)
def test_round_trip_of_any_bytes(data, template, upper):
    text = to_hex(data).upper() if upper else to_hex(data)
    assert extract_hex(template.format(text)).data == data


def test_labkit_sources_compile_without_escape_warnings() -> None:
    # parse.py's docstring once held an invalid "\s" escape (a DeprecationWarning, a SyntaxError-to-be); docstrings
    # that show regexes must be raw. Compiling afresh (not from __pycache__) is what shows the warning.
    import warnings
    from pathlib import Path

    import labkit

    root = Path(labkit.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


@settings(max_examples=300, deadline=None)
@given(
    digits=st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=200),
    before=st.text(alphabet=" \t\n\r", max_size=4),
    after=st.text(alphabet=" \t\n\r", max_size=4),
    min_bytes=st.integers(0, 60),
)
def test_bare_hex_fast_path_answers_as_the_full_rules_do(digits, before, after, min_bytes):
    """One run of bare hex skips the block search; with the fast path off, every answer must be the same."""
    text = before + digits + after
    fast = extract_hex(text, min_bytes=min_bytes, max_bytes=90)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(parse, "_BARE_HEX", re.compile(r"(?!)"))
        full = extract_hex(text, min_bytes=min_bytes, max_bytes=90)
    assert fast == full
