"""Code exercises: the student writes a function; the checker runs it against labkit on many generated cases.

Why generated cases: a function that is right on the one packet in the notebook can still lose a carry, forget
the odd byte or hard-code an offset. The checker first tries a few hand-picked cases that catch the common
mistakes, then lets hypothesis generate many more (derandomized: the same cases every run, so a notebook's
output is the same every run) and shrink a failure to a small one. The hint shows that first failing case and,
when the mistake is a common one, names it.

    check_internet_checksum(my_checksum)       # my_checksum(data: bytes) -> int
    check_incremental_update(my_update)        # my_update(old_checksum, old_word, new_word) -> int (RFC 1624)
    check_field_lookup(my_field_at)            # my_field_at(packet: bytes, offset: int) -> str
    check_reply_builder(my_reply)              # my_reply(request: bytes) -> bytes, judged by labkit.judge
    check_carry_cases(hides, exposes)          # two payloads: one hides a dropped carry, one exposes it
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from labkit.checksum import internet_checksum, with_checksums, word_sum
from labkit.exercises.core import _BYTE_ORDER_HINT, _matches, _reply_hint
from labkit.exercises.feedback import Feedback, _right, _wrong
from labkit.fields import field_at, field_map
from labkit.headers import ipv4_header_len
from labkit.judge import judge
from labkit.packets import echo_request
from labkit.stack import echo_reply

EXAMPLES = 100  # generated cases per check, after the hand-picked ones
_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


@dataclass(frozen=True)
class _Failure:
    case: tuple  # the arguments the student's function was called with
    got: object  # what it returned, or the exception it raised
    raised: bool


def _first_failure(
    func: Callable, fixed: Iterable[tuple], generated: st.SearchStrategy, wrong: Callable[[tuple, object], bool]
) -> tuple[_Failure | None, int]:
    """The first case (hand-picked first, then generated and shrunk) where `wrong(case, result)` holds,
    and how many cases were run. An exception counts as a failure."""
    runs = 0

    def fails(case: tuple) -> bool:
        nonlocal runs
        runs += 1
        try:
            return wrong(case, func(*case))
        except Exception:  # noqa: BLE001 - a crash on some input is what the student must see
            return True

    for case in fixed:
        if fails(case):
            return _failure(func, case), runs
    try:
        case = find(generated, fails, settings=_SETTINGS)
    except NoSuchExample:
        return None, runs
    return _failure(func, case), runs


def _failure(func: Callable, case: tuple) -> _Failure:
    try:
        return _Failure(case, func(*case), False)
    except Exception as error:  # noqa: BLE001
        return _Failure(case, error, True)


def _crash(name: str, case_text: str, failure: _Failure) -> Feedback:
    error = failure.got
    return _wrong(
        f"{name}({case_text}) raised {type(error).__name__}: {error}.",
        "make it work for every input of this kind, not just the notebook's packet.",
    )


def _short(data: bytes, limit: int = 24) -> str:
    text = data[:limit].hex(" ")
    return f"bytes.fromhex('{text}{' ...' if len(data) > limit else ''}')"


def _name(func: Callable) -> str:
    return getattr(func, "__name__", "your function").replace("<lambda>", "your function")


def _shown(value: object) -> str:
    return (
        f"0x{value:04x}"
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF
        else repr(value)
    )


def _swap16(value: int) -> int:
    return ((value & 0xFF) << 8) | ((value >> 8) & 0xFF)


# --- internet_checksum --------------------------------------------------------------------------------------

_CHECKSUM_CASES = [
    (b"",),
    (bytes.fromhex("4500"),),
    (bytes.fromhex("ab"),),
    (bytes.fromhex("ffff0001"),),
    (bytes.fromhex("12345678"),),
    (bytes.fromhex("fffffffffffe"),),
    (bytes.fromhex("0102030405"),),
]


def _lost_carry_sum(data: bytes) -> int:
    """The checksum a sum that never adds its carries back gives: the complement of the plain word sum."""
    return ~word_sum(data) & 0xFFFF


def _checksum_mistake(data: bytes, got: object) -> str:
    """Name the mistake behind a wrong checksum of `data`, if it is a common one."""
    right = internet_checksum(data)
    if not isinstance(got, int) or isinstance(got, bool):
        return f"return an int such as 0x1c3f, not {type(got).__name__}."
    if got < 0 or got > 0xFFFF:
        return (
            "keep the result in 16 bits: Python's ~x is negative, so write ~x & 0xFFFF; and fold the sum "
            "until it fits (while s >> 16: s = (s & 0xFFFF) + (s >> 16))."
        )
    if got == ~right & 0xFFFF:
        return "that is the one's-complement sum: the checksum is its complement (~s & 0xFFFF)."
    if got == _swap16(right):
        return f"{_BYTE_ORDER_HINT} Read each word as data[i] << 8 | data[i + 1]."
    if len(data) % 2:
        if got == internet_checksum(data[:-1]):
            return "odd length: the last byte was left out. Pad it with a zero byte: it is the HIGH byte of a word."
        if got == internet_checksum(data[:-1] + b"\x00" + data[-1:]):
            return "odd length: pad with a zero byte AFTER the last byte, so that byte is the high half of a word."
    if got == _lost_carry_sum(data):
        return (
            "end-around carry lost: when the sum passes 0xFFFF, the carry must be added back at the bottom "
            "(RFC 1071), not dropped."
        )
    return "compare with labkit.checksum.trace(data).lines(), which shows every step."


def check_internet_checksum(func: Callable[[bytes], int]) -> Feedback:
    """Is `func(data)` the RFC 1071 checksum of `data` for every byte string (empty, odd, full of carries)?"""
    generated = st.tuples(
        st.one_of(st.binary(max_size=64), st.lists(st.sampled_from([0x00, 0x01, 0xFE, 0xFF]), max_size=40).map(bytes))
    )
    failure, runs = _first_failure(
        func, _CHECKSUM_CASES, generated, lambda case, got: got != internet_checksum(case[0])
    )
    if failure is None:
        return _right(f"your checksum agrees with labkit's on all {runs} inputs: empty, odd lengths, carries.")
    data = failure.case[0]
    if failure.raised:
        return _crash(_name(func), _short(data), failure)
    return _wrong(
        f"first failing case: {_name(func)}({_short(data)}) returned {_shown(failure.got)}, expected "
        f"0x{internet_checksum(data):04x}.",
        _checksum_mistake(data, failure.got),
    )


# --- RFC 1624 incremental update ------------------------------------------------------------------------------


def _ones_add(a: int, b: int) -> int:
    """a + b in 16-bit one's-complement arithmetic: the carry out of bit 15 goes back in at bit 0."""
    total = a + b
    return (total & 0xFFFF) + (total >> 16)


def _incremental(hc: int, m: int, m_new: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's-complement arithmetic."""
    return ~_ones_add(_ones_add(~hc & 0xFFFF, ~m & 0xFFFF), m_new) & 0xFFFF


def _update_cases() -> st.SearchStrategy:
    """(hc, m, m') from real data: a checksum, one of the words it covers, and a new value for that word."""
    words = st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=12)
    return words.flatmap(lambda ws: st.tuples(st.just(ws), st.integers(0, len(ws) - 1), st.integers(0, 0xFFFF))).map(
        lambda t: (_checksum_of(t[0]), t[0][t[1]], t[2])
    )


def _checksum_of(words: list[int]) -> int:
    return internet_checksum(b"".join(w.to_bytes(2, "big") for w in words))


def _same_checksum(a: object, b: int) -> bool:
    """Equal, or both one's-complement zero (0x0000 and 0xffff verify alike)."""
    return a == b or (a in (0, 0xFFFF) and b in (0, 0xFFFF) and not isinstance(a, bool))


_UPDATE_CASES = [(0xDD2F, 0x5555, 0x3285), (0x66A6, 0x0001, 0x9A67), (0x0000, 0xFFFF, 0x0000), (0xB861, 0x0800, 0x0000)]


def _update_mistake(case: tuple[int, int, int], got: object) -> str:
    hc, m, m_new = case
    if not isinstance(got, int) or isinstance(got, bool):
        return f"return an int, not {type(got).__name__}."
    if got < 0 or got > 0xFFFF:
        return "keep 16 bits: fold the carries back in and mask the complement (~x & 0xFFFF)."
    variants = {
        "that is HC' before the final complement: the new checksum is ~(...)": ~_incremental(hc, m, m_new) & 0xFFFF,
        "start from ~HC (the sum the checksum is the complement of), not from HC": ~_ones_add(
            _ones_add(hc, ~m & 0xFFFF), m_new
        )
        & 0xFFFF,
        "take the old word away by adding its complement ~m; m' is added as it is": _incremental(
            hc, ~m & 0xFFFF, m_new
        ),
        "old and new word are the wrong way round: add ~m (old) and m' (new)": _incremental(hc, m_new, m),
        "end-around carry lost: a one's-complement add folds the bit above 16 back in.": ~(
            (((~hc & 0xFFFF) + (~m & 0xFFFF)) & 0xFFFF) + m_new
        )
        & 0xFFFF,
        _BYTE_ORDER_HINT: _swap16(_incremental(hc, m, m_new)),
    }
    return next(
        (why for why, value in variants.items() if got == value),
        "follow RFC 1624 eqn. 3 step by step: ~HC, add ~m with end-around carry, add m', complement.",
    )


def check_incremental_update(func: Callable[[int, int, int], int]) -> Feedback:
    """Does `func(hc, m, m_new)` give the checksum after one 16-bit word changes from m to m_new (RFC 1624), the
    same as recomputing it from scratch?"""
    failure, runs = _first_failure(
        func, _UPDATE_CASES, _update_cases(), lambda case, got: not _same_checksum(got, _incremental(*case))
    )
    if failure is None:
        return _right(f"your update agrees with recomputing the checksum on all {runs} cases.")
    hc, m, m_new = failure.case
    arguments = f"0x{hc:04x}, 0x{m:04x}, 0x{m_new:04x}"
    if failure.raised:
        return _crash(_name(func), arguments, failure)
    return _wrong(
        f"first failing case: {_name(func)}({arguments}) returned {_shown(failure.got)}, expected "
        f"0x{_incremental(hc, m, m_new):04x}.",
        _update_mistake(failure.case, failure.got),
    )


# --- a field lookup by offset ---------------------------------------------------------------------------------


@cache
def _lookup_packet(options: int, data: int) -> bytes:
    return echo_request(options=b"\x01" * options, payload=bytes(range(data)))


def _lookup_cases() -> st.SearchStrategy:
    """(packet, offset): echo requests with 0, 4 or 8 bytes of IP options (NOPs) and 0-24 data bytes, any offset.
    Few distinct packets (scapy builds each once), many offsets."""
    packets = st.tuples(st.sampled_from([0, 4, 8]), st.sampled_from([0, 1, 8, 24])).map(lambda t: _lookup_packet(*t))
    return packets.flatmap(lambda p: st.tuples(st.just(p), st.integers(0, len(p) - 1)))


def _owners(packet: bytes, offset: int) -> list[str]:
    """The field names that are right for this byte: the byte's own field, or any bit field sharing it
    (version/IHL, flags/fragment offset); an option byte is 'ip.options'."""
    fields = field_map(packet)
    owner = field_at(fields, offset)
    if owner is None:  # past the packet's end: no field owns it
        return []
    names = [f.name for f in fields if f.offset <= offset < f.end and (f.length == owner.length or f.bits)]
    if owner.name.startswith("ip.opt"):
        names.append("ip.options")
    return names


def _lookup_wrong(case: tuple[bytes, int], got: object) -> bool:
    return not isinstance(got, str) or not any(_matches(got, name) for name in _owners(*case))


def _lookup_mistake(packet: bytes, offset: int, got: object) -> str:
    if not isinstance(got, str):
        return f'return the field\'s name as a string (e.g. "ip.ttl"), not {type(got).__name__}.'
    ihl = ipv4_header_len(packet)
    for near in (offset - 1, offset + 1):
        if 0 <= near < len(packet) and any(_matches(got, name) for name in _owners(packet, near)):
            return (
                f"off by one: {got!r} is the field of byte {near}. Check your boundaries: a field of length n "
                f"at offset o covers o <= offset < o + n."
            )
    if ihl > 20 and offset >= 20:
        return (
            f"this packet has {ihl - 20} bytes of IP options (IHL {ihl // 4}): the ICMP header starts at "
            f"IHL x 4 = {ihl}, not at 20. Read byte 0's low nibble."
        )
    return "compare with labkit.fields.field_map(packet), which lists every field's offset and length."


def check_field_lookup(func: Callable[[bytes, int], str]) -> Feedback:
    """Does `func(packet, offset)` name the field that holds that byte ("ip.ttl", "icmp.seq", ...) for IPv4 echo
    requests with and without IP options and with any amount of data?"""
    base = _lookup_packet(0, 8)
    fixed = [
        (base, 0),
        (base, 8),
        (base, 10),
        (base, 11),
        (base, 20),
        (base, 27),
        (base, 28),
        (_lookup_packet(4, 1), 24),
    ]
    failure, runs = _first_failure(func, fixed, _lookup_cases(), lambda case, got: _lookup_wrong(case, got))
    if failure is None:
        return _right(f"your lookup names the right field on all {runs} cases, with and without IP options.")
    packet, offset = failure.case
    if failure.raised:
        return _crash(_name(func), f"<{len(packet)}-byte packet>, {offset}", failure)
    return _wrong(
        f"first failing case: byte {offset} of a {len(packet)}-byte echo request (IHL "
        f"{packet[0] & 0x0F}): you said {failure.got!r}, it is {_owners(packet, offset)[0]}.",
        _lookup_mistake(packet, offset, failure.got),
    )


# --- an echo reply builder ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _template() -> bytes:
    return echo_request(payload=b"")


def _request(
    src: bytes, dst: bytes, ident: int, seq: int, payload: bytes, ttl: int, tos: int, ip_id: int, df: bool
) -> tuple[bytes]:
    """An IPv4 echo request with these fields: scapy's template with the fields written in and the checksums
    set by labkit.checksum (scapy per case would be too slow for hundreds of cases)."""
    packet = bytearray(_template()) + payload
    struct.pack_into("!BHHHB", packet, 1, tos, len(packet), ip_id, 0x4000 if df else 0, ttl)
    packet[12:20] = src + dst
    struct.pack_into("!HH", packet, 24, ident, seq)
    return (with_checksums(bytes(packet)),)


def _requests() -> st.SearchStrategy:
    """IPv4 echo requests as ping and other clients send them: any unicast addresses, id, seq, TTL, TOS, DF,
    IP ID and data."""
    address = st.tuples(st.integers(1, 223).filter(lambda a: a != 127), st.binary(min_size=3, max_size=3)).map(
        lambda a: bytes([a[0]]) + a[1]
    )
    return st.builds(
        _request,
        address,
        address,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.binary(max_size=64),
        st.integers(1, 255),
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
        st.booleans(),
    ).filter(lambda case: echo_reply(case[0]) is not None)


def _as_packet(got: object) -> bytes | None:
    if isinstance(got, (bytes, bytearray)):
        return bytes(got)
    if isinstance(got, str):
        try:
            return bytes.fromhex("".join(got.split()))
        except ValueError:
            return None
    return None


def _reply_wrong(case: tuple[bytes], got: object) -> bool:
    reply = _as_packet(got)
    return reply is None or not judge(case[0], reply).correct


def _reply_mistake(request: bytes, reply: bytes | None) -> tuple[str, str]:
    """(what is wrong, hint) for a reply the judge did not pass."""
    if reply is None:
        return "it did not return bytes (or a hex string)", "return the reply as bytes."
    verdict = judge(request, reply)
    return f"{verdict.reason}; wrong: {', '.join(verdict.wrong_fields) or 'length'}", _reply_hint(verdict)


def check_reply_builder(func: Callable[[bytes], bytes]) -> Feedback:
    """Does `func(request)` return an echo reply that labkit's judge passes (every byte right, IP ID/TTL/DF free
    with a valid header checksum, accepted by a ping socket) for every kind of IPv4 echo request?"""
    fixed = [
        (echo_request(),),
        (echo_request(payload=b"\xab" * 3, seq=3),),
        (echo_request("192.168.1.10", "192.168.1.1", ident=0xFFFF, seq=0x0100, ttl=7, tos=0xB9, df=True),),
    ]
    failure, runs = _first_failure(func, fixed, _requests(), _reply_wrong)
    if failure is None:
        return _right(f"the judge passes your replies to all {runs} requests (any addresses, id, seq, TTL, TOS, data).")
    request = failure.case[0]
    if failure.raised:
        return _crash(_name(func), f"<{len(request)}-byte request>", failure)
    what, hint = _reply_mistake(request, _as_packet(failure.got))
    return _wrong(f"first failing case: the request {request.hex()[:56]}... ({len(request)} bytes): {what}.", hint)


# --- designing test cases: which payload exposes a dropped carry? ------------------------------------------------


def _reply_icmp(payload: bytes) -> bytes:
    """The ICMP message of labkit's reply to a default echo request carrying `payload`, checksum zeroed."""
    reply = echo_reply(echo_request(payload=payload)) or b""
    message = bytearray(reply[ipv4_header_len(reply) :])
    message[2:4] = b"\x00\x00"
    return bytes(message)


def carry_dropped(payload: bytes) -> tuple[int, int]:
    """(right ICMP checksum of the reply, the checksum a responder that drops every end-around carry writes)."""
    message = _reply_icmp(payload)
    return internet_checksum(message), _lost_carry_sum(message)


def check_carry_cases(hides: object, exposes: object) -> Feedback:
    """Design two payloads: on `hides` a responder that drops carries still gets the ICMP checksum right, on
    `exposes` it does not. Why: a test that never makes the sum pass 0xffff cannot catch this slip."""
    payloads = [bytes(p) for p in (hides, exposes) if isinstance(p, (bytes, bytearray)) and len(p) <= 1472]
    if len(payloads) != 2:
        return _wrong("both payloads must be bytes (up to 1472), e.g. bytes(8) or bytes.fromhex('ff' * 8).")
    right, dropped = carry_dropped(payloads[0])
    if right != dropped:
        return _wrong(
            f"on `hides` the sum passes 0xffff, so dropping the carry gives 0x{dropped:04x}, not 0x{right:04x}.",
            "keep the running sum below 0x10000: small data words (zeros, say) never carry.",
        )
    right, dropped = carry_dropped(payloads[1])
    if right == dropped:
        return _wrong(
            "on `exposes` the sum never passes 0xffff, so dropping carries changes nothing: the slip goes unseen.",
            "make the words big: a few 0xffff words push the sum past 0xffff.",
        )
    return _right(f"`hides` never carries; on `exposes` the slip writes 0x{dropped:04x} instead of 0x{right:04x}.")
