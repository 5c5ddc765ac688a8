#!/usr/bin/env python3
"""BUGGY on purpose (labctl check echo-server finds it): an AF_INET socket bound to every IPv4
address. Right in every way but one: no IPv6 client ever reaches it."""
import socket
import threading

HOST, PORT = "", 7


def serve(conn):
    with conn:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)


with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # the bug: IPv4 only
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, PORT))
    s.listen()
    while True:
        conn, addr = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
