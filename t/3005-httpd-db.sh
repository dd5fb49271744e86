#!/bin/sh
# See LICENSE.
test_description='orket-httpd: runs, sessions, snapshots, backlog, run metrics and card archive'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

test_expect_success HTTPD 'start, with sessions of every kind in the database' '
	httpd_start_keep d &&
	sql d "INSERT INTO sessions (id, type, name, status, start_time) VALUES
	    (\"s01\",\"epic\",\"e1\",\"done\",\"2026-01-01T00:00:01+00:00\"),
	    (\"s02\",\"epic\",\"e2\",\"done\",\"2026-01-01T00:00:02+00:00\"),
	    (\"s03\",\"epic\",\"e3\",\"done\",\"2026-01-01T00:00:03+00:00\"),
	    (\"s04\",\"epic\",\"e4\",\"done\",\"2026-01-01T00:00:04+00:00\"),
	    (\"s05\",\"epic\",\"e5\",\"Started\",\"2026-01-01T00:00:05+00:00\"),
	    (\"s06\",\"epic\",\"e6\",\"done\",\"2026-01-01T00:00:06+00:00\"),
	    (\"s07\",\"epic\",\"e7\",\"done\",\"2026-01-01 00:00:07\"),
	    (\"s08\",\"epic\",\"e8\",\"done\",\"2026-01-01T00:00:08+00:00\"),
	    (\"s09\",\"epic\",\"e9\",\"done\",\"2026-01-01T00:00:09+00:00\"),
	    (\"s10\",\"epic\",\"e10\",\"done\",\"2026-01-01T00:00:10+00:00\"),
	    (\"s11\",\"epic\",\"e11\",\"done\",\"2026-01-01T00:00:11+00:00\"),
	    (\"a b\",\"epic\",\"spaced\",\"done\",NULL);
	    UPDATE sessions SET department = \"core\", task_input = \"do it\",
	        transcript = \"[{\"\"step_index\"\":0}]\", end_time = \"2026-01-01T01:00:00+00:00\"
	        WHERE id = \"s11\";
	    INSERT INTO session_snapshots VALUES (\"s05\", \"{\"\"epic\"\":\"\"e5\"\"}\", \"[]\",
	        \"2026-01-01T00:10:00+00:00\")"
'

test_expect_success HTTPD 'GET /v1/runs: ten sessions by start_time as text, every column, transcript raw' '
	api d GET /v1/runs && expect_status 200 &&
	jcheck "[r[\"id\"] for r in j] == [\"s11\", \"s10\", \"s09\", \"s08\", \"s06\", \"s05\", \"s04\", \"s03\", \"s02\", \"s01\"]" &&
	jcheck "all(list(r) == [\"id\", \"type\", \"name\", \"department\", \"status\", \"task_input\", \"transcript\", \"start_time\", \"end_time\"] for r in j)" &&
	jcheck "j[0] == {\"id\": \"s11\", \"type\": \"epic\", \"name\": \"e11\", \"department\": \"core\", \"status\": \"done\", \"task_input\": \"do it\", \"transcript\": \"[{\\\"step_index\\\":0}]\", \"start_time\": \"2026-01-01T00:00:11+00:00\", \"end_time\": \"2026-01-01T01:00:00+00:00\"}" &&
	jcheck "j[1][\"transcript\"] is None and j[1][\"end_time\"] is None"
'

test_expect_success HTTPD 'GET /v1/sessions/ID: the row or 404; ids are percent-decoded' '
	api d GET /v1/sessions/s05 && expect_status 200 &&
	jcheck "j[\"id\"] == \"s05\" and j[\"status\"] == \"Started\" and len(j) == 9" &&
	api d GET "/v1/sessions/a%20b" && expect_status 200 && jcheck "j[\"name\"] == \"spaced\"" &&
	api d GET /v1/sessions/nope && expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	api d GET "/v1/sessions/s05%2Fsnapshot" && expect_status 200 &&
	jcheck "list(j) == [\"session_id\", \"config_json\", \"log_history\", \"captured_at\"]" &&
	test_grep "\"event\":\"api_session_detail\",\"data\":{\"session_id\":\"a b\"}" d.log
'

test_expect_success HTTPD 'GET /v1/sessions/ID/snapshot: the row or 404' '
	api d GET /v1/sessions/s05/snapshot &&
	expect_answer 200 "{\"session_id\":\"s05\",\"config_json\":\"{\\\"epic\\\":\\\"e5\\\"}\",\"log_history\":\"[]\",\"captured_at\":\"2026-01-01T00:10:00+00:00\"}" &&
	api d GET /v1/sessions/s06/snapshot && expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	test_grep "\"event\":\"api_session_snapshot\",\"data\":{\"session_id\":\"s06\"}" d.log
'

test_expect_success HTTPD 'GET /v1/runs/ID/backlog: the session cards, oldest first, JSON parsed' '
	sql d "INSERT INTO issues (id, session_id, build_id, summary, status, verification_json,
	        metrics_json, created_at) VALUES
	    (\"B2\", \"sb\", \"b\", \"second\", \"ready\", \"{ \"\"ok\"\" : true,  \"\"n\"\": [1, 2] }\",
	        NULL, \"2026-01-02\"),
	    (\"B1\", \"sb\", \"b\", \"first\", \"done\", NULL, \"not json\", \"2026-01-01\"),
	    (\"B3\", \"sb\", \"b\", \"third\", \"ready\", \"\", \"{\"\"t\"\":1.5}\", \"2026-01-03\"),
	    (\"X1\", \"other\", \"b\", \"elsewhere\", \"ready\", NULL, NULL, \"2026-01-01\")" &&
	api d GET /v1/runs/sb/backlog && expect_status 200 &&
	jcheck "[c[\"id\"] for c in j] == [\"B1\", \"B2\", \"B3\"]" &&
	jcheck "list(j[0]) == [\"id\", \"session_id\", \"build_id\", \"seat\", \"summary\", \"type\", \"priority\", \"sprint\", \"status\", \"assignee\", \"note\", \"resolution\", \"credits_spent\", \"retry_count\", \"max_retries\", \"verification_json\", \"metrics_json\", \"depends_on_json\", \"created_at\", \"verification\", \"metrics\"]" &&
	jcheck "j[0][\"verification\"] == {} and j[0][\"metrics\"] == {} and j[0][\"credits_spent\"] == 0.0 and j[0][\"max_retries\"] == 3" &&
	jcheck "j[1][\"verification\"] == {\"ok\": True, \"n\": [1, 2]} and j[1][\"metrics\"] == {}" &&
	jcheck "j[2][\"verification\"] == {} and j[2][\"metrics\"] == {\"t\": 1.5}" &&
	test_grep "{\"ok\":true,\"n\":\[1,2\]}" body &&
	api d GET /v1/runs/nosuch/backlog && expect_answer 200 "[]" &&
	test_grep "\"event\":\"api_backlog\",\"data\":{\"session_id\":\"sb\"}" d.log
'

test_expect_success HTTPD 'GET /v1/runs/ID/metrics: per role, from the session transcript' '
	cat >tx.json <<-\EOF &&
	[{"timestamp":"t","role":"coder","event":"model_usage","data":{"total_tokens":100}},
	 {"role":"coder","event":"model_usage","data":{"total_tokens":23,"role":"coder"}},
	 {"role":"coder","event":"tool_call","data":{"tool":"write_file","args":{"path":"a.py","content":"1\n2\n3"}}},
	 {"role":"reviewer","event":"tool_call","data":{"tool":"read_file","args":{"path":"a.py"}}},
	 {"role":"architect","event":"auto_persist","data":{"path":"plan.md"}},
	 "not an object", {"role":"x"}, {"event":"turn_start","role":"coder","data":{}},
	 {"role":"coder","event":"tool_call","data":{"tool":"write_file","args":{"path":"b.py","content":"x\n"}}}]
	EOF
	sql d "INSERT INTO sessions (id, status, transcript) VALUES (\"sm\", \"done\", readfile(\"tx.json\"))" &&
	api d GET /v1/runs/sm/metrics && expect_status 200 &&
	jcheck "list(j) == [\"coder\", \"reviewer\", \"architect\"]" &&
	jcheck "j[\"coder\"] == {\"tokens\": 123, \"lines_written\": 4, \"last_action\": \"Executing write_file\", \"detail\": \"Wrote b.py\"}" &&
	jcheck "j[\"reviewer\"] == {\"tokens\": 0, \"lines_written\": 0, \"last_action\": \"Executing read_file\", \"detail\": \"\"}" &&
	jcheck "j[\"architect\"] == {\"tokens\": 0, \"lines_written\": 0, \"last_action\": \"Idle\", \"detail\": \"Persisted plan.md\"}" &&
	test_grep "\"event\":\"api_run_metrics\",\"data\":{\"session_id\":\"sm\"}" d.log
'

test_expect_success HTTPD 'run metrics: runs/ID/orket.log of the workspace without a transcript; else {}' '
	mkdir -p d-ws/runs/filerun d-ws/runs/s01 &&
	printf "%s\n" "{\"role\":\"qa\",\"event\":\"model_usage\",\"data\":{\"total_tokens\":7}}" \
	    "garbage line" "" "{\"role\":\"qa\",\"event\":\"model_usage\",\"data\":{\"total_tokens\":8}}" \
	    >d-ws/runs/filerun/orket.log &&
	cp d-ws/runs/filerun/orket.log d-ws/runs/s01/orket.log &&
	api d GET /v1/runs/filerun/metrics &&
	expect_answer 200 "{\"qa\":{\"tokens\":15,\"lines_written\":0,\"last_action\":\"Idle\",\"detail\":\"\"}}" &&
	api d GET /v1/runs/s01/metrics && expect_status 200 && jcheck "j[\"qa\"][\"tokens\"] == 15" &&
	api d GET /v1/runs/s11/metrics && expect_answer 200 "{}" &&
	api d GET /v1/runs/none/metrics && expect_answer 200 "{}"
'

cards() {
	sql d "DELETE FROM issues; DELETE FROM card_transactions;
	INSERT INTO issues (id, build_id, summary, note, status, created_at) VALUES
	    (\"C1\", \"b1\", \"Fix login\", NULL, \"ready\", \"2026-01-01\"),
	    (\"C2\", \"b1\", \"100% done\", NULL, \"ready\", \"2026-01-02\"),
	    (\"C3\", \"b2\", \"under_score thing\", NULL, \"ready\", \"2026-01-03\"),
	    (\"C4\", \"b2\", \"plain\", \"Has Token Inside\", \"ready\", \"2026-01-04\"),
	    (\"C5\", \"b3\", \"other\", NULL, \"ready\", \"2026-01-05\")"
}

test_expect_success HTTPD 'archive: a selector is required (400); fields are checked (422)' '
	cards &&
	for b in "{}" "{\"card_ids\":[]}" "{\"build_id\":\"\"}" "{\"related_tokens\":[]}" \
	    "{\"card_ids\":null,\"build_id\":null,\"related_tokens\":null,\"reason\":\"r\"}"
	do
		post d /v1/cards/archive "$b" &&
		expect_answer 400 "{\"detail\":\"Provide at least one selector: card_ids, build_id, or related_tokens\"}" ||
		return 1
	done &&
	post d /v1/cards/archive "{\"card_ids\":\"C1\",\"build_id\":5,\"related_tokens\":[\"a\",1],\"reason\":[],\"archived_by\":{}}" &&
	expect_status 422 &&
	jcheck "[(e[\"type\"], e[\"loc\"]) for e in j[\"detail\"]] == [(\"list_type\", [\"body\", \"card_ids\"]), (\"string_type\", [\"body\", \"build_id\"]), (\"string_type\", [\"body\", \"related_tokens\", 1]), (\"string_type\", [\"body\", \"reason\"]), (\"string_type\", [\"body\", \"archived_by\"])]" &&
	jcheck "j[\"detail\"][0][\"input\"] == \"C1\" and j[\"detail\"][0][\"msg\"] == \"Input should be a valid list\"" &&
	test "$(sql d "SELECT count(*) FROM issues WHERE status = \"archived\"")" = 0
'

test_expect_success HTTPD 'archive by card_ids: archived and missing ids, sorted and unique' '
	cards &&
	post d /v1/cards/archive "{\"card_ids\":[\"C1\",\"NOPE\",\"C1\",\"ZZ\",\"AA\"],\"reason\":\"dup\",\"archived_by\":\"alice\"}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":1,\"archived_ids\":[\"C1\"],\"missing_ids\":[\"AA\",\"NOPE\",\"ZZ\"]}" &&
	sql d "SELECT id, status, assignee FROM issues WHERE status = \"archived\"" >actual &&
	echo "C1|archived|alice" >expect && test_cmp expect actual &&
	sql d "SELECT card_id, role, action FROM card_transactions" >actual &&
	echo "C1|alice|Archived card (dup)" >expect && test_cmp expect actual &&
	post d /v1/cards/archive "{\"card_ids\":[\"C1\"],\"archived_by\":\"\"}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":1,\"archived_ids\":[\"C1\"],\"missing_ids\":[]}" &&
	sql d "SELECT role, action FROM card_transactions ORDER BY id DESC LIMIT 1" >actual &&
	echo "api|Archived card" >expect && test_cmp expect actual &&
	test "$(sql d "SELECT assignee FROM issues WHERE id = \"C1\"")" = api
'

test_expect_success HTTPD 'archive counts each card once (the original counted build + ids twice)' '
	cards &&
	post d /v1/cards/archive "{\"card_ids\":[\"C3\"],\"build_id\":\"b2\",\"reason\":\"r\"}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":2,\"archived_ids\":[\"C3\"],\"missing_ids\":[]}" &&
	sql d "SELECT card_id, action FROM card_transactions ORDER BY card_id" >actual &&
	printf "%s\n" "C3|Archived card (r)" "C4|Archived build '"'"'b2'"'"' (r)" >expect &&
	test_cmp expect actual &&
	post d /v1/cards/archive "{\"build_id\":\"b1\",\"related_tokens\":[\"login\"]}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":2,\"archived_ids\":[\"C1\"],\"missing_ids\":[]}" &&
	test "$(sql d "SELECT count(*) FROM card_transactions WHERE card_id = \"C1\"")" = 1
'

test_expect_success HTTPD 'archive by related_tokens: trimmed, any case, LIKE wildcards escaped' '
	cards &&
	post d /v1/cards/archive "{\"related_tokens\":[\"%\"]}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":1,\"archived_ids\":[\"C2\"],\"missing_ids\":[]}" &&
	post d /v1/cards/archive "{\"related_tokens\":[\"_\"]}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":1,\"archived_ids\":[\"C3\"],\"missing_ids\":[]}" &&
	post d /v1/cards/archive "{\"related_tokens\":[\"  TOKEN  \", \"B3\"]}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":2,\"archived_ids\":[\"C4\",\"C5\"],\"missing_ids\":[]}" &&
	post d /v1/cards/archive "{\"related_tokens\":[\"\", \"   \"]}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":0,\"archived_ids\":[],\"missing_ids\":[]}" &&
	post d /v1/cards/archive "{\"related_tokens\":[\"\\\\\"]}" &&
	expect_answer 200 "{\"ok\":true,\"archived_count\":0,\"archived_ids\":[],\"missing_ids\":[]}" &&
	test "$(sql d "SELECT group_concat(id) FROM (SELECT id FROM issues WHERE status = \"archived\" ORDER BY id)")" = "C2,C3,C4,C5"
'

test_expect_success HTTPD 'archive: at most 500 token matches, newest first' '
	sql d "DELETE FROM issues; DELETE FROM card_transactions;
	    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 510)
	    INSERT INTO issues (id, summary, created_at) SELECT printf(\"M%03d\", i), \"mass\",
	        printf(\"2026-01-01 00:%02d:%02d\", i / 60, i % 60) FROM n" &&
	post d /v1/cards/archive "{\"related_tokens\":[\"mass\"]}" && expect_status 200 &&
	jcheck "j[\"archived_count\"] == 500 and j[\"archived_ids\"][0] == \"M011\" and j[\"archived_ids\"][-1] == \"M510\"" &&
	test "$(sql d "SELECT count(*) FROM issues WHERE status = \"archived\"")" = 500
'

test_expect_success HTTPD 'these routes never answered 5xx' '
	test -z "$(metric d "orket_httpd_requests_total{code=\"500\"}")" &&
	test_grep ! http_error d.log
'

daemon_stop d
test_done
