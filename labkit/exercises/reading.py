"""Reading packets the page does not decode: header length from byte 0, ping's data warning, the receiver's verdict.

Why these checks: an exercise whose answer can be read off a table above it tests eyesight, not understanding.
Each check here asks about a packet the notebook shows only as hex (or not at all), so the student has to
apply a rule -- IHL counts 32-bit words, iputils numbers data bytes from the start of the data, the host's own
fields are free but the checksum must fit them -- and each hint names the rule a wrong answer broke.

    check_header_length(packet, 24)                    # bytes in this packet's IPv4 header
    check_wrong_data_byte(request, reply, (42, 0x2a, 0x7a))   # what iputils prints about a changed data byte
    check_which_accepted("A C", request, replies)      # which of these replies does ping take?
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.headers import ICMP_HEADER, ipv4_header_len
from labkit.judge import judge
from labkit.packets import PING_TIMEVAL_BYTES

# --- header length ----------------------------------------------------------------------------------------------


def check_header_length(packet: bytes, answer: object) -> Feedback:
    """How many bytes is this packet's IPv4 header? Byte 0's low nibble (IHL) counts 32-bit words."""
    right, ihl, version = ipv4_header_len(packet), packet[0] & 0x0F, packet[0] >> 4
    if isinstance(answer, str) and answer.strip().isdigit():
        answer = int(answer.strip())
    if answer is None or isinstance(answer, bool) or not isinstance(answer, int):
        return _wrong("No answer yet: write a whole number of bytes.")
    if answer == right:
        return _right(f"IHL {ihl} words x 4 bytes = {right} bytes.")
    hints = {
        ihl: f"{ihl} is the IHL itself, a count of 32-bit words: how many bytes is one word?",
        version: f"{version} is the high nibble, the version; the header length is the low nibble.",
        packet[0]: f"{answer} is the whole byte 0x{packet[0]:02x} read as a number: only its low nibble counts.",
        20: "20 bytes is a header without options; this packet's low nibble says something else.",
    }
    return _wrong(f"{answer} bytes is not this header's length.", hints.get(answer, "read byte 0's low nibble."))


# --- iputils' data check ------------------------------------------------------------------------------------------


def wrong_data_byte(request: bytes, reply: bytes) -> tuple[int, int, int] | None:
    """(n, should be, was) of the line iputils prints for the first changed data byte, or None.

    iputils' gather_statistics() (ping/ping_common.c) compares the data from byte 16 on, after its timestamp,
    and numbers the bytes from the start of the data: `wrong data byte #%zu should be 0x%x but was 0x%x`."""
    sent = request[ipv4_header_len(request) + ICMP_HEADER :]
    got = reply[ipv4_header_len(reply) + ICMP_HEADER :]
    for index in range(PING_TIMEVAL_BYTES, min(len(sent), len(got))):
        if got[index] != sent[index]:
            return index, sent[index], got[index]
    return None


_LINE = re.compile(r"#\s*(\d+)\D+?(0x[0-9a-f]+|\d+)\D+?(0x[0-9a-f]+|\d+)", re.IGNORECASE)


def _triple(answer: object) -> tuple[int, int, int] | None:
    """(n, should, was) from a tuple of ints or from the line as ping prints it."""
    if isinstance(answer, str):
        found = _LINE.search(answer)
        if found is None:
            return None
        return int(found.group(1)), int(found.group(2), 0), int(found.group(3), 0)
    if isinstance(answer, Iterable) and not isinstance(answer, (bytes, bytearray)):
        values = list(answer)
        if len(values) == 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return values[0], values[1], values[2]
    return None


def check_wrong_data_byte(request: bytes, reply: bytes, answer: object) -> Feedback:
    """What does iputils print about this reply's data? Answer (n, should_be, was) as ints, or the whole line."""
    truth = wrong_data_byte(request, reply)
    if truth is None:
        raise ValueError("this reply's data after the timestamp is unchanged: there is no line to predict")
    given = _triple(answer)
    if given is None:
        return _wrong(
            "No answer yet, or not in the form (n, should_be, was).",
            "e.g. (20, 0x14, 0x15), or the line: 'wrong data byte #20 should be 0x14 but was 0x15'.",
        )
    n, should, was = truth
    line = f"wrong data byte #{n} should be 0x{should:x} but was 0x{was:x}"
    if given == truth:
        return _right(f"ping prints '{line}'.")
    start = ipv4_header_len(reply) + ICMP_HEADER
    hints = {
        (n + start, should, was): f"#{n + start} counts from the start of the packet; iputils counts from the "
        f"start of the data, which begins after the {start - ICMP_HEADER}-byte IP and {ICMP_HEADER}-byte ICMP headers.",
        (n + ICMP_HEADER, should, was): "that counts from the ICMP header; iputils counts from the start of the data.",
        (n - PING_TIMEVAL_BYTES, should, was): f"iputils skips the {PING_TIMEVAL_BYTES}-byte timestamp when it "
        f"compares, but its count includes it: the first byte it compares is #{PING_TIMEVAL_BYTES}.",
        (n, was, should): "'should be' is what ping sent (the request's byte), 'but was' what came back.",
    }
    if given[0] == n:
        return _wrong(f"#{n} is the right byte; the values are not.", hints.get(given, "read both bytes again."))
    return _wrong(f"#{given[0]} is not the byte iputils complains about.", hints.get(given, _compare_hint(start)))


def _compare_hint(start: int) -> str:
    return (
        f"the data starts at packet byte {start}; in iputils' pattern, data byte i holds i (mod 256) from #16 on. "
        "Which byte breaks the pattern?"
    )


# --- which replies does a receiver take? -------------------------------------------------------------------------


def _labels(answer: object) -> set[str] | None:
    if isinstance(answer, str):
        words = [word for word in re.findall(r"[A-Za-z]+", answer) if word.lower() not in ("and", "or")]
        return {letter.upper() for word in words for letter in word}  # single-letter labels: "A C", "AC", "A and C"
    if isinstance(answer, Iterable) and not isinstance(answer, (bytes, bytearray)):
        return {str(label).strip().upper() for label in answer}
    return None


def check_which_accepted(
    answer: object, request: bytes, replies: Mapping[str, bytes], *, receiver: str = "ping-socket"
) -> Feedback:
    """Which of these labelled replies would `ping` (on this receiver) take as the reply to `request`?

    Answer with the labels ("A C", ["A", "C"]), or "none". After a wrong answer the hint explains the first reply
    misjudged, from the judge's own verdict."""
    if answer is None or answer == "" or answer is Ellipsis:
        return _wrong('No answer yet: write the labels of the replies ping takes, e.g. "A C", or "none".')
    given = set() if isinstance(answer, str) and answer.strip().lower() == "none" else _labels(answer)
    if given is None:
        return _wrong(f"{answer!r} is not a set of labels.", 'write them as text, e.g. "A C", or "none".')
    verdicts = {label: judge(request, reply, receiver=receiver) for label, reply in replies.items()}
    unknown = given - set(verdicts)
    if unknown:
        return _wrong(f"there is no reply {', '.join(sorted(unknown))}.", f"the replies are {', '.join(verdicts)}.")
    taken = {label for label, verdict in verdicts.items() if verdict.accepted}
    if given == taken:
        return _right(f"a {receiver} ping takes {', '.join(sorted(taken)) or 'none of them'}.")
    label = next(label for label in verdicts if (label in given) != (label in taken))
    verdict = verdicts[label]
    if label in taken and verdict.warnings:
        hint = (
            f"reply {label} is taken: its checksums fit the bytes it carries, and ping only warns ({verdict.reason})."
        )
    elif label in taken:
        hint = f"reply {label} is taken: what it changed is the host's own choice, and its checksums fit its bytes."
    else:
        hint = f"reply {label} is lost: {verdict.reason}."
    return _wrong(f"not quite: you {'kept' if label in given else 'left out'} reply {label}.", hint)
