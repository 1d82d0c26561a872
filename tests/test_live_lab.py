"""Notebook 08's live lab: nothing happens without root (and says why); with root a real ping is answered,
a bad checksum is dropped on a ping socket and reaches a raw socket, and the kernel counts it either way."""

from __future__ import annotations

import io
import subprocess

import pytest

from labkit import live_lab
from labkit.errors import LabkitError
from labkit.exercises import check_drop_counter
from labkit.live_lab import COUNTERS, LiveLab, PingRun, run_live_demo
from labkit.models import get_model
from labkit.responder import ping_software
from tests.netns import netns_available

ZEROS = dict.fromkeys(COUNTERS, 0)


def _no_subprocess(*args, **kwargs):
    raise AssertionError(f"the non-root path must not run commands: {args}")


def test_without_root_nothing_is_built_and_every_step_says_why(monkeypatch, capsys) -> None:
    monkeypatch.setattr(live_lab.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(live_lab.subprocess, "run", _no_subprocess)
    lab = LiveLab(get_model("simulated"))
    assert lab.why_not and "root" in lab.why_not
    assert lab.route() is None and lab.ping(4) is None and lab.stats() is None
    lab.close()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("(live lab not started: needs root")
    assert "run the notebook as root" not in "\n".join(printed), "no advice to run Jupyter as root"
    advice = live_lab.WITHOUT_ROOT.splitlines()
    assert printed[1 : 1 + len(advice)] == advice and "software wire" in advice[0] and "sudo" in advice[-1]
    assert printed[1 + len(advice) :] == [f"(skipped: {lab.why_not})"] * 2


def test_a_root_machine_that_cannot_build_the_lab_says_why_and_cleans_up(monkeypatch, capsys) -> None:
    calls: list[tuple[str, ...]] = []

    def refuse(*argv: str, check: bool = True) -> str:
        calls.append(argv)
        if check:
            raise LabkitError("live lab: `ip netns add x` failed: Operation not permitted")
        return ""

    monkeypatch.setattr(live_lab, "unavailable", lambda: None)
    monkeypatch.setattr(live_lab, "_run", refuse)
    lab = LiveLab(get_model("simulated"))
    assert "Operation not permitted" in lab.why_not and lab.ping(4) is None
    assert capsys.readouterr().out.startswith("(live lab not started: live lab: `ip netns add x` failed")
    assert ("ip", "netns", "del", lab.netns) in calls  # what was half built is removed


def test_a_missing_tool_is_named(monkeypatch) -> None:
    monkeypatch.setattr(live_lab.os, "geteuid", lambda: 0)
    monkeypatch.setattr(live_lab.shutil, "which", lambda tool: None if tool == "nstat" else f"/usr/bin/{tool}")
    assert live_lab.unavailable() == "needs nstat (Debian: iproute2, iputils-ping)"


def test_a_ping_run_reads_counters_and_the_received_count() -> None:
    after = dict(ZEROS, IcmpInMsgs=4, IcmpInErrors=4, IcmpInCsumErrors=4, IcmpOutEchos=4)
    run = PingRun("ping-socket", "4 packets transmitted, 0 received, 100% packet loss, time 628ms\n", ZEROS, after)
    assert run.moved == {"IcmpInMsgs": 4, "IcmpInErrors": 4, "IcmpInCsumErrors": 4, "IcmpOutEchos": 4}
    assert run.received == 0
    assert "IcmpInCsumErrors     0 -> 4    (+4)" in run.counter_lines()
    assert PingRun("raw-socket", "4 packets transmitted, 3 received, 25% packet loss", ZEROS, ZEROS).received == 3


def test_the_drop_counter_checker_tells_the_reason_counter_from_the_generic_one() -> None:
    assert check_drop_counter("IcmpInCsumErrors")
    assert check_drop_counter(" icmpincsumerrors ")
    run = PingRun("ping-socket", "", ZEROS, dict(ZEROS, IcmpInCsumErrors=4))
    assert "The live run: +4." in str(check_drop_counter("IcmpInCsumErrors", run))
    generic = check_drop_counter("IcmpInErrors")
    assert not generic and "whatever the reason" in str(generic)
    assert not check_drop_counter("IcmpInEchoReps")
    assert not check_drop_counter(None) and not check_drop_counter("")


def test_the_demo_is_never_run_with_claude_from_a_notebook() -> None:
    with pytest.raises(LabkitError, match="offline models"):
        run_live_demo("claude-haiku-4-5")
    assert live_lab.LIVE_DEMO.is_file()


def test_virtual_time_ping_lines_are_the_same_on_every_run() -> None:
    """The software wire's virtual RTTs carry no real elapsed time, so notebook outputs do not drift."""
    runs = []
    for _ in range(3):
        out = io.StringIO()
        ping_software(get_model("simulated:7"), count=6, out=out)
        runs.append(out.getvalue())
    assert runs[0] == runs[1] == runs[2]
    assert "time=" in runs[0]


needs_netns = pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@needs_netns
def test_root_a_real_ping_is_answered_inside_the_lab_only() -> None:
    with LiveLab(get_model("simulated:7:errors=0,latency=0.05")) as lab:
        route = lab.route()
        assert f"dev {lab.pinger_if}" in route and "default" not in route
        run = lab.ping(3)
        assert run.received == 3 and run.moved.get("IcmpInEchoReps") == 3
        assert "IcmpInCsumErrors" not in run.moved
        netns = lab.netns
    assert netns not in _namespaces()


@needs_netns
def test_root_a_bad_checksum_is_dropped_by_a_ping_socket_and_seen_by_a_raw_socket() -> None:
    bad = get_model("simulated:7:errors=0,icmp_checksum=1.0,latency=0.05")
    with LiveLab(bad, raw=True, send_bad_checksum=True) as lab:
        dgram = lab.ping(3, receiver="ping-socket", wait_s=2)
        raw = lab.ping(3, receiver="raw-socket", wait_s=2)
    assert dgram.received == 0 and dgram.moved.get("IcmpInCsumErrors") == 3
    assert raw.output.count("bytes from 10.0.0.2") == 3  # the raw socket got every reply ...
    assert raw.moved.get("IcmpInCsumErrors") == 3  # ... and the kernel still counted the drop
