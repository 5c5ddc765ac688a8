#!/usr/bin/env python3
"""BUGGY on purpose (labctl check lookup-server finds it): the request is read with one
recv() and parsed as if every frame arrived whole. A request that arrives in pieces is cut,
and the JSON header fails to parse (or the content is short)."""
import json
import socket
import sys
import threading


def serve(conn):
    with conn:
        data = conn.recv(4096)  # the bug: one recv() taken for the whole frame
        hlen = int.from_bytes(data[:2], "big")
        header = json.loads(data[2:2 + hlen])
        content = data[2 + hlen:2 + hlen + header["content-length"]]
        if header["content-type"] == "text/json":
            value = json.loads(content).get("value")
            body, kind, enc = json.dumps({"result": f"you asked for {value}"}).encode(), "text/json", "utf-8"
        else:
            body, kind, enc = b"First 10 bytes of request: " + content[:10], "binary/custom-server-binary-type", "binary"
        out = json.dumps({"byteorder": sys.byteorder, "content-type": kind,
                          "content-encoding": enc, "content-length": len(body)}).encode()
        conn.sendall(len(out).to_bytes(2, "big") + out + body)


with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 65432))
    s.listen()
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
