"""Hex out of a model's free text: tolerant of how models format hex, strict about the hex itself.

Which block is the answer (the rule, in order):
1. A *marked* block: a ```hex fence, or the text after a "FINAL:" (also "FINAL ANSWER:", "ANSWER:") line
   marker (up to the next blank line, or the fence that follows the marker). The last marked block wins.
2. Otherwise the last fenced block (``` ... ```) that holds hex.
3. Otherwise the last run of hex lines in the prose (blank lines may separate its rows), or failing that the
   last long hex string inside a sentence ("The reply is 4500...").
Inside the chosen block, whitespace, line breaks, "0x" prefixes, commas between 0x-bytes, colons between
bytes ("45:00:00:54"), either case and a classic hexdump layout (offsets that count up, an ASCII gutter) are
accepted. Anything else inside the hex, an odd number of digits, or a length outside [min_bytes, max_bytes]
is an error that says why: a reply with a stray character is a wrong reply, not one to repair by guessing.
A letter that looks like a digit (O for 0, l or I for 1, S for 5, ...) is named as such.

Cost: linear in the answer's length (a 1 MB answer of FINAL: lines takes well under a second; tests check it).
Answers longer than MAX_ANSWER_CHARS (4,000,000 characters, some 30 times the longest reply written out with
working) are refused without being read: no model under max_tokens writes one, but any server behind a base
URL or a shared replay file can send one.

Every error is a labkit.outcomes.Reason: prose that carries a stable code ("parse.odd_digits", ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.outcomes import Outcome, Reason

MAX_ANSWER_CHARS = 4_000_000
# A fence opens at the start of a line (after up to 3 spaces or a quote mark, as in CommonMark), so a line of
# many backticks costs one attempt, not one per backtick; its info string is bounded for the same reason.
_FENCE = re.compile(r"^[ \t>]{0,3}```[ \t]*([\w+-]{0,40})[^\n]{0,200}\n(.*?)(?:```|\Z)", re.DOTALL | re.MULTILINE)
_MARKER = re.compile(r"^[ \t>*_#-]*(?:FINAL(?:[ _]ANSWER)?|ANSWER)[ \t*_]*:[ \t*_]*(.*)$", re.IGNORECASE | re.MULTILINE)
_HEX_TOKEN = re.compile(r"^(?:0[xX])?(?:[0-9a-fA-F]+|[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})+:?),?$")
_COLON_BYTES = re.compile(r"^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})+:?$")
_INLINE_RUN = re.compile(
    r"(?:0[xX])?[0-9a-fA-F]{16,}|\b[0-9a-fA-F]{2}(?:[ \t]+[0-9a-fA-F]{2}){7,}\b"
    r"|\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){7,}\b"
)
# Letters a model (or a person) writes for a digit they resemble; hex letters a-f are real digits.
LOOKALIKES = {"O": "0", "o": "0", "l": "1", "I": "1", "Z": "2", "S": "5", "G": "6"}
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")
# The commonest answer, one run of bare hex digits: rule 3 would choose it whole, so it skips the search.
_BARE_HEX = re.compile(r"\s*([0-9a-fA-F]{4,})\s*")
_HEXDUMP_ROW = re.compile(
    r"^\s*([0-9a-fA-F]{4,8}):?\s+"  # offset column
    r"((?:[0-9a-fA-F]{2}\s{1,2}){0,15}[0-9a-fA-F]{2})"  # up to 16 bytes
    r"(?:\s{2,}.*|\s*\|.*)?$"
)  # optional ASCII column


@dataclass(frozen=True)
class ParsedHex:
    """The bytes of an answer, or why there are none: exactly one of `data` and `error` is set."""

    data: bytes | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.data is not None


def _fail(code: Outcome, message: str | None = None) -> ParsedHex:
    return ParsedHex(None, code.reason(message))


def _is_hex_line(line: str) -> bool:
    tokens = line.replace("`", " ").split()
    return (
        bool(tokens)
        and all(_HEX_TOKEN.match(token) for token in tokens[:-1])
        and bool(_HEX_TOKEN.match(tokens[-1].rstrip(".;!")))
    )


def _has_stray(line: str) -> bool:
    """Hex with a stray character in it ("45 00 zz 54 ...", "4500g054..."): reported, never skipped.

    Either most of at least four tokens are hex, or one long token is nearly all hex digits.
    """
    tokens = [token.strip("().,;:!?") for token in line.split()]
    if len(tokens) >= 4 and sum(bool(_HEX_TOKEN.match(t)) for t in tokens) >= 0.8 * len(tokens):
        return True
    for token in tokens:
        if len(token) >= 16 and not _HEX_TOKEN.match(token):
            if sum(char in "0123456789abcdefABCDEF" for char in token) >= 0.9 * len(token):
                return True
    return False


def _is_word(token: str) -> bool:
    """Prose, not damaged hex: no digit and at least one letter that is not a hex digit ("The", "reply:")."""
    return not any(char.isdigit() for char in token) and any(
        char.isalpha() and char not in "abcdefABCDEF" for char in token
    )


def _strip_words(tokens: list[str]) -> list[str]:
    """Drop words before and after the hex on a line ("The reply is 4500 ... ."); words in between stay."""
    start, end = 0, len(tokens)
    while start < end and _is_word(tokens[start]):
        start += 1
    while end > start and _is_word(tokens[end - 1]):
        end -= 1
    return tokens[start:end]


def _undump(lines: list[str]) -> str | None:
    """Hex digits of a classic hexdump (offset, bytes, gutter), or None when the lines are not one.

    Only taken as a hexdump when every row's offset equals the bytes counted so far, so plain hex rows whose
    first group happens to be four digits are never mistaken for offsets.
    """
    digits: list[str] = []
    count = 0
    for line in lines:
        match = _HEXDUMP_ROW.match(line)
        if not match or int(match.group(1), 16) != count:
            return None
        row = match.group(2).split()
        digits.extend(row)
        count += len(row)
    return "".join(digits) if len(lines) > 1 or count else None


def _digits(block: str) -> tuple[str | None, Reason | None]:
    """The hex digits of one block, or (None, why)."""
    lines = [line for line in block.strip().splitlines() if line.strip()]
    if not lines:
        return None, Outcome.PARSE_EMPTY.reason("the answer block is empty")
    dumped = _undump(lines)
    if dumped is not None:
        return dumped, None
    digits = []
    lines[-1] = lines[-1].rstrip().rstrip(".;!")  # the end of a sentence is not part of the hex
    for number, line in enumerate(lines, 1):
        for token in _strip_words(line.replace("`", " ").split()):
            token = _bare(token)
            bad = _NOT_HEX.search(token)
            if bad is not None:
                return None, _bad_character(bad.group(), number if len(lines) > 1 else 0, line)
            digits.append(token)
    return "".join(digits), None


def _bare(token: str) -> str:
    """A token's digits: without a trailing comma, a 0x prefix, or the colons of "45:00:00:54"."""
    token = token.rstrip(",")
    if token[:2] in ("0x", "0X"):
        token = token[2:]
    if ":" in token and _COLON_BYTES.match(token):
        token = token.replace(":", "")
    return token


def _bad_character(char: str, line_number: int, line: str) -> Reason:
    where = f"line {line_number}" if line_number else "the hex"
    shown = f"({where}: {line.strip()[:40]!r})"
    if char in LOOKALIKES:
        return Outcome.PARSE_LOOKALIKE.reason(
            f"the letter {char!r} inside the hex looks like the digit {LOOKALIKES[char]} but is not one {shown}"
        )
    return Outcome.PARSE_NON_HEX.reason(f"non-hex character {char!r} inside the hex {shown}")


def _lookalike_in(block: str) -> Reason | None:
    """A lookalike letter standing where a hex byte belongs (a token of lookalikes and hex digits, such as
    "4O" or "OO", beside a hex token with a digit in it): the likely cause of an odd digit count."""
    for number, line in enumerate(block.splitlines(), 1):
        tokens = line.replace("`", " ").split()
        for index, token in enumerate(tokens):
            letters = [char for char in token if char in LOOKALIKES]
            if not letters or any(not (char in LOOKALIKES or char in "0123456789abcdefABCDEF") for char in token):
                continue
            beside = tokens[max(0, index - 1) : index] + tokens[index + 1 : index + 2]
            if any(_HEX_TOKEN.match(other) and any(char.isdigit() for char in other) for other in beside):
                return _bad_character(letters[0], number, line)
    return None


def _last_marked_block(text: str, fences: list[re.Match[str]]) -> str | None:
    """The last marked block (rule 1), or None. Only the last marker is read past its own line, so many
    markers cost linear time (each used to copy the rest of the answer)."""
    hex_fences = [fence for fence in fences if fence.group(1).lower() == "hex"]
    last_marker = _last_marker(text)
    if last_marker is None:
        return hex_fences[-1].group(2) if hex_fences else None
    if hex_fences and hex_fences[-1].start() > last_marker.start():
        return hex_fences[-1].group(2)
    return _marker_body(text, last_marker)


def _last_marker(text: str) -> re.Match[str] | None:
    """The last FINAL:/ANSWER: marker line, found from the end: each line is looked at once at most, and an
    answer made of markers costs one look."""
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lengthen when lowered: offsets would not match
        return next(reversed(list(_MARKER.finditer(text))), None)
    end = len(text)
    while end > 0:
        found = max(lower.rfind("final", 0, end), lower.rfind("answer", 0, end))
        if found < 0:
            return None
        line_start = text.rfind("\n", 0, found) + 1
        marker = _MARKER.match(text, line_start)
        if marker is not None:
            return marker
        end = line_start
    return None


def _marker_body(text: str, marker: re.Match[str]) -> str:
    """The rest of the marker's line, then following lines up to a blank line or a fence -- or the fenced
    block that follows a bare marker."""
    rest_of_line = marker.group(1).strip()
    after = text[marker.end() :]
    if not rest_of_line:
        fence = _FENCE.match(after.lstrip("\n\r \t"))
        if fence:
            return fence.group(2)
    body = [rest_of_line] if rest_of_line else []
    for line in after.splitlines()[1:] if after.startswith(("\n", "\r")) else after.splitlines():
        if not line.strip() or line.strip().startswith("```"):
            if body:
                break
            continue
        body.append(line)
    return "\n".join(body)


def _content_length(text: str) -> int:
    """Characters left once whitespace, commas and 0x prefixes are dropped -- the length of what the regex
    substitution of whitespace runs, "0x"/"0X" and "," by "" leaves, counted without building it (the three
    never overlap, and counting is ~10x faster on a long run)."""
    return len("".join(text.split())) - text.count(",") - 2 * (text.count("0x") + text.count("0X"))


def _prose_run(text: str) -> str | None:
    """The last run of hex-looking lines (blank lines allowed between rows); else the last inline hex string."""
    runs: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if _is_hex_line(line) or _has_stray(line) or _HEXDUMP_ROW.match(line):
            current.append(line)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    runs = [run for run in runs if _content_length("".join(run)) >= 4]
    if runs:
        return "\n".join(runs[-1])
    inline = _INLINE_RUN.findall(text)
    return inline[-1] if inline else None


def _choose_block(text: str) -> str | None:
    fences = list(_FENCE.finditer(text))
    marked = _last_marked_block(text, fences)
    if marked is not None:
        return marked
    for fence in reversed(fences):
        if _prose_run(fence.group(2)) is not None:
            return fence.group(2)
    return _prose_run(text)


def extract_hex(text: str, *, min_bytes: int = 20, max_bytes: int = 65535) -> ParsedHex:
    """The packet bytes in a model's answer, or an error saying why there are none. Never raises."""
    try:
        if not isinstance(text, str):
            return _fail(Outcome.PARSE_NOT_TEXT, f"the answer is not text (got {type(text).__name__})")
        if len(text) > MAX_ANSWER_CHARS:
            return _fail(
                Outcome.PARSE_TOO_LARGE,
                f"the answer is {len(text)} characters long; labkit reads at "
                f"most {MAX_ANSWER_CHARS} (a reply is at most 65535 bytes)",
            )
        if not text.strip():
            return _fail(Outcome.PARSE_EMPTY, "the answer is empty")
        bare = _BARE_HEX.fullmatch(text)
        if bare is not None:
            return _to_bytes(bare.group(1), text, text, min_bytes, max_bytes)
        block = _choose_block(text)
        if block is None:
            return _fail(Outcome.PARSE_NO_HEX, "no hex found in the answer")
        digits, why = _digits(block)
        if digits is None:
            return ParsedHex(None, why or Outcome.PARSE_NO_HEX.reason("no hex found in the answer"))
        return _to_bytes(digits, block, text, min_bytes, max_bytes)
    except Exception as error:  # noqa: BLE001 - contract: never raise on any answer text
        return _fail(Outcome.PARSE_ERROR, f"could not read hex from the answer ({type(error).__name__}: {error})")


def _to_bytes(digits: str, block: str, text: str, min_bytes: int, max_bytes: int) -> ParsedHex:
    if not digits:
        return _fail(Outcome.PARSE_NO_HEX, "the answer block holds no hex digits")
    if len(digits) % 2:
        lookalike = _lookalike_in(block) or _lookalike_in(text)
        if lookalike is not None:
            return ParsedHex(None, lookalike)
        return _fail(Outcome.PARSE_ODD_DIGITS, f"odd number of hex digits ({len(digits)}): a byte is missing a digit")
    data = bytes.fromhex(digits)
    if len(data) < min_bytes:
        return _fail(Outcome.PARSE_TOO_SHORT, f"too short: {len(data)} bytes, expected at least {min_bytes}")
    if len(data) > max_bytes:
        return _fail(Outcome.PARSE_TOO_LONG, f"too long: {len(data)} bytes, expected at most {max_bytes}")
    return ParsedHex(data, None)
