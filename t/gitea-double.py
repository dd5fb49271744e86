#!/usr/bin/env python3
# See LICENSE. A Gitea REST API test double: the part of Gitea's /api/v1 that orket-hookd and
# orket-publish call, in memory, on loopback, with fault injection. Python 3 standard library only.
# Facts (paths, status codes, bodies) come from ../shared/reference/gitea-webhooks.md section 3,
# orket-webhook-server.md section 3.5 and orket-publish-clean.md section 1.5.
#
# USAGE
#   python3 t/gitea-double.py --port 0 --port-file FILE --log FILE
#       [--user U] [--password P | --password-file F] [--token T | --token-file F]
#       [--state FILE] [--strict] [--fail-first N [--fail-status S]] [--lifetime SECONDS]
#
#   --port 0       bind 127.0.0.1 on an ephemeral port (the default; only loopback is ever served)
#   --port-file F  once listening, write the bound port and a newline to F (temp file + rename,
#                  so a reader never sees a partial number). Tests wait for this file.
#   --log F        append one JSON line per request received (see LOG below)
#   --user U       the account the credentials belong to (default Orket); it exists, is admin
#   --password P   accept HTTP Basic U:P.  --token T: accept "Authorization: token T",
#                  "Authorization: bearer T", Basic ANY:T, Basic T: (or T:x-oauth-basic) and the
#                  deprecated ?token=T / ?access_token=T.  With neither, auth is not enforced.
#                  The *-file forms read the secret from a file (keeps it out of ps).
#   --state F      seed file, loaded at start if it exists (a dump written by this program, or
#                  the seed form {"users":[..],"orgs":[..],"repos":[..],"labels":[..],
#                  "prs":[..],"branches":[..]} whose entries are the control bodies below);
#                  the whole state is rewritten there (atomically) after every change and at exit
#   --strict       no implicit creation: unknown repos, PRs and issues answer 404
#   --fail-first N the first N API requests answer --fail-status (default 500)
#   --lifetime S   exit by itself after S seconds (default 1800, 0 = never): no orphan outlives
#                  a test that forgot to stop it
#   SIGTERM or SIGINT: stop accepting, write the state file, exit 0.  SIGUSR1: end "refuse".
#   Nothing secret is ever written: not to the log, the state file, the control dumps, stdout
#   or stderr. Any occurrence of the password or token in a logged path, query or body is
#   replaced by "<redacted>" and the log line gets "leak": true (a client bug to catch).
#
# READINESS
#   rm -f port; python3 t/gitea-double.py --port 0 --port-file port --log log ... &
#   then poll until `test -s port` (bounded), and use http://127.0.0.1:$(cat port).
#   The socket is bound and listening before the file appears. GET /_control/health says 200.
#
# LOG (one line per request, compact JSON, UTF-8, written before the answer is sent)
#   {"seq":N,"method":"POST","path":"/api/v1/repos/o/r/pulls/1/merge","query":"",
#    "auth":"basic:Orket","body":{"Do":"merge"},"status":200}
#   path   the raw request path, still URL-escaped, without the query
#   query  the raw query string ("" when none), token=/access_token= values redacted
#   auth   "basic:USER" (valid Basic), "token" (valid token), "none" (no credentials),
#          "bad" (wrong or malformed credentials); never a password or a token
#   body   the parsed JSON body, or the raw text when it is not JSON, or null when empty
#   status the status answered, or null when no answer was sent (close, reset, down faults)
#   optional: "fault":"status|stall|close|reset|down" when a fault decided the answer,
#   "control":true for /_control requests, "leak":true (see above)
#
# API (all under /api/v1; errors are Gitea's {"message":...,"url":".../api/swagger"}, 404 adds
# "errors":[...]; body-binding failures are 422 "[Field]: Required"-style, including JSON type
# mismatches such as string label names. As in Gitea, the body is read according to its
# Content-Type: without one a POST answers 422 "[]: Empty Content-Type", a form-encoded body
# (curl -d) binds no JSON field, and a PATCH without one binds the query string. HEAD = GET.)
#   GET   /version                                   200 (no auth)
#   GET   /user                                      200 the authenticated user
#   GET   /users/{u}                                 200 User | 404
#   GET   /orgs/{org}                                200 Organization | 404
#   POST  /orgs/{org}/repos                          201 Repository | 404 no such org | 409 | 422
#   POST  /user/repos                                201 (owner: the authenticated user) | 409 | 422
#   POST  /admin/users/{u}/repos                     201 | 404 no such user | 409 | 422
#   GET   /repos/{o}/{r}                             200 Repository | 404 (never implicit)
#   GET   /repos/{o}/{r}/branches/{branch}           200 Branch | 404
#   GET   /repos/{o}/{r}/labels[?page=&limit=]       200 [Label] + X-Total-Count, Link
#   POST  /repos/{o}/{r}/labels                      201 Label (ids increase) | 422
#   GET   /repos/{o}/{r}/labels/{id}                 200 | 404
#   POST  /repos/{o}/{r}/issues                      201 Issue (numbers increase; labels are
#                                                    integer ids, unknown ids dropped) | 422
#   GET   /repos/{o}/{r}/issues/{n}                  200 Issue
#   GET   /repos/{o}/{r}/issues/{n}/comments         200 [Comment]
#   POST  /repos/{o}/{r}/issues/{n}/comments         201 Comment (ids increase) | 422
#   GET   /repos/{o}/{r}/pulls/{n}                   200 PullRequest
#   PATCH /repos/{o}/{r}/pulls/{n}                   201 PullRequest | 412 state change of a
#                                                    merged PR | 422
#   GET   /repos/{o}/{r}/pulls/{n}/merge             204 merged | 404 not merged
#   POST  /repos/{o}/{r}/pulls/{n}/merge             200 empty body | 404 closed | 405 already
#                                                    merged, not mergeable, WIP, manual merge not
#                                                    allowed | 409 conflict, head out of date |
#                                                    422 bad Do | 423 archived repo
#   Unless --strict, a repo referenced under /repos/{o}/{r}/(pulls|issues|labels) is created
#   (with its owner, as a user) and a PR referenced by number is created open and mergeable.
#
# CONTROL (outside /api/v1, no auth, JSON in and out, 200 on success, 400 on bad input)
#   GET    /_control/health            {"ok":true,"port":P}
#   GET    /_control/calls[?since=SEQ] {"total":N,"calls":[log entries of /api/v1 requests]}
#   GET    /_control/state             the whole state (the --state dump format)
#   POST   /_control/reset             {"state":true,"faults":true,"calls":true} (each defaults
#                                      to true): state back to what was loaded at start, faults
#                                      and "down" cleared, recorded calls forgotten
#   POST   /_control/fault             add a rule, answers {"id":K}. Rules are tried in order
#                                      on each /api/v1 request; the first match applies:
#       {"mode":"status","status":503,"body":{..},"headers":{"Retry-After":"1"}}
#                                      answer that status (default 500) and body (default
#                                      Gitea's error shape); the request is not performed
#       {"mode":"stall","seconds":2.5}  wait, then perform the request normally (so a client
#                                      that timed out has still caused the change, as with a
#                                      slow real server); with "status" too: wait, then answer
#                                      that status without performing it
#       {"mode":"close"}               read the request, close the connection, answer nothing
#       {"mode":"reset"}               same, but with a TCP RST
#       {"mode":"down"}                as "reset", for every /api/v1 request, until reset or
#                                      DELETE /_control/fault (the control endpoints stay up)
#       {"mode":"refuse","seconds":S}  close the listening socket for S seconds (at most 600),
#                                      then listen again on the same port: new connections are
#                                      refused (ECONNREFUSED), requests on open connections are
#                                      reset; SIGUSR1 ends it early. The answer to this control
#                                      request is sent once the listener is closed.
#     common keys: "count":N (only the next N matching requests; omitted: until reset),
#     "path":"/api/v1/repos/*/pulls/*/merge" (fnmatchcase glob on the raw path, where "*"
#     also matches "/"; default "*"), "method":"POST" (default any). Faults come before
#     authentication, as a proxy in front of Gitea would.
#   GET    /_control/fault             the rules in force;  DELETE /_control/fault: clear them
#   POST   /_control/pr     {"owner","repo","number","state":"open|closed|merged|conflicted|
#                            not_mergeable|wip","title","head","base","head_sha"}
#                            conflicted: merge answers 409; not_mergeable: 405 "Please try
#                            again later"; wip: 405; merged: a merge answers 405, PATCH 412
#   POST   /_control/repo   {"owner","name","private","default_branch","archived",
#                            "allow_manual_merge","auto_init"} (missing owner: created as user)
#   POST   /_control/org    {"name","full_name","visibility"}
#   POST   /_control/user   {"login","admin"}
#   POST   /_control/label  {"owner","repo","name","color","description"}
#   POST   /_control/branch {"owner","repo","name","sha"}
#   POST   /_control/shutdown  stop as on SIGTERM
#
# Bounds: loopback only; bodies above 1 MiB answer 413; at most 64 connections at once (more
# are closed); idle connections time out after 60 s; stalls are capped at 600 s; the last
# 10000 calls are kept in memory.

import argparse
import base64
import binascii
import copy
import fnmatch
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

API = "/api/v1"
CONTROL = "/_control"
GITEA_VERSION = "1.21.11"
MAX_BODY = 1 << 20
MAX_CONN = 64
MAX_STALL = 600.0
MAX_CALLS = 10000
IDLE_TIMEOUT = 60
STATE_FORMAT = "gitea-double-state/1"
MERGE_STYLES = ("merge", "rebase", "rebase-merge", "squash", "fast-forward-only",
    "manually-merged")
PR_STATES = ("open", "closed", "merged", "conflicted", "not_mergeable", "wip")
FAULT_MODES = ("status", "stall", "close", "reset", "down", "refuse")
REDACTED = "<redacted>"


def now():
	return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fake_sha(*parts):
	return hashlib.sha1("\0".join(str(p) for p in parts).encode()).hexdigest()


def say(msg):
	# One line on stderr; callers never pass secrets.
	try:
		sys.stderr.write("gitea-double: %s\n" % msg)
		sys.stderr.flush()
	except OSError:
		pass


def write_atomic(path, text):
	tmp = "%s.tmp.%d" % (path, os.getpid())
	with open(tmp, "w", encoding="utf-8") as f:
		f.write(text)
		f.flush()
		os.fsync(f.fileno())
	os.replace(tmp, path)


class ApiError(Exception):
	"""An answer other than success: status and Gitea-shaped body."""

	def __init__(self, status, body):
		Exception.__init__(self, status)
		self.status = status
		self.body = body


class BadControl(Exception):
	pass


# ---- Body binding, after gitea.com/go-chi/binding and encoding/json --------------------------
#
# Each form is (Go type name, fields); a field is (Go name, JSON name, type, binding rules).
# JSON keys match the JSON name case-insensitively (the last matching key wins), form-encoded
# bodies match the Go name; a JSON type mismatch is a deserialization error, reported as
# "[]: json: cannot unmarshal ...". The first error is the 422 message, as Gitea's bind() does.

FORMS = {
	"merge": ("forms.MergePullRequestForm", [
		("Do", "Do", "string", "Required;In(%s)" % ",".join(MERGE_STYLES)),
		("MergeTitleField", "MergeTitleField", "string", ""),
		("MergeMessageField", "MergeMessageField", "string", ""),
		("MergeCommitID", "MergeCommitID", "string", ""),
		("HeadCommitID", "head_commit_id", "string", ""),
		("ForceMerge", "force_merge", "bool", ""),
		("MergeWhenChecksSucceed", "merge_when_checks_succeed", "bool", ""),
		("DeleteBranchAfterMerge", "delete_branch_after_merge", "bool", ""),
	]),
	"edit_pr": ("structs.EditPullRequestOption", [
		("Title", "title", "string", ""),
		("Body", "body", "string", ""),
		("Base", "base", "string", ""),
		("Assignee", "assignee", "string", ""),
		("Assignees", "assignees", "[]string", ""),
		("Milestone", "milestone", "int64", ""),
		("Labels", "labels", "[]int64", ""),
		("State", "state", "string", ""),
		("Deadline", "due_date", "time", ""),
		("RemoveDeadline", "unset_due_date", "bool", ""),
		("AllowMaintainerEdit", "allow_maintainer_edit", "bool", ""),
	]),
	"comment": ("structs.CreateIssueCommentOption", [
		("Body", "body", "string", "Required"),
	]),
	"issue": ("structs.CreateIssueOption", [
		("Title", "title", "string", "Required"),
		("Body", "body", "string", ""),
		("Ref", "ref", "string", ""),
		("Assignee", "assignee", "string", ""),
		("Assignees", "assignees", "[]string", ""),
		("Deadline", "due_date", "time", ""),
		("Milestone", "milestone", "int64", ""),
		("Labels", "labels", "[]int64", ""),
		("Closed", "closed", "bool", ""),
	]),
	"label": ("structs.CreateLabelOption", [
		("Name", "name", "string", "Required"),
		("Exclusive", "exclusive", "bool", ""),
		("Color", "color", "string", "Required"),
		("Description", "description", "string", ""),
		("IsArchived", "is_archived", "bool", ""),
	]),
	"repo": ("structs.CreateRepoOption", [
		("Name", "name", "string", "Required;AlphaDashDot;MaxSize(100)"),
		("Description", "description", "string", "MaxSize(2048)"),
		("Private", "private", "bool", ""),
		("IssueLabels", "issue_labels", "string", ""),
		("AutoInit", "auto_init", "bool", ""),
		("Template", "template", "bool", ""),
		("Gitignores", "gitignores", "string", ""),
		("License", "license", "string", ""),
		("Readme", "readme", "string", ""),
		("DefaultBranch", "default_branch", "string", "GitRefName;MaxSize(100)"),
		("TrustModel", "trust_model", "string",
		    "In(default,collaborator,committer,collaboratorcommitter)"),
		("ObjectFormatName", "object_format_name", "string", "In(sha1,sha256)"),
	]),
}

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ALPHA_DASH_DOT_RE = re.compile(r"[^\w\-.]")


def json_kind(v):
	if isinstance(v, bool):
		return "bool"
	if isinstance(v, (int, float)):
		return "number"
	if isinstance(v, str):
		return "string"
	if isinstance(v, list):
		return "array"
	if isinstance(v, dict):
		return "object"
	return "null"


def json_value(struct, jname, ftype, v):
	"""Convert one JSON value the way encoding/json would, or raise ValueError(message)."""

	def mismatch(val, gotype):
		kind = json_kind(val)
		if kind == "number":
			kind = "number %s" % json.dumps(val)
		return ValueError("json: cannot unmarshal %s into Go struct field %s.%s of type %s"
		    % (kind, struct.split(".")[-1], jname, gotype))

	if v is None:
		return None
	if ftype == "string":
		if not isinstance(v, str):
			raise mismatch(v, "string")
		return v
	if ftype == "bool":
		if not isinstance(v, bool):
			raise mismatch(v, "bool")
		return v
	if ftype == "int64":
		if isinstance(v, bool) or not isinstance(v, int):
			raise mismatch(v, "int64")
		return v
	if ftype == "time":
		if not isinstance(v, str):
			raise mismatch(v, "time.Time")
		if not TIME_RE.match(v):
			raise ValueError('parsing time "%s" as "2006-01-02T15:04:05Z07:00": cannot parse'
			    % json.dumps(v)[1:-1])
		return v
	if ftype in ("[]string", "[]int64"):
		if not isinstance(v, list):
			raise mismatch(v, ftype)
		inner = ftype[2:]
		return [json_value(struct, jname, inner, e) for e in v if e is not None]
	raise ValueError("unknown type %s" % ftype)


def form_value(go, ftype, values):
	"""Convert form-encoded values the way go-chi/binding's form mapping would."""
	if ftype.startswith("[]"):
		out = []
		for s in values:
			out.append(form_value(go, ftype[2:], [s]))
		return out
	s = values[0]
	if ftype in ("string", "time"):
		return s
	if ftype == "bool":
		if s.lower() in ("1", "t", "true", "on"):
			return True
		if s.lower() in ("", "0", "f", "false", "off"):
			return False
		raise ApiError(422, {"message": "[%s]: BooleanTypeError" % go})
	if ftype == "int64":
		try:
			return int(s) if s else 0
		except ValueError:
			raise ApiError(422, {"message": "[%s]: IntegerTypeError" % go})
	return s


def validate(go, value, rules):
	"""The binding rules; returns a message like "[Name]: Required" or None."""
	for rule in [r for r in rules.split(";") if r]:
		empty = value is None or value == "" or value == [] or value is False or value == 0
		if rule == "Required":
			if empty:
				return "[%s]: Required" % go
			continue
		if empty:
			continue
		if rule.startswith("In("):
			if value not in rule[3:-1].split(","):
				return "[%s]: In" % go
		elif rule == "AlphaDashDot":
			if ALPHA_DASH_DOT_RE.search(value):
				return "[%s]: AlphaDashDot" % go
		elif rule == "GitRefName":
			if (value.startswith("/") or value.endswith("/") or ".." in value or
			    value.endswith(".lock") or re.search(r"[\x00-\x20~^:?*\[\\]", value)):
				return "[%s]: GitRefName" % go
		elif rule.startswith("MaxSize("):
			if len(value) > int(rule[8:-1]):
				return "[%s]: MaxSize" % go
	return None


def bind(form, method, headers, raw, query):
	"""Gitea's bind(): returns {Go name: value}, or raises a 422 ApiError."""
	struct, fields = FORMS[form]
	ctype = headers.get("Content-Type") or ""
	out = {go: None for go, _, _, _ in fields}
	if method in ("POST", "PUT") or ctype:
		if "form-urlencoded" in ctype:
			mode = "form"
		elif "multipart/form-data" in ctype:
			raise ApiError(422, {"message": "[]: multipart is not supported by this double"})
		elif "json" in ctype:
			mode = "json"
		elif ctype == "":
			raise ApiError(422, {"message": "[]: Empty Content-Type"})
		else:
			raise ApiError(422, {"message": "[]: Unsupported Content-Type"})
	else:
		mode = "query"  # no Content-Type on PATCH/DELETE: the form is read from the query
	if mode == "json":
		text = raw.decode("utf-8", errors="replace")
		if text.strip():
			try:
				doc = json.loads(text)
			except ValueError as e:
				raise ApiError(422, {"message": "[]: invalid character looking for beginning "
				    "of value (%s)" % e.msg})
			if doc is not None and not isinstance(doc, dict):
				raise ApiError(422, {"message": "[]: json: cannot unmarshal %s into Go value "
				    "of type %s" % (json_kind(doc), struct)})
			for key, val in (doc or {}).items():
				for go, jname, ftype, _ in fields:
					if key.lower() == jname.lower():
						try:
							out[go] = json_value(struct, jname, ftype, val)
						except ValueError as e:
							raise ApiError(422, {"message": "[]: %s" % e})
	else:
		src = raw.decode("utf-8", errors="replace") if mode == "form" else query
		pairs = urllib.parse.parse_qs(src, keep_blank_values=True)
		for go, _, ftype, _ in fields:
			if go in pairs:
				out[go] = form_value(go, ftype, pairs[go])
	for go, _, _, rules in fields:
		msg = validate(go, out[go], rules)
		if msg:
			raise ApiError(422, {"message": msg})
	return out


# ---- The double ---------------------------------------------------------------------------


class Double:
	def __init__(self, args):
		self.args = args
		self.user = args.user
		self.password = args.password
		self.token = args.token
		self.secrets = [s for s in (self.password, self.token) if s]
		self.lock = threading.RLock()
		self.log_lock = threading.Lock()
		self.stop_event = threading.Event()
		self.reopen_event = threading.Event()
		self.closed_event = threading.Event()
		self.stopping = False
		self.refuse_seconds = 0.0
		self.down = False
		self.faults = []
		self.fault_id = 0
		self.calls = []
		self.seq = 0
		self.port = 0
		self.server = None
		self.conns = 0
		self.state = self.empty_state()
		self.ensure_user(self.user, admin=True)
		if args.state and os.path.exists(args.state) and os.path.getsize(args.state) > 0:
			with open(args.state, encoding="utf-8") as f:
				self.load(json.load(f))
		self.initial = copy.deepcopy(self.state)
		if args.fail_first > 0:
			self.add_fault({"mode": "status", "status": args.fail_status,
			    "count": args.fail_first})

	# -- state

	@staticmethod
	def empty_state():
		return {"format": STATE_FORMAT,
		    "next": {"user": 1, "repo": 1, "issue": 1, "pr": 1, "comment": 1, "label": 1},
		    "users": {}, "repos": {}}

	def next_id(self, kind):
		n = self.state["next"][kind]
		self.state["next"][kind] = n + 1
		return n

	def load(self, doc):
		if not isinstance(doc, dict):
			raise BadControl("state file: not a JSON object")
		if doc.get("format") == STATE_FORMAT:
			self.state = doc
			self.ensure_user(self.user, admin=True)
			return
		for u in doc.get("users", []):
			self.control_user(u)
		for o in doc.get("orgs", []):
			self.control_org(o)
		for r in doc.get("repos", []):
			self.control_repo(r)
		for l in doc.get("labels", []):
			self.control_label(l)
		for p in doc.get("prs", []):
			self.control_pr(p)
		for b in doc.get("branches", []):
			self.control_branch(b)

	def save(self):
		if not self.args.state:
			return
		try:
			write_atomic(self.args.state, self.scrubbed_json(self.state, indent=1) + "\n")
		except OSError as e:
			say("warning: unable to write the state file: %s" % e.strerror)

	def ensure_user(self, login, admin=False, org=False):
		key = login.lower()
		u = self.state["users"].get(key)
		if u is None:
			u = {"id": self.next_id("user"), "login": login, "full_name": "",
			    "is_admin": bool(admin), "type": "org" if org else "user",
			    "visibility": "public", "created": now()}
			self.state["users"][key] = u
		return u

	def find_owner(self, login):
		return self.state["users"].get(login.lower())

	def find_repo(self, owner, name):
		return self.state["repos"].get("%s/%s" % (owner.lower(), name.lower()))

	def new_repo(self, owner, name, private=False, default_branch="", auto_init=False,
	    description=""):
		repo = {"id": self.next_id("repo"), "owner": owner["login"], "name": name,
		    "description": description, "private": bool(private),
		    "default_branch": default_branch or "main", "archived": False,
		    "allow_manual_merge": False, "created_at": now(), "updated_at": now(),
		    "labels": [], "issues": {}, "branches": {}}
		if auto_init:
			repo["branches"][repo["default_branch"]] = fake_sha(owner["login"], name, "init")
		self.state["repos"]["%s/%s" % (owner["login"].lower(), name.lower())] = repo
		return repo

	def repo_for(self, owner, name, create):
		repo = self.find_repo(owner, name)
		if repo is None and create and not self.args.strict:
			o = self.find_owner(owner) or self.ensure_user(owner)
			repo = self.new_repo(o, name)
		if repo is None:
			raise ApiError(404, not_found())
		return repo

	def new_issue(self, repo, number, title, is_pull, user=None):
		iss = {"id": self.next_id("issue"), "number": number, "title": title, "body": "",
		    "user": user or self.user, "labels": [], "state": "open", "ref": "",
		    "assignees": [], "milestone": None, "due_date": None, "is_locked": False,
		    "created_at": now(), "updated_at": now(), "closed_at": None, "comments": [],
		    "pr": None}
		if is_pull:
			iss["pr"] = {"id": self.next_id("pr"), "head": "feature-%d" % number,
			    "base": repo["default_branch"],
			    "head_sha": fake_sha(repo["owner"], repo["name"], number, "head"),
			    "merge_state": "open", "merged": False, "merged_at": None,
			    "merged_by": None, "merge_commit_sha": None, "merge": None}
		repo["issues"][str(number)] = iss
		return iss

	def next_number(self, repo):
		return max([int(n) for n in repo["issues"]] + [0]) + 1

	def issue_for(self, repo, number, create):
		iss = repo["issues"].get(str(number))
		if iss is None:
			if not create or self.args.strict or number <= 0:
				raise ApiError(404, not_found())
			iss = self.new_issue(repo, number, "PR #%d" % number, True)
		return iss

	def pr_for(self, repo, number, create):
		iss = self.issue_for(repo, number, create)
		if iss["pr"] is None:
			raise ApiError(404, not_found())
		return iss

	# -- secrets

	def scrub(self, s):
		"""Returns (text without any secret, whether one was found)."""
		found = False
		for secret in self.secrets:
			for form in {secret, urllib.parse.quote(secret, safe=""),
			    urllib.parse.quote_plus(secret)}:
				if form and form in s:
					s = s.replace(form, REDACTED)
					found = True
		return s, found

	def scrub_value(self, v):
		if isinstance(v, str):
			return self.scrub(v)
		if isinstance(v, list):
			out, found = [], False
			for e in v:
				e, f = self.scrub_value(e)
				out.append(e)
				found = found or f
			return out, found
		if isinstance(v, dict):
			out, found = {}, False
			for k, e in v.items():
				k, f1 = self.scrub(k)
				e, f2 = self.scrub_value(e)
				out[k] = e
				found = found or f1 or f2
			return out, found
		return v, False

	def scrubbed_json(self, v, indent=None):
		v, _ = self.scrub_value(v)
		if indent is None:
			return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
		return json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=True)

	# -- faults

	def add_fault(self, spec):
		if not isinstance(spec, dict):
			raise BadControl("a fault is a JSON object")
		mode = spec.get("mode", "status")
		if mode not in FAULT_MODES:
			raise BadControl("mode must be one of %s" % ", ".join(FAULT_MODES))
		rule = {"mode": mode, "path": spec.get("path", "*"), "method": spec.get("method"),
		    "count": spec.get("count")}
		if not isinstance(rule["path"], str):
			raise BadControl("path is a glob string")
		if rule["method"] is not None and not isinstance(rule["method"], str):
			raise BadControl("method is a string")
		if rule["count"] is not None and (not isinstance(rule["count"], int) or
		    isinstance(rule["count"], bool) or rule["count"] < 1):
			raise BadControl("count is a positive integer")
		if "status" in spec or mode == "status":
			status = spec.get("status", 500)
			if not isinstance(status, int) or isinstance(status, bool) or \
			    not 200 <= status <= 599:
				raise BadControl("status is an integer from 200 to 599")
			rule["status"] = status
			rule["body"] = spec.get("body")
			hdrs = spec.get("headers") or {}
			if not isinstance(hdrs, dict) or not all(isinstance(k, str) and
			    isinstance(v, str) and "\n" not in k + v and "\r" not in k + v
			    for k, v in hdrs.items()):
				raise BadControl("headers is an object of strings")
			rule["headers"] = hdrs
		if mode in ("stall", "refuse"):
			secs = spec.get("seconds")
			if not isinstance(secs, (int, float)) or isinstance(secs, bool) or \
			    not 0 <= secs <= MAX_STALL:
				raise BadControl("seconds is a number from 0 to %d" % MAX_STALL)
			rule["seconds"] = float(secs)
		with self.lock:
			self.fault_id += 1
			rule["id"] = self.fault_id
			if mode == "down":
				self.down = True
				return rule["id"]
			if mode != "refuse":
				self.faults.append(rule)
				return rule["id"]
			self.start_refuse(rule["seconds"])
		# Answer only once the listener is closed, so the caller's next connect is refused.
		self.closed_event.wait(5)
		return rule["id"]

	def take_fault(self, method, path):
		with self.lock:
			for rule in self.faults:
				if rule["method"] and rule["method"].upper() != method:
					continue
				if not fnmatch.fnmatchcase(path, rule["path"]):
					continue
				if rule["count"] is not None:
					rule["count"] -= 1
					if rule["count"] <= 0:
						self.faults.remove(rule)
				return dict(rule)
		return None

	def clear_faults(self):
		with self.lock:
			self.faults = []
			self.down = False

	def start_refuse(self, seconds):
		self.refuse_seconds = seconds
		self.down = True
		self.reopen_event.clear()
		self.closed_event.clear()
		srv = self.server
		if srv is not None:
			threading.Thread(target=srv.shutdown, daemon=True).start()

	def stop(self):
		self.stopping = True
		self.stop_event.set()
		self.reopen_event.set()
		srv = self.server
		if srv is not None:
			threading.Thread(target=srv.shutdown, daemon=True).start()

	# -- recording

	def record(self, entry, control=False):
		with self.lock:
			self.seq += 1
			entry = dict(seq=self.seq, **entry)
			if not control:
				self.calls.append(entry)
				if len(self.calls) > MAX_CALLS:
					del self.calls[:len(self.calls) - MAX_CALLS]
		if control:
			entry["control"] = True
		line = self.scrubbed_json(entry) + "\n"
		if self.args.log:
			with self.log_lock:
				try:
					with open(self.args.log, "a", encoding="utf-8") as f:
						f.write(line)
				except OSError as e:
					say("warning: unable to append to the log: %s" % e.strerror)

	# -- controls

	def control_user(self, body):
		login = req_str(body, "login")
		with self.lock:
			u = self.ensure_user(login, admin=body.get("admin", False))
			if "admin" in body:
				u["is_admin"] = bool(body["admin"])
			return self.user_json(u)

	def control_org(self, body):
		name = req_str(body, "name")
		with self.lock:
			o = self.find_owner(name)
			if o is not None and o["type"] != "org":
				raise BadControl("%s exists as a user" % name)
			o = o or self.ensure_user(name, org=True)
			for k in ("full_name", "visibility"):
				if k in body:
					o[k] = str(body[k])
			return self.org_json(o)

	def control_repo(self, body):
		owner, name = req_str(body, "owner"), req_str(body, "name")
		with self.lock:
			o = self.find_owner(owner) or self.ensure_user(owner)
			repo = self.find_repo(owner, name) or self.new_repo(o, name,
			    private=body.get("private", False),
			    default_branch=body.get("default_branch", ""),
			    auto_init=body.get("auto_init", False))
			for k in ("private", "archived", "allow_manual_merge"):
				if k in body:
					repo[k] = bool(body[k])
			if "default_branch" in body:
				repo["default_branch"] = str(body["default_branch"])
			return self.repo_json(repo)

	def control_label(self, body):
		owner, name = req_str(body, "owner"), req_str(body, "repo")
		lname = req_str(body, "name")
		color = normalize_color(str(body.get("color", "#ededed")))
		if color is None:
			raise BadControl("bad color")
		with self.lock:
			repo = self.control_repo_lookup(owner, name)
			label = {"id": self.next_id("label"), "name": lname, "color": color,
			    "description": str(body.get("description", "")), "exclusive": False,
			    "is_archived": False}
			repo["labels"].append(label)
			return self.label_json(repo, label)

	def control_pr(self, body):
		owner, name = req_str(body, "owner"), req_str(body, "repo")
		number = body.get("number")
		if not isinstance(number, int) or isinstance(number, bool) or number < 1:
			raise BadControl("number is a positive integer")
		state = body.get("state", "open")
		if state not in PR_STATES:
			raise BadControl("state must be one of %s" % ", ".join(PR_STATES))
		with self.lock:
			repo = self.control_repo_lookup(owner, name)
			iss = repo["issues"].get(str(number))
			if iss is None:
				iss = self.new_issue(repo, number, "PR #%d" % number, True)
			elif iss["pr"] is None:
				raise BadControl("#%d is an issue, not a pull request" % number)
			pr = iss["pr"]
			for k in ("head", "base", "head_sha"):
				if k in body:
					pr[k] = str(body[k])
			if "title" in body:
				iss["title"] = str(body["title"])
			pr["merged"] = state == "merged"
			pr["merged_at"] = now() if pr["merged"] else None
			pr["merged_by"] = self.user if pr["merged"] else None
			pr["merge_commit_sha"] = fake_sha(owner, name, number, "merge") \
			    if pr["merged"] else None
			iss["state"] = "closed" if state in ("closed", "merged") else "open"
			iss["closed_at"] = now() if iss["state"] == "closed" else None
			pr["merge_state"] = state if state not in ("closed", "merged") else "open"
			if state == "wip" and not iss["title"].upper().startswith("WIP:"):
				iss["title"] = "WIP: " + iss["title"]
			return self.pr_json(repo, iss)

	def control_branch(self, body):
		owner, name = req_str(body, "owner"), req_str(body, "repo")
		bname = req_str(body, "name")
		sha = str(body.get("sha") or fake_sha(owner, name, bname))
		with self.lock:
			repo = self.control_repo_lookup(owner, name)
			repo["branches"][bname] = sha
			return self.branch_json(repo, bname)

	def control_repo_lookup(self, owner, name):
		repo = self.find_repo(owner, name)
		if repo is None:
			o = self.find_owner(owner) or self.ensure_user(owner)
			repo = self.new_repo(o, name)
		return repo

	# -- JSON shapes (api.User, api.Organization, api.Repository, ...)

	def base_url(self):
		return "http://127.0.0.1:%d/" % self.port

	def swagger(self):
		return self.base_url() + "api/swagger"

	def user_json(self, u):
		base = self.base_url()
		return {"id": u["id"], "login": u["login"], "login_name": "",
		    "full_name": u.get("full_name", ""),
		    "email": "%s@noreply.localhost" % u["login"].lower(),
		    "avatar_url": "%savatars/%s" % (base, fake_sha(u["login"])[:32]),
		    "html_url": base + u["login"], "language": "", "is_admin": u["is_admin"],
		    "last_login": "0001-01-01T00:00:00Z", "created": u["created"],
		    "restricted": False, "active": True, "prohibit_login": False, "location": "",
		    "website": "", "description": "", "visibility": u.get("visibility", "public"),
		    "followers_count": 0, "following_count": 0, "starred_repos_count": 0,
		    "username": u["login"]}

	def org_json(self, o):
		base = self.base_url()
		return {"id": o["id"], "name": o["login"], "full_name": o.get("full_name", ""),
		    "email": "", "avatar_url": "%savatars/%s" % (base, fake_sha(o["login"])[:32]),
		    "description": "", "website": "", "location": "",
		    "visibility": o.get("visibility", "public"),
		    "repo_admin_change_team_access": False, "username": o["login"]}

	def repo_json(self, r):
		base = self.base_url()
		owner = self.find_owner(r["owner"])
		full = "%s/%s" % (r["owner"], r["name"])
		return {"id": r["id"], "owner": self.user_json(owner), "name": r["name"],
		    "full_name": full, "description": r["description"], "empty": not r["branches"],
		    "private": r["private"], "fork": False, "template": False, "parent": None,
		    "mirror": False, "size": 0, "language": "", "languages_url":
		    "%sapi/v1/repos/%s/languages" % (base, full), "html_url": base + full,
		    "url": "%sapi/v1/repos/%s" % (base, full), "link": "",
		    "ssh_url": "git@127.0.0.1:%s.git" % full, "clone_url": "%s%s.git" % (base, full),
		    "original_url": "", "website": "", "stars_count": 0, "forks_count": 0,
		    "watchers_count": 1, "open_issues_count": sum(1 for i in r["issues"].values()
		    if i["pr"] is None and i["state"] == "open"), "open_pr_counter": sum(1 for i in
		    r["issues"].values() if i["pr"] is not None and i["state"] == "open"),
		    "release_counter": 0, "default_branch": r["default_branch"],
		    "archived": r["archived"], "created_at": r["created_at"],
		    "updated_at": r["updated_at"], "archived_at": "1970-01-01T00:00:00Z",
		    "permissions": {"admin": True, "push": True, "pull": True},
		    "has_issues": True, "internal_tracker": {"enable_time_tracker": True,
		    "allow_only_contributors_to_track_time": True,
		    "enable_issue_dependencies": True}, "has_wiki": True, "has_pull_requests": True,
		    "has_projects": True, "has_releases": True, "has_packages": True,
		    "has_actions": False, "ignore_whitespace_conflicts": False,
		    "allow_merge_commits": True, "allow_rebase": True, "allow_rebase_explicit": True,
		    "allow_squash_merge": True, "allow_rebase_update": True,
		    "default_delete_branch_after_merge": False, "default_merge_style": "merge",
		    "default_allow_maintainer_edit": False, "avatar_url": "", "internal": False,
		    "mirror_interval": "", "mirror_updated": "0001-01-01T00:00:00Z",
		    "repo_transfer": None, "object_format_name": "sha1"}

	def label_json(self, repo, l):
		return {"id": l["id"], "name": l["name"], "exclusive": l["exclusive"],
		    "is_archived": l["is_archived"], "color": l["color"].lstrip("#"),
		    "description": l["description"], "url": "%sapi/v1/repos/%s/%s/labels/%d"
		    % (self.base_url(), repo["owner"], repo["name"], l["id"])}

	def labels_of(self, repo, ids):
		by_id = {l["id"]: l for l in repo["labels"]}
		return [self.label_json(repo, by_id[i]) for i in ids if i in by_id]

	def issue_json(self, repo, iss):
		base = self.base_url()
		full = "%s/%s" % (repo["owner"], repo["name"])
		kind = "pulls" if iss["pr"] else "issues"
		pr = iss["pr"]
		return {"id": iss["id"], "url": "%sapi/v1/repos/%s/issues/%d" % (base, full,
		    iss["number"]), "html_url": "%s%s/%s/%d" % (base, full, kind, iss["number"]),
		    "number": iss["number"], "user": self.user_json(self.find_owner(iss["user"]) or
		    self.ensure_user(iss["user"])), "original_author": "", "original_author_id": 0,
		    "title": iss["title"], "body": iss["body"], "ref": iss["ref"], "assets": [],
		    "labels": self.labels_of(repo, iss["labels"]), "milestone": None,
		    "assignee": None, "assignees": None, "state": iss["state"],
		    "is_locked": iss["is_locked"], "comments": len(iss["comments"]),
		    "created_at": iss["created_at"], "updated_at": iss["updated_at"],
		    "closed_at": iss["closed_at"], "due_date": iss["due_date"],
		    "pull_request": None if pr is None else {"merged": pr["merged"],
		    "merged_at": pr["merged_at"], "draft": False, "html_url": "%s%s/pulls/%d"
		    % (base, full, iss["number"])},
		    "repository": {"id": repo["id"], "name": repo["name"], "owner": repo["owner"],
		    "full_name": full}, "pin_order": 0}

	def pr_json(self, repo, iss):
		base = self.base_url()
		full = "%s/%s" % (repo["owner"], repo["name"])
		pr = iss["pr"]
		rj = self.repo_json(repo)
		base_sha = repo["branches"].get(pr["base"]) or fake_sha(full, pr["base"])
		merged_by = None
		if pr["merged_by"]:
			merged_by = self.user_json(self.find_owner(pr["merged_by"]) or
			    self.ensure_user(pr["merged_by"]))
		return {"id": pr["id"], "url": "%s%s/pulls/%d" % (base, full, iss["number"]),
		    "number": iss["number"], "user": self.user_json(self.find_owner(iss["user"]) or
		    self.ensure_user(iss["user"])), "title": iss["title"], "body": iss["body"],
		    "labels": self.labels_of(repo, iss["labels"]), "milestone": None,
		    "assignee": None, "assignees": None, "requested_reviewers": None,
		    "state": iss["state"], "draft": False, "is_locked": iss["is_locked"],
		    "comments": len(iss["comments"]), "review_comments": 0, "additions": 0,
		    "deletions": 0, "changed_files": 0,
		    "html_url": "%s%s/pulls/%d" % (base, full, iss["number"]),
		    "diff_url": "%s%s/pulls/%d.diff" % (base, full, iss["number"]),
		    "patch_url": "%s%s/pulls/%d.patch" % (base, full, iss["number"]),
		    "mergeable": pr["merge_state"] not in ("conflicted", "not_mergeable", "wip"),
		    "merged": pr["merged"], "merged_at": pr["merged_at"],
		    "merge_commit_sha": pr["merge_commit_sha"], "merged_by": merged_by,
		    "allow_maintainer_edit": False,
		    "base": {"label": pr["base"], "ref": pr["base"], "sha": base_sha,
		    "repo_id": repo["id"], "repo": rj},
		    "head": {"label": pr["head"], "ref": pr["head"], "sha": pr["head_sha"],
		    "repo_id": repo["id"], "repo": rj},
		    "merge_base": base_sha, "due_date": iss["due_date"],
		    "created_at": iss["created_at"], "updated_at": iss["updated_at"],
		    "closed_at": iss["closed_at"], "pin_order": 0}

	def comment_json(self, repo, iss, c):
		base = self.base_url()
		full = "%s/%s" % (repo["owner"], repo["name"])
		kind = "pulls" if iss["pr"] else "issues"
		return {"id": c["id"], "html_url": "%s%s/%s/%d#issuecomment-%d" % (base, full, kind,
		    iss["number"], c["id"]), "pull_request_url": "%s%s/pulls/%d" % (base, full,
		    iss["number"]) if iss["pr"] else "", "issue_url": "" if iss["pr"] else
		    "%s%s/issues/%d" % (base, full, iss["number"]),
		    "user": self.user_json(self.find_owner(c["user"]) or self.ensure_user(c["user"])),
		    "original_author": "", "original_author_id": 0, "body": c["body"], "assets": [],
		    "created_at": c["created_at"], "updated_at": c["updated_at"]}

	def branch_json(self, repo, name):
		sha = repo["branches"][name]
		base = self.base_url()
		full = "%s/%s" % (repo["owner"], repo["name"])
		who = {"name": self.user, "email": "%s@noreply.localhost" % self.user.lower(),
		    "username": self.user}
		return {"name": name, "commit": {"id": sha, "message": "commit %s\n" % sha[:10],
		    "url": "%s%s/commit/%s" % (base, full, sha), "author": who, "committer": who,
		    "verification": {"verified": False, "reason": "gpg.error.not_signed_commit",
		    "signature": "", "signer": None, "payload": ""}, "timestamp": now(),
		    "added": None, "removed": None, "modified": None}, "protected": False,
		    "required_approvals": 0, "enable_status_check": False,
		    "status_check_contexts": [], "user_can_push": True, "user_can_merge": True,
		    "effective_branch_protection_name": ""}


def req_str(body, key):
	v = body.get(key) if isinstance(body, dict) else None
	if not isinstance(v, str) or not v:
		raise BadControl("%s is a required non-empty string" % key)
	return v


def normalize_color(c):
	c = c.strip()
	if re.match(r"^#?[0-9a-fA-F]{6}$", c) or re.match(r"^#?[0-9a-fA-F]{3}$", c):
		c = c.lstrip("#").lower()
		if len(c) == 3:
			c = "".join(ch * 2 for ch in c)
		return "#" + c
	return None


def not_found(*errs):
	return {"message": "The target couldn't be found.", "errors": list(errs)}


RESERVED_REPO_NAMES = (".", "..", "-")
RESERVED_REPO_PATTERNS = ("*.git", "*.wiki", "*.rss", "*.atom")


# ---- HTTP ---------------------------------------------------------------------------------


class Server(http.server.ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	request_queue_size = 64

	def __init__(self, double, port):
		self.double = double
		http.server.ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), Handler)

	def process_request(self, request, client_address):
		d = self.double
		with d.lock:
			if d.conns >= MAX_CONN or client_address[0] != "127.0.0.1":
				self.shutdown_request(request)
				return
			d.conns += 1
		http.server.ThreadingHTTPServer.process_request(self, request, client_address)

	def process_request_thread(self, request, client_address):
		try:
			http.server.ThreadingHTTPServer.process_request_thread(self, request,
			    client_address)
		finally:
			with self.double.lock:
				self.double.conns -= 1

	def handle_error(self, request, client_address):
		exc = sys.exc_info()[1]
		if isinstance(exc, (ConnectionError, socket.timeout, BrokenPipeError)):
			return
		say("warning: unable to serve a request: %s" % type(exc).__name__)


class Drop(Exception):
	"""Close the connection without an answer (rst: with a TCP reset)."""

	def __init__(self, rst):
		Exception.__init__(self)
		self.rst = rst


class Handler(http.server.BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	server_version = "gitea-double"
	sys_version = ""
	timeout = IDLE_TIMEOUT

	def version_string(self):
		return self.server_version

	def log_message(self, fmt, *args):
		# BaseHTTPRequestHandler would print the request line (query tokens included).
		pass

	def do_GET(self):
		self.serve()

	do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

	# -- plumbing

	def read_body(self):
		te = (self.headers.get("Transfer-Encoding") or "").lower()
		if "chunked" in te:
			chunks, total = [], 0
			while True:
				line = self.rfile.readline(1024)
				if not line:
					raise Drop(False)
				try:
					size = int(line.split(b";")[0].strip(), 16)
				except ValueError:
					raise ApiError(400, {"message": "bad chunked encoding"})
				if size == 0:
					while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
						pass
					break
				total += size
				if total > MAX_BODY:
					self.close_connection = True
					raise ApiError(413, {"message": "request body too large"})
				chunks.append(self.rfile.read(size))
				self.rfile.readline(1024)
			return b"".join(chunks)
		try:
			n = int(self.headers.get("Content-Length") or 0)
		except ValueError:
			self.close_connection = True
			raise ApiError(400, {"message": "bad Content-Length"})
		if n < 0:
			self.close_connection = True
			raise ApiError(400, {"message": "bad Content-Length"})
		if n > MAX_BODY:
			self.close_connection = True
			raise ApiError(413, {"message": "request body too large"})
		return self.rfile.read(n) if n else b""

	def send(self, status, body, headers=None, ctype="application/json;charset=utf-8"):
		if isinstance(body, (dict, list)):
			data = (json.dumps(body, ensure_ascii=False, separators=(",", ":")) +
			    "\n").encode("utf-8")
		elif isinstance(body, str):
			data = body.encode("utf-8")
		else:
			data = body or b""
		headers = dict(headers or {})
		ctype = headers.pop("Content-Type", ctype)
		self.send_response(status)
		if data or status not in (200, 204):
			self.send_header("Content-Type", ctype)
		for k, v in headers.items():
			self.send_header(k, v)
		self.send_header("Content-Length", "0" if status == 204 else str(len(data)))
		if self.close_connection:
			self.send_header("Connection", "close")
		self.end_headers()
		if self.command != "HEAD" and status != 204:
			self.wfile.write(data)
		self.wfile.flush()

	def drop(self, rst):
		self.close_connection = True
		try:
			if rst:
				self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
				    struct.pack("ii", 1, 0))
			self.connection.close()
		except OSError:
			pass

	def auth(self, query):
		"""Returns (log label, whether it authenticates)."""
		d = self.server.double
		eq = lambda a, b: hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
		h = self.headers.get("Authorization")
		if h is not None:
			scheme, _, cred = h.strip().partition(" ")
			cred = cred.strip()
			if scheme.lower() == "basic":
				try:
					raw = base64.b64decode(cred, validate=True).decode("utf-8")
				except (binascii.Error, ValueError):
					return "bad", False
				user, sep, pw = raw.partition(":")
				if not sep:
					return "bad", False
				if d.token and (eq(pw, d.token) or (eq(user, d.token) and
				    pw in ("", "x-oauth-basic"))):
					return ("token" if eq(user, d.token) else "basic:" + user), True
				if d.password and user.lower() == d.user.lower() and eq(pw, d.password):
					return "basic:" + user, True
				if not d.secrets:
					return "basic:" + user, True
				return "bad", False
			if scheme.lower() in ("token", "bearer"):
				if d.token and eq(cred, d.token):
					return "token", True
				if not d.secrets:
					return "token", True
				return "bad", False
			return "bad", not d.secrets
		q = urllib.parse.parse_qs(query, keep_blank_values=True)
		for key in ("token", "access_token"):
			if key in q:
				if d.token and eq(q[key][0], d.token):
					return "token", True
				return "bad", not d.secrets
		return "none", not d.secrets

	# -- one request

	def serve(self):
		d = self.server.double
		method = self.command
		raw_path, _, query = self.path.partition("?")
		if raw_path.startswith(CONTROL + "/") or raw_path == CONTROL:
			return self.serve_control(method, raw_path, query)
		entry = {"method": method, "path": raw_path, "query": query, "auth": "none",
		    "body": None, "status": None}
		try:
			raw = self.read_body()
			entry["body"] = log_body(raw)
			label, ok = self.auth(query)
			entry["auth"] = label
			if d.down:
				entry["fault"] = "down"
				raise Drop(True)
			fault = d.take_fault(method, raw_path) if raw_path.startswith(API + "/") else None
			if fault:
				entry["fault"] = fault["mode"]
				if fault["mode"] in ("close", "reset"):
					raise Drop(fault["mode"] == "reset")
				if fault["mode"] == "stall":
					if d.stop_event.wait(fault["seconds"]) or d.down:
						raise Drop(True)
				if "status" in fault:
					body = fault["body"]
					if body is None:
						body = {"message": "injected fault", "url": d.swagger()}
					return self.answer(entry, fault["status"], body, fault["headers"])
			status, body, headers = self.route(method, raw_path, query, raw, ok)
			return self.answer(entry, status, body, headers)
		except Drop as e:
			entry.setdefault("fault", "close")
			self.finish_entry(entry)
			self.drop(e.rst)
		except ApiError as e:
			self.answer(entry, e.status, self.error_body(e.body), None)
		except Exception as e:
			# A bug in the double: say so (type only: messages may quote request data)
			# and answer as Gitea does in production, 500 with an empty message.
			say("warning: unable to handle a %s request: %s" % (method, type(e).__name__))
			self.close_connection = True
			self.answer(entry, 500, {"message": "", "url": d.swagger()}, None)

	def error_body(self, body):
		if isinstance(body, dict) and "message" in body:
			body = dict(body)
			body["url"] = self.server.double.swagger()
			if "errors" in body:
				body = {"message": body["message"], "url": body["url"],
				    "errors": body["errors"]}
		return body

	def finish_entry(self, entry):
		d = self.server.double
		leak = False
		for k in ("path", "query", "body"):
			_, found = d.scrub_value(entry[k])
			leak = leak or found
		entry["query"] = redact_query(entry["query"])
		if leak:
			entry["leak"] = True
		d.record(entry)

	def answer(self, entry, status, body, headers):
		entry["status"] = status
		self.finish_entry(entry)
		try:
			self.send(status, body, headers)
		except OSError:
			self.close_connection = True

	def route(self, method, raw_path, query, raw, authed):
		"""Returns (status, body, headers) or raises ApiError."""
		d = self.server.double
		if method == "HEAD":
			method = "GET"  # send() leaves the body out
		if raw_path != API and not raw_path.startswith(API + "/"):
			return 404, "404 page not found\n", {"Content-Type": "text/plain;charset=utf-8"}
		seg = [urllib.parse.unquote(s) for s in raw_path[len(API) + 1:].split("/")]
		if seg == ["version"] and method == "GET":
			return 200, {"version": GITEA_VERSION}, None
		if not authed:
			raise ApiError(401, {"message": "token is required"}
			    if self.auth(query)[0] == "none" else {"message": self.auth_error()})
		with d.lock:
			result = self.dispatch(method, seg, query, raw)
			if method not in ("GET", "HEAD"):
				d.save()
			return result

	def auth_error(self):
		d = self.server.double
		h = self.headers.get("Authorization") or ""
		if h.lower().startswith("basic "):
			try:
				user = base64.b64decode(h.split(None, 1)[1]).decode("utf-8").partition(":")[0]
			except (binascii.Error, ValueError, IndexError):
				user = ""
			if user.lower() == d.user.lower():
				u = d.find_owner(d.user)
				return "user's password is invalid [uid: %d, name: %s]" % (u["id"], u["login"])
			return "user does not exist [uid: 0, name: ]"
		return "token is required"

	def dispatch(self, method, seg, query, raw):
		d = self.server.double
		n = len(seg)

		def allow(*methods):
			if method not in methods:
				raise ApiError(405, {"message": "Method Not Allowed"})

		if seg == ["user"]:
			allow("GET")
			return 200, d.user_json(d.find_owner(d.user)), None
		if n == 2 and seg[0] == "users":
			allow("GET")
			u = d.find_owner(seg[1])
			if u is None:
				raise ApiError(404, not_found("user redirect does not exist [name: %s]"
				    % seg[1].lower()))
			return 200, d.user_json(u), None
		if n == 2 and seg[0] == "orgs":
			allow("GET")
			o = d.find_owner(seg[1])
			if o is None or o["type"] != "org":
				raise ApiError(404, not_found())
			return 200, d.org_json(o), None
		if n == 3 and seg[0] == "orgs" and seg[2] == "repos":
			allow("POST")
			form = bind("repo", method, self.headers, raw, query)
			o = d.find_owner(seg[1])
			if o is None or o["type"] != "org":
				raise ApiError(404, not_found())
			return self.create_repo(o, form)
		if seg == ["user", "repos"]:
			allow("POST")
			form = bind("repo", method, self.headers, raw, query)
			return self.create_repo(d.find_owner(d.user), form)
		if n == 4 and seg[0] == "admin" and seg[1] == "users" and seg[3] == "repos":
			allow("POST")
			form = bind("repo", method, self.headers, raw, query)
			u = d.find_owner(seg[2])
			if u is None:
				raise ApiError(404, not_found())
			return self.create_repo(u, form)
		if n >= 3 and seg[0] == "repos":
			return self.dispatch_repo(method, seg[1], seg[2], seg[3:], query, raw, allow)
		raise ApiError(404, not_found())

	def create_repo(self, owner, form):
		d = self.server.double
		name = form["Name"]
		if name.lower() in RESERVED_REPO_NAMES:
			raise ApiError(422, {"message": "name is reserved [name: %s]" % name})
		for pat in RESERVED_REPO_PATTERNS:
			if fnmatch.fnmatchcase(name.lower(), pat):
				raise ApiError(422, {"message": "name pattern is not allowed [pattern: %s]"
				    % pat})
		if d.find_repo(owner["login"], name) is not None:
			raise ApiError(409, {"message": "The repository with the same name already "
			    "exists."})
		repo = d.new_repo(owner, name, private=form["Private"],
		    default_branch=form["DefaultBranch"], auto_init=form["AutoInit"],
		    description=form["Description"] or "")
		return 201, d.repo_json(repo), None

	def dispatch_repo(self, method, owner, name, rest, query, raw, allow):
		d = self.server.double
		if not rest:
			allow("GET")
			repo = d.find_repo(owner, name)
			if repo is None:
				raise ApiError(404, not_found())
			return 200, d.repo_json(repo), None
		kind = rest[0]
		if kind == "branches" and len(rest) >= 2:
			allow("GET")
			repo = d.find_repo(owner, name)
			if repo is None:
				raise ApiError(404, not_found())
			bname = "/".join(rest[1:])
			if bname not in repo["branches"]:
				raise ApiError(404, not_found("branch does not exist [name: %s]" % bname))
			return 200, d.branch_json(repo, bname), None
		if kind not in ("labels", "issues", "pulls"):
			raise ApiError(404, not_found())
		repo = d.repo_for(owner, name, create=True)
		writes = method not in ("GET", "HEAD")
		if writes and repo["archived"]:
			raise ApiError(423, {"message": "repo is archived"})
		if kind == "labels":
			if len(rest) == 1:
				allow("GET", "POST")
				if method == "POST":
					return self.create_label(repo, bind("label", method, self.headers, raw,
					    query))
				return self.list_labels(repo, query)
			if len(rest) == 2:
				allow("GET")
				lid = to_int(rest[1])
				for l in repo["labels"]:
					if l["id"] == lid:
						return 200, d.label_json(repo, l), None
				raise ApiError(404, not_found())
			raise ApiError(404, not_found())
		if kind == "issues":
			if len(rest) == 1:
				allow("POST")
				return self.create_issue(repo, bind("issue", method, self.headers, raw, query))
			number = to_int(rest[1])
			if len(rest) == 2:
				allow("GET")
				return 200, d.issue_json(repo, d.issue_for(repo, number, True)), None
			if len(rest) == 3 and rest[2] == "comments":
				allow("GET", "POST")
				if method == "GET":
					iss = d.issue_for(repo, number, True)
					return 200, [d.comment_json(repo, iss, c) for c in iss["comments"]], None
				form = bind("comment", method, self.headers, raw, query)
				iss = d.issue_for(repo, number, True)
				c = {"id": d.next_id("comment"), "body": form["Body"], "user": d.user,
				    "created_at": now(), "updated_at": now()}
				iss["comments"].append(c)
				iss["updated_at"] = now()
				return 201, d.comment_json(repo, iss, c), None
			raise ApiError(404, not_found())
		# pulls
		if len(rest) < 2:
			raise ApiError(404, not_found())
		number = to_int(rest[1])
		if len(rest) == 2:
			allow("GET", "PATCH")
			if method == "GET":
				return 200, d.pr_json(repo, d.pr_for(repo, number, True)), None
			form = bind("edit_pr", method, self.headers, raw, query)
			return self.edit_pr(repo, d.pr_for(repo, number, True), form)
		if len(rest) == 3 and rest[2] == "merge":
			allow("GET", "POST")
			if method == "GET":
				iss = d.pr_for(repo, number, True)
				if iss["pr"]["merged"]:
					return 204, b"", None
				raise ApiError(404, not_found())
			form = bind("merge", method, self.headers, raw, query)
			return self.merge(repo, d.pr_for(repo, number, True), form)
		raise ApiError(404, not_found())

	def list_labels(self, repo, query):
		d = self.server.double
		q = urllib.parse.parse_qs(query)
		page = max(to_int(q.get("page", ["1"])[0]), 1)
		limit = to_int(q.get("limit", ["0"])[0])
		if limit <= 0:
			limit = 30
		limit = min(limit, 50)
		labels = repo["labels"]
		total = len(labels)
		items = labels[(page - 1) * limit:page * limit]
		headers = {"X-Total-Count": str(total)}
		last = max((total + limit - 1) // limit, 1)
		url = "%sapi/v1/repos/%s/%s/labels" % (d.base_url(), repo["owner"], repo["name"])
		links = []
		if page < last:
			links.append('<%s?limit=%d&page=%d>; rel="next"' % (url, limit, page + 1))
			links.append('<%s?limit=%d&page=%d>; rel="last"' % (url, limit, last))
		if page > 1:
			links.append('<%s?limit=%d&page=1>; rel="first"' % (url, limit))
			links.append('<%s?limit=%d&page=%d>; rel="prev"' % (url, limit, page - 1))
		if links:
			headers["Link"] = ",".join(links)
		return 200, [d.label_json(repo, l) for l in items], headers

	def create_label(self, repo, form):
		d = self.server.double
		color = normalize_color(form["Color"])
		if color is None:
			raise ApiError(422, {"message": "bad color code: %s" % form["Color"].strip()})
		label = {"id": d.next_id("label"), "name": form["Name"], "color": color,
		    "description": form["Description"] or "", "exclusive": bool(form["Exclusive"]),
		    "is_archived": bool(form["IsArchived"])}
		repo["labels"].append(label)
		return 201, d.label_json(repo, label), None

	def create_issue(self, repo, form):
		d = self.server.double
		iss = d.new_issue(repo, d.next_number(repo), form["Title"], False)
		iss["body"] = form["Body"] or ""
		iss["ref"] = form["Ref"] or ""
		iss["due_date"] = form["Deadline"]
		known = {l["id"] for l in repo["labels"]}
		iss["labels"] = [i for i in (form["Labels"] or []) if i in known]
		if form["Closed"]:
			iss["state"] = "closed"
			iss["closed_at"] = now()
		return 201, d.issue_json(repo, iss), None

	def edit_pr(self, repo, iss, form):
		d = self.server.double
		pr = iss["pr"]
		if form["Labels"] is not None:
			known = {l["id"] for l in repo["labels"]}
			iss["labels"] = [i for i in form["Labels"] if i in known]
		if form["State"] is not None:
			if pr["merged"]:
				raise ApiError(412, {"message": "cannot change state of this pull request, "
				    "it was already merged"})
		if form["Title"]:
			iss["title"] = form["Title"]
		if form["Body"] is not None:
			iss["body"] = form["Body"]
		if form["Base"]:
			pr["base"] = form["Base"]
		if form["Deadline"] is not None:
			iss["due_date"] = form["Deadline"]
		if form["RemoveDeadline"]:
			iss["due_date"] = None
		if form["State"] is not None:
			closed = form["State"] == "closed"
			if closed and iss["state"] != "closed":
				iss["state"], iss["closed_at"] = "closed", now()
			elif not closed and iss["state"] == "closed":
				iss["state"], iss["closed_at"] = "open", None
		iss["updated_at"] = now()
		return 201, d.pr_json(repo, iss), None

	def merge(self, repo, iss, form):
		d = self.server.double
		pr = iss["pr"]
		style = form["Do"]
		if pr["merged"]:
			raise ApiError(405, {"message": ""})
		if iss["state"] == "closed":
			raise ApiError(404, not_found())
		if pr["merge_state"] == "wip":
			raise ApiError(405, {"message": "Work in progress PRs cannot be merged"})
		if pr["merge_state"] == "not_mergeable":
			raise ApiError(405, {"message": "Please try again later"})
		if style == "manually-merged":
			if not repo["allow_manual_merge"]:
				raise ApiError(405, {"message": "%s is not allowed an merge style for this "
				    "repository" % style})
		else:
			if form["HeadCommitID"] and form["HeadCommitID"] != pr["head_sha"]:
				raise ApiError(409, {"message": "head out of date"})
			if pr["merge_state"] == "conflicted":
				return 409, {"Style": style, "StdOut": "", "StdErr": "CONFLICT (content): "
				    "Merge conflict in README.md\n", "Err": {}}, None
		pr["merged"] = True
		pr["merged_at"] = now()
		pr["merged_by"] = d.user
		pr["merge_commit_sha"] = form["MergeCommitID"] if style == "manually-merged" and \
		    form["MergeCommitID"] else fake_sha(repo["owner"], repo["name"], iss["number"],
		    "merge")
		pr["merge"] = {"Do": style, "MergeTitleField": form["MergeTitleField"],
		    "MergeMessageField": form["MergeMessageField"],
		    "delete_branch_after_merge": bool(form["DeleteBranchAfterMerge"])}
		iss["state"] = "closed"
		iss["closed_at"] = iss["updated_at"] = now()
		repo["branches"][pr["base"]] = pr["merge_commit_sha"]
		if form["DeleteBranchAfterMerge"]:
			repo["branches"].pop(pr["head"], None)
		return 200, b"", None

	# -- control requests

	def serve_control(self, method, raw_path, query):
		d = self.server.double
		entry = {"method": method, "path": raw_path, "query": query, "auth": "none",
		    "body": None, "status": None}
		try:
			raw = self.read_body()
			entry["body"] = log_body(raw)
			body = {}
			if raw.strip():
				try:
					body = json.loads(raw.decode("utf-8"))
				except ValueError:
					raise BadControl("the body is not JSON")
			status, out = 200, self.control(method, raw_path[len(CONTROL):], query, body)
		except BadControl as e:
			status, out = 400, {"message": str(e)}
		except ApiError as e:
			status, out = e.status, e.body
		entry["status"] = status
		entry["query"] = redact_query(query)
		d.record(entry, control=True)
		try:
			self.send(status, d.scrubbed_json(out), None)
		except OSError:
			self.close_connection = True

	def control(self, method, what, query, body):
		d = self.server.double
		q = urllib.parse.parse_qs(query)
		if what == "/health" and method == "GET":
			return {"ok": True, "port": d.port}
		if what == "/calls" and method == "GET":
			since = to_int(q.get("since", ["0"])[0])
			with d.lock:
				return {"total": d.seq, "calls": [c for c in d.calls if c["seq"] > since]}
		if what == "/state" and method == "GET":
			with d.lock:
				return copy.deepcopy(d.state)
		if what == "/reset" and method == "POST":
			if not isinstance(body, dict):
				raise BadControl("the body is a JSON object")
			with d.lock:
				if body.get("faults", True):
					d.clear_faults()
				if body.get("calls", True):
					d.calls = []
				if body.get("state", True):
					d.state = copy.deepcopy(d.initial)
					d.save()
			return {"ok": True}
		if what == "/fault":
			if method == "POST":
				return {"id": d.add_fault(body)}
			if method == "GET":
				with d.lock:
					return {"down": d.down, "faults": copy.deepcopy(d.faults)}
			if method == "DELETE":
				d.clear_faults()
				return {"ok": True}
		if what == "/shutdown" and method == "POST":
			d.stop()
			return {"ok": True}
		setters = {"/pr": d.control_pr, "/repo": d.control_repo, "/org": d.control_org,
		    "/user": d.control_user, "/label": d.control_label, "/branch": d.control_branch}
		if what in setters and method == "POST":
			if not isinstance(body, dict):
				raise BadControl("the body is a JSON object")
			with d.lock:
				out = setters[what](body)
				d.save()
				return out
		raise ApiError(404, {"message": "no such control endpoint: %s %s" % (method, what)})


def to_int(s):
	try:
		return int(s)
	except (TypeError, ValueError):
		return 0


def log_body(raw):
	if not raw:
		return None
	text = raw.decode("utf-8", errors="replace")
	try:
		return json.loads(text)
	except ValueError:
		return text


def redact_query(query):
	if not query:
		return query
	out = []
	for part in query.split("&"):
		key = urllib.parse.unquote_plus(part.partition("=")[0])
		if key in ("token", "access_token"):
			part = key + "=" + REDACTED
		out.append(part)
	return "&".join(out)


def read_secret(value, path, what):
	if path:
		try:
			with open(path, encoding="utf-8") as f:
				return f.read().rstrip("\r\n")
		except OSError as e:
			say("fatal: unable to read the %s file: %s" % (what, e.strerror))
			sys.exit(100)
	return value


def serve_loop(double, server, make):
	"""Serve until stopped; after a "refuse" fault the listener stays closed for a while,
	then MAKE() opens it again on the same port. The git double uses this too."""
	while True:
		server.serve_forever(poll_interval=0.1)
		server.server_close()
		double.closed_event.set()
		if double.stopping:
			break
		double.reopen_event.wait(double.refuse_seconds)
		if double.stopping:
			break
		for _ in range(50):
			try:
				server = make()
				break
			except OSError:
				time.sleep(0.1)
		else:
			say("fatal: unable to listen again on 127.0.0.1:%d" % double.port)
			sys.exit(111)
		with double.lock:
			double.server = server
			double.down = False


def main():
	p = argparse.ArgumentParser(prog="gitea-double.py", description="Gitea REST API test double")
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
	args = p.parse_args()
	args.password = read_secret(args.password, args.password_file, "password")
	args.token = read_secret(args.token, args.token_file, "token")
	if not 0 <= args.port <= 65535 or not 200 <= args.fail_status <= 599:
		say("fatal: bad --port or --fail-status")
		sys.exit(100)

	try:
		double = Double(args)
	except (OSError, ValueError, BadControl) as e:
		say("fatal: unable to load the state file: %s" % type(e).__name__)
		sys.exit(100)
	try:
		server = Server(double, args.port)
	except OSError as e:
		say("fatal: unable to listen on 127.0.0.1:%d: %s" % (args.port, e.strerror))
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
		write_atomic(args.port_file, "%d\n" % double.port)
	double.save()
	serve_loop(double, server, lambda: Server(double, double.port))
	with double.lock:
		double.save()
	sys.exit(0)


if __name__ == "__main__":
	main()
