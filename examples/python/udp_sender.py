#!/usr/bin/env python3
"""UDP sender (lesson 4): send one datagram, wait for one reply, print it.

    python3 udp_sender.py [-4|-6] [--timeout S] [--tries N] HOST [PORT [MESSAGE...]]
                                               # default port 9999, message "ping", 3 tries of 1 s

UDP promises nothing: a lost datagram or a lost reply looks the same as nobody listening, so
the sender waits --timeout seconds, sends again, and gives up after --tries. connect() on a UDP socket sends nothing; it fixes
the peer, so that an ICMP "port unreachable" from it comes back as ConnectionRefusedError.
"""
import argparse
import socket
import sys


def main():
    p = argparse.ArgumentParser(description="Send a datagram and print the reply.")
    p.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, default=socket.AF_UNSPEC)
    p.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6)
    p.add_argument("--timeout", type=float, default=1, help="seconds to wait for a reply, each try")
    p.add_argument("--tries", type=int, default=3, help="how many times to send before giving up")
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
        # UDP never sends again by itself: a lost datagram (or a lost reply) is silence, so
        # the client waits a while, sends again, and after a few tries gives up and says so.
        for attempt in range(1, a.tries + 1):
            s.send(message)
            print(f"sent {len(message)} bytes from {s.getsockname()[:2]} to {addr[:2]} (try {attempt})", file=sys.stderr)
            try:
                reply = s.recv(65535)
                break
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                sys.exit(f"udp_sender: {addr[:2]} refused: nothing listens on that port (ICMP port unreachable)")
        else:
            sys.exit(f"udp_sender: no reply from {addr[:2]} after {a.tries} tries of {a.timeout:g} s "
                     "(lost, or nobody is listening: UDP cannot tell)")
        print(reply.decode(errors="replace"))


if __name__ == "__main__":
    main()
