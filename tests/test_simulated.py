"""The simulated model: mechanisms whose failures grow with the work (digits copied, additions made), rates
within sampling error of the analytic prediction, determinism, honest labels, per-turn latency, and the fit."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit.checksum import internet_checksum
from labkit.errors import LabkitError
from labkit.evidence import wilson_interval
from labkit.judge import judge
from labkit.models.fit import classify, compare, fit, fit_recording, fit_step_rate, load_attempts
from labkit.models.mechanisms import (
    PARAMETERS,
    Mechanisms,
    checksum_additions,
    markdown_table,
    model_checksum,
    predict_accept,
    strategy_table,
)
from labkit.models.registry import get_model
from labkit.models.simulated import SimulatedConfig, SimulatedModel, estimate_tokens
from labkit.packets import echo_request, echo_request_v6, to_hex
from labkit.pricing import cost_usd
from labkit.prompts import STRATEGIES, SimulationTraits, ZeroShot, get_strategy
from labkit.stack import echo_reply

V4 = [echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=seq) for seq in range(40)]
V6 = [echo_request_v6("fd00::1", "fd00::2", ident=0x4321, seq=seq) for seq in range(40)]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "simulator.md"


def sized(size: int, count: int = 40) -> list[bytes]:
    return [echo_request(ident=i, seq=i, payload=bytes((j * 7 + i) & 0xFF for j in range(size))) for i in range(count)]


def accept_count(model: SimulatedModel, requests: list[bytes], strategy: str, n: int) -> int:
    return sum(
        bool(judge(requests[i % len(requests)], model.attempt(requests[i % len(requests)], strategy).reply).accepted)
        for i in range(n)
    )


def test_accept_rate_falls_with_packet_size() -> None:
    model = SimulatedModel(seed=5)
    rates = [accept_count(model, sized(size), "zero-shot", 300) / 300 for size in (0, 256, 1472)]
    assert rates[0] > rates[1] > rates[2], rates
    lo_small = wilson_interval(round(rates[0] * 300), 300)[0]
    hi_big = wilson_interval(round(rates[2] * 300), 300)[1]
    assert lo_small > hi_big  # not a wobble: the intervals are apart


@pytest.mark.parametrize(
    "size, strategy",
    [(56, "zero-shot"), (512, "zero-shot"), (56, "fields-only"), (1024, "tool-use"), (56, "step-by-step")],
)
def test_simulated_accept_rate_matches_the_mechanisms_prediction(size: int, strategy: str) -> None:
    # The simulation and the closed-form product of the mechanisms are written independently; they must agree.
    model, requests, n = SimulatedModel(seed=11, ttl_copied=0.0), sized(size, 20), 400
    chosen = get_strategy(strategy)
    traits = chosen.simulation
    predicted = predict_accept(
        echo_reply(requests[0]),
        chosen.answer_format == "fields",
        traits.arithmetic == "tool",
        model.config.mechanisms,
        traits.add_factor,
        traits.decision_factor,
        traits.prose_factor,
    )
    low, high = wilson_interval(accept_count(model, requests, strategy, n), n, z=3.3)
    assert low - 0.02 <= predicted <= high + 0.02, (predicted, low, high)


def test_more_additions_mean_more_checksum_slips_and_a_tool_removes_them() -> None:
    mech = Mechanisms(add_slip=0.01)
    rng = random.Random(1)
    rates = []
    for size in (8, 100, 1400):
        covered = bytes(range(256)) * (size // 256) + bytes(size % 256)
        wrong = sum(model_checksum(rng, covered, mech, mech.add_slip) != internet_checksum(covered) for _ in range(500))
        rates.append(wrong / 500)
        assert abs(wrong / 500 - (1 - (1 - 0.01) ** (size // 2 - 1))) < 0.08  # one chance per addition
    assert rates[0] < rates[1] < rates[2]
    assert checksum_additions(echo_reply(sized(1472, 1)[0])) > 20 * checksum_additions(echo_reply(sized(0, 1)[0]))
    tool = SimulatedModel(seed=4, copy_slip=0, type_copied=0, unswapped=0, prose=0, add_slip=1.0)
    assert accept_count(tool, sized(1472, 5), "tool-use", 20) == 20  # code adds: no addition slips
    assert accept_count(tool, sized(1472, 5), "fields-only", 20) == 0  # the model adds: every sum slips


def test_copy_slips_hit_only_copied_digits_and_can_shift_the_hex() -> None:
    model = SimulatedModel(seed=2, copy_slip=0.02, add_slip=0, type_copied=0, unswapped=0, ttl_copied=0, prose=0)
    texts = [model.attempt(r, "zero-shot").raw_text for r in sized(200, 40)]
    lengths = Counter(len(t) - len(to_hex(echo_reply(sized(200, 1)[0]))) for t in texts)
    assert lengths[-1] and lengths[1] and lengths[0]  # dropped, repeated, and same-length slips all occur
    fields = [model.attempt(r, "fields-only") for r in V4[:20]]
    assert all(a.raw_text.startswith("{") for a in fields)
    wrong = {name for a in fields if a.reply is not None for name in judge(a.request, a.reply).wrong_fields}
    assert wrong <= {"ip.src", "ip.dst"}  # a fields answer copies only the addresses


def test_decisions_each_have_their_own_rate() -> None:
    for decision, field in (("type_copied", "icmp.type"), ("unswapped", "ip.src")):
        model = SimulatedModel(seed=3, errors=0, **{decision: 1.0})
        attempt = model.attempt(V4[0])
        verdict = judge(V4[0], attempt.reply)
        assert not verdict.accepted and field in verdict.wrong_fields
    kept_ttl = SimulatedModel(seed=3, errors=0, ttl_copied=1.0).attempt(echo_request(ttl=17))
    assert kept_ttl.reply[8] == 17 and judge(echo_request(ttl=17), kept_ttl.reply).accepted  # TTL is Linux's choice


def test_prose_and_truncation_at_max_tokens() -> None:
    prose = SimulatedModel(seed=1, errors=0, prose=1.0).attempt(V4[0])
    assert prose.reply is None and not re.search(r"[0-9a-f]{40}", prose.raw_text)

    class Tight(ZeroShot):
        name = "tight-zero-shot"

        def build(self, request: bytes):
            prompt = super().build(request)
            return type(prompt)(prompt.system, prompt.user, prompt.tools, max_tokens=20)

    cut = SimulatedModel(seed=1, errors=0).attempt(V4[0], Tight())
    assert not judge(V4[0], cut.reply).accepted and cut.usage.output_tokens <= 21
    assert to_hex(echo_reply(V4[0])).startswith(cut.raw_text)


def test_a_strategy_without_simulation_traits_fails_loudly() -> None:
    class Bare(ZeroShot):
        name = "bare"
        simulation = None

    with pytest.raises(LabkitError, match="carries no SimulationTraits"):
        SimulatedModel(seed=1).attempt(V4[0], Bare())
    assert all(isinstance(s.simulation, SimulationTraits) for s in STRATEGIES.values())
    with pytest.raises(LabkitError):
        SimulationTraits(arithmetic="abacus")

    class ToolWithoutCalls(ZeroShot):
        name = "tool-without-calls"
        simulation = SimulationTraits(arithmetic="tool")

    with pytest.raises(LabkitError, match="tool_inputs"):
        SimulatedModel(seed=1).attempt(V4[0], ToolWithoutCalls())


def test_tool_use_latency_includes_the_extra_turn_and_nothing_is_clipped() -> None:
    model = SimulatedModel(seed=8)
    fields = [model.attempt(r, "fields-only").latency_s for r in V4]
    tools = [model.attempt(r, "tool-use").latency_s for r in V4]
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    assert median(tools) > median(fields) + 0.3  # a second time-to-first-token, and the call's tokens
    big = [model.attempt(r, "zero-shot").latency_s for r in sized(1472, 10)]
    assert min(big) > 1472 * 2 / 2 / 80 * 0.9  # ~1,500 output tokens at 80 tokens/s: no 5 s clip
    assert len(set(big)) == len(big)


def test_defaults_are_documented_with_their_sources() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8")
    assert strategy_table() in DOCS.read_text(encoding="utf-8")
    for parameter in PARAMETERS:
        assert parameter.source.startswith("assumed") or re.search(r"arXiv|github|LessWrong", parameter.source)
    assert Mechanisms() == Mechanisms(**{p.name: p.default for p in PARAMETERS})


def test_options_scale_set_and_refuse() -> None:
    assert SimulatedModel(errors=0).config.mechanisms.copy_slip == 0
    perfect = SimulatedModel(seed=1, errors=0)
    assert all(judge(r, perfect.attempt(r, s).reply).correct for r in V4[:3] + V6[:3] for s in STRATEGIES)
    forced = SimulatedModel(seed=1, errors=0, icmp_checksum=1.0)
    for request in V4[:5] + V6[:5]:
        wrong = judge(request, forced.attempt(request).reply).wrong_fields
        assert any(name.endswith(("chksum", "cksum")) for name in wrong), wrong
    for bad in ({"copy_slip": 1.5}, {"bogus": 0.1}, {"icmp_checksum": 2.0}, {"latency": -1.0}):
        with pytest.raises(LabkitError):
            SimulatedModel(**bad)


def test_config_save_and_load(tmp_path) -> None:
    config = SimulatedModel(seed=1, icmp_checksum=0.3, add_slip=0.05, latency=1.5).config
    config.save(tmp_path / "stand-in.json")
    assert SimulatedConfig.load(tmp_path / "stand-in.json") == config
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(LabkitError):
        SimulatedConfig.load(tmp_path / "broken.json")


def test_fit_recovers_the_mechanisms_and_predicts_accept_by_size(tmp_path) -> None:
    from labkit.bench import make_request

    truth = SimulatedModel(
        seed=21, copy_slip=0.002, add_slip=0.02, type_copied=0.05, prose=0.03, stands_in_for="claude-sonnet-4-5"
    )
    attempts = [truth.attempt(make_request(1, i).packet, s) for i in range(300) for s in ("zero-shot", "tool-use")]
    path = tmp_path / "attempts.jsonl"
    path.write_text("".join(json.dumps(a.to_dict()) + "\n" for a in attempts))
    config = fit_recording(path)
    fitted = config.mechanisms
    assert fitted.copy_slip == pytest.approx(0.002, rel=0.35)
    assert fitted.add_slip == pytest.approx(0.02, rel=0.35)
    assert fitted.type_copied == pytest.approx(0.05, abs=0.025) and fitted.prose == pytest.approx(0.03, abs=0.02)
    assert fitted.output_tokens_per_s == pytest.approx(80, rel=0.1) and fitted.ttft_s == pytest.approx(0.6, rel=0.2)
    assert config.stands_in_for == "claude-sonnet-4-5"
    assert "fitted" in config.source and "assumed: share_substitution" in config.source
    rows = compare(attempts, config)
    assert len(rows) >= 3 and all(r["observed_lo"] - 0.05 <= r["predicted"] <= r["observed_hi"] + 0.05 for r in rows)
    stand_in = get_model(f"simulated:3:fit={path}")
    assert stand_in.config.mechanisms == fitted and stand_in.simulated


def test_fit_reads_a_recording_made_by_recording_model(tmp_path) -> None:
    path = tmp_path / "recorded.jsonl"
    recorder = get_model(f"record:{path}:simulated:5:errors=0,add_slip=0.03")
    for request in V4 * 5:
        recorder.attempt(request, "fields-only")
    attempts = load_attempts(path)
    assert len(attempts) == 200 and all(a.strategy == "fields-only" for a in attempts)
    assert fit(attempts).mechanisms.add_slip == pytest.approx(0.03, rel=0.4)


def test_fit_step_rate_is_the_maximum_likelihood_estimate() -> None:
    rng = random.Random(0)
    trials = [(k, rng.random() < (1 - 0.004) ** k, 1.0) for k in (10, 100, 1000) for _ in range(400)]
    assert fit_step_rate(trials) == pytest.approx(0.004, rel=0.15)
    assert fit_step_rate([(5, True, 1.0)]) == 0.0 and fit_step_rate([]) is None


def test_latency_is_virtual_by_default() -> None:
    model = SimulatedModel(seed=6)
    started = time.perf_counter()
    attempts = [model.attempt(r) for r in V4 * 5]
    assert time.perf_counter() - started < 10
    assert all(a.virtual_latency for a in attempts) and model.virtual_time


def test_same_seed_same_results_different_seed_different() -> None:
    def results(seed: int) -> list[dict]:
        model = SimulatedModel(seed=seed)
        return [model.attempt(r, s).to_dict() for r in V4[:10] for s in STRATEGIES]

    assert results(7) == results(7)
    assert results(7) != results(8)


def test_results_do_not_depend_on_thread_scheduling() -> None:
    work = [(r, s) for r in V4[:8] + V6[:8] for s in ("zero-shot", "tool-use")] * 3
    sequential = SimulatedModel(seed=9)
    expected = Counter(json.dumps(sequential.attempt(r, s).to_dict()) for r, s in work)
    shuffled = work[:]
    random.Random(1).shuffle(shuffled)
    threaded = SimulatedModel(seed=9)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = Counter(json.dumps(a.to_dict()) for a in pool.map(lambda rs: threaded.attempt(*rs), shuffled))
    assert got == expected


def test_reset_repeats_the_sequence() -> None:
    model = SimulatedModel(seed=4)
    first = [model.attempt(V4[0]).raw_text for _ in range(20)]
    model.reset()
    assert [model.attempt(V4[0]).raw_text for _ in range(20)] == first
    assert len(set(first)) > 1  # repeated asks of one packet are fresh draws, not one frozen answer


def test_everything_it_produces_says_simulated() -> None:
    model = get_model("simulated:7")
    attempt = model.attempt(V4[0])
    assert "simulated" in attempt.model and attempt.model_id == "simulated" and attempt.simulated
    assert attempt.summary().startswith("SIMULATED")
    assert "simulated" in repr(model) and "NOT Claude" in model.describe()
    assert "simulated" in json.dumps(attempt.to_dict())
    with pytest.raises(LabkitError):
        SimulatedModel(name="claude-haiku-4-5")


def test_fixed_latency_and_real_time_sleep() -> None:
    assert {get_model("simulated:1:latency=1.0").attempt(r).latency_s for r in V4[:5]} == {1.0}
    live = SimulatedModel(seed=1, latency=0.2, real_time=True)
    started = time.perf_counter()
    attempt = live.attempt(V4[0])
    assert time.perf_counter() - started >= 0.2
    assert not attempt.virtual_latency and not live.virtual_time


def test_step_by_step_takes_longer_and_costs_more_than_zero_shot() -> None:
    model = SimulatedModel(seed=2, latency=None)
    zero = [model.attempt(r, "zero-shot") for r in V4[:20]]
    steps = [model.attempt(r, "step-by-step") for r in V4[:20]]
    assert sum(a.usage.output_tokens for a in steps) > 2 * sum(a.usage.output_tokens for a in zero)
    assert sum(a.cost_usd for a in steps) > sum(a.cost_usd for a in zero)
    assert sum(a.latency_s for a in steps) > sum(a.latency_s for a in zero)


def test_usage_is_estimated_and_priced_as_the_model_it_stands_in_for() -> None:
    attempt = SimulatedModel(seed=1, errors=0).attempt(V4[0])
    assert attempt.usage.output_tokens == estimate_tokens(attempt.raw_text) == len(to_hex(echo_reply(V4[0]))) // 2
    assert attempt.usage.input_tokens >= estimate_tokens(attempt.prompt.text())
    assert attempt.priced_as == "claude-haiku-4-5"
    assert attempt.cost_usd == pytest.approx(
        cost_usd("claude-haiku-4-5", attempt.usage.input_tokens, attempt.usage.output_tokens)
    )
    tool = SimulatedModel(seed=1, errors=0).attempt(V4[0], "tool-use")
    assert tool.tool_calls == 1 and tool.usage.input_tokens > 2 * attempt.usage.input_tokens
    sonnet = SimulatedModel(seed=1, stands_in_for="claude-sonnet-4-5").attempt(V4[0])
    assert sonnet.priced_as == "claude-sonnet-4-5" and sonnet.cost_usd > attempt.cost_usd


def test_classify_names_a_real_models_choices_correct() -> None:
    request = echo_request("10.0.0.1", "10.0.0.2", ttl=64)
    correct = echo_reply(request)
    assert classify(request, correct) == "correct"
    assert classify(request, None, "I cannot do that.") == "prose"
    assert classify(request, None, to_hex(correct)[:101]) == "truncated"
    with pytest.raises(LabkitError):
        classify(correct, correct)  # an echo reply is not a request


def test_tool_use_output_does_not_grow_with_the_packet() -> None:
    # The model writes its decisions to the tool and a small JSON answer, never the payload: output stays
    # flat while full hex grows with the packet (the old tool design wrote the packet twice).
    model = SimulatedModel(seed=1, errors=0)
    small, big = echo_request(payload=bytes(56)), echo_request(payload=bytes(1400))
    tool_small, tool_big = (model.attempt(r, "tool-use") for r in (small, big))
    hex_small, hex_big = (model.attempt(r, "zero-shot") for r in (small, big))
    assert judge(small, tool_small.reply).correct and judge(big, tool_big.reply).correct
    assert tool_big.usage.output_tokens == tool_small.usage.output_tokens
    assert tool_small.usage.output_tokens <= 1.25 * hex_small.usage.output_tokens
    assert tool_big.usage.output_tokens < 0.1 * hex_big.usage.output_tokens
    assert "0000000000" not in tool_big.raw_text  # no payload in the answer


def test_seen_counts_are_bounded_and_stay_deterministic() -> None:
    requests = [echo_request(seq=seq) for seq in range(60)]

    def run_once() -> tuple[list[str], int]:
        model = SimulatedModel(seed=6, errors=3.0)
        model.seen_limit = 16
        texts = [model.attempt(r).raw_text for r in requests + requests[-5:] * 3 + requests[:3]]
        return texts, len(model._seen)

    texts, size = run_once()
    assert size <= 16  # a long-running responder stays bounded
    assert run_once() == (texts, size)  # the same sequence gives the same answers
    fresh = SimulatedModel(seed=6, errors=3.0)
    assert texts[:3] == [fresh.attempt(r).raw_text for r in requests[:3]]
    # requests[:3] asked again after 60+ other packets were forgotten: they count from 0, so they repeat
    assert texts[-3:] == texts[:3]
    # recent repeats are remembered: their asks are fresh draws, not the first answer again
    repeats = texts[60:75]
    assert any(repeats[i] != texts[55 + i % 5] for i in range(15))
