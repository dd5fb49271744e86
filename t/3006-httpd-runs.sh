#!/bin/sh
# See LICENSE.
test_description='orket-httpd: runs as processes: success, failure, crash, events, environment'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

multi_runner

test_expect_success HTTPD 'start with a runner given as a JSON array' '
	httpd_start_keep r "ORKET_RUNNER=[\"sh\", \"$TRASH/runner.sh\"]" \
	    ALLOWED_VAR=allowed-1 SECRET_VAR=secret-1 ORKET_RUNNER_ENV_ALLOW=ALLOWED_VAR,NOT_SET
'

test_expect_success HTTPD 'run-active: 400 without an asset, 422 for bad types' '
	post r /v1/system/run-active "{}" &&
	expect_answer 400 "{\"detail\":\"No asset ID provided.\"}" &&
	post r /v1/system/run-active "{\"issue_id\":\"\",\"path\":\"\"}" && expect_status 400 &&
	post r /v1/system/run-active "{\"path\":\"dir/\"}" && expect_status 200 &&
	post r /v1/system/run-active "{\"path\":\"/\"}" && expect_status 400 &&
	post r /v1/system/run-active "{\"issue_id\":\"a\\nb\"}" && expect_status 400 &&
	post r /v1/system/run-active "{\"issue_id\":7,\"type\":[],\"build_id\":null}" &&
	expect_status 422 &&
	jcheck "[e[\"loc\"] for e in j[\"detail\"]] == [[\"body\", \"type\"], [\"body\", \"issue_id\"]]" &&
	post r /v1/system/run-active "{\"issue_id\":null,\"path\":null,\"driver_steered\":true}" &&
	expect_status 400
'

test_expect_success HTTPD 'a run that succeeds: done, its events stored, logged, tagged' '
	post r /v1/system/run-active "{\"issue_id\":\"ok-1\",\"type\":\"issue\"}" && expect_status 200 &&
	jcheck "list(j) == [\"session_id\"] and len(j[\"session_id\"]) == 8" &&
	python3 -c "import json; print(json.load(open(\"body\"))[\"session_id\"])" >sid &&
	sid=$(cat sid) && wait_run r $sid &&
	test "$(session_status r $sid)" = done &&
	run_end r $sid >actual &&
	python3 -c "import json, sys
d = json.load(open(\"actual\"))
assert d[\"status\"] == \"done\" and d[\"exit_code\"] == 0 and d[\"session_id\"] == \"$sid\", d
assert not d[\"cancelled\"] and not d[\"timed_out\"] and d[\"events\"] == 9, d
assert \"signal\" not in d, d" &&
	sql r "SELECT transcript FROM sessions WHERE id = \"$sid\"" >tx &&
	python3 -c "import json
t = json.load(open(\"tx\"))
ev = [(r[\"role\"], r[\"event\"]) for r in t]
assert ev == [(\"system\", \"run_start\"), (\"runner\", \"args\"), (\"coder\", \"model_usage\"),
    (\"coder\", \"tool_call\"), (\"runner\", \"runner_output\"), (\"architect\", \"data_role\"),
    (\"system\", \"scalar\"), (\"system\", \"own_session\"), (\"runner\", \"runner_output\"),
    (\"system\", \"last line without a newline\"), (\"system\", \"run_end\")], ev
assert all(list(r) == [\"timestamp\", \"role\", \"event\", \"data\"] for r in t)
assert t[1][\"data\"] == {\"session_id\": \"$sid\", \"asset\": \"ok-1\", \"build\": \"build-ok-1\", \"session\": \"$sid\"}, t[1]
assert t[4][\"data\"] == {\"session_id\": \"$sid\", \"line\": \"plain text, not JSON\"}, t[4]
assert t[6][\"data\"] == {\"session_id\": \"$sid\", \"value\": [1, 2]}, t[6]
assert t[7][\"data\"] == {\"session_id\": \"mine\"}, t[7]
assert t[8][\"data\"][\"line\"] == \"{\\\"no_event\\\":1}\", t[8]" &&
	python3 -c "import json
ev = [json.loads(l) for l in open(\"r.log\")]
mine = [e[\"event\"] for e in ev if e[\"data\"].get(\"session_id\") == \"$sid\"]
assert mine[:3] == [\"api_run_active\", \"run_start\", \"args\"], mine
assert mine[-1] == \"run_end\" and len(mine) == 11, mine
a = [e for e in ev if e[\"event\"] == \"api_run_active\" and e[\"data\"][\"session_id\"] == \"$sid\"][0]
assert a[\"data\"] == {\"asset_id\": \"ok-1\", \"request_type\": \"issue\", \"session_id\": \"$sid\", \"method_name\": \"run_card\"}, a" &&
	api r GET /v1/sessions/$sid && expect_status 200 &&
	jcheck "j[\"type\"] == \"issue\" and j[\"name\"] == \"ok-1\" and j[\"department\"] == \"core\" and j[\"end_time\"] > j[\"start_time\"]" &&
	jcheck "__import__(\"json\").loads(j[\"task_input\"]) == {\"asset_id\": \"ok-1\", \"build_id\": \"build-ok-1\", \"request_type\": \"issue\", \"path\": None, \"issue_id\": \"ok-1\"}" &&
	api r GET /v1/sessions/$sid/snapshot && expect_status 200 &&
	jcheck "__import__(\"json\").loads(j[\"config_json\"]) == {\"asset_id\": \"ok-1\", \"build_id\": \"build-ok-1\", \"request_type\": \"issue\", \"runner\": [\"sh\", \"$TRASH/runner.sh\"]}" &&
	jcheck "__import__(\"json\").loads(j[\"log_history\"])[-1][\"event\"] == \"run_end\"" &&
	api r GET /v1/runs/$sid/metrics &&
	expect_answer 200 "{\"coder\":{\"tokens\":42,\"lines_written\":2,\"last_action\":\"Executing write_file\",\"detail\":\"Wrote x.py\"}}" &&
	test_grep "run $sid ended: done (exit 0)" r.err &&
	no_zombies r
'

test_expect_success HTTPD 'a run that exits 3: failed, with its exit status' '
	start_run r fail3 && sid=$(cat sid) && wait_run r $sid &&
	test "$(session_status r $sid)" = failed &&
	run_end r $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"status\"] == \"failed\" and d[\"exit_code\"] == 3 and not d[\"cancelled\"], d" &&
	test_grep "run $sid ended: failed (exit 3)" r.err &&
	sql r "SELECT count(*) FROM session_snapshots WHERE session_id = \"$sid\"" >n &&
	echo 1 >expect && test_cmp expect n && no_zombies r
'

test_expect_success HTTPD 'a run that crashes (SIGSEGV): failed, with the signal' '
	start_run r segv && sid=$(cat sid) && wait_run r $sid &&
	test "$(session_status r $sid)" = failed &&
	run_end r $sid >actual &&
	python3 -c "import json
d = json.load(open(\"actual\"))
assert d[\"status\"] == \"failed\" and d[\"signal\"] == 11 and d[\"signal_name\"] == \"SIGSEGV\", d
assert \"exit_code\" not in d and d[\"events\"] == 1, d" &&
	test_grep "run $sid ended: failed (signal 11 SIGSEGV)" r.err &&
	no_zombies r
'

test_expect_success HTTPD 'the runner gets its arguments and an allow-listed environment only' '
	start_run r env && sid=$(cat sid) && wait_run r $sid &&
	test "$(session_status r $sid)" = done &&
	sed "s/=.*//" runner-env.$sid | sort >names &&
	test_grep "^ALLOWED_VAR$" names && test_grep "^PATH$" names &&
	test_grep "^ORKET_RUNTIME_DB=r.db$" runner-env.$sid &&
	test_grep "^ORKET_WORKSPACE=r-ws$" runner-env.$sid &&
	test_grep ! "^ORKET_API_KEY" names && test_grep ! "^SECRET_VAR" names &&
	test_grep ! "^NOT_SET" names && test_grep ! "^ORKET_RUNNER" names &&
	! grep -F -e "$KEY" -e secret-1 runner-env.$sid &&
	post r /v1/system/run-active "{\"path\":\"model/core/epics/ok Epic.v2.json\",\"build_id\":\"B 7\"}" &&
	sid=$(python3 -c "import json; print(json.load(open(\"body\"))[\"session_id\"])") &&
	wait_run r $sid &&
	sql r "SELECT transcript FROM sessions WHERE id = \"$sid\"" >tx &&
	python3 -c "import json
t = json.load(open(\"tx\"))
a = [r for r in t if r[\"event\"] == \"args\"][0][\"data\"]
assert a[\"asset\"] == \"ok Epic.v2\" and a[\"build\"] == \"B 7\", a" &&
	post r /v1/system/run-active "{\"path\":\"x/ok Two.json\"}" &&
	sid=$(python3 -c "import json; print(json.load(open(\"body\"))[\"session_id\"])") &&
	wait_run r $sid &&
	sql r "SELECT transcript FROM sessions WHERE id = \"$sid\"" >tx &&
	python3 -c "import json
t = json.load(open(\"tx\"))
a = [r for r in t if r[\"event\"] == \"args\"][0][\"data\"]
assert a[\"asset\"] == \"ok Two\" and a[\"build\"] == \"build-ok_two\", a"
'

test_expect_success HTTPD 'heartbeat counts the runs in progress; none is left, no zombie' '
	start_run r sleep-1 && sid=$(cat sid) &&
	api r GET /v1/system/heartbeat && jcheck "j[\"active_tasks\"] == 1" &&
	test "$(metric r orket_httpd_runs_active)" = 1 &&
	test "$(session_status r $sid)" = running &&
	post r /v1/runs/$sid/cancel "" && expect_status 200 &&
	wait_run r $sid &&
	api r GET /v1/system/heartbeat && jcheck "j[\"active_tasks\"] == 0" &&
	no_zombies r && test -z "$(children r)"
'

test_expect_success HTTPD 'a runner that is not there: 500, and the session failed, saying why' '
	rm -rf m.db* m-ws m.log && : >not-exec.sh &&
	test_when_finished "daemon_stop m" &&
	daemon_start m env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=m.db \
	    ORKET_EVENT_LOG=m.log ORKET_WORKSPACE=m-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV \
	    ORKET_RUNNER="$TRASH/no/such/runner --flag" orket-httpd &&
	post m /v1/system/run-active "{\"issue_id\":\"x\"}" &&
	expect_answer 500 "{\"detail\":\"Unable to start the runner\"}" &&
	sid=$(sql m "SELECT id FROM sessions") && test "$(session_status m $sid)" = failed &&
	run_end m $sid >actual &&
	test_grep "\"error\": \"$TRASH/no/such/runner: No such file or directory\"" actual &&
	test_grep "unable to start the runner of run $sid" m.err &&
	test_grep "\"event\":\"http_error\"" m.log &&
	api m GET /v1/system/heartbeat && jcheck "j[\"active_tasks\"] == 0" &&
	daemon_stop m &&
	daemon_start m env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=m.db \
	    ORKET_EVENT_LOG=m.log ORKET_WORKSPACE=m-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV \
	    ORKET_RUNNER="$TRASH/not-exec.sh" orket-httpd &&
	post m /v1/system/run-active "{\"issue_id\":\"x\"}" && expect_status 500 &&
	test_grep "not-exec.sh: Permission denied" m.err &&
	daemon_stop m &&
	daemon_start m env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=m.db \
	    ORKET_EVENT_LOG=m.log ORKET_WORKSPACE=m-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV \
	    ORKET_RUNNER="no-such-runner-in-path" orket-httpd &&
	post m /v1/system/run-active "{\"issue_id\":\"x\"}" && expect_status 500 &&
	test_grep "no-such-runner-in-path: No such file or directory" m.err && no_zombies m
'

test_expect_success HTTPD 'the built-in runner: records the session and finishes' '
	rm -rf b.db* b-ws b.log &&
	test_when_finished "daemon_stop b" &&
	daemon_start b env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=b.db \
	    ORKET_EVENT_LOG=b.log ORKET_WORKSPACE=b-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV \
	    orket-httpd &&
	start_run b "EPIC 9" && sid=$(cat sid) && wait_run b $sid &&
	test "$(session_status b $sid)" = done &&
	sql b "SELECT transcript FROM sessions WHERE id = \"$sid\"" >tx &&
	python3 -c "import json
t = json.load(open(\"tx\"))
assert [r[\"event\"] for r in t] == [\"run_start\", \"session_start\", \"builtin_runner\", \"session_end\", \"run_end\"], t
assert t[1][\"data\"] == {\"session_id\": \"$sid\", \"epic\": \"EPIC 9\", \"run_id\": \"$sid\", \"build_id\": \"build-epic_9\"}, t[1]
assert t[0][\"data\"][\"runner\"] == \"builtin\"" &&
	api b GET /v1/sessions/$sid/snapshot &&
	jcheck "__import__(\"json\").loads(j[\"config_json\"])[\"runner\"] == \"builtin\"" &&
	no_zombies b
'

test_expect_success HTTPD 'the runner as words; a bad --builtin-runner call is exit 100' '
	test_expect_code 100 orket-httpd --builtin-runner only-one 2>err &&
	orket-httpd --builtin-runner A B C >events &&
	test "$(wc -l <events)" = 3 &&
	rm -rf w.db* w-ws w.log &&
	test_when_finished "daemon_stop w" &&
	daemon_start w env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=w.db \
	    ORKET_EVENT_LOG=w.log ORKET_WORKSPACE=w-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV \
	    ORKET_RUNNER="sh $TRASH/runner.sh" orket-httpd &&
	start_run w fail3 && sid=$(cat sid) && wait_run w $sid &&
	run_end w $sid | grep "\"exit_code\": 3"
'

test_expect_success HTTPD 'metrics count the runs; the daemon never answered 5xx' '
	test "$(metric r "orket_httpd_runs_total{result=\"done\"}")" -ge 4 &&
	test "$(metric r "orket_httpd_runs_total{result=\"failed\"}")" -ge 3 &&
	test "$(metric r "orket_httpd_runs_total{result=\"cancelled\"}")" = 1 &&
	test -z "$(metric r "orket_httpd_requests_total{code=\"500\"}")" &&
	daemon_stop r && echo 0 >expect && test_cmp expect r.status &&
	! grep -F -e "$KEY" -e secret-1 r.log r.err
'

daemon_stop r
test_done
