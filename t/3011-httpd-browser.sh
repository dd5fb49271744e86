#!/bin/sh
# See LICENSE.
test_description='orket-httpd /ws/events in a real browser: headless Chromium shows the events a python client gets'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

# Debian's chromium (make check installs it); a clone without it skips, saying why.
if command -v chromium >/dev/null; then
	test_set_prereq CHROMIUM
else
	say "chromium is not installed: the browser tests are skipped (apt-get install chromium)"
fi

ws() { python3 "$TEST_DIR/ws-client.py" "$(cat h.port)" "$@"; }

# page_start NAME: the page server on an ephemeral port (NAME.port); its config NAME.config,
# its reports NAME.report. Stopped with daemon_stop NAME.
page_start() {
	rm -f "$1.port" && : >"$1.report" || return 1
	python3 "$TEST_DIR/browser/page-server.py" --port-file "$1.port" --config "$1.config" \
	    --report "$1.report" --lifetime 300 2>"$1.err" &
	echo $! >"$1.pid"
	wait_until "test -s $1.port" 100
}

# page_config NAME KEY: the page of server NAME connects to the daemon h with KEY.
page_config() {
	printf '{"url":"ws://127.0.0.1:%s/ws/events","key":"%s"}\n' "$(cat h.port)" "$2" >"$1.config"
}

# browser_start NAME URL: headless Chromium showing URL, in a session (and process group)
# of its own whose id is in NAME.pid (and NAME.sid, kept after the stop), so that
# browser_stop reaches its processes. Everything it writes stays in $TRASH/chrome-NAME:
# the profile, and (through XDG_CONFIG_HOME) the database of its crash handler, which
# would go to ~/.config otherwise. As root it needs --no-sandbox. timeout bounds its life
# should the test die before stopping it.
browser_start() {
	rm -rf "$TRASH/chrome-$1" && mkdir -p "$TRASH/chrome-$1" || return 1
	XDG_CONFIG_HOME="$TRASH/chrome-$1/config" XDG_CACHE_HOME="$TRASH/chrome-$1/cache" \
	    setsid timeout 90 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
	    --no-default-browser-check --disable-extensions --disable-sync \
	    --disable-background-networking --disable-component-update \
	    --user-data-dir="$TRASH/chrome-$1/profile" "$2" </dev/null >"$1.out" 2>&1 &
	echo $! >"$1.pid" && cp "$1.pid" "$1.sid"
}

# browser_procs NAME: the live processes of that browser: those of its session, and those
# that left it (the crash handler starts its own) but name a file of $TRASH/chrome-NAME.
# One python3 for the whole scan: a shell loop over /proc forks a few times per process,
# which made each poll take a second.
cat >"$TRASH/.procs.py" <<'PY'
import os, sys
sid, mine = sys.argv[1], (sys.argv[2] + "/").encode()
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % p, "rb") as f:
            # state, ppid, pgrp, session: after the command's closing parenthesis
            st = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/%s/cmdline" % p, "rb") as f:
            cmd = f.read()
    except OSError:
        continue
    if st[0] != b"Z" and (st[3].decode() == sid or mine in cmd):
        print(p)
PY
browser_procs() {
	bp_sid=$(cat "$1.sid" 2>/dev/null) || bp_sid=none
	python3 "$TRASH/.procs.py" "$bp_sid" "$TRASH/chrome-$1"
}

# browser_stop NAME: TERM to its process group, KILL to what is left after 5 s; it fails
# when a process of it is still there.
browser_stop() {
	bs_pid=$(cat "$1.pid" 2>/dev/null) || return 0
	kill -TERM -"$bs_pid" 2>/dev/null
	if ! wait_until "test -z \"\$(browser_procs $1)\"" 50; then
		# shellcheck disable=SC2046
		kill -KILL -"$bs_pid" $(browser_procs "$1") 2>/dev/null
		wait_until "test -z \"\$(browser_procs $1)\"" 50
	fi
	# Reaped only once gone: a wait on a browser still there would block until timeout
	# kills it, hiding the leak this is to catch.
	bs_left=$(browser_procs "$1")
	[ -n "$bs_left" ] || wait "$bs_pid" 2>/dev/null
	rm -f "$1.pid"
	test -z "$bs_left" || { echo "browser_stop: $1 left processes $bs_left" >&2; return 1; }
}

# reports FILE RUN TYPE [MIN SECONDS]: how many reports of that type the page of RUN made;
# with MIN, wait (SECONDS at most, by the clock) until there are that many, and fail,
# saying so, when there are not.
cat >"$TRASH/.reports.py" <<'PY'
import json, sys, time
path, run, typ = sys.argv[1:4]
want = int(sys.argv[4]) if len(sys.argv) > 4 else 0
deadline = time.monotonic() + (float(sys.argv[5]) if len(sys.argv) > 5 else 0)
while True:
    with open(path, encoding="utf-8") as f:
        n = sum(1 for r in map(json.loads, f) if r["run"] == run and r["type"] == typ)
    if n >= want or time.monotonic() >= deadline:
        break
    time.sleep(0.1)
print(n)
if n < want:
    sys.exit("reports: %d %s report(s) of %s in %s, not %d" % (n, typ, run, path, want))
PY
reports() {
	python3 "$TRASH/.reports.py" "$@"
}

test_expect_success HTTPD,CHROMIUM 'start orket-httpd, a page server it allows, one it does not' '
	page_start pa && page_start pb &&
	httpd_start_keep h ORKET_ALLOWED_ORIGINS="http://ui.example, http://127.0.0.1:$(cat pa.port)" &&
	page_config pa "$KEY" && page_config pb "$KEY" &&
	curl -sf "http://127.0.0.1:$(cat pa.port)/events.html" | grep -q "new WebSocket"
'

test_expect_success HTTPD,CHROMIUM 'Chromium shows the events of a run: those a python client gets, in order' '
	test_when_finished "browser_stop ba" &&
	browser_start ba "http://127.0.0.1:$(cat pa.port)/events.html?run=good" &&
	reports pa.report good open 1 30 &&
	{ ws --key "$KEY" --time 3 >c 2>e & } && p=$! &&
	wait_until "grep -q \"http 101\" e" 50 &&
	start_run h WEB-1 &&
	{ wait $p; true; } &&
	test $(wc -l <c) -ge 3 &&
	reports pa.report good event $(wc -l <c) 10 &&
	sleep 0.3 &&
	python3 -c "import json, sys
rep = [json.loads(l) for l in open(\"pa.report\")]
rep = [r for r in rep if r[\"run\"] == \"good\"]
assert [r[\"type\"] for r in rep][0] == \"open\", rep
got = [r[\"text\"] for r in rep if r[\"type\"] == \"event\"]
want = open(\"c\").read().splitlines()
assert got == want, (got, want)
ev = [json.loads(t) for t in got]
seqs = [e[\"seq\"] for e in ev]
assert seqs == sorted(set(seqs)), seqs
for e in ev:
    assert set(e) >= {\"seq\", \"timestamp\", \"role\", \"event\", \"data\"}, e
assert any(e[\"data\"].get(\"session_id\") == sys.argv[1] for e in ev if isinstance(e[\"data\"], dict)), ev
# What the page shows, read back from its DOM: each frame, one item each, in order.
last = [r for r in rep if r[\"type\"] == \"event\"][-1]
assert last[\"shown\"] == want, last[\"shown\"]
print(len(got), \"events\", seqs)
" "$(cat sid)" &&
	test $(reports pa.report good close) = 0 &&
	browser_procs ba >procs && test -s procs &&
	! while read -r q; do
		tr "\0" "\n" 2>/dev/null <"/proc/$q/cmdline"
	done <procs | grep -F "$KEY"
'

test_expect_success HTTPD,CHROMIUM 'no process of that Chromium is left' '
	test ! -e ba.pid && test -z "$(browser_procs ba)"
'

test_expect_success HTTPD,CHROMIUM 'a page of an origin not allowed: refused with 403, no open, no event' '
	test_when_finished "browser_stop bb" &&
	n403=$(metric h "orket_httpd_requests_total{code=\"403\"}") && n403=${n403:-0} &&
	nauth=$(metric h orket_httpd_auth_failures_total) &&
	browser_start bb "http://127.0.0.1:$(cat pb.port)/events.html?run=foreign" &&
	reports pb.report foreign close 1 30 &&
	start_run h WEB-2 && wait_run h "$(cat sid)" && sleep 0.3 &&
	test $(reports pb.report foreign open) = 0 &&
	test $(reports pb.report foreign event) = 0 &&
	grep "\"type\":\"close\"" pb.report | grep -q "\"code\":1006" &&
	test "$(metric h "orket_httpd_requests_total{code=\"403\"}")" -gt "$n403" &&
	test "$(metric h orket_httpd_auth_failures_total)" = "$nauth"
'

test_expect_success HTTPD,CHROMIUM 'the allowed origin with a wrong key: refused too, an auth failure' '
	test_when_finished "browser_stop bc" &&
	nauth=$(metric h orket_httpd_auth_failures_total) &&
	page_config pa wrong-key &&
	browser_start bc "http://127.0.0.1:$(cat pa.port)/events.html?run=wrongkey" &&
	reports pa.report wrongkey close 1 30 &&
	test $(reports pa.report wrongkey open) = 0 &&
	test $(reports pa.report wrongkey event) = 0 &&
	test "$(metric h orket_httpd_auth_failures_total)" -gt "$nauth"
'

test_expect_success HTTPD,CHROMIUM 'the key never reaches the daemon'"'"'s logs' '
	! grep -F "$KEY" h.err h.log
'

for n in ba bb bc; do
	browser_stop $n
done
daemon_stop h
daemon_stop pa
daemon_stop pb
test_done
