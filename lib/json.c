/* See LICENSE. A strict JSON reader over jsmn, and a bounded JSON writer over a buf. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * This is the one file that compiles jsmn's code. JSMN_STATIC keeps jsmn_parse private to
 * it, so no other module can bypass the validation below, and another copy of jsmn linked
 * into the same program cannot clash with ours.
 */
#define JSON_JSMN_IMPL
#define JSMN_STATIC
#include "json.h"

#define ISDIGIT(c)	((c) >= '0' && (c) <= '9')
#define ISWS(c)		((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

/* Validator states: what the next non-blank byte may be. */
enum {
	V_VALUE,	/* any value */
	V_FIRST,	/* a value or ']' right after '[' */
	V_KEY,		/* a key, after ',' in an object */
	V_FIRSTKEY,	/* a key or '}' right after '{' */
	V_AFTER		/* ',' or the closing bracket, after a value */
};

/* Writer level flags. */
#define L_OBJ	0x01
#define L_ARR	0x02
#define L_ITEM	0x04	/* something was written at this level */
#define L_VAL	0x08	/* an object's key was written and its value is due */

static size_t
skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && ISWS(s[i]))
		i++;
	return i;
}

/*
 * Length of the well-formed UTF-8 sequence at p, of which n > 0 bytes are available, by
 * Unicode's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF. An
 * ill-formed sequence gives 0, with *bad set to the length of its maximal ill-formed
 * subpart (at least 1, the unit that gets one U+FFFD) and *cut set when that subpart is
 * a good start that the end of the input cut short.
 */
static size_t
utf8_len(const unsigned char *p, size_t n, size_t *bad, int *cut)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	*cut = 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 1;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n) {
			*cut = 1;
			*bad = i;
			return 0;
		}
		if (p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

static int
utf8_put(unsigned long cp, char *u)
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The value of four hex digits at p, or -1 if one is not a hex digit. */
static long
hex4(const char *p)
{
	long v = 0;
	int i, c;

	for (i = 0; i < 4; i++) {
		c = (unsigned char)p[i];
		if (ISDIGIT(c))
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		v = v << 4 | c;
	}
	return v;
}

/*
 * Check the \uXXXX escape whose backslash is at s[i], which may be cut short by the
 * end of the text. A digit that is there must be a hex digit, so "\u12" at the end is
 * truncated but "\u1x" is malformed.
 */
static int
scan_u(const char *s, size_t len, size_t i, long *cp)
{
	size_t k;

	for (k = i + 2; k < i + 6; k++) {
		if (k >= len)
			return JSON_EPART;
		if (!ISDIGIT(s[k]) && !(s[k] >= 'a' && s[k] <= 'f') &&
		    !(s[k] >= 'A' && s[k] <= 'F'))
			return JSON_EINVAL;
	}
	*cp = hex4(s + i + 2);
	return JSON_OK;
}

/*
 * Check the string whose opening quote is at s[*ip] and move past its closing quote.
 * jsmn lets control characters, bad UTF-8 and unpaired surrogate escapes through; we do
 * not, so every string a caller reads decodes to valid UTF-8.
 */
#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static int
scan_str(const char *s, size_t len, size_t *ip)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = *ip + 1, n, bad;
	long cp, lo;
	int cut, r;

	for (;;) {
		/*
		 * Webhook bodies are mostly long runs of plain ASCII inside strings: step over
		 * them 8 bytes at a time, stopping at any byte that needs a closer look (a
		 * quote, a backslash, a control byte, or one with the high bit set).
		 */
#ifdef __SSE2__
		/*
		 * 16 at a time where SSE2 is (every x86-64): a signed compare with 0x20
		 * catches the control bytes and, being negative, every byte from 0x80.
		 */
		while (i + 16 <= len) {
			__m128i v = _mm_loadu_si128((const __m128i *)(u + i));
			__m128i m = _mm_or_si128(_mm_or_si128(
			    _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
			    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
			    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
			int bits = _mm_movemask_epi8(m);

			if (bits != 0) {
				i += (size_t)__builtin_ctz((unsigned)bits);
				break;
			}
			i += 16;
		}
#endif
		while (i + 8 <= len) {
			uint64_t v, q, b;

			memcpy(&v, u + i, 8);
			q = v ^ (ONES * '"');
			b = v ^ (ONES * '\\');
			if ((((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v) |
			    v) & HIGHS)
				break;
			i += 8;
		}
		if (i >= len)
			return JSON_EPART;
		if (u[i] == '"')
			break;
		if (u[i] < 0x20)
			return JSON_EINVAL;
		if (u[i] >= 0x80) {
			if ((n = utf8_len(u + i, len - i, &bad, &cut)) == 0)
				return cut ? JSON_EPART : JSON_EINVAL;
			i += n;
			continue;
		}
		if (u[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return JSON_EPART;
		switch (s[i + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			i += 2;
			continue;
		case 'u':
			break;
		default:
			return JSON_EINVAL;
		}
		if ((r = scan_u(s, len, i, &cp)) != JSON_OK)
			return r;
		i += 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return JSON_EINVAL;
		if (cp < 0xd800 || cp > 0xdbff)
			continue;
		/* A high surrogate is only half a character: its low half must follow. */
		if (i >= len)
			return JSON_EPART;
		if (s[i] != '\\')
			return JSON_EINVAL;
		if (i + 1 >= len)
			return JSON_EPART;
		if (s[i + 1] != 'u')
			return JSON_EINVAL;
		if ((r = scan_u(s, len, i, &lo)) != JSON_OK)
			return r;
		if (lo < 0xdc00 || lo > 0xdfff)
			return JSON_EINVAL;
		i += 6;
	}
	*ip = i + 1;
	return JSON_OK;
}

/* RFC 8259 numbers only: no leading zeros, no bare '.', no '+' sign, digits after e. */
static int
scan_num(const char *s, size_t len, size_t *ip)
{
	size_t i = *ip;

	if (s[i] == '-' && ++i >= len)
		return JSON_EPART;
	if (s[i] == '0')
		i++;
	else if (ISDIGIT(s[i])) {
		while (i < len && ISDIGIT(s[i]))
			i++;
	} else
		return JSON_EINVAL;
	if (i < len && s[i] == '.') {
		if (++i >= len)
			return JSON_EPART;
		if (!ISDIGIT(s[i]))
			return JSON_EINVAL;
		while (i < len && ISDIGIT(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i >= len)
			return JSON_EPART;
		if ((s[i] == '+' || s[i] == '-') && ++i >= len)
			return JSON_EPART;
		if (!ISDIGIT(s[i]))
			return JSON_EINVAL;
		while (i < len && ISDIGIT(s[i]))
			i++;
	}
	*ip = i;
	return JSON_OK;
}

static int
scan_lit(const char *s, size_t len, size_t *ip, const char *lit)
{
	size_t i = *ip;

	for (; *lit != '\0'; lit++, i++) {
		if (i >= len)
			return JSON_EPART;
		if (s[i] != *lit)
			return JSON_EINVAL;
	}
	*ip = i;
	return JSON_OK;
}

/*
 * Check the whole text against RFC 8259 before jsmn sees it. jsmn, even in strict mode,
 * takes "[1 2]", "[1,]", "{\"a\"}" and several roots in a row, stops at a NUL byte, and
 * spends time quadratic in the nesting depth; one linear pass with a bounded stack
 * rules all of that out and tells a cut-off text from a wrong one.
 */
/*
 * The tokens json_parse_top() wants: the root object's and its members' only. Nested
 * containers are one token each, with no children.
 */
struct top {
	jsmntok_t	*tok;
	int		 cap;
	int		 n;
	int		 open;		/* the depth-1 container being skipped, or -1 */
	long		 all;		/* tokens jsmn would have made: the same cap holds */
};

static int
top_emit(struct top *t, jsmntype_t type, size_t start, size_t end, int parent)
{
	jsmntok_t *k;

	if (t->n >= t->cap)
		return JSON_ENOMEM;
	k = &t->tok[t->n++];
	k->type = type;
	k->start = (int)start;
	k->end = (int)end;
	k->size = 0;
	k->parent = parent;
	return JSON_OK;
}

/* A container closed at END, leaving DEPTH open: the root, or a member being skipped. */
static void
top_close(struct top *t, int depth, size_t end)
{
	if (depth == 0)
		t->tok[0].end = (int)end;
	else if (t->open >= 0) {
		t->tok[t->open].end = (int)end;
		t->open = -1;
	}
}

static int
validate(const char *s, size_t len, struct top *top)
{
	char stack[JSON_MAXDEPTH];
	size_t i = 0, v;
	int depth = 0, state = V_VALUE, r, key = 0;
	char c;

	for (;;) {
		i = skip_ws(s, len, i);
		if (i >= len)
			return state == V_AFTER && depth == 0 ? JSON_OK : JSON_EPART;
		c = s[i];
		switch (state) {
		case V_FIRSTKEY:
			if (c == '}') {
				depth--;
				i++;
				state = V_AFTER;
				if (top != NULL && depth <= 1)
					top_close(top, depth, i);
				break;
			}
			/* FALLTHROUGH */
		case V_KEY:
			if (c != '"')
				return JSON_EINVAL;
			v = i;
			if ((r = scan_str(s, len, &i)) != JSON_OK)
				return r;
			if (top != NULL && ++top->all > top->cap)
				return JSON_ENOMEM;
			if (top != NULL && depth == 1) {
				if ((r = top_emit(top, JSMN_STRING, v + 1, i - 1, 0)) != JSON_OK)
					return r;
				key = top->n - 1;
				top->tok[key].size = 1;
				top->tok[0].size++;
			}
			i = skip_ws(s, len, i);
			if (i >= len)
				return JSON_EPART;
			if (s[i] != ':')
				return JSON_EINVAL;
			i++;
			state = V_VALUE;
			break;
		case V_FIRST:
			if (c == ']') {
				depth--;
				i++;
				state = V_AFTER;
				if (top != NULL && depth <= 1)
					top_close(top, depth, i);
				break;
			}
			/* FALLTHROUGH */
		case V_VALUE:
			if (top != NULL && ++top->all > top->cap)
				return JSON_ENOMEM;
			if (c == '{' || c == '[') {
				if (depth == JSON_MAXDEPTH)
					return JSON_EDEPTH;
				if (top != NULL && depth <= 1) {
					if ((r = top_emit(top, c == '{' ? JSMN_OBJECT : JSMN_ARRAY,
					    i, i, depth == 0 ? -1 : key)) != JSON_OK)
						return r;
					top->open = top->n - 1;
				}
				stack[depth++] = c;
				i++;
				state = c == '{' ? V_FIRSTKEY : V_FIRST;
				break;
			}
			v = i;
			if (c == '"')
				r = scan_str(s, len, &i);
			else if (c == '-' || ISDIGIT(c))
				r = scan_num(s, len, &i);
			else if (c == 't')
				r = scan_lit(s, len, &i, "true");
			else if (c == 'f')
				r = scan_lit(s, len, &i, "false");
			else if (c == 'n')
				r = scan_lit(s, len, &i, "null");
			else
				return JSON_EINVAL;
			if (r != JSON_OK)
				return r;
			if (top != NULL && depth == 1 && (r = c == '"' ?
			    top_emit(top, JSMN_STRING, v + 1, i - 1, key) :
			    top_emit(top, JSMN_PRIMITIVE, v, i, key)) != JSON_OK)
				return r;
			state = V_AFTER;
			break;
		case V_AFTER:
			/* Anything after a complete root value is trailing garbage. */
			if (depth == 0)
				return JSON_EINVAL;
			if (c == ',')
				state = stack[depth - 1] == '{' ? V_KEY : V_VALUE;
			else if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
				depth--;
				if (top != NULL && depth <= 1)
					top_close(top, depth, i + 1);
			} else
				return JSON_EINVAL;
			i++;
			break;
		}
	}
}

int
json_parse(struct json *j, const char *s, size_t len, jsmntok_t *tok, unsigned ntoks)
{
	jsmn_parser p;
	size_t i, e;
	int r;

	j->s = s;
	j->len = len;
	j->tok = tok;
	j->ntok = 0;
	if (len > JSON_MAXLEN)
		return JSON_ENOMEM;
	if ((r = validate(s, len, NULL)) != JSON_OK)
		return r;
	/* Token indexes are ints, and jsmn takes a NULL array as a request to count. */
	if (tok == NULL)
		ntoks = 0;
	if (ntoks > INT_MAX)
		ntoks = INT_MAX;
	i = skip_ws(s, len, 0);
	if (s[i] != '{' && s[i] != '[' && s[i] != '"') {
		/*
		 * jsmn's strict mode wants a delimiter after a primitive, so it would call
		 * a bare "42" cut short. The text is valid, so its one token is easy to
		 * fill in here.
		 */
		if (ntoks < 1)
			return JSON_ENOMEM;
		for (e = i; e < len && !ISWS(s[e]); e++)
			;
		tok[0].type = JSMN_PRIMITIVE;
		tok[0].start = (int)i;
		tok[0].end = (int)e;
		tok[0].size = 0;
		tok[0].parent = -1;
		j->ntok = 1;
		return JSON_OK;
	}
	if (ntoks < 1)
		return JSON_ENOMEM;
	jsmn_init(&p);
	r = jsmn_parse(&p, s, len, tok, ntoks);
	if (r == JSMN_ERROR_NOMEM)
		return JSON_ENOMEM;
	/* Valid text must give one tree; if jsmn disagrees, trust neither. */
	if (r < 1)
		return JSON_EINVAL;
	j->ntok = r;
	if (json_next(j, 0) != r) {
		j->ntok = 0;
		return JSON_EINVAL;
	}
	return JSON_OK;
}

/*
 * json_parse for a reader of top-level members only: the whole text is checked just as
 * thoroughly, and the token cap counts every token json_parse would make, but jsmn is not
 * run. The tokens are the root object, its keys and its values; a value that is itself
 * an object or array is one token with no members (json_get and json_at find nothing in
 * it, json_raw gives its text). One pass instead of three, for the deliveries whose
 * handling reads nothing deeper; bench/hookd measures the difference.
 */
int
json_parse_top(struct json *j, const char *s, size_t len, jsmntok_t *tok, unsigned ntoks)
{
	struct top top;
	size_t i;
	int r;

	i = skip_ws(s, len, 0);
	if (i >= len || s[i] != '{')
		return json_parse(j, s, len, tok, ntoks);
	j->s = s;
	j->len = len;
	j->tok = tok;
	j->ntok = 0;
	if (len > JSON_MAXLEN)
		return JSON_ENOMEM;
	if (tok == NULL)
		ntoks = 0;
	top.tok = tok;
	top.cap = ntoks > INT_MAX ? INT_MAX : (int)ntoks;
	top.n = 0;
	top.open = -1;
	top.all = 0;
	if ((r = validate(s, len, &top)) != JSON_OK)
		return r;
	j->ntok = top.n;
	return JSON_OK;
}

const char *
json_strerror(int e)
{
	switch (e) {
	case JSON_OK:
		return "success";
	case JSON_EINVAL:
		return "malformed JSON";
	case JSON_EPART:
		return "truncated JSON";
	case JSON_ENOMEM:
		return "JSON document too large";
	case JSON_EDEPTH:
		return "JSON nested too deeply";
	}
	return "unknown JSON error";
}

int
json_type(const struct json *j, int t)
{
	if (j == NULL || t < 0 || t >= j->ntok)
		return -1;
	switch (j->tok[t].type) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	case JSMN_PRIMITIVE:
		switch (j->s[j->tok[t].start]) {
		case 't':
		case 'f':
			return JSON_BOOL;
		case 'n':
			return JSON_NULL;
		}
		return JSON_NUMBER;
	default:
		break;
	}
	return -1;
}

/* Elements of an array or members of an object; -1 for anything else. */
int
json_size(const struct json *j, int t)
{
	int type = json_type(j, t);

	if (type != JSON_OBJECT && type != JSON_ARRAY)
		return -1;
	return j->tok[t].size;
}

/*
 * The token after t's subtree; it may be j->ntok, the end. Every token accounts for its
 * own size in children still to step over, so one forward pass finds the end. A key's
 * subtree holds its value.
 */
int
json_next(const struct json *j, int t)
{
	long pending = 1;

	if (json_type(j, t) == -1)
		return -1;
	while (pending > 0 && t < j->ntok)
		pending += (long)j->tok[t++].size - 1;
	return t;
}

/*
 * Decode one character of a string token's body at *pp into u, and advance. The body was
 * validated by json_parse, but every bound is still checked so that a damaged token can
 * only fail. Returns the number of bytes, or -1.
 */
static int
str_getc(const char **pp, const char *e, char *u)
{
	const char *p = *pp;
	long cp, lo;

	if (*p != '\\') {
		u[0] = *p;
		*pp = p + 1;
		return 1;
	}
	if (e - p < 2)
		return -1;
	*pp = p + 2;
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
		u[0] = p[1];
		return 1;
	case 'b':
		u[0] = '\b';
		return 1;
	case 'f':
		u[0] = '\f';
		return 1;
	case 'n':
		u[0] = '\n';
		return 1;
	case 'r':
		u[0] = '\r';
		return 1;
	case 't':
		u[0] = '\t';
		return 1;
	case 'u':
		break;
	default:
		return -1;
	}
	if (e - p < 6 || (cp = hex4(p + 2)) == -1)
		return -1;
	p += 6;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (e - p < 6 || p[0] != '\\' || p[1] != 'u' ||
		    (lo = hex4(p + 2)) < 0xdc00 || lo > 0xdfff)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	*pp = p;
	return utf8_put((unsigned long)cp, u);
}

/*
 * Unescape string token t into out, storing only what fits in cap bytes but counting
 * everything in *total, so that a first call with cap 0 measures. *nul says whether the
 * value holds U+0000, which a C string would silently cut.
 */
static int
str_decode(const struct json *j, int t, char *out, size_t cap, size_t *total, int *nul)
{
	const char *p, *e;
	char u[4];
	size_t off = 0;
	int k;

	*nul = 0;
	if (json_type(j, t) != JSON_STRING) {
		errno = EINVAL;
		return -1;
	}
	p = j->s + j->tok[t].start;
	e = j->s + j->tok[t].end;
	while (p < e) {
		if ((k = str_getc(&p, e, u)) == -1) {
			errno = EINVAL;
			return -1;
		}
		if (k == 1 && u[0] == '\0')
			*nul = 1;
		if (off + (size_t)k <= cap)
			memcpy(out + off, u, (size_t)k);
		off += (size_t)k;
	}
	*total = off;
	return 0;
}

/* Compare string token t, unescaped, with the n bytes at lit. */
static int
str_eq(const struct json *j, int t, const char *lit, size_t n)
{
	const char *p, *e;
	char u[4];
	size_t off = 0;
	int k;

	if (json_type(j, t) != JSON_STRING)
		return 0;
	p = j->s + j->tok[t].start;
	e = j->s + j->tok[t].end;
	while (p < e) {
		if ((k = str_getc(&p, e, u)) == -1)
			return 0;
		if (n - off < (size_t)k || memcmp(lit + off, u, (size_t)k) != 0)
			return 0;
		off += (size_t)k;
	}
	return off == n;
}

static int
get_n(const struct json *j, int obj, const char *key, size_t n)
{
	int k, left;

	if (json_type(j, obj) != JSON_OBJECT)
		return -1;
	for (k = obj + 1, left = j->tok[obj].size; left > 0 && k > 0; left--) {
		if (str_eq(j, k, key, n))
			return k + 1;
		k = json_next(j, k + 1);
	}
	return -1;
}

/* The value for key in object obj. With duplicate keys the first one wins. */
int
json_get(const struct json *j, int obj, const char *key)
{
	return get_n(j, obj, key, strlen(key));
}

int
json_at(const struct json *j, int arr, unsigned i)
{
	int t;

	if (json_type(j, arr) != JSON_ARRAY || i >= (unsigned)j->tok[arr].size)
		return -1;
	for (t = arr + 1; i > 0 && t > 0; i--)
		t = json_next(j, t);
	return t;
}

/*
 * Follow a dotted path such as "pull_request.head.ref" from t: a component looks up a
 * key in an object or, written in decimal, an index in an array. Keys that contain a dot
 * cannot be named this way; use json_get. An empty path is t itself.
 */
int
json_path(const struct json *j, int t, const char *path)
{
	const char *p = path;
	unsigned long idx;
	size_t n, k;

	if (json_type(j, t) == -1)
		return -1;
	while (*p != '\0') {
		n = strcspn(p, ".");
		if (n == 0)
			return -1;
		switch (json_type(j, t)) {
		case JSON_OBJECT:
			t = get_n(j, t, p, n);
			break;
		case JSON_ARRAY:
			/* Nine digits are past any array and cannot wrap an unsigned. */
			if (n > 9)
				return -1;
			for (idx = 0, k = 0; k < n; k++) {
				if (!ISDIGIT(p[k]))
					return -1;
				idx = idx * 10 + (unsigned long)(p[k] - '0');
			}
			t = json_at(j, t, (unsigned)idx);
			break;
		default:
			return -1;
		}
		if (t == -1)
			return -1;
		p += n;
		if (*p == '.' && *++p == '\0')
			return -1;
	}
	return t;
}

/*
 * Unescape string token t into out as a NUL-terminated string. *outlen gets its length,
 * or on ENOBUFS the length it needs. A value holding U+0000 is only handed out when
 * outlen is given, since a caller using out as a C string would see it cut short.
 */
int
json_str(const struct json *j, int t, char *out, size_t cap, size_t *outlen)
{
	size_t total;
	int nul;

	if (cap > 0)
		out[0] = '\0';
	if (str_decode(j, t, out, cap > 0 ? cap - 1 : 0, &total, &nul) == -1)
		return -1;
	if (outlen != NULL)
		*outlen = total;
	if (total >= cap) {
		if (cap > 0)
			out[0] = '\0';
		errno = ENOBUFS;
		return -1;
	}
	if (nul && outlen == NULL) {
		out[0] = '\0';
		errno = EINVAL;
		return -1;
	}
	out[total] = '\0';
	return 0;
}

/* Like json_str into fresh memory; the caller frees it. U+0000 is refused (EINVAL). */
char *
json_strdup(const struct json *j, int t)
{
	size_t total;
	char *p;
	int nul;

	if (str_decode(j, t, NULL, 0, &total, &nul) == -1)
		return NULL;
	if (nul) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = malloc(total + 1)) == NULL)
		return NULL;
	if (str_decode(j, t, p, total, &total, &nul) == -1) {
		free(p);
		return NULL;
	}
	p[total] = '\0';
	return p;
}

/* Whether t is a string whose unescaped value is lit. */
int
json_streq(const struct json *j, int t, const char *lit)
{
	return str_eq(j, t, lit, strlen(lit));
}

/*
 * An integer written without fraction or exponent, as ids and counts are; "1.0" and
 * "1e3" are EINVAL even though their value is whole, and out of range is ERANGE.
 */
int
json_int(const struct json *j, int t, long long *out)
{
	const char *p, *e;
	unsigned long long v = 0, lim;
	unsigned d;
	int neg;

	if (json_type(j, t) != JSON_NUMBER) {
		errno = EINVAL;
		return -1;
	}
	p = j->s + j->tok[t].start;
	e = j->s + j->tok[t].end;
	if ((neg = *p == '-'))
		p++;
	if (p == e || memchr(p, '.', (size_t)(e - p)) != NULL ||
	    memchr(p, 'e', (size_t)(e - p)) != NULL ||
	    memchr(p, 'E', (size_t)(e - p)) != NULL) {
		errno = EINVAL;
		return -1;
	}
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; p < e; p++) {
		if (!ISDIGIT(*p)) {
			errno = EINVAL;
			return -1;
		}
		d = (unsigned)(*p - '0');
		if (v > (lim - d) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + d;
	}
	if (!neg)
		*out = (long long)v;
	else if (v == (unsigned long long)LLONG_MAX + 1)
		*out = LLONG_MIN;
	else
		*out = -(long long)v;
	return 0;
}

int
json_bool(const struct json *j, int t, int *out)
{
	if (json_type(j, t) != JSON_BOOL) {
		errno = EINVAL;
		return -1;
	}
	*out = j->s[j->tok[t].start] == 't';
	return 0;
}

int
json_is_null(const struct json *j, int t)
{
	return json_type(j, t) == JSON_NULL;
}

/* The text of t as written, quotes included for a string, e.g. to copy it with jw_raw. */
const char *
json_raw(const struct json *j, int t, size_t *len)
{
	int type, q;

	if ((type = json_type(j, t)) == -1)
		return NULL;
	q = type == JSON_STRING;
	*len = (size_t)(j->tok[t].end - j->tok[t].start + 2 * q);
	return j->s + j->tok[t].start - q;
}

void
jw_init(struct jw *jw, struct buf *b)
{
	memset(jw, 0, sizeof(*jw));
	jw->b = b;
}

/* Remember the first error, and take back what the failing call had appended. */
static int
jw_fail(struct jw *jw, int e, size_t mark)
{
	if (jw->err == 0)
		jw->err = e;
	if (jw->b->len > mark) {
		jw->b->len = mark;
		jw->b->p[mark] = '\0';
	}
	errno = jw->err;
	return -1;
}

/*
 * Start a value at the current level: after its key in an object, after a comma if an
 * array already has an element, and only once at the top.
 */
static int
jw_begin(struct jw *jw, size_t *mark)
{
	unsigned char *l = &jw->lvl[jw->depth];

	*mark = jw->b->len;
	if (jw->err) {
		errno = jw->err;
		return -1;
	}
	if (*l & L_OBJ) {
		if (!(*l & L_VAL))
			return jw_fail(jw, EINVAL, *mark);
		*l &= (unsigned char)~L_VAL;
		return 0;
	}
	if (*l & L_ITEM) {
		if (!(*l & L_ARR))
			return jw_fail(jw, EINVAL, *mark);
		if (buf_addc(jw->b, ',') == -1)
			return jw_fail(jw, errno, *mark);
	}
	*l |= L_ITEM;
	return 0;
}

static int
jw_put(struct jw *jw, const char *s, size_t n)
{
	size_t mark;

	if (jw_begin(jw, &mark) == -1)
		return -1;
	if (buf_add(jw->b, s, n) == -1)
		return jw_fail(jw, errno, mark);
	return 0;
}

/*
 * Append s as a JSON string. Quotes, backslashes and control characters are escaped;
 * '/' and DEL need not be and are not. Bytes that are not UTF-8 become U+FFFD, one per
 * maximal ill-formed subpart as Unicode recommends, so the output is always valid JSON
 * and a reader cannot be confused about where a character ends.
 */
int
json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *e = p + n, *run;
	char esc[6];
	size_t k, bad = 1, elen;
	int cut;

	if (buf_addc(b, '"') == -1)
		return -1;
	for (run = p; p < e; ) {
		if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
			p++;
			continue;
		}
		if (*p >= 0x80 && (k = utf8_len(p, (size_t)(e - p), &bad, &cut)) > 0) {
			p += k;
			continue;
		}
		if (p > run && buf_add(b, run, (size_t)(p - run)) == -1)
			return -1;
		esc[0] = '\\';
		elen = 2;
		switch (*p) {
		case '"':
		case '\\':
			esc[1] = (char)*p;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			if (*p >= 0x80) {
				if (buf_add(b, "\xef\xbf\xbd", 3) == -1)
					return -1;
				p += bad;
				run = p;
				continue;
			}
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			elen = 6;
			break;
		}
		if (buf_add(b, esc, elen) == -1)
			return -1;
		run = ++p;
	}
	if (p > run && buf_add(b, run, (size_t)(p - run)) == -1)
		return -1;
	return buf_addc(b, '"');
}

static int
jw_open(struct jw *jw, unsigned char kind, char c)
{
	size_t mark;

	if (jw_begin(jw, &mark) == -1)
		return -1;
	if (jw->depth == JW_MAXDEPTH)
		return jw_fail(jw, EOVERFLOW, mark);
	if (buf_addc(jw->b, c) == -1)
		return jw_fail(jw, errno, mark);
	jw->lvl[++jw->depth] = kind;
	return 0;
}

static int
jw_close(struct jw *jw, unsigned char kind, char c)
{
	unsigned char l = jw->lvl[jw->depth];
	size_t mark = jw->b->len;

	if (jw->err) {
		errno = jw->err;
		return -1;
	}
	if (jw->depth == 0 || !(l & kind) || (l & L_VAL))
		return jw_fail(jw, EINVAL, mark);
	if (buf_addc(jw->b, c) == -1)
		return jw_fail(jw, errno, mark);
	jw->depth--;
	return 0;
}

int
jw_obj_open(struct jw *jw)
{
	return jw_open(jw, L_OBJ, '{');
}

int
jw_obj_close(struct jw *jw)
{
	return jw_close(jw, L_OBJ, '}');
}

int
jw_arr_open(struct jw *jw)
{
	return jw_open(jw, L_ARR, '[');
}

int
jw_arr_close(struct jw *jw)
{
	return jw_close(jw, L_ARR, ']');
}

int
jw_key(struct jw *jw, const char *k)
{
	unsigned char *l = &jw->lvl[jw->depth];
	size_t mark = jw->b->len;

	if (jw->err) {
		errno = jw->err;
		return -1;
	}
	if (!(*l & L_OBJ) || (*l & L_VAL))
		return jw_fail(jw, EINVAL, mark);
	if (((*l & L_ITEM) && buf_addc(jw->b, ',') == -1) ||
	    json_escape(jw->b, k, strlen(k)) == -1 || buf_addc(jw->b, ':') == -1)
		return jw_fail(jw, errno, mark);
	*l |= L_ITEM | L_VAL;
	return 0;
}

/* A NULL string is written as null, which suits optional fields. */
int
jw_str(struct jw *jw, const char *s)
{
	if (s == NULL)
		return jw_null(jw);
	return jw_strn(jw, s, strlen(s));
}

int
jw_strn(struct jw *jw, const char *s, size_t n)
{
	size_t mark;

	if (jw_begin(jw, &mark) == -1)
		return -1;
	if (json_escape(jw->b, s, n) == -1)
		return jw_fail(jw, errno, mark);
	return 0;
}

int
jw_int(struct jw *jw, long long v)
{
	char tmp[32];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%lld", v);
	return jw_put(jw, tmp, (size_t)n);
}

int
jw_uint(struct jw *jw, unsigned long long v)
{
	char tmp[32];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%llu", v);
	return jw_put(jw, tmp, (size_t)n);
}

/*
 * JSON has no NaN or infinity, so those are written as null. Otherwise the shorter of
 * 15 and 17 significant digits that reads back as the same double; %g never gives a
 * form JSON lacks. Our programs never call setlocale, so the decimal point is '.'.
 */
int
jw_double(struct jw *jw, double d)
{
	char tmp[40];
	int n;

	if (!isfinite(d))
		return jw_null(jw);
	n = snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d)
		n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	return jw_put(jw, tmp, (size_t)n);
}

int
jw_bool(struct jw *jw, int v)
{
	return v ? jw_put(jw, "true", 4) : jw_put(jw, "false", 5);
}

int
jw_null(struct jw *jw)
{
	return jw_put(jw, "null", 4);
}

/* Insert text that the caller knows is one valid JSON value; it is not checked. */
int
jw_raw(struct jw *jw, const char *s, size_t n)
{
	size_t mark;

	if (n == 0) {
		if (jw_begin(jw, &mark) == -1)
			return -1;
		return jw_fail(jw, EINVAL, mark);
	}
	return jw_put(jw, s, n);
}

int
jw_error(const struct jw *jw)
{
	return jw->err;
}

/* The document is done: no error so far, one top-level value, every container closed. */
int
jw_finish(struct jw *jw)
{
	if (jw->err) {
		errno = jw->err;
		return -1;
	}
	if (jw->depth != 0 || !(jw->lvl[0] & L_ITEM))
		return jw_fail(jw, EINVAL, jw->b->len);
	return 0;
}
