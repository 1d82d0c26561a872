"""Checks for notebook 09's embedded-stack exercise: the echo reply's ICMP checksum by one addition (RFC 1624).

Why a checker of its own: the generic checksum checker's hints are about summing every word, but here the
usual slips are different -- the end-around carry forgotten, the change added the wrong way round, or the
type byte put in the low half of the word -- and the hint should name the one the student made.
"""

from __future__ import annotations

from labkit.checksum import internet_checksum
from labkit.exercises.code import _ones_add
from labkit.exercises.core import _as_int
from labkit.exercises.feedback import Feedback, _right, _wrong

# Request -> reply changes the ICMP message's first word from type 8, code 0 to type 0, code 0.
TYPE_WORD_CHANGE = 0x0800


def _slip(old: int, value: int) -> str:
    """Name the mistake behind a wrong `value`, given the request's checksum `old`."""
    if value == old:
        return "the checksum must change: the first word went from 0x0800 to 0x0000."
    if value == (old + TYPE_WORD_CHANGE) & 0xFFFF and old + TYPE_WORD_CHANGE > 0xFFFF:
        return "the addition carried out of 16 bits: add that carry back in at the bottom (end-around carry)."
    if value in ((old - TYPE_WORD_CHANGE) & 0xFFFF, _ones_add(old, ~TYPE_WORD_CHANGE & 0xFFFF)):
        return (
            "wrong direction: the checksum is the complement of the sum, so when a word goes *down* by "
            "0x0800 the checksum goes *up* by 0x0800."
        )
    if value == _ones_add(old, 0x0008):
        return "the type is the word's high byte (network byte order): the change is 0x0800, not 0x0008."
    return "add 0x0800 to the request's checksum; if that carries out of 16 bits, add the carry back in."


def check_reply_checksum_update(icmp_request: bytes, answer: object) -> Feedback:
    """`icmp_request`: an ICMP echo request (type 8, code 0); `answer`: the reply's checksum, by one addition.

    Right is what recomputing the reply's checksum from scratch (RFC 1071) gives, so the checker does not
    take the update rule it is testing on trust."""
    if icmp_request[:2] != b"\x08\x00":
        raise ValueError("icmp_request must start with type 8, code 0 (an ICMP echo request)")
    value = _as_int(answer)
    if value is None or not 0 <= value <= 0xFFFF:
        return _wrong(f"{answer!r} is not a 16-bit number.", "write it in hex, e.g. 0x1c3f.")
    old = int.from_bytes(icmp_request[2:4], "big")
    right = internet_checksum(b"\x00\x00\x00\x00" + icmp_request[4:])
    if value == right or {value, right} == {0x0000, 0xFFFF}:  # +0 and -0: RFC 1624 section 3
        carried = " The addition carried, and the carry went back in." if old + TYPE_WORD_CHANGE > 0xFFFF else ""
        return _right(f"0x{value:04x}, the same as recomputing every word.{carried}")
    return _wrong(f"0x{value:04x} is not the reply's checksum.", _slip(old, value))
