#!/usr/bin/env python3
"""Welcome server (lesson 1): greet each TCP client with the address it came from, then close cleanly.

    python3 welcome_server.py [HOST [PORT]]      # default: every address ("::"), port 9999

"::" listens on IPv6 and, with IPV6_V6ONLY off, on IPv4 too: an IPv4 client then shows up as
::ffff:a.b.c.d, an "IPv4-mapped" address, which the greeting turns back into a.b.c.d.
"""
import ipaddress
import socket
import sys


def listen(host, port):
    """Open a listening TCP socket on the first address getaddrinfo gives for host and port."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    s = socket.socket(family, kind, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart without waiting for TIME_WAIT
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" takes IPv4 clients too
    s.bind(addr)
    s.listen()
    return s


def show(addr):
    """The peer as people write it: 192.0.2.1:5000 or [2001:db8::1]:5000, and its family."""
    ip = ipaddress.ip_address(addr[0].split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return f"{ip}:{addr[1]}", "IPv4"
    return f"[{addr[0]}]:{addr[1]}", "IPv6"


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "::"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9999
    with listen(host, port) as server:
        print("listening on", show(server.getsockname())[0], flush=True)
        while True:
            conn, addr = server.accept()
            with conn:
                who, family = show(addr)
                print("connection from", who, flush=True)
                conn.sendall(f"Welcome to socketlab! You are {who} over {family}.\n".encode())
                # Close cleanly: say "no more data" (FIN), then read what the client still sends.
                # Closing a socket with unread input would make the kernel send RST instead.
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(2)
                try:
                    while conn.recv(4096):
                        pass
                except (socket.timeout, ConnectionResetError):
                    pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
