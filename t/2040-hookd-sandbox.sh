#!/bin/sh
# See LICENSE.
test_description='orket-hookd: the sandbox command on a merged PR: arguments, environment, timeout'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/hookd-lib.sh"

# The sandbox: records its arguments and environment, prints a line, and exits as told.
cat >sandbox.sh <<'X'
#!/bin/sh
printf '%s\n' "$@" >"$SANDBOX_DIR/args.$3"
env | sort >"$SANDBOX_DIR/env.$3"
echo "sandbox up for $1#$2 at http://127.0.0.1:9/"
case $3 in
slow*) sh -c 'sleep 100' & echo $! >"$SANDBOX_DIR/grandchild"; sleep 100 ;;
fail*) exit 3 ;;
esac
exit 0
X
chmod +x sandbox.sh

# merged N BRANCH ID: PR anbraten/test-repo#N merged from BRANCH.
merged() {
	sed "s/\"number\": 1,/\"number\": $1,/; s/anbraten-patch-1/$2/" "$FIX/pull_request-closed-merged.json" >m$1.json &&
	expect_delivery "PR #$1 merged, sandbox deployment queued" m$1.json pull_request "$3"
}

# wait_row N STATE: the sandbox row of PR N reaches STATE (10 s at most).
wait_row() {
	i=0
	while [ "$(sqlite3 w.db "SELECT state FROM outbox WHERE kind = 'sandbox' AND pr_key = 'anbraten/test-repo#$1'")" != "$2" ] &&
	    [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sqlite3 w.db "SELECT state FROM outbox WHERE kind = 'sandbox' AND pr_key = 'anbraten/test-repo#$1'" >row &&
	echo "$2" >expect-row && test_cmp expect-row row
}

test_expect_success FIXTURES,CLIENTS 'start with a sandbox command and a 1 s timeout' '
	gitea_start &&
	HOOKD_ENV="ORKET_SANDBOX_COMMAND=[\"$TRASH/sandbox.sh\"] ORKET_SANDBOX_TIMEOUT_SEC=1 SANDBOX_DIR=$TRASH ORKET_SANDBOX_ENV_ALLOW=SANDBOX_DIR" &&
	export HOOKD_ENV && daemon_start hookd hookd_start
'

test_expect_success FIXTURES,CLIENTS 'a merged PR runs it with repo, number and branch, then comments' '
	merged 31 ok-branch s31 && wait_row 31 done &&
	printf "%s\n" anbraten/test-repo 31 ok-branch >expect && test_cmp expect args.ok-branch &&
	wait_calls 1 && outbox_settled &&
	calls >actual && echo "POST /api/v1/repos/anbraten/test-repo/issues/31/comments 201" >expect &&
	test_cmp expect actual &&
	grep -F "sandbox up for anbraten/test-repo#31" gitea.log &&
	grep "\"sandbox_deployed\"" events.log
'

test_expect_success FIXTURES,CLIENTS 'its environment holds only the allow-list: no secret' '
	sed "s/=.*//" env.ok-branch >names &&
	! grep -E "^(GITEA_|ORKET_API_KEY|ORKET_WEBHOOK)" names &&
	! grep -F -e "$GITEA_TEST_PASSWORD" -e "$GITEA_WEBHOOK_SECRET" env.ok-branch &&
	grep "^SANDBOX_DIR=" env.ok-branch && grep "^PATH=" env.ok-branch
'

test_expect_success FIXTURES,CLIENTS 'a failing command is recorded as failed, without a comment' '
	merged 32 fail-branch s32 && wait_row 32 failed &&
	sqlite3 w.db "SELECT last_status FROM outbox WHERE kind = \"sandbox\" AND pr_key = \"anbraten/test-repo#32\"" >actual &&
	echo 3 >expect && test_cmp expect actual &&
	grep "\"sandbox_deployment_failed\"" events.log &&
	test "$(calls | grep -c "issues/32/comments")" = 0
'

test_expect_success FIXTURES,CLIENTS 'a command past the timeout is killed with its whole process group' '
	merged 33 slow-branch s33 && wait_row 33 failed &&
	gc=$(cat grandchild) && sleep 0.2 &&
	# Gone, or a zombie waiting for init to reap it: either way, no longer running.
	{ ! kill -0 "$gc" 2>/dev/null || grep -q "^State:.*Z" /proc/$gc/status; } &&
	grep "\"timed_out\":true" events.log
'

test_expect_success FIXTURES,CLIENTS 'no zombie is left behind' '
	pid=$(cat hookd.pid) &&
	for c in $(cat /proc/$pid/task/*/children 2>/dev/null); do
		! grep -q "^State:.*Z" /proc/$c/status || { echo "zombie $c"; exit 1; }
	done
'

daemon_stop hookd
gitea_stop
test_done
