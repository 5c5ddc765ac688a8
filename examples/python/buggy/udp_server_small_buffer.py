#!/usr/bin/env python3
"""BUGGY on purpose (labctl check udp-server finds it): recvfrom(1024). A datagram is never
read in parts: recvfrom(n) keeps its first n bytes and throws the rest away."""
import socket

with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 9999))
    while True:
        data, addr = s.recvfrom(1024)  # the bug: a 1400-byte datagram is cut to 1024
        s.sendto(data, addr)
