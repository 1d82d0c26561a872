"""Prompt strategies: how a request packet is put to a model, and how its answer becomes reply bytes.

Every strategy shows the model what the original experiment's model saw -- the received IP packet as hex --
and differs in what else it gives (rules, examples, a tool) and in what it asks back (hex, working + hex, JSON).
Each one documents what it `teaches`; `render_answer` writes how a perfect model would answer in that
strategy's format, which the reference and simulated models use so their answers go through the same parser
as Claude's.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass

from labkit.checksum import icmpv6_pseudo_header, internet_checksum, trace
from labkit.errors import LabkitError
from labkit.fields import field_spans
from labkit.packets import echo_request, echo_request_v6, from_hex, ip_version, to_hex
from labkit.parse import ParsedHex, extract_hex
from labkit.stack import echo_reply

ICMP_NAMES = {4: "ICMP", 6: "ICMPv6"}
REPLY_TYPE = {4: 0, 6: 129}


@dataclass(frozen=True)
class Prompt:
    """What is sent to a model. `system` may be empty (zero-shot sends only the user turn, as the original did)."""

    system: str
    user: str
    tools: tuple[dict, ...] = ()
    max_tokens: int = 1024

    def text(self) -> str:
        """System and user text together, for display and as the key a replay looks answers up by."""
        return f"{self.system}\n\n{self.user}" if self.system else self.user

    def to_dict(self) -> dict:
        return {"system": self.system, "user": self.user, "tools": [dict(t) for t in self.tools],
                "max_tokens": self.max_tokens}

    @classmethod
    def from_dict(cls, data: dict) -> "Prompt":
        return cls(system=data.get("system", ""), user=data["user"], tools=tuple(data.get("tools") or ()),
                   max_tokens=int(data.get("max_tokens", 1024)))


def _version(request: bytes) -> int:
    version = ip_version(request)
    if version is None:
        raise LabkitError("the request is not an IPv4 or IPv6 packet (prompts take IP packets; "
                          "Ethernet and ARP are answered by labkit itself)")
    return version


def _hex_budget(request: bytes) -> int:
    """max_tokens for an answer that is one packet of hex: hex runs ~2 characters a token, plus slack."""
    return 2 * len(request) + 128


def _hex_argument(text: str) -> bytes:
    """Hex given by a model inside JSON (ip_options, a tool's input): an optional 0x, then strict hex."""
    text = text.strip()
    return from_hex(text[2:] if text[:2].lower() == "0x" else text)


class Strategy:
    """One way of asking. Subclasses set `name` and `teaches`, and either `system` + `ask` (the default
    `build`: a fixed system prompt, then the packet and the ask in the user turn) or their own `build`;
    those with another answer format override `answer_to_reply` and `render_answer` too."""

    name: str = ""
    teaches: str = ""
    system: str = ""
    ask: str = ""
    tools: tuple[dict, ...] = ()

    def build(self, request: bytes) -> Prompt:
        """The prompt for one request; LabkitError when it is not an IPv4 or IPv6 packet."""
        if not self.system:
            raise NotImplementedError(f"{type(self).__name__} sets no system prompt, so it must define build()")
        user = (f"Request packet (IPv{_version(request)}, {len(request)} bytes) in hex:\n{to_hex(request)}\n\n"
                f"{self.ask}")
        return Prompt(system=self.system, user=user, tools=self.tools, max_tokens=self.max_tokens(request))

    def max_tokens(self, request: bytes) -> int:
        """Room for the answer: one packet of hex by default."""
        return _hex_budget(request)

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        """The model's final text -> reply bytes, or why it could not be parsed. Never raises."""
        return extract_hex(text)

    def render_answer(self, reply: bytes, request: bytes) -> str:
        """How a perfect model answers in this format when `reply` is the packet it means to send."""
        return to_hex(reply)

    def run_tool(self, name: str, args: dict) -> str:
        raise LabkitError(f"the {self.name} strategy offers no tools (only tool-use does)")

    def __repr__(self) -> str:
        return f"<Strategy {self.name}>"


class ZeroShot(Strategy):
    name = "zero-shot"
    teaches = ("The original experiment's prompt: the packet as hex and a one-line instruction, hex back. "
               "It shows what a model does from its training alone -- usually the addresses and type are "
               "right and the checksums, which need exact arithmetic, are where it slips.")

    def build(self, request: bytes) -> Prompt:
        version = _version(request)
        if version == 4:
            user = (f"Here is an ICMP echo request packet in hex: {to_hex(request)}\n"
                    "Respond with the ICMP echo reply packet in hex: swap the source and destination addresses, "
                    "set type to 0, recompute the checksums. Output only the hex.")
        else:
            user = (f"Here is an ICMPv6 echo request packet (IPv6) in hex: {to_hex(request)}\n"
                    "Respond with the ICMPv6 echo reply packet in hex: swap the source and destination "
                    "addresses, set type to 129, recompute the ICMPv6 checksum. Output only the hex.")
        return Prompt(system="", user=user, max_tokens=_hex_budget(request))


SPEC_SYSTEM = """\
You are the ICMP part of an IP network stack. You receive one packet as hex, starting at the IP header, and \
answer with the reply packet as hex.

IPv4 echo request -> echo reply (RFC 791, RFC 792):
- Start from a copy of the request.
- Swap the IPv4 source address (bytes 12-15) and destination address (bytes 16-19).
- The IPv4 header is IHL*4 bytes long (IHL = low nibble of byte 0); the ICMP message follows it.
- Set the ICMP type (first ICMP byte) from 8 to 0. Code stays 0. Identifier, sequence number and data are \
copied unchanged.
- ICMP checksum (bytes 2-3 of the ICMP message), RFC 1071: set the checksum to 0000, add the whole ICMP \
message as 16-bit big-endian words (pad an odd final byte with 00), add each carry above 16 bits back into \
the low 16 bits until none is left, then take the one's complement (xor ffff).
- IPv4 header checksum (bytes 10-11): the same algorithm over the IPv4 header only, its checksum set to 0000.
- Keep version, IHL, TOS, total length, identification, flags, fragment offset, TTL and protocol.

IPv6 echo request -> echo reply (RFC 8200, RFC 4443):
- Start from a copy of the request. The IPv6 header is 40 bytes; next header 58 means ICMPv6 follows.
- Swap the source address (bytes 8-23) and destination address (bytes 24-39).
- Set the ICMPv6 type (byte 40) from 128 to 129. Code stays 0; identifier, sequence and data are copied.
- ICMPv6 checksum (bytes 42-43), RFC 4443 section 2.3: RFC 1071 over a pseudo-header followed by the \
ICMPv6 message with its checksum set to 0000. The pseudo-header is: source address (16 bytes), destination \
address (16 bytes), upper-layer length (4 bytes, = payload length), three zero bytes, next header 58 (1 byte). \
There is no IP header checksum in IPv6.

Answer with only the reply packet: lowercase hex, no spaces, no explanation."""


class Spec(Strategy):
    name = "spec"
    teaches = ("The rules spelled out (RFC 792 and RFC 1071; RFC 4443 with its pseudo-header for IPv6). "
               "It teaches how much a model gains from being told the protocol rather than recalling it -- "
               "knowing the checksum algorithm is not the same as executing it digit by digit.")
    system = SPEC_SYSTEM
    ask = "Answer with the echo reply packet in hex only."


@functools.cache
def few_shot_examples() -> tuple[tuple[bytes, bytes], ...]:
    """(request, reply) pairs built by scapy and answered by the reference stack, never typed by hand."""
    requests = (
        echo_request("10.1.2.3", "10.9.8.7", ident=0x0a0b, seq=7, payload=b"labkit few-shot 1"),
        echo_request("10.20.30.40", "10.50.60.70", ident=0x4c4b, seq=258, payload=bytes(range(32)), ttl=63),
        echo_request_v6("fd00:1::10", "fd00:1::20", ident=0x0102, seq=3, payload=b"labkit few-shot v6"),
    )
    pairs = []
    for request in requests:
        reply = echo_reply(request)
        if reply is None:
            raise RuntimeError("the reference stack did not answer a few-shot example")
        pairs.append((request, reply))
    return tuple(pairs)


class FewShot(Strategy):
    name = "few-shot"
    teaches = ("Worked examples (generated by the reference stack) instead of rules. It teaches in-context "
               "learning: the model imitates the pattern of the examples -- which bytes change and which are "
               "copied -- but a checksum cannot be imitated, only computed.")

    def build(self, request: bytes) -> Prompt:
        user = f"Request (IPv{_version(request)}): {to_hex(request)}\nReply:"
        return Prompt(system=few_shot_system(), user=user, max_tokens=_hex_budget(request))


@functools.cache
def few_shot_system() -> str:
    """The few-shot system prompt: the same for every request, so it is built once (and the API can cache it)."""
    lines = ["You answer ICMP and ICMPv6 echo requests. Each request is an IP packet in hex; answer with "
             "the echo reply packet in hex only. Examples:"]
    for number, (example, reply) in enumerate(few_shot_examples(), start=1):
        lines += ["", f"Example {number} request (IPv{ip_version(example)}): {to_hex(example)}",
                  f"Example {number} reply: {to_hex(reply)}"]
    return "\n".join(lines)


STEP_SYSTEM = SPEC_SYSTEM.rsplit("\n\n", 1)[0] + """

Work step by step and show your working:
1. The IP version, the header length and where the ICMP message starts and ends.
2. The addresses, swapped.
3. The type, changed.
4. The ICMP (or ICMPv6, with its pseudo-header) checksum: the 16-bit words you add, the sum, the folded \
sum and its complement.
5. For IPv4, the IP header checksum the same way.
Then end your answer with exactly this block and nothing after it:
FINAL:
```hex
<the reply packet in hex>
```"""

_FINAL = re.compile(r"FINAL\s*:", re.IGNORECASE)


def _checksum_working(step: int, label: str, covered: bytes, written: int) -> list[str]:
    """Working for one checksum: the words, the sum, the fold, and the value the answer writes."""
    steps = trace(covered)
    words = " ".join(f"{s.word:04x}" for s in steps.steps)
    return [f"{step}. {label}: words {words}",
            f"   sum 0x{steps.total:x}, folded 0x{steps.folded:04x}, complement -> 0x{written:04x}"]


def _checksum_inputs(reply: bytes, version: int, start: int) -> list[tuple[str, bytes, int]]:
    """(label, covered bytes with the checksum field zeroed, checksum the reply holds) for each checksum of
    the reply, in the order a careful stack computes them: ICMP (with the IPv6 pseudo-header), then IPv4's.
    `start` is where the ICMP message begins -- taken from the request, as the reply may be garbled."""
    message = bytearray(reply[start:])
    written = int.from_bytes(message[2:4], "big")
    message[2:4] = b"\x00\x00"
    if version == 6:
        pseudo = icmpv6_pseudo_header(reply[8:24], reply[24:40], len(message))
        return [("ICMPv6 checksum (pseudo-header + message)", pseudo + bytes(message), written)]
    header = bytearray(reply[:start])
    header_written = int.from_bytes(header[10:12], "big")
    header[10:12] = b"\x00\x00"
    return [("ICMP checksum", bytes(message), written), ("IP header checksum", bytes(header), header_written)]


class StepByStep(Strategy):
    name = "step-by-step"
    teaches = ("Chain of thought: the model writes out its working, then the answer in a marked FINAL block. "
               "It teaches that reasoning out loud costs many more output tokens (money, latency) and helps "
               "most where the task is arithmetic -- yet a model can still add words wrongly in plain sight.")
    system = STEP_SYSTEM
    ask = "Work it out step by step, then give the echo reply in the FINAL block."

    def max_tokens(self, request: bytes) -> int:
        return 6 * len(request) + 1024   # the working: every word of both checksums, written out

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        markers = list(_FINAL.finditer(text))
        if not markers:
            return ParsedHex(None, "no FINAL: block in the answer (the step-by-step strategy ends with one)")
        return extract_hex(text[markers[-1].end():])

    def render_answer(self, reply: bytes, request: bytes) -> str:
        version = _version(request)
        spans = _field_spans(request, version)
        icmp, start = ICMP_NAMES[version], spans["type"][0]

        def read(key: str) -> bytes:
            offset, length = spans[key]
            return reply[offset:offset + length]

        src, dst = read("src"), read("dst")
        lines = [f"1. IPv{version}, {start} bytes of IP header; the {icmp} message is bytes "
                 f"{start}-{len(reply) - 1} ({len(reply) - start} bytes).",
                 f"2. Reply source {ipaddress.ip_address(src)}, destination {ipaddress.ip_address(dst)}.",
                 f"3. {icmp} type {request[start]} -> {reply[start]}, code {reply[start + 1]}."]
        for step, (label, covered, written) in enumerate(_checksum_inputs(reply, version, start), start=4):
            lines += _checksum_working(step, label, covered, written)
        lines += ["", "FINAL:", "```hex", to_hex(reply), "```"]
        return "\n".join(lines)


FIELDS_SYSTEM = """\
You answer ICMP and ICMPv6 echo requests, but you do not write the packet: labkit copies every byte of the \
request and then writes only the fields you give. labkit does not check or correct your values, so \
checksums you give must already be right for the reply.

Answer with one JSON object and nothing else.
IPv4 keys: "type" (integer), "src" and "dst" (dotted addresses of the reply), "icmp_checksum" and \
"ip_checksum" ("0x" and 4 hex digits, RFC 1071, each computed over the reply with its own checksum field \
zeroed: the ICMP message, and the IPv4 header). Optional: "code", "ttl", "ip_id" (integers) if they change, \
and "ip_options" (the reply's IP options as hex, "" for none) if they differ from the request's; labkit then \
sets the header length and total length to fit.
IPv6 keys: "type", "src", "dst" (IPv6 addresses of the reply), "icmp_checksum" (the ICMPv6 checksum, over the \
pseudo-header -- source, destination, 4-byte upper-layer length, three zero bytes, next header 58 -- and the \
ICMPv6 message). Optional: "code", "hlim".
Example shape: {"type": 0, "src": "10.0.0.2", "dst": "10.0.0.1", "icmp_checksum": "0x1c3d", \
"ip_checksum": "0x66a4"}"""

# JSON key of a fields-only answer -> the field it sets, per IP version (spans come from labkit.fields).
_FIELD_KEYS = {
    4: {"type": "icmp.type", "code": "icmp.code", "icmp_checksum": "icmp.chksum", "src": "ip.src",
        "dst": "ip.dst", "ttl": "ip.ttl", "ip_id": "ip.id", "ip_checksum": "ip.chksum"},
    6: {"type": "icmpv6.type", "code": "icmpv6.code", "icmp_checksum": "icmpv6.cksum", "src": "ipv6.src",
        "dst": "ipv6.dst", "hlim": "ipv6.hlim"},
}
_REQUIRED = {4: ("type", "src", "dst", "icmp_checksum", "ip_checksum"), 6: ("type", "src", "dst", "icmp_checksum")}


def _field_spans(packet: bytes, version: int) -> dict[str, tuple[int, int]]:
    """JSON key -> (offset, length) in this packet; ValueError when it holds no ICMP message."""
    spans = field_spans(packet)
    found = {key: spans[name] for key, name in _FIELD_KEYS[version].items() if name in spans}
    if "type" not in found or "icmp_checksum" not in found:
        raise ValueError(f"the packet holds no {ICMP_NAMES[version]} message")
    return found


def _json_object(text: str) -> dict:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the answer")
    try:
        value = json.loads(text[start:end + 1])
    except json.JSONDecodeError as error:
        raise ValueError(f"the JSON object does not parse: {error.msg} at character {error.pos}") from None
    if not isinstance(value, dict):
        raise ValueError("the answer's JSON is not an object")
    return value


def _encode(key: str, value: object, length: int, version: int) -> bytes:
    if key in ("src", "dst"):
        try:
            address = ipaddress.ip_address(str(value).strip())
        except ValueError:
            raise ValueError(f"{key} {value!r} is not an IP address") from None
        if address.version != version:
            raise ValueError(f"{key} {value!r} is not an IPv{version} address")
        return address.packed
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number, not {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().lower()
        try:
            number = int(text, 16) if key.endswith("checksum") or text.startswith("0x") else int(text)
        except ValueError:
            raise ValueError(f"{key} {value!r} is not a number") from None
    if not 0 <= number < 1 << (8 * length):
        raise ValueError(f"{key} {value!r} does not fit in {length} byte(s)")
    return number.to_bytes(length, "big")


def _ip_options(packet: bytes) -> bytes:
    return packet[20:(packet[0] & 0x0F) * 4]


def _with_ip_options(request: bytes, value: object) -> bytes:
    """The request with its IPv4 options replaced; IHL and total length follow (they are layout, not arithmetic)."""
    if not isinstance(value, str):
        raise ValueError("ip_options must be a hex string (\"\" for none)")
    try:
        options = _hex_argument(value)
    except ValueError as error:
        raise ValueError(f"ip_options: {error}") from None
    if len(options) % 4 or len(options) > 40:
        raise ValueError(f"ip_options must be a multiple of 4 bytes and at most 40 (got {len(options)})")
    old = _ip_options(request)
    packet = bytearray(request[:20] + options + request[20 + len(old):])
    packet[0] = (packet[0] & 0xF0) | (5 + len(options) // 4)
    total = int.from_bytes(request[2:4], "big") + len(options) - len(old)
    packet[2:4] = max(0, total).to_bytes(2, "big")
    return bytes(packet)


def assemble_fields(answer: dict, request: bytes) -> bytes:
    """The request with the answer's fields written in, exactly as given: wrong checksums stay wrong."""
    version = _version(request)
    missing = [key for key in _REQUIRED[version] if key not in answer]
    if missing:
        raise ValueError(f"the JSON lacks {', '.join(missing)}")
    if version == 4 and "ip_options" in answer:
        request = _with_ip_options(request, answer["ip_options"])
    spans = _field_spans(request, version)
    packet = bytearray(request)
    for key, value in answer.items():
        if key not in spans:
            continue  # extra keys (e.g. "id": unchanged) carry no instruction labkit could follow
        offset, length = spans[key]
        if offset + length > len(packet):
            raise ValueError(f"the request is too short to hold {key}")
        packet[offset:offset + length] = _encode(key, value, length, version)
    return bytes(packet)


class FieldsOnly(Strategy):
    name = "fields-only"
    teaches = ("Structured output: the model returns only the fields that change, as JSON, and labkit builds "
               "the packet from the request. Far fewer output tokens and no copying of the payload, so no "
               "hallucinated payload bytes -- but the checksums are still the model's arithmetic, and labkit "
               "keeps them exactly as given.")
    system = FIELDS_SYSTEM
    ask = "Answer with the JSON object for the echo reply."

    def max_tokens(self, request: bytes) -> int:
        return 256   # one small JSON object, whatever the packet's size

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        try:
            return ParsedHex(assemble_fields(_json_object(text), request), None)
        except (ValueError, LabkitError) as error:
            return ParsedHex(None, str(error))

    def render_answer(self, reply: bytes, request: bytes) -> str:
        version = _version(request)
        spans, request_spans = _field_spans(reply, version), _field_spans(request, version)

        def read(key: str, packet: bytes = reply, where: dict = spans) -> bytes:
            offset, length = where[key]
            return packet[offset:offset + length]

        answer: dict[str, object] = {"type": read("type")[0],
                                     "src": str(ipaddress.ip_address(read("src"))),
                                     "dst": str(ipaddress.ip_address(read("dst"))),
                                     "icmp_checksum": f"0x{read('icmp_checksum').hex()}"}
        if version == 4:
            answer["ip_checksum"] = f"0x{read('ip_checksum').hex()}"
            if _ip_options(reply) != _ip_options(request):
                answer["ip_options"] = to_hex(_ip_options(reply))
        for key in ("code", "ttl", "ip_id", "hlim"):
            if key in spans and read(key) != read(key, request, request_spans):
                answer[key] = int.from_bytes(read(key), "big")
        return json.dumps(answer)


CHECKSUM_TOOL = {
    "name": "internet_checksum",
    "description": ("Computes the RFC 1071 internet checksum of the bytes you give as hex and returns it as "
                    "0x followed by 4 hex digits. Pass exactly the bytes the checksum covers, with the "
                    "checksum field itself set to 0000: the ICMP message for an ICMP checksum, the IPv4 header "
                    "for the IP header checksum, or for ICMPv6 the pseudo-header followed by the ICMPv6 "
                    "message."),
    "input_schema": {"type": "object",
                     "properties": {"hex": {"type": "string", "description": "the covered bytes, as hex"}},
                     "required": ["hex"]},
}

TOOL_SYSTEM = SPEC_SYSTEM.rsplit("\n\n", 1)[0] + """

You have a tool, internet_checksum. Do not compute checksums yourself: build the reply with the checksum \
fields set to 0000, call the tool with the bytes each checksum covers, write the results into the reply, \
and answer with only the reply packet: lowercase hex, no spaces, no explanation."""


class ToolUse(Strategy):
    name = "tool-use"
    teaches = ("Tool use: the model decides what to checksum and calls labkit's internet_checksum tool, so "
               "the decision is the model's and the arithmetic is code's. It teaches the division of labour "
               "that makes LLM systems reliable -- and that a wrong decision (the wrong bytes handed to the "
               "tool) still gives a wrong checksum.")
    system = TOOL_SYSTEM
    ask = "Answer with the echo reply packet in hex only."
    tools = (CHECKSUM_TOOL,)

    def max_tokens(self, request: bytes) -> int:
        return _hex_budget(request) + 512   # plus the tool_use blocks

    def run_tool(self, name: str, args: dict) -> str:
        """Execute a tool call. Mistakes come back as text starting "error:" so the model can retry."""
        if name != CHECKSUM_TOOL["name"]:
            return f"error: unknown tool {name!r}; the only tool is internet_checksum"
        text = args.get("hex") if isinstance(args, dict) else None
        if not isinstance(text, str):
            return "error: pass the bytes as a string argument named hex"
        try:
            data = _hex_argument(text)
        except ValueError as error:
            return f"error: {error}"
        return f"0x{internet_checksum(data):04x}"

    def tool_inputs(self, reply: bytes) -> list[dict]:
        """The tool calls a perfect model makes for `reply`: what the simulated model 'calls'."""
        version = _version(reply)
        start = _field_spans(reply, version)["type"][0]
        return [{"hex": to_hex(covered)} for _, covered, _ in _checksum_inputs(reply, version, start)]


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (ZeroShot(), Spec(), FewShot(), StepByStep(), FieldsOnly(),
                                                        ToolUse())}


def get_strategy(name: str | Strategy) -> Strategy:
    """A strategy by name ("zero-shot", "fields_only" and "FieldsOnly"-style spellings are accepted)."""
    if isinstance(name, Strategy):
        return name
    if name in STRATEGIES:   # the usual case, looked up on every attempt: no normalising needed
        return STRATEGIES[name]
    key = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", str(name).strip()).lower().replace("_", "-").replace(" ", "-")
    if key in STRATEGIES:
        return STRATEGIES[key]
    raise LabkitError(f"unknown prompt strategy {name!r}; use one of: {', '.join(STRATEGIES)}")
