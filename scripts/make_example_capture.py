"""Write examples/ping.pcap: what the pinger sent in a real `ping -c 2` on Linux, for `labkit pcap` to answer.

    python scripts/make_example_capture.py [OUT]     (default: examples/ping.pcap)

Why derived, not recorded again: tests/data/golden_ping.pcap is a real iputils ping against a real Linux kernel
(how it was made: tests/data/README.md). Keeping only the frames the pinger sent (its ARP request and its echo
requests) gives a capture in which nothing is answered yet: the README's first `labkit pcap` command answers it.
tests/test_docs.py checks that the shipped file is exactly this derivation.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from labkit.pcap import Capture, read_capture, write_capture

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "data" / "golden_ping.pcap"
EXAMPLE = ROOT / "examples" / "ping.pcap"
PINGER_MAC = bytes.fromhex("029900000001")  # lk-gold-a's lka (tests/data/README.md)


def pinger_side(source: Path = SOURCE) -> Capture:
    """The frames whose Ethernet source is the pinger, with their original timestamps."""
    capture = read_capture(source)
    return replace(capture, packets=[packet for packet in capture.packets if packet.data[6:12] == PINGER_MAC])


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else EXAMPLE
    write_capture(out, pinger_side())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
