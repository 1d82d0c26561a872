"""`labkit bench`: many varied echo requests through model × strategy, judged, resumable, summarised.

Why: one ping says little about a model; a thousand realistic requests (sizes 0-1472, iputils/zero/random/ascii
payloads, varied IDs, TOS/TTL, ~15 % IPv6) give rates with confidence intervals and show which fields a model gets
wrong. Requests depend only on (seed, index), so a run is reproducible, resumable and independent of --workers.

Results (one row per attempt; the JSONL file and ``run_bench``'s DataFrame share these columns, which
labkit.plots reads):

    model            registry name ("simulated:7", "claude:claude-haiku-4-5", "reference", ...)
    model_id         provider's id ("simulated" for the simulated model)
    simulated        True when the model is simulated (never Claude's output)
    strategy         prompt strategy name ("zero-shot", "few-shot", "tool-use", ...)
    index            request number 0..n-1; (model, strategy, index) is the resume key
    seed             request seed; the same (seed, index) always gives the same request
    ip_version       4 or 6
    payload_len      ICMP data bytes (0..1472 for IPv4, 0..1452 for IPv6)
    payload_pattern  "iputils" | "zeros" | "random" | "ascii"
    tos, ttl         IPv4 TOS / TTL, or IPv6 traffic class / hop limit
    request_hex      the request (IP packet) as hex
    reply_hex        the parsed reply as hex, or None when the answer held no usable packet
    raw_text         the model's final text
    parse_error      why no reply was parsed, else None
    valid_reply      the answer parsed into a packet (hex found, plausible length)
    accepted         the judge says Linux ping would accept the reply
    judge_reason     the judge's one-line reason ("accepted" or why the assumed receiver drops it)
    byte_errors      bytes that differ from the reference reply (judge.hallucinated); 0 when no reply
    reply_bytes      bytes compared (length of the longer of reply and reference); 0 when no reply
    wrong_fields     names of fields the judge marked wrong (list of str, e.g. ["icmp.chksum"])
    causes           labkit.taxonomy causes of the differing digits (list of str, e.g. ["checksum-lost-carry"])
    correct          every byte right (free choices such as IPv4 id/TTL allowed) and accepted
    latency_s        model latency in seconds (virtual for simulated models)
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens
    cost_usd         cost of this attempt (0 for simulated/reference)

``summarise(df)`` returns one row per (model, strategy) with:

    model, strategy, simulated, n,
    valid_rate, valid_lo, valid_hi          valid-reply rate and its 95 % Wilson interval
    accept_rate, accept_lo, accept_hi       receiver-accept rate and its 95 % Wilson interval
    correct_rate                            share of attempts with every byte right (see `correct`)
    byte_error_rate                         sum(byte_errors) / sum(reply_bytes) over valid replies
    top_wrong_fields                        "icmp.chksum 12%, ip.src 3%" (share of attempts, top 3)
    causes                                  "substitution 4, checksum-lost-carry 2" (replies per cause, top 3)
    latency_p50_s, latency_p95_s
    input_tokens_mean, output_tokens_mean
    cost_usd_total, cost_per_reply_usd      cost_per_reply_usd = total cost / attempts
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from labkit.errors import ArgumentError, LabkitError
from labkit.evidence import wilson_interval  # noqa: F401 - re-exported: bench.wilson_interval
from labkit.packets import PING_TIMEVAL_BYTES, ping_payload
from labkit.pcap import bounded_pool
from labkit.ratelimit import checked_budget
from labkit.taxonomy import causes_of, taxonomy_counts

# What fits in one 1500-byte Ethernet MTU without fragmenting: 1500 - 20 (IPv4) - 8 (ICMP); IPv6 has 40.
MAX_PAYLOAD_V4 = 1472
MAX_PAYLOAD_V6 = 1452
IPV6_SHARE = 0.15
PAYLOAD_PATTERNS = ("iputils", "zeros", "random", "ascii")
WINDOWS_PING_TEXT = b"abcdefghijklmnopqrstuvwabcdefghi"  # what Windows ping sends

COLUMNS = (
    "model",
    "model_id",
    "simulated",
    "strategy",
    "index",
    "seed",
    "ip_version",
    "payload_len",
    "payload_pattern",
    "tos",
    "ttl",
    "request_hex",
    "reply_hex",
    "raw_text",
    "parse_error",
    "valid_reply",
    "accepted",
    "judge_reason",
    "byte_errors",
    "reply_bytes",
    "wrong_fields",
    "correct",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "checksum_additions",
    "causes",
)
# `labkit bench --sizes` with no list: ping's empty, timestamp-only and default sizes, then up to a full MTU.
SWEEP_SIZES = (0, 16, 56, 128, 256, 512, 1024, 1472)
NO_PUBLISHED_FIGURE = (
    "No published figure exists for how well LLMs compute internet checksums or copy N hex "
    "digits: a sweep of a real model (claude, or messages:<id>@<url>) would be the first."
)


# --- requests ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchRequest:
    index: int
    packet: bytes
    ip_version: int
    payload_len: int
    payload_pattern: str
    tos: int
    ttl: int


def _payload_size(rng: random.Random, limit: int) -> int:
    """Mostly ping's default 56, then small, large and full-MTU sizes; 0 and the limit both occur."""
    roll = rng.random()
    if roll < 0.40:
        return 56
    if roll < 0.60:
        return rng.randint(0, 64)
    if roll < 0.90:
        return rng.randint(65, limit)
    return limit if roll < 0.95 else 0


def _payload(rng: random.Random, pattern: str, size: int) -> bytes:
    if pattern == "zeros":
        return bytes(size)
    if pattern == "random":
        return rng.randbytes(size)
    if pattern == "ascii":
        return (WINDOWS_PING_TEXT * (size // len(WINDOWS_PING_TEXT) + 1))[:size]
    # iputils' data with a random send time, drawn as before so a seed keeps its requests (ping_payload
    # rounds to whole microseconds, which undoes the float's error at these magnitudes).
    if size < PING_TIMEVAL_BYTES:
        return ping_payload(0.0, size)
    seconds, micros = rng.randint(1_600_000_000, 1_800_000_000), rng.randrange(1_000_000)
    return ping_payload(seconds + micros / 1_000_000, size)


def make_request(seed: int, index: int, payload_len: int | None = None) -> BenchRequest:
    """The request number `index` of run `seed`: deterministic and independent of every other index.

    With `payload_len` (a size sweep) the request is IPv4 with exactly that many data bytes, so payload
    length and the number of checksum additions are the only things that vary systematically."""
    from labkit.packets import echo_request, echo_request_v6

    rng = random.Random(f"labkit-bench:{seed}:{index}" + ("" if payload_len is None else f":{payload_len}"))
    version = 6 if rng.random() < IPV6_SHARE else 4
    size = _payload_size(rng, MAX_PAYLOAD_V6 if version == 6 else MAX_PAYLOAD_V4)
    if payload_len is not None:
        version, size = 4, checked_size(payload_len)
    pattern = rng.choices(PAYLOAD_PATTERNS, weights=(0.5, 0.15, 0.2, 0.15))[0]
    payload = _payload(rng, pattern, size)
    ident = rng.randrange(0x10000)
    seq = rng.randint(1, 200) if rng.random() < 0.9 else rng.randrange(0x10000)
    ttl = rng.choices((64, 128, 255, rng.randint(1, 255)), weights=(0.6, 0.2, 0.1, 0.1))[0]
    tos = rng.choices((0x00, 0x10, 0x20, 0xB8, rng.randrange(0, 256, 4)), weights=(0.8, 0.05, 0.05, 0.05, 0.05))[0]
    if version == 6:
        src = f"fd00:{rng.randrange(0x10000):x}::{rng.randint(1, 0xFFFF):x}"
        dst = f"fd00:{rng.randrange(0x10000):x}::{rng.randint(1, 0xFFFF):x}"
        packet = echo_request_v6(src, dst, ident=ident, seq=seq, payload=payload, hlim=ttl)
        if tos:  # scapy's echo_request_v6 has no traffic class argument: set it in the header's first bytes
            first = (6 << 28) | (tos << 20) | (int.from_bytes(packet[0:4], "big") & 0xFFFFF)
            packet = first.to_bytes(4, "big") + packet[4:]
    else:
        src = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
        dst = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
        packet = echo_request(
            src,
            dst,
            ident=ident,
            seq=seq,
            payload=payload,
            ttl=ttl,
            tos=tos,
            ip_id=rng.randrange(0x10000),
            df=rng.random() < 0.7,
        )
    return BenchRequest(index, packet, version, size, pattern, tos, ttl)


def make_requests(seed: int, n: int) -> Iterator[BenchRequest]:
    return (make_request(seed, index) for index in range(n))


# --- one attempt -------------------------------------------------------------------------------------------


def attempt_row(model, strategy, request: BenchRequest, seed: int) -> dict:
    """Ask the model once, judge the answer, and flatten both into one result row."""
    from labkit.judge import judge
    from labkit.models.mechanisms import checksum_additions
    from labkit.stack import echo_reply

    attempt = model.attempt(request.packet, strategy)
    expected = echo_reply(request.packet)
    verdict = judge(request.packet, attempt.reply)
    valid = attempt.reply is not None
    return {
        "model": model.name,
        "model_id": attempt.model_id,
        "simulated": bool(attempt.simulated),
        "strategy": attempt.strategy,
        "index": request.index,
        "seed": seed,
        "ip_version": request.ip_version,
        "payload_len": request.payload_len,
        "payload_pattern": request.payload_pattern,
        "tos": request.tos,
        "ttl": request.ttl,
        "request_hex": request.packet.hex(),
        "reply_hex": attempt.reply.hex() if valid else None,
        "raw_text": attempt.raw_text,
        "parse_error": attempt.parse_error,
        "valid_reply": valid,
        "accepted": bool(verdict.accepted),
        "judge_reason": verdict.reason,
        "byte_errors": len(verdict.hallucinated) if valid else 0,
        "reply_bytes": len(verdict.byte_ok) if valid else 0,
        "wrong_fields": list(verdict.wrong_fields),
        "correct": bool(verdict.correct),
        "latency_s": float(attempt.latency_s),
        "input_tokens": attempt.usage.input_tokens,
        "output_tokens": attempt.usage.output_tokens,
        "cache_read_tokens": attempt.usage.cache_read_tokens,
        "cache_write_tokens": attempt.usage.cache_write_tokens,
        "cost_usd": float(attempt.cost_usd or 0.0),
        "checksum_additions": checksum_additions(expected) if expected is not None else 0,
        "causes": list(causes_of(verdict.causes)),
    }


# --- results file ------------------------------------------------------------------------------------------


class ResultsFile:
    """Append-only JSONL, one attempt a line, flushed as each finishes so an interrupted run loses at most the
    attempt in flight. A cut last line (no newline) is dropped on open; that attempt simply runs again."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        if path is not None and not str(path).strip():
            raise ArgumentError("out", str(path), "is empty; give a file name such as bench.jsonl")
        self.path = Path(path) if path is not None else None
        self.rows: list[dict] = []
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        if self.path.is_dir():
            raise ArgumentError("out", str(self.path), "is a directory; give a file name")
        if self.path.exists() and not self.path.is_file():  # /dev/full, a pipe: reading it to resume never ends
            raise ArgumentError("out", str(self.path), "is not a regular file (a device or pipe); give a file name")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise ArgumentError("out", str(self.path), "cannot write (permission denied); choose another file")
        if not self.path.exists():
            parent = self.path.parent
            if not parent.is_dir():  # checked now, not after the first (possibly paid) attempt
                raise ArgumentError(
                    "out", str(self.path), f"directory {parent} does not exist; create it or choose another"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ArgumentError(
                    "out", str(self.path), f"cannot write in {parent} (permission denied); choose another"
                )
            return
        data = self.path.read_bytes()
        complete, _, tail = data.rpartition(b"\n")
        if tail:  # the previous run was killed mid-line: drop the fragment, keep everything before it
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete) + 1 if complete else 0)
        for number, line in enumerate(complete.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                (row["model"], row["strategy"], row["index"])
            except (ValueError, KeyError, TypeError):
                raise ArgumentError(
                    "out",
                    str(self.path),
                    f"line {number} is not a labkit bench result; remove that line or use another",
                ) from None
            self.rows.append(row)

    def done_keys(self) -> set[tuple[str, str, int]]:
        return {(row["model"], row["strategy"], int(row["index"])) for row in self.rows}

    def append(self, row: dict) -> None:
        with self._lock:
            self.rows.append(row)
            if self.path is None:
                return
            if self._handle is None:
                try:
                    self._handle = open(self.path, "a", encoding="utf-8")
                except OSError as exc:
                    problem = f"cannot write ({exc.strerror}); choose another"
                    raise ArgumentError("out", str(self.path), problem) from None
            self._handle.write(json.dumps(row, separators=(",", ":")) + "\n")
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


# --- running -----------------------------------------------------------------------------------------------


@dataclass
class BenchRun:
    """What run_bench did besides the rows: for the CLI's closing lines."""

    planned: int = 0
    skipped_done: int = 0
    ran: int = 0
    spent_usd: float = 0.0
    stopped_at_budget: bool = False
    budget_usd: float | None = None
    not_run: int = 0
    models: list = field(default_factory=list)


def _resolve_models(models: Iterable) -> list:
    from labkit.models.registry import get_model

    resolved: dict[str, object] = {}
    for model in models:
        built = get_model(model) if isinstance(model, str) or model is None else model
        resolved.setdefault(built.name, built)  # a model given twice runs once: its rows share one key
    return list(resolved.values())


def run_bench(
    models: Iterable = ("simulated",),
    strategies: Iterable = ("zero-shot",),
    n: int = 100,
    workers: int | None = None,
    out: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    budget_usd: float | None = None,
    progress: bool = False,
    run_info: BenchRun | None = None,
    sizes: Iterable[int] | None = None,
):
    """Run n attempts for every model × strategy and return all their rows as a DataFrame (ordered by model,
    strategy, index whatever `workers` was). Rows already in `out` are not run again. `budget_usd` caps what
    this call spends: no new attempt starts once it is reached. `models` are registry names or Model objects;
    `strategies` are names, paths to .py files or Strategy objects (labkit.strategy_files).
    `progress` shows a tqdm bar (a widget in Jupyter, stderr in a terminal). Bad arguments raise
    ArgumentError naming the parameter, before any attempt.
    """
    plan = plan_bench(
        models, strategies, n, workers, out, seed=seed, budget_usd=budget_usd, run_info=run_info, sizes=sizes
    )
    execute_plan(plan, progress)
    return plan_frame(plan)


@dataclass
class BenchPlan:
    """Everything run_bench decided before the first attempt: checked arguments, the open results file and the
    attempts still to run. Its stages (plan_bench, execute_plan, plan_frame) can be run one by one."""

    models: list
    strategies: list[str]
    n: int
    workers: int
    seed: int
    budget_usd: float | None
    results: ResultsFile
    tasks: list[tuple[object, str, int]]
    requests: dict[int, BenchRequest]
    info: BenchRun
    chosen: dict = field(default_factory=dict)  # strategy name -> Strategy (built-in, a student's file or object)


def _checked_strategies(strategies: Iterable) -> dict:
    """Name -> Strategy for names, .py paths and Strategy objects (labkit.strategy_files); one given twice runs
    once."""
    from labkit.strategy_files import resolve_strategies, resolve_strategy

    specs = list(strategies)
    for spec in specs:
        try:
            resolve_strategy(spec)
        except (KeyError, ValueError, LabkitError) as exc:
            raise ArgumentError("strategies", spec, str(exc)) from None
    if not specs:
        raise ArgumentError("strategies", specs, "give at least one strategy")
    try:
        return resolve_strategies(specs)
    except LabkitError as exc:
        raise ArgumentError("strategies", specs, str(exc)) from None


def _checked_workers(workers: int | None, models: list) -> int:
    if workers is None:
        return 1 if all(getattr(model, "virtual_time", True) for model in models) else 4
    if workers < 1:
        raise ArgumentError("workers", workers, "must be 1 or more")
    return workers


def plan_bench(
    models: Iterable,
    strategies: Iterable,
    n: int,
    workers: int | None,
    out: str | os.PathLike | None,
    *,
    seed: int = 0,
    budget_usd: float | None = None,
    run_info: BenchRun | None = None,
    sizes: Iterable[int] | None = None,
) -> BenchPlan:
    """Stage 1: check every argument, open `out` and list the attempts it does not hold yet (with `sizes`, n
    attempts per payload size, so plan.n counts them all)."""
    if n < 0:
        raise ArgumentError("n", n, "must be 0 or more")
    checked_budget(budget_usd)
    chosen = _checked_strategies(strategies)
    names = list(chosen)
    model_objects = _resolve_models(models)
    info = run_info if run_info is not None else BenchRun()
    info.budget_usd, info.models = budget_usd, model_objects
    worker_count = _checked_workers(workers, model_objects)
    results = ResultsFile(out)
    _check_seed(results, seed, out)
    sizes = None if sizes is None else list(sizes)
    size_of = sweep_plan(sizes)
    total = n * (len(sizes) if sizes else 1)
    _check_sizes(results, size_of, total, out)
    done = results.done_keys()
    tasks = [
        (model, strategy, index)
        for index in range(total)
        for model in model_objects
        for strategy in names
        if (model.name, strategy, index) not in done
    ]
    info.planned = total * len(model_objects) * len(names)
    info.skipped_done = info.planned - len(tasks)
    # Built here, in this thread, before any attempt: scapy and the per-index seeds stay off the worker threads.
    requests = {index: make_request(seed, index, size_of(index)) for index in sorted({task[2] for task in tasks})}
    return BenchPlan(
        model_objects, names, total, worker_count, seed, budget_usd, results, tasks, requests, info, chosen
    )


def execute_plan(plan: BenchPlan, progress: bool = False) -> None:
    """Stage 2: run the planned attempts (at most plan.workers at once), appending each row as it finishes;
    no new attempt starts once the budget is spent."""
    from tqdm.auto import tqdm

    info = plan.info
    bar = tqdm(total=len(plan.tasks), unit="attempt", desc="bench", file=sys.stderr, disable=not progress)

    def over_budget() -> bool:
        return plan.budget_usd is not None and info.spent_usd >= plan.budget_usd

    def run(task: tuple) -> dict:
        model, strategy, index = task
        return attempt_row(model, plan.chosen[strategy], plan.requests[index], plan.seed)

    try:
        with bar:
            for _, row in bounded_pool(plan.tasks, run, plan.workers, over_budget):
                plan.results.append(row)  # in this thread only: rows, spending and the bar need no lock
                info.ran += 1
                info.spent_usd += row["cost_usd"]
                bar.update()
    finally:
        plan.results.close()
    if info.ran < len(plan.tasks):
        info.stopped_at_budget, info.not_run = True, len(plan.tasks) - info.ran


def plan_frame(plan: BenchPlan):
    """Stage 3: the planned rows (resumed and new) as a DataFrame ordered by model, strategy, index."""
    import pandas as pd

    model_order = {model.name: i for i, model in enumerate(plan.models)}
    strategy_order = {name: i for i, name in enumerate(plan.strategies)}
    rows = [
        row
        for row in plan.results.rows
        if row["model"] in model_order and row["strategy"] in strategy_order and int(row["index"]) < plan.n
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if frame.empty:
        return frame
    return (
        frame.assign(_m=frame["model"].map(model_order), _s=frame["strategy"].map(strategy_order))
        .sort_values(["_m", "_s", "index"], kind="stable")
        .drop(columns=["_m", "_s"])
        .reset_index(drop=True)
    )


def checked_size(payload_len: int) -> int:
    """A sweep size: whole bytes that fit one IPv4 packet on a 1500-byte MTU."""
    if not isinstance(payload_len, int) or isinstance(payload_len, bool) or not 0 <= payload_len <= MAX_PAYLOAD_V4:
        raise ArgumentError(
            "sizes", payload_len, f"each payload size must be a whole number from 0 to {MAX_PAYLOAD_V4}"
        )
    return payload_len


def sweep_plan(sizes: Iterable[int] | None):
    """index -> payload size for a sweep (sizes interleaved, so a stopped run covers every size), or
    index -> None for the usual varied requests."""
    if sizes is None:
        return lambda index: None
    chosen = [checked_size(size) for size in sizes]
    if not chosen:
        raise ArgumentError("sizes", [], "give at least one payload size, e.g. sizes=[0, 56, 1472]")
    return lambda index: chosen[index % len(chosen)]


def _check_sizes(results: ResultsFile, size_of, total: int, out) -> None:
    """Refuse to resume a file whose rows were asked with other payload sizes (their indexes mean other packets)."""
    for row in results.rows:
        index = int(row["index"])
        wanted = size_of(index)
        if index < total and wanted is not None and row.get("payload_len") != wanted:
            raise LabkitError(
                f"{out} holds results for other payload sizes (index {index} has "
                f"{row.get('payload_len')} bytes, not {wanted}); choose another out file"
            )


def _check_seed(results: ResultsFile, seed: int, out) -> None:
    seeds = {row.get("seed") for row in results.rows}
    if seeds and seeds != {seed}:
        other = ", ".join(str(s) for s in sorted(seeds, key=str))
        raise ArgumentError(
            "seed", seed, f"{out} holds results for seed {other}; resume with that seed or choose another results file"
        )


# --- summary -----------------------------------------------------------------------------------------------


def summarise(df):
    """One row per (model, strategy); columns are listed in this module's docstring."""
    import pandas as pd

    columns = [
        "model",
        "strategy",
        "simulated",
        "n",
        "valid_rate",
        "valid_lo",
        "valid_hi",
        "accept_rate",
        "accept_lo",
        "accept_hi",
        "correct_rate",
        "byte_error_rate",
        "top_wrong_fields",
        "latency_p50_s",
        "latency_p95_s",
        "input_tokens_mean",
        "output_tokens_mean",
        "cost_usd_total",
        "cost_per_reply_usd",
        "causes",
    ]
    rows: list[dict] = []
    if df is None or len(df) == 0:
        return pd.DataFrame(rows, columns=columns)
    for (model, strategy), group in df.groupby(["model", "strategy"], sort=False):
        n = len(group)
        valid = int(group["valid_reply"].astype(bool).sum())
        accepted = int(group["accepted"].astype(bool).sum())
        valid_rows = group[group["valid_reply"].astype(bool)]
        compared = int(valid_rows["reply_bytes"].sum())
        wrong = Counter(name for names in group["wrong_fields"] for name in (names or []))
        top = ", ".join(f"{name} {count / n:.0%}" for name, count in wrong.most_common(3))
        cost = float(group["cost_usd"].sum())
        rows.append(
            {
                "model": model,
                "strategy": strategy,
                "simulated": bool(group["simulated"].astype(bool).any()),
                "n": n,
                "valid_rate": valid / n,
                "valid_lo": wilson_interval(valid, n)[0],
                "valid_hi": wilson_interval(valid, n)[1],
                "accept_rate": accepted / n,
                "accept_lo": wilson_interval(accepted, n)[0],
                "accept_hi": wilson_interval(accepted, n)[1],
                "correct_rate": float(group["correct"].astype(bool).mean()),
                "byte_error_rate": (int(valid_rows["byte_errors"].sum()) / compared) if compared else float("nan"),
                "top_wrong_fields": top or "-",
                "latency_p50_s": float(group["latency_s"].quantile(0.50)),
                "latency_p95_s": float(group["latency_s"].quantile(0.95)),
                "input_tokens_mean": float(group["input_tokens"].mean()),
                "output_tokens_mean": float(group["output_tokens"].mean()),
                "cost_usd_total": cost,
                "cost_per_reply_usd": cost / n,
                "causes": ", ".join(
                    f"{cause} {count}"
                    for cause, count in taxonomy_counts(
                        [c if isinstance(c, list) else [] for c in group.get("causes", [])]
                    ).most_common(3)
                )
                or "-",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _rate(rate: float, low: float, high: float) -> str:
    return f"{rate:6.1%} [{low:.1%}-{high:.1%}]"


def format_table(summary) -> str:
    """The summary as a fixed-width text table for the terminal."""
    headers = [
        "model",
        "strategy",
        "n",
        "valid reply [95% CI]",
        "accepted [95% CI]",
        "exact",
        "byte err",
        "most often wrong",
        "causes (replies)",
        "p50 s",
        "p95 s",
        "tok in",
        "tok out",
        "$/reply",
    ]
    body = []
    for row in summary.itertuples(index=False):
        byte_error = "-" if math.isnan(row.byte_error_rate) else f"{row.byte_error_rate:.2%}"
        body.append(
            [
                row.model + (" (simulated)" if row.simulated and "simulated" not in row.model else ""),
                row.strategy,
                str(row.n),
                _rate(row.valid_rate, row.valid_lo, row.valid_hi),
                _rate(row.accept_rate, row.accept_lo, row.accept_hi),
                f"{row.correct_rate:.1%}",
                byte_error,
                row.top_wrong_fields,
                row.causes,
                f"{row.latency_p50_s:.2f}",
                f"{row.latency_p95_s:.2f}",
                f"{row.input_tokens_mean:.0f}",
                f"{row.output_tokens_mean:.0f}",
                f"{row.cost_per_reply_usd:.5f}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    numeric = {2, 5, 6, 9, 10, 11, 12, 13}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in body)]).rstrip()


# --- size sweep ----------------------------------------------------------------------------------------------


def sweep_summary(df):
    """One row per (model, strategy, payload_len): n, accept rate with its 95 % Wilson interval, additions."""
    import pandas as pd

    columns = [
        "model",
        "strategy",
        "simulated",
        "payload_len",
        "checksum_additions",
        "n",
        "accepted",
        "accept_rate",
        "accept_lo",
        "accept_hi",
    ]
    rows = []
    if df is not None and len(df):
        for (model, strategy, size), group in df.groupby(["model", "strategy", "payload_len"], sort=False):
            n, accepted = len(group), int(group["accepted"].astype(bool).sum())
            low, high = wilson_interval(accepted, n)
            rows.append(
                {
                    "model": model,
                    "strategy": strategy,
                    "simulated": bool(group["simulated"].astype(bool).any()),
                    "payload_len": int(size),
                    "checksum_additions": int(group["checksum_additions"].median()),
                    "n": n,
                    "accepted": accepted,
                    "accept_rate": accepted / n,
                    "accept_lo": low,
                    "accept_hi": high,
                }
            )
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    first = {key: i for i, key in enumerate(dict.fromkeys(zip(frame["model"], frame["strategy"])))}
    order = [first[key] for key in zip(frame["model"], frame["strategy"])]  # as run, then by size
    return (
        frame.assign(_o=order)
        .sort_values(["_o", "payload_len"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def format_sweep(summary) -> str:
    """The sweep as a text table: accept rate against payload length and 16-bit additions."""
    header = f"{'model':<24} {'strategy':<13} {'payload B':>9} {'additions':>9} {'n':>5}  accepted [95% CI]"
    lines = [header, "-" * len(header)]
    for row in summary.itertuples(index=False):
        model = row.model + (" (simulated)" if row.simulated and "simulated" not in row.model else "")
        lines.append(
            f"{model:<24} {row.strategy:<13} {row.payload_len:>9} {row.checksum_additions:>9} {row.n:>5}  "
            f"{_rate(row.accept_rate, row.accept_lo, row.accept_hi)}"
        )
    return "\n".join(lines)
