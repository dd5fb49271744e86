/* See LICENSE. Websocket fan-out load: N clients on one epoll, events timed from publish to read. */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * usage: load [-S] [-n clients] [-e events] [-s pad] [-i interval_ms] [-b batch] port
 *
 * Talks to bench/ws/hubd (or any server with the same /ws/events, /publish and /stats).
 * Connects n clients (at most batch handshakes in flight), reads the server's RSS before
 * and after, then publishes events one at a time through GET /publish?n=1 and waits
 * until every client has read it. Each event carries "t", the server's CLOCK_MONOTONIC at
 * hub_publish; a client's latency is the same clock when its read returned, minus t.
 * With -S the server flushes in the request (hub_flush) and its answer carries how long
 * hub_publish + hub_flush took (every byte handed to every socket); without, the loop
 * sends as it would in the daemon. Prints one JSON object.
 */

#define BUFSZ	2048

struct cl {
	int	 fd;
	int	 state;		/* 0 connecting, 1 handshake sent, 2 open, 3 dead */
	size_t	 len;
	uint64_t t0;
	uint64_t got;		/* seq of the last event read */
	char	 buf[BUFSZ];
};

static int epfd;
static struct sockaddr_in addr;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

/* A blocking request on a fresh connection: the body of the answer in out. */
static int
get(const char *path, char *out, size_t cap)
{
	char req[256], *b;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1)
		return -1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
	    path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	out[len] = '\0';
	if ((b = strstr(out, "\r\n\r\n")) == NULL)
		return -1;
	memmove(out, b + 4, strlen(b + 4) + 1);
	return 0;
}

static long
server_rss(void)
{
	char out[1024], *p;

	if (get("/stats", out, sizeof(out)) == -1 || (p = strstr(out, "rss_kb=")) == NULL)
		return -1;
	return atol(p + 7);
}

static void
start(struct cl *c)
{
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t0 = mono_ns();
	c->len = 0;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 &&
	    errno != EINPROGRESS) {
		perror("connect");
		exit(111);
	}
	c->state = 0;
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Frames from the server: record each event's latency; answer pings. */
static void
frames(struct cl *c, uint64_t now, uint64_t *lat, size_t *nlat)
{
	static const unsigned char pong_mask[4] = { 9, 8, 7, 6 };
	unsigned char *p = (unsigned char *)c->buf, f[140];
	size_t hl, plen, i;
	char *t;

	for (;;) {
		if (c->len < 2)
			return;
		plen = p[1] & 0x7f;
		hl = 2;
		if (plen == 126) {
			if (c->len < 4)
				return;
			plen = (size_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (plen == 127) {
			fprintf(stderr, "load: an event too big for this client\n");
			exit(1);
		}
		if (c->len < hl + plen)
			return;
		if ((p[0] & 0x0f) == 1) {
			char save = c->buf[hl + plen < BUFSZ ? hl + plen : BUFSZ - 1];

			c->buf[hl + plen < BUFSZ ? hl + plen : BUFSZ - 1] = '\0';
			c->got = strtoull(c->buf + hl + 7, NULL, 10);
			if ((t = strstr(c->buf + hl, "\"data\":{\"t\":")) != NULL && lat)
				lat[(*nlat)++] = now - strtoull(t + 12, NULL, 10);
			c->buf[hl + plen < BUFSZ ? hl + plen : BUFSZ - 1] = save;
		} else if ((p[0] & 0x0f) == 9 && plen <= 125) {
			f[0] = 0x8a;
			f[1] = (unsigned char)(0x80 | plen);
			memcpy(f + 2, pong_mask, 4);
			for (i = 0; i < plen; i++)
				f[6 + i] = p[hl + i] ^ pong_mask[i & 3];
			if (write(c->fd, f, 6 + plen) < 0)
				c->state = 3;
		} else if ((p[0] & 0x0f) == 8)
			c->state = 3;
		memmove(c->buf, c->buf + hl + plen, c->len - hl - plen);
		c->len -= hl + plen;
	}
}

int
main(int argc, char **argv)
{
	static const char hs[] = "GET /ws/events HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n";
	struct epoll_event evs[1024];
	struct rlimit rl;
	struct cl *cls;
	uint64_t *lat, *lastlat, *flush, *conn, now, t0, seq = 0, deadline;
	size_t nlat = 0, nconn = 0, k;
	long rss0, rss1;
	int n = 1000, events = 50, pad = 0, interval = 100, batch = 512, port, c, i, m;
	int next = 0, inflight = 0, open = 0, warm = 2, got, ctl, sync = 0;
	char out[1024], *e;
	ssize_t r;
	double tconnect;

	while ((c = getopt(argc, argv, "Sn:e:s:i:b:")) != -1) {
		switch (c) {
		case 'S': sync = 1; break;
		case 'n': n = atoi(optarg); break;
		case 'e': events = atoi(optarg); break;
		case 's': pad = atoi(optarg); break;
		case 'i': interval = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: load [-S] [-n clients] [-e events] [-s pad] "
			    "[-i interval_ms] [-b batch] port\n");
			return 100;
		}
	}
	if (optind + 1 != argc || n < 1 || events < 1)
		return 100;
	port = atoi(argv[optind]);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if ((rlim_t)n + 64 > rl.rlim_cur) {
		fprintf(stderr, "load: %d clients need more descriptors than %llu\n", n,
		    (unsigned long long)rl.rlim_cur);
		return 100;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cls = calloc((size_t)n, sizeof(*cls));
	lat = calloc((size_t)n * (size_t)events, sizeof(*lat));
	lastlat = calloc((size_t)events, sizeof(*lastlat));
	flush = calloc((size_t)events, sizeof(*flush));
	conn = calloc((size_t)n, sizeof(*conn));
	epfd = epoll_create1(0);
	if ((rss0 = server_rss()) < 0) {
		fprintf(stderr, "load: no server on port %d\n", port);
		return 111;
	}

	/* Connect everybody, batch handshakes in flight at most. */
	t0 = mono_ns();
	while (open < n) {
		while (next < n && inflight < batch) {
			start(&cls[next++]);
			inflight++;
		}
		m = epoll_wait(epfd, evs, 1024, 5000);
		if (m <= 0) {
			fprintf(stderr, "load: stuck at %d connected\n", open);
			return 1;
		}
		for (i = 0; i < m; i++) {
			struct cl *x = evs[i].data.ptr;
			struct epoll_event ev;

			if (x->state == 0 && (evs[i].events & EPOLLOUT)) {
				if (write(x->fd, hs, sizeof(hs) - 1) != sizeof(hs) - 1) {
					fprintf(stderr, "load: handshake write failed\n");
					return 1;
				}
				x->state = 1;
				ev.events = EPOLLIN;
				ev.data.ptr = x;
				epoll_ctl(epfd, EPOLL_CTL_MOD, x->fd, &ev);
				continue;
			}
			if (x->state != 1)
				continue;
			r = read(x->fd, x->buf + x->len, BUFSZ - 1 - x->len);
			if (r <= 0) {
				fprintf(stderr, "load: connection %ld refused or closed\n",
				    (long)(x - cls));
				return 1;
			}
			x->len += (size_t)r;
			x->buf[x->len] = '\0';
			if ((e = strstr(x->buf, "\r\n\r\n")) == NULL)
				continue;
			if (strncmp(x->buf, "HTTP/1.1 101 ", 13) != 0) {
				fprintf(stderr, "load: handshake refused: %.40s\n", x->buf);
				return 1;
			}
			x->len -= (size_t)(e + 4 - x->buf);
			memmove(x->buf, e + 4, x->len);
			x->state = 2;
			conn[nconn++] = mono_ns() - x->t0;
			inflight--;
			open++;
		}
	}
	tconnect = (double)(mono_ns() - t0) / 1e9;
	usleep(500 * 1000);
	rss1 = server_rss();

	/*
	 * Events, one at a time. The publish request goes out on a control connection that
	 * sits in the same epoll set, so clients are read while the server still sends.
	 * The first warm events are not counted.
	 */
	ctl = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(ctl, (struct sockaddr *)&addr, sizeof(addr)) == -1) {
		perror("connect");
		return 111;
	}
	fcntl(ctl, F_SETFL, O_NONBLOCK);
	{
		struct epoll_event ev;

		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		epoll_ctl(epfd, EPOLL_CTL_ADD, ctl, &ev);
	}
	if (get("/stats", out, sizeof(out)) == -1)
		return 1;
	/* The seq of the next event: what the clients have + 1, from a first publish. */
	for (k = 0; k < (size_t)(events + warm); k++) {
		char preq[128];
		size_t clen = 0;
		int answered = 0;

		snprintf(preq, sizeof(preq), "GET /publish?n=1&size=%d&sync=%d HTTP/1.1\r\n"
		    "Host: b\r\n\r\n", pad, sync);
		if (write(ctl, preq, strlen(preq)) != (ssize_t)strlen(preq)) {
			fprintf(stderr, "load: publish failed\n");
			return 1;
		}
		seq = 0;
		deadline = mono_ns() + 10000000000ULL;
		got = 0;
		for (;;) {
			if (answered && got == n)
				break;
			if (mono_ns() > deadline) {
				fprintf(stderr, "load: event %llu reached %d of %d clients\n",
				    (unsigned long long)seq, got, n);
				return 1;
			}
			m = epoll_wait(epfd, evs, 1024, 1000);
			for (i = 0; i < m; i++) {
				struct cl *x = evs[i].data.ptr;
				uint64_t before;
				size_t n0 = nlat;

				if (x == NULL) {
					r = read(ctl, out + clen, sizeof(out) - 1 - clen);
					if (r <= 0)
						continue;
					clen += (size_t)r;
					out[clen] = '\0';
					if ((e = strstr(out, "\r\n\r\n")) == NULL ||
					    strchr(e + 4, '\n') == NULL)
						continue;
					seq = strtoull(strchr(e + 4, ' ') + 1, NULL, 10);
					if (k >= (size_t)warm)
						flush[k - warm] = strtoull(strrchr(e + 4, ' ') + 1,
						    NULL, 10);
					answered = 1;
					got = 0;
					for (c = 0; c < n; c++)
						if (cls[c].got >= seq)
							got++;
					continue;
				}
				before = x->got;
				r = read(x->fd, x->buf + x->len, BUFSZ - 1 - x->len);
				if (r <= 0)
					continue;
				now = mono_ns();
				x->len += (size_t)r;
				frames(x, now, k >= (size_t)warm ? lat : NULL, &nlat);
				if (k >= (size_t)warm && nlat > n0 &&
				    lat[nlat - 1] > lastlat[k - warm])
					lastlat[k - warm] = lat[nlat - 1];
				if (answered && before < seq && x->got >= seq)
					got++;
			}
		}
		usleep((useconds_t)interval * 1000);
	}
	printf("{\n  \"clients\": %d,\n  \"events\": %d,\n  \"pad\": %d,\n", n, events, pad);
	printf("  \"flush\": \"%s\",\n", sync ? "hub_flush in the request" : "the loop");
	printf("  \"connect_all_seconds\": %.3f,\n", tconnect);
	printf("  \"connect_ms\": { \"p50\": %.3f, \"p99\": %.3f },\n",
	    pct(conn, nconn, 50), pct(conn, nconn, 99));
	printf("  \"server_rss_kb\": { \"idle\": %ld, \"with_clients\": %ld, "
	    "\"per_client_bytes\": %.0f },\n", rss0, rss1,
	    (double)(rss1 - rss0) * 1024.0 / n);
	printf("  \"fanout_last_client_ms\": { \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f },\n",
	    pct(lastlat, (size_t)events, 50), pct(lastlat, (size_t)events, 99),
	    pct(lastlat, (size_t)events, 100));
	printf("  \"per_client_ms\": { \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f },\n",
	    pct(lat, nlat, 50), pct(lat, nlat, 99), pct(lat, nlat, 100));
	if (sync)
		printf("  \"server_publish_flush_ms\": { \"p50\": %.3f, \"p99\": %.3f, "
		    "\"max\": %.3f }\n}\n", pct(flush, (size_t)events, 50),
		    pct(flush, (size_t)events, 99), pct(flush, (size_t)events, 100));
	else
		printf("  \"server_publish_flush_ms\": null\n}\n");
	for (i = 0; i < n; i++)
		close(cls[i].fd);
	free(cls);
	free(lat);
	free(lastlat);
	free(flush);
	free(conn);
	return 0;
}
