/* See LICENSE. split: drive lib/split from the tests and the benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "log.h"
#include "split.h"

static const char usage[] = "usage: split REPO PREFIX [COMMIT] [--cache DIR]\n";

static int
finish(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("unable to write the result");
		code = 111;
	}
	git_libgit2_shutdown();
	return code;
}

int
main(int argc, char **argv)
{
	const char *pos[3] = { NULL, NULL, "HEAD" }, *cachedir = NULL;
	git_repository *repo = NULL;
	git_object *any = NULL, *obj = NULL;
	split_cache *sc = NULL;
	git_commit *cm;
	git_oid out;
	char err[1024], h[GIT_OID_HEXSZ + 1];
	int i, n = 0, r, code = 111;

	log_prog = "split";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cache") == 0) {
			if (++i >= argc) {
				log_warn("option --cache needs a folder");
				fputs(usage, stderr);
				return 100;
			}
			cachedir = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			log_warn("unknown option %s", argv[i]);
			fputs(usage, stderr);
			return 100;
		} else if (n < 3)
			pos[n++] = argv[i];
		else {
			log_warn("too many operands");
			fputs(usage, stderr);
			return 100;
		}
	}
	if (n < 2) {
		fputs(usage, stderr);
		return 100;
	}
	if (!split_prefix_ok(pos[1])) {
		log_warn("bad prefix '%s': want a relative path without '.', '..' or empty parts",
		    pos[1]);
		return 100;
	}
	git_libgit2_init();
	if (git_repository_open(&repo, pos[0]) < 0) {
		log_warn("unable to open the repository %s: %s", pos[0], git_error_last()->message);
		code = 111;
		goto out;
	}
	if (git_revparse_single(&any, repo, pos[2]) < 0 ||
	    git_object_peel(&obj, any, GIT_OBJECT_COMMIT) < 0) {
		log_warn("'%s' does not name a commit in %s", pos[2], pos[0]);
		code = 100;
		goto out;
	}
	if (cachedir != NULL && split_cache_open(&sc, cachedir, pos[1], err, sizeof(err)) == -1) {
		log_warn("%s", err);
		code = 100;
		goto out;
	}
	r = split_subtree(repo, pos[1], git_object_id(obj), sc, &out, err, sizeof(err));
	if (r == SPLIT_ENOHISTORY) {
		log_warn("%s", err);
		code = 1;
		goto out;
	}
	if (r != SPLIT_OK) {
		log_warn("unable to split '%s': %s", pos[1], err);
		code = 111;
		goto out;
	}
	/* The caller's repository handle must see the new commits (they came as a pack). */
	if (git_commit_lookup(&cm, repo, &out) < 0) {
		log_warn("the split commit %s is not readable through the repository: %s",
		    git_oid_tostr(h, sizeof(h), &out), git_error_last()->message);
		code = 111;
		goto out;
	}
	git_commit_free(cm);
	if (split_cache_save(sc, err, sizeof(err)) == -1)
		log_warn("%s", err);	/* the answer stands; the next run is slower */
	printf("%s\n", git_oid_tostr(h, sizeof(h), &out));
	code = 0;
out:
	split_cache_free(sc);
	git_object_free(obj);
	git_object_free(any);
	git_repository_free(repo);
	return finish(code);
}
