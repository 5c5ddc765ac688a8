#!/usr/bin/env python3
"""Raw-socket browser (lesson 0): resolve a name, connect to port 80, send a GET by hand,
print the raw response.

    python3 browser.py [-4|-6] HOST [PATH] [--port PORT]     # default path /, port 80

HTTP/1.1 is text over TCP: the request is a few lines ending with an empty line, and
"Connection: close" asks the server to close when it has sent the response, so reading
until recv() returns b"" reads all of it. Everything else a browser does is built on this.
"""
import argparse
import socket
import sys


def main():
    p = argparse.ArgumentParser(description="Fetch a page with a hand-written HTTP request.")
    p.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, default=socket.AF_UNSPEC)
    p.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("host")
    p.add_argument("path", nargs="?", default="/")
    a = p.parse_args()

    # 1. Resolve: the name becomes addresses, AAAA (IPv6) and A (IPv4) records alike.
    try:
        answers = socket.getaddrinfo(a.host, a.port, a.family, socket.SOCK_STREAM)
    except socket.gaierror as e:
        sys.exit(f"browser: cannot resolve {a.host}: {e}")
    for family, *_, addr in answers:
        print(f"{a.host} -> {addr[0]} ({'IPv6' if family == socket.AF_INET6 else 'IPv4'})", file=sys.stderr)

    # 2. Connect to the first address that answers.
    s, error = None, None
    for family, kind, proto, _, addr in answers:
        s = socket.socket(family, kind, proto)
        s.settimeout(5)
        try:
            s.connect(addr)
            break
        except OSError as e:
            error = e
            s.close()
            s = None
    if s is None:
        sys.exit(f"browser: cannot connect to {a.host} port {a.port}: {error}")
    print("connected from", s.getsockname()[:2], "to", s.getpeername()[:2], file=sys.stderr)

    # 3. The request, by hand. Host names the site; the port goes with it when it is not 80.
    host = f"[{a.host}]" if ":" in a.host else a.host
    if a.port != 80:
        host += f":{a.port}"
    request = f"GET {a.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: socketlab-browser.py\r\nConnection: close\r\n\r\n"
    for line in request.split("\r\n")[:-2]:
        print(">", line, file=sys.stderr)
    with s:
        s.sendall(request.encode())
        # 4. The raw response: status line, headers, empty line, body, until the server closes.
        while chunk := s.recv(4096):
            sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
