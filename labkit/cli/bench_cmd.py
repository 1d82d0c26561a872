"""`labkit bench`: run N varied echo requests through each model × strategy and print a judged table."""

from __future__ import annotations

import argparse
import sys

from labkit.cli import default_model_notice
from labkit.errors import LabkitError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench",
        help="measure models × strategies on many varied echo requests",
        description=(
            "Send N deterministic, varied echo requests (sizes 0-1472, several payload patterns, ~15% IPv6) "
            "through every model × strategy, judge each answer, and print rates with 95% confidence intervals, "
            "byte error rate, fields most often wrong, latency, tokens and cost. With --out, every attempt is "
            "appended to a JSONL file as it finishes, and a rerun resumes where the last one stopped."
        ),
    )
    from labkit.models.registry import names_help
    from labkit.prompts import STRATEGIES

    parser.add_argument(
        "--model",
        action="extend",
        nargs="+",
        default=None,
        metavar="M",
        help=f"model name(s), repeatable: {names_help()} (default: $LABKIT_MODEL, else simulated)",
    )
    parser.add_argument(
        "--strategy",
        action="extend",
        nargs="+",
        default=None,
        metavar="S",
        help=f"prompt strategy name(s): {', '.join(STRATEGIES)}, or a PATH to a .py file defining your own "
        "(default: zero-shot)",
    )
    parser.add_argument("--n", type=int, default=100, help="attempts per model × strategy (default: 100)")
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel attempts (default: 1 for simulated, 4 for real models)"
    )
    parser.add_argument("--seed", type=int, default=0, help="request seed (default: 0)")
    parser.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        metavar="X",
        help="stop starting new attempts once this run has spent X dollars",
    )
    parser.add_argument("--out", default=None, metavar="FILE.jsonl", help="append each attempt here; resume from it")
    parser.add_argument(
        "--sizes",
        nargs="?",
        const="default",
        default=None,
        metavar="B,B,...",
        help="sweep payload size: --n IPv4 requests at each size (bytes, comma-separated; alone: "
        "0,16,56,128,256,512,1024,1472) and print accept rate against payload length and 16-bit additions",
    )
    parser.add_argument("--plot", default=None, metavar="FILE.png", help="with --sizes: save the sweep's plot here")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from labkit.bench import BenchRun, format_table, run_bench, summarise

    if args.n < 0:
        raise LabkitError("--n must be 0 or more")
    sizes = _sizes(args.sizes)
    if args.plot and sizes is None:
        raise LabkitError("--plot draws a size sweep; add --sizes")
    if not args.model:
        default_model_notice(None)
    info = BenchRun()
    try:
        frame = run_bench(
            args.model or [None],
            args.strategy or ["zero-shot"],
            args.n,
            args.workers,
            args.out,
            seed=args.seed,
            budget_usd=args.budget_usd,
            progress=sys.stderr.isatty(),
            run_info=info,
            sizes=sizes,
        )
    except KeyboardInterrupt:  # say what survived, so the user knows a rerun resumes rather than restarts
        if args.out:
            print(
                f"labkit: interrupted after {info.ran} attempts; they are saved in {args.out}: "
                "rerun the same command to resume",
                file=sys.stderr,
            )
        raise
    summary = summarise(frame)
    print(format_table(summary) if len(summary) else "no results")
    if sizes is not None and len(frame):
        _print_sweep(frame, args.plot)
    ran = f"{info.ran} attempts run"
    if info.skipped_done:
        ran += f", {info.skipped_done} already in {args.out} (resumed)"
    print(ran + (f", results in {args.out}" if args.out else ""))
    simulated = [model for model in info.models if getattr(model, "simulated", False)]
    if simulated:
        virtual = all(getattr(model, "virtual_time", False) for model in simulated)
        print(
            "simulated: figures from a simulated model are not Claude's"
            + ("; its latency is virtual time (modelled, not waited for)" if virtual else "")
        )
    if info.stopped_at_budget:
        print(
            f"stopped at budget: spent ${info.spent_usd:.4f} of ${info.budget_usd:.4f}; "
            f"{info.not_run} attempts not run (rerun with the same --out and a larger budget to resume)"
        )
    sys.stdout.flush()
    return 0


def _sizes(text: str | None) -> list[int] | None:
    """--sizes as a list of payload sizes; None without --sizes."""
    from labkit.bench import SWEEP_SIZES

    if text is None:
        return None
    if text == "default":
        return list(SWEEP_SIZES)
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise LabkitError(f"--sizes takes whole numbers separated by commas (e.g. 0,56,1472), not {text!r}") from None


def _print_sweep(frame, plot: str | None) -> None:
    """The sweep table, where its numbers come from, and the plot if asked for."""
    from labkit.bench import NO_PUBLISHED_FIGURE, format_sweep, sweep_summary
    from labkit.evidence import tag

    print()
    print(format_sweep(sweep_summary(frame)))
    print(tag(frame))
    print(NO_PUBLISHED_FIGURE)
    if plot:
        from labkit.plots import accept_by_size

        try:
            accept_by_size(frame).savefig(plot, dpi=150)
        except OSError as error:
            raise LabkitError(f"cannot write the plot to {plot} ({error.strerror}); choose another --plot") from None
        print(f"plot saved to {plot}")
