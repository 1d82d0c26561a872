"""Fit the simulated model's mechanisms to a real one, and show how well the fit matches.

An instructor records a model once (record:<file>:claude, or record:<file>:messages:<id>@<url>); a class
without an API key then runs `simulated:7:fit=<file>`, a stand-in whose per-digit copy slip rate, per-addition
checksum slip rate, decision rates and latency were estimated from that recording. It is still simulated and
still says so. `compare` puts the fit next to the data: predicted against observed accept rate by payload size.

How each answer counts (an echo request's answer is a set of trials of the mechanisms):
  prose        an unparsed answer that is not a near-copy of the packet, nor cut off
  decisions    type kept, addresses unswapped, TTL kept (TTL only when the request's differs from Linux's 64)
  copying      one trial of "every copied digit right" over as many digits as the strategy copies
  arithmetic   one trial per checksum the model computed itself, over that checksum's 16-bit additions
Per-step rates are maximum-likelihood estimates from trials of different lengths (ok with probability
(1 - p)^k); strategy factors (SimulationTraits) are divided out, so rates pool across strategies.
`classify` also names each answer's failure in one word, for tables.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from labkit.checksum import internet_checksum, with_checksums
from labkit.errors import LabkitError
from labkit.evidence import wilson_interval
from labkit.fields import field_spans
from labkit.headers import ip_version, ipv4_header_len
from labkit.judge import judge
from labkit.models.base import Attempt, price
from labkit.models.mechanisms import DEFAULTS, Mechanisms, additions, checksum_fields, copied_digits, predict_accept
from labkit.models.recording import completion_of, read_jsonl
from labkit.models.simulated import DEFAULT_STANDS_IN_FOR, SimulatedConfig, traits_of
from labkit.packets import from_hex, to_hex
from labkit.pricing import price_for
from labkit.prompts import DF_BIT, Prompt, get_strategy
from labkit.stack import echo_reply

CORRECT = "correct"
CLASSES = (
    CORRECT,
    "icmp_checksum",
    "ip_checksum",
    "digit_flip",
    "type_copied",
    "unswapped",
    "truncated",
    "prose",
    "garbled",
)
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")
LINUX_TTL = 64


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
    header_len = ipv4_header_len(reply)
    kept = reply[4:6] == request[4:6] and reply[8] == request[8] and (reply[6] & DF_BIT) == (request[6] & DF_BIT)
    consistent = len(reply) >= header_len and internet_checksum(reply[:header_len]) == 0
    if not (kept or consistent):
        return expected
    adjusted = bytearray(expected)
    adjusted[4:6], adjusted[8] = reply[4:6], reply[8]
    adjusted[6] = (adjusted[6] & ~DF_BIT & 0xFF) | (reply[6] & DF_BIT)
    adjusted[10:12] = b"\x00\x00"
    expected_header = ipv4_header_len(bytes(adjusted))
    adjusted[10:12] = internet_checksum(bytes(adjusted[:expected_header])).to_bytes(2, "big")
    return bytes(adjusted)


def _one_digit_edit(got: bytes, want: bytes) -> bool:
    """One hex digit replaced, or two neighbouring digits swapped."""
    a, b = to_hex(got), to_hex(want)
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    if len(differ) == 1:
        return True
    return (
        len(differ) == 2
        and differ[1] == differ[0] + 1
        and a[differ[0]] == b[differ[1]]
        and a[differ[1]] == b[differ[0]]
    )


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
    """ "correct" or the failure mode that explains the answer; "garbled" for anything else that is wrong.

    Classes are about the bytes, not about whether ping accepts them: a flipped digit in an IPv6 flow label
    is a digit_flip even though no checksum covers it and ping takes the reply.
    """
    expected = expected if expected is not None else echo_reply(request)
    if expected is None:
        raise LabkitError("classify needs an echo request (the reference stack gives no reply to this packet)")
    if reply is None:
        return _unparsed_class(raw_text, expected)
    if reply == expected or not judge(request, reply, expected).hallucinated:
        return CORRECT  # byte for byte right, up to the fields Linux may choose (the judge's rule)
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
    if differ & addresses and differ <= addresses | checksums and all(reply[o] == request[o] for o in addresses):
        return "unswapped"
    if differ <= icmp_ck or (differ <= checksums and differ & icmp_ck):
        return "icmp_checksum"
    if differ <= ip_ck:
        return "ip_checksum"
    outside = differ - checksums
    if len(outside) == 1:
        offset = outside.pop()
        if _one_digit_edit(reply[offset : offset + 1], want[offset : offset + 1]):
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
    return Attempt.from_completion(
        completion,
        strategy.answer_to_reply(completion.text, request),
        model=entry.get("model", completion.model_id),
        model_id=completion.model_id,
        simulated=bool(entry.get("simulated", False)),
        strategy=strategy.name,
        request=request,
        prompt=prompt,
        cost_usd=cost,
        priced_as=priced_as,
    )


def load_attempts(path: str | Path) -> list[Attempt]:
    """Attempts from a recording (labkit.models.recording lines) or a JSONL of Attempt.to_dict() lines."""
    return read_jsonl(
        path,
        _attempt_from_line,
        "a recorded attempt",
        "fitting needs lines with request, strategy, text, usage and latency_s",
    )


# --- trials ------------------------------------------------------------------------------------------------


@dataclass
class Trials:
    """What a recording says about each mechanism: (steps, ok, strategy factor) per trial, counts per decision."""

    copy: list[tuple[int, bool, float]] = field(default_factory=list)
    add: list[tuple[int, bool, float]] = field(default_factory=list)
    decisions: dict[str, list[tuple[bool, float]]] = field(default_factory=dict)

    def decide(self, name: str, wrong: bool, factor: float) -> None:
        self.decisions.setdefault(name, []).append((wrong, factor))


def _near_copy(raw_text: str, expected: bytes) -> bool:
    """An unparsed answer whose hex is the packet give or take a digit or two: a copy slip, not prose."""
    runs = re.findall(r"[0-9a-fA-F]{8,}", raw_text)
    return bool(runs) and abs(len(max(runs, key=len)) - 2 * len(expected)) <= 2


def _intended(expected: bytes, reply: bytes, request: bytes) -> tuple[bytes, dict[str, bool]]:
    """The reply the model meant (its decisions applied to the right one, checksums fitting) and its decisions."""
    version = ip_version(expected)
    spans = field_spans(expected)
    prefix, icmp = ("ip", "icmp") if version == 4 else ("ipv6", "icmpv6")
    ttl = "ip.ttl" if version == 4 else "ipv6.hlim"
    keys = {"type_copied": (f"{icmp}.type",), "unswapped": (f"{prefix}.src", f"{prefix}.dst"), "ttl_copied": (ttl,)}
    packet, decided = bytearray(expected), {}

    def same(name: str, packet_a: bytes, packet_b: bytes) -> bool:
        offset, length = spans[name]
        return packet_a[offset : offset + length] == packet_b[offset : offset + length]

    for decision, names in keys.items():
        wrong = all(same(n, reply, request) for n in names) and not all(same(n, expected, request) for n in names)
        decided[decision] = wrong
        if wrong:
            for name in names:
                offset, length = spans[name]
                packet[offset : offset + length] = request[offset : offset + length]
    return with_checksums(bytes(packet)), decided


def trials_of(attempts: list[Attempt]) -> Trials:
    """Every recorded answer to an echo request, as trials of the mechanisms (see the module docstring)."""
    trials = Trials()
    for attempt in attempts:
        expected = echo_reply(attempt.request)
        if expected is None:
            continue
        traits = traits_of(get_strategy(attempt.strategy))
        fields, tool = get_strategy(attempt.strategy).answer_format == "fields", traits.arithmetic == "tool"
        copied = len(copied_digits(expected, fields, tool))
        if attempt.reply is None:
            near = _near_copy(attempt.raw_text, expected)
            if _unparsed_class(attempt.raw_text, expected) == "truncated" and not near:
                continue  # cut at max_tokens: not a mechanism rate
            trials.decide("prose", not near, traits.prose_factor)
            if near:
                trials.copy.append((copied, False, 1.0))
            continue
        trials.decide("prose", False, traits.prose_factor)
        _reply_trials(trials, attempt, expected, traits, fields, tool)
    return trials


def _reply_trials(trials: Trials, attempt: Attempt, expected: bytes, traits, fields: bool, tool: bool) -> None:
    reply, request = attempt.reply or b"", attempt.request
    if len(reply) != len(expected):
        trials.copy.append((len(copied_digits(expected, fields, tool)), False, 1.0))
        return
    decided = _intended(expected, reply, request)[1]  # before adoption, which would hide a kept TTL
    intended = _intended(_linux_free_adopted(expected, reply, request), reply, request)[0]
    for decision in ("type_copied", "unswapped"):
        trials.decide(decision, decided[decision], traits.decision_factor)
    ttl_at = field_spans(request)["ip.ttl" if ip_version(request) == 4 else "ipv6.hlim"][0]
    if request[ttl_at] != LINUX_TTL:
        trials.decide("ttl_copied", decided["ttl_copied"], traits.decision_factor)
    want, got = to_hex(intended), to_hex(reply)
    copied = copied_digits(intended, fields, tool)
    trials.copy.append((len(copied), all(want[i] == got[i] for i in copied), 1.0))
    if not tool:
        spans = field_spans(intended)
        for name, covered in checksum_fields(intended):
            offset, length = spans[name]
            trials.add.append(
                (
                    additions(covered),
                    reply[offset : offset + length] == intended[offset : offset + length],
                    traits.add_factor,
                )
            )


def fit_step_rate(trials: list[tuple[int, bool, float]]) -> float | None:
    """Maximum-likelihood per-step slip rate p from trials (steps k, ok, factor f): P(ok) = (1 - p f)^k.
    None when no trial has a step; 0 when nothing ever slipped."""
    used = [(k, ok, f) for k, ok, f in trials if k > 0 and f > 0]
    if not used:
        return None
    if all(ok for _, ok, _ in used):
        return 0.0

    def log_likelihood(p: float) -> float:
        total = 0.0
        for k, ok, f in used:
            keep = k * math.log1p(-min(p * f, 1 - 1e-12))
            total += keep if ok else math.log(max(1e-300, -math.expm1(keep)))
        return total

    low, high = math.log(1e-8), math.log(0.5)  # golden-section search on log p: the likelihood is unimodal
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if log_likelihood(math.exp(a)) < log_likelihood(math.exp(b)):
            low = a
        else:
            high = b
    return math.exp((low + high) / 2)


def _decision_rate(outcomes: list[tuple[bool, float]]) -> float | None:
    weight = sum(f for _, f in outcomes)
    return None if not outcomes or weight <= 0 else min(1.0, sum(w for w, _ in outcomes) / weight)


def fit_latency(attempts: list[Attempt]) -> dict[str, float]:
    """ttft_s, ttft_sigma, output_tokens_per_s from latency = turns x time to first token + tokens / rate
    (least squares for the two, then the lognormal spread of what is left per turn); {} when it cannot fit."""
    data = [(1 + a.tool_calls, a.usage.output_tokens, a.latency_s) for a in attempts if a.latency_s and a.latency_s > 0]
    if len(data) < 3:
        return {}
    stt = sum(t * t for t, _, _ in data)
    soo = sum(o * o for _, o, _ in data)
    sto = sum(t * o for t, o, _ in data)
    sty = sum(t * y for t, _, y in data)
    soy = sum(o * y for _, o, y in data)
    det = stt * soo - sto * sto
    if det <= 0:
        return {}
    per_token = (stt * soy - sto * sty) / det
    if per_token <= 0:
        return {}
    firsts = [(y - o * per_token) / t for t, o, y in data]
    logs = [math.log(v) for v in firsts if v > 0]
    if not logs:
        return {}
    return {
        "ttft_s": math.exp(statistics.median(logs)),
        "ttft_sigma": statistics.pstdev(logs),
        "output_tokens_per_s": 1.0 / per_token,
    }


def fit(attempts: list[Attempt], *, source: str = "attempts", stands_in_for: str | None = None) -> SimulatedConfig:
    """A SimulatedConfig whose mechanisms match these attempts; a parameter the data cannot inform keeps its
    default (an assumption), and `source` says which ones were fitted."""
    if not attempts:
        raise LabkitError("nothing to fit: the recording holds no attempts")
    trials = trials_of(attempts)
    if not (trials.copy or trials.decisions):
        raise LabkitError("nothing to fit: the recording holds no answers to echo requests")
    fitted = {
        "copy_slip": fit_step_rate(trials.copy),
        "add_slip": fit_step_rate(trials.add),
        **{name: _decision_rate(outcomes) for name, outcomes in trials.decisions.items()},
        **fit_latency(attempts),
    }
    fitted = {name: value for name, value in fitted.items() if value is not None}
    mechanisms = Mechanisms.from_dict({**DEFAULTS, **fitted})
    if stands_in_for is None:
        ids = Counter(a.priced_as or a.model_id for a in attempts if price_for(a.priced_as or a.model_id))
        stands_in_for = ids.most_common(1)[0][0] if ids else DEFAULT_STANDS_IN_FOR
    models = ", ".join(sorted({a.model_id for a in attempts}))
    kept = [name for name in DEFAULTS if name not in fitted]
    return SimulatedConfig(
        mechanisms=mechanisms,
        stands_in_for=stands_in_for,
        source=(
            f"mechanisms fitted from {source} ({models}, {len(attempts)} attempts): "
            f"{', '.join(fitted)}; assumed: {', '.join(kept) or 'none'}"
        ),
    )


def fit_recording(path: str | Path) -> SimulatedConfig:
    """Fit from a recording file; see `fit`."""
    return fit(load_attempts(path), source=str(path))


# --- how well it fits -------------------------------------------------------------------------------------

SIZE_BINS = ((0, 63), (64, 255), (256, 767), (768, 1500))


def payload_length(request: bytes) -> int:
    """ICMP/ICMPv6 data bytes of an echo request."""
    spans = field_spans(request)
    for name in ("icmp.data", "icmpv6.data"):
        if name in spans:
            return spans[name][1]
    return 0


def predicted_accept(attempt: Attempt, mechanisms: Mechanisms) -> float | None:
    """The mechanisms' chance that ping accepts an answer to this attempt's request with its strategy."""
    expected = echo_reply(attempt.request)
    if expected is None:
        return None
    strategy = get_strategy(attempt.strategy)
    traits = traits_of(strategy)
    return predict_accept(
        expected,
        strategy.answer_format == "fields",
        traits.arithmetic == "tool",
        mechanisms,
        traits.add_factor,
        traits.decision_factor,
        traits.prose_factor,
    )


def compare(attempts: list[Attempt], config: SimulatedConfig, bins=SIZE_BINS) -> list[dict]:
    """Per payload-size bin: n, observed accept rate with its 95 % Wilson interval, and the fit's prediction."""
    rows = []
    for low, high in bins:
        group = [a for a in attempts if low <= payload_length(a.request) <= high and echo_reply(a.request)]
        if not group:
            continue
        accepted = sum(bool(judge(a.request, a.reply).accepted) for a in group)
        predicted = [p for p in (predicted_accept(a, config.mechanisms) for a in group) if p is not None]
        lo, hi = wilson_interval(accepted, len(group))
        rows.append(
            {
                "payload": f"{low}-{high}",
                "n": len(group),
                "observed": accepted / len(group),
                "observed_lo": lo,
                "observed_hi": hi,
                "predicted": statistics.fmean(predicted),
            }
        )
    return rows


def format_comparison(rows: list[dict]) -> str:
    """compare()'s rows as a text table; a prediction outside the observed interval is marked."""
    lines = [f"{'payload bytes':>13}  {'n':>5}  {'observed accept [95% CI]':>26}  {'predicted':>9}"]
    for row in rows:
        inside = row["observed_lo"] <= row["predicted"] <= row["observed_hi"]
        lines.append(
            f"{row['payload']:>13}  {row['n']:>5}  {row['observed']:>8.1%} "
            f"[{row['observed_lo']:.1%}-{row['observed_hi']:.1%}]  {row['predicted']:>8.1%}"
            + ("" if inside else "  outside")
        )
    return "\n".join(lines)
