#!/usr/bin/env python3
"""Line chat server (lesson 5): every line a client sends is answered and relayed to the others.

    python3 chat_server.py [HOST [PORT]]      # default: every address ("::"), port 7000

TCP is a stream of bytes, not of lines: a recv() may hold half a line or three. Each
connection keeps the bytes after its last newline until the rest of that line comes.
"""
import selectors
import socket
import sys
import types

sel = selectors.DefaultSelector()
clients = {}  # socket -> its state: address, unfinished input, pending output


def listen(host, port):
    """Open a listening TCP socket on the first address getaddrinfo gives for host and port."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    s = socket.socket(family, kind, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" takes IPv4 clients too
    s.bind(addr)
    s.listen()
    s.setblocking(False)
    return s


def name(addr):
    host = addr[0].removeprefix("::ffff:")
    return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"


def send(conn, text):
    """Queue a line for conn; the select loop sends it when the socket can take it."""
    c = clients[conn]
    c.out += (text + "\n").encode()
    sel.modify(conn, selectors.EVENT_READ | selectors.EVENT_WRITE, data=c)


def broadcast(sender, text):
    """Queue a line for every client but sender; return how many got it."""
    others = [conn for conn in clients if conn is not sender]
    for conn in others:
        send(conn, text)
    return len(others)


def drop(conn):
    c = clients.pop(conn)
    sel.unregister(conn)
    conn.close()
    print(c.name, "left", flush=True)
    broadcast(None, f"* {c.name} left")


def accept(server):
    conn, addr = server.accept()
    conn.setblocking(False)
    c = types.SimpleNamespace(name=name(addr), buf=b"", out=b"")
    clients[conn] = c
    sel.register(conn, selectors.EVENT_READ, data=c)
    print(c.name, "joined", flush=True)
    send(conn, f"* welcome {c.name}, {len(clients) - 1} others here")
    broadcast(conn, f"* {c.name} joined")


def serve(conn, mask):
    c = clients[conn]
    if mask & selectors.EVENT_READ:
        try:
            data = conn.recv(4096)
        except ConnectionResetError:
            data = b""
        if not data:
            drop(conn)
            return
        c.buf += data
        while b"\n" in c.buf:
            line, c.buf = c.buf.split(b"\n", 1)
            text = line.decode(errors="replace").rstrip("\r")
            n = broadcast(conn, f"<{c.name}> {text}")
            send(conn, f"* sent to {n} others")
    if mask & selectors.EVENT_WRITE and c.out:
        try:
            c.out = c.out[conn.send(c.out):]
        except (BrokenPipeError, ConnectionResetError):
            drop(conn)
            return
        if not c.out:
            sel.modify(conn, selectors.EVENT_READ, data=c)


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "::"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    server = listen(host, port)
    sel.register(server, selectors.EVENT_READ, data=None)
    print("listening on", server.getsockname()[:2], flush=True)
    while True:
        for key, mask in sel.select():
            if key.data is None:
                accept(key.fileobj)
            elif key.fileobj in clients:  # a client dropped earlier in this round is gone
                serve(key.fileobj, mask)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
