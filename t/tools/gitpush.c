/* See LICENSE. Drives lib/gitpush from a test script; credentials come from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "gitpush.h"

static const char usage[] =
    "usage: gitpush [-t ms] [-c cafile] [-C cafile] REPO URL ls REF\n"
    "       gitpush [...] REPO URL push COMMIT REF [LEASE]\n"
    "       gitpush [...] REPO URL fetch REF LOCALREF\n"
    "-c: CA file given to gitpush_init; -C: the remote's own CA file\n"
    "LEASE: the id the remote REF must still have, 0 (40 zeros) for none\n"
    "env: GITEA_ADMIN_USER, GITEA_ADMIN_PASSWORD, GITEA_TOKEN\n"
    "exit: 0 ok, 1 rejected, 2 auth, 3 git, 4 network, 5 ls: missing, 100 usage\n";

static int
code(int r)
{
	switch (r) {
	case GITPUSH_OK: return 0;
	case GITPUSH_EREJECT: return 1;
	case GITPUSH_EAUTH: return 2;
	case GITPUSH_ENET: return 4;
	default: return 3;
	}
}

int
main(int argc, char **argv)
{
	struct gitremote gr;
	git_repository *repo = NULL;
	git_oid commit, lease, out;
	const char *initca = NULL, *cmd;
	char err[512], hex[GIT_OID_HEXSZ + 1];
	int i = 1, n, r = GITPUSH_EGIT, found, rc;

	memset(&gr, 0, sizeof(gr));
	git_libgit2_init();
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-t") == 0)
			gitpush_set_timeout(atol(argv[i + 1]));
		else if (strcmp(argv[i], "-c") == 0)
			initca = argv[i + 1];
		else if (strcmp(argv[i], "-C") == 0)
			gr.cafile = argv[i + 1];
		else
			break;
	}
	n = argc - i;
	if (n < 4)
		goto bad;
	gr.url = argv[i + 1];
	gr.user = getenv("GITEA_ADMIN_USER");
	gr.password = getenv("GITEA_ADMIN_PASSWORD");
	gr.token = getenv("GITEA_TOKEN");
	cmd = argv[i + 2];
	if (gitpush_init(initca, err, sizeof(err)) != GITPUSH_OK) {
		fprintf(stderr, "gitpush: %s\n", err);
		rc = 3;
		goto out;
	}
	if (git_repository_open(&repo, argv[i]) < 0) {
		fprintf(stderr, "gitpush: unable to open %s: %s\n", argv[i],
		    git_error_last()->message);
		rc = 3;
		goto out;
	}
	err[0] = '\0';
	if (strcmp(cmd, "ls") == 0 && n == 4) {
		if ((r = gitpush_ls_remote(repo, &gr, argv[i + 3], &out, &found, err,
		    sizeof(err))) == GITPUSH_OK) {
			puts(found ? git_oid_tostr(hex, sizeof(hex), &out) : "missing");
			rc = found ? 0 : 5;
			goto out;
		}
	} else if (strcmp(cmd, "push") == 0 && (n == 5 || n == 6)) {
		if (git_oid_fromstr(&commit, argv[i + 3]) < 0 ||
		    (n == 6 && git_oid_fromstr(&lease, argv[i + 5]) < 0))
			goto bad;
		if ((r = gitpush_push(repo, &gr, &commit, argv[i + 4], n == 6 ? &lease : NULL,
		    err, sizeof(err))) == GITPUSH_OK)
			puts("pushed");
	} else if (strcmp(cmd, "fetch") == 0 && n == 5) {
		if ((r = gitpush_fetch(repo, &gr, argv[i + 3], argv[i + 4], &out, err,
		    sizeof(err))) == GITPUSH_OK)
			puts(git_oid_tostr(hex, sizeof(hex), &out));
	} else
		goto bad;
	if (r != GITPUSH_OK)
		fprintf(stderr, "gitpush: %s\n", err);
	rc = code(r);
	goto out;
bad:
	fputs(usage, stderr);
	rc = 100;
out:
	git_repository_free(repo);
	gitpush_free();
	git_libgit2_shutdown();
	return rc;
}
