-- See LICENSE. The runtime database, as the original API server created it lazily
-- (reference/orket-api-server.md §4), plus the indexes of its 001_runtime_indexes.sql.
-- Every statement is idempotent so that a database made by the original is adopted.

CREATE TABLE IF NOT EXISTS issues (
	id TEXT PRIMARY KEY,
	session_id TEXT,
	build_id TEXT,
	seat TEXT,
	summary TEXT,
	type TEXT,
	priority TEXT,
	sprint TEXT,
	status TEXT DEFAULT 'ready',
	assignee TEXT,
	note TEXT,
	resolution TEXT,
	credits_spent REAL DEFAULT 0,
	retry_count INTEGER DEFAULT 0,
	max_retries INTEGER DEFAULT 3,
	verification_json TEXT,
	metrics_json TEXT,
	depends_on_json TEXT,
	created_at DATETIME
);

CREATE TABLE IF NOT EXISTS comments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	issue_id TEXT,
	author TEXT,
	content TEXT,
	created_at DATETIME,
	FOREIGN KEY (issue_id) REFERENCES issues(id)
);

CREATE TABLE IF NOT EXISTS card_transactions (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	card_id TEXT,
	role TEXT,
	action TEXT,
	timestamp DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS sessions (
	id TEXT PRIMARY KEY,
	type TEXT,
	name TEXT,
	department TEXT,
	status TEXT,
	task_input TEXT,
	transcript TEXT,
	start_time DATETIME,
	end_time DATETIME
);

CREATE TABLE IF NOT EXISTS session_snapshots (
	session_id TEXT PRIMARY KEY,
	config_json TEXT,
	log_history TEXT,
	captured_at DATETIME
);

CREATE TABLE IF NOT EXISTS success_ledger (
	session_id TEXT PRIMARY KEY,
	success_type TEXT,
	artifact_ref TEXT,
	human_ack TEXT,
	timestamp DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_issues_build_status ON issues(build_id, status);
CREATE INDEX IF NOT EXISTS idx_issues_session_id ON issues(session_id);
CREATE INDEX IF NOT EXISTS idx_comments_issue_id ON comments(issue_id);
CREATE INDEX IF NOT EXISTS idx_card_transactions_card_id ON card_transactions(card_id);
