#!/bin/sh
# See LICENSE.
test_description='orket-hookd: the review cycle to escalation and rejection, with the exact Gitea calls'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/hookd-lib.sh"

# Reviews of PR a_nice_user/hello_world_ci#7, as real Gitea sends them.
test_expect_success FIXTURES,CLIENTS 'start a Gitea double and the daemon' '
	orket-migrate --runtime-db r.db --webhook-db w.db >/dev/null &&
	gitea_start && daemon_start hookd hookd_start
'

test_expect_success FIXTURES,CLIENTS 'cycles 1 and 2 only count, and call nobody' '
	expect_delivery "\"changes_requested\"" "$FIX/pull_request_rejected-review.json" pull_request_rejected r1 pull_request_review_rejected &&
	grep -F "PR #7 rejected (cycle 1/4)" reply &&
	expect_delivery "PR #7 rejected (cycle 2/4)" "$FIX/pull_request_rejected-review.json" pull_request_rejected r2 &&
	sqlite3 w.db "SELECT pr_key, cycle_count, status FROM pr_review_cycles" >actual &&
	echo "a_nice_user/hello_world_ci#7|2|active" >expect && test_cmp expect actual &&
	sqlite3 w.db "SELECT cycle_number, reviewer, reason FROM review_failures ORDER BY id" >actual &&
	printf "%s\n" "1|a_nice_user|I decided otherwhies :O" "2|a_nice_user|I decided otherwhies :O" >expect &&
	test_cmp expect actual &&
	sleep 0.3 && test "$(calls | wc -l)" = 0
'

test_expect_success FIXTURES,CLIENTS 'cycle 3 escalates with one comment' '
	expect_delivery "\"escalated\"" "$FIX/pull_request_rejected-review.json" pull_request_rejected r3 &&
	wait_calls 1 && outbox_settled &&
	calls >actual &&
	echo "POST /api/v1/repos/a_nice_user/hello_world_ci/issues/7/comments 201" >expect &&
	test_cmp expect actual &&
	grep -F "Architect Escalation Required" gitea.log
'

test_expect_success FIXTURES,CLIENTS 'cycle 4 closes, comments and opens a requirements issue with label ids' '
	expect_delivery "PR #7 auto-rejected after 4 cycles" "$FIX/pull_request_rejected-review.json" pull_request_rejected r4 &&
	wait_calls 7 && outbox_settled &&
	calls | sed 1d >actual &&
	cat >expect <<-X &&
	PATCH /api/v1/repos/a_nice_user/hello_world_ci/pulls/7 201
	POST /api/v1/repos/a_nice_user/hello_world_ci/issues/7/comments 201
	GET /api/v1/repos/a_nice_user/hello_world_ci/labels 200
	POST /api/v1/repos/a_nice_user/hello_world_ci/labels 201
	POST /api/v1/repos/a_nice_user/hello_world_ci/labels 201
	POST /api/v1/repos/a_nice_user/hello_world_ci/issues 201
	X
	test_cmp expect actual &&
	python3 -c "import json
calls = [json.loads(l) for l in open(\"gitea.log\")]
issue = [c for c in calls if c[\"method\"] == \"POST\" and c[\"path\"].endswith(\"/issues\")][0]
assert all(isinstance(x, int) for x in issue[\"body\"][\"labels\"]), issue[\"body\"]
assert len(issue[\"body\"][\"labels\"]) == 2
assert \"Cycle 4\" in issue[\"body\"][\"body\"] and \"Cycle 1\" in issue[\"body\"][\"body\"]
assert issue[\"body\"][\"title\"] == \"Requirements Review: PR #7 failed after 4 cycles\"
close = [c for c in calls if c[\"method\"] == \"PATCH\"][0]
assert close[\"body\"] == {\"state\": \"closed\"}, close
" &&
	sqlite3 w.db "SELECT status, rejected_at IS NOT NULL FROM pr_review_cycles" >actual &&
	echo "rejected|1" >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'a fifth rejection counts but does not run the auto-reject again' '
	expect_delivery "already auto-rejected" "$FIX/pull_request_rejected-review.json" pull_request_rejected r5 &&
	sleep 0.3 && outbox_settled && test "$(calls | wc -l)" = 7 &&
	sqlite3 w.db "SELECT cycle_count FROM pr_review_cycles" >actual && echo 5 >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'a replayed delivery id changes nothing' '
	expect_delivery "\"duplicate\"" "$FIX/pull_request_rejected-review.json" pull_request_rejected r3 &&
	sqlite3 w.db "SELECT cycle_count FROM pr_review_cycles" >actual && echo 5 >expect && test_cmp expect actual &&
	test "$(sqlite3 w.db "SELECT count(*) FROM webhook_events WHERE delivery_id = \"r3\"")" = 1
'

test_expect_success FIXTURES,CLIENTS 'an approval asks Gitea to merge, and the reply claims no merge' '
	sed "s/\"number\": 7/\"number\": 20/" "$FIX/pull_request_approved-review.json" >approve20.json &&
	expect_delivery "PR #20 approved, merge requested" approve20.json pull_request_approved a1 pull_request_review_approved &&
	wait_calls 8 && outbox_settled &&
	calls | tail -n 1 >actual &&
	echo "POST /api/v1/repos/a_nice_user/hello_world_ci/pulls/20/merge 200" >expect && test_cmp expect actual &&
	grep "\"pr_merged\"" events.log &&
	sqlite3 w.db "SELECT kind, state, last_status FROM outbox WHERE kind = \"merge\"" >actual &&
	echo "merge|done|200" >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'a merge Gitea refuses (409) is final, recorded, and not retried' '
	gitea_control pr "{\"owner\":\"a_nice_user\",\"repo\":\"hello_world_ci\",\"number\":9,\"state\":\"conflicted\"}" &&
	sed "s/\"number\": 7/\"number\": 9/" "$FIX/pull_request_approved-review.json" >approve9.json &&
	expect_delivery "merge requested" approve9.json pull_request_approved a2 &&
	wait_calls 9 && outbox_settled && sleep 0.5 &&
	test "$(calls | grep -c "pulls/9/merge")" = 1 &&
	sqlite3 w.db "SELECT state, last_status, attempts FROM outbox WHERE path LIKE \"%/pulls/9/merge\"" >actual &&
	echo "failed|409|1" >expect && test_cmp expect actual &&
	grep "\"pr_merge_failed\"" events.log
'

test_expect_success FIXTURES,CLIENTS 'the GitHub-style pull_request_review is understood too' '
	cat >gh.json <<-X &&
	{"action":"submitted","number":11,"pull_request":{"number":11},"review":{"state":"changes_requested","body":"please split","user":{"login":"bob"}},"repository":{"name":"r","owner":{"login":"o"}}}
	X
	expect_delivery "PR #11 rejected (cycle 1/4)" gh.json pull_request_review g1 &&
	sqlite3 w.db "SELECT reviewer, reason FROM review_failures WHERE pr_key = \"o/r#11\"" >actual &&
	echo "bob|please split" >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'traps: a plain PR comment and a review request advance nothing' '
	cat >comment.json <<-X &&
	{"action":"created","is_pull":true,"issue":{"number":11},"comment":{"body":"LGTM?"},"repository":{"name":"r","owner":{"login":"o"}},"sender":{"login":"carol"}}
	X
	expect_delivery "\"ignored\"" comment.json issue_comment t1 pull_request_comment &&
	sed "s/\"action\": \"opened\"/\"action\": \"review_requested\"/" "$FIX/pull_request-opened-gitea1.5.json" >rr.json &&
	grep -q review_requested rr.json &&
	expect_delivery "\"ignored\"" rr.json pull_request t2 pull_request_review_request &&
	sqlite3 w.db "SELECT count(*) FROM pr_review_cycles WHERE pr_key = \"o/r#11\" AND cycle_count = 1" >actual &&
	echo 1 >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'a review comment is not actionable' '
	expect_delivery "Review state not actionable" "$FIX/pull_request_approved-review.json" pull_request_comment c1 pull_request_review_comment
'

test_expect_success FIXTURES,CLIENTS 'a merged PR is marked merged; a closed one is ignored' '
	sqlite3 w.db "INSERT INTO pr_review_cycles (pr_key, repo_full_name, pr_number, cycle_count) VALUES (\"anbraten/test-repo#1\", \"anbraten/test-repo\", 1, 1)" &&
	expect_delivery "closed without merge" "$FIX/pull_request-closed-unmerged.json" pull_request m0 &&
	expect_delivery "PR #1 merged" "$FIX/pull_request-closed-merged.json" pull_request m1 &&
	sqlite3 w.db "SELECT status FROM pr_review_cycles WHERE pr_key = \"anbraten/test-repo#1\"" >actual &&
	echo merged >expect && test_cmp expect actual
'

test_expect_success FIXTURES,CLIENTS 'a PR titled with an ISSUE id sets the card to code_review' '
	sqlite3 r.db "INSERT INTO issues (id, status) VALUES (\"ISSUE-7Q\", \"in_progress\")" &&
	sed "s/\"title\": \"Add License File\"/\"title\": \"ISSUE-7Q: add license\"/" "$FIX/pull_request-opened-gitea1.5.json" >open.json &&
	grep -q ISSUE-7Q open.json &&
	expect_delivery "PR #1 review triggered for ISSUE-7Q" open.json pull_request o1 &&
	outbox_settled &&
	sqlite3 r.db "SELECT status FROM issues WHERE id = \"ISSUE-7Q\"" >actual && echo code_review >expect &&
	test_cmp expect actual &&
	sqlite3 r.db "SELECT action FROM card_transactions WHERE card_id = \"ISSUE-7Q\"" >actual &&
	grep -F "code_review" actual
'

test_expect_success FIXTURES,CLIENTS 'every call was authenticated, and the password reached no log' '
	python3 -c "import json
for l in open(\"gitea.log\"):
    c = json.loads(l)
    assert c.get(\"control\") or c[\"auth\"] == \"basic:orket\", c
    assert not c.get(\"leak\"), c
" &&
	! grep -F "$GITEA_TEST_PASSWORD" events.log hookd.err gitea.log &&
	! grep -F "$GITEA_WEBHOOK_SECRET" events.log hookd.err
'

test_expect_success FIXTURES,CLIENTS 'SIGTERM: the daemon exits 0' '
	daemon_stop hookd && echo 0 >expect && test_cmp expect hookd.status
'
daemon_stop hookd
gitea_stop
test_done
