/* See LICENSE. What in a work-tree folder is not safely in git, over git_status_list. */
#include <stdio.h>
#include <string.h>

#include <git2.h>

#include "worktree.h"

static int
giterr(char *err, size_t errlen, const char *what)
{
	const git_error *e = git_error_last();

	snprintf(err, errlen, "unable to %s: %s", what,
	    e != NULL && e->message != NULL ? e->message : "libgit2 error");
	return -1;
}

/* Whether path is relpath itself or lies below it. */
static int
below(const char *path, const char *relpath, size_t n)
{
	if (n == 0)
		return 1;
	return strncmp(path, relpath, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

long
worktree_dirty(git_repository *repo, const char *relpath, int include_ignored,
    worktree_cb *cb, void *arg, char *err, size_t errlen)
{
	git_status_options opts;
	git_status_list *list = NULL;
	const git_status_entry *e;
	const char *path, *why;
	char *spec[1];
	size_t i, n, len;
	long count = 0;
	unsigned st;

	len = strlen(relpath);
	if (git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION) < 0)
		return giterr(err, errlen, "set up the git status");
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
	    GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (include_ignored)
		opts.flags |= GIT_STATUS_OPT_INCLUDE_IGNORED | GIT_STATUS_OPT_RECURSE_IGNORED_DIRS;
	/*
	 * The folder name is a literal path, never a pattern: a project called "a*" must
	 * not take in "ab". The literal match covers everything below the folder; the
	 * check in the loop keeps "a" from taking in "a-b" all the same.
	 */
	if (len > 0) {
		opts.flags |= GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH;
		spec[0] = (char *)relpath;
		opts.pathspec.strings = spec;
		opts.pathspec.count = 1;
	}
	if (git_status_list_new(&list, repo, &opts) < 0)
		return giterr(err, errlen, "read the git status");
	n = git_status_list_entrycount(list);
	for (i = 0; i < n; i++) {
		e = git_status_byindex(list, i);
		st = e->status;
		if (st == GIT_STATUS_CURRENT)
			continue;
		path = NULL;
		if (e->index_to_workdir != NULL)
			path = e->index_to_workdir->new_file.path;
		if (path == NULL && e->head_to_index != NULL)
			path = e->head_to_index->new_file.path;
		if (path == NULL || !below(path, relpath, len))
			continue;
		if (st & GIT_STATUS_IGNORED) {
			if (!include_ignored)
				continue;
			why = "ignored";
		} else if (st & GIT_STATUS_WT_NEW)
			why = "untracked";
		else if (st & (GIT_STATUS_WT_DELETED | GIT_STATUS_INDEX_DELETED))
			why = "deleted";
		else
			why = "modified";
		count++;
		if (cb != NULL)
			cb(arg, path, why);
	}
	git_status_list_free(list);
	return count;
}
