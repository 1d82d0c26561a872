"""Attachments: where request frames come from and reply frames go (see docs/live.md).

`RawWire` (AF_PACKET on an interface), `TunWire` (/dev/net/tun) and `SoftwareWire` (in-process, no root).
They are imported lazily so that using one does not load what the others need.
"""

from __future__ import annotations

import importlib

from labkit.wire.base import PRIVILEGE_ADVICE, Wire, WireGone

_LAZY = {
    "RawWire": "labkit.wire.raw",
    "TunWire": "labkit.wire.tun",
    "SoftwareWire": "labkit.wire.software",
    "Pinger": "labkit.wire.software",
    "PingStats": "labkit.wire.software",
}

__all__ = ["PRIVILEGE_ADVICE", "Wire", "WireGone", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labkit.wire' has no attribute {name!r}")
