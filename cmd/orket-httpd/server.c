/* See LICENSE. orket-httpd's HTTP side: routes, the API key, CORS, answers, events. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hmac.h"
#include "httpd.h"

/* What a route needs before its handler runs. */
#define F_AUTH	0x1	/* under /v1: the API key */
#define F_BODY	0x2	/* a JSON object body */

enum {
	R_HEALTH, R_PROM, R_VERSION, R_HEARTBEAT, R_SYSMETRICS, R_CALENDAR, R_CLEARLOGS,
	R_EXPLORER, R_READ, R_SAVE, R_RUNACTIVE, R_RUNS, R_BACKLOG, R_RUNMETRICS, R_CANCEL,
	R_SESSION, R_SNAPSHOT, R_ARCHIVE, R_WS
};

/*
 * The routes. A "*" segment is the {session_id} parameter: one non-empty segment of the
 * percent-decoded path, as Starlette matches them. Unknown paths are 404 and known paths
 * with another method 405, both before the API key is looked at, as FastAPI does.
 *
 * GET /ws/events checks its key itself: a browser cannot send X-API-Key with a websocket,
 * so ?key= is taken too.
 */
static const struct route {
	const char	*path;
	int		 method;
	int		 id;
	int		 flags;
	size_t		 body_max;
} routes[] = {
	{ "/health",			HTTP_GET,  R_HEALTH,	 0, 0 },
	{ "/ws/events",			HTTP_GET,  R_WS,	 0, 0 },
	{ "/metrics",			HTTP_GET,  R_PROM,	 0, 0 },
	{ "/v1/version",		HTTP_GET,  R_VERSION,	 F_AUTH, 0 },
	{ "/v1/system/heartbeat",	HTTP_GET,  R_HEARTBEAT,	 F_AUTH, 0 },
	{ "/v1/system/metrics",		HTTP_GET,  R_SYSMETRICS, F_AUTH, 0 },
	{ "/v1/system/calendar",	HTTP_GET,  R_CALENDAR,	 F_AUTH, 0 },
	{ "/v1/system/clear-logs",	HTTP_POST, R_CLEARLOGS,	 F_AUTH, 0 },
	{ "/v1/system/explorer",	HTTP_GET,  R_EXPLORER,	 F_AUTH, 0 },
	{ "/v1/system/read",		HTTP_GET,  R_READ,	 F_AUTH, 0 },
	{ "/v1/system/save",		HTTP_POST, R_SAVE,	 F_AUTH | F_BODY, HTTPD_SAVE_BODY_MAX },
	{ "/v1/system/run-active",	HTTP_POST, R_RUNACTIVE,	 F_AUTH | F_BODY, HTTPD_BODY_MAX },
	{ "/v1/runs",			HTTP_GET,  R_RUNS,	 F_AUTH, 0 },
	{ "/v1/runs/*/backlog",		HTTP_GET,  R_BACKLOG,	 F_AUTH, 0 },
	{ "/v1/runs/*/metrics",		HTTP_GET,  R_RUNMETRICS, F_AUTH, 0 },
	{ "/v1/runs/*/cancel",		HTTP_POST, R_CANCEL,	 F_AUTH, 0 },
	{ "/v1/sessions/*",		HTTP_GET,  R_SESSION,	 F_AUTH, 0 },
	{ "/v1/sessions/*/snapshot",	HTTP_GET,  R_SNAPSHOT,	 F_AUTH, 0 },
	{ "/v1/cards/archive",		HTTP_POST, R_ARCHIVE,	 F_AUTH | F_BODY, HTTPD_BODY_MAX },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

static const char cors_methods[] = "GET, POST, PATCH, DELETE";
static const char cors_headers[] =
    "Accept, Accept-Language, Authorization, Content-Language, Content-Type, X-API-Key";

/* ------------------------------------------------------------------------------------ */

void
httpd_emit(struct httpd *h, const char *role, const char *event, const char *data_json)
{
	h->m.events++;
	if (h->ev.fd != -1 && evlog_write(&h->ev, role, event, data_json) == -1) {
		/* A full disk would repeat this for every event: say it now and then. */
		if ((h->m.event_log_failures++ & 1023) == 0)
			log_warnsys("unable to write the event log %s", h->ev.path);
	}
	/*
	 * WS HOOK: the websocket hub broadcasts from here. It registers itself as h->hook
	 * (with h->hook_arg) when it starts, and sees exactly what the event log got.
	 */
	if (h->hook != NULL)
		h->hook(h, role, event, data_json ? data_json : "{}", h->hook_arg);
}

sqlite3_stmt *
httpd_stmt(struct httpd *h, int i, const char *sql)
{
	if (i < 0 || i >= HTTPD_STMTS)
		return NULL;
	if (h->st[i] == NULL && sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &h->st[i], NULL) != SQLITE_OK) {
		log_warn("unable to prepare a statement: %s", sqlite3_errmsg(h->db));
		h->st[i] = NULL;
		return NULL;
	}
	sqlite3_reset(h->st[i]);
	sqlite3_clear_bindings(h->st[i]);
	return h->st[i];
}

/* ------------------------------------------------------------------------------------ */

int
httpd_origin_ok(const struct httpd *h, const char *origin)
{
	int i;

	if (h->cfg.origins_any)
		return 1;
	for (i = 0; i < h->cfg.norigins; i++)
		if (strcmp(h->cfg.origins[i], origin) == 0)
			return 1;
	return 0;
}

/*
 * The CORS headers of an ordinary answer, as Starlette's middleware adds them: only when
 * the request has an Origin; "*" when any origin is allowed (the origin itself, with
 * Vary, when the request carries cookies); the origin with Vary when it is listed.
 */
static void
cors_simple(const struct httpd *h, struct http_request *req, struct buf *hdr)
{
	const char *origin = http_header(req, "Origin");

	if (origin == NULL || *origin == '\0' || strlen(origin) > 1024)
		return;
	if (h->cfg.origins_any && http_header(req, "Cookie") == NULL)
		buf_adds(hdr, "Access-Control-Allow-Origin: *\r\n");
	else if (httpd_origin_ok(h, origin))
		buf_addf(hdr, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
}

void
httpd_reply(struct httpd *h, struct http_request *req, int status, const char *ctype,
    const void *body, size_t len, const char *headers)
{
	struct buf hdr = BUF_INIT(HTTP_EXTRA_HEADERS_MAX);
	struct http_response r;
	struct buf ev = BUF_INIT(4096);
	struct jw w;

	cors_simple(h, req, &hdr);
	if (headers)
		buf_adds(&hdr, headers);
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.content_type = ctype;
	r.body = body;
	r.bodylen = len;
	r.headers = hdr.len ? hdr.p : NULL;
	if (status >= 500) {
		jw_init(&w, &ev);
		jw_obj_open(&w);
		jw_key(&w, "level");
		jw_str(&w, "error");
		jw_key(&w, "status");
		jw_int(&w, status);
		jw_key(&w, "method");
		jw_str(&w, req->method_str);
		jw_key(&w, "path");
		jw_str(&w, req->path);
		jw_key(&w, "response");
		jw_strn(&w, body ? body : "", len > 512 ? 512 : len);
		jw_obj_close(&w);
		httpd_emit(h, "system", "http_error", jw_finish(&w) == 0 ? ev.p : NULL);
	}
	if (http_respond(&h->srv, req->id, &r) == -1 && errno != ENOENT) {
		log_warnsys("unable to answer %s %s", req->method_str, req->path);
		/* Too big to queue: say so rather than leave the client waiting. */
		if (errno == ENOBUFS || errno == ENOMEM)
			http_respond_simple(&h->srv, req->id, 503, "application/json",
			    "{\"detail\":\"Response too large\"}", 31);
	}
	buf_free(&hdr);
	buf_free(&ev);
}

void
httpd_json(struct httpd *h, struct http_request *req, int status, const struct buf *b)
{
	httpd_reply(h, req, status, "application/json", b->p ? b->p : "", b->len, NULL);
}

void
httpd_detail_hdr(struct httpd *h, struct http_request *req, int status, const char *detail,
    const char *headers)
{
	struct buf b = BUF_INIT(64 * 1024);
	struct jw w;

	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "detail");
	jw_str(&w, detail);
	jw_obj_close(&w);
	if (jw_finish(&w) == -1) {
		buf_reset(&b);
		buf_adds(&b, "{\"detail\":\"Error\"}");
	}
	httpd_reply(h, req, status, "application/json", b.p, b.len, headers);
	buf_free(&b);
}

void
httpd_detail(struct httpd *h, struct http_request *req, int status, const char *detail)
{
	httpd_detail_hdr(h, req, status, detail, NULL);
}

/* ------------------------------------------------------------------------------------ */

/*
 * A key a client sent against ORKET_API_KEY. Both are hashed first so that the comparison
 * takes the same time whatever either length. Without a configured key nothing passes,
 * unless ORKET_ALLOW_INSECURE_NO_API_KEY is truthy; an empty or NULL key is no key.
 */
int
httpd_key_ok(const struct httpd *h, const char *k)
{
	unsigned char d[32];
	int ok;

	if (h->cfg.api_key == NULL)
		return h->cfg.insecure;
	if (k == NULL || *k == '\0')
		return 0;
	sha256(k, strlen(k), d);
	ok = ct_equal(d, h->cfg.api_key_sha, sizeof(d));
	wipe(d, sizeof(d));
	return ok;
}

/* The API key of a request: X-API-Key, any case; nothing else is consulted. */
static int
auth_ok(const struct httpd *h, const struct http_request *req)
{
	return httpd_key_ok(h, http_header(req, "X-API-Key"));
}

/* Does path match pattern? The "*" segment is copied (decoded already) into id. */
static int
match(const char *pattern, const char *path, char *id, size_t idcap)
{
	const char *p = pattern, *s = path;
	size_t n;

	while (*p && *s) {
		if (*p == '*') {
			n = strcspn(s, "/");
			if (n == 0 || n >= idcap)
				return 0;
			if (id) {
				memcpy(id, s, n);
				id[n] = '\0';
			}
			s += n;
			p++;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/* The route for a decoded path: its index, -1 none, or -2 the path with another method. */
static int
lookup(const char *path, int method, int *allow)
{
	size_t i;
	int other = -1;

	for (i = 0; i < NROUTES; i++) {
		if (!match(routes[i].path, path, NULL, HTTPD_ID_MAX + 1))
			continue;
		if (routes[i].method == method)
			return (int)i;
		other = (int)i;
	}
	if (other >= 0) {
		*allow = routes[other].method;
		return -2;
	}
	return -1;
}

/* Every name of an Access-Control-Request-Headers list is one we allow (any case). */
static int
headers_allowed(const char *want)
{
	const char *p = want, *e, *a;
	size_t n, an;
	int ok;

	/* As Starlette: split on ",", strip each name; an empty one matches nothing. */
	for (;;) {
		e = p + strcspn(p, ",");
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		ok = 0;
		for (a = cors_headers; *a != '\0'; a += an + (a[an] ? 2 : 0)) {
			an = strcspn(a, ",");
			if (n > 0 && an == n && strncasecmp(a, p, n) == 0) {
				ok = 1;
				break;
			}
		}
		if (!ok)
			return 0;
		if (*e == '\0')
			return 1;
		p = e + 1;
	}
}

static int
hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of name= in a query string, percent-decoded into out; NULL when absent. */
static const char *
query_param(const char *q, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name), o = 0;
	const char *p;
	int hi, lo;

	for (p = q; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, name, n) != 0 || p[n] != '=')
			continue;
		for (p += n + 1; *p && *p != '&' && o + 1 < cap; p++) {
			if (*p == '%' && (hi = hexdigit(p[1])) >= 0 && (lo = hexdigit(p[2])) >= 0) {
				out[o++] = (char)(hi << 4 | lo);
				p += 2;
			} else
				out[o++] = *p == '+' ? ' ' : *p;
		}
		out[o] = '\0';
		return out;
	}
	return NULL;
}

/*
 * GET /ws/events: the API key (X-API-Key, or ?key= for browsers) and, when one is sent,
 * an allowed Origin; then the hub takes the connection over, replaying after ?since=.
 */
static void
route_ws(struct httpd *h, struct http_request *req)
{
	char key[512];
	const char *k = http_header(req, "X-API-Key"), *origin = http_header(req, "Origin");
	uint64_t since;
	int ok;

	if (k == NULL && req->query)
		k = query_param(req->query, "key", key, sizeof(key));
	ok = httpd_key_ok(h, k);
	wipe(key, sizeof(key));
	if (!ok) {
		h->m.auth_failures++;
		httpd_detail(h, req, 403, "Could not validate credentials");
		return;
	}
	if (origin != NULL && !httpd_origin_ok(h, origin)) {
		httpd_detail(h, req, 403, "Origin not allowed");
		return;
	}
	if (hub_parse_since(req->query, &since) == -1) {
		httpd_detail(h, req, 400, "since must be a whole number");
		return;
	}
	hub_accept(&h->hub, &h->srv, req->id, since);
}

/* A CORS preflight, answered before any route or key, as the middleware does. */
static void
preflight(struct httpd *h, struct http_request *req)
{
	const char *origin = http_header(req, "Origin");
	const char *method = http_header(req, "Access-Control-Request-Method");
	const char *want = http_header(req, "Access-Control-Request-Headers");
	struct buf hdr = BUF_INIT(HTTP_EXTRA_HEADERS_MAX), body = BUF_INIT(256);
	struct http_response r;
	int bad_origin, bad_method, bad_headers;

	bad_origin = !httpd_origin_ok(h, origin);
	bad_method = strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
	    strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0;
	bad_headers = want != NULL && !headers_allowed(want);
	if (h->cfg.origins_any)
		buf_adds(&hdr, "Access-Control-Allow-Origin: *\r\n");
	else
		buf_adds(&hdr, "Vary: Origin\r\n");
	buf_addf(&hdr, "Access-Control-Allow-Methods: %s\r\nAccess-Control-Max-Age: 600\r\n"
	    "Access-Control-Allow-Headers: %s\r\n", cors_methods, cors_headers);
	if (!bad_origin && !h->cfg.origins_any && strlen(origin) <= 1024)
		buf_addf(&hdr, "Access-Control-Allow-Origin: %s\r\n", origin);
	memset(&r, 0, sizeof(r));
	r.content_type = "text/plain; charset=utf-8";
	r.headers = hdr.p;
	if (bad_origin || bad_method || bad_headers) {
		h->m.cors_rejected++;
		buf_adds(&body, "Disallowed CORS ");
		if (bad_origin)
			buf_adds(&body, "origin");
		if (bad_method)
			buf_adds(&body, bad_origin ? ", method" : "method");
		if (bad_headers)
			buf_adds(&body, bad_origin || bad_method ? ", headers" : "headers");
		r.status = 400;
	} else {
		buf_adds(&body, "OK");
		r.status = 200;
	}
	r.body = body.p;
	r.bodylen = body.len;
	if (http_respond(&h->srv, req->id, &r) == -1 && errno != ENOENT)
		log_warnsys("unable to answer a preflight");
	buf_free(&hdr);
	buf_free(&body);
}

/* Before the body is read: CORS preflight, the route, its body cap. */
static void
on_head(struct http_server *srv, struct http_request *req, void *arg)
{
	struct httpd *h = arg;
	char path[HTTP_URL_MAX + 1], loc[HTTP_URL_MAX + 512], allowhdr[64];
	const char *host;
	size_t n;
	int nul, i, allow = 0;

	n = strlen(req->path);
	if (n > HTTP_URL_MAX) {
		httpd_detail(h, req, 404, "Not Found");
		return;
	}
	pct_decode(req->path, n, path, 0, &nul);
	if (req->method == HTTP_OPTIONS && http_header(req, "Origin") != NULL &&
	    http_header(req, "Access-Control-Request-Method") != NULL) {
		preflight(h, req);
		return;
	}
	i = nul ? -1 : lookup(path, req->method, &allow);
	if (i == -2) {
		snprintf(allowhdr, sizeof(allowhdr), "Allow: %s\r\n",
		    http_method_str((enum http_method)allow));
		httpd_detail_hdr(h, req, 405, "Method Not Allowed", allowhdr);
		return;
	}
	if (i == -1) {
		/* A trailing slash too many: 307 to the form that exists, as Starlette. */
		n = strlen(path);
		if (!nul && n > 1 && path[n - 1] == '/') {
			path[n - 1] = '\0';
			if (lookup(path, req->method, &allow) != -1) {
				n = strlen(req->path);
				host = http_header(req, "Host");
				if (host != NULL && *host != '\0' && strlen(host) < 256)
					snprintf(loc, sizeof(loc), "Location: http://%s%.*s%s%s\r\n",
					    host, (int)(n - 1), req->path, req->query ? "?" : "",
					    req->query ? req->query : "");
				else
					snprintf(loc, sizeof(loc), "Location: %.*s%s%s\r\n",
					    (int)(n - 1), req->path, req->query ? "?" : "",
					    req->query ? req->query : "");
				httpd_reply(h, req, 307, NULL, NULL, 0, loc);
				return;
			}
		}
		httpd_detail(h, req, 404, "Not Found");
		return;
	}
	/*
	 * The key is checked after the JSON syntax (the original's order), so a body is read
	 * first; but a client without a good key gets no more than a small one buffered.
	 */
	req->body_max = routes[i].body_max ? routes[i].body_max : HTTPD_BODY_MAX;
	if ((routes[i].flags & F_AUTH) && !auth_ok(h, req)) {
		if (req->chunked || (req->has_length &&
		    req->content_length > HTTPD_UNAUTH_BODY_MAX)) {
			h->m.auth_failures++;
			httpd_detail(h, req, 403, "Could not validate credentials");
			return;
		}
		req->body_max = HTTPD_UNAUTH_BODY_MAX;
	}
	req->user = (void *)(uintptr_t)(i + 1);
}

static void
body_invalid(struct httpd *h, struct http_request *req)
{
	struct verr v;

	verr_init(&v);
	verr_add(&v, "json_invalid", "body", NULL, 0, "JSON decode error", "", 0);
	verr_reply(h, req, &v);
	verr_free(&v);
}

static void
on_request(struct http_server *srv, struct http_request *req, void *arg)
{
	struct httpd *h = arg;
	const struct route *r;
	char path[HTTP_URL_MAX + 1], id[HTTPD_ID_MAX + 1] = "";
	struct json j;
	struct verr v;
	int nul, pr = JSON_OK, i = (int)(uintptr_t)req->user - 1;

	req->user = NULL;
	if (i < 0 || i >= (int)NROUTES) {
		httpd_detail(h, req, 404, "Not Found");
		return;
	}
	r = &routes[i];
	if (strchr(r->path, '*') != NULL) {
		pct_decode(req->path, strlen(req->path), path, 0, &nul);
		match(r->path, path, id, sizeof(id));
	}
	if ((r->flags & F_BODY) && req->bodylen > 0) {
		pr = json_parse(&j, req->body, req->bodylen, h->toks, HTTPD_JSON_TOKENS);
		/* The JSON syntax comes first, before the key (the original's order). */
		if (pr != JSON_OK && pr != JSON_ENOMEM) {
			body_invalid(h, req);
			return;
		}
	}
	if ((r->flags & F_AUTH) && !auth_ok(h, req)) {
		h->m.auth_failures++;
		httpd_detail(h, req, 403, "Could not validate credentials");
		return;
	}
	if (r->flags & F_BODY) {
		if (pr == JSON_ENOMEM) {
			httpd_detail(h, req, 413, "JSON body has too many values");
			return;
		}
		if (req->bodylen == 0 || json_type(&j, 0) != JSON_OBJECT) {
			verr_init(&v);
			if (req->bodylen == 0)
				verr_add(&v, "missing", "body", NULL, -1, "Field required", NULL, 0);
			else
				verr_add(&v, "model_attributes_type", "body", NULL, -1,
				    "Input should be a valid dictionary or object to extract "
				    "fields from", req->body, req->bodylen);
			verr_reply(h, req, &v);
			verr_free(&v);
			return;
		}
	}
	switch (r->id) {
	case R_HEALTH:
		route_health(h, req);
		break;
	case R_WS:
		route_ws(h, req);
		break;
	case R_PROM:
		route_prom(h, req);
		break;
	case R_VERSION:
		route_version(h, req);
		break;
	case R_HEARTBEAT:
		route_heartbeat(h, req);
		break;
	case R_SYSMETRICS:
		route_sysmetrics(h, req);
		break;
	case R_CALENDAR:
		route_calendar(h, req);
		break;
	case R_CLEARLOGS:
		route_clear_logs(h, req);
		break;
	case R_EXPLORER:
		route_explorer(h, req);
		break;
	case R_READ:
		route_read(h, req);
		break;
	case R_SAVE:
		route_save(h, req, &j);
		break;
	case R_RUNACTIVE:
		route_run_active(h, req, &j);
		break;
	case R_RUNS:
		route_runs(h, req);
		break;
	case R_BACKLOG:
		route_backlog(h, req, id);
		break;
	case R_RUNMETRICS:
		route_run_metrics(h, req, id);
		break;
	case R_CANCEL:
		route_cancel(h, req, id);
		break;
	case R_SESSION:
		route_session(h, req, id);
		break;
	case R_SNAPSHOT:
		route_snapshot(h, req, id);
		break;
	case R_ARCHIVE:
		route_archive(h, req, &j);
		break;
	default:
		httpd_detail(h, req, 404, "Not Found");
		break;
	}
}

/* ------------------------------------------------------------------------------------ */

/* GET /metrics: Prometheus text, off the /v1 tree and without the key, as hookd's. */
void
route_prom(struct httpd *h, struct http_request *req)
{
	struct buf b = BUF_INIT(1 << 20);
	const struct http_stats *s = &h->srv.stats;

	http_stats_prom(&b, "orket_httpd", s);
	buf_addf(&b, "# TYPE orket_httpd_connections gauge\n"
	    "orket_httpd_connections %llu\n"
	    "# TYPE orket_httpd_auth_failures_total counter\n"
	    "orket_httpd_auth_failures_total %llu\n"
	    "# TYPE orket_httpd_cors_rejected_total counter\n"
	    "orket_httpd_cors_rejected_total %llu\n"
	    "# TYPE orket_httpd_files_denied_total counter\n"
	    "orket_httpd_files_denied_total %llu\n"
	    "# TYPE orket_httpd_runs_active gauge\n"
	    "orket_httpd_runs_active %d\n"
	    "# TYPE orket_httpd_runs_max gauge\n"
	    "orket_httpd_runs_max %d\n"
	    "# TYPE orket_httpd_runs_total counter\n"
	    "orket_httpd_runs_total{result=\"started\"} %llu\n"
	    "orket_httpd_runs_total{result=\"done\"} %llu\n"
	    "orket_httpd_runs_total{result=\"failed\"} %llu\n"
	    "orket_httpd_runs_total{result=\"cancelled\"} %llu\n"
	    "orket_httpd_runs_total{result=\"rejected\"} %llu\n"
	    "# TYPE orket_httpd_runner_events_total counter\n"
	    "orket_httpd_runner_events_total %llu\n"
	    "# TYPE orket_httpd_runner_lines_dropped_total counter\n"
	    "orket_httpd_runner_lines_dropped_total %llu\n"
	    "# TYPE orket_httpd_events_total counter\n"
	    "orket_httpd_events_total %llu\n"
	    "# TYPE orket_httpd_event_log_failures_total counter\n"
	    "orket_httpd_event_log_failures_total %llu\n"
	    "# TYPE orket_httpd_db_failures_total counter\n"
	    "orket_httpd_db_failures_total %llu\n",
	    (unsigned long long)s->conns,
	    (unsigned long long)h->m.auth_failures,
	    (unsigned long long)h->m.cors_rejected,
	    (unsigned long long)h->m.files_denied,
	    h->nruns, h->cfg.max_runs,
	    (unsigned long long)h->m.runs_started,
	    (unsigned long long)h->m.runs_done,
	    (unsigned long long)h->m.runs_failed,
	    (unsigned long long)h->m.runs_cancelled,
	    (unsigned long long)h->m.runs_rejected,
	    (unsigned long long)h->m.runner_events,
	    (unsigned long long)h->m.runner_lines_dropped,
	    (unsigned long long)h->m.events,
	    (unsigned long long)h->m.event_log_failures,
	    (unsigned long long)h->m.db_failures);
	httpd_reply(h, req, 200, "text/plain; version=0.0.4", b.p, b.len, NULL);
	buf_free(&b);
}

int
server_start(struct httpd *h)
{
	struct http_config c;

	http_config_default(&c);
	c.conns_max = h->cfg.conns_max;
	c.body_max = HTTPD_BODY_MAX;
	c.head = on_head;
	c.request = on_request;
	c.arg = h;
	c.server = "orket-httpd";
	if ((h->toks = malloc(HTTPD_JSON_TOKENS * sizeof(*h->toks))) == NULL)
		return -1;
	if (http_server_init(&h->srv, &h->loop, &c) == -1)
		return -1;
	return http_listen(&h->srv, h->cfg.host, h->cfg.port);
}

void
server_free(struct httpd *h)
{
	http_server_free(&h->srv);
	free(h->toks);
	h->toks = NULL;
}
