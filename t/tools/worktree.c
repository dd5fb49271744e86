/* See LICENSE. Drive lib/worktree from test scripts: worktree repo relpath [-i]. */
#include <stdio.h>
#include <string.h>

#include <git2.h>

#include "worktree.h"

static void
show(void *arg, const char *path, const char *why)
{
	printf("%s %s\n", why, path);
}

int
main(int argc, char **argv)
{
	git_repository *repo;
	char err[512];
	long n;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "-i") != 0)) {
		fputs("usage: worktree repo relpath [-i]\n", stderr);
		return 100;
	}
	git_libgit2_init();
	if (git_repository_open(&repo, argv[1]) < 0) {
		fprintf(stderr, "worktree: unable to open %s\n", argv[1]);
		git_libgit2_shutdown();
		return 100;
	}
	n = worktree_dirty(repo, argv[2], argc == 4, show, NULL, err, sizeof(err));
	if (n == -1)
		fprintf(stderr, "worktree: %s\n", err);
	else
		printf("count %ld\n", n);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return n == -1 ? 111 : 0;
}
