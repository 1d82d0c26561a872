"""`labkit respond`: answer live pings with a model, on a raw socket, a TUN device or the software wire.

Ctrl-C or SIGTERM stops it with a summary; so do --count and --duration. Privilege problems are one
line (labkit.errors.NeedsRoot) saying what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import signal
import sys

from labkit.errors import LabkitError

DEFAULT_ADDRESS = {"interface": "10.0.0.2", "tun": "10.77.0.2", "software": "10.0.0.2"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "respond",
        help="answer live pings with a model (raw socket, TUN, or software wire)",
        description=(
            "Answer ICMP echo requests with a model. --interface: an AF_PACKET raw socket on an interface where "
            "the kernel has no address (labkit answers ARP/NDP for --address itself); --tun: a TUN device where "
            "the kernel owns --tun-kernel-address and labkit answers for the peer; --software: an in-process "
            "wire and pinger that need no root. See docs/live.md."
        ),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--interface", metavar="IF", help="raw socket on this interface (needs root/CAP_NET_RAW)")
    where.add_argument("--tun", metavar="NAME", help="create TUN device NAME (needs root/CAP_NET_ADMIN)")
    where.add_argument("--software", action="store_true", help="in-process wire and pinger; no root needed")
    parser.add_argument(
        "--address",
        action="append",
        metavar="IP",
        help="address labkit answers for; repeat for IPv4 + IPv6 (default: 10.0.0.2, or 10.77.0.2 with --tun)",
    )
    parser.add_argument(
        "--tun-kernel-address",
        default="10.77.0.1/30",
        metavar="IP/LEN",
        help="the kernel's address on the TUN device (default: 10.77.0.1/30)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="registry name: reference, simulated[:seed][:opts], claude[:id], replay:FILE "
        "(default: $LABKIT_MODEL, else simulated)",
    )
    parser.add_argument("--strategy", default="zero-shot", help="prompt strategy (default: zero-shot)")
    parser.add_argument(
        "--max-inflight",
        type=int,
        default=16,
        metavar="N",
        help="model calls answered concurrently; more are dropped as busy (default: 16)",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="send whatever the model produced, as the original experiment did "
        "(still only IP packets addressed to the requester; see docs/live.md)",
    )
    parser.add_argument(
        "--send-bad-checksum",
        action="store_true",
        help="strict mode: also send replies whose only fault is a wrong checksum",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="PER_S",
        help="at most this many model calls per second; the excess is dropped",
    )
    parser.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        metavar="USD",
        help="stop calling the model once this much (estimated) is spent or reserved",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="abandon a model call after this many seconds, freeing its slot (default: 30)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        metavar="N",
        help="stop after N echo requests (software wire: send N pings, default 4)",
    )
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="software wire: seconds between pings (default: 1)"
    )
    parser.add_argument(
        "--real-time", action="store_true", help="software wire: really wait (default: virtual time, no sleeping)"
    )
    parser.add_argument(
        "--source",
        default=None,
        metavar="IP",
        help="software wire: the pinger's address (default: 10.0.0.1, or fd00::1 for IPv6)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not log every drop")
    parser.set_defaults(run=run)
    return parser


def _configure_logging(quiet: bool) -> None:
    """labkit's own log (drops, checksum errors) at INFO; other libraries only at WARNING.

    Why not basicConfig(level=INFO): that also prints httpx's "HTTP Request: POST ..." for every model call,
    prefixed "labkit:", drowning the drops a student is meant to read.
    """
    logging.basicConfig(level=logging.WARNING, format="labkit: %(message)s", stream=sys.stderr)
    logging.getLogger("labkit").setLevel(logging.WARNING if quiet else logging.INFO)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


ECHO_IGNORE_SWITCH = {4: "/proc/sys/net/ipv4/icmp_echo_ignore_all", 6: "/proc/sys/net/ipv6/icmp/echo_ignore_all"}


def kernel_ignores_echo(address: str) -> bool:
    """Is the kernel's echo reply for this address family switched off in this network namespace?"""
    try:
        with open(ECHO_IGNORE_SWITCH[6 if ":" in address else 4]) as switch:
            return switch.read().strip() == "1"
    except OSError:
        return False


def _open_wire(args: argparse.Namespace, addresses: list[str]):
    if args.interface:
        from labkit.wire.raw import RawWire, kernel_addresses

        owned = set(kernel_addresses(args.interface)) & set(addresses)
        conflicting = sorted(address for address in owned if not kernel_ignores_echo(address))
        if conflicting:
            raise LabkitError(
                f"the kernel already owns {', '.join(conflicting)} on {args.interface}, so it "
                "would answer first; answer an address the kernel does not have, remove it "
                "(ip addr del ...), or switch the kernel's echo replies off in this namespace "
                "(net.ipv4.icmp_echo_ignore_all=1; see docs/live.md for the risks)"
            )
        for address in sorted(owned):
            logging.getLogger("labkit.respond").warning(
                "the kernel owns %s but ignores echo requests (icmp_echo_ignore_all); remember to set it back", address
            )
        return RawWire(args.interface)
    from labkit.wire.tun import TunWire

    kernel = TunWire._parse_interface(args.tun_kernel_address).ip
    if str(kernel) in {str(ipaddress.ip_address(a)) for a in addresses if _is_ip(a)}:
        raise LabkitError(
            f"--tun-kernel-address {args.tun_kernel_address} gives the kernel {kernel}, the address "
            "labkit answers for, so the kernel would answer first; give the kernel another address "
            "in the same subnet (default 10.77.0.1/30, labkit answering 10.77.0.2)"
        )
    return TunWire(args.tun, args.tun_kernel_address)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def tun_peer_address(kernel_address: str) -> str:
    """The address labkit answers for on a TUN by default: the other host of the kernel's subnet.

    Why: with --tun-kernel-address 10.88.0.1/30, a fixed 10.77.0.2 would not even be routed into the device.
    """
    from labkit.wire.tun import TunWire

    kernel = TunWire._parse_interface(kernel_address)
    network = kernel.network
    hosts = network.hosts() if network.num_addresses > 2 else iter(network)
    return next((str(host) for host in hosts if host != kernel.ip), DEFAULT_ADDRESS["tun"])


def run(args: argparse.Namespace) -> int:
    attachment = "software" if args.software else "tun" if args.tun else "interface"
    addresses = args.address or [tun_peer_address(args.tun_kernel_address) if args.tun else DEFAULT_ADDRESS[attachment]]
    _configure_logging(args.quiet)
    options = dict(
        max_inflight=args.max_inflight,
        raw=args.raw,
        send_bad_checksum=args.send_bad_checksum,
        rate=args.rate,
        budget_usd=args.budget_usd,
        timeout_s=args.timeout,
    )
    mode = "raw mode" if args.raw else "strict mode" + (", bad checksums sent" if args.send_bad_checksum else "")
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if args.software:
            from labkit.models import get_model

            return _run_software(args, get_model(args.model), addresses, mode, options)
        wire = _open_wire(args, addresses)  # first, so a privilege problem shows before anything loads
        try:
            from labkit.models import get_model

            return _run_wire(args, wire, get_model(args.model), addresses, mode, options)
        finally:
            wire.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_software(args: argparse.Namespace, model, addresses: list[str], mode: str, options: dict) -> int:
    from labkit.responder import ping_software

    print(f"labkit respond: software wire, {addresses[0]} answered by {model.describe()}, {mode}", flush=True)
    source = args.source or ("fd00::1" if ":" in addresses[0] else "10.0.0.1")
    pinged, stats = ping_software(
        model,
        4 if args.count is None else args.count,
        args.interval,
        real_time=args.real_time,
        strategy=args.strategy,
        src=source,
        dst=addresses[0],
        duration_s=args.duration,
        **options,
    )
    _print_summary(stats)
    return 0 if pinged.received else 1


def _run_wire(args: argparse.Namespace, wire, model, addresses: list[str], mode: str, options: dict) -> int:
    from labkit.responder import Responder

    where = (
        f"{args.interface} (raw socket, {wire.mac})"
        if args.interface
        else f"tun {wire.name} (the kernel has {args.tun_kernel_address})"
    )
    responder = Responder(
        wire, model, args.strategy, addresses=addresses, count=args.count, duration_s=args.duration, **options
    )
    print(
        f"labkit respond: answering {', '.join(addresses)} on {where} with {model.describe()}, {mode}. Ctrl-C stops.",
        flush=True,
    )
    _print_summary(responder.serve())
    return 0


def _print_summary(stats) -> None:
    print("--- labkit respond summary ---", flush=True)
    for line in stats.summary_lines():
        print(line, flush=True)
    # Exiting promptly matters more than tidy memory: the interpreter's last collection over the SDK's and
    # scapy's objects takes seconds on a busy machine, and a stop must take about one. The OS frees it all.
    gc.freeze()
