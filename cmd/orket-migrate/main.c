/* See LICENSE. orket-migrate: create and migrate the runtime and webhook databases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "migrate.h"

static const char usage[] =
    "usage: orket-migrate [--runtime-db path] [--webhook-db path] [--status | --dry-run]\n"
    "       orket-migrate -h | --help | --version\n";

static void
dieusage(const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	log_warn("%s", msg);
	fputs(usage, stderr);
	exit(100);
}

/* --name value or --name=value; returns the value, or NULL when argv[*i] is not --name. */
static const char *
optval(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		dieusage("option %s needs a value", name);
	return argv[++*i];
}

int
main(int argc, char **argv)
{
	struct migrate_config cfg;
	struct db_err err;
	const char *v;
	int i, r;

	log_prog = "orket-migrate";
	memset(&cfg, 0, sizeof(cfg));
	cfg.runtime_db = getenv("ORKET_RUNTIME_DB");
	cfg.webhook_db = getenv("ORKET_WEBHOOK_DB");
	if (cfg.runtime_db == NULL || *cfg.runtime_db == '\0')
		cfg.runtime_db = "orket_persistence.db";
	if (cfg.webhook_db == NULL || *cfg.webhook_db == '\0')
		cfg.webhook_db = ".orket/webhook.db";

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return fflush(stdout) == 0 ? 0 : 111;
		} else if (strcmp(argv[i], "--version") == 0) {
			puts("orket-migrate " ORKET_VERSION);
			return fflush(stdout) == 0 ? 0 : 111;
		} else if (strcmp(argv[i], "--status") == 0) {
			cfg.mode = MIGRATE_STATUS;
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			cfg.dry_run = 1;
		} else if ((v = optval(argc, argv, &i, "--runtime-db")) != NULL) {
			cfg.runtime_db = v;
		} else if ((v = optval(argc, argv, &i, "--webhook-db")) != NULL) {
			cfg.webhook_db = v;
		} else if (argv[i][0] == '-')
			dieusage("unknown option: %s", argv[i]);
		else
			dieusage("unexpected argument: %s", argv[i]);
	}
	if (cfg.mode == MIGRATE_STATUS && cfg.dry_run)
		dieusage("%s: --status and --dry-run do not go together", "usage");
	if (cfg.dry_run)
		cfg.mode = MIGRATE_DRY_RUN;
	if (*cfg.runtime_db == '\0' || *cfg.webhook_db == '\0')
		dieusage("%s: a database path is empty", "usage");

	memset(&err, 0, sizeof(err));
	r = migrate_run(&cfg, &err);
	if (r >= 100)
		log_fatal(r, "%s", err.msg);
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatalsys(111, "unable to write to standard output");
	return r;
}
