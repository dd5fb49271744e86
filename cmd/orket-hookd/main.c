/* See LICENSE. orket-hookd: the Gitea webhook receiver. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "dotenv.h"
#include "hmac.h"
#include "hookd.h"
#include "committer.h"
#include "verify.h"
#include "server.h"


static const char usage[] =
    "usage: orket-hookd [-d fd] [--env-file path]\n"
    "       orket-hookd -h | --help | --version\n";

void
hookd_event(struct hookd *h, const char *event, const char *data)
{
	if (h->ev.fd == -1)
		return;
	pthread_mutex_lock(&h->evmu);	/* the committer writes events too */
	if (evlog_write(&h->ev, "hookd", event, data) == -1)
		log_warnsys("unable to write the event log %s", h->ev.path);
	pthread_mutex_unlock(&h->evmu);
}

void
hookd_db_lock(struct hookd *h)
{
	pthread_mutex_lock(&h->dbmu);
}

void
hookd_db_unlock(struct hookd *h)
{
	pthread_mutex_unlock(&h->dbmu);
}

sqlite3_stmt *
hookd_stmt(struct hookd *h, int i, const char *sql)
{
	if (i < 0 || i >= HOOKD_STMTS)
		return NULL;
	if (h->st[i] == NULL && sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &h->st[i], NULL) != SQLITE_OK) {
		h->st[i] = NULL;
		return NULL;
	}
	sqlite3_reset(h->st[i]);
	return h->st[i];
}

/* SIGHUP: read the files again over the original environment; keep the old on error. */
static void
reload(struct loop *l, int signo, void *arg)
{
	struct hookd *h = arg;
	struct hookd_config c;
	char err[512];

	env_restore(h->env0);
	if (dotenv_load_files(h->env_file, err, sizeof(err)) == -1 || hookd_config_load(&c, err,
	    sizeof(err)) == -1) {
		log_warn("reload refused, the configuration in force is kept: %s", err);
		hookd_event(h, "config_reload_failed", NULL);
		return;
	}
	/* What is bound already stays: the listening address needs a restart. */
	if (strcmp(c.host, h->cfg.host) != 0 || (c.port != h->cfg.port && h->cfg.port != 0))
		log_warn("reload: a new listening address takes effect at the next start");
	c.port = h->cfg.port;
	hookd_db_lock(h);	/* the committer reads the configuration */
	hookd_config_free(&h->cfg);
	h->cfg = c;
	hookd_db_unlock(h);
	h->rate.limit = h->cfg.rate_limit;
	outbox_reload(h);
	log_info("configuration reloaded%s", h->cfg.secret_prev ?
	    " (the previous secret is accepted too)" : "");
	hookd_event(h, "config_reloaded", h->cfg.secret_prev ?
	    "{\"previous_secret\":true}" : "{\"previous_secret\":false}");
}

static void
terminate(struct loop *l, int signo, void *arg)
{
	struct hookd *h = arg;

	if (h->stopping++) {
		loop_stop(l);	/* a second signal: stop now */
		return;
	}
	log_info("stopping: finishing the requests in progress");
	http_shutdown(&h->srv);
	outbox_idle(h);
}

static void
child(struct loop *l, int signo, void *arg)
{
	sandbox_sigchld(arg);
}

/* While stopping: exit once every connection is gone and nothing is in flight. */
static void
check_stop(struct loop *l, void *arg)
{
	struct hookd *h = arg;

	if (h->stopping && http_nconns(&h->srv) == 0 && h->batch == NULL && outbox_idle(h) &&
	    verifier_idle(h) && !committer_busy(h))
		loop_stop(l);
}

static int
run(struct hookd *h, int readyfd)
{
	struct db_err de;
	char err[512];
	int code = 111;

	if (db_tune() == -1)
		log_warn("unable to set SQLite's allocator; using its own");
	if (db_open_migrated(&h->db, h->cfg.webhook_db, "webhook", &de) == -1)
		log_fatal(de.code == 1 ? 100 : de.code, "%s", de.msg);
	if (h->cfg.durability_full)
		sqlite3_exec(h->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (checkpoint_start(h) == -1)
		log_fatalsys(111, "unable to start the checkpoint thread for %s", h->cfg.webhook_db);
	if (evlog_open(&h->ev, h->cfg.event_log, 0, EVLOG_KEEP_DEFAULT) == -1)
		log_fatalsys(111, "unable to open the event log %s", h->cfg.event_log);
	if (rate_init(&h->rate, h->cfg.rate_limit) == -1 || loop_init(&h->loop) == -1)
		log_fatalsys(111, "unable to set up");
	if (loop_signal(&h->loop, SIGTERM, terminate, h) == -1 ||
	    loop_signal(&h->loop, SIGINT, terminate, h) == -1 ||
	    loop_signal(&h->loop, SIGHUP, reload, h) == -1 ||
	    loop_signal(&h->loop, SIGCHLD, child, h) == -1)
		log_fatalsys(111, "unable to catch signals");
	signal(SIGPIPE, SIG_IGN);
	if (server_start(h) == -1)
		log_fatalsys(111, "unable to listen on %s port %d", h->cfg.host, h->cfg.port);
	if (outbox_init(h) == -1 || sandbox_init(h) == -1)
		log_fatalsys(111, "unable to start the outbox");
	if (loop_on_turn(&h->loop, check_stop, h) == -1)
		log_fatalsys(111, "unable to set up");
	log_info("listening on http://%s:%d/ (database %s)", h->cfg.host, http_port(&h->srv),
	    h->cfg.webhook_db);
	snprintf(err, sizeof(err), "{\"message\":\"Starting webhook server on %s:%d\"}",
	    h->cfg.host, http_port(&h->srv));
	hookd_event(h, "webhook_server", err);
	if (readyfd != -1) {
		if (write(readyfd, "\n", 1) != 1)
			log_warnsys("unable to write to the notification fd");
		close(readyfd);
	}
	if (loop_run(&h->loop) == 0)
		code = 0;
	hookd_flush(h);
	checkpoint_stop(h);
	sandbox_free(h);
	outbox_free(h);
	server_free(h);
	return code;
}

int
main(int argc, char **argv)
{
	struct hookd h;
	char err[512];
	int i, readyfd = -1, code;
	pthread_mutexattr_t ma;

	log_prog = "orket-hookd";
	memset(&h, 0, sizeof(h));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&h.dbmu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&h.evmu, NULL);
	h.ev.fd = -1;
	cli_init(usage);
	cli_daemon_args(argc, argv, "orket-hookd " ORKET_VERSION, &readyfd,
	    &h.env_file);
	if ((h.env0 = env_snapshot()) == NULL)
		log_fatalsys(111, "unable to copy the environment");
	if (dotenv_load_files(h.env_file, err, sizeof(err)) == -1)
		log_fatal(100, "%s", err);
	if (hookd_config_load(&h.cfg, err, sizeof(err)) == -1)
		log_fatal(100, "%s", err);
	code = run(&h, readyfd);
	for (i = 0; i < HOOKD_STMTS; i++)
		sqlite3_finalize(h.st[i]);
	db_close(h.db);
	sqlite3_shutdown();	/* db_tune's cached blocks */
	evlog_close(&h.ev);
	rate_free(&h.rate);
	loop_free(&h.loop);
	hookd_config_free(&h.cfg);
	env_free(h.env0);
	pthread_mutex_destroy(&h.dbmu);
	pthread_mutex_destroy(&h.evmu);
	log_info("stopped");
	return code;
}
