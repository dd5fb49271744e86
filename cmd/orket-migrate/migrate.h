/* See LICENSE. */
#ifndef MIGRATE_H
#define MIGRATE_H

enum migrate_mode {
	MIGRATE_APPLY,
	MIGRATE_DRY_RUN,
	MIGRATE_STATUS,
};

struct migrate_config {
	const char		*runtime_db;
	const char		*webhook_db;
	enum migrate_mode	 mode;
	int			 dry_run;
};

struct db_err;

int	migrate_run(const struct migrate_config *, struct db_err *);

#endif
