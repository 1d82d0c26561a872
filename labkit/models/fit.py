"""Fit the simulated model to a real one: failure-mode rates and latency estimated from recorded attempts.

An instructor records a model once (record:<file>:claude); a class without an API key then runs
`simulated:7:fit=<file>`, a stand-in that makes the same kinds of mistakes at the measured rates and
answers with the measured latency distribution. It is still simulated and still says so.

Every recorded answer is put in exactly one class by `classify` -- "correct" or one of the simulated failure
modes -- so rates fitted here mean the same thing as the rates the simulated model draws from.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from pathlib import Path

from labkit.checksum import internet_checksum
from labkit.errors import LabkitError
from labkit.fields import field_spans
from labkit.judge import judge
from labkit.models.base import Attempt, price
from labkit.models.recording import completion_of, read_jsonl
from labkit.models.simulated import (DEFAULT_STANDS_IN_FOR, FAILURE_MODES, ErrorRates, LatencyModel,
                                     SimulatedConfig, default_rates)
from labkit.packets import from_hex, ip_version, to_hex
from labkit.pricing import price_for
from labkit.prompts import Prompt, get_strategy
from labkit.stack import echo_reply

CORRECT = "correct"
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")


def _spans(packet: bytes) -> dict[str, tuple[int, int]]:
    try:
        return field_spans(packet)
    except ValueError:
        return {}


def _bytes_of(spans: dict[str, tuple[int, int]], *names: str) -> set[int]:
    return {o for name in names if name in spans for o in range(spans[name][0], sum(spans[name]))}


def _linux_free_adopted(expected: bytes, reply: bytes, request: bytes) -> bytes:
    """`expected` with the reply's IPv4 id, TTL and DF when the reply chose them deliberately.

    Linux may pick those freely, so a model that kept the request's values (or set others and fixed the
    header checksum to match) is not wrong there. A single flipped TTL digit with a stale checksum is.
    """
    if ip_version(expected) != 4 or len(reply) < 20 or len(expected) < 20:
        return expected
    header_len = (reply[0] & 0x0F) * 4
    kept = reply[4:6] == request[4:6] and reply[8] == request[8] and (reply[6] & 0x40) == (request[6] & 0x40)
    consistent = len(reply) >= header_len and internet_checksum(reply[:header_len]) == 0
    if not (kept or consistent):
        return expected
    adjusted = bytearray(expected)
    adjusted[4:6], adjusted[8] = reply[4:6], reply[8]
    adjusted[6] = (adjusted[6] & ~0x40 & 0xFF) | (reply[6] & 0x40)
    adjusted[10:12] = b"\x00\x00"
    expected_header = (adjusted[0] & 0x0F) * 4
    adjusted[10:12] = internet_checksum(bytes(adjusted[:expected_header])).to_bytes(2, "big")
    return bytes(adjusted)


def _one_digit_edit(got: bytes, want: bytes) -> bool:
    """One hex digit replaced, or two neighbouring digits swapped."""
    a, b = to_hex(got), to_hex(want)
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    if len(differ) == 1:
        return True
    return (len(differ) == 2 and differ[1] == differ[0] + 1
            and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]])


def _unparsed_class(raw_text: str, expected: bytes) -> str:
    """An answer that gave no packet: cut off part-way ("truncated") or not a packet at all ("prose")."""
    brace = raw_text.rfind("{")
    if brace >= 0 and "}" not in raw_text[brace:]:
        return "truncated"
    runs = _HEX_RUN.findall(raw_text)
    if runs:
        run, want = runs[-1].lower(), to_hex(expected)
        if len(run) < len(want):
            same = sum(x == y for x, y in zip(run, want))
            if same >= 0.8 * len(run):
                return "truncated"
    return "prose"


def classify(request: bytes, reply: bytes | None, raw_text: str = "", expected: bytes | None = None) -> str:
    """"correct" or the failure mode that explains the answer; "garbled" for anything else that is wrong.

    Classes are about the bytes, not about whether ping accepts them: a flipped digit in an IPv6 flow label
    is a digit_flip even though no checksum covers it and ping takes the reply.
    """
    expected = expected if expected is not None else echo_reply(request)
    if expected is None:
        raise LabkitError("classify needs an echo request (the reference stack gives no reply to this packet)")
    if reply is None:
        return _unparsed_class(raw_text, expected)
    if reply == expected or not judge(request, reply, expected).hallucinated:
        return CORRECT      # byte for byte right, up to the fields Linux may choose (the judge's rule)
    if len(reply) < len(expected):
        return "truncated" if _unparsed_class(to_hex(reply), expected) == "truncated" else "garbled"
    if len(reply) != len(expected):
        return "garbled"
    want = _linux_free_adopted(expected, reply, request)
    differ = {i for i in range(len(reply)) if reply[i] != want[i]}
    if not differ:
        return CORRECT
    version = ip_version(want)
    spans = _spans(want)
    icmp = "icmp" if version == 4 else "icmpv6"
    ip = "ip" if version == 4 else "ipv6"
    icmp_ck = _bytes_of(spans, "icmp.chksum" if version == 4 else "icmpv6.cksum")
    ip_ck = _bytes_of(spans, "ip.chksum")
    type_bytes = _bytes_of(spans, f"{icmp}.type")
    addresses = _bytes_of(spans, f"{ip}.src", f"{ip}.dst")
    checksums = icmp_ck | ip_ck
    if type_bytes and differ <= type_bytes | checksums and all(reply[o] == request[o] for o in type_bytes):
        return "type_copied"
    if (differ & addresses and differ <= addresses | checksums
            and all(reply[o] == request[o] for o in addresses)):
        return "unswapped"
    if differ <= icmp_ck or (differ <= checksums and differ & icmp_ck):
        return "icmp_checksum"
    if differ <= ip_ck:
        return "ip_checksum"
    outside = differ - checksums
    if len(outside) == 1:
        offset = outside.pop()
        if _one_digit_edit(reply[offset:offset + 1], want[offset:offset + 1]):
            return "digit_flip"
    return "garbled"


def classify_attempt(attempt: Attempt) -> str:
    return classify(attempt.request, attempt.reply, attempt.raw_text)


def _attempt_from_line(entry: dict) -> Attempt:
    """An Attempt from one line: an Attempt.to_dict() as it is, a recorded exchange parsed and priced again."""
    if "raw_text" in entry:
        return Attempt.from_dict(entry)
    strategy = get_strategy(entry["strategy"])
    request = from_hex(entry["request"])
    prompt = Prompt.from_dict(entry["prompt"]) if entry.get("prompt") else strategy.build(request)
    completion = completion_of(entry, virtual=bool(entry.get("virtual_latency", False)))
    cost, priced_as = price(entry.get("priced_as") or completion.model_id, completion.usage)
    return Attempt.from_completion(completion, strategy.answer_to_reply(completion.text, request),
                                   model=entry.get("model", completion.model_id), model_id=completion.model_id,
                                   simulated=bool(entry.get("simulated", False)), strategy=strategy.name,
                                   request=request, prompt=prompt, cost_usd=cost, priced_as=priced_as)


def load_attempts(path: str | Path) -> list[Attempt]:
    """Attempts from a recording (labkit.models.recording lines) or a JSONL of Attempt.to_dict() lines."""
    return read_jsonl(path, _attempt_from_line, "a recorded attempt",
                      "fitting needs lines with request, strategy, text, usage and latency_s")


def fit_latency(latencies: list[float], output_tokens: list[int] | None = None) -> LatencyModel:
    """Lognormal base plus a per-output-token slope (least squares, never negative), clipped to what was seen."""
    values = [float(v) for v in latencies if v is not None and float(v) > 0]
    if not values:
        raise LabkitError("no positive latencies to fit; the recording needs latency_s values")
    tokens = [int(t) for t in (output_tokens or [0] * len(values))][:len(values)]
    slope = 0.0
    if len(values) >= 5 and len(set(tokens)) > 1:
        mean_t, mean_y = statistics.fmean(tokens), statistics.fmean(values)
        var_t = sum((t - mean_t) ** 2 for t in tokens)
        slope = max(0.0, sum((t - mean_t) * (y - mean_y) for t, y in zip(tokens, values)) / var_t)
    bases = [y - slope * t for y, t in zip(values, tokens)]
    logs = [math.log(b) for b in bases if b > 0] or [math.log(min(values))]
    sigma = statistics.stdev(logs) if len(logs) > 1 else 0.0
    return LatencyModel(median_s=math.exp(statistics.fmean(logs)), sigma=sigma, min_s=min(values),
                        max_s=max(values), per_output_token_s=slope)


def mode_counts(attempts: list[Attempt]) -> dict[str, Counter]:
    """strategy -> Counter of classes ("correct" and failure modes); non-echo requests are skipped."""
    counts: dict[str, Counter] = {}
    for attempt in attempts:
        if echo_reply(attempt.request) is None:
            continue
        counts.setdefault(attempt.strategy, Counter())[classify_attempt(attempt)] += 1
    return counts


def fit(attempts: list[Attempt], *, source: str = "attempts", stands_in_for: str | None = None) -> SimulatedConfig:
    """A SimulatedConfig whose rates and latency match these attempts; unseen strategies keep the defaults."""
    if not attempts:
        raise LabkitError("nothing to fit: the recording holds no attempts")
    counts = mode_counts(attempts)
    if not counts:
        raise LabkitError("nothing to fit: the recording holds no answers to echo requests")
    rates = default_rates()
    for strategy, counter in counts.items():
        total = sum(counter.values())
        rates[strategy] = ErrorRates(**{mode: counter[mode] / total for mode in FAILURE_MODES})
    latency = fit_latency([a.latency_s for a in attempts], [a.usage.output_tokens for a in attempts])
    if stands_in_for is None:
        ids = Counter(a.priced_as or a.model_id for a in attempts if price_for(a.priced_as or a.model_id))
        stands_in_for = ids.most_common(1)[0][0] if ids else DEFAULT_STANDS_IN_FOR
    fitted = ", ".join(f"{s} ({sum(c.values())})" for s, c in counts.items())
    models = ", ".join(sorted({a.model_id for a in attempts}))
    unseen = [s for s in rates if s not in counts]
    note = f"; {', '.join(unseen)} keep labkit's assumed rates" if unseen else ""
    return SimulatedConfig(rates=rates, latency=latency, stands_in_for=stands_in_for,
                           source=f"rates fitted from {source} ({models}): {fitted}{note}")


def fit_recording(path: str | Path) -> SimulatedConfig:
    """Fit from a recording file; see `fit`."""
    return fit(load_attempts(path), source=str(path))
