#!/usr/bin/env python3
# See LICENSE.
"""A websocket client for the tests (RFC 6455, python3 standard library only).

usage: ws-client.py [options] PORT

Connects to ws://HOST:PORT/PATH?QUERY and prints every text message it receives, one per
line, on stdout. What else happens goes to stderr, one line each: "ws-client: http 426"
when the handshake is refused, "ws-client: close 1008 too slow" when the server closes,
"ws-client: eof" when the connection ends without a close frame.

Exit status: 0 when it stopped as asked (--count reached, --time up, or the expected
close with --expect-close), 1 when the server closed first (or with another code than
--expect-close), 2 when the handshake was refused, 99 when --count was not reached in
--time, 100 for bad usage, 111 when it could not connect.
"""

import argparse
import base64
import hashlib
import os
import select
import socket
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def say(msg):
    sys.stderr.write("ws-client: %s\n" % msg)
    sys.stderr.flush()


class Closed(Exception):
    pass


class Conn:
    def __init__(self, sock, leftover, mask=True):
        self.sock = sock
        self.buf = bytearray(leftover)
        self.mask = mask

    def send(self, opcode, payload=b"", fin=True, mask=None, length=None):
        """Send one frame; length overrides the announced length (for lies)."""
        if mask is None:
            mask = self.mask
        n = len(payload) if length is None else length
        head = bytearray([(0x80 if fin else 0) | opcode])
        mbit = 0x80 if mask else 0
        if n < 126:
            head.append(mbit | n)
        elif n < 65536:
            head.append(mbit | 126)
            head += struct.pack("!H", n)
        else:
            head.append(mbit | 127)
            head += struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(bytes(head) + bytes(payload))
        except OSError:
            # The server may close before it has read all: what it answered still counts.
            pass

    def fill(self, deadline):
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            raise Closed()
        self.buf += data
        return True

    def need(self, n, deadline):
        while len(self.buf) < n:
            if not self.fill(deadline):
                return False
        return True

    def frame(self, deadline):
        """The next frame as (fin, opcode, payload), or None when deadline passes."""
        if not self.need(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self.need(4, deadline):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self.need(10, deadline):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if b1 & 0x80:
            say("the server sent a masked frame")
            raise Closed()
        if not self.need(off + n, deadline):
            return None
        payload = bytes(self.buf[off:off + n])
        del self.buf[:off + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload


def handshake(sock, args):
    key = base64.b64encode(os.urandom(16))
    target = args.path + ("?" + args.query if args.query else "")
    lines = ["GET %s HTTP/1.1" % target, "Host: %s:%d" % (args.host, args.port),
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: %s" % key.decode(), "Sec-WebSocket-Version: 13"]
    if args.key is not None:
        lines.append("X-API-Key: %s" % args.key)
    if args.origin is not None:
        lines.append("Origin: %s" % args.origin)
    lines += args.header
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in buf:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([sock], [], [], wait)[0]:
            say("no answer to the handshake")
            return None, None, b""
        data = sock.recv(65536)
        if not data:
            say("eof during the handshake")
            return None, None, b""
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    want = base64.b64encode(hashlib.sha1(key + GUID).digest())
    if status == 101 and (b"\r\nsec-websocket-accept: " + want.lower()) not in head.lower():
        say("bad Sec-WebSocket-Accept")
        return None, head, rest
    return status, head, rest


def main():
    p = argparse.ArgumentParser(description="websocket test client")
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--path", default="/ws/events")
    p.add_argument("--query", default="", help="query string, e.g. since=5&key=K")
    p.add_argument("-H", "--header", action="append", default=[],
                   help="an extra header line, 'Name: value'")
    p.add_argument("--key", help="send X-API-Key")
    p.add_argument("--origin", help="send Origin")
    p.add_argument("--count", type=int, default=0, help="stop after N text messages")
    p.add_argument("--time", type=float, default=0, help="stop after T seconds")
    p.add_argument("--no-read", action="store_true",
                   help="never read after the handshake (a slow client); hold --time seconds")
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF in bytes")
    p.add_argument("--no-pong", action="store_true", help="do not answer pings")
    p.add_argument("--send-text", action="append", default=[], help="send a text message")
    p.add_argument("--send-ping", help="send a ping with this payload")
    p.add_argument("--send-binary", action="store_true", help="send a binary frame")
    p.add_argument("--send-unmasked", action="store_true", help="send an unmasked text frame")
    p.add_argument("--send-oversized", type=int, nargs="?", const=65537, default=0,
                   metavar="N", help="send a text message of N bytes (65537)")
    p.add_argument("--send-invalid-utf8", action="store_true",
                   help="send a text frame that is not UTF-8")
    p.add_argument("--close", type=int, default=1000,
                   help="close code sent when stopping (0: none, just drop)")
    p.add_argument("--expect-close", type=int, default=0,
                   help="exit 0 only if the server closes with this code")
    p.add_argument("--show-control", action="store_true",
                   help="also print pings and pongs on stderr")
    try:
        args = p.parse_args()
    except SystemExit as e:
        sys.exit(0 if e.code == 0 else 100)

    try:
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        if args.rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((args.host, args.port))
    except OSError as e:
        say("unable to connect: %s" % e)
        sys.exit(111)
    status, head, rest = handshake(sock, args)
    if status is None:
        sys.exit(1)
    say("http %d" % status)
    if status != 101:
        sys.exit(2)
    conn = Conn(sock, rest)

    if args.send_ping is not None:
        conn.send(OP_PING, args.send_ping.encode())
    for t in args.send_text:
        conn.send(OP_TEXT, t.encode())
    if args.send_binary:
        conn.send(OP_BINARY, b"\x00\x01\x02")
    if args.send_unmasked:
        conn.send(OP_TEXT, b"unmasked", mask=False)
    if args.send_invalid_utf8:
        conn.send(OP_TEXT, b"bad \xc0\xaf")
    if args.send_oversized:
        conn.send(OP_TEXT, b"x" * args.send_oversized)

    start = time.monotonic()
    deadline = start + args.time if args.time > 0 else None
    if args.no_read:
        time.sleep(args.time if args.time > 0 else 5)
        sock.close()
        sys.exit(0)

    got, frags, fop = 0, [], 0
    out = sys.stdout
    try:
        while True:
            if args.count and got >= args.count:
                break
            f = conn.frame(deadline)
            if f is None:
                break
            fin, op, payload = f
            if op in (OP_TEXT, OP_BINARY, OP_CONT):
                if op != OP_CONT:
                    fop, frags = op, []
                frags.append(payload)
                if not fin:
                    continue
                msg = b"".join(frags)
                if fop == OP_TEXT:
                    out.write(msg.decode("utf-8", "replace") + "\n")
                    out.flush()
                    got += 1
                else:
                    say("binary message of %d bytes" % len(msg))
            elif op == OP_PING:
                if args.show_control:
                    say("ping %s" % payload.decode("utf-8", "replace"))
                if not args.no_pong:
                    conn.send(OP_PONG, payload)
            elif op == OP_PONG:
                if args.show_control:
                    say("pong %s" % payload.decode("utf-8", "replace"))
            elif op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                say(("close %d %s" % (code, payload[2:].decode("utf-8", "replace"))).rstrip())
                # Echo it, as a client should, then wait for the server's FIN.
                conn.send(OP_CLOSE, payload[:2])
                try:
                    while conn.frame(time.monotonic() + 2) is not None:
                        pass
                except Closed:
                    pass
                sock.close()
                if args.expect_close:
                    sys.exit(0 if code == args.expect_close else 1)
                sys.exit(1)
            else:
                say("unknown opcode %d" % op)
    except Closed:
        say("eof")
        sys.exit(1)

    # Stopping on our side: count reached or time up.
    if args.close:
        conn.send(OP_CLOSE, struct.pack("!H", args.close))
        try:
            while True:
                f = conn.frame(time.monotonic() + 2)
                if f is None or f[1] == OP_CLOSE:
                    break
        except Closed:
            pass
    sock.close()
    if args.expect_close:
        sys.exit(1)
    if args.count and got < args.count:
        sys.exit(99)
    sys.exit(0)


if __name__ == "__main__":
    main()
