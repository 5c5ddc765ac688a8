#!/usr/bin/env python3
"""BUGGY on purpose (labctl check echo-server finds it): one recv() is taken for the whole
message. A message larger than one recv(), or one that arrives in pieces, comes back cut, and
the close with unread bytes left is a reset (RST)."""
import socket
import threading

HOST, PORT = "::", 7


def serve(conn):
    with conn:
        data = conn.recv(1024)  # the bug: a stream has no message boundaries
        conn.sendall(data)


with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, PORT))
    s.listen()
    while True:
        conn, addr = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
