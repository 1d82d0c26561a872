"""`labkit bakeoff`: score a class's strategy files on one hidden, seeded request set; leaderboard and plot."""

from __future__ import annotations

import argparse
import sys

from labkit.cli import default_model_notice
from labkit.errors import LabkitError


def add_parser(subparsers) -> argparse.ArgumentParser:
    from labkit.bakeoff import BAKEOFF_SEED

    parser = subparsers.add_parser(
        "bakeoff",
        help="score many submitted strategy files on one seeded request set: leaderboard and Pareto plot",
        description=(
            "Run every submitted strategy (a .py file, or a directory of them) on the same N seeded requests, "
            "which are never printed, with one model. Prints a leaderboard: accept rate with its 95% interval, "
            "whether it overlaps the leader's, output and input tokens, latency and cost; writes a Pareto plot "
            "of accept rate against output tokens. A submission that fails is reported in one line."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="strategy files (.py) or directories of them")
    parser.add_argument(
        "--model", default=None, metavar="M", help="one model name (default: $LABKIT_MODEL, else simulated)"
    )
    parser.add_argument("--n", type=int, default=200, help="requests per strategy (default: 200)")
    parser.add_argument(
        "--seed", type=int, default=BAKEOFF_SEED, help="request seed; keep yours secret for a set nobody can reproduce"
    )
    parser.add_argument("--workers", type=int, default=None, help="parallel attempts (default: as labkit bench)")
    parser.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        metavar="X",
        help="stop each strategy's run once it has spent X dollars",
    )
    parser.add_argument(
        "--plot",
        default="bakeoff.png",
        metavar="FILE",
        help="where to write the Pareto plot (default: bakeoff.png; 'none' for no plot)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from labkit.bakeoff import leaderboard_table, run_bakeoff, submissions

    if args.n < 1:
        raise LabkitError("--n must be 1 or more")
    if not args.model:
        default_model_notice(None)
    result = run_bakeoff(
        submissions(args.paths),
        model=args.model,
        n=args.n,
        seed=args.seed,
        budget_usd=args.budget_usd,
        workers=args.workers,
    )
    for submission, reason in result.broken:
        print(f"broken: {submission}: {reason}")
    if result.board is None or len(result.board) == 0:
        print("no submission produced results")
        return 1
    print(leaderboard_table(result.board))
    print(
        f"{len(result.board)} strategies x {args.n} requests; '*' = on the Pareto front "
        "(no other entry accepts as often with fewer output tokens)"
    )
    print(str(result.evidence))
    if args.plot.lower() != "none":
        _save_plot(result.board, args.plot)
        print(f"plot: {args.plot}")
    sys.stdout.flush()
    return 0


def _save_plot(board, path: str) -> None:
    from labkit.bakeoff_plot import pareto_figure

    try:
        pareto_figure(board).savefig(path, dpi=120)
    except OSError as error:
        raise LabkitError(f"{path}: cannot write the plot ({error.strerror or error})") from None
