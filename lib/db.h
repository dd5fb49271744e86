/* See LICENSE. SQLite: open with our settings, and the embedded migration runner. */
#ifndef DB_H
#define DB_H

#include <stddef.h>

#include "sqlite3.h"

/* One migration compiled in from sql/KIND/ID (mk/embed-sql.sh); the list ends with kind NULL. */
struct db_migration {
	const char	*kind;		/* "runtime" or "webhook" */
	const char	*id;		/* the file name, e.g. 0001-schema.sql */
	const char	*sql;
	size_t		 len;
};
extern const struct db_migration db_migrations[];

#define DB_BUSY_TIMEOUT_MS	5000
/*
 * The page size of a database this code creates. Gitea's payloads are 4 to 20 KB: with
 * 8 KB pages one takes one overflow page where 4 KB pages took three, which halves the
 * WAL frames (and write calls) of each stored delivery (bench/hookd). A database made
 * elsewhere keeps its page size.
 */
#define DB_PAGE_SIZE		8192
#define DB_MEM_CACHE_MAX	(8 << 20)	/* freed blocks db_tune keeps */
#define DB_MAX_MIGRATIONS	128	/* rows read from _schema_migrations, per database */
#define DB_ERRLEN		512

/*
 * What went wrong, for the caller to print and map to an exit code: code is 100 when
 * retrying cannot help (bad input, a schema that conflicts, a database newer than us),
 * 111 when it may (I/O, locks, permissions, memory), 1 for drift.
 */
struct db_err {
	int	code;
	char	msg[DB_ERRLEN];
};

enum {
	DB_RW		= 0,	/* create the file and its parent folders when missing */
	DB_RDONLY	= 1,	/* never create or change anything */
};

int	db_open(sqlite3 **, const char *path, int mode, struct db_err *);
/*
 * db_tune: SQLite's allocations through a cache of freed blocks of 4 to 64 KB (in 4 KB
 * classes), DB_MEM_CACHE_MAX bytes at the most; call it before any other SQLite call.
 */
int	db_tune(void);
size_t	db_mem_cached(void);
void	db_close(sqlite3 *);
int	db_errclass(int sqlite_rc);
int	db_mkdirs(const char *path, struct db_err *);
int	db_exists(const char *path);

enum db_state {
	MIG_PENDING,
	MIG_APPLIED,
	MIG_DRIFT,	/* applied, but with another checksum than the embedded text */
	MIG_LEGACY,	/* a row the original Python runner left (NNN_*.sql) */
	MIG_UNKNOWN,	/* ours in form but not compiled in: the database is newer than us */
};

struct db_mig_status {
	const char		*id;
	const struct db_migration *m;	/* NULL for legacy and unknown rows */
	enum db_state		 state;
	char			 rowid[64];
	char			 applied_at[48];
	char			 checksum[65];	/* as recorded; empty when none */
};

struct db_plan {
	const char		*kind;
	int			 exists;	/* the file exists */
	int			 tracked;	/* it has a _schema_migrations table */
	size_t			 n;
	struct db_mig_status	 s[DB_MAX_MIGRATIONS];
	size_t			 npending, napplied, ndrift, nlegacy, nunknown;
};

/* Called by db_migrate for each migration: applied (1) or skipped as already applied (0). */
typedef void	db_report_fn(void *arg, const char *id, int applied);

int	db_plan_read(sqlite3 *, const char *kind, struct db_plan *, struct db_err *);
int	db_plan_path(const char *path, const char *kind, struct db_plan *, struct db_err *);
int	db_migrate(sqlite3 *, const char *kind, db_report_fn *, void *, struct db_err *);
int	db_open_migrated(sqlite3 **, const char *path, const char *kind, struct db_err *);
void	db_checksum(const struct db_migration *, char out[65]);

#endif
