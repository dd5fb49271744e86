/* See LICENSE. orket-hookd: the outbox sender, libcurl's multi interface on the loop. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curl/curl.h"

#include "buf.h"
#include "db.h"
#include "hookd.h"
#include "json.h"
#include "log.h"
#include "loop.h"

/*
 * A row goes pending -> running -> done | failed, or running -> pending again with a later
 * next_attempt_at when the attempt failed in a way that retrying may fix. 'running' is
 * written before the call starts, so a row found running at start was interrupted (by a
 * crash, or by outbox_free at shutdown) and is sent again: delivery is at least once.
 *
 * Scheduling is driven by the table, not by memory: one indexed query finds the due rows
 * that may start (per pr_key only the oldest unfinished row, so close, comment and issue
 * reach Gitea in order), and one embedded timer waits for the earliest row in backoff.
 */

#define OB_RESP_MAX	(64 * 1024)	/* response body kept per request */
#define OB_RESULT_MAX	1024		/* response bytes recorded in outbox.result */
#define OB_ERROR_MAX	1024		/* bytes of last_error */
#define OB_BACKOFF_MAX	300000		/* ms, the longest wait between attempts */
#define OB_BATCH	64		/* rows read per scheduling query */
#define OB_TOKENS	8192		/* JSON tokens of a response or a row's body */
#define OB_LABELS_MAX	64		/* label names per row */
#define OB_LABEL_PAGE	50		/* labels asked for per page */
#define OB_LABEL_PAGES	100		/* pages followed at most */
#define OB_COMMENT_OUT	4096		/* sandbox output quoted in the comment */
#define OB_RUNTIME_BUSY_MS 250		/* shared runtime DB: never block the loop long */
#define OB_EVENT_MAX	(64 * 1024)

#ifndef ORKET_VERSION
#define ORKET_VERSION "dev"
#endif

enum { OUT_DONE, OUT_RETRY, OUT_FAILED };
enum { PH_SEND, PH_LIST, PH_CREATE };
enum { T_GITEA, T_API, T_RUNTIME, T_EXEC, T_UNKNOWN };

struct job {
	struct outbox	*ob;
	struct job	*next;
	int64_t		 id;
	int64_t		 event_id;	/* 0 when NULL */
	int		 has_event;
	int		 attempts;	/* including the one in progress */
	int		 target;
	char		*kind, *method, *path, *body, *labels, *repo_path, *pr_key;
	/* A transfer. */
	CURL		*easy;
	struct curl_slist *hdrs;
	struct buf	 resp;
	char		 errbuf[CURL_ERROR_SIZE];
	int		 phase;
	int		 page;
	struct buf	 req;		/* the body of the request in flight */
	/* Label resolution. */
	char		*lname[OB_LABELS_MAX];
	long long	 lid[OB_LABELS_MAX];
	int		 nlabels;
	int		 lcreate;	/* the label being created */
};

struct outbox {
	struct hookd	*h;
	CURLM		*multi;
	struct loop_timer curl_timer;	/* CURLMOPT_TIMERFUNCTION */
	struct loop_timer due_timer;	/* the earliest row in backoff */
	int64_t		 due_at;	/* realtime ms the due timer is set for, or 0 */
	int64_t		 pump_now;	/* the time the last scheduling query used */
	struct job	*jobs;		/* transfers in flight */
	int		 nflight;
	struct job	*exec;		/* the sandbox row running, at most one */
	int		 idle;		/* outbox_idle was called: start nothing new */
	int		 pumping, again;
	int		 gitea_warned, api_warned;
	sqlite3_stmt	*st_reset, *st_due, *st_next, *st_claim, *st_finish,
			*st_requeue, *st_depth, *st_insert, *st_begin, *st_commit,
			*st_rollback;
	sqlite3		*rdb;		/* the runtime DB, opened when needed */
	sqlite3_stmt	*rt_update, *rt_insert, *rt_begin, *rt_commit, *rt_rollback;
	jsmntok_t	*toks;
	struct buf	 ev;		/* event data, reused */
	struct buf	 url;		/* reused */
};

static const char SQL_RESET[] =
	"UPDATE outbox SET state = 'pending', updated_at = CURRENT_TIMESTAMP "
	"WHERE state = 'running'";
/*
 * Due rows that may start now. The outer scan walks idx_outbox_state in
 * (next_attempt_at, id) order and stops at the LIMIT; the NOT EXISTS is a seek in
 * idx_outbox_pr_key. ?2..?5 leave out rows whose target cannot take work now.
 */
static const char SQL_DUE[] =
	"SELECT id, event_id, kind, target, method, path, body, labels, repo_path, pr_key, "
	"attempts FROM outbox AS o "
	"WHERE state = 'pending' AND next_attempt_at <= ?1 "
	"AND (target <> 'gitea' OR ?2) AND (target <> 'api' OR ?3) "
	"AND (target NOT IN ('gitea', 'api') OR ?4) AND (target <> 'exec' OR ?5) "
	"AND (pr_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox AS p "
	"WHERE p.pr_key = o.pr_key AND p.id < o.id AND p.state IN ('pending', 'running'))) "
	"ORDER BY next_attempt_at, id LIMIT ?6";
static const char SQL_NEXT[] =
	"SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' "
	"AND next_attempt_at > ?1";
static const char SQL_CLAIM[] =
	"UPDATE outbox SET state = 'running', attempts = attempts + 1, "
	"updated_at = CURRENT_TIMESTAMP WHERE id = ?1 AND state = 'pending'";
static const char SQL_FINISH[] =
	"UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_status = ?5, "
	"last_error = ?6, result = ?7, updated_at = CURRENT_TIMESTAMP, "
	"done_at = CASE WHEN ?2 IN ('done', 'failed') THEN CURRENT_TIMESTAMP END "
	"WHERE id = ?1";
static const char SQL_REQUEUE[] =
	"UPDATE outbox SET state = 'pending', updated_at = CURRENT_TIMESTAMP WHERE id = ?1";
static const char SQL_DEPTH[] =
	"SELECT count(*) FROM outbox WHERE state IN ('pending', 'running')";
static const char SQL_INSERT[] =
	"INSERT INTO outbox (event_id, pr_key, kind, target, method, path, body) "
	"VALUES (?1, ?2, 'comment', 'gitea', 'POST', ?3, ?4)";

static void	 pump(struct outbox *);
static void	 job_free(struct job *);

static int64_t
now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The longest prefix of s[0..len), at most max bytes, that ends on a UTF-8 boundary. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static int
target_of(const char *t)
{
	if (strcmp(t, "gitea") == 0)
		return T_GITEA;
	if (strcmp(t, "api") == 0)
		return T_API;
	if (strcmp(t, "runtime") == 0)
		return T_RUNTIME;
	if (strcmp(t, "exec") == 0)
		return T_EXEC;
	return T_UNKNOWN;
}

static int
api_enabled(const struct hookd_config *c)
{
	return c->api_url != NULL && c->api_url[0] != '\0';
}

/* SQLite helpers: prepared once, reset after each use. */

static int
prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc;

	if ((rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL)) !=
	    SQLITE_OK) {
		log_warn("unable to prepare outbox statement: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
step_done(sqlite3_stmt *st)
{
	int rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* A transaction around several writes, unless the caller is already inside one. */
static int
tx_begin(struct outbox *ob)
{
	if (!sqlite3_get_autocommit(ob->h->db))
		return 0;
	return step_done(ob->st_begin) == SQLITE_OK ? 1 : -1;
}

static void
tx_end(struct outbox *ob, int began, int ok)
{
	if (began != 1)
		return;
	if (ok && step_done(ob->st_commit) == SQLITE_OK)
		return;
	if (ok)
		log_warn("unable to commit outbox update: %s", sqlite3_errmsg(ob->h->db));
	if (!sqlite3_get_autocommit(ob->h->db))
		step_done(ob->st_rollback);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s, size_t n)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

/* The due timer. */

static void
due_fire(struct loop *l, struct loop_timer *t, void *arg);

static void
due_arm(struct outbox *ob, int64_t at)
{
	int64_t now = now_real_ms(), d;

	if (ob->idle)
		return;
	if (loop_timer_armed(&ob->due_timer) && ob->due_at <= at)
		return;
	d = at - now;
	if (d < 0)
		d = 0;
	if (d > 86400000)
		d = 86400000;
	if (loop_timer_set(&ob->h->loop, &ob->due_timer, (uint64_t)d) == -1) {
		log_warnsys("unable to arm the outbox timer");
		return;
	}
	ob->due_at = at;
}

/*
 * After a pass: arm the timer for the earliest row still in backoff, or disarm it when
 * there is none. "In backoff" is measured at the time the pass used, not now: a row that
 * fell due in between was not seen by the pass, and must not be missed here either.
 */
static void
due_rearm(struct outbox *ob)
{
	sqlite3_stmt *st = ob->st_next;
	int64_t at = 0;
	int rc;

	loop_timer_stop(&ob->h->loop, &ob->due_timer);
	ob->due_at = 0;
	sqlite3_bind_int64(st, 1, ob->pump_now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		at = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_ROW)
		log_warn("unable to read the outbox: %s", sqlite3_errmsg(ob->h->db));
	sqlite3_reset(st);
	if (at > 0)
		due_arm(ob, at);
}

static void
due_fire(struct loop *l, struct loop_timer *t, void *arg)
{
	struct outbox *ob = arg;

	hookd_db_lock(ob->h);
	ob->due_at = 0;
	pump(ob);
	due_rearm(ob);
	hookd_db_unlock(ob->h);
}

/* Events. */

static void
event_row(struct outbox *ob, const char *name, const struct job *j, int status,
    const char *error, long long next_in_ms)
{
	struct jw w;

	buf_reset(&ob->ev);
	jw_init(&w, &ob->ev);
	jw_obj_open(&w);
	jw_key(&w, "id");
	jw_int(&w, j->id);
	jw_key(&w, "kind");
	jw_str(&w, j->kind);
	jw_key(&w, "pr");
	jw_str(&w, j->pr_key);
	jw_key(&w, "status");
	jw_int(&w, status);
	if (error != NULL) {
		jw_key(&w, "error");
		jw_str(&w, error);
	}
	if (next_in_ms >= 0) {
		jw_key(&w, "next_in_ms");
		jw_int(&w, next_in_ms);
	}
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		hookd_event(ob->h, name, ob->ev.p);
}

static void
event_merge(struct outbox *ob, const struct job *j, int ok, int status, const char *error)
{
	struct jw w;

	buf_reset(&ob->ev);
	jw_init(&w, &ob->ev);
	jw_obj_open(&w);
	jw_key(&w, "pr");
	jw_str(&w, j->pr_key);
	if (!ok) {
		jw_key(&w, "status");
		jw_int(&w, status);
		jw_key(&w, "error");
		jw_str(&w, error);
	}
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		hookd_event(ob->h, ok ? "pr_merged" : "pr_merge_failed", ob->ev.p);
}

/*
 * Record the attempt that just ended: the row, one event, the counters. A transient
 * outcome becomes a retry with backoff until outbox_max_attempts, then a failure.
 */
static void
row_finish(struct outbox *ob, struct job *j, int outcome, int status, const char *error,
    const char *result, size_t resultlen)
{
	const struct hookd_config *c = &ob->h->cfg;
	sqlite3_stmt *st = ob->st_finish;
	int64_t delay = 0, next = 0;
	const char *state;
	size_t elen = 0;
	int k, rc;

	if (outcome == OUT_RETRY && j->attempts >= c->outbox_max_attempts)
		outcome = OUT_FAILED;
	if (outcome == OUT_RETRY) {
		delay = c->outbox_backoff_ms > 0 ? c->outbox_backoff_ms : 1000;
		for (k = 1; k < j->attempts && delay < OB_BACKOFF_MAX; k++)
			delay *= 2;
		if (delay > OB_BACKOFF_MAX)
			delay = OB_BACKOFF_MAX;
		next = now_real_ms() + delay;
	}
	state = outcome == OUT_DONE ? "done" : outcome == OUT_RETRY ? "pending" : "failed";
	if (error != NULL)
		elen = utf8_cut(error, strlen(error), OB_ERROR_MAX);
	if (result != NULL)
		resultlen = utf8_cut(result, resultlen, OB_RESULT_MAX);
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, j->attempts);
	sqlite3_bind_int64(st, 4, next);
	sqlite3_bind_int(st, 5, status);
	bind_text(st, 6, error, elen);
	bind_text(st, 7, resultlen > 0 ? result : NULL, resultlen);
	if ((rc = step_done(st)) != SQLITE_OK)
		log_warn("unable to record outbox row: %s id=%lld state=%s",
		    sqlite3_errstr(rc), (long long)j->id, state);
	switch (outcome) {
	case OUT_DONE:
		ob->h->m.outbox_sent++;
		event_row(ob, "outbox_sent", j, status, NULL, -1);
		if (strcmp(j->kind, "merge") == 0)
			event_merge(ob, j, 1, status, NULL);
		break;
	case OUT_RETRY:
		ob->h->m.outbox_retries++;
		event_row(ob, "outbox_retry", j, status, error, delay);
		due_arm(ob, next);
		break;
	default:
		ob->h->m.outbox_failed++;
		event_row(ob, "outbox_failed", j, status, error, -1);
		if (strcmp(j->kind, "merge") == 0)
			event_merge(ob, j, 0, status, error);
		break;
	}
}

/* Jobs. */

static void
wipe_slist(struct curl_slist *s)
{
	struct curl_slist *p;

	for (p = s; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(s);
}

static void
job_free(struct job *j)
{
	int i;

	if (j == NULL)
		return;
	if (j->easy != NULL) {
		curl_multi_remove_handle(j->ob->multi, j->easy);
		curl_easy_cleanup(j->easy);
	}
	wipe_slist(j->hdrs);
	buf_free(&j->resp);
	buf_free(&j->req);
	for (i = 0; i < j->nlabels; i++)
		free(j->lname[i]);
	free(j->kind);
	free(j->method);
	free(j->path);
	free(j->body);
	free(j->labels);
	free(j->repo_path);
	free(j->pr_key);
	free(j);
}

static char *
col_dup(sqlite3_stmt *st, int i, int *err)
{
	const unsigned char *s;
	char *p;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	s = sqlite3_column_text(st, i);
	if (s == NULL || (p = strdup((const char *)s)) == NULL) {
		*err = 1;
		return NULL;
	}
	return p;
}

static struct job *
job_from_row(struct outbox *ob, sqlite3_stmt *st)
{
	struct job *j;
	int err = 0;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->ob = ob;
	buf_init(&j->resp, OB_RESP_MAX);
	buf_init(&j->req, HOOKD_BODY_MAX);
	j->id = sqlite3_column_int64(st, 0);
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		j->has_event = 1;
		j->event_id = sqlite3_column_int64(st, 1);
	}
	j->kind = col_dup(st, 2, &err);
	j->target = target_of((const char *)sqlite3_column_text(st, 3));
	j->method = col_dup(st, 4, &err);
	j->path = col_dup(st, 5, &err);
	j->body = col_dup(st, 6, &err);
	j->labels = col_dup(st, 7, &err);
	j->repo_path = col_dup(st, 8, &err);
	j->pr_key = col_dup(st, 9, &err);
	j->attempts = sqlite3_column_int(st, 10) + 1;
	if (err || j->kind == NULL || j->method == NULL || j->path == NULL) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void
job_unlink(struct outbox *ob, struct job *j)
{
	struct job **pp;

	for (pp = &ob->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			ob->nflight--;
			return;
		}
}

/* An attempt ended: record it, forget the job, and look for more work. */
static void
job_end(struct job *j, int outcome, int status, const char *error)
{
	struct outbox *ob = j->ob;

	row_finish(ob, j, outcome, status, error, j->resp.p, j->resp.len);
	job_unlink(ob, j);
	job_free(j);
	pump(ob);
}

/* libcurl glue. */

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, room;

	/* Past the cap the bytes are dropped, not the transfer. */
	room = j->resp.max - j->resp.len;
	if (room > 0)
		buf_add(&j->resp, p, len < room ? len : room);
	return len;
}

static void
on_sock_event(struct loop *l, int fd, uint32_t events, void *arg);

static int
on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct outbox *ob = userp;
	struct loop *l = &ob->h->loop;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_del(l, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	if (loop_mod(l, s, ev) == 0)
		return 0;
	/* Not registered, or a stale registration of a descriptor closed meanwhile. */
	loop_del(l, s);
	if (loop_add(l, s, ev, on_sock_event, ob) == -1) {
		log_warnsys("unable to watch an outbox connection");
		return -1;
	}
	return 0;
}

static int
on_timer(CURLM *m, long ms, void *userp)
{
	struct outbox *ob = userp;

	if (ms < 0)
		loop_timer_stop(&ob->h->loop, &ob->curl_timer);
	else if (loop_timer_set(&ob->h->loop, &ob->curl_timer, (uint64_t)ms) == -1) {
		log_warnsys("unable to arm the curl timer");
		return -1;
	}
	return 0;
}

static void	 completions(struct outbox *);

static void
on_sock_event(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct outbox *ob = arg;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	hookd_db_lock(ob->h);
	curl_multi_socket_action(ob->multi, fd, flags, &running);
	completions(ob);
	hookd_db_unlock(ob->h);
}

static void
on_curl_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	struct outbox *ob = arg;
	int running;

	hookd_db_lock(ob->h);
	curl_multi_socket_action(ob->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	completions(ob);
	hookd_db_unlock(ob->h);
}

static int
add_hdr(struct curl_slist **h, const char *s)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*h, s)) == NULL)
		return -1;
	*h = n;
	return 0;
}

/*
 * Start one request of a job on its easy handle. Every option is set again after a
 * reset: nothing from the configuration is kept across calls, so a SIGHUP that replaces
 * it leaves no dangling pointer, and credentials live only in curl's own copies.
 */
static int
job_request(struct job *j, const char *method, const char *url, int with_body)
{
	struct outbox *ob = j->ob;
	const struct hookd_config *c = &ob->h->cfg;
	struct curl_slist *h = NULL;
	struct buf auth = BUF_INIT(8192);
	int ok = 1;

	if (j->easy == NULL) {
		if ((j->easy = curl_easy_init()) == NULL)
			return -1;
	} else {
		curl_multi_remove_handle(ob->multi, j->easy);
		curl_easy_reset(j->easy);
	}
	wipe_slist(j->hdrs);
	j->hdrs = NULL;
	buf_reset(&j->resp);
	j->errbuf[0] = '\0';

	if (add_hdr(&h, "Accept: application/json") == -1 ||
	    (with_body && add_hdr(&h, "Content-Type: application/json") == -1) ||
	    add_hdr(&h, "Expect:") == -1)
		ok = 0;
	if (ok && j->target == T_GITEA && c->gitea_token != NULL &&
	    (buf_addf(&auth, "Authorization: token %s", c->gitea_token) == -1 ||
	    add_hdr(&h, auth.p) == -1))
		ok = 0;
	if (ok && j->target == T_API && c->api_key != NULL && c->api_key[0] != '\0' &&
	    (buf_addf(&auth, "X-API-Key: %s", c->api_key) == -1 ||
	    add_hdr(&h, auth.p) == -1))
		ok = 0;
	if (auth.p != NULL)
		explicit_bzero(auth.p, auth.cap);
	buf_free(&auth);
	j->hdrs = h;
	if (!ok)
		return -1;

	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_URL, url);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(j->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS,
	    (long)(c->outbox_timeout_ms > 0 ? c->outbox_timeout_ms : 10000));
	curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "orket-hookd/" ORKET_VERSION);
	if (c->gitea_ca_file != NULL && c->gitea_ca_file[0] != '\0')
		curl_easy_setopt(j->easy, CURLOPT_CAINFO, c->gitea_ca_file);
	if (j->target == T_GITEA && c->gitea_token == NULL) {
		curl_easy_setopt(j->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(j->easy, CURLOPT_USERNAME,
		    c->gitea_user ? c->gitea_user : "");
		curl_easy_setopt(j->easy, CURLOPT_PASSWORD,
		    c->gitea_password ? c->gitea_password : "");
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(j->easy, CURLOPT_HTTPGET, 1L);
	else {
		if (with_body) {
			curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->req.p ? j->req.p : "");
			curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)j->req.len);
		}
		if (strcmp(method, "POST") != 0 || !with_body)
			curl_easy_setopt(j->easy, CURLOPT_CUSTOMREQUEST, method);
	}
	if (curl_multi_add_handle(ob->multi, j->easy) != CURLM_OK)
		return -1;
	return 0;
}

/* base + "/api/v1" + path + suffix into ob->url; NULL when it does not fit. */
static const char *
make_url(struct outbox *ob, struct job *j, const char *path, const char *suffix)
{
	const struct hookd_config *c = &ob->h->cfg;

	buf_reset(&ob->url);
	if (j->target == T_GITEA) {
		if (buf_addf(&ob->url, "%s/api/v1%s%s", c->gitea_url ? c->gitea_url : "",
		    path, suffix) == -1)
			return NULL;
	} else if (buf_addf(&ob->url, "%s%s%s", c->api_url ? c->api_url : "", path,
	    suffix) == -1)
		return NULL;
	return ob->url.p;
}

/* The message of an error answer: Gitea's "message", the API's "detail", or "HTTP n". */
static void
answer_error(struct outbox *ob, struct job *j, long code, const char *what, char *out,
    size_t outlen)
{
	struct json js;
	char msg[OB_ERROR_MAX];
	int t;

	msg[0] = '\0';
	if (j->resp.len > 0 && json_parse(&js, j->resp.p, j->resp.len, ob->toks,
	    OB_TOKENS) == JSON_OK && json_type(&js, 0) == JSON_OBJECT) {
		if ((t = json_get(&js, 0, "message")) == -1)
			t = json_get(&js, 0, "detail");
		if (t != -1 && json_str(&js, t, msg, sizeof(msg), NULL) == -1)
			msg[0] = '\0';
	}
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "HTTP %ld", code);
	snprintf(out, outlen, "%s%s", what, msg);
}

/* Labels: the body with "labels" replaced by the ids, then the call itself. */

static int
send_main(struct job *j);

static int
build_body_with_labels(struct job *j)
{
	struct outbox *ob = j->ob;
	struct json js;
	const char *raw, *body = j->body ? j->body : "{}";
	size_t rlen;
	int k, n, i, first = 1;

	buf_reset(&j->req);
	if (json_parse(&js, body, strlen(body), ob->toks, OB_TOKENS) != JSON_OK ||
	    json_type(&js, 0) != JSON_OBJECT)
		return -1;
	if (buf_addc(&j->req, '{') == -1)
		return -1;
	n = json_size(&js, 0);
	for (i = 0, k = 1; i < n; i++, k = json_next(&js, k + 1)) {
		if (json_streq(&js, k, "labels"))
			continue;
		if (!first && buf_addc(&j->req, ',') == -1)
			return -1;
		first = 0;
		raw = json_raw(&js, k, &rlen);
		if (buf_add(&j->req, raw, rlen) == -1 || buf_addc(&j->req, ':') == -1)
			return -1;
		raw = json_raw(&js, k + 1, &rlen);
		if (buf_add(&j->req, raw, rlen) == -1)
			return -1;
	}
	if (buf_adds(&j->req, first ? "\"labels\":[" : ",\"labels\":[") == -1)
		return -1;
	for (i = 0; i < j->nlabels; i++)
		if (buf_addf(&j->req, "%s%lld", i ? "," : "", j->lid[i]) == -1)
			return -1;
	return buf_adds(&j->req, "]}");
}

static int
parse_label_names(struct job *j)
{
	struct json js;
	int n, i, k, t, dup;
	char *s;

	if (json_parse(&js, j->labels, strlen(j->labels), j->ob->toks, OB_TOKENS) !=
	    JSON_OK || json_type(&js, 0) != JSON_ARRAY)
		return -1;
	n = json_size(&js, 0);
	for (i = 0, t = 1; i < n; i++, t = json_next(&js, t)) {
		if (json_type(&js, t) != JSON_STRING)
			return -1;
		for (dup = 0, k = 0; k < j->nlabels; k++)
			if (json_streq(&js, t, j->lname[k]))
				dup = 1;
		if (dup)
			continue;
		if (j->nlabels == OB_LABELS_MAX || (s = json_strdup(&js, t)) == NULL)
			return -1;
		j->lname[j->nlabels] = s;
		j->lid[j->nlabels++] = -1;
	}
	return 0;
}

static int
next_label_step(struct job *j);

static int
list_labels(struct job *j)
{
	char suffix[64];
	const char *url;

	snprintf(suffix, sizeof(suffix), "/labels?limit=%d&page=%d", OB_LABEL_PAGE, j->page);
	if ((url = make_url(j->ob, j, j->repo_path, suffix)) == NULL)
		return -1;
	j->phase = PH_LIST;
	return job_request(j, "GET", url, 0);
}

static int
create_label(struct job *j)
{
	struct jw w;
	const char *url;

	buf_reset(&j->req);
	jw_init(&w, &j->req);
	jw_obj_open(&w);
	jw_key(&w, "name");
	jw_str(&w, j->lname[j->lcreate]);
	jw_key(&w, "color");
	jw_str(&w, "#e11d21");
	jw_key(&w, "description");
	jw_str(&w, "created by orket-hookd");
	jw_obj_close(&w);
	if (jw_finish(&w) == -1)
		return -1;
	if ((url = make_url(j->ob, j, j->repo_path, "/labels")) == NULL)
		return -1;
	j->phase = PH_CREATE;
	return job_request(j, "POST", url, 1);
}

/* After the listing: create the first label still missing, or send the call. */
static int
next_label_step(struct job *j)
{
	for (j->lcreate = 0; j->lcreate < j->nlabels; j->lcreate++)
		if (j->lid[j->lcreate] < 0)
			return create_label(j);
	if (build_body_with_labels(j) == -1)
		return -2;
	return send_main(j);
}

static int
send_main(struct job *j)
{
	const char *url;

	if ((url = make_url(j->ob, j, j->path, "")) == NULL)
		return -1;
	j->phase = PH_SEND;
	return job_request(j, j->method, url,
	    j->req.p != NULL || strcmp(j->method, "GET") != 0);
}

/* Read a label page; 1 when another page should be fetched, 0 when done, -1 if unreadable. */
static int
take_label_page(struct job *j)
{
	struct json js;
	long long id;
	int n, i, t, nt, it, k;

	if (json_parse(&js, j->resp.p ? j->resp.p : "", j->resp.len, j->ob->toks,
	    OB_TOKENS) != JSON_OK || json_type(&js, 0) != JSON_ARRAY)
		return -1;
	n = json_size(&js, 0);
	for (i = 0, t = 1; i < n; i++, t = json_next(&js, t)) {
		if (json_type(&js, t) != JSON_OBJECT)
			continue;
		nt = json_get(&js, t, "name");
		it = json_get(&js, t, "id");
		if (nt == -1 || it == -1 || json_int(&js, it, &id) == -1)
			continue;
		for (k = 0; k < j->nlabels; k++)
			if (j->lid[k] < 0 && json_streq(&js, nt, j->lname[k]))
				j->lid[k] = id;
	}
	for (k = 0; k < j->nlabels; k++)
		if (j->lid[k] < 0)
			return n >= OB_LABEL_PAGE && j->page < OB_LABEL_PAGES;
	return 0;
}

static int
take_label_created(struct job *j)
{
	struct json js;
	long long id;
	int t;

	if (json_parse(&js, j->resp.p ? j->resp.p : "", j->resp.len, j->ob->toks,
	    OB_TOKENS) != JSON_OK || json_type(&js, 0) != JSON_OBJECT ||
	    (t = json_get(&js, 0, "id")) == -1 || json_int(&js, t, &id) == -1)
		return -1;
	j->lid[j->lcreate] = id;
	return 0;
}

/*
 * Stop a job between two requests of one attempt (outbox_idle was called): the row goes
 * back to pending at once rather than at the next start.
 */
static void
job_interrupt(struct job *j)
{
	struct outbox *ob = j->ob;

	sqlite3_bind_int64(ob->st_requeue, 1, j->id);
	if (step_done(ob->st_requeue) != SQLITE_OK)
		log_warn("unable to requeue outbox row: %s id=%lld",
		    sqlite3_errmsg(ob->h->db), (long long)j->id);
	job_unlink(ob, j);
	job_free(j);
}

/* One request of a job is complete. */
static void
job_done(struct job *j, CURLcode res)
{
	char err[OB_ERROR_MAX + 64];
	const char *what;
	long code = 0;
	int r;

	what = j->phase == PH_LIST ? "label lookup: " : j->phase == PH_CREATE ?
	    "label creation: " : "";
	if (res != CURLE_OK) {
		snprintf(err, sizeof(err), "%s%s", what, j->errbuf[0] ? j->errbuf :
		    curl_easy_strerror(res));
		job_end(j, OUT_RETRY, 0, err);
		return;
	}
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		answer_error(j->ob, j, code, what, err, sizeof(err));
		if (code == 408 || code == 429 || code >= 500)
			job_end(j, OUT_RETRY, (int)code, err);
		else
			job_end(j, OUT_FAILED, (int)code, err);
		return;
	}
	if (j->phase == PH_SEND) {
		job_end(j, OUT_DONE, (int)code, NULL);
		return;
	}
	if (j->phase == PH_LIST) {
		if ((r = take_label_page(j)) == -1) {
			job_end(j, OUT_RETRY, (int)code, "label lookup: unreadable label list");
			return;
		}
		if (j->ob->idle) {
			job_interrupt(j);
			return;
		}
		if (r == 1) {
			j->page++;
			r = list_labels(j);
		} else
			r = next_label_step(j);
	} else {
		if (take_label_created(j) == -1) {
			job_end(j, OUT_RETRY, (int)code, "label creation: unreadable answer");
			return;
		}
		if (j->ob->idle) {
			job_interrupt(j);
			return;
		}
		r = next_label_step(j);
	}
	if (r == -2)
		job_end(j, OUT_FAILED, 0, "malformed body: not a JSON object");
	else if (r == -1)
		job_end(j, OUT_RETRY, 0, "unable to start the request");
}

static void
completions(struct outbox *ob)
{
	struct job *j;
	CURLMsg *m;
	char *priv;
	int left;

	while ((m = curl_multi_info_read(ob->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if ((j = (struct job *)priv) != NULL)
			job_done(j, m->data.result);
	}
}

/* Start the first request of a claimed gitea or api row. */
static void
job_start(struct job *j)
{
	int r;

	j->next = j->ob->jobs;
	j->ob->jobs = j;
	j->ob->nflight++;
	if (j->target == T_GITEA && j->labels != NULL) {
		if (j->repo_path == NULL) {
			job_end(j, OUT_FAILED, 0, "labels without repo_path");
			return;
		}
		if (parse_label_names(j) == -1) {
			job_end(j, OUT_FAILED, 0, "malformed labels: not an array of names");
			return;
		}
		j->page = 1;
		r = j->nlabels > 0 ? list_labels(j) : next_label_step(j);
	} else {
		if (j->body != NULL && buf_adds(&j->req, j->body) == -1)
			r = -1;
		else
			r = send_main(j);
	}
	if (r == -2)
		job_end(j, OUT_FAILED, 0, "malformed body: not a JSON object");
	else if (r == -1)
		job_end(j, OUT_RETRY, 0, "unable to start the request");
}

/* The runtime target: a card status change in the runtime database. */

static void
runtime_close(struct outbox *ob)
{
	sqlite3_finalize(ob->rt_update);
	sqlite3_finalize(ob->rt_insert);
	sqlite3_finalize(ob->rt_begin);
	sqlite3_finalize(ob->rt_commit);
	sqlite3_finalize(ob->rt_rollback);
	ob->rt_update = ob->rt_insert = ob->rt_begin = ob->rt_commit = ob->rt_rollback = NULL;
	if (ob->rdb != NULL)
		db_close(ob->rdb);
	ob->rdb = NULL;
}

static int
runtime_open(struct outbox *ob, char *err, size_t errlen)
{
	struct db_err e;

	if (ob->rdb != NULL)
		return 0;
	if (db_open_migrated(&ob->rdb, ob->h->cfg.runtime_db, "runtime", &e) == -1) {
		snprintf(err, errlen, "%s", e.msg);
		ob->rdb = NULL;
		return e.code == 100 ? -2 : -1;
	}
	sqlite3_busy_timeout(ob->rdb, OB_RUNTIME_BUSY_MS);
	if (prep(ob->rdb, "UPDATE issues SET status = ?2 WHERE id = ?1", &ob->rt_update) ||
	    prep(ob->rdb, "INSERT INTO card_transactions (card_id, role, action) "
	    "VALUES (?1, 'hookd', ?2)", &ob->rt_insert) ||
	    prep(ob->rdb, "BEGIN IMMEDIATE", &ob->rt_begin) ||
	    prep(ob->rdb, "COMMIT", &ob->rt_commit) ||
	    prep(ob->rdb, "ROLLBACK", &ob->rt_rollback)) {
		snprintf(err, errlen, "unable to prepare: %s", sqlite3_errmsg(ob->rdb));
		runtime_close(ob);
		return -1;
	}
	return 0;
}

static int
transient_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_PROTOCOL:
		return 1;
	}
	return 0;
}

static void
run_runtime(struct outbox *ob, struct job *j)
{
	struct json js;
	char card[256], status[64], action[128], err[DB_ERRLEN + 64];
	int tc, ts, rc, changes = 0, r;

	if (j->body == NULL || json_parse(&js, j->body, strlen(j->body), ob->toks,
	    OB_TOKENS) != JSON_OK || (tc = json_get(&js, 0, "card_id")) == -1 ||
	    (ts = json_get(&js, 0, "status")) == -1 ||
	    json_str(&js, tc, card, sizeof(card), NULL) == -1 ||
	    json_str(&js, ts, status, sizeof(status), NULL) == -1) {
		row_finish(ob, j, OUT_FAILED, 0, "malformed body: card_id and status wanted",
		    NULL, 0);
		return;
	}
	if ((r = runtime_open(ob, err, sizeof(err))) != 0) {
		row_finish(ob, j, r == -2 ? OUT_FAILED : OUT_RETRY, 0, err, NULL, 0);
		return;
	}
	snprintf(action, sizeof(action), "Set Status to '%s'", status);
	if ((rc = step_done(ob->rt_begin)) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(ob->rt_update, 1, card, -1, SQLITE_STATIC);
	sqlite3_bind_text(ob->rt_update, 2, status, -1, SQLITE_STATIC);
	if ((rc = step_done(ob->rt_update)) != SQLITE_OK)
		goto fail;
	/* A card that does not exist gets no history line either. */
	if ((changes = sqlite3_changes(ob->rdb)) > 0) {
		sqlite3_bind_text(ob->rt_insert, 1, card, -1, SQLITE_STATIC);
		sqlite3_bind_text(ob->rt_insert, 2, action, -1, SQLITE_STATIC);
		if ((rc = step_done(ob->rt_insert)) != SQLITE_OK)
			goto fail;
	}
	if ((rc = step_done(ob->rt_commit)) != SQLITE_OK)
		goto fail;
	row_finish(ob, j, OUT_DONE, 0, changes > 0 ? NULL : "no such card", NULL, 0);
	return;
fail:
	snprintf(err, sizeof(err), "runtime database: %s", sqlite3_errstr(rc));
	if (!sqlite3_get_autocommit(ob->rdb))
		step_done(ob->rt_rollback);
	row_finish(ob, j, transient_rc(rc) ? OUT_RETRY : OUT_FAILED, rc, err, NULL, 0);
	/* A broken connection is opened afresh next time. */
	if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN)
		runtime_close(ob);
}

/* The exec target: the sandbox command, then a comment on success. */

/*
 * Percent-encode one path segment: every byte but RFC 3986's unreserved ones. A segment
 * of dots only is encoded too, so that "." or ".." cannot climb out of /repos.
 */
static int
path_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;
	char e[3];
	int dots;

	dots = strspn(s, ".") >= n;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') &&
		    !dots) {
			if (buf_addc(b, (char)c) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		if (buf_add(b, e, 3) == -1)
			return -1;
	}
	return 0;
}

struct execreq {
	char		 repo[512];
	long long	 pr;
	char		 branch[512];
	size_t		 slash;		/* where owner ends in repo */
};

static int
parse_exec(struct outbox *ob, const char *body, struct execreq *x)
{
	struct json js;
	const char *p;
	int t;

	if (body == NULL || json_parse(&js, body, strlen(body), ob->toks, OB_TOKENS) !=
	    JSON_OK || json_type(&js, 0) != JSON_OBJECT)
		return -1;
	if ((t = json_get(&js, 0, "repo")) == -1 ||
	    json_str(&js, t, x->repo, sizeof(x->repo), NULL) == -1)
		return -1;
	if ((t = json_get(&js, 0, "pr")) == -1 || json_int(&js, t, &x->pr) == -1 || x->pr < 0)
		return -1;
	if ((t = json_get(&js, 0, "branch")) == -1 || json_is_null(&js, t))
		x->branch[0] = '\0';
	else if (json_str(&js, t, x->branch, sizeof(x->branch), NULL) == -1)
		return -1;
	if ((p = strchr(x->repo, '/')) == NULL || p == x->repo || p[1] == '\0' ||
	    strchr(p + 1, '/') != NULL)
		return -1;
	x->slash = (size_t)(p - x->repo);
	return 0;
}

static void
event_sandbox(struct outbox *ob, const struct execreq *x, int ok, int status,
    int timed_out, const char *error)
{
	struct jw w;

	buf_reset(&ob->ev);
	jw_init(&w, &ob->ev);
	jw_obj_open(&w);
	jw_key(&w, "repo");
	jw_str(&w, x->repo);
	jw_key(&w, "pr");
	jw_int(&w, x->pr);
	jw_key(&w, "status");
	jw_int(&w, status);
	if (!ok) {
		jw_key(&w, "timed_out");
		jw_bool(&w, timed_out);
		jw_key(&w, "error");
		jw_str(&w, error);
	}
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		hookd_event(ob->h, ok ? "sandbox_deployed" : "sandbox_deployment_failed",
		    ob->ev.p);
}

/* The comment row for a deployed sandbox: its path and its body. */
static int
comment_row(const struct execreq *x, const char *out, size_t outlen, struct buf *path,
    struct buf *body)
{
	struct buf text = BUF_INIT(OB_COMMENT_OUT + 1024);
	size_t n, run = 0, maxrun = 0, i;
	struct jw w;
	int fence, r = -1;

	if (buf_adds(path, "/repos/") == -1 || path_escape(path, x->repo, x->slash) == -1 ||
	    buf_addc(path, '/') == -1 ||
	    path_escape(path, x->repo + x->slash + 1, strlen(x->repo + x->slash + 1)) == -1 ||
	    buf_addf(path, "/issues/%lld/comments", x->pr) == -1)
		goto out;
	n = utf8_cut(out ? out : "", outlen, OB_COMMENT_OUT);
	/* A fence longer than any run of backticks in the output cannot be closed by it. */
	for (i = 0; i < n; i++) {
		run = out[i] == '`' ? run + 1 : 0;
		if (run > maxrun)
			maxrun = run;
	}
	fence = maxrun >= 3 ? (int)maxrun + 1 : 3;
	if (buf_adds(&text, "\xf0\x9f\x9a\x80 **Sandbox Deployed Successfully**\n\n") == -1 ||
	    buf_addf(&text, "%.*s\n", fence, "````````````````````````````````") == -1 ||
	    (n > 0 && buf_add(&text, out, n) == -1) ||
	    (n > 0 && out[n - 1] != '\n' && buf_addc(&text, '\n') == -1) ||
	    buf_addf(&text, "%.*s\n", fence, "````````````````````````````````") == -1)
		goto out;
	if (n < outlen && buf_adds(&text, "\n(output truncated)\n") == -1)
		goto out;
	jw_init(&w, body);
	jw_obj_open(&w);
	jw_key(&w, "body");
	jw_strn(&w, text.p, text.len);
	jw_obj_close(&w);
	r = jw_finish(&w);
out:
	buf_free(&text);
	return r;
}

static void
exec_done_locked(struct hookd *h, void *arg, int status, int timed_out, const char *out,
    size_t outlen)
{
	struct outbox *ob = h->outbox;
	struct buf path = BUF_INIT(HOOKD_URL_MAX), body = BUF_INIT(64 * 1024);
	struct execreq x;
	struct job *j;
	char err[256];
	int began, ok, rc;

	if (ob == NULL || (j = ob->exec) == NULL)
		return;
	ob->exec = NULL;
	if (parse_exec(ob, j->body, &x) == -1) {
		/* It parsed before the start: only memory could fail it. */
		row_finish(ob, j, OUT_FAILED, status, "malformed body", out, outlen);
		goto done;
	}
	if (status != 0 || timed_out) {
		if (timed_out)
			snprintf(err, sizeof(err), "timed out after %d ms",
			    h->cfg.sandbox_timeout_ms);
		else if (status < 0)
			snprintf(err, sizeof(err), "killed by signal %d", -status);
		else
			snprintf(err, sizeof(err), "exit status %d", status);
		event_sandbox(ob, &x, 0, status, timed_out, err);
		row_finish(ob, j, OUT_FAILED, status, err, out, outlen);
		goto done;
	}
	if (comment_row(&x, out, outlen, &path, &body) == -1) {
		event_sandbox(ob, &x, 0, status, 0, "unable to build the comment");
		row_finish(ob, j, OUT_FAILED, status, "unable to build the comment", out,
		    outlen);
		goto done;
	}
	/* The comment row and the done state go together: both, or a re-run. */
	began = tx_begin(ob);
	ok = began >= 0;
	if (ok) {
		if (j->has_event)
			sqlite3_bind_int64(ob->st_insert, 1, j->event_id);
		else
			sqlite3_bind_null(ob->st_insert, 1);
		bind_text(ob->st_insert, 2, j->pr_key, j->pr_key ? strlen(j->pr_key) : 0);
		bind_text(ob->st_insert, 3, path.p, path.len);
		bind_text(ob->st_insert, 4, body.p, body.len);
		if ((rc = step_done(ob->st_insert)) != SQLITE_OK) {
			log_warn("unable to queue the sandbox comment: %s", sqlite3_errstr(rc));
			ok = 0;
		}
	}
	event_sandbox(ob, &x, 1, status, 0, NULL);
	if (ok)
		row_finish(ob, j, OUT_DONE, status, NULL, out, outlen);
	else
		row_finish(ob, j, OUT_FAILED, status, "unable to queue the comment", out,
		    outlen);
	tx_end(ob, began, ok);
done:
	buf_free(&path);
	buf_free(&body);
	job_free(j);
	pump(ob);
}

/* The sandbox's end, from the loop: under the database lock, like every entry point. */
static void
exec_done(struct hookd *h, void *arg, int status, int timed_out, const char *out,
    size_t outlen)
{
	hookd_db_lock(h);
	exec_done_locked(h, arg, status, timed_out, out, outlen);
	hookd_db_unlock(h);
}

static void
run_exec(struct outbox *ob, struct job *j)
{
	struct execreq x;
	char err[256];

	if (parse_exec(ob, j->body, &x) == -1) {
		row_finish(ob, j, OUT_FAILED, 0,
		    "malformed body: repo owner/name, pr and branch wanted", NULL, 0);
		job_free(j);
		ob->again = 1;
		return;
	}
	if (ob->h->cfg.sandbox_argc == 0) {
		row_finish(ob, j, OUT_FAILED, 0, "ORKET_SANDBOX_COMMAND is not set", NULL, 0);
		job_free(j);
		ob->again = 1;
		return;
	}
	ob->exec = j;
	if (sandbox_start(ob->h, x.repo, (long)x.pr, x.branch, exec_done, NULL) == -1) {
		ob->exec = NULL;
		snprintf(err, sizeof(err), "unable to start the sandbox command: %s",
		    strerror(errno));
		event_sandbox(ob, &x, 0, -1, 0, err);
		row_finish(ob, j, OUT_FAILED, -1, err, NULL, 0);
		job_free(j);
		ob->again = 1;
	}
}

/* Scheduling. */

static void
warn_disabled(struct outbox *ob)
{
	const struct hookd_config *c = &ob->h->cfg;

	if (!HOOKD_GITEA_ENABLED(c) && !ob->gitea_warned) {
		log_warn("no GITEA_ADMIN_PASSWORD or GITEA_TOKEN: Gitea calls stay queued");
		ob->gitea_warned = 1;
	} else if (HOOKD_GITEA_ENABLED(c))
		ob->gitea_warned = 0;
	if (!api_enabled(c) && !ob->api_warned) {
		log_warn("no ORKET_API_URL: run requests stay queued");
		ob->api_warned = 1;
	} else if (api_enabled(c))
		ob->api_warned = 0;
}

/*
 * One pass: read due rows, claim those that can start, start them. It returns 1 when
 * another pass may find more: the batch was full, or a row finished right here and may
 * have been holding back the next row of its pr_key.
 */
static int
pump_once(struct outbox *ob)
{
	const struct hookd_config *c = &ob->h->cfg;
	struct job *batch[OB_BATCH], *j;
	sqlite3_stmt *st = ob->st_due;
	int n = 0, i, rc = SQLITE_DONE, slots, began, more, sbfree, nclaim = 0;

	slots = (c->outbox_parallel > 0 ? c->outbox_parallel : 1) - ob->nflight;
	sbfree = ob->exec == NULL;
	ob->pump_now = now_real_ms();
	sqlite3_bind_int64(st, 1, ob->pump_now);
	sqlite3_bind_int(st, 2, HOOKD_GITEA_ENABLED(c) ? 1 : 0);
	sqlite3_bind_int(st, 3, api_enabled(c));
	sqlite3_bind_int(st, 4, slots > 0);
	sqlite3_bind_int(st, 5, sbfree);
	sqlite3_bind_int(st, 6, OB_BATCH);
	while (n < OB_BATCH && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((j = job_from_row(ob, st)) != NULL)
			batch[n++] = j;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_warn("unable to read the outbox: %s", sqlite3_errmsg(ob->h->db));
	sqlite3_reset(st);
	more = n == OB_BATCH;

	/* What can start now; the rest waits for a free slot (a completion pumps again). */
	for (i = 0; i < n; i++) {
		j = batch[i];
		if ((j->target == T_GITEA || j->target == T_API) && slots > 0) {
			slots--;
			nclaim++;
		} else if (j->target == T_EXEC && sbfree) {
			sbfree = 0;
			nclaim++;
		} else if (j->target == T_GITEA || j->target == T_API || j->target == T_EXEC) {
			job_free(j);
			batch[i] = NULL;
			more = 0;
		} else if (j->pr_key != NULL)
			more = 1;
	}
	/* Claimed rows are 'running' before their call starts; one transaction for all. */
	if (nclaim > 0) {
		began = tx_begin(ob);
		for (i = 0; i < n; i++) {
			if ((j = batch[i]) == NULL || (j->target != T_GITEA &&
			    j->target != T_API && j->target != T_EXEC))
				continue;
			sqlite3_bind_int64(ob->st_claim, 1, j->id);
			if (began == -1 || (rc = step_done(ob->st_claim)) != SQLITE_OK ||
			    sqlite3_changes(ob->h->db) != 1) {
				log_warn("unable to claim outbox row: %s id=%lld",
				    sqlite3_errmsg(ob->h->db), (long long)j->id);
				sqlite3_clear_bindings(ob->st_claim);
				job_free(j);
				batch[i] = NULL;
				more = 0;
			}
		}
		tx_end(ob, began, 1);
	}

	for (i = 0; i < n; i++) {
		if ((j = batch[i]) == NULL)
			continue;
		switch (j->target) {
		case T_GITEA:
		case T_API:
			job_start(j);
			break;
		case T_EXEC:
			run_exec(ob, j);
			break;
		case T_RUNTIME:
			run_runtime(ob, j);
			job_free(j);
			break;
		default:
			row_finish(ob, j, OUT_FAILED, 0, "unknown target", NULL, 0);
			job_free(j);
			break;
		}
	}
	return more;
}

/* Passes per pump: a row whose state cannot be written must not hold the loop here. */
#define OB_PASSES	16

static void
pump(struct outbox *ob)
{
	int pass = 0;

	if (ob->idle)
		return;
	if (ob->pumping) {
		ob->again = 1;
		return;
	}
	ob->pumping = 1;
	do {
		ob->again = 0;
		if (pump_once(ob))
			ob->again = 1;
	} while (ob->again && !ob->idle && ++pass < OB_PASSES);
	ob->pumping = 0;
	/* Cut short: come back soon rather than wait for the next event. */
	if (ob->again)
		due_arm(ob, now_real_ms() + 100);
}

/* The interface. */

int
outbox_init(struct hookd *h)
{
	struct outbox *ob;
	sqlite3 *db = h->db;
	int rc;

	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return -1;
	ob->h = h;
	buf_init(&ob->ev, OB_EVENT_MAX);
	buf_init(&ob->url, HOOKD_URL_MAX + 4096);
	loop_timer_init(&ob->curl_timer, on_curl_timer, ob);
	loop_timer_init(&ob->due_timer, due_fire, ob);
	h->outbox = ob;
	if ((ob->toks = calloc(OB_TOKENS, sizeof(*ob->toks))) == NULL)
		goto fail;
	if (prep(db, SQL_RESET, &ob->st_reset) || prep(db, SQL_DUE, &ob->st_due) ||
	    prep(db, SQL_NEXT, &ob->st_next) || prep(db, SQL_CLAIM, &ob->st_claim) ||
	    prep(db, SQL_FINISH, &ob->st_finish) || prep(db, SQL_REQUEUE, &ob->st_requeue) ||
	    prep(db, SQL_DEPTH, &ob->st_depth) || prep(db, SQL_INSERT, &ob->st_insert) ||
	    prep(db, "BEGIN IMMEDIATE", &ob->st_begin) || prep(db, "COMMIT", &ob->st_commit) ||
	    prep(db, "ROLLBACK", &ob->st_rollback)) {
		errno = EINVAL;
		goto fail;
	}
	/* Rows left running were interrupted by a crash or a stop: they go again. */
	if ((rc = step_done(ob->st_reset)) != SQLITE_OK) {
		log_warn("unable to reset interrupted outbox rows: %s", sqlite3_errstr(rc));
		errno = EIO;
		goto fail;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warn("unable to initialise libcurl");
		errno = ENOMEM;
		goto fail;
	}
	if ((ob->multi = curl_multi_init()) == NULL) {
		curl_global_cleanup();
		errno = ENOMEM;
		goto fail;
	}
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ob->multi, CURLMOPT_SOCKETDATA, ob);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(ob->multi, CURLMOPT_TIMERDATA, ob);
	warn_disabled(ob);
	/* The first pass runs in the first turn, once the daemon is up. */
	due_arm(ob, 0);
	return 0;
fail:
	outbox_free(h);
	return -1;
}

/*
 * The entry points from the loop hold the database lock (hookd_db_lock): the committer
 * thread may be in a group commit on the same connection.
 */
void
outbox_kick(struct hookd *h)
{
	if (h->outbox == NULL)
		return;
	hookd_db_lock(h);
	pump(h->outbox);
	hookd_db_unlock(h);
}

void
outbox_reload(struct hookd *h)
{
	struct outbox *ob = h->outbox;

	if (ob == NULL)
		return;
	hookd_db_lock(h);
	warn_disabled(ob);
	/* ORKET_RUNTIME_DB may have changed: open it afresh when next needed. */
	runtime_close(ob);
	pump(ob);
	due_rearm(ob);
	hookd_db_unlock(h);
}

long
outbox_depth(struct hookd *h)
{
	struct outbox *ob = h->outbox;
	long n = -1;

	if (ob == NULL)
		return -1;
	hookd_db_lock(h);
	if (sqlite3_step(ob->st_depth) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(ob->st_depth, 0);
	sqlite3_reset(ob->st_depth);
	hookd_db_unlock(h);
	return n;
}

int
outbox_idle(struct hookd *h)
{
	struct outbox *ob = h->outbox;

	if (ob == NULL)
		return 1;
	ob->idle = 1;
	loop_timer_stop(&h->loop, &ob->due_timer);
	ob->due_at = 0;
	return ob->nflight == 0;
}

void
outbox_free(struct hookd *h)
{
	struct outbox *ob = h->outbox;
	struct job *j;
	size_t fd;

	if (ob == NULL)
		return;
	/* Interrupted rows stay 'running' and are sent again at the next start. */
	while ((j = ob->jobs) != NULL) {
		ob->jobs = j->next;
		job_free(j);
	}
	ob->nflight = 0;
	job_free(ob->exec);
	ob->exec = NULL;
	if (ob->multi != NULL) {
		curl_multi_cleanup(ob->multi);
		curl_global_cleanup();
	}
	/* Connections curl closed without telling us must not stay in the loop. */
	for (fd = 0; fd < h->loop.nio; fd++)
		if (h->loop.io[fd].used && h->loop.io[fd].cb == on_sock_event &&
		    h->loop.io[fd].arg == ob)
			loop_del(&h->loop, (int)fd);
	loop_timer_stop(&h->loop, &ob->curl_timer);
	loop_timer_stop(&h->loop, &ob->due_timer);
	sqlite3_finalize(ob->st_reset);
	sqlite3_finalize(ob->st_due);
	sqlite3_finalize(ob->st_next);
	sqlite3_finalize(ob->st_claim);
	sqlite3_finalize(ob->st_finish);
	sqlite3_finalize(ob->st_requeue);
	sqlite3_finalize(ob->st_depth);
	sqlite3_finalize(ob->st_insert);
	sqlite3_finalize(ob->st_begin);
	sqlite3_finalize(ob->st_commit);
	sqlite3_finalize(ob->st_rollback);
	runtime_close(ob);
	free(ob->toks);
	buf_free(&ob->ev);
	buf_free(&ob->url);
	free(ob);
	h->outbox = NULL;
}
