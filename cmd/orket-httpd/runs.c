/* See LICENSE. orket-httpd: runs are runner processes, watched from the loop. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dotenv.h"
#include "spawn.h"
#include "httpd.h"

/*
 * A run is one runner process and the process group it leads (it calls setsid). It starts
 * with a sessions row in state 'running' and ends, in one transaction, with the row 'done'
 * or 'failed', its transcript, and a snapshot row. It is over when two things have
 * happened, in either order: the runner was reaped, and its stdout reached end of file.
 *
 * When the runner exits, whatever is left of its group is killed while the zombie still
 * holds the group's id (waitid with WNOWAIT, then kill, then reap), so no id can have been
 * reused in between; a process that left the group (setsid) and keeps stdout open is given
 * HTTPD_DRAIN_MS, then the pipe is closed. Nothing a runner does can leave a zombie or
 * hold a slot forever: ORKET_RUN_TIMEOUT_SEC bounds a run, and SIGTERM is followed by
 * SIGKILL after HTTPD_KILL_GRACE_MS.
 *
 * The transcript (sessions.transcript) is a JSON array of the run's events, each the
 * record the event log got: {"timestamp","role","event","data"}. It is kept in memory,
 * written to the row at most every HTTPD_FLUSH_MS while the run goes on (so
 * GET /v1/sessions/ID shows it growing) and at the end. Past HTTPD_TRANSCRIPT_MAX bytes
 * events are still logged and broadcast but not stored; run_end says how many were
 * dropped, and always fits.
 */

#define RUN_READS_PER_TURN	16

struct run {
	struct run	*next;
	struct httpd	*h;
	char		 id[16];
	char		*asset;
	char		*build;
	char		*type;
	pid_t		 pid;
	int		 fd;		/* stdout's read end; -1 after EOF */
	int		 reaped;
	int		 status;	/* as waitpid gives it */
	int		 cancelled;
	int		 timed_out;
	int		 stopping;	/* the daemon is stopping */
	uint64_t	 start_ms;
	struct buf	 line;		/* the line being read */
	int		 overlong;	/* skipping the rest of a line over the cap */
	size_t		 overbytes;
	struct buf	 tx;		/* "[record,record" */
	uint64_t	 nevents;
	uint64_t	 dropped;
	int		 dirty;
	struct loop_timer flush, kill, timeout, drain;
};

static const char *const env_base[] = { "PATH", "HOME", "LANG", "LC_ALL", "TZ" };

static void	 run_finish(struct run *);

static struct run *
run_find(struct httpd *h, const char *id)
{
	struct run *r;

	for (r = h->runs; r != NULL; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

/* ------------------------------------------------------------------------------------ */

static int
env_has(char **env, int n, const char *name, size_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return 1;
	return 0;
}

static int
env_put(char **env, int *n, const char *name, size_t len, const char *v)
{
	size_t vlen;
	char *s;

	if (len == 0 || memchr(name, '=', len) != NULL || env_has(env, *n, name, len) ||
	    *n == HTTPD_RUNNER_ENV_MAX || v == NULL)
		return 0;
	vlen = strlen(v);
	if ((s = malloc(len + vlen + 2)) == NULL)
		return -1;
	memcpy(s, name, len);
	s[len] = '=';
	memcpy(s + len + 1, v, vlen + 1);
	env[(*n)++] = s;
	return 0;
}

static int
env_copy(char **env, int *n, const char *name, size_t len)
{
	char key[256];

	if (len == 0 || len >= sizeof(key))
		return 0;
	memcpy(key, name, len);
	key[len] = '\0';
	/* Never the key to this API, even if the environment was changed under us. */
	if (strcmp(key, "ORKET_API_KEY") == 0)
		return 0;
	return env_put(env, n, name, len, getenv(key));
}

/*
 * A runner's environment: PATH, HOME, LANG, LC_ALL, TZ, the names listed in
 * ORKET_RUNNER_ENV_ALLOW, and where the runtime database and the workspace are. Nothing
 * else: the API key and every other secret of the daemon stay out.
 */
static char **
env_build(const struct httpd *h)
{
	const char *p, *e, *allow = h->cfg.runner_env_allow;
	char **env;
	size_t i, n;
	int c = 0;

	if ((env = calloc(HTTPD_RUNNER_ENV_MAX + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < sizeof(env_base) / sizeof(env_base[0]); i++)
		if (env_copy(env, &c, env_base[i], strlen(env_base[i])) == -1)
			goto fail;
	if (env_put(env, &c, "ORKET_RUNTIME_DB", 16, h->cfg.runtime_db) == -1 ||
	    env_put(env, &c, "ORKET_WORKSPACE", 15, h->cfg.workspace) == -1)
		goto fail;
	for (p = allow; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ",");
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (env_copy(env, &c, p, n) == -1)
			goto fail;
	}
	return env;
fail:
	env_free(env);
	return NULL;
}

/*
 * In the child, between fork and exec: a new session and group, default signals, stdin
 * at end of file, stdout the pipe, stderr the daemon's (for s6-log); failures end in
 * _exit.
 */
static void __attribute__((noreturn))
child(struct httpd *h, int wfd, int argc, char **argv, char **envp, int builtin,
    const char *prog)
{
	char msg[512];
	size_t n;
	int e;

	if (spawn_child_setup(wfd, -1, h->loop.sigblocked ? &h->loop.oldmask : NULL) == -1)
		_exit(126);
	if (builtin) {
		/* Without a path to this program, the built-in runner runs in the fork itself. */
		if (h->self[0] == '\0') {
			env_free(envp);
			_exit(builtin_runner(argc - 2, argv + 2));
		}
		execve(h->self, argv, envp);
	} else
		execve(prog, argv, envp);
	e = errno;
	n = (size_t)snprintf(msg, sizeof(msg), "orket-httpd: fatal: unable to run %s: %s\n",
	    builtin ? h->self : argv[0], strerror(e));
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	(void)!write(2, msg, n);
	/* Freed for the record: under valgrind this fork is checked for leaks at its exit. */
	env_free(envp);
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * The runner's program, found in the parent (as execvp would, along PATH): a runner that
 * is not there fails its run at once, with the reason, rather than in a fork. 0, or -1
 * with errno.
 */
static int
runner_path(const char *prog, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *p, *e;
	struct stat st;
	int saw_eacces = 0;

	if (strchr(prog, '/') != NULL) {
		if (strlen(prog) >= cap) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(out, prog);
		if (stat(out, &st) == -1)
			return -1;
		if (!S_ISREG(st.st_mode) || access(out, X_OK) == -1) {
			errno = EACCES;
			return -1;
		}
		return 0;
	}
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/bin:/usr/bin";
	for (p = path; ; p = e + 1) {
		e = p + strcspn(p, ":");
		if ((size_t)snprintf(out, cap, "%.*s%s%s", (int)(e - p), p, e > p ? "/" : "",
		    prog) < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			saw_eacces = 1;
		}
		if (*e == '\0')
			break;
	}
	errno = saw_eacces ? EACCES : ENOENT;
	return -1;
}

/* ------------------------------------------------------------------------------------ */

/* Write the transcript as it stands into the session row (autocommit). */
static void
tx_flush(struct run *r)
{
	struct httpd *h = r->h;
	sqlite3_stmt *st;

	if (!r->dirty)
		return;
	if ((st = httpd_stmt(h, ST_SESSION_TRANSCRIPT, "UPDATE sessions SET transcript = ?2 "
	    "WHERE id = ?1")) == NULL || buf_addc(&r->tx, ']') == -1) {
		h->m.db_failures++;
		return;
	}
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->tx.p, (int)r->tx.len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		h->m.db_failures++;
		log_warn("unable to store the transcript of run %s: %s", r->id,
		    sqlite3_errmsg(h->db));
	} else
		r->dirty = 0;
	sqlite3_reset(st);
	r->tx.p[--r->tx.len] = '\0';
}

static void
on_flush(struct loop *l, struct loop_timer *t, void *arg)
{
	tx_flush(arg);
}

/* Append one record to the transcript; the final one (run_end) may use the spare room. */
static void
tx_add(struct run *r, const char *role, const char *event, const char *data, int final)
{
	struct buf rec = BUF_INIT(HTTPD_RUNNER_LINE_MAX + 4096);
	char ts[LOG_TIMESTAMP_SIZE];
	size_t limit = HTTPD_TRANSCRIPT_MAX + (final ? HTTPD_TRANSCRIPT_SPARE : 0);
	struct jw w;

	if (log_timestamp(ts, sizeof(ts)) == -1)
		ts[0] = '\0';
	jw_init(&w, &rec);
	jw_obj_open(&w);
	jw_key(&w, "timestamp");
	jw_str(&w, ts);
	jw_key(&w, "role");
	jw_str(&w, role);
	jw_key(&w, "event");
	jw_str(&w, event);
	jw_key(&w, "data");
	jw_raw(&w, data, strlen(data));
	jw_obj_close(&w);
	if (jw_finish(&w) == -1 || r->tx.len + 1 + rec.len > limit) {
		r->dropped++;
		buf_free(&rec);
		return;
	}
	if (r->tx.len > 1)
		buf_addc(&r->tx, ',');
	buf_add(&r->tx, rec.p, rec.len);
	buf_free(&rec);
	r->dirty = 1;
	if (!final && !loop_timer_armed(&r->flush))
		loop_timer_set(&r->h->loop, &r->flush, HTTPD_FLUSH_MS);
}

/* An event of the run: emitted (event log, broadcast) and stored in its transcript. */
static void
run_event(struct run *r, const char *role, const char *event, const char *data, int final)
{
	httpd_emit(r->h, role, event, data);
	tx_add(r, role, event, data, final);
}

/*
 * A runner's data with its session id: an object gets "session_id" first unless it has
 * one; anything else becomes {"session_id", "value"}. Compact, one line.
 */
static int
with_session(struct buf *out, const struct run *r, const struct json *j, int data)
{
	struct buf c = BUF_INIT(HTTPD_RUNNER_LINE_MAX + 64);
	const char *raw;
	size_t rl;
	int type = data >= 0 ? json_type(j, data) : JSON_NULL, ret = 0;

	if (type == JSON_OBJECT && json_get(j, data, "session_id") >= 0) {
		raw = json_raw(j, data, &rl);
		ret = json_compact(out, raw, rl);
	} else if (type == JSON_OBJECT) {
		raw = json_raw(j, data, &rl);
		if ((ret = json_compact(&c, raw, rl)) == 0)
			ret = buf_addf(out, "{\"session_id\":\"%s\"%s%s", r->id,
			    c.len > 2 ? "," : "}", c.len > 2 ? c.p + 1 : "");
	} else if (type == JSON_NULL) {
		ret = buf_addf(out, "{\"session_id\":\"%s\"}", r->id);
	} else {
		raw = json_raw(j, data, &rl);
		if ((ret = json_compact(&c, raw, rl)) == 0)
			ret = buf_addf(out, "{\"session_id\":\"%s\",\"value\":%s}", r->id, c.p);
	}
	buf_free(&c);
	return ret;
}

/* A short plain string member (event, role): 1 copied, 0 absent or unfit. */
static int
short_str(const struct json *j, int t, char *out, size_t cap)
{
	size_t n;

	if (t < 0 || json_type(j, t) != JSON_STRING || json_str(j, t, out, cap, &n) == -1 ||
	    n == 0 || strlen(out) != n)
		return 0;
	return 1;
}

/*
 * One line of the runner's stdout. A JSON object with a string "event" is that event
 * (role: "role", else data.role, else "system", as the original's log calls); anything
 * else is kept as runner_output {"line"}, so nothing a runner says is lost.
 */
static void
run_line(struct run *r, const char *s, size_t n)
{
	struct httpd *h = r->h;
	char event[HTTPD_EVENT_NAME_MAX + 1], role[HTTPD_EVENT_NAME_MAX + 1];
	struct buf d = BUF_INIT(HTTPD_RUNNER_LINE_MAX + 256);
	struct json j;
	struct jw w;
	int data;

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return;
	h->m.runner_events++;
	r->nevents++;
	if (json_parse(&j, s, n, h->toks, HTTPD_JSON_TOKENS) == JSON_OK &&
	    json_type(&j, 0) == JSON_OBJECT &&
	    short_str(&j, json_get(&j, 0, "event"), event, sizeof(event))) {
		data = json_get(&j, 0, "data");
		if (!short_str(&j, json_get(&j, 0, "role"), role, sizeof(role)) &&
		    !(data >= 0 && short_str(&j, json_get(&j, data, "role"), role, sizeof(role))))
			strcpy(role, "system");
		if (with_session(&d, r, &j, data) == 0) {
			run_event(r, role, event, d.p, 0);
			buf_free(&d);
			return;
		}
		buf_reset(&d);
	}
	jw_init(&w, &d);
	jw_obj_open(&w);
	jw_key(&w, "session_id");
	jw_str(&w, r->id);
	jw_key(&w, "line");
	jw_strn(&w, s, n);
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		run_event(r, "runner", "runner_output", d.p, 0);
	buf_free(&d);
}

static void
run_overlong(struct run *r)
{
	char data[128];

	r->h->m.runner_lines_dropped++;
	snprintf(data, sizeof(data), "{\"session_id\":\"%s\",\"bytes\":%zu,\"max\":%d}", r->id,
	    r->overbytes, HTTPD_RUNNER_LINE_MAX);
	run_event(r, "system", "runner_line_too_long", data, 0);
	r->overlong = 0;
	r->overbytes = 0;
}

/* Split what was read into lines; a line over the cap is dropped (and said so). */
static void
run_feed(struct run *r, const char *p, size_t n)
{
	const char *nl;
	size_t k;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl ? (size_t)(nl - p) : n;
		if (r->overlong)
			r->overbytes += k;
		else if (buf_add(&r->line, p, k) == -1) {
			r->overlong = 1;
			r->overbytes = r->line.len + k;
			buf_reset(&r->line);
		}
		if (nl == NULL)
			return;
		if (r->overlong)
			run_overlong(r);
		else {
			run_line(r, r->line.p ? r->line.p : "", r->line.len);
			buf_reset(&r->line);
		}
		p = nl + 1;
		n -= k + 1;
	}
}

static void
pipe_close(struct run *r)
{
	if (r->fd == -1)
		return;
	/* The last line may lack its newline. */
	if (r->overlong)
		run_overlong(r);
	else if (r->line.len)
		run_line(r, r->line.p, r->line.len);
	buf_free(&r->line);
	loop_del(&r->h->loop, r->fd);
	close(r->fd);
	r->fd = -1;
	loop_timer_stop(&r->h->loop, &r->drain);
}

/* Read what is there, RUN_READS_PER_TURN reads at most; 1 at end of file. */
static int
pipe_drain(struct run *r)
{
	char tmp[65536];
	ssize_t n;
	int i;

	for (i = 0; i < RUN_READS_PER_TURN; i++) {
		n = read(r->fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		run_feed(r, tmp, (size_t)n);
	}
	return 0;
}

/* Signal the run's group (the runner itself if it has no group yet); never after reaping. */
static void
run_signal(struct run *r, int sig)
{
	if (r->reaped)
		return;
	if (kill(-r->pid, sig) == -1 && errno == ESRCH)
		kill(r->pid, sig);
}

/*
 * The runner has exited (a zombie, not reaped yet): kill what is left of its group while
 * the zombie still holds the id, then reap it. 1 when reaped.
 */
static int
run_reap(struct run *r)
{
	siginfo_t si;
	int st;

	if (r->reaped)
		return 1;
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		if (errno != EINTR)
			return 0;
	if (si.si_pid != r->pid)
		return 0;
	kill(-r->pid, SIGKILL);
	while (waitpid(r->pid, &st, 0) == -1)
		if (errno != EINTR)
			return 0;
	r->reaped = 1;
	r->status = st;
	loop_timer_stop(&r->h->loop, &r->kill);
	loop_timer_stop(&r->h->loop, &r->timeout);
	/* What the group left holding stdout is dead; anyone outside it gets a moment. */
	if (r->fd != -1)
		loop_timer_set(&r->h->loop, &r->drain, HTTPD_DRAIN_MS);
	return 1;
}

static void
on_pipe(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct run *r = arg;

	if (pipe_drain(r) == 0)
		return;
	pipe_close(r);
	/* EOF may come before SIGCHLD: look for the exit now. */
	run_reap(r);
	run_finish(r);
}

static void
on_drain(struct loop *l, struct loop_timer *t, void *arg)
{
	struct run *r = arg;

	if (r->fd != -1 && pipe_drain(r) == 0)
		log_warn("run %s: a process outside its group keeps its output open; closing",
		    r->id);
	pipe_close(r);
	run_finish(r);
}

static void
on_kill(struct loop *l, struct loop_timer *t, void *arg)
{
	run_signal(arg, SIGKILL);
}

static void
on_timeout(struct loop *l, struct loop_timer *t, void *arg)
{
	struct run *r = arg;

	r->timed_out = 1;
	log_warn("run %s: over ORKET_RUN_TIMEOUT_SEC, stopping it", r->id);
	run_signal(r, SIGTERM);
	loop_timer_set(&r->h->loop, &r->kill, HTTPD_KILL_GRACE_MS);
}

static void
run_unlink(struct run *r)
{
	struct run **pp;

	for (pp = &r->h->runs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			r->h->nruns--;
			return;
		}
}

static void
run_release(struct run *r)
{
	struct loop *l = &r->h->loop;

	loop_timer_stop(l, &r->flush);
	loop_timer_stop(l, &r->kill);
	loop_timer_stop(l, &r->timeout);
	loop_timer_stop(l, &r->drain);
	if (r->fd != -1) {
		loop_del(l, r->fd);
		close(r->fd);
	}
	buf_free(&r->line);
	buf_free(&r->tx);
	free(r->asset);
	free(r->build);
	free(r->type);
	free(r);
}

/* The end record and the last write: session row, transcript and snapshot at once. */
static void
run_store(struct run *r, const char *status, const char *config)
{
	struct httpd *h = r->h;
	sqlite3_stmt *st;
	char now[64];
	int ok = 0;

	iso_now(now, sizeof(now));
	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if ((st = httpd_stmt(h, ST_SESSION_END, "UPDATE sessions SET status = ?2, "
	    "end_time = ?3, transcript = ?4 WHERE id = ?1")) == NULL ||
	    buf_addc(&r->tx, ']') == -1)
		goto out;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->tx.p, (int)r->tx.len, SQLITE_STATIC);
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	/* A runner that wrote its own snapshot (the Python engine does) keeps it. */
	if (ok && (st = httpd_stmt(h, ST_SNAPSHOT_INSERT, "INSERT INTO session_snapshots "
	    "(session_id, config_json, log_history, captured_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT(session_id) DO NOTHING")) != NULL) {
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, config, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->tx.p, (int)r->tx.len, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	} else
		ok = 0;
	r->tx.p[--r->tx.len] = '\0';
	if (ok)
		ok = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
out:
	if (!ok) {
		h->m.db_failures++;
		log_warn("unable to store the end of run %s: %s", r->id, sqlite3_errmsg(h->db));
		if (!sqlite3_get_autocommit(h->db))
			sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	}
	r->dirty = 0;
}

/* The run's settings, for the snapshot's config_json. */
static void
run_config(const struct run *r, struct buf *b)
{
	const struct httpd_config *c = &r->h->cfg;
	struct jw w;
	int i;

	jw_init(&w, b);
	jw_obj_open(&w);
	jw_key(&w, "asset_id");
	jw_str(&w, r->asset);
	jw_key(&w, "build_id");
	jw_str(&w, r->build);
	jw_key(&w, "request_type");
	jw_str(&w, r->type);
	jw_key(&w, "runner");
	if (c->runner_argc == 0)
		jw_str(&w, "builtin");
	else {
		jw_arr_open(&w);
		for (i = 0; i < c->runner_argc; i++)
			jw_str(&w, c->runner_argv[i]);
		jw_arr_close(&w);
	}
	jw_obj_close(&w);
	if (jw_finish(&w) == -1) {
		buf_reset(b);
		buf_adds(b, "{}");
	}
}

/*
 * Complete once reaped and at end of output: the outcome, as an event (run_end) and in the
 * database. A run is "done" only when the runner exited 0 by itself; an exit status, a
 * signal, a cancel, a timeout or the daemon's shutdown make it "failed", and run_end says
 * which.
 */
static void
run_finish(struct run *r)
{
	struct httpd *h = r->h;
	struct buf d = BUF_INIT(4096), cfg = BUF_INIT(64 * 1024);
	const char *status, *sn;
	struct jw w;
	int code = -1, sig = 0, ok;

	if (!r->reaped || r->fd != -1)
		return;
	run_unlink(r);
	loop_timer_stop(&h->loop, &r->flush);
	if (WIFEXITED(r->status))
		code = WEXITSTATUS(r->status);
	else if (WIFSIGNALED(r->status))
		sig = WTERMSIG(r->status);
	ok = code == 0 && !r->cancelled && !r->timed_out && !r->stopping;
	status = ok ? "done" : "failed";
	if (ok)
		h->m.runs_done++;
	else
		h->m.runs_failed++;
	if (r->cancelled)
		h->m.runs_cancelled++;
	jw_init(&w, &d);
	jw_obj_open(&w);
	jw_key(&w, "session_id");
	jw_str(&w, r->id);
	jw_key(&w, "status");
	jw_str(&w, status);
	if (code >= 0) {
		jw_key(&w, "exit_code");
		jw_int(&w, code);
	}
	if (sig) {
		jw_key(&w, "signal");
		jw_int(&w, sig);
		if ((sn = signal_name(sig)) != NULL) {
			jw_key(&w, "signal_name");
			jw_str(&w, sn);
		}
#ifdef WCOREDUMP
		jw_key(&w, "core_dumped");
		jw_bool(&w, WCOREDUMP(r->status) != 0);
#endif
	}
	jw_key(&w, "cancelled");
	jw_bool(&w, r->cancelled);
	jw_key(&w, "timed_out");
	jw_bool(&w, r->timed_out);
	jw_key(&w, "stopped");
	jw_bool(&w, r->stopping);
	jw_key(&w, "duration_ms");
	jw_uint(&w, loop_update_time(&h->loop) - r->start_ms);
	jw_key(&w, "events");
	jw_uint(&w, r->nevents);
	jw_key(&w, "events_dropped");
	jw_uint(&w, r->dropped);
	jw_obj_close(&w);
	run_event(r, "system", "run_end", jw_finish(&w) == 0 ? d.p : "{}", 1);
	if (code >= 0)
		log_info("run %s ended: %s (exit %d)%s", r->id, status, code,
		    r->cancelled ? " cancelled" : r->timed_out ? " timed out" : "");
	else
		log_info("run %s ended: %s (signal %d%s%s)%s", r->id, status, sig,
		    signal_name(sig) ? " " : "", signal_name(sig) ? signal_name(sig) : "",
		    r->cancelled ? " cancelled" : r->timed_out ? " timed out" : "");
	run_config(r, &cfg);
	run_store(r, status, cfg.p);
	buf_free(&d);
	buf_free(&cfg);
	run_release(r);
}

/* ------------------------------------------------------------------------------------ */

/* Python's PurePath(p).stem: the last component without its last suffix. */
static void
stem(const char *path, char *out, size_t cap)
{
	const char *e = path + strlen(path), *b, *dot;
	size_t n;

	while (e > path && e[-1] == '/')
		e--;
	for (b = e; b > path && b[-1] != '/'; b--)
		;
	n = (size_t)(e - b);
	if (n == 1 && b[0] == '.')
		n = 0;
	for (dot = e; dot > b && *dot != '.'; dot--)
		;
	if (n > 0 && dot > b && dot < e - 1)
		n = (size_t)(dot - b);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

/* An id handed to a runner as an argument: not empty, short, no control character. */
static int
arg_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > HTTPD_ASSET_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Insert the session row with a fresh id; 0, or -1 (database failure). */
static int
session_insert(struct httpd *h, struct run *r, const char *path, const char *issue)
{
	struct buf in = BUF_INIT(8192);
	sqlite3_stmt *st;
	char now[64];
	struct jw w;
	int tries, rc, ret = -1;

	jw_init(&w, &in);
	jw_obj_open(&w);
	jw_key(&w, "asset_id");
	jw_str(&w, r->asset);
	jw_key(&w, "build_id");
	jw_str(&w, r->build);
	jw_key(&w, "request_type");
	jw_str(&w, r->type);
	jw_key(&w, "path");
	jw_str(&w, path);
	jw_key(&w, "issue_id");
	jw_str(&w, issue);
	jw_obj_close(&w);
	if (jw_finish(&w) == -1)
		goto out;
	iso_now(now, sizeof(now));
	for (tries = 0; tries < 8; tries++) {
		if (random_hex(r->id, 4) == -1)
			goto out;
		if ((st = httpd_stmt(h, ST_SESSION_INSERT, "INSERT INTO sessions (id, type, name, "
		    "department, status, task_input, transcript, start_time) VALUES (?1, ?2, ?3, "
		    "'core', 'running', ?4, '[]', ?5) ON CONFLICT(id) DO NOTHING")) == NULL)
			goto out;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->type && *r->type ? r->type : "run", -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->asset, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, in.p, (int)in.len, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto out;
		if (sqlite3_changes(h->db) == 1) {
			ret = 0;
			goto out;
		}
	}
out:
	buf_free(&in);
	return ret;
}

/* Fork and exec the runner; 0, or -1 with errno (nothing left running). */
static int
run_spawn(struct httpd *h, struct run *r)
{
	const struct httpd_config *c = &h->cfg;
	char *argv[HTTPD_RUNNER_ARGV_MAX + 8], **envp = NULL, prog[4096] = "";
	int pfd[2] = { -1, -1 }, n = 0, i, builtin = c->runner_argc == 0, e;
	pid_t pid;

	if (!builtin && runner_path(c->runner_argv[0], prog, sizeof(prog)) == -1)
		return -1;
	if (builtin) {
		argv[n++] = h->self[0] ? h->self : "orket-httpd";
		argv[n++] = "--builtin-runner";
	} else
		for (i = 0; i < c->runner_argc; i++)
			argv[n++] = c->runner_argv[i];
	argv[n++] = r->asset;
	argv[n++] = r->build;
	argv[n++] = r->id;
	argv[n] = NULL;
	if ((envp = env_build(h)) == NULL)
		return -1;
	/* Only the read end is non-blocking: the runner's stdout stays an ordinary pipe. */
	if (pipe2(pfd, O_CLOEXEC) == -1 ||
	    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK) == -1)
		goto fail;
	if ((pid = fork()) == -1)
		goto fail;
	if (pid == 0)
		child(h, pfd[1], n, argv, envp, builtin, prog);
	close(pfd[1]);
	env_free(envp);
	r->pid = pid;
	r->fd = pfd[0];
	if (loop_add(&h->loop, r->fd, EPOLLIN, on_pipe, r) == -1) {
		/* It cannot be watched: end it now rather than leave it unsupervised. */
		e = errno;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		close(r->fd);
		r->fd = -1;
		errno = e;
		return -1;
	}
	return 0;
fail:
	e = errno;
	for (i = 0; i < 2; i++)
		if (pfd[i] != -1)
			close(pfd[i]);
	env_free(envp);
	errno = e;
	return -1;
}

/*
 * POST /v1/system/run-active {path?, build_id?, type?, issue_id?}. The asset is issue_id,
 * else the stem of path; the build is build_id, else "build-" and the asset lowercased
 * with spaces as '_'. Past ORKET_MAX_RUNS runs in progress the answer is 429.
 */
void
route_run_active(struct httpd *h, struct http_request *req, const struct json *j)
{
	char *path = NULL, *build = NULL, *type = NULL, *issue = NULL, asset[4096], *p;
	char hdr[64];
	struct buf d = BUF_INIT(4096);
	struct run *r = NULL;
	struct verr v;
	struct jw w;
	size_t n;
	int e;

	verr_init(&v);
	body_opt_str(j, "path", &path, &v);
	body_opt_str(j, "build_id", &build, &v);
	body_opt_str(j, "type", &type, &v);
	body_opt_str(j, "issue_id", &issue, &v);
	if (v.n) {
		verr_reply(h, req, &v);
		goto out;
	}
	if (issue && *issue)
		snprintf(asset, sizeof(asset), "%s", issue);
	else if (path && *path)
		stem(path, asset, sizeof(asset));
	else
		asset[0] = '\0';
	if (asset[0] == '\0') {
		httpd_detail(h, req, 400, "No asset ID provided.");
		goto out;
	}
	if (!arg_ok(asset) || (build && *build && !arg_ok(build))) {
		httpd_detail(h, req, 400, "Asset and build IDs must be 1 to 256 bytes without "
		    "control characters.");
		goto out;
	}
	if (h->stopping) {
		httpd_detail_hdr(h, req, 503, "Shutting down", "Retry-After: 5\r\n");
		goto out;
	}
	if (h->nruns >= h->cfg.max_runs) {
		h->m.runs_rejected++;
		snprintf(hdr, sizeof(hdr), "Retry-After: 5\r\n");
		httpd_detail_hdr(h, req, 429, "Too many runs in progress", hdr);
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->h = h;
	r->fd = -1;
	buf_init(&r->line, HTTPD_RUNNER_LINE_MAX);
	buf_init(&r->tx, HTTPD_TRANSCRIPT_MAX + HTTPD_TRANSCRIPT_SPARE + 1);
	loop_timer_init(&r->flush, on_flush, r);
	loop_timer_init(&r->kill, on_kill, r);
	loop_timer_init(&r->timeout, on_timeout, r);
	loop_timer_init(&r->drain, on_drain, r);
	if (buf_addc(&r->tx, '[') == -1 || (r->asset = strdup(asset)) == NULL)
		goto nomem;
	if (build && *build)
		r->build = strdup(build);
	else if ((r->build = malloc(strlen(asset) + 7)) != NULL) {
		snprintf(r->build, strlen(asset) + 7, "build-%s", asset);
		for (p = r->build + 6; *p; p++)
			*p = *p == ' ' ? '_' : (char)tolower((unsigned char)*p);
	}
	if (r->build == NULL || (type && (r->type = strdup(type)) == NULL))
		goto nomem;
	if (session_insert(h, r, path, issue) == -1) {
		h->m.db_failures++;
		log_warn("unable to insert a session: %s", sqlite3_errmsg(h->db));
		httpd_detail(h, req, 500, "Database error");
		goto out;
	}
	jw_init(&w, &d);
	jw_obj_open(&w);
	jw_key(&w, "asset_id");
	jw_str(&w, r->asset);
	jw_key(&w, "request_type");
	jw_str(&w, r->type);
	jw_key(&w, "session_id");
	jw_str(&w, r->id);
	jw_key(&w, "method_name");
	jw_str(&w, "run_card");
	jw_obj_close(&w);
	httpd_emit(h, "system", "api_run_active", jw_finish(&w) == 0 ? d.p : NULL);
	r->start_ms = loop_update_time(&h->loop);
	r->next = h->runs;
	h->runs = r;
	h->nruns++;
	h->m.runs_started++;
	if (run_spawn(h, r) == -1) {
		/*
		 * No silent failure: the session ends failed, and says why. A runner that is
		 * not there is the server's fault (500); a fork or pipe that failed may work
		 * on a retry (503).
		 */
		e = errno;
		snprintf(asset, sizeof(asset), "%.3000s: %s", h->cfg.runner_argc ?
		    h->cfg.runner_argv[0] : h->self, strerror(e));
		log_warn("unable to start the runner of run %s: %s", r->id, asset);
		buf_reset(&d);
		jw_init(&w, &d);
		jw_obj_open(&w);
		jw_key(&w, "session_id");
		jw_str(&w, r->id);
		jw_key(&w, "status");
		jw_str(&w, "failed");
		jw_key(&w, "error");
		jw_str(&w, asset);
		jw_obj_close(&w);
		run_event(r, "system", "run_end", jw_finish(&w) == 0 ? d.p : "{}", 1);
		run_unlink(r);
		h->m.runs_failed++;
		run_store(r, "failed", "{}");
		run_release(r);
		r = NULL;
		n = (size_t)snprintf(hdr, sizeof(hdr), "Unable to start the runner");
		if (e == ENOENT || e == EACCES || e == ENOTDIR || e == ENAMETOOLONG)
			httpd_detail(h, req, 500, hdr);
		else
			httpd_detail_hdr(h, req, 503, hdr, "Retry-After: 5\r\n");
		goto out;
	}
	buf_reset(&d);
	jw_init(&w, &d);
	jw_obj_open(&w);
	jw_key(&w, "session_id");
	jw_str(&w, r->id);
	jw_key(&w, "asset_id");
	jw_str(&w, r->asset);
	jw_key(&w, "build_id");
	jw_str(&w, r->build);
	jw_key(&w, "pid");
	jw_int(&w, r->pid);
	jw_key(&w, "runner");
	jw_str(&w, h->cfg.runner_argc ? h->cfg.runner_argv[0] : "builtin");
	jw_obj_close(&w);
	run_event(r, "system", "run_start", jw_finish(&w) == 0 ? d.p : "{}", 0);
	log_info("run %s started: asset %s, build %s, pid %ld", r->id, r->asset, r->build,
	    (long)r->pid);
	if (h->cfg.run_timeout_ms > 0)
		loop_timer_set(&h->loop, &r->timeout, (uint64_t)h->cfg.run_timeout_ms);
	buf_reset(&d);
	n = (size_t)snprintf(asset, sizeof(asset), "{\"session_id\":\"%s\"}", r->id);
	httpd_reply(h, req, 200, "application/json", asset, n, NULL);
	r = NULL;
	goto out;
nomem:
	httpd_detail_hdr(h, req, 503, "Out of memory", "Retry-After: 1\r\n");
out:
	if (r != NULL)
		run_release(r);
	verr_free(&v);
	buf_free(&d);
	free(path);
	free(build);
	free(type);
	free(issue);
}

/* POST /v1/runs/{id}/cancel: SIGTERM to the run's group, SIGKILL after a grace period. */
void
route_cancel(struct httpd *h, struct http_request *req, const char *id)
{
	struct buf b = BUF_INIT(1024);
	sqlite3_stmt *st;
	struct run *r;
	struct jw w;
	int rc;

	if ((r = run_find(h, id)) == NULL) {
		if ((st = httpd_stmt(h, ST_SESSION_EXISTS, "SELECT 1 FROM sessions WHERE "
		    "id = ?1")) == NULL) {
			httpd_detail(h, req, 500, "Database error");
			return;
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_ROW)
			httpd_detail(h, req, 409, "Run is not active");
		else if (rc == SQLITE_DONE)
			httpd_detail(h, req, 404, "Not Found");
		else
			httpd_detail(h, req, 500, "Database error");
		return;
	}
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "session_id");
	jw_str(&w, r->id);
	jw_obj_close(&w);
	jw_finish(&w);
	httpd_emit(h, "system", "api_run_cancel", b.p);
	if (!r->cancelled && !r->reaped) {
		r->cancelled = 1;
		log_info("run %s: cancelled", r->id);
		run_signal(r, SIGTERM);
		loop_timer_set(&h->loop, &r->kill, HTTPD_KILL_GRACE_MS);
	}
	buf_reset(&b);
	buf_addf(&b, "{\"ok\":true,\"session_id\":\"%s\"}", r->id);
	httpd_json(h, req, 200, &b);
	buf_free(&b);
}

/*
 * SIGCHLD: the kernel merges pending instances, so look for exited children until none is
 * left; each of ours is handled by run_reap (group killed, then reaped), any other reaped.
 */
void
runs_sigchld(struct httpd *h)
{
	struct run *r;
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (si.si_pid == 0)
			return;
		for (r = h->runs; r != NULL; r = r->next)
			if (r->pid == si.si_pid && !r->reaped)
				break;
		if (r == NULL) {
			while (waitpid(si.si_pid, NULL, 0) == -1 && errno == EINTR)
				;
			continue;
		}
		if (run_reap(r))
			run_finish(r);
	}
}

/* The daemon stops: every run is signalled (TERM, then KILL after the grace period). */
void
runs_stop_all(struct httpd *h, int sig)
{
	struct run *r;

	for (r = h->runs; r != NULL; r = r->next) {
		r->stopping = 1;
		run_signal(r, sig);
		if (sig != SIGKILL && !loop_timer_armed(&r->kill))
			loop_timer_set(&h->loop, &r->kill, HTTPD_KILL_GRACE_MS);
	}
}

/* At exit: whatever is left is killed, reaped and recorded, never left behind. */
void
runs_free(struct httpd *h)
{
	struct run *r;
	int st;

	while ((r = h->runs) != NULL) {
		r->stopping = 1;
		if (!r->reaped) {
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			while (waitpid(r->pid, &st, 0) == -1 && errno == EINTR)
				;
			r->reaped = 1;
			r->status = st;
		}
		if (r->fd != -1)
			pipe_drain(r);
		pipe_close(r);
		run_finish(r);
	}
}

/*
 * Sessions left 'running' by a daemon that died (kill -9, power loss): nobody watches
 * them any more, so they are failed, not left running forever as the original's were.
 */
int
runs_orphans(struct httpd *h)
{
	sqlite3_stmt *st;
	char now[64], data[64];
	int n;

	iso_now(now, sizeof(now));
	if ((st = httpd_stmt(h, ST_ORPHANS, "UPDATE sessions SET status = 'failed', "
	    "end_time = ?1 WHERE status = 'running'")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	if ((n = sqlite3_changes(h->db)) > 0) {
		log_warn("%d run(s) left running by an earlier daemon are marked failed", n);
		snprintf(data, sizeof(data), "{\"count\":%d}", n);
		httpd_emit(h, "system", "runs_interrupted", data);
	}
	return n;
}
