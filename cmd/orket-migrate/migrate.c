/* See LICENSE. The work of orket-migrate, one database after the other. */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "migrate.h"

struct target {
	const char	*kind;
	const char	*path;
	size_t		 applied, skipped;
	struct db_err	*err;
};

static const char *const state_names[] = {
	[MIG_PENDING] = "pending",
	[MIG_APPLIED] = "applied",
	[MIG_DRIFT] = "drift",
	[MIG_LEGACY] = "legacy",
	[MIG_UNKNOWN] = "unknown",
};

static void
report(void *arg, const char *id, int applied)
{
	struct target *t = arg;

	if (applied) {
		t->applied++;
		printf("[MIGRATE] Applied %s to %s\n", id, t->path);
	} else {
		t->skipped++;
		printf("[MIGRATE] Skipped %s (already applied) on %s\n", id, t->path);
	}
}

/* --status: one line a migration, tab-separated: database, path, state, id, applied_at. */
static int
status(struct target *t)
{
	struct db_plan plan;
	size_t i;

	if (db_plan_path(t->path, t->kind, &plan, t->err) == -1)
		return t->err->code;
	if (!plan.exists)
		printf("%s\t%s\t(no database yet)\n", t->kind, t->path);
	for (i = 0; i < plan.n; i++) {
		const struct db_mig_status *s = &plan.s[i];

		printf("%s\t%s\t%s\t%s\t%s\n", t->kind, t->path, state_names[s->state],
		    s->id, s->applied_at[0] ? s->applied_at : "-");
	}
	printf("%s\t%s\t%zu applied, %zu pending, %zu legacy%s%s\n", t->kind, t->path,
	    plan.napplied, plan.npending, plan.nlegacy,
	    plan.ndrift ? ", DRIFT" : "", plan.nunknown ? ", NEWER THAN THIS PROGRAM" : "");
	return plan.nunknown ? 100 : plan.ndrift ? 1 : 0;
}

static int
dry_run(struct target *t)
{
	struct db_plan plan;
	size_t i, would = 0;

	if (db_plan_path(t->path, t->kind, &plan, t->err) == -1)
		return t->err->code;
	for (i = 0; i < plan.n; i++) {
		const struct db_mig_status *s = &plan.s[i];

		switch (s->state) {
		case MIG_PENDING:
			would++;
			printf("[MIGRATE] Would apply %s to %s\n", s->id, t->path);
			break;
		case MIG_APPLIED:
			printf("[MIGRATE] Skipped %s (already applied) on %s\n", s->id,
			    t->path);
			break;
		case MIG_DRIFT:
			log_warn("drift: %s in %s was applied with another checksum", s->id,
			    t->path);
			break;
		case MIG_UNKNOWN:
			log_warn("%s has migration %s, which this program does not know: "
			    "the database is newer than this program", t->path, s->id);
			break;
		case MIG_LEGACY:
			break;
		}
	}
	printf("[MIGRATE] %s: dry run, %zu would be applied%s, nothing changed\n",
	    t->path, would, plan.exists ? "" : " to a new database");
	return plan.nunknown ? 100 : plan.ndrift ? 1 : 0;
}

static int
apply(struct target *t)
{
	sqlite3 *db;
	struct db_err e;
	int r = 0;

	if (db_open(&db, t->path, DB_RW, t->err) == -1)
		return t->err->code;
	if (db_migrate(db, t->kind, report, t, &e) == -1) {
		r = e.code;
		if (r >= 100)
			snprintf(t->err->msg, sizeof(t->err->msg), "%.200s: %.300s", t->path, e.msg);
		else
			log_warn("%.200s: %.300s", t->path, e.msg);
	} else if (t->applied == 0)
		printf("[MIGRATE] %s: up to date, nothing applied\n", t->path);
	db_close(db);
	return r;
}

/*
 * Both databases are attempted even when the first says drift, since each is whole on its
 * own; a failure that may be the machine's or the input's (111, 100) stops the run with its
 * message in err, and each migration is atomic, so nothing is left half done.
 */
int
migrate_run(const struct migrate_config *cfg, struct db_err *err)
{
	struct target t[2] = {
		{ "runtime", cfg->runtime_db, 0, 0, err },
		{ "webhook", cfg->webhook_db, 0, 0, err },
	};
	int i, r, worst = 0;

	for (i = 0; i < 2; i++) {
		switch (cfg->mode) {
		case MIGRATE_STATUS:	r = status(&t[i]); break;
		case MIGRATE_DRY_RUN:	r = dry_run(&t[i]); break;
		default:		r = apply(&t[i]); break;
		}
		if (r > worst)
			worst = r;
		if (r >= 100)
			break;
	}
	return worst;
}
