#!/usr/bin/env python3
"""BUGGY on purpose (labctl check welcome-client finds it): it prints what one recv() returns
and exits. When the greeting comes in pieces, it prints only the first."""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 9999
with socket.create_connection((host, port), timeout=10) as s:
    print(s.recv(1024).decode(errors="replace"), end="")  # the bug: one recv() is not the whole line
