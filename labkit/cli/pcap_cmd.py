"""`labkit pcap IN -o OUT`: answer a capture file offline and write requests plus replies for Wireshark."""

from __future__ import annotations

import argparse
import sys

from labkit.cli import default_model_notice
from labkit.errors import LabkitError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "pcap",
        help="answer the requests in a capture file and write requests + replies",
        description=(
            "Read IN (pcap or pcapng; Ethernet, raw IP, loopback or Linux cooked), answer what a host answers "
            "(echo requests by the model, ARP/NDP by the reference stack) and write OUT as pcap with each reply "
            "stamped at request time + model latency (virtual time: no waiting)."
        ),
    )
    parser.add_argument("input", metavar="IN", help="capture to answer (.pcap or .pcapng)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="pcap file to write")
    parser.add_argument(
        "--model", default=None, help="registry name: reference, simulated[:seed], claude[:id], replay:FILE, ... "
        "(default: $LABKIT_MODEL, else simulated)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the simulated model")
    parser.add_argument("--strategy", default="zero-shot", help="prompt strategy (default: zero-shot)")
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel model calls (default: 1 for simulated, 4 for real models)"
    )
    parser.add_argument(
        "--budget-usd", type=float, default=None, metavar="X",
        help="start no model call once the estimated cost reaches X dollars (the rest stay unanswered)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from labkit.pcap import answer_capture
    from labkit.prompts import get_strategy

    if args.workers is not None and args.workers < 1:
        raise LabkitError("--workers must be 1 or more")
    try:
        get_strategy(args.strategy)
    except (KeyError, ValueError) as exc:
        raise LabkitError(f"unknown strategy {args.strategy!r}: {exc}") from None
    default_model_notice(args.model)
    summary = answer_capture(  # reads IN before it sets up the model, so a bad file fails first
        args.input,
        args.output,
        args.model,
        args.seed,
        strategy=args.strategy,
        workers=args.workers,
        progress=sys.stderr.isatty(),
        budget_usd=args.budget_usd,
    )
    print(summary)
    return 0
