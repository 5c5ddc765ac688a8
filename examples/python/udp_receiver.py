#!/usr/bin/env python3
"""UDP receiver (lesson 4): print each datagram and who sent it, and send it back.

    python3 udp_receiver.py [HOST [PORT]]      # default: every address ("::"), port 9999

No listen(), no accept(), no connection: one socket gets datagrams from anyone, and
recvfrom() says where each came from, so the reply knows where to go. One recvfrom() is
one whole datagram, never a part of one nor two glued together.
"""
import socket
import sys


def bind(host, port):
    """Open a UDP socket bound to the first address getaddrinfo gives for host and port."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)[0]
    s = socket.socket(family, kind, proto)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" takes IPv4 datagrams too
    s.bind(addr)
    return s


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "::"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9999
    with bind(host, port) as s:
        print("receiving on", s.getsockname()[:2], flush=True)
        while True:
            data, addr = s.recvfrom(65535)
            print(f"{len(data)} bytes from {addr[:2]}: {data.decode(errors='replace')!r}", flush=True)
            s.sendto(data, addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
