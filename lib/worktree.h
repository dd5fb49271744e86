/* See LICENSE. What in a work-tree folder is not safely in git. */
#ifndef WORKTREE_H
#define WORKTREE_H

#include <stddef.h>
#include <git2.h>

/*
 * Calls CB for each path under RELPATH (relative to the work tree, no trailing '/') that is
 * modified (staged or not), deleted, untracked, or (when include_ignored) git-ignored, with
 * a one-word reason: "modified", "deleted", "untracked", "ignored". Untracked and ignored
 * folders are listed file by file. Returns the number of such paths, or -1 with err.
 */
typedef void worktree_cb(void *arg, const char *path, const char *why);

long	 worktree_dirty(git_repository *, const char *relpath, int include_ignored,
	    worktree_cb *, void *arg, char *err, size_t errlen);

#endif
