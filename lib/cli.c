/* See LICENSE. */
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
