/* See LICENSE. A bare lib/http + lib/hub server for bench/ws/run.sh: the hub alone, no daemon. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "hub.h"
#include "log.h"
#include "loop.h"

/*
 * GET /ws/events[?since=N]	a client of the hub
 * GET /publish?n=N&size=S&sync=1
 *				publish N events {"t":NS,"i":K,"pad":"x..."} where NS is
 *				CLOCK_MONOTONIC in nanoseconds when hub_publish is called;
 *				answers "FIRST LAST FLUSH_NS". With sync=1 it calls hub_flush
 *				at once and FLUSH_NS is the time from the first hub_publish to
 *				the return of hub_flush: every byte handed to every client's
 *				socket. Without, the loop sends (as in a daemon), FLUSH_NS 0.
 * GET /stats			"clients=N rss_kb=K"
 * Listens on 127.0.0.1 (port -p, default any), prints the port on stdout.
 */

struct app {
	struct loop		 l;
	struct http_server	 srv;
	struct hub		 hub;
	struct buf		 b;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static unsigned long
qnum(const char *q, const char *name, unsigned long dflt)
{
	size_t n = strlen(name);

	for (; q && *q; q += strcspn(q, "&"), q += *q == '&')
		if (strncmp(q, name, n) == 0 && q[n] == '=')
			return strtoul(q + n + 1, NULL, 10);
	return dflt;
}

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void
request(struct http_server *srv, struct http_request *r, void *arg)
{
	struct app *app = arg;
	struct buf *b = &app->b;
	static char pad[8192];
	unsigned long i, n, size;
	uint64_t since, first = 0, last = 0, t0 = 0;

	buf_reset(b);
	if (strcmp(r->path, "/ws/events") == 0) {
		if (hub_parse_since(r->query, &since) == -1)
			http_respond_simple(srv, r->id, 400, "text/plain", "bad since\n", 10);
		else
			hub_accept(&app->hub, srv, r->id, since);
		return;
	}
	if (strcmp(r->path, "/publish") == 0) {
		n = qnum(r->query, "n", 1);
		size = qnum(r->query, "size", 0);
		if (size >= sizeof(pad))
			size = sizeof(pad) - 1;
		memset(pad, 'x', size);
		pad[size] = '\0';
		for (i = 0; i < n; i++) {
			char data[8300];
			uint64_t t = mono_ns();

			if (t0 == 0)
				t0 = t;
			snprintf(data, sizeof(data), "{\"t\":%llu,\"i\":%lu,\"pad\":\"%s\"}",
			    (unsigned long long)t, i, pad);
			last = hub_publish(&app->hub, "bench", "tick", data);
			if (first == 0)
				first = last;
		}
		if (qnum(r->query, "sync", 0)) {
			hub_flush(&app->hub);
			t0 = mono_ns() - t0;
		} else
			t0 = 0;
		buf_addf(b, "%llu %llu %llu\n", (unsigned long long)first,
		    (unsigned long long)last, (unsigned long long)t0);
	} else if (strcmp(r->path, "/stats") == 0)
		buf_addf(b, "clients=%llu rss_kb=%ld closed_slow=%llu ping_timeouts=%llu\n",
		    (unsigned long long)app->hub.stats.clients, rss_kb(),
		    (unsigned long long)app->hub.stats.closed_slow,
		    (unsigned long long)app->hub.stats.ping_timeouts);
	else {
		http_respond_simple(srv, r->id, 404, "text/plain", "not found\n", 10);
		return;
	}
	http_respond_simple(srv, r->id, 200, "text/plain", b->p, b->len);
}

static void
term(struct loop *l, int signo, void *arg)
{
	loop_stop(l);
}

int
main(int argc, char **argv)
{
	struct http_config cfg;
	struct hub_config hc;
	struct app *app;
	int c, port = 0;

	log_prog = "hubd";
	while ((c = getopt(argc, argv, "p:")) != -1) {
		if (c == 'p')
			port = atoi(optarg);
		else {
			fprintf(stderr, "usage: hubd [-p port]\n");
			return 100;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if ((app = calloc(1, sizeof(*app))) == NULL || loop_init(&app->l) == -1)
		log_fatalsys(111, "unable to start");
	buf_init(&app->b, 1024 * 1024);
	http_config_default(&cfg);
	cfg.request = request;
	cfg.arg = app;
	cfg.backlog = 4096;
	cfg.conns_max = 4096;
	if (http_server_init(&app->srv, &app->l, &cfg) == -1 ||
	    http_listen(&app->srv, "127.0.0.1", port) == -1)
		log_fatalsys(111, "unable to listen");
	hub_config_default(&hc);
	hc.clients_max = 1 << 16;
	if (hub_init(&app->hub, &app->l, &hc) == -1)
		log_fatalsys(111, "unable to set up the hub");
	if (loop_signal(&app->l, SIGTERM, term, app) == -1 ||
	    loop_signal(&app->l, SIGINT, term, app) == -1)
		log_fatalsys(111, "unable to catch signals");
	printf("%d\n", http_port(&app->srv));
	fflush(stdout);
	loop_run(&app->l);
	hub_free(&app->hub);
	http_server_free(&app->srv);
	loop_free(&app->l);
	buf_free(&app->b);
	free(app);
	return 0;
}
