/* See LICENSE. The PR review cycle: what each delivery means and what it changes. */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "review.h"

/* Statement slots in h->st (below HOOKD_ST_BEGIN). */
enum {
	ST_DUP, ST_EVENT, ST_RESULT, ST_UPSERT, ST_CYCLE, ST_FAILURE, ST_FAILURES,
	ST_REJECT, ST_MERGED, ST_OUTBOX,
};

void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	free(d->event);
	free(d->event_type);
	free(d->delivery_id);
	free(d->action);
	free(d->owner);
	free(d->name);
	free(d->reviewer);
	free(d->reason);
	free(d->title);
	free(d->branch);
	free(d->merged_by);
	free(d->reply);
	free(d->body);
	free(d);
}

int
path_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (o + 4 > cap)
			return -1;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			out[o++] = (char)*p;
		else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o + 1 > cap)
		return -1;
	out[o] = '\0';
	/* "." and ".." would change the path rather than name a segment. */
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		if (cap < 7)
			return -1;
		strcpy(out, out[1] ? "%2E%2E" : "%2E");
	}
	return 0;
}

/* A string at path, copied; *present tells whether the key exists (even as null). */
static char *
getstr(const struct json *j, const char *path, int *present)
{
	int t = json_path(j, 0, path);

	if (present)
		*present = t >= 0;
	if (t < 0 || json_type(j, t) != JSON_STRING)
		return NULL;
	return json_strdup(j, t);
}

static int
getnum(const struct json *j, const char *path, long long *out)
{
	int t = json_path(j, 0, path);

	return t >= 0 && json_int(j, t, out) == 0 ? 0 : -1;
}

static int
getbool(const struct json *j, const char *path)
{
	int t = json_path(j, 0, path), b = 0;

	return t >= 0 && json_bool(j, t, &b) == 0 && b;
}

static int
missing(char *msg, size_t msglen, const char *what)
{
	snprintf(msg, msglen, "Invalid payload: %s is required for this event", what);
	return -1;
}

/* The PR number, the repository owner and name: what every PR handler needs. */
static int
need_pr(struct delivery *d, const struct json *j, char *msg, size_t msglen)
{
	if (getnum(j, "pull_request.number", &d->number) == -1 &&
	    getnum(j, "number", &d->number) == -1)
		return missing(msg, msglen, "pull_request.number");
	if (d->number <= 0)
		return missing(msg, msglen, "a positive pull_request.number");
	if ((d->owner = getstr(j, "repository.owner.login", NULL)) == NULL || !*d->owner)
		return missing(msg, msglen, "repository.owner.login");
	if ((d->name = getstr(j, "repository.name", NULL)) == NULL || !*d->name)
		return missing(msg, msglen, "repository.name");
	return 0;
}

static void
ignore(struct delivery *d, const char *fmt, const char *a)
{
	d->kind = RK_IGNORED;
	snprintf(d->ignored, sizeof(d->ignored), fmt, a);
}

static int
find_issue_id(const char *title, char *out, size_t cap)
{
	regex_t re;
	regmatch_t m;
	size_t n;
	int r = -1;

	if (title == NULL || regcomp(&re, "ISSUE-[A-Z0-9]+", REG_EXTENDED) != 0)
		return -1;
	if (regexec(&re, title, 1, &m, 0) == 0) {
		n = (size_t)(m.rm_eo - m.rm_so);
		if (n < cap) {
			memcpy(out, title + m.rm_so, n);
			out[n] = '\0';
			r = 0;
		}
	}
	regfree(&re);
	return r;
}

/*
 * Dispatch on X-Gitea-Event (and X-Gitea-Event-Type, which names a plain PR comment
 * pull_request_comment while X-Gitea-Event says issue_comment). Real Gitea reviews are
 * pull_request_approved / _rejected / _comment with review {type, content} and the
 * reviewer in sender; the GitHub-style pull_request_review with review.state that the
 * original expected is accepted too.
 */
int
review_classify(struct delivery *d, const struct json *j, char *msg, size_t msglen)
{
	const char *ev = d->event;
	char *state = NULL;
	int present;

	d->action = getstr(j, "action", NULL);
	if (strcmp(ev, "pull_request_review") == 0) {
		if (need_pr(d, j, msg, msglen) == -1)
			return -1;
		if ((state = getstr(j, "review.state", NULL)) == NULL)
			return missing(msg, msglen, "review.state");
		if ((d->reviewer = getstr(j, "review.user.login", NULL)) == NULL)
			d->reviewer = getstr(j, "sender.login", NULL);
		d->reason = getstr(j, "review.body", &present);
		if (!present)
			d->reason = strdup("No reason provided");
		if (strcmp(state, "approved") == 0)
			d->kind = RK_APPROVED;
		else if (strcmp(state, "changes_requested") == 0)
			d->kind = RK_CHANGES;
		else
			d->kind = RK_COMMENTED;
		free(state);
	} else if (strcmp(ev, "pull_request_approved") == 0 ||
	    strcmp(ev, "pull_request_rejected") == 0 ||
	    strcmp(ev, "pull_request_comment") == 0) {
		if (need_pr(d, j, msg, msglen) == -1)
			return -1;
		d->reviewer = getstr(j, "sender.login", NULL);
		d->reason = getstr(j, "review.content", &present);
		if (!present)
			d->reason = strdup("No reason provided");
		d->kind = ev[13] == 'a' ? RK_APPROVED : ev[13] == 'r' ? RK_CHANGES : RK_COMMENTED;
	} else if (strcmp(ev, "pull_request") == 0) {
		const char *a = d->action ? d->action : "";

		if (strcmp(a, "opened") == 0 || strcmp(a, "synchronized") == 0) {
			if (need_pr(d, j, msg, msglen) == -1)
				return -1;
			d->title = getstr(j, "pull_request.title", NULL);
			if (find_issue_id(d->title, d->issue_id, sizeof(d->issue_id)) == 0)
				d->kind = RK_OPENED;
			else
				ignore(d, "%s", "No issue ID found in PR title");
		} else if (strcmp(a, "closed") == 0) {
			if (need_pr(d, j, msg, msglen) == -1)
				return -1;
			if (getbool(j, "pull_request.merged")) {
				d->kind = RK_MERGED;
				d->branch = getstr(j, "pull_request.head.ref", NULL);
				d->merged_by = getstr(j, "pull_request.merged_by.login", NULL);
			} else
				ignore(d, "%s", "PR closed without merge");
		} else
			ignore(d, "Action %.100s not handled", a);
	} else
		ignore(d, "Event type %.100s not handled", ev);
	return 0;
}

/* ------------------------------------------------------------------------------------ */

static int
sqlfail(struct hookd *h, char *msg, size_t msglen, const char *what)
{
	snprintf(msg, msglen, "unable to %s: %s", what, sqlite3_errmsg(h->db));
	return -1;
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void
prkey(const struct delivery *d, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s#%lld", d->owner, d->name, d->number);
}

/* /repos/{owner}/{name}, escaped. */
static int
repo_path(const struct delivery *d, char *out, size_t cap)
{
	char o[512], n[512];

	if (path_escape(d->owner, o, sizeof(o)) == -1 || path_escape(d->name, n, sizeof(n)) == -1)
		return -1;
	return snprintf(out, cap, "/repos/%s/%s", o, n) < (int)cap ? 0 : -1;
}

struct row {
	const char	*kind, *target, *method;
	const char	*path;
	const char	*body;
	const char	*labels;
	const char	*repo_path;
};

static int
outbox_add(struct hookd *h, struct delivery *d, const char *key, const struct row *r,
    int *rows, char *msg, size_t msglen)
{
	sqlite3_stmt *st;

	st = hookd_stmt(h, ST_OUTBOX, "INSERT INTO outbox (event_id, pr_key, kind, target, "
	    "method, path, body, labels, repo_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (st == NULL)
		return sqlfail(h, msg, msglen, "prepare the outbox");
	/* The delivery's row is written after its handler ran; review_commit links them. */
	sqlite3_bind_null(st, 1);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->method, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->body, -1, SQLITE_STATIC);
	if (r->labels)
		sqlite3_bind_text(st, 8, r->labels, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	if (r->repo_path)
		sqlite3_bind_text(st, 9, r->repo_path, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	if (step_done(st) == -1)
		return sqlfail(h, msg, msglen, "write the outbox");
	if (d->outbox_first == 0)
		d->outbox_first = sqlite3_last_insert_rowid(h->db);
	(*rows)++;
	return 0;
}

/* A comment on the PR, as an outbox row. */
static int
comment(struct hookd *h, struct delivery *d, const char *key, const char *rp,
    const char *text, int *rows, char *msg, size_t msglen)
{
	struct buf b = BUF_INIT(1 << 20), path = BUF_INIT(4096);
	struct jw w;
	struct row r = { "comment", "gitea", "POST", NULL, NULL, NULL, NULL };
	int ret;

	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "body");
	jw_str(&w, text);
	jw_obj_close(&w);
	if (jw_finish(&w) != 0 || buf_addf(&path, "%s/issues/%lld/comments", rp,
	    d->number) == -1) {
		buf_free(&b);
		buf_free(&path);
		snprintf(msg, msglen, "unable to build a comment: %s", strerror(errno));
		return -1;
	}
	r.path = path.p;
	r.body = b.p;
	ret = outbox_add(h, d, key, &r, rows, msg, msglen);
	buf_free(&b);
	buf_free(&path);
	return ret;
}

static const char escalation_text[] =
    "## \xf0\x9f\x9a\xa8 Architect Escalation Required\n\n"
    "This PR has been rejected **3 times** by integrity_guard.\n\n"
    "@lead_architect please review the approach before the next attempt:\n\n"
    "1. Is this solving the right problem?\n"
    "2. Is the architecture sound?\n"
    "3. Are there simpler alternatives?\n"
    "4. What guidance would unblock the developer?\n\n"
    "**This is the last chance before auto-reject.**";

static const char reject_text[] =
    "\xe2\x9d\x8c **Auto-rejected** after %d review cycles. "
    "A Requirements Issue has been created.";

/* The requirements issue: every recorded failure of the PR, in cycle order. */
static int
requirements_body(struct hookd *h, struct delivery *d, const char *key, int cycles,
    struct buf *out, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	int rc;

	buf_addf(out, "## \xf0\x9f\x94\x84 Requirements Review: PR #%lld Failed After %d "
	    "Cycles\n\n**Original PR:** #%lld (closed)\n\n### Failure Summary\n\n"
	    "Rejected %d times despite architect consultation.\n\n### Rejection Reasons\n\n",
	    d->number, cycles, d->number, cycles);
	st = hookd_stmt(h, ST_FAILURES, "SELECT cycle_number, reviewer, reason, created_at "
	    "FROM review_failures WHERE pr_key = ?1 ORDER BY cycle_number, id");
	if (st == NULL)
		return sqlfail(h, msg, msglen, "prepare the failures query");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *reason = (const char *)sqlite3_column_text(st, 2);
		const char *at = (const char *)sqlite3_column_text(st, 3);

		buf_addf(out, "- **Cycle %d** (%s): %s\n", sqlite3_column_int(st, 0),
		    at ? at : "", reason ? reason : "");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sqlfail(h, msg, msglen, "read the failures");
	buf_adds(out, "\n### Root Cause Analysis\n\n"
	    "- [ ] Requirements unclear or incomplete\n"
	    "- [ ] Technical limitation\n"
	    "- [ ] Model capability limit\n"
	    "- [ ] Missing context\n\n"
	    "### Next Steps\n\n"
	    "- [ ] Refine the requirements\n"
	    "- [ ] Add examples and fixtures\n"
	    "- [ ] Simplify the scope\n"
	    "- [ ] Reassign the agent seat\n");
	return 0;
}

static int
auto_reject(struct hookd *h, struct delivery *d, const char *key,
    const char *rp, int cycles, int *rows, char *msg, size_t msglen)
{
	struct buf b = BUF_INIT(1 << 20), body = BUF_INIT(1 << 20), path = BUF_INIT(4096);
	struct jw w;
	struct row r = { "close", "gitea", "PATCH", NULL, "{\"state\":\"closed\"}", NULL, NULL };
	char text[256], title[128];
	sqlite3_stmt *st;
	int ret = -1;

	buf_addf(&path, "%s/pulls/%lld", rp, d->number);
	r.path = path.p;
	if (outbox_add(h, d, key, &r, rows, msg, msglen) == -1)
		goto out;
	snprintf(text, sizeof(text), reject_text, cycles);
	if (comment(h, d, key, rp, text, rows, msg, msglen) == -1)
		goto out;
	if (requirements_body(h, d, key, cycles, &body, msg, msglen) == -1)
		goto out;
	snprintf(title, sizeof(title), "Requirements Review: PR #%lld failed after %d cycles",
	    d->number, cycles);
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "title");
	jw_str(&w, title);
	jw_key(&w, "body");
	jw_strn(&w, body.p, body.len);
	jw_obj_close(&w);
	buf_reset(&path);
	buf_addf(&path, "%s/issues", rp);
	if (jw_finish(&w) != 0) {
		snprintf(msg, msglen, "unable to build the requirements issue");
		goto out;
	}
	r.kind = "issue";
	r.method = "POST";
	r.path = path.p;
	r.body = b.p;
	r.labels = "[\"requirements-review\",\"auto-rejected\"]";
	r.repo_path = rp;
	if (outbox_add(h, d, key, &r, rows, msg, msglen) == -1)
		goto out;
	st = hookd_stmt(h, ST_REJECT, "UPDATE pr_review_cycles SET status = 'rejected', "
	    "rejected_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP WHERE pr_key = ?1");
	if (st == NULL)
		goto sql;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (step_done(st) == -1)
		goto sql;
	ret = 0;
	goto out;
sql:
	sqlfail(h, msg, msglen, "mark the PR rejected");
out:
	buf_free(&b);
	buf_free(&body);
	buf_free(&path);
	return ret;
}

static void
reply(struct delivery *d, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply(struct delivery *d, const char *status, const char *fmt, ...)
{
	struct buf b = BUF_INIT(4096);
	struct jw w;
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "status");
	jw_str(&w, status);
	jw_key(&w, "message");
	jw_str(&w, text);
	jw_obj_close(&w);
	free(d->reply);
	d->reply = jw_finish(&w) == 0 ? buf_steal(&b) : NULL;
	buf_free(&b);
	d->status = 200;
}

static void
event_pr(struct hookd *h, const char *event, const struct delivery *d, const char *extra_k,
    const char *extra_v)
{
	struct buf b = BUF_INIT(8192);
	struct jw w;
	char pr[600];

	snprintf(pr, sizeof(pr), "%s/%s/#%lld", d->owner, d->name, d->number);
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "pr");
	jw_str(&w, pr);
	if (d->delivery_id) {
		jw_key(&w, "delivery");
		jw_str(&w, d->delivery_id);
	}
	if (extra_k) {
		jw_key(&w, extra_k);
		jw_str(&w, extra_v);
	}
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		hookd_event(h, event, b.p);
	buf_free(&b);
}

static int
changes_requested(struct hookd *h, struct delivery *d, const char *key,
    const char *rp, int *rows, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	char repo[1024];
	int cycles, rejected;

	snprintf(repo, sizeof(repo), "%s/%s", d->owner, d->name);
	st = hookd_stmt(h, ST_UPSERT, "INSERT INTO pr_review_cycles (pr_key, repo_full_name, "
	    "pr_number, cycle_count, updated_at) VALUES (?1, ?2, ?3, 1, CURRENT_TIMESTAMP) "
	    "ON CONFLICT(pr_key) DO UPDATE SET cycle_count = cycle_count + 1, "
	    "updated_at = CURRENT_TIMESTAMP");
	if (st == NULL)
		return sqlfail(h, msg, msglen, "prepare the cycle update");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, repo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, d->number);
	if (step_done(st) == -1)
		return sqlfail(h, msg, msglen, "count the review cycle");
	st = hookd_stmt(h, ST_CYCLE, "SELECT cycle_count, rejected_at IS NOT NULL "
	    "FROM pr_review_cycles WHERE pr_key = ?1");
	if (st == NULL)
		return sqlfail(h, msg, msglen, "prepare the cycle query");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return sqlfail(h, msg, msglen, "read the review cycle");
	}
	cycles = sqlite3_column_int(st, 0);
	rejected = sqlite3_column_int(st, 1);
	sqlite3_reset(st);
	st = hookd_stmt(h, ST_FAILURE, "INSERT INTO review_failures (pr_key, cycle_number, "
	    "reviewer, reason) VALUES (?1, ?2, ?3, ?4)");
	if (st == NULL)
		return sqlfail(h, msg, msglen, "prepare the failure insert");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, cycles);
	if (d->reviewer)
		sqlite3_bind_text(st, 3, d->reviewer, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	if (d->reason)
		sqlite3_bind_text(st, 4, d->reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	if (step_done(st) == -1)
		return sqlfail(h, msg, msglen, "record the failure reason");

	if (rejected) {
		reply(d, "rejected", "PR #%lld was already auto-rejected (cycle %d)", d->number,
		    cycles);
	} else if (cycles >= h->cfg.reject_at) {
		if (auto_reject(h, d, key, rp, cycles, rows, msg, msglen) == -1)
			return -1;
		event_pr(h, "pr_rejected", d, "reviewer", d->reviewer ? d->reviewer : "");
		reply(d, "rejected", "PR #%lld auto-rejected after %d cycles", d->number, cycles);
	} else if (cycles == h->cfg.escalate_at) {
		if (comment(h, d, key, rp, escalation_text, rows, msg, msglen) == -1)
			return -1;
		event_pr(h, "pr_escalated", d, "reviewer", d->reviewer ? d->reviewer : "");
		reply(d, "escalated", "PR #%lld escalated to architect", d->number);
	} else
		reply(d, "changes_requested", "PR #%lld rejected (cycle %d/%d)", d->number, cycles,
		    h->cfg.reject_at);
	return 0;
}

static int
handle(struct hookd *h, struct delivery *d, int *rows, char *msg, size_t msglen)
{
	struct buf b = BUF_INIT(1 << 16), path = BUF_INIT(4096);
	struct jw w;
	struct row r = { NULL, NULL, "POST", NULL, NULL, NULL, NULL };
	char key[1200], rp[1100];
	sqlite3_stmt *st;
	int ret = -1;

	if (d->kind == RK_IGNORED) {
		reply(d, "ignored", "%s", d->ignored);
		return 0;
	}
	prkey(d, key, sizeof(key));
	if (repo_path(d, rp, sizeof(rp)) == -1) {
		snprintf(msg, msglen, "repository owner or name too long");
		return -1;
	}
	switch (d->kind) {
	case RK_APPROVED:
		event_pr(h, "pr_review", d, "state", "approved");
		buf_addf(&path, "%s/pulls/%lld/merge", rp, d->number);
		buf_addf(&b, "{\"Do\":\"merge\",\"MergeMessageField\":\"Auto-merged PR #%lld after "
		    "approval\",\"delete_branch_after_merge\":true}", d->number);
		r.kind = "merge";
		r.target = "gitea";
		r.path = path.p;
		r.body = b.p;
		if (outbox_add(h, d, key, &r, rows, msg, msglen) == -1)
			goto out;
		/* The merge is only asked for: the reply never claims what Gitea may refuse. */
		reply(d, "success", "PR #%lld approved, merge requested", d->number);
		break;
	case RK_CHANGES:
		event_pr(h, "pr_review", d, "state", "changes_requested");
		if (changes_requested(h, d, key, rp, rows, msg, msglen) == -1)
			goto out;
		break;
	case RK_COMMENTED:
		event_pr(h, "pr_review", d, "state", "commented");
		reply(d, "ignored", "Review state not actionable");
		break;
	case RK_OPENED:
		event_pr(h, "pr_opened", d, "issue", d->issue_id);
		jw_init(&w, &b);
		jw_obj_open(&w);
		jw_key(&w, "card_id");
		jw_str(&w, d->issue_id);
		jw_key(&w, "status");
		jw_str(&w, "code_review");
		jw_obj_close(&w);
		r.kind = "card";
		r.target = "runtime";
		r.path = "";
		r.body = b.p;
		if (outbox_add(h, d, key, &r, rows, msg, msglen) == -1)
			goto out;
		if (h->cfg.api_url) {
			buf_reset(&b);
			jw_init(&w, &b);
			jw_obj_open(&w);
			jw_key(&w, "issue_id");
			jw_str(&w, d->issue_id);
			jw_obj_close(&w);
			r.kind = "run";
			r.target = "api";
			r.path = "/v1/system/run-active";
			r.body = b.p;
			if (outbox_add(h, d, key, &r, rows, msg, msglen) == -1)
				goto out;
		}
		reply(d, "success", "PR #%lld review triggered for %s", d->number, d->issue_id);
		break;
	case RK_MERGED:
		event_pr(h, "pr_merged", d, "merged_by", d->merged_by ? d->merged_by : "unknown");
		st = hookd_stmt(h, ST_MERGED, "UPDATE pr_review_cycles SET status = 'merged', "
		    "updated_at = CURRENT_TIMESTAMP WHERE pr_key = ?1");
		if (st == NULL) {
			sqlfail(h, msg, msglen, "prepare the merge update");
			goto out;
		}
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (step_done(st) == -1) {
			sqlfail(h, msg, msglen, "mark the PR merged");
			goto out;
		}
		if (h->cfg.sandbox_argc > 0) {
			char repo[1100];

			snprintf(repo, sizeof(repo), "%s/%s", d->owner, d->name);
			jw_init(&w, &b);
			jw_obj_open(&w);
			jw_key(&w, "repo");
			jw_str(&w, repo);
			jw_key(&w, "pr");
			jw_int(&w, d->number);
			jw_key(&w, "branch");
			jw_str(&w, d->branch ? d->branch : "");
			jw_obj_close(&w);
			r.kind = "sandbox";
			r.target = "exec";
			r.path = "";
			r.body = b.p;
			if (outbox_add(h, d, key, &r, rows, msg, msglen) == -1)
				goto out;
			reply(d, "success", "PR #%lld merged, sandbox deployment queued",
			    d->number);
		} else
			reply(d, "success", "PR #%lld merged", d->number);
		break;
	default:
		reply(d, "ignored", "Event type %s not handled", d->event);
		break;
	}
	ret = 0;
out:
	buf_free(&b);
	buf_free(&path);
	return ret;
}

int
review_commit(struct hookd *h, struct delivery *d, int *rows, char *msg, size_t msglen)
{
	sqlite3_stmt *st;
	char key[1200];
	int64_t ev;

	/* Replay protection: a delivery id seen before changes nothing. */
	if (d->delivery_id) {
		st = hookd_stmt(h, ST_DUP, "SELECT 1 FROM webhook_events WHERE delivery_id = ?1");
		if (st == NULL)
			return sqlfail(h, msg, msglen, "prepare the replay check");
		sqlite3_bind_text(st, 1, d->delivery_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			sqlite3_reset(st);
			reply(d, "duplicate", "Delivery %.128s was already received", d->delivery_id);
			return 1;
		}
		sqlite3_reset(st);
	}
	/*
	 * The handler runs first so that the delivery is written once, with its result:
	 * an INSERT then an UPDATE would write a large payload twice.
	 */
	if (handle(h, d, rows, msg, msglen) == -1)
		return -1;
	st = hookd_stmt(h, ST_EVENT, "INSERT INTO webhook_events (event_type, pr_key, payload, "
	    "delivery_id, action, source_addr, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (st == NULL)
		return sqlfail(h, msg, msglen, "prepare the delivery insert");
	sqlite3_bind_text(st, 1, d->event, -1, SQLITE_STATIC);
	if (d->owner && d->name) {
		prkey(d, key, sizeof(key));
		sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	} else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, d->payload, (int)d->payloadlen, SQLITE_STATIC);
	if (d->delivery_id)
		sqlite3_bind_text(st, 4, d->delivery_id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	if (d->action)
		sqlite3_bind_text(st, 5, d->action, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_text(st, 6, d->addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, d->reply ? d->reply : "", -1, SQLITE_STATIC);
	if (step_done(st) == -1)
		return sqlfail(h, msg, msglen, "store the delivery");
	ev = sqlite3_last_insert_rowid(h->db);
	if (d->outbox_first != 0) {
		st = hookd_stmt(h, ST_RESULT, "UPDATE outbox SET event_id = ?1 WHERE id >= ?2");
		if (st == NULL)
			return sqlfail(h, msg, msglen, "prepare the outbox link");
		sqlite3_bind_int64(st, 1, ev);
		sqlite3_bind_int64(st, 2, d->outbox_first);
		if (step_done(st) == -1)
			return sqlfail(h, msg, msglen, "link the outbox rows");
	}
	return 0;
}
