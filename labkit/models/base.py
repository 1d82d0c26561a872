"""What every model is and what it leaves behind: Usage, Completion, Attempt and the Model base class.

A model only turns a prompt into text (`complete`); `Model.attempt` does the rest the same way for every
model -- build the prompt from the strategy, parse the answer, price it -- so Claude, a replay, the simulated
stand-in and the reference stack are judged on equal terms.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

from labkit.errors import LabkitError
from labkit.packets import from_hex, ip_version, to_hex
from labkit.parse import ParsedHex
from labkit.pricing import cost_usd
from labkit.prompts import Prompt, Strategy, get_strategy


def price(priced_as: str, usage: Usage) -> tuple[float, str]:
    """(estimated USD, model id priced as) for one exchange; (0.0, "") when no price is known, which means
    unknown, not free -- Attempt.summary says "cost unknown" then."""
    value = cost_usd(
        priced_as, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens
    )
    return (0.0, "") if value is None else (value, priced_as)


@dataclass
class Usage:
    """Tokens of one call, as the Messages API counts them (input excludes cache reads and writes)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Usage:
        data = data or {}
        return cls(
            **{
                name: int(data.get(name, 0))
                for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
            }
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass
class Completion:
    """A model's raw answer to one prompt. `virtual_latency` means latency_s was modelled, not waited for."""

    text: str
    usage: Usage
    latency_s: float
    model_id: str
    virtual_latency: bool
    tool_calls: int = 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Completion:
        return cls(
            text=data["text"],
            usage=Usage.from_dict(data.get("usage")),
            latency_s=float(data["latency_s"]),
            model_id=data["model_id"],
            virtual_latency=bool(data.get("virtual_latency", False)),
            tool_calls=int(data.get("tool_calls", 0)),
        )


@dataclass
class Attempt:
    """One request put to one model with one strategy, and everything that came of it.

    `reply` and `parse_error`: exactly one is set. `cost_usd` is an estimate at list prices for `priced_as`
    (for the simulated model: the model it stands in for, from estimated tokens); `priced_as` is "" when no
    price is known, and then cost_usd is 0.0 but unknown, not free.
    """

    model: str
    model_id: str
    simulated: bool
    strategy: str
    request: bytes
    prompt: Prompt
    raw_text: str
    reply: bytes | None
    parse_error: str | None
    latency_s: float
    usage: Usage
    cost_usd: float
    virtual_latency: bool = False
    tool_calls: int = 0
    priced_as: str = ""

    @classmethod
    def from_completion(
        cls,
        completion: Completion,
        parsed: ParsedHex,
        *,
        model: str,
        model_id: str,
        simulated: bool,
        strategy: str,
        request: bytes,
        prompt: Prompt,
        cost_usd: float,
        priced_as: str,
    ) -> Attempt:
        """The attempt a completion makes once parsed and priced: one assembly for live models and recordings."""
        return cls(
            model=model,
            model_id=model_id,
            simulated=simulated,
            strategy=strategy,
            request=request,
            prompt=prompt,
            raw_text=completion.text,
            reply=parsed.data,
            parse_error=parsed.error,
            latency_s=completion.latency_s,
            usage=completion.usage,
            cost_usd=cost_usd,
            virtual_latency=completion.virtual_latency,
            tool_calls=completion.tool_calls,
            priced_as=priced_as,
        )

    @property
    def parsed(self) -> bool:
        return self.reply is not None

    def summary(self) -> str:
        """One line for logs and notebooks; a simulated attempt says so first."""
        tag = "SIMULATED " if self.simulated else ""
        outcome = f"{len(self.reply)}-byte reply" if self.reply is not None else f"unparsed ({self.parse_error})"
        clock = "virtual" if self.virtual_latency else "wall"
        if self.priced_as:
            cost = f"~${self.cost_usd:.6f} est. at {self.priced_as} prices"
        else:
            cost = "cost unknown" if self.usage.input_tokens or self.usage.output_tokens else "no cost"
        return (
            f"{tag}{self.model} [{self.strategy}]: {outcome}, {self.latency_s:.2f} s ({clock}), "
            f"{self.usage.input_tokens} in / {self.usage.output_tokens} out tokens, {cost}"
        )

    def to_dict(self) -> dict:
        """JSON-safe: bytes as lowercase hex."""
        return {
            "model": self.model,
            "model_id": self.model_id,
            "simulated": self.simulated,
            "strategy": self.strategy,
            "request": to_hex(self.request),
            "prompt": self.prompt.to_dict(),
            "raw_text": self.raw_text,
            "reply": None if self.reply is None else to_hex(self.reply),
            "parse_error": self.parse_error,
            "latency_s": self.latency_s,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "virtual_latency": self.virtual_latency,
            "tool_calls": self.tool_calls,
            "priced_as": self.priced_as,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Attempt:
        try:
            return cls(
                model=data["model"],
                model_id=data["model_id"],
                simulated=bool(data["simulated"]),
                strategy=data["strategy"],
                request=from_hex(data["request"]),
                prompt=Prompt.from_dict(data["prompt"]),
                raw_text=data["raw_text"],
                reply=None if data.get("reply") is None else from_hex(data["reply"]),
                parse_error=data.get("parse_error"),
                latency_s=float(data["latency_s"]),
                usage=Usage.from_dict(data.get("usage")),
                cost_usd=float(data.get("cost_usd") or 0.0),
                virtual_latency=bool(data.get("virtual_latency", False)),
                tool_calls=int(data.get("tool_calls", 0)),
                priced_as=data.get("priced_as", ""),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise LabkitError(
                f"not an attempt record ({type(error).__name__}: {error}); expected the output of Attempt.to_dict()"
            ) from None


class Model(ABC):
    """Turns a request packet into an Attempt. Subclasses implement `complete` only.

    name: the registry name ("simulated:7", "claude:claude-haiku-4-5"); model_id: what produced the text;
    simulated: True for anything that is not a real model's output; virtual_time: latencies are modelled,
    so runners must not wait for them; priced_as: the model id whose prices cost estimates use.
    """

    name: str = ""
    model_id: str = ""
    simulated: bool = False
    virtual_time: bool = False
    priced_as: str = ""

    @abstractmethod
    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        """The model's answer to `prompt` (strategy and request given so tool calls and stand-ins can use them)."""

    def describe(self) -> str:
        """One line saying what this model is; overridden to make simulated and reference models explicit."""
        return f"{self.name} ({self.model_id})"

    def cost(self, completion: Completion) -> tuple[float, str]:
        """(estimated USD, model id priced as) for a completion; (0.0, "") when no price is known."""
        return price(self.priced_as or completion.model_id, completion.usage)

    def attempt(self, request: bytes, strategy: str | Strategy = "zero-shot") -> Attempt:
        """Build the prompt, ask the model, parse its answer. Parse failures are recorded, not raised."""
        request = bytes(request)
        if ip_version(request) is None:
            raise LabkitError(
                "a model answers IP packets; this request is not IPv4 or IPv6 "
                "(give the packet from the IP header on, without the Ethernet header)"
            )
        chosen = get_strategy(strategy)
        prompt = chosen.build(request)
        completion = self.complete(prompt, chosen, request)
        cost, priced_as = self.cost(completion)
        return Attempt.from_completion(
            completion,
            chosen.answer_to_reply(completion.text, request),
            model=self.name,
            model_id=completion.model_id or self.model_id,
            simulated=self.simulated,
            strategy=chosen.name,
            request=request,
            prompt=prompt,
            cost_usd=cost,
            priced_as=priced_as,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
