/* See LICENSE. git subtree split, in process over libgit2, commit id for commit id. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "bearssl_hash.h"
#include "buf.h"
#include "log.h"
#include "sha256.h"
#include "split.h"

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

/*
 * How git-subtree.sh (git 2.39) splits, and so what this file reproduces:
 *
 * - find_existing_splits greps the history of COMMIT for a line "git-subtree-dir: DIR"
 *   (any trailing slashes; DIR is a regex) and reads each match's subject and body with
 *   `read a b junk`: a rejoin or add (mainline M,
 *   split S) maps M and S to S and hides M^ and S^ from the walk; a squash (split only)
 *   maps the squash commit to S. Setting a key twice is fatal.
 * - It then takes `git rev-list --topo-order --reverse --parents COMMIT ^M^ ^S^...` and
 *   processes each commit: skip it when already mapped; process any parent that is neither
 *   mapped nor known to lack the prefix (depth first, with the parents' real parents); then
 *   take the prefix's tree. A commit without it maps to itself if any parent was mapped,
 *   else to nothing. A commit with it maps to a parent whose tree is identical (copy_or_skip
 *   rules) or to a copy made by `git commit-tree` from `git log --format=%an%n%ae%n%aD...%B`.
 * - The answer is the mapping of the last commit processed that had the prefix.
 *
 * The mapping of a commit depends only on its own history and on the seeds (the mappings
 * set by find_existing_splits), never on the order of the walk; only "the last commit with
 * the prefix" does. So when COMMIT has the prefix and is not seeded, the answer is simply
 * the mapping of COMMIT, computed depth first from COMMIT: that is what the cache makes
 * fast. In the other cases (no prefix at the tip, or a seeded tip) the walk order matters
 * and we replay git's exact order, without reading the cache.
 */

#define F_MAPPED	0x01
#define F_NOTREE	0x02
#define F_TREE		0x04
#define F_SEED		0x08

#define CACHE_MAGIC	"orket-split-cache 1"
#define CACHE_TIPS	8

struct ent {
	git_oid		 key;
	git_oid		 val;
	unsigned char	 flags;
	unsigned char	 used;
};

struct omap {
	struct ent	*e;
	size_t		 cap;	/* a power of two, or 0 */
	size_t		 n;
};

struct seed {
	char		*key;	/* as written in the message: usually, not always, 40 hex */
	git_oid		 val;
};

struct seeds {
	struct seed	*s;
	size_t		 n, cap;
	git_oid		*unrev;	/* M^ and S^: hidden from the walk */
	size_t		 nunrev, capunrev;
};

struct oidv {
	git_oid		*v;
	size_t		 n, cap;
};

struct split_cache {
	char		*path;
	char		*prefix;
	char		*enc;		/* the encodings the memo was made with */
	struct omap	 memo;		/* source commit -> mapping, under the seeds below */
	struct oidv	 seedkeys;	/* sorted pairs key,val of the 40-hex seeds */
	struct oidv	 tips;		/* commits whose whole history was grepped */
	struct oidv	 trailers;	/* the commits that matched in those histories */
	int		 dirty;
};

struct newobj {
	char		*data;
	size_t		 len;
};

struct ctx {
	git_repository	*main;		/* the caller's: refs and config */
	git_repository	*repo;		/* over odb: reads, walks, graph */
	git_odb		*odb;		/* the repository's objects, new ones in memory */
	git_odb_backend	*mempack;
	struct newobj	*nobj;		/* what goes into the pack */
	size_t		 nwritten, capobj;
	const char	*prefix;
	char		*commit_enc;	/* i18n.commitEncoding, NULL for UTF-8 */
	char		*out_enc;	/* the log output encoding */
	struct omap	 st;		/* this run: source commit -> mapping */
	struct omap	 trees;		/* split (or mapped) commit -> its root tree */
	git_oid		 latest;
	int		 have_latest;
	char		*err;
	size_t		 errlen;
};

static void
seterr(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
seterr(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

static void
gitfail(struct ctx *c, const char *what)
{
	const git_error *e = git_error_last();

	seterr(c, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

static char *
hex(const git_oid *o, char s[GIT_OID_HEXSZ + 1])
{
	git_oid_tostr(s, GIT_OID_HEXSZ + 1, o);
	return s;
}

/* --- an oid hash map --- */

static size_t
ohash(const git_oid *o)
{
	uint64_t h;

	memcpy(&h, o->id, sizeof(h));
	return (size_t)(h ^ (h >> 29));
}

static void
omap_free(struct omap *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static struct ent *
omap_get(const struct omap *m, const git_oid *k)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = ohash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->e[i].used)
			return NULL;
		if (git_oid_equal(&m->e[i].key, k))
			return &m->e[i];
	}
}

/* The entry for k, created empty (flags 0) if missing; NULL when out of memory. */
static struct ent *
omap_put(struct omap *m, const git_oid *k)
{
	struct ent *e;
	size_t i, j;

	if ((e = omap_get(m, k)) != NULL)
		return e;
	if ((m->n + 1) * 4 >= m->cap * 3) {
		struct omap nm;

		nm.cap = m->cap ? m->cap * 2 : 256;
		nm.n = 0;
		if ((nm.e = calloc(nm.cap, sizeof(*nm.e))) == NULL)
			return NULL;
		for (j = 0; j < m->cap; j++) {
			if (!m->e[j].used)
				continue;
			for (i = ohash(&m->e[j].key) & (nm.cap - 1); nm.e[i].used;
			    i = (i + 1) & (nm.cap - 1))
				;
			nm.e[i] = m->e[j];
			nm.n++;
		}
		free(m->e);
		*m = nm;
	}
	for (i = ohash(k) & (m->cap - 1); m->e[i].used; i = (i + 1) & (m->cap - 1))
		;
	e = &m->e[i];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->used = 1;
	m->n++;
	return e;
}

static int
oidv_add(struct oidv *v, const git_oid *o)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 16;
		git_oid *nv = realloc(v->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = nc;
	}
	v->v[v->n++] = *o;
	return 0;
}

static int
oidv_has(const struct oidv *v, const git_oid *o)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (git_oid_equal(&v->v[i], o))
			return 1;
	return 0;
}

static void
oidv_free(struct oidv *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

/* --- encodings, as git's utf8.c and commit.c see them --- */

static int
enc_is_utf8(const char *e)
{
	if (e == NULL)
		return 1;
	if (strncasecmp(e, "utf", 3) != 0)
		return 0;
	e += 3;
	if (*e == '-')
		e++;
	return strcmp(e, "8") == 0;
}

static int
enc_same(const char *a, const char *b)
{
	if (enc_is_utf8(a) && enc_is_utf8(b))
		return 1;
	return strcasecmp(a, b) == 0;
}

static const char *
enc_fallback(const char *e)
{
	if (enc_is_utf8(e))
		return "UTF-8";
	if (strcasecmp(e, "latin-1") == 0)
		return "ISO-8859-1";
	return e;
}

/*
 * Converts len bytes from one encoding to another into out, as git's reencode_string_len:
 * any failure, including a character the target cannot hold, leaves the text unconverted
 * (musl's iconv replaces such a character and counts it, where glibc's fails: both are a
 * failure here). Returns 0 converted, 1 not converted, -1 out of memory.
 */
static int
reencode(const char *in, size_t len, const char *to, const char *from, struct buf *out)
{
	iconv_t cd;
	char *ip, *op;
	size_t il, ol, r, cap;

	cd = iconv_open(to, from);
	if (cd == (iconv_t)-1)
		cd = iconv_open(enc_fallback(to), enc_fallback(from));
	if (cd == (iconv_t)-1)
		return 1;
	buf_reset(out);
	cap = len * 4 + 16;
	if (buf_reserve(out, cap) == -1) {
		iconv_close(cd);
		return -1;
	}
	ip = (char *)in;
	il = len;
	for (;;) {
		op = out->p + out->len;
		ol = out->cap - 1 - out->len;
		r = iconv(cd, &ip, &il, &op, &ol);
		out->len = (size_t)(op - out->p);
		if (r == (size_t)-1 && errno == E2BIG) {
			if (buf_reserve(out, out->cap) == -1) {
				iconv_close(cd);
				return -1;
			}
			continue;
		}
		break;
	}
	if (r != (size_t)-1) {
		op = out->p + out->len;
		ol = out->cap - 1 - out->len;
		if (iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1)
			r = (size_t)-1;
		else
			out->len = (size_t)(op - out->p);
	}
	iconv_close(cd);
	if (r != 0)
		return 1;
	out->p[out->len] = '\0';
	return 0;
}

/* The first header line "key value" of a raw commit; its value and length, or NULL. */
static const char *
header(const char *raw, size_t len, const char *key, size_t *vlen)
{
	const char *p = raw, *end = raw + len, *eol;
	size_t kl = strlen(key);

	while (p < end) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if (eol == p)
			return NULL;
		if ((size_t)(eol - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == ' ') {
			*vlen = (size_t)(eol - p) - kl - 1;
			return p + kl + 1;
		}
		p = eol + 1;
	}
	return NULL;
}

/*
 * The raw commit re-encoded as `git log` shows it: from its encoding header (UTF-8 when
 * there is none) to the output encoding. The text ends up in out (always NUL-terminated).
 */
static int
log_text(struct ctx *c, const char *raw, size_t len, struct buf *out)
{
	const char *v;
	char from[128];
	size_t vl;
	int r;

	v = header(raw, len, "encoding", &vl);
	if (v != NULL && vl < sizeof(from)) {
		memcpy(from, v, vl);
		from[vl] = '\0';
	} else
		strcpy(from, "UTF-8");
	if (enc_same(from, c->out_enc)) {
		buf_reset(out);
		return buf_add(out, raw, len);
	}
	if ((r = reencode(raw, len, c->out_enc, from, out)) == 1) {
		buf_reset(out);
		return buf_add(out, raw, len);
	}
	return r;
}

/*
 * A byte that does not start a valid UTF-8 sequence, as git's find_invalid_utf8 judges it
 * (no overlong forms, surrogates or non-characters); its offset, or -1.
 */
static long
bad_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char b = s[i];
		unsigned int cp, lo;
		size_t n, k;

		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			n = 1, cp = b & 0x1f, lo = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			n = 2, cp = b & 0x0f, lo = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			n = 3, cp = b & 0x07, lo = 0x10000;
		} else
			return (long)i;
		if (len - i - 1 < n)
			return (long)i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < lo || cp > 0x10ffff || (cp & 0x1ff800) == 0xd800 ||
		    (cp & 0xfffe) == 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef))
			return (long)i;
		i += n + 1;
	}
	return -1;
}

/* commit-tree's fix-up of a buffer that is not UTF-8: each bad byte is taken as Latin-1. */
static int
fix_utf8(struct buf *b)
{
	size_t pos = 0;
	long bad;

	while ((bad = bad_utf8((unsigned char *)b->p + pos, b->len - pos)) >= 0) {
		unsigned char ch;

		pos += (size_t)bad;
		ch = (unsigned char)b->p[pos];
		if (buf_reserve(b, 1) == -1)
			return -1;
		memmove(b->p + pos + 2, b->p + pos + 1, b->len - pos - 1);
		b->p[pos] = (char)(0xc0 + (ch >> 6));
		b->p[pos + 1] = (char)(0x80 + (ch & 0x3f));
		b->len++;
		b->p[b->len] = '\0';
		pos += 2;
	}
	return 0;
}

/* --- the shell's `read`, as dash does it (no -r, default IFS) --- */

/*
 * Reads one line from s at *pos into vars fields (the last one takes the rest of the
 * line): a backslash quotes the next byte, a backslash before a newline joins two lines,
 * and unquoted blanks split fields and are trimmed. Returns 0, or 1 at the end of the
 * input without a newline (the shell's read fails then, after assigning).
 */
static int
sh_read(const char *s, size_t len, size_t *pos, int nvars, struct buf *vars)
{
	struct buf line = BUF_INIT(SIZE_MAX), quoted = BUF_INIT(SIZE_MAX);
	size_t i = *pos, k, end;
	int v, rc = 1;

	for (v = 0; v < nvars; v++)
		buf_reset(&vars[v]);
	while (i < len) {
		char ch = s[i++];

		if (ch == '\n') {
			rc = 0;
			break;
		}
		if (ch == '\\') {
			if (i >= len)
				break;
			ch = s[i++];
			if (ch == '\n')
				continue;
			if (buf_addc(&line, ch) == -1 || buf_addc(&quoted, 1) == -1)
				goto oom;
			continue;
		}
		if (buf_addc(&line, ch) == -1 || buf_addc(&quoted, 0) == -1)
			goto oom;
	}
	*pos = i;
#define BLANK(j) (!quoted.p[j] && (line.p[j] == ' ' || line.p[j] == '\t' || line.p[j] == '\n'))
	k = 0;
	for (v = 0; v < nvars; v++) {
		while (k < line.len && BLANK(k))
			k++;
		if (v == nvars - 1) {
			end = line.len;
			while (end > k && BLANK(end - 1))
				end--;
		} else {
			for (end = k; end < line.len && !BLANK(end); end++)
				;
		}
		if (end > k && buf_add(&vars[v], line.p + k, end - k) == -1)
			goto oom;
		k = end;
	}
#undef BLANK
	for (v = 0; v < nvars; v++)
		if (vars[v].p == NULL && buf_add(&vars[v], "", 0) == -1)
			goto oom;
	buf_free(&line);
	buf_free(&quoted);
	return rc;
oom:
	buf_free(&line);
	buf_free(&quoted);
	return -1;
}

/* --- commits as `git log --format` shows them --- */

struct parsed {
	const char	*author, *committer;	/* header values, in text */
	size_t		 alen, clen;
	size_t		 msg;			/* offset of the message in text */
};

static void
parse_commit_text(const char *t, size_t len, struct parsed *p)
{
	size_t i = 0, eol;

	memset(p, 0, sizeof(*p));
	while (i < len) {
		for (eol = i; eol < len && t[eol] != '\n'; eol++)
			;
		if (eol == i)
			break;
		if (eol - i > 7 && memcmp(t + i, "author ", 7) == 0) {
			p->author = t + i + 7;
			p->alen = eol - i - 7;
		} else if (eol - i > 10 && memcmp(t + i, "committer ", 10) == 0) {
			p->committer = t + i + 10;
			p->clen = eol - i - 10;
		}
		i = eol;
		if (i < len)
			i++;
	}
	p->msg = i < len ? i + 1 : len;
}

struct ident {
	const char	*name, *mail;
	size_t		 nlen, mlen;
	uintmax_t	 when;
	long		 tz;
	int		 dated;		/* 0: git's %aD shows nothing */
};

/* git's split_ident_line, enough of it for %an, %ae and the date. */
static void
split_ident(const char *s, size_t len, struct ident *id)
{
	const char *lt, *gt, *end = s + len, *p, *q;
	char num[32];
	size_t n;

	memset(id, 0, sizeof(*id));
	id->name = s;
	if ((lt = memchr(s, '<', len)) == NULL)
		return;
	for (n = (size_t)(lt - s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
		;
	id->nlen = n;
	if ((gt = memchr(lt, '>', (size_t)(end - lt))) == NULL)
		return;
	id->mail = lt + 1;
	id->mlen = (size_t)(gt - lt - 1);
	/* The date follows the last '>' (an extra '>' in the mail is common enough). */
	for (p = end - 1; *p != '>'; p--)
		;
	for (p++; p < end && isspace((unsigned char)*p); p++)
		;
	for (n = 0; p < end && *p >= '0' && *p <= '9' && n < sizeof(num) - 1; p++)
		num[n++] = *p;
	num[n] = '\0';
	if (n == 0)
		return;
	for (q = p; q < end && isspace((unsigned char)*q); q++)
		;
	if (q >= end || (*q != '+' && *q != '-') || q + 1 >= end || q[1] < '0' || q[1] > '9')
		return;		/* no zone: git shows no date at all, as 0 +0000 */
	errno = 0;
	id->when = strtoumax(num, NULL, 10);
	if (errno != 0)
		return;
	for (n = 0; q < end && n < sizeof(num) - 1 && (n == 0 || (*q >= '0' && *q <= '9')); q++)
		num[n++] = *q;
	num[n] = '\0';
	id->tz = strtol(num, NULL, 10);
	id->dated = 1;
}

static int
crud(unsigned char ch)
{
	return ch <= 32 || strchr(".,:;<>\"\\'", ch) != NULL;
}

/* commit-tree's ident clean-up: no crud at either end, no '<', '>' or newline inside. */
static int
add_without_crud(struct buf *b, const char *s, size_t len)
{
	size_t i;

	while (len > 0 && crud((unsigned char)*s))
		s++, len--;
	while (len > 0 && crud((unsigned char)s[len - 1]))
		len--;
	for (i = 0; i < len; i++)
		if (s[i] != '\n' && s[i] != '<' && s[i] != '>' && buf_addc(b, s[i]) == -1)
			return -1;
	return 0;
}

static int
has_non_crud(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!crud((unsigned char)s[i]))
			return 1;
	return 0;
}

/*
 * The date as it leaves `git log --format=%aD` and comes back through GIT_AUTHOR_DATE:
 * the same instant and zone, the zone written as git writes an int ("%+05d").
 */
static int
add_date(struct buf *b, const struct ident *id)
{
	long tz = id->tz;

	if (!id->dated) {
		/*
		 * An ident without a date gives an empty %aD, so commit-tree stamps the copy
		 * with the current time and zone: git subtree's answer then depends on the
		 * clock, and so does ours.
		 */
		time_t now = time(NULL);
		struct tm tm;
		long off;

		if (localtime_r(&now, &tm) == NULL)
			return -1;
		off = tm.tm_gmtoff / 60;
		return buf_addf(b, "%jd %c%02ld%02ld", (intmax_t)now, off < 0 ? '-' : '+',
		    labs(off) / 60, labs(off) % 60);
	}
	if (tz >= INT_MAX || tz <= INT_MIN)
		tz = 0;
	return buf_addf(b, "%ju %+05d", id->when, (int)tz);
}

static int
add_ident(struct ctx *c, struct buf *b, const char *what, struct buf *name,
    struct buf *mail, const struct ident *id, const git_oid *rev)
{
	char h[GIT_OID_HEXSZ + 1];

	if (name->len == 0 || !has_non_crud(name->p, name->len)) {
		seterr(c, "unable to copy commit %s: its %s name is empty or only punctuation"
		    " (git commit-tree refuses it too)", hex(rev, h), what);
		return -1;
	}
	if (buf_adds(b, what) == -1 || buf_addc(b, ' ') == -1 ||
	    add_without_crud(b, name->p, name->len) == -1 || buf_adds(b, " <") == -1 ||
	    add_without_crud(b, mail->p, mail->len) == -1 || buf_adds(b, "> ") == -1 ||
	    add_date(b, id) == -1 || buf_addc(b, '\n') == -1) {
		seterr(c, "out of memory");
		return -1;
	}
	return 0;
}

/* copy_commit: the commit `git commit-tree TREE -p ...` makes from REV's log entry. */
static int
copy_commit(struct ctx *c, const git_oid *rev, const git_oid *tree, const git_oid *par,
    size_t npar, git_oid *out)
{
	struct buf text = BUF_INIT(SIZE_MAX), fmt = BUF_INIT(SIZE_MAX);
	struct buf nb = BUF_INIT(SIZE_MAX), v[6];
	struct ident a, cm;
	struct parsed p;
	git_odb_object *obj = NULL;
	char h[GIT_OID_HEXSZ + 1];
	size_t i, pos, mlen;
	int rc = -1;

	for (i = 0; i < 6; i++)
		buf_init(&v[i], SIZE_MAX);
	if (git_odb_read(&obj, c->odb, rev) < 0) {
		gitfail(c, "unable to read commit");
		goto out;
	}
	if (log_text(c, git_odb_object_data(obj), git_odb_object_size(obj), &text) == -1)
		goto oom;
	parse_commit_text(text.p, text.len, &p);
	split_ident(p.author ? p.author : "", p.alen, &a);
	split_ident(p.committer ? p.committer : "", p.clen, &cm);

	/*
	 * The shell reads six lines of `%an%n%ae%n%aD%n%cn%n%ce%n%cD%n%B` with `read` and
	 * hands the rest to commit-tree as the message. The dates are put back as they were
	 * (the RFC 2822 round trip keeps instant and zone); the names and mails go through
	 * `read` for real, because it trims blanks and eats backslashes.
	 */
	if (buf_add(&fmt, a.name ? a.name : "", a.nlen) == -1 || buf_addc(&fmt, '\n') == -1 ||
	    buf_add(&fmt, a.mail ? a.mail : "", a.mlen) == -1 || buf_addc(&fmt, '\n') == -1 ||
	    buf_adds(&fmt, "date\n") == -1 ||
	    buf_add(&fmt, cm.name ? cm.name : "", cm.nlen) == -1 || buf_addc(&fmt, '\n') == -1 ||
	    buf_add(&fmt, cm.mail ? cm.mail : "", cm.mlen) == -1 || buf_addc(&fmt, '\n') == -1 ||
	    buf_adds(&fmt, "date\n") == -1)
		goto oom;
	mlen = fmt.len;
	if (p.msg < text.len && buf_add(&fmt, text.p + p.msg, text.len - p.msg) == -1)
		goto oom;
	pos = 0;
	for (i = 0; i < 6; i++)
		if (sh_read(fmt.p, fmt.len, &pos, 1, &v[i]) == -1)
			goto oom;
	if (pos != mlen) {
		seterr(c, "unable to copy commit %s: a backslash ends its author or committer"
		    " line, which git subtree itself would misread", hex(rev, h));
		goto out;
	}
	if (memchr(fmt.p + pos, '\0', fmt.len - pos) != NULL) {
		seterr(c, "unable to copy commit %s: a NUL byte in its message"
		    " (git commit-tree refuses it too)", hex(rev, h));
		goto out;
	}

	if (buf_addf(&nb, "tree %s\n", hex(tree, h)) == -1)
		goto oom;
	for (i = 0; i < npar; i++)
		if (buf_addf(&nb, "parent %s\n", hex(&par[i], h)) == -1)
			goto oom;
	if (add_ident(c, &nb, "author", &v[0], &v[1], &a, rev) == -1 ||
	    add_ident(c, &nb, "committer", &v[3], &v[4], &cm, rev) == -1)
		goto out;
	if (c->commit_enc != NULL && buf_addf(&nb, "encoding %s\n", c->commit_enc) == -1)
		goto oom;
	if (buf_addc(&nb, '\n') == -1 || buf_add(&nb, fmt.p + pos, fmt.len - pos) == -1)
		goto oom;
	if (c->commit_enc == NULL && fix_utf8(&nb) == -1)
		goto oom;
	if (git_odb_hash(out, nb.p, nb.len, GIT_OBJECT_COMMIT) < 0) {
		gitfail(c, "unable to hash a split commit");
		goto out;
	}
	/*
	 * No refresh of the pack folder when the commit is new (it is, mostly), and a write
	 * straight into memory: git_odb_write would first try to freshen a loose file.
	 */
	if (git_odb_exists_ext(c->odb, out, GIT_ODB_LOOKUP_NO_REFRESH)) {
		rc = 0;		/* made before, by us or by git subtree */
		goto out;
	}
	if (c->mempack->write(c->mempack, out, nb.p, nb.len, GIT_OBJECT_COMMIT) < 0) {
		gitfail(c, "unable to write a split commit");
		goto out;
	}
	if (c->nwritten == c->capobj) {
		size_t nc = c->capobj ? c->capobj * 2 : 256;
		struct newobj *nv = realloc(c->nobj, nc * sizeof(*nv));

		if (nv == NULL)
			goto oom;
		c->nobj = nv;
		c->capobj = nc;
	}
	c->nobj[c->nwritten].len = nb.len;
	c->nobj[c->nwritten++].data = buf_steal(&nb);
	rc = 0;
	goto out;
oom:
	seterr(c, "out of memory");
out:
	git_odb_object_free(obj);
	buf_free(&text);
	buf_free(&fmt);
	buf_free(&nb);
	for (i = 0; i < 6; i++)
		buf_free(&v[i]);
	return rc;
}

/* --- trees --- */

static int
prefix_tree(git_repository *repo, git_commit *cm, const char *prefix, git_oid *tree,
    git_object_t *type)
{
	git_tree *root = NULL;
	git_tree_entry *e = NULL;
	int r;

	if (git_commit_tree(&root, cm) < 0)
		return -1;
	r = git_tree_entry_bypath(&e, root, prefix);
	git_tree_free(root);
	if (r == GIT_ENOTFOUND) {
		git_error_clear();
		return 1;
	}
	if (r < 0)
		return -1;
	*type = git_tree_entry_type(e);
	*tree = *git_tree_entry_id(e);
	git_tree_entry_free(e);
	/* ls-tree shows a submodule as "commit": git subtree skips it, as if absent. */
	return *type == GIT_OBJECT_COMMIT ? 1 : 0;
}

int
split_prefix_tree(git_repository *repo, const git_oid *commit, const char *prefix,
    git_oid *tree)
{
	git_commit *cm;
	git_object_t type;
	int r;

	if (git_commit_lookup(&cm, repo, commit) < 0)
		return -1;
	r = prefix_tree(repo, cm, prefix, tree, &type);
	git_commit_free(cm);
	if (r == 0 && type != GIT_OBJECT_TREE) {
		git_error_set_str(GIT_ERROR_INVALID, "the prefix is not a folder");
		return -1;
	}
	return r;
}

/* The root tree of a commit that some commit maps to (a split one, or a mainline one). */
static int
tree_of(struct ctx *c, const git_oid *o, git_oid *tree)
{
	struct ent *e;
	git_commit *cm;

	if ((e = omap_get(&c->trees, o)) != NULL) {
		*tree = e->val;
		return 0;
	}
	if (git_commit_lookup(&cm, c->repo, o) < 0) {
		gitfail(c, "unable to read a split commit");
		return -1;
	}
	*tree = *git_commit_tree_id(cm);
	git_commit_free(cm);
	if ((e = omap_put(&c->trees, o)) == NULL) {
		seterr(c, "out of memory");
		return -1;
	}
	e->val = *tree;
	return 0;
}

/* 1 when a is b or an ancestor of b. */
static int
ancestor_or_same(struct ctx *c, const git_oid *a, const git_oid *b)
{
	int r;

	if (git_oid_equal(a, b))
		return 1;
	r = git_graph_descendant_of(c->repo, b, a);
	if (r < 0)
		gitfail(c, "unable to compare split commits");
	return r;
}

/* copy_or_skip: reuse a parent with the same tree when the shell would, else copy. */
static int
copy_or_skip(struct ctx *c, const git_oid *rev, const git_oid *tree, const git_oid *np,
    size_t nnp, git_oid *out)
{
	git_oid *par, pt;
	const git_oid *ident = NULL, *nonident = NULL;
	size_t i, j, npar = 0;
	int copy = 0, r;

	if ((par = malloc((nnp ? nnp : 1) * sizeof(*par))) == NULL) {
		seterr(c, "out of memory");
		return -1;
	}
	for (i = 0; i < nnp; i++) {
		if (tree_of(c, &np[i], &pt) == -1)
			goto fail;
		if (git_oid_equal(&pt, tree)) {
			if (ident == NULL)
				ident = &np[i];
			else if ((r = ancestor_or_same(c, ident, &np[i])) == 1)
				ident = &np[i];
			else if (r < 0)
				goto fail;
			else if ((r = ancestor_or_same(c, &np[i], ident)) == 0)
				copy = 1;	/* neither contains the other */
			else if (r < 0)
				goto fail;
		} else
			nonident = &np[i];
		for (j = 0; j < npar; j++)
			if (git_oid_equal(&par[j], &np[i]))
				break;
		if (j == npar)
			par[npar++] = np[i];
	}
	if (ident != NULL && nonident != NULL) {
		/* `rev-list --count ident..nonident` is 0 only if nonident is in ident's past. */
		if ((r = ancestor_or_same(c, nonident, ident)) < 0)
			goto fail;
		if (r == 0)
			copy = 1;
	}
	if (ident != NULL && !copy)
		*out = *ident;
	else if (copy_commit(c, rev, tree, par, npar, out) == -1)
		goto fail;
	free(par);
	return 0;
fail:
	free(par);
	return -1;
}

/* --- process_split_commit --- */

static int
finish(struct ctx *c, git_commit *cm, const git_oid *rev)
{
	git_oid tree, *np, out;
	git_object_t type;
	struct ent *e, *pe;
	char h[GIT_OID_HEXSZ + 1];
	size_t i, n = git_commit_parentcount(cm), nnp = 0;
	int r;

	r = prefix_tree(c->repo, cm, c->prefix, &tree, &type);
	if (r < 0) {
		gitfail(c, "unable to read a tree");
		return -1;
	}
	if (r == 0 && type != GIT_OBJECT_TREE) {
		seterr(c, "'%s' is not a folder in commit %s (git subtree fails there too)",
		    c->prefix, hex(rev, h));
		return -1;
	}
	if ((np = malloc((n ? n : 1) * sizeof(*np))) == NULL) {
		seterr(c, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((pe = omap_get(&c->st, git_commit_parent_id(cm, (unsigned)i))) != NULL &&
		    (pe->flags & F_MAPPED))
			np[nnp++] = pe->val;
	if (r == 1) {
		if ((e = omap_put(&c->st, rev)) == NULL)
			goto oom;
		e->flags = F_NOTREE;
		if (nnp > 0) {
			e->flags |= F_MAPPED;
			e->val = *rev;
		}
		free(np);
		return 0;
	}
	if (copy_or_skip(c, rev, &tree, np, nnp, &out) == -1) {
		free(np);
		return -1;
	}
	free(np);
	if ((e = omap_put(&c->st, rev)) == NULL)
		goto oom2;
	e->flags = F_MAPPED | F_TREE;
	e->val = out;
	if ((e = omap_put(&c->trees, &out)) == NULL)
		goto oom2;
	e->val = tree;
	c->latest = out;
	c->have_latest = 1;
	return 0;
oom:
	free(np);
oom2:
	seterr(c, "out of memory");
	return -1;
}

struct frame {
	git_commit	*cm;
	unsigned	 next;
};

static int
done(struct ctx *c, const git_oid *o)
{
	struct ent *e = omap_get(&c->st, o);

	return e != NULL && (e->flags & (F_MAPPED | F_NOTREE));
}

/* process_split_commit, depth first over the parents, without recursion. */
static int
process(struct ctx *c, const git_oid *rev)
{
	struct frame *st = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;

	if (done(c, rev))
		return 0;
	cap = 64;
	if ((st = malloc(cap * sizeof(*st))) == NULL) {
		seterr(c, "out of memory");
		return -1;
	}
	if (git_commit_lookup(&st[0].cm, c->repo, rev) < 0) {
		gitfail(c, "unable to read a commit");
		goto out;
	}
	st[0].next = 0;
	n = 1;
	while (n > 0) {
		struct frame *f = &st[n - 1];
		const git_oid *p = NULL;

		while (f->next < git_commit_parentcount(f->cm)) {
			p = git_commit_parent_id(f->cm, f->next++);
			if (!done(c, p))
				break;
			p = NULL;
		}
		if (p != NULL) {
			if (n == cap) {
				struct frame *ns = realloc(st, cap * 2 * sizeof(*st));

				if (ns == NULL) {
					seterr(c, "out of memory");
					goto out;
				}
				st = ns;
				cap *= 2;
			}
			if (git_commit_lookup(&st[n].cm, c->repo, p) < 0) {
				gitfail(c, "unable to read a commit");
				goto out;
			}
			st[n++].next = 0;
			continue;
		}
		if (finish(c, f->cm, git_commit_id(f->cm)) == -1)
			goto out;
		git_commit_free(f->cm);
		n--;
	}
	rc = 0;
out:
	while (n > 0)
		git_commit_free(st[--n].cm);
	free(st);
	return rc;
}

/* --- find_existing_splits --- */

static int
seed_set(struct ctx *c, struct seeds *s, const char *key, const git_oid *val)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->s[i].key, key) == 0) {
			seterr(c, "git subtree would fail: cache for %s already exists"
			    " (two git-subtree-split trailers name it)", key);
			return -1;
		}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		struct seed *ns = realloc(s->s, nc * sizeof(*ns));

		if (ns == NULL)
			goto oom;
		s->s = ns;
		s->cap = nc;
	}
	if ((s->s[s->n].key = strdup(key)) == NULL)
		goto oom;
	s->s[s->n++].val = *val;
	return 0;
oom:
	seterr(c, "out of memory");
	return -1;
}

static int
unrev_add(struct ctx *c, struct seeds *s, const char *rev)
{
	git_object *o;
	char spec[512];
	int r;

	/* try_remove_previous: hide REV^ when it exists. */
	if ((size_t)snprintf(spec, sizeof(spec), "%s^", rev) >= sizeof(spec))
		return 0;
	r = git_revparse_single(&o, c->main, spec);
	if (r < 0) {
		git_error_clear();
		return 0;
	}
	if (git_object_type(o) != GIT_OBJECT_COMMIT) {
		git_object_free(o);
		return 0;
	}
	if (s->nunrev == s->capunrev) {
		size_t nc = s->capunrev ? s->capunrev * 2 : 8;
		git_oid *nv = realloc(s->unrev, nc * sizeof(*nv));

		if (nv == NULL) {
			git_object_free(o);
			seterr(c, "out of memory");
			return -1;
		}
		s->unrev = nv;
		s->capunrev = nc;
	}
	s->unrev[s->nunrev++] = *git_object_id(o);
	git_object_free(o);
	return 0;
}

static void
seeds_free(struct seeds *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->s[i].key);
	free(s->s);
	free(s->unrev);
	memset(s, 0, sizeof(*s));
}

/* git's skip_blank_lines and format_subject (the subject's lines joined by a space). */
static size_t
skip_blank(const char *t, size_t i, size_t len)
{
	for (;;) {
		size_t eol = i, e;

		while (eol < len && t[eol] != '\n')
			eol++;
		if (eol == i && eol >= len)
			return i;
		for (e = eol; e > i && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\r' ||
		    t[e - 1] == '\v' || t[e - 1] == '\f'); e--)
			;
		if (e > i)
			return i;
		i = eol < len ? eol + 1 : len;
		if (i >= len)
			return i;
	}
}

static int
add_log_entry(struct ctx *c, struct buf *out, const git_oid *id)
{
	struct buf text = BUF_INIT(SIZE_MAX);
	git_odb_object *obj = NULL;
	struct parsed p;
	char h[GIT_OID_HEXSZ + 1];
	size_t i, eol, e, len;
	int first = 1, rc = -1;

	if (git_odb_read(&obj, c->odb, id) < 0) {
		gitfail(c, "unable to read commit");
		return -1;
	}
	if (log_text(c, git_odb_object_data(obj), git_odb_object_size(obj), &text) == -1)
		goto oom;
	parse_commit_text(text.p, text.len, &p);
	len = text.len;
	if (out->len > 0 && buf_addc(out, '\n') == -1)
		goto oom;
	if (buf_addf(out, "START %s\n", hex(id, h)) == -1)
		goto oom;
	i = skip_blank(text.p, p.msg, len);
	for (;;) {
		for (eol = i; eol < len && text.p[eol] != '\n'; eol++)
			;
		if (eol == i && eol >= len)
			break;
		for (e = eol; e > i && strchr(" \t\r\v\f", text.p[e - 1]) != NULL; e--)
			;
		if (e == i) {
			i = eol < len ? eol + 1 : len;
			break;
		}
		if ((!first && buf_addc(out, ' ') == -1) || buf_add(out, text.p + i, e - i) == -1)
			goto oom;
		first = 0;
		i = eol < len ? eol + 1 : len;
	}
	i = skip_blank(text.p, i, len);
	if (buf_adds(out, "\n\n") == -1 || buf_add(out, text.p + i, len - i) == -1 ||
	    buf_adds(out, "\nEND\n") == -1)
		goto oom;
	rc = 0;
	goto out;
oom:
	seterr(c, "out of memory");
out:
	git_odb_object_free(obj);
	buf_free(&text);
	return rc;
}

static int
is_hex40(const char *s)
{
	size_t i;

	for (i = 0; i < GIT_OID_HEXSZ; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[GIT_OID_HEXSZ] == '\0';
}

/*
 * Reads the log entries of the matching commits (newest first) as find_existing_splits
 * does, and fills the seeds and the commits to hide.
 */
static int
read_splits(struct ctx *c, const git_oid *match, size_t nmatch, struct seeds *s)
{
	struct buf log = BUF_INIT(SIZE_MAX), f[3], mainl = BUF_INIT(4096), sq = BUF_INIT(4096);
	git_oid sub;
	size_t i, pos = 0;
	int have_sub = 0, have_main = 0, rc = -1, r = 0;

	for (i = 0; i < 3; i++)
		buf_init(&f[i], SIZE_MAX);
	for (i = 0; i < nmatch; i++)
		if (add_log_entry(c, &log, &match[i]) == -1)
			goto out;
	while (log.len > 0 && (r = sh_read(log.p, log.len, &pos, 3, f)) == 0) {
		if (strcmp(f[0].p, "START") == 0) {
			buf_reset(&sq);
			if (buf_adds(&sq, f[1].p) == -1)
				goto oom;
		} else if (strcmp(f[0].p, "git-subtree-mainline:") == 0) {
			buf_reset(&mainl);
			if (buf_adds(&mainl, f[1].p) == -1)
				goto oom;
			have_main = f[1].len > 0;
		} else if (strcmp(f[0].p, "git-subtree-split:") == 0) {
			git_object *o;
			char spec[512];

			if ((size_t)snprintf(spec, sizeof(spec), "%s^{commit}", f[1].p) >=
			    sizeof(spec) || git_revparse_single(&o, c->main, spec) < 0) {
				git_error_clear();
				seterr(c, "could not rev-parse split hash %s from commit %s"
				    " (git subtree fails too)", f[1].p, sq.p ? sq.p : "");
				goto out;
			}
			sub = *git_object_id(o);
			git_object_free(o);
			have_sub = 1;
		} else if (strcmp(f[0].p, "END") == 0) {
			char h[GIT_OID_HEXSZ + 1];

			if (!have_main && have_sub && seed_set(c, s, sq.p ? sq.p : "", &sub) == -1)
				goto out;
			if (have_main && have_sub) {
				if (seed_set(c, s, mainl.p, &sub) == -1 ||
				    seed_set(c, s, hex(&sub, h), &sub) == -1 ||
				    unrev_add(c, s, mainl.p) == -1 || unrev_add(c, s, h) == -1)
					goto out;
			}
			have_main = have_sub = 0;
		}
	}
	if (r == -1)
		goto oom;
	rc = 0;
	goto out;
oom:
	seterr(c, "out of memory");
out:
	buf_free(&log);
	buf_free(&mainl);
	buf_free(&sq);
	for (i = 0; i < 3; i++)
		buf_free(&f[i]);
	return rc;
}

/* Does the commit's message have a line matching the grep of find_existing_splits? */
static int
matches(struct ctx *c, regex_t *re, const git_oid *id, int *yes)
{
	struct buf text = BUF_INIT(SIZE_MAX), line = BUF_INIT(SIZE_MAX);
	git_odb_object *obj = NULL;
	git_commit *cm;
	struct parsed p;
	size_t i, eol;
	const char *raw;
	size_t rawlen;
	int hit;

	*yes = 0;
	/*
	 * Cheap test first, on the parsed commit (which the walk reuses from libgit2's
	 * cache): every match holds this string.
	 */
	if (git_commit_lookup(&cm, c->repo, id) < 0) {
		gitfail(c, "unable to read commit");
		return -1;
	}
	raw = git_commit_message_raw(cm);
	hit = raw != NULL && strstr(raw, "git-subtree-dir: ") != NULL;
	git_commit_free(cm);
	if (!hit)
		return 0;
	if (git_odb_read(&obj, c->odb, id) < 0) {
		gitfail(c, "unable to read commit");
		return -1;
	}
	raw = git_odb_object_data(obj);
	rawlen = git_odb_object_size(obj);
	if (log_text(c, raw, rawlen, &text) == -1)
		goto oom;
	parse_commit_text(text.p, text.len, &p);
	for (i = p.msg; i < text.len && !*yes; i = eol + 1) {
		for (eol = i; eol < text.len && text.p[eol] != '\n'; eol++)
			;
		buf_reset(&line);
		if (buf_add(&line, text.p + i, eol - i) == -1)
			goto oom;
		if (line.len > 0 && regexec(re, line.p, 0, NULL, 0) == 0)
			*yes = 1;
	}
	git_odb_object_free(obj);
	buf_free(&text);
	buf_free(&line);
	return 0;
oom:
	seterr(c, "out of memory");
	git_odb_object_free(obj);
	buf_free(&text);
	buf_free(&line);
	return -1;
}

/* --- the exact order of `git rev-list --topo-order --reverse` --- */

struct tnode {
	git_oid		 id;
	size_t		*par;		/* indexes of the parents in the walk */
	size_t		 npar;
	size_t		 indeg;
};

/*
 * git's sort_in_topological_order in graph order: a stack (LIFO) seeded with the tip;
 * a commit is pushed once all its children in the list are out, parents in their order.
 * The result is written reversed into order (oldest first).
 */
static int
topo_order(struct ctx *c, const git_oid *tip, const struct seeds *s, struct oidv *order)
{
	git_revwalk *w = NULL;
	struct omap idx = { 0 };
	struct tnode *nodes = NULL;
	size_t nn = 0, cap = 0, i, j, *stack = NULL, sp = 0;
	git_oid o;
	int rc = -1, r;

	if (git_revwalk_new(&w, c->repo) < 0 || git_revwalk_push(w, tip) < 0)
		goto gitfail;
	for (i = 0; i < s->nunrev; i++)
		if (git_revwalk_hide(w, &s->unrev[i]) < 0)
			goto gitfail;
	while ((r = git_revwalk_next(&o, w)) == 0) {
		struct ent *e;

		if (nn == cap) {
			size_t nc = cap ? cap * 2 : 1024;
			struct tnode *nv = realloc(nodes, nc * sizeof(*nv));

			if (nv == NULL)
				goto oom;
			nodes = nv;
			cap = nc;
		}
		if ((e = omap_put(&idx, &o)) == NULL)
			goto oom;
		/* The map's value field holds the node's index here, not an oid. */
		memcpy(e->val.id + 1, &nn, sizeof(nn));
		memset(&nodes[nn], 0, sizeof(nodes[nn]));
		nodes[nn++].id = o;
	}
	if (r != GIT_ITEROVER)
		goto gitfail;
	for (i = 0; i < nn; i++) {
		git_commit *cm;
		unsigned k, np;

		if (git_commit_lookup(&cm, c->repo, &nodes[i].id) < 0)
			goto gitfail;
		np = git_commit_parentcount(cm);
		if ((nodes[i].par = malloc((np ? np : 1) * sizeof(size_t))) == NULL) {
			git_commit_free(cm);
			goto oom;
		}
		for (k = 0; k < np; k++) {
			struct ent *e = omap_get(&idx, git_commit_parent_id(cm, k));
			size_t pi;

			if (e == NULL)
				continue;
			memcpy(&pi, e->val.id + 1, sizeof(pi));
			nodes[i].par[nodes[i].npar++] = pi;
			nodes[pi].indeg++;
		}
		git_commit_free(cm);
	}
	if ((stack = malloc((nn ? nn : 1) * sizeof(*stack))) == NULL)
		goto oom;
	order->n = 0;
	for (i = 0; i < nn; i++)
		if (nodes[i].indeg == 0)
			stack[sp++] = i;
	/* Several tips cannot happen with one positive commit; kept in walk order if so. */
	for (i = 0, j = sp; i < j / 2; i++) {
		size_t t = stack[i];

		stack[i] = stack[j - 1 - i];
		stack[j - 1 - i] = t;
	}
	while (sp > 0) {
		size_t ci = stack[--sp];

		for (j = 0; j < nodes[ci].npar; j++)
			if (--nodes[nodes[ci].par[j]].indeg == 0)
				stack[sp++] = nodes[ci].par[j];
		if (oidv_add(order, &nodes[ci].id) == -1)
			goto oom;
	}
	for (i = 0; i < order->n / 2; i++) {
		git_oid t = order->v[i];

		order->v[i] = order->v[order->n - 1 - i];
		order->v[order->n - 1 - i] = t;
	}
	rc = 0;
	goto out;
gitfail:
	gitfail(c, "unable to walk the history");
	goto out;
oom:
	seterr(c, "out of memory");
out:
	for (i = 0; i < nn; i++)
		free(nodes[i].par);
	free(nodes);
	free(stack);
	omap_free(&idx);
	git_revwalk_free(w);
	return rc;
}

/* --- the cache file --- */

static int
valid_prefix(const char *p)
{
	const char *s = p;

	if (*p == '\0' || *p == '/')
		return 0;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (e == NULL)
			break;
		s = e + 1;
	}
	return strchr(p, '\n') == NULL;
}

int
split_prefix_ok(const char *prefix)
{
	return valid_prefix(prefix);
}

static void
cache_clear_memo(split_cache *sc)
{
	omap_free(&sc->memo);
	oidv_free(&sc->seedkeys);
}

static int
parse_oid(const char **p, const char *end, git_oid *o)
{
	if (end - *p < GIT_OID_HEXSZ || git_oid_fromstrn(o, *p, GIT_OID_HEXSZ) < 0)
		return -1;
	*p += GIT_OID_HEXSZ;
	return 0;
}

/* Parses the cache file's text; -1 when it is not one we wrote whole. */
static int
cache_parse(split_cache *sc, const char *t, size_t len)
{
	struct sha256 h;
	unsigned char d[SHA256_LEN];
	char dh[SHA256_LEN * 2 + 1];
	const char *p, *end, *last;
	size_t i;

	/* The last line is "end <sha256 of everything before it>\n". */
	if (len < 6 + SHA256_LEN * 2 || t[len - 1] != '\n')
		return -1;
	last = t + len - 1 - (4 + SHA256_LEN * 2);
	if (memcmp(last, "end ", 4) != 0 || (last > t && last[-1] != '\n'))
		return -1;
	sha256_init(&h);
	sha256_update(&h, t, (size_t)(last - t));
	sha256_final(&h, d);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(dh + i * 2, 3, "%02x", d[i]);
	if (memcmp(last + 4, dh, SHA256_LEN * 2) != 0)
		return -1;
	end = last;
	p = t;
	if ((size_t)(end - p) < sizeof(CACHE_MAGIC) ||
	    memcmp(p, CACHE_MAGIC "\n", sizeof(CACHE_MAGIC)) != 0)
		return -1;
	p += sizeof(CACHE_MAGIC);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		git_oid a, b;
		struct ent *e;

		if (eol == NULL)
			return -1;
		switch (*p) {
		case 'p':	/* p PREFIX */
			if ((size_t)(eol - p - 2) != strlen(sc->prefix) ||
			    memcmp(p + 2, sc->prefix, strlen(sc->prefix)) != 0)
				return -1;
			break;
		case 'e':	/* e ENCODINGS */
			free(sc->enc);
			if ((sc->enc = strndup(p + 2, (size_t)(eol - p - 2))) == NULL)
				return -1;
			break;
		case 't':	/* t TIP: its whole history was grepped */
		case 'r':	/* r COMMIT: a match of that grep */
		case 'n':	/* n COMMIT: no prefix and no mapped parent */
		{
			char kind = *p;

			p += 2;
			if (parse_oid(&p, eol, &a) == -1 || p != eol)
				return -1;
			if (kind == 't' && oidv_add(&sc->tips, &a) == -1)
				return -1;
			if (kind == 'r' && oidv_add(&sc->trailers, &a) == -1)
				return -1;
			if (kind == 'n') {
				if ((e = omap_put(&sc->memo, &a)) == NULL)
					return -1;
				e->flags = F_NOTREE;
			}
			break;
		}
		case 's':	/* s KEY VAL */
			p += 2;
			if (parse_oid(&p, eol, &a) == -1 || *p++ != ' ' ||
			    parse_oid(&p, eol, &b) == -1 || p != eol ||
			    oidv_add(&sc->seedkeys, &a) == -1 || oidv_add(&sc->seedkeys, &b) == -1)
				return -1;
			break;
		case 'm':	/* m SRC DST FLAGS */
		{
			unsigned fl;

			p += 2;
			if (parse_oid(&p, eol, &a) == -1 || *p++ != ' ' ||
			    parse_oid(&p, eol, &b) == -1 || *p++ != ' ' || p >= eol)
				return -1;
			fl = (unsigned)(*p - '0');
			if (p + 1 != eol || fl > 7 || !(fl & F_MAPPED))
				return -1;
			if ((e = omap_put(&sc->memo, &a)) == NULL)
				return -1;
			e->flags = (unsigned char)fl;
			e->val = b;
			break;
		}
		default:
			return -1;
		}
		p = eol + 1;
	}
	return sc->enc != NULL ? 0 : -1;
}

int
split_cache_open(split_cache **out, const char *dir, const char *prefix, char *err,
    size_t errlen)
{
	split_cache *sc;
	struct sha256 h;
	unsigned char d[SHA256_LEN];
	struct buf t = BUF_INIT(SPLIT_CACHE_MAX);
	char name[SHA256_LEN * 2 + 1];
	struct stat stt;
	size_t i;
	int fd;

	*out = NULL;
	if (!valid_prefix(prefix)) {
		snprintf(err, errlen, "bad prefix '%s': want a relative path without '.', '..'"
		    " or empty parts", prefix);
		return -1;
	}
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		goto oom;
	sha256_init(&h);
	sha256_update(&h, prefix, strlen(prefix));
	sha256_final(&h, d);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(name + i * 2, 3, "%02x", d[i]);
	if ((sc->prefix = strdup(prefix)) == NULL ||
	    buf_addf(&t, "%s/%s", dir, name) == -1)
		goto oom;
	sc->path = buf_steal(&t);
	buf_init(&t, SPLIT_CACHE_MAX);

	if ((fd = open(sc->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("unable to read the split cache %s: %s; not using it",
			    sc->path, strerror(errno));
		*out = sc;
		return 0;
	}
	if (fstat(fd, &stt) == -1)
		stt.st_size = -1;
	else if ((uintmax_t)stt.st_size > SPLIT_CACHE_MAX) {
		log_warn("the split cache %s is larger than %u bytes; ignoring it", sc->path,
		    (unsigned)SPLIT_CACHE_MAX);
		close(fd);
		sc->dirty = 1;
		*out = sc;
		return 0;
	}
	if (stt.st_size < 0 || buf_reserve(&t, (size_t)stt.st_size) == -1) {
		log_warn("unable to read the split cache %s: %s; not using it", sc->path,
		    strerror(errno));
		close(fd);
		buf_free(&t);
		*out = sc;
		return 0;
	}
	for (;;) {
		ssize_t r = read(fd, t.p + t.len, t.cap - 1 - t.len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		t.len += (size_t)r;
		if (t.len == t.cap - 1 && buf_reserve(&t, 4096) == -1)
			break;
	}
	close(fd);
	if (cache_parse(sc, t.p ? t.p : "", t.len) == -1) {
		log_warn("the split cache %s is corrupt; ignoring it", sc->path);
		cache_clear_memo(sc);
		oidv_free(&sc->tips);
		oidv_free(&sc->trailers);
		free(sc->enc);
		sc->enc = NULL;
		sc->dirty = 1;
	}
	buf_free(&t);
	*out = sc;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	buf_free(&t);
	split_cache_free(sc);
	return -1;
}

void
split_cache_free(split_cache *sc)
{
	if (sc == NULL)
		return;
	free(sc->path);
	free(sc->prefix);
	free(sc->enc);
	cache_clear_memo(sc);
	oidv_free(&sc->tips);
	oidv_free(&sc->trailers);
	free(sc);
}

static int
mkdirs(char *path)
{
	char *s;

	for (s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0777) == -1 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

int
split_cache_save(split_cache *sc, char *err, size_t errlen)
{
	struct buf t = BUF_INIT(SIZE_MAX), tmp = BUF_INIT(PATH_MAX);
	struct sha256 h;
	unsigned char d[SHA256_LEN];
	char a[GIT_OID_HEXSZ + 1], b[GIT_OID_HEXSZ + 1], *slash;
	size_t i, off;
	int fd = -1;

	if (sc == NULL || !sc->dirty)
		return 0;
	if (buf_adds(&t, CACHE_MAGIC "\n") == -1 || buf_addf(&t, "p %s\n", sc->prefix) == -1 ||
	    buf_addf(&t, "e %s\n", sc->enc ? sc->enc : "") == -1)
		goto oom;
	for (i = 0; i < sc->tips.n; i++)
		if (buf_addf(&t, "t %s\n", hex(&sc->tips.v[i], a)) == -1)
			goto oom;
	for (i = 0; i < sc->trailers.n; i++)
		if (buf_addf(&t, "r %s\n", hex(&sc->trailers.v[i], a)) == -1)
			goto oom;
	for (i = 0; i + 1 < sc->seedkeys.n; i += 2)
		if (buf_addf(&t, "s %s %s\n", hex(&sc->seedkeys.v[i], a),
		    hex(&sc->seedkeys.v[i + 1], b)) == -1)
			goto oom;
	for (i = 0; i < sc->memo.cap; i++) {
		struct ent *e = &sc->memo.e[i];

		if (!e->used)
			continue;
		if (e->flags & F_MAPPED) {
			if (buf_addf(&t, "m %s %s %u\n", hex(&e->key, a), hex(&e->val, b),
			    (unsigned)(e->flags & 7)) == -1)
				goto oom;
		} else if (buf_addf(&t, "n %s\n", hex(&e->key, a)) == -1)
			goto oom;
	}
	off = t.len;
	sha256_init(&h);
	sha256_update(&h, t.p, off);
	sha256_final(&h, d);
	if (buf_adds(&t, "end ") == -1)
		goto oom;
	for (i = 0; i < SHA256_LEN; i++)
		if (buf_addf(&t, "%02x", d[i]) == -1)
			goto oom;
	if (buf_addc(&t, '\n') == -1)
		goto oom;
	if (t.len > SPLIT_CACHE_MAX) {
		snprintf(err, errlen, "the split cache %s would take %zu bytes, more than its cap"
		    " of %u; not saved", sc->path, t.len, (unsigned)SPLIT_CACHE_MAX);
		goto fail;
	}

	if (buf_addf(&tmp, "%s.tmp.%ld", sc->path, (long)getpid()) == -1)
		goto oom;
	if (mkdirs(tmp.p) == -1) {
		snprintf(err, errlen, "unable to create the folder of %s: %s", sc->path,
		    strerror(errno));
		goto fail;
	}
	if ((fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) == -1)
		goto sysfail;
	for (off = 0; off < t.len;) {
		ssize_t r = write(fd, t.p + off, t.len - off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			goto sysfail;
		off += (size_t)r;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto sysfail;
	}
	fd = -1;
	if (rename(tmp.p, sc->path) == -1)
		goto sysfail;
	/* The rename is durable once the folder is. */
	if ((slash = strrchr(tmp.p, '/')) != NULL) {
		*slash = '\0';
		if ((fd = open(*tmp.p ? tmp.p : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
			(void)fsync(fd);
			close(fd);
			fd = -1;
		}
	}
	sc->dirty = 0;
	buf_free(&t);
	buf_free(&tmp);
	return 0;
sysfail:
	snprintf(err, errlen, "unable to write the split cache %s: %s", tmp.p ? tmp.p : sc->path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	if (tmp.p)
		unlink(tmp.p);
	goto fail;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	buf_free(&t);
	buf_free(&tmp);
	return -1;
}

/* --- split_subtree --- */

static int
cmp_pair(const void *a, const void *b)
{
	int r = git_oid_cmp(a, b);

	return r ? r : git_oid_cmp((const git_oid *)a + 1, (const git_oid *)b + 1);
}

/* The 40-hex seeds as sorted key,val pairs: what the memo's mappings depend on. */
static int
seed_pairs(const struct seeds *s, struct oidv *v)
{
	size_t i;
	git_oid k;

	for (i = 0; i < s->n; i++) {
		if (!is_hex40(s->s[i].key))
			continue;
		git_oid_fromstr(&k, s->s[i].key);
		if (oidv_add(v, &k) == -1 || oidv_add(v, &s->s[i].val) == -1)
			return -1;
	}
	if (v->n > 0)
		qsort(v->v, v->n / 2, 2 * sizeof(git_oid), cmp_pair);
	return 0;
}

static int
cmp_time_desc(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0;
}

/*
 * Grep the history of tip for the trailer commits, walking only what the cache has not
 * grepped yet, and put them in log order (newest commit date first).
 */
static int
find_trailers(struct ctx *c, const git_oid *tip, split_cache *sc, struct oidv *found,
    struct oidv *newfound)
{
	git_revwalk *w = NULL;
	regex_t re;
	struct buf pat = BUF_INIT(SIZE_MAX);
	int64_t *keyed = NULL;
	git_oid o;
	size_t i;
	int rc = -1, r, yes, have_re = 0;

	if (buf_addf(&pat, "^git-subtree-dir: %s/*$", c->prefix) == -1)
		goto oom;
	if (regcomp(&re, pat.p, REG_NOSUB) != 0) {
		/*
		 * git log dies on the pattern, but inside a pipeline whose status is the
		 * read loop's: git subtree goes on without any earlier split. So do we.
		 */
		rc = 0;
		goto out;
	}
	have_re = 1;
	if (git_revwalk_new(&w, c->repo) < 0 || git_revwalk_push(w, tip) < 0)
		goto gitfail;
	for (i = 0; sc != NULL && i < sc->tips.n; i++)
		if (git_odb_exists(c->odb, &sc->tips.v[i]) && git_revwalk_hide(w, &sc->tips.v[i]) < 0)
			git_error_clear();
	while ((r = git_revwalk_next(&o, w)) == 0) {
		if (matches(c, &re, &o, &yes) == -1)
			goto out;
		if (yes && (oidv_add(found, &o) == -1 || oidv_add(newfound, &o) == -1))
			goto oom;
	}
	if (r != GIT_ITEROVER)
		goto gitfail;
	/* Trailers grepped before count when they are in this history. */
	for (i = 0; sc != NULL && i < sc->trailers.n; i++) {
		const git_oid *t = &sc->trailers.v[i];

		if (oidv_has(found, t) || !git_odb_exists(c->odb, t))
			continue;
		r = git_oid_equal(t, tip) ? 1 : git_graph_descendant_of(c->repo, tip, t);
		if (r < 0)
			goto gitfail;
		if (r == 1 && oidv_add(found, t) == -1)
			goto oom;
	}
	if (found->n > 1) {
		/* git log's order: newest commit date first. */
		if ((keyed = calloc(found->n, sizeof(int64_t) * 4)) == NULL)
			goto oom;
		for (i = 0; i < found->n; i++) {
			git_commit *cm;

			if (git_commit_lookup(&cm, c->repo, &found->v[i]) < 0)
				goto gitfail;
			keyed[i * 4] = git_commit_time(cm);
			memcpy(&keyed[i * 4 + 1], &found->v[i], sizeof(git_oid));
			git_commit_free(cm);
		}
		qsort(keyed, found->n, sizeof(int64_t) * 4, cmp_time_desc);
		for (i = 0; i < found->n; i++)
			memcpy(&found->v[i], &keyed[i * 4 + 1], sizeof(git_oid));
	}
	rc = 0;
	goto out;
gitfail:
	gitfail(c, "unable to walk the history");
	goto out;
oom:
	seterr(c, "out of memory");
out:
	free(keyed);
	if (have_re)
		regfree(&re);
	buf_free(&pat);
	git_revwalk_free(w);
	return rc;
}

static char *
config_str(git_config *cfg, const char *name)
{
	git_buf b = { 0 };
	char *s = NULL;

	if (cfg != NULL && git_config_get_string_buf(&b, cfg, name) == 0 && b.size > 0)
		s = strdup(b.ptr);
	git_buf_dispose(&b);
	git_error_clear();
	return s;
}

/* Seeds the run's state: the mappings find_existing_splits sets before the walk. */
static int
apply_seeds(struct ctx *c, const struct seeds *s)
{
	size_t i;
	git_oid k;
	struct ent *e;

	for (i = 0; i < s->n; i++) {
		if (!is_hex40(s->s[i].key))
			continue;	/* the shell's cache never looks such a key up */
		git_oid_fromstr(&k, s->s[i].key);
		if ((e = omap_put(&c->st, &k)) == NULL) {
			seterr(c, "out of memory");
			return -1;
		}
		e->flags = F_MAPPED | F_SEED;
		e->val = s->s[i].val;
	}
	return 0;
}

/* Keeps this run's results in the cache's memo. */
static int
memo_merge(split_cache *sc, const struct omap *st)
{
	size_t i;

	for (i = 0; i < st->cap; i++) {
		const struct ent *e = &st->e[i];
		struct ent *m;

		if (!e->used || (e->flags & F_SEED) || !(e->flags & (F_MAPPED | F_NOTREE)))
			continue;
		if ((m = omap_get(&sc->memo, &e->key)) != NULL && m->flags == e->flags &&
		    git_oid_equal(&m->val, &e->val))
			continue;
		if ((m = omap_put(&sc->memo, &e->key)) == NULL)
			return -1;
		m->flags = e->flags;
		m->val = e->val;
		sc->dirty = 1;
	}
	return 0;
}

/* The walk of cmd_split, in git's order; for the tips where that order matters. */
static int
split_ordered(struct ctx *c, const git_oid *commit, const struct seeds *s)
{
	struct oidv order = { 0 };
	size_t i;
	int rc = -1;

	if (topo_order(c, commit, s, &order) == -1)
		goto out;
	for (i = 0; i < order.n; i++)
		if (process(c, &order.v[i]) == -1)
			goto out;
	rc = 0;
out:
	oidv_free(&order);
	return rc;
}

static int
run(struct ctx *c, const git_oid *commit, split_cache *sc, const struct seeds *s,
    int use_memo, git_oid *out)
{
	struct ent *e;
	git_commit *cm;
	git_oid tree;
	git_object_t type;
	char h[GIT_OID_HEXSZ + 1];
	int r, simple;

	omap_free(&c->st);
	omap_free(&c->trees);
	c->have_latest = 0;
	if (use_memo && sc != NULL) {
		/* Start from the memo: a copy, so a failed run leaves the cache as it was. */
		size_t i;

		for (i = 0; i < sc->memo.cap; i++) {
			if (!sc->memo.e[i].used)
				continue;
			if ((e = omap_put(&c->st, &sc->memo.e[i].key)) == NULL)
				goto oom;
			*e = sc->memo.e[i];
		}
	}
	if (apply_seeds(c, s) == -1)
		return -1;

	/* Is the tip a plain case: not seeded, and holding the prefix? */
	e = omap_get(&c->st, commit);
	if (e != NULL && (e->flags & F_SEED))
		simple = 0;
	else if (e != NULL && (e->flags & F_TREE))
		simple = 1;
	else if (e != NULL && (e->flags & F_NOTREE))
		simple = 0;
	else {
		if (git_commit_lookup(&cm, c->repo, commit) < 0) {
			gitfail(c, "unable to read the commit to split");
			return -1;
		}
		r = prefix_tree(c->repo, cm, c->prefix, &tree, &type);
		git_commit_free(cm);
		if (r < 0) {
			gitfail(c, "unable to read a tree");
			return -1;
		}
		simple = r == 0;
	}
	if (simple) {
		if (process(c, commit) == -1)
			return -1;
		e = omap_get(&c->st, commit);
		*out = e->val;
	} else {
		/* The order matters here: replay it from scratch, without the memo. */
		omap_free(&c->st);
		if (apply_seeds(c, s) == -1 || split_ordered(c, commit, s) == -1)
			return -1;
		if (!c->have_latest)
			return 1;
		*out = c->latest;
	}
	if (!git_odb_exists(c->odb, out)) {
		seterr(c, "the split commit %s is missing from the repository", hex(out, h));
		return -2;
	}
	return 0;
oom:
	seterr(c, "out of memory");
	return -1;
}

/*
 * The split commits are written to memory and reach the repository as one pack at the
 * end: a loose object per commit costs a file, and on a cold split of thousands of
 * commits that is half the time. The odb is our own (the caller's repository is not
 * touched until the pack is in place), with a fake repository over it for the walks.
 */
static int
open_objects(struct ctx *c)
{
	struct buf path = BUF_INIT(PATH_MAX);

	if (buf_addf(&path, "%sobjects", git_repository_commondir(c->main)) == -1) {
		seterr(c, "out of memory");
		return -1;
	}
	if (git_odb_open(&c->odb, path.p) < 0 || git_mempack_new(&c->mempack) < 0) {
		gitfail(c, "unable to open the object database");
		goto fail;
	}
	if (git_odb_add_backend(c->odb, c->mempack, 1000) < 0) {
		gitfail(c, "unable to open the object database");
		c->mempack->free(c->mempack);
		c->mempack = NULL;
		goto fail;
	}
	if (git_repository_wrap_odb(&c->repo, c->odb) < 0) {
		gitfail(c, "unable to open the object database");
		goto fail;
	}
	buf_free(&path);
	return 0;
fail:
	buf_free(&path);
	git_odb_free(c->odb);
	c->odb = NULL;
	c->mempack = NULL;
	return -1;
}

/*
 * The new commits as one pack: no deltas (commits barely delta), fast deflate; git's
 * indexer (through the odb) checks it and writes the index next to it.
 */
static int
flush_objects(struct ctx *c)
{
	struct buf pack = BUF_INIT(SIZE_MAX);
	br_sha1_context sha;
	unsigned char hdr[16], sum[20];
	git_odb *odb = NULL;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	z_stream zs;
	size_t i, k, sz;
	int rc = -1, zinit = 0;

	if (c->nwritten == 0)
		return 0;
	hdr[0] = 'P', hdr[1] = 'A', hdr[2] = 'C', hdr[3] = 'K';
	hdr[4] = hdr[5] = hdr[6] = 0, hdr[7] = 2;
	for (i = 0; i < 4; i++)
		hdr[8 + i] = (unsigned char)(c->nwritten >> (24 - 8 * i));
	if (buf_add(&pack, hdr, 12) == -1)
		goto oom;
	/*
	 * One deflate stream, reset for each object: an init costs four 64 KiB buffers;
	 * and a small hash (memLevel 1), as each reset clears it and commits are short.
	 */
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15, 1, Z_DEFAULT_STRATEGY) != Z_OK)
		goto oom;
	zinit = 1;
	for (i = 0; i < c->nwritten; i++) {
		uLong zl;

		sz = c->nobj[i].len;
		k = 0;
		hdr[k++] = (unsigned char)((GIT_OBJECT_COMMIT << 4) | (sz & 15) | (sz > 15 ? 0x80 : 0));
		for (sz >>= 4; sz > 0; sz >>= 7)
			hdr[k++] = (unsigned char)((sz & 0x7f) | (sz > 0x7f ? 0x80 : 0));
		zl = deflateBound(&zs, (uLong)c->nobj[i].len);
		if (buf_add(&pack, hdr, k) == -1 || buf_reserve(&pack, zl) == -1 ||
		    deflateReset(&zs) != Z_OK)
			goto oom;
		zs.next_in = (Bytef *)c->nobj[i].data;
		zs.avail_in = (uInt)c->nobj[i].len;
		zs.next_out = (Bytef *)pack.p + pack.len;
		zs.avail_out = (uInt)zl;
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
			goto oom;
		pack.len += zl - zs.avail_out;
	}
	br_sha1_init(&sha);
	br_sha1_update(&sha, pack.p, pack.len);
	br_sha1_out(&sha, sum);
	if (buf_add(&pack, sum, sizeof(sum)) == -1)
		goto oom;
	if (git_repository_odb(&odb, c->main) < 0 || git_odb_write_pack(&wp, odb, NULL, NULL) < 0) {
		gitfail(c, "unable to write the split commits");
		goto out;
	}
	memset(&stats, 0, sizeof(stats));
	if (wp->append(wp, pack.p, pack.len, &stats) < 0 || wp->commit(wp, &stats) < 0) {
		gitfail(c, "unable to write the split commits");
		goto out;
	}
	rc = 0;
	goto out;
oom:
	seterr(c, "out of memory");
out:
	if (zinit)
		deflateEnd(&zs);
	if (wp != NULL)
		wp->free(wp);
	git_odb_free(odb);
	buf_free(&pack);
	return rc;
}

static void
free_objects(struct ctx *c)
{
	size_t i;

	for (i = 0; i < c->nwritten; i++)
		free(c->nobj[i].data);
	free(c->nobj);
	c->nobj = NULL;
	c->nwritten = c->capobj = 0;
}

int
split_subtree(git_repository *repo, const char *prefix, const git_oid *commit,
    split_cache *sc, git_oid *out, char *err, size_t errlen)
{
	struct ctx c;
	struct seeds s = { 0 };
	struct oidv found = { 0 }, newfound = { 0 }, pairs = { 0 };
	git_config *cfg = NULL;
	struct buf enc = BUF_INIT(SIZE_MAX);
	char h[GIT_OID_HEXSZ + 1];
	size_t i;
	int rc = SPLIT_EGIT, r, use_memo = 0;

	memset(&c, 0, sizeof(c));
	c.main = repo;
	c.prefix = prefix;
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (!valid_prefix(prefix)) {
		seterr(&c, "bad prefix '%s': want a relative path without '.', '..' or empty parts",
		    prefix);
		return SPLIT_EGIT;
	}
	if (sc != NULL && strcmp(sc->prefix, prefix) != 0) {
		seterr(&c, "the split cache is for '%s', not '%s'", sc->prefix, prefix);
		return SPLIT_EGIT;
	}
	if (open_objects(&c) == -1)
		return SPLIT_EGIT;
	if (git_repository_config_snapshot(&cfg, repo) < 0)
		git_error_clear();
	c.commit_enc = config_str(cfg, "i18n.commitEncoding");
	c.out_enc = config_str(cfg, "i18n.logOutputEncoding");
	git_config_free(cfg);
	if (c.commit_enc != NULL && enc_is_utf8(c.commit_enc)) {
		/* commit-tree writes no header for UTF-8, however it is spelled */
		if (c.out_enc == NULL && (c.out_enc = strdup(c.commit_enc)) == NULL)
			goto oom;
		free(c.commit_enc);
		c.commit_enc = NULL;
	}
	if (c.out_enc == NULL &&
	    (c.out_enc = strdup(c.commit_enc ? c.commit_enc : "UTF-8")) == NULL)
		goto oom;
	if (buf_addf(&enc, "%s|%s", c.commit_enc ? c.commit_enc : "", c.out_enc) == -1)
		goto oom;

	if (find_trailers(&c, commit, sc, &found, &newfound) == -1 ||
	    read_splits(&c, found.v, found.n, &s) == -1 || seed_pairs(&s, &pairs) == -1)
		goto out;
	if (sc != NULL) {
		/* The memo holds only for the same seeds and the same encodings. */
		use_memo = sc->enc != NULL && strcmp(sc->enc, enc.p) == 0 &&
		    pairs.n == sc->seedkeys.n &&
		    (pairs.n == 0 || memcmp(pairs.v, sc->seedkeys.v, pairs.n * sizeof(git_oid)) == 0);
	}
	r = run(&c, commit, sc, &s, use_memo, out);
	if (r < 0 && use_memo) {
		/*
		 * A cache made in another clone, or before a gc, may name commits this
		 * repository lacks. Whatever went wrong, the answer must not depend on it.
		 */
		log_warn("the split cache %s did not serve (%s); splitting without it",
		    sc->path, err);
		use_memo = 0;
		r = run(&c, commit, sc, &s, 0, out);
	}
	if (r < 0)
		goto out;
	if (r == 1) {
		seterr(&c, "no history of '%s' in %s: no commit there has it", prefix,
		    hex(commit, h));
		rc = SPLIT_ENOHISTORY;
	} else
		rc = SPLIT_OK;
	/* The objects first: a cache must never name a commit that is not there. */
	if (flush_objects(&c) == -1) {
		rc = SPLIT_EGIT;
		goto out;
	}
	if (sc != NULL) {
		if (!use_memo) {
			cache_clear_memo(sc);
			free(sc->enc);
			if ((sc->enc = strdup(enc.p)) == NULL)
				goto oom;
			for (i = 0; i < pairs.n; i++)
				if (oidv_add(&sc->seedkeys, &pairs.v[i]) == -1)
					goto oom;
			sc->dirty = 1;
		}
		if (memo_merge(sc, &c.st) == -1)
			goto oom;
		for (i = 0; i < newfound.n; i++)
			if (!oidv_has(&sc->trailers, &newfound.v[i]) &&
			    oidv_add(&sc->trailers, &newfound.v[i]) == -1)
				goto oom;
		if (!oidv_has(&sc->tips, commit)) {
			if (sc->tips.n >= CACHE_TIPS) {
				memmove(sc->tips.v, sc->tips.v + 1, (sc->tips.n - 1) * sizeof(git_oid));
				sc->tips.n--;
			}
			if (oidv_add(&sc->tips, commit) == -1)
				goto oom;
			sc->dirty = 1;
		}
		if (newfound.n > 0)
			sc->dirty = 1;
	}
	goto out;
oom:
	seterr(&c, "out of memory");
	rc = SPLIT_EGIT;
out:
	omap_free(&c.st);
	omap_free(&c.trees);
	seeds_free(&s);
	oidv_free(&found);
	oidv_free(&newfound);
	oidv_free(&pairs);
	buf_free(&enc);
	free_objects(&c);
	free(c.commit_enc);
	free(c.out_enc);
	git_repository_free(c.repo);
	git_odb_free(c.odb);
	return rc;
}
