"""Spending guards for live responders: a token bucket for calls per second and a USD budget.

Both decide *before* a model call and never block: a ping flood is answered up to the limits and the
rest is dropped (and counted by the caller), instead of queueing up and spending later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from labkit.errors import ArgumentError


def checked_budget(limit_usd: float | None, parameter: str = "budget_usd") -> float | None:
    """A spending cap as given by the user: None (no cap) or 0 or more dollars.

    One check for every command and for Budget itself, so NaN (which slips past `< 0`) and negatives are
    refused everywhere with the same words, before any model is called. `parameter` is the caller's name for
    the cap, which the error names (the CLI shows its flag instead).
    """
    if limit_usd is not None and not limit_usd >= 0:  # "not >=" also refuses NaN
        raise ArgumentError(parameter, limit_usd, "must be 0 or more dollars")
    return limit_usd


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; take() is thread-safe and never waits."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError(f"rate must be positive (calls per second), got {rate}")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one; False means: over the rate, drop this call."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass(frozen=True)
class Reservation:
    amount_usd: float


class Budget:
    """A USD cap. Reserve the estimated cost before a call, settle with the real cost after it.

    Concurrent calls each hold a reservation, so together they can never commit more than the limit.
    The guarantee is as good as the estimate: estimate from the largest possible answer (max_tokens).
    """

    def __init__(self, limit_usd: float):
        checked = checked_budget(limit_usd, "limit_usd")
        if checked is None:
            raise ArgumentError("limit_usd", limit_usd, "must be a number of dollars (0 or more), not None")
        self.limit_usd = float(checked)
        self._spent = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, estimate_usd: float) -> Reservation | None:
        """Hold `estimate_usd`; None when that would go over the limit (drop the call)."""
        estimate_usd = max(float(estimate_usd), 0.0)
        with self._lock:
            if self._spent + self._reserved + estimate_usd > self.limit_usd + 1e-12:
                return None
            self._reserved += estimate_usd
            return Reservation(estimate_usd)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Release the hold and record what the call really cost (0 if it failed before spending)."""
        with self._lock:
            self._reserved = max(self._reserved - reservation.amount_usd, 0.0)
            self._spent += max(float(actual_usd), 0.0)

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    @property
    def reserved_usd(self) -> float:
        with self._lock:
            return self._reserved

    @property
    def remaining_usd(self) -> float:
        with self._lock:
            return max(self.limit_usd - self._spent - self._reserved, 0.0)
