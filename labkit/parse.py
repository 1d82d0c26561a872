"""Hex out of a model's free text: tolerant of how models format hex, strict about the hex itself.

Which block is the answer (the rule, in order):
1. A *marked* block: a ```hex fence, or the text after a "FINAL:" (also "FINAL ANSWER:", "ANSWER:") line
   marker (up to the next blank line, or the fence that follows the marker). The last marked block wins.
2. Otherwise the last fenced block (``` ... ```) that holds hex.
3. Otherwise the last run of hex lines in the prose (blank lines may separate its rows), or failing that the
   last long hex string inside a sentence ("The reply is 4500...").
Inside the chosen block, whitespace, line breaks, "0x" prefixes, commas between 0x-bytes, either case and a
classic hexdump layout (offsets that count up, an ASCII gutter) are accepted. Anything else inside the hex,
an odd number of digits, or a length outside [min_bytes, max_bytes] is an error that says why: a reply with a
stray character is a wrong reply, not one to repair by guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_MARKER = re.compile(r"^[ \t>*_#-]*(?:FINAL(?:[ _]ANSWER)?|ANSWER)[ \t*_]*:[ \t*_]*(.*)$", re.IGNORECASE | re.MULTILINE)
_HEX_TOKEN = re.compile(r"^(?:0[xX])?[0-9a-fA-F]+,?$")
_INLINE_RUN = re.compile(r"(?:0[xX])?[0-9a-fA-F]{16,}|\b[0-9a-fA-F]{2}(?:[ \t]+[0-9a-fA-F]{2}){7,}\b")
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")
_HEXDUMP_ROW = re.compile(r"^\s*([0-9a-fA-F]{4,8}):?\s+((?:[0-9a-fA-F]{2}\s{1,2}){0,15}[0-9a-fA-F]{2})(?:\s{2,}.*|\s*\|.*)?$")


@dataclass(frozen=True)
class ParsedHex:
    """The bytes of an answer, or why there are none: exactly one of `data` and `error` is set."""

    data: bytes | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.data is not None


def _fail(message: str) -> ParsedHex:
    return ParsedHex(None, message)


def _is_hex_line(line: str) -> bool:
    tokens = line.replace("`", " ").split()
    return bool(tokens) and all(_HEX_TOKEN.match(token) for token in tokens[:-1]) \
        and bool(_HEX_TOKEN.match(tokens[-1].rstrip(".;!")))


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
    return not any(char.isdigit() for char in token) and any(char.isalpha() and char not in "abcdefABCDEF"
                                                               for char in token)


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
    digits, count = [], 0
    for line in lines:
        match = _HEXDUMP_ROW.match(line)
        if not match or int(match.group(1), 16) != count:
            return None
        row = match.group(2).split()
        digits.extend(row)
        count += len(row)
    return "".join(digits) if len(lines) > 1 or count else None


def _digits(block: str) -> tuple[str | None, str | None]:
    """The hex digits of one block, or (None, why)."""
    lines = [line for line in block.strip().splitlines() if line.strip()]
    if not lines:
        return None, "the answer block is empty"
    dumped = _undump(lines)
    if dumped is not None:
        return dumped, None
    digits = []
    lines[-1] = lines[-1].rstrip().rstrip(".;!")   # the end of a sentence is not part of the hex
    for number, line in enumerate(lines, 1):
        for token in _strip_words(line.replace("`", " ").split()):
            token = token.rstrip(",")
            if token[:2] in ("0x", "0X"):
                token = token[2:]
            bad = _NOT_HEX.search(token)
            if bad is not None:
                where = f"line {number}" if len(lines) > 1 else "the hex"
                return None, f"non-hex character {bad.group()!r} inside the hex ({where}: {line.strip()[:40]!r})"
            digits.append(token)
    return "".join(digits), None


def _marked_blocks(text: str) -> list[str]:
    blocks: list[tuple[int, str]] = []
    for fence in _FENCE.finditer(text):
        if fence.group(1).lower() == "hex":
            blocks.append((fence.start(), fence.group(2)))
    for marker in _MARKER.finditer(text):
        rest_of_line = marker.group(1).strip()
        after = text[marker.end():]
        if not rest_of_line:
            fence = _FENCE.match(after.lstrip("\n\r \t"))
            if fence:
                blocks.append((marker.start(), fence.group(2)))
                continue
        body = [rest_of_line] if rest_of_line else []
        for line in after.splitlines()[1:] if after.startswith(("\n", "\r")) else after.splitlines():
            if not line.strip():
                if body:
                    break
                continue
            if line.strip().startswith("```"):
                if body:
                    break
                continue
            body.append(line)
        blocks.append((marker.start(), "\n".join(body)))
    return [block for _, block in sorted(blocks, key=lambda pair: pair[0])]


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
    marked = _marked_blocks(text)
    if marked:
        return marked[-1]
    fenced = [fence.group(2) for fence in _FENCE.finditer(text)]
    fenced_hex = [block for block in fenced if _prose_run(block) is not None]
    if fenced_hex:
        return fenced_hex[-1]
    return _prose_run(text)


def extract_hex(text: str, *, min_bytes: int = 20, max_bytes: int = 65535) -> ParsedHex:
    """The packet bytes in a model's answer, or an error saying why there are none. Never raises."""
    try:
        if not isinstance(text, str):
            return _fail(f"the answer is not text (got {type(text).__name__})")
        if not text.strip():
            return _fail("the answer is empty")
        block = _choose_block(text)
        if block is None:
            return _fail("no hex found in the answer")
        digits, why = _digits(block)
        if digits is None:
            return _fail(why or "no hex found in the answer")
        if not digits:
            return _fail("the answer block holds no hex digits")
        if len(digits) % 2:
            return _fail(f"odd number of hex digits ({len(digits)}): a byte is missing a digit")
        data = bytes.fromhex(digits)
        if len(data) < min_bytes:
            return _fail(f"too short: {len(data)} bytes, expected at least {min_bytes}")
        if len(data) > max_bytes:
            return _fail(f"too long: {len(data)} bytes, expected at most {max_bytes}")
        return ParsedHex(data, None)
    except Exception as error:  # noqa: BLE001 - contract: never raise on any answer text
        return _fail(f"could not read hex from the answer ({type(error).__name__}: {error})")
