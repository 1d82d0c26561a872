"""Root tests: real `labkit respond` processes in network namespaces, pinged by real ping, busybox ping and
fping, watched by tshark. Every namespace and veth is made and removed here (tests/netns.py), also when a
test fails; all traffic stays inside them (10.x, fd00::/64). CI runs as root; elsewhere these are skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import in_ns, ip, namespace, netns_available, veth_pair

WHY_NOT = netns_available()
pytestmark = [pytest.mark.root, pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")]

REPO = Path(__file__).resolve().parent.parent
LABKIT = [sys.executable, "-c", "import sys; from labkit.cli import main; sys.exit(main())"]
RTT = re.compile(r"icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms")
LOSS = re.compile(r"([\d.]+)% packet loss")


def default_signals() -> None:
    """In a child: SIGINT/SIGTERM back to their defaults. A runner that ignores SIGINT (a background job of a
    non-interactive shell) passes that on, and Python then never turns SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Running:
    """A `labkit respond` subprocess whose output is collected by a thread."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, preexec_fn=default_signals
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "Ctrl-C stops" in line:
                self.started.set()
        self.started.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def finish(self, sig: int = signal.SIGINT, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.reader.join()
        return code


@contextlib.contextmanager
def respond(netns: str, *args: str) -> Iterator[Running]:
    running = Running(in_ns(netns, [*LABKIT, "respond", *args]))
    try:
        assert running.started.wait(30) and running.proc.poll() is None, f"did not start:\n{running.output}"
        yield running
    finally:
        running.finish()


def loss_of(output: str) -> float:
    found = LOSS.search(output)
    assert found, output
    return float(found.group(1))


# --- privileges -----------------------------------------------------------------------------------------


def _unprivileged_prefixes() -> list[tuple[str, list[str]]]:
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    no_caps = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
    return [("nobody", nobody), ("root-without-capabilities", no_caps)]


@pytest.mark.parametrize("attachment", [["--interface", "lo"], ["--tun", "lkpriv0"]], ids=["raw", "tun"])
@pytest.mark.parametrize("who,prefix", _unprivileged_prefixes(), ids=[w for w, _ in _unprivileged_prefixes()])
def test_without_privileges_the_cli_says_what_to_do(who: str, prefix: list[str], attachment: list[str]) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": "/"}
    done = subprocess.run(
        [*prefix, *LABKIT, "respond", *attachment, "--model", "reference"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd="/",
    )
    if who == "nobody" and "No module named 'labkit" in done.stderr:
        pytest.skip("this interpreter cannot import labkit as nobody; the capability-less run covers it")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("labkit: "), done.stderr
    assert "needs root" in done.stderr and "--software" in done.stderr and "namespace" in done.stderr
    assert "labkit pcap" in done.stderr and "Traceback" not in done.stderr


# --- raw socket: real pingers ---------------------------------------------------------------------------


def test_ping_busybox_and_fping_see_no_loss_from_the_reference_model() -> None:
    with (
        veth_pair(ping_addr6="fd00::1/64") as pair,
        respond(
            pair.labkit_ns,
            "--interface",
            pair.labkit_if,
            "--address",
            "10.0.0.2",
            "--address",
            "fd00::2",
            "--model",
            "reference",
        ) as running,
    ):
        pings = {
            "ping": ["ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", "10.0.0.2"],
            "ping -6": ["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", "fd00::2"],
            "busybox ping": ["busybox", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"],
            "fping": ["fping", "-c", "3", "-p", "200", "-t", "1000", "10.0.0.2"],
        }
        outputs = {name: pair.run_in_ping(argv) for name, argv in pings.items()}
    for name, done in outputs.items():
        text = done.stdout + done.stderr
        if name == "fping":
            assert re.search(r"xmt/rcv/%loss = 3/3/0%", text), text
        else:
            assert loss_of(text) == 0, f"{name}:\n{text}"
        assert done.returncode == 0, f"{name}:\n{text}"
    assert "ARP/NDP answered" in running.output and "answered 14" in running.output, running.output


def test_a_one_second_model_pinged_every_200_ms_does_not_queue_up() -> None:
    with (
        veth_pair() as pair,
        respond(
            pair.labkit_ns,
            "--interface",
            pair.labkit_if,
            "--model",
            "simulated:1:errors=0,latency=1.0,real_time=1",
            "--quiet",
        ),
    ):
        done = pair.run_in_ping(["ping", "-n", "-c", "10", "-i", "0.2", "-W", "3", "10.0.0.2"])
    rtts = sorted(float(ms) / 1000 for _, ms in RTT.findall(done.stdout))
    assert len(rtts) == 10, done.stdout
    p95 = rtts[int(0.95 * (len(rtts) - 1))]
    assert 1.0 <= statistics.median(rtts) and p95 <= 1.2, rtts


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_always_bad_checksum_is_total_loss_in_strict_and_raw_mode(tmp_path: Path) -> None:
    """Strict: not sent (or sent with --send-bad-checksum); raw: sent. The pinger loses every one, and the
    capture shows what was on the wire. Each mode pings with its own payload pattern to tell them apart."""
    modes = {"aa": [], "bb": ["--send-bad-checksum"], "cc": ["--raw"]}
    capture = tmp_path / "wire.pcap"
    with veth_pair() as pair:
        tshark = subprocess.Popen(
            in_ns(pair.ping_ns, ["tshark", "-i", pair.ping_if, "-f", "icmp", "-w", str(capture)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_signals,
        )
        try:
            assert tshark.stderr is not None
            for line in tshark.stderr:  # wait until it really captures
                if "Capturing on" in line:
                    break
            summaries = {}
            for pattern, flags in modes.items():
                with respond(
                    pair.labkit_ns,
                    "--interface",
                    pair.labkit_if,
                    "--model",
                    "simulated:3:icmp_checksum=1.0,latency=0.05",
                    *flags,
                ) as running:
                    done = pair.run_in_ping(
                        ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "-p", pattern, "10.0.0.2"]
                    )
                    assert loss_of(done.stdout) == 100, f"{flags}: {done.stdout}"
                running.finish()
                summaries[pattern] = running.output
        finally:
            time.sleep(0.3)
            tshark.send_signal(signal.SIGINT)
            tshark.wait(15)
    assert "answered 0" in summaries["aa"] and "checksum errors 3" in summaries["aa"]
    assert "answered 3" in summaries["bb"] and "checksum errors 3" in summaries["cc"]
    read = subprocess.run(
        [
            "tshark",
            "-r",
            str(capture),
            "-Y",
            "icmp.type == 0",
            "-T",
            "fields",
            "-e",
            "icmp.checksum.status",
            "-e",
            "data.data",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    on_wire = [line.split("\t") for line in read.stdout.splitlines()]
    by_mode = {pattern: [status for status, data in on_wire if data.startswith(pattern * 4, 16)] for pattern in modes}
    assert by_mode["aa"] == [], "strict mode must not send a reply with a bad checksum"
    assert by_mode["bb"] == ["0"] * 3 and by_mode["cc"] == ["0"] * 3, f"tshark checksum status: {by_mode}"


# --- TUN ------------------------------------------------------------------------------------------------


def test_tun_mode_answers_the_peer_address_and_stops_by_count() -> None:
    tun = f"lk{os.getpid() % 100000}t"
    with namespace() as ns:
        running = Running(in_ns(ns, [*LABKIT, "respond", "--tun", tun, "--model", "reference", "--count", "3"]))
        try:
            assert running.started.wait(30), running.output
            done = subprocess.run(
                in_ns(ns, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2"]),
                capture_output=True,
                text=True,
                timeout=30,
            )
            code = running.proc.wait(10)  # --count 3: it stops by itself
        finally:
            running.finish()
        assert ip("link", "show", tun, netns=ns, check=False).returncode != 0, "the tun must go when labkit stops"
    assert loss_of(done.stdout) == 0, done.stdout
    assert code == 0 and "answered 3" in running.output and "count 3 reached" in running.output


# --- faults and signals ---------------------------------------------------------------------------------


def test_interface_going_away_stops_with_a_summary() -> None:
    with veth_pair() as pair:
        with respond(pair.labkit_ns, "--interface", pair.labkit_if, "--model", "reference") as running:
            assert loss_of(pair.run_in_ping(["ping", "-c", "1", "-W", "2", "10.0.0.2"]).stdout) == 0
            ip("link", "del", pair.labkit_if, netns=pair.labkit_ns)
            code = running.proc.wait(10)
    assert code == 0
    assert "wire gone" in running.output and "answered 1" in running.output
    assert "Traceback" not in running.output


def test_sigterm_stops_with_a_summary() -> None:
    with veth_pair() as pair:
        with respond(pair.labkit_ns, "--interface", pair.labkit_if, "--model", "reference") as running:
            pair.run_in_ping(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"])
            code = running.finish(signal.SIGTERM)
    assert code == 0, running.output
    assert "--- labkit respond summary ---" in running.output and "stopped: interrupted" in running.output
    assert "answered 2" in running.output and "Traceback" not in running.output


def test_an_address_the_kernel_owns_needs_its_echo_replies_off() -> None:
    """Refused while the kernel would answer too; with icmp_echo_ignore_all=1 (in the namespace only) labkit
    answers alone: no loss and no duplicates."""
    with veth_pair() as pair:
        ip("addr", "add", "10.0.0.2/24", "dev", pair.labkit_if, netns=pair.labkit_ns)
        refused = subprocess.run(
            in_ns(pair.labkit_ns, [*LABKIT, "respond", "--interface", pair.labkit_if, "--model", "reference"]),
            capture_output=True,
            text=True,
            timeout=30,
        )
        subprocess.run(in_ns(pair.labkit_ns, ["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"]), check=True)
        with respond(pair.labkit_ns, "--interface", pair.labkit_if, "--model", "reference") as running:
            done = pair.run_in_ping(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"])
    assert refused.returncode == 2 and "the kernel already owns 10.0.0.2" in refused.stderr
    assert loss_of(done.stdout) == 0 and "DUP!" not in done.stdout, done.stdout
    assert "icmp_echo_ignore_all" in running.output and "answered 3" in running.output


# --- fragments: ping -s 3000 answered live ----------------------------------------------------------------


def test_ping_s3000_gets_no_loss_over_a_raw_socket_ipv4_and_ipv6() -> None:
    with (
        veth_pair(ping_addr6="fd00::1/64") as pair,
        respond(
            pair.labkit_ns,
            "--interface",
            pair.labkit_if,
            "--address",
            "10.0.0.2",
            "--address",
            "fd00::2",
            "--model",
            "reference",
        ) as running,
    ):
        v4 = pair.run_in_ping(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", "10.0.0.2"])
        v6 = pair.run_in_ping(["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", "fd00::2"])
    assert loss_of(v4.stdout) == 0 and "3008 bytes from 10.0.0.2" in v4.stdout, v4.stdout + running.output
    assert loss_of(v6.stdout) == 0 and "3008 bytes from fd00::2" in v6.stdout, v6.stdout + running.output


def test_ping_s3000_gets_no_loss_over_tun() -> None:
    tun = f"lk{os.getpid() % 100000}f"
    with namespace() as ns:
        running = Running(in_ns(ns, [*LABKIT, "respond", "--tun", tun, "--model", "reference"]))
        try:
            assert running.started.wait(30), running.output
            done = subprocess.run(
                in_ns(ns, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", "10.77.0.2"]),
                capture_output=True,
                text=True,
                timeout=30,
            )
        finally:
            running.finish()
    assert loss_of(done.stdout) == 0 and "3008 bytes from 10.77.0.2" in done.stdout, done.stdout + running.output


# --- the same hostile frames to the kernel and to labkit ----------------------------------------------------

SEND_AND_LISTEN = r"""
import json, socket, sys, time
frames = [bytes.fromhex(h) for h in json.load(sys.stdin)]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((sys.argv[1], 0))
answered = []
for frame in frames:
    seq = frame[14 + 20 + 6:14 + 20 + 8] if frame[12:14] == b"\x08\x00" else frame[14 + 40 + 6:14 + 40 + 8]
    sock.sendto(frame, (sys.argv[1], 0))
    deadline, got = time.monotonic() + 0.6, False
    while not got and time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data, (_, _, kind, _, _) = sock.recvfrom(65535)
        except socket.timeout:
            break
        if kind == socket.PACKET_OUTGOING:
            continue
        if data[12:14] == b"\x08\x00" and data[14 + 9] == 1 and data[14 + 20] == 0:
            got = data[14 + 20 + 6:14 + 20 + 8] == seq
        elif data[12:14] == b"\x86\xdd" and data[14 + 6] == 58 and data[14 + 40] == 129:
            got = data[14 + 40 + 6:14 + 40 + 8] == seq
    answered.append(got)
print(json.dumps(answered))
"""


def _hostile_packets() -> dict[str, bytes]:
    """Echo requests to 10.0.0.2 / fd00::2 from 10.0.0.1 / fd00::1 unless the name says otherwise; seq = index."""
    from labkit.packets import echo_request, echo_request_v6

    def flip(packet: bytes, offset: int) -> bytes:
        return packet[:offset] + bytes([packet[offset] ^ 0xFF]) + packet[offset + 1 :]

    kinds = {
        "good": lambda seq: echo_request(seq=seq),
        "good v6": lambda seq: echo_request_v6(seq=seq),
        "bad IPv4 header checksum": lambda seq: flip(echo_request(seq=seq), 10),
        "bad ICMP checksum": lambda seq: flip(echo_request(seq=seq), 22),
        "source 127.0.0.1": lambda seq: echo_request(src="127.0.0.1", seq=seq),
        "source 0.0.0.0": lambda seq: echo_request(src="0.0.0.0", seq=seq),
        "source 224.0.0.5": lambda seq: echo_request(src="224.0.0.5", seq=seq),
        "source 255.255.255.255": lambda seq: echo_request(src="255.255.255.255", seq=seq),
        "source is its own address": lambda seq: echo_request(src="10.0.0.2", seq=seq),
        "spoofed source nobody owns": lambda seq: echo_request(src="10.0.0.77", seq=seq),
        "bad ICMPv6 checksum": lambda seq: flip(echo_request_v6(seq=seq), 42),
        "source ::1": lambda seq: echo_request_v6(src="::1", seq=seq),
        "source ff02::1": lambda seq: echo_request_v6(src="ff02::1", seq=seq),
    }
    return {name: make(100 + i) for i, (name, make) in enumerate(kinds.items())}


def _frame(packet: bytes, src_mac: str, dst_mac: str) -> bytes:
    ethertype = b"\x08\x00" if packet[0] >> 4 == 4 else b"\x86\xdd"
    return bytes.fromhex(dst_mac.replace(":", "") + src_mac.replace(":", "")) + ethertype + packet


def _kernel_answers(packets: dict[str, bytes]) -> dict[str, bool]:
    import json

    with veth_pair(ping_addr6="fd00::1/64") as pair:
        ip("addr", "add", "10.0.0.2/24", "dev", pair.labkit_if, netns=pair.labkit_ns)
        ip("addr", "add", "fd00::2/64", "dev", pair.labkit_if, "nodad", netns=pair.labkit_ns)
        mac = {
            ns: subprocess.run(
                in_ns(ns, ["cat", f"/sys/class/net/{name}/address"]), capture_output=True, text=True, check=True
            ).stdout.strip()
            for ns, name in ((pair.ping_ns, pair.ping_if), (pair.labkit_ns, pair.labkit_if))
        }
        pair.run_in_ping(["ping", "-c", "1", "-W", "2", "10.0.0.2"])  # neighbours, as a real client has
        pair.run_in_ping(["ping", "-6", "-c", "1", "-W", "2", "fd00::2"])
        frames = [_frame(p, mac[pair.ping_ns], mac[pair.labkit_ns]).hex() for p in packets.values()]
        done = pair.run_in_ping([sys.executable, "-c", SEND_AND_LISTEN, pair.ping_if], input=json.dumps(frames))
    assert done.returncode == 0, done.stderr
    return dict(zip(packets, json.loads(done.stdout)))


class _Link:
    """labkit's side: a wire of queues whose far end answers ARP/NDP for 10.0.0.1 / fd00::1, as the pinger's
    kernel does, and collects everything else labkit sends."""

    link, mac, peer = "ether", "02:00:00:00:00:02", "02:00:00:00:00:01"

    def __init__(self) -> None:
        import queue

        self.inbox: queue.Queue[bytes] = queue.Queue()
        self.sent: list[bytes] = []

    def recv(self, timeout: float) -> bytes | None:
        import queue

        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def send(self, data: bytes) -> None:
        from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
        from scapy.layers.l2 import ARP, Ether

        frame = Ether(data)
        if ARP in frame and frame[ARP].op == 1 and frame[ARP].pdst == "10.0.0.1":
            self.inbox.put(
                bytes(
                    Ether(src=self.peer, dst=self.mac)
                    / ARP(op=2, hwsrc=self.peer, psrc="10.0.0.1", hwdst=self.mac, pdst=frame[ARP].psrc)
                )
            )
        elif ICMPv6ND_NS in frame and frame[ICMPv6ND_NS].tgt == "fd00::1":
            self.inbox.put(
                bytes(
                    Ether(src=self.peer, dst=self.mac)
                    / IPv6(src="fd00::1", dst=frame[IPv6].src)
                    / ICMPv6ND_NA(tgt="fd00::1", S=1, O=1)
                    / ICMPv6NDOptDstLLAddr(lladdr=self.peer)
                )
            )
        else:
            self.sent.append(data)

    def close(self) -> None:
        pass


def _labkit_answers(packets: dict[str, bytes], server) -> dict[str, bool]:
    from labkit.models import get_model
    from labkit.responder import Responder

    wire = _Link()
    with Responder(wire, get_model("claude"), addresses=("10.0.0.2", "fd00::2")) as responder:
        for packet in packets.values():
            wire.inbox.put(_frame(packet, wire.peer, wire.mac))
        deadline = time.monotonic() + 30
        while (not wire.inbox.empty() or responder.stats.in_flight) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    seqs = {frame[14 + (20 if frame[12:14] == b"\x08\x00" else 40) + 6 :][:2] for frame in wire.sent}
    return {name: (p[(20 if p[0] >> 4 == 4 else 40) + 6 :][:2] in seqs) for name, p in packets.items()}


def test_a_perfect_model_is_refused_every_request_the_kernel_drops(monkeypatch) -> None:
    """The same frames to Linux (in a namespace) and to labkit with an obedient model behind a loopback
    Messages API server: labkit answers exactly what the kernel answers, and the model never hears of the rest."""
    from messages_server import DEFAULT_TEST_KEY, MessagesServer, obedient

    packets = _hostile_packets()
    kernel = _kernel_answers(packets)
    assert kernel["good"] and kernel["good v6"], f"the kernel must answer the control requests: {kernel}"
    with MessagesServer(default=obedient()) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_TEST_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        labkit = _labkit_answers(packets, server)
        asked = len(server.message_requests)
    assert labkit == kernel, {name: (kernel[name], labkit[name]) for name in packets if kernel[name] != labkit[name]}
    assert asked == sum(kernel.values()), "the model is asked only about what Linux answers"


# --- the one-command demo ------------------------------------------------------------------------------------

DEMO = REPO / "scripts" / "live-demo.sh"


def _demo(*args: str, env: dict | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the demo from / (it must not depend on the working directory)."""
    return subprocess.run(
        [*prefix, "bash", str(DEMO), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd="/",
        env={**os.environ, **(env or {})},
        preexec_fn=default_signals,
    )


def test_demo_raw_mode_with_bad_checksums_shows_loss_and_the_raw_socket_receiver_side_by_side() -> None:
    done = _demo(
        "simulated:3:icmp_checksum=1.0,latency=0.05",
        "2",
        env={"LABKIT_RESPOND_ARGS": "--raw", "LABKIT_DEMO_RECEIVERS": "both"},
    )
    out = done.stdout + done.stderr
    losses = [float(x) for x in LOSS.findall(out)]
    assert losses[:1] == [100.0], out  # ping socket: the kernel drops every reply
    assert len(losses) == 2, out  # and the raw-socket run is shown after it
    assert "checksum errors 4" in out and "answered 4" in out and "Traceback" not in out, out


def test_demo_with_claude_reaches_the_api_through_the_route_it_is_given() -> None:
    """Claude's path through the demo, against a loopback Messages API server this test starts."""
    from messages_server import DEFAULT_TEST_KEY, MessagesServer, obedient

    with MessagesServer(default=obedient()) as server:
        done = _demo("claude", "2", env={"ANTHROPIC_API_KEY": DEFAULT_TEST_KEY, "ANTHROPIC_BASE_URL": server.url})
        asked = len(server.message_requests)
    out = done.stdout + done.stderr
    assert loss_of(out) == 0 and asked == 2 and "answered 2" in out, out
    assert DEFAULT_TEST_KEY not in out, "the key never appears in the output"


def test_demo_without_root_uses_the_software_wire() -> None:
    """As an ordinary user (`student`) from a copy of this checkout with the .venv ./lab.sh makes from Debian's
    python3: this checkout's .venv links into root's Python, which no other user can read."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("student_run", REPO / "scripts" / "student_run.py")
    assert spec and spec.loader
    student_run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = student_run  # dataclasses look their module up there
    spec.loader.exec_module(student_run)
    try:
        account, checkout = student_run.installed_checkout()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:  # e.g. no package index reachable
        pytest.skip(f"user student has no working .venv: {exc}")
    done = subprocess.run(
        [*student_run.as_student(account), "bash", str(checkout / "scripts" / "live-demo.sh"), "reference", "2"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd="/",
        env=student_run.student_env(account),
        preexec_fn=default_signals,
    )
    out = done.stdout + done.stderr
    assert "not root" in out and "software wire" in out and "Traceback" not in out, out
    assert loss_of(out) == 0 and done.returncode == 0, out
