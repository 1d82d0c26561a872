"""What Linux's IPv4 layer does to a packet on its way in and out, before and after ICMP sees it.

Why a module of its own: the reference stack decides whom to answer and with what; the IPv4 details -- ip_rcv's
checks, ip_options_compile / ip_options_echo for Record Route and Timestamp, ip_options_fragment -- are rules of
their own, checked byte for byte against the kernel (golden_ping_rr, _ts, _tsaddr, _tsprespec, _rr_s3000).
Everything here raises labkit.outcomes.NoReply with a coded reason when Linux would send nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labkit.checksum import internet_checksum
from labkit.headers import IPV4_MIN_HEADER, ipv4_header_len, ipv4_total_len
from labkit.outcomes import NoReply, Outcome


def is_unicast_v4(address: bytes) -> bool:
    """Not 0/8, loopback, multicast or reserved (class E): an address a host may answer or be answered from."""
    first = address[0]
    return 0 < first < 224 and first != 127


def validate_ipv4(packet: bytes) -> tuple[bytes, int]:
    """The packet trimmed to ip.len and its header length, or NoReply for what Linux's ip_rcv drops."""
    size = len(packet)
    if size < IPV4_MIN_HEADER:
        raise NoReply(Outcome.IPV4_TRUNCATED, f"malformed: truncated IPv4 header ({size} bytes < 20)")
    if packet[0] >> 4 != 4:
        raise NoReply(Outcome.IP_BAD_VERSION, f"malformed: IP version {packet[0] >> 4} in an IPv4 packet")
    hlen = ipv4_header_len(packet)
    if hlen < IPV4_MIN_HEADER:
        raise NoReply(Outcome.IPV4_BAD_IHL, f"malformed: bad IHL {hlen // 4} (at least 5)")
    if size < hlen:
        raise NoReply(Outcome.IPV4_TRUNCATED, f"malformed: truncated: IHL says {hlen} header bytes, {size} arrived")
    if internet_checksum(packet[:hlen]):
        found = int.from_bytes(packet[10:12], "big")
        expected = internet_checksum(packet[:10] + b"\0\0" + packet[12:hlen])
        raise NoReply(
            Outcome.IPV4_BAD_CHECKSUM,
            f"malformed: bad IP header checksum 0x{found:04x} (should be 0x{expected:04x}); Linux drops it",
        )
    total = ipv4_total_len(packet)
    if total > size:
        raise NoReply(Outcome.IPV4_TRUNCATED, f"malformed: truncated: ip.len says {total} bytes, {size} arrived")
    if total < hlen:
        raise NoReply(Outcome.IPV4_BAD_LENGTH, f"malformed: ip.len {total} is shorter than the {hlen}-byte header")
    return (packet[:total] if total < size else packet), hlen


@dataclass
class Options:
    """IPv4 options after input processing (ip_options_compile with an skb): what ip_options_echo needs."""

    data: bytearray
    rr: int | None = None
    rr_needaddr: bool = False
    ts: int | None = None
    ts_needaddr: bool = False
    ts_needtime: bool = False


def _bad_option(position: int) -> NoReply:
    return NoReply(
        Outcome.IPV4_BAD_OPTION,
        f"malformed: bad IP option at header byte {20 + position} (Linux drops it and "
        "answers Parameter Problem, which is not modelled)",
    )


def options_in(data: bytearray, our_address: bytes, is_local: Callable[[bytes], bool], now_ms: int) -> Options:
    """Validate the options and record our address/time in Record Route and Timestamp, as Linux does on input."""
    options = Options(data)
    stamp = now_ms.to_bytes(4, "big")
    source_route = False
    size, i = len(data), 0
    while i < size:
        kind = data[i]
        if kind == 0:  # end of list: Linux rewrites whatever follows to END too
            data[i + 1 :] = bytes(size - i - 1)
            break
        if kind == 1:
            i += 1
            continue
        if size - i < 2:
            raise _bad_option(i)
        length = data[i + 1]
        if length < 2 or length > size - i:
            raise _bad_option(i)
        if kind in (131, 137):  # LSRR / SSRR
            if length < 3:
                raise _bad_option(i + 1)
            if data[i + 2] < 4 or source_route:
                raise _bad_option(i + 2)
            source_route = True
        elif kind == 7:  # Record Route
            if options.rr is not None:
                raise _bad_option(i)
            if length < 3:
                raise _bad_option(i + 1)
            pointer = data[i + 2]
            if pointer < 4:
                raise _bad_option(i + 2)
            if pointer <= length:
                if pointer + 3 > length:
                    raise _bad_option(i + 2)
                data[i + pointer - 1 : i + pointer + 3] = our_address
                data[i + 2] = pointer + 4
                options.rr_needaddr = True
            options.rr = i
        elif kind == 68:  # Timestamp
            _timestamp_in(data, i, length, options, our_address, is_local, stamp)
        elif kind == 148:  # Router Alert
            if length < 4:
                raise _bad_option(i + 1)
        elif kind == 134:
            raise NoReply(Outcome.IPV4_CIPSO, "CIPSO security option: not modelled")
        i += length
    if source_route:
        raise NoReply(Outcome.IPV4_SOURCE_ROUTED, "source-routed packet: Linux drops it (accept_source_route=0)")
    return options


def _timestamp_in(
    data: bytearray,
    i: int,
    length: int,
    options: Options,
    our_address: bytes,
    is_local: Callable[[bytes], bool],
    stamp: bytes,
) -> None:
    if options.ts is not None:
        raise _bad_option(i)
    if length < 4:
        raise _bad_option(i + 1)
    pointer, flag = data[i + 2], data[i + 3] & 0x0F
    if pointer < 5:
        raise _bad_option(i + 2)
    if pointer <= length:
        if pointer + 3 > length:
            raise _bad_option(i + 2)
        slot = i + pointer - 1
        if flag == 0:  # timestamps only
            data[slot : slot + 4] = stamp
            options.ts_needtime = True
            data[i + 2] = pointer + 4
        elif flag == 1:  # address and timestamp
            if pointer + 7 > length:
                raise _bad_option(i + 2)
            data[slot : slot + 8] = our_address + stamp
            options.ts_needaddr = options.ts_needtime = True
            data[i + 2] = pointer + 8
        elif flag == 3:  # prespecified addresses: stamp only where the address is ours
            if pointer + 7 > length:
                raise _bad_option(i + 2)
            if not _prespec_is_ours(bytes(data[slot : slot + 4]), is_local):
                options.ts = i
                return
            data[slot + 4 : slot + 8] = stamp
            options.ts_needtime = True
            data[i + 2] = pointer + 8
    elif flag != 3:  # full: count the overflow
        overflow = data[i + 3] >> 4
        if overflow == 15:
            raise _bad_option(i + 3)
        data[i + 3] = flag | ((overflow + 1) << 4)
    options.ts = i


def _prespec_is_ours(address: bytes, is_local: Callable[[bytes], bool]) -> bool:
    """inet_addr_type(addr) != RTN_UNICAST: our own address, or not a unicast address at all. (With no routing
    table, every other unicast address counts as reachable unicast, as on a host with a default route.)"""
    return is_local(address) or not is_unicast_v4(address)


def options_echo(
    options: Options, our_address: bytes, is_local: Callable[[bytes], bool], now_ms: int | None
) -> bytes | None:
    """The reply's options (ip_options_echo + ip_options_build): RR and TS copied in that order with our entries
    added, nothing else, padded with END to a multiple of 4. None when Linux refuses to answer."""
    data, out = options.data, bytearray()
    stamp = (now_ms or 0).to_bytes(4, "big")
    if options.rr is not None:
        start, length, pointer = len(out), data[options.rr + 1], data[options.rr + 2]
        out += data[options.rr : options.rr + length]
        if options.rr_needaddr and pointer <= length:
            if pointer + 3 > length:
                return None
            out[start + 2] = pointer + 4
            out[start + pointer - 1 : start + pointer + 3] = our_address
    if options.ts is not None:
        start, length, pointer = len(out), data[options.ts + 1], data[options.ts + 2]
        out += data[options.ts : options.ts + length]
        if pointer <= length:
            need_addr = need_time = False
            if options.ts_needaddr:
                if pointer + 3 > length:
                    return None
                need_addr, pointer = True, pointer + 4
            if options.ts_needtime:
                if pointer + 3 > length:
                    return None
                if out[start + 3] & 0x0F != 3:
                    need_time, pointer = True, pointer + 4
                elif pointer + 7 <= length:
                    address = bytes(out[start + pointer - 1 : start + pointer + 3])
                    if _prespec_is_ours(address, is_local):
                        need_time, pointer = True, pointer + 8
            out[start + 2] = pointer
            if need_addr:
                out[start + pointer - 9 : start + pointer - 5] = our_address
            if need_time:
                out[start + pointer - 5 : start + pointer - 1] = stamp
    while len(out) % 4:
        out.append(0)
    return bytes(out)


def options_for_later_fragments(options: bytes) -> bytes:
    """ip_options_fragment: options without the 'copied' flag (RR, TS) become NOPs after the first fragment."""
    out, i = bytearray(options), 0
    while i < len(out):
        kind = out[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        length = out[i + 1] if i + 1 < len(out) else 0
        if length < 2 or length > len(out) - i:
            break
        if not kind & 0x80:
            out[i : i + length] = b"\x01" * length
        i += length
    return bytes(out)
