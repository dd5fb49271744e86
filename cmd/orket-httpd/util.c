/* See LICENSE. orket-httpd: times, URL decoding, UTF-8, and JSON writing helpers. */
#include <sys/random.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hmac.h"
#include "httpd.h"

/*
 * Python's isoformat() of an aware UTC datetime, which the original's answers carry:
 * microseconds, or none at all when they are exactly zero, and "+00:00".
 */
int
iso_time(const struct timespec *ts, char *out, size_t cap)
{
	struct tm tm;
	long us = ts->tv_nsec / 1000;
	int n;

	if (gmtime_r(&ts->tv_sec, &tm) == NULL)
		return -1;
	if (us)
		n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, us);
	else
		n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d+00:00",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
	return n > 0 && (size_t)n < cap ? n : -1;
}

int
iso_now(char *out, size_t cap)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return iso_time(&ts, out, cap);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode n bytes of s into out (room for n + 1 bytes), as Python's unquote: a '%'
 * not followed by two hex digits is kept as it is. plus turns '+' into a space (query
 * strings). *nul is set when a %00 was decoded. Returns the decoded length.
 */
size_t
pct_decode(const char *s, size_t n, char *out, int plus, int *nul)
{
	size_t i, o = 0;
	int hi, lo;

	*nul = 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			out[o] = (char)(hi << 4 | lo);
			if (out[o] == '\0')
				*nul = 1;
			o++;
			i += 2;
		} else if (plus && s[i] == '+')
			out[o++] = ' ';
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return o;
}

/*
 * The value of query parameter name, decoded, into out. As Starlette: pairs split on '&',
 * a pair without '=' has an empty value, '+' is a space, and the last occurrence wins.
 * Returns 1 found, 0 absent, -1 when a value does not fit in cap, -2 when it holds %00.
 */
int
query_get(const char *query, const char *name, char *out, size_t cap, size_t *outlen)
{
	char key[256], *tmp;
	const char *p, *e, *eq;
	size_t klen, vlen, n;
	int found = 0, nul;

	if (query == NULL)
		return 0;
	for (p = query; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "&");
		if (e == p)
			continue;
		eq = memchr(p, '=', (size_t)(e - p));
		klen = (size_t)((eq ? eq : e) - p);
		if (klen >= sizeof(key))
			continue;
		pct_decode(p, klen, key, 1, &nul);
		if (nul || strcmp(key, name) != 0)
			continue;
		vlen = eq ? (size_t)(e - eq - 1) : 0;
		if (vlen >= cap * 3 + 3)	/* even fully encoded it cannot fit */
			return -1;
		if ((tmp = malloc(vlen + 1)) == NULL)
			return -1;
		n = pct_decode(eq ? eq + 1 : e, vlen, tmp, 1, &nul);
		if (nul || n >= cap) {
			free(tmp);
			return nul ? -2 : -1;
		}
		memcpy(out, tmp, n + 1);
		free(tmp);
		if (outlen)
			*outlen = n;
		found = 1;
	}
	return found;
}

/* Strict UTF-8, as Python's decode: no overlong forms, no surrogates, nothing past U+10FFFF. */
int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;
	unsigned c;

	while (p < e) {
		c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (e - p < 2 || (p[1] & 0xc0) != 0x80)
				return 0;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (e - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
				return 0;
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (e - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
			    (p[3] & 0xc0) != 0x80 || (c == 0xf0 && p[1] < 0x90) ||
			    (c == 0xf4 && p[1] > 0x8f))
				return 0;
			p += 4;
		} else
			return 0;
	}
	return 1;
}

/* Append valid JSON text without the whitespace between tokens (the original is compact). */
int
json_compact(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;
	int instr = 0, esc = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (instr) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				instr = 0;
			continue;
		}
		if (c == '"')
			instr = 1;
		else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (i > run && buf_add(b, s + run, i - run) == -1)
				return -1;
			run = i + 1;
		}
	}
	if (n > run && buf_add(b, s + run, n - run) == -1)
		return -1;
	return 0;
}

/* A float as Python's json writes one: always with a '.' or an exponent (0.0, not 0). */
int
jw_float(struct jw *w, double d)
{
	char tmp[48];
	int n;

	if (!isfinite(d))
		return jw_null(w);
	n = snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d)
		n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	if (strpbrk(tmp, ".en") == NULL && n + 2 < (int)sizeof(tmp)) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	return jw_raw(w, tmp, (size_t)n);
}

/* A column as the original's JSON: text a string, numbers numbers, NULL null. */
int
jw_column(struct jw *w, sqlite3_stmt *st, int col)
{
	const char *s;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		return jw_int(w, sqlite3_column_int64(st, col));
	case SQLITE_FLOAT:
		return jw_float(w, sqlite3_column_double(st, col));
	case SQLITE_NULL:
		return jw_null(w);
	default:
		s = (const char *)sqlite3_column_text(st, col);
		if (s == NULL)
			return jw_null(w);
		return jw_strn(w, s, (size_t)sqlite3_column_bytes(st, col));
	}
}

/*
 * Text that holds JSON, written as the value it holds (compact), or fallback (a JSON
 * literal) when it is NULL, empty or not JSON.
 */
int
jw_json_text(struct jw *w, const char *s, size_t n, const char *fallback)
{
	struct buf c = BUF_INIT(HTTPD_RESPONSE_MAX);
	struct json j;
	jsmntok_t *t;
	size_t nt;
	int r;

	if (s == NULL || n == 0)
		return jw_raw(w, fallback, strlen(fallback));
	nt = JSON_TOKS_MAX(n);
	if (nt > HTTPD_JSON_TOKENS)
		nt = HTTPD_JSON_TOKENS;
	if ((t = malloc(nt * sizeof(*t))) == NULL)
		return jw_raw(w, fallback, strlen(fallback));
	r = json_parse(&j, s, n, t, (unsigned)nt);
	free(t);
	if (r != JSON_OK || json_compact(&c, s, n) == -1 || c.len == 0) {
		buf_free(&c);
		return jw_raw(w, fallback, strlen(fallback));
	}
	r = jw_raw(w, c.p, c.len);
	buf_free(&c);
	return r;
}

int
random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];
	size_t got = 0;
	ssize_t r;

	if (nbytes > sizeof(b)) {
		errno = EINVAL;
		return -1;
	}
	while (got < nbytes) {
		r = getrandom(b + got, nbytes - got, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	hex_encode(b, nbytes, out);
	return 0;
}

const char *
signal_name(int sig)
{
	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGILL: return "SIGILL";
	case SIGTRAP: return "SIGTRAP";
	case SIGABRT: return "SIGABRT";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGKILL: return "SIGKILL";
	case SIGUSR1: return "SIGUSR1";
	case SIGSEGV: return "SIGSEGV";
	case SIGUSR2: return "SIGUSR2";
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGTERM: return "SIGTERM";
	case SIGXCPU: return "SIGXCPU";
	case SIGXFSZ: return "SIGXFSZ";
	case SIGSYS: return "SIGSYS";
	default: return NULL;
	}
}

/* An optional string member: 0 absent or null, 1 a string (*out allocated), -1 wrong. */
int
body_opt_str(const struct json *j, const char *key, char **out, struct verr *v)
{
	const char *raw;
	size_t rl;
	int t = json_get(j, 0, key);

	*out = NULL;
	if (t < 0 || json_type(j, t) == JSON_NULL)
		return 0;
	if (json_type(j, t) == JSON_STRING && (*out = json_strdup(j, t)) != NULL)
		return 1;
	raw = json_raw(j, t, &rl);
	verr_add(v, "string_type", "body", key, -1, "Input should be a valid string", raw, rl);
	return -1;
}

/* ------------------------------------------------------------------------------------ */

void
verr_init(struct verr *v)
{
	buf_init(&v->b, HTTPD_RESPONSE_MAX);
	v->n = 0;
}

/*
 * One item of a 422 answer, pydantic v2's shape: {"type","loc","msg","input"}. loc is
 * ["body" or "query", field, index]: loc2 NULL and loc3 -1 leave them out. input is
 * compact JSON text (NULL: null).
 */
void
verr_add(struct verr *v, const char *type, const char *loc1, const char *loc2, long loc3,
    const char *msg, const char *input, size_t inputlen)
{
	struct jw w;
	struct buf item = BUF_INIT(HTTPD_RESPONSE_MAX);
	struct buf in = BUF_INIT(HTTPD_RESPONSE_MAX);

	jw_init(&w, &item);
	jw_obj_open(&w);
	jw_key(&w, "type");
	jw_str(&w, type);
	jw_key(&w, "loc");
	jw_arr_open(&w);
	jw_str(&w, loc1);
	if (loc2)
		jw_str(&w, loc2);
	if (loc3 >= 0)
		jw_int(&w, loc3);
	jw_arr_close(&w);
	jw_key(&w, "msg");
	jw_str(&w, msg);
	jw_key(&w, "input");
	if (input && inputlen && json_compact(&in, input, inputlen) == 0 && in.len)
		jw_raw(&w, in.p, in.len);
	else if (input && inputlen == 0)
		jw_raw(&w, "{}", 2);
	else
		jw_null(&w);
	if (strcmp(type, "json_invalid") == 0) {
		jw_key(&w, "ctx");
		jw_obj_open(&w);
		jw_key(&w, "error");
		jw_str(&w, "Expecting value");
		jw_obj_close(&w);
	}
	jw_obj_close(&w);
	if (jw_finish(&w) == 0) {
		if (v->n)
			buf_addc(&v->b, ',');
		buf_add(&v->b, item.p, item.len);
		v->n++;
	}
	buf_free(&item);
	buf_free(&in);
}

void
verr_reply(struct httpd *h, struct http_request *req, struct verr *v)
{
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);

	buf_adds(&b, "{\"detail\":[");
	buf_add(&b, v->b.p ? v->b.p : "", v->b.len);
	buf_adds(&b, "]}");
	httpd_json(h, req, 422, &b);
	buf_free(&b);
}

void
verr_free(struct verr *v)
{
	buf_free(&v->b);
}
