#!/usr/bin/env python3
# See LICENSE. The web server of the browser test (t/3011-httpd-browser.sh): it serves the
# test page to a real Chromium and writes down what the page reports. Python 3 standard
# library only.
#
# USAGE
#   python3 t/browser/page-server.py --port-file FILE --config FILE --report FILE
#       [--lifetime SECONDS]
#
#   --port-file F  once listening on 127.0.0.1 (an ephemeral port), write the port and a
#                  newline to F (temp file + rename: a reader never sees half a number)
#   --config F     answered as GET /config.json, read at each request (so a test can change
#                  it between page loads): {"url": "ws://127.0.0.1:P/ws/events", "key": K}.
#                  The key goes to the page this way, not in the page's URL, so that it is in
#                  no argv (Chromium's) and no request line
#   --report F     POST /report appends its body, one JSON object, as one line (compact)
#   --lifetime S   exit by itself after S seconds (default 120): no orphan outlives a test
#                  that forgot to stop it
#
# ROUTES
#   GET /events.html   the page (t/browser/events.html, beside this file)
#   GET /config.json   the config file, as is
#   POST /report       200 {} once the line is written; 400 when the body is not a JSON object
#   anything else      404
# Nothing is logged: the config holds the key.

import argparse
import http.server
import json
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_BODY = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/events.html":
            with open(os.path.join(HERE, "events.html"), "rb") as f:
                self.answer(200, "text/html; charset=utf-8", f.read())
        elif path == "/config.json":
            with open(self.server.args.config, "rb") as f:
                self.answer(200, "application/json", f.read())
        else:
            self.answer(404, "text/plain", b"not found\n")

    do_HEAD = do_GET

    def do_POST(self):
        if self.path.split("?", 1)[0] != "/report":
            self.answer(404, "text/plain", b"not found\n")
            return
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.answer(400, "text/plain", b"bad length\n")
            self.close_connection = True
            return
        try:
            o = json.loads(self.rfile.read(n).decode("utf-8"))
        except ValueError:
            o = None
        if not isinstance(o, dict):
            self.answer(400, "text/plain", b"not a JSON object\n")
            return
        line = json.dumps(o, separators=(",", ":"), ensure_ascii=False) + "\n"
        # One writer at a time, so that lines never interleave.
        with self.server.lock:
            with open(self.server.args.report, "a", encoding="utf-8") as f:
                f.write(line)
        self.answer(200, "application/json", b"{}")


def main():
    p = argparse.ArgumentParser(description="the browser test's page server")
    p.add_argument("--port-file", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--lifetime", type=float, default=120)
    try:
        args = p.parse_args()
    except SystemExit as e:
        sys.exit(0 if e.code == 0 else 100)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.args = args
    srv.lock = threading.Lock()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)

    def stop(*_):
        # shutdown() waits for serve_forever, so it must not run on the serving thread.
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.lifetime > 0:
        t = threading.Timer(args.lifetime, stop)
        t.daemon = True
        t.start()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
