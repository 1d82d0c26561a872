"""The floor for benchmarks/rtt.py: the least a Python raw-socket echo responder can do. BENCHMARK ONLY.

It swaps MACs and addresses, turns type 8 into 0, patches the ICMP checksum (RFC 1624) and sends, with none of
labkit's checks: no IP header or ICMP checksum check, no martian filter, no neighbour table. So it answers
frames Linux would drop; run it only on the benchmark's own veth, inside the namespace the benchmark made.
What it measures: the cost of waking a sleeping Python process, two syscalls and a few slices, which any
Python responder pays before it does any work of its own.

    python floor_responder.py <interface> <IPv4 address>
"""

import select
import socket
import sys

ETH_P_ALL, SOL_PACKET, PACKET_IGNORE_OUTGOING = 0x0003, 263, 23


def main() -> None:
    interface, address = sys.argv[1], socket.inet_aton(sys.argv[2])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    with open(f"/sys/class/net/{interface}/address") as file:
        mac = bytes.fromhex(file.read().strip().replace(":", ""))
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    print("ready", flush=True)
    while True:
        if not poller.poll(100):
            continue
        frame = sock.recv(65535)
        if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01" and frame[38:42] == address:
            sock.send(frame[6:12] + mac + b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02" + mac + address + frame[22:32])
        elif frame[12:14] == b"\x08\x00" and frame[23] == 1 and frame[30:34] == address:
            start = 14 + (frame[14] & 0x0F) * 4
            if frame[start] != 8:
                continue
            # type 8 -> 0 as RFC 1141 adds it (RFC 1624 §3 names its one rare edge case)
            checksum = int.from_bytes(frame[start + 2 : start + 4], "big") + 0x0800
            checksum = (checksum & 0xFFFF) + (checksum >> 16)
            ip_header = frame[14:26] + frame[30:34] + frame[26:30] + frame[34:start]
            icmp = b"\x00" + frame[start + 1 : start + 2] + checksum.to_bytes(2, "big") + frame[start + 4 :]
            sock.send(frame[6:12] + mac + b"\x08\x00" + ip_header + icmp)


if __name__ == "__main__":
    main()
