"""Checks for notebook 08's live lab: which kernel counter records a dropped reply.

Why a checker: the counters are many and similar (IcmpInErrors moves too), so the hint says how to tell
the one that names the reason from the one that only says "an error".
"""

from __future__ import annotations

from labkit.exercises.feedback import Feedback, _right, _wrong

# net/ipv4/icmp.c, icmp_rcv(): a bad checksum jumps to csum_error, which counts ICMP_MIB_CSUMERRORS
# ("IcmpInCsumErrors" in nstat) and then falls through to error, which counts ICMP_MIB_INERRORS.
CSUM_COUNTER = "IcmpInCsumErrors"
ALSO_MOVES = "IcmpInErrors"


def check_drop_counter(answer: object, run: object = None) -> Feedback:
    """`answer`: the nstat counter naming a checksum drop; `run`: a live lab PingRun (its counters), if any."""
    if not isinstance(answer, str) or not answer.strip():
        return _wrong('No answer yet: give a counter name as text, e.g. "IcmpInMsgs".')
    name = answer.strip()
    moved = getattr(run, "moved", None)
    seen = f" The live run: +{moved[CSUM_COUNTER]}." if moved and CSUM_COUNTER in moved else ""
    if name.lower() == CSUM_COUNTER.lower():
        return _right(f"{CSUM_COUNTER}: icmp_rcv() counts a bad checksum there, then drops the reply." + seen)
    if name.lower() == ALSO_MOVES.lower():
        return _wrong(
            f"{ALSO_MOVES} moved too, but it counts every ICMP input error, whatever the reason.",
            "Look for the counter whose name says *which* error it was.",
        )
    if name.lower() == "icmpinechoreps":
        return _wrong(
            "IcmpInEchoReps counts echo replies that passed the checksum check and were handled.",
            "A dropped reply never got that far; which counter moved instead?",
        )
    return _wrong(
        f"{name!r} is not the counter that records a checksum drop.",
        "Compare the counters before and after the bad replies: which moved, and which names a reason?",
    )
