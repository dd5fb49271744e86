#!/bin/sh
# See LICENSE.
test_description='lib/gitea: repo exists and create against the Gitea double, over loopback'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

# Owners the double knows: the org acme and the user alice (the admin is Orket).
cat >seed.json <<'EOF'
{"orgs":[{"name":"acme"}],"users":[{"login":"alice"}]}
EOF

test_expect_success DOUBLE 'start the double' '
	cp seed.json g.state && start_double g --state g.state &&
	B=http://127.0.0.1:$g_port &&
	echo "$B" >base
'
B=$(cat base 2>/dev/null)

# The log lines of the calls since the last mark, in a file.
mark() { wc -l <g.log >mark; }
since() { tail -n +"$(( $(cat mark) + 1 ))" g.log >"$1"; }

test_expect_success DOUBLE 'a missing repo is missing (404), not an error' '
	test_expect_code 1 as_admin tool gitea "$B" exists acme demo >out.1 2>err.1 &&
	echo "missing 404" >expect && test_cmp expect out.1 &&
	test_grep "HTTP 404: no such repository" err.1
'

test_expect_success DOUBLE 'create under an org: POST /orgs/acme/repos, public, raw Basic auth' '
	mark &&
	as_admin tool gitea "$B" create acme demo >out.2 2>err.2 &&
	echo "created 201" >expect && test_cmp expect out.2 &&
	since calls.2 && test $(wc -l <calls.2) = 1 &&
	test_grep "\"POST\",\"path\":\"/api/v1/orgs/acme/repos\"" calls.2 &&
	test_grep "\"auth\":\"basic:Orket\",\"body\":{\"name\":\"demo\",\"private\":false}" calls.2 &&
	as_admin tool gitea "$B" exists acme demo >out.2b &&
	echo "exists 200" >expect && test_cmp expect out.2b
'

test_expect_success DOUBLE 'creating it again is 409 and counts as success' '
	as_admin tool gitea "$B" create acme demo >out.3 2>err.3 &&
	echo "created 409" >expect && test_cmp expect out.3
'

test_expect_success DOUBLE 'private when asked: the body says so and Gitea keeps it' '
	mark &&
	as_admin tool gitea "$B" create acme secret private >out.4 &&
	since calls.4 &&
	test_grep "\"body\":{\"name\":\"secret\",\"private\":true}" calls.4 &&
	curl -sS -u "$user:$pass" "$B/api/v1/repos/acme/secret" >repo.4 &&
	test_grep "\"private\":true" repo.4
'

test_expect_success DOUBLE 'under a user: the org endpoint says 404, then the admin endpoint' '
	mark &&
	as_admin tool gitea "$B" create alice tool >out.5 2>err.5 &&
	echo "created 201" >expect && test_cmp expect out.5 &&
	since calls.5 && test $(wc -l <calls.5) = 2 &&
	head -n 1 calls.5 | grep -q "/api/v1/orgs/alice/repos\",.*\"status\":404" &&
	tail -n 1 calls.5 | grep -q "/api/v1/admin/users/alice/repos\",.*\"status\":201" &&
	test_grep ! "/api/v1/user/repos" g.log &&
	curl -sS -u "$user:$pass" "$B/api/v1/repos/alice/tool" >repo.5 &&
	test_grep "\"full_name\":\"alice/tool\"" repo.5
'

test_expect_success DOUBLE 'an owner that is neither org nor user is missing, with a clear message' '
	test_expect_code 1 as_admin tool gitea "$B" create nobody x >out.6 2>err.6 &&
	test_grep "no organization or user named nobody" err.6
'

test_expect_success DOUBLE 'a wrong password is an error (401), not "missing"' '
	test_expect_code 2 env GITEA_ADMIN_USER=$user GITEA_ADMIN_PASSWORD=wrong-pw \
	    "$TOOLS/gitea" "$B" exists acme demo >out.7 2>err.7 &&
	test_grep "HTTP 401" err.7 && test_grep "(status 401)" err.7 &&
	test_expect_code 2 tool gitea "$B" exists acme demo >out.7b 2>err.7b &&
	test_grep "HTTP 401: token is required" err.7b
'

test_expect_success DOUBLE 'a token goes in "Authorization: token", a wrong one is refused' '
	mark &&
	as_token tool gitea "$B" exists acme demo >out.8 &&
	since calls.8 && test_grep "\"auth\":\"token\"" calls.8 &&
	test_expect_code 2 env GITEA_TOKEN=not-the-token "$TOOLS/gitea" "$B" exists acme demo \
	    >out.8b 2>err.8b &&
	test_grep "HTTP 401" err.8b
'

test_expect_success DOUBLE 'a 500 on GET is an error with status and reason, never "missing"' '
	ctl "$B" fault "{\"mode\":\"status\",\"status\":500,\"count\":1,\"body\":{\"message\":\"db is down\"}}" &&
	test_expect_code 2 as_admin tool gitea "$B" exists acme demo >out.9 2>err.9 &&
	test_grep "GET /api/v1/repos/acme/demo: HTTP 500: db is down" err.9 &&
	test_must_fail grep missing out.9
'

test_expect_success DOUBLE 'a 500 from the org endpoint does not fall back to the admin one' '
	mark &&
	ctl "$B" fault "{\"mode\":\"status\",\"status\":503,\"count\":1}" &&
	test_expect_code 2 as_admin tool gitea "$B" create alice other >out.10 2>err.10 &&
	test_grep "HTTP 503" err.10 &&
	since calls.10 && test $(grep -c "/api/v1/" calls.10) = 1
'

test_expect_success DOUBLE 'a 422 from Gitea is reported with its message' '
	test_expect_code 2 as_admin tool gitea "$B" create acme "bad name" >out.11 2>err.11 &&
	test_grep "HTTP 422: \\[Name\\]" err.11
'

test_expect_success DOUBLE 'a stalled server: no answer within the timeout' '
	ctl "$B" fault "{\"mode\":\"stall\",\"seconds\":8,\"count\":1}" &&
	start=$(date +%s) &&
	test_expect_code 3 as_admin tool gitea -t 500 "$B" exists acme demo >out.12 2>err.12 &&
	test $(( $(date +%s) - start )) -lt 8 &&
	test_grep "no answer within 500 ms" err.12
'

test_expect_success DOUBLE 'a refused connection is "no answer"' '
	ctl "$B" fault "{\"mode\":\"refuse\",\"seconds\":5}" &&
	test_expect_code 3 as_admin tool gitea -t 2000 "$B" exists acme demo >out.13 2>err.13 &&
	grep -qi "connect" err.13 &&
	i=0 && while ! curl -s -o /dev/null "$B/_control/health" && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1)); done
'

test_expect_success DOUBLE 'a connection closed without an answer is "no answer"' '
	ctl "$B" fault "{\"mode\":\"close\",\"count\":1}" &&
	test_expect_code 3 as_admin tool gitea "$B" exists acme demo >out.13c 2>err.13c &&
	test_grep "GET /api/v1/repos/acme/demo: " err.13c &&
	as_admin tool gitea "$B" exists acme demo >out.13d
'

test_expect_success DOUBLE 'owner and repo are escaped as path segments' '
	mark &&
	test_expect_code 1 as_admin tool gitea "$B" exists "own/er" "re po?ö#%" >out.14 2>err.14 &&
	since calls.14 &&
	test_grep "\"path\":\"/api/v1/repos/own%2Fer/re%20po%3F%C3%B6%23%25\"" calls.14
'

test_expect_success DOUBLE 'names: 256 bytes go out, 257 are refused before any request' '
	r256=$(printf "%0256d" 0) && r257=$(printf "%0257d" 0) &&
	test_expect_code 1 as_admin tool gitea "$B" exists acme "$r256" >out.15 2>err.15 &&
	mark &&
	test_expect_code 2 as_admin tool gitea "$B" exists acme "$r257" >out.15b 2>err.15b &&
	test_grep "bad repository name: too long" err.15b &&
	since calls.15 && test ! -s calls.15
'

# URL = base + "/api/v1/repos/acme/demo" (23 bytes); the cap is 4096 bytes.
test_expect_success DOUBLE 'URLs: 4096 bytes go out, 4097 are refused' '
	pad=$(( 4096 - ${#B} - 1 - 23 )) &&
	p1=$(printf "%0${pad}d" 0) && p2=${p1}0 &&
	test_expect_code 1 as_admin tool gitea "$B/$p1" exists acme demo >out.16 2>err.16 &&
	test_grep "HTTP 404" err.16 &&
	test_expect_code 2 as_admin tool gitea "$B/$p2" exists acme demo >out.16b 2>err.16b &&
	test_grep "URL too long" err.16b
'

test_expect_success DOUBLE 'answers: 1 MiB is read, one byte more is refused' '
	ctl "$B" answer "{\"bytes\":1048576}" &&
	as_admin tool gitea "$B" exists acme demo >out.17 2>err.17 &&
	ctl "$B" answer "{\"bytes\":1048577}" &&
	test_expect_code 3 as_admin tool gitea "$B" exists acme demo >out.17b 2>err.17b &&
	test_grep "larger than 1048576 bytes" err.17b
'

test_expect_success DOUBLE 'a 200 that is not JSON (a proxy login page) is an error' '
	ctl "$B" fault "{\"mode\":\"status\",\"status\":200,\"count\":1,\"body\":\"<html>login</html>\",\"headers\":{\"Content-Type\":\"text/html\"}}" &&
	test_expect_code 2 as_admin tool gitea "$B" exists acme demo >out.18 2>err.18 &&
	test_grep "not a JSON object" err.18
'

test_expect_success DOUBLE 'a base URL with credentials, or not http(s), is refused unsent' '
	mark &&
	hostport=${B#http://} &&
	test_expect_code 2 as_admin tool gitea "http://x:y@$hostport" exists acme demo \
	    >out.19 2>err.19 &&
	test_grep "must not hold credentials" err.19 &&
	test_expect_code 2 as_admin tool gitea "ftp://$hostport" exists acme demo >out.19b 2>err.19b &&
	test_grep "must start with http" err.19b &&
	since calls.19 && test ! -s calls.19
'

test_expect_success DOUBLE 'a Gitea under a sub-path: the path is kept, a trailing slash dropped' '
	cp seed.json s.state && start_double s --state s.state --prefix /gitea/sub &&
	S=http://127.0.0.1:$s_port &&
	as_admin tool gitea "$S/gitea/sub/" create acme demo >out.20 &&
	as_admin tool gitea "$S/gitea/sub" exists acme demo >out.20b &&
	test_grep "\"path\":\"/api/v1/orgs/acme/repos\",.*\"status\":201" s.log &&
	test_expect_code 1 as_admin tool gitea "$S" exists acme demo >out.20c 2>err.20c
'

test_expect_success DOUBLE 'no password, token or Basic header in any output or log' '
	test -s g.log && test -s s.log &&
	check_no_secrets
'

stop_double g
stop_double s
test_done
