"""Write a deterministic Ethernet capture of ping traffic, for pcap benchmarks and demos.

    python benchmarks/make_capture.py OUT.pcap [--n 10000] [--seed 0]

Mostly echo requests (IPv4 and ~15 % IPv6, varied sizes and payloads, from labkit.bench's request generator),
with the ARP requests and IPv6 neighbour solicitations a pinger sends first and some TCP that nobody answers,
one packet every millisecond. Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Ether

from labkit.bench import make_request
from labkit.capture import LINKTYPE_ETHERNET, CaptureWriter

PINGER_MAC = "02:00:00:00:00:01"
HOST_MAC = "02:00:00:00:00:02"
START_NS = 1_700_000_000 * 1_000_000_000
SPACING_NS = 1_000_000  # 1 ms: `ping -i 0.001`


def _frame(rng: random.Random, seed: int, index: int) -> bytes:
    roll = rng.random()
    if roll < 0.01:
        return bytes(
            Ether(src=PINGER_MAC, dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=1, hwsrc=PINGER_MAC, psrc="10.0.0.1", pdst=f"10.0.0.{rng.randint(2, 254)}")
        )
    if roll < 0.02:
        low = rng.randint(2, 0xFFFF)  # the solicited-node group and its MAC carry the target's low 24 bits
        group_mac = f"33:33:ff:00:{low >> 8:02x}:{low & 0xFF:02x}"
        return bytes(
            Ether(src=PINGER_MAC, dst=group_mac)
            / IPv6(src="fd00::1", dst=f"ff02::1:ff00:{low:x}", hlim=255)
            / ICMPv6ND_NS(tgt=f"fd00::{low:x}")
        )
    if roll < 0.05:
        return bytes(
            Ether(src=PINGER_MAC, dst=HOST_MAC)
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=rng.randint(1024, 65535), dport=80, flags="S")
        )
    request = make_request(seed, index).packet
    ethertype = b"\x86\xdd" if request[0] >> 4 == 6 else b"\x08\x00"
    return bytes.fromhex(HOST_MAC.replace(":", "") + PINGER_MAC.replace(":", "")) + ethertype + request


def make_capture(path: str | Path, n: int = 10_000, seed: int = 0, distinct: int | None = None) -> Path:
    """Write n packets one at a time. With `distinct`, frame i is frame i % distinct (times keep rising), so a
    capture of a million packets takes seconds to make and holds the same traffic mix as a small one."""
    rng = random.Random(f"labkit-capture:{seed}")
    base: list[bytes] = []
    with CaptureWriter(path, LINKTYPE_ETHERNET) as writer:
        for index in range(n):
            if distinct is None or index < distinct:
                data = _frame(rng, seed, index)
                if distinct is not None:
                    base.append(data)
            else:
                data = base[index % distinct]
            writer.write(START_NS + index * SPACING_NS, data)
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make_capture(args.out, args.n, args.seed)
    print(f"wrote {args.n} packets to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
