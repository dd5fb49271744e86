#!/bin/sh
# See LICENSE.
test_description='t/gitea-double.py, the Gitea REST double the hookd and publish tests talk to'
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null && test_set_prereq CURL
command -v python3 >/dev/null && test_set_prereq PYTHON3
test_have_prereq CURL && test_have_prereq PYTHON3 && test_set_prereq DOUBLE

user=orket
pass='pw-9f3:S3cret'
tok=tok-7c1e5ecret0123

# What orket-hookd sends (reference: orket-webhook-server.md, section 3.5, call A).
merge='{"Do":"merge","MergeMessageField":"Auto-merged PR #1 after approval",'
merge=$merge'"delete_branch_after_merge":true}'
close='{"state":"closed"}'
f503='{"mode":"status","status":503,"count":1}'
f500labels='{"mode":"status","status":500,"path":"/api/v1/repos/*/labels"}'
fclose='{"mode":"close","count":1}'
fshort='{"mode":"stall","seconds":0.3,"count":1}'
flong='{"mode":"stall","seconds":1.5,"count":1}'
fdown='{"mode":"down"}'
frefuse='{"mode":"refuse","seconds":0.5}'

# Every log line is one JSON object with the documented keys, and auth is a label, not a secret.
cat >check-log.py <<'PY'
import json, sys
keys = ["seq", "method", "path", "query", "auth", "body", "status"]
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    assert list(e)[:len(keys)] == keys, line
    a = e["auth"]
    assert a in ("none", "token", "bad") or a.startswith("basic:"), line
    n += 1
assert n > 0
print(n)
PY

# Wait (bounded, 10 s) for the double to write its port file; fail early if it died.
wait_for_port() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "no port in $1 after $i tries" >&2
			return 1
		fi
		sleep 0.1
	done
}

# api METHOD PATH [JSON]: print the status; the answer's body goes to the file "body".
api() {
	if [ $# -ge 3 ]; then
		curl -sS --max-time 10 -o body -w '%{http_code}' -u "$user:$pass" -X "$1" \
		    -H 'Content-Type: application/json' --data-binary "$3" "$base/api/v1$2"
	else
		curl -sS --max-time 10 -o body -w '%{http_code}' -u "$user:$pass" -X "$1" \
		    "$base/api/v1$2"
	fi
}

# expect STATUS METHOD PATH [JSON]
expect() {
	want=$1
	shift
	got=$(api "$@") || return 1
	if [ "$got" != "$want" ]; then
		echo "expected $want, got $got: $*" >&2
		cat body >&2
		return 1
	fi
}

# ctl WHAT JSON: a control request that must succeed; its answer goes to "ctl.out".
ctl() {
	got=$(curl -sS --max-time 10 -o ctl.out -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' --data-binary "$2" "$base/_control/$1") || return 1
	[ "$got" = 200 ] || { echo "control $1 answered $got" >&2; cat ctl.out >&2; return 1; }
}

# The leading numeric "id" of a JSON object in a file.
first_id() {
	sed -n 's/^{"id":\([0-9][0-9]*\),.*/\1/p' "$1"
}

test_expect_success DOUBLE 'it starts on an ephemeral loopback port and writes the port file' '
	python3 "$TEST_DIR/gitea-double.py" --port 0 --port-file port --log log \
	    --user "$user" --password "$pass" --token "$tok" --state state.json --lifetime 120 \
	    </dev/null >double.out 2>double.err &
	pid=$! &&
	wait_for_port port $pid &&
	port=$(cat port) && base=http://127.0.0.1:$port &&
	curl -sS --max-time 5 "$base/_control/health" >health &&
	test_grep "\"port\":$port" health
'

test_expect_success DOUBLE 'credentials are required: none or wrong ones answer 401' '
	code=$(curl -sS -o body -w "%{http_code}" "$base/api/v1/user") &&
	test "$code" = 401 && test_grep "\"message\":\"token is required\"" body &&
	test_grep "\"url\":" body &&
	code=$(curl -sS -o body -w "%{http_code}" -u "$user:wrong" "$base/api/v1/user") &&
	test "$code" = 401 &&
	code=$(curl -sS -o body -w "%{http_code}" -H "Authorization: token nope" \
	    "$base/api/v1/repos/o/r/pulls/1/merge" -X POST) &&
	test "$code" = 401 &&
	expect 200 GET /user && test_grep "\"login\":\"orket\"" body &&
	code=$(curl -sS -o body -w "%{http_code}" -H "Authorization: token $tok" \
	    "$base/api/v1/user") && test "$code" = 200 &&
	code=$(curl -sS -o body -w "%{http_code}" -H "Authorization: Bearer $tok" \
	    "$base/api/v1/user") && test "$code" = 200
'

test_expect_success DOUBLE 'merge answers 200 with an empty body, then 405 once merged' '
	expect 200 POST /repos/o/r/pulls/1/merge "$merge" && test ! -s body &&
	expect 405 POST /repos/o/r/pulls/1/merge "$merge" &&
	expect 204 GET /repos/o/r/pulls/1/merge &&
	expect 200 GET /repos/o/r/pulls/1 && test_grep "\"merged\":true" body
'

test_expect_success DOUBLE 'merge without Do, or sent as a form, answers 422' '
	expect 422 POST /repos/o/r/pulls/5/merge "{}" && test_grep "\[Do\]: Required" body &&
	code=$(curl -sS -o body -w "%{http_code}" -u "$user:$pass" -d "$merge" \
	    "$base/api/v1/repos/o/r/pulls/5/merge") && test "$code" = 422
'

test_expect_success DOUBLE 'a conflicted PR answers 409, a not mergeable one 405' '
	ctl pr "{\"owner\":\"o\",\"repo\":\"r\",\"number\":2,\"state\":\"conflicted\"}" &&
	expect 409 POST /repos/o/r/pulls/2/merge "$merge" &&
	expect 200 GET /repos/o/r/pulls/2 && test_grep "\"mergeable\":false" body &&
	ctl pr "{\"owner\":\"o\",\"repo\":\"r\",\"number\":3,\"state\":\"not_mergeable\"}" &&
	expect 405 POST /repos/o/r/pulls/3/merge "$merge" &&
	test_grep "Please try again later" body
'

test_expect_success DOUBLE 'PATCH state closed answers 201; a closed PR cannot be merged' '
	expect 201 PATCH /repos/o/r/pulls/4 "$close" && test_grep "\"state\":\"closed\"" body &&
	expect 404 POST /repos/o/r/pulls/4/merge "$merge" &&
	expect 412 PATCH /repos/o/r/pulls/1 "$close"
'

test_expect_success DOUBLE 'comments answer 201 with increasing ids' '
	expect 201 POST /repos/o/r/issues/4/comments "{\"body\":\"first\"}" &&
	one=$(first_id body) && test -n "$one" &&
	expect 201 POST /repos/o/r/issues/4/comments "{\"body\":\"second\"}" &&
	two=$(first_id body) && test "$two" -gt "$one" &&
	expect 422 POST /repos/o/r/issues/4/comments "{}" &&
	expect 200 GET /repos/o/r/issues/4/comments && test_grep "\"body\":\"second\"" body
'

test_expect_success DOUBLE 'labels have ids; issues take integer label ids, not names' '
	expect 201 POST /repos/o/r/labels "{\"name\":\"requirements-review\",\"color\":\"#e11d21\"}" &&
	lid=$(first_id body) && test -n "$lid" &&
	expect 200 GET /repos/o/r/labels &&
	test_grep "\"id\":$lid,\"name\":\"requirements-review\"" body &&
	expect 201 POST /repos/o/r/issues "{\"title\":\"Requirements Review\",\"labels\":[$lid]}" &&
	test_grep "\"name\":\"requirements-review\"" body &&
	n1=$(sed -n "s/.*\"number\":\([0-9][0-9]*\),.*/\1/p" body) && test -n "$n1" &&
	expect 422 POST /repos/o/r/issues \
	    "{\"title\":\"Requirements Review\",\"labels\":[\"requirements-review\"]}" &&
	test_grep "cannot unmarshal string" body &&
	expect 201 POST /repos/o/r/issues "{\"title\":\"next\"}" &&
	test_grep "\"number\":$((n1 + 1))," body
'

test_expect_success DOUBLE 'a 503 fault hits the next call only' '
	ctl fault "$f503" &&
	expect 503 POST /repos/o/r/issues/4/comments "{\"body\":\"lost\"}" &&
	expect 201 POST /repos/o/r/issues/4/comments "{\"body\":\"kept\"}" &&
	test_grep "\"status\":503,\"fault\":\"status\"" log
'

test_expect_success DOUBLE 'a fault on a path pattern spares the other paths until cleared' '
	ctl fault "$f500labels" &&
	expect 500 GET /repos/o/r/labels && expect 500 GET /repos/o/r/labels &&
	expect 200 GET /repos/o/r/pulls/4 &&
	curl -sS --max-time 5 -X DELETE "$base/_control/fault" >/dev/null &&
	expect 200 GET /repos/o/r/labels
'

test_expect_success DOUBLE 'a close fault drops the connection without an answer' '
	ctl fault "$fclose" &&
	test_expect_code 52 curl -sS --max-time 5 -u "$user:$pass" "$base/api/v1/user" 2>err &&
	test_grep "Empty reply from server" err &&
	expect 200 GET /user
'

test_expect_success DOUBLE 'a short stall is served; a long one times out, yet is performed' '
	ctl fault "$fshort" &&
	code=$(curl -sS --max-time 5 -o body -w "%{http_code}" -u "$user:$pass" \
	    "$base/api/v1/user") && test "$code" = 200 &&
	ctl fault "$flong" &&
	test_expect_code 28 curl -sS --max-time 0.5 -u "$user:$pass" -X POST \
	    -H "Content-Type: application/json" --data-binary "$merge" \
	    "$base/api/v1/repos/o/r/pulls/20/merge" 2>err &&
	i=0 &&
	until [ "$(api GET /repos/o/r/pulls/20/merge)" = 204 ]; do
		i=$((i + 1))
		[ $i -le 50 ] || break
		sleep 0.1
	done &&
	expect 204 GET /repos/o/r/pulls/20/merge
'

test_expect_success DOUBLE 'down refuses every API call until reset; control stays up' '
	ctl fault "$fdown" &&
	test_must_fail curl -sS --max-time 5 -u "$user:$pass" "$base/api/v1/user" 2>err &&
	curl -sS --max-time 5 "$base/_control/health" >health && test_grep "\"ok\":true" health &&
	ctl reset "{\"state\":false,\"calls\":false}" &&
	expect 200 GET /user
'

test_expect_success DOUBLE 'refuse closes the listener for a while, then the same port serves' '
	ctl fault "$frefuse" &&
	test_expect_code 7 curl -sS --max-time 5 "$base/_control/health" 2>err &&
	i=0 &&
	until curl -sS --max-time 5 "$base/_control/health" >health 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 50 ] || break
		sleep 0.1
	done &&
	test_grep "\"port\":$port" health &&
	expect 200 GET /user
'

test_expect_success DOUBLE 'repositories, orgs and users for the publisher' '
	expect 404 GET /repos/acme/web &&
	expect 404 GET /orgs/acme &&
	expect 404 POST /orgs/acme/repos "{\"name\":\"web\",\"private\":true}" &&
	ctl org "{\"name\":\"acme\"}" &&
	expect 200 GET /orgs/acme &&
	expect 201 POST /orgs/acme/repos "{\"name\":\"web\",\"private\":true}" &&
	test_grep "\"full_name\":\"acme/web\"" body && test_grep "\"private\":true" body &&
	expect 409 POST /orgs/acme/repos "{\"name\":\"web\"}" &&
	expect 422 POST /orgs/acme/repos "{\"name\":\"bad name\"}" &&
	expect 200 GET /repos/acme/web &&
	expect 404 GET /users/alice &&
	expect 404 POST /admin/users/alice/repos "{\"name\":\"site\"}" &&
	ctl user "{\"login\":\"alice\"}" &&
	expect 200 GET /users/alice &&
	expect 201 POST /admin/users/alice/repos "{\"name\":\"site\"}" &&
	test_grep "\"full_name\":\"alice/site\"" body &&
	expect 201 POST /user/repos "{\"name\":\"mine\"}" &&
	test_grep "\"full_name\":\"orket/mine\"" body
'

test_expect_success DOUBLE 'the log keeps the raw path and query, one JSON object a line' '
	expect 200 GET "/repos/my%2Dorg/web/labels?page=1&limit=5" &&
	test_grep "\"path\":\"/api/v1/repos/my%2Dorg/web/labels\",\"query\":\"page=1&limit=5\"" log &&
	test_grep "\"auth\":\"basic:orket\"" log &&
	test_grep "\"auth\":\"bad\"" log &&
	test_grep "\"auth\":\"none\"" log &&
	test_grep "\"auth\":\"token\"" log &&
	python3 check-log.py log >n && test "$(cat n)" -gt 20 &&
	curl -sS --max-time 5 "$base/_control/calls" >calls &&
	test_grep "\"calls\":\[{\"seq\":" calls
'

test_expect_success DOUBLE 'no password or token reaches the log, the state, stdout or stderr' '
	code=$(curl -sS -o body -w "%{http_code}" "$base/api/v1/user?token=$tok") &&
	test "$code" = 200 &&
	test_grep "\"query\":\"token=<redacted>\"" log &&
	expect 201 POST /repos/o/r/issues/4/comments "{\"body\":\"oops $pass\"}" &&
	test_grep "\"body\":{\"body\":\"oops <redacted>\"},\"status\":201,\"leak\":true" log &&
	curl -sS --max-time 5 "$base/_control/state" >dump &&
	leaked= &&
	for f in log state.json dump calls double.out double.err; do
		if grep -F -e "$pass" -e "$tok" "$f"; then
			leaked="$leaked $f"
		fi
	done &&
	test -z "$leaked"
'

test_expect_success DOUBLE 'SIGTERM stops it cleanly and the state file is complete' '
	test_when_finished "kill $pid 2>/dev/null || :"
	(sleep 10; kill -KILL $pid 2>/dev/null) >/dev/null 2>&1 &
	watchdog=$!
	kill -TERM $pid
	wait $pid
	rc=$?
	kill $watchdog 2>/dev/null
	test "$rc" = 0 &&
	test_grep "\"acme/web\"" state.json &&
	test_grep "\"format\": \"gitea-double-state/1\"" state.json &&
	test ! -s double.out && test ! -s double.err
'

test_expect_success DOUBLE '--fail-first N fails the first N calls, then serves' '
	printf "%s\n" "$pass" >pw
	python3 "$TEST_DIR/gitea-double.py" --port 0 --port-file port2 --log log2 \
	    --user "$user" --password-file pw --fail-first 2 --fail-status 503 --lifetime 60 \
	    </dev/null >double2.out 2>&1 &
	pid2=$!
	test_when_finished "kill $pid2 2>/dev/null || :"
	wait_for_port port2 $pid2 &&
	base=http://127.0.0.1:$(cat port2) &&
	expect 503 GET /user && expect 503 GET /user && expect 200 GET /user &&
	base=http://127.0.0.1:$port
'

test_done
