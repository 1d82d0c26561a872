"""Checks for notebook 08's live lab: which kernel counter records a dropped reply, and by how much it moves.

Why a checker: the counters are many and similar (IcmpInErrors moves too), so the hint says how to tell
the one that names the reason from the one that only says "an error"; and a prediction that a raw socket's
`ping` stops the counting is a specific misconception, which the hint should name.
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


def _csum_slip(answer: int, replies: int) -> str:
    """Name the misconception behind a wrong prediction of IcmpInCsumErrors on the raw-socket run."""
    if answer == 0:
        return (
            "ping printed the replies, but the raw socket got a *copy* (raw_local_deliver()); the "
            "original still goes on to icmp_rcv(), which checks the checksum."
        )
    if answer == 2 * replies:
        return "a bad reply is counted once, by icmp_rcv(); the raw socket's copy is never checked by the kernel."
    return f"each of the {replies} bad replies reaches icmp_rcv() once, whichever socket also gets a copy."


def check_csum_errors(prediction: object, replies: int, run: object = None) -> Feedback:
    """`prediction`: how much IcmpInCsumErrors rises while a raw-socket `ping` receives `replies` bad-checksum
    replies; `run`: that live PingRun, or None where the lab could not run (then the kernel's rule decides)."""
    if isinstance(prediction, bool) or not isinstance(prediction, int) or prediction < 0:
        return _wrong(f"{prediction!r} is not a count.", "give a whole number, e.g. 3.")
    moved = getattr(run, "moved", None)
    actual = (moved or {}).get(CSUM_COUNTER, 0) if run is not None else replies
    source = "the live run measured" if run is not None else "icmp_rcv() would count (not run here)"
    if prediction == actual:
        return _right(f"+{actual}, as {source}: the raw socket got copies; icmp_rcv() still dropped the originals.")
    return _wrong(f"you predicted +{prediction}; {source} +{actual}.", _csum_slip(prediction, replies))
