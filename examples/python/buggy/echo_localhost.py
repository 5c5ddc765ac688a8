#!/usr/bin/env python3
"""BUGGY on purpose (labctl check echo-server finds it): bound to 127.0.0.1, as the tutorial's
HOST = "127.0.0.1" says. It works on the learner's own machine; nothing outside the node can
reach it."""
import socket
import threading

HOST, PORT = "127.0.0.1", 7  # the bug: loopback only


def serve(conn):
    with conn:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)


with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, PORT))
    s.listen()
    while True:
        conn, addr = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
