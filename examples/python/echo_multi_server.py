#!/usr/bin/env python3
"""Multi-connection echo server (lesson 3): one thread, many clients, with selectors.

    python3 echo_multi_server.py [HOST [PORT]]      # default: every address ("::"), port 7

Every socket is non-blocking; the selector says which are ready to read (data or a new client)
and which can take more output. Each connection keeps what it still has to send, so a client
that reads slowly never holds up the others.
"""
import selectors
import socket
import sys
import types

sel = selectors.DefaultSelector()


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


def accept(server):
    conn, addr = server.accept()
    conn.setblocking(False)
    state = types.SimpleNamespace(addr=addr[:2], out=b"", total=0, eof=False)
    sel.register(conn, selectors.EVENT_READ, data=state)
    print("connection from", addr[:2], "-", len(sel.get_map()) - 1, "open", flush=True)


def serve(key, mask):
    conn, state = key.fileobj, key.data
    if mask & selectors.EVENT_READ:
        try:
            data = conn.recv(65536)
        except ConnectionResetError:
            data, state.out = b"", b""
        if data:
            state.out += data
            state.total += len(data)
        else:
            state.eof = True  # the client closed its side: finish sending, then close
    if mask & selectors.EVENT_WRITE and state.out:
        try:
            sent = conn.send(state.out)
            state.out = state.out[sent:]
        except (BrokenPipeError, ConnectionResetError):
            state.out, state.eof = b"", True
    if state.eof and not state.out:
        print(state.addr, f"closed after {state.total} bytes", flush=True)
        sel.unregister(conn)
        conn.close()
        return
    # Watch for writability only while there is something to write, or the loop would spin.
    want = (0 if state.eof else selectors.EVENT_READ) | (selectors.EVENT_WRITE if state.out else 0)
    sel.modify(conn, want, data=state)


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "::"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    server = listen(host, port)
    sel.register(server, selectors.EVENT_READ, data=None)
    print("listening on", server.getsockname()[:2], flush=True)
    while True:
        for key, mask in sel.select():
            if key.data is None:
                accept(key.fileobj)
            else:
                serve(key, mask)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
