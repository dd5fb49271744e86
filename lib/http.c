/* See LICENSE. */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"

/*
 * Where a connection is. A request goes P_IDLE -> P_HEAD (header section arriving) ->
 * P_HOOK (inside the head callback) -> P_BODY -> P_APP (handed to the request callback,
 * waiting for http_respond) -> P_IDLE. P_SKIP: answered by the head callback, the message
 * (which has no body) still has to be consumed. P_CLOSING: a last response is queued;
 * once it is written the write side is shut and the connection goes P_LINGER, where input
 * is read and thrown away until the client closes or linger_ms pass. P_DEAD: closed, the
 * gone callback may be running.
 */
enum {
	P_IDLE, P_HEAD, P_HOOK, P_BODY, P_SKIP, P_APP, P_CLOSING, P_LINGER, P_DEAD
};

/* Which deadline runs. */
enum {
	D_NONE, D_FIRST, D_IDLE, D_HEADER, D_BODY, D_WRITE, D_LINGER
};

/* The last data callback, to tell a new line from the rest of a split one. */
enum {
	CB_NONE, CB_URL, CB_FIELD, CB_VALUE
};

/* What a pausing parser callback saw. */
enum {
	EV_NONE, EV_HEADERS, EV_CHUNK_HEADER, EV_CHUNK_DONE, EV_MESSAGE
};

/* Stop parsing more pipelined requests while this many response bytes are unsent. */
#define HTTP_OUT_HIWAT		(64 * 1024)
/* Free bytes kept at the end of the input buffer besides the header section's caps. */
#define HTTP_READ_SLACK		(8 * 1024)
/* Buffers bigger than this are freed rather than kept for the next request. */
#define HTTP_KEEP_BUF		(64 * 1024)
/* Connections taken per wake-up of a listener, so one flood cannot starve the rest. */
#define HTTP_ACCEPT_BATCH	64
/* A pause of accept after the process ran out of descriptors. */
#define HTTP_ACCEPT_PAUSE_MS	100

struct http_conn {
	struct http_server	*srv;
	struct http_conn	*next, *prev;
	int			 fd;
	uint32_t		 slot;
	uint32_t		 ev;
	int			 phase;
	int			 busy;		/* inside conn_process: only queue */
	int			 dead;		/* release when no longer busy */
	int			 eof;		/* the client shut its side */
	int			 close;		/* end after the current response */
	int			 answered;
	int			 kick;		/* the timer fires to parse, not to expire */
	int			 is_head;
	int			 detached;	/* the fd belongs to someone else now */
	int			 nrequests;
	http_parser		 hp;
	/* Input: [0, inlen) held, [0, pos) given to the parser. */
	char			*in;
	size_t			 inlen, pos;
	size_t			 lingered;
	/* The message being parsed; offsets into in. */
	size_t			 msg;		/* where it may start */
	size_t			 urloff, urllen;
	size_t			 reqline_end;	/* first byte after the request line */
	size_t			 lnext;		/* where the next line must start */
	size_t			 hdrend;	/* first byte after the header section */
	size_t			 linestart;	/* chunked: the line being read */
	int			 inline_;	/* chunked: reading a size line or the end */
	int			 emptyval;
	int			 last;
	int			 evt;
	int			 err;
	uint64_t		 bodyseen;
	struct http_header	*hdrs;
	struct http_request	 req;
	struct buf		 body;
	struct buf		 out;
	size_t			 outoff;
	struct loop_timer	 timer;
	uint64_t		 deadline;
	int			 dkind;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peerstr[HTTP_ADDRSTRLEN];
};

static const char reject_503[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 20\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Service Unavailable\n";

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* RFC 9110 tchar: the bytes a header name may hold. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static int	 on_url(http_parser *, const char *, size_t);
static int	 on_header_field(http_parser *, const char *, size_t);
static int	 on_header_value(http_parser *, const char *, size_t);
static int	 on_headers_complete(http_parser *);
static int	 on_body(http_parser *, const char *, size_t);
static int	 on_message_complete(http_parser *);
static int	 on_chunk_header(http_parser *);
static int	 on_chunk_complete(http_parser *);

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
	.on_chunk_complete = on_chunk_complete,
};

static void	 conn_process(struct http_conn *);
static void	 conn_settle(struct http_conn *);
static void	 conn_close(struct http_conn *);
static void	 accept_resume(struct loop *, struct loop_timer *, void *);

const char *
http_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	default:
		break;
	}
	if (status >= HTTP_STATUS_MIN && status <= HTTP_STATUS_MAX &&
	    strcmp(http_status_str((enum http_status)status), "<unknown>") != 0)
		return http_status_str((enum http_status)status);
	return "Unknown";
}

void
http_config_default(struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->url_max = HTTP_URL_MAX;
	cfg->headers_max = HTTP_HEADERS_MAX;
	cfg->nheaders_max = HTTP_NHEADERS_MAX;
	cfg->body_max = HTTP_BODY_MAX;
	cfg->response_max = HTTP_RESPONSE_MAX;
	cfg->conns_max = HTTP_CONNS_MAX;
	cfg->header_ms = HTTP_HEADER_MS;
	cfg->body_ms = HTTP_BODY_MS;
	cfg->idle_ms = HTTP_IDLE_MS;
	cfg->write_ms = HTTP_WRITE_MS;
	cfg->linger_ms = HTTP_LINGER_MS;
	cfg->backlog = HTTP_BACKLOG;
	cfg->date = 1;
}

/* Visible ASCII, space and HTAB only: what may go into a header value we send. */
static int
field_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i >= max)
			return 0;
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 0;
	}
	return 1;
}

int
http_server_init(struct http_server *srv, struct loop *l, const struct http_config *cfg)
{
	int i;

	memset(srv, 0, sizeof(*srv));
	srv->loop = l;
	loop_timer_init(&srv->accept_timer, accept_resume, srv);
	if (cfg->request == NULL || cfg->url_max == 0 || cfg->url_max > 1024 * 1024 ||
	    cfg->headers_max < 2 || cfg->headers_max > 1024 * 1024 ||
	    cfg->nheaders_max < 1 || cfg->nheaders_max > 10000 ||
	    cfg->body_max > HTTP_BODY_LIMIT || cfg->response_max < 1024 ||
	    cfg->conns_max < 1 || cfg->conns_max > HTTP_CONNS_LIMIT ||
	    cfg->header_ms == 0 || cfg->body_ms == 0 || cfg->idle_ms == 0 ||
	    cfg->write_ms == 0 || cfg->backlog < 1 ||
	    (cfg->server && !field_ok(cfg->server, 256))) {
		errno = EINVAL;
		return -1;
	}
	srv->cfg = *cfg;
	srv->insize = cfg->url_max + HTTP_REQLINE_EXTRA + cfg->headers_max + HTTP_READ_SLACK;
	srv->slots = calloc(cfg->conns_max, sizeof(*srv->slots));
	srv->slotgen = calloc(cfg->conns_max, sizeof(*srv->slotgen));
	srv->freeslots = calloc(cfg->conns_max, sizeof(*srv->freeslots));
	if (!srv->slots || !srv->slotgen || !srv->freeslots) {
		free(srv->slots);
		free(srv->slotgen);
		free(srv->freeslots);
		srv->slots = NULL;
		srv->slotgen = srv->freeslots = NULL;
		return -1;
	}
	/* Hand out low slots first: it keeps ids short in logs. */
	for (i = 0; i < cfg->conns_max; i++)
		srv->freeslots[i] = (uint32_t)(cfg->conns_max - 1 - i);
	srv->nfreeslots = cfg->conns_max;
	return 0;
}

/* The Date header, formatted at most once per second of the loop's clock. */
static void
date_refresh(struct http_server *srv)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	uint64_t sec = loop_now_ms(srv->loop) / 1000;
	struct timespec ts;
	struct tm tm;
	char *p = srv->date;

	if (srv->datelen && sec == srv->date_sec)
		return;
	srv->date_sec = sec;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	memcpy(p, "Date: ", 6);
	p += 6;
	memcpy(p, days + 3 * tm.tm_wday, 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	*p++ = '0' + tm.tm_mday / 10;
	*p++ = '0' + tm.tm_mday % 10;
	*p++ = ' ';
	memcpy(p, months + 3 * tm.tm_mon, 3);
	p += 3;
	*p++ = ' ';
	tm.tm_year += 1900;
	*p++ = '0' + tm.tm_year / 1000 % 10;
	*p++ = '0' + tm.tm_year / 100 % 10;
	*p++ = '0' + tm.tm_year / 10 % 10;
	*p++ = '0' + tm.tm_year % 10;
	*p++ = ' ';
	*p++ = '0' + tm.tm_hour / 10;
	*p++ = '0' + tm.tm_hour % 10;
	*p++ = ':';
	*p++ = '0' + tm.tm_min / 10;
	*p++ = '0' + tm.tm_min % 10;
	*p++ = ':';
	*p++ = '0' + tm.tm_sec / 10;
	*p++ = '0' + tm.tm_sec % 10;
	memcpy(p, " GMT\r\n", 6);
	p += 6;
	srv->datelen = (size_t)(p - srv->date);
}

static void
count_status(struct http_server *srv, int status)
{
	srv->stats.responses++;
	srv->stats.by_class[status / 100]++;
	srv->stats.by_code[status - HTTP_STATUS_MIN]++;
}

static char *
put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *
put_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/*
 * Append one response to the output buffer, built in place: no formatting functions,
 * no allocation once the buffer has grown to its working size.
 */
static int
resp_build(struct http_conn *c, int status, const char *ctype, const void *body,
    size_t bodylen, const char *extra, int closing)
{
	struct http_server *srv = c->srv;
	const char *reason = http_reason(status);
	size_t rl = strlen(reason), cl = ctype ? strlen(ctype) : 0;
	size_t sl = srv->cfg.server ? strlen(srv->cfg.server) : 0;
	size_t xl = extra ? strlen(extra) : 0, need;
	int nobody = status < 200 || status == 204 || status == 304;
	int sendbody = !nobody && !c->is_head;
	char *p;

	if (srv->cfg.date)
		date_refresh(srv);
	need = 160 + rl + srv->datelen + sl + cl + xl;
	if (sendbody) {
		if (bodylen > srv->cfg.response_max) {
			errno = ENOBUFS;
			return -1;
		}
		need += bodylen;
	}
	if (buf_reserve(&c->out, need) == -1)
		return -1;
	p = c->out.p + c->out.len;
	p = put(p, "HTTP/1.1 ", 9);
	*p++ = (char)('0' + status / 100);
	*p++ = (char)('0' + status / 10 % 10);
	*p++ = (char)('0' + status % 10);
	*p++ = ' ';
	p = put(p, reason, rl);
	p = put(p, "\r\n", 2);
	if (srv->cfg.date)
		p = put(p, srv->date, srv->datelen);
	if (sl) {
		p = put(p, "Server: ", 8);
		p = put(p, srv->cfg.server, sl);
		p = put(p, "\r\n", 2);
	}
	if (cl) {
		p = put(p, "Content-Type: ", 14);
		p = put(p, ctype, cl);
		p = put(p, "\r\n", 2);
	}
	if (!nobody) {
		p = put(p, "Content-Length: ", 16);
		p = put_u64(p, bodylen);
		p = put(p, "\r\n", 2);
	}
	if (closing)
		p = put(p, "Connection: close\r\n", 19);
	else if (c->req.minor == 0)
		p = put(p, "Connection: keep-alive\r\n", 24);
	if (xl)
		p = put(p, extra, xl);
	p = put(p, "\r\n", 2);
	if (sendbody && bodylen)
		p = put(p, body, bodylen);
	c->out.len = (size_t)(p - c->out.p);
	c->out.p[c->out.len] = '\0';
	count_status(srv, status);
	return 0;
}

/* Deadlines. */

static void
set_deadline(struct http_conn *c, int kind, uint64_t when)
{
	c->dkind = kind;
	c->deadline = when;
	if (kind == D_NONE)
		return;
	/*
	 * A later deadline leaves the timer where it is: it fires early, sees the new
	 * deadline and moves once. A keep-alive connection thus touches the heap about once
	 * per idle period instead of once per request.
	 */
	if (!loop_timer_armed(&c->timer) || c->timer.when > when)
		if (loop_timer_set_at(c->srv->loop, &c->timer, when) == -1)
			c->dead = 1;
}

static void
conn_error(struct http_conn *c, int status)
{
	static const char *const text[] = {
		[400 - 400] = "Bad Request\n", [405 - 400] = "Method Not Allowed\n",
		[408 - 400] = "Request Timeout\n", [413 - 400] = "Content Too Large\n",
		[414 - 400] = "URI Too Long\n", [417 - 400] = "Expectation Failed\n",
		[431 - 400] = "Request Header Fields Too Large\n",
	};
	const char *t = NULL;

	if (status >= 400 && status <= 431)
		t = text[status - 400];
	if (t == NULL)
		t = status >= 500 ? "Internal Server Error\n" : "Error\n";
	c->close = 1;
	c->phase = P_CLOSING;
	if (resp_build(c, status, "text/plain", t, strlen(t), NULL, 1) == -1)
		c->dead = 1;
}

static int
conn_fail(struct http_conn *c, int status)
{
	struct http_stats *st = &c->srv->stats;

	switch (status) {
	case 400:
		st->bad_requests++;
		break;
	case 413:
		st->rejected_body++;
		break;
	case 414:
		st->rejected_url++;
		break;
	case 431:
		st->rejected_headers++;
		break;
	default:
		break;
	}
	conn_error(c, status);
	return -1;
}

static void
conn_timeout(struct loop *l, struct loop_timer *t, void *arg)
{
	struct http_conn *c = arg;
	struct http_stats *st = &c->srv->stats;

	if (c->kick) {
		c->kick = 0;
		conn_process(c);
		return;
	}
	if (c->dkind == D_NONE)
		return;
	if (loop_now_ms(l) < c->deadline) {
		if (loop_timer_set_at(l, t, c->deadline) == -1)
			conn_close(c);
		return;
	}
	switch (c->dkind) {
	case D_FIRST:
	case D_IDLE:
		st->timeout_idle++;
		conn_close(c);
		return;
	case D_WRITE:
		st->timeout_write++;
		conn_close(c);
		return;
	case D_LINGER:
		conn_close(c);
		return;
	case D_HEADER:
		st->timeout_header++;
		conn_error(c, 408);
		break;
	case D_BODY:
		st->timeout_body++;
		conn_error(c, 408);
		break;
	}
	conn_settle(c);
}

/* Parser callbacks. A callback that fails sets c->err to the status to answer. */

static int
fail(struct http_conn *c, int status)
{
	c->err = status;
	return -1;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	size_t off = (size_t)(at - c->in), i, mlen;
	const char *m;
	unsigned char ch;

	if (c->last != CB_URL) {
		/* The method, then exactly one space: the lenient parser skips any number. */
		m = http_method_str((enum http_method)p->method);
		mlen = strlen(m);
		if (off < c->msg + mlen + 1 || c->in[off - 1] != ' ' ||
		    memcmp(c->in + off - 1 - mlen, m, mlen) != 0)
			return fail(c, 400);
		c->urloff = off;
		c->urllen = 0;
		c->last = CB_URL;
	} else if (off != c->urloff + c->urllen)
		return fail(c, 400);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)at[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '#')
			return fail(c, 400);
	}
	c->urllen += len;
	if (c->urllen > c->srv->cfg.url_max)
		return fail(c, 414);
	return 0;
}

/*
 * A new line starts at off. The line before it must end in CRLF right there: after the
 * request line, " HTTP/1.x" then CRLF; after a field line, CRLF where its value ended.
 * This is where bare LF, stray CR and a bad version are caught.
 */
static int
line_start(struct http_conn *c, size_t off)
{
	const char *in = c->in;
	size_t e;

	if (c->last == CB_URL) {
		e = c->urloff + c->urllen;
		if (off != e + 11 || memcmp(in + e, " HTTP/1.", 8) != 0 ||
		    (in[e + 8] != '0' && in[e + 8] != '1') ||
		    in[e + 9] != '\r' || in[e + 10] != '\n')
			return -1;
		c->reqline_end = off;
		return 0;
	}
	if (c->last != CB_VALUE || off != c->lnext || off < 2 ||
	    in[off - 2] != '\r' || in[off - 1] != '\n')
		return -1;
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_header *h;
	size_t i;

	/* Trailer fields: refused, see http.h. */
	if (p->flags & F_TRAILING)
		return fail(c, 400);
	if (c->last != CB_FIELD) {
		if (line_start(c, (size_t)(at - c->in)) == -1)
			return fail(c, 400);
		if (c->req.nheaders >= c->srv->cfg.nheaders_max)
			return fail(c, 431);
		h = &c->hdrs[c->req.nheaders++];
		h->name = at;
		h->namelen = 0;
		h->value = NULL;
		h->valuelen = 0;
		c->last = CB_FIELD;
	} else {
		h = &c->hdrs[c->req.nheaders - 1];
		if (at != h->name + h->namelen)
			return fail(c, 400);
	}
	for (i = 0; i < len; i++)
		if (!tchar[(unsigned char)at[i]])
			return fail(c, 400);
	h->namelen += len;
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_header *h;
	const char *colon, *q, *gap;
	size_t i;
	unsigned char ch;

	if ((p->flags & F_TRAILING) || c->req.nheaders == 0)
		return fail(c, 400);
	h = &c->hdrs[c->req.nheaders - 1];
	if (c->last == CB_FIELD) {
		colon = h->name + h->namelen;
		if (h->namelen == 0 || *colon != ':')
			return fail(c, 400);
		if (len == 0) {
			/* An empty value: the parser reports it where the next line starts. */
			if (at < colon + 3 || at[-2] != '\r' || at[-1] != '\n')
				return fail(c, 400);
			gap = at - 2;
			c->lnext = (size_t)(at - c->in);
			c->emptyval = 1;
		} else {
			gap = at;
			c->emptyval = 0;
		}
		/* Only SP and HTAB between the colon and the value: CR or LF is obs-fold. */
		for (q = colon + 1; q < gap; q++)
			if (*q != ' ' && *q != '\t')
				return fail(c, 400);
		h->value = at;
		h->valuelen = 0;
		c->last = CB_VALUE;
	} else if (c->last == CB_VALUE) {
		/*
		 * The same value again: only a value split between two reads continues
		 * exactly where the last piece ended; anything else is obs-fold.
		 */
		if (c->emptyval || at != h->value + h->valuelen)
			return fail(c, 400);
	} else
		return fail(c, 400);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)at[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(c, 400);
	}
	h->valuelen += len;
	if (!c->emptyval)
		c->lnext = (size_t)(h->value - c->in) + h->valuelen + 2;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	size_t end;

	if (c->last == CB_URL)
		end = c->urloff + c->urllen + 11;
	else if (c->last == CB_VALUE)
		end = c->lnext;
	else
		return fail(c, 400);
	/* The parser is on the byte after the empty line's CR: it is in the buffer. */
	if (end + 1 >= c->inlen || line_start(c, end) == -1 ||
	    c->in[end] != '\r' || c->in[end + 1] != '\n')
		return fail(c, 400);
	c->hdrend = end + 2;
	if (c->hdrend - c->reqline_end > c->srv->cfg.headers_max)
		return fail(c, 431);
	c->evt = EV_HEADERS;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_server *srv = c->srv;
	int st;

	if (len > c->req.body_max - c->bodyseen)
		return fail(c, 413);
	c->bodyseen += len;
	if (srv->cfg.body && (st = srv->cfg.body(srv, &c->req, at, len, srv->cfg.arg)) != 0)
		return fail(c, st >= 400 && st <= HTTP_STATUS_MAX ? st : 400);
	if (buf_add(&c->body, at, len) == -1)
		return fail(c, errno == ENOBUFS ? 413 : 500);
	return 0;
}

static int
on_chunk_header(http_parser *p)
{
	struct http_conn *c = p->data;

	/* The chunk's size is known before its data: refuse it before reading it. */
	if (p->content_length > c->req.body_max - c->bodyseen)
		return fail(c, 413);
	c->evt = EV_CHUNK_HEADER;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_chunk_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	/* After the last chunk the message end is checked in on_message instead. */
	if (p->flags & F_TRAILING)
		return 0;
	c->evt = EV_CHUNK_DONE;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->evt = EV_MESSAGE;
	http_parser_pause(p, 1);
	return 0;
}

/* Requests. */

static struct http_conn *
lookup(struct http_server *srv, uint64_t id)
{
	uint32_t slot = (uint32_t)id;
	struct http_conn *c;

	if (srv->slots == NULL || slot >= (uint32_t)srv->cfg.conns_max)
		return NULL;
	c = srv->slots[slot];
	if (c == NULL || c->req.id != id || c->answered ||
	    (c->phase != P_HOOK && c->phase != P_APP))
		return NULL;
	return c;
}

struct http_request *
http_request_get(struct http_server *srv, uint64_t id)
{
	struct http_conn *c = lookup(srv, id);

	return c ? &c->req : NULL;
}

const char *
http_header(const struct http_request *r, const char *name)
{
	int i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static int
body_expected(const struct http_request *r)
{
	return r->chunked || (r->has_length && r->content_length > 0);
}

/*
 * A request whose head callback set req->user but that never reached the request
 * callback (its body was refused, timed out, or the client went away) is reported to
 * the gone callback too, so the daemon can free what it attached.
 */
static void
forget_user(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->req.user != NULL && c->phase != P_APP && srv->cfg.gone)
		srv->cfg.gone(srv, &c->req, srv->cfg.arg);
	c->req.user = NULL;
}

static void
msg_begin(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct http_request *r = &c->req;
	size_t need = srv->cfg.url_max + HTTP_REQLINE_EXTRA + srv->cfg.headers_max;

	/* The header section must fit, whole and in place, after the message start. */
	if (srv->insize - c->pos < need + 1) {
		memmove(c->in, c->in + c->pos, c->inlen - c->pos);
		c->inlen -= c->pos;
		c->pos = 0;
	}
	c->msg = c->pos;
	c->urloff = c->urllen = c->reqline_end = c->lnext = c->hdrend = 0;
	c->linestart = 0;
	c->inline_ = c->emptyval = 0;
	c->last = CB_NONE;
	c->err = 0;
	c->bodyseen = 0;
	c->answered = 0;
	c->is_head = 0;
	forget_user(c);
	memset(r, 0, sizeof(*r));
	r->headers = c->hdrs;
	r->minor = 1;
	r->peer = c->peerstr;
	r->peer_sa = (const struct sockaddr *)&c->peer;
	r->peer_salen = c->peerlen;
	c->phase = P_HEAD;
	c->nrequests++;
	/* Set directly: conn_update then sees a change of kind and sets the next one. */
	c->dkind = D_HEADER;
	c->deadline = loop_now_ms(srv->loop) + srv->cfg.header_ms;
	if (!loop_timer_armed(&c->timer) || c->timer.when > c->deadline)
		set_deadline(c, D_HEADER, c->deadline);
}

static void
msg_done(struct http_conn *c)
{
	c->answered = 0;
	c->req.id = 0;
	c->phase = c->close ? P_CLOSING : P_IDLE;
	if (c->body.cap > HTTP_KEEP_BUF)
		buf_free(&c->body);
	else
		buf_reset(&c->body);
	if (c->pos == c->inlen)
		c->pos = c->inlen = 0;
}

static int
digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * The header section is complete (c->pos is on its last byte, the LF): fill the request,
 * make its strings C strings, run the checks the lenient parser does not, then the head
 * callback.
 */
static int
on_head(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct http_request *r = &c->req;
	struct http_parser_url u;
	struct http_header *h;
	const char *te = NULL, *cl = NULL, *expect = NULL;
	char *url, *end;
	int i, ncl = 0, nte = 0, nhost = 0;

	srv->stats.requests++;
	r->method = c->hp.method;
	r->method_str = http_method_str((enum http_method)c->hp.method);
	r->minor = c->hp.http_minor;
	r->keep_alive = http_should_keep_alive(&c->hp);
	r->start_ms = loop_now_ms(srv->loop);
	c->is_head = r->method == HTTP_HEAD;
	if (c->hp.http_major != 1 || c->hp.http_minor > 1)
		return conn_fail(c, 400);

	/* NUL-terminate in place: the bytes after each string were parsed already. */
	for (i = 0; i < r->nheaders; i++) {
		h = &c->hdrs[i];
		((char *)h->name)[h->namelen] = '\0';
		while (h->valuelen && (h->value[h->valuelen - 1] == ' ' ||
		    h->value[h->valuelen - 1] == '\t'))
			h->valuelen--;
		if (h->valuelen == 0)
			h->value = "";
		else
			((char *)h->value)[h->valuelen] = '\0';
		if (strcasecmp(h->name, "content-length") == 0) {
			ncl++;
			cl = h->value;
		} else if (strcasecmp(h->name, "transfer-encoding") == 0) {
			nte++;
			te = h->value;
		} else if (strcasecmp(h->name, "host") == 0)
			nhost++;
		else if (strcasecmp(h->name, "expect") == 0) {
			if (expect)
				return conn_fail(c, 417);
			expect = h->value;
		}
	}
	if (ncl > 1 || nte > 1 || (ncl && nte) || nhost > 1 ||
	    (r->minor == 1 && nhost != 1))
		return conn_fail(c, 400);
	if (nte && strcasecmp(te, "chunked") != 0)
		return conn_fail(c, 400);
	if (ncl && (!digits(cl) || strlen(cl) > 19))
		return conn_fail(c, 400);
	r->chunked = nte == 1;
	r->has_length = ncl == 1;
	if (r->has_length)
		r->content_length = strtoull(cl, NULL, 10);
	/* Both views of the framing must agree, or the parser and we read different bodies. */
	if (r->chunked != !!(c->hp.flags & F_CHUNKED) ||
	    r->has_length != !!(c->hp.flags & F_CONTENTLENGTH) ||
	    (r->has_length && r->content_length != c->hp.content_length))
		return conn_fail(c, 400);

	url = c->in + c->urloff;
	url[c->urllen] = '\0';
	http_parser_url_init(&u);
	if (c->hp.method == HTTP_CONNECT || c->hp.upgrade) {
		if (c->hp.method == HTTP_CONNECT) {
			conn_error(c, 405);
			return -1;
		}
		/* No protocol switch here: answer it as plain HTTP, then close. */
		c->close = 1;
	}
	if (strcmp(url, "*") == 0)
		r->path = url;
	else if (http_parser_parse_url(url, c->urllen, 0, &u) != 0)
		return conn_fail(c, 400);
	else {
		if (u.field_set & (1 << UF_PATH)) {
			r->path = url + u.field_data[UF_PATH].off;
			end = url + u.field_data[UF_PATH].off + u.field_data[UF_PATH].len;
		} else {
			r->path = "/";
			end = NULL;
		}
		if (u.field_set & (1 << UF_QUERY)) {
			r->query = url + u.field_data[UF_QUERY].off;
			url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
		}
		if (end)
			*end = '\0';
		if (r->path[0] != '/')
			return conn_fail(c, 400);
	}

	r->body_max = srv->cfg.body_max;
	r->id = (uint64_t)++srv->slotgen[c->slot] << 32 | c->slot;
	c->phase = P_HOOK;
	if (srv->cfg.head)
		srv->cfg.head(srv, r, srv->cfg.arg);
	if (c->dead)
		return -1;
	if (c->answered) {
		/* The body is never read: close rather than skip it. */
		if (body_expected(r)) {
			c->close = 1;
			msg_done(c);
			return -1;
		}
		c->phase = P_SKIP;
		return 0;
	}
	if (r->body_max > HTTP_BODY_LIMIT)
		r->body_max = HTTP_BODY_LIMIT;
	if (r->has_length && r->content_length > r->body_max)
		return conn_fail(c, 413);
	if (expect) {
		if (strcasecmp(expect, "100-continue") != 0) {
			conn_error(c, 417);
			return -1;
		}
		if (body_expected(r) && r->minor == 1) {
			if (buf_add(&c->out, continue_100, sizeof(continue_100) - 1) == -1)
				return conn_fail(c, 500);
			count_status(srv, 100);
		}
	}
	c->body.max = r->body_max;
	if (r->has_length && r->content_length > 0 &&
	    buf_reserve(&c->body, r->content_length) == -1)
		return conn_fail(c, 500);
	if (r->chunked) {
		c->linestart = c->hdrend;
		c->inline_ = 1;
	}
	c->phase = P_BODY;
	set_deadline(c, D_BODY, loop_now_ms(srv->loop) + srv->cfg.body_ms);
	return 0;
}

static int
hexdigits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int
on_message(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct http_request *r = &c->req;

	/* After "0\r\n" only the empty line: no trailers, nothing but CRLF. */
	if (r->chunked && (c->pos - c->linestart != 2 ||
	    c->in[c->pos - 2] != '\r' || c->in[c->pos - 1] != '\n'))
		return conn_fail(c, 400);
	c->inline_ = 0;
	if (c->phase == P_SKIP) {
		msg_done(c);
		return 0;
	}
	r->body = c->body.p ? c->body.p : "";
	r->bodylen = c->body.len;
	c->phase = P_APP;
	set_deadline(c, D_NONE, 0);
	srv->cfg.request(srv, r, srv->cfg.arg);
	if (c->answered)
		msg_done(c);
	return 0;
}

/* Give the parser what is buffered; returns -1 when parsing must stop. */
static int
conn_parse(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	enum http_errno e;
	size_t n, e2;

	c->evt = EV_NONE;
	n = http_parser_execute(&c->hp, &settings, c->in + c->pos, c->inlen - c->pos);
	c->pos += n;
	e = HTTP_PARSER_ERRNO(&c->hp);
	if (e != HPE_OK && e != HPE_PAUSED)
		return conn_fail(c, c->err ? c->err : e == HPE_HEADER_OVERFLOW ? 431 : 400);
	if (e == HPE_PAUSED)
		http_parser_pause(&c->hp, 0);
	switch (c->evt) {
	case EV_HEADERS:
		if (c->pos + 1 != c->hdrend)
			return conn_fail(c, 400);
		return on_head(c);
	case EV_CHUNK_HEADER:
		/* The size line: hex digits and CRLF, nothing else. */
		e2 = c->pos - 2;
		if (!c->inline_ || c->pos < c->linestart + 3 ||
		    c->pos - c->linestart > HTTP_CHUNKLINE_MAX ||
		    !hexdigits(c->in + c->linestart, e2 - c->linestart) ||
		    c->in[e2] != '\r' || c->in[e2 + 1] != '\n')
			return conn_fail(c, 400);
		c->linestart = c->pos;
		/* After the last chunk, the empty line that ends the message. */
		c->inline_ = (c->hp.flags & F_TRAILING) != 0;
		return 0;
	case EV_CHUNK_DONE:
		if (c->in[c->pos - 2] != '\r' || c->in[c->pos - 1] != '\n')
			return conn_fail(c, 400);
		c->linestart = c->pos;
		c->inline_ = 1;
		return 0;
	case EV_MESSAGE:
		return on_message(c);
	default:
		break;
	}
	/* All was parsed and more is needed: the caps apply to what is buffered. */
	if (c->phase == P_HEAD) {
		if (c->reqline_end && c->pos - c->reqline_end > srv->cfg.headers_max)
			return conn_fail(c, 431);
		/* A long URL failed in on_url already: this is the rest of the line. */
		if (!c->reqline_end && c->pos - c->msg > srv->cfg.url_max + HTTP_REQLINE_EXTRA)
			return conn_fail(c, 431);
	}
	if (c->inline_ && c->pos - c->linestart > HTTP_CHUNKLINE_MAX)
		return conn_fail(c, 400);
	return 0;
}

/* Connections. */

static struct http_conn *
conn_get(struct http_server *srv)
{
	struct http_conn *c;
	size_t hsz;

	if ((c = srv->free) != NULL) {
		srv->free = c->next;
		srv->nfree--;
		return c;
	}
	hsz = (size_t)srv->cfg.nheaders_max * sizeof(struct http_header);
	if ((c = malloc(sizeof(*c) + hsz + srv->insize)) == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->hdrs = (struct http_header *)(c + 1);
	c->in = (char *)c->hdrs + hsz;
	buf_init(&c->body, srv->cfg.body_max);
	buf_init(&c->out, srv->cfg.response_max);
	return c;
}

static void
conn_put(struct http_server *srv, struct http_conn *c)
{
	if (srv->nfree >= HTTP_FREE_MAX) {
		buf_free(&c->body);
		buf_free(&c->out);
		free(c);
		return;
	}
	if (c->body.cap > HTTP_KEEP_BUF)
		buf_free(&c->body);
	if (c->out.cap > HTTP_KEEP_BUF)
		buf_free(&c->out);
	c->next = srv->free;
	srv->free = c;
	srv->nfree++;
}

static void
conn_release(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	int was_app = c->phase == P_APP && !c->answered;

	if (!was_app)
		forget_user(c);
	c->phase = P_DEAD;
	if (was_app) {
		srv->stats.gone++;
		if (srv->cfg.gone)
			srv->cfg.gone(srv, &c->req, srv->cfg.arg);
	}
	c->req.id = 0;
	loop_timer_stop(srv->loop, &c->timer);
	/* A detached descriptor left the loop in http_detach and may be registered again. */
	if (!c->detached) {
		loop_del(srv->loop, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	srv->slots[c->slot] = NULL;
	srv->freeslots[srv->nfreeslots++] = c->slot;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->stats.conns--;
	conn_put(srv, c);
	if (srv->shutdown && srv->stats.conns == 0 && !srv->drained) {
		srv->drained = 1;
		if (srv->cfg.drained)
			srv->cfg.drained(srv, srv->cfg.arg);
	}
}

static void
conn_close(struct http_conn *c)
{
	if (c->busy)
		c->dead = 1;
	else
		conn_release(c);
}

static int
conn_flush(struct http_conn *c)
{
	ssize_t n;

	while (c->outoff < c->out.len) {
		n = send(c->fd, c->out.p + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
			/* The client takes bytes: its write deadline starts again. */
			if (c->dkind == D_WRITE)
				c->deadline = loop_now_ms(c->srv->loop) + c->srv->cfg.write_ms;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		c->dead = 1;
		return -1;
	}
	c->outoff = 0;
	if (c->out.cap > HTTP_KEEP_BUF)
		buf_free(&c->out);
	else
		buf_reset(&c->out);
	if (c->phase == P_CLOSING) {
		/* Half-close, then drain: closing with unread input would send a reset. */
		shutdown(c->fd, SHUT_WR);
		c->phase = P_LINGER;
		c->lingered = 0;
		c->pos = c->inlen = 0;
		/* The client already closed its side: nothing to drain. */
		if (c->eof)
			c->dead = 1;
	}
	return 0;
}

/* Make room at the end of a full input buffer by dropping what is no longer needed. */
static void
conn_room(struct http_conn *c)
{
	size_t keep, d;

	if (c->inlen < c->srv->insize)
		return;
	if (c->phase == P_BODY) {
		/*
		 * Body bytes already given to the parser can go, but for the two before
		 * pos (a chunk's CRLF is checked across reads) and the chunk size line
		 * being read. The header section stays: the request's strings point
		 * into it.
		 */
		keep = c->pos >= 2 ? c->pos - 2 : 0;
		if (c->inline_ && c->linestart < keep)
			keep = c->linestart;
		if (keep <= c->hdrend)
			return;
		d = keep - c->hdrend;
		memmove(c->in + c->hdrend, c->in + keep, c->inlen - keep);
		c->inlen -= d;
		c->pos -= d;
		if (c->linestart >= keep)
			c->linestart -= d;
	} else if (c->phase == P_IDLE && c->pos > 0) {
		memmove(c->in, c->in + c->pos, c->inlen - c->pos);
		c->inlen -= c->pos;
		c->pos = 0;
	}
}

/* Interest and deadline for what the connection waits for now. */
static void
conn_update(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	uint64_t now = loop_now_ms(srv->loop);
	int want_write = c->outoff < c->out.len, kind;
	uint32_t ev = 0;

	conn_room(c);
	if (!c->eof && c->phase != P_CLOSING &&
	    (c->phase == P_LINGER || c->inlen < srv->insize))
		ev |= EPOLLIN;
	if (want_write)
		ev |= EPOLLOUT;
	if (ev != c->ev) {
		if (loop_mod(srv->loop, c->fd, ev) == -1) {
			c->dead = 1;
			return;
		}
		c->ev = ev;
	}
	if (want_write)
		kind = D_WRITE;
	else {
		switch (c->phase) {
		case P_IDLE:
			kind = c->nrequests ? D_IDLE : D_FIRST;
			break;
		case P_HEAD:
			kind = D_HEADER;
			break;
		case P_BODY:
		case P_SKIP:
			kind = D_BODY;
			break;
		case P_LINGER:
			kind = D_LINGER;
			break;
		default:
			kind = D_NONE;
			break;
		}
	}
	if (kind == c->dkind) {
		/* The timer fired for a kick: put the deadline back. */
		if (kind != D_NONE && !loop_timer_armed(&c->timer) &&
		    loop_timer_set_at(srv->loop, &c->timer, c->deadline) == -1)
			c->dead = 1;
		return;
	}
	switch (kind) {
	case D_WRITE:
		set_deadline(c, kind, now + srv->cfg.write_ms);
		break;
	case D_IDLE:
		set_deadline(c, kind, now + srv->cfg.idle_ms);
		break;
	case D_FIRST:
	case D_HEADER:
		set_deadline(c, kind, now + srv->cfg.header_ms);
		break;
	case D_BODY:
		set_deadline(c, kind, now + srv->cfg.body_ms);
		break;
	case D_LINGER:
		set_deadline(c, kind, now + srv->cfg.linger_ms);
		break;
	default:
		set_deadline(c, D_NONE, 0);
		break;
	}
}

/* After any change: write what is queued, then release or re-arm the connection. */
static void
conn_settle(struct http_conn *c)
{
	if (!c->dead)
		conn_flush(c);
	if (!c->dead)
		conn_update(c);
	if (c->dead)
		conn_release(c);
}

static void
conn_process(struct http_conn *c)
{
	for (;;) {
		c->busy = 1;
		while (!c->dead) {
			if (c->phase == P_APP || c->phase >= P_CLOSING)
				break;
			if (c->pos == c->inlen)
				break;
			/*
			 * Start no new request while the client leaves responses unread; a
			 * body in progress is still taken (it is bounded by its cap), or a
			 * client that writes before it reads would wait for us while we
			 * wait for it.
			 */
			if (c->phase == P_IDLE) {
				if (c->out.len - c->outoff >= HTTP_OUT_HIWAT)
					break;
				msg_begin(c);
			}
			if (conn_parse(c) == -1)
				break;
		}
		/* The client is gone and what it sent does not finish a request. */
		if (!c->dead && c->eof && c->pos == c->inlen &&
		    (c->phase == P_IDLE || c->phase == P_HEAD || c->phase == P_BODY)) {
			if (c->outoff < c->out.len) {
				c->close = 1;
				c->phase = P_CLOSING;
			} else
				c->dead = 1;
		}
		c->busy = 0;
		if (!c->dead)
			conn_flush(c);
		/* The flush made room under the mark and requests wait: go on now. */
		if (c->dead || c->phase != P_IDLE || c->pos == c->inlen ||
		    c->out.len - c->outoff >= HTTP_OUT_HIWAT)
			break;
	}
	conn_settle(c);
}

static void
conn_read(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	ssize_t n;

	for (;;) {
		if (c->phase == P_LINGER) {
			n = read(c->fd, c->in, srv->insize);
			if (n > 0) {
				c->lingered += (size_t)n;
				if (c->lingered > HTTP_LINGER_BYTES)
					c->dead = 1;
				continue;
			}
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			c->dead = 1;
			return;
		}
		conn_room(c);
		if (c->inlen == srv->insize || c->eof)
			return;
		n = read(c->fd, c->in + c->inlen, srv->insize - c->inlen);
		if (n > 0) {
			c->inlen += (size_t)n;
			if (c->inlen < srv->insize)
				return;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = 1;
		return;
	}
}

static void
conn_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct http_conn *c = arg;

	if (events & EPOLLOUT)
		conn_flush(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    !c->eof && c->phase != P_CLOSING)
		conn_read(c);
	/*
	 * An error or hang-up is reported even without interest, and keeps being reported:
	 * the connection cannot carry a response any more.
	 */
	if (events & (EPOLLERR | EPOLLHUP))
		c->dead = 1;
	if (c->dead) {
		conn_release(c);
		return;
	}
	if (c->phase == P_LINGER) {
		conn_settle(c);
		return;
	}
	conn_process(c);
}

static void
reject(struct http_server *srv, int fd)
{
	char sink[2048];

	/*
	 * Best effort and never blocking: the 503 fits in any socket buffer. Reading what
	 * already arrived makes the close a FIN, not a reset that could destroy the 503.
	 */
	if (send(fd, reject_503, sizeof(reject_503) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		count_status(srv, 503);
	shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(fd);
	srv->stats.rejected_conns++;
}

static void
conn_open(struct http_server *srv, int fd, const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct http_conn *c;
	int one = 1;

	if ((c = conn_get(srv)) == NULL) {
		reject(srv, fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->slot = srv->freeslots[--srv->nfreeslots];
	c->phase = P_IDLE;
	c->busy = c->dead = c->eof = c->close = c->answered = c->is_head = c->kick = 0;
	c->detached = 0;
	c->nrequests = 0;
	c->inlen = c->pos = c->outoff = 0;
	c->dkind = D_NONE;
	c->ev = EPOLLIN;
	buf_reset(&c->out);
	buf_reset(&c->body);
	memset(&c->req, 0, sizeof(c->req));
	http_parser_init(&c->hp, HTTP_REQUEST);
	c->hp.data = c;
	loop_timer_init(&c->timer, conn_timeout, c);
	memcpy(&c->peer, ss, sslen);
	c->peerlen = sslen;
	c->peerstr[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    c->peerstr, sizeof(c->peerstr));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    c->peerstr, sizeof(c->peerstr));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	srv->slots[c->slot] = c;
	c->prev = NULL;
	c->next = srv->all;
	if (srv->all)
		srv->all->prev = c;
	srv->all = c;
	if (++srv->stats.conns > srv->stats.conns_peak)
		srv->stats.conns_peak = srv->stats.conns;
	if (loop_add(srv->loop, fd, EPOLLIN, conn_io, c) == -1) {
		log_warnsys("unable to watch connection fd=%d", fd);
		conn_release(c);
		return;
	}
	set_deadline(c, D_FIRST, loop_now_ms(srv->loop) + srv->cfg.header_ms);
	if (c->dead)
		conn_release(c);
}

static void
listeners_enable(struct http_server *srv, uint32_t ev)
{
	int i;

	for (i = 0; i < srv->nls; i++)
		loop_mod(srv->loop, srv->ls[i].fd, ev);
}

static void
accept_resume(struct loop *l, struct loop_timer *t, void *arg)
{
	listeners_enable(arg, EPOLLIN);
}

static void
accept_io(struct loop *l, int lfd, uint32_t events, void *arg)
{
	struct http_server *srv = arg;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int i, fd;

	for (i = 0; i < HTTP_ACCEPT_BATCH && !srv->shutdown; i++) {
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/*
				 * Level-triggered, the listener would wake us at once
				 * again: stop listening for a moment instead.
				 */
				srv->stats.accept_errors++;
				log_warnsys("unable to accept a connection");
				listeners_enable(srv, 0);
				loop_timer_set(l, &srv->accept_timer, HTTP_ACCEPT_PAUSE_MS);
				return;
			default:
				srv->stats.accept_errors++;
				return;
			}
		}
		srv->stats.accepted++;
		if (srv->stats.conns >= (uint64_t)srv->cfg.conns_max)
			reject(srv, fd);
		else
			conn_open(srv, fd, &ss, sslen);
	}
}

int
http_listen(struct http_server *srv, const char *host, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sslen;
	char h[64];
	size_t n;
	int fd, one = 1;

	if (srv->nls >= HTTP_LISTEN_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if (port < 0 || port > 65535 || srv->shutdown || srv->slots == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (host == NULL)
		host = "0.0.0.0";
	n = strlen(host);
	if (n >= sizeof(h)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(h, host, n + 1);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		memmove(h, h + 1, n - 2);
		h[n - 2] = '\0';
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sslen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*s6);
	} else {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, srv->cfg.backlog) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    loop_add(srv->loop, fd, EPOLLIN, accept_io, srv) == -1)
		goto fail;
	srv->ls[srv->nls].fd = fd;
	srv->ls[srv->nls].port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	srv->nls++;
	return 0;
fail:
	n = (size_t)errno;
	close(fd);
	errno = (int)n;
	return -1;
}

int
http_port(const struct http_server *srv)
{
	return srv->nls > 0 ? srv->ls[0].port : 0;
}

size_t
http_nconns(const struct http_server *srv)
{
	return (size_t)srv->stats.conns;
}

int
http_respond(struct http_server *srv, uint64_t id, const struct http_response *resp)
{
	struct http_conn *c;
	const char *x;
	size_t i;
	int closing;

	if ((c = lookup(srv, id)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (resp->status < 200 || resp->status > HTTP_STATUS_MAX ||
	    (resp->content_type && !field_ok(resp->content_type, 256)) ||
	    (resp->bodylen && resp->body == NULL)) {
		errno = EINVAL;
		return -1;
	}
	/* Extra header lines: each ends in CRLF, and no CR or LF elsewhere. */
	if ((x = resp->headers) != NULL) {
		for (i = 0; x[i]; i++) {
			if (i >= HTTP_EXTRA_HEADERS_MAX ||
			    (x[i] == '\r' && x[i + 1] != '\n') ||
			    (x[i] == '\n' && (i == 0 || x[i - 1] != '\r')) ||
			    ((x[i] == ' ' || x[i] == '\t') && (i == 0 || x[i - 1] == '\n')) ||
			    ((unsigned char)x[i] < 0x20 && x[i] != '\t' && x[i] != '\r' &&
			    x[i] != '\n') || x[i] == 0x7f) {
				errno = EINVAL;
				return -1;
			}
		}
		if (i > 0 && (i < 2 || x[i - 1] != '\n')) {
			errno = EINVAL;
			return -1;
		}
	}
	closing = resp->close || c->close || c->eof || !c->req.keep_alive ||
	    srv->shutdown || (c->phase == P_HOOK && body_expected(&c->req));
	if (resp_build(c, resp->status, resp->content_type, resp->body, resp->bodylen,
	    resp->headers, closing) == -1)
		return -1;
	c->answered = 1;
	if (closing)
		c->close = 1;
	if (c->phase == P_APP && !c->busy) {
		/*
		 * A deferred answer goes out now. What the client pipelined behind it is
		 * parsed in the next turn, so that http_respond never calls the daemon
		 * back (it may be walking its own list of deferred requests).
		 */
		msg_done(c);
		if (c->pos < c->inlen && c->phase == P_IDLE) {
			c->kick = 1;
			if (loop_timer_set(srv->loop, &c->timer, 0) == -1)
				c->dead = 1;
		}
		conn_settle(c);
	}
	return 0;
}

int
http_detach(struct http_server *srv, uint64_t id, struct http_detached *d)
{
	struct http_conn *c;
	size_t outlen, inlen;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if ((c = lookup(srv, id)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (c->phase != P_APP) {
		errno = EBUSY;
		return -1;
	}
	outlen = c->out.len - c->outoff;
	inlen = c->inlen - c->pos;
	if (outlen && (d->out = malloc(outlen)) == NULL)
		return -1;
	if (inlen && (d->in = malloc(inlen)) == NULL) {
		free(d->out);
		d->out = NULL;
		return -1;
	}
	if (outlen)
		memcpy(d->out, c->out.p + c->outoff, outlen);
	if (inlen)
		memcpy(d->in, c->in + c->pos, inlen);
	d->outlen = outlen;
	d->inlen = inlen;
	memcpy(d->peer, c->peerstr, sizeof(d->peer));
	/*
	 * Out of the loop now, not when the connection is released: the caller registers
	 * the descriptor again before conn_process (which may be calling us) unwinds.
	 */
	loop_timer_stop(srv->loop, &c->timer);
	loop_del(srv->loop, c->fd);
	d->fd = c->fd;
	c->detached = 1;
	c->answered = 1;
	c->dead = 1;
	c->outoff = 0;
	buf_reset(&c->out);
	c->pos = c->inlen = 0;
	srv->stats.detached++;
	if (!c->busy)
		conn_release(c);
	return 0;
}

int
http_respond_simple(struct http_server *srv, uint64_t id, int status,
    const char *content_type, const void *body, size_t bodylen)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.content_type = content_type;
	r.body = body;
	r.bodylen = bodylen;
	return http_respond(srv, id, &r);
}

static void
listeners_close(struct http_server *srv)
{
	int i;

	for (i = 0; i < srv->nls; i++) {
		loop_del(srv->loop, srv->ls[i].fd);
		close(srv->ls[i].fd);
	}
	srv->nls = 0;
	loop_timer_stop(srv->loop, &srv->accept_timer);
}

void
http_shutdown(struct http_server *srv)
{
	struct http_conn *c, *next;

	if (srv->shutdown)
		return;
	srv->shutdown = 1;
	listeners_close(srv);
	for (c = srv->all; c; c = next) {
		next = c->next;
		c->close = 1;
		if (c->phase != P_IDLE || c->pos != c->inlen || c->busy)
			continue;
		if (c->outoff < c->out.len) {
			c->phase = P_CLOSING;
			continue;
		}
		conn_close(c);
	}
	if (srv->stats.conns == 0 && !srv->drained) {
		srv->drained = 1;
		if (srv->cfg.drained)
			srv->cfg.drained(srv, srv->cfg.arg);
	}
}

void
http_server_free(struct http_server *srv)
{
	struct http_conn *c;
	int saved = errno;

	if (srv->slots == NULL)
		return;
	listeners_close(srv);
	/* No drained callback from here: the caller is tearing down. */
	srv->drained = 1;
	while ((c = srv->all) != NULL)
		conn_release(c);
	while ((c = srv->free) != NULL) {
		srv->free = c->next;
		buf_free(&c->body);
		buf_free(&c->out);
		free(c);
	}
	srv->nfree = 0;
	free(srv->slots);
	free(srv->slotgen);
	free(srv->freeslots);
	srv->slots = NULL;
	srv->slotgen = srv->freeslots = NULL;
	errno = saved;
}

int
http_stats_prom(struct buf *b, const char *prefix, const struct http_stats *s)
{
	int c, r;

	r = buf_addf(b, "# HELP %s_requests_total HTTP responses by status code.\n"
	    "# TYPE %s_requests_total counter\n", prefix, prefix);
	for (c = HTTP_STATUS_MIN; c <= HTTP_STATUS_MAX && r == 0; c++)
		if (s->by_code[c - HTTP_STATUS_MIN])
			r = buf_addf(b, "%s_requests_total{code=\"%d\"} %llu\n", prefix, c,
			    (unsigned long long)s->by_code[c - HTTP_STATUS_MIN]);
	return r;
}
