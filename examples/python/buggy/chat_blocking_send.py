#!/usr/bin/env python3
"""BUGGY on purpose (labctl check chat-server finds it): lines are buffered right, but each is
relayed with a blocking sendall() to every member in turn. A member who stops reading fills
its socket, sendall() blocks, and everyone else waits with it."""
import socket
import threading

HOST, PORT = "::", 7000
members = []
lock = threading.Lock()


def serve(conn):
    with lock:
        members.append(conn)
    buf = b""
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with lock:
                    for m in members:
                        if m is not conn:
                            m.sendall(b"> " + line + b"\n")  # the bug: blocks on a member who does not read
    finally:
        with lock:
            members.remove(conn)
        conn.close()


with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, PORT))
    s.listen()
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
