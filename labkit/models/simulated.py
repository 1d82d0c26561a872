"""The simulated model: an offline, seeded stand-in for Claude that makes an LLM's mistakes by mechanism.

It is NOT Claude and never claims to be: its name starts "simulated", its model id is "simulated", every
Attempt it produces has simulated=True. It exists so labs, CI, Binder and nbval run without a key.

How it answers (mechanisms and their sourced defaults: labkit.models.mechanisms and docs/simulator.md):
  1. maybe prose instead of a packet;
  2. decisions: the reference stack's reply, with the type, the address swap and the TTL each possibly
     got wrong (the model's checksums then fit its wrong packet, as a consistent mistake would);
  3. arithmetic: each checksum the model computes is a chain of 16-bit additions, each of which may slip;
     with a tool (SimulationTraits.arithmetic == "tool") code adds, and the model copies the result;
  4. copying: every digit the model copies may slip -- a whole packet's worth for hex answers, only the
     addresses (and a tool's checksums) for fields answers;
  5. the strategy's `render_answer` writes the result in its format, so it goes through the same parser as
     Claude's answer; an answer longer than the prompt's max_tokens is cut there;
  6. latency: time to first token per turn (a tool call adds a turn) + output tokens / output rate.
So longer packets fail more often, tool use costs a round trip, and nothing is clipped. A strategy must
carry SimulationTraits (labkit.prompts); one that does not makes this model fail loudly.

All defaults are ASSUMPTIONS unless docs/simulator.md names a published source; results from this model are
predictions, not findings. Measure a real model (claude, messages:...) and fit the parameters with
labkit.models.fit to replace them.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labkit.checksum import with_checksums
from labkit.errors import LabkitError
from labkit.fields import field_map, field_spans
from labkit.models.base import Completion, Model, Usage
from labkit.models.mechanisms import DEFAULTS, Mechanisms, checksum_fields, copied_digits, model_checksum, slip_digits
from labkit.packets import ip_version, to_hex
from labkit.prompts import REPLY_TYPE, Prompt, SimulationTraits, Strategy
from labkit.stack import echo_reply

SEEN_LIMIT = 16384  # (request, strategy) pairs whose attempt counts are kept (LRU); see Determinism above
DEFAULT_STANDS_IN_FOR = "claude-haiku-4-5"
MODEL_ID = "simulated"
FORCED = ("icmp_checksum", "ip_checksum")  # hooks: the chance an answer is right except for that checksum
NUMBER_OPTIONS = tuple(DEFAULTS) + FORCED + ("errors", "latency")
OPTION_NAMES = NUMBER_OPTIONS + ("real_time", "stands_in_for", "fit")
OPTION_HELP = (
    "Simulated options (simulated:<seed>:key=value,...): any mechanism parameter of docs/simulator.md "
    f"({', '.join(DEFAULTS)}); errors=<factor> (scales every rate: 0 is a perfect model); "
    "icmp_checksum / ip_checksum=<0..1> (this often the answer is right except for that checksum); "
    "latency=<seconds> (fixed); "
    "stands_in_for=<model id> (whose prices cost estimates use); fit=<file> (a recording, or a saved config); "
    "real_time=1 (sleep the latency). Example: simulated:7:icmp_checksum=1.0,latency=1.0"
)


@dataclass(frozen=True)
class SimulatedConfig:
    """Everything that shapes the simulated model's behaviour; save/load it to share a fitted stand-in."""

    mechanisms: Mechanisms = field(default_factory=Mechanisms)
    forced: dict[str, float] = field(default_factory=dict)
    fixed_latency_s: float | None = None
    stands_in_for: str = DEFAULT_STANDS_IN_FOR
    source: str = "labkit's default mechanisms (assumptions, see docs/simulator.md), not measurements"

    def __post_init__(self) -> None:
        for name, value in self.forced.items():
            if name not in FORCED or not 0.0 <= value <= 1.0:
                raise LabkitError(f"simulated {name}={value!r}: give {' or '.join(FORCED)} between 0 and 1")
        if self.fixed_latency_s is not None and not (math.isfinite(self.fixed_latency_s) and self.fixed_latency_s >= 0):
            raise LabkitError(f"simulated latency {self.fixed_latency_s!r} must be a number of seconds >= 0")

    def with_options(
        self, options: dict[str, float], errors: float = 1.0, latency: float | None = None
    ) -> SimulatedConfig:
        """Parameters set exactly, every rate scaled by `errors`, a fixed latency: what a model name can say."""
        unknown = set(options) - set(DEFAULTS) - set(FORCED)
        if unknown:
            raise LabkitError(
                f"unknown simulated option(s) {', '.join(sorted(unknown))}; use {', '.join(OPTION_NAMES)}"
            )
        mechanisms = self.mechanisms.scaled(errors)
        mechanisms = Mechanisms.from_dict(
            {**mechanisms.to_dict(), **{k: v for k, v in options.items() if k in DEFAULTS}}
        )
        forced = {**self.forced, **{k: float(v) for k, v in options.items() if k in FORCED}}
        fixed = self.fixed_latency_s if latency is None else float(latency)
        return dataclasses.replace(self, mechanisms=mechanisms, forced=forced, fixed_latency_s=fixed)

    def to_dict(self) -> dict:
        return {
            "kind": "labkit simulated config",
            "mechanisms": self.mechanisms.to_dict(),
            "forced": self.forced,
            "fixed_latency_s": self.fixed_latency_s,
            "stands_in_for": self.stands_in_for,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SimulatedConfig:
        try:
            return cls(
                mechanisms=Mechanisms.from_dict(data["mechanisms"]),
                forced=dict(data.get("forced") or {}),
                fixed_latency_s=data.get("fixed_latency_s"),
                stands_in_for=data.get("stands_in_for", DEFAULT_STANDS_IN_FOR),
                source=data.get("source", "loaded"),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise LabkitError(f"not a simulated config ({error}); make one with labkit.models.fit") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> SimulatedConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise LabkitError(f"no simulated config at {path}") from None
        except json.JSONDecodeError as error:
            raise LabkitError(
                f"{path} is not JSON ({error.msg}); give a config saved by SimulatedConfig.save"
            ) from None


def traits_of(strategy: Strategy) -> SimulationTraits:
    """The strategy's SimulationTraits, or a LabkitError: never a silent fallback to another strategy's."""
    traits = getattr(strategy, "simulation", None)
    if not isinstance(traits, SimulationTraits):
        raise LabkitError(
            f"the {strategy.name or type(strategy).__name__} strategy carries no SimulationTraits, "
            "so the simulated model cannot imitate it; give it `simulation = SimulationTraits(...)` "
            "(see docs/extending.md)"
        )
    if traits.arithmetic == "tool" and not callable(getattr(strategy, "tool_inputs", None)):
        raise LabkitError(
            f"the {strategy.name} strategy says a tool adds its checksums but has no tool_inputs(reply, "
            "request) saying what a model would ask the tool; add it, or use arithmetic='model'"
        )
    return traits


# --- token estimate -------------------------------------------------------------------------------------

_HEX_RUN = re.compile(r"[0-9a-fA-F]{8,}")
TOOL_USE_SYSTEM_TOKENS = 346  # the tool-use system prompt Anthropic adds (tool_choice auto), per its docs


def estimate_tokens(text: str) -> int:
    """Rough token count: runs of 8+ hex digits at 2 characters a token, other text at 4 (an estimate only)."""
    hex_chars = sum(len(m.group()) for m in _HEX_RUN.finditer(text))
    return math.ceil(hex_chars / 2) + math.ceil((len(text) - hex_chars) / 4)


def estimate_usage(prompt: Prompt, answer: str, tool_inputs: Sequence[dict] = ()) -> Usage:
    """Estimated usage of one exchange, including one extra round trip per tool call."""
    base_in = estimate_tokens(prompt.text()) + 8  # + message framing
    if prompt.tools:
        base_in += TOOL_USE_SYSTEM_TOKENS + estimate_tokens(json.dumps(list(prompt.tools)))
    input_tokens, output_tokens, context = 0, 0, base_in
    for call in tool_inputs:
        call_out = estimate_tokens(json.dumps(call)) + 40  # tool_use block with its id and name
        input_tokens += context
        output_tokens += call_out
        context += call_out + 20  # the tool_result coming back
    input_tokens += context
    output_tokens += estimate_tokens(answer)
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens)


# --- prose ------------------------------------------------------------------------------------------------

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
        return {
            "src": "ip.src",
            "dst": "ip.dst",
            "type": "icmp.type",
            "icmp_ck": "icmp.chksum",
            "ip_ck": "ip.chksum",
            "data": "icmp.data",
        }
    return {
        "src": "ipv6.src",
        "dst": "ipv6.dst",
        "type": "icmpv6.type",
        "icmp_ck": "icmpv6.cksum",
        "ip_ck": "",
        "data": "icmpv6.data",
    }


# --- the answer ----------------------------------------------------------------------------------------------


@dataclass
class SimAnswer:
    """What the simulated model said, and which mechanisms fired (for tests and teaching; not shown to judges)."""

    text: str
    tool_calls: list[dict]
    events: list[str]


def _put(packet: bytearray, span: tuple[int, int], value: int) -> None:
    offset, length = span
    packet[offset : offset + length] = value.to_bytes(length, "big")


def _decide(
    rng: random.Random, correct: bytes, request: bytes, mech: Mechanisms, factor: float, events: list[str]
) -> bytes:
    """The reply the model means to send: the right one, with each decision possibly wrong."""
    version = 4 if ip_version(correct) == 4 else 6
    spans, names = field_spans(correct), _names(version)
    packet = bytearray(correct)
    ttl = "ip.ttl" if version == 4 else "ipv6.hlim"
    for event, rate, keys in (
        ("type_copied", mech.type_copied, (names["type"],)),
        ("unswapped", mech.unswapped, (names["src"], names["dst"])),
        ("ttl_copied", mech.ttl_copied, (ttl,)),
    ):
        if rng.random() < rate * factor:
            for key in keys:
                offset, length = spans[key]
                packet[offset : offset + length] = request[offset : offset + length]
            events.append(event)
    return with_checksums(bytes(packet)) if events else correct


def _checksums(
    rng: random.Random, intended: bytes, config: SimulatedConfig, traits: SimulationTraits, events: list[str]
) -> bytes:
    """`intended` with the checksums the model writes: its own sums (which may slip) or a tool's."""
    if traits.arithmetic == "tool":
        return intended  # code added them; the model's copying slips come later
    packet, spans = bytearray(intended), field_spans(intended)
    rate = min(1.0, config.mechanisms.add_slip * traits.add_factor)
    for name, covered in checksum_fields(intended):
        value = model_checksum(rng, covered, config.mechanisms, rate)
        if value != int.from_bytes(intended[spans[name][0] : sum(spans[name])], "big"):
            events.append(f"{name} arithmetic")
        _put(packet, spans[name], value)
    return bytes(packet)


def _forced_wrong(rng: random.Random, correct: bytes, which: str) -> bytes:
    """The right reply with one checksum wrong (the icmp_checksum / ip_checksum hooks; IPv6 has only ICMPv6's)."""
    names = [name for name, _ in checksum_fields(correct)]
    name = names[-1] if which == "ip_checksum" else names[0]
    span = field_spans(correct)[name]
    packet = bytearray(correct)
    right = int.from_bytes(correct[span[0] : sum(span)], "big")
    _put(packet, span, (right + rng.choice((1, -1)) * rng.randint(1, 0xFF)) & 0xFFFF)
    return bytes(packet)


def _truncated(text: str, max_tokens: int, events: list[str]) -> str:
    """The answer cut where max_tokens stops it (tokens estimated as for usage)."""
    tokens = estimate_tokens(text)
    if tokens <= max_tokens:
        return text
    events.append("truncated")
    return text[: max(1, len(text) * max_tokens // tokens)]


class SimulatedModel(Model):
    """Seeded stand-in for Claude; see the module docstring. NOT Claude -- and every result says so."""

    simulated = True
    model_id = MODEL_ID

    def __init__(
        self,
        seed: int = 0,
        config: SimulatedConfig | None = None,
        *,
        real_time: bool = False,
        name: str | None = None,
        latency: float | None = None,
        errors: float = 1.0,
        stands_in_for: str | None = None,
        **options: float,
    ) -> None:
        config = config or SimulatedConfig()
        if options or errors != 1.0 or latency is not None:
            config = config.with_options(options, errors, latency)
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
        self.seen_limit = SEEN_LIMIT  # how many (request, strategy) counts to keep (LRU; see the docstring)
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self) -> str:
        return (
            f"{self.name} -- a SIMULATED offline stand-in, NOT Claude: seeded mistakes by mechanism "
            f"(copy slips per digit, checksum slips per addition, decisions), from {self.config.source}; "
            f"latency {'slept for real' if self.real_time else 'virtual'}; costs estimated at "
            f"{self.config.stands_in_for} prices"
        )

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
                self._seen.popitem(last=False)  # the least recently seen pair: it will count from 0 again
        digest = hashlib.sha256(f"{self.seed}\0{strategy}\0{count}\0".encode() + request).digest()
        return random.Random(int.from_bytes(digest[:16], "big"))

    def answer(self, request: bytes, strategy: Strategy, prompt: Prompt, rng: random.Random) -> SimAnswer:
        """The answer to one request, built by the mechanisms (see the module docstring)."""
        traits, mech = traits_of(strategy), self.config.mechanisms
        events: list[str] = []
        tool_inputs = getattr(strategy, "tool_inputs", None)  # traits_of checked it exists for tool strategies
        correct = echo_reply(request)
        if correct is None:
            return SimAnswer(
                "There is no echo reply to give: this packet is not an ICMP echo request I can answer.",
                [],
                ["no reply"],
            )
        for which in FORCED:
            if rng.random() < self.config.forced.get(which, 0.0):
                calls = tool_inputs(correct, request) if tool_inputs and traits.arithmetic == "tool" else []
                return SimAnswer(strategy.render_answer(_forced_wrong(rng, correct, which), request), calls, [which])
        if rng.random() < mech.prose * traits.prose_factor:
            return SimAnswer(self._prose(request, rng), [], ["prose"])
        intended = _decide(rng, correct, request, mech, traits.decision_factor, events)
        written = _checksums(rng, intended, self.config, traits, events)
        fields = strategy.answer_format == "fields"
        copied = copied_digits(written, fields, traits.arithmetic == "tool")
        digits = slip_digits(rng, list(to_hex(written)), copied, mech, shifts=not fields)
        if digits != list(to_hex(written)):
            events.append("copy slip")
        if fields:
            text = strategy.render_answer(bytes.fromhex("".join(digits)), request)
        else:
            text = strategy.render_answer(written, request)
            where = text.rfind(to_hex(written))
            text = text[:where] + "".join(digits) + text[where + 2 * len(written) :]
        calls = tool_inputs(intended, request) if tool_inputs and traits.arithmetic == "tool" else []
        return SimAnswer(_truncated(text, prompt.max_tokens, events), calls, events)

    def _prose(self, request: bytes, rng: random.Random) -> str:
        version = 4 if ip_version(request) == 4 else 6
        fields = {f.name: f.value for f in field_map(request)}
        src, dst = (fields[_names(version)[key]] for key in ("src", "dst"))
        return rng.choice(_PROSE).format(src=src, dst=dst, reply_type=REPLY_TYPE[version])

    def latency(self, rng: random.Random, usage: Usage, turns: int) -> float:
        """Time to first token for every turn, plus the output at the output rate; never clipped."""
        if self.config.fixed_latency_s is not None:
            return float(self.config.fixed_latency_s)
        mech = self.config.mechanisms
        first = sum(
            rng.lognormvariate(math.log(mech.ttft_s), mech.ttft_sigma) if mech.ttft_s > 0 else 0.0 for _ in range(turns)
        )
        return first + usage.output_tokens / mech.output_tokens_per_s

    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        rng = self.rng_for(bytes(request), strategy.name)
        said = self.answer(bytes(request), strategy, prompt, rng)
        usage = estimate_usage(prompt, said.text, said.tool_calls)
        latency = self.latency(rng, usage, 1 + len(said.tool_calls))
        if self.real_time:
            time.sleep(latency)
        return Completion(
            text=said.text,
            usage=usage,
            latency_s=latency,
            model_id=MODEL_ID,
            virtual_latency=not self.real_time,
            tool_calls=len(said.tool_calls),
        )
