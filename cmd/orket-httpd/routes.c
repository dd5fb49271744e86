/* See LICENSE. orket-httpd: the routes answered from memory and the runtime database. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"

#define SESSION_COLS \
    "id, type, name, department, status, task_input, transcript, start_time, end_time"
static const char *const session_keys[] = {
	"id", "type", "name", "department", "status", "task_input", "transcript",
	"start_time", "end_time"
};

/* An event whose data is {"session_id": id}: the api_* events of the original. */
static void
emit_session(struct httpd *h, const char *event, const char *id)
{
	struct buf b = BUF_INIT(1024);
	struct jw w;

	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "session_id");
	jw_str(&w, id);
	jw_obj_close(&w);
	httpd_emit(h, "system", event, jw_finish(&w) == 0 ? b.p : NULL);
	buf_free(&b);
}

static void
db_failed(struct httpd *h, struct http_request *req, const char *what)
{
	h->m.db_failures++;
	log_warn("unable to %s: %s", what, sqlite3_errmsg(h->db));
	httpd_detail(h, req, 500, "Database error");
}

void
route_health(struct httpd *h, struct http_request *req)
{
	static const char body[] = "{\"status\":\"ok\",\"organization\":\"Orket\"}";

	httpd_reply(h, req, 200, "application/json", body, sizeof(body) - 1, NULL);
}

void
route_version(struct httpd *h, struct http_request *req)
{
	static const char body[] = "{\"version\":\"" ORKET_VERSION "\",\"api\":\"v1\"}";

	httpd_reply(h, req, 200, "application/json", body, sizeof(body) - 1, NULL);
}

void
route_heartbeat(struct httpd *h, struct http_request *req)
{
	char ts[64], body[160];
	int n;

	iso_now(ts, sizeof(ts));
	n = snprintf(body, sizeof(body), "{\"status\":\"online\",\"timestamp\":\"%s\","
	    "\"active_tasks\":%d}", ts, h->nruns);
	httpd_reply(h, req, 200, "application/json", body, (size_t)n, NULL);
}

/* ------------------------------------------------------------------------------------ */

/*
 * Host CPU as psutil counts it: busy = all - idle - iowait, where all leaves out guest
 * time (already in user). Returns 0, or -1 when /proc/stat cannot be read.
 */
static int
cpu_sample(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[10] = { 0 };
	char line[512];
	FILE *f;
	int n;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	n = sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	if (n < 4)
		return -1;
	*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	*busy = *total - v[3] - v[4];
	return 0;
}

/* The first sample is taken at start, so the first answer is not the original's 0.0. */
void
sysmetrics_init(struct httpd *h)
{
	if (cpu_sample(&h->cpu_busy, &h->cpu_total) == -1)
		h->cpu_busy = h->cpu_total = 0;
}

/* A percentage with one decimal, as psutil rounds them (no libm: the glibc build lacks it). */
static double
round1(double x)
{
	return (double)(long long)(x * 10.0 + 0.5) / 10.0;
}

static double
ram_percent(void)
{
	unsigned long long total = 0, avail = 0, v;
	char line[256], key[64];
	FILE *f;

	if ((f = fopen("/proc/meminfo", "re")) == NULL)
		return 0.0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63[^:]: %llu", key, &v) != 2)
			continue;
		if (strcmp(key, "MemTotal") == 0)
			total = v;
		else if (strcmp(key, "MemAvailable") == 0)
			avail = v;
	}
	fclose(f);
	if (total == 0 || avail > total)
		return 0.0;
	return round1((double)(total - avail) * 100.0 / (double)total);
}

/*
 * GET /v1/system/metrics. VRAM is 0.0: the original asked nvidia-smi, blocking its loop
 * for each refresh; there is no GPU tool in our image, and a blocking child has no place
 * in this loop.
 */
void
route_sysmetrics(struct httpd *h, struct http_request *req)
{
	struct buf b = BUF_INIT(4096);
	uint64_t busy, total;
	double cpu = 0.0, ram = ram_percent();
	char ts[64];
	struct jw w;

	if (cpu_sample(&busy, &total) == 0) {
		if (total > h->cpu_total && busy >= h->cpu_busy)
			cpu = round1((double)(busy - h->cpu_busy) * 100.0 /
			    (double)(total - h->cpu_total));
		if (cpu > 100.0)
			cpu = 100.0;
		h->cpu_busy = busy;
		h->cpu_total = total;
	}
	iso_now(ts, sizeof(ts));
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "cpu_percent");
	jw_float(&w, cpu);
	jw_key(&w, "ram_percent");
	jw_float(&w, ram);
	jw_key(&w, "vram_gb_used");
	jw_float(&w, 0.0);
	jw_key(&w, "vram_total_gb");
	jw_float(&w, 0.0);
	jw_key(&w, "timestamp");
	jw_str(&w, ts);
	jw_key(&w, "cpu");
	jw_float(&w, cpu);
	jw_key(&w, "memory");
	jw_float(&w, ram);
	jw_obj_close(&w);
	jw_finish(&w);
	httpd_json(h, req, 200, &b);
	buf_free(&b);
}

/* ------------------------------------------------------------------------------------ */

static long long
floordiv(long long a, long long b)
{
	long long q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * The "EOS sprint" of a moment: week w counted from Monday 2026-02-02 (floored, also
 * before it), n = 6 + w, quarter 1 + floor((n-1)/13), sprint ((n-1) mod 13) + 1; the
 * sprint runs from the Monday to the Friday of the current UTC week.
 */
int
calendar_at(time_t now, char *sprint, size_t slen, char *start, char *end)
{
	const long long ref = 1769990400;	/* 2026-02-02T00:00:00Z */
	long long days, w, n, q, s, today, monday;
	time_t t;
	struct tm tm;

	days = floordiv((long long)now - ref, 86400);
	w = floordiv(days, 7);
	n = 6 + w;
	q = 1 + floordiv(n - 1, 13);
	s = (n - 1) - 13 * floordiv(n - 1, 13) + 1;
	snprintf(sprint, slen, "Q%lld S%lld", q, s);
	/* 1970-01-01 was a Thursday: its weekday, Monday 0, is 3. */
	today = floordiv((long long)now, 86400);
	monday = today - ((today + 3) % 7 + 7) % 7;
	t = (time_t)(monday * 86400);
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	strftime(start, 11, "%Y-%m-%d", &tm);
	t = (time_t)((monday + 4) * 86400);
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	strftime(end, 11, "%Y-%m-%d", &tm);
	return 0;
}

void
route_calendar(struct httpd *h, struct http_request *req)
{
	char sprint[64], start[16], end[16], body[160];
	int n;

	if (calendar_at(time(NULL), sprint, sizeof(sprint), start, end) == -1) {
		httpd_detail(h, req, 500, "Clock out of range");
		return;
	}
	n = snprintf(body, sizeof(body), "{\"current_sprint\":\"%s\",\"sprint_start\":\"%s\","
	    "\"sprint_end\":\"%s\"}", sprint, start, end);
	httpd_reply(h, req, 200, "application/json", body, (size_t)n, NULL);
}

/* ------------------------------------------------------------------------------------ */

static void
session_row(struct jw *w, sqlite3_stmt *st)
{
	int i;

	jw_obj_open(w);
	for (i = 0; i < 9; i++) {
		jw_key(w, session_keys[i]);
		jw_column(w, st, i);
	}
	jw_obj_close(w);
}

/* GET /v1/runs: the ten newest sessions, transcript as its raw text. */
void
route_runs(struct httpd *h, struct http_request *req)
{
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	sqlite3_stmt *st;
	struct jw w;
	int rc;

	if ((st = httpd_stmt(h, ST_RUNS_LIST, "SELECT " SESSION_COLS " FROM sessions "
	    "ORDER BY start_time DESC LIMIT 10")) == NULL) {
		db_failed(h, req, "list sessions");
		return;
	}
	jw_init(&w, &b);
	jw_arr_open(&w);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		session_row(&w, st);
	jw_arr_close(&w);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_failed(h, req, "list sessions");
	} else if (jw_finish(&w) == -1)
		httpd_detail(h, req, 500, "Response too large");
	else
		httpd_json(h, req, 200, &b);
	buf_free(&b);
}

void
route_session(struct httpd *h, struct http_request *req, const char *id)
{
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	sqlite3_stmt *st;
	struct jw w;
	int rc;

	emit_session(h, "api_session_detail", id);
	if ((st = httpd_stmt(h, ST_SESSION_GET, "SELECT " SESSION_COLS " FROM sessions "
	    "WHERE id = ?1")) == NULL) {
		db_failed(h, req, "read a session");
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		jw_init(&w, &b);
		session_row(&w, st);
		if (jw_finish(&w) == 0)
			httpd_json(h, req, 200, &b);
		else
			httpd_detail(h, req, 500, "Response too large");
	} else if (rc == SQLITE_DONE)
		httpd_detail(h, req, 404, "Not Found");
	else
		db_failed(h, req, "read a session");
	sqlite3_reset(st);
	buf_free(&b);
}

void
route_snapshot(struct httpd *h, struct http_request *req, const char *id)
{
	static const char *const keys[] = { "session_id", "config_json", "log_history",
		"captured_at" };
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	sqlite3_stmt *st;
	struct jw w;
	int rc, i;

	emit_session(h, "api_session_snapshot", id);
	if ((st = httpd_stmt(h, ST_SNAPSHOT_GET, "SELECT session_id, config_json, log_history, "
	    "captured_at FROM session_snapshots WHERE session_id = ?1")) == NULL) {
		db_failed(h, req, "read a snapshot");
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		jw_init(&w, &b);
		jw_obj_open(&w);
		for (i = 0; i < 4; i++) {
			jw_key(&w, keys[i]);
			jw_column(&w, st, i);
		}
		jw_obj_close(&w);
		if (jw_finish(&w) == 0)
			httpd_json(h, req, 200, &b);
		else
			httpd_detail(h, req, 500, "Response too large");
	} else if (rc == SQLITE_DONE)
		httpd_detail(h, req, 404, "Not Found");
	else
		db_failed(h, req, "read a snapshot");
	sqlite3_reset(st);
	buf_free(&b);
}

/*
 * GET /v1/runs/{id}/backlog: the session's cards, oldest first, every column as stored
 * (in the table's own column order, as the original's SELECT *) plus "verification" and
 * "metrics" parsed from their *_json columns ({} when empty or not JSON).
 */
void
route_backlog(struct httpd *h, struct http_request *req, const char *id)
{
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	sqlite3_stmt *st;
	const char *name, *v, *m;
	struct jw w;
	int rc, i, n, vi, mi;

	emit_session(h, "api_backlog", id);
	if ((st = httpd_stmt(h, ST_BACKLOG, "SELECT * FROM issues WHERE session_id = ?1 "
	    "ORDER BY created_at, rowid")) == NULL) {
		db_failed(h, req, "read the backlog");
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	jw_init(&w, &b);
	jw_arr_open(&w);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_count(st);
		vi = mi = -1;
		jw_obj_open(&w);
		for (i = 0; i < n; i++) {
			name = sqlite3_column_name(st, i);
			if (strcmp(name, "verification_json") == 0)
				vi = i;
			else if (strcmp(name, "metrics_json") == 0)
				mi = i;
			jw_key(&w, name);
			jw_column(&w, st, i);
		}
		v = vi >= 0 ? (const char *)sqlite3_column_text(st, vi) : NULL;
		jw_key(&w, "verification");
		jw_json_text(&w, v, v ? (size_t)sqlite3_column_bytes(st, vi) : 0, "{}");
		m = mi >= 0 ? (const char *)sqlite3_column_text(st, mi) : NULL;
		jw_key(&w, "metrics");
		jw_json_text(&w, m, m ? (size_t)sqlite3_column_bytes(st, mi) : 0, "{}");
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		db_failed(h, req, "read the backlog");
	else if (jw_finish(&w) == -1)
		httpd_detail(h, req, 500, "Response too large");
	else
		httpd_json(h, req, 200, &b);
	buf_free(&b);
}

/* ------------------------------------------------------------------------------------ */

#define ROLES_MAX	256

struct role_stats {
	char		*role;
	long long	 tokens;
	long long	 lines;
	char		*last_action;
	char		*detail;
};

struct agg {
	struct role_stats r[ROLES_MAX];
	int		 n;
};

static struct role_stats *
agg_role(struct agg *a, const char *role)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->r[i].role, role) == 0)
			return &a->r[i];
	if (a->n == ROLES_MAX || (a->r[a->n].role = strdup(role)) == NULL)
		return NULL;
	return &a->r[a->n++];
}

static void
set_text(char **dst, const char *prefix, const char *s)
{
	size_t n = strlen(prefix) + strlen(s) + 1;
	char *p;

	if ((p = malloc(n)) == NULL)
		return;
	snprintf(p, n, "%s%s", prefix, s);
	free(*dst);
	*dst = p;
}

/* Lines as Python's splitlines counts them for "\n": a last line without one counts. */
static long long
count_lines(const char *s, size_t n)
{
	long long c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\n')
			c++;
	if (n > 0 && s[n - 1] != '\n')
		c++;
	return c;
}

/*
 * One event record {"role","event","data"} (token t of j) into the per-role stats:
 * model_usage adds total_tokens; tool_call sets the last action and, for write_file,
 * adds the lines written and the detail; auto_persist sets the detail.
 */
static void
agg_event(struct agg *a, const struct json *j, int t)
{
	char role[HTTPD_EVENT_NAME_MAX + 1] = "system", *s;
	struct role_stats *r;
	long long n;
	size_t len;
	int ev, data, x;

	if (json_type(j, t) != JSON_OBJECT || (ev = json_get(j, t, "event")) < 0 ||
	    json_type(j, ev) != JSON_STRING)
		return;
	data = json_get(j, t, "data");
	if ((x = json_get(j, t, "role")) >= 0 && json_type(j, x) == JSON_STRING &&
	    json_str(j, x, role, sizeof(role), NULL) == -1)
		return;
	if (json_streq(j, ev, "model_usage")) {
		if ((r = agg_role(a, role)) == NULL)
			return;
		if ((x = json_get(j, data, "total_tokens")) >= 0 && json_int(j, x, &n) == 0)
			r->tokens += n;
	} else if (json_streq(j, ev, "tool_call")) {
		if ((r = agg_role(a, role)) == NULL)
			return;
		x = json_get(j, data, "tool");
		if (x < 0 || json_type(j, x) != JSON_STRING || (s = json_strdup(j, x)) == NULL)
			return;
		set_text(&r->last_action, "Executing ", s);
		if (strcmp(s, "write_file") == 0) {
			free(s);
			if ((x = json_path(j, data, "args.content")) >= 0 &&
			    json_type(j, x) == JSON_STRING &&
			    (s = json_strdup(j, x)) != NULL) {
				len = strlen(s);
				r->lines += count_lines(s, len);
				free(s);
			}
			if ((x = json_path(j, data, "args.path")) >= 0 &&
			    json_type(j, x) == JSON_STRING &&
			    (s = json_strdup(j, x)) != NULL) {
				set_text(&r->detail, "Wrote ", s);
				free(s);
			}
		} else
			free(s);
	} else if (json_streq(j, ev, "auto_persist")) {
		if ((r = agg_role(a, role)) == NULL)
			return;
		if ((x = json_get(j, data, "path")) >= 0 && json_type(j, x) == JSON_STRING &&
		    (s = json_strdup(j, x)) != NULL) {
			set_text(&r->detail, "Persisted ", s);
			free(s);
		}
	}
}

/* A JSON array of records (a transcript), or JSON lines (a log file). */
static int
agg_text(struct agg *a, const char *s, size_t n, int lines)
{
	struct json j;
	jsmntok_t *toks;
	size_t nt, ln;
	const char *p, *e;
	int t, i, k;

	nt = JSON_TOKS_MAX(lines ? (n < HTTPD_RUNNER_LINE_MAX ? n : HTTPD_RUNNER_LINE_MAX) : n);
	if (nt > (1u << 20))
		nt = 1u << 20;
	if ((toks = malloc(nt * sizeof(*toks))) == NULL)
		return -1;
	if (!lines) {
		if (json_parse(&j, s, n, toks, (unsigned)nt) == JSON_OK &&
		    json_type(&j, 0) == JSON_ARRAY)
			for (i = 0, t = 1, k = json_size(&j, 0); i < k; i++, t = json_next(&j, t))
				agg_event(a, &j, t);
		free(toks);
		return 0;
	}
	/* Lines that are not JSON are skipped, as the original does. */
	for (p = s; p < s + n; p = e + 1) {
		e = memchr(p, '\n', (size_t)(s + n - p));
		if (e == NULL)
			e = s + n;
		ln = (size_t)(e - p);
		if (ln > 0 && ln <= HTTPD_RUNNER_LINE_MAX &&
		    json_parse(&j, p, ln, toks, (unsigned)nt) == JSON_OK)
			agg_event(a, &j, 0);
	}
	free(toks);
	return 0;
}


/*
 * GET /v1/runs/{id}/metrics: the per-role aggregation the original computed and then
 * dropped (it answered null). The source is the session's transcript (the events its
 * runner wrote); a session without one falls back to runs/ID/orket.log in the workspace;
 * with neither the answer is {}.
 */
void
route_run_metrics(struct httpd *h, struct http_request *req, const char *id)
{
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX), f = BUF_INIT(HTTPD_FILE_MAX);
	struct agg *a;
	sqlite3_stmt *st;
	const char *tx = NULL;
	char rel[HTTPD_ID_MAX + 32];
	struct jw w;
	int rc, i, done = 0;

	emit_session(h, "api_run_metrics", id);
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		httpd_detail_hdr(h, req, 503, "Out of memory", "Retry-After: 1\r\n");
		return;
	}
	if ((st = httpd_stmt(h, ST_TRANSCRIPT_GET, "SELECT transcript FROM sessions "
	    "WHERE id = ?1")) == NULL) {
		free(a);
		db_failed(h, req, "read a transcript");
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (tx = (const char *)sqlite3_column_text(st, 0)) != NULL) {
		agg_text(a, tx, (size_t)sqlite3_column_bytes(st, 0), 0);
		done = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(a);
		db_failed(h, req, "read a transcript");
		return;
	}
	/* Only a plain name can be a folder of its own: never "..", never a dot-file. */
	if (!done && id[0] != '.' && strchr(id, '/') == NULL && strlen(id) <= HTTPD_ID_MAX) {
		snprintf(rel, sizeof(rel), "runs/%s/orket.log", id);
		if (files_slurp(h, rel, &f) == 0)
			agg_text(a, f.p ? f.p : "", f.len, 1);
	}
	jw_init(&w, &b);
	jw_obj_open(&w);
	for (i = 0; i < a->n; i++) {
		jw_key(&w, a->r[i].role);
		jw_obj_open(&w);
		jw_key(&w, "tokens");
		jw_int(&w, a->r[i].tokens);
		jw_key(&w, "lines_written");
		jw_int(&w, a->r[i].lines);
		jw_key(&w, "last_action");
		jw_str(&w, a->r[i].last_action ? a->r[i].last_action : "Idle");
		jw_key(&w, "detail");
		jw_str(&w, a->r[i].detail ? a->r[i].detail : "");
		jw_obj_close(&w);
		free(a->r[i].role);
		free(a->r[i].last_action);
		free(a->r[i].detail);
	}
	jw_obj_close(&w);
	free(a);
	if (jw_finish(&w) == 0)
		httpd_json(h, req, 200, &b);
	else
		httpd_detail(h, req, 500, "Response too large");
	buf_free(&b);
	buf_free(&f);
}

/* ------------------------------------------------------------------------------------ */

/* A set of strings (card ids), open addressing; each id counted once per request. */
struct strset {
	char	**slot;
	size_t	 cap, n;
};

static uint64_t
fnv(const char *s)
{
	uint64_t x = 1469598103934665603ULL;

	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ULL;
	return x;
}

/* 1 added, 0 there already, -1 out of memory. */
static int
strset_add(struct strset *s, const char *v)
{
	char **old;
	size_t i, oldcap;

	if (s->n * 2 >= s->cap) {
		old = s->slot;
		oldcap = s->cap;
		s->cap = oldcap ? oldcap * 2 : 64;
		if ((s->slot = calloc(s->cap, sizeof(*s->slot))) == NULL) {
			s->slot = old;
			s->cap = oldcap;
			return -1;
		}
		for (i = 0; i < oldcap; i++) {
			size_t k;

			if (old[i] == NULL)
				continue;
			for (k = fnv(old[i]) & (s->cap - 1); s->slot[k]; k = (k + 1) & (s->cap - 1))
				;
			s->slot[k] = old[i];
		}
		free(old);
	}
	for (i = fnv(v) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (strcmp(s->slot[i], v) == 0)
			return 0;
	if ((s->slot[i] = strdup(v)) == NULL)
		return -1;
	s->n++;
	return 1;
}

static void
strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The set's members, sorted (byte order is Python's code point order), as a JSON array. */
static void
strset_json(struct jw *w, const struct strset *s)
{
	char **v;
	size_t i, n = 0;

	jw_arr_open(w);
	if (s->n && (v = malloc(s->n * sizeof(*v))) != NULL) {
		for (i = 0; i < s->cap; i++)
			if (s->slot[i])
				v[n++] = s->slot[i];
		qsort(v, n, sizeof(*v), cmpstr);
		for (i = 0; i < n; i++)
			jw_str(w, v[i]);
		free(v);
	}
	jw_arr_close(w);
}

/* An optional list of strings: its token, -1 absent or null, -2 wrong (errors added). */
static int
opt_strlist(const struct json *j, const char *key, struct verr *v)
{
	const char *raw;
	char *s;
	size_t rl;
	int t = json_get(j, 0, key), i, k, x, bad = 0;

	if (t < 0 || json_type(j, t) == JSON_NULL)
		return -1;
	if (json_type(j, t) != JSON_ARRAY) {
		raw = json_raw(j, t, &rl);
		verr_add(v, "list_type", "body", key, -1, "Input should be a valid list", raw, rl);
		return -2;
	}
	for (i = 0, x = t + 1, k = json_size(j, t); i < k; i++, x = json_next(j, x)) {
		if (json_type(j, x) != JSON_STRING || (s = json_strdup(j, x)) == NULL) {
			raw = json_raw(j, x, &rl);
			verr_add(v, "string_type", "body", key, i, "Input should be a valid string",
			    raw, rl);
			bad = 1;
		} else
			free(s);
	}
	return bad ? -2 : t;
}

struct archive {
	struct httpd	*h;
	const char	*actor;
	char		*reason_suffix;
	struct strset	 seen;		/* archived by this request, by any selector */
	struct strset	 ids;		/* archived_ids: by card_ids or related_tokens */
	struct strset	 missing;
};

/* Archive one existing card once per request; 0 ok, -1 database failure. */
static int
archive_card(struct archive *ar, const char *id, const char *action, int listed)
{
	struct httpd *h = ar->h;
	sqlite3_stmt *st;
	char text[512];
	int r;

	if (listed && strset_add(&ar->ids, id) == -1)
		return -1;
	if ((r = strset_add(&ar->seen, id)) <= 0)
		return r;
	if ((st = httpd_stmt(h, ST_CARD_ARCHIVE, "UPDATE issues SET status = 'archived', "
	    "assignee = ?2 WHERE id = ?1")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ar->actor, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return -1;
	if ((st = httpd_stmt(h, ST_CARD_TX, "INSERT INTO card_transactions (card_id, role, "
	    "action) VALUES (?1, ?2, ?3 || ?4)")) == NULL)
		return -1;
	snprintf(text, sizeof(text), "%s", action);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ar->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ar->reason_suffix ? ar->reason_suffix : "", -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : -1;
}

static int
archive_ids(struct archive *ar, const struct json *j, int t)
{
	sqlite3_stmt *st;
	char *id;
	int i, k, x, r;

	for (i = 0, x = t + 1, k = json_size(j, t); i < k; i++, x = json_next(j, x)) {
		if ((id = json_strdup(j, x)) == NULL)
			return -1;
		if ((st = httpd_stmt(ar->h, ST_CARD_EXISTS, "SELECT 1 FROM issues WHERE "
		    "id = ?1")) == NULL) {
			free(id);
			return -1;
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		r = sqlite3_step(st);
		sqlite3_reset(st);
		if (r == SQLITE_ROW)
			r = archive_card(ar, id, "Archived card", 1);
		else if (r == SQLITE_DONE)
			r = strset_add(&ar->missing, id) == -1 ? -1 : 0;
		else
			r = -1;
		free(id);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* Collect the ids a query yields, then archive each: the statement is done before. */
static int
archive_query(struct archive *ar, sqlite3_stmt *st, const char *action, int listed)
{
	char **v = NULL, **nv;
	size_t n = 0, cap = 0, i;
	const char *s;
	int r, ret = 0;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((s = (const char *)sqlite3_column_text(st, 0)) == NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				ret = -1;
				break;
			}
			v = nv;
		}
		if ((v[n] = strdup(s)) == NULL) {
			ret = -1;
			break;
		}
		n++;
	}
	if (ret == 0 && r != SQLITE_DONE)
		ret = -1;
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if (ret == 0 && archive_card(ar, v[i], action, listed) == -1)
			ret = -1;
		free(v[i]);
	}
	free(v);
	return ret;
}

/*
 * The related_tokens selector: trimmed, lowercased, blanks dropped; a card matches when
 * any token is a substring of its lowercased id, build_id, summary or note. Unlike the
 * original, '%', '_' and '\' in a token are escaped, so "%" matches a percent sign and
 * not every card.
 */
static int
archive_tokens(struct archive *ar, const struct json *j, int t)
{
	struct buf sql = BUF_INIT(64 * 1024);
	char *pat[HTTPD_ARCHIVE_TOKENS_MAX], *tok, *p, *q;
	sqlite3_stmt *st = NULL;
	size_t len;
	int i, k, x, np = 0, r = -1;

	for (i = 0, x = t + 1, k = json_size(j, t); i < k; i++, x = json_next(j, x)) {
		if ((tok = json_strdup(j, x)) == NULL)
			goto out;
		for (p = tok; isspace((unsigned char)*p); p++)
			;
		len = strlen(p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0) {
			free(tok);
			continue;
		}
		if ((pat[np] = malloc(2 * len + 3)) == NULL) {
			free(tok);
			goto out;
		}
		q = pat[np];
		*q++ = '%';
		for (; len > 0; p++, len--) {
			if (*p == '%' || *p == '_' || *p == '\\')
				*q++ = '\\';
			*q++ = (char)tolower((unsigned char)*p);
		}
		*q++ = '%';
		*q = '\0';
		np++;
		free(tok);
	}
	if (np == 0) {
		r = 0;
		goto out;
	}
	buf_adds(&sql, "SELECT id FROM issues WHERE ");
	for (i = 0; i < np; i++)
		buf_addf(&sql, "%s(lower(id) LIKE ?%d ESCAPE '\\' OR lower(build_id) LIKE ?%d "
		    "ESCAPE '\\' OR lower(summary) LIKE ?%d ESCAPE '\\' OR lower(note) LIKE ?%d "
		    "ESCAPE '\\')", i ? " OR " : "", i + 1, i + 1, i + 1, i + 1);
	buf_addf(&sql, " ORDER BY created_at DESC, rowid DESC LIMIT %d", HTTPD_ARCHIVE_MATCH_MAX);
	if (sqlite3_prepare_v2(ar->h->db, sql.p, -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (i = 0; i < np; i++)
		sqlite3_bind_text(st, i + 1, pat[i], -1, SQLITE_STATIC);
	r = archive_query(ar, st, "Archived card", 1);
out:
	sqlite3_finalize(st);
	for (i = 0; i < np; i++)
		free(pat[i]);
	buf_free(&sql);
	return r;
}

/*
 * POST /v1/cards/archive. Each card is archived (and gets a transaction row) once per
 * request, by the first selector that reaches it, and archived_count counts each card
 * once: the original counted a card hit by both build_id and card_ids twice.
 */
void
route_archive(struct httpd *h, struct http_request *req, const struct json *j)
{
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	struct archive ar;
	struct verr v;
	sqlite3_stmt *st;
	char *build = NULL, *reason = NULL, *by = NULL, action[600];
	int tids, ttok, rb, rr, ra, ok = 0;
	struct jw w;

	memset(&ar, 0, sizeof(ar));
	ar.h = h;
	verr_init(&v);
	tids = opt_strlist(j, "card_ids", &v);
	rb = body_opt_str(j, "build_id", &build, &v);
	ttok = opt_strlist(j, "related_tokens", &v);
	rr = body_opt_str(j, "reason", &reason, &v);
	ra = body_opt_str(j, "archived_by", &by, &v);
	if (v.n) {
		verr_reply(h, req, &v);
		goto done;
	}
	(void)rb;
	(void)rr;
	(void)ra;
	if (!(tids >= 0 && json_size(j, tids) > 0) && !(build && *build) &&
	    !(ttok >= 0 && json_size(j, ttok) > 0)) {
		httpd_detail(h, req, 400,
		    "Provide at least one selector: card_ids, build_id, or related_tokens");
		goto done;
	}
	if (tids >= 0 && json_size(j, tids) > HTTPD_ARCHIVE_IDS_MAX) {
		httpd_detail(h, req, 413, "At most 10000 card_ids in one request");
		goto done;
	}
	if (ttok >= 0 && json_size(j, ttok) > HTTPD_ARCHIVE_TOKENS_MAX) {
		httpd_detail(h, req, 413, "At most 64 related_tokens in one request");
		goto done;
	}
	ar.actor = by && *by ? by : "api";
	if (reason && *reason) {
		size_t n = strlen(reason) + 4;

		if ((ar.reason_suffix = malloc(n)) == NULL) {
			httpd_detail_hdr(h, req, 503, "Out of memory", "Retry-After: 1\r\n");
			goto done;
		}
		snprintf(ar.reason_suffix, n, " (%s)", reason);
	}
	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_failed(h, req, "begin an archive");
		goto done;
	}
	if (tids >= 0 && archive_ids(&ar, j, tids) == -1)
		goto fail;
	if (build && *build) {
		if ((st = httpd_stmt(h, ST_BUILD_CARDS, "SELECT id FROM issues WHERE "
		    "build_id = ?1 ORDER BY rowid")) == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, build, -1, SQLITE_STATIC);
		snprintf(action, sizeof(action), "Archived build '%.500s'", build);
		if (archive_query(&ar, st, action, 0) == -1)
			goto fail;
	}
	if (ttok >= 0 && archive_tokens(&ar, j, ttok) == -1)
		goto fail;
	if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	ok = 1;
fail:
	if (!ok) {
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		db_failed(h, req, "archive cards");
		goto done;
	}
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "ok");
	jw_bool(&w, 1);
	jw_key(&w, "archived_count");
	jw_uint(&w, ar.seen.n);
	jw_key(&w, "archived_ids");
	strset_json(&w, &ar.ids);
	jw_key(&w, "missing_ids");
	strset_json(&w, &ar.missing);
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		httpd_json(h, req, 200, &b);
	else
		httpd_detail(h, req, 500, "Response too large");
done:
	verr_free(&v);
	strset_free(&ar.seen);
	strset_free(&ar.ids);
	strset_free(&ar.missing);
	free(ar.reason_suffix);
	free(build);
	free(reason);
	free(by);
	buf_free(&b);
}
