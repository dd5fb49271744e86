/* See LICENSE. /ws/events fan-out against orket-httpd: N clients, events from real runs. */
#define _GNU_SOURCE
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
 * usage: wsfan [-n clients] [-e events] [-w warm_runs] [-b batch] [-q quiet_ms]
 *              [-p server_pid] [-T trigger_path] port
 *
 * For bench/httpd.sh. The API key comes from WSFAN_KEY (sent as X-API-Key on the
 * handshakes and the triggers), never from argv. Connects n clients to /ws/events on
 * 127.0.0.1:port (at most batch handshakes in flight; each must be answered 101), then
 * starts runs one at a time with POST /v1/system/run-active {"issue_id":"BENCH-k"} on a
 * control connection that sits in the same epoll set as the clients, so clients are read
 * while the server sends. A run's events are every frame that arrives until every live
 * client has the newest seq and nothing has come for quiet_ms. The first warm_runs runs
 * are not counted; runs go on until events events are counted.
 *
 * An event's latency at one client is that client's CLOCK_REALTIME when the read that
 * completed the frame returned, minus the frame's "timestamp" (the server's CLOCK_REALTIME
 * when it published, in microseconds): both clocks are the same one, on one machine.
 * "Last client" is the largest of these over the clients, for one event: the fan-out.
 * -T PATH triggers with GET PATH instead (to try the tool on bench/ws/hubd's /publish).
 * -p PID reads the server's VmRSS before and after the clients connect.
 * Prints one JSON object on stdout. Exit 0 when it measured (complete or not), 1 when a
 * handshake is refused, a trigger is not answered 200 or a run stalls, 100 for bad usage.
 */

#define PRE	512	/* handshake answer, then the first bytes of each frame */
#define SEQS	8192	/* distinct events followed */
#define NAMES	32	/* distinct event names counted */

struct cl {
	int		 fd;
	unsigned char	 state;		/* 0 connecting, 1 handshake sent, 2 open, 3 closed */
	unsigned char	 phase;		/* 0 frame header, 1 payload */
	unsigned char	 hn, hneed;	/* header bytes read, needed */
	unsigned char	 hdr[14];
	unsigned short	 cap;		/* bytes of pre held */
	uint64_t	 remain;	/* payload bytes still to come */
	uint64_t	 seq;		/* the newest seq read */
	uint64_t	 t0;
	char		 pre[PRE];
};

struct ev {
	uint64_t	 seq;
	uint64_t	 ts;		/* the frame's timestamp, ns since the epoch */
	uint64_t	 first, last;	/* smallest and largest latency, ns */
	int		 got;		/* clients that read it */
	int		 counted;
	int		 run;
};

static struct sockaddr_in addr;
static int epfd, nclients, closed, close_codes[8];
static struct ev evs[SEQS];
static uint64_t seq_base, seq_max;
static uint64_t *lat;
static size_t nlat, lat_cap;
static int counting, cur_run, unparsed;
static uint64_t last_frame;
static struct { char name[48]; int n; } names[NAMES];
static int nnames;

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile of v (sorted here), nearest rank, in ms. */
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

/* "2026-11-26T21:42:23.123456Z" into ns since the epoch; 0 when it is not one. */
static uint64_t
parse_ts(const char *s)
{
	struct tm tm;
	char *end;
	long us;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6 || s[19] != '.')
		return 0;
	us = strtol(s + 20, &end, 10);
	if (end - (s + 20) != 6 || *end != 'Z')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return 0;
	return (uint64_t)t * 1000000000 + (uint64_t)us * 1000;
}

/* The value of the member "name" in the JSON text s (whitespace allowed around ':'). */
static const char *
member(const char *s, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = s; (p = strstr(p, name)) != NULL; p += n) {
		if (p == s || p[-1] != '"' || p[n] != '"')
			continue;
		p += n + 1;
		p += strspn(p, " \t\r\n");
		if (*p != ':')
			continue;
		p++;
		return p + strspn(p, " \t\r\n");
	}
	return NULL;
}

static void
count_name(const char *p)
{
	const char *q;
	size_t len;
	int i;

	if ((p = member(p, "event")) == NULL || *p++ != '"')
		return;
	if ((q = strchr(p, '"')) == NULL || (len = (size_t)(q - p)) >= sizeof(names[0].name))
		return;
	for (i = 0; i < nnames; i++)
		if (strlen(names[i].name) == len && memcmp(names[i].name, p, len) == 0) {
			names[i].n++;
			return;
		}
	if (nnames < NAMES) {
		memcpy(names[nnames].name, p, len);
		names[nnames].name[len] = '\0';
		names[nnames++].n = 1;
	}
}

/* A whole frame has been read by c at now (CLOCK_REALTIME). */
static void
frame(struct cl *c, uint64_t now)
{
	static const unsigned char mask[4] = { 9, 8, 7, 6 };
	unsigned char op = c->hdr[0] & 0x0f, f[140];
	struct ev *e;
	uint64_t seq, ts, l;
	const char *p;
	int i;

	c->pre[c->cap] = '\0';
	if (op == 9 && c->cap <= 125) {			/* ping: pong, masked */
		f[0] = 0x8a;
		f[1] = (unsigned char)(0x80 | c->cap);
		memcpy(f + 2, mask, 4);
		for (i = 0; i < c->cap; i++)
			f[6 + i] = (unsigned char)c->pre[i] ^ mask[i & 3];
		if (write(c->fd, f, 6 + (size_t)c->cap) < 0)
			c->state = 3;
		return;
	}
	if (op == 8) {					/* close */
		i = c->cap >= 2 ? ((unsigned char)c->pre[0] << 8 | (unsigned char)c->pre[1]) : 0;
		switch (i) {
		case 1000: close_codes[0]++; break;
		case 1001: close_codes[1]++; break;
		case 1008: close_codes[2]++; break;
		default: close_codes[3]++; break;
		}
		c->state = 3;
		closed++;
		return;
	}
	if (op != 1)
		return;
	if ((p = member(c->pre, "seq")) == NULL || (seq = strtoull(p, NULL, 10)) == 0) {
		unparsed++;
		return;
	}
	if ((p = member(c->pre, "timestamp")) == NULL || *p != '"' || (ts = parse_ts(p + 1)) == 0) {
		unparsed++;
		return;
	}
	c->seq = seq;
	last_frame = clock_ns(CLOCK_MONOTONIC);
	if (seq_base == 0)
		seq_base = seq;
	if (seq < seq_base || seq - seq_base >= SEQS)
		return;
	e = &evs[seq - seq_base];
	l = now > ts ? now - ts : 0;
	if (e->seq == 0) {
		e->seq = seq;
		e->ts = ts;
		e->first = e->last = l;
		e->counted = counting;
		e->run = cur_run;
		if (seq > seq_max)
			seq_max = seq;
		count_name(c->pre);
	}
	e->got++;
	if (l < e->first)
		e->first = l;
	if (l > e->last)
		e->last = l;
	if (e->counted && nlat < lat_cap)
		lat[nlat++] = l;
}

/* Bytes read by an open client: headers and payloads, frame by frame. */
static void
feed(struct cl *c, const unsigned char *p, size_t len, uint64_t now)
{
	size_t k;

	while (len > 0 && c->state == 2) {
		if (c->phase == 0) {
			k = c->hneed - c->hn;
			if (k > len)
				k = len;
			memcpy(c->hdr + c->hn, p, k);
			c->hn += (unsigned char)k;
			p += k;
			len -= k;
			if (c->hn == 2) {
				k = c->hdr[1] & 0x7f;
				c->hneed = (unsigned char)(2 + (k == 126 ? 2 : k == 127 ? 8 : 0) +
				    (c->hdr[1] & 0x80 ? 4 : 0));
			}
			if (c->hn < c->hneed)
				continue;
			k = c->hdr[1] & 0x7f;
			if (k == 126)
				c->remain = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
			else if (k == 127) {
				c->remain = 0;
				for (k = 2; k < 10; k++)
					c->remain = c->remain << 8 | c->hdr[k];
			} else
				c->remain = k;
			c->phase = 1;
			c->cap = 0;
		} else {
			k = len < c->remain ? len : (size_t)c->remain;
			if (c->cap < PRE - 1) {
				size_t keep = PRE - 1 - c->cap;

				keep = keep < k ? keep : k;
				memcpy(c->pre + c->cap, p, keep);
				c->cap += (unsigned short)keep;
			}
			c->remain -= k;
			p += k;
			len -= k;
		}
		if (c->phase == 1 && c->remain == 0) {
			frame(c, now);
			c->phase = 0;
			c->hn = 0;
			c->hneed = 2;
		}
	}
}

static void
start(struct cl *c)
{
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1) {
		perror("wsfan: socket");
		exit(111);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t0 = clock_ns(CLOCK_MONOTONIC);
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 &&
	    errno != EINPROGRESS) {
		perror("wsfan: connect");
		exit(111);
	}
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static long
rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	static char hs[512], req[512], rbuf[65536], ans[4096];
	struct epoll_event evv[1024], ev;
	struct rlimit rl;
	struct cl *cls;
	uint64_t *conn, *lastv, *firstv, t0, deadline, now;
	size_t nconn = 0, alen;
	long pid = 0, rss0, rss1;
	int n = 10000, events = 50, warm = 1, batch = 256, quiet = 200, port, c, i, m;
	int next = 0, inflight = 0, open = 0, ctl, answered, status, run, counted, ne;
	int complete = 1, incomplete = 0, live;
	const char *key = getenv("WSFAN_KEY"), *trig = NULL;
	char *e;
	ssize_t r;
	double tconnect, truns;

	while ((c = getopt(argc, argv, "n:e:w:b:q:p:T:")) != -1) {
		switch (c) {
		case 'n': n = atoi(optarg); break;
		case 'e': events = atoi(optarg); break;
		case 'w': warm = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'q': quiet = atoi(optarg); break;
		case 'p': pid = atol(optarg); break;
		case 'T': trig = optarg; break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || n < 1 || events < 1 || events >= SEQS / 2 || warm < 0 ||
	    batch < 1 || quiet < 1)
		goto usage;
	port = atoi(argv[optind]);
	if (key == NULL)
		key = "";
	if (strlen(key) > 200) {
		fprintf(stderr, "wsfan: WSFAN_KEY is too long\n");
		return 100;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((rlim_t)n + 64 > rl.rlim_cur) {
		fprintf(stderr, "wsfan: %d clients need more descriptors than %llu\n", n,
		    (unsigned long long)rl.rlim_cur);
		return 100;
	}
	snprintf(hs, sizeof(hs), "GET /ws/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	    "X-API-Key: %s\r\n\r\n", port, key);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nclients = n;
	cls = calloc((size_t)n, sizeof(*cls));
	conn = calloc((size_t)n, sizeof(*conn));
	lat_cap = (size_t)n * (size_t)(events + 32);
	lat = calloc(lat_cap, sizeof(*lat));
	lastv = calloc(SEQS, sizeof(*lastv));
	firstv = calloc(SEQS, sizeof(*firstv));
	if (!cls || !conn || !lat || !lastv || !firstv || (epfd = epoll_create1(0)) == -1) {
		perror("wsfan");
		return 111;
	}
	rss0 = rss_kb(pid);

	/* Connect everybody, batch handshakes in flight at most. */
	t0 = clock_ns(CLOCK_MONOTONIC);
	while (open < n) {
		while (next < n && inflight < batch) {
			start(&cls[next++]);
			inflight++;
		}
		m = epoll_wait(epfd, evv, 1024, 5000);
		if (m <= 0) {
			fprintf(stderr, "wsfan: stuck at %d connected\n", open);
			return 1;
		}
		for (i = 0; i < m; i++) {
			struct cl *x = evv[i].data.ptr;

			if (x->state == 0 && (evv[i].events & EPOLLOUT)) {
				if (write(x->fd, hs, strlen(hs)) != (ssize_t)strlen(hs)) {
					fprintf(stderr, "wsfan: handshake %ld not sent\n",
					    (long)(x - cls));
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
			r = read(x->fd, x->pre + x->cap, PRE - 1 - x->cap);
			if (r <= 0) {
				fprintf(stderr, "wsfan: connection %ld refused or closed after "
				    "%d open\n", (long)(x - cls), open);
				return 1;
			}
			x->cap += (unsigned short)r;
			x->pre[x->cap] = '\0';
			if ((e = strstr(x->pre, "\r\n\r\n")) == NULL) {
				if (x->cap == PRE - 1) {
					fprintf(stderr, "wsfan: handshake answer too long\n");
					return 1;
				}
				continue;
			}
			if (strncmp(x->pre, "HTTP/1.1 101 ", 13) != 0) {
				fprintf(stderr, "wsfan: handshake refused after %d open: %.60s\n",
				    open, x->pre);
				return 1;
			}
			conn[nconn++] = clock_ns(CLOCK_MONOTONIC) - x->t0;
			inflight--;
			open++;
			x->state = 2;
			x->hn = 0;
			x->hneed = 2;
			alen = (size_t)(x->pre + x->cap - (e + 4));
			x->cap = 0;
			if (alen > 0) {		/* frames right behind the 101 */
				memcpy(rbuf, e + 4, alen);
				feed(x, (unsigned char *)rbuf, alen, clock_ns(CLOCK_REALTIME));
			}
		}
	}
	tconnect = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	usleep(300 * 1000);
	rss1 = rss_kb(pid);

	/* Runs, one at a time, until events events are counted. */
	t0 = clock_ns(CLOCK_MONOTONIC);
	counted = 0;
	for (run = 0; counted < events; run++) {
		if (run > warm + 4 * events) {
			fprintf(stderr, "wsfan: %d runs gave only %d events\n", run, counted);
			return 1;
		}
		cur_run = run;
		counting = run >= warm;
		if ((ctl = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(ctl, (struct sockaddr *)&addr, sizeof(addr)) == -1) {
			perror("wsfan: control connection");
			return 111;
		}
		if (trig)
			snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			    "X-API-Key: %s\r\nConnection: close\r\n\r\n", trig, port, key);
		else {
			char body[64];

			snprintf(body, sizeof(body), "{\"issue_id\":\"BENCH-%d\"}", run);
			snprintf(req, sizeof(req), "POST /v1/system/run-active HTTP/1.1\r\n"
			    "Host: 127.0.0.1:%d\r\nX-API-Key: %s\r\nContent-Type: application/json"
			    "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", port, key,
			    strlen(body), body);
		}
		if (write(ctl, req, strlen(req)) != (ssize_t)strlen(req)) {
			perror("wsfan: trigger");
			return 1;
		}
		fcntl(ctl, F_SETFL, O_NONBLOCK);
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		epoll_ctl(epfd, EPOLL_CTL_ADD, ctl, &ev);
		answered = 0;
		alen = 0;
		last_frame = clock_ns(CLOCK_MONOTONIC);
		deadline = last_frame + 10000000000ULL;
		for (;;) {
			now = clock_ns(CLOCK_MONOTONIC);
			if (answered && seq_max != 0 && now - last_frame >= (uint64_t)quiet * 1000000) {
				for (c = 0; c < n; c++)
					if (cls[c].state == 2 && cls[c].seq < seq_max)
						break;
				if (c == n)
					break;
			}
			if (now > deadline) {
				fprintf(stderr, "wsfan: run %d: no end after 10 s (answered %d, "
				    "newest seq %llu, %d frames without a seq and a timestamp)\n",
				    run, answered, (unsigned long long)seq_max, unparsed);
				return 1;
			}
			m = epoll_wait(epfd, evv, 1024, 10);
			for (i = 0; i < m; i++) {
				struct cl *x = evv[i].data.ptr;

				if (x == NULL) {
					r = read(ctl, ans + alen, sizeof(ans) - 1 - alen);
					if (r > 0) {
						alen += (size_t)r;
						ans[alen] = '\0';
						continue;
					}
					if (r == -1 && errno == EAGAIN)
						continue;
					epoll_ctl(epfd, EPOLL_CTL_DEL, ctl, NULL);
					close(ctl);
					if (sscanf(ans, "HTTP/1.%*d %d", &status) != 1 ||
					    status != 200) {
						fprintf(stderr, "wsfan: run %d: trigger answered: "
						    "%.200s\n", run, ans);
						return 1;
					}
					answered = 1;
					continue;
				}
				if (x->state != 2)
					continue;
				r = read(x->fd, rbuf, sizeof(rbuf));
				if (r == 0 || (r == -1 && errno != EAGAIN)) {
					x->state = 3;
					closed++;
					close_codes[4]++;	/* without a close frame */
					continue;
				}
				if (r > 0)
					feed(x, (unsigned char *)rbuf, (size_t)r,
					    clock_ns(CLOCK_REALTIME));
			}
		}
		for (counted = 0, ne = 0; ne < SEQS; ne++)
			if (evs[ne].seq && evs[ne].counted)
				counted++;
	}
	truns = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;

	/* Per event: the first and the last client. */
	for (live = 0, c = 0; c < n; c++)
		live += cls[c].state == 2;
	for (ne = 0, i = 0; i < SEQS; i++) {
		if (!evs[i].seq || !evs[i].counted)
			continue;
		lastv[ne] = evs[i].last;
		firstv[ne] = evs[i].first;
		if (evs[i].got < n) {
			complete = 0;
			incomplete++;
		}
		ne++;
	}
	printf("{\n  \"clients\": %d,\n  \"clients_open_at_end\": %d,\n", n, live);
	printf("  \"closed_by_server\": { \"total\": %d, \"1000\": %d, \"1001\": %d, "
	    "\"1008\": %d, \"other\": %d, \"without_close_frame\": %d },\n", closed,
	    close_codes[0], close_codes[1], close_codes[2], close_codes[3], close_codes[4]);
	printf("  \"connect_all_seconds\": %.3f,\n", tconnect);
	printf("  \"connect_ms\": { \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f },\n",
	    pct(conn, nconn, 50), pct(conn, nconn, 99), pct(conn, nconn, 100));
	if (rss0 >= 0 && rss1 >= 0)
		printf("  \"server_rss_kb\": { \"before_clients\": %ld, \"with_clients\": %ld, "
		    "\"per_client_bytes\": %.0f },\n", rss0, rss1,
		    (double)(rss1 - rss0) * 1024.0 / n);
	else
		printf("  \"server_rss_kb\": null,\n");
	printf("  \"runs\": %d,\n  \"warm_runs\": %d,\n  \"runs_seconds\": %.3f,\n", run, warm,
	    truns);
	printf("  \"events\": %d,\n  \"every_event_reached_every_client\": %s,\n", ne,
	    complete ? "true" : "false");
	printf("  \"events_not_reaching_every_client\": %d,\n  \"frames_unparsed\": %d,\n",
	    incomplete, unparsed);
	printf("  \"event_names_seen\": {");
	for (i = 0; i < nnames; i++)
		printf("%s \"%s\": %d", i ? "," : "", names[i].name, names[i].n);
	printf(" },\n");
	printf("  \"fanout_last_client_ms\": { \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
	    "\"max\": %.3f },\n", pct(lastv, (size_t)ne, 50), pct(lastv, (size_t)ne, 90),
	    pct(lastv, (size_t)ne, 99), pct(lastv, (size_t)ne, 100));
	printf("  \"first_client_ms\": { \"p50\": %.3f, \"p99\": %.3f },\n",
	    pct(firstv, (size_t)ne, 50), pct(firstv, (size_t)ne, 99));
	printf("  \"per_client_ms\": { \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f }\n}\n",
	    pct(lat, nlat, 50), pct(lat, nlat, 99), pct(lat, nlat, 100));
	for (c = 0; c < n; c++)
		close(cls[c].fd);
	return 0;
usage:
	fprintf(stderr, "usage: wsfan [-n clients] [-e events] [-w warm_runs] [-b batch] "
	    "[-q quiet_ms] [-p server_pid] [-T trigger_path] port\n");
	return 100;
}
