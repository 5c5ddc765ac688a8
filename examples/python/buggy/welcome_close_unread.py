#!/usr/bin/env python3
"""BUGGY on purpose (labctl check welcome-server finds it): it greets and close()s at once,
never reading. When the client has spoken first, its bytes are still unread at close(), and
the kernel answers with a reset (RST) instead of a clean close (FIN)."""
import socket
import threading

HOST, PORT = "::", 9999


def greet(conn, addr):
    with conn:
        conn.sendall(f"Welcome! You are {addr[0]} port {addr[1]}\n".encode())
    # the bug: close() with the client's bytes unread


with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, PORT))
    s.listen()
    while True:
        conn, addr = s.accept()
        threading.Thread(target=greet, args=(conn, addr), daemon=True).start()
