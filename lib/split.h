/* See LICENSE. git subtree split, in process over libgit2, commit id for commit id. */
#ifndef SPLIT_H
#define SPLIT_H

#include <stddef.h>
#include <git2.h>

/*
 * The split of PREFIX at COMMIT is exactly what `git subtree split --prefix=PREFIX COMMIT`
 * (git 2.39 contrib/subtree) prints: same walk, same reuse of parents whose tree did not
 * change, same author, committer and message handling, so that repositories published by
 * the original keep fast-forwarding.
 *
 * The cache maps source commits to split commits for one prefix; it lives in a file under
 * DIR (e.g. .orket/split-cache) named after the prefix, so that a re-publish walks only the
 * commits it has not seen. A missing cache is empty; an unreadable or corrupt one is
 * reported and ignored (the cache only saves time, it never changes the answer).
 */
typedef struct split_cache split_cache;

/*
 * The cap on a cache file: about 85 bytes a commit, so some 780,000 commits. A larger file
 * is ignored (with a warning) when opened, and not written when saved.
 */
#define SPLIT_CACHE_MAX	(64u << 20)

int	 split_cache_open(split_cache **, const char *dir, const char *prefix,
	    char *err, size_t errlen);		/* 0, or -1 with err */
int	 split_cache_save(split_cache *, char *err, size_t errlen);	/* atomic */
void	 split_cache_free(split_cache *);

/* split_subtree results */
enum {
	SPLIT_OK = 0,
	SPLIT_ENOHISTORY = 1,	/* the prefix never existed in COMMIT's history */
	SPLIT_EGIT = -1		/* a libgit2 or I/O failure; err says which */
};

/*
 * Splits PREFIX (no leading or trailing '/') at COMMIT into *out. CACHE may be NULL.
 * New split commits are written to REPO's object database.
 */
int	 split_subtree(git_repository *, const char *prefix, const git_oid *commit,
	    split_cache *, git_oid *out, char *err, size_t errlen);

/* 1 when PREFIX is a usable prefix: relative, no empty, "." or ".." part, no newline. */
int	 split_prefix_ok(const char *prefix);

/* The tree id of PREFIX in COMMIT; 1 if the prefix is absent, 0 found, -1 error. */
int	 split_prefix_tree(git_repository *, const git_oid *commit, const char *prefix,
	    git_oid *tree);

#endif
