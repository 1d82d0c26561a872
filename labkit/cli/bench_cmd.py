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
    parser.add_argument(
        "--model", action="extend", nargs="+", default=None, metavar="M",
        help="registry name(s), repeatable: simulated[:seed], reference, claude[:id], replay:FILE (default: "
        "$LABKIT_MODEL, else simulated)",
    )
    parser.add_argument(
        "--strategy", action="extend", nargs="+", default=None, metavar="S",
        help="prompt strategy name(s): zero-shot, spec, few-shot, step-by-step, fields-only, tool-use, "
        "or a PATH to a .py file defining your own (default: zero-shot)",
    )
    parser.add_argument("--n", type=int, default=100, help="attempts per model × strategy (default: 100)")
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel attempts (default: 1 for simulated, 4 for real models)"
    )
    parser.add_argument("--seed", type=int, default=0, help="request seed (default: 0)")
    parser.add_argument(
        "--budget-usd", type=float, default=None, metavar="X",
        help="stop starting new attempts once this run has spent X dollars",
    )
    parser.add_argument("--out", default=None, metavar="FILE.jsonl", help="append each attempt here; resume from it")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from labkit.bench import BenchRun, format_table, run_bench, summarise

    if args.n < 0:
        raise LabkitError("--n must be 0 or more")
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
        )
    except KeyboardInterrupt:  # say what survived, so the user knows a rerun resumes rather than restarts
        if args.out:
            print(f"labkit: interrupted after {info.ran} attempts; they are saved in {args.out}: "
                  "rerun the same command to resume", file=sys.stderr)
        raise
    summary = summarise(frame)
    print(format_table(summary) if len(summary) else "no results")
    ran = f"{info.ran} attempts run"
    if info.skipped_done:
        ran += f", {info.skipped_done} already in {args.out} (resumed)"
    print(ran + (f", results in {args.out}" if args.out else ""))
    simulated = [model for model in info.models if getattr(model, "simulated", False)]
    if simulated:
        virtual = all(getattr(model, "virtual_time", False) for model in simulated)
        print("simulated: figures from a simulated model are not Claude's"
              + ("; its latency is virtual time (modelled, not waited for)" if virtual else ""))
    if info.stopped_at_budget:
        print(
            f"stopped at budget: spent ${info.spent_usd:.4f} of ${info.budget_usd:.4f}; "
            f"{info.not_run} attempts not run (rerun with the same --out and a larger budget to resume)"
        )
    sys.stdout.flush()
    return 0
