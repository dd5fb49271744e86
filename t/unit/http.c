/* See LICENSE. Unit tests for lib/http: a server in a forked child, raw sockets here. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "tap.h"

/* Short deadlines keep the run short. */
#define T_HEADER_MS	300
#define T_BODY_MS	500
#define T_IDLE_MS	600
#define T_WRITE_MS	300
#define T_LINGER_MS	300
#define T_BODY_MAX	(64 * 1024)
#define T_SMALL_MAX	1024
#define T_SLOW_MS	200
#define T_BIG		(8 * 1024 * 1024)
#define T_CAP		4
#define T_NSLOW		16
#define T_NDEFER	64
#define RD_MAX		(512 * 1024)

/* The server side: everything the child has, in one struct. */
struct app;

struct slow {
	struct loop_timer	 t;
	uint64_t		 id;
	struct app		*app;
	int			 used;
};

struct app {
	struct loop		 l;
	struct http_server	 a, b;
	uint64_t		 deferred[T_NDEFER];
	int			 ndeferred;
	struct slow		 slow[T_NSLOW];
	int			 gone;
	int			 stale;
	int			 drained;
	char			*big;
	struct buf		 scratch;
};

static void
reply(struct http_server *srv, uint64_t id, int status, const char *body, size_t len)
{
	http_respond_simple(srv, id, status, "text/plain", body, len);
}

static void
slow_fire(struct loop *l, struct loop_timer *t, void *arg)
{
	struct slow *s = arg;

	s->used = 0;
	if (http_respond_simple(&s->app->a, s->id, 200, "text/plain", "slow\n", 5) == -1 &&
	    errno == ENOENT)
		s->app->stale++;
}

static void
head_a(struct http_server *srv, struct http_request *r, void *arg)
{
	struct http_response resp;

	if (strcmp(r->path, "/small") == 0)
		r->body_max = T_SMALL_MAX;
	else if (strcmp(r->path, "/limited") == 0) {
		memset(&resp, 0, sizeof(resp));
		resp.status = 429;
		resp.content_type = "text/plain";
		resp.body = "slow down\n";
		resp.bodylen = 10;
		resp.headers = "Retry-After: 7\r\n";
		http_respond(srv, r->id, &resp);
	} else if (strcmp(r->path, "/nope") == 0)
		reply(srv, r->id, 404, "no\n", 3);
}

static void
request_a(struct http_server *srv, struct http_request *r, void *arg)
{
	struct app *app = arg;
	struct buf *b = &app->scratch;
	const struct http_stats *st = &srv->stats;
	int i;

	buf_reset(b);
	if (strcmp(r->path, "/echo") == 0 || strcmp(r->path, "/small") == 0) {
		buf_addf(b, "%s %s q=%s n=%zu\n", r->method_str, r->path,
		    r->query ? r->query : "", r->bodylen);
		buf_add(b, r->body, r->bodylen);
		reply(srv, r->id, 200, b->p, b->len);
	} else if (strcmp(r->path, "/p") == 0)
		reply(srv, r->id, 200, r->query ? r->query : "", r->query ? strlen(r->query) : 0);
	else if (strcmp(r->path, "/defer") == 0 && app->ndeferred < T_NDEFER)
		app->deferred[app->ndeferred++] = r->id;
	else if (strcmp(r->path, "/slow") == 0) {
		for (i = 0; i < T_NSLOW && app->slow[i].used; i++)
			;
		if (i == T_NSLOW) {
			reply(srv, r->id, 503, "busy\n", 5);
			return;
		}
		app->slow[i].used = 1;
		app->slow[i].id = r->id;
		loop_timer_set(&app->l, &app->slow[i].t, T_SLOW_MS);
	} else if (strcmp(r->path, "/big") == 0)
		reply(srv, r->id, 200, app->big, T_BIG);
	else if (strcmp(r->path, "/stats") == 0) {
		buf_addf(b, "gone=%d stale=%d gone_stat=%llu bad=%llu url=%llu hdr=%llu "
		    "body=%llu t_header=%llu t_body=%llu t_idle=%llu t_write=%llu "
		    "c413=%llu c431=%llu rejected_b=%llu conns=%llu\n",
		    app->gone, app->stale, (unsigned long long)st->gone,
		    (unsigned long long)st->bad_requests,
		    (unsigned long long)st->rejected_url,
		    (unsigned long long)st->rejected_headers,
		    (unsigned long long)st->rejected_body,
		    (unsigned long long)st->timeout_header,
		    (unsigned long long)st->timeout_body,
		    (unsigned long long)st->timeout_idle,
		    (unsigned long long)st->timeout_write,
		    (unsigned long long)st->by_code[413 - 100],
		    (unsigned long long)st->by_code[431 - 100],
		    (unsigned long long)app->b.stats.rejected_conns,
		    (unsigned long long)st->conns);
		reply(srv, r->id, 200, b->p, b->len);
	} else
		reply(srv, r->id, 404, "not found\n", 10);
}

static void
request_b(struct http_server *srv, struct http_request *r, void *arg)
{
	reply(srv, r->id, 200, "b\n", 2);
}

static void
gone_a(struct http_server *srv, struct http_request *r, void *arg)
{
	((struct app *)arg)->gone++;
}

static void
drained(struct http_server *srv, void *arg)
{
	struct app *app = arg;

	if (++app->drained == 2)
		loop_stop(&app->l);
}

/* The end of the turn: where hookd commits, then answers what it deferred. */
static void
turn(struct loop *l, void *arg)
{
	struct app *app = arg;
	char msg[32];
	int i;

	for (i = 0; i < app->ndeferred; i++) {
		snprintf(msg, sizeof(msg), "deferred %d\n", i);
		http_respond_simple(&app->a, app->deferred[i], 200, "text/plain", msg,
		    strlen(msg));
	}
	app->ndeferred = 0;
}

static void
term(struct loop *l, int signo, void *arg)
{
	struct app *app = arg;

	http_shutdown(&app->a);
	http_shutdown(&app->b);
}

static int
child(int wfd)
{
	struct http_config cfg;
	struct app *app;
	char line[64];
	int i, rc = 0, p6 = 0;

	if ((app = calloc(1, sizeof(*app))) == NULL || (app->big = malloc(T_BIG)) == NULL)
		return 1;
	memset(app->big, 'x', T_BIG);
	buf_init(&app->scratch, 1024 * 1024);
	for (i = 0; i < T_NSLOW; i++) {
		loop_timer_init(&app->slow[i].t, slow_fire, &app->slow[i]);
		app->slow[i].app = app;
	}
	if (loop_init(&app->l) == -1)
		return 1;
	http_config_default(&cfg);
	cfg.header_ms = T_HEADER_MS;
	cfg.body_ms = T_BODY_MS;
	cfg.idle_ms = T_IDLE_MS;
	cfg.write_ms = T_WRITE_MS;
	cfg.linger_ms = T_LINGER_MS;
	cfg.body_max = T_BODY_MAX;
	cfg.date = 0;
	cfg.head = head_a;
	cfg.request = request_a;
	cfg.gone = gone_a;
	cfg.drained = drained;
	cfg.arg = app;
	if (http_server_init(&app->a, &app->l, &cfg) == -1 ||
	    http_listen(&app->a, "127.0.0.1", 0) == -1)
		return 1;
	if (http_listen(&app->a, "::1", 0) == 0)
		p6 = app->a.ls[1].port;
	cfg.conns_max = T_CAP;
	cfg.head = NULL;
	cfg.request = request_b;
	cfg.gone = NULL;
	cfg.date = 1;
	cfg.server = "orket-test";
	if (http_server_init(&app->b, &app->l, &cfg) == -1 ||
	    http_listen(&app->b, "127.0.0.1", 0) == -1)
		return 1;
	if (loop_on_turn(&app->l, turn, app) == -1 ||
	    loop_signal(&app->l, SIGTERM, term, app) == -1)
		return 1;
	snprintf(line, sizeof(line), "%d %d %d\n", http_port(&app->a), http_port(&app->b), p6);
	if (write(wfd, line, strlen(line)) != (ssize_t)strlen(line))
		return 1;
	close(wfd);
	if (loop_run(&app->l) == -1)
		rc = 1;
	http_server_free(&app->a);
	http_server_free(&app->b);
	loop_free(&app->l);
	buf_free(&app->scratch);
	free(app->big);
	free(app);
	return rc;
}

/* The client side. */

struct rd {
	int	 fd;
	char	*buf;
	size_t	 len;
};

struct resp {
	int	 status;
	char	 head[8192];
	char	*body;
	size_t	 bodylen;
};

static int port_a, port_b, port_6;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
dial(int port, int family, int rcvbuf)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	int fd, one = 1;

	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (family == AF_INET) {
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = htons((uint16_t)port);
		s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&s4, sizeof(s4)) == 0)
			return fd;
	} else {
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons((uint16_t)port);
		s6.sin6_addr = in6addr_loopback;
		if (connect(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0)
			return fd;
	}
	close(fd);
	return -1;
}

static int
sendall(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, s, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
sends(int fd, const char *s)
{
	return sendall(fd, s, strlen(s));
}

static void
rd_open(struct rd *r, int fd)
{
	r->fd = fd;
	r->len = 0;
	if (r->buf == NULL)
		r->buf = malloc(RD_MAX);
}

/* One read, waiting at most ms: bytes read, 0 at EOF, -1 on timeout or error. */
static ssize_t
rd_fill(struct rd *r, int ms)
{
	struct pollfd pfd;
	ssize_t n;

	if (r->len == RD_MAX)
		return -1;
	pfd.fd = r->fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = read(r->fd, r->buf + r->len, RD_MAX - r->len);
	if (n > 0)
		r->len += (size_t)n;
	return n;
}

/* Read one response (head says: no body whatever Content-Length says). */
static int
rd_resp(struct rd *r, struct resp *out, int head, int ms)
{
	char *e, *cl;
	size_t hl, blen;

	free(out->body);
	out->body = NULL;
	out->bodylen = 0;
	out->status = -1;
	out->head[0] = '\0';
	for (;;) {
		if ((e = memmem(r->buf, r->len, "\r\n\r\n", 4)) != NULL) {
			hl = (size_t)(e + 4 - r->buf);
			if (hl >= sizeof(out->head))
				return -1;
			memcpy(out->head, r->buf, hl);
			out->head[hl] = '\0';
			if (sscanf(out->head, "HTTP/1.1 %d ", &out->status) != 1)
				return -1;
			blen = 0;
			if (!head && (cl = strcasestr(out->head, "\r\nContent-Length: ")) != NULL)
				blen = strtoul(cl + 18, NULL, 10);
			if (r->len >= hl + blen) {
				out->body = malloc(blen + 1);
				memcpy(out->body, r->buf + hl, blen);
				out->body[blen] = '\0';
				out->bodylen = blen;
				memmove(r->buf, r->buf + hl + blen, r->len - hl - blen);
				r->len -= hl + blen;
				return 0;
			}
		}
		if (rd_fill(r, ms) <= 0)
			return -1;
	}
}

/* Does the server close the connection, sending nothing more, within ms? */
static int
rd_eof(struct rd *r, int ms)
{
	ssize_t n;

	if (r->len > 0)
		return 0;
	n = rd_fill(r, ms);
	if (n == 0)
		return 1;
	if (n == -1 && errno == ECONNRESET)
		return 1;
	return 0;
}

static int
has(const struct resp *p, const char *s)
{
	return strcasestr(p->head, s) != NULL;
}

/*
 * One request on a fresh connection: the status, or -1. With closed, also whether the
 * server then closed the connection.
 */
static struct rd R;

static int
once(int port, const char *req, size_t len, struct resp *out, int *closed)
{
	int fd, st = -1;

	if ((fd = dial(port, AF_INET, 0)) == -1)
		return -1;
	rd_open(&R, fd);
	if (sendall(fd, req, len) == 0 && rd_resp(&R, out, 0, 2000) == 0)
		st = out->status;
	if (closed)
		*closed = st != -1 && rd_eof(&R, 1500);
	close(fd);
	return st;
}

static int
onces(int port, const char *req, struct resp *out, int *closed)
{
	return once(port, req, strlen(req), out, closed);
}

static unsigned long long
stat_of(const char *body, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "%s=", key);
	if ((p = strstr(body, k)) == NULL)
		return (unsigned long long)-1;
	return strtoull(p + strlen(k), NULL, 10);
}

static void
get_stats(struct resp *p)
{
	onces(port_a, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", p, NULL);
}

static void
t_basic(void)
{
	struct resp p = { 0 };
	int closed, fd, i, okk;
	struct rd r = { 0 };

	is_int(onces(port_a, "GET /echo?a=1 HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 200,
	    "GET");
	is_str(p.body, "GET /echo q=a=1 n=0\n", "GET: method, path, query, no body");
	ok(has(&p, "\r\nContent-Type: text/plain\r\n") && has(&p, "\r\nContent-Length: 20\r\n") &&
	    !has(&p, "Connection:") && !has(&p, "Date:"),
	    "GET: Content-Type, Content-Length, no Connection, Date off");
	is_int(onces(port_a, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
	    &p, NULL), 200, "POST");
	is_str(p.body, "POST /echo q= n=5\nhello", "POST: the body");
	is_int(onces(port_a, "GET http://t/echo?z HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 200,
	    "absolute-form target");
	is_str(p.body, "GET /echo q=z n=0\n", "absolute-form: path and query");
	is_int(onces(port_a, "\r\nGET /echo HTTP/1.1\r\nHost: t\r\nX-Tab: a\tb\r\n\r\n", &p, NULL),
	    200, "a leading empty line and an HTAB in a value are fine");
	is_int(onces(port_a, "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 404,
	    "an unknown path from the request callback");
	is_int(onces(port_b, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 200,
	    "second server on the same loop");
	ok(has(&p, "\r\nDate: ") && has(&p, " GMT\r\n") && has(&p, "\r\nServer: orket-test\r\n"),
	    "Date and Server when configured");

	/* Keep-alive: three requests, one connection. */
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	for (okk = 1, i = 0; i < 3; i++) {
		char req[128];

		snprintf(req, sizeof(req), "GET /echo?k=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
		sends(fd, req);
		if (rd_resp(&r, &p, 0, 2000) != 0 || p.status != 200 ||
		    strstr(p.body, "q=k=") == NULL || p.body[strlen("GET /echo q=k=")] != '0' + i)
			okk = 0;
	}
	ok(okk, "keep-alive: 3 requests on one connection");

	/* Pipelining: three in one write, one of them deferred to the end of the turn. */
	sends(fd, "GET /echo?i=1 HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /defer HTTP/1.1\r\nHost: t\r\n\r\n"
	    "POST /echo?i=3 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && strcmp(p.body, "GET /echo q=i=1 n=0\n") == 0;
	okk = okk && rd_resp(&r, &p, 0, 2000) == 0 && strcmp(p.body, "deferred 0\n") == 0;
	okk = okk && rd_resp(&r, &p, 0, 2000) == 0 &&
	    strcmp(p.body, "POST /echo q=i=3 n=3\nabc") == 0;
	ok(okk, "pipelining: 3 requests in one write, answered in order, one deferred");

	/* HEAD: headers only, so the next response parses right after. */
	sends(fd, "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /echo?after HTTP/1.1\r\nHost: t\r\n\r\n");
	okk = rd_resp(&r, &p, 1, 2000) == 0 && p.status == 200 &&
	    has(&p, "\r\nContent-Length: 18\r\n");
	okk = okk && rd_resp(&r, &p, 0, 2000) == 0 &&
	    strcmp(p.body, "GET /echo q=after n=0\n") == 0;
	ok(okk, "HEAD: Content-Length but no body");

	/* A head callback answering a request without a body keeps the connection. */
	sends(fd, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 404;
	okk = okk && rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200;
	ok(okk, "404 from the head callback, connection kept");

	/* Expect: 100-continue. */
	sends(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
	    "Content-Length: 5\r\n\r\n");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 100;
	sends(fd, "12345");
	okk = okk && rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200 &&
	    strcmp(p.body, "POST /echo q= n=5\n12345") == 0;
	ok(okk, "Expect: 100-continue gets 100, then the answer");

	/* Connection: close is honoured. */
	sends(fd, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200 &&
	    has(&p, "\r\nConnection: close\r\n");
	ok(okk && rd_eof(&r, 1500), "Connection: close: answered, then closed");
	close(fd);

	is_int(onces(port_a, "GET /echo HTTP/1.0\r\n\r\n", &p, &closed), 200, "HTTP/1.0");
	ok(closed && has(&p, "\r\nConnection: close\r\n"), "HTTP/1.0 without keep-alive closes");
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	sends(fd, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200 &&
	    has(&p, "\r\nConnection: keep-alive\r\n");
	sends(fd, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	okk = okk && rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200;
	ok(okk, "HTTP/1.0 with keep-alive stays open");
	close(fd);
	is_int(onces(port_a, "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n", &p, &closed), 200, "an upgrade is answered as HTTP");
	ok(closed, "and the connection closed");
	is_int(onces(port_a, "CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n", &p, &closed), 405,
	    "CONNECT: 405");

	if (port_6) {
		fd = dial(port_6, AF_INET6, 0);
		rd_open(&r, fd);
		okk = fd != -1 && sends(fd, "GET /echo?v6 HTTP/1.1\r\nHost: t\r\n\r\n") == 0 &&
		    rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200;
		ok(okk, "IPv6 listener on ::1");
		close(fd);
	} else
		ok(1, "# SKIP no IPv6 loopback");
	free(r.buf);
	free(p.body);
}

static void
t_chunked(void)
{
	struct resp p = { 0 };
	char *req, *q;
	int closed, i;

	is_int(onces(port_a, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", &p, NULL), 200, "chunked");
	is_str(p.body, "POST /echo q= n=11\nhello world", "chunked: the body");
	is_int(onces(port_a, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "00A\r\n0123456789\r\n0\r\n\r\n", &p, NULL), 200,
	    "chunked: any case, upper-case hex, leading zeros");
	is_str(p.body, "POST /echo q= n=10\n0123456789", "chunked: that body");

	req = malloc(8192);
	/* Body caps: /small allows 1024. */
	for (i = 0; i < 2; i++) {
		q = req + sprintf(req, "POST /small HTTP/1.1\r\nHost: t\r\n"
		    "Content-Length: %d\r\n\r\n", T_SMALL_MAX + i);
		memset(q, 'b', T_SMALL_MAX + i);
		q[T_SMALL_MAX + i] = '\0';
		if (i == 0) {
			is_int(onces(port_a, req, &p, NULL), 200,
			    "Content-Length at the cap passes");
			ok(strstr(p.body, "n=1024\n") != NULL, "all of it");
		} else {
			/* Only the head: the 413 must come before the body is sent. */
			*q = '\0';
			is_int(onces(port_a, req, &p, &closed), 413,
			    "Content-Length one over the cap: 413 before the body");
			ok(closed, "and closed");
		}
		q = req + sprintf(req, "POST /small HTTP/1.1\r\nHost: t\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n200\r\n");
		memset(q, 'c', 512);
		q += 512;
		q += sprintf(q, "\r\n%x\r\n", 512 + i);
		memset(q, 'd', 512 + i);
		q += 512 + i;
		strcpy(q, "\r\n0\r\n\r\n");
		if (i == 0) {
			is_int(onces(port_a, req, &p, NULL), 200, "chunked body at the cap passes");
			ok(strstr(p.body, "n=1024\n") != NULL, "all of it");
		} else {
			is_int(onces(port_a, req, &p, &closed), 413,
			    "chunked one over the cap: 413");
			ok(closed, "and closed");
		}
	}
	free(req);
	free(p.body);
}

/* Send len bytes in pieces of random size, with a short pause now and then. */
static int
send_pieces(int fd, const char *p, size_t len)
{
	size_t n;

	while (len > 0) {
		n = 1 + (size_t)rand() % 7000;
		if (n > len)
			n = len;
		if (sendall(fd, p, n) == -1)
			return -1;
		if (rand() % 8 == 0)
			usleep(500);
		p += n;
		len -= n;
	}
	return 0;
}

/* Bodies larger than the input buffer, binary, as Content-Length and as many chunks. */
static void
t_large(void)
{
	struct resp p = { 0 };
	struct rd r = { 0 };
	size_t blen = T_BODY_MAX - 100, i, n, hl;
	char *body, *req, *q, expect[64];
	int fd, okk, mode;

	srand(42);
	hl = (size_t)snprintf(expect, sizeof(expect), "POST /echo q= n=%zu\n", blen);
	body = malloc(blen);
	for (i = 0; i < blen; i++)
		body[i] = (char)(rand() & 0xff);
	req = malloc(blen * 2 + 1024);
	for (mode = 0; mode < 2; mode++) {
		if (mode == 0) {
			q = req + sprintf(req, "POST /echo HTTP/1.1\r\nHost: t\r\n"
			    "Content-Length: %zu\r\n\r\n", blen);
			memcpy(q, body, blen);
			q += blen;
		} else {
			q = req + sprintf(req, "POST /echo HTTP/1.1\r\nHost: t\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n");
			for (i = 0; i < blen; i += n) {
				n = 1 + (size_t)rand() % 3000;
				if (n > blen - i)
					n = blen - i;
				q += sprintf(q, "%zx\r\n", n);
				memcpy(q, body + i, n);
				q += n;
				q = stpcpy(q, "\r\n");
			}
			q = stpcpy(q, "0\r\n\r\n");
		}
		/* Twice on one connection: the second must parse cleanly after the first. */
		fd = dial(port_a, AF_INET, 0);
		rd_open(&r, fd);
		okk = send_pieces(fd, req, (size_t)(q - req)) == 0 &&
		    send_pieces(fd, req, (size_t)(q - req)) == 0;
		for (i = 0; i < 2 && okk; i++) {
			okk = rd_resp(&r, &p, 0, 3000) == 0 && p.status == 200 &&
			    p.bodylen == hl + blen && memcmp(p.body, expect, hl) == 0 &&
			    memcmp(p.body + hl, body, blen) == 0;
		}
		if (!okk)
			printf("# status %d, %zu body bytes for %zu\n", p.status, p.bodylen,
			    hl + blen);
		ok(okk, "a %zu-byte binary body (%s), twice on one connection, in random pieces",
		    blen, mode == 0 ? "Content-Length" : "many chunks");
		close(fd);
	}
	free(body);
	free(req);
	free(r.buf);
	free(p.body);
}

static void
t_caps(void)
{
	struct resp p = { 0 };
	char *req, *q;
	int i, n, closed;

	req = malloc(64 * 1024);
	/* The header section: Host line, one filler line, the empty line. */
	for (i = 0; i < 2; i++) {
		n = HTTP_HEADERS_MAX - 9 - 2 - 10 + i;
		q = req + sprintf(req, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Fill: ");
		memset(q, 'h', n);
		strcpy(q + n, "\r\n\r\n");
		if (i == 0)
			is_int(onces(port_a, req, &p, NULL), 200,
			    "header section of exactly %d bytes", HTTP_HEADERS_MAX);
		else {
			is_int(onces(port_a, req, &p, &closed), 431, "one byte more: 431");
			ok(closed, "and closed");
		}
	}
	for (i = 0; i < 2; i++) {
		q = req + sprintf(req, "GET /echo HTTP/1.1\r\nHost: t\r\n");
		for (n = 1; n < HTTP_NHEADERS_MAX + i; n++)
			q += sprintf(q, "X-H%d: v\r\n", n);
		strcpy(q, "\r\n");
		if (i == 0)
			is_int(onces(port_a, req, &p, NULL), 200, "%d header fields",
			    HTTP_NHEADERS_MAX);
		else
			is_int(onces(port_a, req, &p, NULL), 431, "%d header fields: 431",
			    HTTP_NHEADERS_MAX + 1);
	}
	for (i = 0; i < 2; i++) {
		q = req + sprintf(req, "GET /echo?");
		n = HTTP_URL_MAX - 6 + i;
		memset(q, 'u', n);
		strcpy(q + n, " HTTP/1.1\r\nHost: t\r\n\r\n");
		if (i == 0)
			is_int(onces(port_a, req, &p, NULL), 200, "URL of exactly %d bytes",
			    HTTP_URL_MAX);
		else
			is_int(onces(port_a, req, &p, NULL), 414, "one byte more: 414");
	}
	/* A request line that never ends: spaces after the URL. */
	q = req + sprintf(req, "GET /echo");
	memset(q, ' ', 20000);
	q[20000] = '\0';
	is_int(onces(port_a, req, &p, NULL), 431, "endless spaces in the request line: 431");
	free(req);
	free(p.body);
}

/* Every split of a sample must give the answer the whole gives. */
static void
t_split(const char *name, const char *sample)
{
	struct resp whole = { 0 }, p = { 0 };
	struct rd r = { 0 };
	size_t len = strlen(sample), i;
	int fd, bad = -1, st;

	st = onces(port_a, sample, &whole, NULL);
	ok(st == 200, "%s: whole request answered", name);
	for (i = 1; i < len && bad == -1; i++) {
		if ((fd = dial(port_a, AF_INET, 0)) == -1) {
			bad = (int)i;
			break;
		}
		rd_open(&r, fd);
		sendall(fd, sample, i);
		usleep(1500);
		sendall(fd, sample + i, len - i);
		if (rd_resp(&r, &p, 0, 2000) != 0 || p.status != whole.status ||
		    strcmp(p.head, whole.head) != 0 || p.bodylen != whole.bodylen ||
		    memcmp(p.body, whole.body, p.bodylen) != 0)
			bad = (int)i;
		close(fd);
	}
	if (bad != -1)
		printf("# differs when cut at %d: %d\n", bad, p.status);
	ok(bad == -1, "%s: cut at each of %zu places, sent in two parts: same answer",
	    name, len - 1);
	for (i = 1; i <= len; i++) {
		if ((fd = dial(port_a, AF_INET, 0)) == -1)
			break;
		sendall(fd, sample, i);
		close(fd);
	}
	ok(i > len, "%s: every prefix then close", name);
	is_int(onces(port_a, sample, &p, NULL), 200, "%s: the server still answers", name);
	free(r.buf);
	free(p.body);
	free(whole.body);
}

static void
t_bytes(void)
{
	struct resp p = { 0 };
	char req[256];
	int b, badu = 0, badh = 0, n;

	for (b = 0; b < 0x80; b++) {
		if ((b >= 0x20 && b != 0x7f) || b == '\t')
			continue;
		memcpy(req, "GET /ec", 7);
		req[7] = (char)b;
		strcpy(req + 8, "ho HTTP/1.1\r\nHost: t\r\n\r\n");
		if (once(port_a, req, 8 + strlen(req + 8), &p, NULL) != 400) {
			if (!badu)
				printf("# URL byte 0x%02x: %d\n", b, p.status);
			badu++;
		}
		n = sprintf(req, "GET /echo HTTP/1.1\r\nHost: t\r\nX-A: a");
		req[n] = (char)b;
		strcpy(req + n + 1, "b\r\n\r\n");
		if (once(port_a, req, n + 1 + strlen(req + n + 1), &p, NULL) != 400) {
			if (!badh)
				printf("# value byte 0x%02x: %d\n", b, p.status);
			badh++;
		}
	}
	ok(badu == 0, "each of the 32 control bytes and DEL in the URL: 400 (%d not)", badu);
	ok(badh == 0, "each of the 32 control bytes and DEL in a header value: 400 (%d not)", badh);
	is_int(onces(port_a, "GET /e\tcho HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 400,
	    "HTAB in the URL: 400");
	is_int(onces(port_a, "GET /echo\x80 HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 400,
	    "a byte over 0x7e in the URL: 400");
	is_int(onces(port_a, "GET /echo#frag HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 400,
	    "a fragment: 400");
	free(p.body);
}

static void
t_smuggling(void)
{
	static const struct {
		const char	*name;
		const char	*req;
	} cases[] = {
		{ "Content-Length and Transfer-Encoding",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
		{ "Transfer-Encoding then Content-Length",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 5\r\n\r\n0\r\n\r\n" },
		{ "two equal Content-Length",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
		  "\r\nhello" },
		{ "two different Content-Length",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
		  "\r\nhello!" },
		{ "Content-Length: 5, 5",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello" },
		{ "Transfer-Encoding: chunked, identity",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n"
		  "\r\n0\r\n\r\n" },
		{ "Transfer-Encoding: identity, chunked",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity, chunked\r\n"
		  "\r\n0\r\n\r\n" },
		{ "Transfer-Encoding: xchunked",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n"
		  "\r\n0\r\n\r\n" },
		{ "Transfer-Encoding: chunked twice",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
		{ "Transfer-Encoding: identity",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\nhello" },
		{ "chunk size overflow",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "10000000000000005\r\nhello\r\n0\r\n\r\n" },
		{ "negative Content-Length",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\nhello" },
		{ "Content-Length with a space inside",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1 0\r\n\r\nhelloworld" },
		{ "Content-Length with a plus sign",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello" },
		{ "Content-Length in hex",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello" },
		{ "bare LF line ends",
		  "GET /echo HTTP/1.1\nHost: t\n\n" },
		{ "a CR and something else ending the header section",
		  "GET /echo HTTP/1.1\r\nHost: t\r\n\rX" },
		{ "obs-fold",
		  "GET /echo HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n" },
		{ "obs-fold before the value",
		  "GET /echo HTTP/1.1\r\nHost: t\r\nX-A:\r\n b\r\n\r\n" },
		{ "space before the colon",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n"
		  "\r\n0\r\n\r\n" },
		{ "a separator in a header name",
		  "GET /echo HTTP/1.1\r\nHost: t\r\nX(A): 1\r\n\r\n" },
		{ "a chunk size padded past HTTP_CHUNKLINE_MAX",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "000000000000000000000000000000000000005\r\nhello\r\n0\r\n\r\n" },
		{ "a chunk extension",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5;a=b\r\nhello\r\n0\r\n\r\n" },
		{ "chunk data not followed by CRLF",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhelloXY0\r\n\r\n" },
		{ "a chunk size line ending in CR and something else",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\rXhello\r\n0\r\n\r\n" },
		{ "a chunk size line ending in a bare LF",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\nhello\r\n0\r\n\r\n" },
		{ "trailer fields",
		  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" },
		{ "HTTP/1.1 without Host",
		  "GET /echo HTTP/1.1\r\n\r\n" },
		{ "two Host fields",
		  "GET /echo HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n" },
		{ "HTTP/1.2",
		  "GET /echo HTTP/1.2\r\nHost: t\r\n\r\n" },
		{ "HXXP/1.1",
		  "GET /echo HXXP/1.1\r\nHost: t\r\n\r\n" },
		{ "HTTP/0.9",
		  "GET /echo\r\n\r\n" },
		{ "two spaces after the method",
		  "GET  /echo HTTP/1.1\r\nHost: t\r\n\r\n" },
		{ "lower-case method",
		  "get /echo HTTP/1.1\r\nHost: t\r\n\r\n" },
	};
	struct resp p = { 0 };
	size_t i;
	int st, closed;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = onces(port_a, cases[i].req, &p, &closed);
		ok(st == 400 && closed, "smuggling, %s: 400 and closed (got %d%s)", cases[i].name,
		    st, closed ? "" : ", open");
	}
	free(p.body);
}

static void
t_deadlines(void)
{
	static const char drip[] = "GET /echo HTTP/1.1\r\nHost: t\r\nX-Slow: 1\r\n\r\n";
	struct resp p = { 0 }, q = { 0 };
	struct rd r = { 0 };
	uint64_t t0, t1, fast = 0, dropped = 0;
	size_t i;
	int fd, got = 0, okk;

	/* Slow-loris: one byte per 100 ms against a 300 ms header deadline. */
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	t0 = now_ms();
	for (i = 0; i < sizeof(drip) - 1 && !got; i++) {
		if (send(fd, drip + i, 1, MSG_NOSIGNAL) != 1)
			break;
		if (i == 1) {
			t1 = now_ms();
			if (onces(port_a, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &q, NULL) == 200)
				fast = now_ms() - t1;
			else
				fast = 99999;
		}
		if (rd_fill(&r, 100) > 0)
			got = 1;
	}
	dropped = now_ms() - t0;
	ok(fast < 200, "another client is answered while a slow one drips (%llu ms)",
	    (unsigned long long)fast);
	okk = rd_resp(&r, &p, 0, 1000) == 0 && p.status == 408;
	ok(okk, "the slow client gets 408");
	ok(rd_eof(&r, 1000), "and is closed");
	ok(dropped >= T_HEADER_MS - 50 && dropped < T_HEADER_MS + 700,
	    "at the header deadline (%llu ms for %d)", (unsigned long long)dropped, T_HEADER_MS);
	close(fd);

	/* The body deadline. */
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	t0 = now_ms();
	sends(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 408 && rd_eof(&r, 1000);
	t1 = now_ms() - t0;
	ok(okk && t1 >= T_BODY_MS - 50, "a body that stalls: 408 and closed after %llu ms",
	    (unsigned long long)t1);
	close(fd);

	/* Idle keep-alive: closed without a word. */
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	sends(fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
	rd_resp(&r, &p, 0, 2000);
	t0 = now_ms();
	okk = rd_eof(&r, T_IDLE_MS + 1000);
	t1 = now_ms() - t0;
	ok(okk && t1 >= T_IDLE_MS - 100,
	    "an idle keep-alive connection is closed silently after %llu ms",
	    (unsigned long long)t1);
	close(fd);

	/* A connection that never sends a byte. */
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	t0 = now_ms();
	okk = rd_eof(&r, T_HEADER_MS + 1000);
	t1 = now_ms() - t0;
	ok(okk && t1 >= T_HEADER_MS - 50, "a silent new connection is closed after %llu ms",
	    (unsigned long long)t1);
	close(fd);

	/* A response the client does not read. */
	fd = dial(port_a, AF_INET, 4096);
	sends(fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
	usleep((T_WRITE_MS + 400) * 1000);
	get_stats(&p);
	ok(stat_of(p.body, "t_write") == 1, "a response nobody reads hits the write deadline");
	close(fd);
	free(r.buf);
	free(p.body);
	free(q.body);
}

static void
t_limits(void)
{
	struct resp p = { 0 };
	struct rd r = { 0 }, rs[T_CAP];
	int fd, fds[T_CAP], i, okk, closed;

	/* The head callback answers 429 before the body is read. */
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	sends(fd, "POST /limited HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 429 &&
	    has(&p, "\r\nRetry-After: 7\r\n") && has(&p, "\r\nConnection: close\r\n");
	ok(okk, "429 with Retry-After from the head callback, before the body");
	ok(rd_eof(&r, 1500), "and closed: the body is never read");
	close(fd);

	/* Connection cap: 4 open, the 5th gets 503. */
	memset(rs, 0, sizeof(rs));
	for (okk = 1, i = 0; i < T_CAP; i++) {
		fds[i] = dial(port_b, AF_INET, 0);
		rd_open(&rs[i], fds[i]);
		sends(fds[i], "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
		if (rd_resp(&rs[i], &p, 0, 2000) != 0 || p.status != 200)
			okk = 0;
	}
	ok(okk, "%d connections at the cap are served", T_CAP);
	is_int(onces(port_b, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", &p, &closed), 503,
	    "one more connection: 503");
	ok(closed && has(&p, "\r\nConnection: close\r\n"), "and closed");
	close(fds[0]);
	usleep(50 * 1000);
	is_int(onces(port_b, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", &p, NULL), 200,
	    "after one leaves, a new one is served");
	for (i = 1; i < T_CAP; i++)
		close(fds[i]);
	for (i = 0; i < T_CAP; i++)
		free(rs[i].buf);
	free(r.buf);
	free(p.body);
}

static void
t_deferred(void)
{
	struct resp p = { 0 };
	struct rd r = { 0 };
	struct linger lg = { 1, 0 };
	char *req, *q;
	int fd, i, okk, n = 2000;

	/* A deferred request whose connection dies is reported, and its id goes stale. */
	fd = dial(port_a, AF_INET, 0);
	sends(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
	usleep(50 * 1000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	usleep((T_SLOW_MS + 100) * 1000);
	get_stats(&p);
	ok(stat_of(p.body, "gone") == 1 && stat_of(p.body, "gone_stat") == 1,
	    "a deferred request whose client reset is reported gone");
	ok(stat_of(p.body, "stale") == 1, "answering it later fails with ENOENT");

	/* Backpressure: a deferred request holds back 2000 pipelined ones. */
	req = malloc((size_t)n * 40 + 64);
	q = req + sprintf(req, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
	for (i = 1; i <= n; i++)
		q += sprintf(q, "GET /p?%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	okk = sendall(fd, req, (size_t)(q - req)) == 0;
	okk = okk && rd_resp(&r, &p, 0, 3000) == 0 && strcmp(p.body, "slow\n") == 0;
	for (i = 1; okk && i <= n; i++)
		okk = rd_resp(&r, &p, 0, 3000) == 0 && p.status == 200 && atoi(p.body) == i;
	ok(okk, "a deferred answer, then %d pipelined ones that waited, in order (stopped at %d)",
	    n, i - 1);
	close(fd);
	free(req);
	free(r.buf);
	free(p.body);
}

static void
t_stats(void)
{
	struct resp p = { 0 };

	get_stats(&p);
	if (p.bodylen)
		p.body[p.bodylen - 1] = '\0';
	ok(stat_of(p.body, "url") >= 1 && stat_of(p.body, "hdr") >= 2 &&
	    stat_of(p.body, "body") >= 2 && stat_of(p.body, "c413") >= 2 &&
	    stat_of(p.body, "c431") >= 2 && stat_of(p.body, "bad") >= 30,
	    "cap counters: %s", p.body);
	ok(stat_of(p.body, "t_header") >= 1 && stat_of(p.body, "t_body") >= 1 &&
	    stat_of(p.body, "t_idle") >= 2 && stat_of(p.body, "rejected_b") == 1,
	    "timeout and connection counters");
	free(p.body);
}

static void
t_shutdown(pid_t pid)
{
	struct resp p = { 0 };
	struct rd r = { 0 };
	int fd, fd2, st = -1, okk;

	fd = dial(port_a, AF_INET, 0);
	rd_open(&r, fd);
	sends(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
	usleep(50 * 1000);
	kill(pid, SIGTERM);
	usleep(50 * 1000);
	fd2 = dial(port_a, AF_INET, 0);
	ok(fd2 == -1 && errno == ECONNREFUSED,
	    "after shutdown starts, new connections are refused");
	if (fd2 != -1)
		close(fd2);
	okk = rd_resp(&r, &p, 0, 2000) == 0 && p.status == 200 && strcmp(p.body, "slow\n") == 0;
	ok(okk && has(&p, "\r\nConnection: close\r\n"),
	    "a request in flight still gets its answer, with Connection: close");
	ok(rd_eof(&r, 1500), "then the connection closes");
	close(fd);
	okk = waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	ok(okk, "the server drained and its process exited 0 (wait status %d)", st);
	free(r.buf);
	free(p.body);
}

int
main(void)
{
	int pfd[2];
	char line[64];
	ssize_t n;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	fflush(stdout);
	if (pipe(pfd) == -1 || (pid = fork()) == -1) {
		ok(0, "pipe and fork");
		return done_testing();
	}
	if (pid == 0) {
		close(pfd[0]);
		exit(child(pfd[1]));
	}
	close(pfd[1]);
	n = read(pfd[0], line, sizeof(line) - 1);
	close(pfd[0]);
	line[n > 0 ? n : 0] = '\0';
	if (sscanf(line, "%d %d %d", &port_a, &port_b, &port_6) != 3 || port_a <= 0) {
		ok(0, "the server reports its ports");
		return done_testing();
	}
	ok(1, "server listening on ports %d and %d (IPv6 %d)", port_a, port_b, port_6);

	t_basic();
	t_chunked();
	t_large();
	t_caps();
	t_split("POST", "POST /echo?x=1 HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 11\r\n\r\nhello world");
	t_split("chunked POST", "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	t_bytes();
	t_smuggling();
	t_limits();
	t_deferred();
	t_deadlines();
	t_stats();
	t_shutdown(pid);
	free(R.buf);
	return done_testing();
}
