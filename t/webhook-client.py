#!/usr/bin/env python3
# See LICENSE. A Gitea webhook client for the orket-hookd tests: signs a body the way Gitea
# does (HMAC-SHA256 of the exact body bytes, lowercase hex) and sends it over a raw socket,
# so that malformed headers, exact sizes and chunked bodies stay under the test's control.
# Python 3 standard library only.
#
# USAGE
#   python3 t/webhook-client.py --port P [options]
#
# What to send
#   --host H            where to connect (default 127.0.0.1)
#   --port P            the port (required but for --print-sig)
#   --path PATH         the request target (default /webhook/gitea)
#   --method M          default POST (GET with --no-body)
#   --body FILE         the body, byte for byte; "-" reads stdin
#   --body-text TEXT    the body as UTF-8 text
#   --no-body           no body and no Content-Length at all (default GET)
#   --event E           X-Gitea-Event: E
#   --event-type T      X-Gitea-Event-Type: T
#   --delivery ID       X-Gitea-Delivery: ID
#   --header 'N: V'     an extra header line, repeatable; \xHH escapes are decoded to bytes
#   --chunked           send the body with Transfer-Encoding: chunked ...
#   --chunk-size N      ... in chunks of N bytes (default 65536)
#
# Signing
#   --secret-env NAME   the HMAC key is the value of environment variable NAME (so the
#                       secret never appears in argv)
#   --sig MODE          gitea   X-Gitea-Signature: <hex> (the default with --secret-env)
#                       hub     X-Hub-Signature-256: sha256=<hex>
#                       both    the two of them
#                       none    no signature header (the default without --secret-env)
#                       raw:NAME:VALUE  one literal header NAME: VALUE, where \xHH escapes
#                               in VALUE are decoded to bytes (any byte can be sent), {sig}
#                               is replaced by the correct hex and {SIG} by it in uppercase
#   --print-sig         print the correct hex signature of the body and exit (no request)
#
# Sizes (exact, as lib/http.h measures them)
#   --target-bytes N    pad the request target with a query (?pad=ppp...) to N bytes
#   --headers-bytes N   add one X-Pad header so that the header section, from the first byte
#                       after the request line's CRLF to the end of the empty line that
#                       closes it, is exactly N bytes
#   --headers-count N   add X-Fill-i headers so that the request has exactly N header fields
#
# Connection
#   --bind ADDR         the source address (127.0.0.2...: all of 127/8 is loopback)
#   --timeout S         give up after S seconds (default 20)
#   --show-headers      print the answer's header lines too (see below)
#   --pause-at N        stop after the first N bytes of the request, create --paused-file
#   --pause S           F (if given), wait S seconds, then send the rest (to act while a
#   --paused-file F     request is in progress: a SIGTERM, say)
#
# Output of a single send: the status code on the first line, then with --show-headers the
# response's header lines, then the body as received (a newline is added when the body
# does not end with one). Exit 0 whenever an HTTP answer came back, 2 for a connection
# error or no whole answer, 100 for bad usage.
#
# Many at once
#   --concurrent N      send N deliveries at once over N connections (all connected first,
#                       then released together, one thread each), the i-th with
#                       X-Gitea-Delivery PREFIX-i; print a JSON summary of the answers,
#                       {"200": 1000}, on one line
#   --prefix PREFIX     the delivery id prefix (default: --delivery, else "d")
#   --by-result         count by "STATUS:result" instead, result being the answer's JSON
#                       "status" member ("200:duplicate"), "-" when there is none
#   --max-seconds S     also put "max_seconds" (the slowest answer) in the summary, and
#                       exit 1 when it is over S
#   --sequential        send the N deliveries one after another on fresh connections
#                       instead (same summary, same checks)
#
# Slow client
#   --slowloris S       open a connection and send a request head one byte every 0.5 s for
#                       at most S seconds; print {"sent": bytes, "status": the status the
#                       daemon answered or null, "closed": whether it closed, "seconds": how
#                       long it lasted}
#   --ready-file F      with --slowloris: create F once the first byte is sent

import argparse
import hashlib
import hmac
import json
import os
import selectors
import socket
import sys
import threading
import time


def die(msg, code=100):
    sys.stderr.write("webhook-client: %s\n" % msg)
    sys.exit(code)


def unescape(text):
    """Decode \\xHH escapes (and a doubled backslash) into bytes; the rest is kept."""
    raw = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and raw[i + 1:i + 2] == b"x" and i + 4 <= len(raw):
            try:
                out.append(int(raw[i + 2:i + 4].decode("ascii"), 16))
                i += 4
                continue
            except ValueError:
                pass
        if raw[i] == 0x5C and raw[i + 1:i + 2] == b"\\":
            out.append(0x5C)
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def signature(secret, body):
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def build_request(a, body, delivery, secret):
    """The request's bytes: request line, header section, body (chunked or not)."""
    method = a.method or ("GET" if a.no_body else "POST")
    target = a.path
    if a.target_bytes is not None:
        extra = a.target_bytes - len(target) - len("?pad=")
        if "?" in target:
            extra += 1  # "&pad=" instead of "?pad="
        if extra < 0:
            die("--target-bytes %d is too small" % a.target_bytes)
        target += ("&" if "?" in target else "?") + "pad=" + "p" * extra
        assert len(target) == a.target_bytes
    head = [b"Host: " + ("%s:%d" % (a.host, a.port)).encode()]
    sig = signature(secret, body) if secret is not None and body is not None else None
    mode = a.sig if a.sig else ("gitea" if secret is not None else "none")
    if mode in ("gitea", "hub", "both") and sig is None:
        die("--sig %s needs --secret-env and a body" % mode)
    if mode in ("gitea", "both"):
        head.append(b"X-Gitea-Signature: " + sig.encode())
    if mode in ("hub", "both"):
        head.append(b"X-Hub-Signature-256: sha256=" + sig.encode())
    if mode.startswith("raw:"):
        parts = mode.split(":", 2)
        if len(parts) != 3 or not parts[1]:
            die("--sig raw:NAME:VALUE")
        value = parts[2]
        if sig is not None:
            value = value.replace("{sig}", sig).replace("{SIG}", sig.upper())
        head.append(parts[1].encode("latin-1") + b": " + unescape(value))
    elif mode not in ("gitea", "hub", "both", "none"):
        die("unknown --sig mode %s" % mode)
    if body is not None:
        head.append(b"Content-Type: application/json")
    if a.event is not None:
        head.append(b"X-Gitea-Event: " + a.event.encode())
    if a.event_type is not None:
        head.append(b"X-Gitea-Event-Type: " + a.event_type.encode())
    if delivery is not None:
        head.append(b"X-Gitea-Delivery: " + delivery.encode("latin-1"))
    for h in a.header or []:
        head.append(unescape(h))
    if body is not None:
        if a.chunked:
            head.append(b"Transfer-Encoding: chunked")
        else:
            head.append(b"Content-Length: %d" % len(body))
    if a.headers_count is not None:
        missing = a.headers_count - len(head) - (1 if a.headers_bytes is not None else 0)
        if missing < 0:
            die("--headers-count %d is too small" % a.headers_count)
        head.extend(b"X-Fill-%d: f" % i for i in range(missing))
    if a.headers_bytes is not None:
        used = sum(len(h) + 2 for h in head) + 2
        pad = a.headers_bytes - used - len(b"X-Pad: ") - 2
        if pad < 0:
            die("--headers-bytes %d is too small" % a.headers_bytes)
        head.append(b"X-Pad: " + b"p" * pad)
        assert sum(len(h) + 2 for h in head) + 2 == a.headers_bytes
    data = ("%s %s HTTP/1.1\r\n" % (method, target)).encode("latin-1")
    data += b"".join(h + b"\r\n" for h in head) + b"\r\n"
    if body is not None:
        if a.chunked:
            step = max(1, a.chunk_size)
            parts = []
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                parts.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
            data += b"".join(parts) + b"0\r\n\r\n"
        else:
            data += body
    return data


def connect(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(a.timeout)
    if a.bind:
        sock.bind((a.bind, 0))
    sock.connect((a.host, a.port))
    return sock


def parse_response(buf):
    """(status, [header lines], body) once buf holds a whole response, else None."""
    if b"\r\n\r\n" not in buf:
        return None
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        return None
    length = 0
    for h in lines[1:]:
        name, _, value = h.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if len(rest) < length:
        return None
    return int(parts[1]), lines[1:], rest[:length]


def read_response(sock):
    """Read one response, blocking: (status, [header lines], body), or None."""
    buf = b""
    while True:
        r = parse_response(buf)
        if r is not None:
            return r
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            return None
        buf += data


def exchange(a, data):
    """
    Send data while reading what comes back (the daemon may answer 413 or 431 and close
    before it has read it all), never half-closing: a deferred answer must not look like
    a client that went away. Returns (status, headers, body), or None.
    """
    sock = connect(a)
    sel = selectors.DefaultSelector()
    got = b""
    sent = 0
    paused = False
    deadline = time.monotonic() + a.timeout
    try:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while time.monotonic() < deadline:
            for _key, ev in sel.select(timeout=0.2):
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        chunk = None
                    except OSError:
                        return parse_response(got)
                    if chunk == b"":
                        return parse_response(got)
                    if chunk:
                        got += chunk
                        r = parse_response(got)
                        if r is not None:
                            return r
                if ev & selectors.EVENT_WRITE and sent < len(data):
                    if a.pause_at is not None and sent == a.pause_at and not paused:
                        paused = True
                        if a.paused_file:
                            with open(a.paused_file, "w") as f:
                                f.write("%d\n" % sent)
                        time.sleep(a.pause)
                        deadline += a.pause
                    end = len(data)
                    if a.pause_at is not None and sent < a.pause_at:
                        end = a.pause_at
                    try:
                        sent += sock.send(data[sent:min(end, sent + 262144)])
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        sent = len(data)  # reset: read what was answered, if anything
                    if sent >= len(data):
                        sel.modify(sock, selectors.EVENT_READ)
        return parse_response(got)
    finally:
        sel.close()
        sock.close()


def result_key(a, r):
    if r is None:
        return "noanswer"
    if not a.by_result:
        return str(r[0])
    try:
        res = json.loads(r[2].decode("utf-8")).get("status", "-")
    except (ValueError, AttributeError):
        res = "-"
    return "%d:%s" % (r[0], res)


def many(a, body, secret):
    n = a.concurrent
    prefix = a.prefix or a.delivery or "d"
    reqs = [build_request(a, body, "%s-%d" % (prefix, i), secret) for i in range(n)]
    results = [None] * n
    seconds = [0.0] * n
    errors = []
    if a.sequential:
        for i in range(n):
            t0 = time.monotonic()
            try:
                results[i] = result_key(a, exchange(a, reqs[i]))
            except OSError as e:
                results[i] = "error"
                errors.append("request %d: %s" % (i, e))
            seconds[i] = time.monotonic() - t0
    else:
        threading.stack_size(256 * 1024)
        socks = [None] * n
        for i in range(n):
            try:
                socks[i] = connect(a)
            except OSError as e:
                errors.append("connect %d: %s" % (i, e))
        go = threading.Event()

        def worker(i):
            go.wait()
            s = socks[i]
            if s is None:
                results[i] = "noconn"
                return
            t0 = time.monotonic()
            try:
                s.sendall(reqs[i])
                results[i] = result_key(a, read_response(s))
            except OSError as e:
                results[i] = "error"
                errors.append("request %d: %s" % (i, e))
            finally:
                seconds[i] = time.monotonic() - t0
                s.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join()
    summary = {}
    for r in results:
        summary[r] = summary.get(r, 0) + 1
    slowest = max(seconds) if seconds else 0.0
    if a.max_seconds is not None:
        summary["max_seconds"] = round(slowest, 3)
    print(json.dumps(summary, sort_keys=True))
    for e in errors[:10]:
        sys.stderr.write("webhook-client: %s\n" % e)
    if a.max_seconds is not None and slowest > a.max_seconds:
        sys.stderr.write("webhook-client: the slowest answer took %.3f s (over %s)\n"
                         % (slowest, a.max_seconds))
        return 1
    return 0


def slowloris(a):
    """Trickle a request head, one byte every 0.5 s, for at most a.slowloris seconds."""
    head = ("POST %s HTTP/1.1\r\nHost: %s\r\nX-Gitea-Event: push\r\nX-Slow: %s\r\n"
            % (a.path, a.host, "s" * 4096)).encode()
    sock = connect(a)
    sock.settimeout(0.5)
    t0 = time.monotonic()
    sent = 0
    got = b""
    closed = False
    try:
        while time.monotonic() - t0 < a.slowloris and sent < len(head):
            try:
                sock.sendall(head[sent:sent + 1])
                sent += 1
            except OSError:
                closed = True
                break
            if sent == 1 and a.ready_file:
                with open(a.ready_file, "w") as f:
                    f.write("1\n")
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            got += data
            if parse_response(got) is not None:
                break
    finally:
        sock.close()
    r = parse_response(got)
    print(json.dumps({"sent": sent, "status": r[0] if r else None, "closed": closed,
                      "seconds": round(time.monotonic() - t0, 3)}, sort_keys=True))
    return 0


class Parser(argparse.ArgumentParser):
    def error(self, message):
        die(message)


def main():
    p = Parser(description="sign and send Gitea webhook deliveries")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--path", default="/webhook/gitea")
    p.add_argument("--method")
    p.add_argument("--body")
    p.add_argument("--body-text")
    p.add_argument("--no-body", action="store_true")
    p.add_argument("--event")
    p.add_argument("--event-type")
    p.add_argument("--delivery")
    p.add_argument("--header", action="append")
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--chunk-size", type=int, default=65536)
    p.add_argument("--secret-env")
    p.add_argument("--sig")
    p.add_argument("--print-sig", action="store_true")
    p.add_argument("--target-bytes", type=int)
    p.add_argument("--headers-bytes", type=int)
    p.add_argument("--headers-count", type=int)
    p.add_argument("--bind")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--pause-at", type=int)
    p.add_argument("--pause", type=float, default=1.0)
    p.add_argument("--paused-file")
    p.add_argument("--show-headers", action="store_true")
    p.add_argument("--concurrent", type=int)
    p.add_argument("--prefix")
    p.add_argument("--by-result", action="store_true")
    p.add_argument("--max-seconds", type=float)
    p.add_argument("--sequential", action="store_true")
    p.add_argument("--slowloris", type=float)
    p.add_argument("--ready-file")
    a = p.parse_args()

    body = None
    if a.body_text is not None:
        body = a.body_text.encode("utf-8", "surrogateescape")
    elif a.body == "-":
        body = sys.stdin.buffer.read()
    elif a.body is not None:
        with open(a.body, "rb") as f:
            body = f.read()
    elif not a.no_body and a.method in (None, "POST", "PUT", "PATCH"):
        body = b""
    secret = None
    if a.secret_env:
        v = os.environ.get(a.secret_env)
        if v is None:
            die("%s is not set" % a.secret_env)
        secret = v.encode("utf-8", "surrogateescape")
    if a.print_sig:
        if secret is None or body is None:
            die("--print-sig needs --secret-env and a body")
        print(signature(secret, body))
        return 0
    if a.port is None:
        die("--port is required")
    if a.slowloris is not None:
        return slowloris(a)
    if a.concurrent:
        return many(a, body, secret)
    try:
        r = exchange(a, build_request(a, body, a.delivery, secret))
    except OSError as e:
        die(str(e), 2)
    if r is None:
        die("no HTTP answer", 2)
    status, headers, rbody = r
    out = sys.stdout.buffer
    out.write(b"%d\n" % status)
    if a.show_headers:
        for h in headers:
            out.write(h.encode("latin-1") + b"\n")
    out.write(rbody)
    if rbody and not rbody.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
