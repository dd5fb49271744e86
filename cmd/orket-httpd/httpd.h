/* See LICENSE. orket-httpd: the state and the modules of the API server. */
#ifndef HTTPD_H
#define HTTPD_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "http.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "sqlite3.h"

/*
 * Caps. Each input has one; going past it is an ordinary error answer (413, 400, 429),
 * never a crash or an unbounded buffer.
 */
#define HTTPD_BODY_MAX		(1024 * 1024)	/* JSON bodies but save's */
#define HTTPD_SAVE_BODY_MAX	(8 * 1024 * 1024)	/* save's JSON body (escapes grow it) */
#define HTTPD_UNAUTH_BODY_MAX	(64 * 1024)	/* body read before the key is known good */
#define HTTPD_FILE_MAX		(1024 * 1024)	/* bytes read by /read, written by /save */
#define HTTPD_JSON_TOKENS	65536		/* tokens of one JSON body or runner line */
#define HTTPD_PATH_MAX		4096		/* a workspace path, decoded */
#define HTTPD_PATH_DEPTH	64		/* its components */
#define HTTPD_EXPLORER_MAX	10000		/* entries one directory listing returns */
#define HTTPD_ID_MAX		128		/* a {session_id} path parameter, decoded */
#define HTTPD_ASSET_MAX		256		/* an asset or build id handed to a runner */
#define HTTPD_ARCHIVE_IDS_MAX	10000		/* card_ids in one archive request */
#define HTTPD_ARCHIVE_TOKENS_MAX 64		/* related_tokens in one archive request */
#define HTTPD_ARCHIVE_MATCH_MAX	500		/* cards matched by tokens, as the original */
#define HTTPD_RUNNER_ARGV_MAX	32		/* words of ORKET_RUNNER */
#define HTTPD_RUNNER_ENV_MAX	64		/* variables a runner gets */
#define HTTPD_RUNNER_LINE_MAX	(64 * 1024)	/* one event line a runner writes */
#define HTTPD_EVENT_NAME_MAX	128		/* its "event" and "role" */
#define HTTPD_TRANSCRIPT_MAX	(1024 * 1024)	/* events stored per session */
#define HTTPD_TRANSCRIPT_SPARE	(16 * 1024)	/* kept for the run_end record */
#define HTTPD_RUNS_LIMIT	1024		/* largest ORKET_MAX_RUNS */
#define HTTPD_ORIGINS_MAX	64		/* entries of ORKET_ALLOWED_ORIGINS */
#define HTTPD_RESPONSE_MAX	(32 * 1024 * 1024)	/* one JSON answer being built */
#define HTTPD_STMTS		32		/* prepared statements kept */

/* Deadlines of a run, milliseconds. */
#define HTTPD_FLUSH_MS		250	/* a running transcript reaches the database */
#define HTTPD_KILL_GRACE_MS	5000	/* SIGTERM, then SIGKILL to the group */
#define HTTPD_DRAIN_MS		2000	/* after the runner exits: output still held open */

/*
 * The configuration, from the environment (after ./.env and --env-file). The API key lives
 * only here, as given and as its SHA-256, and is wiped by httpd_config_free.
 */
struct httpd_config {
	char		*host;			/* ORKET_HOST, 127.0.0.1 */
	int		 port;			/* ORKET_PORT, 8082 */
	char		*api_key;		/* ORKET_API_KEY, or NULL */
	unsigned char	 api_key_sha[32];
	int		 insecure;		/* ORKET_ALLOW_INSECURE_NO_API_KEY */
	char		*origins[HTTPD_ORIGINS_MAX];	/* ORKET_ALLOWED_ORIGINS */
	int		 norigins;
	int		 origins_any;		/* "*" was listed */
	char		*runtime_db;		/* ORKET_RUNTIME_DB, orket_persistence.db */
	char		*event_log;		/* ORKET_EVENT_LOG, workspace/default/orket.log */
	char		*workspace;		/* ORKET_WORKSPACE, workspace/ */
	int		 resolve_walk;		/* ORKET_RESOLVE=walk: never openat2 */
	char		*runner_argv[HTTPD_RUNNER_ARGV_MAX + 1];	/* ORKET_RUNNER */
	int		 runner_argc;		/* 0: the built-in runner */
	char		*runner_env_allow;	/* ORKET_RUNNER_ENV_ALLOW, commas */
	int		 max_runs;		/* ORKET_MAX_RUNS, 4 */
	int		 run_timeout_ms;	/* ORKET_RUN_TIMEOUT_SEC, 3600; 0 none */
	int		 conns_max;		/* ORKET_MAX_CONNS, 1024 */
};

int	 httpd_config_load(struct httpd_config *, char *err, size_t errlen);
void	 httpd_config_free(struct httpd_config *);

struct httpd_metrics {
	uint64_t	 auth_failures;
	uint64_t	 cors_rejected;
	uint64_t	 files_denied;		/* 403 of the file routes */
	uint64_t	 runs_started;
	uint64_t	 runs_done;
	uint64_t	 runs_failed;
	uint64_t	 runs_cancelled;
	uint64_t	 runs_rejected;		/* 429 at ORKET_MAX_RUNS */
	uint64_t	 runner_events;
	uint64_t	 runner_lines_dropped;	/* over HTTPD_RUNNER_LINE_MAX */
	uint64_t	 events;		/* through httpd_emit */
	uint64_t	 event_log_failures;
	uint64_t	 db_failures;
};

/*
 * The websocket side plugs in here (see httpd_emit): a function called with every event
 * after it is written to the event log. It must not call back into httpd_emit.
 */
struct httpd;
typedef void	 httpd_event_hook(struct httpd *, const char *role, const char *event,
		    const char *data_json, void *arg);

struct run;

struct httpd {
	struct httpd_config	 cfg;
	const char		*env_file;	/* --env-file */
	char			**env0;		/* the environment before any file was read */
	char			 self[4096];	/* this program, re-executed as the built-in runner */
	struct loop		 loop;
	struct http_server	 srv;
	sqlite3			*db;		/* the one writer connection to the runtime DB */
	sqlite3_stmt		*st[HTTPD_STMTS];
	struct evlog		 ev;
	jsmntok_t		*toks;		/* HTTPD_JSON_TOKENS, one document at a time */
	/* The workspace: every file route resolves beneath this descriptor. */
	int			 rootfd;
	char			*rootpath;	/* its real path, for the dot-file check */
	int			 openat2;	/* the kernel has openat2 and we may use it */
	struct run		*runs;
	int			 nruns;
	int			 stopping;
	struct httpd_metrics	 m;
	uint64_t		 cpu_busy, cpu_total;	/* /proc/stat at the last sample */
	httpd_event_hook	*hook;		/* /ws/events: see httpd_emit */
	struct hub		 hub;		/* the /ws/events clients */
	int			 hub_on;		/* hub_init succeeded */
	void			*hook_arg;
};

/*
 * Every event the daemon produces goes through here: run start and end, each event line a
 * runner writes, every 5xx, the api_* events. It appends one line to the event log and
 * hands the same event to h->hook, where the websocket hub will broadcast it. role and
 * event are plain strings; data_json is a serialized JSON object, or NULL for {}.
 */
void	 httpd_emit(struct httpd *, const char *role, const char *event, const char *data_json);

/* The statement for slot i, prepared on first use and kept; reset before it is returned. */
sqlite3_stmt *httpd_stmt(struct httpd *, int i, const char *sql);

/* Statement slots. */
enum {
	ST_RUNS_LIST, ST_SESSION_GET, ST_SNAPSHOT_GET, ST_BACKLOG, ST_TRANSCRIPT_GET,
	ST_SESSION_INSERT, ST_SESSION_TRANSCRIPT, ST_SESSION_END, ST_SNAPSHOT_INSERT,
	ST_SESSION_EXISTS, ST_CARD_EXISTS, ST_CARD_ARCHIVE, ST_CARD_TX, ST_BUILD_CARDS,
	ST_ORPHANS
};

/* server.c: the HTTP glue. */
int	 server_start(struct httpd *);
void	 server_free(struct httpd *);

/*
 * The checks /ws/events needs too: a key (from X-API-Key, or ?key= for browsers) against
 * ORKET_API_KEY in constant time, honouring ORKET_ALLOW_INSECURE_NO_API_KEY; and an Origin
 * against ORKET_ALLOWED_ORIGINS. 1 yes, 0 no.
 */
int	 httpd_key_ok(const struct httpd *, const char *key);
int	 httpd_origin_ok(const struct httpd *, const char *origin);

/*
 * Answers. Each adds the CORS headers the request earns; a 5xx is also an event
 * ("http_error"). httpd_reply takes extra header lines (each ending in CRLF) or NULL.
 */
void	 httpd_reply(struct httpd *, struct http_request *, int status, const char *ctype,
	    const void *body, size_t len, const char *headers);
void	 httpd_json(struct httpd *, struct http_request *, int status, const struct buf *);
void	 httpd_detail(struct httpd *, struct http_request *, int status, const char *detail);
void	 httpd_detail_hdr(struct httpd *, struct http_request *, int status,
	    const char *detail, const char *headers);

/* One pydantic-style 422 item, collected in a buf by the validators. */
struct verr {
	struct buf	 b;		/* the items, comma-separated */
	int		 n;
};
void	 verr_init(struct verr *);
void	 verr_add(struct verr *, const char *type, const char *loc1, const char *loc2,
	    long loc3, const char *msg, const char *input, size_t inputlen);
void	 verr_reply(struct httpd *, struct http_request *, struct verr *);
void	 verr_free(struct verr *);
int	 body_opt_str(const struct json *, const char *key, char **out, struct verr *);

/* util.c */
int	 iso_now(char *out, size_t cap);		/* 2026-02-11T10:00:00.123456+00:00 */
int	 iso_time(const struct timespec *, char *out, size_t cap);
size_t	 pct_decode(const char *s, size_t n, char *out, int plus, int *nul);
int	 query_get(const char *query, const char *name, char *out, size_t cap,
	    size_t *outlen);
int	 utf8_valid(const char *s, size_t n);
int	 json_compact(struct buf *, const char *s, size_t n);
int	 jw_float(struct jw *, double);
int	 jw_column(struct jw *, sqlite3_stmt *, int col);
int	 jw_json_text(struct jw *, const char *s, size_t n, const char *fallback);
int	 random_hex(char *out, size_t nbytes);
const char *signal_name(int);

/* routes.c: the routes that are answered from memory and the database. */
void	 route_health(struct httpd *, struct http_request *);
void	 route_version(struct httpd *, struct http_request *);
void	 route_heartbeat(struct httpd *, struct http_request *);
void	 route_sysmetrics(struct httpd *, struct http_request *);
void	 route_calendar(struct httpd *, struct http_request *);
void	 route_runs(struct httpd *, struct http_request *);
void	 route_backlog(struct httpd *, struct http_request *, const char *id);
void	 route_run_metrics(struct httpd *, struct http_request *, const char *id);
void	 route_session(struct httpd *, struct http_request *, const char *id);
void	 route_snapshot(struct httpd *, struct http_request *, const char *id);
void	 route_archive(struct httpd *, struct http_request *, const struct json *);
void	 route_prom(struct httpd *, struct http_request *);
void	 sysmetrics_init(struct httpd *);
int	 calendar_at(time_t now, char *sprint, size_t, char *start, char *end);

/*
 * files.c: the workspace. Paths a client sends are relative to it; an absolute path, a ".."
 * component, a component starting with "." and anything resolving outside (a symlink out,
 * one swapped in during the request) is refused. Resolution is openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, or, when the kernel lacks it (or
 * ORKET_RESOLVE=walk), a walk that opens each component with O_NOFOLLOW and so never
 * follows a symlink at all.
 */
int	 files_open_root(struct httpd *, const char *workspace, int walk, char *err,
	    size_t errlen);
int	 files_slurp(struct httpd *, const char *rel, struct buf *);
void	 files_close_root(struct httpd *);
void	 route_explorer(struct httpd *, struct http_request *);
void	 route_read(struct httpd *, struct http_request *);
void	 route_save(struct httpd *, struct http_request *, const struct json *);
void	 route_clear_logs(struct httpd *, struct http_request *);

/*
 * runs.c: runs are processes. Each runner runs in its own process group with an
 * allow-listed environment; its stdout is read in the loop, line by line, and each line
 * is an event (emitted, and stored in the session's transcript). A run ends once the
 * runner was reaped and its output reached end of file.
 */
void	 route_run_active(struct httpd *, struct http_request *, const struct json *);
void	 route_cancel(struct httpd *, struct http_request *, const char *id);
void	 runs_sigchld(struct httpd *);
void	 runs_stop_all(struct httpd *, int sig);	/* shutdown: signal every group */
void	 runs_free(struct httpd *);			/* kill, reap and record what is left */
int	 runs_orphans(struct httpd *);		/* sessions left 'running' by a crash */

/* builtin.c: the runner used when ORKET_RUNNER is not set (a hidden mode of this program). */
int	 builtin_runner(int argc, char **argv);

#endif
