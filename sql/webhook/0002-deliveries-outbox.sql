-- See LICENSE. orket-hookd's own tables: every delivery is a webhook_events row (the
-- original never wrote one), found again by its X-Gitea-Delivery id for replay protection;
-- every outbound action (a Gitea call, a run request, a card update, the sandbox command)
-- is an outbox row, written in the same transaction as the delivery and sent afterwards.

ALTER TABLE webhook_events ADD COLUMN delivery_id TEXT;
ALTER TABLE webhook_events ADD COLUMN action TEXT;
ALTER TABLE webhook_events ADD COLUMN source_addr TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS idx_webhook_events_delivery
	ON webhook_events(delivery_id) WHERE delivery_id IS NOT NULL;

-- When the auto-reject sequence ran for a PR: it runs once, not on every later review.
ALTER TABLE pr_review_cycles ADD COLUMN rejected_at TIMESTAMP;

CREATE TABLE IF NOT EXISTS outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id INTEGER REFERENCES webhook_events(id),
	pr_key TEXT,
	kind TEXT NOT NULL,		-- merge, comment, close, issue, run, card, sandbox
	target TEXT NOT NULL,		-- gitea, api, runtime, exec
	method TEXT NOT NULL DEFAULT 'POST',
	path TEXT NOT NULL DEFAULT '',	-- after {GITEA_URL}/api/v1 or {ORKET_API_URL}, escaped
	body TEXT,			-- JSON
	labels TEXT,			-- JSON array of label names to resolve to ids into body.labels
	repo_path TEXT,			-- /repos/{owner}/{name}, escaped: where labels live
	state TEXT NOT NULL DEFAULT 'pending',	-- pending, running, done, failed
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,	-- unix milliseconds
	last_status INTEGER,		-- HTTP status or exit status of the last attempt
	last_error TEXT,
	result TEXT,			-- the start of the last response body or output
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	done_at TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_outbox_state ON outbox(state, next_attempt_at);
CREATE INDEX IF NOT EXISTS idx_outbox_pr_key ON outbox(pr_key, id);
