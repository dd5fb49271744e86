/* See LICENSE. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static const char *cli_usage = "";

void
cli_init(const char *usage)
{
	cli_usage = usage;
}

void
cli_dieusage(const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	log_warn("%s", msg);
	fputs(cli_usage, stderr);
	exit(100);
}

const char *
cli_optval(int argc, char **argv, int *i, const char *name)
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
		cli_dieusage("option %s needs a value", name);
	return argv[++*i];
}

int
cli_notify_fd(const char *s)
{
	char *end;
	long fd;

	errno = 0;
	fd = strtol(s, &end, 10);
	if (errno || end == s || *end || fd < 3 || fd > CLI_NOTIFY_FD_MAX)
		return -1;
	if (fcntl((int)fd, F_GETFD) == -1)
		return -1;
	return (int)fd;
}

void
cli_daemon_args(int argc, char **argv, const char *version, int *readyfd,
    const char **envfile)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(cli_usage, stdout);
			exit(fflush(stdout) == 0 ? 0 : 111);
		} else if (strcmp(argv[i], "--version") == 0) {
			puts(version);
			exit(fflush(stdout) == 0 ? 0 : 111);
		} else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
			if ((*readyfd = cli_notify_fd(argv[++i])) == -1)
				log_fatal(100, "-d needs an open descriptor of 3 to %d, not %s",
				    CLI_NOTIFY_FD_MAX, argv[i]);
		} else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc) {
			*envfile = argv[++i];
		} else if (strncmp(argv[i], "--env-file=", 11) == 0) {
			*envfile = argv[i] + 11;
		} else {
			fputs(cli_usage, stderr);
			log_fatal(100, "%s: %s", argv[i][0] == '-' ? "unknown option or missing value"
			    : "unexpected argument", argv[i]);
		}
	}
}
