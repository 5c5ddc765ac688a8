#!/usr/bin/env python3
"""UDP sender (lesson 4): send one datagram, wait for one reply, print it.

    python3 udp_sender.py [-4|-6] HOST [PORT [MESSAGE...]]   # default port 9999, message "ping"

UDP promises nothing: a lost datagram or a lost reply looks the same as nobody listening, so
the sender gives up after --timeout seconds. connect() on a UDP socket sends nothing; it fixes
the peer, so that an ICMP "port unreachable" from it comes back as ConnectionRefusedError.
"""
import argparse
import socket
import sys


def main():
    p = argparse.ArgumentParser(description="Send a datagram and print the reply.")
    p.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, default=socket.AF_UNSPEC)
    p.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6)
    p.add_argument("--timeout", type=float, default=3)
    p.add_argument("host")
    p.add_argument("port", nargs="?", type=int, default=9999)
    p.add_argument("message", nargs="*", default=["ping"])
    a = p.parse_args()
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(a.host, a.port, a.family, socket.SOCK_DGRAM)[0]
    except socket.gaierror as e:
        sys.exit(f"udp_sender: {a.host}: {e}")
    with socket.socket(family, kind, proto) as s:
        s.settimeout(a.timeout)
        s.connect(addr)
        message = " ".join(a.message).encode()
        s.send(message)
        print(f"sent {len(message)} bytes from {s.getsockname()[:2]} to {addr[:2]}", file=sys.stderr)
        try:
            reply = s.recv(65535)
        except socket.timeout:
            sys.exit(f"udp_sender: no reply from {addr[:2]} within {a.timeout:g} s "
                     "(lost, or nobody is listening: UDP cannot tell)")
        except ConnectionRefusedError:
            sys.exit(f"udp_sender: {addr[:2]} refused: nothing listens on that port (ICMP port unreachable)")
        print(reply.decode(errors="replace"))


if __name__ == "__main__":
    main()
