/* See LICENSE. Unit tests for lib/ws: base64, UTF-8, the handshake, the frame codec. */
#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ws.h"
#include "tap.h"

static const unsigned char K[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Guard pages: input ends right before an unreadable page, so an over-read faults. */
static unsigned char *guard_base;
static size_t guard_size, guard_room;

static unsigned char *
guarded(const void *p, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), need = (n + pg - 1) / pg * pg + pg;

	/* A new mapping only when the input outgrows the one we have. */
	if (n > guard_room) {
		if (guard_base)
			munmap(guard_base, guard_size);
		guard_size = need + pg;
		guard_room = need;
		guard_base = mmap(NULL, guard_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED)
			abort();
		mprotect(guard_base + need, pg, PROT_NONE);
	}
	memcpy(guard_base + guard_room - n, p, n);
	return guard_base + guard_room - n;
}

/* Base64. */

static void
t_base64(void)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm8=Zm8=", "Zm 9", "Zm9v\n",
		"=Zm9", "Zm-v", "Zm_v", "Z=9v",
	};
	unsigned char out[64];
	char enc[64];
	size_t i;
	int n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ws_base64_encode(v[i][0], strlen(v[i][0]), enc);
		is_str(enc, v[i][1], "base64 of \"%s\"", v[i][0]);
		n = ws_base64_decode(v[i][1], strlen(v[i][1]), out, sizeof(out));
		ok(n == (int)strlen(v[i][0]) && memcmp(out, v[i][0], (size_t)n) == 0,
		    "decode \"%s\"", v[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(ws_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -1,
		    "decode refuses bad base64 %zu", i);
	is_int(ws_base64_decode("Zm9vYmFy", 8, out, 5), -1, "decode refuses past its cap");
	is_int(ws_base64_decode("Zm9vYmFy", 8, out, 6), 6, "decode fills its cap exactly");
}

static void
t_accept(void)
{
	char acc[WS_ACCEPT_LEN + 1];

	/* RFC 6455 1.3. */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc);
	is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept key of the RFC 6455 example");
	is_int(strlen(acc), WS_ACCEPT_LEN, "accept key length");
}

/* UTF-8. */

static int
utf8_ok(const char *s, size_t n)
{
	uint32_t st = 0;

	return ws_utf8(&st, (const unsigned char *)s, n) == 0 && st == 0;
}

static void
t_utf8(void)
{
	static const char *const good[] = {
		"", "plain ascii, long enough for the word loop: 0123456789abcdef",
		"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
		"h\xc3\xa9llo w\xc3\xb6rld",
		"\xe2\x82\xac 12345678\xf0\x9f\x98\x80",
		"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
	};
	static const char *const badv[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xfe", "\xff", "a\xc3(b",
		"01234567\xe2\x28\xa1",
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited",
	};
	static const char *const cut[] = {
		"\xc3", "\xe2\x82", "\xf0\x9f\x98", "abc\xe2",
	};
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z0123456789\xf4\x8f\xbf\xbf";
	size_t i, n = strlen(s), j;
	uint32_t st;
	int okk;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(utf8_ok(good[i], strlen(good[i])), "UTF-8 good %zu", i);
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
		ok(!utf8_ok(badv[i], strlen(badv[i])), "UTF-8 bad %zu", i);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		st = 0;
		ok(ws_utf8(&st, (const unsigned char *)cut[i], strlen(cut[i])) == 0 && st != 0,
		    "UTF-8 cut %zu: no error yet, but not whole", i);
	}
	/* Cut anywhere, in two and in every byte, the answer is the same. */
	okk = 1;
	for (i = 0; i <= n; i++) {
		st = 0;
		okk = okk && ws_utf8(&st, (const unsigned char *)s, i) == 0 &&
		    ws_utf8(&st, (const unsigned char *)s + i, n - i) == 0 && st == 0;
	}
	st = 0;
	for (j = 0; j < n; j++)
		okk = okk && ws_utf8(&st, (const unsigned char *)s + j, 1) == 0;
	ok(okk && st == 0, "UTF-8 resumes at every cut");
	st = 0;
	ok(ws_utf8(&st, (const unsigned char *)"\xed", 1) == 0 &&
	    ws_utf8(&st, (const unsigned char *)"\xa0", 1) == -1,
	    "a surrogate is refused across a cut");
}

/* The handshake. */

static struct http_header H[16];
static struct http_request R;

static void
req(int method, int minor, ...)
{
	va_list ap;
	const char *n;

	memset(&R, 0, sizeof(R));
	R.method = method;
	R.minor = minor;
	R.headers = H;
	va_start(ap, minor);
	while ((n = va_arg(ap, const char *)) != NULL) {
		H[R.nheaders].name = n;
		H[R.nheaders].value = va_arg(ap, const char *);
		H[R.nheaders].namelen = strlen(n);
		H[R.nheaders].valuelen = strlen(H[R.nheaders].value);
		R.nheaders++;
	}
	va_end(ap);
}

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="

static void
t_handshake(void)
{
	struct ws_handshake hs;

	req(HTTP_GET, 1, "Host", "x", "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 0, "a good handshake");
	is_str(hs.key, KEY, "its key");
	req(HTTP_GET, 1, "upgrade", "WebSocket", "connection", "keep-alive, UPGRADE",
	    "sec-websocket-key", KEY, "sec-websocket-version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 0, "any case, Connection as a token list");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "keep-alive",
	    "Connection", " upgrade ", "Sec-WebSocket-Key", KEY,
	    "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 0, "the token in a second Connection header");
	req(HTTP_GET, 1, "Upgrade", "h2c, websocket", "Connection", "Upgrade,HTTP2-Settings",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 0, "Upgrade as a token list");

	req(HTTP_POST, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 405, "POST: 405");
	is_str(hs.headers, "Allow: GET\r\n", "with Allow");
	req(HTTP_GET, 1, "Host", "x", NULL);
	is_int(ws_handshake_check(&R, &hs), 426, "plain GET: 426");
	is_str(hs.headers, "Upgrade: websocket\r\nConnection: Upgrade\r\n", "with Upgrade");
	req(HTTP_GET, 0, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "HTTP/1.0: 400");
	req(HTTP_GET, 1, "Upgrade", "h2c", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "Upgrade: h2c: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "keep-alive, upgraded",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "Connection without the upgrade token: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Sec-WebSocket-Key", KEY,
	    "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "no Connection: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "no key: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=", "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "a key of 23 characters: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=", "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "a key of 17 bytes: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAB==", "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "a key with stray bits: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA!A==", "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "a key that is not base64: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Key", KEY,
	    "Sec-WebSocket-Version", "13", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "two keys: 400");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "8", NULL);
	is_int(ws_handshake_check(&R, &hs), 426, "version 8: 426");
	is_str(hs.headers, "Sec-WebSocket-Version: 13\r\n", "with Sec-WebSocket-Version: 13");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Key", KEY, NULL);
	is_int(ws_handshake_check(&R, &hs), 426, "no version: 426");
	req(HTTP_GET, 1, "Upgrade", "websocket", "Connection", "Upgrade",
	    "Sec-WebSocket-Version", "8", NULL);
	is_int(ws_handshake_check(&R, &hs), 400, "no key and a bad version: 400");
}

/* Frames. */

/* What a decoder made of its input, as text: one item per event, then the error. */
struct trace {
	char	 s[200000];
	size_t	 n;
	int	 err;
};

static void
tr_add(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tr_add(struct trace *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->n += (size_t)n < sizeof(t->s) - t->n ? (size_t)n : sizeof(t->s) - t->n - 1;
}

/*
 * Feed buf to d in one call per chunk (chunk 0: all at once), recording events. Data
 * pieces of one message are joined, so any cut gives the same trace.
 */
static void
feed(struct ws_decoder *d, const unsigned char *in, size_t len, size_t chunk, struct trace *t)
{
	struct ws_event ev;
	unsigned char *buf;
	size_t off, m, k;
	ssize_t n;

	if (chunk == 0)
		chunk = len ? len : 1;
	for (off = 0; off < len && !t->err; off += m) {
		m = len - off < chunk ? len - off : chunk;
		buf = guarded(in + off, m);
		for (k = 0; k < m; k += (size_t)n) {
			if ((n = ws_decode(d, buf + k, m - k, &ev)) < 0) {
				tr_add(t, "!%d", ev.code);
				t->err = ev.code;
				return;
			}
			switch (ev.type) {
			case WS_EV_DATA:
				if (ev.first)
					tr_add(t, "%c[", ev.opcode == WS_OP_TEXT ? 'T' : 'B');
				tr_add(t, "%.*s", (int)ev.len, (const char *)ev.data);
				if (ev.last)
					tr_add(t, "]");
				break;
			case WS_EV_PING:
				tr_add(t, "P(%.*s)", (int)ev.len, (const char *)ev.data);
				break;
			case WS_EV_PONG:
				tr_add(t, "O(%.*s)", (int)ev.len, (const char *)ev.data);
				break;
			case WS_EV_CLOSE:
				tr_add(t, "C%d(%.*s)", ev.code, (int)ev.len,
				    (const char *)ev.data);
				break;
			default:
				break;
			}
		}
	}
}

static void
decode_all(int masked, size_t max, const unsigned char *in, size_t len, size_t chunk,
    struct trace *t)
{
	struct ws_decoder d;

	ws_decoder_init(&d, masked, max);
	memset(t, 0, sizeof(*t));
	feed(&d, in, len, chunk, t);
}

/* A stream under construction. */
struct stream {
	unsigned char	 b[300000];
	size_t		 n;
};

static void
put(struct stream *s, int fin, int op, const void *p, size_t len, int masked)
{
	s->n += ws_frame(s->b + s->n, fin, op, p, len, masked ? K : NULL);
}

/* A raw header byte pair and length bytes, then the mask and payload. */
static void
raw(struct stream *s, const unsigned char *hdr, size_t hl, const char *payload, size_t pl)
{
	memcpy(s->b + s->n, hdr, hl);
	s->n += hl;
	memcpy(s->b + s->n, K, 4);
	s->n += 4;
	memcpy(s->b + s->n, payload, pl);
	ws_mask(s->b + s->n, pl, K, 0);
	s->n += pl;
}

static void
t_header(void)
{
	static const struct {
		uint64_t	 len;
		size_t		 hl;
		unsigned char	 b1;
	} v[] = {
		{ 0, 2, 0 }, { 1, 2, 1 }, { 125, 2, 125 }, { 126, 4, 126 }, { 65535, 4, 126 },
		{ 65536, 10, 127 }, { 1ULL << 32, 10, 127 }, { (1ULL << 63) - 1, 10, 127 },
	};
	unsigned char h[WS_HEADER_MAX];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = ws_header(h, 1, WS_OP_TEXT, v[i].len, NULL);
		ok(n == v[i].hl && h[0] == 0x81 && h[1] == v[i].b1,
		    "header for %llu bytes: %zu bytes", (unsigned long long)v[i].len, v[i].hl);
		n = ws_header(h, 0, WS_OP_BINARY, v[i].len, K);
		ok(n == v[i].hl + 4 && h[0] == 0x02 && h[1] == (0x80 | v[i].b1) &&
		    memcmp(h + n - 4, K, 4) == 0, "masked header for %llu bytes",
		    (unsigned long long)v[i].len);
	}
	n = ws_header(h, 1, WS_OP_TEXT, 0x0102030405060708ULL, NULL);
	ok(n == 10 && h[2] == 1 && h[5] == 4 && h[9] == 8, "64-bit length in network order");
	n = ws_header(h, 1, WS_OP_TEXT, 0x1234, NULL);
	ok(n == 4 && h[2] == 0x12 && h[3] == 0x34, "16-bit length in network order");
}

static void
t_lengths(void)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	static struct stream s;
	static char want[200000], msg[70001];
	struct trace *t = malloc(sizeof(*t));
	size_t i, j;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (j = 0; j < lens[i]; j++)
			msg[j] = (char)('a' + j % 26);
		s.n = 0;
		put(&s, 1, WS_OP_TEXT, msg, lens[i], 1);
		snprintf(want, sizeof(want), "T[%.*s]", (int)lens[i], msg);
		decode_all(1, 70000, s.b, s.n, 0, t);
		ok(t->err == 0 && strcmp(t->s, want) == 0, "masked text frame of %zu bytes",
		    lens[i]);
		s.n = 0;
		put(&s, 1, WS_OP_BINARY, msg, lens[i], 0);
		snprintf(want, sizeof(want), "B[%.*s]", (int)lens[i], msg);
		decode_all(0, 70000, s.b, s.n, 0, t);
		ok(t->err == 0 && strcmp(t->s, want) == 0,
		    "unmasked binary frame of %zu bytes to a client", lens[i]);
	}
	free(t);
}

static void
t_mask(void)
{
	unsigned char a[100], b[100];
	size_t i, cut;
	int okk = 1;

	for (i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 7);
	for (cut = 0; cut <= sizeof(a); cut++) {
		memcpy(b, a, sizeof(a));
		ws_mask(b, cut, K, 0);
		ws_mask(b + cut, sizeof(a) - cut, K, cut & 3);
		for (i = 0; i < sizeof(a); i++)
			okk = okk && b[i] == (a[i] ^ K[i & 3]);
	}
	ok(okk, "masking in two pieces at every cut equals masking at once");
	memcpy(b, a, sizeof(a));
	ws_mask(b, sizeof(b), K, 0);
	ws_mask(b, sizeof(b), K, 0);
	ok(memcmp(a, b, sizeof(a)) == 0, "masking twice gives the input back");
}

#define P125	"0123456789012345678901234567890123456789012345678901234567890" \
	"1234567890123456789012345678901234567890123456789012345678901234"

/* The stream used for the cut tests: fragments, interleaved control frames, a close. */
static void
mixed(struct stream *s)
{
	unsigned char cl[WS_CONTROL_MAX];

	s->n = 0;
	put(s, 1, WS_OP_TEXT, "hello", 5, 1);
	put(s, 0, WS_OP_TEXT, "caf\xc3", 4, 1);
	put(s, 1, WS_OP_PING, "p1", 2, 1);
	put(s, 0, WS_OP_CONT, "\xa9 \xe2\x82", 4, 1);
	put(s, 1, WS_OP_PONG, "", 0, 1);
	put(s, 0, WS_OP_CONT, "", 0, 1);
	put(s, 1, WS_OP_CONT, "\xac!", 2, 1);
	put(s, 1, WS_OP_BINARY, "\x01\x02", 2, 1);
	put(s, 1, WS_OP_TEXT, "", 0, 1);
	put(s, 1, WS_OP_PING, P125, 125, 1);
	put(s, 1, WS_OP_CLOSE, cl, ws_close_payload(cl, 1000, "bye \xc3\xa9"), 1);
}

static void
t_fragments(void)
{
	static struct stream s;
	struct trace *t = malloc(sizeof(*t)), *u = malloc(sizeof(*u));
	size_t cut, chunk;
	int okk = 1;
	char want[400];

	mixed(&s);
	decode_all(1, 0, s.b, s.n, 0, t);
	snprintf(want, sizeof(want), "T[hello]T[caf\xc3P(p1)\xa9 \xe2\x82O()\xac!]B[\x01\x02]"
	    "T[]P(%s)C1000(bye \xc3\xa9)", P125);
	is_str(t->s, want, "fragments joined around pings and pongs; empty frames; a close");
	/* Cut in two at every byte. */
	for (cut = 0; cut <= s.n; cut++) {
		struct ws_decoder d;

		ws_decoder_init(&d, 1, 0);
		memset(u, 0, sizeof(*u));
		feed(&d, s.b, cut, 0, u);
		feed(&d, s.b + cut, s.n - cut, 0, u);
		if (u->err || u->n != t->n || memcmp(u->s, t->s, t->n) != 0) {
			okk = 0;
			printf("# differs when cut at %zu: %s\n", cut, u->s);
			break;
		}
	}
	ok(okk, "the same events when cut in two at each of %zu bytes", s.n);
	okk = 1;
	for (chunk = 1; chunk <= 7; chunk++) {
		decode_all(1, 0, s.b, s.n, chunk, u);
		okk = okk && u->err == 0 && u->n == t->n && memcmp(u->s, t->s, t->n) == 0;
	}
	ok(okk, "the same events fed 1 to 7 bytes at a time");
	free(t);
	free(u);
}

/*
 * One case: a stream and the close code the decoder must fail with (0: none), whole,
 * 1 to 3 bytes at a time, and cut in two anywhere (for streams small enough).
 */
static void
expect(const char *name, struct stream *s, int masked, size_t max, int code)
{
	struct trace *t = malloc(sizeof(*t));
	struct ws_decoder d;
	size_t chunk, cut;
	int okk = 1;

	for (chunk = 0; chunk <= 3; chunk++) {
		decode_all(masked, max, s->b, s->n, chunk, t);
		okk = okk && t->err == code;
	}
	for (cut = 0; s->n <= 300 && cut <= s->n; cut++) {
		ws_decoder_init(&d, masked, max);
		memset(t, 0, sizeof(*t));
		feed(&d, s->b, cut, 0, t);
		feed(&d, s->b + cut, s->n - cut, 0, t);
		okk = okk && t->err == code;
	}
	if (!ok(okk, "%s: %d", name, code))
		printf("#   trace: %s\n", t->s);
	free(t);
}

static void
t_errors(void)
{
	static struct stream s;
	static char big[70000];
	unsigned char h[16], cl[WS_CONTROL_MAX];
	static const int badcodes[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
	    2999, 5000, 65535 };
	static const int goodcodes[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
	    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	size_t i;
	int op;
	char name[64];

	s.n = 0;
	put(&s, 1, WS_OP_TEXT, "hi", 2, 0);
	expect("unmasked frame to a server", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, "hi", 2, 1);
	expect("masked frame to a client", &s, 0, 0, WS_CLOSE_PROTOCOL);
	for (i = 0; i < 3; i++) {
		s.n = 0;
		h[0] = (unsigned char)(0x81 | (0x40 >> i));
		h[1] = 0x82;
		raw(&s, h, 2, "hi", 2);
		snprintf(name, sizeof(name), "RSV%zu set", i + 1);
		expect(name, &s, 1, 0, WS_CLOSE_PROTOCOL);
	}
	for (op = 3; op <= 15; op++) {
		if (op >= 8 && op <= 10)
			continue;
		s.n = 0;
		h[0] = (unsigned char)(0x80 | op);
		h[1] = 0x80;
		raw(&s, h, 2, "", 0);
		snprintf(name, sizeof(name), "opcode %d", op);
		expect(name, &s, 1, 0, WS_CLOSE_PROTOCOL);
	}
	s.n = 0;
	put(&s, 0, WS_OP_PING, "x", 1, 1);
	expect("fragmented ping", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	put(&s, 0, WS_OP_CLOSE, "", 0, 1);
	expect("fragmented close", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	h[0] = 0x89;
	h[1] = 0x80 | 126;
	h[2] = 0;
	h[3] = 126;
	raw(&s, h, 4, big, 126);
	expect("ping of 126 bytes", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	put(&s, 1, WS_OP_PONG, big, 125, 1);
	expect("pong of 125 bytes", &s, 1, 0, 0);
	s.n = 0;
	put(&s, 1, WS_OP_CONT, "x", 1, 1);
	expect("continuation without a message", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, "x", 1, 1);
	put(&s, 1, WS_OP_TEXT, "y", 1, 1);
	expect("a new message inside one", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, "x", 1, 1);
	put(&s, 1, WS_OP_BINARY, "y", 1, 1);
	expect("binary inside text", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	h[0] = 0x81;
	h[1] = 0x80 | 126;
	h[2] = 0;
	h[3] = 125;
	raw(&s, h, 4, big, 125);
	expect("16-bit length under 126", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	memset(h, 0, sizeof(h));
	h[0] = 0x81;
	h[1] = 0x80 | 127;
	h[8] = 0xff;
	h[9] = 0xff;
	raw(&s, h, 10, big, 0);
	expect("64-bit length under 65536", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	memset(h, 0, sizeof(h));
	h[0] = 0x81;
	h[1] = 0x80 | 127;
	h[2] = 0x80;
	raw(&s, h, 10, big, 0);
	expect("64-bit length with the top bit", &s, 1, 0, WS_CLOSE_PROTOCOL);
	s.n = 0;
	put(&s, 1, WS_OP_CLOSE, "\x03", 1, 1);
	expect("close payload of one byte", &s, 1, 0, WS_CLOSE_PROTOCOL);
	for (i = 0; i < sizeof(badcodes) / sizeof(badcodes[0]); i++) {
		s.n = 0;
		cl[0] = (unsigned char)(badcodes[i] >> 8);
		cl[1] = (unsigned char)badcodes[i];
		put(&s, 1, WS_OP_CLOSE, cl, 2, 1);
		snprintf(name, sizeof(name), "close code %d", badcodes[i]);
		expect(name, &s, 1, 0, WS_CLOSE_PROTOCOL);
	}
	for (i = 0; i < sizeof(goodcodes) / sizeof(goodcodes[0]); i++) {
		s.n = 0;
		put(&s, 1, WS_OP_CLOSE, cl, ws_close_payload(cl, goodcodes[i], "ok"), 1);
		snprintf(name, sizeof(name), "close code %d", goodcodes[i]);
		expect(name, &s, 1, 0, 0);
	}
	s.n = 0;
	put(&s, 1, WS_OP_CLOSE, "", 0, 1);
	expect("close without a code", &s, 1, 0, 0);
	s.n = 0;
	put(&s, 1, WS_OP_CLOSE, "\x03\xe8\xc3(", 4, 1);
	expect("close reason not UTF-8", &s, 1, 0, WS_CLOSE_INVALID_DATA);
	s.n = 0;
	put(&s, 1, WS_OP_CLOSE, "\x03\xe8", 2, 1);
	put(&s, 1, WS_OP_TEXT, "late", 4, 1);
	expect("a frame after close", &s, 1, 0, WS_CLOSE_PROTOCOL);

	/* UTF-8 in text messages. */
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, "a\xc3(b", 4, 1);
	expect("text not UTF-8", &s, 1, 0, WS_CLOSE_INVALID_DATA);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, "ok \xe2\x82", 5, 1);
	put(&s, 1, WS_OP_CONT, "\xac", 1, 1);
	expect("a character split across fragments", &s, 1, 0, 0);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, "ok \xe2\x82", 5, 1);
	put(&s, 1, WS_OP_CONT, "x", 1, 1);
	expect("a character broken across fragments", &s, 1, 0, WS_CLOSE_INVALID_DATA);
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, "ends in \xe2\x82", 10, 1);
	expect("a text message cut inside a character", &s, 1, 0, WS_CLOSE_INVALID_DATA);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, "ends in \xe2", 9, 1);
	put(&s, 1, WS_OP_PING, "", 0, 1);
	put(&s, 1, WS_OP_CONT, "", 0, 1);
	expect("a message ending inside a character after a ping", &s, 1, 0,
	    WS_CLOSE_INVALID_DATA);
	s.n = 0;
	put(&s, 1, WS_OP_BINARY, "\xff\xfe", 2, 1);
	expect("binary is not checked for UTF-8", &s, 1, 0, 0);

	/* The message cap: exactly at it passes, one byte over fails. */
	memset(big, 'x', sizeof(big));
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, big, WS_MESSAGE_MAX, 1);
	expect("a message at the cap", &s, 1, 0, 0);
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, big, WS_MESSAGE_MAX + 1, 1);
	expect("a frame one byte over the cap", &s, 1, 0, WS_CLOSE_TOO_BIG);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, big, WS_MESSAGE_MAX / 2, 1);
	put(&s, 0, WS_OP_CONT, big, WS_MESSAGE_MAX / 2, 1);
	put(&s, 1, WS_OP_CONT, big, 0, 1);
	expect("fragments adding up to the cap", &s, 1, 0, 0);
	s.n = 0;
	put(&s, 0, WS_OP_TEXT, big, WS_MESSAGE_MAX / 2, 1);
	put(&s, 1, WS_OP_CONT, big, WS_MESSAGE_MAX / 2 + 1, 1);
	expect("fragments one byte over the cap", &s, 1, 0, WS_CLOSE_TOO_BIG);
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, big, 10, 1);
	put(&s, 1, WS_OP_TEXT, big, 10, 1);
	expect("two messages of 10 with a cap of 10", &s, 1, 10, 0);
	s.n = 0;
	put(&s, 1, WS_OP_TEXT, big, 11, 1);
	expect("a message of 11 with a cap of 10", &s, 1, 10, WS_CLOSE_TOO_BIG);
}

/* The cap is enforced at the header, before the payload. */
static void
t_early(void)
{
	struct ws_decoder d;
	struct ws_event ev;
	unsigned char h[16];
	size_t n;

	ws_decoder_init(&d, 1, 0);
	n = ws_header(h, 1, WS_OP_TEXT, (uint64_t)1 << 40, K);
	ok(ws_decode(&d, guarded(h, n), n, &ev) == -1 && ev.code == WS_CLOSE_TOO_BIG,
	    "a 1 TiB frame is refused at its header");
	ok(ws_decode(&d, guarded(h, 2), 2, &ev) == -1 && ev.code == WS_CLOSE_PROTOCOL,
	    "a failed decoder stays failed");
	ws_decoder_init(&d, 1, 0);
	memcpy(h, "\x81\x88", 2);
	memcpy(h + 2, K, 4);
	memcpy(h + 6, "ab\xff", 3);
	ws_mask(h + 6, 3, K, 0);
	ok(ws_decode(&d, guarded(h, 9), 9, &ev) == -1 && ev.code == WS_CLOSE_INVALID_DATA,
	    "a bad byte fails at once, before the frame is complete");
}

static void
t_close_payload(void)
{
	unsigned char out[WS_CONTROL_MAX];
	char reason[200];
	uint32_t st = 0;
	size_t n, i;

	is_int(ws_close_payload(out, 0, "x"), 0, "no code, no payload");
	ok(ws_close_payload(out, 1001, NULL) == 2 && out[0] == 0x03 && out[1] == 0xe9,
	    "a code without a reason");
	n = ws_close_payload(out, 1008, "too slow");
	ok(n == 10 && out[0] == 0x03 && out[1] == 0xf0 && memcmp(out + 2, "too slow", 8) == 0,
	    "code then reason");
	for (i = 0; i + 2 < sizeof(reason); i += 2)
		memcpy(reason + i, "\xc3\xa9", 2);
	reason[i] = '\0';
	n = ws_close_payload(out, 1000, reason);
	ok(n <= WS_CONTROL_MAX && n >= WS_CONTROL_MAX - 1 &&
	    ws_utf8(&st, out + 2, n - 2) == 0 && st == 0,
	    "a long reason is cut on a character boundary (%zu bytes)", n);
}

int
main(void)
{
	t_base64();
	t_accept();
	t_utf8();
	t_handshake();
	t_header();
	t_lengths();
	t_mask();
	t_fragments();
	t_errors();
	t_early();
	t_close_payload();
	return done_testing();
}
