"""What any HTTP model needs to fail well: which statuses to retry, how long to wait, and a URL safe to show.

Why a module of its own: Claude's API and every local Messages API server (Ollama, llama-server, vLLM,
LiteLLM) fail the same ways -- 429 with Retry-After, 529 overloaded, dropped connections -- and a base URL
may carry credentials (user:password@, ?key=) that must never reach an error message, a model name or a
recording. One copy of these rules serves every HTTP model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))  # 529 = overloaded_error


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure (tests use tiny backoffs)."""

    max_retries: int = 4
    backoff_s: float = 1.0  # first wait; doubles each retry, with jitter
    max_backoff_s: float = 30.0  # no single wait is longer, whatever retry-after says

    def delay(self, retry: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        if retry_after_s is not None and retry_after_s >= 0:
            return min(retry_after_s, self.max_backoff_s)
        exponential = self.backoff_s * (2**retry) * (0.75 + 0.25 * random.random())
        return min(exponential, self.max_backoff_s)


def retry_after_s(headers: Any) -> float | None:
    """retry-after-ms or retry-after (seconds) from an error response, if present and numeric."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return float(value) * scale
        except (TypeError, ValueError):
            continue
    return None


def displayable_url(url: str) -> str:
    """The URL without user:password or query, which a base URL may carry as credentials: what error
    messages, model names and describe() may show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
    except ValueError:
        return "<unreadable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
