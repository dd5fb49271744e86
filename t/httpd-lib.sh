# See LICENSE. Helpers for the orket-httpd tests: the daemon, requests, runners, processes.
# Sourced after t/lib.sh.

unset ORKET_HOST ORKET_PORT ORKET_API_KEY ORKET_ALLOW_INSECURE_NO_API_KEY \
    ORKET_ALLOWED_ORIGINS ORKET_EVENT_LOG ORKET_WORKSPACE ORKET_RESOLVE ORKET_RUNNER \
    ORKET_RUNNER_ENV_ALLOW ORKET_MAX_RUNS ORKET_RUN_TIMEOUT_SEC ORKET_MAX_CONNS ORKET_DEBUG

command -v curl >/dev/null && command -v python3 >/dev/null && test_have_prereq SQLITE3 &&
	test_set_prereq HTTPD

# The key of the tests: it must never show up in a log.
KEY='k3y-Ab9/zz+Q-1f4e'

# valgrind 3.19 does not know openat2 (syscall 437): it answers ENOSYS, which the daemon
# handles by walking, but also writes a warning into its report, which must stay empty.
# Under valgrind the walk is therefore asked for; tests of what only openat2 does (follow
# a symlink that stays inside) need the OPENAT2 prerequisite.
HTTPD_VGENV=
if [ "${ORKET_VALGRIND:-}" = 1 ]; then
	HTTPD_VGENV=ORKET_RESOLVE=walk
else
	kv=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
	set -- $kv
	if [ "${1:-0}" -gt 5 ] || { [ "${1:-0}" = 5 ] && [ "${2:-0}" -ge 6 ]; }; then
		test_set_prereq OPENAT2
	fi
	set --
fi

# httpd_start NAME [VAR=VALUE...]: orket-httpd on 127.0.0.1, an ephemeral port, with its
# own database NAME.db, event log NAME.log and workspace NAME-ws (all fresh) and the test
# key; stopped after the test. The arguments come last, so they override.
httpd_start() {
	hn=$1
	shift
	test_when_finished "daemon_stop $hn"
	httpd_start_keep "$hn" "$@"
}

# httpd_start_keep NAME [VAR=VALUE...]: the same, left running (stop it with daemon_stop).
httpd_start_keep() {
	hn=$1
	shift
	rm -rf "$hn.db" "$hn.db-wal" "$hn.db-shm" "$hn.log" "$hn.log."* "$hn-ws" || return 1
	# shellcheck disable=SC2086
	daemon_start "$hn" env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB="$hn.db" \
	    ORKET_EVENT_LOG="$hn.log" ORKET_WORKSPACE="$hn-ws" ORKET_API_KEY="$KEY" \
	    $HTTPD_VGENV "$@" orket-httpd
}

# api NAME METHOD PATH [curl options...]: one request, with the key unless NOKEY=1. The
# file "out" gets the status on its first line and the body after it; "body" the body,
# "headers" the response's header lines.
api() {
	an=$1 am=$2 ap=$3
	shift 3
	if [ "${NOKEY:-}" != 1 ]; then
		set -- -H "X-API-Key: $KEY" "$@"
	fi
	if [ "$am" = HEAD ]; then
		set -- -I "$@"
	else
		set -- -X "$am" "$@"
	fi
	rm -f body headers
	curl -s -S --path-as-is --max-time 20 -D headers -o body -w '%{http_code}' "$@" \
	    "http://127.0.0.1:$(cat "$an.port")$ap" >status || return 1
	touch body
	{ cat status; echo; cat body; echo; } >out
	tr -d '\r' <headers >headers.tmp && mv headers.tmp headers
}

# post NAME PATH JSON: POST a JSON body.
post() {
	api "$1" POST "$2" -H 'Content-Type: application/json' --data-binary "$3"
}

# expect_answer STATUS BODY: the last api call answered exactly this.
expect_answer() {
	printf '%s\n%s\n' "$1" "$2" >expect && test_cmp expect out
}

# expect_status STATUS: the last api call answered this status.
expect_status() {
	test "$(cat status)" = "$1" || {
		echo "expect_status: want $1, got $(cat status): $(head -c 2000 body)" >&2
		return 1
	}
}

# jcheck 'python expression': true of j, the last answer's body parsed as JSON.
jcheck() {
	python3 -c 'import json, sys
j = json.load(open("body"))
if not eval(sys.argv[1]):
    sys.exit("jcheck: false: %s\nbody: %s" % (sys.argv[1], open("body").read()[:3000]))' "$1"
}

# header NAME: the last answer's header value (case-insensitive name), empty when absent.
header() {
	awk -v n="$1" 'BEGIN { n = tolower(n) } {
		i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
			v = substr($0, i + 1); sub(/^ */, "", v); print v } }' headers
}

# metric NAME: a value of the daemon's GET /metrics (the whole name with labels).
metric() {
	curl -s "http://127.0.0.1:$(cat "$1.port")/metrics" |
	    awk -v m="$2" '$1 == m { print $2 }'
}

# wait_until 'COMMAND' [TENTHS]: poll until it succeeds (10 s unless told).
wait_until() {
	wu=0
	while ! eval "$1" >/dev/null 2>&1; do
		wu=$((wu + 1))
		[ $wu -lt "${2:-100}" ] || { echo "wait_until: gave up on: $1" >&2; return 1; }
		sleep 0.1
	done
}

# sql NAME 'SQL': run it on daemon NAME's database.
sql() {
	sqlite3 -cmd '.timeout 5000' "$1.db" "$2"
}

# session_status NAME ID: the sessions.status of a run.
session_status() {
	sql "$1" "SELECT status FROM sessions WHERE id = '$2'"
}

# wait_run NAME ID: until the run has ended (its row is no longer 'running').
wait_run() {
	wait_until "test \"\$(session_status $1 $2)\" != running && test -n \"\$(session_status $1 $2)\""
}

# run_end NAME ID: the data of the run's run_end record, from its stored transcript.
run_end() {
	sql "$1" "SELECT transcript FROM sessions WHERE id = '$2'" | python3 -c 'import json, sys
t = json.load(sys.stdin)
e = [r for r in t if r["event"] == "run_end"]
print(json.dumps(e[-1]["data"], sort_keys=True) if e else "none")'
}

# children NAME: the pids of the daemon's children; zombies NAME: those in state Z.
# Read from /proc: the field after the command's closing parenthesis is the state, then
# the parent's pid.
proc_children() {
	pc_parent=$(cat "$1.pid") || return 1
	for pc_f in /proc/[0-9]*/stat; do
		pc_s=$(cat "$pc_f" 2>/dev/null) || continue
		pc_rest=${pc_s##*) }
		# shellcheck disable=SC2086
		set -- $pc_rest
		[ "${2:-}" = "$pc_parent" ] || continue
		if [ -z "$pc_want" ] || [ "$1" = "$pc_want" ]; then
			pc_p=${pc_f#/proc/}
			echo "${pc_p%/stat}"
		fi
	done
	return 0
}
children() { pc_want= proc_children "$1"; }
zombies() { pc_want=Z proc_children "$1"; }

# no_zombies NAME: the daemon has no zombie child (checked a few times, 3 s at most,
# since a child that just exited is a zombie until the loop reaps it).
no_zombies() {
	wait_until "test -z \"\$(zombies $1)\"" 30 || { echo "zombies of $1: $(zombies "$1")" >&2; return 1; }
}

# runner NAME 'SHELL BODY': a runner script NAME.sh in this folder (outside every workspace).
runner() {
	printf '#!/bin/sh\n%s\n' "$2" >"$TRASH/$1.sh" && chmod +x "$TRASH/$1.sh"
}

# multi_runner: runner.sh, one runner whose behaviour the asset id picks (its first
# argument); arguments: asset, build, session.
multi_runner() {
	cat >"$TRASH/runner.sh" <<RUNNER
#!/bin/sh
say() { printf '%s\n' "\$1"; }
case \$1 in
ok*)
	say '{"event":"args","role":"runner","data":{"asset":"'"\$1"'","build":"'"\$2"'","session":"'"\$3"'"}}'
	say '{"event":"model_usage","role":"coder","data":{"total_tokens":42}}'
	say '{"event":"tool_call","role":"coder","data":{"tool":"write_file","args":{"path":"x.py","content":"a\\nb\\n"}}}'
	say 'plain text, not JSON'
	say '{"event":"data_role","data":{"role":"architect","n":1}}'
	say '{"event":"scalar","data":[1,2]}'
	say '{"event":"own_session","data":{"session_id":"mine"}}'
	say '{"no_event":1}'
	printf '%s' '{"event":"last line without a newline"}'
	exit 0 ;;
fail3)
	say '{"event":"about_to_fail"}'
	exit 3 ;;
segv)
	say '{"event":"about_to_crash"}'
	kill -SEGV \$\$ ;;
env)
	env >"$TRASH/runner-env.\$3" ;;
sleep*)
	say '{"event":"sleeping"}'
	exec sleep 30 ;;
trap)
	trap '' TERM
	say '{"event":"ignoring_term"}'
	while :; do sleep 1; done ;;
grandchild)
	sleep 300 &
	say '{"event":"forked","data":{"child":'\$!'}}'
	echo \$! >"$TRASH/grandchild.pid"
	exit 0 ;;
escape)
	setsid sleep 6 &
	echo \$! >"$TRASH/escaped.pid"
	sleep 0.5	# so that it has left the group before the group is killed
	say '{"event":"escaped"}'
	exit 0 ;;
big)
	i=0
	while [ \$i -lt 12000 ]; do
		say '{"event":"tick","data":{"i":'\$i',"pad":"................................................................................"}}'
		i=\$((i + 1))
	done ;;
long)
	head -c 70000 /dev/zero | tr '\\0' a
	echo
	say '{"event":"after_long"}' ;;
slow)
	say '{"event":"first_event"}'
	sleep 2
	say '{"event":"second_event"}' ;;
*)
	say '{"event":"unknown_asset"}'
	exit 1 ;;
esac
RUNNER
	chmod +x "$TRASH/runner.sh"
}

# start_run NAME ASSET: run-active for the asset; the session id into "sid".
start_run() {
	post "$1" /v1/system/run-active "{\"issue_id\":\"$2\"}" && expect_status 200 &&
	python3 -c 'import json; print(json.load(open("body"))["session_id"])' >sid &&
	grep -q "^[0-9a-f]\{8\}$" sid
}

# evq LOG SID EVENT [FIELD]: the first event EVENT of run SID in event log LOG; exit 1 when
# there is none; with FIELD, print that member of its data.
cat >"$TRASH/.evq.py" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if e["event"] == sys.argv[3] and e["data"].get("session_id") == sys.argv[2]:
        if len(sys.argv) > 4:
            print(e["data"][sys.argv[4]])
        sys.exit(0)
sys.exit(1)
PY
evq() {
	python3 "$TRASH/.evq.py" "$@"
}

# wait_event NAME SID EVENT: until daemon NAME has logged that event of the run.
wait_event() {
	wait_until "evq $1.log $2 $3"
}

# run_pid NAME SID: the runner's pid, from run_start.
run_pid() {
	evq "$1.log" "$2" run_start pid
}
