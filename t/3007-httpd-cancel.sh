#!/bin/sh
# See LICENSE.
test_description='orket-httpd: cancel, the run cap, timeouts, process groups, big output, shutdown'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

multi_runner

# alive PID: the process exists and is not a zombie.
alive() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d" " -f1)
	test -n "$st" && test "$st" != Z
}

test_expect_success HTTPD 'start with ORKET_MAX_RUNS=1' '
	httpd_start_keep c "ORKET_RUNNER=[\"sh\", \"$TRASH/runner.sh\"]" ORKET_MAX_RUNS=1
'

test_expect_success HTTPD 'cancel: SIGTERM to the group, the run fails as cancelled' '
	start_run c sleep-a && sid=$(cat sid) &&
	wait_event c $sid sleeping && pid=$(run_pid c $sid) &&
	alive $pid &&
	post c /v1/runs/$sid/cancel "" &&
	expect_answer 200 "{\"ok\":true,\"session_id\":\"$sid\"}" &&
	wait_run c $sid && test "$(session_status c $sid)" = failed &&
	run_end c $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"cancelled\"] and d[\"signal\"] == 15 and d[\"signal_name\"] == \"SIGTERM\", d" &&
	! alive $pid && no_zombies c &&
	test_grep "\"event\":\"api_run_cancel\",\"data\":{\"session_id\":\"$sid\"}" c.log
'

test_expect_success HTTPD 'cancel: 404 for no such session, 409 for one that is over' '
	post c /v1/runs/nosuch/cancel "" && expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	post c /v1/runs/$(cat sid)/cancel "" && expect_answer 409 "{\"detail\":\"Run is not active\"}" &&
	api c GET /v1/runs/x/cancel && expect_status 405
'

test_expect_success HTTPD 'the cap: one run at a time, 429 with Retry-After past it' '
	start_run c sleep-b && first=$(cat sid) &&
	post c /v1/system/run-active "{\"issue_id\":\"sleep-c\"}" &&
	expect_answer 429 "{\"detail\":\"Too many runs in progress\"}" &&
	test "$(header Retry-After)" = 5 &&
	test "$(metric c "orket_httpd_runs_total{result=\"rejected\"}")" = 1 &&
	test "$(sql c "SELECT count(*) FROM sessions")" = 2 &&
	post c /v1/runs/$first/cancel "" && wait_run c $first &&
	start_run c ok-after && sid=$(cat sid) && wait_run c $sid &&
	test "$(session_status c $sid)" = done && no_zombies c
'

test_expect_success HTTPD 'a runner ignoring SIGTERM is killed after the grace period' '
	start_run c trap && sid=$(cat sid) &&
	wait_event c $sid ignoring_term &&
	post c /v1/runs/$sid/cancel "" && expect_status 200 &&
	sleep 1 && test "$(session_status c $sid)" = running &&
	wait_run c $sid &&
	run_end c $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"cancelled\"] and d[\"signal\"] == 9 and d[\"duration_ms\"] >= 4500, d" &&
	no_zombies c && test -z "$(children c)"
'

test_expect_success HTTPD 'what the runner leaves in its group is killed when it exits' '
	rm -f grandchild.pid &&
	start_run c grandchild && sid=$(cat sid) && wait_run c $sid &&
	test "$(session_status c $sid)" = done &&
	gc=$(cat grandchild.pid) && test -n "$gc" &&
	wait_until "! alive $gc" && no_zombies c
'

test_expect_success HTTPD 'a process outside the group holding the output: the run ends anyway' '
	rm -f escaped.pid &&
	start_run c escape && sid=$(cat sid) &&
	test_when_finished "kill \$(cat escaped.pid) 2>/dev/null" &&
	wait_until "test -s escaped.pid" && alive $(cat escaped.pid) &&
	wait_run c $sid && test "$(session_status c $sid)" = done &&
	test_grep "run $sid: a process outside its group keeps its output open" c.err &&
	no_zombies c
'

test_expect_success HTTPD 'the transcript reaches the session row while the run goes on' '
	start_run c slow && sid=$(cat sid) &&
	wait_until "sql c \"SELECT transcript FROM sessions WHERE id = \\\"$sid\\\"\" | grep -q first_event" &&
	test "$(session_status c $sid)" = running &&
	api c GET /v1/sessions/$sid && jcheck "j[\"status\"] == \"running\" and \"first_event\" in j[\"transcript\"] and \"second_event\" not in j[\"transcript\"]" &&
	wait_run c $sid && test "$(session_status c $sid)" = done &&
	sql c "SELECT transcript FROM sessions WHERE id = \"$sid\"" | grep -q second_event
'

test_expect_success HTTPD 'a line over 64 KiB is dropped and said so; the next one is read' '
	start_run c long && sid=$(cat sid) && wait_run c $sid &&
	sql c "SELECT transcript FROM sessions WHERE id = \"$sid\"" >tx &&
	python3 -c "import json
t = json.load(open(\"tx\"))
ev = [r[\"event\"] for r in t]
assert ev == [\"run_start\", \"runner_line_too_long\", \"after_long\", \"run_end\"], ev
assert t[1][\"data\"][\"bytes\"] == 70000, t[1]" &&
	test "$(metric c orket_httpd_runner_lines_dropped_total)" = 1
'

test_expect_success HTTPD 'past 1 MiB the transcript stops growing; every event is still logged' '
	start_run c big && sid=$(cat sid) && wait_run c $sid &&
	test "$(session_status c $sid)" = done &&
	sql c "SELECT length(transcript) FROM sessions WHERE id = \"$sid\"" >len &&
	test "$(cat len)" -le $((1048576 + 16384)) && test "$(cat len)" -gt 1000000 &&
	run_end c $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"events\"] == 12000 and d[\"events_dropped\"] > 1000, d" &&
	test "$(grep -c "\"event\":\"tick\"" c.log)" = 12000 &&
	api c GET /v1/sessions/$sid && expect_status 200
'

test_expect_success HTTPD 'ORKET_RUN_TIMEOUT_SEC: a run over it is stopped and fails' '
	rm -rf t.db* t-ws t.log &&
	test_when_finished "daemon_stop t" &&
	daemon_start t env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=t.db \
	    ORKET_EVENT_LOG=t.log ORKET_WORKSPACE=t-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV \
	    ORKET_RUNNER="sh $TRASH/runner.sh" ORKET_RUN_TIMEOUT_SEC=1 orket-httpd &&
	start_run t sleep-t && sid=$(cat sid) && wait_run t $sid &&
	run_end t $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"timed_out\"] and not d[\"cancelled\"] and d[\"signal\"] == 15, d" &&
	test_grep "over ORKET_RUN_TIMEOUT_SEC" t.err && no_zombies t
'

test_expect_success HTTPD 'SIGTERM with a run in progress: it is stopped and recorded, exit 0' '
	start_run c sleep-s && sid=$(cat sid) &&
	wait_event c $sid sleeping && pid=$(run_pid c $sid) &&
	daemon_stop c && echo 0 >expect && test_cmp expect c.status &&
	test "$(session_status c $sid)" = failed &&
	run_end c $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"stopped\"] and d[\"signal\"] == 15, d" &&
	! alive $pid
'

test_expect_success HTTPD 'a session left running by a daemon that died is failed at start' '
	sql c "INSERT INTO sessions (id, status, start_time) VALUES (\"lost1\", \"running\", \"x\"),
	    (\"old1\", \"Started\", \"y\")" &&
	daemon_start c env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=c.db \
	    ORKET_EVENT_LOG=c.log ORKET_WORKSPACE=c-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV orket-httpd &&
	test "$(session_status c lost1)" = failed &&
	test "$(session_status c old1)" = Started &&
	test -n "$(sql c "SELECT end_time FROM sessions WHERE id = \"lost1\"")" &&
	test_grep "1 run(s) left running by an earlier daemon are marked failed" c.err &&
	test_grep "\"event\":\"runs_interrupted\",\"data\":{\"count\":1}" c.log &&
	daemon_stop c
'

daemon_stop c
test_done
