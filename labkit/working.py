"""Check the checksum working a model shows (the step-by-step strategy asks for it), step by step.

Models describe arithmetic they did not do, so the working is re-run, not trusted: every word it says it
added is compared with the word the correct reply holds there, every sum, carry fold and complement is
re-computed from the model's own previous line, and the checksum its final answer writes is compared with
the one its working reached. The first false step is reported, and so is a correct final checksum reached
through false working (right by luck, or by a computation the model did not show).

Layouts accepted (the ones models write; a section may mix them):
- labkit's own: "ICMP checksum: words 0000 1234 ...", then "sum 0x2d105, folded 0xd107, complement -> 0x2ef8";
- a running sum, one addition a line: "0x4500 + 0x0054 = 0x4554" (several addends allowed, `=`, `->` or `→`);
  a line that mentions a carry, fold or wrap is a fold step ("0x2d105 -> 0xd105 + 0x2 = 0xd107");
- a table of word and running sum: "| 3 | 0x1234 | 0x5788 |";
- the complement as "~0xd107 = 0x2ef8", "0xffff - 0xd107 = 0x2ef8" or "one's complement: 0x2ef8".
A section starts at a line naming a checksum ("ICMP checksum", "IP header checksum", "ICMPv6 checksum") and
ends at the next one or at FINAL:. When none is found or a section has nothing to check, the result says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.checksum import _fold, trace
from labkit.stack import echo_reply
from labkit.taxonomy import checksum_input, checksum_offsets

_NUMBER = r"(?:0x)?[0-9a-fA-F]+"
_EQUATION = re.compile(rf"({_NUMBER}(?:\s*\+\s*{_NUMBER})+)\s*(?:=|->|→)\s*({_NUMBER})\b")
_WORDS = re.compile(r"\bwords?\b[^0-9a-fA-F]*((?:\b[0-9a-fA-F]{4}\b[\s,]*){2,})", re.IGNORECASE)
_SUM = re.compile(rf"\b(?:sum|total)\b\s*(?:is|=|:)?\s*({_NUMBER})\b", re.IGNORECASE)
_FOLDED = re.compile(rf"\bfold(?:ed|ing)?\b[^0-9a-fA-Fx]*(?:sum\s*)?(?:is|=|:|->|→)?\s*({_NUMBER})\b", re.IGNORECASE)
_COMPLEMENT = re.compile(
    rf"(?:~\s*({_NUMBER})\s*=\s*({_NUMBER})\b|0x[fF]{{4}}\s*-\s*({_NUMBER})\s*=\s*({_NUMBER})\b"
    rf"|complement\w*\b[^0-9a-fA-Fx~]*(?:of\s*{_NUMBER}\s*)?(?:is|=|:|->|→)?\s*({_NUMBER})\b)",
    re.IGNORECASE,
)
_TABLE_ROW = re.compile(rf"^\s*\|(?:\s*\d+\s*\|)?\s*({_NUMBER})\s*\|\s*({_NUMBER})\s*\|")
_FOLD_WORDS = re.compile(r"carry|carries|fold|wrap|end-around|overflow", re.IGNORECASE)
_SECTION = (
    ("icmpv6.cksum", re.compile(r"icmpv6\b.*checksum|checksum.*icmpv6", re.IGNORECASE)),
    ("ip.chksum", re.compile(r"\bip(?:v4)?\b[^.\n]*header[^.\n]*checksum|header checksum", re.IGNORECASE)),
    ("icmp.chksum", re.compile(r"\bicmp\b.*checksum|checksum.*\bicmp\b", re.IGNORECASE)),
)
_FINAL = re.compile(r"FINAL\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    """One claim of the working, re-run: `claimed` is what the model wrote, `actual` what it should be."""

    section: str  # "icmp.chksum" | "ip.chksum" | "icmpv6.cksum"
    kind: str  # "word" | "add" | "running" | "sum" | "fold" | "complement" | "answer"
    line: int  # 1-based line of the model's text
    text: str
    claimed: int
    actual: int
    ok: bool
    note: str = ""

    def describe(self) -> str:
        mark = "✓" if self.ok else "✗"
        should = "" if self.ok else f", should be 0x{self.actual:04x}"
        return f"{mark} line {self.line} ({self.section} {self.kind}): 0x{self.claimed:04x}{should}" + (
            f" — {self.note}" if self.note else ""
        )


@dataclass(frozen=True)
class SectionCheck:
    """The working for one checksum."""

    name: str
    steps: tuple[Step, ...]
    correct: int  # the checksum the correct reply holds
    written: int | None  # what the model's final answer holds there (None without an answer)

    @property
    def first_false(self) -> Step | None:
        return next((step for step in self.steps if not step.ok), None)

    @property
    def right_through_wrong_working(self) -> bool:
        """The final checksum is right although a step of the working is false."""
        return self.written == self.correct and self.first_false is not None


@dataclass(frozen=True)
class WorkingCheck:
    sections: tuple[SectionCheck, ...]
    error: str | None = None  # why the working could not be parsed (sections is then empty)

    @property
    def parsed(self) -> bool:
        return self.error is None

    @property
    def first_false(self) -> Step | None:
        """The earliest false step in the text, across all checksums."""
        false = [section.first_false for section in self.sections if section.first_false is not None]
        return min(false, key=lambda step: step.line) if false else None

    @property
    def right_through_wrong_working(self) -> tuple[str, ...]:
        return tuple(section.name for section in self.sections if section.right_through_wrong_working)

    def lines(self) -> list[str]:
        """A short report for a notebook or a terminal."""
        if self.error:
            return [f"cannot check the working: {self.error}"]
        out = []
        for section in self.sections:
            false = section.first_false
            head = f"{section.name}: {len(section.steps)} steps checked, "
            out.append(head + (f"first false step: {false.describe()}" if false else "every step is right"))
            if section.right_through_wrong_working:
                out.append(
                    f"  the final {section.name} 0x{section.correct:04x} is right, but the working "
                    "shown does not lead to it"
                )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def check_working(text: str, request: bytes, reply: bytes | None = None) -> WorkingCheck:
    """Re-run the checksum working in a model's step-by-step answer for `request`.

    `reply`: the bytes the model's final answer gave (to compare the checksum it wrote with its working).
    Never raises for any text; says in `error` when nothing could be parsed.
    """
    expected = echo_reply(bytes(request))
    if expected is None:
        return WorkingCheck((), "the request is not an echo request labkit can answer")
    sections = _split(text)
    if not sections:
        return WorkingCheck((), 'no line names a checksum ("ICMP checksum", "IP header checksum", ...)')
    offsets = checksum_offsets(expected)
    checked = []
    for name, lines in sections:
        if name not in offsets:
            continue
        words = [step.word for step in trace(checksum_input(expected, name)).steps]
        written = None
        if reply is not None and offsets[name] + 2 <= len(reply):
            written = int.from_bytes(reply[offsets[name] : offsets[name] + 2], "big")
        correct = int.from_bytes(expected[offsets[name] : offsets[name] + 2], "big")
        steps = _Checker(name, words).run(lines, written)
        if steps:
            checked.append(SectionCheck(name, tuple(steps), correct, written))
    if not checked:
        return WorkingCheck((), "the checksum sections hold no words, sums or complement that could be read")
    return WorkingCheck(tuple(checked))


def _split(text: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """(checksum name, [(line number, line)]) for each checksum section, in text order."""
    final = _FINAL.search(text)
    body = text[: final.start()] if final else text
    sections: list[tuple[str, list[tuple[int, str]]]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        name = next((key for key, pattern in _SECTION if pattern.search(line)), None)
        if name is not None and not _EQUATION.search(line.split(":")[0]):
            sections.append((name, []))
        if sections:
            sections[-1][1].append((number, line))
    return sections


def _value(token: str) -> int:
    return int(token, 16)


class _Checker:
    """Walks one section's lines, turning each claim into a Step checked against the model's previous claims."""

    def __init__(self, name: str, words: list[int]) -> None:
        self.name, self.words = name, words
        self.steps: list[Step] = []
        self.claimed_words: list[int] = []
        self.running: int | None = None  # the model's latest running sum
        self.total: int | None = None  # the model's sum (before folding)
        self.folded: int | None = None
        self.result: int | None = None  # the complement the working reached

    def step(self, kind: str, line: int, text: str, claimed: int, actual: int, note: str = "") -> None:
        self.steps.append(Step(self.name, kind, line, text.strip(), claimed, actual, claimed == actual, note))

    def word(self, line: int, text: str, value: int) -> None:
        index = len(self.claimed_words)
        self.claimed_words.append(value)
        actual = self.words[index] if index < len(self.words) else 0
        note = (
            f"word {index + 1} of {len(self.words)}"
            if index < len(self.words)
            else f"word {index + 1}, but the checksum covers only {len(self.words)}"
        )
        self.step("word", line, text, value, actual, note)

    def run(self, lines: list[tuple[int, str]], written: int | None) -> list[Step]:
        for number, line in lines:
            self.read_line(number, line)
        if self.result is not None and written is not None:
            self.step(
                "answer",
                lines[-1][0],
                "the checksum in the final answer",
                written,
                self.result,
                "the final answer should hold what the working reached",
            )
        return self.steps

    def read_line(self, number: int, line: str) -> None:
        listed = _WORDS.search(line)
        if listed:
            for token in re.findall(r"[0-9a-fA-F]{4}", listed.group(1)):
                self.word(number, line, _value(token))
        row = _TABLE_ROW.match(line)
        if row:
            self.table_row(number, line, _value(row.group(1)), _value(row.group(2)))
        for match in _EQUATION.finditer(line):
            if not _COMPLEMENT_LIKE.search(line[: match.start()] + line[match.end() :]) or _FOLD_WORDS.search(line):
                self.equation(number, line, match)
        if not row and not _EQUATION.search(line):
            self.statements(number, line)
        self.complement(number, line)

    def table_row(self, number: int, line: str, word: int, running: int) -> None:
        self.word(number, line, word)
        before = self.running or 0
        self.step("add", number, line, running, _add(before, word), f"0x{before:04x} + 0x{word:04x}")
        self.running = running

    def equation(self, number: int, line: str, match: re.Match) -> None:
        addends = [_value(token) for token in re.findall(_NUMBER, match.group(1))]
        result = _value(match.group(2))
        if _FOLD_WORDS.search(line) and (self.running is None or addends[0] != self.running):
            self.step("fold", number, line, result, _fold(sum(addends)), "adding the carry back")
            self.folded = self.running = result
            return
        if self.running is not None and len(addends) >= 2:
            self.step("running", number, line, addends[0], self.running, "the running sum carried from the line before")
            new_words = addends[1:]
        else:
            new_words = addends
        for value in new_words:
            self.word(number, line, value)
        exact = sum(addends)
        actual = result if result in (exact, _fold(exact)) else exact
        self.step("add", number, line, result, actual, " + ".join(f"0x{a:04x}" for a in addends))
        self.running, self.folded = result, None  # a new addition: an earlier fold no longer holds the sum

    def statements(self, number: int, line: str) -> None:
        total = _SUM.search(line)
        if total and not _COMPLEMENT_LIKE.match(line[total.start() :]):
            value = _value(total.group(1))
            actual = self.running if self.running is not None else sum(self.claimed_words)
            if value != actual and _fold(actual) == value:
                actual = value  # a running sum kept folded is a sum too
            self.step("sum", number, line, value, actual, "the sum of the words written")
            self.total = value
        folded = _FOLDED.search(line)
        if folded:
            value = _value(folded.group(1))
            base = self.total if self.total is not None else (self.running or 0)
            self.step("fold", number, line, value, _fold(base), f"0x{base:x} with its carries added back")
            self.folded = value

    def complement(self, number: int, line: str) -> None:
        match = _COMPLEMENT.search(line)
        if not match:
            return
        groups = match.groups()
        if groups[0] is not None or groups[2] is not None:
            of, value = (_value(groups[0]), _value(groups[1])) if groups[0] else (_value(groups[2]), _value(groups[3]))
            reached = self.folded if self.folded is not None else self.running
            if reached is not None and _fold(reached) != of:
                self.step("running", number, line, of, _fold(reached), "complements a value the working did not reach")
            self.folded = of
        else:
            value = _value(groups[4])
            of = self.folded if self.folded is not None else _fold(self.total or self.running or 0)
        self.step("complement", number, line, value, ~of & 0xFFFF, f"~0x{of:04x}")
        self.result = value


_COMPLEMENT_LIKE = re.compile(r"~|complement|0x[fF]{4}\s*-", re.IGNORECASE)


def _add(running: int, word: int) -> int:
    return _fold(running + word)
