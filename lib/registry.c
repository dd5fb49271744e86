/* See LICENSE. The publish registry: strict load, atomic save, flock, Python's layout. */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "registry.h"

/*
 * Every value is kept as the JSON text it was read as (or that a setter wrote), so keys
 * and values this program does not know survive a save untouched, in their order. Only
 * the "projects" array is taken apart, into records of (key, value text) fields.
 */
struct field {
	char	*key;
	char	*raw;		/* NULL only for the top level's "projects" slot */
	size_t	 rawlen;
	char	*str;		/* the decoded string, once asked for */
};

struct record {
	struct field	*f;
	size_t		 n, cap;
};

struct registry {
	char		*path;
	struct field	*top;
	size_t		 ntop, captop;
	struct record	*rec;
	size_t		 nrec, caprec;
};

static int
seterr(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = e;
	return -1;
}

/* mkdir -p for the folders above path; the last component is the file itself. */
static int
mkparents(const char *path)
{
	char *tmp;
	size_t n, i;

	n = strlen(path);
	if ((tmp = strdup(path)) == NULL)
		return -1;
	for (i = 1; i < n; i++) {
		if (tmp[i] != '/' || tmp[i - 1] == '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST) {
			int e = errno;

			free(tmp);
			errno = e;
			return -1;
		}
		tmp[i] = '/';
	}
	free(tmp);
	return 0;
}

/*
 * Parse s into j with a token array from the heap, grown as needed up to what a text of
 * that length can hold at most; *toks is the caller's to free.
 */
static int
parse_alloc(struct json *j, const char *s, size_t len, jsmntok_t **toks)
{
	size_t n = len / 8 + 64, max = JSON_TOKS_MAX(len);
	jsmntok_t *t;
	int r;

	*toks = NULL;
	for (;;) {
		if (n > max)
			n = max;
		if ((t = realloc(*toks, n * sizeof(*t))) == NULL)
			return JSON_ENOMEM;
		*toks = t;
		r = json_parse(j, s, len, t, (unsigned)n);
		if (r != JSON_ENOMEM || n == max)
			return r;
		n *= 4;
	}
}

static void
fields_free(struct field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].key);
		free(f[i].raw);
		free(f[i].str);
	}
	free(f);
}

void
registry_free(registry *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrec; i++)
		fields_free(r->rec[i].f, r->rec[i].n);
	free(r->rec);
	fields_free(r->top, r->ntop);
	free(r->path);
	free(r);
}

/* Append (key, raw) to a field array; raw may be NULL (the projects slot). */
static int
field_add(struct field **fp, size_t *n, size_t *cap, const char *key, const char *raw,
    size_t rawlen)
{
	struct field *f = *fp, *nf;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		if ((nf = realloc(f, ncap * sizeof(*nf))) == NULL)
			return -1;
		*fp = f = nf;
		*cap = ncap;
	}
	f[*n].key = strdup(key);
	f[*n].raw = NULL;
	f[*n].str = NULL;
	f[*n].rawlen = rawlen;
	if (f[*n].key == NULL)
		return -1;
	if (raw != NULL) {
		if ((f[*n].raw = malloc(rawlen + 1)) == NULL) {
			free(f[*n].key);
			return -1;
		}
		memcpy(f[*n].raw, raw, rawlen);
		f[*n].raw[rawlen] = '\0';
	}
	(*n)++;
	return 0;
}

static struct field *
field_find(struct field *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

/* Set key to raw in place, or append it when new. */
static int
field_set(struct field **fp, size_t *n, size_t *cap, const char *key, const char *raw,
    size_t rawlen)
{
	struct field *f;
	char *p;

	if ((f = field_find(*fp, *n, key)) == NULL)
		return field_add(fp, n, cap, key, raw, rawlen);
	if ((p = malloc(rawlen + 1)) == NULL)
		return -1;
	memcpy(p, raw, rawlen);
	p[rawlen] = '\0';
	free(f->raw);
	free(f->str);
	f->str = NULL;
	f->raw = p;
	f->rawlen = rawlen;
	return 0;
}

static registry *
registry_new(const char *path)
{
	registry *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->path = strdup(path)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* Read the whole file, refusing one over REGISTRY_MAX without reading all of it. */
static int
slurp(const char *path, struct buf *b, int *missing, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, e;

	*missing = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		e = errno;
		return seterr(err, errlen, e, "unable to open registry %s: %s", path,
		    strerror(e));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		e = S_ISREG(st.st_mode) ? errno : EINVAL;
		close(fd);
		return seterr(err, errlen, e, "unable to read registry %s: %s", path,
		    e == EINVAL ? "not a regular file" : strerror(e));
	}
	for (;;) {
		if (b->len > REGISTRY_MAX) {
			close(fd);
			return seterr(err, errlen, EFBIG,
			    "registry %s is larger than %lu bytes", path, REGISTRY_MAX);
		}
		if (buf_reserve(b, 65536) == -1) {
			e = errno == ENOBUFS ? EFBIG : errno;
			close(fd);
			return seterr(err, errlen, e, "unable to read registry %s: %s", path,
			    strerror(e));
		}
		n = read(fd, b->p + b->len, 65536);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			e = errno;
			close(fd);
			return seterr(err, errlen, e, "unable to read registry %s: %s", path,
			    strerror(e));
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->p[b->len] = '\0';
	}
	close(fd);
	if (b->len > REGISTRY_MAX)
		return seterr(err, errlen, EFBIG, "registry %s is larger than %lu bytes",
		    path, REGISTRY_MAX);
	return 0;
}

static int
load_record(registry *r, const struct json *j, int t, size_t idx, char *err, size_t errlen)
{
	struct record *rec;
	const char *raw;
	size_t rawlen;
	char *key;
	int k, left;

	if (json_type(j, t) != JSON_OBJECT)
		return seterr(err, errlen, EINVAL,
		    "registry %s: projects[%zu] is not an object", r->path, idx);
	if (r->nrec == r->caprec) {
		size_t ncap = r->caprec ? r->caprec * 2 : 16;
		struct record *nr = realloc(r->rec, ncap * sizeof(*nr));

		if (nr == NULL)
			return seterr(err, errlen, errno, "out of memory");
		r->rec = nr;
		r->caprec = ncap;
	}
	rec = &r->rec[r->nrec++];
	memset(rec, 0, sizeof(*rec));
	for (k = t + 1, left = json_size(j, t); left > 0; left--) {
		if ((key = json_strdup(j, k)) == NULL)
			return seterr(err, errlen, EINVAL,
			    "registry %s: projects[%zu] has a key with a NUL character",
			    r->path, idx);
		raw = json_raw(j, k + 1, &rawlen);
		/* With duplicate keys the last one wins, as in Python's json. */
		if (field_set(&rec->f, &rec->n, &rec->cap, key, raw, rawlen) == -1) {
			free(key);
			return seterr(err, errlen, errno, "out of memory");
		}
		free(key);
		k = json_next(j, k + 1);
	}
	return 0;
}

int
registry_load(registry **rp, const char *path, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(REGISTRY_MAX + 65536);
	struct json j;
	jsmntok_t *toks = NULL;
	registry *r;
	char *key;
	const char *raw;
	size_t rawlen, idx;
	int missing, rc, k, e, left, t;

	*rp = NULL;
	if ((r = registry_new(path)) == NULL)
		return seterr(err, errlen, errno, "out of memory");
	if (slurp(path, &b, &missing, err, errlen) == -1)
		goto fail;
	if (missing) {
		buf_free(&b);
		*rp = r;
		if (field_add(&r->top, &r->ntop, &r->captop, "version", "1", 1) == -1 ||
		    field_add(&r->top, &r->ntop, &r->captop, "projects", NULL, 0) == -1) {
			e = errno;
			registry_free(r);
			*rp = NULL;
			return seterr(err, errlen, e, "out of memory");
		}
		return 0;
	}
	if ((rc = parse_alloc(&j, b.p ? b.p : "", b.len, &toks)) != JSON_OK) {
		seterr(err, errlen, rc == JSON_ENOMEM && errno == ENOMEM ? ENOMEM : EINVAL,
		    "registry %s: %s", path, json_strerror(rc));
		goto fail;
	}
	if (json_type(&j, 0) != JSON_OBJECT) {
		seterr(err, errlen, EINVAL, "registry %s: the top level is not an object",
		    path);
		goto fail;
	}
	for (k = 1, left = json_size(&j, 0); left > 0; left--, k = json_next(&j, k + 1)) {
		if ((key = json_strdup(&j, k)) == NULL) {
			seterr(err, errlen, EINVAL, "registry %s: a key has a NUL character",
			    path);
			goto fail;
		}
		if (strcmp(key, "projects") == 0) {
			free(key);
			if (json_type(&j, k + 1) != JSON_ARRAY) {
				seterr(err, errlen, EINVAL,
				    "registry %s: projects is not an array", path);
				goto fail;
			}
			/* A second "projects" key replaces the first, as in Python. */
			for (; r->nrec > 0; r->nrec--)
				fields_free(r->rec[r->nrec - 1].f, r->rec[r->nrec - 1].n);
			if (field_find(r->top, r->ntop, "projects") == NULL &&
			    field_add(&r->top, &r->ntop, &r->captop, "projects", NULL, 0) == -1) {
				seterr(err, errlen, errno, "out of memory");
				goto fail;
			}
			for (idx = 0, t = k + 2; idx < (size_t)json_size(&j, k + 1);
			    idx++, t = json_next(&j, t))
				if (load_record(r, &j, t, idx, err, errlen) == -1)
					goto fail;
			continue;
		}
		raw = json_raw(&j, k + 1, &rawlen);
		if (field_set(&r->top, &r->ntop, &r->captop, key, raw, rawlen) == -1) {
			free(key);
			seterr(err, errlen, errno, "out of memory");
			goto fail;
		}
		free(key);
	}
	/* The original's setdefault: missing keys are added at the end. */
	if ((field_find(r->top, r->ntop, "version") == NULL &&
	    field_add(&r->top, &r->ntop, &r->captop, "version", "1", 1) == -1) ||
	    (field_find(r->top, r->ntop, "projects") == NULL &&
	    field_add(&r->top, &r->ntop, &r->captop, "projects", NULL, 0) == -1)) {
		seterr(err, errlen, errno, "out of memory");
		goto fail;
	}
	free(toks);
	buf_free(&b);
	*rp = r;
	return 0;
fail:
	e = errno;
	free(toks);
	buf_free(&b);
	registry_free(r);
	errno = e;
	return -1;
}

/* The whole document, compact, as this program holds it. */
static int
compose(const registry *r, struct buf *b)
{
	struct jw jw;
	size_t i, k;

	jw_init(&jw, b);
	jw_obj_open(&jw);
	for (i = 0; i < r->ntop; i++) {
		jw_key(&jw, r->top[i].key);
		if (r->top[i].raw != NULL) {
			jw_raw(&jw, r->top[i].raw, r->top[i].rawlen);
			continue;
		}
		jw_arr_open(&jw);
		for (k = 0; k < r->nrec; k++) {
			const struct record *rec = &r->rec[k];
			size_t f;

			jw_obj_open(&jw);
			for (f = 0; f < rec->n; f++) {
				jw_key(&jw, rec->f[f].key);
				jw_raw(&jw, rec->f[f].raw, rec->f[f].rawlen);
			}
			jw_obj_close(&jw);
		}
		jw_arr_close(&jw);
	}
	jw_obj_close(&jw);
	return jw_finish(&jw);
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
registry_save(registry *r, char *err, size_t errlen)
{
	struct buf doc = BUF_INIT(REGISTRY_MAX), out = BUF_INIT(REGISTRY_MAX);
	char *tmp = NULL, *dir = NULL, *slash;
	int fd = -1, dfd, e;

	if (compose(r, &doc) == -1 || registry_dumps(&out, doc.p, doc.len) == -1) {
		e = errno == ENOBUFS ? EFBIG : errno;
		if (e == EFBIG)
			seterr(err, errlen, e, "registry %s would be larger than %lu bytes",
			    r->path, REGISTRY_MAX);
		else
			seterr(err, errlen, e, "unable to write registry %s: %s", r->path,
			    strerror(e));
		goto fail;
	}
	if (mkparents(r->path) == -1) {
		e = errno;
		seterr(err, errlen, e, "unable to create the folder of registry %s: %s",
		    r->path, strerror(e));
		goto fail;
	}
	/* The temporary file sits in the same folder, so that rename(2) is atomic. */
	if ((tmp = malloc(strlen(r->path) + 16)) == NULL ||
	    (dir = strdup(r->path)) == NULL) {
		seterr(err, errlen, errno, "out of memory");
		goto fail;
	}
	sprintf(tmp, "%s.tmp.XXXXXX", r->path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		e = errno;
		seterr(err, errlen, e, "unable to create %s: %s", tmp, strerror(e));
		free(tmp);
		tmp = NULL;
		goto fail;
	}
	if (fchmod(fd, 0644) == -1 || write_all(fd, out.p, out.len) == -1 ||
	    fsync(fd) == -1) {
		e = errno;
		seterr(err, errlen, e, "unable to write %s: %s", tmp, strerror(e));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		e = errno;
		seterr(err, errlen, e, "unable to write %s: %s", tmp, strerror(e));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, r->path) == -1) {
		e = errno;
		seterr(err, errlen, e, "unable to rename %s to %s: %s", tmp, r->path,
		    strerror(e));
		goto fail;
	}
	free(tmp);
	tmp = NULL;
	/* The rename is durable only once the folder is on disk too. */
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fsync(dfd) == -1 && errno != EINVAL) {
			e = errno;
			close(dfd);
			seterr(err, errlen, e, "unable to sync folder %s: %s", dir,
			    strerror(e));
			goto fail;
		}
		close(dfd);
	}
	free(dir);
	buf_free(&doc);
	buf_free(&out);
	return 0;
fail:
	e = errno;
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dir);
	buf_free(&doc);
	buf_free(&out);
	errno = e;
	return -1;
}

int
registry_lock(const char *path, int *lockfd, char *err, size_t errlen)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char *lp;
	int fd, e, i;

	*lockfd = -1;
	if ((lp = malloc(strlen(path) + 6)) == NULL)
		return seterr(err, errlen, errno, "out of memory");
	sprintf(lp, "%s.lock", path);
	if (mkparents(lp) == -1 ||
	    (fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644)) == -1) {
		e = errno;
		seterr(err, errlen, e, "unable to open lock file %s: %s", lp, strerror(e));
		free(lp);
		return -1;
	}
	/* A bounded wait: a stuck holder becomes an error, not a hang. */
	for (i = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; i++) {
		e = errno;
		if ((e != EWOULDBLOCK && e != EINTR) || i >= REGISTRY_LOCK_WAIT * 20) {
			close(fd);
			seterr(err, errlen, e, e == EWOULDBLOCK ?
			    "registry lock %s is held by another process" :
			    "unable to lock %s: %s", lp, strerror(e));
			free(lp);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	free(lp);
	*lockfd = fd;
	return 0;
}

void
registry_unlock(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd);
}

const char *
registry_path(const registry *r)
{
	return r->path;
}

size_t
registry_count(const registry *r)
{
	return r->nrec;
}

static const struct field *
rec_field(const registry *r, size_t i, const char *key)
{
	if (i >= r->nrec)
		return NULL;
	return field_find(r->rec[i].f, r->rec[i].n, key);
}

const char *
registry_get_raw(const registry *r, size_t i, const char *key, size_t *len)
{
	const struct field *f = rec_field(r, i, key);

	if (f == NULL)
		return NULL;
	if (len != NULL)
		*len = f->rawlen;
	return f->raw;
}

/*
 * The decoded string is cached beside the raw text, so the pointer stays good until the
 * value is set again or the registry is freed; get_str is const in the contract, and
 * the cache changes nothing a save writes.
 */
const char *
registry_get_str(const registry *r, size_t i, const char *key)
{
	struct field *f;
	struct json j;
	jsmntok_t tok[1];

	if (i >= r->nrec || (f = field_find(r->rec[i].f, r->rec[i].n, key)) == NULL)
		return NULL;
	if (f->str != NULL)
		return f->str;
	if (f->rawlen < 2 || f->raw[0] != '"')
		return NULL;
	if (json_parse(&j, f->raw, f->rawlen, tok, 1) != JSON_OK)
		return NULL;
	/* json_strdup refuses U+0000, which a C string would cut short. */
	f->str = json_strdup(&j, 0);
	return f->str;
}

/* Python truthiness of a JSON value's text. */
static int
raw_truthy(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	switch (s[0]) {
	case 'n':
	case 'f':
		return 0;
	case 't':
		return 1;
	case '"':
		return n > 2;
	case '[':
	case '{':
		for (i = 1; i < n - 1; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
				return 1;
		return 0;
	default:
		/* A number: zero in any spelling (0, -0, 0.0, 0e5) is false. */
		for (i = 0; i < n && s[i] != 'e' && s[i] != 'E'; i++)
			if (s[i] >= '1' && s[i] <= '9')
				return 1;
		return 0;
	}
}

int
registry_get_truthy(const registry *r, size_t i, const char *key)
{
	const struct field *f = rec_field(r, i, key);

	return f != NULL && raw_truthy(f->raw, f->rawlen);
}

int
registry_get_bool(const registry *r, size_t i, const char *key)
{
	const struct field *f = rec_field(r, i, key);

	return f != NULL && f->rawlen == 4 && memcmp(f->raw, "true", 4) == 0;
}

int
registry_set_raw(registry *r, size_t i, const char *key, const char *raw, size_t len)
{
	if (i >= r->nrec) {
		errno = EINVAL;
		return -1;
	}
	if (raw == NULL) {
		raw = "null";
		len = 4;
	}
	return field_set(&r->rec[i].f, &r->rec[i].n, &r->rec[i].cap, key, raw, len);
}

int
registry_set_str(registry *r, size_t i, const char *key, const char *value)
{
	struct buf b = BUF_INIT(REGISTRY_MAX);
	struct jw jw;
	int rc, e;

	jw_init(&jw, &b);
	jw_str(&jw, value);
	if (jw_finish(&jw) == -1) {
		e = errno;
		buf_free(&b);
		errno = e;
		return -1;
	}
	rc = registry_set_raw(r, i, key, b.p, b.len);
	e = errno;
	buf_free(&b);
	errno = e;
	return rc;
}

int
registry_set_bool(registry *r, size_t i, const char *key, int value)
{
	return value ? registry_set_raw(r, i, key, "true", 4) :
	    registry_set_raw(r, i, key, "false", 5);
}

long
registry_find(const registry *r, const char *source_dir, const char *project_name)
{
	const char *s, *p;
	size_t i;

	for (i = 0; i < r->nrec; i++) {
		s = registry_get_str(r, i, "source_dir");
		p = registry_get_str(r, i, "project_name");
		if (s != NULL && p != NULL && strcmp(s, source_dir) == 0 &&
		    strcmp(p, project_name) == 0)
			return (long)i;
	}
	return -1;
}

long
registry_upsert(registry *r, const char *source_dir, const char *project_name)
{
	struct record *nr;
	long i;
	size_t ncap;

	if ((i = registry_find(r, source_dir, project_name)) != -1)
		return i;
	if (r->nrec == r->caprec) {
		ncap = r->caprec ? r->caprec * 2 : 16;
		if ((nr = realloc(r->rec, ncap * sizeof(*nr))) == NULL)
			return -1;
		r->rec = nr;
		r->caprec = ncap;
	}
	memset(&r->rec[r->nrec], 0, sizeof(r->rec[r->nrec]));
	i = (long)r->nrec++;
	if (registry_set_str(r, (size_t)i, "source_dir", source_dir) == -1 ||
	    registry_set_str(r, (size_t)i, "project_name", project_name) == -1) {
		fields_free(r->rec[i].f, r->rec[i].n);
		r->nrec--;
		return -1;
	}
	return i;
}

void
registry_isotime_ts(const struct timespec *ts, char out[40])
{
	struct tm tm;
	time_t t = ts->tv_sec;
	size_t n;

	if (gmtime_r(&t, &tm) == NULL) {
		strcpy(out, "1970-01-01T00:00:00+00:00");
		return;
	}
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts->tv_nsec / 1000 != 0)
		n += (size_t)snprintf(out + n, 40 - n, ".%06ld", ts->tv_nsec / 1000);
	snprintf(out + n, 40 - n, "+00:00");
}

void
registry_isotime(char out[40])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	registry_isotime_ts(&ts, out);
}

/* n decimal digits at *pp into *v. */
static int
digits(const char **pp, int n, long *v)
{
	const char *p = *pp;
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	*pp = p + n;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's method). */
static long long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (long long)era * 146097 + doe - 719468;
}

int
registry_parse_isotime(const char *s, struct timespec *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	long y, mo, d, h, mi, sec = 0, ns = 0, oh, om, os = 0;
	long long t;
	int sign, n;

	if (s == NULL || digits(&p, 4, &y) == -1 || *p++ != '-' || digits(&p, 2, &mo) == -1 ||
	    *p++ != '-' || digits(&p, 2, &d) == -1 || (*p != 'T' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) == -1 || *p++ != ':' || digits(&p, 2, &mi) == -1)
		return -1;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &sec) == -1)
			return -1;
		if (*p == '.' || *p == ',') {
			p++;
			for (n = 0; *p >= '0' && *p <= '9'; n++, p++) {
				if (n >= 9)
					return -1;
				ns = ns * 10 + (*p - '0');
			}
			if (n == 0)
				return -1;
			for (; n < 9; n++)
				ns *= 10;
		}
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	if (*p == 'Z' && p[1] == '\0') {
		oh = om = 0;
		sign = 1;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) == -1 || *p++ != ':' || digits(&p, 2, &om) == -1)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &os) == -1)
				return -1;
		}
		if (*p != '\0' || oh > 23 || om > 59 || os > 59)
			return -1;
	} else
		return -1;
	t = days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60 + os);
	out->tv_sec = (time_t)t;
	out->tv_nsec = ns;
	return 0;
}

/* Decode one character of a validated JSON string body at *pp; its code point. */
static long
next_cp(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	long cp, lo;
	int k, i;

	if (*p == '\\') {
		switch (p[1]) {
		case 'b': *pp = p + 2; return '\b';
		case 'f': *pp = p + 2; return '\f';
		case 'n': *pp = p + 2; return '\n';
		case 'r': *pp = p + 2; return '\r';
		case 't': *pp = p + 2; return '\t';
		case 'u':
			break;
		default:
			*pp = p + 2;
			return p[1];
		}
		cp = strtol((char[]){ (char)p[2], (char)p[3], (char)p[4], (char)p[5], 0 },
		    NULL, 16);
		p += 6;
		if (cp >= 0xd800 && cp <= 0xdbff && p[0] == '\\' && p[1] == 'u') {
			lo = strtol((char[]){ (char)p[2], (char)p[3], (char)p[4], (char)p[5],
			    0 }, NULL, 16);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		*pp = p;
		return cp;
	}
	if (*p < 0x80) {
		*pp = p + 1;
		return *p;
	}
	k = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : 1;
	cp = *p & (0x3f >> k);
	for (i = 1; i <= k; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	*pp = p + k + 1;
	return cp;
}

/* A string token written as Python's ensure_ascii does. */
static int
dump_str(struct buf *b, const struct json *j, int t)
{
	const unsigned char *p = (const unsigned char *)j->s + j->tok[t].start;
	const unsigned char *e = (const unsigned char *)j->s + j->tok[t].end;
	long cp;
	int r = buf_addc(b, '"');

	while (r == 0 && p < e) {
		cp = next_cp(&p);
		switch (cp) {
		case '"': r = buf_add(b, "\\\"", 2); break;
		case '\\': r = buf_add(b, "\\\\", 2); break;
		case '\b': r = buf_add(b, "\\b", 2); break;
		case '\f': r = buf_add(b, "\\f", 2); break;
		case '\n': r = buf_add(b, "\\n", 2); break;
		case '\r': r = buf_add(b, "\\r", 2); break;
		case '\t': r = buf_add(b, "\\t", 2); break;
		default:
			if (cp >= 0x20 && cp < 0x7f)
				r = buf_addc(b, (char)cp);
			else if (cp < 0x10000)
				r = buf_addf(b, "\\u%04lx", cp);
			else
				r = buf_addf(b, "\\u%04lx\\u%04lx",
				    0xd800 + ((cp - 0x10000) >> 10),
				    0xdc00 + ((cp - 0x10000) & 0x3ff));
		}
	}
	return r == 0 ? buf_addc(b, '"') : -1;
}

static int
indent(struct buf *b, int depth)
{
	int r = buf_addc(b, '\n');

	while (r == 0 && depth-- > 0)
		r = buf_add(b, "  ", 2);
	return r;
}

/* Write token t and its subtree at depth; the next token, or -1. */
static int
dump(struct buf *b, const struct json *j, int t, int depth)
{
	int type = json_type(j, t), n, i, k;
	const char *raw;
	size_t len;

	switch (type) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		n = json_size(j, t);
		if (buf_addc(b, type == JSON_OBJECT ? '{' : '[') == -1)
			return -1;
		for (i = 0, k = t + 1; i < n; i++) {
			if ((i > 0 && buf_addc(b, ',') == -1) || indent(b, depth + 1) == -1)
				return -1;
			if (type == JSON_OBJECT) {
				if (dump_str(b, j, k) == -1 || buf_add(b, ": ", 2) == -1)
					return -1;
				k++;
			}
			if ((k = dump(b, j, k, depth + 1)) == -1)
				return -1;
		}
		if (n > 0 && indent(b, depth) == -1)
			return -1;
		if (buf_addc(b, type == JSON_OBJECT ? '}' : ']') == -1)
			return -1;
		return k;
	case JSON_STRING:
		return dump_str(b, j, t) == -1 ? -1 : t + 1;
	default:
		if ((raw = json_raw(j, t, &len)) == NULL || buf_add(b, raw, len) == -1)
			return -1;
		return t + 1;
	}
}

int
registry_dumps(struct buf *out, const char *s, size_t len)
{
	struct json j;
	jsmntok_t *toks;
	int r, e;

	if ((r = parse_alloc(&j, s, len, &toks)) != JSON_OK) {
		free(toks);
		errno = r == JSON_ENOMEM ? ENOMEM : EINVAL;
		return -1;
	}
	r = dump(out, &j, 0, 0);
	e = errno;
	free(toks);
	errno = e;
	return r == -1 ? -1 : 0;
}
