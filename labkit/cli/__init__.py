"""The `labkit` command: a thin dispatcher; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

from labkit import __version__
from labkit.errors import ArgumentError, LabkitError

# Subcommand name -> module under labkit.cli exposing add_parser(subparsers) and run(args) -> int.
SUBCOMMANDS = {
    "pcap": "labkit.cli.pcap_cmd",
    "respond": "labkit.cli.respond_cmd",
    "bench": "labkit.cli.bench_cmd",
    "bakeoff": "labkit.cli.bakeoff_cmd",
}


def models_help() -> str:
    """The model section of `labkit --help`, generated from the registry (one entry per model kind)."""
    from labkit.models.registry import models_help as generated

    return generated() + "Run `labkit COMMAND --help` for a command's options.\n"


# Library parameters whose flag is not "--" + the name with dashes (run_bench takes lists; flags repeat).
FLAG_OF_PARAMETER = {
    "models": "--model",
    "strategies": "--strategy",
    "duration_s": "--duration",
    "timeout_s": "--timeout",
}


def flag_of(parameter: str) -> str:
    """The CLI flag that sets a library parameter, so an ArgumentError reads as the user typed it."""
    return FLAG_OF_PARAMETER.get(parameter, "--" + parameter.replace("_", "-"))


def default_model_notice(model_name: str | None) -> None:
    """Say on stderr which model answers when the user did not choose one (so nobody mistakes it for Claude)."""
    if model_name is None:
        from labkit.models.registry import describe_default

        print(f"labkit: {describe_default()}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit",
        description="An LLM plays the part of an IP stack.",
        epilog=models_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"labkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ArgumentError as exc:
        print(f"labkit: {exc.for_flag(flag_of(exc.parameter))}", file=sys.stderr)
        return 2
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
