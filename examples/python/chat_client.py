#!/usr/bin/env python3
"""Line chat client (lesson 5): send lines, print every line that comes back.

    python3 chat_client.py [-4|-6] HOST [PORT]                     # type lines; Ctrl-D leaves
    python3 chat_client.py HOST PORT --say hello --until "sent to"  # for scripts and scenarios

Interactive, one selector watches the keyboard and the socket at once, so lines from others
show up while you type. With --say it sends those lines; with --until it stays until a line
containing TEXT arrives (exit 0), or gives up after --timeout seconds (exit 1).
It speaks plain lines, so it also talks to an IRC server: --say "NICK ada" --say "USER ada 0 * :Ada".
"""
import argparse
import selectors
import socket
import sys
import time


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


def lines(s, buf):
    """Read once from s; return the complete lines, the rest, and whether the server closed."""
    data = s.recv(4096)
    buf += data
    *complete, rest = buf.split(b"\n")
    return [l.decode(errors="replace").rstrip("\r") for l in complete], rest, not data


def main():
    p = argparse.ArgumentParser(description="A line chat client.")
    p.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, default=socket.AF_UNSPEC)
    p.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6)
    p.add_argument("--say", action="append", default=[], help="send this line (repeatable)")
    p.add_argument("--until", help="leave once a line containing UNTIL arrives")
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("host")
    p.add_argument("port", nargs="?", type=int, default=7000)
    a = p.parse_args()
    try:
        s = connect(a.host, a.port, a.family)
    except OSError as e:
        sys.exit(f"chat_client: {a.host} port {a.port}: {e}")
    print("connected from", s.getsockname()[:2], "to", s.getpeername()[:2], file=sys.stderr)
    for line in a.say:
        s.sendall((line + "\r\n").encode())
    scripted = bool(a.say or a.until)
    sel = selectors.DefaultSelector()
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    if not scripted:
        sel.register(sys.stdin, selectors.EVENT_READ)
    deadline = time.monotonic() + a.timeout
    buf = b""
    while True:
        wait = deadline - time.monotonic() if scripted else None
        if wait is not None and wait <= 0:
            sys.exit(f"chat_client: no line containing {a.until!r} within {a.timeout:g} s" if a.until else 0)
        for key, _ in sel.select(wait):
            if key.fileobj is sys.stdin:
                line = sys.stdin.readline()
                if not line:  # Ctrl-D: say goodbye by closing our side
                    s.shutdown(socket.SHUT_WR)
                    sel.unregister(sys.stdin)
                else:
                    s.sendall(line.rstrip("\n").encode() + b"\r\n")
                continue
            got, buf, closed = lines(s, buf)
            for line in got:
                print(line, flush=True)
                if a.until and a.until in line:
                    return
            if closed:
                if a.until:
                    sys.exit(f"chat_client: the server closed before a line containing {a.until!r}")
                return


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
