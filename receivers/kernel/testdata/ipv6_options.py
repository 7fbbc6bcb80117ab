"""UDP over IPv6 with extension headers, for netfilter.test.ts: a hop-by-hop
and a destination options header (8 bytes each, PadN only) before UDP.

    python3 ipv6_options.py HOST PORT SIZE COUNT

Sends COUNT datagrams of SIZE bytes; prints {"port": local port}.
"""
import json
import socket
import sys

IPV6_HOPOPTS = 54  # linux/in6.h
IPV6_DSTOPTS = 59
# next header (set by the kernel), length 0 (8 bytes), PadN option with 4 zero bytes
PADDING_ONLY = bytes([0, 0, 1, 4, 0, 0, 0, 0])

host, port, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, PADDING_ONLY)
s.setsockopt(socket.IPPROTO_IPV6, IPV6_DSTOPTS, PADDING_ONLY)
s.bind(('::', 0))
for _ in range(count):
    s.sendto(b'\x06' * size, (host, port))
print(json.dumps({"port": s.getsockname()[1]}))
