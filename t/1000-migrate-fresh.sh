#!/bin/sh
# See LICENSE.
test_description='orket-migrate on fresh databases: full schema, idempotence, status, dry run'
. "$(dirname "$0")/lib.sh"

# The exact schema of both databases: every table and index of the reference notes.
cat >expect-runtime <<'X'
index|idx_card_transactions_card_id|card_transactions
index|idx_comments_issue_id|comments
index|idx_issues_build_status|issues
index|idx_issues_session_id|issues
index|sqlite_autoindex__schema_migrations_1|_schema_migrations
index|sqlite_autoindex_issues_1|issues
index|sqlite_autoindex_session_snapshots_1|session_snapshots
index|sqlite_autoindex_sessions_1|sessions
index|sqlite_autoindex_success_ledger_1|success_ledger
table|_schema_migrations|_schema_migrations
table|card_transactions|card_transactions
table|comments|comments
table|issues|issues
table|session_snapshots|session_snapshots
table|sessions|sessions
table|sqlite_sequence|sqlite_sequence
table|success_ledger|success_ledger
X
cat >expect-webhook <<'X'
index|idx_failure_pr_key|review_failures
index|idx_outbox_pr_key|outbox
index|idx_outbox_state|outbox
index|idx_pr_key|pr_review_cycles
index|idx_pr_review_cycles_status|pr_review_cycles
index|idx_repo_pr|pr_review_cycles
index|idx_review_failures_cycle|review_failures
index|idx_webhook_events_delivery|webhook_events
index|idx_webhook_events_type_created|webhook_events
index|sqlite_autoindex__schema_migrations_1|_schema_migrations
index|sqlite_autoindex_bug_fix_phases_1|bug_fix_phases
index|sqlite_autoindex_pr_review_cycles_1|pr_review_cycles
index|sqlite_autoindex_pr_review_cycles_2|pr_review_cycles
table|_schema_migrations|_schema_migrations
table|bug_fix_phases|bug_fix_phases
table|outbox|outbox
table|pr_review_cycles|pr_review_cycles
table|review_failures|review_failures
table|sqlite_sequence|sqlite_sequence
table|webhook_events|webhook_events
X

schema() {
	sqlite3 "$1" "SELECT type, name, tbl_name FROM sqlite_master ORDER BY type, name"
}

test_expect_success 'a fresh run creates both databases and their parent folders' '
	orket-migrate --runtime-db data/r.db --webhook-db deep/er/w.db >out 2>err &&
	test -f data/r.db && test -f deep/er/w.db &&
	test_grep "^\[MIGRATE\] Applied 0001-schema.sql to data/r.db$" out &&
	test_grep "^\[MIGRATE\] Applied 0001-schema.sql to deep/er/w.db$" out &&
	test_grep "^\[MIGRATE\] Applied 0002-deliveries-outbox.sql to deep/er/w.db$" out &&
	test ! -s err
'

test_expect_success 'the runtime schema is exactly the expected set' '
	schema data/r.db >actual && test_cmp expect-runtime actual
'

test_expect_success 'the webhook schema is exactly the expected set' '
	schema deep/er/w.db >actual && test_cmp expect-webhook actual
'

test_expect_success 'columns, defaults and keys are those of the original' '
	sqlite3 data/r.db "SELECT name, type, dflt_value, pk FROM pragma_table_info(\"issues\")" >actual &&
	cat >expect <<-X &&
	id|TEXT||1
	session_id|TEXT||0
	build_id|TEXT||0
	seat|TEXT||0
	summary|TEXT||0
	type|TEXT||0
	priority|TEXT||0
	sprint|TEXT||0
	status|TEXT|'"'ready'"'|0
	assignee|TEXT||0
	note|TEXT||0
	resolution|TEXT||0
	credits_spent|REAL|0|0
	retry_count|INTEGER|0|0
	max_retries|INTEGER|3|0
	verification_json|TEXT||0
	metrics_json|TEXT||0
	depends_on_json|TEXT||0
	created_at|DATETIME||0
	X
	test_cmp expect actual &&
	sqlite3 deep/er/w.db "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(\"pr_review_cycles\")" >actual &&
	cat >expect <<-X &&
	id|INTEGER|0|
	pr_key|TEXT|1|
	repo_full_name|TEXT|1|
	pr_number|INTEGER|1|
	cycle_count|INTEGER|1|0
	status|TEXT|1|'"'active'"'
	created_at|TIMESTAMP|0|CURRENT_TIMESTAMP
	updated_at|TIMESTAMP|0|CURRENT_TIMESTAMP
	rejected_at|TIMESTAMP|0|
	X
	test_cmp expect actual &&
	sqlite3 deep/er/w.db "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(\"review_failures\")" >actual &&
	echo "pr_key|pr_review_cycles|pr_key" >expect && test_cmp expect actual
'

test_expect_success 'the databases are in WAL mode' '
	echo wal >expect &&
	sqlite3 data/r.db "PRAGMA journal_mode" >actual && test_cmp expect actual &&
	sqlite3 deep/er/w.db "PRAGMA journal_mode" >actual && test_cmp expect actual
'

test_expect_success 'each migration is tracked with a time and the checksum of its text' '
	sqlite3 data/r.db "SELECT id, length(checksum) FROM _schema_migrations" >actual &&
	echo "0001-schema.sql|64" >expect && test_cmp expect actual &&
	sqlite3 data/r.db "SELECT applied_at FROM _schema_migrations" >at &&
	grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00$" at &&
	sha256sum <"$TEST_TOP/sql/runtime/0001-schema.sql" | cut -d" " -f1 >expect &&
	sqlite3 data/r.db "SELECT checksum FROM _schema_migrations" >actual && test_cmp expect actual
'

test_expect_success 'a second run applies nothing and says so' '
	schema data/r.db >before &&
	orket-migrate --runtime-db data/r.db --webhook-db deep/er/w.db >out &&
	test_grep "^\[MIGRATE\] Skipped 0001-schema.sql (already applied) on data/r.db$" out &&
	test_grep "^\[MIGRATE\] data/r.db: up to date, nothing applied$" out &&
	test_grep "^\[MIGRATE\] deep/er/w.db: up to date, nothing applied$" out &&
	test_grep ! "Applied" out &&
	sqlite3 data/r.db "SELECT count(*) FROM _schema_migrations" >actual &&
	echo 1 >expect && test_cmp expect actual &&
	schema data/r.db >after && test_cmp before after
'

test_expect_success '--status lists applied migrations with their time' '
	orket-migrate --runtime-db data/r.db --webhook-db deep/er/w.db --status >out &&
	test_grep "^runtime	data/r.db	applied	0001-schema.sql	20[0-9-]*T" out &&
	test_grep "^webhook	deep/er/w.db	applied	0001-schema.sql	20" out &&
	test_grep "^runtime	data/r.db	1 applied, 0 pending, 0 legacy$" out
'

test_expect_success '--status lists pending migrations and creates nothing' '
	orket-migrate --runtime-db new/r.db --webhook-db new/w.db --status >out &&
	test_grep "^runtime	new/r.db	pending	0001-schema.sql	-$" out &&
	test_grep "^webhook	new/w.db	pending	0001-schema.sql	-$" out &&
	test_grep "^runtime	new/r.db	0 applied, 1 pending, 0 legacy$" out &&
	test ! -e new
'

test_expect_success '--dry-run on nothing creates nothing and says what would run' '
	orket-migrate --runtime-db dry/r.db --webhook-db dry/w.db --dry-run >out &&
	test_grep "^\[MIGRATE\] Would apply 0001-schema.sql to dry/r.db$" out &&
	test_grep "^\[MIGRATE\] Would apply 0001-schema.sql to dry/w.db$" out &&
	test ! -e dry
'

test_expect_success '--dry-run and --status leave existing files byte-identical' '
	mkdir half && sqlite3 half/r.db "CREATE TABLE issues (id TEXT PRIMARY KEY, build_id TEXT, status TEXT)" &&
	(ls -la --time-style=full-iso half data deep/er && sha256sum half/* data/* deep/er/*) >before &&
	orket-migrate --runtime-db half/r.db --webhook-db deep/er/w.db --dry-run >out &&
	test_grep "^\[MIGRATE\] Would apply 0001-schema.sql to half/r.db$" out &&
	test_grep "^\[MIGRATE\] Skipped 0001-schema.sql (already applied) on deep/er/w.db$" out &&
	orket-migrate --runtime-db data/r.db --webhook-db half/r.db --status >out &&
	(ls -la --time-style=full-iso half data deep/er && sha256sum half/* data/* deep/er/*) >after &&
	test_cmp before after
'

test_expect_success 'the environment names the databases, and a flag beats it' '
	ORKET_RUNTIME_DB=env/r.db ORKET_WEBHOOK_DB=env/w.db orket-migrate >out &&
	test -f env/r.db && test -f env/w.db &&
	ORKET_RUNTIME_DB=env/r.db ORKET_WEBHOOK_DB=env/w.db orket-migrate --runtime-db=flag/r.db >out &&
	test -f flag/r.db && test_grep "up to date" out
'

test_expect_success 'the defaults are the original paths' '
	mkdir defaults && (cd defaults && orket-migrate >../out) &&
	test -f defaults/orket_persistence.db && test -f defaults/.orket/webhook.db
'

test_expect_success 'two migrators at once apply each migration once' '
	orket-migrate --runtime-db race/r.db --webhook-db race/w.db >o1 2>e1 & p1=$! &&
	orket-migrate --runtime-db race/r.db --webhook-db race/w.db >o2 2>e2 & p2=$! &&
	wait $p1 && wait $p2 &&
	cat o1 o2 | grep -c "Applied 0001-schema.sql to race/r.db" >n && echo 1 >expect && test_cmp expect n &&
	sqlite3 race/r.db "SELECT count(*) FROM _schema_migrations" >actual && test_cmp expect actual
'

test_done
