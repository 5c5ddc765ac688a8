#!/usr/bin/env python3
"""Echo server (lesson 2): send back every byte each client sends, one client at a time.

    python3 echo_server.py [HOST [PORT]]      # default: every address ("::"), port 7

recv() returns whatever has arrived, not what the client passed to one send(): a big message
comes in many pieces. sendall() loops until every byte is handed to the kernel.
"""
import socket
import sys


def listen(host, port):
    """Open a listening TCP socket on the first address getaddrinfo gives for host and port."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    s = socket.socket(family, kind, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" takes IPv4 clients too
    s.bind(addr)
    s.listen()
    return s


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "::"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with listen(host, port) as server:
        print("listening on", server.getsockname()[:2], flush=True)
        while True:
            conn, addr = server.accept()
            with conn:
                total = calls = 0
                while data := conn.recv(65536):  # b"": the client closed its side
                    conn.sendall(data)
                    total, calls = total + len(data), calls + 1
                print(f"{addr[:2]}: echoed {total} bytes, received in {calls} recv() calls", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
