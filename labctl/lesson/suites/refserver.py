#!/usr/bin/env python3
"""The reference servers of labctl check's client lessons that socketlab's services cannot be:
each serves one way a real network or server behaves that a learner's client must cope with.

    refserver.py        serves all of them, on IPv4 and IPv6 ("::", dual stack):
      TCP 7001  echo, the reply written one byte at a time, 20 ms apart (a client that reads
                once gets one byte)
      TCP 7002  echo, the reply after 0.8 s, in two halves 0.4 s apart (a slow server)
      TCP 7003  welcome: the greeting line written one byte at a time, 20 ms apart, then a close
      TCP 7004  welcome: the greeting line after 0.8 s, in two halves 0.4 s apart, then a close
      UDP 9002  silence: reads every datagram, answers none (a client must give up in time)
"""
import socket
import threading
import time


def listen(port, kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def read_line(c):
    """Read what the client sends: up to a newline, or what came in 0.3 s of quiet."""
    data = bytearray()
    c.settimeout(0.3)
    while b"\n" not in data:
        try:
            b = c.recv(65536)
        except socket.timeout:
            if data:
                break
            c.settimeout(10)
            continue
        if not b:
            break
        data += b
    return bytes(data)


def finish(c):
    try:
        c.shutdown(socket.SHUT_WR)
        c.settimeout(2)
        while c.recv(65536):
            pass
    except OSError:
        pass
    c.close()


def pieces(c):
    data = read_line(c)
    for i in range(len(data)):
        c.sendall(data[i:i + 1])
        time.sleep(0.02)
    finish(c)


def slow(c):
    data = read_line(c)
    time.sleep(0.8)
    half = len(data) // 2
    c.sendall(data[:half])
    time.sleep(0.4)
    c.sendall(data[half:])
    finish(c)


def greeting(c):
    peer = c.getpeername()
    return f"Welcome to socketlab! You are {shown(peer)} over {family_of(peer)}.\n".encode()


def welcome_pieces(c):
    line = greeting(c)
    for i in range(len(line)):
        c.sendall(line[i:i + 1])
        time.sleep(0.02)
    finish(c)


def welcome_slow(c):
    line = greeting(c)
    time.sleep(0.8)
    c.sendall(line[:len(line) // 2])
    time.sleep(0.4)
    c.sendall(line[len(line) // 2:])
    finish(c)


def serve_tcp(port, handle):
    s = listen(port, socket.SOCK_STREAM)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def family_of(addr):
    host = addr[0]
    return "IPv4" if host.startswith("::ffff:") and "." in host else "IPv6"


def shown(addr):
    host = addr[0]
    if host.startswith("::ffff:") and "." in host:
        return f"{host[7:]}:{addr[1]}"
    return f"[{host}]:{addr[1]}"


def silent(port):
    s = listen(port, socket.SOCK_DGRAM)
    while True:
        s.recvfrom(65535)


def main():
    threads = [
        threading.Thread(target=serve_tcp, args=(7001, pieces)),
        threading.Thread(target=serve_tcp, args=(7002, slow)),
        threading.Thread(target=serve_tcp, args=(7003, welcome_pieces)),
        threading.Thread(target=serve_tcp, args=(7004, welcome_slow)),
        threading.Thread(target=silent, args=(9002,)),
    ]
    for t in threads:
        t.daemon = True
        t.start()
    print("refserver: serving 7001-7004 (TCP), 9002 (UDP)", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
