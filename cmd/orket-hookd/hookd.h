/* See LICENSE. orket-hookd: the state and the modules of the webhook receiver. */
#ifndef HOOKD_H
#define HOOKD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "sqlite3.h"

#define HOOKD_BODY_MAX		(1024 * 1024)	/* POST /webhook/gitea body cap */
#define HOOKD_TEST_BODY_MAX	(64 * 1024)	/* POST /webhook/test body cap */
#define HOOKD_SECRET_MAX	1024		/* GITEA_WEBHOOK_SECRET bytes */
#define HOOKD_DELIVERY_ID_MAX	128		/* X-Gitea-Delivery bytes */
#define HOOKD_EVENT_MAX		64		/* X-Gitea-Event bytes */
#define HOOKD_JSON_TOKENS	65536		/* tokens of one delivery's JSON */
#define HOOKD_OFFLOAD_MIN	(8 * 1024)	/* bodies from this size verified on the thread */
#define HOOKD_BATCH_MAX		512		/* deliveries in one group commit */
#define HOOKD_BATCH_US		300		/* the oldest delivery of a batch waits no more */
#define HOOKD_RATE_WINDOW_MS	60000
#define HOOKD_RATE_ADDRS_MAX	4096		/* client addresses the limiter tracks */
#define HOOKD_FAIL_ADDRS_MAX	256		/* addresses with signature failures counted */
#define HOOKD_SANDBOX_ARGV_MAX	32
#define HOOKD_OUTPUT_MAX	(64 * 1024)	/* sandbox output kept */
#define HOOKD_URL_MAX		2048
#define HOOKD_STMTS		32		/* prepared statements kept */
#define HOOKD_ST_BEGIN		30		/* their slots for the group commit's own */
#define HOOKD_ST_COMMIT		31

/*
 * The configuration, from the environment (after ./.env and --env-file). Secrets live only
 * here and are wiped by hookd_config_free; they never reach a log line or an argv.
 */
struct hookd_config {
	char		*host;			/* ORKET_WEBHOOK_HOST, 127.0.0.1 */
	int		 port;			/* ORKET_WEBHOOK_PORT, 8080 */
	char		*secret;		/* GITEA_WEBHOOK_SECRET, required */
	size_t		 secretlen;
	char		*secret_prev;		/* GITEA_WEBHOOK_SECRET_PREVIOUS, optional */
	size_t		 secret_prevlen;
	int		 rate_limit;		/* ORKET_RATE_LIMIT per 60 s per address, 60 */
	int		 test_enabled;		/* ORKET_ENABLE_WEBHOOK_TEST_ENDPOINT */
	char		*test_token;		/* ORKET_WEBHOOK_TEST_TOKEN */
	int		 escalate_at;		/* ORKET_REVIEW_ESCALATE_AT, 3 */
	int		 reject_at;		/* ORKET_REVIEW_REJECT_AT, 4 */
	char		*gitea_url;		/* GITEA_URL, http://localhost:3000, no trailing / */
	char		*gitea_user;		/* GITEA_ADMIN_USER, Orket */
	char		*gitea_password;	/* GITEA_ADMIN_PASSWORD */
	char		*gitea_token;		/* GITEA_TOKEN: beats the password when set */
	char		*gitea_ca_file;		/* GITEA_CA_FILE: CA bundle for https */
	char		*api_url;		/* ORKET_API_URL: orket-httpd, for run requests */
	char		*api_key;		/* ORKET_API_KEY */
	char		*sandbox_argv[HOOKD_SANDBOX_ARGV_MAX + 1];	/* ORKET_SANDBOX_COMMAND */
	int		 sandbox_argc;
	int		 sandbox_timeout_ms;	/* ORKET_SANDBOX_TIMEOUT_SEC, 600 */
	char		*sandbox_env_allow;	/* ORKET_SANDBOX_ENV_ALLOW: extra names, commas */
	int		 outbox_max_attempts;	/* ORKET_OUTBOX_MAX_ATTEMPTS, 10 */
	int		 outbox_backoff_ms;	/* ORKET_OUTBOX_BACKOFF_MS: first retry delay, 1000 */
	int		 outbox_timeout_ms;	/* ORKET_OUTBOX_TIMEOUT_MS: one call, 10000 */
	int		 outbox_parallel;	/* ORKET_OUTBOX_PARALLEL: calls in flight, 8 */
	int		 durability_full;	/* ORKET_DURABILITY=full */
	char		*webhook_db;		/* ORKET_WEBHOOK_DB, .orket/webhook.db */
	char		*runtime_db;		/* ORKET_RUNTIME_DB, orket_persistence.db */
	char		*event_log;		/* ORKET_EVENT_LOG, workspace/default/hookd.log */
	int		 conns_max;		/* ORKET_WEBHOOK_MAX_CONNS, 1024 */
};

/* Gitea calls are possible: a token, or a user and password. */
#define HOOKD_GITEA_ENABLED(c)	((c)->gitea_token || (c)->gitea_password)

int	 hookd_config_load(struct hookd_config *, char *err, size_t errlen);
void	 hookd_config_free(struct hookd_config *);

/* The per-address sliding-window rate limiter. */
struct rate_slot;
struct ratelimit {
	int		 limit;
	struct rate_slot *slots;
	size_t		 nslots;
	uint64_t	 rejected;
};

int	 rate_init(struct ratelimit *, int limit);
void	 rate_free(struct ratelimit *);
/* 0 when allowed (and counted), else the milliseconds until a slot frees. */
uint64_t rate_check(struct ratelimit *, const char *addr, uint64_t now_ms);

struct hookd;
struct outbox;
struct sandbox;
struct ckpt;
struct verifier;
struct committer;

#define DB_BUSY_TIMEOUT_MS_CKPT	100	/* the checkpointer gives way to the writer */

/* WAL checkpoints, by whom, and the frames each copied (for /metrics). */
struct ckpt_stats {
	uint64_t	 thread_runs;
	uint64_t	 thread_frames;
	uint64_t	 writer_runs;
	uint64_t	 writer_frames;
};

int	 checkpoint_start(struct hookd *);
void	 checkpoint_stats(struct hookd *, struct ckpt_stats *);
void	 checkpoint_stop(struct hookd *);
struct delivery;

struct hookd_metrics {
	uint64_t	 deliveries_stored;
	uint64_t	 deliveries_duplicate;
	uint64_t	 deliveries_ignored;
	uint64_t	 signature_missing;
	uint64_t	 signature_invalid;
	uint64_t	 signature_previous;	/* accepted with GITEA_WEBHOOK_SECRET_PREVIOUS */
	uint64_t	 verified_loop;		/* checked on the loop (a small body) */
	uint64_t	 verified_thread;	/* handed to the verifier thread */
	uint64_t	 invalid_payload;
	uint64_t	 commits;		/* group commits */
	uint64_t	 commit_failures;
	uint64_t	 commit_largest;	/* most deliveries in one group commit */
	uint64_t	 outbox_sent;
	uint64_t	 outbox_failed;		/* gave up, or a final refusal */
	uint64_t	 outbox_retries;
	uint64_t	 latency_le[12];	/* histogram of request seconds */
	uint64_t	 latency_count;
	double		 latency_sum;
	struct {
		char	 addr[HTTP_ADDRSTRLEN];
		uint64_t n;
	}		 sigfail[HOOKD_FAIL_ADDRS_MAX];
	int		 nsigfail;
};

struct hookd {
	struct hookd_config	 cfg;
	const char		*env_file;	/* --env-file */
	struct loop		 loop;
	struct http_server	 srv;
	sqlite3			*db;		/* the one writer connection to the webhook DB */
	struct evlog		 ev;
	struct ratelimit	 rate;
	struct hookd_metrics	 m;
	struct outbox		*outbox;
	struct ckpt		*ckpt;		/* the checkpoint thread */
	struct verifier		*verifier;	/* the signature and payload thread */
	struct committer	*committer;	/* the group-commit thread */
	pthread_mutex_t		 dbmu;		/* db and st: the committer, or the loop */
	pthread_mutex_t		 evmu;		/* the event log */
	struct sandbox		*sandbox;
	jsmntok_t		*toks;		/* HOOKD_JSON_TOKENS, for one delivery at a time */
	struct delivery		*batch;		/* deliveries waiting for the group commit */
	struct delivery		**batch_tail;
	int			 nbatch;
	uint64_t		 batch_start;	/* monotonic microseconds of its first delivery */
	int			 stopping;
	sqlite3_stmt		*st[HOOKD_STMTS];	/* prepared once, see hookd_stmt */
	char			 env_snapshot_taken;
	char			**env0;		/* the environment before any file was read */
};

/*
 * The webhook database (db, st, and the configuration the commit reads) is used by the
 * committer thread and by the loop (the outbox, /metrics, SIGHUP); each holds this lock
 * while it does. It is recursive: the outbox's entry points nest.
 */
void	 hookd_db_lock(struct hookd *);
void	 hookd_db_unlock(struct hookd *);

/* The statement for slot i, prepared on first use and kept; reset before it is returned. */
sqlite3_stmt *hookd_stmt(struct hookd *, int i, const char *sql);

/*
 * The event log: one JSON line {"timestamp","role":"hookd","event",data}. data is a JSON
 * object text or NULL; a failure to write is a warning on stderr, never fatal.
 */
void	 hookd_event(struct hookd *, const char *event, const char *data_json);

/*
 * The outbox sender (outbox.c): rows of the outbox table are sent by libcurl's multi
 * interface inside the loop, never inside a request. outbox_init resets rows left
 * 'running' by a crash to 'pending'; outbox_kick is called after each commit that added
 * rows, and looks for due work; outbox_reload after SIGHUP changed the configuration.
 */
int	 outbox_init(struct hookd *);
void	 outbox_kick(struct hookd *);
void	 outbox_reload(struct hookd *);
void	 outbox_free(struct hookd *);
long	 outbox_depth(struct hookd *);		/* pending + running rows, -1 on error */
/* Stop taking new work; 1 when nothing is in flight any more. */
int	 outbox_idle(struct hookd *);

/*
 * The sandbox runner (sandbox.c): runs cfg.sandbox_argv plus repo, PR number and branch
 * in its own process group with an allow-listed environment, kills the whole group after
 * the timeout, and calls done with the exit status (or -signal, or -ETIMEDOUT as a
 * negative errno-like code below -1000) and the output it kept.
 */
typedef void	 sandbox_done_cb(struct hookd *, void *arg, int status, int timed_out,
		    const char *output, size_t outlen);
int	 sandbox_init(struct hookd *);
int	 sandbox_start(struct hookd *, const char *repo, long pr, const char *branch,
	    sandbox_done_cb *, void *arg);
void	 sandbox_free(struct hookd *);
void	 sandbox_sigchld(struct hookd *);
int	 sandbox_running(struct hookd *);

#endif
