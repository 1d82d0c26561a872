"""Grading the machine's working: the student finds the first false step of a shown checksum working.

Why a constructed working: the simulated model's slips follow its assumptions, so it may never show a given
mistake; a planted one (a lost end-around carry, said to be planted) gives every student the same case. The
checker agrees with labkit.working.check_working, which re-runs each step from the working's previous line.
"""

from __future__ import annotations

from labkit.checksum import trace
from labkit.errors import LabkitError
from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.packets import to_hex
from labkit.stack import echo_reply
from labkit.taxonomy import checksum_input
from labkit.working import Step, check_working


def planted_working(request: bytes, *, lost_carry: int = 1) -> tuple[str, bytes]:
    """(answer text, correct reply): an ICMP checksum worked as a running sum that drops the end-around carry of
    its `lost_carry`-th carrying addition, yet ends in a FINAL block holding the correct reply."""
    reply = echo_reply(bytes(request))
    if reply is None or reply[0] >> 4 != 4:
        raise LabkitError("planted_working needs an IPv4 echo request")
    words = [step.word for step in trace(checksum_input(reply, "icmp.chksum")).steps]
    lines, running, carries = ["ICMP checksum, as a running sum:"], words[0], 0
    for word in words[1:]:
        raw = running + word
        if raw >> 16:
            carries += 1
        if raw >> 16 and carries != lost_carry:
            lines += [
                f"0x{running:04x} + 0x{word:04x} = 0x{raw:05x}",
                f"carry: 0x{raw:05x} -> 0x{raw & 0xFFFF:04x} + 0x1 = 0x{(raw & 0xFFFF) + 1:04x}",
            ]
            running = (raw & 0xFFFF) + 1
        else:  # no carry, or the planted one: the 17th bit is simply lost
            lines.append(f"0x{running:04x} + 0x{word:04x} = 0x{raw & 0xFFFF:04x}")
            running = raw & 0xFFFF
    if carries < lost_carry:
        raise LabkitError(
            f"this request's ICMP sum has {carries} carries, fewer than {lost_carry}: pick another payload"
        )
    lines += [f"complement: ~0x{running:04x} = 0x{~running & 0xFFFF:04x}", "", "FINAL:", "```hex", to_hex(reply), "```"]
    return "\n".join(lines), reply


def numbered(text: str) -> str:
    """The text with 1-based line numbers, the numbering check_working reports."""
    return "\n".join(f"{number:2}  {line}" for number, line in enumerate(text.splitlines(), start=1))


def _mistake(step: Step) -> str:
    if step.kind == "add" and step.claimed == step.actual & 0xFFFF and step.actual >> 16:
        return "a lost end-around carry: the sum passed 0xffff and the carry was not added back"
    if step.kind == "answer":
        return "the final answer does not hold what the working reached"
    return f"a false {step.kind} step"


def check_first_false_step(answer: object, text: str, request: bytes, reply: bytes | None = None) -> Feedback:
    """Is `answer` the line number of the first false step of this working (as check_working finds it)?"""
    first = check_working(text, request, reply).first_false
    if first is None:
        raise LabkitError("this working has no false step: there is nothing to find")
    if answer is None or answer == "" or answer is Ellipsis:
        return _wrong("No answer yet: write a line number in the cell above, then run this one.")
    try:
        line = int(answer)  # type: ignore[call-overload]  # any typed answer: int() decides, its errors are caught
    except (TypeError, ValueError):
        return _wrong(f"{answer!r} is not a line number.", "give the number printed at the start of the line")
    if line == first.line:
        return _right(f"Line {line} is the first false step: {first.text} — {_mistake(first)}.")
    if line < first.line:
        return _wrong(
            f"Line {line} is right.",
            "redo each addition in hex, from the top; the first one whose result you cannot reproduce comes later",
        )
    return _wrong(
        f"Line {line} is not the first false step.",
        "a line that follows correctly from the line above "
        "it only carries an earlier error on; look higher, for the first line whose own arithmetic fails",
    )
