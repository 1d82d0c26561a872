"""`labkit pcap IN -o OUT`: answer a capture file offline and write requests plus replies for Wireshark."""

from __future__ import annotations

import argparse
import re
import sys

from labkit.cli import default_model_notice
from labkit.errors import LabkitError

# Model kinds that call an API over HTTP and so take a timeout and a tool-turn limit (labkit.models.claude).
API_KINDS = ("claude", "messages")
_NAMED_SEED = re.compile(r"(?:^|:)\s*simulated\s*:\s*(\d+)", re.IGNORECASE)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "pcap",
        help="answer the requests in a capture file and write requests + replies",
        description=(
            "Read IN (pcap or pcapng, plain or gzip'd; Ethernet, raw IP, loopback or Linux cooked), answer what a "
            "host answers (echo requests by the model, ARP/NDP by the reference stack) and write OUT as pcap with "
            "each reply stamped at request time + model latency (virtual time: no waiting). IN is streamed, so "
            "memory does not grow with the capture. OUT is written only if the whole run succeeds; answers a paid "
            "model gave are kept in OUT.answers.jsonl until then, and running the same command again reuses them."
        ),
    )
    parser.add_argument("input", metavar="IN", help="capture to answer (.pcap, .pcapng, .gz; - for standard input)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="pcap file to write")
    parser.add_argument(
        "--model",
        default=None,
        help="registry name: reference, simulated[:seed], claude[:id], replay:FILE, ... "
        "(default: $LABKIT_MODEL, else simulated)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for the simulated model (overrides a seed in the --model name, and says so)",
    )
    parser.add_argument("--strategy", default="zero-shot", help="prompt strategy (default: zero-shot)")
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel model calls (default: 1 for simulated, 4 for real models)"
    )
    parser.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        metavar="X",
        help="spend at most X dollars: each call reserves its worst-case cost before it starts, and calls that "
        "could go over are not made (those requests stay unanswered)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long one API call may take (claude models; default 60)",
    )
    parser.add_argument(
        "--max-tool-turns",
        type=int,
        default=None,
        metavar="N",
        help="tool calls one answer may make before it fails (claude models, tool-use; default 8)",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="discard answers kept from an earlier failed run (OUT.answers.jsonl) and ask again",
    )
    parser.set_defaults(run=run)
    return parser


def _model_options(args: argparse.Namespace) -> dict:
    """Keyword arguments for get_model from the API flags; refused for models that make no API call."""
    from labkit.models.registry import resolve_name

    options = {
        key: value
        for key, value in (("timeout_s", args.timeout), ("max_tool_turns", args.max_tool_turns))
        if value is not None
    }
    if args.timeout is not None and not args.timeout > 0:
        raise LabkitError(f"--timeout must be more than 0 seconds, got {args.timeout}")
    if args.max_tool_turns is not None and args.max_tool_turns < 1:
        raise LabkitError(f"--max-tool-turns must be 1 or more, got {args.max_tool_turns}")
    if options:
        name = resolve_name(args.model)
        kind = name.split(":", 1)[0].strip().lower()
        if kind == "record":
            kind = name.split(":", 2)[-1].split(":", 1)[0].strip().lower()
        if kind not in API_KINDS:
            flags = " and ".join(
                f for f, v in (("--timeout", args.timeout), ("--max-tool-turns", args.max_tool_turns)) if v is not None
            )
            raise LabkitError(f"{flags} apply to models that call an API ({', '.join(API_KINDS)}), not to {name}")
    return options


def _seed_notice(args: argparse.Namespace) -> None:
    """Say which seed wins when --seed and the model name both give one (the registry lets --seed win)."""
    from labkit.models.registry import resolve_name

    if args.seed is None:
        return
    name = resolve_name(args.model)
    named = _NAMED_SEED.search(name)
    if named and int(named.group(1)) != args.seed:
        print(
            f"labkit: --seed {args.seed} overrides the seed {named.group(1)} in {name}: "
            f"the simulated model uses seed {args.seed}",
            file=sys.stderr,
            flush=True,
        )
    elif "simulated" not in name.lower():
        print(f"labkit: --seed is used by the simulated model only; {name} ignores it", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from labkit.models.registry import get_model
    from labkit.pcap import answer_capture
    from labkit.prompts import get_strategy

    if args.workers is not None and args.workers < 1:
        raise LabkitError("--workers must be 1 or more")
    try:
        get_strategy(args.strategy)
    except (KeyError, ValueError) as exc:
        raise LabkitError(f"unknown strategy {args.strategy!r}: {exc}") from None
    options = _model_options(args)
    _seed_notice(args)
    default_model_notice(args.model)
    model = lambda: get_model(args.model, **options, **({"seed": args.seed} if args.seed is not None else {}))
    summary = answer_capture(  # reads IN before it sets up the model, so a bad file fails first
        args.input,
        args.output,
        model,
        strategy=args.strategy,
        workers=args.workers,
        progress=sys.stderr.isatty(),
        budget_usd=args.budget_usd,
        resume=not args.no_resume,
    )
    print(summary)
    return 0
