#!/usr/bin/env python3
"""BUGGY on purpose (labctl check udp-server finds it): it decodes each datagram as UTF-8 text
to print it. The first datagram that is not text raises UnicodeDecodeError and ends the server."""
import socket

with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 9999))
    while True:
        data, addr = s.recvfrom(65535)
        print(addr, data.decode())  # the bug: not every datagram is text
        s.sendto(data, addr)
