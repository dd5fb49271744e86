/* See LICENSE. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub.h"
#include "json.h"
#include "log.h"

/*
 * Where a client is. C_OPEN: events flow. C_CLOSING: a close frame is queued, no event is
 * sent any more, what the client sends is thrown away. C_SHUT: the close frame is out and
 * our side of the TCP connection is shut; we wait for the client's FIN. Both closing
 * states end at close_ms.
 */
enum {
	C_OPEN, C_CLOSING, C_SHUT
};

/* Bytes read at once into the shared input buffer. */
#define HUB_READ_BUF		(16 * 1024)
/* Room kept in front of a frame being built for its header. */
#define HUB_HEAD_ROOM		10

struct hub_client {
	struct hub		*hub;
	struct hub_client	*next, *prev;
	int			 fd;
	uint8_t			 state;
	uint8_t			 dead;		/* release when the handler unwinds */
	uint8_t			 want_out;	/* the socket was full: wait for EPOLLOUT */
	uint8_t			 await_pong;
	uint32_t		 ev;		/* events asked of the loop */
	uint32_t		 ping_id;
	uint32_t		 curoff;
	struct hub_frame	*cur;		/* half-written event, referenced */
	uint64_t		 cursor;	/* seq of the next event to start */
	struct buf		 ctl;		/* control bytes to send between frames */
	size_t			 ctloff;
	struct loop_timer	 timer;
	struct ws_decoder	 dec;
};

/* An idle client costs this, plus its descriptor slot and timer heap entry in the loop. */
_Static_assert(sizeof(struct hub_client) <= 512, "a websocket client must stay small");

static void	 client_settle(struct hub_client *);
static void	 flush_cb(struct loop *, struct loop_timer *, void *);

void
hub_config_default(struct hub_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ring_max = HUB_RING_MAX;
	cfg->ring_bytes = HUB_RING_BYTES;
	cfg->lag_frames = HUB_LAG_FRAMES;
	cfg->lag_bytes = HUB_LAG_BYTES;
	cfg->event_max = HUB_EVENT_MAX;
	cfg->message_max = HUB_MESSAGE_MAX;
	cfg->clients_max = HUB_CLIENTS_MAX;
	cfg->flush_batch = HUB_FLUSH_BATCH;
	cfg->ping_ms = HUB_PING_MS;
	cfg->pong_ms = HUB_PONG_MS;
	cfg->close_ms = HUB_CLOSE_MS;
	cfg->first_seq = 1;
}

/* Frames. */

static void
frame_unref(struct hub_frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

static struct hub_frame *
ring_at(const struct hub *h, uint64_t seq)
{
	return h->ring[seq % h->cfg.ring_max];
}

static void
ring_evict(struct hub *h)
{
	struct hub_frame *f = ring_at(h, h->first);

	h->ring[h->first % h->cfg.ring_max] = NULL;
	h->ringbytes -= f->len;
	h->first++;
	frame_unref(f);
}

/* Append a JSON string, escaped, as lib/json writes it (bad UTF-8 becomes U+FFFD). */
static int
add_str(struct buf *b, const char *s)
{
	struct jw jw;

	jw_init(&jw, b);
	return jw_str(&jw, s);
}

/*
 * Append a serialized JSON value as evlog_write does (raw CR and LF become spaces), and
 * make sure it is UTF-8, which a text frame must be: each maximal ill-formed piece
 * becomes one U+FFFD, as Unicode recommends.
 */
static int
add_data(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	uint32_t st;
	size_t k;

	if (s == NULL || *s == '\0')
		return buf_add(b, "{}", 2);
	while (*p) {
		if (*p < 0x80) {
			if (*p == '\r' || *p == '\n') {
				if (buf_add(b, run, (size_t)(p - run)) == -1 ||
				    buf_addc(b, ' ') == -1)
					return -1;
				run = p + 1;
			}
			p++;
			continue;
		}
		/* One character: feed bytes until it is whole or cannot be. */
		st = 0;
		for (k = 0; p[k]; k++)
			if (ws_utf8(&st, p + k, 1) == -1 || st == 0)
				break;
		if (p[k] && st == 0) {
			p += k + 1;
			continue;
		}
		if (buf_add(b, run, (size_t)(p - run)) == -1 ||
		    buf_add(b, "\xef\xbf\xbd", 3) == -1)
			return -1;
		p += k ? k : 1;
		run = p;
	}
	return buf_add(b, run, (size_t)(p - run));
}

/*
 * Build a whole frame in h->scratch: the payload after HUB_HEAD_ROOM bytes, its header
 * right in front of it. *start gets where the frame begins. ts NULL means now.
 */
static int
frame_build(struct hub *h, uint64_t seq, const char *ts, const char *role,
    const char *event, const char *data, size_t *start)
{
	struct buf *b = &h->scratch;
	char now[LOG_TIMESTAMP_SIZE], num[24];
	unsigned char head[WS_HEADER_MAX];
	size_t plen, hl;

	if (ts == NULL) {
		if (log_timestamp(now, sizeof(now)) == -1)
			return -1;
		ts = now;
	}
	buf_reset(b);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	if (buf_add(b, "\0\0\0\0\0\0\0\0\0\0", HUB_HEAD_ROOM) == -1 ||
	    buf_adds(b, "{\"seq\":") == -1 || buf_adds(b, num) == -1 ||
	    buf_adds(b, ",\"timestamp\":") == -1 || add_str(b, ts) == -1 ||
	    buf_adds(b, ",\"role\":") == -1 || add_str(b, role) == -1 ||
	    buf_adds(b, ",\"event\":") == -1 || add_str(b, event) == -1 ||
	    buf_adds(b, ",\"data\":") == -1 || add_data(b, data) == -1 ||
	    buf_addc(b, '}') == -1)
		return -1;
	plen = b->len - HUB_HEAD_ROOM;
	hl = ws_header(head, 1, WS_OP_TEXT, plen, NULL);
	if (hl + plen > h->cfg.event_max) {
		errno = ENOBUFS;
		return -1;
	}
	*start = HUB_HEAD_ROOM - hl;
	memcpy(b->p + *start, head, hl);
	return 0;
}

int
hub_init(struct hub *h, struct loop *l, const struct hub_config *cfg)
{
	memset(h, 0, sizeof(*h));
	h->loop = l;
	loop_timer_init(&h->flush_timer, flush_cb, h);
	if (cfg->ring_max < 1 || cfg->ring_max > (size_t)HUB_RING_MAX * 64 ||
	    cfg->event_max < 256 || cfg->event_max > (size_t)64 * 1024 * 1024 ||
	    cfg->ring_bytes < cfg->event_max || cfg->lag_frames < 1 ||
	    cfg->lag_frames > cfg->ring_max || cfg->lag_bytes < cfg->event_max ||
	    cfg->message_max < 1 || cfg->message_max > WS_MESSAGE_LIMIT ||
	    cfg->clients_max < 1 || cfg->clients_max > HUB_CLIENTS_LIMIT ||
	    cfg->flush_batch < 1 ||
	    cfg->ping_ms == 0 || cfg->pong_ms == 0 || cfg->close_ms == 0 ||
	    cfg->sndbuf < 0 || cfg->first_seq < 1 || cfg->first_seq > UINT64_MAX / 2) {
		errno = EINVAL;
		return -1;
	}
	h->cfg = *cfg;
	h->first = h->next = cfg->first_seq;
	buf_init(&h->scratch, cfg->event_max + HUB_HEAD_ROOM + 64);
	h->ring = calloc(cfg->ring_max, sizeof(*h->ring));
	h->rbuf = malloc(HUB_READ_BUF);
	if (h->ring == NULL || h->rbuf == NULL) {
		free(h->ring);
		free(h->rbuf);
		h->ring = NULL;
		h->rbuf = NULL;
		return -1;
	}
	return 0;
}

size_t
hub_nclients(const struct hub *h)
{
	return (size_t)h->stats.clients;
}

/* Clients. */

static void
client_release(struct hub_client *c)
{
	struct hub *h = c->hub;

	loop_timer_stop(h->loop, &c->timer);
	loop_del(h->loop, c->fd);
	close(c->fd);
	if (h->flushpos == c)
		h->flushpos = c->next;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	frame_unref(c->cur);
	buf_free(&c->ctl);
	free(c);
	h->stats.clients--;
	if (h->shutdown && h->stats.clients == 0 && !h->drained) {
		h->drained = 1;
		if (h->cfg.drained)
			h->cfg.drained(h, h->cfg.arg);
	}
}

static void
client_deadline(struct hub_client *c, unsigned ms)
{
	if (loop_timer_set(c->hub->loop, &c->timer, ms) == -1)
		c->dead = 1;
}

/* Queue a control frame. Close frames always fit; others only under HUB_CTRL_MAX. */
static int
ctl_add(struct hub_client *c, int opcode, const unsigned char *payload, size_t len)
{
	unsigned char f[WS_HEADER_MAX + WS_CONTROL_MAX];
	size_t n = ws_frame(f, 1, opcode, payload, len, NULL);

	if (opcode != WS_OP_CLOSE && c->ctl.len - c->ctloff + n > HUB_CTRL_MAX)
		return -1;
	if (buf_add(&c->ctl, f, n) == -1) {
		c->dead = 1;
		return -1;
	}
	return 0;
}

/* Start the closing handshake: a close frame, no more events, a deadline. */
static void
client_close(struct hub_client *c, int code, const char *reason)
{
	unsigned char pl[WS_CONTROL_MAX];

	if (c->state != C_OPEN)
		return;
	c->state = C_CLOSING;
	c->await_pong = 0;
	/* The client's own close had no code: echo it without one. */
	ctl_add(c, WS_OP_CLOSE, pl, code == WS_CLOSE_NO_STATUS ? 0 :
	    ws_close_payload(pl, code, reason));
	client_deadline(c, c->hub->cfg.close_ms);
}

/* Close the client for something it did (or failed to do), and count why. */
static void
client_fail(struct hub_client *c, int code, const char *reason)
{
	struct hub_stats *st = &c->hub->stats;

	if (c->state != C_OPEN)
		return;
	switch (code) {
	case WS_CLOSE_PROTOCOL:
		st->closed_protocol++;
		break;
	case WS_CLOSE_UNSUPPORTED:
		st->closed_binary++;
		break;
	case WS_CLOSE_INVALID_DATA:
		st->closed_utf8++;
		break;
	case WS_CLOSE_POLICY:
		st->closed_slow++;
		break;
	case WS_CLOSE_TOO_BIG:
		st->closed_big++;
		break;
	default:
		break;
	}
	client_close(c, code, reason);
}

/* How far behind is the client: does it pass a cap, or has its next event left the ring? */
static int
client_lagging(const struct hub_client *c)
{
	const struct hub *h = c->hub;
	const struct hub_frame *f;
	uint64_t bytes = c->cur ? c->cur->len - c->curoff : 0;

	if (c->cursor < h->first || h->next - c->cursor > h->cfg.lag_frames)
		return 1;
	if (c->cursor < h->next) {
		f = ring_at(h, c->cursor);
		bytes += h->published - (f->end - f->len);
	}
	return bytes > h->cfg.lag_bytes;
}

/*
 * Write what the client lacks: the rest of a half-written event, then control bytes,
 * then whole events from its cursor, in one sendmsg. A short write means the socket is
 * full: wait for EPOLLOUT rather than try again at once.
 */
static void
client_write(struct hub_client *c)
{
	struct hub *h = c->hub;
	struct iovec iov[HUB_IOV_MAX + 2];
	struct msghdr mh;
	struct hub_frame *f;
	size_t total, k, w;
	ssize_t n;
	uint64_t s;
	int ni;

	for (;;) {
		ni = 0;
		total = 0;
		if (c->cur) {
			iov[ni].iov_base = c->cur->data + c->curoff;
			iov[ni++].iov_len = c->cur->len - c->curoff;
		}
		if (c->ctloff < c->ctl.len) {
			iov[ni].iov_base = c->ctl.p + c->ctloff;
			iov[ni++].iov_len = c->ctl.len - c->ctloff;
		}
		if (c->state == C_OPEN) {
			if (c->cursor < h->first) {
				client_fail(c, WS_CLOSE_POLICY, "too slow");
				continue;
			}
			for (s = c->cursor; s < h->next && ni < HUB_IOV_MAX + 2; s++) {
				f = ring_at(h, s);
				iov[ni].iov_base = f->data;
				iov[ni++].iov_len = f->len;
			}
		}
		if (ni == 0) {
			c->want_out = 0;
			if (c->state == C_CLOSING) {
				/* The close frame is out: FIN, then wait for the client's. */
				shutdown(c->fd, SHUT_WR);
				c->state = C_SHUT;
			}
			return;
		}
		for (k = 0; k < (size_t)ni; k++)
			total += iov[k].iov_len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)ni;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				c->want_out = 1;
			else
				c->dead = 1;
			return;
		}
		h->stats.bytes_sent += (uint64_t)n;
		w = (size_t)n;
		if (c->cur) {
			k = c->cur->len - c->curoff;
			if (w < k) {
				c->curoff += (uint32_t)w;
				c->want_out = 1;
				return;
			}
			w -= k;
			frame_unref(c->cur);
			c->cur = NULL;
			h->stats.frames_sent++;
		}
		if (c->ctloff < c->ctl.len) {
			k = c->ctl.len - c->ctloff;
			if (w < k) {
				c->ctloff += w;
				c->want_out = 1;
				return;
			}
			w -= k;
			/* Nothing waits: give the buffer back, an idle client keeps none. */
			buf_free(&c->ctl);
			c->ctloff = 0;
		}
		while (c->state == C_OPEN && c->cursor < h->next) {
			f = ring_at(h, c->cursor);
			if (w < f->len) {
				if (w > 0) {
					f->refs++;
					c->cur = f;
					c->curoff = (uint32_t)w;
					c->cursor++;
				}
				break;
			}
			w -= f->len;
			c->cursor++;
			h->stats.frames_sent++;
		}
		if ((size_t)n < total) {
			c->want_out = 1;
			return;
		}
	}
}

/* What the loop should tell us about the client. */
static void
client_update(struct hub_client *c)
{
	uint32_t ev = EPOLLIN;

	if (c->want_out)
		ev |= EPOLLOUT;
	if (ev != c->ev) {
		if (loop_mod(c->hub->loop, c->fd, ev) == -1) {
			c->dead = 1;
			return;
		}
		c->ev = ev;
	}
}

/* After any change: write if the socket may take it, then release or re-arm. */
static void
client_settle(struct hub_client *c)
{
	if (!c->dead && !c->want_out)
		client_write(c);
	if (!c->dead)
		client_update(c);
	if (c->dead)
		client_release(c);
}

/* What the client sent, decoded in place. */
static void
client_feed(struct hub_client *c, unsigned char *p, size_t len)
{
	struct hub *h = c->hub;
	struct ws_event ev;
	ssize_t n;
	size_t off = 0;
	uint32_t id;

	while (off < len && c->state == C_OPEN && !c->dead) {
		if ((n = ws_decode(&c->dec, p + off, len - off, &ev)) == -1) {
			client_fail(c, ev.code, ev.code == WS_CLOSE_TOO_BIG ?
			    "message too big" : ev.code == WS_CLOSE_INVALID_DATA ?
			    "invalid UTF-8" : "protocol error");
			return;
		}
		off += (size_t)n;
		switch (ev.type) {
		case WS_EV_DATA:
			/* Text is read and dropped, as the original did. */
			if (ev.opcode == WS_OP_BINARY)
				client_fail(c, WS_CLOSE_UNSUPPORTED,
				    "binary frames are not accepted");
			break;
		case WS_EV_PING:
			ctl_add(c, WS_OP_PONG, ev.data, ev.len);
			break;
		case WS_EV_PONG:
			if (!c->await_pong || ev.len != 4)
				break;
			id = (uint32_t)ev.data[0] << 24 | (uint32_t)ev.data[1] << 16 |
			    (uint32_t)ev.data[2] << 8 | ev.data[3];
			if (id != c->ping_id)
				break;
			c->await_pong = 0;
			client_deadline(c, h->cfg.ping_ms);
			break;
		case WS_EV_CLOSE:
			h->stats.closed_by_client++;
			client_close(c, ev.code, NULL);
			break;
		default:
			break;
		}
	}
}

static void
client_read(struct hub_client *c)
{
	struct hub *h = c->hub;
	size_t total = 0;
	ssize_t n;

	while (total < HUB_READ_MAX) {
		n = read(c->fd, h->rbuf, HUB_READ_BUF);
		if (n > 0) {
			total += (size_t)n;
			if (c->state == C_OPEN)
				client_feed(c, h->rbuf, (size_t)n);
			if (c->dead || n < HUB_READ_BUF)
				return;
			continue;
		}
		if (n == 0) {
			/* Gone without a close handshake, unless we were closing. */
			if (c->state == C_OPEN)
				h->stats.resets++;
			c->dead = 1;
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			h->stats.resets++;
			c->dead = 1;
		}
		return;
	}
}

static void
client_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct hub_client *c = arg;

	if (events & EPOLLOUT)
		client_write(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		client_read(c);
	/* Reported without being asked for, and again and again: the socket is done. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		if (!c->dead && c->state == C_OPEN)
			c->hub->stats.resets++;
		c->dead = 1;
	}
	client_settle(c);
}

static void
client_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	struct hub_client *c = arg;
	struct hub *h = c->hub;
	unsigned char id[4];

	if (c->state != C_OPEN) {
		h->stats.close_timeouts++;
		c->dead = 1;
	} else if (c->await_pong) {
		h->stats.ping_timeouts++;
		c->dead = 1;
	} else {
		c->ping_id = ++h->pingseq;
		id[0] = (unsigned char)(c->ping_id >> 24);
		id[1] = (unsigned char)(c->ping_id >> 16);
		id[2] = (unsigned char)(c->ping_id >> 8);
		id[3] = (unsigned char)c->ping_id;
		/* A client whose control queue is full gets no ping, so no pong: cut off. */
		ctl_add(c, WS_OP_PING, id, sizeof(id));
		c->await_pong = 1;
		client_deadline(c, h->cfg.pong_ms);
	}
	client_settle(c);
}

/* Publishing. */

/* One client's part of a broadcast: write if it was caught up, check it if it was not. */
static void
flush_one(struct hub_client *c)
{
	if (c->state != C_OPEN)
		return;
	if (!c->want_out)
		client_write(c);
	if (!c->dead && c->want_out && client_lagging(c))
		client_fail(c, WS_CLOSE_POLICY, "too slow");
	client_settle(c);
}

/*
 * A broadcast is a pass over the clients, at most flush_batch of them per loop turn,
 * so that one event to 10,000 clients does not hold the loop (and every HTTP request
 * behind it) for the whole fan-out. Events published during a pass reach the clients
 * it has not visited yet at once, and the others in a next pass.
 */
static void
flush_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct hub *h = arg;
	struct hub_client *c;
	int n;

	if (h->flushpos == NULL && h->dirty) {
		h->flushpos = h->all;
		h->dirty = 0;
	}
	for (n = 0; h->flushpos && n < h->cfg.flush_batch; n++) {
		c = h->flushpos;
		h->flushpos = c->next;
		flush_one(c);
	}
	if ((h->flushpos || h->dirty) && h->all)
		loop_timer_set(l, &h->flush_timer, 0);
}

void
hub_flush(struct hub *h)
{
	struct hub_client *c, *next;

	loop_timer_stop(h->loop, &h->flush_timer);
	h->flushpos = NULL;
	h->dirty = 0;
	for (c = h->all; c; c = next) {
		next = c->next;
		flush_one(c);
	}
}

uint64_t
hub_publish_at(struct hub *h, const char *ts, const char *role, const char *event,
    const char *data)
{
	struct hub_frame *f;
	size_t start, len;

	if (role == NULL || event == NULL) {
		errno = EINVAL;
		goto fail;
	}
	if (frame_build(h, h->next, ts, role, event, data, &start) == -1)
		goto fail;
	len = h->scratch.len - start;
	if ((f = malloc(sizeof(*f) + len)) == NULL)
		goto fail;
	f->refs = 1;
	f->len = (uint32_t)len;
	f->seq = h->next;
	memcpy(f->data, h->scratch.p + start, len);
	if (h->scratch.cap > 64 * 1024)
		buf_free(&h->scratch);
	while (h->first < h->next && (h->next - h->first >= h->cfg.ring_max ||
	    h->ringbytes + len > h->cfg.ring_bytes))
		ring_evict(h);
	h->ring[h->next % h->cfg.ring_max] = f;
	h->ringbytes += len;
	h->published += len;
	f->end = h->published;
	h->next++;
	h->stats.published++;
	h->dirty = 1;
	if (h->all && !loop_timer_armed(&h->flush_timer))
		loop_timer_set(h->loop, &h->flush_timer, 0);
	return f->seq;
fail:
	h->stats.publish_errors++;
	return 0;
}

uint64_t
hub_publish(struct hub *h, const char *role, const char *event, const char *data)
{
	return hub_publish_at(h, NULL, role, event, data);
}

/* Accepting. */

int
hub_parse_since(const char *q, uint64_t *since)
{
	const char *v;
	uint64_t n = 0;
	size_t i;

	*since = HUB_SINCE_NONE;
	for (; q && *q; q += strcspn(q, "&"), q += *q == '&') {
		if (strncmp(q, "since=", 6) != 0)
			continue;
		v = q + 6;
		n = 0;
		for (i = 0; v[i] && v[i] != '&'; i++) {
			if (v[i] < '0' || v[i] > '9' || i >= 20 ||
			    n > (UINT64_MAX - 1 - (uint64_t)(v[i] - '0')) / 10) {
				errno = EINVAL;
				return -1;
			}
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		if (i == 0) {
			errno = EINVAL;
			return -1;
		}
		*since = n;
	}
	return 0;
}

static int
refuse(struct hub *h, struct http_server *srv, uint64_t id, int status, const char *headers,
    const char *detail, int err)
{
	struct http_response r;
	char body[160];

	snprintf(body, sizeof(body), "{\"detail\":\"%s\"}", detail);
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.content_type = "application/json";
	r.body = body;
	r.bodylen = strlen(body);
	r.headers = headers;
	h->stats.refused++;
	if (http_respond(srv, id, &r) == -1)
		return -1;
	errno = err;
	return -1;
}

/* Where a new client starts, and whether it first hears that events were missed. */
static int
client_replay(struct hub_client *c, uint64_t since)
{
	struct hub *h = c->hub;
	char data[64];
	size_t start;
	int gap = 0;

	c->cursor = h->next;
	if (since == HUB_SINCE_NONE)
		return 0;
	if (since + 1 >= h->first && since + 1 <= h->next)
		c->cursor = since + 1;
	else {
		c->cursor = h->first;
		gap = 1;
	}
	while (c->cursor < h->next && client_lagging(c)) {
		c->cursor++;
		gap = 1;
	}
	h->stats.replayed += h->next - c->cursor;
	if (!gap)
		return 0;
	h->stats.missed++;
	snprintf(data, sizeof(data), "{\"since\":%llu,\"first\":%llu}",
	    (unsigned long long)since, (unsigned long long)c->cursor);
	if (frame_build(h, c->cursor - 1, NULL, "system", "events_missed", data,
	    &start) == -1 ||
	    buf_add(&c->ctl, h->scratch.p + start, h->scratch.len - start) == -1)
		return -1;
	return 0;
}

int
hub_accept(struct hub *h, struct http_server *srv, uint64_t id, uint64_t since)
{
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
	struct http_request *r;
	struct http_detached d;
	struct ws_handshake hs;
	struct hub_client *c;
	char accept[WS_ACCEPT_LEN + 1];
	int st;

	if ((r = http_request_get(srv, id)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if ((st = ws_handshake_check(r, &hs)) != 0)
		return refuse(h, srv, id, st, hs.headers, hs.detail, EPROTO);
	if (h->shutdown)
		return refuse(h, srv, id, 503, "Retry-After: 1\r\n", "shutting down",
		    ESHUTDOWN);
	if (h->stats.clients >= (uint64_t)h->cfg.clients_max)
		return refuse(h, srv, id, 503, "Retry-After: 1\r\n", "too many clients",
		    EMFILE);
	ws_accept_key(hs.key, accept);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return refuse(h, srv, id, 503, "Retry-After: 1\r\n", "out of memory", ENOMEM);
	if (http_detach(srv, id, &d) == -1) {
		free(c);
		if (errno == ENOMEM)
			return refuse(h, srv, id, 503, "Retry-After: 1\r\n", "out of memory",
			    ENOMEM);
		return -1;
	}
	c->hub = h;
	c->fd = d.fd;
	c->ev = EPOLLIN;
	buf_init(&c->ctl, (size_t)-1 / 2);
	loop_timer_init(&c->timer, client_timer, c);
	ws_decoder_init(&c->dec, 1, h->cfg.message_max);
	if (h->cfg.sndbuf)
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &h->cfg.sndbuf,
		    sizeof(h->cfg.sndbuf));
	if ((d.outlen && buf_add(&c->ctl, d.out, d.outlen) == -1) ||
	    buf_adds(&c->ctl, head) == -1 || buf_adds(&c->ctl, accept) == -1 ||
	    buf_adds(&c->ctl, "\r\n\r\n") == -1 || client_replay(c, since) == -1 ||
	    loop_add(h->loop, c->fd, EPOLLIN, client_io, c) == -1) {
		log_warnsys("unable to take websocket client peer=%s", d.peer);
		close(c->fd);
		buf_free(&c->ctl);
		free(c);
		free(d.out);
		free(d.in);
		h->stats.refused++;
		return -1;
	}
	c->next = h->all;
	if (h->all)
		h->all->prev = c;
	h->all = c;
	h->stats.accepted++;
	if (++h->stats.clients > h->stats.clients_peak)
		h->stats.clients_peak = h->stats.clients;
	client_deadline(c, h->cfg.ping_ms);
	/* What the client sent before it saw our answer is its first input. */
	if (d.inlen)
		client_feed(c, (unsigned char *)d.in, d.inlen);
	free(d.out);
	free(d.in);
	client_settle(c);
	return 0;
}

/* Shutting down. */

void
hub_shutdown(struct hub *h)
{
	struct hub_client *c, *next;

	if (h->shutdown)
		return;
	h->shutdown = 1;
	for (c = h->all; c; c = next) {
		next = c->next;
		client_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
		client_settle(c);
	}
	if (h->stats.clients == 0 && !h->drained) {
		h->drained = 1;
		if (h->cfg.drained)
			h->cfg.drained(h, h->cfg.arg);
	}
}

void
hub_free(struct hub *h)
{
	int saved = errno;

	if (h->ring == NULL)
		return;
	/* No drained callback from here: the caller is tearing down. */
	h->drained = 1;
	while (h->all)
		client_release(h->all);
	while (h->first < h->next)
		ring_evict(h);
	loop_timer_stop(h->loop, &h->flush_timer);
	free(h->ring);
	free(h->rbuf);
	buf_free(&h->scratch);
	h->ring = NULL;
	h->rbuf = NULL;
	errno = saved;
}
