#!/usr/bin/env python3
"""The probes of labctl check's server lessons: each sub-command plays one client against the
learner's server, prints what it did and what it saw, and exits 0 when the server did what the
lesson asks, 1 when not. They run in the suite's probe node (socketlab/toolbox), so the traffic
crosses the lab's network, from another node, as a learner's own clients would.

    probe.py echo      [-4|-6] HOST PORT     one message, back whole, then the client closes
    probe.py big       [-4|-6] HOST PORT     1 MB, sent while reading: back whole and in order
    probe.py pieces    [-4|-6] HOST PORT     a message written one byte at a time
    probe.py many      [-4|-6] HOST PORT     an idle client, then three more at once
    probe.py halfclose [-4|-6] HOST PORT     send, shut down the write side, read until EOF
    probe.py welcome   [-4|-6] HOST PORT [--speak-first] [--line]
    probe.py udp-echo | udp-each | udp-senders | udp-whole | udp-garbage  [-4|-6] HOST PORT
    probe.py chat | chat-pieces | chat-stalled  [-4|-6] HOST PORT     members of a line chat
    probe.py lookup | lookup-pieces | lookup-binary  [-4|-6] HOST PORT  the tutorial's framed requests
"""
import argparse
import errno
import os
import socket
import sys
import threading
import time

WAIT = 4.0  # how long a probe waits for what it expects (a loaded machine is slow)


def say(*a):
    print(*a, flush=True)


def fail(*a):
    say(*a)
    sys.exit(1)


def addr_of(host, port, family, kind):
    try:
        return socket.getaddrinfo(host, port, family, kind)[0]
    except socket.gaierror as e:
        fail(f"cannot resolve {host}: {e}")


def fam_name(f):
    return "IPv6" if f == socket.AF_INET6 else "IPv4"


def connect(a, quiet=False):
    fam, kind, proto, _, addr = addr_of(a.host, a.port, a.family, socket.SOCK_STREAM)
    s = socket.socket(fam, kind, proto)
    s.settimeout(WAIT)
    try:
        s.connect(addr)
    except ConnectionRefusedError:
        fail(f"connect to {addr[0]} port {addr[1]} over {fam_name(fam)}: refused (nothing listens there for this address)")
    except (socket.timeout, OSError) as e:
        fail(f"connect to {addr[0]} port {addr[1]} over {fam_name(fam)}: {e}")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not quiet:
        say(f"connected to {addr[0]} port {addr[1]} over {fam_name(fam)} from {s.getsockname()[0]}")
    return s


def read_until(s, want, wait=WAIT):
    """Read until want bytes came, the peer closed, or wait passed; returns (data, how)."""
    data = bytearray()
    deadline = time.monotonic() + wait
    while len(data) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data), "timeout"
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return bytes(data), "timeout"
        except ConnectionResetError:
            return bytes(data), "reset"
        if not b:
            return bytes(data), "eof"
        data += b
    return bytes(data), "complete"


def read_to_eof(s, wait=WAIT):
    data, how = read_until(s, 1 << 30, wait)
    return data, how


HOW = {
    "timeout": "then nothing more within {w:g} s",
    "reset": "then the connection was reset (RST)",
    "eof": "then the server closed the connection (FIN)",
    "complete": "",
}


def how_text(how):
    return HOW[how].format(w=WAIT)


def show(b, n=60):
    r = repr(bytes(b[:n]))
    return r + ("…" if len(b) > n else "")


def echo(a):
    s = connect(a)
    msg = b"hello from another node\n"
    s.sendall(msg)
    got, how = read_until(s, len(msg))
    say(f"sent {len(msg)} bytes {show(msg)}; got back {len(got)} bytes {show(got)} {how_text(how)}".rstrip())
    s.close()
    if got != msg:
        sys.exit(1)


def pattern(n):
    block = bytes(range(256)) * 4096
    return (block * (n // len(block) + 1))[:n]


def big(a):
    n = 1000000
    msg = pattern(n)
    s = connect(a)
    err = []

    def send():
        try:
            s.sendall(msg)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send, daemon=True)
    began = time.monotonic()
    t.start()
    got, how = read_until(s, n, wait=8)
    took = time.monotonic() - began
    s.close()
    line = f"sent {n} bytes while reading; got back {len(got)} bytes in {took:.2f} s"
    if how != "complete":
        line += " " + how_text(how)
    if err:
        line += f"; sending failed: {err[0]}"
    if got == msg:
        say(line + ": whole and in order")
        return
    if msg.startswith(got):
        fail(line + f": the first {len(got)} bytes were right, the rest never came")
    for i, (x, y) in enumerate(zip(got, msg)):
        if x != y:
            fail(line + f": out of order or changed from byte {i} on")
    fail(line + ": more bytes than were sent")


def pieces(a):
    s = connect(a)
    msg = b"a message in pieces\n"
    sent = 0
    try:
        for i in range(len(msg)):
            s.send(msg[i:i + 1])
            sent += 1
            time.sleep(0.02)
    except OSError as e:
        say(f"sending failed after {sent} bytes: {e.strerror or e}")
    got, how = read_until(s, len(msg), wait=3)
    say(f"sent {sent} of {len(msg)} bytes one at a time, 20 ms apart; got back {len(got)} bytes {show(got)} {how_text(how)}".rstrip())
    s.close()
    if got != msg:
        sys.exit(1)


def many(a):
    idle = connect(a, quiet=True)
    say(f"client 1 connected and sends nothing (from {idle.getsockname()[0]} port {idle.getsockname()[1]})")
    results = {}

    def client(i):
        try:
            s = connect(a, quiet=True)
        except SystemExit:
            results[i] = (b"", "refused")
            return
        began = time.monotonic()
        if a.greeting:  # a welcome server: a line, then its close
            got, how = read_to_eof(s)
            ok = got.endswith(b"\n") and how == "eof"
            results[i] = (got, how, time.monotonic() - began, got if ok else b"a line, then FIN")
        else:
            msg = f"client {i} here\n".encode()
            s.sendall(msg)
            got, how = read_until(s, len(msg))
            results[i] = (got, how, time.monotonic() - began, msg)
        s.close()

    ts = [threading.Thread(target=client, args=(i,)) for i in (2, 3, 4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = True
    for i in (2, 3, 4):
        r = results[i]
        if len(r) == 2:
            say(f"client {i}: connect refused")
            ok = False
            continue
        got, how, took, msg = r
        if got == msg:
            say(f"client {i}: served in {took * 1000:.0f} ms")
        else:
            say(f"client {i}: got {len(got)} bytes {show(got)} {how_text(how)}")
            ok = False
    idle.close()
    if not ok:
        say("the other clients were not served while client 1 was connected")
        sys.exit(1)
    say("all three were served while client 1 stayed connected and idle")


def halfclose(a):
    s = connect(a)
    msg = b"the last words\n"
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    got, how = read_to_eof(s)
    say(f"sent {len(msg)} bytes, then shut down the write side (FIN); got back {len(got)} bytes {show(got)} {how_text(how)}")
    s.close()
    if got != msg or how != "eof":
        sys.exit(1)


def welcome(a):
    s = connect(a)
    me = s.getsockname()[0]
    if a.speak_first:
        s.sendall(b"hello? I speak first\n")
        say("sent 22 bytes first, before reading")
    data, how = read_to_eof(s)
    s.close()
    say(f"got {len(data)} bytes {show(data, 120)} {how_text(how)}")
    if how == "reset":
        fail("the connection ended with a reset, not a clean close")
    if how == "timeout":
        fail(f"the server did not close the connection within {WAIT:g} s of greeting")
    if not data:
        fail("no greeting at all")
    if a.line:
        text = data.decode(errors="replace")
        if not text.endswith("\n"):
            fail("the greeting does not end in a newline")
        if text.count("\n") != 1:
            fail(f"the greeting is {text.count(chr(10))} lines, not one")
        seen = [me]
        if ":" not in me:
            seen.append("::ffff:" + me)
        if not any(x in text for x in seen):
            fail(f"the line does not name the client's address, {me} (or ::ffff:{me} as a dual-stack server sees it)")
        say(f"one line, ending in a newline, naming this client's address {me}")


# chat: every line a member sends reaches every other member, whole


class Member:
    """A chat member: a connection and the lines it has read so far."""

    def __init__(self, a, family=None, rcvbuf=None):
        fam, kind, proto, _, addr = addr_of(a.host, a.port, family or a.family, socket.SOCK_STREAM)
        self.s = socket.socket(fam, kind, proto)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(WAIT)
        try:
            self.s.connect(addr)
        except OSError as e:
            fail(f"connect to {addr[0]} port {addr[1]} over {fam_name(fam)}: {e.strerror or e}"
                 + (" (refused: nothing listens there for this address)" if isinstance(e, ConnectionRefusedError) else ""))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.where = f"{self.s.getsockname()[0]} over {fam_name(fam)}"
        self.buf = b""
        self.lines = []

    def wait_for(self, text, wait=WAIT):
        """Read lines until one contains text; returns it, or None after wait."""
        deadline = time.monotonic() + wait
        while True:
            for i, line in enumerate(self.lines):
                if text in line:
                    del self.lines[:i + 1]
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                b = self.s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return None
            if not b:
                return None
            self.buf += b
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.lines.append(line.decode(errors="replace"))


def chat(a):
    ada = Member(a)
    bob = Member(a, socket.AF_INET6 if a.family == socket.AF_INET else socket.AF_INET)
    time.sleep(0.3)  # both joined
    ada.s.sendall(b"hello from ada\n")
    say(f"ada ({ada.where}) sent 'hello from ada'; bob listens ({bob.where})")
    got = bob.wait_for("hello from ada")
    if got is None:
        fail(f"bob got no line with 'hello from ada' within {WAIT:g} s (he had: {bob.lines[-3:]})")
    say(f"bob got {got!r}")


def chat_pieces(a):
    ada, bob = Member(a), Member(a)
    time.sleep(0.3)
    for piece in (b"first li", b"ne\nsecond line\nthi", b"rd line\n"):
        ada.s.sendall(piece)
        time.sleep(0.15)
    for i in range(len(b"fourth line\n")):
        ada.s.send(b"fourth line\n"[i:i + 1])
        time.sleep(0.01)
    say("ada sent 'first li' 'ne\\nsecond line\\nthi' 'rd line\\n' 150 ms apart, then 'fourth line\\n' a byte at a time")
    for want in ("first line", "second line", "third line", "fourth line"):
        got = bob.wait_for(want)
        if got is None:
            fail(f"bob never got a line with {want!r}; the lines he got: {bob.lines[-6:]}")
    say("bob got all four lines, whole")


def chat_stalled(a):
    carl = Member(a, rcvbuf=4096)  # joins, then never reads
    ada, bob = Member(a), Member(a)
    time.sleep(0.3)
    say(f"carl joined and never reads; ada sends 1000 lines of 200 bytes")
    line = b"x" * 180
    err = []

    def send():
        try:
            for i in range(1000):
                ada.s.sendall(b"%s line %04d\n" % (line, i))
        except OSError as e:
            err.append(e)

    threading.Thread(target=send, daemon=True).start()
    got = bob.wait_for("line 0999", wait=8)
    if got is None:
        last = bob.lines[-1][-9:] if bob.lines else "none"
        fail(f"bob stopped getting ada's lines (the last he got: {last}): the server was stuck sending to carl")
    say("bob got all 1000 lines while carl read nothing")
    carl.s.close()


# lookup: the tutorial's frames - a 2-byte big-endian header length, a JSON header, content


def lookup_request(binary=False):
    import json
    if binary:
        content, ctype, enc = b"binaryhello from the probe", "binary/custom-client-binary-type", "binary"
    else:
        content, ctype, enc = json.dumps({"action": "search", "value": "morpheus"}).encode(), "text/json", "utf-8"
    header = json.dumps({"byteorder": sys.byteorder, "content-type": ctype,
                         "content-encoding": enc, "content-length": len(content)}).encode()
    return len(header).to_bytes(2, "big") + header + content


class Frames:
    """Reads exact byte counts from a stream, keeping what came beyond them."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def read(self, n, what):
        if len(self.buf) < n:
            more, how = read_until(self.s, n - len(self.buf))
            self.buf += more
            if len(self.buf) < n:
                fail(f"the response's {what}: {len(self.buf)} of {n} bytes came, {how_text(how)}")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def lookup_response(s):
    import json
    f = Frames(s)
    read_exact = f.read
    hlen = int.from_bytes(read_exact(2, "header length (2 bytes)"), "big")
    raw = read_exact(hlen, f"JSON header ({hlen} bytes)")
    try:
        header = json.loads(raw)
    except ValueError:
        fail(f"the response's header is not JSON: {show(raw, 80)}")
    missing = [k for k in ("byteorder", "content-type", "content-encoding", "content-length") if k not in header]
    if missing:
        fail(f"the response's header {header} lacks {', '.join(missing)}")
    content = read_exact(int(header["content-length"]), f"content ({header['content-length']} bytes)")
    return header, content


def lookup(a, pieces=False, binary=False):
    s = connect(a)
    req = lookup_request(binary)
    if pieces:
        sent = 0
        try:
            for i in range(len(req)):
                s.send(req[i:i + 1])
                sent += 1
                time.sleep(0.005)
        except OSError as e:
            fail(f"sent {sent} bytes of a {len(req)}-byte request one byte per write; then sending failed: {e.strerror or e} (the server closed the connection)")
        say(f"sent a {len(req)}-byte request one byte per write, 5 ms apart")
    else:
        s.sendall(req)
        say(f"sent a {len(req)}-byte request in one write: {show(req, 90)}")
    header, content = lookup_response(s)
    say(f"got a response: header {header}, content {show(content, 90)}")
    s.close()
    if not binary and header.get("content-type") == "text/json":
        import json
        try:
            body = json.loads(content.decode(header.get("content-encoding", "utf-8")))
        except ValueError:
            fail("the text/json content is not JSON")
        if "result" not in body:
            fail('the JSON content has no "result"')


# UDP


def udp_socket(a):
    fam, kind, proto, _, addr = addr_of(a.host, a.port, a.family, socket.SOCK_DGRAM)
    s = socket.socket(fam, kind, proto)
    s.connect(addr)  # so that ICMP port unreachable comes back as "refused"
    return s, addr, fam


def udp_ask(s, msg, wait=2.0):
    s.send(msg)
    s.settimeout(wait)
    try:
        return s.recv(65535), "reply"
    except socket.timeout:
        return None, f"no reply within {wait:g} s"
    except ConnectionRefusedError:
        return None, "refused: an ICMP port unreachable came back (nothing listens there for this address)"


def udp_echo(a):
    s, addr, fam = udp_socket(a)
    msg = b"one datagram"
    got, how = udp_ask(s, msg)
    say(f"sent {len(msg)} bytes to {addr[0]} port {addr[1]} over {fam_name(fam)} from {s.getsockname()[0]}; "
        + (f"got {len(got)} bytes {show(got)}" if got is not None else how))
    if got != msg:
        sys.exit(1)


def udp_whole(a):
    s, addr, fam = udp_socket(a)
    msg = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 40)[:1399] + b"\n"  # text: only its size is at stake
    got, how = udp_ask(s, msg)
    say(f"sent one datagram of {len(msg)} bytes; " + (f"got one of {len(got)} bytes" if got is not None else how))
    if got is None:
        sys.exit(1)
    if got != msg:
        fail("the reply is not the whole datagram" + (f": only its first {len(got)} bytes" if msg.startswith(got) else ""))


def udp_each(a):
    s, addr, fam = udp_socket(a)
    for i in range(5):
        s.send(f"datagram {i}".encode())
        time.sleep(0.02)
    got = []
    s.settimeout(1.0)
    while True:
        try:
            got.append(s.recv(65535))
        except (socket.timeout, ConnectionRefusedError):
            break
    say(f"sent 5 datagrams, 20 ms apart; got {len(got)} replies in the next second: {', '.join(show(g, 20) for g in got)}")
    if len(got) != 5:
        sys.exit(1)


def udp_senders(a):
    s1, addr, fam = udp_socket(a)
    s2, _, _ = udp_socket(a)
    s1.send(b"from the first socket")
    s2.send(b"from the second socket")
    out = []
    for s, want in ((s1, b"from the first socket"), (s2, b"from the second socket")):
        s.settimeout(2)
        try:
            g = s.recv(65535)
        except (socket.timeout, ConnectionRefusedError):
            g = None
        out.append((s.getsockname()[1], want, g))
    ok = True
    for port, want, g in out:
        if g is None:
            say(f"the socket on port {port} got no reply")
            ok = False
        else:
            say(f"the socket on port {port} got {show(g)}")
            ok = ok and g == want
    if not ok:
        fail("each sender must get the reply to its own datagram, at the address recvfrom() gave")


def udp_garbage(a):
    s, addr, fam = udp_socket(a)
    junk = b"\xff\xfe\x00\x80 not text \xc3\x28"
    s.send(junk)
    say(f"sent {len(junk)} bytes that are not UTF-8 text: {show(junk)}")
    time.sleep(0.3)
    s.settimeout(0.2)
    try:
        while s.recv(65535):
            pass
    except (socket.timeout, ConnectionRefusedError, OSError):
        pass
    got, how = udp_ask(s, b"still there?")
    say("then 'still there?': " + (f"got {show(got)}" if got is not None else how))
    if got != b"still there?":
        sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("probe")
    p.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, default=socket.AF_UNSPEC)
    p.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6)
    p.add_argument("--speak-first", action="store_true")
    p.add_argument("--line", action="store_true")
    p.add_argument("--greeting", action="store_true")
    p.add_argument("host")
    p.add_argument("port", type=int)
    a = p.parse_args()
    probes = {"echo": echo, "big": big, "pieces": pieces, "many": many, "halfclose": halfclose,
              "welcome": welcome, "udp-echo": udp_echo, "udp-whole": udp_whole, "udp-each": udp_each,
              "udp-senders": udp_senders, "udp-garbage": udp_garbage,
              "chat": chat, "chat-pieces": chat_pieces, "chat-stalled": chat_stalled,
              "lookup": lookup, "lookup-pieces": lambda a: lookup(a, pieces=True),
              "lookup-binary": lambda a: lookup(a, binary=True)}
    if a.probe not in probes:
        sys.exit(f"probe: no probe {a.probe!r}")
    probes[a.probe](a)


if __name__ == "__main__":
    main()
