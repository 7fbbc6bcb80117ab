"""UDP flood from one SO_REUSEPORT socket, in a tight loop (no event loop, so
sends do not come in bursts): for the insert-race test of netfilter.test.ts.

    python3 flood.py HOST FIRST_PORT FLOWS SIZE SECONDS SRC_PORT

Sends SIZE-byte datagrams to FIRST_PORT.. FIRST_PORT+FLOWS-1 in turn for
SECONDS; prints {"sent": N}. A failed send raises (exit status 1).
"""
import json
import socket
import sys
import time

host, first, flows, size, seconds, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(('::' if family == socket.AF_INET6 else '0.0.0.0', src))
payload = b'\x04' * size
targets = [(host, first + i) for i in range(flows)]
sent = 0
until = time.monotonic() + seconds
while time.monotonic() < until:
    for target in targets * 16:
        s.sendto(payload, target)
    sent += 16 * flows
print(json.dumps({"sent": sent}))
