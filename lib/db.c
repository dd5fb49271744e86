/* See LICENSE. */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"

#define DB_STR_(x)	#x
#define DB_STR(x)	DB_STR_(x)
#include "hmac.h"

static int	 seterr(struct db_err *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 exec1(sqlite3 *, const char *);
static int	 ensure_tracking(sqlite3 *, struct db_err *, const char *);
static int	 run_script(sqlite3 *, const struct db_migration *, struct db_err *);
static void	 iso_now(char *, size_t);

static int
seterr(struct db_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Whether retrying can help: locks, I/O, space, permissions and memory are the system's
 * (111); a statement the schema rejects, a corrupt file or not a database at all are the
 * input's (100).
 */
int
db_errclass(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_PROTOCOL:
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_NOLFS:
	case SQLITE_INTERRUPT:
	case SQLITE_AUTH:
		return 111;
	default:
		return 100;
	}
}

int
db_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* mkdir -p for the folder that holds path. */
int
db_mkdirs(const char *path, struct db_err *e)
{
	char dir[4096];
	struct stat st;
	size_t i, n;

	n = strlen(path);
	if (n >= sizeof(dir))
		return seterr(e, 100, "path too long: %.200s...", path);
	memcpy(dir, path, n + 1);
	while (n > 0 && dir[n - 1] != '/')
		n--;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || (n == 1 && dir[0] == '/'))
		return 0;
	dir[n] = '\0';
	for (i = 1; i <= n; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0755) == -1) {
			int saved = errno;

			if (saved != EEXIST || stat(dir, &st) == -1) {
				errno = saved;
				return seterr(e, saved == ENOTDIR || saved == ENAMETOOLONG ?
				    100 : 111, "unable to create folder %s: %s", dir,
				    strerror(saved));
			}
			if (!S_ISDIR(st.st_mode))
				return seterr(e, 100, "unable to create folder %s: %s",
				    dir, "a file of that name is in the way");
		}
		if (i < n)
			dir[i] = '/';
	}
	return 0;
}

/* A statement without parameters whose rows, if any, are not needed. */
static int
exec1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* SQLite URI filenames: everything but unreserved bytes and '/' is percent-encoded. */
static int
uri_path(const char *path, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p; p++) {
		if (o + 4 >= cap)
			return -1;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
			out[o++] = (char)*p;
		else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int
db_open(sqlite3 **out, const char *path, int mode, struct db_err *e)
{
	sqlite3 *db = NULL;
	char uri[8192], wal[4200];
	const char *jm;
	sqlite3_stmt *st;
	int rc, empty;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return seterr(e, 100, "empty database path");
	if (mode == DB_RDONLY) {
		/*
		 * Read-only must leave the folder exactly as it was. A read-only connection
		 * to a WAL database would create -wal and -shm files; when no -wal is there
		 * (nobody has the database open) the file is opened immutable instead.
		 */
		if (!db_exists(path))
			return seterr(e, 100, "unable to open database %s: %s", path,
			    strerror(ENOENT));
		snprintf(wal, sizeof(wal), "%s-wal", path);
		if (db_exists(wal))
			rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
		else {
			memcpy(uri, "file:", 5);
			if (uri_path(path, uri + 5, sizeof(uri) - 32) == -1)
				return seterr(e, 100, "path too long: %.200s...", path);
			strcat(uri, "?immutable=1");
			rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY |
			    SQLITE_OPEN_URI, NULL);
		}
	} else {
		if (db_mkdirs(path, e) == -1)
			return -1;
		rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE, NULL);
	}
	if (rc != SQLITE_OK) {
		seterr(e, db_errclass(rc), "unable to open database %s: %s", path,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	/* Reading the schema first tells "not a database" apart from anything else. */
	if ((rc = exec1(db, "SELECT count(*) FROM sqlite_master")) != SQLITE_OK)
		goto fail;
	if ((rc = exec1(db, "PRAGMA foreign_keys=ON")) != SQLITE_OK)
		goto fail;
	if (mode == DB_RW) {
		/* A new, empty file: its page size can still be chosen, before WAL mode. */
		if ((rc = sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL)) !=
		    SQLITE_OK)
			goto fail;
		empty = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0;
		sqlite3_finalize(st);
		if (empty && (rc = exec1(db, "PRAGMA page_size=" DB_STR(DB_PAGE_SIZE))) !=
		    SQLITE_OK)
			goto fail;
		if ((rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st,
		    NULL)) != SQLITE_OK)
			goto fail;
		rc = sqlite3_step(st);
		jm = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		if (rc == SQLITE_ROW && (jm == NULL || strcmp(jm, "wal") != 0)) {
			seterr(e, 111, "unable to set WAL mode on database %s: journal "
			    "mode is %s", path, jm ? jm : "unknown");
			sqlite3_finalize(st);
			sqlite3_close(db);
			return -1;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			goto fail;
		if ((rc = exec1(db, "PRAGMA synchronous=NORMAL")) != SQLITE_OK)
			goto fail;
	}
	*out = db;
	return 0;
fail:
	seterr(e, db_errclass(rc), "unable to open database %s: %s", path,
	    sqlite3_errmsg(db));
	sqlite3_close(db);
	return -1;
}

/*
 * SQLite's memory, through a cache of freed blocks of 4 to 64 KB. A stored delivery makes
 * SQLite allocate and free a few such blocks (its record, its pages); musl's allocator
 * gave each one back to the kernel as it was freed: an madvise, and a TLB flush on every
 * core of the process, about once per delivery (bench/hookd). Blocks of a size class are
 * kept for the next allocation of that class, up to DB_MEM_CACHE_MAX bytes in all; the
 * rest go to malloc. Each block starts with a header that holds its usable size.
 */
#define SQLMEM_GRAIN		4096
#define SQLMEM_CLASSES		16	/* 4, 8, ... 64 KB */
#define SQLMEM_HDR		16

static pthread_mutex_t sqlmem_mu = PTHREAD_MUTEX_INITIALIZER;
static void *sqlmem_list[SQLMEM_CLASSES];
static size_t sqlmem_cached;

static int
sqlmem_roundup(int n)
{
	size_t u = n > 0 ? (size_t)n : 1;

	if (u >= SQLMEM_GRAIN && u <= SQLMEM_GRAIN * SQLMEM_CLASSES)
		return (int)((u + SQLMEM_GRAIN - 1) / SQLMEM_GRAIN * SQLMEM_GRAIN);
	return (int)((u + 15) & ~(size_t)15);
}

/* The size class of a usable size, or -1 when blocks of that size are not kept. */
static int
sqlmem_class(size_t u)
{
	if (u < SQLMEM_GRAIN || u > SQLMEM_GRAIN * SQLMEM_CLASSES || u % SQLMEM_GRAIN)
		return -1;
	return (int)(u / SQLMEM_GRAIN) - 1;
}

static void *
sqlmem_malloc(int n)
{
	size_t u = (size_t)sqlmem_roundup(n);
	int c = sqlmem_class(u);
	char *b = NULL;

	if (c >= 0) {
		pthread_mutex_lock(&sqlmem_mu);
		if ((b = sqlmem_list[c]) != NULL) {
			memcpy(&sqlmem_list[c], b + SQLMEM_HDR, sizeof(void *));
			sqlmem_cached -= u;
		}
		pthread_mutex_unlock(&sqlmem_mu);
	}
	if (b == NULL && (b = malloc(u + SQLMEM_HDR)) == NULL)
		return NULL;
	memcpy(b, &u, sizeof(u));
	return b + SQLMEM_HDR;
}

static int
sqlmem_size(void *p)
{
	size_t u;

	if (p == NULL)
		return 0;
	memcpy(&u, (char *)p - SQLMEM_HDR, sizeof(u));
	return (int)u;
}

static void
sqlmem_free(void *p)
{
	char *b;
	size_t u;
	int c;

	if (p == NULL)
		return;
	b = (char *)p - SQLMEM_HDR;
	memcpy(&u, b, sizeof(u));
	if ((c = sqlmem_class(u)) >= 0) {
		pthread_mutex_lock(&sqlmem_mu);
		if (sqlmem_cached + u <= DB_MEM_CACHE_MAX) {
			memcpy(p, &sqlmem_list[c], sizeof(void *));
			sqlmem_list[c] = b;
			sqlmem_cached += u;
			b = NULL;
		}
		pthread_mutex_unlock(&sqlmem_mu);
	}
	free(b);
}

static void *
sqlmem_realloc(void *p, int n)
{
	void *q;
	int old = sqlmem_size(p);

	if (p != NULL && sqlmem_roundup(n) == old)
		return p;
	if ((q = sqlmem_malloc(n)) == NULL)
		return NULL;
	if (p != NULL) {
		memcpy(q, p, (size_t)(old < n ? old : n));
		sqlmem_free(p);
	}
	return q;
}

static int
sqlmem_init(void *arg)
{
	return SQLITE_OK;
}

/* sqlite3_shutdown: the cached blocks go back to malloc. */
static void
sqlmem_shutdown(void *arg)
{
	char *b;
	int c;

	pthread_mutex_lock(&sqlmem_mu);
	for (c = 0; c < SQLMEM_CLASSES; c++) {
		while ((b = sqlmem_list[c]) != NULL) {
			memcpy(&sqlmem_list[c], b + SQLMEM_HDR, sizeof(void *));
			free(b);
		}
	}
	sqlmem_cached = 0;
	pthread_mutex_unlock(&sqlmem_mu);
}

/* Bytes held in the cache now (for the tests). */
size_t
db_mem_cached(void)
{
	size_t n;

	pthread_mutex_lock(&sqlmem_mu);
	n = sqlmem_cached;
	pthread_mutex_unlock(&sqlmem_mu);
	return n;
}

/* Before any other SQLite call of the process; sqlite3_shutdown at its end. */
int
db_tune(void)
{
	static const sqlite3_mem_methods m = {
		sqlmem_malloc, sqlmem_free, sqlmem_realloc, sqlmem_size, sqlmem_roundup,
		sqlmem_init, sqlmem_shutdown, NULL,
	};

	return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -1;
}

void
db_close(sqlite3 *db)
{
	sqlite3_close(db);
}

void
db_checksum(const struct db_migration *m, char out[65])
{
	unsigned char d[32];

	sha256(m->sql, m->len, d);
	hex_encode(d, sizeof(d), out);
}

/* The original's applied_at: UTC ISO-8601 with microseconds and +00:00. */
static void
iso_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)(ts.tv_nsec / 1000) % 1000000);
}

static int
is_ours(const char *id)
{
	size_t n = strlen(id);
	int i;

	if (n < 10 || strcmp(id + n - 4, ".sql") != 0 || id[4] != '-')
		return 0;
	for (i = 0; i < 4; i++)
		if (id[i] < '0' || id[i] > '9')
			return 0;
	return 1;
}

static void
copycol(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int
has_checksum_column(sqlite3 *db, int *yes)
{
	sqlite3_stmt *st;
	int rc;

	*yes = 0;
	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('_schema_migrations')"
	    " WHERE name = 'checksum'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*yes = 1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
db_plan_read(sqlite3 *db, const char *kind, struct db_plan *p, struct db_err *e)
{
	const struct db_migration *m;
	struct db_mig_status rows[DB_MAX_MIGRATIONS];
	char used[DB_MAX_MIGRATIONS] = { 0 };
	char sum[65];
	sqlite3_stmt *st;
	size_t nrows = 0, i;
	int rc, withsum;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->exists = 1;
	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
	    " AND name = '_schema_migrations'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	p->tracked = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (p->tracked) {
		if ((rc = has_checksum_column(db, &withsum)) != SQLITE_OK)
			goto fail;
		rc = sqlite3_prepare_v2(db, withsum ?
		    "SELECT id, applied_at, checksum FROM _schema_migrations ORDER BY id" :
		    "SELECT id, applied_at, NULL FROM _schema_migrations ORDER BY id",
		    -1, &st, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (nrows == DB_MAX_MIGRATIONS) {
				sqlite3_finalize(st);
				return seterr(e, 100, "_schema_migrations has more than %d "
				    "rows", DB_MAX_MIGRATIONS);
			}
			memset(&rows[nrows], 0, sizeof(rows[nrows]));
			copycol(rows[nrows].rowid, sizeof(rows[nrows].rowid), st, 0);
			copycol(rows[nrows].applied_at, sizeof(rows[nrows].applied_at), st, 1);
			copycol(rows[nrows].checksum, sizeof(rows[nrows].checksum), st, 2);
			nrows++;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}

	/* Ours first, in order; then whatever else the table holds. */
	for (m = db_migrations; m->kind; m++) {
		struct db_mig_status *s;

		if (strcmp(m->kind, kind) != 0 || p->n == DB_MAX_MIGRATIONS)
			continue;
		s = &p->s[p->n++];
		s->id = m->id;
		s->m = m;
		s->state = MIG_PENDING;
		for (i = 0; i < nrows; i++) {
			if (used[i] || strcmp(rows[i].rowid, m->id) != 0)
				continue;
			used[i] = 1;
			memcpy(s->applied_at, rows[i].applied_at, sizeof(s->applied_at));
			memcpy(s->checksum, rows[i].checksum, sizeof(s->checksum));
			db_checksum(m, sum);
			s->state = s->checksum[0] == '\0' || strcmp(s->checksum, sum) == 0 ?
			    MIG_APPLIED : MIG_DRIFT;
			break;
		}
		snprintf(s->rowid, sizeof(s->rowid), "%s", m->id);
	}
	for (i = 0; i < nrows && p->n < DB_MAX_MIGRATIONS; i++) {
		struct db_mig_status *s;

		if (used[i])
			continue;
		s = &p->s[p->n++];
		*s = rows[i];
		s->id = s->rowid;
		s->state = is_ours(s->rowid) ? MIG_UNKNOWN : MIG_LEGACY;
	}
	for (i = 0; i < p->n; i++) {
		switch (p->s[i].state) {
		case MIG_PENDING:	p->npending++; break;
		case MIG_APPLIED:	p->napplied++; break;
		case MIG_DRIFT:		p->ndrift++; break;
		case MIG_LEGACY:	p->nlegacy++; break;
		case MIG_UNKNOWN:	p->nunknown++; break;
		}
	}
	/* The rows were copied by value: point ids at the copies, not at the stack. */
	for (i = 0; i < p->n; i++)
		if (p->s[i].m == NULL)
			p->s[i].id = p->s[i].rowid;
	return 0;
fail:
	return seterr(e, db_errclass(rc), "unable to read _schema_migrations: %s",
	    sqlite3_errmsg(db));
}

/* The plan of a database that may not exist yet, without creating or changing it. */
int
db_plan_path(const char *path, const char *kind, struct db_plan *p, struct db_err *e)
{
	const struct db_migration *m;
	sqlite3 *db;
	int r;

	if (!db_exists(path)) {
		memset(p, 0, sizeof(*p));
		p->kind = kind;
		for (m = db_migrations; m->kind; m++) {
			if (strcmp(m->kind, kind) != 0 || p->n == DB_MAX_MIGRATIONS)
				continue;
			p->s[p->n].id = m->id;
			p->s[p->n].m = m;
			p->s[p->n].state = MIG_PENDING;
			p->n++;
			p->npending++;
		}
		return 0;
	}
	if (db_open(&db, path, DB_RDONLY, e) == -1)
		return -1;
	r = db_plan_read(db, kind, p, e);
	db_close(db);
	return r;
}

/* The tracking table as the original made it, plus our checksum column added in place. */
static int
ensure_tracking(sqlite3 *db, struct db_err *e, const char *kind)
{
	int rc, withsum;

	rc = exec1(db, "CREATE TABLE IF NOT EXISTS _schema_migrations ("
	    "id TEXT PRIMARY KEY, applied_at TEXT NOT NULL, checksum TEXT)");
	if (rc == SQLITE_OK)
		rc = has_checksum_column(db, &withsum);
	if (rc == SQLITE_OK && !withsum)
		rc = exec1(db, "ALTER TABLE _schema_migrations ADD COLUMN checksum TEXT");
	if (rc != SQLITE_OK)
		return seterr(e, db_errclass(rc), "unable to prepare _schema_migrations in "
		    "the %s database: %s", kind, sqlite3_errmsg(db));
	return 0;
}

/* The statement that starts at p, on one line and cut short, for an error message. */
static void
excerpt(const char *p, const char *end, char *out, size_t cap)
{
	size_t o = 0;
	int space = 0;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		break;
	}
	for (; p < end && *p != ';' && o + 4 < cap; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			space = 1;
			continue;
		}
		if (space && o > 0)
			out[o++] = ' ';
		space = 0;
		out[o++] = *p;
	}
	if (p < end && *p != ';' && o + 4 >= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int
lineof(const char *start, const char *p)
{
	int line = 1;

	/* Count from the first non-blank byte of the statement. */
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	for (; start < p; start++)
		if (*start == '\n')
			line++;
	return line;
}

/* Every statement of the migration, one at a time, so a failure can name its statement. */
static int
run_script(sqlite3 *db, const struct db_migration *m, struct db_err *e)
{
	const char *p = m->sql, *end = m->sql + m->len, *tail;
	char what[120];
	sqlite3_stmt *st;
	int rc;

	while (p < end) {
		rc = sqlite3_prepare_v2(db, p, (int)(end - p), &st, &tail);
		if (rc == SQLITE_OK && st == NULL) {
			p = tail;
			continue;
		}
		if (rc == SQLITE_OK) {
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				;
			sqlite3_finalize(st);
			if (rc == SQLITE_DONE) {
				p = tail;
				continue;
			}
		}
		excerpt(p, end, what, sizeof(what));
		return seterr(e, db_errclass(rc), "unable to apply sql/%s/%s line %d (%s): %s",
		    m->kind, m->id, lineof(m->sql, p), what, sqlite3_errmsg(db));
	}
	return 0;
}

static int
record(sqlite3 *db, const struct db_migration *m, int update)
{
	sqlite3_stmt *st;
	char now[96], sum[65];
	int rc;

	db_checksum(m, sum);
	iso_now(now, sizeof(now));
	rc = sqlite3_prepare_v2(db, update ?
	    "UPDATE _schema_migrations SET checksum = ?3 WHERE id = ?1" :
	    "INSERT INTO _schema_migrations (id, applied_at, checksum) VALUES (?1, ?2, ?3)",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
	if (!update)
		sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, sum, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Is m recorded, now that we hold the write lock? Another migrator may have been first. */
static int
is_recorded(sqlite3 *db, const struct db_migration *m, int *yes)
{
	sqlite3_stmt *st;
	int rc;

	*yes = 0;
	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM _schema_migrations WHERE id = ?1",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*yes = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
db_migrate(sqlite3 *db, const char *kind, db_report_fn *report, void *arg,
    struct db_err *e)
{
	struct db_plan *p;
	size_t i;
	int rc, yes, r = -1;

	if ((p = malloc(sizeof(*p))) == NULL)
		return seterr(e, 111, "unable to allocate: %s", strerror(errno));
	if (db_plan_read(db, kind, p, e) == -1)
		goto out;
	for (i = 0; i < p->n; i++) {
		if (p->s[i].state == MIG_UNKNOWN) {
			seterr(e, 100, "the %s database has migration %s, which this program "
			    "does not know: the database is newer than this program", kind,
			    p->s[i].id);
			goto out;
		}
	}
	for (i = 0; i < p->n; i++) {
		if (p->s[i].state == MIG_DRIFT) {
			char sum[65];

			db_checksum(p->s[i].m, sum);
			seterr(e, 1, "drift: the %s database recorded %s with checksum "
			    "%.12s, but this program's %s has %.12s", kind, p->s[i].id,
			    p->s[i].checksum, p->s[i].id, sum);
			goto out;
		}
	}
	for (i = 0; i < p->n; i++) {
		const struct db_migration *m = p->s[i].m;

		if (m == NULL)
			continue;
		if ((rc = exec1(db, "BEGIN IMMEDIATE")) != SQLITE_OK) {
			seterr(e, db_errclass(rc), "unable to lock the %s database: %s",
			    kind, sqlite3_errmsg(db));
			goto out;
		}
		/*
		 * The tracking table is made (or given its checksum column) inside the first
		 * migration's transaction, so a failure leaves the file exactly as it was.
		 */
		if (ensure_tracking(db, e, kind) == -1)
			goto rollback;
		if ((rc = is_recorded(db, m, &yes)) != SQLITE_OK)
			goto sqlfail;
		if (yes) {
			/* Adopt a row without a checksum: it is this text from now on. */
			if (p->s[i].checksum[0] == '\0' && (rc = record(db, m, 1)) != SQLITE_OK)
				goto sqlfail;
		} else {
			if (run_script(db, m, e) == -1)
				goto rollback;
			if ((rc = record(db, m, 0)) != SQLITE_OK)
				goto sqlfail;
		}
		if ((rc = exec1(db, "COMMIT")) != SQLITE_OK)
			goto sqlfail;
		if (report)
			report(arg, m->id, !yes);
	}
	r = 0;
	goto out;
sqlfail:
	seterr(e, db_errclass(rc), "unable to record migration in the %s database: %s",
	    kind, sqlite3_errmsg(db));
rollback:
	if (!sqlite3_get_autocommit(db))
		exec1(db, "ROLLBACK");
out:
	free(p);
	return r;
}

/* What a daemon does at start: open, migrate, and refuse a database newer than itself. */
int
db_open_migrated(sqlite3 **out, const char *path, const char *kind, struct db_err *e)
{
	if (db_open(out, path, DB_RW, e) == -1)
		return -1;
	if (db_migrate(*out, kind, NULL, NULL, e) == -1) {
		db_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
