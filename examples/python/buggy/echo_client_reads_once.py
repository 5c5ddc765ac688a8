#!/usr/bin/env python3
"""BUGGY on purpose (labctl check echo-client finds it): it sends the message and prints what
one recv() returns. When the reply comes in pieces it prints only the first."""
import socket
import sys

host, port, message = sys.argv[1], int(sys.argv[2]), " ".join(sys.argv[3:]) or "hello"
with socket.create_connection((host, port), timeout=10) as s:
    s.sendall(message.encode())
    print(s.recv(4096).decode(errors="replace"))  # the bug: one recv() is not the whole reply
