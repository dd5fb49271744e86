/* See LICENSE. Drives lib/gitea from a test script; credentials come from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitea.h"

static const char usage[] =
    "usage: gitea [-t ms] [-c cafile] URL exists OWNER REPO\n"
    "       gitea [-t ms] [-c cafile] URL create OWNER REPO [private]\n"
    "env: GITEA_ADMIN_USER, GITEA_ADMIN_PASSWORD, GITEA_TOKEN\n"
    "exit: 0 ok, 1 missing, 2 HTTP error, 3 no answer, 100 usage\n";

int
main(int argc, char **argv)
{
	struct gitea g;
	int i = 1, r;

	memset(&g, 0, sizeof(g));
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-t") == 0)
			g.timeout_ms = atol(argv[i + 1]);
		else if (strcmp(argv[i], "-c") == 0)
			g.cafile = argv[i + 1];
		else
			break;
	}
	if (argc - i < 4 || (argc - i > 4 && !(argc - i == 5 &&
	    strcmp(argv[i + 1], "create") == 0 && strcmp(argv[i + 4], "private") == 0))) {
		fputs(usage, stderr);
		return 100;
	}
	g.base = argv[i];
	g.user = getenv("GITEA_ADMIN_USER");
	g.password = getenv("GITEA_ADMIN_PASSWORD");
	g.token = getenv("GITEA_TOKEN");
	if (strcmp(argv[i + 1], "exists") == 0)
		r = gitea_repo_exists(&g, argv[i + 2], argv[i + 3]);
	else if (strcmp(argv[i + 1], "create") == 0)
		r = gitea_repo_create(&g, argv[i + 2], argv[i + 3], argc - i == 5);
	else {
		fputs(usage, stderr);
		return 100;
	}
	switch (r) {
	case GITEA_OK:
		printf("%s %ld\n", strcmp(argv[i + 1], "exists") == 0 ? "exists" : "created",
		    g.status);
		return 0;
	case GITEA_EMISSING:
		printf("missing %ld\n", g.status);
		fprintf(stderr, "gitea: %s\n", g.err);
		return 1;
	case GITEA_EHTTP:
		fprintf(stderr, "gitea: error: %s (status %ld)\n", g.err, g.status);
		return 2;
	default:
		fprintf(stderr, "gitea: no answer: %s\n", g.err);
		return 3;
	}
}
