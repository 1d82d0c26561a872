"""The `labkit` command: a thin dispatcher; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

from labkit.errors import LabkitError

# Subcommand name -> module under labkit.cli exposing add_parser(subparsers) and run(args) -> int.
SUBCOMMANDS = {
    "pcap": "labkit.cli.pcap_cmd",
    "respond": "labkit.cli.respond_cmd",
    "bench": "labkit.cli.bench_cmd",
    "bakeoff": "labkit.cli.bakeoff_cmd",
}


MODELS_HELP = """\
models (--model NAME, or $LABKIT_MODEL for every command):
  simulated[:seed]      the offline default: a seeded stand-in that makes an LLM's mistakes;
                        its output always says SIMULATED; it is not Claude
  reference             labkit's reference stack (answers like Linux; not an LLM)
  claude[:model-id]     Claude via the anthropic SDK; needs ANTHROPIC_API_KEY (default claude-haiku-4-5)
  record:FILE:MODEL     run MODEL and record every exchange to FILE (never keys or headers)
  replay:FILE           replay a recording, offline and deterministic

With no --model and no $LABKIT_MODEL every command uses the simulated model, offline, and says so.
Run `labkit COMMAND --help` for a command's options.
"""


def default_model_notice(model_name: str | None) -> None:
    """Say on stderr which model answers when the user did not choose one (so nobody mistakes it for Claude)."""
    if model_name is None:
        from labkit.models.registry import describe_default

        print(f"labkit: {describe_default()}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", description="An LLM plays the part of an IP stack.", epilog=MODELS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
