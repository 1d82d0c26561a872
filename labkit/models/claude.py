"""Claude through the real `anthropic` SDK: the only model here that costs money and can fail.

Why this module does its own retrying: the SDK's backoff (0.5 s doubling, up to 8 s) is fine for
people but makes tests slow, so the SDK is told not to retry (max_retries=0) and `RetryPolicy`
retries 408/409/429/5xx/529 and dropped connections with a backoff the caller chooses (honouring
the server's retry-after, capped). A timeout is not retried: the timeout already is the longest a
packet should wait. Every failure becomes one `ModelError` line that says what to do.

The API key comes from `api_key=` or ANTHROPIC_API_KEY and is handed straight to the SDK client;
this module never prints, logs or stores it anywhere else. ANTHROPIC_BASE_URL (or `base_url=`)
points the SDK at any server speaking the Messages API (a proxy, or the loopback test server).

Prompt caching: the fixed part of a prompt (Prompt.system, plus the tool definitions that precede
it) gets `cache_control` when it is long enough for the API to cache it. The minimum is per model
(4096 tokens for Haiku 4.5 and Opus 4.5/4.6, 2048 for Sonnet 4.6 and Haiku 3.x, 1024 for the rest);
tokens are estimated generously at 3 characters each (hex is dense). Marking a prompt that turns out
to be too short costs nothing: the API just does not cache it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import anthropic
from anthropic.types import Message

from labkit.errors import ModelError
from labkit.models.base import Completion, Model, Usage
from labkit.models.http_retry import RETRYABLE_STATUSES, RetryPolicy, displayable_url, retry_after_s
from labkit.prompts import Prompt, Strategy

DEFAULT_MODEL_ID = "claude-haiku-4-5"
DEFAULT_RETRY = RetryPolicy()  # frozen, so one shared default is safe

# (model id prefix, minimum cacheable prefix in tokens); first match wins, else DEFAULT_CACHE_MINIMUM.
# Sonnet 4.6: the docs as quoted in anthropics/anthropic-sdk-python#1194 say 1,024, while that report sees
# caching only from 2,048 tokens on. The smaller is used: marking a prefix below the real minimum is free (it is
# simply not cached), while not marking one above it loses the cache, as with estimate_tokens below.
CACHE_MINIMUM_TOKENS: tuple[tuple[str, int], ...] = (
    ("claude-haiku-4-5", 4096),
    ("claude-opus-4-5", 4096),
    ("claude-opus-4-6", 4096),
    ("claude-sonnet-4-6", 1024),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
)
DEFAULT_CACHE_MINIMUM = 1024
CHARS_PER_TOKEN_ESTIMATE = 3

_OFFLINE_HINT = "or work offline with model 'simulated' or 'replay:<file>'"
_MALFORMED_HINT = "check that ANTHROPIC_BASE_URL points at a Messages API server, then try again"


def cache_minimum_tokens(model_id: str) -> int:
    """The API's minimum cacheable prompt prefix for this model."""
    for prefix, minimum in CACHE_MINIMUM_TOKENS:
        if model_id.startswith(prefix):
            return minimum
    return DEFAULT_CACHE_MINIMUM


def estimate_tokens(text: str) -> int:
    """A generous token estimate: over-marking is free, under-marking loses the cache."""
    return len(text) // CHARS_PER_TOKEN_ESTIMATE


def system_param(prompt: Prompt, model_id: str) -> str | list[dict[str, Any]]:
    """Prompt.system as the API's `system`, marked for caching when the fixed prefix is long enough."""
    fixed = prompt.system + (json.dumps(list(prompt.tools)) if prompt.tools else "")
    if estimate_tokens(fixed) < cache_minimum_tokens(model_id):
        return prompt.system
    return [{"type": "text", "text": prompt.system, "cache_control": {"type": "ephemeral"}}]


def _error_type(exc: anthropic.APIStatusError) -> str:
    """The API's error type ("overloaded_error", ...) from an error body, else "HTTP <status>"."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    kind = error.get("type") if isinstance(error, dict) else None
    return f"{exc.status_code} {kind}" if isinstance(kind, str) else f"HTTP {exc.status_code}"


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {})
    message = error.get("message") if isinstance(error, dict) else None
    return message.splitlines()[0][:200] if isinstance(message, str) and message else ""


def malformed_reason(message: object) -> str | None:
    """Why a response is not a usable Messages API message, or None when it is."""
    if not isinstance(message, Message):
        return "the body is not a JSON object"
    if message.type != "message" or message.role != "assistant":
        return "it is not an assistant message"
    blocks = message.content
    if not isinstance(blocks, list) or not all(isinstance(getattr(b, "type", None), str) for b in blocks):
        return "it has no list of content blocks"
    usage = message.usage
    if usage is None or not isinstance(usage.input_tokens, int) or not isinstance(usage.output_tokens, int):
        return "it has no token usage"
    return None


def usage_of(message: Message) -> Usage:
    """The API's usage block as labkit's Usage."""
    usage = message.usage
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
    )


def final_text(message: Message) -> str:
    """The text blocks of a message, joined: what the strategy parses."""
    return "".join(block.text for block in message.content if block.type == "text")


class ClaudeModel(Model):
    """A real Claude model over the Messages API. Not simulated; latency is wall-clock time."""

    simulated = False
    virtual_time = False
    key_env = "ANTHROPIC_API_KEY"  # where the key comes from, named in errors

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_tool_turns: int = 8,
    ) -> None:
        key = self._api_key(api_key)
        self.model_id = model_id
        self.name = f"claude:{model_id}"
        self.timeout_s = timeout_s
        self.retry = retry
        self.max_tool_turns = max_tool_turns
        self._client = anthropic.Anthropic(
            api_key=key.strip(),
            base_url=self._base_url(base_url),
            timeout=anthropic.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            max_retries=0,  # RetryPolicy retries, with a backoff tests can shrink
        )
        self.base_url = displayable_url(str(self._client.base_url))  # shown in errors: no credentials

    def _api_key(self, given: str | None) -> str:
        """The key for the client: `api_key=`, else ANTHROPIC_API_KEY; a clear error when there is none."""
        key = given if given is not None else os.environ.get(self.key_env, "")
        if not key.strip():
            raise ModelError(f"{self.key_env} is not set: export it to use Claude, {_OFFLINE_HINT}")
        return key

    def _base_url(self, given: str | None) -> str | None:
        return given or os.environ.get("ANTHROPIC_BASE_URL") or None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        """Ask Claude; with tools, run the tool loop until it stops asking (at most max_tool_turns)."""
        started = time.perf_counter()
        params: dict[str, Any] = {"model": self.model_id, "max_tokens": prompt.max_tokens}
        if prompt.system:
            params["system"] = system_param(prompt, self.model_id)
        if prompt.tools:
            params["tools"] = [dict(tool) for tool in prompt.tools]
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt.user}]
        usage, tool_calls = Usage(), 0
        for turn in range(self.max_tool_turns + 1):
            message = self._create(params | {"messages": messages})
            usage = usage + usage_of(message)
            uses = [block for block in message.content if block.type == "tool_use"]
            if message.stop_reason != "tool_use" or not uses or not prompt.tools:
                break
            if turn == self.max_tool_turns:
                raise ModelError(
                    f"{self.model_id} still asked for tools after {self.max_tool_turns} turns; "
                    "raise max_tool_turns (`labkit pcap --max-tool-turns N`) or use a strategy without tools"
                )
            messages.append({"role": "assistant", "content": [block.to_dict(mode="json") for block in message.content]})
            messages.append({"role": "user", "content": [_tool_result(strategy, block) for block in uses]})
            tool_calls += len(uses)
        return Completion(
            text=final_text(message),
            usage=usage,
            latency_s=time.perf_counter() - started,
            model_id=message.model or self.model_id,
            virtual_latency=False,
            tool_calls=tool_calls,
        )

    def _create(self, params: dict[str, Any]) -> Message:
        """One Messages API call, retried per RetryPolicy; every failure is one ModelError line."""
        where = f"{self.model_id} at {self.base_url}"
        last = ""
        for retry in range(self.retry.max_retries + 1):
            try:
                message = self._client.messages.create(**params)
            except anthropic.APITimeoutError:
                raise ModelError(
                    f"{where} did not answer within {self.timeout_s:g} s; try again, "
                    f"raise timeout_s (`labkit pcap --timeout S`), {_OFFLINE_HINT}"
                ) from None
            except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
                raise ModelError(
                    f"{where} rejected the API key ({_error_type(exc)}); check {self.key_env}, {_OFFLINE_HINT}"
                ) from None
            except anthropic.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUSES:
                    detail = _error_message(exc).replace(self._client.api_key or "\0", "<key>")  # never echo a key
                    raise ModelError(
                        f"{where} refused the request ({_error_type(exc)}{': ' + detail if detail else ''}); "
                        "check the model id and prompt size"
                    ) from None
                last, wait = _error_type(exc), self.retry.delay(retry, retry_after_s(exc.response.headers))
            except anthropic.APIConnectionError:
                last, wait = "connection failed", self.retry.delay(retry, None)
            except ValueError:  # the SDK's json.loads on a truncated or non-JSON body
                raise ModelError(f"{where} sent a malformed response (not JSON); {_MALFORMED_HINT}") from None
            else:
                reason = malformed_reason(message)
                if reason:
                    raise ModelError(f"{where} sent a malformed response ({reason}); {_MALFORMED_HINT}")
                return message
            if retry < self.retry.max_retries:
                time.sleep(wait)
        raise ModelError(
            f"{where} still failing after {self.retry.max_retries + 1} tries (last: {last}); "
            f"wait a minute and try again, {_OFFLINE_HINT}"
        )


def _tool_result(strategy: Strategy, block: Any) -> dict[str, Any]:
    """Run one tool the model asked for; a failing tool is reported to the model, as the API intends."""
    try:
        output = strategy.run_tool(block.name, dict(block.input))
        return {"type": "tool_result", "tool_use_id": block.id, "content": output}
    except Exception as exc:  # noqa: BLE001 - the model chose the arguments; tell it what went wrong
        return {"type": "tool_result", "tool_use_id": block.id, "content": f"error: {exc}", "is_error": True}
