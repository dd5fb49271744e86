/* See LICENSE. An HTTP/1.1 server on lib/loop: keep-alive, pipelining, caps, deadlines. */
#ifndef HTTP_H
#define HTTP_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_parser.h"
#include "loop.h"

/*
 * Requests are parsed by http-parser (built with HTTP_PARSER_STRICT=0, so lenient). On top
 * of it this module checks what the lenient parser lets through, and answers 400 and
 * closes the connection for: a method not followed by exactly one space; a request target
 * holding a byte outside 0x21..0x7e or a '#'; a version other than "HTTP/1.0" or
 * "HTTP/1.1"; any line not ended by CRLF (a bare LF or a CR followed by anything else);
 * obs-fold (a header line starting with SP or HTAB); a header name with a byte outside
 * the RFC 9110 token set (so no space before the colon); a control byte (0x00-0x1f but
 * HTAB, 0x7f) in a header value; more than one Content-Length (even equal ones) or one
 * that is not plain digits; Transfer-Encoding with Content-Length; more than one
 * Transfer-Encoding or any value but exactly "chunked" (any case); a chunk size line that
 * is not hex digits + CRLF (chunk extensions are refused: nothing sends them and they
 * are a known way to desynchronise a front proxy); chunk data not followed by CRLF;
 * trailer fields; an HTTP/1.1 request without exactly one Host; more than one Host.
 * CONNECT gets 405 and Expect with anything but 100-continue gets 417.
 *
 * Caps. Each is a default in struct http_config; exactly at the cap passes, one byte more
 * fails, and the answer is sent with Connection: close:
 *	request target (URL) bytes		HTTP_URL_MAX		414
 *	header section bytes			HTTP_HEADERS_MAX	431
 *	header fields				HTTP_NHEADERS_MAX	431
 *	request body bytes			HTTP_BODY_MAX		413
 * The header section is counted from the first byte after the request line's CRLF to the
 * last byte of the empty line that ends it (so a request without fields uses 2 bytes).
 * The request line may add HTTP_REQLINE_EXTRA bytes (method, spaces, version) to the URL;
 * leading empty lines count toward that too. The body cap is checked against
 * Content-Length before any body byte is read, and for chunked bodies against each
 * chunk's size before its data is read, so no more than the cap is ever buffered. The
 * head callback may change the cap for its request (a route's own limit).
 *
 * Deadlines (milliseconds, from the loop's clock): the header section must be complete
 * header_ms after its first byte (408), the body body_ms after the header section (408),
 * a keep-alive connection may stay idle idle_ms between requests (closed without a word;
 * a new connection gets header_ms for its first byte, also closed silently), a client
 * with a response pending must take some of it every write_ms (closed; as nginx's
 * send_timeout, so a slow but steady reader is served), and after a response that ends
 * the connection its input is read and discarded for up to linger_ms, so the client sees
 * the response rather than a reset. A connection has one deadline at a time, kept in the
 * connection; its loop timer moves only when the deadline comes earlier (a later one is
 * found when the timer fires), so the heap is touched about once per idle period, not
 * per request, and 10,000 connections cost 10,000 heap entries at most.
 *
 * Connections over conns_max are accepted, sent a fixed 503 (best effort, never
 * blocking) and closed at once.
 *
 * A request to switch protocols (Upgrade) is answered as plain HTTP and the connection
 * closed after it, unless the daemon takes the connection away with http_detach (a
 * websocket handshake, see lib/hub.h).
 */
#define HTTP_URL_MAX		8192
#define HTTP_HEADERS_MAX	(16 * 1024)
#define HTTP_NHEADERS_MAX	64
#define HTTP_BODY_MAX		(1024 * 1024)
#define HTTP_BODY_LIMIT		(1024 * 1024 * 1024)	/* largest cap a route may set */
#define HTTP_RESPONSE_MAX	(64 * 1024 * 1024)	/* bytes queued on one connection */
#define HTTP_CONNS_MAX		1024
#define HTTP_CONNS_LIMIT	(1 << 20)		/* largest conns_max */
#define HTTP_HEADER_MS		10000
#define HTTP_BODY_MS		30000
#define HTTP_IDLE_MS		60000
#define HTTP_WRITE_MS		30000
#define HTTP_LINGER_MS		2000
#define HTTP_LINGER_BYTES	(1024 * 1024)	/* discarded while lingering, then closed */
#define HTTP_BACKLOG		1024
#define HTTP_LISTEN_MAX		4		/* listening sockets per server */
#define HTTP_REQLINE_EXTRA	64		/* request line bytes besides the URL */
#define HTTP_CHUNKLINE_MAX	32		/* one chunk size line, CRLF included */
#define HTTP_EXTRA_HEADERS_MAX	4096		/* http_response.headers */
#define HTTP_FREE_MAX		64		/* closed connections kept for reuse */
#define HTTP_ADDRSTRLEN		46		/* INET6_ADDRSTRLEN */
#define HTTP_STATUS_MIN		100
#define HTTP_STATUS_MAX		599

struct http_server;
struct http_conn;

/* One header field; name and value are NUL-terminated, value without surrounding OWS. */
struct http_header {
	const char	*name;
	const char	*value;
	size_t		 namelen;
	size_t		 valuelen;
};

/*
 * A request as the callbacks see it. Strings are NUL-terminated and point into the
 * connection's buffers: they stay valid until the request is answered or reported gone.
 * Fields marked "set" may be changed by the head callback.
 */
struct http_request {
	uint64_t		 id;		/* handle for http_respond */
	int			 method;	/* enum http_method (HTTP_GET, HTTP_POST...) */
	const char		*method_str;	/* "GET" */
	const char		*path;		/* "/webhook/gitea", as sent (not decoded) */
	const char		*query;		/* after '?', or NULL */
	int			 minor;		/* HTTP/1.minor */
	int			 keep_alive;	/* the client wants the connection kept */
	struct http_header	*headers;
	int			 nheaders;
	int			 chunked;
	int			 has_length;
	uint64_t		 content_length;
	size_t			 body_max;	/* set: this request's body cap */
	const char		*body;		/* the whole body in the request callback */
	size_t			 bodylen;
	const char		*peer;		/* "127.0.0.1", "::1" */
	const struct sockaddr	*peer_sa;
	socklen_t		 peer_salen;
	uint64_t		 start_ms;	/* loop time the header section completed */
	void			*user;		/* set: the daemon's own pointer */
};

/*
 * A response. Content-Length is always added (but for 1xx, 204 and 304, which have no
 * body), Date when the server's config asks for it, Connection: close when the
 * connection ends after it (close set, the client asked, HTTP/1.0 without keep-alive,
 * shutdown). headers holds extra header lines, each ending in CRLF
 * ("Retry-After: 12\r\n"), at most HTTP_EXTRA_HEADERS_MAX bytes; a bare CR or LF or a
 * NUL in it is refused (EINVAL) so a value can never split the response. The body of a
 * HEAD request is not sent. Body bytes are copied: the caller's memory can be freed at
 * once.
 */
struct http_response {
	int		 status;
	const char	*content_type;	/* NULL: no Content-Type */
	const void	*body;
	size_t		 bodylen;
	const char	*headers;	/* NULL or extra header lines */
	int		 close;		/* end the connection after this response */
};

/*
 * head: the header section is complete and no body byte has been read. The callback may
 * set req->body_max (up to HTTP_BODY_LIMIT) and req->user, or answer at once with
 * http_respond (a 429 from a rate limiter, 404, 405): the body is then never read. A
 * request answered here without a body keeps the connection; one with a body closes it.
 *
 * body: called for each piece of the body as it arrives, before it is added to the
 * buffered body (hookd feeds its HMAC here). It returns 0 to go on, or an HTTP status
 * (4xx/5xx) to answer with and close the connection. It may not call http_respond.
 *
 * request: the request is complete. Answer now with http_respond, or keep req->id and
 * answer later (after the end-of-turn group commit): until then the connection reads and
 * buffers what the client pipelines but parses none of it, and stops reading when its
 * buffer is full. No deadline runs while the daemon holds a request: answering is its
 * job. A late answer is written at once; what was pipelined behind it is
 * parsed in the next turn, so http_respond never calls the head, body or request
 * callback before it returns (only drained, if the answer ends the last connection
 * during a shutdown).
 *
 * gone: a request handed to the request callback and not yet answered lost its
 * connection (reset, write error, server freed). It is called once, before the request's
 * memory is reused; afterwards http_respond with its id fails with ENOENT and does
 * nothing. Without a gone callback the request is dropped silently in the same way.
 * gone is also called for a request whose head callback set req->user but which never
 * reached the request callback (its body was refused or timed out, or the client left),
 * so that what the daemon attached can be freed; the request callback must set
 * req->user to NULL once it has taken what it attached.
 *
 * drained: after http_shutdown, the last connection is gone.
 */
typedef void	 http_head_cb(struct http_server *, struct http_request *, void *arg);
typedef int	 http_body_cb(struct http_server *, struct http_request *,
		    const char *, size_t, void *arg);
typedef void	 http_request_cb(struct http_server *, struct http_request *, void *arg);
typedef void	 http_gone_cb(struct http_server *, struct http_request *, void *arg);
typedef void	 http_drained_cb(struct http_server *, void *arg);

struct http_config {
	size_t		 url_max;
	size_t		 headers_max;
	int		 nheaders_max;
	size_t		 body_max;	/* default per-request cap */
	size_t		 response_max;
	int		 conns_max;
	unsigned	 header_ms, body_ms, idle_ms, write_ms, linger_ms;
	int		 backlog;
	int		 date;		/* send a Date header (default 1) */
	const char	*server;	/* Server header value, or NULL */
	http_head_cb	*head;
	http_body_cb	*body;
	http_request_cb	*request;
	http_gone_cb	*gone;
	http_drained_cb	*drained;
	void		*arg;		/* passed to every callback */
};

/*
 * Counters for /metrics; the daemon reads srv->stats directly. responses counts every
 * response sent (or queued), including those the server makes itself (400, 408, 413,
 * 414, 431, the 503 at the cap).
 */
struct http_stats {
	uint64_t	 accepted;		/* connections accepted, rejected ones too */
	uint64_t	 conns;			/* open now */
	uint64_t	 conns_peak;
	uint64_t	 rejected_conns;	/* 503 at conns_max */
	uint64_t	 requests;		/* header sections completed */
	uint64_t	 responses;
	uint64_t	 by_class[6];		/* [1] 1xx ... [5] 5xx */
	uint64_t	 by_code[HTTP_STATUS_MAX - HTTP_STATUS_MIN + 1];	/* [s - 100] */
	uint64_t	 bad_requests;		/* 400 from the checks above */
	uint64_t	 rejected_url;		/* 414 */
	uint64_t	 rejected_headers;	/* 431, bytes or count */
	uint64_t	 rejected_body;		/* 413 */
	uint64_t	 timeout_header;
	uint64_t	 timeout_body;
	uint64_t	 timeout_idle;
	uint64_t	 timeout_write;
	uint64_t	 gone;			/* deferred requests whose connection died */
	uint64_t	 detached;		/* connections handed over by http_detach */
	uint64_t	 accept_errors;
};

/*
 * Appends the Prometheus counter PREFIX_requests_total{code="..."}, one line per status
 * code seen, with its HELP and TYPE lines. 0, or -1 when the buf is full.
 */
struct buf;
int	 http_stats_prom(struct buf *, const char *prefix, const struct http_stats *);

struct http_listener {
	int		 fd;
	int		 port;
};

/*
 * The server. Fields are private but for cfg (read) and stats (read); everything the
 * server has lives here or is reachable from here.
 */
struct http_server {
	struct loop		*loop;
	struct http_config	 cfg;
	struct http_stats	 stats;
	struct http_listener	 ls[HTTP_LISTEN_MAX];
	int			 nls;
	int			 shutdown;
	int			 drained;
	struct http_conn	**slots;	/* conns_max; slot index is in request ids */
	uint32_t		*slotgen;
	uint32_t		*freeslots;
	int			 nfreeslots;
	struct http_conn	*all;		/* open connections */
	struct http_conn	*free;		/* closed ones kept for reuse */
	int			 nfree;
	size_t			 insize;
	struct loop_timer	 accept_timer;	/* re-enables accept after EMFILE */
	uint64_t		 date_sec;
	char			 date[40];	/* "Date: ...\r\n" */
	size_t			 datelen;
};

/* Fill cfg with the defaults above. */
void	 http_config_default(struct http_config *);

/*
 * http_server_init copies cfg (callbacks included; request is required) and returns 0, or
 * -1 with errno (EINVAL for a bad config). http_server_free closes every connection
 * (reporting deferred requests as gone) and listener at once; it must not be called
 * from one of the server's own callbacks.
 */
int	 http_server_init(struct http_server *, struct loop *, const struct http_config *);
void	 http_server_free(struct http_server *);

/*
 * Listen on a numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "[::1]", "0.0.0.0",
 * "::"; NULL means "0.0.0.0"), port 0 meaning any free port. An IPv6 socket is
 * IPv6-only: call twice for both families. Returns 0 or -1 with errno. http_port gives
 * the port of the first listener (0 if none).
 */
int	 http_listen(struct http_server *, const char *host, int port);
int	 http_port(const struct http_server *);

/*
 * Answer request id. Returns 0, or -1 with errno: ENOENT when the request is gone or
 * already answered (the id is generation-checked, so a stale id never answers a later
 * request on the same connection), EINVAL for a bad status or headers, ENOBUFS when the
 * response would pass response_max, ENOMEM. When it fails for a live request, the
 * request is still unanswered. http_respond_simple is the common case.
 */
int	 http_respond(struct http_server *, uint64_t id, const struct http_response *);
int	 http_respond_simple(struct http_server *, uint64_t id, int status,
	    const char *content_type, const void *body, size_t bodylen);

/*
 * Protocol hand-off (Upgrade). http_detach takes the connection of request id, which must
 * be complete and unanswered (in the request callback, or held by the daemon), away from
 * the server: the server forgets it as if it had closed it (its descriptor leaves the
 * loop, its timer stops, its buffers go back to the free list, its slot is freed,
 * stats.conns drops and stats.detached counts it; the drained callback may run), but the
 * descriptor stays open and from now on belongs to the caller, who must loop_add and
 * close it. Two byte strings come with it, each malloc'd (free them) or NULL when empty:
 * out, response bytes not yet written (answers to requests pipelined before this one),
 * which the caller must send before anything else, and in, what the client sent after
 * this request (a client may speak the new protocol before it sees the answer), which
 * the caller must parse first. The request and its strings are gone once http_detach
 * returns: read what you need from them before.
 *
 * Returns 0, or -1 with errno: ENOENT when the request is gone or answered, EBUSY before
 * the request callback (from the head callback, while the body is read), ENOMEM when the
 * bytes cannot be copied (the request then stays unanswered and the server's).
 */
struct http_detached {
	int		 fd;
	char		*out;
	size_t		 outlen;
	char		*in;
	size_t		 inlen;
	char		 peer[HTTP_ADDRSTRLEN];
};

int	 http_detach(struct http_server *, uint64_t id, struct http_detached *);

/* The request behind id while it is unanswered, or NULL. */
struct http_request *http_request_get(struct http_server *, uint64_t id);

/* A header's value by name (any case), or NULL; the first if it appears twice. */
const char *http_header(const struct http_request *, const char *name);

/*
 * Graceful shutdown: close the listeners (new connections are refused), close idle
 * connections, let requests in progress finish and their responses flush, each with
 * Connection: close. When the last connection is gone the drained callback runs (at
 * once, from http_shutdown, if there were none). http_nconns counts open connections.
 */
void	 http_shutdown(struct http_server *);
size_t	 http_nconns(const struct http_server *);

/* The reason phrase for a status ("Not Found"), never NULL. */
const char *http_reason(int status);

#endif
