/* See LICENSE. orket-clean: archive, then delete, parity-verified published folders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clean.h"
#include "log.h"

static const char usage[] =
    "usage: orket-clean [--repo-root dir] [--registry-path path] [--archive-dir dir]\n"
    "       [--source-dir dir] [--projects [name ...]] [--archive-days n]\n"
    "       [--hard-delete-days n] [--allow-dirty-git] [--include-ignored] [--execute]\n"
    "       orket-clean -h | --help | --version\n";

/* Whole days; below 1 counts as 1, as in the original; over CLEAN_DAYS_MAX is refused. */
static long
days(const char *s, const char *what)
{
	char *end;
	long v;

	while (*s == ' ' || *s == '\t')
		s++;
	errno = 0;
	v = strtol(s, &end, 10);
	while (end != s && (*end == ' ' || *end == '\t'))
		end++;
	if (end == s || *end != '\0' || errno == ERANGE)
		cli_dieusage("%s: not a whole number of days", what);
	if (v > CLEAN_DAYS_MAX)
		cli_dieusage("%s: more days than the limit of 1000000", what);
	return v < 1 ? 1 : v;
}

/* Trim blanks in place: argv and the environment are ours to change, and nothing to free. */
static char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	s[n] = '\0';
	return s;
}

int
main(int argc, char **argv)
{
	struct clean_config cfg;
	const char *v, *ad = NULL, *hd = NULL;
	char *sd, *projects[argc > 0 ? argc : 1];
	int i, rc;

	log_prog = "orket-clean";
	cli_init(usage);
	memset(&cfg, 0, sizeof(cfg));
	cfg.repo_root = ".";
	cfg.registry_path = ".orket/project_publish_registry.json";
	cfg.archive_dir = ".orket/local_archive/projects";
	sd = getenv("PROJECT_CLEANUP_SOURCE_DIR");
	if ((v = getenv("PROJECT_CLEANUP_ARCHIVE_DAYS")) != NULL && *v != '\0')
		ad = v;
	if ((v = getenv("PROJECT_CLEANUP_HARD_DELETE_DAYS")) != NULL && *v != '\0')
		hd = v;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return fflush(stdout) == 0 ? 0 : 111;
		} else if (strcmp(argv[i], "--version") == 0) {
			puts("orket-clean " ORKET_VERSION);
			return fflush(stdout) == 0 ? 0 : 111;
		} else if (strcmp(argv[i], "--execute") == 0) {
			cfg.execute = 1;
		} else if (strcmp(argv[i], "--allow-dirty-git") == 0) {
			cfg.allow_dirty = 1;
		} else if (strcmp(argv[i], "--include-ignored") == 0) {
			cfg.include_ignored = 1;
		} else if (strcmp(argv[i], "--projects") == 0) {
			/* Zero or more names, up to the next option, as argparse's nargs="*". */
			while (i + 1 < argc && argv[i + 1][0] != '-')
				projects[cfg.nprojects++] = argv[++i];
		} else if (strncmp(argv[i], "--projects=", 11) == 0) {
			projects[cfg.nprojects++] = argv[i] + 11;
		} else if ((v = cli_optval(argc, argv, &i, "--repo-root")) != NULL) {
			cfg.repo_root = v;
		} else if ((v = cli_optval(argc, argv, &i, "--registry-path")) != NULL) {
			cfg.registry_path = v;
		} else if ((v = cli_optval(argc, argv, &i, "--archive-dir")) != NULL) {
			cfg.archive_dir = v;
		} else if ((v = cli_optval(argc, argv, &i, "--source-dir")) != NULL) {
			sd = (char *)v;	/* it points into argv, which is ours */
		} else if ((v = cli_optval(argc, argv, &i, "--archive-days")) != NULL) {
			ad = v;
		} else if ((v = cli_optval(argc, argv, &i, "--hard-delete-days")) != NULL) {
			hd = v;
		} else if (argv[i][0] == '-')
			cli_dieusage("unknown option: %s", argv[i]);
		else
			cli_dieusage("unexpected argument: %s", argv[i]);
	}
	cfg.archive_days = ad != NULL ? days(ad, "--archive-days") : 45;
	cfg.hard_delete_days = hd != NULL ? days(hd, "--hard-delete-days") : 90;
	cfg.source_dir = sd != NULL ? trim(sd) : "";
	/* Blank names are dropped, as the original did. */
	{
		size_t k, n = 0;

		for (k = 0; k < cfg.nprojects; k++) {
			char *t = trim(projects[k]);

			if (*t != '\0')
				projects[n++] = t;
		}
		cfg.nprojects = n;
	}
	cfg.projects = (const char **)projects;
	if (*cfg.repo_root == '\0' || *cfg.registry_path == '\0' || *cfg.archive_dir == '\0')
		cli_dieusage("%s: a path is empty", "usage");

	rc = clean_run(&cfg);
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatalsys(111, "unable to write to standard output");
	return rc;
}
