"""Per-model token prices, so every attempt can carry a cost estimate.

Prices are USD per million tokens from Anthropic's pricing page
(https://docs.anthropic.com/en/docs/about-claude/pricing), checked 2026-11-25. They change: update
PRICES_CHECKED and the table together. A cost computed here is an estimate (list prices, no batch or
volume discounts); for the simulated model the token counts are estimated as well.
Cache writes are priced at the 5-minute TTL rate, which is what `cache_control: ephemeral` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_CHECKED = "2026-11-25"


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# Keyed by model-id prefix: "claude-haiku-4-5-20251001" is priced as "claude-haiku-4-5".
PRICES: dict[str, Price] = {
    "claude-opus-4-7": Price(5.00, 25.00, 6.25, 0.50),
    "claude-opus-4-6": Price(5.00, 25.00, 6.25, 0.50),
    "claude-opus-4-5": Price(5.00, 25.00, 6.25, 0.50),
    "claude-opus-4-1": Price(15.00, 75.00, 18.75, 1.50),
    "claude-opus-4-0": Price(15.00, 75.00, 18.75, 1.50),
    "claude-opus-4-2": Price(15.00, 75.00, 18.75, 1.50),  # claude-opus-4-20250514 (Opus 4)
    "claude-sonnet-4-6": Price(3.00, 15.00, 3.75, 0.30),
    "claude-sonnet-4-5": Price(3.00, 15.00, 3.75, 0.30),
    "claude-sonnet-4-0": Price(3.00, 15.00, 3.75, 0.30),
    "claude-sonnet-4-2": Price(3.00, 15.00, 3.75, 0.30),  # claude-sonnet-4-20250514 (Sonnet 4)
    "claude-3-7-sonnet": Price(3.00, 15.00, 3.75, 0.30),
    "claude-haiku-4-5": Price(1.00, 5.00, 1.25, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.00, 1.00, 0.08),
    "claude-3-haiku": Price(0.25, 1.25, 0.30, 0.03),
}


def price_for(model_id: str) -> tuple[str, Price] | None:
    """(table key, price) for a model id, longest matching prefix first; None when not in the table."""
    matches = [key for key in PRICES if model_id == key or model_id.startswith(key)]
    if not matches:
        return None
    key = max(matches, key=len)
    return key, PRICES[key]


def cost_usd(
    model_id: str, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0
) -> float | None:
    """Estimated USD for one call; None when the model has no known price (so nobody mistakes it for free).

    `input_tokens` excludes cache reads and writes, as the Messages API reports it.
    """
    found = price_for(model_id)
    if found is None:
        return None
    price = found[1]
    total = (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_read_tokens * price.cache_read
        + cache_write_tokens * price.cache_write
    )
    return total / 1_000_000
