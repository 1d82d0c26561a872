"""Notebook 07's tshark prediction: the fallback count (no tshark) agrees with tshark, and wrong predictions get
the hint that names Wireshark's default."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit import tshark
from labkit.exercises import capture, check_flagged
from labkit.packets import echo_request
from labkit.pcap import LINKTYPE_RAW, Capture, CapturedPacket, write_capture
from labkit.stack import echo_reply


def _trap(path: Path) -> Path:
    """A request, a reply with one bit of its IP header checksum flipped, a reply with a bad ICMP checksum,
    and a good reply: 1 flagged by default, 2 with validation."""
    request = echo_request(seq=1)
    good = echo_reply(request)
    bad_ip = good[:10] + bytes([good[10] ^ 0x01]) + good[11:]
    bad_icmp = good[:22] + bytes([good[22] ^ 0x01]) + good[23:]
    packets = [request, bad_ip, bad_icmp, good]
    write_capture(
        path,
        Capture(
            LINKTYPE_RAW, [CapturedPacket(ts_ns=t * 1_000_000, data=p, wirelen=len(p)) for t, p in enumerate(packets)]
        ),
    )
    return path


def test_the_fallback_counts_follow_wiresharks_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _trap(tmp_path / "trap.pcap")
    monkeypatch.setattr(tshark, "available", lambda: False)
    assert capture.flagged_counts(path) == (1, 2)


@pytest.mark.skipif(not tshark.available(), reason="tshark is not installed")
def test_tshark_counts_agree_with_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _trap(tmp_path / "trap.pcap")
    assert capture.flagged_counts(path) == (1, 2)  # tshark itself


def test_check_flagged_names_the_default(tmp_path: Path) -> None:
    path = _trap(tmp_path / "trap.pcap")
    assert check_flagged(path, 1, 2)
    assert "do not validate IPv4 header checksums by default" in " ".join(str(check_flagged(path, 2, 2)).split())
    assert not check_flagged(path, 1, 3)
    assert not check_flagged(path, None, 2)
