#!/usr/bin/env python3
"""Welcome client (lesson 1): connect, print the greeting, and tell how the server closed.

    python3 welcome_client.py [-4|-6] HOST [PORT]    # default port 9999

getaddrinfo turns HOST into addresses, IPv6 and IPv4 alike; the client tries each in turn.
"""
import argparse
import socket
import sys


def connect(host, port, family=socket.AF_UNSPEC):
    """Connect to the first address of host that answers, as getaddrinfo orders them."""
    error = None
    for fam, kind, proto, _, addr in socket.getaddrinfo(host, port, family, socket.SOCK_STREAM):
        s = socket.socket(fam, kind, proto)
        s.settimeout(5)
        try:
            s.connect(addr)
            return s
        except OSError as e:
            error = e
            s.close()
    raise error


def main():
    p = argparse.ArgumentParser(description="Fetch the welcome greeting.")
    p.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, default=socket.AF_UNSPEC)
    p.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6)
    p.add_argument("host")
    p.add_argument("port", nargs="?", type=int, default=9999)
    a = p.parse_args()
    try:
        s = connect(a.host, a.port, a.family)
    except OSError as e:
        sys.exit(f"welcome_client: {a.host} port {a.port}: {e}")
    with s:
        print("connected from", s.getsockname()[:2], "to", s.getpeername()[:2], file=sys.stderr)
        data = b""
        try:
            while chunk := s.recv(4096):  # b"" means the server closed: FIN
                data += chunk
            how = "clean close (FIN)"
        except ConnectionResetError:
            how = "reset (RST)"
        sys.stdout.write(data.decode(errors="replace"))
        print("server closed:", how, file=sys.stderr)
        if how.startswith("reset"):
            sys.exit(1)


if __name__ == "__main__":
    main()
