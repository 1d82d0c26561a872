"""A real HTTP server that speaks the Anthropic Messages API on loopback, scripted by the test.

Why: labkit's Claude path must be tested offline, and without mocking Python functions: the
`anthropic` SDK really opens a TCP connection to 127.0.0.1 and gets real HTTP answers. The test
decides what "the model" says (a queue of behaviours: success text, 429, 529, 500, 401, a slow
answer, a malformed body, tool use) and afterwards inspects the requests the server received.

Nothing here is Claude. The text a behaviour returns is written by the test, so the replies are
as right or as wrong as the test wants them to be.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TEST_KEY = "sk-ant-loopback-test-key-0123456789"
_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}_loopback{next(_ids):08d}"


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters per token) so usage numbers look and move like real ones."""
    return max(1, len(text) // 4)


@dataclass
class ReceivedRequest:
    """One HTTP request as the server saw it (headers lowercased)."""

    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    body: Any  # parsed JSON, or None when it was not JSON
    status: int = 0  # what the server answered
    answer: Any = None  # the answer body, parsed JSON when it was JSON


@dataclass(frozen=True)
class Answer:
    """What the server sends back: status, extra headers, body bytes, content type."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


# A behaviour turns (server, request) into an Answer; tests queue them with MessagesServer.script().
Behaviour = Callable[["MessagesServer", ReceivedRequest], Answer]


def _error(status: int, error_type: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": _new_id("req")}
    return Answer(status, json.dumps(body).encode(), headers)


def text(reply: str, *, stop_reason: str = "end_turn") -> Behaviour:
    """Answer with one text block (what "the model" says is chosen by the test)."""

    def behave(server: MessagesServer, request: ReceivedRequest) -> Answer:
        return server.message_answer(request, [{"type": "text", "text": reply}], stop_reason)

    return behave


def tool_use(name: str, tool_input: dict, *, preface: str = "") -> Behaviour:
    """Answer by asking the client to run a tool (stop_reason "tool_use")."""

    def behave(server: MessagesServer, request: ReceivedRequest) -> Answer:
        blocks: list[dict] = [{"type": "text", "text": preface}] if preface else []
        blocks.append({"type": "tool_use", "id": _new_id("toolu"), "name": name, "input": tool_input})
        return server.message_answer(request, blocks, "tool_use")

    return behave


def rate_limited(retry_after: str | None = "0") -> Behaviour:
    """429 rate_limit_error, with a retry-after header (seconds) unless None."""
    headers = (("retry-after", retry_after),) if retry_after is not None else ()
    message = "Number of requests has exceeded your rate limit."
    return lambda server, request: _error(429, "rate_limit_error", message, headers)


def overloaded() -> Behaviour:
    """529 overloaded_error, as the API sends when it is temporarily overloaded."""
    return lambda server, request: _error(529, "overloaded_error", "Overloaded")


def server_error(status: int = 500) -> Behaviour:
    """5xx api_error."""
    return lambda server, request: _error(status, "api_error", "Internal server error")


def unauthorized() -> Behaviour:
    """401 authentication_error, whatever key was sent (e.g. a revoked key)."""
    return lambda server, request: _error(401, "authentication_error", "invalid x-api-key")


def malformed(body: bytes = b'{"id": "msg_trunc', content_type: str = "application/json") -> Behaviour:
    """200 OK with a body that is not a Messages API message (truncated JSON by default)."""
    return lambda server, request: Answer(200, body, (), content_type)


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Wait `seconds` before answering (to provoke a client timeout), then behave like `then`."""

    def behave(server: MessagesServer, request: ReceivedRequest) -> Answer:
        server.stopping.wait(seconds)
        return (then or text("late answer"))(server, request)

    return behave


_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){20,}")


def prompt_packet(request: ReceivedRequest) -> bytes | None:
    """The packet the prompt shows: the longest run of hex in the last user turn (what a model would read)."""
    messages = (request.body or {}).get("messages") or []
    content = messages[-1].get("content", "") if messages else ""
    if isinstance(content, list):
        content = " ".join(block.get("text", "") for block in content if isinstance(block, dict))
    runs = _HEX_RUN.findall(str(content))
    return bytes.fromhex(max(runs, key=len)) if runs else None


def obedient_reply(packet: bytes) -> bytes:
    """What the zero-shot prompt literally asks for, done perfectly, whatever the packet is: swap the
    addresses, set the type to 0 (129), recompute the checksums. No judgement about whether Linux would
    answer -- a perfect, obedient model. Written from the RFCs here, not with labkit's reference stack."""
    from labkit.checksum import icmpv6_pseudo_header, internet_checksum

    out = bytearray(packet)
    if packet[0] >> 4 == 4:
        header = (packet[0] & 0x0F) * 4
        out[12:16], out[16:20] = packet[16:20], packet[12:16]
        out[header] = 0
        out[10:12] = out[header + 2 : header + 4] = b"\0\0"
        out[10:12] = internet_checksum(bytes(out[:header])).to_bytes(2, "big")
        out[header + 2 : header + 4] = internet_checksum(bytes(out[header:])).to_bytes(2, "big")
    else:
        out[8:24], out[24:40] = packet[24:40], packet[8:24]
        out[40], out[42:44] = 129, b"\0\0"
        body = bytes(out[40:])
        out[42:44] = internet_checksum(icmpv6_pseudo_header(out[8:24], out[24:40], len(body)) + body).to_bytes(2, "big")
    return bytes(out)


def obedient(transform: Callable[[bytes, bytes], bytes] | None = None) -> Behaviour:
    """A perfect, obedient model: answers the packet in the prompt with obedient_reply(packet), passed
    through transform(request, reply) when the test wants it to write something else (always as hex)."""

    def behave(server: MessagesServer, request: ReceivedRequest) -> Answer:
        packet = prompt_packet(request)
        if packet is None:
            return server.message_answer(request, [{"type": "text", "text": "I see no packet."}], "end_turn")
        reply = obedient_reply(packet)
        reply = transform(packet, reply) if transform else reply
        return server.message_answer(request, [{"type": "text", "text": reply.hex()}], "end_turn")

    return behave


def _check_request(body: Any) -> str | None:
    """Why this body is not a valid Messages request (the real API's 400s), or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    system = body.get("system", "")
    if not isinstance(system, str) and not (
        isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system)
    ):
        return "system: must be a string or a list of text blocks"
    for tool in body.get("tools", []):
        if not isinstance(tool, dict) or "name" not in tool or "input_schema" not in tool:
            return "tools: each tool needs name and input_schema"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    open_tool_ids: set[str] = set()
    for index, message in enumerate(messages):
        role = "user" if index % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != role:
            return f"messages.{index}: roles must alternate user/assistant, starting with user"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{index}.content: must be a string or a non-empty list of blocks"
        answered = {b.get("tool_use_id") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"}
        if role == "user" and answered != open_tool_ids:
            return f"messages.{index}: tool_result blocks must answer exactly the tool_use ids {sorted(open_tool_ids)}"
        open_tool_ids = {b.get("id") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"}
    return None


def presented_key(headers: dict[str, str]) -> str | None:
    """The key a client sent: x-api-key, or "Authorization: Bearer <key>" (what anthropic 2.x sends)."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    return "".join(block.get("text", "") for block in system)


class MessagesServer:
    """POST /v1/messages on 127.0.0.1:<random port>; answers from a scripted queue of behaviours.

    The key sent (x-api-key, or Authorization: Bearer as anthropic 2.x sends it) must equal
    `api_key` (else 401, like the real API). Requests that the
    real API would reject (missing model, roles out of order, unanswered tool_use) get a 400
    without consuming the script. An empty script also answers 400, so a test that makes more
    calls than it planned fails loudly. Prompt caching is imitated: a system prompt marked with
    cache_control and at least `cache_min_tokens` long is "written" the first time and "read" after.
    """

    def __init__(
        self, api_key: str = DEFAULT_TEST_KEY, *, cache_min_tokens: int = 1024, default: Behaviour | None = None
    ) -> None:
        self.api_key = api_key
        self.default = default  # answers every call once the script is empty (e.g. obedient()); None: 400
        self.cache_min_tokens = cache_min_tokens
        self.requests: list[ReceivedRequest] = []
        self.stopping = threading.Event()
        self._script: deque[Behaviour] = deque()
        self._cached_prefixes: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="messages-server", daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL to give the SDK (ANTHROPIC_BASE_URL)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each POST /v1/messages consumes one."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def pending(self) -> int:
        """Behaviours not consumed yet."""
        with self._lock:
            return len(self._script)

    @property
    def message_requests(self) -> list[ReceivedRequest]:
        """The POST /v1/messages requests received, in order."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    def start(self) -> MessagesServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MessagesServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def message_answer(self, request: ReceivedRequest, content: list[dict], stop_reason: str) -> Answer:
        """A 200 Messages API body with realistic usage (including imitated prompt caching)."""
        body = request.body
        system = _system_text(body.get("system", ""))
        tools = json.dumps(body["tools"]) if body.get("tools") else ""
        # The cacheable prefix is tools + system (the API caches everything up to the marked block).
        prefix = (estimate_tokens(tools) if tools else 0) + (estimate_tokens(system) if system else 0)
        total = prefix + estimate_tokens(json.dumps(body["messages"]))
        marked = isinstance(body.get("system"), list) and any("cache_control" in b for b in body["system"])
        cache_write = cache_read = 0
        if marked and prefix >= self.cache_min_tokens:
            with self._lock:
                seen = (tools, system) in self._cached_prefixes
                self._cached_prefixes.add((tools, system))
            cache_read, cache_write = (prefix, 0) if seen else (0, prefix)
        out_text = "".join(b.get("text", "") + json.dumps(b.get("input", "")) for b in content)
        message = {
            "id": _new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": total - cache_read - cache_write,
                "output_tokens": estimate_tokens(out_text),
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
                "service_tier": "standard",
            },
        }
        return Answer(200, json.dumps(message).encode())

    def _answer(self, request: ReceivedRequest) -> Answer:
        if request.method != "POST" or request.path != "/v1/messages":
            return _error(404, "not_found_error", f"{request.method} {request.path} not found")
        if presented_key(request.headers) != self.api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if "anthropic-version" not in request.headers:
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        problem = _check_request(request.body)
        if problem:
            return _error(400, "invalid_request_error", problem)
        with self._lock:
            behaviour = self._script.popleft() if self._script else self.default
        if behaviour is None:
            return _error(400, "invalid_request_error", "messages_server: the test script is exhausted")
        return behaviour(self, request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                request = ReceivedRequest(
                    self.command, self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()}, raw, parsed
                )
                with server._lock:
                    server.requests.append(request)
                answer = server._answer(request)
                request.status = answer.status
                try:
                    request.answer = json.loads(answer.body)
                except ValueError:
                    request.answer = answer.body
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", answer.content_type)
                    self.send_header("content-length", str(len(answer.body)))
                    self.send_header("request-id", _new_id("req"))
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout); nothing to tell it

            do_POST = do_GET = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: pytest output is for failures."""

        return Handler
