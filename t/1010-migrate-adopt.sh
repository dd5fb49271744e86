#!/bin/sh
# See LICENSE.
test_description='orket-migrate adopts the original databases, reports drift, and fails atomically'
. "$(dirname "$0")/lib.sh"

# The tables as the original Python system created them lazily, with rows in them.
cat >legacy-runtime.sql <<'X'
CREATE TABLE IF NOT EXISTS issues (id TEXT PRIMARY KEY, session_id TEXT, build_id TEXT, seat TEXT, summary TEXT, type TEXT, priority TEXT, sprint TEXT, status TEXT DEFAULT 'ready', assignee TEXT, note TEXT, resolution TEXT, credits_spent REAL DEFAULT 0, verification_json TEXT, metrics_json TEXT, created_at DATETIME, depends_on_json TEXT, retry_count INTEGER DEFAULT 0, max_retries INTEGER DEFAULT 3);
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, issue_id TEXT, author TEXT, content TEXT, created_at DATETIME, FOREIGN KEY(issue_id) REFERENCES issues(id));
CREATE TABLE IF NOT EXISTS card_transactions (id INTEGER PRIMARY KEY AUTOINCREMENT, card_id TEXT, role TEXT, action TEXT, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, type TEXT, name TEXT, department TEXT, status TEXT, task_input TEXT, transcript TEXT, start_time DATETIME, end_time DATETIME);
CREATE TABLE IF NOT EXISTS session_snapshots (session_id TEXT PRIMARY KEY, config_json TEXT, log_history TEXT, captured_at DATETIME);
CREATE TABLE IF NOT EXISTS success_ledger (session_id TEXT PRIMARY KEY, success_type TEXT, artifact_ref TEXT, human_ack TEXT, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP);
INSERT INTO issues (id, build_id, summary, status) VALUES ('ISSUE-1', 'b1', 'first card', 'done');
INSERT INTO card_transactions (card_id, role, action) VALUES ('ISSUE-1', 'coder', 'Set Status to ''done''');
INSERT INTO sessions (id, status) VALUES ('s1', 'done');
X
cat >legacy-webhook.sql <<'X'
CREATE TABLE IF NOT EXISTS pr_review_cycles (id INTEGER PRIMARY KEY AUTOINCREMENT, pr_key TEXT UNIQUE NOT NULL, repo_full_name TEXT NOT NULL, pr_number INTEGER NOT NULL, cycle_count INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'active', created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE(repo_full_name, pr_number));
CREATE TABLE IF NOT EXISTS review_failures (id INTEGER PRIMARY KEY AUTOINCREMENT, pr_key TEXT NOT NULL, cycle_number INTEGER NOT NULL, reviewer TEXT, reason TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (pr_key) REFERENCES pr_review_cycles(pr_key));
CREATE TABLE IF NOT EXISTS webhook_events (id INTEGER PRIMARY KEY AUTOINCREMENT, event_type TEXT NOT NULL, pr_key TEXT, payload TEXT, result TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS bug_fix_phases (rock_id TEXT PRIMARY KEY, data_json TEXT NOT NULL, status TEXT NOT NULL, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX IF NOT EXISTS idx_pr_key ON pr_review_cycles(pr_key);
CREATE INDEX IF NOT EXISTS idx_repo_pr ON pr_review_cycles(repo_full_name, pr_number);
CREATE INDEX IF NOT EXISTS idx_failure_pr_key ON review_failures(pr_key);
INSERT INTO pr_review_cycles (pr_key, repo_full_name, pr_number, cycle_count) VALUES ('o/r#7', 'o/r', 7, 2);
INSERT INTO review_failures (pr_key, cycle_number, reviewer, reason) VALUES ('o/r#7', 1, 'alice', 'tests fail');
X
# What scripts/run_migrations.py then left behind (its tracking table has no checksum).
cat >python-runner.sql <<'X'
CREATE TABLE IF NOT EXISTS _schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO _schema_migrations VALUES ('001_runtime_indexes.sql', '2026-02-12T10:00:00.000000+00:00');
CREATE INDEX IF NOT EXISTS idx_issues_build_status ON issues(build_id, status);
X

test_expect_success 'a database laid out lazily by the original (no _schema_migrations) is adopted' '
	sqlite3 r.db <legacy-runtime.sql && sqlite3 w.db <legacy-webhook.sql &&
	orket-migrate --runtime-db r.db --webhook-db w.db >out 2>err &&
	test_grep "Applied 0001-schema.sql to r.db" out &&
	test_grep "Applied 0001-schema.sql to w.db" out &&
	sqlite3 r.db "SELECT id, summary, status FROM issues" >actual &&
	echo "ISSUE-1|first card|done" >expect && test_cmp expect actual &&
	sqlite3 w.db "SELECT pr_key, cycle_count FROM pr_review_cycles" >actual &&
	echo "o/r#7|2" >expect && test_cmp expect actual &&
	sqlite3 r.db "SELECT name FROM sqlite_master WHERE name LIKE \"idx_%\" ORDER BY name" >actual &&
	printf "%s\n" idx_card_transactions_card_id idx_comments_issue_id idx_issues_build_status idx_issues_session_id >expect &&
	test_cmp expect actual &&
	sqlite3 w.db "SELECT name FROM sqlite_master WHERE name LIKE \"idx_%\" ORDER BY name" >actual &&
	printf "%s\n" idx_failure_pr_key idx_outbox_pr_key idx_outbox_state idx_pr_key idx_pr_review_cycles_status idx_repo_pr idx_review_failures_cycle idx_webhook_events_delivery idx_webhook_events_type_created >expect &&
	test_cmp expect actual
'

test_expect_success 'a database the Python runner migrated keeps its row, shown as legacy' '
	sqlite3 p.db <legacy-runtime.sql && sqlite3 p.db <python-runner.sql &&
	orket-migrate --runtime-db p.db --webhook-db pw.db >out &&
	test_grep "Applied 0001-schema.sql to p.db" out &&
	sqlite3 p.db "SELECT id, checksum IS NULL FROM _schema_migrations ORDER BY id" >actual &&
	printf "%s\n" "0001-schema.sql|0" "001_runtime_indexes.sql|1" >expect && test_cmp expect actual &&
	orket-migrate --runtime-db p.db --webhook-db pw.db --status >out &&
	test_grep "^runtime	p.db	legacy	001_runtime_indexes.sql	2026-02-12T10:00:00.000000+00:00$" out &&
	test_grep "^runtime	p.db	1 applied, 0 pending, 1 legacy$" out
'

test_expect_success 'an edited migration is reported as drift, exit 1, and nothing runs' '
	sqlite3 r.db "UPDATE _schema_migrations SET checksum = \"0123456789abcdef\" WHERE id = \"0001-schema.sql\"" &&
	sqlite3 r.db .dump >before &&
	test_expect_code 1 orket-migrate --runtime-db r.db --webhook-db w.db >out 2>err &&
	test_grep "drift" err && test_grep "0001-schema.sql" err && test_grep "r.db" err &&
	test_grep "up to date" out &&
	sqlite3 r.db .dump >after && test_cmp before after &&
	test_expect_code 1 orket-migrate --runtime-db r.db --webhook-db w.db --status >out &&
	test_grep "^runtime	r.db	drift	0001-schema.sql	" out &&
	test_expect_code 1 orket-migrate --runtime-db r.db --webhook-db w.db --dry-run >out 2>err &&
	test_grep "drift" err
'

test_expect_success 'a database newer than this program is refused (100)' '
	orket-migrate --runtime-db n.db --webhook-db nw.db >/dev/null &&
	sqlite3 n.db "INSERT INTO _schema_migrations VALUES (\"0999-future.sql\", \"x\", \"y\")" &&
	test_expect_code 100 orket-migrate --runtime-db n.db --webhook-db nw.db >out 2>err &&
	test_grep "0999-future.sql" err && test_grep "newer" err &&
	orket-migrate --runtime-db n.db --webhook-db nw.db --status >out; test $? = 100 &&
	test_grep "^runtime	n.db	unknown	0999-future.sql	x$" out
'

test_expect_success 'a migration that fails half-way leaves the database exactly as before' '
	sqlite3 h.db "CREATE TABLE issues (id TEXT PRIMARY KEY, summary TEXT); INSERT INTO issues VALUES (\"A\", \"kept\");" &&
	sqlite3 h.db .dump >before &&
	test_expect_code 100 orket-migrate --runtime-db h.db --webhook-db hw.db >out 2>err &&
	test_grep "sql/runtime/0001-schema.sql" err &&
	test_grep "idx_issues_build_status" err &&
	test_grep "no such column: build_id" err &&
	test_grep "line [0-9]" err &&
	sqlite3 h.db .dump >after && test_cmp before after &&
	test ! -e hw.db
'

test_expect_success 'a file that is not a database is refused (100), naming it' '
	echo "just text, not sqlite" >notdb.db &&
	cp notdb.db notdb.orig &&
	test_expect_code 100 orket-migrate --runtime-db notdb.db --webhook-db x.db 2>err &&
	test_grep "notdb.db" err && cmp notdb.db notdb.orig
'

test_expect_success 'a folder in the way of the path is refused (100), naming it' '
	echo x >afile &&
	test_expect_code 100 orket-migrate --runtime-db afile/sub/r.db --webhook-db x.db 2>err &&
	test_grep "afile" err
'

# A read-only bind mount in a private mount namespace: unwritable even for root, and
# wherever the checkout lives.
test_expect_success ROMOUNT 'an unwritable folder exits 111 naming the path' '
	mkdir ro &&
	test_expect_code 111 unshare -m sh -c "mount --bind ro ro && mount -o remount,bind,ro ro &&
		exec orket-migrate --runtime-db ro/r.db --webhook-db ro/w.db" 2>err &&
	test_grep "ro/r.db" err && test_grep "111\|unable to open database" err &&
	test_expect_code 111 unshare -m sh -c "mount --bind ro ro && mount -o remount,bind,ro ro &&
		exec orket-migrate --runtime-db ro/sub/r.db --webhook-db ro/w.db" 2>err &&
	test_grep "unable to create folder ro/sub: Read-only file system" err &&
	test ! -e ro/r.db && test ! -e ro/sub
'

test_expect_success 'bad usage exits 100 and says what was wrong' '
	test_expect_code 100 orket-migrate --bogus 2>err && test_grep "unknown option: --bogus" err &&
	test_grep "^usage: orket-migrate" err &&
	test_expect_code 100 orket-migrate --runtime-db 2>err && test_grep "needs a value" err &&
	test_expect_code 100 orket-migrate stray 2>err && test_grep "unexpected argument: stray" err &&
	test_expect_code 100 orket-migrate --status --dry-run 2>err && test_grep "do not go together" err &&
	test_expect_code 100 orket-migrate --runtime-db "" 2>err && test_grep "empty" err &&
	test ! -e orket_persistence.db
'

test_expect_success '--help and --version' '
	orket-migrate --help >out && test_grep "^usage: orket-migrate \[--runtime-db path\]" out &&
	orket-migrate -h >out2 && test_cmp out out2 &&
	orket-migrate --version >out && test_grep "^orket-migrate [0-9]" out
'

test_done
