"""labkit bench: varied deterministic requests, judged rows, resume, budget, workers, summary statistics."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from labkit.bench import (
    COLUMNS,
    MAX_PAYLOAD_V4,
    BenchRun,
    ResultsFile,
    format_table,
    make_request,
    run_bench,
    summarise,
    wilson_interval,
)
from labkit.checksum import verify
from labkit.errors import LabkitError

# --- requests --------------------------------------------------------------------------------------------


def test_requests_are_deterministic_per_seed_and_index():
    assert make_request(3, 17) == make_request(3, 17)
    assert make_request(3, 17).packet != make_request(4, 17).packet
    assert make_request(3, 17).packet != make_request(3, 18).packet


def test_requests_vary_like_real_pings():
    requests = [make_request(0, index) for index in range(600)]
    versions = Counter(r.ip_version for r in requests)
    assert 0.08 < versions[6] / len(requests) < 0.22  # ~15 % IPv6
    assert set(r.payload_pattern for r in requests) == {"iputils", "zeros", "random", "ascii"}
    sizes = [r.payload_len for r in requests]
    assert min(sizes) == 0 and max(sizes) == MAX_PAYLOAD_V4
    assert len(set(sizes)) > 100
    assert len({r.ttl for r in requests}) > 3 and len({r.tos for r in requests}) > 2
    assert len({r.packet[4:6] for r in requests if r.ip_version == 4}) > 100  # IP ids vary


def test_requests_are_well_formed_echo_requests():
    for index in range(200):
        request = make_request(1, index)
        checks = verify(request.packet)
        assert checks and all(check.ok for check in checks), (index, checks)
        if request.ip_version == 4:
            assert request.packet[9] == 1 and request.packet[20] == 8  # ICMP echo request
            assert len(request.packet) == 28 + request.payload_len
            assert (request.packet[1], request.packet[8]) == (request.tos, request.ttl)
        else:
            assert request.packet[6] == 58 and request.packet[40] == 128
            assert len(request.packet) == 48 + request.payload_len
            assert request.packet[7] == request.ttl
            assert ((int.from_bytes(request.packet[0:2], "big") >> 4) & 0xFF) == request.tos


# --- statistics ------------------------------------------------------------------------------------------


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(8, 10)  # textbook example: 0.4902 .. 0.9433
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


# --- results file ----------------------------------------------------------------------------------------


def test_results_file_drops_a_cut_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"model":"m","strategy":"s","index":0,"seed":0}\n{"model":"m","strat')
    results = ResultsFile(path)
    assert results.done_keys() == {("m", "s", 0)}
    assert path.read_text().endswith("}\n")


def test_results_file_refuses_a_foreign_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"model":"m","strategy":"s","index":0}\nhello\n{"model":"m","strategy":"s","index":1}\n')
    with pytest.raises(LabkitError, match="line 2"):
        ResultsFile(path)


# --- running ---------------------------------------------------------------------------------------------


def test_run_bench_rows_have_the_documented_columns_and_judge_verdicts(tmp_path):
    frame = run_bench(["reference"], ["zero-shot"], 20, out=tmp_path / "r.jsonl")
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 20 and list(frame["index"]) == list(range(20))
    assert frame["valid_reply"].all() and frame["accepted"].all()  # the reference stack is always right
    assert (frame["byte_errors"] == 0).all()
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(lines) == 20 and json.loads(lines[0])["judge_reason"] == "accepted"


def test_a_checksum_corrupting_model_is_rejected_and_blamed_on_the_checksum():
    frame = run_bench(["simulated:1:errors=0,icmp_checksum=1.0"], ["zero-shot"], 30)
    assert frame["valid_reply"].all()
    assert not frame["accepted"].any()
    summary = summarise(frame)
    assert summary.loc[0, "accept_rate"] == 0.0
    assert "chksum" in summary.loc[0, "top_wrong_fields"] or "cksum" in summary.loc[0, "top_wrong_fields"]


def test_results_do_not_depend_on_workers():
    one = run_bench(["simulated:5"], ["zero-shot", "few-shot"], 40, workers=1)
    four = run_bench(["simulated:5"], ["zero-shot", "few-shot"], 40, workers=4)
    assert one.drop(columns=["latency_s"]).equals(four.drop(columns=["latency_s"]))
    assert one["latency_s"].tolist() == four["latency_s"].tolist()


def test_resume_runs_only_missing_attempts(tmp_path):
    out = tmp_path / "r.jsonl"
    run_bench(["simulated:2"], ["zero-shot"], 10, out=out)
    info = BenchRun()
    frame = run_bench(["simulated:2"], ["zero-shot", "few-shot"], 15, out=out, run_info=info)
    assert info.skipped_done == 10 and info.ran == 5 + 15
    assert len(frame) == 30
    assert len(out.read_text().splitlines()) == 30
    again = BenchRun()
    run_bench(["simulated:2"], ["zero-shot", "few-shot"], 15, out=out, run_info=again)
    assert again.ran == 0


def test_resume_refuses_another_seed(tmp_path):
    out = tmp_path / "r.jsonl"
    run_bench(["simulated"], ["zero-shot"], 3, out=out, seed=1)
    with pytest.raises(LabkitError, match="seed 1"):
        run_bench(["simulated"], ["zero-shot"], 3, out=out, seed=2)


@pytest.mark.parametrize("workers", [1, 3])
def test_budget_stops_new_attempts(workers):
    info = BenchRun()
    frame = run_bench(["simulated:3"], ["few-shot"], 50, workers=workers, budget_usd=1e-9, run_info=info)
    assert info.stopped_at_budget
    assert 1 <= len(frame) <= workers  # the first attempt(s) spend more than the budget; nothing after starts
    assert info.not_run == 50 - len(frame)


def test_unknown_strategy_is_a_labkit_error():
    with pytest.raises(LabkitError):
        run_bench(["simulated"], ["no-such-strategy"], 1)


def test_summary_table_has_rates_with_intervals():
    frame = run_bench(["simulated:9"], ["zero-shot", "tool-use"], 25)
    summary = summarise(frame)
    assert list(summary["strategy"]) == ["zero-shot", "tool-use"]
    for row in summary.itertuples():
        assert row.valid_lo <= row.valid_rate <= row.valid_hi
        assert row.accept_lo <= row.accept_rate <= row.accept_hi
        assert row.n == 25
    table = format_table(summary)
    assert "zero-shot" in table and "tool-use" in table and "[" in table


# --- --out safety (QA regressions) -------------------------------------------------------------------------


def test_out_that_is_a_device_or_pipe_is_refused(tmp_path):
    # --out /dev/full used to be read "to resume" forever, until the kernel killed labkit for memory.
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(LabkitError, match="not a regular file"):
        run_bench(["reference"], ["zero-shot"], 1, out=fifo)


def test_out_in_a_missing_directory_fails_before_the_first_attempt(tmp_path):
    class Exploding:
        name, simulated, virtual_time = "exploding", False, True

        def attempt(self, *args, **kwargs):
            raise AssertionError("an attempt ran although its result could not be saved")

    with pytest.raises(LabkitError, match="does not exist"):
        run_bench([Exploding()], ["zero-shot"], 1, out=tmp_path / "nope" / "bench.jsonl")


def test_empty_out_is_a_clear_error():
    with pytest.raises(LabkitError, match="out='': is empty"):
        run_bench(["reference"], ["zero-shot"], 1, out="")


def test_run_bench_refuses_a_nan_budget_before_any_attempt() -> None:
    """Notebooks call run_bench directly, so the budget check lives there, not only in the CLI."""
    from labkit.bench import run_bench
    from labkit.errors import LabkitError

    with pytest.raises(LabkitError, match="^budget_usd=nan: must be 0 or more"):
        run_bench(["simulated"], ["zero-shot"], n=1, budget_usd=float("nan"))


# --- size sweep -----------------------------------------------------------------------------------------------


def test_sweep_asks_each_size_and_reports_accept_by_size_and_additions(tmp_path):
    from labkit.bench import format_sweep, sweep_summary

    out = tmp_path / "sweep.jsonl"
    frame = run_bench(["simulated:2", "reference"], ["zero-shot"], 40, out=out, sizes=[0, 1472])
    assert len(frame) == 160 and set(frame["payload_len"]) == {0, 1472} and set(frame["ip_version"]) == {4}
    summary = sweep_summary(frame)
    simulated = summary[summary["model"] == "simulated:2"].set_index("payload_len")
    assert simulated.loc[0, "accept_rate"] > simulated.loc[1472, "accept_rate"]  # falls with size
    assert simulated.loc[0, "accept_lo"] > simulated.loc[1472, "accept_hi"]
    reference = summary[summary["model"] == "reference"]
    assert (reference["accept_rate"] == 1.0).all()  # the judge is not the cause
    assert simulated.loc[1472, "checksum_additions"] > 20 * simulated.loc[0, "checksum_additions"]
    table = format_sweep(summary)
    assert "additions" in table and "1472" in table
    with pytest.raises(LabkitError, match="other payload sizes"):
        run_bench(["simulated:2"], ["zero-shot"], 40, out=out, sizes=[56, 1472])
    again = run_bench(["simulated:2"], ["zero-shot"], 40, out=out, sizes=[0, 1472])  # resumes: nothing new
    assert len(again) == 80


@pytest.mark.parametrize(
    "sizes, why", [([], "at least one payload size"), ([1473], "0 to 1472"), ([-1], "0 to 1472"), ([1.5], "whole")]
)
def test_sweep_sizes_are_checked(sizes, why):
    with pytest.raises(LabkitError, match=why):
        run_bench(["reference"], ["zero-shot"], 1, sizes=sizes)


def test_sweep_plot_and_cli(tmp_path, capsys):
    from labkit.cli import main
    from labkit.plots import accept_by_size

    frame = run_bench(["simulated:1"], ["zero-shot", "tool-use"], 5, sizes=[0, 512])
    figure = accept_by_size(frame)
    assert [axes.get_xlabel() for axes in figure.axes[:2]] == [
        "ICMP payload (bytes)",
        "16-bit additions in the checksums",
    ]
    plot = tmp_path / "sweep.png"
    assert main(["bench", "--model", "simulated:1", "--n", "3", "--sizes", "0,56", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert plot.stat().st_size > 1000
    assert "SIMULATED prediction" in out and "No published figure" in out and "additions" in out
    assert main(["bench", "--plot", str(plot)]) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": -1}, "n=-1: must be 0 or more"),
        ({"workers": 0}, "workers=0: must be 1 or more"),
        ({"strategies": []}, "strategies=[]: give at least one strategy"),
        ({"strategies": ["nope"]}, "strategies='nope': unknown prompt strategy"),
    ],
)
def test_run_bench_errors_name_its_parameters_not_cli_flags(kwargs, message) -> None:
    """A notebook calls run_bench(n=-1): it must read about `n`, not about a --n flag it never typed."""
    from labkit.errors import ArgumentError

    arguments = {"models": ["simulated"], "strategies": ["zero-shot"], "n": 1, **kwargs}
    with pytest.raises(ArgumentError) as caught:
        run_bench(**arguments)
    assert str(caught.value).startswith(message)
    assert "--" not in str(caught.value)


def test_run_bench_stages_run_one_by_one(tmp_path) -> None:
    """plan_bench checks and plans, execute_plan runs, plan_frame collects: a rerun of the plan finds it done."""
    from labkit.bench import execute_plan, plan_bench, plan_frame

    out = tmp_path / "b.jsonl"
    plan = plan_bench(["reference"], ["zero-shot"], 3, None, out)
    assert len(plan.tasks) == 3 and plan.workers == 1 and plan.info.ran == 0
    execute_plan(plan)
    assert plan.info.ran == 3 and len(plan_frame(plan)) == 3
    again = plan_bench(["reference"], ["zero-shot"], 3, None, out)
    assert again.tasks == [] and again.info.skipped_done == 3
