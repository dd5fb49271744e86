-- See LICENSE. The webhook database, as the original webhook server created it lazily
-- (reference/orket-webhook-server.md §4), plus the indexes of its 002_webhook_indexes.sql.
-- Every statement is idempotent so that a database made by the original is adopted.

CREATE TABLE IF NOT EXISTS pr_review_cycles (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	pr_key TEXT UNIQUE NOT NULL,
	repo_full_name TEXT NOT NULL,
	pr_number INTEGER NOT NULL,
	cycle_count INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'active',
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	UNIQUE (repo_full_name, pr_number)
);

CREATE TABLE IF NOT EXISTS review_failures (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	pr_key TEXT NOT NULL,
	cycle_number INTEGER NOT NULL,
	reviewer TEXT,
	reason TEXT,
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	FOREIGN KEY (pr_key) REFERENCES pr_review_cycles(pr_key)
);

CREATE TABLE IF NOT EXISTS webhook_events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_type TEXT NOT NULL,
	pr_key TEXT,
	payload TEXT,
	result TEXT,
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS bug_fix_phases (
	rock_id TEXT PRIMARY KEY,
	data_json TEXT NOT NULL,
	status TEXT NOT NULL,
	updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_pr_key ON pr_review_cycles(pr_key);
CREATE INDEX IF NOT EXISTS idx_repo_pr ON pr_review_cycles(repo_full_name, pr_number);
CREATE INDEX IF NOT EXISTS idx_failure_pr_key ON review_failures(pr_key);
CREATE INDEX IF NOT EXISTS idx_pr_review_cycles_status ON pr_review_cycles(status);
CREATE INDEX IF NOT EXISTS idx_review_failures_cycle ON review_failures(pr_key, cycle_number);
CREATE INDEX IF NOT EXISTS idx_webhook_events_type_created ON webhook_events(event_type, created_at);
