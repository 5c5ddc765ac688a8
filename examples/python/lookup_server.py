#!/usr/bin/env python3
"""Lookup server (lesson 6, the tutorial's application): framed requests, framed responses.

    python3 lookup_server.py [HOST [PORT]]      # default: every address ("::"), port 65432

Each message is a frame: a 2-byte big-endian length, a JSON header of that length
(byteorder, content-type, content-encoding, content-length), then content-length bytes of
content. TCP keeps no boundaries, so the server reads exactly as many bytes as each part
says, however many recv() calls that takes. A "search" request (text/json) is answered from
a small table; any other content gets its first 10 bytes quoted back. Each client thread
serves requests until the client closes.
"""
import json
import socket
import sys
import threading

TERMS = {"morpheus": "Follow the white rabbit. \U0001f430", "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
         "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0"}


def read_exact(conn, n):
    """Read exactly n bytes, or return None if the client closed first."""
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def frame(content, ctype, encoding):
    header = json.dumps({"byteorder": sys.byteorder, "content-type": ctype,
                         "content-encoding": encoding, "content-length": len(content)}).encode()
    return len(header).to_bytes(2, "big") + header + content


def answer(header, content):
    if header.get("content-type") == "text/json":
        request = json.loads(content.decode(header.get("content-encoding", "utf-8")))
        if request.get("action") == "search":
            result = TERMS.get(request.get("value"), f"No match for \"{request.get('value')}\".")
        else:
            result = f"Error: invalid action \"{request.get('action')}\"."
        return frame(json.dumps({"result": result}).encode(), "text/json", "utf-8")
    return frame(b"First 10 bytes of request: " + content[:10], "binary/custom-server-binary-type", "binary")


def serve(conn, addr):
    with conn:
        while True:
            prefix = read_exact(conn, 2)
            if prefix is None:
                break
            raw = read_exact(conn, int.from_bytes(prefix, "big"))
            if raw is None:
                break
            header = json.loads(raw)
            content = read_exact(conn, int(header["content-length"]))
            if content is None:
                break
            conn.sendall(answer(header, content))
        print(addr[0], "done", flush=True)


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "::"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 65432
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(addr)
        s.listen()
        print("listening on", s.getsockname()[:2], flush=True)
        while True:
            conn, peer = s.accept()
            threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    main()
