#!/bin/sh
# See LICENSE.
test_description='orket-httpd: usage, configuration, readiness, the simple routes, signals'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

test_expect_success 'usage errors exit 100 and name the culprit' '
	test_expect_code 100 orket-httpd --bogus >out 2>err &&
	test_grep "usage: orket-httpd" err && test_grep "bogus" err &&
	test_expect_code 100 orket-httpd stray 2>err && test_grep "stray" err &&
	test_expect_code 100 orket-httpd -d 987 2>err && test_grep "^orket-httpd: .*-d" err &&
	test_expect_code 100 orket-httpd -d 2 2>err &&
	test_expect_code 100 orket-httpd -d 2>err &&
	test_expect_code 100 orket-httpd --env-file 2>err &&
	test ! -e orket_persistence.db && test ! -e workspace
'

test_expect_success '--help and --version print to stdout and exit 0' '
	orket-httpd --help >out 2>err && test ! -s err &&
	printf "usage: orket-httpd [-d fd] [--env-file path]\n       orket-httpd -h | --help | --version\n" >expect &&
	test_cmp expect out &&
	orket-httpd -h >out2 && test_cmp out out2 &&
	orket-httpd --version >out 2>err && test ! -s err &&
	test_grep "^orket-httpd [0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*$" out
'

test_expect_success 'a bad configuration is exit 100, naming the variable' '
	( for bad in ORKET_PORT=abc ORKET_PORT=70000 ORKET_MAX_RUNS=0 ORKET_RUN_TIMEOUT_SEC=-5 \
	    ORKET_MAX_CONNS=0 ORKET_RESOLVE=magic "ORKET_RUNNER=[1]" "ORKET_RUNNER=[\"a\"" \
	    "ORKET_RUNNER_ENV_ALLOW=PATH, ORKET_API_KEY"
	do
		test_expect_code 100 env ORKET_RUNTIME_DB=bad.db "$bad" timeout 10 \
		    orket-httpd 2>err || exit 1
		test_grep "${bad%%=*}" err || exit 1
	done ) &&
	test ! -e bad.db
'

test_expect_success 'a bad .env or a missing --env-file is exit 100' '
	mkdir envdir && (
		cd envdir &&
		echo "NOT A LINE" >.env &&
		test_expect_code 100 timeout 10 orket-httpd 2>err &&
		test_grep "\.env line 1" err &&
		rm .env &&
		test_expect_code 100 timeout 10 orket-httpd --env-file nope.env 2>err &&
		test_grep "nope.env" err
	)
'

test_expect_success SQLITE3 'a database newer than the program is exit 100' '
	orket-migrate --runtime-db new.db --webhook-db new-w.db >/dev/null &&
	sqlite3 new.db "INSERT INTO _schema_migrations VALUES (\"0999-future.sql\", \"x\", \"y\")" &&
	test_expect_code 100 env ORKET_RUNTIME_DB=new.db ORKET_PORT=0 timeout 10 orket-httpd 2>err &&
	test_grep "newer than this program" err
'

test_expect_success 'a runner inside the workspace is refused: clients write there' '
	mkdir -p rw-ws && printf "#!/bin/sh\n" >rw-ws/run.sh && chmod +x rw-ws/run.sh &&
	test_expect_code 100 env $HTTPD_VGENV ORKET_RUNTIME_DB=rw.db ORKET_PORT=0 ORKET_WORKSPACE=rw-ws \
	    ORKET_RUNNER="$TRASH/rw-ws/run.sh" timeout 10 orket-httpd 2>err &&
	test_grep "inside the workspace" err
'

test_expect_success HTTPD 'ready on -d once it listens; database migrated, workspace made' '
	httpd_start_keep h &&
	test_grep "listening on http://127.0.0.1:[0-9]*/" h.err &&
	test "$(cat h.port)" -gt 0 &&
	test -d h-ws &&
	sql h "SELECT id FROM _schema_migrations" >actual &&
	echo 0001-schema.sql >expect && test_cmp expect actual &&
	sql h "PRAGMA journal_mode" >actual && echo wal >expect && test_cmp expect actual &&
	python3 -c "import json
e = [json.loads(l) for l in open(\"h.log\")]
assert list(e[0]) == [\"timestamp\", \"role\", \"event\", \"data\"], e
assert e[0][\"event\"] == \"api_server\", e
assert e[0][\"data\"][\"message\"].startswith(\"Starting API server on 127.0.0.1:\"), e"
'

test_expect_success HTTPD 'GET /health and /v1/version' '
	NOKEY=1 api h GET /health &&
	expect_answer 200 "{\"status\":\"ok\",\"organization\":\"Orket\"}" &&
	test "$(header Content-Type)" = application/json &&
	api h GET /v1/version &&
	expect_answer 200 "{\"version\":\"$(orket-httpd --version | cut -d" " -f2)\",\"api\":\"v1\"}"
'

test_expect_success HTTPD 'heartbeat: online, a UTC ISO timestamp, active tasks' '
	api h GET /v1/system/heartbeat && expect_status 200 &&
	jcheck "list(j) == [\"status\", \"timestamp\", \"active_tasks\"]" &&
	jcheck "j[\"status\"] == \"online\" and j[\"active_tasks\"] == 0" &&
	jcheck "__import__(\"re\").match(r\"^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{6})?\\+00:00\$\", j[\"timestamp\"])" &&
	python3 -c "import json, datetime
t = datetime.datetime.fromisoformat(json.load(open(\"body\"))[\"timestamp\"])
now = datetime.datetime.now(datetime.timezone.utc)
assert abs((now - t).total_seconds()) < 5, (now, t)"
'

test_expect_success HTTPD 'calendar: the EOS sprint of this week, Monday to Friday' '
	api h GET /v1/system/calendar && expect_status 200 &&
	python3 -c "import json, datetime
j = json.load(open(\"body\"))
assert list(j) == [\"current_sprint\", \"sprint_start\", \"sprint_end\"], j
def at(now):
    ref = datetime.datetime(2026, 2, 2, tzinfo=datetime.timezone.utc)
    w = (now - ref).days // 7
    n = 6 + w
    q, s = 1 + (n - 1) // 13, (n - 1) % 13 + 1
    mon = now.date() - datetime.timedelta(days=now.weekday())
    return {\"current_sprint\": \"Q%d S%d\" % (q, s), \"sprint_start\": mon.isoformat(),
            \"sprint_end\": (mon + datetime.timedelta(days=4)).isoformat()}
now = datetime.datetime.now(datetime.timezone.utc)
# Either side of a midnight that fell between the request and now.
assert j in (at(now), at(now - datetime.timedelta(seconds=30))), (j, at(now))
assert at(datetime.datetime(2026, 2, 11, 12, tzinfo=datetime.timezone.utc))[\"current_sprint\"] == \"Q1 S7\""
'

test_expect_success HTTPD 'system metrics: the original keys, floats, sane percentages' '
	api h GET /v1/system/metrics && expect_status 200 &&
	jcheck "list(j) == [\"cpu_percent\", \"ram_percent\", \"vram_gb_used\", \"vram_total_gb\", \"timestamp\", \"cpu\", \"memory\"]" &&
	jcheck "all(type(j[k]) is float for k in (\"cpu_percent\", \"ram_percent\", \"vram_gb_used\", \"vram_total_gb\", \"cpu\", \"memory\"))" &&
	jcheck "0 <= j[\"cpu_percent\"] <= 100 and 0 < j[\"ram_percent\"] <= 100" &&
	jcheck "j[\"cpu\"] == j[\"cpu_percent\"] and j[\"memory\"] == j[\"ram_percent\"]" &&
	jcheck "j[\"vram_gb_used\"] == 0.0 and j[\"vram_total_gb\"] == 0.0"
'

test_expect_success HTTPD 'unknown paths 404, wrong methods 405 with Allow, HEAD 405, slash 307' '
	NOKEY=1 api h GET /nope && expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	NOKEY=1 api h GET /v1/nope && expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	NOKEY=1 api h GET /v1/system/board && expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	api h GET /ws/events && expect_status 426 &&
	NOKEY=1 api h POST /v1/version && expect_answer 405 "{\"detail\":\"Method Not Allowed\"}" &&
	test "$(header Allow)" = GET &&
	NOKEY=1 api h GET /v1/system/run-active &&
	expect_answer 405 "{\"detail\":\"Method Not Allowed\"}" && test "$(header Allow)" = POST &&
	NOKEY=1 api h DELETE /v1/runs && expect_status 405 &&
	NOKEY=1 api h OPTIONS /v1/runs && expect_status 405 &&
	api h HEAD /health && expect_status 405 &&
	api h GET /v1/runs/ && expect_status 307 &&
	test "$(header Location)" = "http://127.0.0.1:$(cat h.port)/v1/runs" &&
	api h GET "/v1/system/explorer/?path=x" && expect_status 307 &&
	test "$(header Location)" = "http://127.0.0.1:$(cat h.port)/v1/system/explorer?path=x" &&
	api h GET /v1/runs//backlog && expect_status 404 &&
	api h GET /v1/sessions/ && expect_status 404 &&
	api h GET /v1/runs && expect_answer 200 "[]"
'

test_expect_success HTTPD 'GET /metrics: Prometheus text, no key, counters move' '
	NOKEY=1 api h GET /metrics && expect_status 200 &&
	test "$(header Content-Type)" = "text/plain; version=0.0.4" &&
	NOKEY=1 api h GET /v1/version && expect_status 403 &&
	test "$(metric h orket_httpd_auth_failures_total)" = 1 &&
	test "$(metric h "orket_httpd_requests_total{code=\"403\"}")" = 1 &&
	test "$(metric h orket_httpd_runs_active)" = 0 &&
	test "$(metric h orket_httpd_runs_max)" = 4 &&
	NOKEY=1 api h GET /metrics && grep -v "^#" body >samples && test -s samples &&
	! grep -v -E "^[a-z_]+(\{[a-z_]+=\"[^\"]*\"\})? [0-9.eE+-]+$" samples &&
	daemon_stop h
'

daemon_stop h

test_expect_success HTTPD 'the key from --env-file; the environment beats it; SIGHUP reloads' '
	echo "ORKET_API_KEY=from-file-1" >h.env &&
	rm -rf e.db* e-ws e.log &&
	test_when_finished "daemon_stop e" &&
	daemon_start e env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=e.db \
	    ORKET_EVENT_LOG=e.log ORKET_WORKSPACE=e-ws $HTTPD_VGENV orket-httpd --env-file h.env &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: from-file-1" && expect_status 200 &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: $KEY" && expect_status 403 &&
	echo "ORKET_API_KEY=from-file-2" >h.env &&
	kill -HUP "$(cat e.pid)" &&
	wait_until "grep -q \"configuration reloaded\" e.err" &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: from-file-2" && expect_status 200 &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: from-file-1" && expect_status 403 &&
	echo "ORKET_MAX_RUNS=zero" >>h.env &&
	kill -HUP "$(cat e.pid)" &&
	wait_until "grep -q \"reload refused\" e.err" &&
	test_grep "ORKET_MAX_RUNS" e.err &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: from-file-2" && expect_status 200 &&
	test_grep "\"event\":\"config_reloaded\"" e.log &&
	test_grep "\"event\":\"config_reload_failed\"" e.log &&
	daemon_stop e &&
	echo "ORKET_API_KEY=from-file-3" >h.env &&
	daemon_start e env ORKET_API_KEY=from-env ORKET_HOST=127.0.0.1 ORKET_PORT=0 \
	    ORKET_RUNTIME_DB=e.db ORKET_EVENT_LOG=e.log ORKET_WORKSPACE=e-ws $HTTPD_VGENV \
	    orket-httpd --env-file h.env &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: from-file-3" && expect_status 403 &&
	NOKEY=1 api e GET /v1/version -H "X-API-Key: from-env" && expect_status 200 &&
	! grep -F -e from-file -e from-env e.log e.err
'

test_expect_success HTTPD 'the port in use is exit 111' '
	httpd_start h &&
	test_expect_code 111 env $HTTPD_VGENV ORKET_HOST=127.0.0.1 ORKET_PORT="$(cat h.port)" \
	    ORKET_RUNTIME_DB=busy.db ORKET_EVENT_LOG=busy.log ORKET_WORKSPACE=busy-ws \
	    timeout 10 orket-httpd 2>err &&
	test_grep "unable to listen" err
'

test_expect_success HTTPD 'SIGTERM and SIGINT: exit 0, "stopped"' '
	httpd_start h &&
	daemon_stop h && echo 0 >expect && test_cmp expect h.status &&
	test_grep "stopped" h.err &&
	httpd_start h2 &&
	daemon_stop h2 INT && echo 0 >expect && test_cmp expect h2.status
'

test_done
