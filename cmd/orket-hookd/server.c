/* See LICENSE. orket-hookd's routes: verify, validate, batch, group-commit, answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "dotenv.h"
#include "hmac.h"
#include "hookd.h"
#include "json.h"
#include "review.h"
#include "server.h"
#include "committer.h"
#include "verify.h"

static const double latency_bounds[] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

/*
 * What the request callbacks keep between head and request: the HMACs keyed with the
 * secrets of the moment the head arrived (a SIGHUP in between changes nothing for it).
 */
struct pending {
	struct hmac	 cur, prev;
	int		 has_prev;
	int		 route;
	size_t		 total;
};

enum { R_GITEA = 1, R_TEST };

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
json_detail(struct hookd *h, uint64_t id, int status, const char *detail, const char *hdrs)
{
	struct buf b = BUF_INIT(4096);
	struct http_response r;
	struct jw w;

	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "detail");
	jw_str(&w, detail);
	jw_obj_close(&w);
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.content_type = "application/json";
	r.body = jw_finish(&w) == 0 ? b.p : "{}";
	r.bodylen = strlen(r.body);
	r.headers = hdrs;
	if (http_respond(&h->srv, id, &r) == -1 && errno != ENOENT)
		log_warnsys("unable to answer a request");
	buf_free(&b);
}

/* A rejected delivery is an event: what and from where, never the signature or secret. */
static void
reject_event(struct hookd *h, const char *peer, int status, const char *message)
{
	struct buf b = BUF_INIT(2048);
	struct jw w;

	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "level");
	jw_str(&w, "error");
	jw_key(&w, "message");
	jw_str(&w, message);
	jw_key(&w, "status");
	jw_int(&w, status);
	jw_key(&w, "addr");
	jw_str(&w, peer);
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		hookd_event(h, "webhook", b.p);
	buf_free(&b);
}

static void
count_sigfail(struct hookd *h, const char *peer)
{
	int i;

	for (i = 0; i < h->m.nsigfail; i++)
		if (strcmp(h->m.sigfail[i].addr, peer) == 0)
			break;
	if (i == h->m.nsigfail) {
		if (h->m.nsigfail == HOOKD_FAIL_ADDRS_MAX)
			i = HOOKD_FAIL_ADDRS_MAX - 1;	/* the last row counts "the rest" */
		else {
			h->m.nsigfail++;
			snprintf(h->m.sigfail[i].addr, sizeof(h->m.sigfail[i].addr), "%s",
			    i == HOOKD_FAIL_ADDRS_MAX - 1 ? "other" : peer);
		}
	}
	h->m.sigfail[i].n++;
}

static void
observe(struct hookd *h, uint64_t start_ms)
{
	double s = (double)(loop_now_ms(&h->loop) - start_ms) / 1000.0;
	size_t i;

	for (i = 0; i < sizeof(latency_bounds) / sizeof(latency_bounds[0]); i++)
		if (s <= latency_bounds[i])
			h->m.latency_le[i]++;
	h->m.latency_count++;
	h->m.latency_sum += s;
}

/* ------------------------------------------------------------------------------------ */

static void
info(struct hookd *h, uint64_t id)
{
	static const char body[] = "{\"service\":\"Orket Webhook Server\",\"status\":\"running\","
	    "\"version\":\"" ORKET_VERSION "\"}";

	http_respond_simple(&h->srv, id, 200, "application/json", body, sizeof(body) - 1);
}

static void
metrics(struct hookd *h, uint64_t id)
{
	struct buf b = BUF_INIT(1 << 20);
	const struct http_stats *s = &h->srv.stats;
	uint64_t cum = 0;
	size_t i;
	long depth = outbox_depth(h);
	struct ckpt_stats ck;

	http_stats_prom(&b, "orket_hookd", s);
	buf_addf(&b, "# TYPE orket_hookd_deliveries_total counter\n"
	    "orket_hookd_deliveries_total{result=\"stored\"} %llu\n"
	    "orket_hookd_deliveries_total{result=\"duplicate\"} %llu\n"
	    "# TYPE orket_hookd_rate_limited_total counter\n"
	    "orket_hookd_rate_limited_total %llu\n"
	    "# TYPE orket_hookd_signature_failures_total counter\n"
	    "orket_hookd_signature_failures_total{reason=\"missing\"} %llu\n"
	    "orket_hookd_signature_failures_total{reason=\"invalid\"} %llu\n"
	    "# TYPE orket_hookd_signature_previous_secret_total counter\n"
	    "orket_hookd_signature_previous_secret_total %llu\n"
	    "# HELP orket_hookd_verified_total Signed deliveries checked (HMAC and JSON), on "
	    "the loop (bodies under 8 KB) or on the verifier thread.\n"
	    "# TYPE orket_hookd_verified_total counter\n"
	    "orket_hookd_verified_total{on=\"loop\"} %llu\n"
	    "orket_hookd_verified_total{on=\"thread\"} %llu\n"
	    "# TYPE orket_hookd_invalid_payloads_total counter\n"
	    "orket_hookd_invalid_payloads_total %llu\n"
	    "# TYPE orket_hookd_group_commits_total counter\n"
	    "orket_hookd_group_commits_total %llu\n"
	    "# TYPE orket_hookd_group_commit_failures_total counter\n"
	    "orket_hookd_group_commit_failures_total %llu\n"
	    "# HELP orket_hookd_group_commit_largest Most deliveries in one group commit.\n"
	    "# TYPE orket_hookd_group_commit_largest gauge\n"
	    "orket_hookd_group_commit_largest %llu\n"
	    "# TYPE orket_hookd_outbox_depth gauge\n"
	    "orket_hookd_outbox_depth %ld\n"
	    "# TYPE orket_hookd_outbox_total counter\n"
	    "orket_hookd_outbox_total{result=\"sent\"} %llu\n"
	    "orket_hookd_outbox_total{result=\"failed\"} %llu\n"
	    "orket_hookd_outbox_total{result=\"retry\"} %llu\n"
	    "# TYPE orket_hookd_connections gauge\n"
	    "orket_hookd_connections %llu\n",
	    (unsigned long long)h->m.deliveries_stored,
	    (unsigned long long)h->m.deliveries_duplicate,
	    (unsigned long long)h->rate.rejected,
	    (unsigned long long)h->m.signature_missing,
	    (unsigned long long)h->m.signature_invalid,
	    (unsigned long long)h->m.signature_previous,
	    (unsigned long long)h->m.verified_loop,
	    (unsigned long long)h->m.verified_thread,
	    (unsigned long long)h->m.invalid_payload,
	    (unsigned long long)h->m.commits,
	    (unsigned long long)h->m.commit_failures,
	    (unsigned long long)h->m.commit_largest,
	    depth,
	    (unsigned long long)h->m.outbox_sent,
	    (unsigned long long)h->m.outbox_failed,
	    (unsigned long long)h->m.outbox_retries,
	    (unsigned long long)s->conns);
	checkpoint_stats(h, &ck);
	buf_addf(&b, "# HELP orket_hookd_wal_checkpoints_total WAL checkpoints, by the "
	    "checkpoint thread or by the writer.\n"
	    "# TYPE orket_hookd_wal_checkpoints_total counter\n"
	    "orket_hookd_wal_checkpoints_total{by=\"thread\"} %llu\n"
	    "orket_hookd_wal_checkpoints_total{by=\"writer\"} %llu\n"
	    "# TYPE orket_hookd_wal_frames_checkpointed_total counter\n"
	    "orket_hookd_wal_frames_checkpointed_total{by=\"thread\"} %llu\n"
	    "orket_hookd_wal_frames_checkpointed_total{by=\"writer\"} %llu\n",
	    (unsigned long long)ck.thread_runs, (unsigned long long)ck.writer_runs,
	    (unsigned long long)ck.thread_frames, (unsigned long long)ck.writer_frames);
	buf_adds(&b, "# HELP orket_hookd_signature_failures_by_addr_total Signature failures per "
	    "source address.\n# TYPE orket_hookd_signature_failures_by_addr_total counter\n");
	for (i = 0; i < (size_t)h->m.nsigfail; i++)
		buf_addf(&b, "orket_hookd_signature_failures_by_addr_total{addr=\"%s\"} %llu\n",
		    h->m.sigfail[i].addr, (unsigned long long)h->m.sigfail[i].n);
	buf_adds(&b, "# HELP orket_hookd_delivery_seconds Time from request to stored answer.\n"
	    "# TYPE orket_hookd_delivery_seconds histogram\n");
	for (i = 0; i < sizeof(latency_bounds) / sizeof(latency_bounds[0]); i++) {
		cum = h->m.latency_le[i];
		buf_addf(&b, "orket_hookd_delivery_seconds_bucket{le=\"%g\"} %llu\n",
		    latency_bounds[i], (unsigned long long)cum);
	}
	buf_addf(&b, "orket_hookd_delivery_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "orket_hookd_delivery_seconds_sum %.6f\norket_hookd_delivery_seconds_count %llu\n",
	    (unsigned long long)h->m.latency_count, h->m.latency_sum,
	    (unsigned long long)h->m.latency_count);
	http_respond_simple(&h->srv, id, 200, "text/plain; version=0.0.4", b.p, b.len);
	buf_free(&b);
}

/* Before the body is read: the route, its body cap, and the rate limit. */
static void
on_head(struct http_server *srv, struct http_request *req, void *arg)
{
	struct hookd *h = arg;
	struct pending *p;
	const char *path = req->path;
	uint64_t wait;
	char hdr[64];
	int gitea = strcmp(path, "/webhook/gitea") == 0, test = strcmp(path, "/webhook/test") == 0;

	if (gitea || test) {
		if (req->method != HTTP_POST) {
			json_detail(h, req->id, 405, "Method Not Allowed", "Allow: POST\r\n");
			return;
		}
	} else if (strcmp(path, "/") == 0 || strcmp(path, "/health") == 0 ||
	    strcmp(path, "/metrics") == 0) {
		if (req->method != HTTP_GET && req->method != HTTP_HEAD)
			json_detail(h, req->id, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;		/* answered in on_request */
	} else {
		json_detail(h, req->id, 404, "Not Found", NULL);
		return;
	}

	if (gitea) {
		/* Per address, before the body is read: a flood cannot starve Gitea. */
		if ((wait = rate_check(&h->rate, req->peer, loop_now_ms(&h->loop))) != 0) {
			snprintf(hdr, sizeof(hdr), "Retry-After: %llu\r\n",
			    (unsigned long long)((wait + 999) / 1000));
			reject_event(h, req->peer, 429, "Webhook rate limit exceeded");
			json_detail(h, req->id, 429, "Webhook rate limit exceeded", hdr);
			return;
		}
		if (req->has_length && req->content_length > HOOKD_BODY_MAX) {
			reject_event(h, req->peer, 413, "Payload too large");
			json_detail(h, req->id, 413, "Payload too large", NULL);
			return;
		}
	} else {
		if (!h->cfg.test_enabled) {
			json_detail(h, req->id, 403, "Test webhook endpoint disabled", NULL);
			return;
		}
		if (h->cfg.test_token == NULL) {
			json_detail(h, req->id, 403, "Test webhook endpoint needs "
			    "ORKET_WEBHOOK_TEST_TOKEN", NULL);
			return;
		}
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		json_detail(h, req->id, 503, "Out of memory", "Retry-After: 1\r\n");
		return;
	}
	p->route = gitea ? R_GITEA : R_TEST;
	if (gitea) {
		hmac_init(&p->cur, h->cfg.secret, h->cfg.secretlen);
		if (h->cfg.secret_prev) {
			hmac_init(&p->prev, h->cfg.secret_prev, h->cfg.secret_prevlen);
			p->has_prev = 1;
		}
	}
	/* One byte more than the cap, so a chunked body one byte over reaches on_body. */
	req->body_max = (gitea ? HOOKD_BODY_MAX : HOOKD_TEST_BODY_MAX) + 1;
	req->user = p;
}

/* The body is counted as it arrives; the verifier thread hashes it whole. */
static int
on_body(struct http_server *srv, struct http_request *req, const char *data, size_t n,
    void *arg)
{
	struct hookd *h = arg;
	struct pending *p = req->user;

	if (p == NULL)
		return 0;
	p->total += n;
	if (p->total > (p->route == R_GITEA ? HOOKD_BODY_MAX : HOOKD_TEST_BODY_MAX)) {
		if (p->route == R_GITEA)
			reject_event(h, req->peer, 413, "Payload too large");
		return 413;
	}
	return 0;
}

/*
 * The signature sent: X-Gitea-Signature, else X-Hub-Signature-256 with its "sha256="
 * prefix. Returns its 64 hex digits, or NULL with *why -1 when there is none and -2 when
 * it cannot match: only 64 lowercase hex digits can, anything else is invalid, never an
 * error. The thread compares it with the HMACs.
 */
static const char *
signature(struct http_request *req, int *why)
{
	const char *sig;

	sig = http_header(req, "X-Gitea-Signature");
	if (sig == NULL || *sig == '\0') {
		sig = http_header(req, "X-Hub-Signature-256");
		if (sig == NULL || *sig == '\0') {
			*why = -1;
			return NULL;
		}
		if (strncmp(sig, "sha256=", 7) != 0) {
			*why = -2;
			return NULL;
		}
		sig += 7;
	}
	if (strlen(sig) != HMAC_SHA256_HEX) {
		*why = -2;
		return NULL;
	}
	return sig;
}

static char *
header_copy(struct http_request *req, const char *name, size_t max, int *toolong)
{
	const char *v = http_header(req, name);

	if (v == NULL || *v == '\0')
		return NULL;
	if (strlen(v) > max) {
		*toolong = 1;
		return NULL;
	}
	return strdup(v);
}

/*
 * The payload schema of the original: an object whose action is a string, number an
 * integer above 0 (numeric strings and whole floats are what Pydantic's lax mode took:
 * we take integers only), and pull_request, repository, review and sender objects; each
 * may be absent or null.
 */
static int
validate(const struct json *j, char *msg, size_t msglen)
{
	static const char *const objs[] = { "pull_request", "repository", "review", "sender" };
	long long n;
	size_t i;
	int t;

	if (json_type(j, 0) != JSON_OBJECT) {
		snprintf(msg, msglen, "Invalid payload: the top level must be an object");
		return -1;
	}
	if ((t = json_get(j, 0, "action")) >= 0 && json_type(j, t) != JSON_STRING &&
	    json_type(j, t) != JSON_NULL) {
		snprintf(msg, msglen, "Invalid payload: action must be a string");
		return -1;
	}
	if ((t = json_get(j, 0, "number")) >= 0 && json_type(j, t) != JSON_NULL) {
		if (json_int(j, t, &n) == -1 || n <= 0) {
			snprintf(msg, msglen, "Invalid payload: number must be an integer above 0");
			return -1;
		}
	}
	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		if ((t = json_get(j, 0, objs[i])) >= 0 && json_type(j, t) != JSON_OBJECT &&
		    json_type(j, t) != JSON_NULL) {
			snprintf(msg, msglen, "Invalid payload: %s must be an object", objs[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Parse, validate and classify a verified payload into d, whose headers are already
 * copied (d->event NULL when absent). Runs on the verifier thread for Gitea's deliveries
 * and on the loop for the test route, each with its own tokens. Returns 0, or -1 with msg
 * and errno EINVAL (answered 400) or ENOMEM (503).
 */
int
delivery_check(struct delivery *d, const char *payload, size_t len, const char *action,
    int toolong, jsmntok_t *toks, char *msg, size_t msglen)
{
	struct json j;
	int r;

	/*
	 * Only the pull request events are read below the top level (review_classify); for
	 * every other event the text is checked as thoroughly, but only the root's members
	 * become tokens, which saves most of the parsing of a large push payload.
	 */
	if (d->event != NULL && strncmp(d->event, "pull_request", 12) == 0)
		r = json_parse(&j, payload, len, toks, HOOKD_JSON_TOKENS);
	else
		r = json_parse_top(&j, payload, len, toks, HOOKD_JSON_TOKENS);
	if (r != 0) {
		snprintf(msg, msglen, "Invalid payload: %s", json_strerror(r));
		goto bad;
	}
	if (validate(&j, msg, msglen) == -1)
		goto bad;
	d->payload = payload;
	d->payloadlen = len;
	if (toolong) {
		snprintf(msg, msglen, "Invalid payload: X-Gitea-Event, X-Gitea-Event-Type "
		    "or X-Gitea-Delivery is too long");
		goto bad;
	}
	if (d->event == NULL && (d->event = strdup("None")) == NULL)
		goto nomem;
	if (review_classify(d, &j, msg, msglen) == -1)
		goto bad;
	if (action && d->action == NULL && (d->action = strdup(action)) == NULL)
		goto nomem;
	return 0;
bad:
	errno = EINVAL;
	return -1;
nomem:
	snprintf(msg, msglen, "Out of memory");
	errno = ENOMEM;
	return -1;
}

/* A new delivery with the request's headers; event, when given, overrides the header. */
static struct delivery *
delivery_new(struct http_request *req, const char *event, int *toolong)
{
	struct delivery *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (event)
		d->event = strdup(event);
	else
		d->event = header_copy(req, "X-Gitea-Event", HOOKD_EVENT_MAX, toolong);
	d->event_type = header_copy(req, "X-Gitea-Event-Type", HOOKD_EVENT_MAX, toolong);
	d->delivery_id = header_copy(req, "X-Gitea-Delivery", HOOKD_DELIVERY_ID_MAX, toolong);
	d->req = req->id;
	d->start_ms = req->start_ms;
	snprintf(d->addr, sizeof(d->addr), "%s", req->peer);
	return d;
}

/*
 * Handed to the committer at the end of this turn, with the others of the turn (and those
 * that gathered while the committer was busy); but a burst must not make the first
 * delivery wait for the whole burst's hashing and parsing: past HOOKD_BATCH_US (or
 * HOOKD_BATCH_MAX deliveries) the batch so far goes at once, if the committer is free.
 */
static void
queue_delivery(struct hookd *h, struct delivery *d)
{
	if (h->batch == NULL)
		h->batch_start = mono_us();
	*h->batch_tail = d;
	h->batch_tail = &d->next;
	h->nbatch++;
	if (h->nbatch >= HOOKD_BATCH_MAX || mono_us() - h->batch_start >= HOOKD_BATCH_US)
		hookd_commit(h);
}

static void
bad_delivery(struct hookd *h, struct delivery *d, const char *msg)
{
	h->m.invalid_payload++;
	reject_event(h, d->addr, 400, msg);
	json_detail(h, d->req, 400, msg, NULL);
	delivery_free(d);
}

/* Back from the verifier thread, on the loop. */
static void
verified(struct hookd *h, struct vjob *j)
{
	struct delivery *d = j->d;

	switch (j->verdict) {
	case V_BADSIG:
		h->m.signature_invalid++;
		count_sigfail(h, d->addr);
		reject_event(h, d->addr, 401, "Invalid webhook signature");
		json_detail(h, d->req, 401, "Invalid signature", NULL);
		break;
	case V_NOMEM:
		json_detail(h, d->req, 503, "Out of memory", "Retry-After: 1\r\n");
		break;
	case V_BADPAYLOAD:
		j->d = NULL;
		bad_delivery(h, d, j->msg);
		break;
	default:
		if (j->verdict == V_PREVIOUS)
			h->m.signature_previous++;
		j->d = NULL;
		queue_delivery(h, d);
		break;
	}
	vjob_free(j);
}

/*
 * A Gitea delivery: a missing or malformed signature is refused here; otherwise the
 * headers go into a job, checked here (a small body) or on the verifier thread with a
 * copy of the body, and then answered by verified() above.
 */
static void
gitea_delivery(struct hookd *h, struct http_request *req, struct pending *p)
{
	struct vjob *j;
	const char *sig;
	int why = 0;

	if ((sig = signature(req, &why)) == NULL) {
		if (why == -1)
			h->m.signature_missing++;
		else
			h->m.signature_invalid++;
		count_sigfail(h, req->peer);
		reject_event(h, req->peer, 401, why == -1 ? "Missing webhook signature" :
		    "Invalid webhook signature");
		json_detail(h, req->id, 401, why == -1 ? "Missing signature" :
		    "Invalid signature", NULL);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->d = delivery_new(req, NULL, &j->toolong)) == NULL)
		goto nomem;
	j->cur = p->cur;
	j->prev = p->prev;
	j->has_prev = p->has_prev;
	memcpy(j->sig, sig, HMAC_SHA256_HEX);
	j->sig[HMAC_SHA256_HEX] = '\0';
	/*
	 * A small body is checked right here: handing it over and back would cost the loop
	 * about what checking it does. A large one goes to the thread with its own copy
	 * (the connection's buffer may be gone by the time the thread reads it).
	 */
	if (req->bodylen < HOOKD_OFFLOAD_MIN) {
		j->d->payload = req->body;
		j->d->payloadlen = req->bodylen;
		verifier_check(j, h->toks);
		h->m.verified_loop++;
		verified(h, j);
		return;
	}
	if ((j->d->body = malloc(req->bodylen)) == NULL)
		goto nomem;
	memcpy(j->d->body, req->body, req->bodylen);
	j->d->payload = j->d->body;
	j->d->payloadlen = req->bodylen;
	h->m.verified_thread++;
	verifier_submit(h, j);
	return;
nomem:
	vjob_free(j);
	json_detail(h, req->id, 503, "Out of memory", "Retry-After: 1\r\n");
}

/* A test delivery, checked on the loop. */
static void
accept_delivery(struct hookd *h, struct http_request *req, const char *payload, size_t len,
    const char *event, const char *action)
{
	struct delivery *d;
	char msg[256];
	int toolong = 0;

	if ((d = delivery_new(req, event, &toolong)) == NULL) {
		json_detail(h, req->id, 503, "Out of memory", "Retry-After: 1\r\n");
		return;
	}
	if (delivery_check(d, payload, len, action, toolong, h->toks, msg, sizeof(msg)) == -1) {
		if (errno == ENOMEM) {
			json_detail(h, d->req, 503, "Out of memory", "Retry-After: 1\r\n");
			delivery_free(d);
		} else
			bad_delivery(h, d, msg);
		return;
	}
	queue_delivery(h, d);
}

/*
 * POST /webhook/test {event, action, payload}: for manual checks, behind the flag and a
 * bearer token (the original had neither token nor any other check).
 */
static void
test_delivery(struct hookd *h, struct http_request *req)
{
	const char *auth = http_header(req, "Authorization"), *raw;
	size_t n = strlen(h->cfg.test_token), rawlen;
	char event[HOOKD_EVENT_MAX + 1] = "test", action[128], msg[160];
	struct json j;
	int t, r, has_action = 0;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != n ||
	    !ct_equal(auth + 7, h->cfg.test_token, n)) {
		reject_event(h, req->peer, 401, "Invalid test token");
		json_detail(h, req->id, 401, "Invalid test token", "WWW-Authenticate: Bearer\r\n");
		return;
	}
	if ((r = json_parse(&j, req->body, req->bodylen, h->toks, HOOKD_JSON_TOKENS)) != 0 ||
	    json_type(&j, 0) != JSON_OBJECT) {
		snprintf(msg, sizeof(msg), "Invalid test body: %s", r ? json_strerror(r) :
		    "the top level must be an object");
		json_detail(h, req->id, 422, msg, NULL);
		return;
	}
	if ((t = json_get(&j, 0, "event")) >= 0 && json_type(&j, t) != JSON_NULL) {
		if (json_type(&j, t) != JSON_STRING ||
		    json_str(&j, t, event, sizeof(event), NULL) == -1) {
			json_detail(h, req->id, 422, "Invalid test body: event must be a short "
			    "string", NULL);
			return;
		}
		if (event[0] == '\0')
			strcpy(event, "test");
	}
	if ((t = json_get(&j, 0, "action")) >= 0 && json_type(&j, t) == JSON_STRING &&
	    json_str(&j, t, action, sizeof(action), NULL) == 0)
		has_action = 1;
	if ((t = json_get(&j, 0, "payload")) >= 0 && json_type(&j, t) == JSON_OBJECT)
		raw = json_raw(&j, t, &rawlen);
	else {
		raw = "{}";
		rawlen = 2;
	}
	accept_delivery(h, req, raw, rawlen, event, has_action ? action : NULL);
}

static void
on_request(struct http_server *srv, struct http_request *req, void *arg)
{
	struct hookd *h = arg;
	struct pending *p = req->user;

	req->user = NULL;
	if (p == NULL) {
		if (strcmp(req->path, "/health") == 0)
			http_respond_simple(srv, req->id, 200, "application/json",
			    "{\"status\":\"healthy\"}", 20);
		else if (strcmp(req->path, "/metrics") == 0)
			metrics(h, req->id);
		else if (strcmp(req->path, "/") == 0)
			info(h, req->id);
		else
			json_detail(h, req->id, 404, "Not Found", NULL);
		return;
	}
	if (p->route == R_GITEA)
		gitea_delivery(h, req, p);
	else
		test_delivery(h, req);
	wipe(p, sizeof(*p));
	free(p);
}

/* A request whose connection died before the head's state was used. */
static void
on_gone(struct http_server *srv, struct http_request *req, void *arg)
{
	if (req->user) {
		wipe(req->user, sizeof(struct pending));
		free(req->user);
		req->user = NULL;
	}
}

/* ------------------------------------------------------------------------------------ */

static int
exec1(struct hookd *h, const char *sql)
{
	return sqlite3_exec(h->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* BEGIN and COMMIT run for every group commit: prepared once, not parsed each time. */
static int
step1(struct hookd *h, int slot, const char *sql)
{
	sqlite3_stmt *st = hookd_stmt(h, slot, sql);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * One pass over the batch in one transaction; with isolate, each delivery in a savepoint
 * so that one that fails does not take the others with it. Returns 0, -2 when a delivery
 * failed without isolate (worth a pass with it), or -1 when the transaction itself could
 * not begin or commit (a lock held past the busy wait, the disk): a second pass would
 * only wait as long again.
 */
static int
commit_pass(struct hookd *h, struct delivery *list, int isolate, int *rows)
{
	struct delivery *d;
	char msg[512];
	int r;

	*rows = 0;
	if (step1(h, HOOKD_ST_BEGIN, "BEGIN IMMEDIATE") == -1) {
		log_warn("unable to begin the group commit: %s", sqlite3_errmsg(h->db));
		return -1;
	}
	for (d = list; d; d = d->next) {
		d->status = 0;
		d->outbox_first = 0;
		if (isolate && exec1(h, "SAVEPOINT d") == -1)
			goto fail;
		r = review_commit(h, d, rows, msg, sizeof(msg));
		if (r == -1) {
			log_warn("unable to store a delivery: %s", msg);
			if (!isolate) {
				exec1(h, "ROLLBACK");
				return -2;	/* again, one savepoint each */
			}
			exec1(h, "ROLLBACK TO d");
			d->status = 500;
		} else if (r == 1)
			d->status = 209;	/* duplicate: answered 200 below */
		if (isolate)
			exec1(h, "RELEASE d");
	}
	if (step1(h, HOOKD_ST_COMMIT, "COMMIT") == -1) {
		log_warn("unable to commit %s: %s", "deliveries", sqlite3_errmsg(h->db));
		goto fail;
	}
	return 0;
fail:
	if (!sqlite3_get_autocommit(h->db))
		exec1(h, "ROLLBACK");
	return -1;
}

/*
 * The group commit, on the committer thread under the database lock: the batch in one
 * transaction; if one delivery fails, the batch is rolled back and done again with a
 * savepoint each. Only after COMMIT returns is anybody answered 200: the answer means
 * stored. Returns 1 when committed.
 */
static int
commit_batch(struct hookd *h, struct delivery *list, int *rows)
{
	int r;

	*rows = 0;
	if ((r = commit_pass(h, list, 0, rows)) == -2)
		r = commit_pass(h, list, 1, rows);
	return r == 0;
}

/* On the loop: the answers of a committed batch, then the batch that gathered meanwhile. */
static void
answer_batch(struct hookd *h, struct delivery *list, int ok, int rows)
{
	struct delivery *d, *next;
	uint64_t n = 0;

	for (d = list; d; d = d->next)
		n++;
	if (n > h->m.commit_largest)
		h->m.commit_largest = n;
	if (ok)
		h->m.commits++;
	else
		h->m.commit_failures++;
	/* The latency histogram measures to this moment, not to the turn's start. */
	loop_update_time(&h->loop);
	for (d = list; d; d = next) {
		next = d->next;
		if (!ok) {
			reject_event(h, d->addr, 503, "Delivery not stored: database failure");
			json_detail(h, d->req, 503, "Delivery not stored, try again",
			    "Retry-After: 5\r\n");
		} else if (d->status == 500) {
			reject_event(h, d->addr, 500, "Delivery not stored: handler failure");
			json_detail(h, d->req, 500, "Delivery not stored", NULL);
		} else {
			if (d->status == 209)
				h->m.deliveries_duplicate++;
			else
				h->m.deliveries_stored++;
			if (http_respond_simple(&h->srv, d->req, 200, "application/json",
			    d->reply ? d->reply : "{}", d->reply ? strlen(d->reply) : 2) == 0)
				observe(h, d->start_ms);
		}
		delivery_free(d);
	}
	if (ok && rows > 0)
		outbox_kick(h);
	hookd_commit(h);
}

/*
 * The batch goes to the committer thread, unless it still has the last one: then it keeps
 * gathering and goes when that one is back (answer_batch). One transaction takes at most
 * HOOKD_BATCH_MAX deliveries; the rest wait for the next. Without the thread (after
 * committer_stop) the commit is done here.
 */
void
hookd_commit(struct hookd *h)
{
	struct delivery *list = h->batch, **cut = &h->batch;
	int rows = 0, ok, n;

	if (list == NULL || committer_busy(h))
		return;
	for (n = 0; *cut != NULL && n < HOOKD_BATCH_MAX; n++)
		cut = &(*cut)->next;
	h->batch = *cut;
	*cut = NULL;
	if (h->batch == NULL)
		h->batch_tail = &h->batch;
	h->nbatch -= n;
	h->batch_start = mono_us();
	if (committer_submit(h, list) == 0)
		return;
	hookd_db_lock(h);
	ok = commit_batch(h, list, &rows);
	hookd_db_unlock(h);
	answer_batch(h, list, ok, rows);
}

/* Every delivery committed and answered: at the end, after the loop has stopped. */
void
hookd_flush(struct hookd *h)
{
	while (h->batch != NULL || committer_busy(h)) {
		hookd_commit(h);
		committer_wait(h);
	}
}

static void
on_turn(struct loop *l, void *arg)
{
	hookd_commit(arg);
}

int
server_start(struct hookd *h)
{
	struct http_config c;

	http_config_default(&c);
	c.conns_max = h->cfg.conns_max;
	c.head = on_head;
	c.body = on_body;
	c.request = on_request;
	c.gone = on_gone;
	c.drained = NULL;
	c.arg = h;
	c.server = "orket-hookd";
	h->batch_tail = &h->batch;
	if ((h->toks = malloc(HOOKD_JSON_TOKENS * sizeof(*h->toks))) == NULL)
		return -1;
	if (http_server_init(&h->srv, &h->loop, &c) == -1)
		return -1;
	if (verifier_start(h, verified) == -1)
		return -1;
	if (committer_start(h, commit_batch, answer_batch) == -1)
		return -1;
	if (loop_on_turn(&h->loop, on_turn, h) == -1)
		return -1;
	return http_listen(&h->srv, h->cfg.host, h->cfg.port);
}

void
server_free(struct hookd *h)
{
	struct delivery *d, *next;

	verifier_stop(h);
	hookd_flush(h);
	committer_stop(h);
	http_server_free(&h->srv);
	for (d = h->batch; d; d = next) {
		next = d->next;
		delivery_free(d);
	}
	h->batch = NULL;
	free(h->toks);
	h->toks = NULL;
}
