"""What happens to each field of an echo request on its way into the reply: the series' one big idea.

A responder copies most bytes, swaps the addresses, changes the type by a decision, recomputes the
checksums and chooses a few fields freely (the IPv4 ID, the TTL). Copied bytes survive a language model;
computed bytes break. The widgets colour bytes by these roles and the taxonomy uses them to name causes,
so the table lives here, once.
"""

from __future__ import annotations

COPIED, SWAPPED, DECISION, RECOMPUTED, HOST = "copied", "swapped", "decision", "recomputed", "host"

ROLES: dict[str, str] = {  # role -> what it means, in one line (the widgets' legend)
    COPIED: "the request's bytes, unchanged",
    SWAPPED: "the request's source becomes the destination and back",
    DECISION: "changed by a decision: request becomes reply (the type)",
    RECOMPUTED: "a checksum, computed again over the new bytes",
    HOST: "chosen freely by the replying host (IPv4 ID, TTL, DF, flow label)",
}

_ROLE_OF_FIELD: dict[str, str] = {
    "ip.src": SWAPPED,
    "ip.dst": SWAPPED,
    "ipv6.src": SWAPPED,
    "ipv6.dst": SWAPPED,
    "ether.src": SWAPPED,
    "ether.dst": SWAPPED,
    "arp.psrc": SWAPPED,
    "arp.pdst": SWAPPED,
    "arp.hwdst": SWAPPED,
    "icmp.type": DECISION,
    "icmpv6.type": DECISION,
    "arp.op": DECISION,
    "ip.chksum": RECOMPUTED,
    "icmp.chksum": RECOMPUTED,
    "icmpv6.cksum": RECOMPUTED,
    "ip.id": HOST,
    "ip.ttl": HOST,
    "ip.flags": HOST,
    "ipv6.hlim": HOST,
    "ipv6.fl": HOST,
    "arp.hwsrc": HOST,
    "icmp.ts_rx": HOST,
    "icmp.ts_tx": HOST,
}
_ORDER = (DECISION, RECOMPUTED, SWAPPED, HOST, COPIED)  # a byte shared by several fields takes the first


def role_of(field_name: str) -> str:
    """The role of one field (a labkit.fields name); anything not listed is copied."""
    return _ROLE_OF_FIELD.get(field_name, COPIED)


def role_of_names(names: list[str]) -> str:
    """The role of a byte held by several fields (e.g. ip.flags + ip.frag): the most telling one."""
    roles = {role_of(name) for name in names} or {COPIED}
    return next(role for role in _ORDER if role in roles)
