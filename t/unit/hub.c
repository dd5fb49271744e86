/* See LICENSE. Unit tests for lib/hub: a server in a forked child, websocket clients here. */
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
#include "hub.h"
#include "loop.h"
#include "ws.h"
#include "tap.h"

/*
 * Two servers, each with its own hub: A with long keepalive deadlines and small send
 * caps (the slow client), B with short ones (pings, the close deadline).
 */
#define A_RING		256
#define A_LAG_BYTES	(64 * 1024)
#define A_EVENT_MAX	(8 * 1024)
#define A_SNDBUF	(16 * 1024)
#define A_CLOSE_MS	30000	/* t_slow reads its slow client only after the others: under valgrind, seconds */
#define A_BATCH		7		/* clients written per turn: passes span turns */
#define B_PING_MS	300
#define B_PONG_MS	300
#define B_CLOSE_MS	400
#define N_GOOD		100
#define N_BATCH		40
#define BATCH		50
#define PAD		300

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

struct app {
	struct loop		 l;
	struct http_server	 a, b;
	struct hub		 ha, hb;
	int			 drained;
	struct buf		 scratch;
};

static void
reply(struct http_server *srv, uint64_t id, int status, const char *body)
{
	http_respond_simple(srv, id, status, "text/plain", body, strlen(body));
}

static unsigned long
qnum(const char *q, const char *name, unsigned long dflt)
{
	char k[32];
	const char *p;
	size_t n;

	if (q == NULL)
		return dflt;
	n = (size_t)snprintf(k, sizeof(k), "%s=", name);
	for (p = q; p; p = strchr(p, '&'), p = p ? p + 1 : NULL)
		if (strncmp(p, k, n) == 0)
			return strtoul(p + n, NULL, 10);
	return dflt;
}

static void
request(struct http_server *srv, struct http_request *r, void *arg)
{
	struct app *app = arg;
	struct hub *h = srv == &app->a ? &app->ha : &app->hb;
	struct buf *b = &app->scratch;
	const struct hub_stats *st = &h->stats;
	unsigned long i, n, size;
	uint64_t since, first = 0, last = 0;
	char pad[4096];

	buf_reset(b);
	if (strcmp(r->path, "/ws/events") == 0) {
		if (hub_parse_since(r->query, &since) == -1)
			reply(srv, r->id, 400, "bad since\n");
		else
			hub_accept(h, srv, r->id, since);
	} else if (strcmp(r->path, "/publish") == 0) {
		n = qnum(r->query, "n", 1);
		size = qnum(r->query, "size", 10);
		if (size >= sizeof(pad))
			size = sizeof(pad) - 1;
		memset(pad, 'x', size);
		pad[size] = '\0';
		for (i = 0; i < n; i++) {
			buf_reset(b);
			buf_addf(b, "{\"i\":%lu,\"pad\":\"%s\"}", i, pad);
			last = hub_publish(h, "tester", "tick", b->p);
			if (first == 0)
				first = last;
		}
		buf_reset(b);
		buf_addf(b, "%llu %llu\n", (unsigned long long)first, (unsigned long long)last);
		reply(srv, r->id, 200, b->p);
	} else if (strcmp(r->path, "/odd") == 0) {
		last = hub_publish_at(h, "2026-01-02T03:04:05.000006Z", "a\"b\\c", "odd",
		    "{\"s\":\"\xff\xc3\"}\r\n");
		first = hub_publish(h, "r", "e", NULL);
		hub_publish(h, "r", "big", "");
		memset(pad, 'y', sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = '\0';
		buf_reset(b);
		for (n = 0; n < 3; n++)
			buf_addf(b, "%s", pad);
		n = hub_publish(h, "r", "too-big", b->p) == 0 && errno == ENOBUFS;
		buf_reset(b);
		buf_addf(b, "%llu %llu %lu\n", (unsigned long long)last,
		    (unsigned long long)first, n);
		reply(srv, r->id, 200, b->p);
	} else if (strcmp(r->path, "/stats") == 0) {
		buf_addf(b, "clients=%llu accepted=%llu refused=%llu slow=%llu protocol=%llu "
		    "binary=%llu utf8=%llu big=%llu by_client=%llu ping_timeouts=%llu "
		    "close_timeouts=%llu missed=%llu resets=%llu http_conns=%llu "
		    "detached=%llu\n",
		    (unsigned long long)st->clients, (unsigned long long)st->accepted,
		    (unsigned long long)st->refused, (unsigned long long)st->closed_slow,
		    (unsigned long long)st->closed_protocol,
		    (unsigned long long)st->closed_binary,
		    (unsigned long long)st->closed_utf8, (unsigned long long)st->closed_big,
		    (unsigned long long)st->closed_by_client,
		    (unsigned long long)st->ping_timeouts,
		    (unsigned long long)st->close_timeouts, (unsigned long long)st->missed,
		    (unsigned long long)st->resets,
		    (unsigned long long)srv->stats.conns,
		    (unsigned long long)srv->stats.detached);
		reply(srv, r->id, 200, b->p);
	} else
		reply(srv, r->id, 404, "not found\n");
}

static void
drained_http(struct http_server *srv, void *arg)
{
	struct app *app = arg;

	if (++app->drained == 4)
		loop_stop(&app->l);
}

static void
drained_hub(struct hub *h, void *arg)
{
	struct app *app = arg;

	if (++app->drained == 4)
		loop_stop(&app->l);
}

static void
term(struct loop *l, int signo, void *arg)
{
	struct app *app = arg;

	hub_shutdown(&app->ha);
	hub_shutdown(&app->hb);
	http_shutdown(&app->a);
	http_shutdown(&app->b);
}

static int
child(int wfd)
{
	struct http_config cfg;
	struct hub_config hc;
	struct app *app;
	char line[64];
	int rc = 0;

	if ((app = calloc(1, sizeof(*app))) == NULL)
		return 1;
	buf_init(&app->scratch, 1024 * 1024);
	if (loop_init(&app->l) == -1)
		return 1;
	http_config_default(&cfg);
	cfg.request = request;
	cfg.drained = drained_http;
	cfg.arg = app;
	cfg.date = 0;
	cfg.conns_max = 16;	/* websocket clients leave the HTTP server's count */
	if (http_server_init(&app->a, &app->l, &cfg) == -1 ||
	    http_listen(&app->a, "127.0.0.1", 0) == -1 ||
	    http_server_init(&app->b, &app->l, &cfg) == -1 ||
	    http_listen(&app->b, "127.0.0.1", 0) == -1)
		return 1;
	hub_config_default(&hc);
	hc.ring_max = A_RING;
	hc.lag_frames = A_RING;
	hc.lag_bytes = A_LAG_BYTES;
	hc.event_max = A_EVENT_MAX;
	hc.ring_bytes = 1024 * 1024;
	hc.sndbuf = A_SNDBUF;
	hc.close_ms = A_CLOSE_MS;
	hc.flush_batch = A_BATCH;
	hc.drained = drained_hub;
	hc.arg = app;
	if (hub_init(&app->ha, &app->l, &hc) == -1)
		return 1;
	hub_config_default(&hc);
	hc.ping_ms = B_PING_MS;
	hc.pong_ms = B_PONG_MS;
	hc.close_ms = B_CLOSE_MS;
	hc.first_seq = 1000;
	hc.drained = drained_hub;
	hc.arg = app;
	if (hub_init(&app->hb, &app->l, &hc) == -1)
		return 1;
	if (loop_signal(&app->l, SIGTERM, term, app) == -1)
		return 1;
	snprintf(line, sizeof(line), "%d %d\n", http_port(&app->a), http_port(&app->b));
	if (write(wfd, line, strlen(line)) != (ssize_t)strlen(line))
		return 1;
	close(wfd);
	if (loop_run(&app->l) == -1)
		rc = 1;
	hub_free(&app->ha);
	hub_free(&app->hb);
	http_server_free(&app->a);
	http_server_free(&app->b);
	loop_free(&app->l);
	buf_free(&app->scratch);
	free(app);
	return rc;
}

/* The client side. */

static int port_a, port_b;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
dial(int port, int rcvbuf)
{
	struct sockaddr_in s4;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons((uint16_t)port);
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&s4, sizeof(s4)) == 0)
		return fd;
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

/* One plain HTTP exchange on a fresh connection: the status, the whole answer in out. */
static int
http_once(int port, const char *req, char *out, size_t cap)
{
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	int fd, st = -1;
	char *e, *cl;

	if ((fd = dial(port, 0)) == -1)
		return -1;
	if (sendall(fd, req, strlen(req)) == -1)
		goto done;
	for (;;) {
		out[len] = '\0';
		if ((e = strstr(out, "\r\n\r\n")) != NULL &&
		    (cl = strcasestr(out, "\r\nContent-Length: ")) != NULL &&
		    len >= (size_t)(e + 4 - out) + strtoul(cl + 18, NULL, 10))
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 3000) != 1 || len + 1 >= cap ||
		    (n = read(fd, out + len, cap - 1 - len)) <= 0)
			goto done;
		len += (size_t)n;
	}
	sscanf(out, "HTTP/1.1 %d", &st);
done:
	close(fd);
	return st;
}

static char HB[64 * 1024];

static unsigned long long
stat_of(int port, const char *key)
{
	char k[64];
	const char *p;

	if (http_once(port, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", HB, sizeof(HB)) != 200)
		return (unsigned long long)-1;
	snprintf(k, sizeof(k), " %s=", key);
	if ((p = strstr(HB, k)) == NULL) {
		snprintf(k, sizeof(k), "\n%s=", key);
		if ((p = strstr(HB, k)) == NULL)
			return (unsigned long long)-1;
	}
	return strtoull(p + strlen(k), NULL, 10);
}

/* Wait up to ms for a counter to reach want. */
static unsigned long long
stat_wait(int port, const char *key, unsigned long long want, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	unsigned long long v;

	for (;;) {
		v = stat_of(port, key);
		if (v == want || now_ms() >= end)
			return v;
		usleep(20 * 1000);
	}
}

static int
publish(int port, int n, int size, uint64_t *first, uint64_t *last)
{
	char req[128];
	unsigned long long f = 0, l = 0;
	char *b;

	snprintf(req, sizeof(req), "GET /publish?n=%d&size=%d HTTP/1.1\r\nHost: t\r\n\r\n",
	    n, size);
	if (http_once(port, req, HB, sizeof(HB)) != 200 ||
	    (b = strstr(HB, "\r\n\r\n")) == NULL || sscanf(b + 4, "%llu %llu", &f, &l) != 2)
		return -1;
	if (first)
		*first = f;
	if (last)
		*last = l;
	return 0;
}

/* A websocket client over a raw socket, reading with the client side of lib/ws. */
struct wc {
	int			 fd;
	struct ws_decoder	 d;
	unsigned char		 in[64 * 1024];
	size_t			 off, len;
	char			 msg[80 * 1024];
	size_t			 mlen;
	int			 code;		/* of the close frame */
	uint64_t		 next;		/* seq expected next, 0: any */
	int			 nmsg;
	int			 bad;
};

static int
wc_open(struct wc *w, int port, const char *query, int rcvbuf, const char *extra)
{
	char req[1024], *e;
	ssize_t n;
	struct pollfd pfd;
	int st = -1;

	memset(w, 0, sizeof(*w));
	ws_decoder_init(&w->d, 0, sizeof(w->msg) - 1);
	if ((w->fd = dial(port, rcvbuf)) == -1)
		return -1;
	snprintf(req, sizeof(req), "GET /ws/events%s%s HTTP/1.1\r\nHost: t\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n%s", query ? "?" : "", query ? query : "",
	    extra ? extra : "");
	if (sendall(w->fd, req, strlen(req)) == -1)
		return -1;
	for (;;) {
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 3000) != 1)
			return -1;
		n = read(w->fd, w->in + w->len, sizeof(w->in) - 1 - w->len);
		if (n <= 0)
			return -1;
		w->len += (size_t)n;
		w->in[w->len] = '\0';
		if ((e = strstr((char *)w->in, "\r\n\r\n")) != NULL)
			break;
	}
	sscanf((char *)w->in, "HTTP/1.1 %d", &st);
	if (st != 101 || strstr((char *)w->in, "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n") == NULL)
		return st == 101 ? -1 : st;
	w->off = (size_t)(e + 4 - (char *)w->in);
	return 101;
}

/* A plain request and the handshake in one write: the 404, then the 101. */
static int
wc_open_pipelined(struct wc *w, int port)
{
	char req[1024], *e;
	ssize_t n;
	struct pollfd pfd;

	memset(w, 0, sizeof(*w));
	ws_decoder_init(&w->d, 0, sizeof(w->msg) - 1);
	if ((w->fd = dial(port, 0)) == -1)
		return -1;
	snprintf(req, sizeof(req), "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /ws/events HTTP/1.1\r\nHost: t\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n");
	if (sendall(w->fd, req, strlen(req)) == -1)
		return -1;
	for (;;) {
		w->in[w->len] = '\0';
		if ((e = strstr((char *)w->in, "\r\n\r\nnot found\n")) != NULL &&
		    (e = strstr(e + 4, "\r\n\r\n")) != NULL)
			break;
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 3000) != 1)
			return -1;
		n = read(w->fd, w->in + w->len, sizeof(w->in) - 1 - w->len);
		if (n <= 0)
			return -1;
		w->len += (size_t)n;
	}
	w->off = (size_t)(e + 4 - (char *)w->in);
	return strstr((char *)w->in, "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n") ? 101 : -1;
}

static void
wc_close(struct wc *w)
{
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
}

static int
wc_send(struct wc *w, int fin, int op, const void *p, size_t len, int masked)
{
	static unsigned char f[80 * 1024];
	static const unsigned char mask[4] = { 1, 2, 3, 4 };

	return sendall(w->fd, f, ws_frame(f, fin, op, p, len, masked ? mask : NULL));
}

/*
 * The next message or control frame: WS_EV_DATA (whole message in msg), WS_EV_PING,
 * WS_EV_PONG, WS_EV_CLOSE (code in w->code); 0 at EOF, -1 when ms pass, -2 on a bad frame.
 */
static int
wc_next(struct wc *w, int ms)
{
	struct ws_event ev;
	struct pollfd pfd;
	uint64_t end = now_ms() + (uint64_t)ms;
	ssize_t n;
	int wait;

	for (;;) {
		while (w->off < w->len) {
			if ((n = ws_decode(&w->d, w->in + w->off, w->len - w->off, &ev)) < 0)
				return -2;
			w->off += (size_t)n;
			switch (ev.type) {
			case WS_EV_DATA:
				if (ev.first)
					w->mlen = 0;
				memcpy(w->msg + w->mlen, ev.data, ev.len);
				w->mlen += ev.len;
				w->msg[w->mlen] = '\0';
				if (ev.last)
					return WS_EV_DATA;
				break;
			case WS_EV_PING:
			case WS_EV_PONG:
			case WS_EV_CLOSE:
				memcpy(w->msg, ev.data, ev.len);
				w->mlen = ev.len;
				w->msg[w->mlen] = '\0';
				w->code = ev.code;
				return ev.type;
			default:
				break;
			}
		}
		w->off = w->len = 0;
		wait = (int)(end > now_ms() ? end - now_ms() : 0);
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, wait) != 1)
			return -1;
		n = read(w->fd, w->in, sizeof(w->in));
		if (n <= 0)
			return 0;
		w->len = (size_t)n;
	}
}

/* Read what is there without waiting; check each event's seq. -1 when the stream broke. */
static int
wc_drain(struct wc *w)
{
	unsigned long long seq;
	int t;

	while ((t = wc_next(w, 0)) != -1) {
		if (t != WS_EV_DATA)
			return -1;
		if (sscanf(w->msg, "{\"seq\":%llu,", &seq) != 1 ||
		    (w->next && seq != w->next)) {
			w->bad = 1;
			return -1;
		}
		w->next = seq + 1;
		w->nmsg++;
	}
	return 0;
}

/* The close frame and then EOF, within ms: the close code, or -1. */
static int
wc_closed(struct wc *w, int ms)
{
	int t, code = -1;

	while ((t = wc_next(w, ms)) > 0) {
		if (t == WS_EV_CLOSE)
			code = w->code;
		else if (code != -1)
			return -1;
	}
	return t == 0 ? code : -1;
}

static void
t_handshake(void)
{
	struct wc *w = malloc(sizeof(*w));
	char *b;

	is_int(wc_open(w, port_a, NULL, 0, NULL), 101, "handshake: 101 with the RFC accept key");
	ok(strstr((char *)w->in, "\r\nUpgrade: websocket\r\n") &&
	    strstr((char *)w->in, "\r\nConnection: Upgrade\r\n"), "with Upgrade and Connection");
	wc_close(w);
	is_int(http_once(port_a, "GET /ws/events HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    HB, sizeof(HB)), 400, "a bad key: 400");
	ok(strstr(HB, "\r\nContent-Type: application/json\r\n") &&
	    (b = strstr(HB, "\r\n\r\n")) &&
	    strcmp(b + 4, "{\"detail\":\"bad Sec-WebSocket-Key\"}") == 0, "with a JSON detail");
	is_int(http_once(port_a, "GET /ws/events HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
	    HB, sizeof(HB)), 426, "version 8: 426");
	ok(strstr(HB, "\r\nSec-WebSocket-Version: 13\r\n") != NULL,
	    "with Sec-WebSocket-Version: 13");
	is_int(http_once(port_a, "GET /ws/events HTTP/1.1\r\nHost: t\r\n\r\n", HB, sizeof(HB)),
	    426, "plain GET: 426");
	is_int(http_once(port_a, "GET /ws/events HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
	    "Connection: close\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    HB, sizeof(HB)), 400, "Connection without upgrade: 400");
	is_int(http_once(port_a, "POST /ws/events HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
	    "Content-Length: 0\r\n\r\n", HB, sizeof(HB)), 405, "POST: 405");
	is_int(http_once(port_a, "GET /ws/events?since=x HTTP/1.1\r\nHost: t\r\n\r\n", HB,
	    sizeof(HB)), 400, "since=x: 400 (hub_parse_since)");
	free(w);
}

static void
t_frames(void)
{
	struct wc *w = malloc(sizeof(*w));
	unsigned char pre[WS_HEADER_MAX * 2 + WS_CONTROL_MAX];
	char extra[128];
	size_t n;
	static char big[WS_MESSAGE_MAX + 1];
	uint64_t a, b;

	/* A request pipelined before the handshake: its answer goes out before the 101. */
	is_int(wc_open_pipelined(w, port_a), 101, "a request pipelined before the handshake");
	ok(strncmp((char *)w->in, "HTTP/1.1 404 ", 13) == 0 &&
	    strstr((char *)w->in, "not found\nHTTP/1.1 101 Switching Protocols\r\n") != NULL,
	    "its answer comes first, then the 101");
	wc_send(w, 1, WS_OP_PING, "after", 5, 1);
	ok(wc_next(w, 2000) == WS_EV_PONG && strcmp(w->msg, "after") == 0, "then frames");
	wc_close(w);

	/* Frames sent with the handshake, before its answer: http_detach passes them on. */
	n = ws_frame(pre, 1, WS_OP_TEXT, "ping-1", 6, (const unsigned char *)"abcd");
	n += ws_frame(pre + n, 1, WS_OP_PING, "early", 5, (const unsigned char *)"abcd");
	memcpy(extra, pre, n);
	extra[n] = '\0';
	is_int(wc_open(w, port_a, NULL, 0, extra), 101, "handshake with frames behind it");
	ok(wc_next(w, 2000) == WS_EV_PONG && strcmp(w->msg, "early") == 0,
	    "the early ping is answered: pong \"%s\"", w->msg);
	wc_send(w, 1, WS_OP_PING, "hello", 5, 1);
	ok(wc_next(w, 2000) == WS_EV_PONG && strcmp(w->msg, "hello") == 0, "ping, pong");
	wc_send(w, 1, WS_OP_TEXT, "text is dropped", 15, 1);
	wc_send(w, 0, WS_OP_TEXT, "frag", 4, 1);
	wc_send(w, 1, WS_OP_PING, "", 0, 1);
	wc_send(w, 1, WS_OP_CONT, "ment", 4, 1);
	ok(wc_next(w, 2000) == WS_EV_PONG && w->mlen == 0, "a ping between fragments");

	/* Events: the frame format. */
	if (http_once(port_a, "GET /odd HTTP/1.1\r\nHost: t\r\n\r\n", HB, sizeof(HB)) != 200)
		ok(0, "publish odd events");
	ok(strstr(HB, "\r\n\r\n") && strstr(HB, " 1\n"), "an event over event_max: ENOBUFS");
	sscanf(strstr(HB, "\r\n\r\n") + 4, "%llu %llu", (unsigned long long *)&a,
	    (unsigned long long *)&b);
	ok(wc_next(w, 2000) == WS_EV_DATA, "an event frame");
	snprintf(big, sizeof(big), "{\"seq\":%llu,"
	    "\"timestamp\":\"2026-01-02T03:04:05.000006Z\",\"role\":\"a\\\"b\\\\c\","
	    "\"event\":\"odd\",\"data\":{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\"}  }",
	    (unsigned long long)a);
	is_str(w->msg, big, "seq, timestamp, role and event escaped, data made UTF-8 on one line");
	ok(wc_next(w, 2000) == WS_EV_DATA && strstr(w->msg, ",\"role\":\"r\",\"event\":\"e\","
	    "\"data\":{}}") && strncmp(w->msg, "{\"seq\":", 7) == 0 &&
	    strtoull(w->msg + 7, NULL, 10) == a + 1, "NULL data is {}, seq + 1: %s", w->msg);
	ok(wc_next(w, 2000) == WS_EV_DATA && strtoull(w->msg + 7, NULL, 10) == a + 2,
	    "the next one");

	/* A close handshake started by the client. */
	n = ws_close_payload(pre, 1000, "bye");
	wc_send(w, 1, WS_OP_CLOSE, pre, n, 1);
	is_int(wc_closed(w, 2000), 1000, "close 1000 is echoed, then the server closes");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_CLOSE, "\x03\xf0", 2, 1);
	is_int(wc_closed(w, 2000), 1008, "a client's close 1008 is echoed");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_CLOSE, "", 0, 1);
	ok(wc_closed(w, 2000) == WS_CLOSE_NO_STATUS && w->mlen == 0,
	    "a close without a code is echoed without one");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_TEXT, "hi", 2, 0);
	is_int(wc_closed(w, 2000), 1002, "an unmasked frame: 1002");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_BINARY, "\x01\x02", 2, 1);
	is_int(wc_closed(w, 2000), 1003, "a binary frame: 1003");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_TEXT, "bad \xc0\xaf", 6, 1);
	is_int(wc_closed(w, 2000), 1007, "text that is not UTF-8: 1007");
	wc_close(w);

	memset(big, 'x', sizeof(big));
	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_TEXT, big, WS_MESSAGE_MAX, 1);
	wc_send(w, 1, WS_OP_PING, "still", 5, 1);
	ok(wc_next(w, 2000) == WS_EV_PONG && strcmp(w->msg, "still") == 0,
	    "a message at the cap is taken");
	wc_send(w, 1, WS_OP_TEXT, big, WS_MESSAGE_MAX + 1, 1);
	is_int(wc_closed(w, 2000), 1009, "one byte over: 1009");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, 3, "", 0, 1);
	is_int(wc_closed(w, 2000), 1002, "an unknown opcode: 1002");
	wc_close(w);

	wc_open(w, port_a, NULL, 0, NULL);
	wc_send(w, 1, WS_OP_PING, big, 126, 1);
	is_int(wc_closed(w, 2000), 1002, "a ping of 126 bytes: 1002");
	wc_close(w);
	free(w);
}

/* 100 clients keep up with every event in order while one that never reads is closed. */
static void
t_slow(void)
{
	struct wc *w = calloc(N_GOOD, sizeof(*w)), *slow = malloc(sizeof(*slow));
	struct pollfd pfd[N_GOOD];
	uint64_t first = 0, last = 0, f0 = 0, t0;
	int i, k, okk = 1, opened = 1, behind, code, nslow = 0;
	unsigned long long seq;
	int t;

	for (i = 0; i < N_GOOD; i++)
		opened = opened && wc_open(&w[i], port_a, NULL, 0, NULL) == 101;
	ok(opened, "%d clients connected", N_GOOD);
	is_int(wc_open(slow, port_a, NULL, 2048, NULL), 101, "and one that will not read");
	for (k = 0; k < N_BATCH && okk; k++) {
		if (publish(port_a, BATCH, PAD, &first, &last) == -1) {
			okk = 0;
			break;
		}
		if (f0 == 0)
			f0 = first;
		t0 = now_ms();
		/* Read every client until each has the whole batch. */
		for (;;) {
			behind = 0;
			for (i = 0; i < N_GOOD; i++) {
				pfd[i].fd = w[i].fd;
				pfd[i].events = POLLIN;
				if (w[i].next != last + 1)
					behind++;
			}
			if (behind == 0 || now_ms() - t0 > 5000)
				break;
			poll(pfd, N_GOOD, 100);
			for (i = 0; i < N_GOOD; i++)
				if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
				    wc_drain(&w[i]) == -1)
					okk = 0;
		}
		okk = okk && behind == 0;
	}
	for (i = 0; i < N_GOOD; i++)
		okk = okk && !w[i].bad && w[i].nmsg == BATCH * N_BATCH && w[i].next == last + 1;
	ok(okk, "%d clients got all %d events, in order, each once", N_GOOD, BATCH * N_BATCH);
	is_int(stat_wait(port_a, "slow", 1, 2000), 1, "the slow client was closed with 1008");
	/* It gets what fitted in the buffers, in order, then the close frame. */
	code = -1;
	okk = 1;
	while ((t = wc_next(slow, 3000)) > 0) {
		if (t == WS_EV_CLOSE) {
			code = slow->code;
			continue;
		}
		if (t != WS_EV_DATA || code != -1 ||
		    sscanf(slow->msg, "{\"seq\":%llu,", &seq) != 1 || seq != f0 + (uint64_t)nslow)
			okk = 0;
		nslow++;
	}
	ok(okk && t == 0 && nslow > 0 && nslow < BATCH * N_BATCH,
	    "it read %d events in order before the close, then EOF", nslow);
	is_int(code, 1008, "its close code is 1008");
	for (i = 0; i < N_GOOD; i++) {
		wc_send(&w[i], 1, WS_OP_CLOSE, "\x03\xe8", 2, 1);
		okk = okk && wc_closed(&w[i], 2000) == 1000;
		wc_close(&w[i]);
	}
	ok(okk, "the %d close cleanly", N_GOOD);
	wc_close(slow);
	free(w);
	free(slow);
}

static void
t_replay(void)
{
	struct wc *w = malloc(sizeof(*w));
	uint64_t first, last, seen;
	unsigned long long seq, since, f;
	char q[64];
	int n, okk, t;

	publish(port_a, 5, 10, &first, &last);
	snprintf(q, sizeof(q), "since=%llu", (unsigned long long)(last - 3));
	is_int(wc_open(w, port_a, q, 0, NULL), 101, "connect with since=last-3");
	okk = 1;
	for (n = 0; n < 3; n++)
		okk = okk && wc_next(w, 2000) == WS_EV_DATA &&
		    strtoull(w->msg + 7, NULL, 10) == last - 2 + (uint64_t)n;
	ok(okk && wc_next(w, 200) == -1, "it gets exactly the last 3 events");
	/* Live events follow; then a reconnect picks up where it left. */
	publish(port_a, 2, 10, &first, &last);
	okk = wc_next(w, 2000) == WS_EV_DATA && strtoull(w->msg + 7, NULL, 10) == first;
	seen = first;
	wc_close(w);
	ok(okk, "then the live ones");
	publish(port_a, 4, 10, &first, &last);
	snprintf(q, sizeof(q), "since=%llu", (unsigned long long)seen);
	wc_open(w, port_a, q, 0, NULL);
	okk = 1;
	for (n = 0; n < 5; n++)
		okk = okk && wc_next(w, 2000) == WS_EV_DATA &&
		    strtoull(w->msg + 7, NULL, 10) == seen + 1 + (uint64_t)n;
	ok(okk && last == seen + 5 && wc_next(w, 200) == -1,
	    "a reconnect with since=%llu gets the 5 it missed", (unsigned long long)seen);
	wc_close(w);

	/* Older than the ring: a note first, then what the ring has (cut to lag_bytes). */
	wc_open(w, port_a, "since=0", 0, NULL);
	t = wc_next(w, 2000);
	okk = t == WS_EV_DATA && sscanf(w->msg, "{\"seq\":%llu,", &seq) == 1 &&
	    strstr(w->msg, ",\"role\":\"system\",\"event\":\"events_missed\",\"data\":{\"since\":0,"
	    "\"first\":") != NULL;
	ok(okk, "since=0: events_missed first: %.160s", w->msg);
	f = strtoull(strstr(w->msg, "\"first\":") + 8, NULL, 10);
	ok(f == seq + 1 && f > 1, "its seq is first - 1 (%llu, first %llu)", seq, f);
	n = 0;
	okk = 1;
	while ((t = wc_next(w, 300)) == WS_EV_DATA) {
		okk = okk && strtoull(w->msg + 7, NULL, 10) == f + (uint64_t)n;
		n++;
	}
	ok(okk && (uint64_t)n == last - f + 1 && n <= A_RING,
	    "then %d events from %llu to the last, in order", n, f);
	wc_close(w);
	/* A seq from the future (an earlier life of the server). */
	snprintf(q, sizeof(q), "since=%llu", (unsigned long long)last + 100);
	wc_open(w, port_a, q, 0, NULL);
	okk = wc_next(w, 2000) == WS_EV_DATA && strstr(w->msg, "\"event\":\"events_missed\"") &&
	    sscanf(strstr(w->msg, "\"since\":"), "\"since\":%llu", &since) == 1 &&
	    since == last + 100;
	ok(okk, "since past the last seq: events_missed too");
	wc_close(w);
	wc_open(w, port_a, NULL, 0, NULL);
	ok(wc_next(w, 300) == -1, "no since: no replay");
	wc_close(w);
	snprintf(q, sizeof(q), "since=%llu", (unsigned long long)last);
	wc_open(w, port_a, q, 0, NULL);
	ok(wc_next(w, 300) == -1, "since=last: nothing to replay, no note");
	wc_close(w);
	free(w);
}

/* Hub B: pings every 300 ms, 300 ms for the pong, 400 ms for a close. */
static void
t_keepalive(void)
{
	struct wc *w = malloc(sizeof(*w)), *z = malloc(sizeof(*z));
	uint64_t end;
	int t, pings = 0, ret;
	unsigned long long before;

	is_int(wc_open(w, port_b, NULL, 0, NULL), 101, "hub B: a client that answers pings");
	is_int(wc_open(z, port_b, NULL, 0, NULL), 101, "and one that does not");
	end = now_ms() + 1500;
	while (now_ms() < end) {
		t = wc_next(w, (int)(end - now_ms()));
		if (t == WS_EV_PING) {
			pings++;
			wc_send(w, 1, WS_OP_PONG, w->msg, w->mlen, 1);
		} else if (t != -1)
			break;
	}
	ok(pings >= 3, "the server pings (%d in 1.5 s)", pings);
	wc_send(w, 1, WS_OP_PING, "alive", 5, 1);
	do
		t = wc_next(w, 1000);
	while (t == WS_EV_PING);
	ok(t == WS_EV_PONG && strcmp(w->msg, "alive") == 0, "the answering client is still there");
	t = wc_next(z, 100);
	ok(t == WS_EV_PING, "the silent one got a ping");
	while ((t = wc_next(z, 1000)) == WS_EV_PING)
		;
	ok(t == 0, "and was cut off without a close frame");
	is_int(stat_of(port_b, "ping_timeouts"), 1, "ping_timeouts 1");
	wc_close(z);
	/* A client that never answers our close is dropped after close_ms. */
	before = stat_of(port_b, "close_timeouts");
	wc_send(w, 1, WS_OP_BINARY, "x", 1, 1);
	ret = -1;
	while ((t = wc_next(w, 1000)) > 0)
		if (t == WS_EV_CLOSE)
			ret = w->code;
	ok(ret == 1003 && t == 0, "binary: close 1003, then our side sees EOF");
	is_int(stat_wait(port_b, "close_timeouts", before + 1, 1500), before + 1,
	    "the server drops it when no close comes back");
	wc_close(w);
	free(w);
	free(z);
}

static void
t_counts(void)
{
	is_int(stat_wait(port_a, "clients", 0, 2000), 0, "hub A: no client left");
	is_int(stat_wait(port_b, "clients", 0, 2000), 0, "hub B: no client left");
	is_int(stat_of(port_a, "http_conns"), 1, "server A: only the /stats connection");
	ok(stat_of(port_a, "detached") == stat_of(port_a, "accepted"),
	    "every accepted client was detached from lib/http");
	is_int(stat_of(port_a, "slow"), 1, "only the slow client counts as slow, not a 1008 "
	    "from a client");
	ok(stat_of(port_a, "protocol") == 3 && stat_of(port_a, "binary") == 1 &&
	    stat_of(port_a, "utf8") == 1 && stat_of(port_a, "big") == 1 &&
	    stat_of(port_a, "refused") >= 5, "hub A counters: %.*s",
	    (int)strcspn(strstr(HB, "clients="), "\n"), strstr(HB, "clients="));
}

static void
t_shutdown(pid_t pid)
{
	struct wc *w = malloc(sizeof(*w)), *v = malloc(sizeof(*v));
	int st = -1, okk;

	wc_open(w, port_a, NULL, 0, NULL);
	wc_open(v, port_b, NULL, 0, NULL);
	usleep(50 * 1000);
	kill(pid, SIGTERM);
	is_int(wc_closed(w, 2000), 1001, "shutdown: close 1001 on hub A");
	/* Answer it, as a client should. */
	wc_send(w, 1, WS_OP_CLOSE, "\x03\xe9", 2, 1);
	is_int(wc_closed(v, 2000), 1001, "and on hub B");
	wc_close(w);
	wc_close(v);
	okk = waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	ok(okk, "the hubs drained and the server exited 0 (wait status %d)", st);
	free(w);
	free(v);
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
	if (sscanf(line, "%d %d", &port_a, &port_b) != 2 || port_a <= 0) {
		ok(0, "the server reports its ports");
		return done_testing();
	}
	ok(1, "server listening on ports %d and %d", port_a, port_b);
	t_handshake();
	t_frames();
	t_slow();
	t_replay();
	t_keepalive();
	t_counts();
	t_shutdown(pid);
	return done_testing();
}
