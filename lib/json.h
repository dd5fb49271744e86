/* See LICENSE. A strict JSON reader over jsmn, and a bounded JSON writer over a buf. */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>

/*
 * jsmn is header-only and its token layout depends on these macros, so they are set here,
 * once, for every file that sees a jsmntok_t. Parent links make jsmn's comma and bracket
 * handling cheap instead of a backwards scan per comma; strict mode keeps it from taking
 * any bare word as a primitive. Only lib/json.c defines JSON_JSMN_IMPL and so compiles
 * jsmn's code (as static functions); everyone else gets the declarations only.
 */
#if defined(JSMN_H) && !defined(JSMN_PARENT_LINKS)
#error "include json.h before jsmn.h: the token layout must match lib/json.c"
#endif
#ifndef JSMN_STRICT
#define JSMN_STRICT
#endif
#ifndef JSMN_PARENT_LINKS
#define JSMN_PARENT_LINKS
#endif
#ifndef JSON_JSMN_IMPL
#define JSMN_HEADER
#endif
#include "jsmn.h"

#include "buf.h"

/*
 * Reader caps. jsmn keeps offsets in an int, so a longer document is refused as too large.
 * Nesting is capped because jsmn walks up the open containers at each closing bracket,
 * which is quadratic in the depth; real payloads nest a handful of levels.
 */
#define JSON_MAXLEN	0x7fffffffUL
#define JSON_MAXDEPTH	64

/*
 * The most tokens a document of n bytes can need. Each value after the first costs at
 * least two bytes, itself and a comma, colon or bracket, so n bytes hold at most
 * (n + 1) / 2 tokens; "[1,1,1]" is the worst case. A token is 20 bytes, so a caller that
 * cannot afford this many picks a smaller array and answers JSON_ENOMEM with "too large".
 */
#define JSON_TOKS_MAX(n)	((n) / 2 + 1)

/* json_parse results. */
enum {
	JSON_OK = 0,
	JSON_EINVAL = -1,	/* not valid JSON */
	JSON_EPART = -2,	/* valid so far, but the text ends too soon */
	JSON_ENOMEM = -3,	/* more tokens than the caller's array holds, or too long */
	JSON_EDEPTH = -4	/* nested deeper than JSON_MAXDEPTH */
};

/* json_type results; JSMN_PRIMITIVE is split into what it really is. */
enum {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOL,
	JSON_NULL
};

/*
 * A parsed document. It borrows the text and the caller's token array, so both must
 * outlive it; the reader never allocates. Token 0 is the root, tokens are in document
 * order, and a container's members follow it: an array's elements one subtree after the
 * other, an object's as key, value, key, value. json_next() steps over a subtree.
 */
struct json {
	const char	*s;
	size_t		 len;
	jsmntok_t	*tok;
	int		 ntok;		/* tokens used; 0 after a failed parse */
};

int		 json_parse(struct json *, const char *, size_t, jsmntok_t *, unsigned);
int		 json_parse_top(struct json *, const char *, size_t, jsmntok_t *, unsigned);
const char	*json_strerror(int);

int		 json_type(const struct json *, int);
int		 json_size(const struct json *, int);
int		 json_next(const struct json *, int);
int		 json_get(const struct json *, int, const char *);
int		 json_at(const struct json *, int, unsigned);
int		 json_path(const struct json *, int, const char *);

int		 json_str(const struct json *, int, char *, size_t, size_t *);
char		*json_strdup(const struct json *, int);
int		 json_streq(const struct json *, int, const char *);
int		 json_int(const struct json *, int, long long *);
int		 json_bool(const struct json *, int, int *);
int		 json_is_null(const struct json *, int);
const char	*json_raw(const struct json *, int, size_t *);

/*
 * The writer appends one JSON value to a buf, inserting commas and colons itself. The
 * first failure sticks: later calls do nothing and return -1, and jw_error() or
 * jw_finish() reports it, so a caller can write a whole document and check once. A
 * failed call takes back what it had appended, so the buf never holds half a token,
 * but after an error the document is incomplete and must be thrown away.
 */
#define JW_MAXDEPTH	32

struct jw {
	struct buf	*b;
	int		 err;			/* first errno, or 0 */
	int		 depth;			/* open containers */
	unsigned char	 lvl[JW_MAXDEPTH + 1];	/* [0] is the top level */
};

void	 jw_init(struct jw *, struct buf *);
int	 jw_obj_open(struct jw *);
int	 jw_obj_close(struct jw *);
int	 jw_arr_open(struct jw *);
int	 jw_arr_close(struct jw *);
int	 jw_key(struct jw *, const char *);
int	 jw_str(struct jw *, const char *);
int	 jw_strn(struct jw *, const char *, size_t);
int	 jw_int(struct jw *, long long);
int	 jw_uint(struct jw *, unsigned long long);
int	 jw_double(struct jw *, double);
int	 jw_bool(struct jw *, int);
int	 jw_null(struct jw *);
int	 jw_raw(struct jw *, const char *, size_t);
int	 jw_error(const struct jw *);
/* S as a JSON string, quotes included, with no writer state: for a caller's own layout. */
int	 json_escape(struct buf *, const char *, size_t);
int	 jw_finish(struct jw *);

#endif
