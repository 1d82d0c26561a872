"""The simulated model: an offline, seeded stand-in for Claude that makes an LLM's mistakes on purpose.

It is NOT Claude and never claims to be: its name starts "simulated", its model id is "simulated", every
Attempt it produces has simulated=True. It exists so labs, CI, Binder and nbval run without a key.

How it answers: the reference stack's correct reply is corrupted by at most one failure mode, drawn per
attempt from ErrorRates, then written out by the strategy's `render_answer` -- so the answer is text in the
strategy's format and goes through the same parser as Claude's.

Failure modes (one per attempt, or none):
  icmp_checksum  ICMP/ICMPv6 checksum wrong: half the time off by one (a lost end-around carry), else random
  ip_checksum    IPv4 header checksum wrong, the same way (for IPv6, which has none: the ICMPv6 checksum)
  digit_flip     one hex digit replaced, or two neighbouring digits transposed, outside the checksum fields
                 (fields answers -- fields-only, tool-use: inside the addresses, the only copied values the
                 JSON has)
  type_copied    the request's type copied unchanged (checksum consistent with it, as if copied too)
  unswapped      source and destination left as in the request
  truncated      the answer stops part-way (30-95% into the hex or JSON), as at max_tokens
  prose          an explanation instead of the packet
  garbled        2-6 bytes hallucinated, in the ICMP data when there is enough (fields answers: the addresses)

Tool-use answers with the same fields JSON as fields-only, after one call to its checksum tool: the call
carries the model's decisions (so type_copied and unswapped are asked about, and the tool's checksums fit
the wrong packet), while checksum slips happen after it (the tool's result miscopied).

The rates are MODELLING ASSUMPTIONS, not measurements: defaults make ~80% of zero-shot answers correct (the
original experiment reports replies that mostly worked, with checksum slips the typical failure), and each
strategy scales them by STRATEGY_FACTORS -- e.g. tool-use cuts checksum errors (code does the arithmetic),
fields-only and tool-use cut copying errors (labkit copies the payload). Measure a real model and fit the rates with
labkit.models.fit to replace these assumptions with numbers.

Determinism: each attempt draws from its own random.Random seeded by SHA-256 of (seed, strategy, n, request),
where n counts how often this model has seen that (request, strategy) before. So results do not depend on
thread scheduling or on other packets, only on the seed and on each packet's own history. The counts are
kept for the SEEN_LIMIT (request, strategy) pairs used most recently (an LRU, so a responder that runs for
days stays bounded): a pair not seen during SEEN_LIMIT other distinct pairs is forgotten and counts from 0
again, as after reset(). Any run of fewer than SEEN_LIMIT distinct requests is unaffected.

Latency is virtual by default (Completion.virtual_latency=True, nothing waits): pcap mode and benchmarks
report it without sleeping. SimulatedModel(real_time=True) really sleeps it, for the live responder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from labkit.checksum import with_checksums
from labkit.errors import LabkitError
from labkit.fields import field_map, field_spans
from labkit.models.base import Completion, Model, Usage
from labkit.packets import ip_version, to_hex
from labkit.prompts import REPLY_TYPE, STRATEGIES, Prompt, Strategy
from labkit.stack import echo_reply

FAILURE_MODES = ("icmp_checksum", "ip_checksum", "digit_flip", "type_copied", "unswapped", "truncated", "prose",
                 "garbled")
_DECISION_MODES = ("type_copied", "unswapped")   # wrong decisions, made before any tool call
SEEN_LIMIT = 16384   # (request, strategy) pairs whose attempt counts are kept (LRU); see Determinism above
DEFAULT_STANDS_IN_FOR = "claude-haiku-4-5"
MODEL_ID = "simulated"


@dataclass(frozen=True)
class ErrorRates:
    """Probability of each failure mode per attempt; modes are exclusive, so 1 - total() is the success rate."""

    icmp_checksum: float = 0.08
    ip_checksum: float = 0.04
    digit_flip: float = 0.03
    type_copied: float = 0.01
    unswapped: float = 0.01
    truncated: float = 0.01
    prose: float = 0.01
    garbled: float = 0.01

    def __post_init__(self) -> None:
        for name in FAILURE_MODES:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise LabkitError(f"simulated rate {name}={value!r} must be a number between 0 and 1")
        if self.total() > 1.0 + 1e-9:
            raise LabkitError(f"simulated rates add up to {self.total():.3f}; together they must be at most 1")

    def total(self) -> float:
        return sum(getattr(self, name) for name in FAILURE_MODES)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ErrorRates":
        unknown = set(data) - set(FAILURE_MODES)
        if unknown:
            raise LabkitError(f"unknown failure mode(s) {', '.join(sorted(unknown))}; use {', '.join(FAILURE_MODES)}")
        return cls(**{name: float(value) for name, value in data.items()})

    def with_overrides(self, fixed: dict[str, float], scale: float = 1.0) -> "ErrorRates":
        """Set `fixed` rates exactly; scale the others by `scale`, and shrink them if they no longer fit in 1."""
        for name, value in fixed.items():
            if not 0.0 <= value <= 1.0:
                raise LabkitError(f"simulated rate {name}={value!r} must be a number between 0 and 1")
        fixed_total = sum(fixed.values())
        if fixed_total > 1.0 + 1e-9:
            raise LabkitError(f"the rates you set add up to {fixed_total:.3f}; together they must be at most 1")
        free = {name: getattr(self, name) * scale for name in FAILURE_MODES if name not in fixed}
        room = max(0.0, 1.0 - fixed_total)
        if sum(free.values()) > room:
            shrink = room / sum(free.values())
            free = {name: value * shrink for name, value in free.items()}
        return ErrorRates(**{**free, **fixed})


# Multipliers on the zero-shot rates per strategy: modelling assumptions (see the module docstring).
STRATEGY_FACTORS: dict[str, dict[str, float]] = {
    "zero-shot": {},
    "spec": {"icmp_checksum": 0.8, "ip_checksum": 0.8, "type_copied": 0.5, "unswapped": 0.5},
    "few-shot": {"type_copied": 0.3, "unswapped": 0.3, "prose": 0.3},
    "step-by-step": {"icmp_checksum": 0.5, "ip_checksum": 0.5, "truncated": 3.0, "digit_flip": 1.2},
    "fields-only": {"digit_flip": 0.3, "truncated": 0.2, "garbled": 0.0},
    # tool-use writes the same small JSON as fields-only, with checksums from its tool (only miscopied)
    "tool-use": {"icmp_checksum": 0.15, "ip_checksum": 0.15, "digit_flip": 0.3, "truncated": 0.2, "garbled": 0.0},
}


def default_rates() -> dict[str, ErrorRates]:
    base = ErrorRates()
    return {strategy: ErrorRates(**{name: getattr(base, name) * factors.get(name, 1.0) for name in FAILURE_MODES})
            for strategy, factors in STRATEGY_FACTORS.items()}


@dataclass(frozen=True)
class LatencyModel:
    """Seconds per answer: clip(lognormal(median_s, sigma) + per_output_token_s * output tokens, min_s, max_s).

    The default follows the original experiment's 2-5 s per ping: median 3 s, sigma 0.25, clipped to [2, 5];
    longer answers (step-by-step) take longer, up to the clip. `fixed_s` replaces all of it by one value.
    """

    median_s: float = 3.0
    sigma: float = 0.25
    min_s: float = 2.0
    max_s: float = 5.0
    per_output_token_s: float = 0.002
    fixed_s: float | None = None

    def __post_init__(self) -> None:
        if self.fixed_s is not None and not (math.isfinite(self.fixed_s) and self.fixed_s >= 0):
            raise LabkitError(f"simulated latency {self.fixed_s!r} must be a number of seconds >= 0")
        if not (0 <= self.min_s <= self.max_s and self.median_s > 0 and self.sigma >= 0):
            raise LabkitError("simulated latency needs 0 <= min_s <= max_s, median_s > 0 and sigma >= 0")

    def sample(self, rng: random.Random, output_tokens: int) -> float:
        if self.fixed_s is not None:
            return float(self.fixed_s)
        base = rng.lognormvariate(math.log(self.median_s), self.sigma)
        return min(self.max_s, max(self.min_s, base + self.per_output_token_s * output_tokens))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LatencyModel":
        return cls(**data)


@dataclass(frozen=True)
class SimulatedConfig:
    """Everything that shapes the simulated model's behaviour; save/load it to share a fitted stand-in."""

    rates: dict[str, ErrorRates] = field(default_factory=default_rates)
    latency: LatencyModel = field(default_factory=LatencyModel)
    stands_in_for: str = DEFAULT_STANDS_IN_FOR
    source: str = "modelling assumptions (labkit defaults), not measurements"

    def rates_for(self, strategy: str) -> ErrorRates:
        return self.rates.get(strategy) or self.rates.get("zero-shot") or ErrorRates()

    def with_overrides(self, fixed: dict[str, float] | None = None, scale: float = 1.0,
                       latency: float | None = None) -> "SimulatedConfig":
        fixed = fixed or {}
        unknown = set(fixed) - set(FAILURE_MODES)
        if unknown:
            raise LabkitError(f"unknown failure mode(s) {', '.join(sorted(unknown))}; use {', '.join(FAILURE_MODES)}")
        rates = {strategy: r.with_overrides(fixed, scale) for strategy, r in self.rates.items()}
        lat = self.latency if latency is None else dataclasses.replace(self.latency, fixed_s=float(latency))
        return dataclasses.replace(self, rates=rates, latency=lat)

    def to_dict(self) -> dict:
        return {"kind": "labkit simulated config", "rates": {s: r.to_dict() for s, r in self.rates.items()},
                "latency": self.latency.to_dict(), "stands_in_for": self.stands_in_for, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict) -> "SimulatedConfig":
        try:
            return cls(rates={s: ErrorRates.from_dict(r) for s, r in data["rates"].items()},
                       latency=LatencyModel.from_dict(data.get("latency", {})),
                       stands_in_for=data.get("stands_in_for", DEFAULT_STANDS_IN_FOR),
                       source=data.get("source", "loaded"))
        except (KeyError, TypeError, AttributeError) as error:
            raise LabkitError(f"not a simulated config ({error}); make one with labkit.models.fit") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "SimulatedConfig":
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise LabkitError(f"no simulated config at {path}") from None
        except json.JSONDecodeError as error:
            raise LabkitError(f"{path} is not JSON ({error.msg}); "
                              "give a config saved by SimulatedConfig.save") from None


# --- token estimate -------------------------------------------------------------------------------------

_HEX_RUN = re.compile(r"[0-9a-fA-F]{8,}")
TOOL_USE_SYSTEM_TOKENS = 346   # the tool-use system prompt Anthropic adds (tool_choice auto), per its docs


def estimate_tokens(text: str) -> int:
    """Rough token count: runs of 8+ hex digits at 2 characters a token, other text at 4 (an estimate only)."""
    hex_chars = sum(len(m.group()) for m in _HEX_RUN.finditer(text))
    return math.ceil(hex_chars / 2) + math.ceil((len(text) - hex_chars) / 4)


def estimate_usage(prompt: Prompt, answer: str, tool_inputs: list[dict] = ()) -> Usage:
    """Estimated usage of one exchange, including one extra round trip per tool call."""
    base_in = estimate_tokens(prompt.text()) + 8   # + message framing
    if prompt.tools:
        base_in += TOOL_USE_SYSTEM_TOKENS + estimate_tokens(json.dumps(list(prompt.tools)))
    input_tokens, output_tokens, context = 0, 0, base_in
    for call in tool_inputs:
        call_out = estimate_tokens(json.dumps(call)) + 40          # tool_use block with its id and name
        input_tokens += context
        output_tokens += call_out
        context += call_out + 20                                   # the tool_result coming back
    input_tokens += context
    output_tokens += estimate_tokens(answer)
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens)


# --- corruption -----------------------------------------------------------------------------------------

_PROSE = (
    "I can't compute the checksums reliably by hand, so rather than guess: the echo reply swaps the source "
    "and destination addresses, sets the type to {reply_type} and recomputes the checksums.",
    "This is an echo request from {src} to {dst}. The matching echo reply goes from {dst} back to {src}, "
    "with type {reply_type}; the identifier, sequence number and data stay the same.",
    "To answer this ping, send an echo reply (type {reply_type}) from {dst} to {src} and copy the payload. "
    "The checksum has to be recalculated over the new header.",
)


def _names(version: int) -> dict[str, str]:
    if version == 4:
        return {"src": "ip.src", "dst": "ip.dst", "type": "icmp.type", "icmp_ck": "icmp.chksum",
                "ip_ck": "ip.chksum", "data": "icmp.data"}
    return {"src": "ipv6.src", "dst": "ipv6.dst", "type": "icmpv6.type", "icmp_ck": "icmpv6.cksum",
            "ip_ck": "", "data": "icmpv6.data"}


def _put(packet: bytearray, span: tuple[int, int], value: int) -> None:
    offset, length = span
    packet[offset:offset + length] = value.to_bytes(length, "big")


def _wrong_checksum(rng: random.Random, right: int) -> int:
    if rng.random() < 0.5:
        return (right + rng.choice((1, -1))) & 0xFFFF
    return (right + rng.randrange(2, 0xFFFF)) & 0xFFFF


def _writes_fields(strategy: str) -> bool:
    """Does this strategy answer with a fields JSON (so only its fields, not the payload, can be wrong)?"""
    known = STRATEGIES.get(strategy)
    return known is not None and known.answer_format == "fields"


def _allowed_offsets(reply: bytes, spans: dict[str, tuple[int, int]], version: int, strategy: str,
                     prefer_data: bool) -> list[int]:
    names = _names(version)
    if _writes_fields(strategy):
        keys = ("src", "dst")
    elif prefer_data and names["data"] in spans and spans[names["data"]][1] >= 6:
        keys = ("data",)
    else:
        checksum_bytes = {o for key in ("icmp_ck", "ip_ck") if names[key] in spans
                          for o in range(spans[names[key]][0], sum(spans[names[key]]))}
        return [o for o in range(len(reply)) if o not in checksum_bytes]
    return [o for key in keys for o in range(spans[names[key]][0], sum(spans[names[key]]))]


def corrupt(mode: str, reply: bytes, request: bytes, strategy: str, rng: random.Random) -> bytes:
    """The correct `reply` with one byte-level failure mode applied (text-level modes return it unchanged)."""
    version = ip_version(reply)
    spans, names = field_spans(reply), _names(version)
    packet = bytearray(reply)
    if mode == "ip_checksum" and version == 6:
        mode = "icmp_checksum"
    if mode in ("icmp_checksum", "ip_checksum"):
        span = spans[names["icmp_ck"] if mode == "icmp_checksum" else names["ip_ck"]]
        _put(packet, span, _wrong_checksum(rng, int.from_bytes(reply[span[0]:sum(span)], "big")))
    elif mode == "type_copied":
        _put(packet, spans[names["type"]], request[spans[names["type"]][0]])
        packet = bytearray(with_checksums(packet))   # a model that erred consistently: checksums fit the error
    elif mode == "unswapped":
        for key in ("src", "dst"):
            offset, length = spans[names[key]]
            packet[offset:offset + length] = request[offset:offset + length]
        packet = bytearray(with_checksums(packet))
    elif mode == "digit_flip":
        digits = list(to_hex(reply))
        positions = [2 * o + half for o in _allowed_offsets(reply, spans, version, strategy, False) for half in (0, 1)]
        where = rng.choice(positions)
        partner = where + 1 if where % 2 == 0 else where - 1   # transpose within the byte, so one byte changes
        if rng.random() < 0.5 and digits[partner] != digits[where]:
            digits[where], digits[partner] = digits[partner], digits[where]
        else:
            digits[where] = rng.choice([d for d in "0123456789abcdef" if d != digits[where]])
        packet = bytearray(bytes.fromhex("".join(digits)))
    elif mode == "garbled":
        offsets = _allowed_offsets(reply, spans, version, strategy, True)
        for offset in rng.sample(offsets, min(len(offsets), rng.randint(2, 6))):
            packet[offset] = (packet[offset] + rng.randrange(1, 256)) & 0xFF
    return bytes(packet)


def _truncate(text: str, core: str, rng: random.Random) -> str:
    """Cut the answer 30-95% of the way into its core (the hex or the JSON), as a max_tokens stop would."""
    start = text.rfind(core) if core else -1
    if start < 0:
        start, core = 0, text
    cut = start + max(1, int(len(core) * rng.uniform(0.30, 0.95)))
    return text[:cut]


# --- the model ------------------------------------------------------------------------------------------

class SimulatedModel(Model):
    """Seeded stand-in for Claude; see the module docstring. NOT Claude -- and every result says so."""

    simulated = True
    model_id = MODEL_ID

    def __init__(self, seed: int = 0, config: SimulatedConfig | None = None, *, real_time: bool = False,
                 name: str | None = None, latency: float | None = None, errors: float = 1.0,
                 stands_in_for: str | None = None, **rates: float) -> None:
        config = config or SimulatedConfig()
        if rates or errors != 1.0 or latency is not None:
            config = config.with_overrides(rates, errors, latency)
        if stands_in_for:
            config = dataclasses.replace(config, stands_in_for=stands_in_for)
        self.seed = int(seed)
        self.config = config
        self.real_time = bool(real_time)
        self.virtual_time = not self.real_time
        self.priced_as = config.stands_in_for
        self.name = name or f"simulated:{self.seed}"
        if "simulated" not in self.name:
            raise LabkitError(f"a simulated model's name must say simulated, not {self.name!r}")
        self.seen_limit = SEEN_LIMIT   # how many (request, strategy) counts to keep (LRU; see the docstring)
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self) -> str:
        return (f"{self.name} -- a SIMULATED offline stand-in, NOT Claude: seeded mistakes at "
                f"{self.config.source}; latency "
                f"{'slept for real' if self.real_time else 'virtual'}; costs estimated at "
                f"{self.config.stands_in_for} prices")

    def reset(self) -> None:
        """Forget how often each request was seen, so the same sequence of attempts repeats exactly."""
        with self._lock:
            self._seen.clear()

    def rng_for(self, request: bytes, strategy: str) -> random.Random:
        """The per-attempt generator: SHA-256(seed, strategy, n-th time this request+strategy is seen, request)."""
        key = hashlib.sha256(strategy.encode() + b"\0" + request).digest()
        with self._lock:
            count = self._seen.get(key, 0)
            self._seen[key] = count + 1
            self._seen.move_to_end(key)
            while len(self._seen) > self.seen_limit:
                self._seen.popitem(last=False)   # the least recently seen pair: it will count from 0 again
        digest = hashlib.sha256(f"{self.seed}\0{strategy}\0{count}\0".encode() + request).digest()
        return random.Random(int.from_bytes(digest[:16], "big"))

    def choose_mode(self, rng: random.Random, strategy: str) -> str | None:
        rates = self.config.rates_for(strategy)
        draw, running = rng.random(), 0.0
        for mode in FAILURE_MODES:
            running += getattr(rates, mode)
            if draw < running:
                return mode
        return None

    def answer(self, request: bytes, strategy: Strategy, rng: random.Random) -> tuple[str, str | None, list[dict]]:
        """(answer text, failure mode or None, tool calls made) for one request."""
        correct = echo_reply(request)
        mode = self.choose_mode(rng, strategy.name)
        if correct is None:
            return ("There is no echo reply to give: this packet is not an ICMP echo request I can answer.",
                    "prose", [])
        if mode == "prose":
            version = ip_version(request)
            fields = {f.name: f.value for f in field_map(request)}
            src, dst = (fields[_names(version)[key]] for key in ("src", "dst"))
            text = rng.choice(_PROSE).format(src=src, dst=dst, reply_type=REPLY_TYPE[version])
            return text, mode, []
        reply = corrupt(mode, correct, request, strategy.name, rng) if mode else correct
        text = strategy.render_answer(reply, request)
        # The tool call carries the model's decisions (a wrong type or unswapped addresses are asked about);
        # the other slips (a miscopied checksum, a flipped digit, a cut-off answer) come after it.
        calls = (strategy.tool_inputs(reply if mode in _DECISION_MODES else correct, request)
                 if hasattr(strategy, "tool_inputs") else [])
        if mode == "truncated":
            core = text[text.find("{"):] if _writes_fields(strategy.name) else to_hex(reply)
            text = _truncate(text, core, rng)
        return text, mode, calls

    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        rng = self.rng_for(bytes(request), strategy.name)
        text, _mode, calls = self.answer(bytes(request), strategy, rng)
        usage = estimate_usage(prompt, text, calls)
        latency = self.config.latency.sample(rng, usage.output_tokens)
        if self.real_time:
            time.sleep(latency)
        return Completion(text=text, usage=usage, latency_s=latency, model_id=MODEL_ID,
                          virtual_latency=not self.real_time, tool_calls=len(calls))
