#!/bin/sh
# See LICENSE.
test_description='orket-httpd /ws/events: key and origin, events of runs in order, replay, protocol errors'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

ws() { python3 "$TEST_DIR/ws-client.py" "$(cat h.port)" "$@"; }

test_expect_success HTTPD 'start' '
	httpd_start_keep h ORKET_ALLOWED_ORIGINS=http://ui.example
'

test_expect_success HTTPD 'without the key, or with a wrong one: 403, no upgrade' '
	test_expect_code 2 ws --time 1 2>err && test_grep "http 403" err &&
	test_expect_code 2 ws --key wrong --time 1 2>err && test_grep "http 403" err &&
	test_expect_code 2 ws --query key=wrong --time 1 2>err && test_grep "http 403" err
'

test_expect_success HTTPD 'a foreign Origin is refused; an allowed one is upgraded' '
	test_expect_code 2 ws --key "$KEY" --origin http://evil.example --time 1 2>err &&
	test_grep "http 403" err &&
	ws --key "$KEY" --origin http://ui.example --time 0.5 2>err && test_grep "http 101" err
'

test_expect_success HTTPD 'a bad since is 400' '
	test_expect_code 2 ws --key "$KEY" --query since=x --time 1 2>err && test_grep "http 400" err
'

# check_events FILE: at least 3 events, each with every field, seq strictly increasing.
cat >check-events.py <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert len(ev) >= 3, ev
seqs = [e["seq"] for e in ev]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
for e in ev:
    assert set(e) >= {"seq", "timestamp", "role", "event", "data"}, e
PY

# Both clients are upgraded (their "http 101") before the run starts, however busy the
# machine; they stop 4 s later, when the built-in run has long ended.
test_expect_success HTTPD 'a run'"'"'s events reach every client, in order, with increasing seq' '
	{ ws --key "$KEY" --time 8 >c1 2>e1 & } && p1=$! &&
	{ ws --query "key=$(printf %s "$KEY" | sed "s|/|%2F|g; s|+|%2B|g")" --time 8 >c2 2>e2 & } && p2=$! &&
	wait_until "grep -q \"http 101\" e1 && grep -q \"http 101\" e2" 50 &&
	api h POST /v1/system/run-active -H "Content-Type: application/json" -d "{\"issue_id\":\"WS-1\"}" &&
	{ wait $p1; wait $p2; true; } &&
	python3 check-events.py c1 &&
	python3 check-events.py c2 &&
	test_cmp c1 c2
'

test_expect_success HTTPD 'replay after reconnect: since=SEQ gives the events after it' '
	first=$(head -n 1 c1 | python3 -c "import json,sys; print(json.load(sys.stdin)[\"seq\"])") &&
	{ ws --key "$KEY" --query "since=$first" --count 2 --time 3 >r 2>/dev/null; true; } &&
	sed -n 2,3p c1 >expect && test_cmp expect r
'

test_expect_success HTTPD 'binary frames are closed with 1003, unmasked with 1002, oversized with 1009' '
	ws --key "$KEY" --send-binary --expect-close 1003 --time 3 2>/dev/null &&
	ws --key "$KEY" --send-unmasked --expect-close 1002 --time 3 2>/dev/null &&
	ws --key "$KEY" --send-oversized --expect-close 1009 --time 3 2>/dev/null &&
	curl -s "http://127.0.0.1:$(cat h.port)/health" | grep -q status
'

test_expect_success HTTPD 'the key never reaches the log' '
	! grep -F "$KEY" h.err h.log
'

test_expect_success HTTPD 'SIGTERM with a client connected: it is closed and the daemon exits 0' '
	{ ws --key "$KEY" --time 10 >/dev/null 2>&1 & } && p=$! &&
	sleep 0.5 && daemon_stop h && echo 0 >expect && test_cmp expect h.status &&
	{ wait $p; true; }
'
daemon_stop h
test_done
