#!/usr/bin/env python3
"""BUGGY on purpose (labctl check udp-client finds it): a UDP client with no timeout. When the
request or the reply is lost it waits forever: UDP never sends anything again by itself."""
import socket
import sys

host, port, message = sys.argv[1], int(sys.argv[2]), " ".join(sys.argv[3:]) or "hello"
family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
with socket.socket(family, kind, proto) as s:
    s.sendto(message.encode(), addr)
    reply, _ = s.recvfrom(65535)  # the bug: no settimeout(), no second try
    print(reply.decode(errors="replace"))
