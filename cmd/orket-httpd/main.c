/* See LICENSE. orket-httpd: the Orket API server. */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "dotenv.h"
#include "hmac.h"
#include "httpd.h"


static const char usage[] =
    "usage: orket-httpd [-d fd] [--env-file path]\n"
    "       orket-httpd -h | --help | --version\n";

/*
 * A runner inside the workspace could be replaced through POST /v1/system/save and then
 * run by the next run-active: the server would execute what a client wrote. Refused.
 */
static int
runner_check(const struct httpd *h, const struct httpd_config *c, char *err, size_t errlen)
{
	char real[PATH_MAX];
	size_t n;

	if (c->runner_argc == 0 || strchr(c->runner_argv[0], '/') == NULL ||
	    h->rootpath == NULL || realpath(c->runner_argv[0], real) == NULL)
		return 0;
	n = strlen(h->rootpath);
	if (strncmp(real, h->rootpath, n) == 0 && (real[n] == '/' || real[n] == '\0')) {
		snprintf(err, errlen, "ORKET_RUNNER %s is inside the workspace %s, where clients "
		    "can write", c->runner_argv[0], c->workspace);
		return -1;
	}
	return 0;
}

/* SIGHUP: read the files again over the original environment; keep the old on error. */
static void
reload(struct loop *l, int signo, void *arg)
{
	struct httpd *h = arg;
	struct httpd_config c;
	char err[512], err2[512], *t;
	int rootchange = 0;

	env_restore(h->env0);
	memset(&c, 0, sizeof(c));
	if (dotenv_load_files(h->env_file, err, sizeof(err)) == -1 || httpd_config_load(&c, err,
	    sizeof(err)) == -1)
		goto refuse;
	rootchange = strcmp(c.workspace, h->cfg.workspace) != 0 ||
	    c.resolve_walk != h->cfg.resolve_walk;
	if (rootchange && files_open_root(h, c.workspace, c.resolve_walk, err,
	    sizeof(err)) == -1)
		goto refuse;
	if (runner_check(h, &c, err, sizeof(err)) == -1) {
		if (rootchange && files_open_root(h, h->cfg.workspace, h->cfg.resolve_walk, err2,
		    sizeof(err2)) == -1)
			log_warn("%s", err2);
		goto refuse;
	}
	/* What is bound or open stays: a new address, database or log needs a restart. */
	if (strcmp(c.host, h->cfg.host) != 0 || (c.port != h->cfg.port && h->cfg.port != 0) ||
	    strcmp(c.runtime_db, h->cfg.runtime_db) != 0 ||
	    strcmp(c.event_log, h->cfg.event_log) != 0 || c.conns_max != h->cfg.conns_max)
		log_warn("reload: a new address, database, event log or connection cap takes "
		    "effect at the next start");
	c.port = h->cfg.port;
	c.conns_max = h->cfg.conns_max;
	t = c.host, c.host = h->cfg.host, h->cfg.host = t;
	t = c.runtime_db, c.runtime_db = h->cfg.runtime_db, h->cfg.runtime_db = t;
	t = c.event_log, c.event_log = h->cfg.event_log, h->cfg.event_log = t;
	httpd_config_free(&h->cfg);
	h->cfg = c;
	log_info("configuration reloaded");
	httpd_emit(h, "system", "config_reloaded", NULL);
	return;
refuse:
	httpd_config_free(&c);
	log_warn("reload refused, the configuration in force is kept: %s", err);
	httpd_emit(h, "system", "config_reload_failed", NULL);
}

static void
terminate(struct loop *l, int signo, void *arg)
{
	struct httpd *h = arg;

	if (h->stopping++) {
		/* A second signal: kill the runs now; runs_free reaps and records them. */
		loop_stop(l);
		return;
	}
	log_info("stopping: finishing the requests in progress and stopping %d run(s)",
	    h->nruns);
	http_shutdown(&h->srv);
	if (h->hub_on)
		hub_shutdown(&h->hub);
	runs_stop_all(h, SIGTERM);
}

static void
child(struct loop *l, int signo, void *arg)
{
	runs_sigchld(arg);
}

/* While stopping: exit once every connection and every run is gone. */
static void
check_stop(struct loop *l, void *arg)
{
	struct httpd *h = arg;

	if (h->stopping && http_nconns(&h->srv) == 0 && h->nruns == 0 &&
	    (!h->hub_on || hub_nclients(&h->hub) == 0))
		loop_stop(l);
}

/* This program's own path, re-executed as the built-in runner. */
static void
find_self(struct httpd *h, const char *argv0)
{
	ssize_t n;

	n = readlink("/proc/self/exe", h->self, sizeof(h->self) - 1);
	if (n > 0 && (size_t)n < sizeof(h->self) - 1) {
		h->self[n] = '\0';
		return;
	}
	if (strchr(argv0, '/') == NULL || realpath(argv0, h->self) == NULL)
		h->self[0] = '\0';
}

/* Everything the daemon holds, released; safe at any point of the start. */
static void
teardown(struct httpd *h)
{
	int i;

	runs_free(h);
	h->hook = NULL;
	if (h->hub_on) {
		hub_free(&h->hub);
		h->hub_on = 0;
	}
	server_free(h);
	for (i = 0; i < HTTPD_STMTS; i++) {
		sqlite3_finalize(h->st[i]);
		h->st[i] = NULL;
	}
	db_close(h->db);
	h->db = NULL;
	evlog_close(&h->ev);
	files_close_root(h);
	loop_free(&h->loop);
	httpd_config_free(&h->cfg);
	env_free(h->env0);
	h->env0 = NULL;
}

/* A failure to start: release everything (valgrind sees no leak), then say it and exit. */
static void __attribute__((noreturn, format(printf, 4, 5)))
die(struct httpd *h, int code, int sys, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	teardown(h);
	errno = e;
	if (sys)
		log_fatalsys(code, "%s", msg);
	log_fatal(code, "%s", msg);
}

/* Every event httpd_emit writes is broadcast to the /ws/events clients too. */
static void
publish(struct httpd *h, const char *role, const char *event, const char *data, void *arg)
{
	if (hub_publish(&h->hub, role, event, data) == 0)
		log_warnsys("unable to broadcast the event %s", event);
}

/*
 * Each websocket client is a descriptor: take what the hard limit allows, so that the
 * 10,000 clients of the design fit where the machine lets them.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
run(struct httpd *h, int readyfd)
{
	struct hub_config hc;
	struct db_err de;
	char msg[512];
	int code = 111;

	if (db_open_migrated(&h->db, h->cfg.runtime_db, "runtime", &de) == -1)
		die(h, de.code == 1 ? 100 : de.code, 0, "%s", de.msg);
	if (evlog_open(&h->ev, h->cfg.event_log, 0, EVLOG_KEEP_DEFAULT) == -1)
		die(h, 111, 1, "unable to open the event log %s", h->cfg.event_log);
	if (files_open_root(h, h->cfg.workspace, h->cfg.resolve_walk, msg, sizeof(msg)) == -1)
		die(h, 111, 0, "%s", msg);
	if (runner_check(h, &h->cfg, msg, sizeof(msg)) == -1)
		die(h, 100, 0, "%s", msg);
	raise_nofile();
	if (loop_init(&h->loop) == -1)
		die(h, 111, 1, "unable to set up");
	if (loop_signal(&h->loop, SIGTERM, terminate, h) == -1 ||
	    loop_signal(&h->loop, SIGINT, terminate, h) == -1 ||
	    loop_signal(&h->loop, SIGHUP, reload, h) == -1 ||
	    loop_signal(&h->loop, SIGCHLD, child, h) == -1)
		die(h, 111, 1, "unable to catch signals");
	signal(SIGPIPE, SIG_IGN);
	if (server_start(h) == -1)
		die(h, 111, 1, "unable to listen on %s port %d", h->cfg.host, h->cfg.port);
	hub_config_default(&hc);
	if (hub_init(&h->hub, &h->loop, &hc) == -1)
		die(h, 111, 1, "unable to set up the event hub");
	h->hub_on = 1;
	h->hook = publish;
	if (loop_on_turn(&h->loop, check_stop, h) == -1)
		die(h, 111, 1, "unable to set up");
	sysmetrics_init(h);
	if (runs_orphans(h) == -1)
		die(h, 111, 0, "unable to mark interrupted runs: %s", sqlite3_errmsg(h->db));
	log_info("listening on http://%s:%d/ (database %s, workspace %s resolved by %s)",
	    h->cfg.host, http_port(&h->srv), h->cfg.runtime_db, h->cfg.workspace,
	    h->openat2 ? "openat2" : "an O_NOFOLLOW walk");
	snprintf(msg, sizeof(msg), "{\"message\":\"Starting API server on %s:%d\"}",
	    h->cfg.host, http_port(&h->srv));
	httpd_emit(h, "system", "api_server", msg);
	if (readyfd != -1) {
		if (write(readyfd, "\n", 1) != 1)
			log_warnsys("unable to write to the notification fd");
		close(readyfd);
	}
	if (loop_run(&h->loop) == 0)
		code = 0;
	teardown(h);
	return code;
}

int
main(int argc, char **argv)
{
	struct httpd h;
	char err[512];
	int readyfd = -1, code;

	log_prog = "orket-httpd";
	/* Hidden: the built-in runner is this program again (see builtin.c). */
	if (argc >= 2 && strcmp(argv[1], "--builtin-runner") == 0)
		return builtin_runner(argc - 2, argv + 2);
	memset(&h, 0, sizeof(h));
	h.ev.fd = -1;
	h.rootfd = -1;
	h.loop.epfd = h.loop.sigfd = -1;
	cli_init(usage);
	cli_daemon_args(argc, argv, "orket-httpd " ORKET_VERSION, &readyfd,
	    &h.env_file);
	if ((h.env0 = env_snapshot()) == NULL)
		log_fatalsys(111, "unable to copy the environment");
	if (dotenv_load_files(h.env_file, err, sizeof(err)) == -1)
		log_fatal(100, "%s", err);
	if (httpd_config_load(&h.cfg, err, sizeof(err)) == -1)
		log_fatal(100, "%s", err);
	find_self(&h, argv[0]);
	code = run(&h, readyfd);
	log_info("stopped");
	return code;
}
