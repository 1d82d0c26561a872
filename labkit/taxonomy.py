"""Why a model's reply is wrong: name the most likely cause of every differing nibble or run of nibbles.

A small rule-based classifier, not a model. It compares the reply with the reference reply as hex digits
(nibbles) and tries the explanations in a fixed order, most specific first:

1. A shift: from some digit on, the rest of the reply matches the reference moved by one or two digits
   ("dropped-digit" / "repeated-digit"); everything after that point is one run.
2. Field decisions, each on its own field: both addresses still as in the request ("unswapped") or one address
   copied over the other ("half-swapped"); the request's echo-request type kept ("type-kept"); a length field
   that disagrees with the reference ("wrong-length", or "truncated" when it matches the short reply).
3. Checksums whose value differs from the reference, re-computed every way a person or a model gets them wrong:
   the request's checksum kept ("checksum-kept"); right for the bytes the model wrote but not for the correct
   reply ("checksum-for-wrong-bytes": the arithmetic was right and the copy was wrong); the folded sum without
   its one's complement ("checksum-no-complement"); one or more end-around carries lost
   ("checksum-lost-carry": the checksum is too big by the carries dropped); a sum over the wrong bytes --
   the whole packet, the ICMP header only, the IPv4 header with the message, ICMPv6 without or with a wrong
   pseudo-header ("checksum-wrong-span").
4. Whatever still differs, digit by digit: two neighbouring digits exchanged ("transposition"), else a copy
   slip ("substitution").
5. Digits missing at the end ("truncated"), digits beyond the reference's end ("wrong-length").

Ambiguity is resolved by that order and documented here: a checksum one or two too big is a lost carry
rather than a slip of its last digit whenever the sum had that many carries. Differences in fields a host
chooses freely (the judge's `free` offsets) are not errors and get no cause.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.checksum import carries_folded, icmpv6_offset, icmpv6_pseudo_header, internet_checksum, verify, word_sum
from labkit.fields import field_map
from labkit.headers import IPV4_MIN_HEADER, IPV6_HEADER, ip_packet_len, ip_version, ipv4_header_len
from labkit.stack import echo_reply

CAUSES: dict[str, str] = {
    "substitution": "copy slip: a digit written wrong",
    "transposition": "two neighbouring digits exchanged",
    "dropped-digit": "a digit dropped: everything after it is shifted",
    "repeated-digit": "a digit written twice: everything after it is shifted",
    "unswapped": "addresses left as in the request (not swapped)",
    "half-swapped": "one address copied over the other (half swapped)",
    "type-kept": "the request's type kept (echo request, not reply)",
    "checksum-lost-carry": "checksum off by a lost end-around carry",
    "checksum-no-complement": "checksum missing its one's complement (the folded sum itself)",
    "checksum-wrong-span": "checksum over the wrong bytes or with the wrong pseudo-header",
    "checksum-for-wrong-bytes": "checksum right for the bytes written, not for the correct reply "
    "(arithmetic right, copy wrong)",
    "checksum-kept": "the request's checksum copied unchanged",
    "truncated": "the reply stops early",
    "wrong-length": "wrong length (a length field, or bytes beyond the reply's end)",
}
_HEX = re.compile(r"[0-9a-f]*")
_MAX_SHIFT = 2  # digits: one dropped or repeated digit, or one whole byte
_SHIFT_AGREEMENT = 0.9  # share of the shifted rest that must match the reference


@dataclass(frozen=True)
class ErrorRun:
    """A run of differing digits [start, end) (nibble indices into the reply's hex) and its likely cause."""

    start: int
    end: int
    cause: str  # a key of CAUSES
    field: str  # the reference field where the run starts ("" past the end)
    detail: str = ""

    @property
    def offsets(self) -> tuple[int, ...]:
        """The byte offsets the run touches."""
        return tuple(range(self.start // 2, (self.end + 1) // 2))

    @property
    def label(self) -> str:
        return CAUSES[self.cause]

    def describe(self) -> str:
        """'bytes 22–23 (icmp.chksum): checksum missing its one's complement — 0xbe43 should be 0x41bc'."""
        first, last = self.offsets[0], self.offsets[-1]
        where = f"byte {first}" if first == last else f"bytes {first}–{last}"
        field = f" ({self.field})" if self.field else ""
        return f"{where}{field}: {self.label}" + (f" — {self.detail}" if self.detail else "")


def _digits(data: bytes | str) -> str:
    if isinstance(data, str):
        text = "".join(data.split()).lower()
        if not _HEX.fullmatch(text):
            raise ValueError("the reply must be bytes or hex digits")
        return text
    return bytes(data).hex()


def classify(
    request: bytes, reply: bytes | str | None, expected: bytes | None = None, *, free: Iterable[int] = ()
) -> tuple[ErrorRun, ...]:
    """Every run of digits where `reply` differs from the reference, with its most likely cause.

    `reply` may be hex text with an odd digit count (what a dropped digit leaves). `free`: byte offsets the
    judge allowed as a host's free choice. Returns () for a perfect reply or when there is nothing to compare.
    """
    request = bytes(request)
    expected = echo_reply(request) if expected is None else bytes(expected)
    if reply is None or not expected:
        return ()
    want, got = expected.hex(), _digits(reply)
    if want == got:
        return ()
    names = _field_names(expected)
    shift = _find_shift(want, got)
    limit = shift[0] if shift else min(len(want), len(got))
    explained: set[int] = set()
    runs = _field_runs(request, expected, _as_bytes(got), limit, names, explained)
    skip = explained | {2 * offset + half for offset in free for half in (0, 1)}
    runs += _digit_runs(want, got, limit, skip, names)
    if shift:
        start, kind = shift
        runs.append(
            ErrorRun(
                start,
                max(len(got), len(want)),
                kind,
                _name_at(names, start // 2),
                f"from digit {start} on, the reply is the reference shifted by one"
                f"{' digit' if abs(len(got) - len(want)) == 1 else ' or more digits'}",
            )
        )
    elif len(got) < len(want):
        runs.append(
            ErrorRun(
                len(got),
                len(want),
                "truncated",
                _name_at(names, len(got) // 2),
                f"{len(got) / 2:g} of {len(want) // 2} bytes",
            )
        )
    elif len(got) > len(want):
        runs.append(ErrorRun(len(want), len(got), "wrong-length", "", f"{(len(got) - len(want)) / 2:g} bytes too many"))
    allowed = set(free)
    runs = [run for run in runs if not set(run.offsets) <= allowed]
    return tuple(sorted(runs, key=lambda run: (run.start, run.end)))


def causes_of(runs: Iterable[ErrorRun]) -> tuple[str, ...]:
    """The distinct causes of some runs, in the order they first appear."""
    return tuple(dict.fromkeys(run.cause for run in runs))


def taxonomy_counts(items) -> Counter:
    """How many replies show each cause (a reply with two slips counts once), for tables and notebooks.

    `items`: judge.Judgement objects (their `causes`), a run_bench DataFrame with a "causes" column (lists of
    cause keys), or lists of ErrorRun / cause keys.
    """
    if hasattr(items, "columns"):
        items = items["causes"] if "causes" in items.columns else []
    counts: Counter = Counter()
    for item in items:
        runs = getattr(item, "causes", item) or ()
        counts.update({run.cause if isinstance(run, ErrorRun) else str(run) for run in runs})
    return counts


# --- helpers ------------------------------------------------------------------------------------------------


def _as_bytes(digits: str) -> bytes:
    return bytes.fromhex(digits[: len(digits) // 2 * 2])


def _field_names(expected: bytes) -> list[str]:
    """The most specific field name of each byte of the reference (""), from labkit.fields."""
    names = [""] * len(expected)
    try:
        fields = field_map(expected)
    except ValueError:
        return names
    for field in sorted(fields, key=lambda f: -f.length):  # shorter (more specific) fields overwrite longer
        for offset in range(field.offset, min(field.end, len(expected))):
            names[offset] = field.name
    return names


def _name_at(names: list[str], offset: int) -> str:
    return names[offset] if 0 <= offset < len(names) else ""


def _find_shift(want: str, got: str) -> tuple[int, str] | None:
    """(first differing digit, "dropped-digit" | "repeated-digit") when the rest is the reference shifted."""
    common = min(len(want), len(got))
    first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), common)
    if first == common:  # one is a prefix of the other: a lone digit more or less is a shift, more is length
        difference = len(got) - len(want)
        return (first, "dropped-digit" if difference < 0 else "repeated-digit") if abs(difference) == 1 else None
    unshifted = sum(map(operator.ne, want[first:], got[first:]))
    for k in range(1, _MAX_SHIFT + 1):
        for kind, ahead, behind in (("dropped-digit", want, got), ("repeated-digit", got, want)):
            lengths_agree = len(ahead) - len(behind) == k
            rest_a, rest_b = ahead[first + k :], behind[first:]
            compared = min(len(rest_a), len(rest_b))
            if compared == 0 or (compared < 8 and not lengths_agree):
                if compared == 0 and lengths_agree:
                    return first, kind
                continue  # a short tail proves nothing unless the lengths tell the same story
            same = sum(map(operator.eq, rest_a, rest_b))
            if same >= _SHIFT_AGREEMENT * compared and (unshifted > 4 or lengths_agree):
                return first, kind
    return None


def _digit_runs(want: str, got: str, limit: int, skip: set[int], names: list[str]) -> list[ErrorRun]:
    """Runs of differing digits nothing else explained: transpositions, else copy slips."""
    runs, index = [], 0
    while index < limit:
        if index in skip or want[index] == got[index]:
            index += 1
            continue
        if (
            index + 1 < limit
            and index + 1 not in skip
            and want[index] == got[index + 1]
            and want[index + 1] == got[index]
            and want[index] != want[index + 1]
        ):
            runs.append(
                ErrorRun(
                    index,
                    index + 2,
                    "transposition",
                    _name_at(names, index // 2),
                    f"{got[index : index + 2]} for {want[index : index + 2]}",
                )
            )
            index += 2
            continue
        end = index
        while end < limit and end not in skip and want[end] != got[end]:
            end += 1
        runs.append(
            ErrorRun(index, end, "substitution", _name_at(names, index // 2), f"{got[index:end]} for {want[index:end]}")
        )
        index = end
    return runs


def _run_for(
    cause: str, offset: int, length: int, expected: bytes, got: bytes, name: str, explained: set[int], detail: str = ""
) -> ErrorRun | None:
    """The run of differing digits inside one field, attributed to `cause` (None if none differ)."""
    want, have = expected[offset : offset + length].hex(), got[offset : offset + length].hex()
    differing = [2 * offset + i for i, (a, b) in enumerate(zip(want, have)) if a != b]
    if not differing:
        return None
    explained.update(range(differing[0], differing[-1] + 1))
    return ErrorRun(differing[0], differing[-1] + 1, cause, name, detail)


def _field_runs(
    request: bytes, expected: bytes, got: bytes, limit: int, names: list[str], explained: set[int]
) -> list[ErrorRun]:
    """Runs explained by a decision about a whole field: addresses, type, length, checksums."""
    version = ip_version(expected)
    if version is None or ip_version(request) != version:
        return []
    if version == 4 and min(len(expected), len(request)) >= IPV4_MIN_HEADER:
        src, dst, size, start = 12, 16, 4, ipv4_header_len(expected)
        lengths = [("ip.len", 2, len(got))]
    elif version == 6 and min(len(expected), len(request)) >= IPV6_HEADER:
        src, dst, size, start = 8, 24, 16, icmpv6_offset(expected) or IPV6_HEADER
        lengths = [("ipv6.plen", 4, len(got) - IPV6_HEADER)]
    else:
        return []
    fits = lambda offset, length: 2 * (offset + length) <= limit and offset + length <= len(got)  # noqa: E731
    runs: list[ErrorRun | None] = []
    if fits(src, size) and fits(dst, size):
        runs += _address_runs(request, expected, got, src, dst, size, explained)
    if fits(start, 1) and got[start] == request[start] != expected[start]:
        runs.append(
            _run_for(
                "type-kept",
                start,
                1,
                expected,
                got,
                _name_at(names, start),
                explained,
                f"type {got[start]} is the request's",
            )
        )
    for name, offset, actual in lengths:
        if fits(offset, 2) and got[offset : offset + 2] != expected[offset : offset + 2]:
            value = int.from_bytes(got[offset : offset + 2], "big")
            reference = int.from_bytes(expected[offset : offset + 2], "big")
            cause = "truncated" if value == actual < reference else "wrong-length"
            runs.append(
                _run_for(cause, offset, 2, expected, got, name, explained, f"{name} {value}, reference {reference}")
            )
    for check in verify(expected):
        if fits(check.offset, 2):
            runs.append(_checksum_run(check.name, check.offset, request, expected, got, explained))
    return [run for run in runs if run is not None]


def _address_runs(
    request: bytes, expected: bytes, got: bytes, src: int, dst: int, size: int, explained: set[int]
) -> list[ErrorRun | None]:
    asked_src, asked_dst = request[src : src + size], request[dst : dst + size]
    got_src, got_dst = got[src : src + size], got[dst : dst + size]
    if got_src == asked_src and got_dst == asked_dst and asked_src != asked_dst:
        cause = "unswapped"
    elif got_src == got_dst and got_src in (asked_src, asked_dst) and asked_src != asked_dst:
        cause = "half-swapped"
    else:
        return []
    prefix = "ip" if size == 4 else "ipv6"
    return [
        _run_for(cause, offset, size, expected, got, f"{prefix}.{part}", explained)
        for offset, part in ((src, "src"), (dst, "dst"))
    ]


def _covered(packet: bytes, name: str) -> tuple[bytes, bytes, int] | None:
    """(pseudo-header, covered bytes with the checksum zeroed, where the covered bytes start) for one checksum."""
    start: int | None
    if name == "ip.chksum":
        start, end, field, prefix = 0, ipv4_header_len(packet), 10, b""
    else:
        start = ipv4_header_len(packet) if name == "icmp.chksum" else icmpv6_offset(packet)
        if start is None:
            return None
        end = ip_packet_len(packet) or len(packet)
        field, prefix = 2, b""
    covered = bytearray(packet[start:end])
    covered[field : field + 2] = b"\x00\x00"
    if name == "icmpv6.cksum":
        prefix = icmpv6_pseudo_header(packet[8:24], packet[24:40], len(covered))
    return prefix, bytes(covered), start


def checksum_input(packet: bytes, name: str) -> bytes:
    """The bytes one checksum sums, in order (ICMPv6 pseudo-header first), the checksum itself zeroed."""
    covered = _covered(packet, name)
    return covered[0] + covered[1] if covered else b""


def checksum_offsets(packet: bytes) -> dict[str, int]:
    """Where each checksum of a packet sits: {"ip.chksum": 10, "icmp.chksum": 22}."""
    return {check.name: check.offset for check in verify(packet)}


def _zero_all(packet: bytes) -> bytes:
    zeroed = bytearray(packet)
    for check in verify(packet):
        zeroed[check.offset : check.offset + 2] = b"\x00\x00"
    return bytes(zeroed)


def _wrong_spans(packet: bytes, name: str) -> dict[str, int]:
    """Checksums over the spans people confuse with the right one (all checksum fields zeroed)."""
    covered = _covered(packet, name)
    if covered is None:
        return {}
    prefix, message, start = covered
    whole = _zero_all(packet)
    spans = {"the whole packet": internet_checksum(whole)}
    if name == "ip.chksum":
        if len(message) > IPV4_MIN_HEADER:
            spans["the header without its options"] = internet_checksum(message[:IPV4_MIN_HEADER])
    else:
        spans["the ICMP header only (8 bytes)"] = internet_checksum(message[:8])
        spans["the data only"] = internet_checksum(message[8:])
    if name == "icmp.chksum":
        spans["the IPv4 header and the ICMP message"] = internet_checksum(whole[:start] + message)
    if name == "icmpv6.cksum":
        spans["the message without the pseudo-header"] = internet_checksum(message)
        spans["a pseudo-header counting the 40-byte IPv6 header in the length"] = internet_checksum(
            icmpv6_pseudo_header(packet[8:24], packet[24:40], len(message) + IPV6_HEADER) + message
        )
        spans["a pseudo-header without the next-header value 58"] = internet_checksum(prefix[:-1] + b"\x00" + message)
    return spans


def _checksum_run(
    name: str, offset: int, request: bytes, expected: bytes, got: bytes, explained: set[int]
) -> ErrorRun | None:
    found = int.from_bytes(got[offset : offset + 2], "big")
    right = int.from_bytes(expected[offset : offset + 2], "big")
    if found == right:
        return None
    cause, detail = _checksum_cause(name, offset, found, request, expected, got)
    return _run_for(
        cause,
        offset,
        2,
        expected,
        got,
        name,
        explained,
        f"0x{found:04x} should be 0x{right:04x}" + (f": {detail}" if detail else ""),
    )


def _checksum_cause(name: str, offset: int, found: int, request: bytes, expected: bytes, got: bytes) -> tuple[str, str]:
    """The first checksum mistake that reproduces `found`, else a digit-level slip."""
    if offset + 2 <= len(request) and found == int.from_bytes(request[offset : offset + 2], "big"):
        return "checksum-kept", "the request's value"
    own = next((c for c in verify(got) if c.name == name), None)
    if own is not None and own.ok and got != expected:
        return "checksum-for-wrong-bytes", "it is right for the bytes this reply holds"
    for packet, whose in ((expected, "the correct reply"), (got, "the bytes written")):
        covered = _covered(packet, name) if len(packet) == len(expected) else None
        if covered is None:
            continue
        data = covered[0] + covered[1]
        total, checksum = word_sum(data), internet_checksum(data)
        if found == ~checksum & 0xFFFF:
            return "checksum-no-complement", f"the folded sum of {whose}, not complemented"
        # each lost carry leaves the folded sum one too small, so the complement one too big
        lost = max(carries_folded(total), total >> 16)
        if lost and found in {checksum + j for j in range(1, lost + 1)} | {~total & 0xFFFF}:
            carries = "carry" if lost == 1 else "carries"
            return "checksum-lost-carry", f"{whose} summed with {lost} {carries}, some not added back"
        for span, value in _wrong_spans(packet, name).items():
            if found == value:
                return "checksum-wrong-span", f"the checksum of {span}"
    return "substitution", "no checksum mistake reproduces it: digits written wrong"
