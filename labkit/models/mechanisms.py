"""The simulated model's mechanisms: how an LLM's slips arise, with every default parameter and its source.

Why mechanisms and not fixed outcome rates: a fixed "8 % of answers have a bad checksum" makes a 0-byte and
a 1472-byte ping equally hard, and puts the conclusion into the premise. Here each failure comes from a step
the model takes, so its chance grows with the number of steps, as the published evidence says it does:

  copying     every hex digit the model copies slips with probability copy_slip (a substitution, a
              transposition with its neighbour, a dropped digit or a repeated one) -- longer packets fail more
  arithmetic  a checksum the model computes is a chain of 16-bit one's-complement additions; each addition
              slips with probability add_slip (a lost carry, or a mis-added digit) -- more words, more slips.
              A tool call removes the additions (the model copies the tool's 4 digits instead)
  decisions   the type kept at 8/128, the addresses left unswapped, the request's TTL kept: each its own rate
  output      a prose answer instead of a packet; an answer longer than max_tokens is cut there
  latency     time to first token per turn (one more per tool call) + output tokens / output rate

PARAMETERS is the one table of defaults: docs/simulator.md shows it (tests check the two agree), and every
row names its source -- a published figure with its reference, or "assumed". Only checksums and copying are
modelled per step; everything else is one draw per answer.
"""

from __future__ import annotations

import dataclasses
import math
import random
import struct
from dataclasses import dataclass

from labkit.checksum import icmpv6_offset
from labkit.errors import LabkitError
from labkit.fields import field_spans
from labkit.headers import IPV6_HEADER, ip_version, ipv4_header_len
from labkit.prompts import checksum_inputs


@dataclass(frozen=True)
class Parameter:
    """One default of the simulator, with its unit and where the value comes from."""

    name: str
    default: float
    unit: str
    meaning: str
    source: str


BASE64BENCH = (
    "Base64Bench (github.com/richcooper95/base-64-bench, built on Inspect; figures as its write-up "
    "reports them): best models reproduce encodings exactly 73.7-75.9 % of the time overall, "
    "and none exactly for ~3,200-character random strings"
)
FAITH_AND_FATE = (
    "Faith and Fate (Dziri et al. 2023, arXiv 2305.18654): GPT-4 59 % on 3-digit x 3-digit "
    "multiplication, accuracy falling as steps compose"
)
TRANSCRIPTION = (
    "Verbatim Data Transcription Failures (arXiv 2601.03640): small omissions or alterations when "
    "LLMs transcribe constants"
)

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "copy_slip",
        0.0005,
        "per hex digit copied",
        "chance that one copied hex digit slips",
        f"assumed; chosen so ~3,000 copied digits are exact about 1 time in 4 -- {BASE64BENCH} "
        "(encoding is harder than copying, so this is an order of magnitude, not a fit)",
    ),
    Parameter("share_substitution", 0.4, "share of slips", "a digit replaced by another", f"assumed; {TRANSCRIPTION}"),
    Parameter("share_transposition", 0.2, "share of slips", "a digit swapped with its neighbour", "assumed"),
    Parameter("share_dropped", 0.3, "share of slips", "a digit left out (the hex shifts)", f"assumed; {TRANSCRIPTION}"),
    Parameter("share_repeated", 0.1, "share of slips", "a digit written twice (the hex shifts)", "assumed"),
    Parameter(
        "add_slip",
        0.01,
        "per 16-bit addition",
        "chance that one addition of a checksum slips",
        f"assumed; the per-step mechanism follows {FAITH_AND_FATE}; the value is not taken from it",
    ),
    Parameter("lost_carry_share", 0.5, "share of addition slips", "a carry lost (else a digit mis-added)", "assumed"),
    Parameter("type_copied", 0.01, "per answer", "the request's type kept (8 or 128)", "assumed"),
    Parameter("unswapped", 0.01, "per answer", "source and destination left as in the request", "assumed"),
    Parameter("ttl_copied", 0.02, "per answer", "the request's TTL / hop limit kept (Linux would set 64)", "assumed"),
    Parameter("prose", 0.01, "per answer", "an explanation instead of the packet", "assumed"),
    Parameter(
        "ttft_s", 0.6, "seconds (median)", "time to first token, per request (tool turns add one each)", "assumed"
    ),
    Parameter("ttft_sigma", 0.35, "lognormal sigma", "spread of the time to first token", "assumed"),
    Parameter("output_tokens_per_s", 80.0, "tokens per second", "output rate", "assumed"),
)
DEFAULTS = {p.name: p.default for p in PARAMETERS}
RATES = ("copy_slip", "add_slip", "type_copied", "unswapped", "ttl_copied", "prose")  # what errors= scales
SLIP_KINDS = ("substitution", "transposition", "dropped", "repeated")


@dataclass(frozen=True)
class Mechanisms:
    """The simulator's parameters (defaults and meanings: PARAMETERS)."""

    copy_slip: float = DEFAULTS["copy_slip"]
    share_substitution: float = DEFAULTS["share_substitution"]
    share_transposition: float = DEFAULTS["share_transposition"]
    share_dropped: float = DEFAULTS["share_dropped"]
    share_repeated: float = DEFAULTS["share_repeated"]
    add_slip: float = DEFAULTS["add_slip"]
    lost_carry_share: float = DEFAULTS["lost_carry_share"]
    type_copied: float = DEFAULTS["type_copied"]
    unswapped: float = DEFAULTS["unswapped"]
    ttl_copied: float = DEFAULTS["ttl_copied"]
    prose: float = DEFAULTS["prose"]
    ttft_s: float = DEFAULTS["ttft_s"]
    ttft_sigma: float = DEFAULTS["ttft_sigma"]
    output_tokens_per_s: float = DEFAULTS["output_tokens_per_s"]

    def __post_init__(self) -> None:
        for name in RATES + ("lost_carry_share",) + tuple(f"share_{k}" for k in SLIP_KINDS):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise LabkitError(f"simulated {name}={value!r} must be a number between 0 and 1")
        if sum(self.slip_shares()) <= 0:
            raise LabkitError("simulated slip shares are all 0; give at least one share_* above 0")
        if not (self.ttft_s >= 0 and self.ttft_sigma >= 0 and self.output_tokens_per_s > 0):
            raise LabkitError("simulated latency needs ttft_s >= 0, ttft_sigma >= 0 and output_tokens_per_s > 0")

    def slip_shares(self) -> tuple[float, ...]:
        return tuple(getattr(self, f"share_{kind}") for kind in SLIP_KINDS)

    def scaled(self, factor: float) -> Mechanisms:
        """Every rate times `factor` (capped at 1): errors=0 is a perfect model, errors=2 a careless one."""
        if not (math.isfinite(factor) and factor >= 0):
            raise LabkitError(f"errors={factor!r} must be a number 0 or more")
        return dataclasses.replace(self, **{name: min(1.0, getattr(self, name) * factor) for name in RATES})

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Mechanisms:
        unknown = set(data) - set(DEFAULTS)
        if unknown:
            raise LabkitError(f"unknown simulated parameter(s) {', '.join(sorted(unknown))}; use {', '.join(DEFAULTS)}")
        return cls(**{name: float(value) for name, value in data.items()})


def markdown_table() -> str:
    """PARAMETERS as the Markdown table docs/simulator.md holds."""
    rows = [f"| `{p.name}` | {p.default:g} | {p.unit} | {p.meaning} | {p.source} |" for p in PARAMETERS]
    return "\n".join(["| parameter | default | unit | meaning | source |", "|---|---|---|---|---|", *rows])


# --- where the steps are ----------------------------------------------------------------------------------


def checksum_fields(packet: bytes) -> list[tuple[str, bytes]]:
    """(checksum field name, the bytes it covers with the field zeroed) for each checksum of an echo packet."""
    version = ip_version(packet)
    names: tuple[str, ...]
    if version == 4:
        start = ipv4_header_len(packet)
        names = ("icmp.chksum", "ip.chksum")
    else:
        start = icmpv6_offset(packet) or IPV6_HEADER
        names = ("icmpv6.cksum",)
    inputs = checksum_inputs(packet, version or 6, start)
    return [(name, covered) for name, (_, covered, _) in zip(names, inputs, strict=True)]


def additions(covered: bytes) -> int:
    """16-bit additions in a checksum over `covered`: one fewer than its words."""
    return max(0, (len(covered) + 1) // 2 - 1)


def checksum_additions(packet: bytes) -> int:
    """All the additions a model makes to compute every checksum of this packet by hand."""
    return sum(additions(covered) for _, covered in checksum_fields(packet))


# --- the slips ---------------------------------------------------------------------------------------------


def slip_positions(rng: random.Random, count: int, rate: float) -> list[int]:
    """Which of `count` independent steps slip, each with probability `rate` (geometric gaps: one draw a slip)."""
    if rate <= 0 or count <= 0:
        return []
    if rate >= 1:
        return list(range(count))
    found: list[int] = []
    position, log_keep = -1, math.log1p(-rate)
    while True:
        position += 1 + int(math.log(1.0 - rng.random()) / log_keep)
        if position >= count:
            return found
        found.append(position)


def _fold(total: int) -> int:
    """A one's-complement sum folded to 16 bits (end-around carries added back)."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def model_checksum(rng: random.Random, covered: bytes, mech: Mechanisms, add_rate: float) -> int:
    """The checksum a model writes after adding the words of `covered` one by one, each addition slipping with
    `add_rate`. A lost carry drops a carry (the end-around one, or one between
    hex digits); a mis-add is off by one digit value. Runs between slips are summed at once (one's-complement
    addition is associative), so a long packet with no slip costs one sum, not one step per word."""
    data = covered + b"\x00" * (len(covered) % 2)
    words = struct.unpack(f"!{len(data) // 2}H", data) or (0,)
    total, done = 0, 0  # `done` words are in `total`; step k adds words[k + 1]
    for step in slip_positions(rng, len(words) - 1, add_rate):  # ascending
        total = _fold(total + sum(words[done : step + 1])) + words[step + 1]
        carried = total > 0xFFFF
        total = _slip_sum(rng, (total & 0xFFFF) + carried, carried, mech.lost_carry_share)
        done = step + 2
    return ~_fold(total + sum(words[done:])) & 0xFFFF


def _slip_sum(rng: random.Random, total: int, carried: bool, lost_carry_share: float) -> int:
    if rng.random() < lost_carry_share:
        drop = 1 if carried else 1 << (4 * rng.randint(1, 3))  # the end-around carry, or one between digits
        return (total - drop) & 0xFFFF
    delta = rng.choice((-1, 1)) * rng.randint(1, 9) << (4 * rng.randrange(4))
    return (total + delta) & 0xFFFF


@dataclass(frozen=True)
class DigitRanges:
    """Which hex digits of a packet the model copies, as [start, end) runs: cheap to count and to index."""

    runs: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return sum(end - start for start, end in self.runs)

    def __iter__(self):
        for start, end in self.runs:
            yield from range(start, end)

    def at(self, k: int) -> int:
        """The k-th copied digit's index in the hex."""
        for start, end in self.runs:
            if k < end - start:
                return start + k
            k -= end - start
        raise IndexError(k)


def slip_digits(
    rng: random.Random, digits: list[str], copied: DigitRanges, mech: Mechanisms, shifts: bool = True
) -> list[str]:
    """`digits` (hex characters) with copy slips among the `copied` digits. `shifts=False` (a JSON value, whose
    length the format fixes) turns dropped and repeated digits into substitutions."""
    out = list(digits)
    for where in sorted((copied.at(k) for k in slip_positions(rng, len(copied), mech.copy_slip)), reverse=True):
        kind = rng.choices(SLIP_KINDS, weights=mech.slip_shares())[0]
        if not shifts and kind in ("dropped", "repeated"):
            kind = "substitution"
        if kind == "transposition" and where + 1 < len(out) and out[where + 1] != out[where]:
            out[where], out[where + 1] = out[where + 1], out[where]
        elif kind == "dropped":
            del out[where]
        elif kind == "repeated":
            out.insert(where, out[where])
        else:
            out[where] = rng.choice([d for d in "0123456789abcdef" if d != out[where]])
    return out


# --- the analytic prediction ---------------------------------------------------------------------------------


def copied_digits(packet: bytes, writes_fields: bool, arithmetic_by_tool: bool) -> DigitRanges:
    """The digits (of the packet's hex) the model copies rather than decides or computes.

    A whole-packet answer copies everything but the checksums and the type; a fields answer copies the two
    addresses (and, with a tool, the checksums the tool returned)."""
    spans = field_spans(packet)
    version = ip_version(packet)
    prefix = "ip" if version == 4 else "ipv6"
    check = {name for name, _ in checksum_fields(packet)}
    if writes_fields:
        names = {f"{prefix}.src", f"{prefix}.dst"} | (check if arithmetic_by_tool else set())
        return DigitRanges(tuple(sorted((2 * spans[n][0], 2 * sum(spans[n])) for n in names if n in spans)))
    skipped = sorted(spans[n] for n in check | {"icmp.type" if version == 4 else "icmpv6.type"} if n in spans)
    runs, at = [], 0
    for offset, length in skipped:
        if offset > at:
            runs.append((2 * at, 2 * offset))
        at = max(at, offset + length)
    if at < len(packet):
        runs.append((2 * at, 2 * len(packet)))
    return DigitRanges(tuple(runs))


def predict_accept(
    reply: bytes,
    writes_fields: bool,
    arithmetic_by_tool: bool,
    mech: Mechanisms,
    add_factor: float = 1.0,
    decision_factor: float = 1.0,
    prose_factor: float = 1.0,
) -> float:
    """The chance that ping accepts the answer, by the mechanisms alone (no simulation): every copied digit,
    every addition and the two decisions ping checks must go right. A slightly low estimate: a slip in a field
    Linux may choose (IPv4 id, TTL) is counted as fatal here."""
    ok = 1 - min(1.0, mech.prose * prose_factor)
    ok *= (1 - min(1.0, mech.type_copied * decision_factor)) * (1 - min(1.0, mech.unswapped * decision_factor))
    ok *= (1 - mech.copy_slip) ** len(copied_digits(reply, writes_fields, arithmetic_by_tool))
    if not arithmetic_by_tool:
        ok *= (1 - min(1.0, mech.add_slip * add_factor)) ** checksum_additions(reply)
    return ok


def strategy_table() -> str:
    """Every strategy's SimulationTraits as the Markdown table docs/simulator.md holds."""
    from labkit.prompts import STRATEGIES

    rows = []
    for strategy in STRATEGIES.values():
        traits = strategy.simulation
        if traits is None:
            rows.append(f"| `{strategy.name}` | - | - | - | - | - | not simulated |")
            continue
        rows.append(
            f"| `{strategy.name}` | {strategy.answer_format} | {traits.arithmetic} | {traits.add_factor:g} | "
            f"{traits.decision_factor:g} | {traits.prose_factor:g} | {traits.source} |"
        )
    return "\n".join(
        [
            "| strategy | writes | checksums added by | add_factor | decision_factor | prose_factor | source |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
