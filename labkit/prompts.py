"""Prompt strategies: how a request packet is put to a model, and how its answer becomes reply bytes.

Every strategy shows the model what the original experiment's model saw -- the received IP packet as hex --
and differs in what else it gives (rules, examples, a tool) and in what it asks back (hex, working + hex, JSON).
Each one documents what it `teaches`; `render_answer` writes how a perfect model would answer in that
strategy's format, which the reference and simulated models use so their answers go through the same parser
as Claude's.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from labkit.checksum import icmpv6_offset, icmpv6_pseudo_header, internet_checksum, trace, with_checksums
from labkit.errors import LabkitError
from labkit.fields import field_spans
from labkit.headers import IPV4_FLAG_DF, IPV4_FLAG_RESERVED, IPV4_MIN_HEADER, IPV6_HEADER, PROTO_ICMPV6, ipv4_header_len
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
        return {
            "system": self.system,
            "user": self.user,
            "tools": [dict(t) for t in self.tools],
            "max_tokens": self.max_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Prompt:
        return cls(
            system=data.get("system", ""),
            user=data["user"],
            tools=tuple(data.get("tools") or ()),
            max_tokens=int(data.get("max_tokens", 1024)),
        )


def _version(request: bytes) -> int:
    version = ip_version(request)
    if version is None:
        raise LabkitError(
            "the request is not an IPv4 or IPv6 packet (prompts take IP packets; "
            "Ethernet and ARP are answered by labkit itself)"
        )
    return version


def _hex_budget(request: bytes) -> int:
    """max_tokens for an answer that is one packet of hex: hex runs ~2 characters a token, plus slack."""
    return 2 * len(request) + 128


def _hex_argument(text: str) -> bytes:
    """Hex given by a model inside JSON (ip_options, a tool's input): an optional 0x, then strict hex."""
    text = text.strip()
    return from_hex(text[2:] if text[:2].lower() == "0x" else text)


@dataclass(frozen=True)
class SimulationTraits:
    """What the simulated model needs to imitate a strategy (labkit.models.simulated; docs/simulator.md).

    Why on the strategy: a new strategy then carries its own simulation, and one without traits makes the
    simulator fail loudly instead of silently borrowing zero-shot's behaviour. What the model writes (a whole
    packet or a fields JSON) is the strategy's `answer_format`; these say the rest. Factors multiply the
    simulator's per-step and per-decision rates; `source` says where the factors come from ("assumed" unless
    a reference is given).
    """

    arithmetic: str = "model"  # "model": the model adds the checksum words itself; "tool": code does,
    # and the model only copies the tool's result
    add_factor: float = 1.0  # multiplies the per-addition slip rate (e.g. working shown)
    decision_factor: float = 1.0  # multiplies the type, address-swap and TTL decision error rates
    prose_factor: float = 1.0  # multiplies the chance of a prose answer instead of a packet
    source: str = "assumed"

    def __post_init__(self) -> None:
        if self.arithmetic not in ("model", "tool"):
            raise LabkitError(f"SimulationTraits.arithmetic must be 'model' or 'tool', not {self.arithmetic!r}")
        for name in ("add_factor", "decision_factor", "prose_factor"):
            if not getattr(self, name) >= 0:
                raise LabkitError(f"SimulationTraits.{name} must be 0 or more")


class Strategy:
    """One way of asking. Subclasses set `name` and `teaches`, and either `system` + `ask` (the default
    `build`: a fixed system prompt, then the packet and the ask in the user turn) or their own `build`;
    those with another answer format override `answer_to_reply` and `render_answer` too."""

    name: str = ""
    teaches: str = ""
    answer_format: str = "hex"  # "hex": the model writes the reply packet; "fields": a JSON of the fields
    system: str = ""
    ask: str = ""
    tools: tuple[dict, ...] = ()
    simulation: SimulationTraits | None = None  # how the simulated model imitates it; None: it cannot

    def build(self, request: bytes) -> Prompt:
        """The prompt for one request; LabkitError when it is not an IPv4 or IPv6 packet."""
        if not self.system:
            raise NotImplementedError(f"{type(self).__name__} sets no system prompt, so it must define build()")
        user = f"Request packet (IPv{_version(request)}, {len(request)} bytes) in hex:\n{to_hex(request)}\n\n{self.ask}"
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
    simulation = SimulationTraits()
    teaches = (
        "The original experiment's prompt: the packet as hex and a one-line instruction, hex back. "
        "It shows what a model does from its training alone; the series' hypothesis, to be measured, is "
        "that the addresses and type come out right and the checksums, which need exact arithmetic, slip."
    )

    def build(self, request: bytes) -> Prompt:
        version = _version(request)
        if version == 4:
            user = (
                f"Here is an ICMP echo request packet in hex: {to_hex(request)}\n"
                "Respond with the ICMP echo reply packet in hex: swap the source and destination addresses, "
                "set type to 0, recompute the checksums. Output only the hex."
            )
        else:
            user = (
                f"Here is an ICMPv6 echo request packet (IPv6) in hex: {to_hex(request)}\n"
                "Respond with the ICMPv6 echo reply packet in hex: swap the source and destination "
                "addresses, set type to 129, recompute the ICMPv6 checksum. Output only the hex."
            )
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
    simulation = SimulationTraits(add_factor=0.8, decision_factor=0.5)  # assumed: rules help decisions most
    teaches = (
        "The rules spelled out (RFC 792 and RFC 1071; RFC 4443 with its pseudo-header for IPv6). "
        "It teaches how much a model gains from being told the protocol rather than recalling it -- "
        "knowing the checksum algorithm is not the same as executing it digit by digit."
    )
    system = SPEC_SYSTEM
    ask = "Answer with the echo reply packet in hex only."


@functools.cache
def few_shot_examples() -> tuple[tuple[bytes, bytes], ...]:
    """(request, reply) pairs built by scapy and answered by the reference stack, never typed by hand."""
    requests = (
        echo_request("10.1.2.3", "10.9.8.7", ident=0x0A0B, seq=7, payload=b"labkit few-shot 1"),
        echo_request("10.20.30.40", "10.50.60.70", ident=0x4C4B, seq=258, payload=bytes(range(32)), ttl=63),
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
    simulation = SimulationTraits(decision_factor=0.3, prose_factor=0.3)  # assumed: examples fix the format
    teaches = (
        "Worked examples (generated by the reference stack) instead of rules. It teaches in-context "
        "learning: the model imitates the pattern of the examples -- which bytes change and which are "
        "copied -- but a checksum cannot be imitated, only computed."
    )

    def build(self, request: bytes) -> Prompt:
        user = f"Request (IPv{_version(request)}): {to_hex(request)}\nReply:"
        return Prompt(system=few_shot_system(), user=user, max_tokens=_hex_budget(request))


@functools.cache
def few_shot_system() -> str:
    """The few-shot system prompt: the same for every request, so it is built once (and the API can cache it)."""
    lines = [
        "You answer ICMP and ICMPv6 echo requests. Each request is an IP packet in hex; answer with "
        "the echo reply packet in hex only. Examples:"
    ]
    for number, (example, reply) in enumerate(few_shot_examples(), start=1):
        lines += [
            "",
            f"Example {number} request (IPv{ip_version(example)}): {to_hex(example)}",
            f"Example {number} reply: {to_hex(reply)}",
        ]
    return "\n".join(lines)


STEP_SYSTEM = (
    SPEC_SYSTEM.rsplit("\n\n", 1)[0]
    + """

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
)

_FINAL = re.compile(r"FINAL\s*:", re.IGNORECASE)


def _checksum_working(step: int, label: str, covered: bytes, written: int) -> list[str]:
    """Working for one checksum: the words, the sum, the fold, and the value the answer writes."""
    steps = trace(covered)
    words = " ".join(f"{s.word:04x}" for s in steps.steps)
    return [
        f"{step}. {label}: words {words}",
        f"   sum 0x{steps.total:x}, folded 0x{steps.folded:04x}, complement -> 0x{written:04x}",
    ]


def checksum_inputs(reply: bytes, version: int, start: int) -> list[tuple[str, bytes, int]]:
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
    simulation = SimulationTraits(add_factor=0.5, decision_factor=0.8)  # assumed: written sums slip less
    teaches = (
        "Chain of thought: the model writes out its working, then the answer in a marked FINAL block. "
        "It costs many more output tokens (money, latency); the hypothesis, to be measured, is that it "
        "helps most where the task is arithmetic -- and a model can still add words wrongly in plain sight."
    )
    system = STEP_SYSTEM
    ask = "Work it out step by step, then give the echo reply in the FINAL block."

    def max_tokens(self, request: bytes) -> int:
        return 6 * len(request) + 1024  # the working: every word of both checksums, written out

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        markers = list(_FINAL.finditer(text))
        if not markers:
            return ParsedHex(None, "no FINAL: block in the answer (the step-by-step strategy ends with one)")
        return extract_hex(text[markers[-1].end() :])

    def render_answer(self, reply: bytes, request: bytes) -> str:
        version = _version(request)
        spans = _field_spans(reply, version)  # the reply's own layout: Linux drops IPv6 extension headers
        icmp, start = ICMP_NAMES[version], spans["type"][0]
        request_type = request[_field_spans(request, version)["type"][0]]

        def read(key: str) -> bytes:
            offset, length = spans[key]
            return reply[offset : offset + length]

        src, dst = read("src"), read("dst")
        lines = [
            f"1. IPv{version}, {start} bytes of IP header; the {icmp} message is bytes "
            f"{start}-{len(reply) - 1} ({len(reply) - start} bytes).",
            f"2. Reply source {ipaddress.ip_address(src)}, destination {ipaddress.ip_address(dst)}.",
            f"3. {icmp} type {request_type} -> {reply[start]}, code {reply[start + 1]}.",
        ]
        for step, (label, covered, written) in enumerate(checksum_inputs(reply, version, start), start=4):
            lines += _checksum_working(step, label, covered, written)
        lines += ["", "FINAL:", "```hex", to_hex(reply), "```"]
        return "\n".join(lines)


# The decisions about a reply, as JSON keys (fields-only answers with them; tool-use asks its tool about them).
_DECISION_KEYS_TEXT = """\
IPv4 keys: "type" (integer), "src" and "dst" (dotted addresses of the reply). Optional, only if they change: \
"code", "ttl", "ip_id" (integers), "df" (true or false: the Don't Fragment flag of the reply) and \
"ip_options" (the reply's IP options as hex, "" for none; labkit then sets the header length and total length \
to fit).
IPv6 keys: "type", "src", "dst" (IPv6 addresses of the reply). Optional: "code", "hlim"."""

FIELDS_SYSTEM = (
    """\
You answer ICMP and ICMPv6 echo requests, but you do not write the packet: labkit copies every byte of the \
request (except what Linux never copies into a reply: it clears the reserved IPv4 flag and leaves out IPv6 \
extension headers) and then writes only the fields you give. labkit does not check or correct your values, so \
checksums you give must already be right for the reply.

Answer with one JSON object and nothing else.
"""
    + _DECISION_KEYS_TEXT
    + """
Checksum keys: "icmp_checksum" ("0x" and 4 hex digits; the ICMP checksum, RFC 1071 over the ICMP message with \
its checksum field zeroed; for IPv6 the ICMPv6 checksum, over the pseudo-header -- source, destination, 4-byte \
upper-layer length, three zero bytes, next header 58 -- and the ICMPv6 message) and, for IPv4 only, \
"ip_checksum" (the same over the IPv4 header). Each is computed over exactly the packet labkit will build: the \
request's bytes with your fields written in.
Example shape: {"type": 0, "src": "10.0.0.2", "dst": "10.0.0.1", "icmp_checksum": "0x1c3d", \
"ip_checksum": "0x66a4"}"""
)

# JSON key of a fields-only answer -> the field it sets, per IP version (spans come from labkit.fields).
_FIELD_KEYS = {
    4: {
        "type": "icmp.type",
        "code": "icmp.code",
        "icmp_checksum": "icmp.chksum",
        "src": "ip.src",
        "dst": "ip.dst",
        "ttl": "ip.ttl",
        "ip_id": "ip.id",
        "ip_checksum": "ip.chksum",
    },
    6: {
        "type": "icmpv6.type",
        "code": "icmpv6.code",
        "icmp_checksum": "icmpv6.cksum",
        "src": "ipv6.src",
        "dst": "ipv6.dst",
        "hlim": "ipv6.hlim",
    },
}
_REQUIRED = {4: ("type", "src", "dst", "icmp_checksum", "ip_checksum"), 6: ("type", "src", "dst", "icmp_checksum")}
_CHECKSUM_KEYS = {4: ("icmp_checksum", "ip_checksum"), 6: ("icmp_checksum",)}
DF_BIT = IPV4_FLAG_DF >> 8  # the Don't Fragment bit, as it sits in byte 6 of the IPv4 header
_RESERVED = IPV4_FLAG_RESERVED >> 8  # the reserved ("evil") bit, in byte 6 too


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
        value = json.loads(text[start : end + 1])
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


def _flag(key: str, value: object) -> bool:
    """A JSON true/false (or 0/1, or the words) -- what a model may write for a one-bit flag."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "0", "1"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(f"{key} must be true or false, not {value!r}")


def _ip_options(packet: bytes) -> bytes:
    return packet[IPV4_MIN_HEADER : ipv4_header_len(packet)]


def _with_ip_options(request: bytes, value: object) -> bytes:
    """The request with its IPv4 options replaced; IHL and total length follow (they are layout, not arithmetic)."""
    if not isinstance(value, str):
        raise ValueError('ip_options must be a hex string ("" for none)')
    try:
        options = _hex_argument(value)
    except ValueError as error:
        raise ValueError(f"ip_options: {error}") from None
    if len(options) % 4 or len(options) > 40:
        raise ValueError(f"ip_options must be a multiple of 4 bytes and at most 40 (got {len(options)})")
    old = _ip_options(request)
    packet = bytearray(request[:20] + options + request[20 + len(old) :])
    packet[0] = (packet[0] & 0xF0) | (5 + len(options) // 4)
    total = int.from_bytes(request[2:4], "big") + len(options) - len(old)
    packet[2:4] = max(0, total).to_bytes(2, "big")
    return bytes(packet)


def reply_base(request: bytes) -> bytes:
    """The request without what Linux never copies into a reply: the reserved IPv4 flag (cleared) and IPv6
    extension headers (icmpv6_echo_reply builds a new packet around the ICMPv6 message). Fields answers are
    written into this copy, so a perfect answer gives Linux's reply."""
    if _version(request) == 4:
        if not request[6] & _RESERVED:
            return request
        return request[:6] + bytes((request[6] & ~_RESERVED & 0xFF,)) + request[7:]
    start = icmpv6_offset(request)
    if start is None or start == IPV6_HEADER:
        return request
    packet = bytearray(request[:IPV6_HEADER] + request[start:])
    packet[4:6] = (len(packet) - IPV6_HEADER).to_bytes(2, "big")
    packet[6] = PROTO_ICMPV6
    return bytes(packet)


def assemble_fields(answer: dict, request: bytes) -> bytes:
    """reply_base(request) with the answer's fields written in, exactly as given: wrong checksums stay wrong."""
    version = _version(request)
    request = reply_base(request)
    missing = [key for key in _REQUIRED[version] if key not in answer]
    if missing:
        raise ValueError(f"the JSON lacks {', '.join(missing)}")
    if version == 4 and "ip_options" in answer:
        request = _with_ip_options(request, answer["ip_options"])
    spans = _field_spans(request, version)
    packet = bytearray(request)
    for key, value in answer.items():
        if version == 4 and key == "df":
            packet[6] = (packet[6] | DF_BIT) if _flag(key, value) else (packet[6] & ~DF_BIT & 0xFF)
            continue
        if key not in spans:
            continue  # extra keys (e.g. "id": unchanged) carry no instruction labkit could follow
        offset, length = spans[key]
        if offset + length > len(packet):
            raise ValueError(f"the request is too short to hold {key}")
        packet[offset : offset + length] = _encode(key, value, length, version)
    return bytes(packet)


def reply_fields(reply: bytes, request: bytes, *, checksums: bool = True) -> dict[str, object]:
    """The JSON a perfect fields-only answer gives for `reply`: every field it sets, read from `reply` (its
    mistakes included), so that assemble_fields(reply_fields(reply, request), request) == reply whenever the
    reply keeps the layout of reply_base(request). checksums=False leaves the checksums out: the decisions alone."""
    version = _version(request)
    request = reply_base(request)
    spans, request_spans = _field_spans(reply, version), _field_spans(request, version)

    def read(key: str, packet: bytes = reply, where: dict = spans) -> bytes:
        offset, length = where[key]
        return packet[offset : offset + length]

    answer: dict[str, object] = {
        "type": read("type")[0],
        "src": str(ipaddress.ip_address(read("src"))),
        "dst": str(ipaddress.ip_address(read("dst"))),
    }
    if checksums:
        answer.update({key: f"0x{read(key).hex()}" for key in _CHECKSUM_KEYS[version]})
    if version == 4:
        if _ip_options(reply) != _ip_options(request):
            answer["ip_options"] = to_hex(_ip_options(reply))
        if (reply[6] ^ request[6]) & DF_BIT:  # a free field of the host's (Linux clears it): the JSON must say so
            answer["df"] = bool(reply[6] & DF_BIT)
    for key in ("code", "ttl", "ip_id", "hlim"):
        if key in spans and read(key) != read(key, request, request_spans):
            answer[key] = int.from_bytes(read(key), "big")
    return answer


class FieldsOnly(Strategy):
    name = "fields-only"
    simulation = SimulationTraits()  # the model still adds the words; it copies only the addresses
    teaches = (
        "Structured output: the model returns only the fields that change, as JSON, and labkit builds "
        "the packet from the request. Far fewer output tokens and no copying of the payload, so no "
        "hallucinated payload bytes -- but the checksums are still the model's arithmetic, and labkit "
        "keeps them exactly as given."
    )
    answer_format = "fields"
    system = FIELDS_SYSTEM
    ask = "Answer with the JSON object for the echo reply."

    def max_tokens(self, request: bytes) -> int:
        return 256  # one small JSON object, whatever the packet's size

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        return _fields_answer(text, request)

    def render_answer(self, reply: bytes, request: bytes) -> str:
        return json.dumps(reply_fields(reply, request))


def _fields_answer(text: str, request: bytes) -> ParsedHex:
    """A fields JSON answer -> the assembled reply, or why not. Never raises."""
    try:
        return ParsedHex(assemble_fields(_json_object(text), request), None)
    except (ValueError, LabkitError) as error:
        return ParsedHex(None, str(error))


CHECKSUM_TOOL = {
    "name": "internet_checksum",
    "description": (
        "The RFC 1071 checksums of the echo reply you describe. labkit builds that reply -- a copy "
        "of the request (named by packet_id) with your fields written in -- and returns its "
        "checksums as JSON: icmp_checksum, and ip_checksum for IPv4. Your fields are not checked: "
        "describe a wrong reply and you get the right checksums of that wrong reply."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "packet_id": {"type": "string"},
            "type": {"type": "integer"},
            "src": {"type": "string"},
            "dst": {"type": "string"},
            "code": {"type": "integer"},
            "ttl": {"type": "integer"},
            "ip_id": {"type": "integer"},
            "df": {"type": "boolean"},
            "ip_options": {"type": "string", "description": "hex"},
            "hlim": {"type": "integer"},
        },
        "required": ["packet_id", "type", "src", "dst"],
    },
}

TOOL_SYSTEM = (
    """\
You answer ICMP and ICMPv6 echo requests, but you do not write the packet: labkit copies every byte of the \
request (except what Linux never copies into a reply: it clears the reserved IPv4 flag and leaves out IPv6 \
extension headers) and then writes only the fields you give. You decide what the reply is; a tool does the arithmetic.

1. Decide which fields of the reply differ from the request. """
    + _DECISION_KEYS_TEXT
    + """
2. Call the internet_checksum tool once with the request's packet_id and those fields. It returns the \
checksums of exactly that reply. Do not compute checksums yourself.
3. Answer with one JSON object and nothing else: your fields plus the checksums the tool returned \
("icmp_checksum" and, for IPv4, "ip_checksum"). labkit writes them into the copy exactly as given.
Example shape: {"type": 0, "src": "10.0.0.2", "dst": "10.0.0.1", "icmp_checksum": "0x1c3d", \
"ip_checksum": "0x66a4"}"""
)

PACKET_ID_DIGITS = 12  # 48 bits of SHA-256: no two requests in the registry share one in practice
PACKET_REGISTRY_SIZE = 4096  # requests remembered for the tool (a bounded LRU: a responder runs for days)


def packet_id(request: bytes) -> str:
    """The short name the tool-use prompt gives a request, so the tool call need not carry its bytes."""
    return hashlib.sha256(bytes(request)).hexdigest()[:PACKET_ID_DIGITS]


class ToolUse(Strategy):
    name = "tool-use"
    simulation = SimulationTraits(arithmetic="tool")  # code adds; the model copies the tool's checksums
    teaches = (
        "Tool use: the model decides what the reply is -- type, addresses, any other field that "
        "changes -- and calls labkit's internet_checksum tool with those decisions; labkit builds that "
        "packet and returns its checksums, which the model copies into a small JSON answer. The "
        "decision is the model's and the arithmetic is code's. The model never writes the payload, so "
        "its output stays small however big the packet (a tool call costs a round trip and some "
        "framing: for a small ping about as much as the hex). It teaches the division of labour that "
        "makes LLM systems reliable -- and that a wrong decision (type 8 kept) still gets checksums, "
        "right for a wrong packet, which the judge flags."
    )
    answer_format = "fields"
    system = TOOL_SYSTEM
    ask = "Call internet_checksum once with your decisions, then answer with the JSON object for the echo reply."
    tools = (CHECKSUM_TOOL,)

    def __init__(self) -> None:
        self._packets: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, request: bytes) -> str:
        """Register a request for the tool (the prompt names it by packet_id); returns its packet_id."""
        request = bytes(request)
        key = packet_id(request)
        with self._lock:
            self._packets[key] = request
            self._packets.move_to_end(key)
            while len(self._packets) > PACKET_REGISTRY_SIZE:
                self._packets.popitem(last=False)
        return key

    def _recall(self, key: str) -> bytes | None:
        with self._lock:
            request = self._packets.get(key)
            if request is not None:
                self._packets.move_to_end(key)
            return request

    def build(self, request: bytes) -> Prompt:
        version = _version(request)
        user = (
            f'Request packet (IPv{version}, {len(request)} bytes), packet_id "{self.remember(request)}", '
            f"in hex:\n{to_hex(request)}\n\n{self.ask}"
        )
        return Prompt(system=self.system, user=user, tools=self.tools, max_tokens=self.max_tokens(request))

    def max_tokens(self, request: bytes) -> int:
        return 512  # per turn: one tool call, or one small JSON object, whatever the packet's size

    def answer_to_reply(self, text: str, request: bytes) -> ParsedHex:
        """The fields JSON, as fields-only; an answer with no JSON object is read as hex (older recordings)."""
        if "{" not in text:
            return extract_hex(text)
        return _fields_answer(text, request)

    def render_answer(self, reply: bytes, request: bytes) -> str:
        return json.dumps(reply_fields(reply, request))

    def run_tool(self, name: str, args: dict) -> str:
        """Execute a tool call. Mistakes come back as text starting "error:" so the model can retry."""
        if name != CHECKSUM_TOOL["name"]:
            return f"error: unknown tool {name!r}; the only tool is internet_checksum"
        if not isinstance(args, dict):
            return "error: pass the tool an object with packet_id, type, src and dst"
        if "hex" in args and "packet_id" not in args:
            return _checksum_of_hex(args["hex"])
        key = args.get("packet_id")
        request = self._recall(str(key).strip().strip('"')) if isinstance(key, str) else None
        if request is None:
            return f"error: unknown packet_id {key!r}; use the packet_id given with the request"
        version = _version(request)
        decisions = {k: v for k, v in args.items() if k != "packet_id" and k not in _CHECKSUM_KEYS[version]}
        missing = [k for k in ("type", "src", "dst") if k not in decisions]
        if missing:
            return f"error: the call lacks {', '.join(missing)}: give every field of the reply that you decided"
        try:
            packet = with_checksums(assemble_fields(decisions | dict.fromkeys(_CHECKSUM_KEYS[version], 0), request))
            spans = _field_spans(packet, version)
        except (ValueError, LabkitError) as error:
            return f"error: {error}"
        return json.dumps(
            {key: f"0x{packet[spans[key][0] : sum(spans[key])].hex()}" for key in _CHECKSUM_KEYS[version]}
        )

    def tool_inputs(self, reply: bytes, request: bytes | None = None) -> list[dict]:
        """The tool calls a perfect model makes when it means to send `reply`: one, with its decisions (what the
        simulated model 'calls', and what token estimates count). Without the request the decisions are read
        against none (type, src and dst only) and the packet_id is a stand-in of the right length."""
        if request is None:
            decisions = reply_fields(reply, reply, checksums=False)
            handle = packet_id(reply)
        else:
            decisions = reply_fields(reply, request, checksums=False)
            handle = self.remember(request)
        return [{"packet_id": handle, **decisions}]


def _checksum_of_hex(text: object) -> str:
    """The tool's first form, {"hex": ...}: the checksum of the given bytes. No longer offered in the schema,
    but a model (or a test) that calls it that way still gets an answer rather than an error."""
    if not isinstance(text, str):
        return "error: pass the bytes as a string argument named hex"
    try:
        return f"0x{internet_checksum(_hex_argument(text)):04x}"
    except ValueError as error:
        return f"error: {error}"


STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (ZeroShot(), Spec(), FewShot(), StepByStep(), FieldsOnly(), ToolUse())
}


def get_strategy(name: str | Strategy) -> Strategy:
    """A strategy by name ("zero-shot", "fields_only" and "FieldsOnly"-style spellings are accepted)."""
    if isinstance(name, Strategy):
        return name
    if name in STRATEGIES:  # the usual case, looked up on every attempt: no normalising needed
        return STRATEGIES[name]
    key = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", str(name).strip()).lower().replace("_", "-").replace(" ", "-")
    if key in STRATEGIES:
        return STRATEGIES[key]
    raise LabkitError(f"unknown prompt strategy {name!r}; use one of: {', '.join(STRATEGIES)}")
