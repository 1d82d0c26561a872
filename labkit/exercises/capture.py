"""Notebook 07's check: how many packets a bad-checksum filter shows with tshark's defaults, and with IPv4 header
checksum validation switched on.

Why a checker, not a cell: the answer comes from running tshark twice, and a cell full of subprocess plumbing
hides the exercise. Where tshark is missing (Binder without apt.txt), the counts come from labkit's checksum
verdicts under Wireshark's default rule -- ICMP and ICMPv6 checksums validated, the IPv4 header checksum not
(Wireshark wiki, CaptureSetup/Offloading) -- which tests/test_exercises_capture.py checks against tshark itself.
"""

from __future__ import annotations

from os import PathLike

from labkit import tshark
from labkit.checksum import verify
from labkit.exercises.feedback import Feedback, _right, _wrong

IP_HEADER_CHECK = "ip.chksum"  # the one check Wireshark leaves off by default


def _packets(path: str | PathLike) -> list[bytes]:
    """The IP packets of a capture (raw-IP or Ethernet), as bytes."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    return [bytes(p[IP] if IP in p else p[IPv6]) for p in rdpcap(str(path)) if IP in p or IPv6 in p]


def flagged_counts(path: str | PathLike) -> tuple[int, int]:
    """(packets a bad-checksum filter shows with tshark's defaults, with `-o ip.check_checksum:TRUE`)."""
    if tshark.available():
        default, validating = (len(tshark.bad_checksums(path, validate=v).splitlines()) for v in (False, True))
        return default, validating
    verdicts = [[check for check in verify(packet) if not check.ok] for packet in _packets(path)]
    by_default = sum(any(check.name != IP_HEADER_CHECK for check in bad) for bad in verdicts)
    return by_default, sum(bool(bad) for bad in verdicts)


def check_flagged(path: str | PathLike, predicted_default: object, predicted_validating: object) -> Feedback:
    """Predict how many packets of this capture tshark flags (a) with its defaults, (b) with validation on."""
    if predicted_default is None or predicted_validating is None:
        return _wrong("No answer yet: write both predictions, then run this cell.")
    default, validating = flagged_counts(path)
    if (predicted_default, predicted_validating) == (default, validating):
        return _right(f"tshark flags {default} with its defaults, {validating} with validation on.")
    if predicted_default != default and predicted_default == validating:
        return _wrong(
            f"with its defaults tshark flags {default}, not {predicted_default}.",
            "Wireshark 1.2 and later do not validate IPv4 header checksums by default (checksum offloading "
            "would make every outgoing packet look wrong); ICMP checksums are still validated.",
        )
    which = "defaults" if predicted_default != default else "validation on"
    return _wrong(
        f"with {which} tshark flags {default if which == 'defaults' else validating}.",
        "count the packets whose checksums are wrong: which checksum does each one get wrong, and which "
        "checksums does tshark check in that setting?",
    )
