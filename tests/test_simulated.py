"""The simulated model: configured error rates (within sampling error), determinism, honest labels, latency, fit."""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from labkit.checksum import verify
from labkit.errors import LabkitError
from labkit.judge import judge
from labkit.models.fit import classify, classify_attempt, fit, fit_latency, fit_recording, load_attempts
from labkit.models.registry import get_model
from labkit.models.simulated import (FAILURE_MODES, ErrorRates, LatencyModel, SimulatedConfig, SimulatedModel,
                                     estimate_tokens)
from labkit.packets import echo_request, echo_request_v6, to_hex
from labkit.pricing import cost_usd
from labkit.prompts import STRATEGIES
from labkit.stack import echo_reply

V4 = [echo_request("10.0.0.1", "10.0.0.2", ident=0x1234, seq=seq) for seq in range(40)]
V6 = [echo_request_v6("fd00::1", "fd00::2", ident=0x4321, seq=seq) for seq in range(40)]
TRIALS = 1000


def within_sampling_error(count: int, n: int, p: float) -> bool:
    """|count/n - p| within 4.5 binomial standard errors (false alarm < 1e-5 per check), plus a continuity 1/n."""
    return abs(count / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1 / n


def run(model: SimulatedModel, requests: list[bytes], strategy: str, n: int = TRIALS) -> Counter:
    return Counter(classify_attempt(model.attempt(requests[i % len(requests)], strategy)) for i in range(n))


@pytest.mark.parametrize("strategy", ["zero-shot", "tool-use", "fields-only"])
def test_failure_modes_occur_at_the_configured_rates(strategy: str) -> None:
    model = SimulatedModel(seed=11)
    rates = model.config.rates_for(strategy)
    counts = run(model, V4, strategy)
    for mode in FAILURE_MODES:
        assert within_sampling_error(counts[mode], TRIALS, getattr(rates, mode)), (mode, counts)
    assert within_sampling_error(counts["correct"], TRIALS, 1 - rates.total()), counts


def test_default_rates_are_the_documented_assumptions() -> None:
    config = SimulatedConfig()
    zero_shot = 1 - config.rates_for("zero-shot").total()
    assert 0.70 <= zero_shot <= 0.85
    for easier in ("fields-only", "tool-use"):
        assert config.rates_for(easier).total() < config.rates_for("zero-shot").total()
    assert "not measurements" in config.source


def test_judge_agrees_with_the_success_rate() -> None:
    model = SimulatedModel(seed=5)
    accepted = sum(judge(r, model.attempt(r).reply).accepted for r in V4 * 10)
    assert within_sampling_error(accepted, 400, 1 - model.config.rates_for("zero-shot").total())


def test_ipv6_has_no_ip_checksum_so_that_mass_goes_to_icmpv6() -> None:
    model = SimulatedModel(seed=3, ip_checksum=0.5, icmp_checksum=0.0, errors=0.0)
    counts = run(model, V6, "zero-shot", 400)
    assert counts["ip_checksum"] == 0
    assert within_sampling_error(counts["icmp_checksum"], 400, 0.5)


@pytest.mark.parametrize("mode", FAILURE_MODES)
@pytest.mark.parametrize("strategy", ["zero-shot", "step-by-step", "fields-only", "tool-use"])
@pytest.mark.parametrize("requests", [V4, V6], ids=["ipv4", "ipv6"])
def test_each_failure_mode_produces_what_it_says(mode: str, strategy: str, requests: list[bytes]) -> None:
    model = SimulatedModel(seed=1, **{mode: 1.0})
    expected_mode = "icmp_checksum" if (mode == "ip_checksum" and requests is V6) else mode
    for request in requests[:15]:
        attempt = model.attempt(request, strategy)
        assert classify_attempt(attempt) == expected_mode, (attempt.raw_text, attempt.parse_error)
        assert attempt.reply is None or judge(request, attempt.reply).hallucinated


def test_failure_modes_in_detail() -> None:
    request = V4[0]
    correct = echo_reply(request)

    def one(mode: str, strategy: str = "zero-shot"):
        return SimulatedModel(seed=2, **{mode: 1.0}).attempt(request, strategy)

    bad_icmp = one("icmp_checksum").reply
    checks = {c.name: c.ok for c in verify(bad_icmp)}
    assert checks == {"ip.chksum": True, "icmp.chksum": False}
    assert bad_icmp[:22] == correct[:22] and bad_icmp[24:] == correct[24:]
    bad_ip = one("ip_checksum").reply
    assert {c.name: c.ok for c in verify(bad_ip)} == {"ip.chksum": False, "icmp.chksum": True}
    flipped = one("digit_flip").reply
    assert sum(a != b for a, b in zip(to_hex(flipped), to_hex(correct))) in (1, 2)
    copied = one("type_copied").reply
    assert copied[20] == 8 and copied[12:20] == correct[12:20]
    unswapped = one("unswapped").reply
    assert unswapped[12:20] == request[12:20] and unswapped[20] == 0
    truncated = one("truncated")
    assert len(truncated.raw_text) < len(to_hex(correct)) and to_hex(correct).startswith(truncated.raw_text)
    prose = one("prose")
    assert prose.reply is None and prose.parse_error and not re.search(r"[0-9a-f]{16}", prose.raw_text)
    garbled = one("garbled").reply
    assert 2 <= sum(a != b for a, b in zip(garbled, correct)) <= 6 and garbled[:28] == correct[:28]
    json_truncated = one("truncated", "fields-only")
    assert json_truncated.raw_text.startswith("{") and "}" not in json_truncated.raw_text


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
    assert len(set(first)) > 1      # repeated asks of one packet are fresh draws, not one frozen answer


def test_everything_it_produces_says_simulated() -> None:
    model = get_model("simulated:7")
    attempt = model.attempt(V4[0])
    assert "simulated" in attempt.model and attempt.model_id == "simulated" and attempt.simulated
    assert attempt.summary().startswith("SIMULATED")
    assert "simulated" in repr(model) and "NOT Claude" in model.describe()
    assert "simulated" in json.dumps(attempt.to_dict())
    with pytest.raises(LabkitError):
        SimulatedModel(name="claude-haiku-4-5")


def test_latency_is_virtual_by_default_and_follows_two_to_five_seconds() -> None:
    model = SimulatedModel(seed=6)
    started = time.perf_counter()
    attempts = [model.attempt(r) for r in V4 * 5]
    assert time.perf_counter() - started < 10        # 200 attempts of ~3 s each were not waited for
    latencies = [a.latency_s for a in attempts]
    assert all(a.virtual_latency for a in attempts) and model.virtual_time
    assert all(2.0 <= x <= 5.0 for x in latencies)
    assert 2.6 < sorted(latencies)[len(latencies) // 2] < 3.6
    assert len(set(latencies)) > 100


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
    assert attempt.cost_usd == pytest.approx(cost_usd("claude-haiku-4-5", attempt.usage.input_tokens,
                                                      attempt.usage.output_tokens))
    tool = SimulatedModel(seed=1, errors=0).attempt(V4[0], "tool-use")
    assert tool.tool_calls == 1 and tool.usage.input_tokens > 2 * attempt.usage.input_tokens
    sonnet = SimulatedModel(seed=1, stands_in_for="claude-sonnet-4-5").attempt(V4[0])
    assert sonnet.priced_as == "claude-sonnet-4-5" and sonnet.cost_usd > attempt.cost_usd


def test_overrides_set_rates_exactly_and_make_room() -> None:
    model = SimulatedModel(seed=1, icmp_checksum=1.0)
    for strategy in STRATEGIES:
        rates = model.config.rates_for(strategy)
        assert rates.icmp_checksum == 1.0 and rates.total() == pytest.approx(1.0)
    assert SimulatedModel(errors=0).config.rates_for("zero-shot").total() == 0
    with pytest.raises(LabkitError):
        SimulatedModel(icmp_checksum=0.7, prose=0.7)
    with pytest.raises(LabkitError):
        SimulatedModel(bogus=0.1)
    with pytest.raises(LabkitError):
        ErrorRates(prose=1.5)
    with pytest.raises(LabkitError):
        LatencyModel(fixed_s=-1)


def test_config_save_and_load(tmp_path) -> None:
    config = SimulatedModel(seed=1, icmp_checksum=0.3, latency=1.5).config
    config.save(tmp_path / "stand-in.json")
    assert SimulatedConfig.load(tmp_path / "stand-in.json") == config
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(LabkitError):
        SimulatedConfig.load(tmp_path / "broken.json")


def test_fit_recovers_rates_and_latency_from_attempts(tmp_path) -> None:
    measured = SimulatedModel(seed=21, errors=0, icmp_checksum=0.3, prose=0.1, truncated=0.05,
                              stands_in_for="claude-sonnet-4-5")
    attempts = [measured.attempt(V4[i % 40], "zero-shot") for i in range(600)]
    path = tmp_path / "attempts.jsonl"
    path.write_text("".join(json.dumps(a.to_dict()) + "\n" for a in attempts))
    config = fit_recording(path)
    rates = config.rates_for("zero-shot")
    for mode, p in (("icmp_checksum", 0.3), ("prose", 0.1), ("truncated", 0.05), ("garbled", 0.0)):
        assert within_sampling_error(round(getattr(rates, mode) * 600), 600, p), (mode, rates)
    assert config.stands_in_for == "claude-sonnet-4-5"
    assert "fitted" in config.source and "tool-use" in config.source     # unseen strategies say they are assumed
    assert 2.0 <= config.latency.min_s and config.latency.max_s <= 5.0
    stand_in = get_model(f"simulated:3:fit={path}")
    assert stand_in.config.rates_for("zero-shot") == rates and stand_in.simulated


def test_fit_reads_a_recording_made_by_recording_model(tmp_path) -> None:
    path = tmp_path / "recorded.jsonl"
    recorder = get_model(f"record:{path}:simulated:5:errors=0,icmp_checksum=0.5")
    for request in V4 * 5:
        recorder.attempt(request, "fields-only")
    attempts = load_attempts(path)
    assert len(attempts) == 200 and all(a.strategy == "fields-only" for a in attempts)
    rates = fit(attempts).rates_for("fields-only")
    assert within_sampling_error(round(rates.icmp_checksum * 200), 200, 0.5)


def test_fit_latency_finds_median_and_token_slope() -> None:
    rng = random.Random(0)
    tokens = [rng.randint(50, 500) for _ in range(2000)]
    latencies = [rng.lognormvariate(math.log(1.5), 0.2) + 0.004 * t for t in tokens]
    model = fit_latency(latencies, tokens)
    assert model.median_s == pytest.approx(1.5, rel=0.1)
    assert model.per_output_token_s == pytest.approx(0.004, rel=0.15)
    assert model.sigma == pytest.approx(0.2, rel=0.25)
    with pytest.raises(LabkitError):
        fit_latency([])


def test_classify_names_a_real_models_choices_correct() -> None:
    request = echo_request("10.0.0.1", "10.0.0.2", ttl=64)
    correct = echo_reply(request)
    assert classify(request, correct) == "correct"
    assert classify(request, None, "I cannot do that.") == "prose"
    assert classify(request, None, to_hex(correct)[:101]) == "truncated"
    with pytest.raises(LabkitError):
        classify(correct, correct)      # an echo reply is not a request


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
    assert "0000000000" not in tool_big.raw_text         # no payload in the answer


def test_tool_use_wrong_decisions_are_asked_about_and_flagged() -> None:
    request = V4[0]
    model = SimulatedModel(seed=2, type_copied=1.0)
    strategy = STRATEGIES["tool-use"]
    _text, mode, calls = model.answer(request, strategy, random.Random(0))
    assert mode == "type_copied" and calls[0]["type"] == 8          # the tool was asked about type 8
    checksums = json.loads(strategy.run_tool("internet_checksum", calls[0]))
    attempt = model.attempt(request, "tool-use")
    answer = json.loads(attempt.raw_text)
    assert answer["icmp_checksum"] == checksums["icmp_checksum"]    # right checksums of the wrong packet
    verdict = judge(request, attempt.reply)
    assert not verdict.accepted and "icmp.type" in verdict.wrong_fields


@pytest.mark.parametrize("mode", ["digit_flip", "garbled"])
def test_tool_use_copying_slips_stay_inside_its_json(mode: str) -> None:
    model = SimulatedModel(seed=3, **{mode: 1.0})
    for request in V4[:10] + V6[:10]:
        attempt = model.attempt(request, "tool-use")
        assert attempt.raw_text.startswith("{") and attempt.reply is not None
        wrong = judge(request, attempt.reply).wrong_fields
        assert wrong and all(name.split(".")[-1] in ("src", "dst") for name in wrong), wrong


def test_seen_counts_are_bounded_and_stay_deterministic() -> None:
    requests = [echo_request(seq=seq) for seq in range(60)]

    def run_once() -> tuple[list[str], int]:
        model = SimulatedModel(seed=6, errors=3.0)
        model.seen_limit = 16
        texts = [model.attempt(r).raw_text for r in requests + requests[-5:] * 3 + requests[:3]]
        return texts, len(model._seen)

    texts, size = run_once()
    assert size <= 16                                   # a long-running responder stays bounded
    assert run_once() == (texts, size)                  # the same sequence gives the same answers
    fresh = SimulatedModel(seed=6, errors=3.0)
    assert texts[:3] == [fresh.attempt(r).raw_text for r in requests[:3]]
    # requests[:3] asked again after 60+ other packets were forgotten: they count from 0, so they repeat
    assert texts[-3:] == texts[:3]
    # recent repeats are remembered: their asks are fresh draws, not the first answer again
    repeats = texts[60:75]
    assert any(repeats[i] != texts[55 + i % 5] for i in range(15))
