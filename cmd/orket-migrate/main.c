/* See LICENSE. orket-migrate: create and migrate the runtime and webhook databases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

static const char usage[] =
    "usage: orket-migrate [--runtime-db path] [--webhook-db path] [--status | --dry-run]\n"
    "       orket-migrate -h | --help | --version\n";

int
main(int argc, char **argv)
{
	struct migrate_config cfg;
	struct db_err err;
	const char *v;
	int i, r;

	log_prog = "orket-migrate";
	cli_init(usage);
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
		} else if ((v = cli_optval(argc, argv, &i, "--runtime-db")) != NULL) {
			cfg.runtime_db = v;
		} else if ((v = cli_optval(argc, argv, &i, "--webhook-db")) != NULL) {
			cfg.webhook_db = v;
		} else if (argv[i][0] == '-')
			cli_dieusage("unknown option: %s", argv[i]);
		else
			cli_dieusage("unexpected argument: %s", argv[i]);
	}
	if (cfg.mode == MIGRATE_STATUS && cfg.dry_run)
		cli_dieusage("%s: --status and --dry-run do not go together", "usage");
	if (cfg.dry_run)
		cfg.mode = MIGRATE_DRY_RUN;
	if (*cfg.runtime_db == '\0' || *cfg.webhook_db == '\0')
		cli_dieusage("%s: a database path is empty", "usage");

	memset(&err, 0, sizeof(err));
	r = migrate_run(&cfg, &err);
	if (r >= 100)
		log_fatal(r, "%s", err.msg);
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatalsys(111, "unable to write to standard output");
	return r;
}
