/* See LICENSE. Unit tests for lib/json: the strict reader, the escaping writer, round trips. */
#include <sys/mman.h>

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tap.h"

#define NTOK	1024
#define R	"\xef\xbf\xbd"		/* U+FFFD REPLACEMENT CHARACTER */

struct tcase {
	const char	*s;
	size_t		 n;
	int		 want;
};
#define C(lit, want)	{ (lit), sizeof(lit) - 1, (want) }

/* A pair: writer input bytes and the bytes expected between the quotes. */
struct wcase {
	const char	*in;
	size_t		 inlen;
	const char	*out;
	size_t		 outlen;
};
#define W(in, out)	{ (in), sizeof(in) - 1, (out), sizeof(out) - 1 }

static jsmntok_t toks[NTOK];
static char *gbase;
static size_t gsize;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/*
 * Parser input goes right before a PROT_NONE page, as picohttpparser's tests do: the
 * text has no NUL after it, and a read one byte past the end faults at once.
 */
static void
guard_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	gsize = 64 * (size_t)pg;
	gbase = mmap(NULL, gsize + (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gbase == MAP_FAILED || mprotect(gbase + gsize, (size_t)pg, PROT_NONE) == -1) {
		printf("Bail out! unable to map the guard page\n");
		exit(1);
	}
}

static const char *
guarded(const char *s, size_t n)
{
	char *p = gbase + gsize - n;

	memcpy(p, s, n);
	return p;
}

static int
parse(struct json *j, const char *s, size_t n)
{
	return json_parse(j, guarded(s, n), n, toks, NTOK);
}

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * The WHATWG UTF-8 decoder, written independently of lib/json.c's table: the reference
 * for where the writer must put U+FFFD. It returns the length of the UTF-8 it wrote.
 */
static size_t
ref_sanitize(const unsigned char *p, size_t n, char *out)
{
	unsigned long cp = 0;
	unsigned lower = 0x80, upper = 0xbf, needed = 0, seen = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned b = p[i];

		if (needed == 0) {
			if (b <= 0x7f)
				out[o++] = (char)b;
			else if (b >= 0xc2 && b <= 0xdf) {
				needed = 1;
				cp = b & 0x1f;
			} else if (b >= 0xe0 && b <= 0xef) {
				if (b == 0xe0)
					lower = 0xa0;
				if (b == 0xed)
					upper = 0x9f;
				needed = 2;
				cp = b & 0xf;
			} else if (b >= 0xf0 && b <= 0xf4) {
				if (b == 0xf0)
					lower = 0x90;
				if (b == 0xf4)
					upper = 0x8f;
				needed = 3;
				cp = b & 0x7;
			} else {
				memcpy(out + o, R, 3);
				o += 3;
			}
			continue;
		}
		if (b < lower || b > upper) {
			cp = needed = seen = 0;
			lower = 0x80;
			upper = 0xbf;
			memcpy(out + o, R, 3);
			o += 3;
			i--;
			continue;
		}
		lower = 0x80;
		upper = 0xbf;
		cp = cp << 6 | (b & 0x3f);
		if (++seen == needed) {
			if (cp < 0x800) {
				out[o++] = (char)(0xc0 | cp >> 6);
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				out[o++] = (char)(0xe0 | cp >> 12);
				out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (char)(0xf0 | cp >> 18);
				out[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
				out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			}
			cp = needed = seen = 0;
		}
	}
	if (needed) {
		memcpy(out + o, R, 3);
		o += 3;
	}
	return o;
}

/* Whether the bytes are UTF-8, by decoding code points and checking their ranges. */
static int
ref_utf8(const unsigned char *p, size_t n)
{
	unsigned long cp, min;
	size_t i = 0, k, more;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		} else if ((p[i] & 0xe0) == 0xc0) {
			more = 1, cp = p[i] & 0x1f, min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			more = 2, cp = p[i] & 0x0f, min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			more = 3, cp = p[i] & 0x07, min = 0x10000;
		} else
			return 0;
		if (n - i <= more)
			return 0;
		for (k = 1; k <= more; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

/* The bytes as printable ASCII for a test's name; the buffer is reused. */
static const char *
show(const char *s, size_t n)
{
	static char out[4][256];
	static int which;
	char *o = out[which++ % 4];
	size_t i, k = 0;

	for (i = 0; i < n && k + 5 < sizeof(out[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			o[k++] = (char)c;
		else
			k += (size_t)snprintf(o + k, 5, "\\x%02x", c);
	}
	o[k] = '\0';
	return o;
}

/* Unescape a string token into fresh memory, whatever it holds; NULL if it fails. */
static char *
str_alloc(const struct json *j, int t, size_t *n)
{
	char *p;

	if (json_str(j, t, NULL, 0, n) == 0 || errno != ENOBUFS)
		return NULL;
	if ((p = malloc(*n + 1)) == NULL)
		return NULL;
	if (json_str(j, t, p, *n + 1, n) == -1) {
		free(p);
		return NULL;
	}
	return p;
}

/*
 * Write token t and its subtree back out through the writer, taking numbers as written
 * and strings by value; returns the token after the subtree, or -1.
 */
static int
reserialize(const struct json *j, int t, struct jw *w)
{
	const char *raw;
	char *s;
	size_t n;
	int i, k, size;

	switch (json_type(j, t)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		size = json_size(j, t);
		if (json_type(j, t) == JSON_OBJECT)
			jw_obj_open(w);
		else
			jw_arr_open(w);
		for (i = 0, k = t + 1; i < size && k != -1; i++) {
			if (json_type(j, t) == JSON_OBJECT) {
				if ((s = str_alloc(j, k, &n)) == NULL || strlen(s) != n) {
					free(s);
					return -1;
				}
				jw_key(w, s);
				free(s);
				k++;
			}
			k = reserialize(j, k, w);
		}
		if (json_type(j, t) == JSON_OBJECT)
			jw_obj_close(w);
		else
			jw_arr_close(w);
		return k;
	case JSON_STRING:
		if ((s = str_alloc(j, t, &n)) == NULL)
			return -1;
		jw_strn(w, s, n);
		free(s);
		return t + 1;
	case -1:
		return -1;
	default:
		raw = json_raw(j, t, &n);
		jw_raw(w, raw, n);
		return t + 1;
	}
}

/* Every token lies inside the text and the tree covers all of them exactly. */
static int
tree_ok(const struct json *j)
{
	int t;

	if (j->ntok < 1 || json_next(j, 0) != j->ntok)
		return 0;
	for (t = 0; t < j->ntok; t++) {
		if (json_type(j, t) == -1 || j->tok[t].start < 0 ||
		    j->tok[t].end < j->tok[t].start || (size_t)j->tok[t].end > j->len)
			return 0;
		if (json_next(j, t) <= t || json_next(j, t) > j->ntok)
			return 0;
	}
	return 1;
}

static const char hook[] =
    "{\n"
    "  \"action\": \"opened\",\n"
    "  \"number\": 42,\n"
    "  \"pull_request\": {\n"
    "    \"id\": 1234567890123,\n"
    "    \"title\": \"Fix \\\"quoted\\\" caf\\u00e9 \\ud83d\\ude80\",\n"
    "    \"draft\": false,\n"
    "    \"merged\": true,\n"
    "    \"merged_at\": null,\n"
    "    \"head\": {\"ref\": \"feature/x\", \"sha\": \"0123abcd\"},\n"
    "    \"base\": {\"ref\": \"main\"},\n"
    "    \"labels\": [{\"name\": \"bug\"}, {\"name\": \"ci\"}, {\"name\": \"\xc3\xbcn\xc3\xaf" "code\"}],\n"
    "    \"requested_reviewers\": [],\n"
    "    \"additions\": -7,\n"
    "    \"ratio\": 0.5e-3\n"
    "  },\n"
    "  \"repository\": {\"full_name\": \"acme/web\", \"private\": false, \"topics\": [\"c\", \"musl\"]},\n"
    "  \"sender\": {\"login\": \"octo\\/cat\"}\n"
    "}";
#define HOOK_TOKS	58

static void
test_webhook(void)
{
	static const char *keys[] = { "action", "number", "pull_request", "repository", "sender" };
	struct json j;
	const char *raw;
	char out[64], *dup;
	size_t n;
	long long v;
	int r, t, k, i, b;

	r = parse(&j, hook, sizeof(hook) - 1);
	is_int(r, JSON_OK, "webhook: parses");
	is_int(j.ntok, HOOK_TOKS, "webhook: %d tokens", HOOK_TOKS);
	ok(tree_ok(&j), "webhook: the tree covers every token");
	is_int(json_type(&j, 0), JSON_OBJECT, "webhook: the root is an object");
	is_int(json_size(&j, 0), 5, "webhook: the root has 5 members");

	for (i = 0, k = 1; i < 5 && k < j.ntok; i++, k = json_next(&j, k + 1))
		if (!json_streq(&j, k, keys[i]))
			break;
	ok(i == 5 && k == j.ntok, "webhook: iterating the root's keys gives them in order");

	t = json_path(&j, 0, "pull_request.head.ref");
	ok(json_streq(&j, t, "feature/x"), "path: pull_request.head.ref is feature/x");
	r = json_str(&j, t, out, sizeof(out), &n);
	ok(r == 0 && n == 9 && strcmp(out, "feature/x") == 0, "str: pull_request.head.ref");
	ok(!json_streq(&j, t, "feature/"), "streq: a prefix is not equal");
	ok(!json_streq(&j, t, "feature/xy"), "streq: a longer literal is not equal");
	ok(!json_streq(&j, t, ""), "streq: the empty literal is not equal");
	ok(json_streq(&j, json_get(&j, 0, "action"), "opened"), "get: action is opened");
	ok(!json_streq(&j, json_get(&j, 0, "number"), "42"), "streq: a number is not a string");

	v = 0;
	r = json_int(&j, json_get(&j, 0, "number"), &v);
	ok(r == 0 && v == 42, "int: number is 42");
	r = json_int(&j, json_path(&j, 0, "pull_request.id"), &v);
	ok(r == 0 && v == 1234567890123LL, "int: pull_request.id is 1234567890123");
	r = json_int(&j, json_path(&j, 0, "pull_request.additions"), &v);
	ok(r == 0 && v == -7, "int: pull_request.additions is -7");
	t = json_path(&j, 0, "pull_request.ratio");
	is_int(json_type(&j, t), JSON_NUMBER, "type: 0.5e-3 is a number");
	errno = 0;
	ok(json_int(&j, t, &v) == -1 && errno == EINVAL, "int: 0.5e-3 is not an integer (EINVAL)");

	b = -1;
	ok(json_bool(&j, json_path(&j, 0, "pull_request.draft"), &b) == 0 && b == 0,
	    "bool: draft is false");
	ok(json_bool(&j, json_path(&j, 0, "pull_request.merged"), &b) == 0 && b == 1,
	    "bool: merged is true");
	errno = 0;
	ok(json_bool(&j, json_get(&j, 0, "number"), &b) == -1 && errno == EINVAL,
	    "bool: a number is not a boolean (EINVAL)");
	is_int(json_type(&j, json_path(&j, 0, "pull_request.merged")), JSON_BOOL,
	    "type: true is a boolean");
	t = json_path(&j, 0, "pull_request.merged_at");
	ok(json_is_null(&j, t) == 1 && json_type(&j, t) == JSON_NULL, "null: merged_at is null");
	is_int(json_is_null(&j, json_path(&j, 0, "pull_request.draft")), 0,
	    "null: draft is not null");

	t = json_path(&j, 0, "pull_request.labels");
	is_int(json_type(&j, t), JSON_ARRAY, "type: labels is an array");
	is_int(json_size(&j, t), 3, "size: labels has 3 elements");
	ok(json_streq(&j, json_get(&j, json_at(&j, t, 0), "name"), "bug"), "at: labels[0].name");
	ok(json_streq(&j, json_path(&j, 0, "pull_request.labels.1.name"), "ci"),
	    "path: an array index in the path");
	r = json_str(&j, json_path(&j, 0, "pull_request.labels.2.name"), out, sizeof(out), &n);
	ok(r == 0 && strcmp(out, "\xc3\xbcn\xc3\xaf" "code") == 0, "str: raw UTF-8 is copied");
	is_int(json_at(&j, t, 3), -1, "at: past the end is -1");
	is_int(json_path(&j, 0, "pull_request.labels.3"), -1, "path: index past the end is -1");
	is_int(json_path(&j, 0, "pull_request.labels.x"), -1, "path: a name on an array is -1");
	is_int(json_path(&j, 0, "pull_request.labels.-1"), -1, "path: a negative index is -1");
	is_int(json_path(&j, 0, "pull_request.labels.4294967296.name"), -1,
	    "path: an index that wraps to 0 in 32 bits is -1");

	t = json_path(&j, 0, "pull_request.requested_reviewers");
	ok(json_size(&j, t) == 0 && json_next(&j, t) == t + 1, "an empty array has no subtree");
	is_int(json_at(&j, t, 0), -1, "at: an empty array has no element 0");

	t = json_path(&j, 0, "pull_request.title");
	r = json_str(&j, t, out, sizeof(out), &n);
	is_mem(out, r == 0 ? n : 0, "Fix \"quoted\" caf\xc3\xa9 \xf0\x9f\x9a\x80", 23,
	    "str: escapes and a surrogate pair are decoded");
	dup = json_strdup(&j, t);
	is_str(dup, "Fix \"quoted\" caf\xc3\xa9 \xf0\x9f\x9a\x80", "strdup: the title");
	free(dup);
	ok(json_streq(&j, json_path(&j, 0, "sender.login"), "octo/cat"), "streq: \\/ is /");
	ok(json_streq(&j, json_path(&j, 0, "repository.topics.1"), "musl"), "path: topics.1");

	is_int(json_get(&j, 0, "missing"), -1, "get: a missing key is -1");
	is_int(json_get(&j, 0, "Action"), -1, "get: keys are case-sensitive");
	is_int(json_get(&j, 0, "actio"), -1, "get: a key prefix does not match");
	is_int(json_get(&j, json_path(&j, 0, "pull_request.labels"), "name"), -1,
	    "get: on an array is -1");
	is_int(json_get(&j, json_get(&j, 0, "action"), "x"), -1, "get: on a string is -1");
	is_int(json_get(&j, -1, "action"), -1, "get: on token -1 is -1");
	is_int(json_get(&j, j.ntok, "action"), -1, "get: past the last token is -1");
	is_int(json_next(&j, 0), j.ntok, "next: the root's subtree is everything");
	is_int(json_next(&j, -1), -1, "next: token -1");
	is_int(json_next(&j, j.ntok), -1, "next: past the last token");
	is_int(json_type(&j, j.ntok), -1, "type: past the last token");
	is_int(json_size(&j, json_get(&j, 0, "number")), -1, "size: of a number is -1");
	is_int(json_path(&j, 0, ""), 0, "path: the empty path is the token itself");
	is_int(json_path(&j, 0, "pull_request."), -1, "path: a trailing dot is -1");
	is_int(json_path(&j, 0, ".pull_request"), -1, "path: a leading dot is -1");
	is_int(json_path(&j, 0, "pull_request..head"), -1, "path: an empty component is -1");
	is_int(json_path(&j, 0, "number.x"), -1, "path: through a number is -1");
	is_int(json_path(&j, j.ntok, ""), -1, "path: from a bad token is -1");
	t = json_path(&j, 0, "pull_request.head.sha");
	ok(t != -1 && json_path(&j, json_get(&j, 0, "pull_request"), "head.sha") == t,
	    "path: from an inner token");

	raw = json_raw(&j, json_path(&j, 0, "pull_request.head"), &n);
	is_mem(raw, n, "{\"ref\": \"feature/x\", \"sha\": \"0123abcd\"}",
	    strlen("{\"ref\": \"feature/x\", \"sha\": \"0123abcd\"}"), "raw: an object");
	raw = json_raw(&j, json_get(&j, 0, "action"), &n);
	is_mem(raw, n, "\"opened\"", 8, "raw: a string keeps its quotes");
	raw = json_raw(&j, json_get(&j, 0, "number"), &n);
	is_mem(raw, n, "42", 2, "raw: a number");
	ok(json_raw(&j, -1, &n) == NULL, "raw: a bad token is NULL");
}

static void
test_escapes(void)
{
	static const char keydoc[] =
	    "{\"a\\u0062c\":1,\"q\\\"k\":2,\"sl\\/\":3,\"t\\tab\":4,\"\\u00e9\":5,"
	    "\"\\ud83d\\ude00\":6,\"abc\":7,\"a\\u0000b\":8}";
	static const char valdoc[] =
	    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20ac\\uFFFF\","
	    " \"\\ud83d\\ude00\\uD83D\\uDE00\", \"\\u0000x\","
	    " \"\\u007f\\u0080\\u07ff\\u0800\\ud7ff\\ue000\\udbff\\udfff\"]";
	struct json j;
	char out[64], *dup;
	size_t n;
	long long v;
	int r, t;

	r = parse(&j, keydoc, sizeof(keydoc) - 1);
	is_int(r, JSON_OK, "keys: a document with escaped keys parses");
	ok(json_int(&j, json_get(&j, 0, "abc"), &v) == 0 && v == 1,
	    "keys: \"a\\u0062c\" matches abc, and the first of two equal keys wins");
	ok(json_int(&j, json_get(&j, 0, "q\"k"), &v) == 0 && v == 2, "keys: \\\" in a key");
	ok(json_int(&j, json_get(&j, 0, "sl/"), &v) == 0 && v == 3, "keys: \\/ in a key");
	ok(json_int(&j, json_get(&j, 0, "t\tab"), &v) == 0 && v == 4, "keys: \\t in a key");
	ok(json_int(&j, json_get(&j, 0, "\xc3\xa9"), &v) == 0 && v == 5, "keys: \\u00e9 in a key");
	ok(json_int(&j, json_get(&j, 0, "\xf0\x9f\x98\x80"), &v) == 0 && v == 6,
	    "keys: a surrogate pair in a key");
	ok(json_int(&j, json_path(&j, 0, "t\tab"), &v) == 0 && v == 4, "path: escaped key");
	is_int(json_get(&j, 0, "a\\u0062c"), -1, "keys: the escaped spelling does not match");
	is_int(json_get(&j, 0, "ab"), -1, "keys: a shorter key does not match");
	is_int(json_get(&j, 0, "abcd"), -1, "keys: a longer key does not match");
	is_int(json_get(&j, 0, "a"), -1, "keys: a key holding U+0000 is not cut at it");
	is_int(json_get(&j, 0, ""), -1, "keys: the empty key is absent");

	r = parse(&j, valdoc, sizeof(valdoc) - 1);
	is_int(r, JSON_OK, "values: a document with escaped values parses");
	r = json_str(&j, json_at(&j, 0, 0), out, sizeof(out), &n);
	is_mem(out, r == 0 ? n : 0, "\"\\/\b\f\n\r\t", 8, "values: the short escapes");
	r = json_str(&j, json_at(&j, 0, 1), out, sizeof(out), &n);
	is_mem(out, r == 0 ? n : 0, "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf", 9,
	    "values: \\u escapes of 1, 2 and 3 bytes");
	r = json_str(&j, json_at(&j, 0, 2), out, sizeof(out), &n);
	is_mem(out, r == 0 ? n : 0, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8,
	    "values: surrogate pairs in lower and upper case hex");
	ok(json_streq(&j, json_at(&j, 0, 2), "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"),
	    "streq: compares the decoded pair");
	r = json_str(&j, json_at(&j, 0, 4), out, sizeof(out), &n);
	is_mem(out, r == 0 ? n : 0,
	    "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf", 18,
	    "values: code points at every UTF-8 length boundary");

	t = json_at(&j, 0, 3);
	r = json_str(&j, t, out, sizeof(out), &n);
	ok(r == 0 && n == 2 && memcmp(out, "\0x", 3) == 0,
	    "str: U+0000 is handed out when the length is asked for");
	errno = 0;
	r = json_str(&j, t, out, sizeof(out), NULL);
	ok(r == -1 && errno == EINVAL && out[0] == '\0',
	    "str: U+0000 is refused when the caller takes a C string");
	errno = 0;
	dup = json_strdup(&j, t);
	ok(dup == NULL && errno == EINVAL, "strdup: U+0000 is refused");
	free(dup);
	ok(!json_streq(&j, t, "") && !json_streq(&j, t, "x"), "streq: U+0000 is not the end");
}

static void
test_str_caps(void)
{
	struct json j;
	char out[8];
	size_t n;
	int r;

	is_int(parse(&j, "[\"hello\",1]", 11), JSON_OK, "caps: parses");
	memset(out, 'z', sizeof(out));
	r = json_str(&j, 1, out, 6, &n);
	ok(r == 0 && n == 5 && strcmp(out, "hello") == 0, "str: an exact fit with its NUL");
	memset(out, 'z', sizeof(out));
	n = 0;
	errno = 0;
	r = json_str(&j, 1, out, 5, &n);
	ok(r == -1 && errno == ENOBUFS && n == 5 && out[0] == '\0' && out[5] == 'z',
	    "str: one byte short is ENOBUFS, gives the length and writes nothing past cap");
	n = 0;
	errno = 0;
	r = json_str(&j, 1, NULL, 0, &n);
	ok(r == -1 && errno == ENOBUFS && n == 5, "str: cap 0 measures");
	errno = 0;
	r = json_str(&j, 2, out, sizeof(out), &n);
	ok(r == -1 && errno == EINVAL && out[0] == '\0', "str: a number is EINVAL");
	errno = 0;
	ok(json_str(&j, 0, out, sizeof(out), &n) == -1 && errno == EINVAL, "str: an array is EINVAL");
	errno = 0;
	ok(json_strdup(&j, 2) == NULL && errno == EINVAL, "strdup: a number is EINVAL");
	ok(json_str(&j, 3, out, sizeof(out), &n) == -1, "str: past the last token");
}

static const struct tcase invalid[] = {
	/* Cut short. */
	C("", JSON_EPART),
	C(" \n\t\r", JSON_EPART),
	C("{", JSON_EPART),
	C("[", JSON_EPART),
	C("[1", JSON_EPART),
	C("[1,", JSON_EPART),
	C("{\"a\"", JSON_EPART),
	C("{\"a\":", JSON_EPART),
	C("{\"a\":1", JSON_EPART),
	C("\"abc", JSON_EPART),
	C("[\"abc]", JSON_EPART),
	C("\"a\\", JSON_EPART),
	C("\"\\u12", JSON_EPART),
	C("\"\xe2\x82", JSON_EPART),
	C("tru", JSON_EPART),
	C("-", JSON_EPART),
	C("1.", JSON_EPART),
	C("1e", JSON_EPART),
	C("1e+", JSON_EPART),
	/* Not JSON after a complete value. */
	C("{} x", JSON_EINVAL),
	C("{}}", JSON_EINVAL),
	C("[1]]", JSON_EINVAL),
	C("{\"a\":1}}", JSON_EINVAL),
	C("[1] [2]", JSON_EINVAL),
	C("{}{}", JSON_EINVAL),
	C("1 2", JSON_EINVAL),
	C("\"a\" \"b\"", JSON_EINVAL),
	C("[1]//", JSON_EINVAL),
	C("/**/[1]", JSON_EINVAL),
	/* Bare words and numbers JSON does not have. */
	C("foo", JSON_EINVAL),
	C("True", JSON_EINVAL),
	C("nulL", JSON_EINVAL),
	C("[nul]", JSON_EINVAL),
	C("truex", JSON_EINVAL),
	C("[truex]", JSON_EINVAL),
	C("undefined", JSON_EINVAL),
	C("NaN", JSON_EINVAL),
	C("Infinity", JSON_EINVAL),
	C("-Infinity", JSON_EINVAL),
	C("01", JSON_EINVAL),
	C("[01]", JSON_EINVAL),
	C("00", JSON_EINVAL),
	C("-01", JSON_EINVAL),
	C("[1.]", JSON_EINVAL),
	C("1.e5", JSON_EINVAL),
	C(".5", JSON_EINVAL),
	C("[.5]", JSON_EINVAL),
	C("+1", JSON_EINVAL),
	C("[+1]", JSON_EINVAL),
	C("[-]", JSON_EINVAL),
	C("-a", JSON_EINVAL),
	C("[1e]", JSON_EINVAL),
	C("[1e+]", JSON_EINVAL),
	C("1e+-1", JSON_EINVAL),
	C("0x10", JSON_EINVAL),
	C("[1-2]", JSON_EINVAL),
	C("'a'", JSON_EINVAL),
	C("[\"a\",'b']", JSON_EINVAL),
	/* Strings. */
	C("\"a\tb\"", JSON_EINVAL),
	C("\"a\nb\"", JSON_EINVAL),
	C("\"\x01\"", JSON_EINVAL),
	C("\"\x1f\"", JSON_EINVAL),
	C("\"\xc0\x80\"", JSON_EINVAL),
	C("\"\xc1\xbf\"", JSON_EINVAL),
	C("\"\xe0\x80\x80\"", JSON_EINVAL),
	C("\"\xed\xa0\x80\"", JSON_EINVAL),
	C("\"\xed\xbf\xbf\"", JSON_EINVAL),
	C("\"\xf0\x8f\xbf\xbf\"", JSON_EINVAL),
	C("\"\xf4\x90\x80\x80\"", JSON_EINVAL),
	C("\"\xf5\x80\x80\x80\"", JSON_EINVAL),
	C("\"\xff\"", JSON_EINVAL),
	C("\"\x80\"", JSON_EINVAL),
	C("\"\xe2\x82\"", JSON_EINVAL),
	C("\"\xc3\"", JSON_EINVAL),
	C("{\"k\xff\":1}", JSON_EINVAL),
	C("\"\\x\"", JSON_EINVAL),
	C("\"\\U0041\"", JSON_EINVAL),
	C("\"\\u12g4\"", JSON_EINVAL),
	C("\"\\u 123\"", JSON_EINVAL),
	C("\"\\'\"", JSON_EINVAL),
	C("\"\\0\"", JSON_EINVAL),
	/* Structure that jsmn lets through. */
	C("[1 2]", JSON_EINVAL),
	C("[1,]", JSON_EINVAL),
	C("[,1]", JSON_EINVAL),
	C("[,]", JSON_EINVAL),
	C("[1,,2]", JSON_EINVAL),
	C("{,}", JSON_EINVAL),
	C("{\"a\" 1}", JSON_EINVAL),
	C("{\"a\" \"b\"}", JSON_EINVAL),
	C("{\"a\":1,}", JSON_EINVAL),
	C("{\"a\"}", JSON_EINVAL),
	C("{\"a\":}", JSON_EINVAL),
	C("{\"a\"::1}", JSON_EINVAL),
	C("{\"a\":1 \"b\":2}", JSON_EINVAL),
	C("{\"a\":1:2}", JSON_EINVAL),
	C("{1:2}", JSON_EINVAL),
	C("{true:1}", JSON_EINVAL),
	C("{a:1}", JSON_EINVAL),
	C("{[]:1}", JSON_EINVAL),
	C("[\"a\":1]", JSON_EINVAL),
	C("[1:2]", JSON_EINVAL),
	C("[}", JSON_EINVAL),
	C("{]", JSON_EINVAL),
	C("[1}", JSON_EINVAL),
	C("]", JSON_EINVAL),
	C("}", JSON_EINVAL),
	C(":", JSON_EINVAL),
	C(",", JSON_EINVAL),
	C(",[]", JSON_EINVAL),
	/* NUL bytes and blanks JSON does not count as blanks. */
	C("[1,\0 2]", JSON_EINVAL),
	C("{}\0", JSON_EINVAL),
	C("\0", JSON_EINVAL),
	C("\"a\0b\"", JSON_EINVAL),
	C("\v[]", JSON_EINVAL),
	C("\f[]", JSON_EINVAL),
	C("\xc2\xa0[]", JSON_EINVAL),
	C("\xef\xbb\xbf[]", JSON_EINVAL),
	/* Lone surrogates. */
	C("\"\\ud800\"", JSON_EINVAL),
	C("\"\\udc00\"", JSON_EINVAL),
	C("\"\\udfff\"", JSON_EINVAL),
	C("\"\\ud800x\"", JSON_EINVAL),
	C("\"\\ud800\\u0041\"", JSON_EINVAL),
	C("\"\\ud800\\ud800\"", JSON_EINVAL),
	C("\"\\udc00\\ud800\"", JSON_EINVAL),
	C("\"\\ud800\\n\"", JSON_EINVAL),
	C("[\"\\udbff\"]", JSON_EINVAL),
	C("{\"\\ud800\":1}", JSON_EINVAL),
	C("\"\\ud800", JSON_EPART),
	C("\"\\ud800\\", JSON_EPART),
	C("\"\\ud800\\u", JSON_EPART),
	C("\"\\ud800\\udc", JSON_EPART),
};

/* Valid documents and the tokens each needs. */
static const struct tcase valid[] = {
	C("0", 1),
	C("-0", 1),
	C(" 42 ", 1),
	C("-1.5e+10", 1),
	C("1E5", 1),
	C("1e-5", 1),
	C("0.0", 1),
	C("123456789012345678901234567890", 1),
	C("\"x\"", 1),
	C("\"\"", 1),
	C("true", 1),
	C("false", 1),
	C("null", 1),
	C("[]", 1),
	C("{}", 1),
	C("[0]", 2),
	C(" [ 1 , { \"a\" : [ ] } ] ", 5),
	C("\t\r\n[\t\r\n]\t\r\n", 1),
	C("\"\\u0000\"", 1),
	C("\"\x7f\"", 1),
	C("[[[]]]", 3),
	C("{\"\":\"\"}", 3),
	C("[\"a\",{\"b\":null},[true,false],-0.0]", 9),
	C("\"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xef\xbf\xbd\"", 1),
	C("{\"a\":{\"b\":{\"c\":[1,{\"d\":2}]}}}", 11),
};

static void
test_tables(void)
{
	struct json j;
	size_t i;
	int r;

	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		r = parse(&j, invalid[i].s, invalid[i].n);
		if (!ok(r == invalid[i].want && j.ntok == 0, "invalid %zu: %s: %s", i,
		    json_strerror(invalid[i].want), show(invalid[i].s, invalid[i].n)))
			printf("#   got %d (%s)\n", r, json_strerror(r));
	}
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		r = parse(&j, valid[i].s, valid[i].n);
		ok(r == JSON_OK && j.ntok == valid[i].want && tree_ok(&j) &&
		    j.ntok <= JSON_TOKS_MAX((int)valid[i].n),
		    "valid %zu: %d tokens: %s", i, valid[i].want, show(valid[i].s, valid[i].n));
	}
}

/*
 * json_parse_top agrees with json_parse: the same verdict on every table entry, and for
 * an object root the same members, keys and raw values, with nested containers as single
 * tokens that json_get cannot enter.
 */
static int
top_agrees(const char *s, size_t n)
{
	static jsmntok_t ttoks[NTOK];
	struct json f, t;
	const char *a, *b;
	size_t al, bl;
	int rf, rt, kf, kt, i;

	rf = json_parse(&f, guarded(s, n), n, toks, NTOK);
	rt = json_parse_top(&t, guarded(s, n), n, ttoks, NTOK);
	if (rf != rt)
		return 0;
	if (rf != JSON_OK)
		return t.ntok == 0;
	if (json_type(&f, 0) != json_type(&t, 0) || json_size(&f, 0) != json_size(&t, 0))
		return 0;
	if (json_type(&f, 0) != JSON_OBJECT)
		return t.ntok == f.ntok;
	if (json_next(&t, 0) != t.ntok)
		return 0;
	for (i = 0, kf = 1, kt = 1; i < json_size(&f, 0); i++) {
		a = json_raw(&f, kf, &al);
		b = json_raw(&t, kt, &bl);
		if (al != bl || memcmp(a, b, al) != 0)
			return 0;
		a = json_raw(&f, kf + 1, &al);
		b = json_raw(&t, kt + 1, &bl);
		if (a == NULL || b == NULL || al != bl || memcmp(a, b, al) != 0 ||
		    json_type(&f, kf + 1) != json_type(&t, kt + 1))
			return 0;
		if (json_type(&t, kt + 1) == JSON_OBJECT && (json_size(&t, kt + 1) != 0 ||
		    json_path(&t, kt + 1, "a") != -1))
			return 0;
		kf = json_next(&f, kf + 1);
		kt = json_next(&t, kt + 1);
	}
	return kt == t.ntok;
}

static void
test_top(void)
{
	jsmntok_t few[3];
	struct json j;
	size_t i;

	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		ok(top_agrees(invalid[i].s, invalid[i].n), "top: invalid %zu: %s", i,
		    show(invalid[i].s, invalid[i].n));
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		ok(top_agrees(valid[i].s, valid[i].n), "top: valid %zu: %s", i,
		    show(valid[i].s, valid[i].n));
	ok(top_agrees(hook, sizeof(hook) - 1), "top: the webhook payload");
	is_int(json_parse_top(&j, "{\"a\":1,\"b\":[1,2,3]}", 19, few, 3), JSON_ENOMEM,
	    "top: 8 tokens do not fit in 3");
	ok(j.ntok == 0, "top: and none are left behind");
	/* The cap counts every token json_parse would make, nested ones too. */
	is_int(json_parse_top(&j, "{\"a\":[]}", 8, few, 3), JSON_OK,
	    "top: {\"a\":[]} fits in 3 tokens, exactly");
	is_int(json_parse_top(&j, "{\"a\":[1]}", 9, few, 3), JSON_ENOMEM,
	    "top: {\"a\":[1]}, one token more, does not");
	is_int(json_parse(&j, "{\"a\":[1]}", 9, few, 3), JSON_ENOMEM,
	    "top: as json_parse says");
}

static void
test_scalars(void)
{
	static const struct {
		const char	*s;
		int		 err;
		long long	 v;
	} ints[] = {
		{ "0", 0, 0 },
		{ "-0", 0, 0 },
		{ "7", 0, 7 },
		{ "-7", 0, -7 },
		{ "9223372036854775807", 0, LLONG_MAX },
		{ "-9223372036854775808", 0, LLONG_MIN },
		{ "9223372036854775808", ERANGE, 0 },
		{ "-9223372036854775809", ERANGE, 0 },
		{ "18446744073709551616", ERANGE, 0 },
		{ "99999999999999999999999", ERANGE, 0 },
		{ "1.5", EINVAL, 0 },
		{ "123456789012345678901.5", EINVAL, 0 },
		{ "1.0", EINVAL, 0 },
		{ "1e3", EINVAL, 0 },
		{ "-1E3", EINVAL, 0 },
		{ "\"12\"", EINVAL, 0 },
		{ "true", EINVAL, 0 },
		{ "null", EINVAL, 0 },
		{ "[1]", EINVAL, 0 },
	};
	struct json j;
	long long v;
	size_t i, n;
	const char *raw;
	int r, b;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (parse(&j, ints[i].s, strlen(ints[i].s)) != JSON_OK) {
			ok(0, "int %s: parses", ints[i].s);
			continue;
		}
		v = 12345;
		errno = 0;
		r = json_int(&j, 0, &v);
		if (ints[i].err == 0)
			ok(r == 0 && v == ints[i].v, "int: %s", ints[i].s);
		else
			ok(r == -1 && errno == ints[i].err && v == 12345,
			    "int: %s is %s and leaves the output alone", ints[i].s,
			    ints[i].err == ERANGE ? "ERANGE" : "EINVAL");
	}

	parse(&j, " true\n", 6);
	ok(json_bool(&j, 0, &b) == 0 && b == 1, "bool: a top-level true");
	raw = json_raw(&j, 0, &n);
	is_mem(raw, n, "true", 4, "raw: a top-level scalar has no blanks");
	parse(&j, "false", 5);
	ok(json_bool(&j, 0, &b) == 0 && b == 0, "bool: a top-level false");
	parse(&j, "\"true\"", 6);
	errno = 0;
	ok(json_bool(&j, 0, &b) == -1 && errno == EINVAL, "bool: a string is EINVAL");
	is_int(json_is_null(&j, 0), 0, "null: the string \"true\" is not null");
	parse(&j, "null", 4);
	errno = 0;
	ok(json_bool(&j, 0, &b) == -1 && errno == EINVAL, "bool: null is EINVAL");
	ok(json_is_null(&j, 0) == 1 && json_is_null(&j, 1) == 0, "null: top-level null");
	parse(&j, "\"null\"", 6);
	ok(json_is_null(&j, 0) == 0 && json_streq(&j, 0, "null"), "null: the string is not null");
	parse(&j, "0", 1);
	is_int(json_is_null(&j, 0), 0, "null: 0 is not null");
	is_int(json_type(&j, 0), JSON_NUMBER, "type: 0 is a number");
}

static void
test_truncation(void)
{
	struct json j;
	size_t n = sizeof(hook) - 1, k, bad_at = 0;
	int r, fails = 0;

	for (k = 0; k < n; k++) {
		r = json_parse(&j, guarded(hook, k), k, toks, NTOK);
		if (r != JSON_EPART || j.ntok != 0) {
			if (fails++ == 0)
				bad_at = k;
		}
	}
	if (!ok(fails == 0, "truncated: each of the %zu prefixes is JSON_EPART", n))
		printf("#   %d failed, first at %zu bytes\n", fails, bad_at);

	/* Garbage in each position must fail or give a sound tree, and never read past. */
	{
		static const char junk[] = "\"\\{}[],:0-e.tx\x80\xff \x01";
		char doc[sizeof(hook)];
		size_t c;
		int unsound = 0, accepted = 0;

		for (k = 0; k < n; k++) {
			for (c = 0; c < sizeof(junk) - 1; c++) {
				memcpy(doc, hook, n);
				doc[k] = junk[c];
				r = json_parse(&j, guarded(doc, n), n, toks, NTOK);
				if (r == JSON_OK) {
					accepted++;
					if (!tree_ok(&j))
						unsound++;
				} else if (r != JSON_EINVAL && r != JSON_EPART)
					unsound++;
			}
		}
		ok(unsound == 0, "mutated: %zu one-byte changes fail cleanly or parse soundly"
		    " (%d parsed)", n * (sizeof(junk) - 1), accepted);
	}
}

static void
test_tokens(void)
{
	struct json j;
	jsmntok_t few[HOOK_TOKS];
	char *doc;
	size_t n, k, i;
	int r;

	r = json_parse(&j, guarded(hook, sizeof(hook) - 1), sizeof(hook) - 1, few, HOOK_TOKS);
	ok(r == JSON_OK && j.ntok == HOOK_TOKS, "tokens: exactly enough");
	r = json_parse(&j, guarded(hook, sizeof(hook) - 1), sizeof(hook) - 1, few, HOOK_TOKS - 1);
	ok(r == JSON_ENOMEM && j.ntok == 0, "tokens: one too few is JSON_ENOMEM");
	ok(json_get(&j, 0, "action") == -1 && json_type(&j, 0) == -1,
	    "tokens: a failed parse leaves nothing to read");
	r = json_parse(&j, guarded(hook, sizeof(hook) - 1), sizeof(hook) - 1, few, 0);
	is_int(r, JSON_ENOMEM, "tokens: none at all is JSON_ENOMEM");
	r = json_parse(&j, guarded(hook, sizeof(hook) - 1), sizeof(hook) - 1, NULL, 100);
	is_int(r, JSON_ENOMEM, "tokens: a NULL array is JSON_ENOMEM, not jsmn's count");
	r = json_parse(&j, guarded("7", 1), 1, few, 0);
	is_int(r, JSON_ENOMEM, "tokens: a bare scalar needs one too");
	r = json_parse(&j, guarded("[1]", 3), (size_t)JSON_MAXLEN + 1, toks, NTOK);
	ok(r == JSON_ENOMEM && j.ntok == 0, "tokens: a text over JSON_MAXLEN is too large,"
	    " and is not read");
	r = json_parse(&j, guarded("[1 2]", 5), 5, few, 1);
	is_int(r, JSON_EINVAL, "tokens: malformed beats too large");

	/* "[1,1,...,1]" is the densest document: (n + 1) / 2 tokens for n bytes. */
	k = 600;
	n = 2 * k + 1;
	doc = malloc(n);
	doc[0] = '[';
	for (i = 0; i < k; i++) {
		doc[1 + 2 * i] = '1';
		doc[2 + 2 * i] = i + 1 < k ? ',' : ']';
	}
	r = json_parse(&j, guarded(doc, n), n, toks, JSON_TOKS_MAX((unsigned)n));
	ok(r == JSON_OK && (size_t)j.ntok == (n + 1) / 2 && j.ntok == JSON_TOKS_MAX((int)n),
	    "tokens: JSON_TOKS_MAX(%zu) = %zu fits the densest document", n, (n + 1) / 2);
	r = json_parse(&j, guarded(doc, n), n, toks, JSON_TOKS_MAX((unsigned)n) - 1);
	is_int(r, JSON_ENOMEM, "tokens: and one fewer does not");
	free(doc);
}

static void
test_depth(void)
{
	struct json j;
	char doc[2 * (JSON_MAXDEPTH + 1) + 1], big[100000];
	char obj[8 * (JSON_MAXDEPTH + 1) + 4];
	size_t n, o, i;
	int r;

	for (n = 0; n < JSON_MAXDEPTH; n++)
		doc[n] = '[';
	for (i = 0; i < JSON_MAXDEPTH; i++)
		doc[n + i] = ']';
	r = parse(&j, doc, 2 * JSON_MAXDEPTH);
	ok(r == JSON_OK && j.ntok == JSON_MAXDEPTH, "depth: %d arrays deep parses", JSON_MAXDEPTH);
	r = parse(&j, doc, JSON_MAXDEPTH);
	is_int(r, JSON_EPART, "depth: %d unclosed arrays are cut short", JSON_MAXDEPTH);
	memmove(doc + 1, doc, 2 * JSON_MAXDEPTH);
	doc[2 * JSON_MAXDEPTH + 1] = ']';
	r = parse(&j, doc, 2 * JSON_MAXDEPTH + 2);
	is_int(r, JSON_EDEPTH, "depth: %d arrays deep is JSON_EDEPTH", JSON_MAXDEPTH + 1);

	for (o = 0, i = 0; i < JSON_MAXDEPTH; i++)
		o += (size_t)sprintf(obj + o, "{\"a\":");
	obj[o++] = '1';
	for (i = 0; i < JSON_MAXDEPTH; i++)
		obj[o++] = '}';
	r = parse(&j, obj, o);
	ok(r == JSON_OK && j.ntok == 2 * JSON_MAXDEPTH + 1, "depth: %d objects deep parses",
	    JSON_MAXDEPTH);
	memmove(obj + 1, obj, o);
	obj[0] = '[';
	obj[++o] = ']';
	r = parse(&j, obj, o + 1);
	is_int(r, JSON_EDEPTH, "depth: one array more is JSON_EDEPTH");

	memset(big, '[', sizeof(big));
	r = parse(&j, big, sizeof(big));
	is_int(r, JSON_EDEPTH, "depth: 100000 brackets stop early");
}

static void
test_strerror(void)
{
	static const int codes[] = { JSON_OK, JSON_EINVAL, JSON_EPART, JSON_ENOMEM, JSON_EDEPTH };
	size_t a, b;
	int distinct = 1;

	for (a = 0; a < 5; a++)
		for (b = a + 1; b < 5; b++)
			if (strcmp(json_strerror(codes[a]), json_strerror(codes[b])) == 0)
				distinct = 0;
	ok(distinct, "strerror: each code has its own message");
	is_str(json_strerror(JSON_EPART), "truncated JSON", "strerror: JSON_EPART");
	is_str(json_strerror(-99), "unknown JSON error", "strerror: an unknown code");
}

/* Write n bytes as a string value into a fresh buf. */
static int
wstr(struct buf *b, const char *s, size_t n)
{
	struct jw w;

	buf_init(b, 1 << 16);
	jw_init(&w, b);
	jw_strn(&w, s, n);
	return jw_finish(&w);
}

static const struct wcase wcases[] = {
	W("\"", "\\\""),
	W("\\", "\\\\"),
	W("/", "/"),
	W("\x7f", "\x7f"),
	W("a b~", "a b~"),
	W("\xc3\xa9", "\xc3\xa9"),
	W("\xe2\x82\xac", "\xe2\x82\xac"),
	W("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"),
	W(R, R),
	W("\xc2\x80", "\xc2\x80"),
	W("\xdf\xbf", "\xdf\xbf"),
	W("\xe0\xa0\x80", "\xe0\xa0\x80"),
	W("\xed\x9f\xbf", "\xed\x9f\xbf"),
	W("\xee\x80\x80", "\xee\x80\x80"),
	W("\xef\xbf\xbf", "\xef\xbf\xbf"),
	W("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"),
	W("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
	/* Overlong forms. */
	W("\xc0\x80", R R),
	W("\xc1\xbf", R R),
	W("\xe0\x80\x80", R R R),
	W("\xe0\x9f\xbf", R R R),
	W("\xf0\x80\x80\x80", R R R R),
	W("\xf0\x8f\xbf\xbf", R R R R),
	/* Surrogates in UTF-8, alone and as a CESU-8 pair. */
	W("\xed\xa0\x80", R R R),
	W("\xed\xbf\xbf", R R R),
	W("\xed\xa0\xbd\xed\xb8\x80", R R R R R R),
	/* Above U+10FFFF, and lead bytes that never occur. */
	W("\xf4\x90\x80\x80", R R R R),
	W("\xf5\x80\x80\x80", R R R R),
	W("\xf7\xbf\xbf\xbf", R R R R),
	W("\xf8\x88\x80\x80\x80", R R R R R),
	W("\xfe", R),
	W("\xff", R),
	/* Stray continuation bytes. */
	W("\x80", R),
	W("\xbf", R),
	W("\x80\x80", R R),
	W("a\x80" "b", "a" R "b"),
	/* Truncated sequences: one U+FFFD for the whole good start. */
	W("\xc3", R),
	W("\xe2\x82", R),
	W("\xf0\x9f\x98", R),
	W("\xe2" "A", R "A"),
	W("\xe2\x82" "A", R "A"),
	W("\xf0\x9f\x98" "A", R "A"),
	W("\xc3\xc3\xa9", R "\xc3\xa9"),
	W("\xe2\x82\xe2\x82\xac", R "\xe2\x82\xac"),
	W("\xf0\x9f\x98\x80\x80", "\xf0\x9f\x98\x80" R),
	W("\xf0\x9f\x98\"", R "\\\""),
	W("\xc3\xa9\n\xff", "\xc3\xa9\\n" R),
};

static void
test_writer_escapes(void)
{
	static const char *names = "btn\0fr";
	struct buf b;
	struct json j;
	char want[16], in[1], got[16];
	size_t i, n, wl;
	int r, c;

	for (c = 0; c < 0x20; c++) {
		in[0] = (char)c;
		if (c >= '\b' && c <= '\r' && names[c - '\b'] != '\0')
			wl = (size_t)snprintf(want, sizeof(want), "\"\\%c\"", names[c - '\b']);
		else
			wl = (size_t)snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		r = wstr(&b, in, 1);
		is_mem(b.p, r == 0 ? b.len : 0, want, wl, "escape: control 0x%02x as %s", c, want);
		n = 0;
		r = json_parse(&j, b.p, b.len, toks, NTOK);
		ok(r == 0 && json_str(&j, 0, got, sizeof(got), &n) == 0 && n == 1 &&
		    got[0] == c, "escape: control 0x%02x reads back", c);
		buf_free(&b);
	}
	for (i = 0; i < sizeof(wcases) / sizeof(wcases[0]); i++) {
		char *ref = malloc(3 * wcases[i].inlen + 1), *dec;
		size_t rl;

		r = wstr(&b, wcases[i].in, wcases[i].inlen);
		ok(r == 0 && b.len == wcases[i].outlen + 2 && b.p[0] == '"' &&
		    memcmp(b.p + 1, wcases[i].out, wcases[i].outlen) == 0 &&
		    b.p[b.len - 1] == '"', "escape %zu: %s as \"%s\"", i,
		    show(wcases[i].in, wcases[i].inlen), show(wcases[i].out, wcases[i].outlen));
		rl = ref_sanitize((const unsigned char *)wcases[i].in, wcases[i].inlen, ref);
		r = json_parse(&j, b.p, b.len, toks, NTOK);
		dec = r == 0 ? str_alloc(&j, 0, &n) : NULL;
		ok(dec != NULL && n == rl && memcmp(dec, ref, rl) == 0,
		    "escape %zu: reads back as the WHATWG decoder's result", i);
		free(dec);
		free(ref);
		buf_free(&b);
	}
	r = wstr(&b, "a\0b", 3);
	is_mem(b.p, r == 0 ? b.len : 0, "\"a\\u0000b\"", 10, "escape: jw_strn writes U+0000");
	buf_free(&b);

	/* All 256 single bytes: ASCII reads back as itself, the rest as U+FFFD. */
	{
		int wrong = 0;

		for (c = 0; c < 256; c++) {
			in[0] = (char)c;
			r = wstr(&b, in, 1);
			if (r != 0 || json_parse(&j, b.p, b.len, toks, NTOK) != 0 ||
			    json_str(&j, 0, got, sizeof(got), &n) != 0 ||
			    (c < 0x80 ? n != 1 || got[0] != (char)c : n != 3 || memcmp(got, R, 3)))
				wrong++;
			buf_free(&b);
		}
		is_int(wrong, 0, "escape: every single byte gives valid JSON that reads back");
	}
}

/* The document the writer tests build; the same calls each time. */
static void
write_doc(struct jw *w, int *fails)
{
	int r = 0;

	r |= jw_obj_open(w);
	r |= jw_key(w, "a");
	r |= jw_int(w, 1);
	r |= jw_key(w, "b");
	r |= jw_arr_open(w);
	r |= jw_int(w, -2);
	r |= jw_str(w, "x\"y");
	r |= jw_null(w);
	r |= jw_bool(w, 1);
	r |= jw_bool(w, 0);
	r |= jw_obj_open(w);
	r |= jw_obj_close(w);
	r |= jw_arr_open(w);
	r |= jw_arr_close(w);
	r |= jw_arr_close(w);
	r |= jw_key(w, "c");
	r |= jw_obj_open(w);
	r |= jw_key(w, "d");
	r |= jw_double(w, 1.5);
	r |= jw_key(w, "e\n");
	r |= jw_uint(w, 18446744073709551615ULL);
	r |= jw_obj_close(w);
	r |= jw_key(w, "f");
	r |= jw_raw(w, "[1, 2]", 6);
	r |= jw_key(w, "g");
	r |= jw_str(w, NULL);
	r |= jw_obj_close(w);
	if (fails != NULL)
		*fails = r != 0;
}

#define DOC	"{\"a\":1,\"b\":[-2,\"x\\\"y\",null,true,false,{},[]],\"c\":{\"d\":1.5," \
		"\"e\\n\":18446744073709551615},\"f\":[1, 2],\"g\":null}"

static void
test_writer_nesting(void)
{
	struct buf b;
	struct jw w;
	char want[8 * JW_MAXDEPTH];
	size_t n;
	int i, r, fails;

	buf_init(&b, 4096);
	jw_init(&w, &b);
	write_doc(&w, &fails);
	r = jw_finish(&w);
	is_mem(b.p, b.len, DOC, sizeof(DOC) - 1, "writer: commas, colons and nesting");
	ok(r == 0 && fails == 0 && jw_error(&w) == 0, "writer: no error");
	buf_free(&b);

	buf_init(&b, 4096);
	jw_init(&w, &b);
	jw_arr_open(&w);
	jw_arr_open(&w);
	jw_arr_close(&w);
	jw_arr_open(&w);
	jw_arr_open(&w);
	jw_arr_close(&w);
	jw_arr_close(&w);
	jw_arr_open(&w);
	jw_int(&w, 1);
	jw_arr_close(&w);
	jw_arr_close(&w);
	r = jw_finish(&w);
	is_mem(b.p, b.len, "[[],[[]],[1]]", 13, "writer: arrays in arrays");
	ok(r == 0, "writer: arrays in arrays finish");
	buf_free(&b);

	buf_init(&b, 4096);
	jw_init(&w, &b);
	r = jw_int(&w, 5);
	ok(r == 0 && jw_finish(&w) == 0 && b.len == 1 && b.p[0] == '5', "writer: a bare scalar");
	errno = 0;
	r = jw_int(&w, 6);
	ok(r == -1 && errno == EINVAL && jw_error(&w) == EINVAL && b.len == 1,
	    "writer: a second top-level value is EINVAL");
	buf_free(&b);

	buf_init(&b, 4096);
	jw_init(&w, &b);
	errno = 0;
	ok(jw_finish(&w) == -1 && errno == EINVAL, "writer: finishing an empty document is EINVAL");
	buf_free(&b);

	buf_init(&b, 4096);
	jw_init(&w, &b);
	for (i = 0; i < JW_MAXDEPTH; i++)
		jw_arr_open(&w);
	ok(jw_error(&w) == 0 && (int)b.len == JW_MAXDEPTH, "writer: %d levels open", JW_MAXDEPTH);
	errno = 0;
	r = jw_arr_open(&w);
	ok(r == -1 && errno == EOVERFLOW && jw_error(&w) == EOVERFLOW &&
	    (int)b.len == JW_MAXDEPTH, "writer: one more level is EOVERFLOW and writes nothing");
	buf_free(&b);

	buf_init(&b, 4096);
	jw_init(&w, &b);
	for (i = 0; i < JW_MAXDEPTH; i++) {
		jw_obj_open(&w);
		if (i + 1 < JW_MAXDEPTH)
			jw_key(&w, "k");
	}
	for (i = 0; i < JW_MAXDEPTH; i++)
		jw_obj_close(&w);
	r = jw_finish(&w);
	for (i = 0, n = 0; i < JW_MAXDEPTH; i++)
		n += (size_t)sprintf(want + n, i + 1 < JW_MAXDEPTH ? "{\"k\":" : "{");
	for (i = 0; i < JW_MAXDEPTH; i++)
		want[n++] = '}';
	is_mem(b.p, r == 0 ? b.len : 0, want, n, "writer: %d objects deep close again",
	    JW_MAXDEPTH);
	buf_free(&b);
}

static void
test_writer_misuse(void)
{
	static const struct {
		const char	*what;
		int		 step;
	} cases[] = {
		{ "a value without a key in an object", 0 },
		{ "a key in an array", 1 },
		{ "a key at the top", 2 },
		{ "closing an object after its key", 3 },
		{ "two keys in a row", 4 },
		{ "closing an array with }", 5 },
		{ "closing an object with ]", 6 },
		{ "closing at the top", 7 },
		{ "finishing with a container open", 8 },
		{ "an empty raw value", 9 },
	};
	struct buf b;
	struct jw w;
	size_t i, len;
	int r = 0, later;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 4096);
		jw_init(&w, &b);
		switch (cases[i].step) {
		case 0:
			jw_obj_open(&w);
			len = b.len;
			r = jw_int(&w, 1);
			break;
		case 1:
			jw_arr_open(&w);
			len = b.len;
			r = jw_key(&w, "k");
			break;
		case 2:
			len = b.len;
			r = jw_key(&w, "k");
			break;
		case 3:
			jw_obj_open(&w);
			jw_key(&w, "k");
			len = b.len;
			r = jw_obj_close(&w);
			break;
		case 4:
			jw_obj_open(&w);
			jw_key(&w, "k");
			len = b.len;
			r = jw_key(&w, "l");
			break;
		case 5:
			jw_arr_open(&w);
			len = b.len;
			r = jw_obj_close(&w);
			break;
		case 6:
			jw_obj_open(&w);
			len = b.len;
			r = jw_arr_close(&w);
			break;
		case 7:
			len = b.len;
			r = jw_arr_close(&w);
			break;
		case 8:
			jw_arr_open(&w);
			len = b.len;
			r = jw_finish(&w);
			break;
		default:
			jw_arr_open(&w);
			jw_int(&w, 1);
			len = b.len;
			r = jw_raw(&w, "", 0);
			break;
		}
		later = jw_arr_open(&w) == -1 && jw_int(&w, 1) == -1 && jw_finish(&w) == -1;
		ok(r == -1 && jw_error(&w) == EINVAL && later && b.len == len && errno == EINVAL,
		    "misuse: %s is EINVAL, sticky, and writes nothing", cases[i].what);
		buf_free(&b);
	}
}

static void
test_writer_numbers(void)
{
	static const struct {
		double		 d;
		const char	*want;
	} dbl[] = {
		{ 0.1, "0.1" },
		{ 1.5, "1.5" },
		{ 1.0, "1" },
		{ -0.0, "-0" },
		{ 1e300, "1e+300" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ -2.5e-7, "-2.5e-07" },
	};
	double odd[] = { 1.0 / 3, DBL_MAX, DBL_MIN, 5e-324, -123456789.125, 2e-310 };
	struct buf b;
	struct jw w;
	struct json j;
	size_t i;
	double back;
	int r;

	buf_init(&b, 4096);
	jw_init(&w, &b);
	jw_arr_open(&w);
	jw_int(&w, LLONG_MIN);
	jw_int(&w, LLONG_MAX);
	jw_uint(&w, ULLONG_MAX);
	jw_int(&w, 0);
	jw_double(&w, NAN);
	jw_double(&w, INFINITY);
	jw_double(&w, -INFINITY);
	jw_arr_close(&w);
	r = jw_finish(&w);
	is_str(r == 0 ? b.p : NULL, "[-9223372036854775808,9223372036854775807,"
	    "18446744073709551615,0,null,null,null]", "numbers: integer limits; NaN and inf as null");
	buf_free(&b);

	for (i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
		buf_init(&b, 4096);
		jw_init(&w, &b);
		jw_double(&w, dbl[i].d);
		r = jw_finish(&w);
		is_str(r == 0 ? b.p : NULL, dbl[i].want, "double: %s", dbl[i].want);
		buf_free(&b);
	}
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		buf_init(&b, 4096);
		jw_init(&w, &b);
		jw_double(&w, odd[i]);
		r = jw_finish(&w);
		back = r == 0 ? strtod(b.p, NULL) : 0;
		ok(r == 0 && back == odd[i] && json_parse(&j, b.p, b.len, toks, NTOK) == 0 &&
		    json_type(&j, 0) == JSON_NUMBER, "double: %s reads back exactly and is JSON",
		    r == 0 ? b.p : "?");
		buf_free(&b);
	}
}

static void
test_writer_bounds(void)
{
	struct buf b, full;
	struct jw w;
	size_t max, worst = 0;
	int not_prefix = 0, over = 0, wrong_ok = 0, not_sticky = 0, r, fails;

	buf_init(&full, 4096);
	jw_init(&w, &full);
	write_doc(&w, NULL);
	jw_finish(&w);

	/* Every cap from 0 to the full size: stop with ENOBUFS, never pass the cap. */
	for (max = 0; max <= full.len + 1; max++) {
		buf_init(&b, max);
		jw_init(&w, &b);
		write_doc(&w, &fails);
		r = jw_finish(&w);
		if (b.len > max || (b.p != NULL && b.cap > max + 1))
			over++;
		if (b.len > 0 && memcmp(b.p, full.p, b.len) != 0)
			not_prefix++;
		if (max >= full.len) {
			if (r != 0 || b.len != full.len)
				wrong_ok++;
		} else {
			if (r != -1 || errno != ENOBUFS || jw_error(&w) != ENOBUFS || !fails)
				not_sticky++;
			if (full.len - b.len > worst)
				worst = full.len - b.len;
		}
		buf_free(&b);
	}
	is_int(over, 0, "bounds: the output never passes the buf's max");
	is_int(not_prefix, 0, "bounds: what was written is a prefix of the full document");
	is_int(not_sticky, 0, "bounds: each short cap ends in a sticky ENOBUFS");
	is_int(wrong_ok, 0, "bounds: a cap of the full size or more gives the full document");

	buf_init(&b, 10);
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "k");
	errno = 0;
	r = jw_str(&w, "0123456789");
	ok(r == -1 && errno == ENOBUFS, "bounds: a string that does not fit is ENOBUFS");
	is_mem(b.p, b.len, "{\"k\":", 5, "bounds: the failed string is taken back whole");
	ok(jw_int(&w, 1) == -1 && jw_obj_close(&w) == -1 && b.len == 5 &&
	    jw_error(&w) == ENOBUFS, "bounds: later calls do nothing and the error stays");
	buf_free(&b);
	buf_free(&full);
}

static void
rand_str(char *s, size_t *n, size_t cap)
{
	static const unsigned char pick[] = {
		0x00, 0x01, 0x1f, '"', '\\', '/', 'a', ' ', 0x7f, 0x80, 0xbf, 0xc2, 0xc3,
		0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f
	};
	size_t i;

	*n = rnd() % cap;
	for (i = 0; i < *n; i++)
		s[i] = (char)(rnd() % 2 ? rnd() % 256 : pick[rnd() % sizeof(pick)]);
}

/* A random value written with the writer, a few levels deep. */
static void
rand_value(struct jw *w, int depth)
{
	char s[40], key[24];
	size_t n, i, k;

	switch (rnd() % (depth < 6 ? 8 : 6)) {
	case 0:
		jw_int(w, (long long)rnd());
		break;
	case 1:
		jw_double(w, (double)(long long)rnd() / (double)(rnd() % 1000 + 1));
		break;
	case 2:
		rand_str(s, &n, sizeof(s));
		jw_strn(w, s, n);
		break;
	case 3:
		jw_bool(w, (int)(rnd() % 2));
		break;
	case 4:
		jw_null(w);
		break;
	case 5:
		jw_uint(w, rnd());
		break;
	case 6:
		jw_arr_open(w);
		for (i = rnd() % 5; i > 0; i--)
			rand_value(w, depth + 1);
		jw_arr_close(w);
		break;
	default:
		jw_obj_open(w);
		for (i = rnd() % 5; i > 0; i--) {
			rand_str(key, &n, sizeof(key) - 1);
			for (k = 0; k < n; k++)
				if (key[k] == '\0')
					key[k] = 'z';
			key[n] = '\0';
			jw_key(w, key);
			rand_value(w, depth + 1);
		}
		jw_obj_close(w);
		break;
	}
}

static void
test_roundtrip(void)
{
	static const char *strs[] = {
		"", "plain", "\"quoted\" \\back\\slash/", ("\x01\x02\x03\x04\x05\x06\x07\b\t\n\v\f\r"
		    "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"),
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
		"bad \xff \xc0\x80 \xed\xa0\x80 end",
	};
	struct buf b, b2;
	struct jw w;
	struct json j;
	jsmntok_t *tv;
	char *big, *dec, *ref, key[8];
	size_t i, n, rl;
	long long v;
	int r, t, good = 1, mism = 0, parsed = 0, notsame = 0, notutf8 = 0;

	big = malloc(5000);
	for (i = 0; i < 5000; i++)
		big[i] = (char)(i % 127 + 1);

	buf_init(&b, 1 << 16);
	jw_init(&w, &b);
	jw_obj_open(&w);
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		snprintf(key, sizeof(key), "s%zu", i);
		jw_key(&w, key);
		jw_str(&w, strs[i]);
	}
	jw_key(&w, "nul");
	jw_strn(&w, "a\0b", 3);
	jw_key(&w, "big");
	jw_strn(&w, big, 5000);
	jw_key(&w, "min");
	jw_int(&w, LLONG_MIN);
	jw_key(&w, "max");
	jw_int(&w, LLONG_MAX);
	jw_key(&w, "umax");
	jw_uint(&w, ULLONG_MAX);
	jw_key(&w, "list");
	jw_arr_open(&w);
	jw_bool(&w, 1);
	jw_null(&w);
	jw_double(&w, 0.25);
	jw_arr_close(&w);
	jw_key(&w, "\"k\xc3\xa9y\"\n");
	jw_int(&w, 9);
	jw_obj_close(&w);
	r = jw_finish(&w);
	ok(r == 0, "roundtrip: the document is written");

	r = json_parse(&j, b.p, b.len, toks, NTOK);
	is_int(r, JSON_OK, "roundtrip: and parses");
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		snprintf(key, sizeof(key), "s%zu", i);
		ref = malloc(3 * strlen(strs[i]) + 1);
		rl = ref_sanitize((const unsigned char *)strs[i], strlen(strs[i]), ref);
		dec = str_alloc(&j, json_get(&j, 0, key), &n);
		if (dec == NULL || n != rl || memcmp(dec, ref, n) != 0)
			good = 0;
		free(dec);
		free(ref);
	}
	ok(good, "roundtrip: every string reads back (bad UTF-8 as U+FFFD)");
	dec = str_alloc(&j, json_get(&j, 0, "nul"), &n);
	ok(dec != NULL && n == 3 && memcmp(dec, "a\0b", 3) == 0, "roundtrip: U+0000");
	free(dec);
	dec = str_alloc(&j, json_get(&j, 0, "big"), &n);
	ok(dec != NULL && n == 5000 && memcmp(dec, big, 5000) == 0, "roundtrip: 5000 bytes");
	free(dec);
	ok(json_int(&j, json_get(&j, 0, "min"), &v) == 0 && v == LLONG_MIN, "roundtrip: LLONG_MIN");
	ok(json_int(&j, json_get(&j, 0, "max"), &v) == 0 && v == LLONG_MAX, "roundtrip: LLONG_MAX");
	errno = 0;
	ok(json_int(&j, json_get(&j, 0, "umax"), &v) == -1 && errno == ERANGE,
	    "roundtrip: ULLONG_MAX is past json_int's range");
	t = json_get(&j, 0, "list");
	ok(json_size(&j, t) == 3 && json_bool(&j, json_at(&j, t, 0), &r) == 0 && r == 1 &&
	    json_is_null(&j, json_at(&j, t, 1)) &&
	    json_streq(&j, json_get(&j, 0, "\"k\xc3\xa9y\"\n"), "") == 0 &&
	    json_int(&j, json_get(&j, 0, "\"k\xc3\xa9y\"\n"), &v) == 0 && v == 9,
	    "roundtrip: list and an escaped key");
	free(big);
	buf_free(&b);

	/* Random strings: the reader gives back exactly what the WHATWG decoder does. */
	good = 1;
	for (i = 0; i < 3000; i++) {
		char s[40], out[200];

		rand_str(s, &n, sizeof(s));
		ref = malloc(3 * n + 1);
		rl = ref_sanitize((const unsigned char *)s, n, ref);
		r = wstr(&b, s, n);
		if (r != 0 || json_parse(&j, b.p, b.len, toks, NTOK) != 0 ||
		    json_str(&j, 0, out, sizeof(out), &n) != 0 || n != rl ||
		    memcmp(out, ref, rl) != 0 || !ref_utf8((unsigned char *)out, n))
			good = 0;
		free(ref);
		buf_free(&b);
	}
	ok(good, "roundtrip: 3000 random byte strings");

	/* Random documents: write, parse, write again gives the same bytes. */
	for (i = 0; i < 500; i++) {
		buf_init(&b, 1 << 20);
		jw_init(&w, &b);
		rand_value(&w, 0);
		if (jw_finish(&w) != 0) {
			mism++;
			buf_free(&b);
			continue;
		}
		tv = malloc(JSON_TOKS_MAX(b.len) * sizeof(*tv));
		r = json_parse(&j, b.p, b.len, tv, (unsigned)JSON_TOKS_MAX(b.len));
		if (r != JSON_OK || !tree_ok(&j)) {
			mism++;
		} else {
			buf_init(&b2, 1 << 20);
			jw_init(&w, &b2);
			if (reserialize(&j, 0, &w) != j.ntok || jw_finish(&w) != 0 ||
			    b2.len != b.len || memcmp(b2.p, b.p, b.len) != 0)
				notsame++;
			buf_free(&b2);
		}
		free(tv);
		buf_free(&b);
	}
	is_int(mism, 0, "roundtrip: 500 random documents parse with JSON_TOKS_MAX tokens");
	is_int(notsame, 0, "roundtrip: and write back byte for byte");

	/* Random fragments: whatever parses is a sound tree of valid UTF-8 strings. */
	{
		static const char *frag[] = {
			"{", "}", "[", "]", ",", ":", "\"a\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
			"1", "-0.5e+3", "true", "null", " ", "\"k\":", "\"\xc3\xa9\"", "\"\xff\"",
			"\"\\ud800\"", "0", "01", "\"\\n\"", "\n", "fals", "e", "-", ".5",
		};
		char doc[256];
		size_t nf, o, len;

		for (i = 0; i < 20000; i++) {
			nf = 1 + rnd() % 16;
			for (o = 0; nf-- > 0; o += len) {
				const char *f = frag[rnd() % (sizeof(frag) / sizeof(frag[0]))];

				len = strlen(f);
				memcpy(doc + o, f, len);
			}
			r = json_parse(&j, guarded(doc, o), o, toks, NTOK);
			if (r != JSON_OK)
				continue;
			parsed++;
			if (!tree_ok(&j)) {
				notsame++;
				continue;
			}
			for (t = 0; t < j.ntok; t++) {
				if (json_type(&j, t) != JSON_STRING)
					continue;
				dec = str_alloc(&j, t, &n);
				if (dec == NULL || !ref_utf8((unsigned char *)dec, n))
					notutf8++;
				free(dec);
			}
			buf_init(&b, 1 << 16);
			jw_init(&w, &b);
			if (reserialize(&j, 0, &w) != j.ntok || jw_finish(&w) != 0 ||
			    json_parse(&j, b.p, b.len, toks, NTOK) != JSON_OK)
				notsame++;
			buf_free(&b);
		}
		ok(parsed > 100 && notsame == 0,
		    "fragments: %d of 20000 random texts parse, all as sound trees", parsed);
		is_int(notutf8, 0, "fragments: every string they hold decodes to valid UTF-8");
	}
}

int
main(void)
{
	guard_init();
	ok(sizeof(jsmntok_t) == 5 * sizeof(int), "jsmn: tokens carry parent links here too");
	test_webhook();
	test_escapes();
	test_str_caps();
	test_tables();
	test_top();
	test_scalars();
	test_truncation();
	test_tokens();
	test_depth();
	test_strerror();
	test_writer_escapes();
	test_writer_nesting();
	test_writer_misuse();
	test_writer_numbers();
	test_writer_bounds();
	test_roundtrip();
	return done_testing();
}
