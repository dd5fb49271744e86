/* See LICENSE. The Gitea REST calls orket-publish needs, over libcurl (BearSSL). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "buf.h"
#include "gitea.h"
#include "json.h"

/*
 * Caps. An answer we read is a repository object (a few kB); anything past 1 MiB is not
 * Gitea talking to us. Names are checked by Gitea itself; we only refuse what cannot be a
 * path segment at all (empty) or would make an absurd URL.
 */
#define GITEA_ANSWER_MAX	(1024 * 1024)
#define GITEA_NAME_MAX		256
#define GITEA_URL_MAX		4096
#define GITEA_TOKENS		4096
#define GITEA_DEFAULT_MS	30000L

static void
seterr(struct gitea *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes err, then blots out any credential that found its way in (an echo of a request
 * by a proxy, a curl message): the secrets must never reach a log line through us.
 */
static void
seterr(struct gitea *g, const char *fmt, ...)
{
	va_list ap;
	unsigned char *p;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	/* The answer's message is the server's text: no control character may split a line. */
	for (p = (unsigned char *)g->err; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	log_scrub(g->err, g->password);
	log_scrub(g->err, g->token);
}

/* Appends s as one path segment: everything but RFC 3986 "unreserved" is escaped. */
static int
add_segment(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
			if (buf_addc(b, (char)*p) == -1)
				return -1;
		} else if (buf_addc(b, '%') == -1 || buf_addc(b, hex[*p >> 4]) == -1 ||
		    buf_addc(b, hex[*p & 15]) == -1)
			return -1;
	}
	return 0;
}

static int
check_name(struct gitea *g, const char *what, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > GITEA_NAME_MAX) {
		seterr(g, "bad %s name: %s", what, n == 0 ? "empty" : "too long");
		return -1;
	}
	return 0;
}

/*
 * The base URL: http:// or https://, no userinfo (a credential there would travel in every
 * URL we build and show up in curl's messages), trailing slashes dropped, sub-path kept.
 */
static int
add_base(struct gitea *g, struct buf *url)
{
	const char *b = g->base, *host, *end;
	size_t n;

	if (b == NULL || (strncmp(b, "http://", 7) != 0 && strncmp(b, "https://", 8) != 0)) {
		seterr(g, "the Gitea URL must start with http:// or https://");
		return -1;
	}
	host = strstr(b, "//") + 2;
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)) != NULL) {
		seterr(g, "the Gitea URL must not hold credentials (user@host)");
		return -1;
	}
	if (end == host) {
		seterr(g, "the Gitea URL has no host");
		return -1;
	}
	if (b[strcspn(b, "?#")] != '\0') {
		seterr(g, "the Gitea URL must not have a query or fragment");
		return -1;
	}
	n = strlen(b);
	while (n > 0 && b[n - 1] == '/')
		n--;
	return buf_add(url, b, n);
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;

	/* Past the cap curl sees a short write and fails with CURLE_WRITE_ERROR. */
	if (buf_add(b, p, size * nmemb) == -1)
		return 0;
	return size * nmemb;
}

/*
 * Parses an answer that must be a JSON object: 0, or a json_parse error (JSON_EINVAL when
 * it is valid JSON but no object). GITEA_TOKENS is far more than a repository object needs
 * (about 150); a bigger answer is not one we asked for. The caller frees *toks.
 */
static int
parse_object(const struct buf *resp, struct json *js, jsmntok_t **toks)
{
	int r;

	if ((*toks = calloc(GITEA_TOKENS, sizeof(**toks))) == NULL)
		return JSON_ENOMEM;
	if ((r = json_parse(js, resp->p != NULL ? resp->p : "", resp->len, *toks,
	    GITEA_TOKENS)) != JSON_OK)
		return r;
	return json_type(js, 0) == JSON_OBJECT ? JSON_OK : JSON_EINVAL;
}

/* The "message" of a Gitea error answer, or "" when there is none. */
static void
answer_message(const struct buf *resp, char *out, size_t outlen)
{
	jsmntok_t *toks = NULL;
	struct json js;
	int t;

	out[0] = '\0';
	if (resp->len > 0 && parse_object(resp, &js, &toks) == JSON_OK &&
	    (t = json_get(&js, 0, "message")) != -1 && json_str(&js, t, out, outlen, NULL) == -1)
		out[0] = '\0';
	free(toks);
}

/*
 * One call: METHOD base/api/v1PATH, with BODY (JSON) or none. The status is left in
 * g->status and the answer in resp. Returns 0 when an HTTP answer came back, whatever its
 * status, or GITEA_ENET (err set) when none did.
 */
static int
call(struct gitea *g, const char *method, const char *path, const struct buf *body,
    struct buf *resp)
{
	CURL *c;
	CURLcode rc;
	struct curl_slist *h = NULL, *n;
	struct buf auth = BUF_INIT(8192), url = BUF_INIT(GITEA_URL_MAX);
	char errbuf[CURL_ERROR_SIZE];
	long ms = g->timeout_ms > 0 ? g->timeout_ms : GITEA_DEFAULT_MS;
	int r = GITEA_ENET;

	g->status = 0;
	buf_reset(resp);
	errbuf[0] = '\0';
	if (add_base(g, &url) == -1)
		return GITEA_EHTTP;
	if (buf_addf(&url, "/api/v1%s", path) == -1) {
		seterr(g, "%s /api/v1%s: URL too long", method, path);
		buf_free(&url);
		return GITEA_EHTTP;
	}
	if ((c = curl_easy_init()) == NULL) {
		seterr(g, "%s /api/v1%s: unable to start libcurl", method, path);
		buf_free(&url);
		return GITEA_ENET;
	}
#define HDR(s) do { \
	if ((n = curl_slist_append(h, (s))) == NULL) \
		goto nomem; \
	h = n; \
} while (0)
	HDR("Accept: application/json");
	HDR("Content-Type: application/json");
	HDR("Expect:");
	if (g->token != NULL && g->token[0] != '\0') {
		if (buf_addf(&auth, "Authorization: token %s", g->token) == -1)
			goto nomem;
		HDR(auth.p);
	}
#undef HDR
	curl_easy_setopt(c, CURLOPT_URL, url.p);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "orket-publish/" ORKET_VERSION);
	if (g->cafile != NULL && g->cafile[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, g->cafile);
	if ((g->token == NULL || g->token[0] == '\0') && g->user != NULL) {
		/* Raw bytes: curl builds "user:pass" itself, without percent-encoding. */
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, g->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, g->password != NULL ? g->password : "");
	}
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->p);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
	}
	if (strcmp(method, body != NULL ? "POST" : "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
		r = 0;
	} else if (rc == CURLE_WRITE_ERROR)
		seterr(g, "%s /api/v1%s: the answer is larger than %d bytes", method, path,
		    GITEA_ANSWER_MAX);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		seterr(g, "%s /api/v1%s: no answer within %ld ms", method, path, ms);
	else
		seterr(g, "%s /api/v1%s: %s", method, path, errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(rc));
	goto done;
nomem:
	seterr(g, "%s /api/v1%s: out of memory", method, path);
done:
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (auth.p != NULL)
		explicit_bzero(auth.p, auth.cap);
	buf_free(&auth);
	buf_free(&url);
	return r;
}

/* An answer we did not expect: its status and Gitea's message, briefly. */
static int
unexpected(struct gitea *g, const char *method, const char *path, const struct buf *resp)
{
	char msg[160];

	answer_message(resp, msg, sizeof(msg));
	if (msg[0] == '\0') {
		switch (g->status) {
		case 401: snprintf(msg, sizeof(msg), "credentials refused"); break;
		case 403: snprintf(msg, sizeof(msg), "forbidden"); break;
		default: snprintf(msg, sizeof(msg), "unexpected answer"); break;
		}
	}
	seterr(g, "%s /api/v1%s: HTTP %ld: %s", method, path, g->status, msg);
	return GITEA_EHTTP;
}

/* "/repos/OWNER/REPO", "/orgs/OWNER/repos" and the like, each name escaped. */
static int
make_path(struct buf *p, const char *a, const char *name1, const char *b, const char *name2)
{
	if (buf_adds(p, a) == -1 || add_segment(p, name1) == -1 || buf_adds(p, b) == -1)
		return -1;
	if (name2 != NULL && add_segment(p, name2) == -1)
		return -1;
	return 0;
}

int
gitea_repo_exists(struct gitea *g, const char *owner, const char *repo)
{
	struct buf path = BUF_INIT(GITEA_URL_MAX), resp = BUF_INIT(GITEA_ANSWER_MAX);
	jsmntok_t *toks = NULL;
	struct json js;
	int r, jr;

	g->err[0] = '\0';
	g->status = 0;
	if (check_name(g, "owner", owner) == -1 || check_name(g, "repository", repo) == -1)
		return GITEA_EHTTP;
	if (make_path(&path, "/repos/", owner, "/", repo) == -1) {
		seterr(g, "out of memory");
		return GITEA_EHTTP;
	}
	if ((r = call(g, "GET", path.p, NULL, &resp)) != 0)
		goto done;
	if (g->status == 404) {
		r = GITEA_EMISSING;
		seterr(g, "GET /api/v1%s: HTTP 404: no such repository", path.p);
	} else if (g->status != 200)
		r = unexpected(g, "GET", path.p, &resp);
	else if ((jr = parse_object(&resp, &js, &toks)) != JSON_OK) {
		/* A login page of a proxy in front of Gitea answers 200 too. */
		seterr(g, "GET /api/v1%s: HTTP 200 but the answer is not a JSON object (%s)",
		    path.p, json_strerror(jr));
		r = GITEA_EHTTP;
	} else
		r = GITEA_OK;
done:
	free(toks);
	buf_free(&path);
	buf_free(&resp);
	return r;
}

int
gitea_repo_create(struct gitea *g, const char *owner, const char *repo, int private_)
{
	struct buf path = BUF_INIT(GITEA_URL_MAX), resp = BUF_INIT(GITEA_ANSWER_MAX);
	struct buf body = BUF_INIT(GITEA_URL_MAX);
	struct jw w;
	int r = GITEA_EHTTP;

	g->err[0] = '\0';
	g->status = 0;
	if (check_name(g, "owner", owner) == -1 || check_name(g, "repository", repo) == -1)
		return GITEA_EHTTP;
	jw_init(&w, &body);
	jw_obj_open(&w);
	jw_key(&w, "name");
	jw_str(&w, repo);
	jw_key(&w, "private");
	jw_bool(&w, private_ != 0);
	jw_obj_close(&w);
	if (jw_finish(&w) == -1 || make_path(&path, "/orgs/", owner, "/repos", NULL) == -1) {
		seterr(g, "out of memory");
		goto done;
	}
	if ((r = call(g, "POST", path.p, &body, &resp)) != 0)
		goto done;
	if (g->status == 404) {
		/*
		 * Not an organization: create it for the user through the admin API, never
		 * through /user/repos, which would put it under whoever we log in as.
		 */
		buf_reset(&path);
		if (make_path(&path, "/admin/users/", owner, "/repos", NULL) == -1) {
			seterr(g, "out of memory");
			r = GITEA_EHTTP;
			goto done;
		}
		if ((r = call(g, "POST", path.p, &body, &resp)) != 0)
			goto done;
		if (g->status == 404) {
			seterr(g, "POST /api/v1%s: HTTP 404: no organization or user named %s",
			    path.p, owner);
			r = GITEA_EMISSING;
			goto done;
		}
	}
	if (g->status == 201 || g->status == 409)
		r = GITEA_OK;
	else
		r = unexpected(g, "POST", path.p, &resp);
done:
	buf_free(&path);
	buf_free(&resp);
	buf_free(&body);
	return r;
}
