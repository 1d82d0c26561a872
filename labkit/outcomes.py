"""Stable codes for what happened to a packet or an answer: one name per decision, next to its prose.

Why: the reference stack, the parser and the runners used to report outcomes as prose only, and whoever counted
them (pcap's summary, the tests) had to parse the prose back. A code such as ``ipv4.not_for_us`` stays the same
when the wording or the per-packet detail changes, as PyTCP's named decision counters do; the prose still says
why, for people.

* `Outcome` -- every code, with the `kind` of result it stands for ("echo", "ignored", "malformed", "held", ...)
  and a one-line `summary` without per-packet detail (what a summary table prints).
* `Reason` -- a `str` (the prose, with detail) that carries its `Outcome` in `.code`, so code that only wants
  text keeps working and code that counts can count by code. `Outcome.X.reason("...")` makes one.
* `code_of(value)` -- the code a reason, result or outcome carries, or None.
"""

from __future__ import annotations

from enum import Enum, unique


@unique
class Outcome(str, Enum):
    """One decision. The value is the dotted code; compare with a plain string ("ipv4.not_for_us") if you like."""

    summary: str
    kind: str

    def __new__(cls, code: str, kind: str, summary: str) -> Outcome:  # noqa: PYI034 -- Enum member factory
        member = str.__new__(cls, code)
        member._value_ = code
        member.kind = kind
        member.summary = summary
        return member

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """How a summary prints it: code and summary, no per-packet detail."""
        return f"{self.value}: {self.summary}"

    def reason(self, text: str | None = None) -> Reason:
        """This outcome's prose for one packet (default: the summary), carrying the code."""
        return _reason(self, text)

    # -- answered
    ECHO_REPLY = ("icmp.echo_reply", "echo", "echo reply")
    TIMESTAMP_REPLY = ("icmp.timestamp_reply", "timestamp", "timestamp reply")
    ECHO6_REPLY = ("icmpv6.echo_reply", "echo6", "echo reply (IPv6)")
    ARP_REPLY = ("arp.reply", "arp", "ARP reply")
    NEIGHBOUR_ADVERT = ("ndp.advert", "ndp", "neighbour advertisement")
    FRAG_TIME_EXCEEDED = (
        "frag.time_exceeded",
        "time-exceeded",
        "fragment reassembly time exceeded (the first fragment was in): ICMP Time Exceeded",
    )
    # -- not a packet for this stack
    NOT_BYTES = ("input.not_bytes", "malformed", "not bytes")
    UNKNOWN_LINK = ("input.unknown_link", "malformed", "unknown link type")
    INTERNAL_ERROR = ("input.internal_error", "malformed", "internal error (a labkit bug)")
    # -- Ethernet
    ETHER_TRUNCATED = ("ether.truncated", "malformed", "truncated Ethernet header")
    ETHER_NOT_FOR_US = ("ether.not_for_us", "ignored", "not addressed to us (Ethernet destination)")
    ETHER_VLAN = ("ether.vlan", "ignored", "VLAN-tagged frame: not modelled")
    ETHER_OTHER = ("ether.other_protocol", "ignored", "other EtherType: not modelled")
    # -- ARP
    ARP_TRUNCATED = ("arp.truncated", "malformed", "truncated ARP packet")
    ARP_NOT_ETHERNET = ("arp.not_ethernet_ipv4", "ignored", "ARP not for Ethernet/IPv4")
    ARP_NOT_REQUEST = ("arp.not_request", "ignored", "ARP that is not a request: Linux sends nothing")
    ARP_NEVER_ANSWERED = ("arp.special_target", "ignored", "ARP for an address Linux never answers for")
    ARP_NOT_OURS = ("arp.not_ours", "ignored", "ARP request for an address that is not ours")
    ARP_BAD_SENDER = ("arp.bad_sender", "ignored", "ARP request from a sender that is not unicast")
    # -- IP, either version
    IP_EMPTY = ("ip.empty", "malformed", "empty packet")
    IP_BAD_VERSION = ("ip.bad_version", "malformed", "IP version is not 4 or 6")
    IP_TCP = ("ip.tcp", "ignored", "TCP is not modelled (Linux would answer a RST from a closed port)")
    IP_UDP = ("ip.udp", "ignored", "UDP is not modelled (Linux would answer port unreachable)")
    IP_IGMP = ("ip.igmp", "ignored", "IGMP is not modelled (Linux sends no reply)")
    IP_NO_NEXT = ("ip.no_next_header", "ignored", "no next header: nothing to answer")
    IP_OTHER_PROTOCOL = ("ip.other_protocol", "ignored", "other IP protocol: not modelled")
    # -- IPv4
    IPV4_TRUNCATED = ("ipv4.truncated", "malformed", "truncated IPv4 packet")
    IPV4_BAD_IHL = ("ipv4.bad_ihl", "malformed", "IHL below 5")
    IPV4_BAD_CHECKSUM = ("ipv4.bad_checksum", "malformed", "bad IP header checksum: Linux drops it")
    IPV4_BAD_LENGTH = ("ipv4.bad_length", "malformed", "ip.len shorter than the header")
    IPV4_BAD_OPTION = ("ipv4.bad_option", "malformed", "bad IP option: Linux drops it (Parameter Problem)")
    IPV4_CIPSO = ("ipv4.cipso", "ignored", "CIPSO security option: not modelled")
    IPV4_SOURCE_ROUTED = ("ipv4.source_routed", "ignored", "source-routed: Linux drops it (accept_source_route=0)")
    IPV4_OPTIONS_FULL = ("ipv4.options_no_room", "ignored", "IP options leave no room for our entries")
    IPV4_MARTIAN_SOURCE = ("ipv4.martian_source", "ignored", "martian source: Linux drops it")
    IPV4_OWN_SOURCE = ("ipv4.own_source", "ignored", "our own address as source: Linux drops it")
    IPV4_BROADCAST = (
        "ipv4.broadcast",
        "ignored",
        "sent to broadcast/multicast: Linux ignores it (icmp_echo_ignore_broadcasts=1)",
    )
    IPV4_NOT_FOR_US = ("ipv4.not_for_us", "ignored", "not addressed to us")
    IPV4_MARTIAN_DESTINATION = ("ipv4.martian_destination", "ignored", "martian destination: Linux drops it")
    IPV4_L2_BROADCAST = ("ipv4.l2_broadcast", "ignored", "came in a link-layer broadcast (maybe directed broadcast)")
    IPV4_SOURCE_IS_DESTINATION = ("ipv4.source_is_destination", "ignored", "source equals destination")
    # -- ICMP
    ICMP_TRUNCATED = ("icmp.truncated", "malformed", "ICMP message shorter than its header")
    ICMP_BAD_CHECKSUM = ("icmp.bad_checksum", "malformed", "bad ICMP checksum: Linux drops it")
    ICMP_TIMESTAMP_SHORT = ("icmp.timestamp_short", "malformed", "timestamp request without its originate time")
    ICMP_NOT_ANSWERED = ("icmp.not_answered", "ignored", "ICMP type Linux does not answer")
    # -- IPv6
    IPV6_TRUNCATED = ("ipv6.truncated", "malformed", "truncated IPv6 packet")
    IPV6_HOP_BY_HOP_NOT_FIRST = (
        "ipv6.hop_by_hop_not_first",
        "malformed",
        "hop-by-hop header not first (Linux answers Parameter Problem)",
    )
    IPV6_EXTENSION_TRUNCATED = ("ipv6.extension_truncated", "malformed", "truncated IPv6 extension header")
    IPV6_ROUTING = ("ipv6.routing_segments_left", "ignored", "routing header with segments left: not modelled")
    IPV6_OPTION_TRUNCATED = ("ipv6.option_truncated", "malformed", "truncated IPv6 option")
    IPV6_OPTION_UNKNOWN_DROP = ("ipv6.option_unknown_drop", "ignored", "unknown IPv6 option: Linux drops it")
    IPV6_OPTION_UNKNOWN_ERROR = (
        "ipv6.option_unknown_error",
        "malformed",
        "unknown IPv6 option: Linux drops it and answers Parameter Problem",
    )
    IPV6_PADDING = ("ipv6.too_much_padding", "malformed", "more than 7 bytes of padding in a row: Linux drops it")
    IPV6_PADN_NONZERO = ("ipv6.padn_nonzero", "malformed", "PadN with non-zero contents: Linux drops it")
    IPV6_TOO_MANY_OPTIONS = ("ipv6.too_many_options", "malformed", "more than 8 options in one header: Linux drops it")
    IPV6_MARTIAN_SOURCE = ("ipv6.martian_source", "ignored", "martian source: Linux drops it")
    IPV6_NOT_OUR_GROUP = ("ipv6.not_our_group", "ignored", "sent to a multicast group we did not join")
    IPV6_NOT_FOR_US = ("ipv6.not_for_us", "ignored", "not addressed to us")
    IPV6_MARTIAN_DESTINATION = ("ipv6.martian_destination", "ignored", "martian destination: Linux drops it")
    IPV6_MULTICAST_ECHO = ("ipv6.multicast_echo", "ignored", "echo to a multicast group (no single reply)")
    # -- ICMPv6 and neighbour discovery
    ICMPV6_TRUNCATED = ("icmpv6.truncated", "malformed", "ICMPv6 message shorter than its header")
    ICMPV6_BAD_CHECKSUM = ("icmpv6.bad_checksum", "malformed", "bad ICMPv6 checksum: Linux drops it")
    ICMPV6_NOT_ANSWERED = ("icmpv6.not_answered", "ignored", "ICMPv6 type not answered")
    ICMPV6_FROM_UNSPECIFIED = ("icmpv6.from_unspecified", "ignored", "echo from the unspecified address")
    NDP_HOP_LIMIT = ("ndp.hop_limit", "ignored", "neighbour solicitation with hop limit not 255: Linux drops it")
    NDP_MALFORMED = ("ndp.malformed", "malformed", "malformed neighbour solicitation")
    NDP_OWN_ADDRESS = ("ndp.own_address", "ignored", "neighbour solicitation for the sender's own address")
    NDP_NOT_OURS = ("ndp.not_ours", "ignored", "neighbour solicitation for an address that is not ours")
    NDP_OTHER_GROUP = ("ndp.other_group", "ignored", "neighbour solicitation sent to another group")
    # -- fragments
    FRAG_HELD = ("frag.held", "held", "fragment held until the datagram is complete")
    FRAG_DUPLICATE = ("frag.duplicate", "held", "duplicate fragment ignored")
    FRAG_OVERLAP = ("frag.overlap", "malformed", "overlapping fragments: datagram discarded (RFC 5722)")
    FRAG_BAD_END = ("frag.bad_end", "malformed", "fragment inconsistent with the datagram's end: discarded")
    FRAG_EMPTY = ("frag.empty", "malformed", "empty fragment: datagram discarded")
    FRAG_MEMORY_FULL = (
        "frag.memory_full",
        "malformed",
        "reassembly memory full (ipfrag_high_thresh): Linux drops the fragment",
    )
    FRAG_TOO_LONG = ("frag.too_long", "malformed", "reassembled datagram over 65535 bytes: Linux drops it")
    FRAG_MALFORMED = ("frag.malformed", "malformed", "malformed IPv6 fragment")
    FRAG_NOT_WHOLE = ("frag.not_whole", "ignored", "a fragment, not a whole echo request")
    # -- a model's answer (labkit.parse)
    PARSE_NOT_TEXT = ("parse.not_text", "unparsed", "the answer is not text")
    PARSE_EMPTY = ("parse.empty", "unparsed", "the answer is empty")
    PARSE_TOO_LARGE = ("parse.too_large", "unparsed", "the answer is longer than the parser reads")
    PARSE_NO_HEX = ("parse.no_hex", "unparsed", "no hex found in the answer")
    PARSE_NON_HEX = ("parse.non_hex", "unparsed", "non-hex character inside the hex")
    PARSE_LOOKALIKE = ("parse.lookalike", "unparsed", "a letter that looks like a hex digit inside the hex")
    PARSE_ODD_DIGITS = ("parse.odd_digits", "unparsed", "odd number of hex digits")
    PARSE_TOO_SHORT = ("parse.too_short", "unparsed", "too few bytes for a reply")
    PARSE_TOO_LONG = ("parse.too_long", "unparsed", "too many bytes for a reply")
    PARSE_ERROR = ("parse.error", "unparsed", "could not read hex from the answer")
    # -- the live responder (labkit.responder): a request it counted and did not answer; the gate's own
    #    refusals ("ingress: ...") carry the reference stack's code instead
    LIVE_NO_NEIGHBOUR = ("live.no_neighbour", "dropped", "no neighbour answered for the requester")
    LIVE_BUSY = ("live.busy", "dropped", "busy: every in-flight slot taken")
    LIVE_BACKOFF = ("live.backoff", "dropped", "API backoff: rate limited or overloaded, request shed")
    LIVE_RATE_LIMIT = ("live.rate_limit", "dropped", "rate limit")
    LIVE_BUDGET = ("live.budget", "dropped", "budget exhausted")
    LIVE_TIMEOUT = ("live.timeout", "dropped", "no answer within the timeout")
    LIVE_STOPPED = ("live.stopped", "dropped", "stopped before the answer was sent")
    LIVE_MODEL_ERROR = ("live.model_error", "dropped", "model error (API or transport)")
    LIVE_MODEL_REFUSED = ("live.model_refused", "dropped", "model refused the request")
    LIVE_MODEL_CRASHED = ("live.model_crashed", "dropped", "model crashed")
    LIVE_INTERNAL_ERROR = ("live.internal_error", "dropped", "internal error (a labkit bug)")
    LIVE_UNPARSEABLE = ("live.unparseable", "dropped", "unparseable answer")
    LIVE_STRICT = ("live.strict_refused", "dropped", "strict mode: the reply differs from what Linux sends")
    LIVE_RAW = ("live.raw_refused", "dropped", "raw mode: not an IP packet for the requester")
    LIVE_BAD_CHECKSUM = ("live.bad_checksum", "dropped", "bad checksum: not sent")


class Reason(str):
    """The prose of one outcome (with its per-packet detail), carrying the outcome's code in `.code`.

    A str subclass so everything that shows, compares or logs reasons keeps working unchanged. Make one with
    `Outcome.X.reason(text)` (a plain str subclass without its own __new__: it costs little on the echo path)."""

    __slots__ = ("code",)
    code: Outcome

    def __reduce__(self) -> tuple:
        return _reason, (self.code, str(self))


def _reason(code: Outcome, text: str | None) -> Reason:
    reason = Reason(code.summary if text is None else text)
    reason.code = code
    return reason


class NoReply(Exception):
    """Raised deep inside packet handling when a host sends nothing; carries the coded reason to whoever
    builds the result (the reference stack)."""

    def __init__(self, code: Outcome, text: str) -> None:
        super().__init__(text)
        self.reason = text if isinstance(text, Reason) else code.reason(text)


def code_of(value: object) -> Outcome | None:
    """The Outcome that a Reason, an Outcome, or anything with a `.code` (a StackResult) carries; else None."""
    if isinstance(value, Outcome):
        return value
    code = getattr(value, "code", None)
    return code if isinstance(code, Outcome) else None
