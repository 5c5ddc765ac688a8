#!/usr/bin/env python3
"""BUGGY on purpose (labctl check chat-server finds it): each recv() is taken for one line.
A line that arrives in two pieces is relayed as two broken lines, and two lines in one recv()
as one."""
import socket
import threading

HOST, PORT = "::", 7000
members = []
lock = threading.Lock()


def serve(conn):
    with lock:
        members.append(conn)
    try:
        while True:
            data = conn.recv(1024)  # the bug: a recv() is not a line
            if not data:
                break
            line = data.decode(errors="replace").strip()
            with lock:
                for m in members:
                    if m is not conn:
                        m.sendall(f"> {line}\n".encode())
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
