#!/bin/sh
# See LICENSE.
test_description='orket-httpd: the API key (absent, wrong, right, bypass), the order of checks, CORS'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

# Every authenticated route, one request each, with a body where it needs one.
routes() {
	cat <<-\EOF
	GET /v1/version
	GET /v1/system/heartbeat
	GET /v1/system/metrics
	GET /v1/system/calendar
	POST /v1/system/clear-logs
	GET /v1/system/explorer
	GET /v1/system/read?path=x
	POST /v1/system/save {"path":"a.txt","content":"x"}
	POST /v1/system/run-active {}
	GET /v1/runs
	GET /v1/runs/s1/backlog
	GET /v1/runs/s1/metrics
	POST /v1/runs/s1/cancel
	GET /v1/sessions/s1
	GET /v1/sessions/s1/snapshot
	POST /v1/cards/archive {"card_ids":["x"]}
	EOF
}

# each_route STATUS [curl options]: every route answers STATUS (403 with the detail).
each_route() {
	want=$1
	shift
	routes >routes.txt
	while read -r m p b; do
		if [ -n "$b" ]; then
			api h "$m" "$p" -H "Content-Type: application/json" --data-binary "$b" "$@"
		else
			api h "$m" "$p" "$@"
		fi || return 1
		if [ "$want" = 403 ]; then
			expect_answer 403 "{\"detail\":\"Could not validate credentials\"}" ||
			{ echo "for $m $p" >&2; return 1; }
		else
			case $(cat status) in
			403|401|5*) echo "for $m $p: $(cat out)" >&2; return 1 ;;
			esac
		fi
	done <routes.txt
}

test_expect_success HTTPD 'no ORKET_API_KEY and no bypass: fail closed, every /v1 route 403' '
	httpd_start h ORKET_API_KEY= &&
	NOKEY=1 each_route 403 &&
	NOKEY=1 each_route 403 -H "X-API-Key: anything" &&
	NOKEY=1 each_route 403 -H "X-API-Key: " &&
	NOKEY=1 api h GET /health && expect_status 200 &&
	NOKEY=1 api h GET /metrics && expect_status 200
'

test_expect_success HTTPD 'ORKET_API_KEY set: absent and wrong keys 403, the right one passes' '
	httpd_start h &&
	NOKEY=1 each_route 403 &&
	( for wrong in "x" "${KEY}x" "x$KEY" "$(echo "$KEY" | tr a-z A-Z)" \
	    "$(echo "$KEY" | cut -c 2-)" "$(printf "%s" "$KEY" | cut -c 1-16)"
	do
		NOKEY=1 api h GET /v1/version -H "X-API-Key: $wrong" &&
		expect_answer 403 "{\"detail\":\"Could not validate credentials\"}" || exit 1
	done ) &&
	NOKEY=1 api h GET /v1/version -H "Authorization: Bearer $KEY" && expect_status 403 &&
	NOKEY=1 api h GET "/v1/version?key=$KEY" && expect_status 403 &&
	NOKEY=1 api h GET "/v1/version?api_key=$KEY" && expect_status 403 &&
	NOKEY=1 api h GET /v1/version -H "Cookie: X-API-Key=$KEY" && expect_status 403 &&
	each_route 200 &&
	NOKEY=1 api h GET /v1/version -H "x-api-key: $KEY" && expect_status 200 &&
	NOKEY=1 api h GET /v1/version -H "X-API-KEY:    $KEY   " && expect_status 200 &&
	NOKEY=1 api h GET /health && expect_status 200 &&
	test "$(metric h orket_httpd_auth_failures_total)" -ge 20
'

# bypass VALUE: reload daemon b with ORKET_ALLOW_INSECURE_NO_API_KEY=VALUE in its env file.
bypass() {
	n=$(grep -c "configuration reloaded" b.err)
	printf "ORKET_ALLOW_INSECURE_NO_API_KEY=\"%s\"\n" "$1" >b.env &&
	kill -HUP "$(cat b.pid)" &&
	wait_until "test \$(grep -c \"configuration reloaded\" b.err) -gt $n"
}

test_expect_success HTTPD 'the bypass: truthy values open /v1 without a key, others do not' '
	: >b.env && rm -rf b.db* b-ws b.log &&
	test_when_finished "daemon_stop b" &&
	daemon_start b env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=b.db \
	    ORKET_EVENT_LOG=b.log ORKET_WORKSPACE=b-ws ORKET_API_KEY= $HTTPD_VGENV \
	    orket-httpd --env-file b.env &&
	NOKEY=1 api b GET /v1/system/heartbeat && expect_status 403 &&
	( for v in 1 true yes on TRUE " Yes " On; do
		bypass "$v" &&
		NOKEY=1 api b GET /v1/system/heartbeat && expect_status 200 &&
		NOKEY=1 api b POST /v1/system/run-active -H "Content-Type: application/json" \
		    --data-binary "{\"issue_id\":\"LOAD-EPIC-0\"}" && expect_status 200 ||
		{ echo "for $v" >&2; exit 1; }
	done ) &&
	( for v in 0 false no off "" maybe 2; do
		bypass "$v" &&
		NOKEY=1 api b GET /v1/system/heartbeat && expect_status 403 ||
		{ echo "for $v" >&2; exit 1; }
	done ) &&
	daemon_start b2 env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=b2.db \
	    ORKET_EVENT_LOG=b2.log ORKET_WORKSPACE=b2-ws ORKET_ALLOW_INSECURE_NO_API_KEY=yes \
	    $HTTPD_VGENV orket-httpd &&
	test_when_finished "daemon_stop b2" &&
	NOKEY=1 api b2 GET /v1/system/heartbeat && expect_status 200
'

test_expect_success HTTPD 'the bypass is ignored while a key is set' '
	httpd_start h ORKET_ALLOW_INSECURE_NO_API_KEY=1 &&
	NOKEY=1 api h GET /v1/version && expect_status 403 &&
	NOKEY=1 api h GET /v1/version -H "X-API-Key: wrong" && expect_status 403 &&
	api h GET /v1/version && expect_status 200
'

test_expect_success HTTPD 'order of checks: route, JSON syntax (422), key (403), fields (422)' '
	httpd_start h &&
	NOKEY=1 api h GET /v1/unknown && expect_status 404 &&
	NOKEY=1 api h GET /v1/system/run-active && expect_status 405 &&
	NOKEY=1 post h /v1/system/run-active "{\"path\":" && expect_status 422 &&
	jcheck "j[\"detail\"][0][\"type\"] == \"json_invalid\" and j[\"detail\"][0][\"loc\"][0] == \"body\"" &&
	NOKEY=1 post h /v1/system/run-active "{\"path\":5}" &&
	expect_answer 403 "{\"detail\":\"Could not validate credentials\"}" &&
	post h /v1/system/run-active "{\"path\":5}" && expect_status 422 &&
	jcheck "j == {\"detail\": [{\"type\": \"string_type\", \"loc\": [\"body\", \"path\"], \"msg\": \"Input should be a valid string\", \"input\": 5}]}" &&
	NOKEY=1 post h /v1/cards/archive "[1,]" && expect_status 422 &&
	NOKEY=1 post h /v1/cards/archive "{}" && expect_status 403
'

test_expect_success HTTPD 'without a good key no big body is read: 403 at once' '
	httpd_start h &&
	python3 -c "import sys; sys.stdout.write(\"{\\\"path\\\":\\\"a\\\",\\\"content\\\":\\\"\" + \"x\" * 200000 + \"\\\"}\")" >big.json &&
	NOKEY=1 api h POST /v1/system/save -H "Content-Type: application/json" --data-binary @big.json &&
	expect_answer 403 "{\"detail\":\"Could not validate credentials\"}" &&
	test ! -e h-ws/a &&
	api h POST /v1/system/save -H "Content-Type: application/json" --data-binary @big.json &&
	expect_answer 200 "{\"ok\":true}"
'

test_expect_success HTTPD 'CORS on answers: a listed origin is echoed with Vary, others get nothing' '
	httpd_start h "ORKET_ALLOWED_ORIGINS= https://ui.example , ,http://b.example:8080" &&
	api h GET /v1/version -H "Origin: https://ui.example" && expect_status 200 &&
	test "$(header Access-Control-Allow-Origin)" = https://ui.example &&
	test "$(header Vary)" = Origin &&
	api h GET /v1/version -H "Origin: http://b.example:8080" &&
	test "$(header Access-Control-Allow-Origin)" = http://b.example:8080 &&
	api h GET /v1/version -H "Origin: https://evil.example" && expect_status 200 &&
	test -z "$(header Access-Control-Allow-Origin)" &&
	api h GET /v1/version && test -z "$(header Access-Control-Allow-Origin)" &&
	NOKEY=1 api h GET /v1/version -H "Origin: https://ui.example" && expect_status 403 &&
	test "$(header Access-Control-Allow-Origin)" = https://ui.example &&
	NOKEY=1 api h GET /health -H "Origin: https://ui.example" &&
	test "$(header Access-Control-Allow-Origin)" = https://ui.example
'

test_expect_success HTTPD 'CORS defaults to the two development origins; "*" allows any' '
	httpd_start h &&
	api h GET /v1/version -H "Origin: http://localhost:5173" &&
	test "$(header Access-Control-Allow-Origin)" = http://localhost:5173 &&
	api h GET /v1/version -H "Origin: http://127.0.0.1:5173" &&
	test "$(header Access-Control-Allow-Origin)" = http://127.0.0.1:5173 &&
	api h GET /v1/version -H "Origin: http://localhost:3000" &&
	test -z "$(header Access-Control-Allow-Origin)" &&
	httpd_start s "ORKET_ALLOWED_ORIGINS=*" &&
	api s GET /v1/version -H "Origin: https://any.example" &&
	test "$(header Access-Control-Allow-Origin)" = "*" && test -z "$(header Vary)" &&
	api s GET /v1/version -H "Origin: https://any.example" -H "Cookie: a=b" &&
	test "$(header Access-Control-Allow-Origin)" = https://any.example &&
	test "$(header Vary)" = Origin
'

test_expect_success HTTPD 'CORS preflight: answered without a key, OK or Disallowed CORS ...' '
	httpd_start h "ORKET_ALLOWED_ORIGINS=https://ui.example" &&
	NOKEY=1 api h OPTIONS /v1/system/save -H "Origin: https://ui.example" \
	    -H "Access-Control-Request-Method: POST" \
	    -H "Access-Control-Request-Headers: content-type, X-API-Key" &&
	expect_answer 200 OK &&
	test "$(header Access-Control-Allow-Origin)" = https://ui.example &&
	test "$(header Access-Control-Allow-Methods)" = "GET, POST, PATCH, DELETE" &&
	test "$(header Access-Control-Max-Age)" = 600 &&
	test "$(header Access-Control-Allow-Headers)" = "Accept, Accept-Language, Authorization, Content-Language, Content-Type, X-API-Key" &&
	test "$(header Vary)" = Origin &&
	NOKEY=1 api h OPTIONS /anything -H "Origin: https://evil.example" \
	    -H "Access-Control-Request-Method: GET" &&
	expect_answer 400 "Disallowed CORS origin" &&
	test -z "$(header Access-Control-Allow-Origin)" &&
	NOKEY=1 api h OPTIONS /v1/runs -H "Origin: https://ui.example" \
	    -H "Access-Control-Request-Method: PUT" &&
	expect_answer 400 "Disallowed CORS method" &&
	NOKEY=1 api h OPTIONS /v1/runs -H "Origin: https://ui.example" \
	    -H "Access-Control-Request-Method: GET" -H "Access-Control-Request-Headers: X-Other" &&
	expect_answer 400 "Disallowed CORS headers" &&
	NOKEY=1 api h OPTIONS /v1/runs -H "Origin: https://evil.example" \
	    -H "Access-Control-Request-Method: put" -H "Access-Control-Request-Headers: X-Other" &&
	expect_answer 400 "Disallowed CORS origin, method, headers" &&
	test "$(metric h orket_httpd_cors_rejected_total)" = 4
'

test_expect_success HTTPD 'the key never reaches a log' '
	httpd_start h &&
	api h GET /v1/version && NOKEY=1 api h GET /v1/version -H "X-API-Key: ${KEY}x" &&
	post h /v1/system/run-active "{\"issue_id\":\"I-1\"}" &&
	daemon_stop h &&
	! grep -F -e "$KEY" h.log h.err
'

test_done
