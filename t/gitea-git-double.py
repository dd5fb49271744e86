#!/usr/bin/env python3
# See LICENSE. A Gitea double that also speaks git: t/gitea-double.py's REST API (imported,
# not copied) plus real git over smart HTTP through `git http-backend`, for the tests of
# lib/gitea, lib/gitpush and orket-publish. Python 3 standard library only.
#
# USAGE
#   python3 t/gitea-git-double.py --git-root DIR --port-file FILE --log FILE
#       [--user U] [--password P | --password-file F] [--token T | --token-file F]
#       [--prefix /SUB] [--tls CERT KEY] [--strict] [--state FILE] [--lifetime S]
#
#   Everything t/gitea-double.py documents holds (REST routes, status codes, JSON shapes,
#   auth labels, the log, /_control/*), plus:
#   --git-root DIR  bare repositories live at DIR/OWNER/REPO.git (lower case); a repo created
#                   through the API (or /_control/repo) gets one, with http.receivepack on
#   --prefix /SUB   serve everything under /SUB (a Gitea behind a sub-path); other paths 404
#   --tls CERT KEY  serve HTTPS (PEM files) instead of HTTP
#
# GIT (smart HTTP, as Gitea serves it)
#   GET  /{owner}/{repo}.git/info/refs?service=git-upload-pack|git-receive-pack
#   POST /{owner}/{repo}.git/git-upload-pack | git-receive-pack
#   A push (receive-pack) always needs valid credentials, a fetch only for a private repo:
#   otherwise 401 with "WWW-Authenticate: Basic realm=..." so that git asks for them. Wrong
#   credentials are 401 as well. A repo unknown to the API answers 404. Request bodies may be
#   gzip-encoded (logged as "encoding":"gzip"). Each git request is logged like an API call,
#   with "git": true and no body. A Git-Protocol header (protocol v2) is passed on.
#
# GIT CONTROL
#   POST   /_control/git   add a git fault rule, answers {"id":K}; the first match applies:
#       {"mode":"status","status":403}   answer that status (default 500) without running git;
#                                        "headers":{"Location":".."} adds headers (redirects)
#       {"mode":"stall","seconds":S}     wait, then serve normally (at most 600 s)
#       {"mode":"decline"}               run the push, but the pre-receive hook declines it,
#                                        so git reports "ng REF pre-receive hook declined"
#                                        (matches the POST .../git-receive-pack only)
#     common keys: "count":N (next N matching requests only), "push":true (receive-pack
#     requests only, info/refs included)
#   DELETE /_control/git   clear the git rules;  GET /_control/git: the rules in force
#   POST   /_control/answer {"bytes":N,"status":200,"count":1}: the next COUNT /api/v1
#                          requests answer STATUS with a JSON object of exactly N bytes
#                          (N >= 11, at most 64 MiB; newline included), for clients' caps

import argparse
import gzip
import importlib.util
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

_spec = importlib.util.spec_from_file_location("gitea_double",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "gitea-double.py"))
gd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gd)

MAX_GIT_BODY = 256 << 20
GIT_RE = re.compile(r"^/([^/]+)/([^/]+)\.git(/.*)$")
GIT_FAULT_MODES = ("status", "stall", "decline")

# Installed in every repo: declines a push when the double says so through the environment.
PRE_RECEIVE = """#!/bin/sh
if [ "${GITEA_DOUBLE_DECLINE:-}" = 1 ]; then
	echo "declined by the gitea double" >&2
	exit 1
fi
exit 0
"""


class GitDouble(gd.Double):
	def __init__(self, args):
		self.git_root = os.path.abspath(args.git_root)
		self.git_faults = []
		self.git_fault_id = 0
		self.tls = args.tls is not None
		self.big = None
		self.prefix = args.prefix
		gd.Double.__init__(self, args)

	def base_url(self):
		return "%s://localhost:%d%s/" % ("https" if self.tls else "http", self.port,
		    self.prefix)

	def repo_dir(self, owner, name):
		return os.path.join(self.git_root, owner.lower(), name.lower() + ".git")

	def new_repo(self, owner, name, **kw):
		repo = gd.Double.new_repo(self, owner, name, **kw)
		path = self.repo_dir(owner["login"], name)
		if not os.path.isdir(path):
			os.makedirs(os.path.dirname(path), exist_ok=True)
			subprocess.run(["git", "init", "-q", "--bare", path], check=True,
			    stdout=subprocess.DEVNULL)
			subprocess.run(["git", "-C", path, "config", "http.receivepack", "true"],
			    check=True)
			subprocess.run(["git", "-C", path, "symbolic-ref", "HEAD",
			    "refs/heads/" + repo["default_branch"]], check=True)
			hook = os.path.join(path, "hooks", "pre-receive")
			with open(hook, "w") as f:
				f.write(PRE_RECEIVE)
			os.chmod(hook, 0o755)
		return repo

	def add_git_fault(self, body):
		if not isinstance(body, dict) or body.get("mode") not in GIT_FAULT_MODES:
			raise gd.BadControl("mode is one of %s" % ", ".join(GIT_FAULT_MODES))
		rule = {"mode": body["mode"], "push": bool(body.get("push", False))}
		if "count" in body:
			if not isinstance(body["count"], int) or body["count"] < 1:
				raise gd.BadControl("count is a positive integer")
			rule["count"] = body["count"]
		if rule["mode"] == "status":
			s = body.get("status", 500)
			if not isinstance(s, int) or not 200 <= s <= 599:
				raise gd.BadControl("status is an integer in 200..599")
			rule["status"] = s
			h = body.get("headers", {})
			if not isinstance(h, dict) or not all(isinstance(k, str) and
			    isinstance(v, str) for k, v in h.items()):
				raise gd.BadControl("headers is an object of strings")
			rule["headers"] = h
		if rule["mode"] == "stall":
			s = body.get("seconds")
			if not isinstance(s, (int, float)) or not 0 <= s <= gd.MAX_STALL:
				raise gd.BadControl("seconds is a number in 0..%d" % gd.MAX_STALL)
			rule["seconds"] = float(s)
		with self.lock:
			self.git_fault_id += 1
			rule["id"] = self.git_fault_id
			self.git_faults.append(rule)
		return {"id": rule["id"]}

	def take_git_fault(self, push, receive):
		with self.lock:
			for rule in self.git_faults:
				if rule["push"] and not push:
					continue
				# Only the request that carries the update can be declined.
				if rule["mode"] == "decline" and not receive:
					continue
				if "count" in rule:
					rule["count"] -= 1
					if rule["count"] == 0:
						self.git_faults.remove(rule)
				return dict(rule)
		return None


class GitHandler(gd.Handler):
	def setup(self):
		# The TLS handshake runs here, in the connection's own thread, bounded.
		if isinstance(self.request, ssl.SSLSocket):
			self.request.settimeout(10)
			self.request.do_handshake()
		gd.Handler.setup(self)

	def serve(self):
		d = self.server.double
		if d.prefix:
			if self.path != d.prefix and not self.path.startswith(d.prefix + "/"):
				self.close_connection = True
				return self.send(404, "404 page not found\n", None,
				    "text/plain;charset=utf-8")
			self.path = self.path[len(d.prefix):] or "/"
		raw_path, _, query = self.path.partition("?")
		if raw_path == gd.CONTROL + "/git":
			return self.serve_git_control(self.command)
		if raw_path == gd.CONTROL + "/answer" and self.command == "POST":
			return self.serve_answer_control()
		if raw_path.startswith(gd.API + "/") and self.take_big(raw_path, query):
			return
		if GIT_RE.match(raw_path):
			return self.serve_git(raw_path, query)
		return gd.Handler.serve(self)

	def serve_git_control(self, method):
		d = self.server.double
		try:
			raw = self.read_body()
			if method == "POST":
				try:
					body = json.loads(raw.decode("utf-8") or "{}")
				except ValueError:
					raise gd.BadControl("the body is not JSON")
				status, out = 200, d.add_git_fault(body)
			elif method == "DELETE":
				with d.lock:
					d.git_faults = []
				status, out = 200, {"ok": True}
			elif method == "GET":
				with d.lock:
					status, out = 200, {"rules": list(d.git_faults)}
			else:
				status, out = 405, {"message": "Method Not Allowed"}
		except gd.BadControl as e:
			status, out = 400, {"message": str(e)}
		except gd.ApiError as e:
			status, out = e.status, e.body
		self.send(status, out)

	def serve_answer_control(self):
		d = self.server.double
		try:
			body = json.loads(self.read_body().decode("utf-8") or "{}")
		except ValueError:
			return self.send(400, {"message": "the body is not JSON"})
		n, st, c = body.get("bytes"), body.get("status", 200), body.get("count", 1)
		if not all(isinstance(v, int) for v in (n, st, c)) or not 11 <= n <= 64 << 20 or \
		    not 200 <= st <= 599 or c < 1:
			return self.send(400, {"message": "bytes in 11..64 MiB, status, count >= 1"})
		with d.lock:
			d.big = {"bytes": n, "status": st, "count": c}
		self.send(200, {"ok": True})

	def take_big(self, raw_path, query):
		d = self.server.double
		with d.lock:
			big = d.big
			if big is None:
				return False
			big["count"] -= 1
			if big["count"] == 0:
				d.big = None
		self.read_body()
		label, _ = self.auth(query)
		entry = {"method": self.command, "path": raw_path, "query": query, "auth": label,
		    "body": None, "status": big["status"], "fault": "answer"}
		self.finish_entry(entry)
		data = b'{"pad":"' + b"a" * (big["bytes"] - 11) + b'"}\n'
		self.send(big["status"], data)
		return True

	def read_git_body(self):
		te = (self.headers.get("Transfer-Encoding") or "").lower()
		if "chunked" in te:
			chunks, total = [], 0
			while True:
				line = self.rfile.readline(1024)
				if not line:
					raise gd.Drop(False)
				size = int(line.split(b";")[0].strip(), 16)
				if size == 0:
					while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
						pass
					break
				total += size
				if total > MAX_GIT_BODY:
					self.close_connection = True
					raise gd.ApiError(413, {"message": "request body too large"})
				chunks.append(self.rfile.read(size))
				self.rfile.readline(1024)
			raw = b"".join(chunks)
		else:
			n = int(self.headers.get("Content-Length") or 0)
			if n < 0 or n > MAX_GIT_BODY:
				self.close_connection = True
				raise gd.ApiError(413, {"message": "request body too large"})
			raw = self.rfile.read(n) if n else b""
		enc = (self.headers.get("Content-Encoding") or "").lower()
		if enc in ("gzip", "x-gzip"):
			raw = gzip.decompress(raw)
		elif enc == "deflate":
			raw = zlib.decompress(raw)
		return raw, enc

	def serve_git(self, raw_path, query):
		d = self.server.double
		m = GIT_RE.match(raw_path)
		owner = urllib.parse.unquote(m.group(1))
		name = urllib.parse.unquote(m.group(2))
		rest = m.group(3)
		push = rest == "/git-receive-pack" or "service=git-receive-pack" in query
		entry = {"method": self.command, "path": raw_path, "query": query, "auth": "none",
		    "body": None, "status": None, "git": True}
		try:
			raw, enc = self.read_git_body()
			if enc:
				entry["encoding"] = enc
			label, ok = self.auth("")
			entry["auth"] = label
			fault = d.take_git_fault(push, rest == "/git-receive-pack")
			decline = False
			if fault:
				entry["fault"] = fault["mode"]
				if fault["mode"] == "stall":
					if d.stop_event.wait(fault["seconds"]):
						raise gd.Drop(True)
				elif fault["mode"] == "status":
					return self.answer(entry, fault["status"],
					    {"message": "injected fault"}, fault["headers"])
				else:
					decline = True
			with d.lock:
				repo = d.find_repo(owner, name)
				private = repo is not None and repo["private"]
			if (push or private) and (label == "none" or not ok):
				return self.answer(entry, 401, "Unauthorized\n", {"Content-Type":
				    "text/plain;charset=utf-8", "WWW-Authenticate":
				    'Basic realm="Gitea"'})
			if repo is None:
				return self.answer(entry, 404, "Not found.\n",
				    {"Content-Type": "text/plain;charset=utf-8"})
			status, headers, out = self.run_backend(owner, name, rest, query, raw,
			    label, decline)
			entry["status"] = status
			self.finish_entry(entry)
			self.send_response(status)
			for k, v in headers:
				if k.lower() not in ("content-length", "status"):
					self.send_header(k, v)
			self.send_header("Content-Length", str(len(out)))
			self.end_headers()
			self.wfile.write(out)
			self.wfile.flush()
		except gd.Drop as e:
			entry.setdefault("fault", "close")
			self.finish_entry(entry)
			self.drop(e.rst)
		except gd.ApiError as e:
			self.answer(entry, e.status, self.error_body(e.body), None)
		except (OSError, ValueError, EOFError, zlib.error) as e:
			gd.say("warning: unable to serve a git request: %s" % type(e).__name__)
			self.close_connection = True
			self.answer(entry, 500, {"message": ""}, None)

	def run_backend(self, owner, name, rest, query, raw, label, decline):
		d = self.server.double
		env = {
			"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
			"GIT_PROJECT_ROOT": d.git_root,
			"GIT_HTTP_EXPORT_ALL": "1",
			"GIT_CONFIG_NOSYSTEM": "1",
			"HOME": d.git_root,
			"PATH_INFO": "/%s/%s.git%s" % (owner.lower(), name.lower(), rest),
			"REQUEST_METHOD": self.command,
			"QUERY_STRING": query,
			"CONTENT_TYPE": self.headers.get("Content-Type") or "",
			"CONTENT_LENGTH": str(len(raw)),
			"REMOTE_ADDR": self.client_address[0],
			"GIT_HTTP_MAX_REQUEST_BUFFER": str(MAX_GIT_BODY),
		}
		if label.startswith("basic:"):
			env["REMOTE_USER"] = label[len("basic:"):]
		elif label == "token":
			env["REMOTE_USER"] = d.user
		if self.headers.get("Git-Protocol"):
			env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
		if decline:
			env["GITEA_DOUBLE_DECLINE"] = "1"
		p = subprocess.run(["git", "http-backend"], input=raw, env=env,
		    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
		out = p.stdout
		head, sep, body = out.partition(b"\r\n\r\n")
		if not sep:
			head, sep, body = out.partition(b"\n\n")
		status, headers = 200, []
		for line in head.decode("latin-1").splitlines():
			k, _, v = line.partition(":")
			v = v.strip()
			if k.lower() == "status":
				status = int(v.split()[0])
			elif k:
				headers.append((k, v))
		if p.returncode != 0 and not sep:
			return 500, [("Content-Type", "text/plain")], b"git http-backend failed\n"
		return status, headers, body


class GitServer(gd.Server):
	def __init__(self, double, port):
		self.double = double
		gd.http.server.ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), GitHandler)
		if double.args.tls:
			ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
			ctx.load_cert_chain(double.args.tls[0], double.args.tls[1])
			self.socket = ctx.wrap_socket(self.socket, server_side=True,
			    do_handshake_on_connect=False)

	def handle_error(self, request, client_address):
		# A client that refuses our certificate ends the handshake: not our problem.
		if isinstance(sys.exc_info()[1], ssl.SSLError):
			return
		gd.Server.handle_error(self, request, client_address)


def main():
	p = argparse.ArgumentParser(prog="gitea-git-double.py")
	p.add_argument("--port", type=int, default=0)
	p.add_argument("--port-file")
	p.add_argument("--log")
	p.add_argument("--user", default="Orket")
	p.add_argument("--password")
	p.add_argument("--password-file")
	p.add_argument("--token")
	p.add_argument("--token-file")
	p.add_argument("--state")
	p.add_argument("--strict", action="store_true")
	p.add_argument("--fail-first", type=int, default=0)
	p.add_argument("--fail-status", type=int, default=500)
	p.add_argument("--lifetime", type=float, default=1800)
	p.add_argument("--git-root", required=True)
	p.add_argument("--prefix", default="")
	p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
	args = p.parse_args()
	args.password = gd.read_secret(args.password, args.password_file, "password")
	args.token = gd.read_secret(args.token, args.token_file, "token")
	args.prefix = args.prefix.rstrip("/")
	if args.prefix and not args.prefix.startswith("/"):
		gd.say("fatal: --prefix starts with /")
		sys.exit(100)
	os.makedirs(args.git_root, exist_ok=True)

	try:
		double = GitDouble(args)
	except (OSError, ValueError, gd.BadControl) as e:
		gd.say("fatal: unable to load the state file: %s" % type(e).__name__)
		sys.exit(100)
	try:
		server = GitServer(double, args.port)
	except (OSError, ssl.SSLError) as e:
		gd.say("fatal: unable to listen on 127.0.0.1:%d: %s" % (args.port,
		    getattr(e, "strerror", None) or type(e).__name__))
		sys.exit(111)
	double.server = server
	double.port = server.server_address[1]

	signal.signal(signal.SIGTERM, lambda *_: double.stop())
	signal.signal(signal.SIGINT, lambda *_: double.stop())
	signal.signal(signal.SIGUSR1, lambda *_: double.reopen_event.set())
	if args.lifetime > 0:
		t = threading.Timer(args.lifetime, double.stop)
		t.daemon = True
		t.start()
	if args.port_file:
		gd.write_atomic(args.port_file, "%d\n" % double.port)
	double.save()
	gd.serve_loop(double, server, lambda: GitServer(double, double.port))
	with double.lock:
		double.save()
	sys.exit(0)


if __name__ == "__main__":
	main()
