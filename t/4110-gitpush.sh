#!/bin/sh
# See LICENSE.
test_description='lib/gitpush: ls-remote, push with and without a lease, fetch, over http'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.org GIT_COMMITTER_NAME=A
export GIT_COMMITTER_EMAIL=a@example.org GIT_CONFIG_NOSYSTEM=1 HOME=$TRASH

cat >seed.json <<'EOF'
{"orgs":[{"name":"acme"}]}
EOF

# A history with a fork: A-B-C on main, A-D on side.
test_expect_success DOUBLE 'setup: the double, a repo acme/demo, a local history' '
	cp seed.json g.state && start_double g --state g.state &&
	B=http://127.0.0.1:$g_port && echo "$B" >base &&
	as_admin tool gitea "$B" create acme demo >out.0 &&
	git init -q -b main src &&
	(cd src && echo a >f && git add f && git commit -qm A && echo b >f &&
	 git commit -qam B && echo c >f && git commit -qam C && git checkout -q -b side HEAD~2 &&
	 echo d >f && git commit -qam D) &&
	for c in A:main~2 B:main~1 C:main D:side; do
		git -C src rev-parse ${c#*:} >${c%%:*}.id || return 1
	done
'
B=$(cat base 2>/dev/null)
U=$B/acme/demo.git
A=$(cat A.id 2>/dev/null) B_=$(cat B.id 2>/dev/null) C=$(cat C.id 2>/dev/null)
D=$(cat D.id 2>/dev/null)
Z=0000000000000000000000000000000000000000
remote() { git --git-dir=g.root/acme/demo.git rev-parse "$1"; }

test_expect_success DOUBLE 'ls-remote of an empty repo: no such ref' '
	test_expect_code 5 as_admin tool gitpush src "$U" ls refs/heads/main >out.1 &&
	echo missing >expect && test_cmp expect out.1
'

test_expect_success DOUBLE 'first push: asked for credentials by a 401, then accepted' '
	wc -l <g.log >mark &&
	as_admin tool gitpush src "$U" push $B_ refs/heads/main >out.2 2>err.2 &&
	echo pushed >expect && test_cmp expect out.2 &&
	test "$(remote main)" = $B_ &&
	tail -n +$(( $(cat mark) + 1 )) g.log >calls.2 &&
	grep -q "info/refs\",\"query\":\"service=git-receive-pack\",\"auth\":\"none\".*\"status\":401" calls.2 &&
	grep -q "git-receive-pack\",\"query\":\"\",\"auth\":\"basic:Orket\".*\"status\":200" calls.2 &&
	test -z "$(git -C src for-each-ref refs/orket/push)"
'

test_expect_success DOUBLE 'ls-remote sees it' '
	as_admin tool gitpush src "$U" ls refs/heads/main >out.3 &&
	echo $B_ >expect && test_cmp expect out.3
'

test_expect_success DOUBLE 'a fast-forward push, and the same commit again' '
	as_admin tool gitpush src "$U" push $C refs/heads/main >out.4 &&
	test "$(remote main)" = $C &&
	as_admin tool gitpush src "$U" push $C refs/heads/main >out.4b &&
	test "$(remote main)" = $C
'

test_expect_success DOUBLE 'a non fast-forward push is rejected, the remote unchanged' '
	test_expect_code 1 as_admin tool gitpush src "$U" push $D refs/heads/main >out.5 2>err.5 &&
	test_grep "refs/heads/main: not a fast-forward" err.5 &&
	test "$(remote main)" = $C
'

test_expect_success DOUBLE 'a forced push with the right lease goes through' '
	as_admin tool gitpush src "$U" push $D refs/heads/main $C >out.6 2>err.6 &&
	test "$(remote main)" = $D
'

test_expect_success DOUBLE 'a forced push with a stale lease is refused, naming what is there' '
	test_expect_code 1 as_admin tool gitpush src "$U" push $C refs/heads/main $B_ \
	    >out.7 2>err.7 &&
	test_grep "refs/heads/main is $D on the server, not $B_ as expected" err.7 &&
	test "$(remote main)" = $D
'

test_expect_success DOUBLE 'a zero lease: the ref must not exist' '
	test_expect_code 1 as_admin tool gitpush src "$U" push $C refs/heads/main $Z \
	    >out.8 2>err.8 &&
	test_grep "is $D on the server, not absent as expected" err.8 &&
	as_admin tool gitpush src "$U" push $C refs/heads/fresh $Z >out.8b &&
	test "$(remote fresh)" = $C
'

test_expect_success DOUBLE 'a ref the server refuses (pre-receive hook) is a rejection' '
	ctl "$B" git "{\"mode\":\"decline\",\"count\":1}" &&
	test_expect_code 1 as_admin tool gitpush src "$U" push $A refs/heads/other >out.9 2>err.9 &&
	test_grep "the server refused refs/heads/other: pre-receive hook declined" err.9 &&
	test_must_fail remote other
'

test_expect_success DOUBLE 'a wrong password, or none, is an auth failure' '
	test_expect_code 2 env GITEA_ADMIN_USER=$user GITEA_ADMIN_PASSWORD=wrong-pw \
	    "$TOOLS/gitpush" src "$U" push $C refs/heads/main $D >out.10 2>err.10 &&
	test_grep "the server refused the credentials" err.10 &&
	test_expect_code 2 tool gitpush src "$U" push $C refs/heads/main $D >out.10b 2>err.10b &&
	test_grep "asks for credentials and none were given" err.10b &&
	test "$(remote main)" = $D
'

test_expect_success DOUBLE 'a token works as the password' '
	as_token tool gitpush src "$U" push $C refs/heads/main $D >out.11 2>err.11 &&
	test "$(remote main)" = $C
'

test_expect_success DOUBLE 'the double speaks real git: git clone and ls-remote agree' '
	git clone -q "$U" clone 2>err.11c &&
	test "$(git -C clone rev-parse HEAD)" = $C &&
	git ls-remote "$U" refs/heads/main >out.11c &&
	echo "$C	refs/heads/main" >expect && test_cmp expect out.11c
'

test_expect_success DOUBLE 'the double takes gzip bodies: a fetch with many haves' '
	(cd clone && i=0 && while [ $i -lt 60 ]; do
		echo $i >n && git add n && git commit -qm "local $i" || exit 1; i=$((i + 1)); done) &&
	(cd src && git checkout -q main && echo f >f && git commit -qam F) &&
	F=$(git -C src rev-parse main) &&
	as_admin tool gitpush src "$U" push $F refs/heads/main >out.11e &&
	git -C clone fetch -q origin 2>err.11e &&
	test "$(git -C clone rev-parse origin/main)" = $F &&
	grep -q "\"encoding\":\"gzip\"" g.log &&
	as_admin tool gitpush src "$U" push $C refs/heads/main $F >out.11f
'

test_expect_success DOUBLE 'a redirect to another host is not followed, no credential goes there' '
	cp seed.json h.state && start_double h --state h.state &&
	ctl "$B" git "{\"mode\":\"status\",\"status\":302,\"count\":1,\"headers\":{\"Location\":\"http://localhost:$h_port/acme/demo.git/info/refs?service=git-receive-pack\"}}" &&
	test_expect_code 3 as_admin tool gitpush src "$U" push $D refs/heads/main $C \
	    >out.11d 2>err.11d &&
	test_grep "redirects to another host are not followed" err.11d &&
	test ! -s h.log &&
	stop_double h &&
	test "$(remote main)" = $C
'

test_expect_success DOUBLE 'fetch: the remote head into a local ref, with its objects' '
	git init -q -b main other &&
	(cd other && echo e >g && git add g && git commit -qm E) &&
	E=$(git -C other rev-parse HEAD) &&
	as_admin tool gitpush other "$U" push $E refs/heads/elsewhere >out.12 &&
	as_admin tool gitpush src "$U" fetch refs/heads/elsewhere refs/orket/parity/demo \
	    >out.12b &&
	echo $E >expect && test_cmp expect out.12b &&
	test "$(git -C src rev-parse refs/orket/parity/demo)" = $E &&
	test "$(git -C src rev-parse $E^{tree})" = "$(git -C other rev-parse HEAD^{tree})"
'

test_expect_success DOUBLE 'fetch of a missing ref fails and leaves no stale local ref' '
	test_expect_code 3 as_admin tool gitpush src "$U" fetch refs/heads/nope \
	    refs/orket/parity/demo >out.13 2>err.13 &&
	test_grep "the server has no refs/heads/nope" err.13 &&
	test_must_fail git -C src rev-parse -q --verify refs/orket/parity/demo
'

test_expect_success DOUBLE 'a private repo needs credentials to be read' '
	as_admin tool gitea "$B" create acme hidden private >out.14 &&
	as_admin tool gitpush src "$B/acme/hidden.git" push $C refs/heads/main >out.14b &&
	test_expect_code 2 tool gitpush src "$B/acme/hidden.git" ls refs/heads/main \
	    >out.14c 2>err.14c &&
	as_admin tool gitpush src "$B/acme/hidden.git" ls refs/heads/main >out.14d &&
	echo $C >expect && test_cmp expect out.14d
'

test_expect_success DOUBLE 'an HTTP error from the server is a git error with its status' '
	ctl "$B" git "{\"mode\":\"status\",\"status\":500,\"count\":1}" &&
	test_expect_code 3 as_admin tool gitpush src "$U" ls refs/heads/main >out.15 2>err.15 &&
	test_grep "500" err.15 &&
	test_expect_code 3 as_admin tool gitpush src "$B/acme/nosuch.git" ls refs/heads/main \
	    >out.15b 2>err.15b &&
	test_grep "404" err.15b
'

test_expect_success DOUBLE 'a stalled server: a network error within the timeout' '
	ctl "$B" git "{\"mode\":\"stall\",\"seconds\":8,\"count\":1}" &&
	start=$(date +%s) &&
	test_expect_code 4 as_admin tool gitpush -t 500 src "$U" ls refs/heads/main \
	    >out.16 2>err.16 &&
	test $(( $(date +%s) - start )) -lt 8 &&
	test_grep "timed out" err.16
'

test_expect_success DOUBLE 'a URL with credentials is refused before any request' '
	wc -l <g.log >mark &&
	test_expect_code 3 as_admin tool gitpush src "http://x:y@${B#http://}/acme/demo.git" \
	    ls refs/heads/main >out.17 2>err.17 &&
	test_grep "must not hold credentials" err.17 &&
	test $(wc -l <g.log) = $(cat mark)
'

test_expect_success DOUBLE 'a server that is down is a network error' '
	stop_double g &&
	test_expect_code 4 as_admin tool gitpush src "$U" ls refs/heads/main >out.18 2>err.18 &&
	test_grep "unable to connect to 127.0.0.1 port $g_port: Connection refused" err.18 &&
	test_expect_code 4 as_admin tool gitpush src "$U" push $C refs/heads/main >out.18b 2>err.18b
'

test_expect_success DOUBLE 'no password, token or Basic header in any output or log' '
	test -s g.log && check_no_secrets
'

stop_double g
test_done
