/* See LICENSE. The event hub: websocket clients, a ring of recent events, broadcast. */
#ifndef HUB_H
#define HUB_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "loop.h"
#include "ws.h"

/*
 * Every event is one text frame
 *	{"seq":N,"timestamp":"...","role":"...","event":"...","data":...}
 * where seq counts up by one per event from cfg.first_seq (1), never repeats while the
 * process lives, and fits in a JavaScript number for 2^53 events. hub_publish serializes
 * the event once, websocket header included, into a refcounted frame and appends it to a
 * ring of the last ring_max events (and at most ring_bytes bytes). The ring is the only
 * send queue: each client is a cursor into it (the next seq to send, plus how much of a
 * frame is half written) so a broadcast adds no per-client memory, and 10,000 clients
 * share one copy of each frame. The sends happen in the next loop turns (hub_publish
 * arms a 0 ms timer; hub_flush does it all at once): each client that was caught up gets
 * one sendmsg of all the frames it lacks, so a burst of events published in one turn
 * costs one send per client, and at most flush_batch clients are written per turn,
 * so a fan-out to 10,000 clients never holds the loop for more than a slice of it.
 *
 * Falling behind. A client whose socket is full waits for EPOLLOUT while its cursor stays
 * put. Once it lags more than lag_frames events or lag_bytes bytes behind the newest, or
 * its next event has left the ring, it is closed with 1008: the events it lacks are
 * dropped, the frame it was half-way through is finished, a close frame follows, and if
 * it does not take those within close_ms it is cut off. Nobody else waits for it, and its
 * memory is the same as any other client's.
 *
 * Replay. A client that connects with since=S (hub_accept's since, normally ?since=S)
 * first gets every event still in the ring with seq > S, then the live ones. When the
 * ring no longer holds seq S+1 (S is older than the ring, or larger than any seq issued,
 * which means the client saw an earlier life of the server), the replay starts with one
 * frame that says so:
 *	{"seq":F-1,"timestamp":"...","role":"system","event":"events_missed",
 *	 "data":{"since":S,"first":F}}
 * where F is the first seq replayed (or the next one to be published). Its seq is F-1
 * so that seq keeps growing on that connection and a reconnect with since=F-1 asks for
 * exactly what follows; no event with seq F-1 will come. A replay that would pass
 * lag_frames or lag_bytes is cut the same way, to its newest events. since
 * HUB_SINCE_NONE (no ?since=) means live events only.
 *
 * Clients. Client text messages are checked (UTF-8, size) and dropped; a binary message
 * gets close 1003; a ping gets a pong (at most HUB_CTRL_MAX bytes of control frames wait
 * per client; a ping flood that does not read its pongs loses the extra pongs). The hub
 * pings each client every ping_ms and cuts off one that has not answered with the
 * matching pong within pong_ms. A close from the client is echoed, then the hub shuts its
 * side of the TCP connection (so the server side closes first, as RFC 6455 7.1.1 asks)
 * and waits up to close_ms for the client's FIN. The same wait follows every close the
 * hub starts (1001 at shutdown, 1002, 1003, 1007, 1008, 1009), and once its close frame
 * is written the hub reads and throws away whatever still comes.
 *
 * Memory. An idle client is one struct hub_client (336 bytes on x86-64, at most 512 by a
 * static assertion) plus its descriptor slot and timer heap entry in the loop: the HTTP
 * connection's buffers (about 33 KB) go back to lib/http at the hand-off, input is read
 * into one buffer the hub shares, and the decoder keeps only its state (lib/ws). Control
 * frames it must send (pong, close, the 101 answer) are held in a small buffer that is
 * allocated while they wait and freed once they are written. Descriptors may be any
 * number the loop takes (LOOP_FD_MAX); nothing assumes FD_SETSIZE.
 *
 * Nothing here is thread-safe; the hub belongs to its loop's thread.
 */
#define HUB_RING_MAX		1024			/* events kept for replay */
#define HUB_RING_BYTES		(8 * 1024 * 1024)	/* frame bytes kept for replay */
#define HUB_LAG_FRAMES		HUB_RING_MAX		/* events a client may lag behind */
#define HUB_LAG_BYTES		(2 * 1024 * 1024)	/* bytes a client may lag behind */
#define HUB_EVENT_MAX		(1024 * 1024)		/* one frame; larger is ENOBUFS */
#define HUB_CLIENTS_MAX		16384			/* connected clients; 503 beyond */
#define HUB_CLIENTS_LIMIT	(1 << 20)		/* largest clients_max */
#define HUB_MESSAGE_MAX		WS_MESSAGE_MAX		/* client message cap: 1009 */
#define HUB_CTRL_MAX		1024			/* control bytes waiting per client */
#define HUB_PING_MS		20000			/* as uvicorn: ping every 20 s */
#define HUB_PONG_MS		20000			/* and wait 20 s for the pong */
#define HUB_CLOSE_MS		5000			/* for the close handshake */
#define HUB_READ_MAX		(64 * 1024)		/* read per client per wake-up */
#define HUB_IOV_MAX		64			/* frames per sendmsg */
#define HUB_FLUSH_BATCH		1024			/* clients written per loop turn */
#define HUB_SINCE_NONE		UINT64_MAX		/* hub_accept: no replay */

struct hub;
struct hub_client;

/* A serialized event, shared by every client that sends it. Private. */
struct hub_frame {
	uint32_t	 refs;
	uint32_t	 len;		/* bytes in data: header and payload */
	uint64_t	 seq;
	uint64_t	 end;		/* bytes published up to and with this frame */
	unsigned char	 data[];
};

typedef void	 hub_drained_cb(struct hub *, void *arg);

struct hub_config {
	size_t		 ring_max;	/* 1..HUB_RING_MAX * 64 */
	size_t		 ring_bytes;
	size_t		 lag_frames;	/* <= ring_max */
	size_t		 lag_bytes;	/* >= event_max */
	size_t		 event_max;
	size_t		 message_max;	/* 1..WS_MESSAGE_LIMIT */
	int		 clients_max;
	int		 flush_batch;	/* clients written per loop turn */
	unsigned	 ping_ms, pong_ms, close_ms;
	int		 sndbuf;	/* SO_SNDBUF for clients, 0: the kernel's */
	uint64_t	 first_seq;	/* seq of the first event, >= 1 */
	hub_drained_cb	*drained;	/* after hub_shutdown, when the last client left */
	void		*arg;
};

/* Counters for /metrics; read h->stats directly. */
struct hub_stats {
	uint64_t	 accepted;		/* handshakes answered 101 */
	uint64_t	 refused;		/* handshakes answered 4xx or 503 */
	uint64_t	 clients;		/* connected now */
	uint64_t	 clients_peak;
	uint64_t	 published;		/* events */
	uint64_t	 publish_errors;	/* refused by hub_publish */
	uint64_t	 replayed;		/* frames sent from the ring on connect */
	uint64_t	 missed;		/* events_missed frames sent */
	uint64_t	 frames_sent;		/* event frames written whole */
	uint64_t	 bytes_sent;
	uint64_t	 closed_slow;		/* 1008: fell behind */
	uint64_t	 closed_protocol;	/* 1002 */
	uint64_t	 closed_binary;		/* 1003 */
	uint64_t	 closed_utf8;		/* 1007 */
	uint64_t	 closed_big;		/* 1009 */
	uint64_t	 closed_by_client;	/* the client sent close */
	uint64_t	 ping_timeouts;		/* no pong in time: cut off */
	uint64_t	 close_timeouts;	/* close handshake not finished in time */
	uint64_t	 resets;		/* EOF or error without a close handshake */
};

struct hub {
	struct loop		*loop;
	struct hub_config	 cfg;
	struct hub_stats	 stats;
	struct hub_client	*all;		/* connected clients */
	struct hub_frame	**ring;		/* ring_max slots, by seq % ring_max */
	uint64_t		 first;		/* oldest seq in the ring */
	uint64_t		 next;		/* seq of the next event */
	uint64_t		 ringbytes;
	uint64_t		 published;	/* frame bytes ever published */
	uint32_t		 pingseq;
	int			 shutdown;
	int			 drained;
	int			 dirty;		/* published since the last pass began */
	struct hub_client	*flushpos;	/* next client of the pass in progress */
	struct loop_timer	 flush_timer;
	struct buf		 scratch;	/* frames are built here */
	unsigned char		*rbuf;		/* HUB_READ_MAX: input of every client */
};

/* Fill cfg with the defaults above. */
void	 hub_config_default(struct hub_config *);

/*
 * hub_init returns 0, or -1 with errno (EINVAL for a bad config, ENOMEM). hub_free cuts
 * every client off at once and frees everything; safe after a failed hub_init, and not
 * from one of the hub's own callbacks.
 */
int	 hub_init(struct hub *, struct loop *, const struct hub_config *);
void	 hub_free(struct hub *);

/*
 * Publish one event to every client and to the ring. role and event are escaped as JSON
 * strings; data_json is a serialized JSON value put in as it is (NULL or "" means {}),
 * like evlog_write (lib/log.h): a raw CR or LF becomes a space and, as a text frame must
 * be UTF-8, an ill-formed sequence becomes U+FFFD. timestamp is the event's, as
 * log_timestamp writes it, or NULL for now. Returns the event's seq, or 0 with errno:
 * EINVAL (NULL role or event), ENOBUFS (frame over event_max), ENOMEM. The frames go out
 * in the next loop turn, or at hub_flush.
 */
uint64_t hub_publish(struct hub *, const char *role, const char *event, const char *data_json);
uint64_t hub_publish_at(struct hub *, const char *timestamp, const char *role,
	    const char *event, const char *data_json);
void	 hub_flush(struct hub *);

/*
 * Take request id of srv over as a websocket client. It checks the handshake
 * (ws_handshake_check in lib/ws.h) and answers a bad one itself with its status and a
 * JSON body {"detail":"..."}; at clients_max, or after hub_shutdown, it answers 503.
 * Otherwise it detaches the connection from srv (http_detach), queues the 101 answer and
 * the replay after since (HUB_SINCE_NONE: none) and returns 0: the request is gone and
 * the client belongs to the hub. It returns -1 with errno when it answered with an
 * error instead (EPROTO for a bad handshake, EMFILE at clients_max, ESHUTDOWN), or
 * could not even do that (ENOENT: the request was gone; ENOMEM). Call it from the
 * request callback, or later for a request the daemon held. Authentication and the
 * Origin check are the daemon's, before the call.
 *
 * hub_parse_since reads since=N from a query string (as struct http_request's query):
 * 0 with *since = N, or HUB_SINCE_NONE when there is no since; -1 (EINVAL) when it is
 * not a decimal number below 2^64 - 1 (answer 400).
 */
int	 hub_accept(struct hub *, struct http_server *, uint64_t id, uint64_t since);
int	 hub_parse_since(const char *query, uint64_t *since);

/*
 * Graceful shutdown: refuse new clients, close every client with 1001 and a close_ms
 * deadline; cfg.drained runs when the last one is gone (at once if there were none).
 */
void	 hub_shutdown(struct hub *);
size_t	 hub_nclients(const struct hub *);

/*
 * Plugging the hub into a daemon (orket-httpd) takes the lines below. The daemon owns a
 * struct hub next to its struct http_server, on the same loop:
 *
 *	struct hub_config hc;
 *
 *	hub_config_default(&hc);
 *	hc.drained = hub_drained;	// optional: part of the daemon's own drain
 *	hc.arg = d;
 *	if (hub_init(&d->hub, &d->loop, &hc) == -1)
 *		log_fatalsys(111, "unable to set up the event hub");
 *
 * Every event goes through one function, which logs it and broadcasts it:
 *
 *	void
 *	httpd_emit(struct httpd *d, const char *role, const char *event, const char *data)
 *	{
 *		if (evlog_write(&d->evlog, role, event, data) == -1)
 *			log_warnsys("unable to write event event=%s", event);
 *		if (hub_publish(&d->hub, role, event, data) == 0)
 *			log_warnsys("unable to broadcast event event=%s", event);
 *	}
 *
 * In the request callback, after the API key (X-API-Key or ?key=) and the Origin have
 * been checked (403 otherwise, as for /v1):
 *
 *	if (strcmp(r->path, "/ws/events") == 0) {
 *		uint64_t since;
 *
 *		if (hub_parse_since(r->query, &since) == -1) {
 *			respond_json(srv, r->id, 400, "{\"detail\":\"bad since\"}");
 *			return;
 *		}
 *		hub_accept(&d->hub, srv, r->id, since);	// answers every error itself
 *		return;
 *	}
 *
 * At SIGTERM, hub_shutdown(&d->hub) next to http_shutdown(&d->http), and stop the loop
 * once both have drained; hub_free(&d->hub) before http_server_free. /metrics reads
 * d->hub.stats. conns_max of the HTTP server need not count websocket clients: a
 * detached connection leaves it; clients_max caps them.
 */

#endif
