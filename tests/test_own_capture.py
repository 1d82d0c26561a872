"""Notebook 07's "capture your own ping": real ping in a namespace labkit creates, recorded by tcpdump, nothing
answered and nothing left behind; pcap mode then answers it."""

from __future__ import annotations

import subprocess

import pytest

from labkit import own_capture, tshark
from labkit.pcap import answer_capture

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(own_capture.why_not() is not None, reason=str(own_capture.why_not())),
]


def test_own_ping_is_captured_unanswered_and_cleaned_up(tmp_path) -> None:
    path = tmp_path / "mine.pcap"
    output = own_capture.capture_own_ping(path, count=3)
    assert "3 packets transmitted, 0 received" in output
    assert "lk-own-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    answered = tmp_path / "answered.pcap"
    summary = answer_capture(path, answered, "reference")
    assert summary.packets_read == 3
    assert [seq for seq, _ in tshark.round_trips_ms(answered)] == [1, 2, 3]
