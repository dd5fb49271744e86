/* See LICENSE. orket-publish: subtree-split each project folder, push it to Gitea, verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "publish.h"

static const char usage[] =
    "usage: orket-publish [--repo-root dir] [--source-dir dir] [--projects [name ...]]\n"
    "       [--owner owner] [--gitea-url url] [--username user] [--password password]\n"
    "       [--ca-file file] [--branch branch] [--repo-prefix prefix] [--private]\n"
    "       [--no-create] [--force] [--verify-parity] [--delete-local] [--execute]\n"
    "       orket-publish -h | --help | --version\n";

/* Blank names are dropped, as the original did: only blanks is no filter at all. */
static void
addproject(struct publish_config *cfg, char *name)
{
	if (name[strspn(name, " \t\n\r\v\f")] != '\0')
		cfg->projects[cfg->nprojects++] = name;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? v : "";
}

int
main(int argc, char **argv)
{
	struct publish_config cfg;
	const char *v;
	char *pw = NULL;
	int i, r;

	log_prog = "orket-publish";
	cli_init(usage);
	memset(&cfg, 0, sizeof(cfg));
	cfg.repo_root = ".";
	cfg.owner = env("GITEA_PRODUCT_OWNER");
	cfg.gitea_url = env("GITEA_URL");
	cfg.username = env("GITEA_ADMIN_USER");
	cfg.password = env("GITEA_ADMIN_PASSWORD");
	cfg.token = env("GITEA_TOKEN");
	cfg.cafile = env("GITEA_CA_FILE");
	cfg.source_dir = *env("GITEA_PROJECT_SOURCE_DIR") ? env("GITEA_PROJECT_SOURCE_DIR") :
	    "product";
	cfg.branch = cfg.repo_prefix = "";
	if ((cfg.projects = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		log_fatalsys(111, "unable to allocate");

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			free(cfg.projects);
			fputs(usage, stdout);
			return fflush(stdout) == 0 ? 0 : 111;
		} else if (strcmp(argv[i], "--version") == 0) {
			free(cfg.projects);
			puts("orket-publish " ORKET_VERSION);
			return fflush(stdout) == 0 ? 0 : 111;
		} else if (strcmp(argv[i], "--private") == 0)
			cfg.private_ = 1;
		else if (strcmp(argv[i], "--no-create") == 0)
			cfg.no_create = 1;
		else if (strcmp(argv[i], "--force") == 0)
			cfg.force = 1;
		else if (strcmp(argv[i], "--verify-parity") == 0)
			cfg.verify_parity = 1;
		else if (strcmp(argv[i], "--delete-local") == 0)
			cfg.delete_local = 1;
		else if (strcmp(argv[i], "--execute") == 0)
			cfg.execute = 1;
		else if (strcmp(argv[i], "--projects") == 0) {
			/* Zero or more values, as argparse's nargs='*': up to the next option. */
			cfg.nprojects = 0;
			while (i + 1 < argc && argv[i + 1][0] != '-')
				addproject(&cfg, argv[++i]);
		} else if (strncmp(argv[i], "--projects=", 11) == 0) {
			cfg.nprojects = 0;
			addproject(&cfg, argv[i] + 11);
		} else if ((v = cli_optval(argc, argv, &i, "--repo-root")) != NULL)
			cfg.repo_root = v;
		else if ((v = cli_optval(argc, argv, &i, "--owner")) != NULL)
			cfg.owner = v;
		else if ((v = cli_optval(argc, argv, &i, "--gitea-url")) != NULL)
			cfg.gitea_url = v;
		else if ((v = cli_optval(argc, argv, &i, "--username")) != NULL)
			cfg.username = v;
		else if ((v = cli_optval(argc, argv, &i, "--password")) != NULL) {
			/*
			 * Accepted for the original's sake, but argv is world-readable in
			 * /proc: keep a copy and blank the argument so that it is visible
			 * only for the moment before this line ran.
			 */
			free(pw);
			if ((pw = strdup(v)) == NULL)
				log_fatalsys(111, "unable to allocate");
			memset((char *)v, 'x', strlen(v));
			cfg.password = pw;
			log_warn("--password is visible to other users in the process list "
			    "and in shell history: set GITEA_ADMIN_PASSWORD or GITEA_TOKEN");
		} else if ((v = cli_optval(argc, argv, &i, "--ca-file")) != NULL)
			cfg.cafile = v;
		else if ((v = cli_optval(argc, argv, &i, "--source-dir")) != NULL)
			cfg.source_dir = v;
		else if ((v = cli_optval(argc, argv, &i, "--branch")) != NULL)
			cfg.branch = v;
		else if ((v = cli_optval(argc, argv, &i, "--repo-prefix")) != NULL)
			cfg.repo_prefix = v;
		else if (argv[i][0] == '-')
			cli_dieusage("unknown option: %s", argv[i]);
		else
			cli_dieusage("unexpected argument: %s", argv[i]);
	}
	/* --projects with no value is no filter, as with argparse's empty list. */
	if (cfg.nprojects == 0) {
		free(cfg.projects);
		cfg.projects = NULL;
	}
	if (cfg.delete_local && !cfg.execute)
		cli_dieusage("%s requires --execute", "--delete-local");
	if (cfg.delete_local && !cfg.verify_parity)
		cli_dieusage("%s requires --verify-parity", "--delete-local");
	cfg.progress = isatty(2);

	r = publish_run(&cfg);
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatalsys(111, "unable to write to standard output");
	free(cfg.projects);
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	return r;
}
