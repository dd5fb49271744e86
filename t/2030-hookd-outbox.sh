#!/bin/sh
# See LICENSE.
test_description='orket-hookd: Gitea down then back, and kill -9 right after a 200: nothing lost, each call once'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/hookd-lib.sh"

# approve N ID: an approval of PR a_nice_user/hello_world_ci#N.
approve() {
	sed "s/\"number\": 7/\"number\": $1/" "$FIX/pull_request_approved-review.json" >approve$1.json &&
	expect_delivery "PR #$1 approved, merge requested" approve$1.json pull_request_approved "$2"
}

test_expect_success FIXTURES,CLIENTS 'start the double and the daemon' '
	orket-migrate --runtime-db r.db --webhook-db w.db >/dev/null &&
	gitea_start && daemon_start hookd hookd_start
'

test_expect_success FIXTURES,CLIENTS 'Gitea refuses connections: the merges wait and are retried' '
	gitea_control fault "{\"mode\":\"refuse\",\"seconds\":5}" &&
	approve 21 d21 && approve 22 d22 && approve 23 d23 &&
	i=0 && while [ "$(sqlite3 w.db "SELECT count(*) FROM outbox WHERE kind = \"merge\" AND attempts >= 2")" != 3 ] &&
	    [ $i -lt 40 ]; do sleep 0.1; i=$((i + 1)); done &&
	sqlite3 w.db "SELECT count(*) FROM outbox WHERE kind = \"merge\" AND state IN (\"pending\",\"running\") AND attempts >= 2" >n &&
	echo 3 >expect && test_cmp expect n &&
	test "$(calls | grep -c merge)" = 0 &&
	grep -c "\"outbox_retry\"" events.log
'

test_expect_success FIXTURES,CLIENTS 'Gitea back: each merge is made exactly once' '
	wait_calls 3 && outbox_settled && sleep 0.5 &&
	calls | sort >actual &&
	cat >expect <<-X &&
	POST /api/v1/repos/a_nice_user/hello_world_ci/pulls/21/merge 200
	POST /api/v1/repos/a_nice_user/hello_world_ci/pulls/22/merge 200
	POST /api/v1/repos/a_nice_user/hello_world_ci/pulls/23/merge 200
	X
	test_cmp expect actual &&
	sqlite3 w.db "SELECT count(*) FROM outbox WHERE state = \"done\"" >n && echo 3 >expect && test_cmp expect n
'

test_expect_success FIXTURES,CLIENTS '503 answers are retried with backoff, then succeed' '
	gitea_control fault "{\"mode\":\"status\",\"status\":503,\"count\":2}" &&
	approve 24 d24 && outbox_settled &&
	sqlite3 w.db "SELECT state, attempts, last_status FROM outbox WHERE path LIKE \"%/pulls/24/merge\"" >actual &&
	echo "done|3|200" >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'kill -9 right after a 200: the delivery and its outbox row survive' '
	gitea_control fault "{\"mode\":\"down\"}" &&
	approve 25 d25 &&
	kill -9 $(cat hookd.pid) && daemon_stop hookd &&
	sqlite3 w.db "SELECT count(*) FROM webhook_events WHERE delivery_id = \"d25\"" >n && echo 1 >expect && test_cmp expect n &&
	sqlite3 w.db "SELECT count(*) FROM outbox WHERE path LIKE \"%/pulls/25/merge\" AND state != \"done\"" >n && test_cmp expect n
'

test_expect_success FIXTURES,CLIENTS 'after a restart the outbox still goes out, once' '
	curl -s -X DELETE "http://127.0.0.1:$(cat gitea.port)/_control/fault" >/dev/null &&
	daemon_start hookd hookd_start &&
	outbox_settled && sleep 0.3 &&
	test "$(calls | grep -c "pulls/25/merge 200")" = 1 &&
	sqlite3 w.db "SELECT state FROM outbox WHERE path LIKE \"%/pulls/25/merge\"" >actual &&
	echo done >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'every attempt is recorded in the event log' '
	grep -c "\"outbox_sent\"" events.log >n && test "$(cat n)" -ge 5
'

daemon_stop hookd
gitea_stop
test_done
