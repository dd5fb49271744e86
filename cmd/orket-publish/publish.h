/* See LICENSE. orket-publish: mirror each project folder into its own Gitea repository. */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <stddef.h>

/*
 * Gitea's own limit on a repository name (AlphaDashDot, at most 100 characters): a longer
 * name would only come back as a 422 after the split, so it is refused up front.
 */
#define PUBLISH_NAME_MAX	100

/* Where the run keeps its state, under the repo root. */
#define PUBLISH_REGISTRY	".orket/project_publish_registry.json"
#define PUBLISH_SPLIT_CACHE	".orket/split-cache"

/* Exit codes beyond 0/1/100/111 are not used; see orket-publish(1), EXIT STATUS. */

struct publish_config {
	const char	 *repo_root;	/* default "." */
	const char	 *owner;
	const char	 *gitea_url;
	const char	 *username;
	const char	 *password;	/* never printed */
	const char	 *token;	/* never printed */
	const char	 *cafile;
	const char	 *source_dir;	/* default "product" */
	const char	 *branch;	/* "" or NULL: HEAD's branch */
	const char	 *repo_prefix;
	char		**projects;	/* filter, NULL when --projects has no name */
	size_t		  nprojects;
	int		  private_;
	int		  no_create;
	int		  force;
	int		  verify_parity;
	int		  delete_local;
	int		  execute;
	int		  progress;	/* stderr is a terminal */
};

/* Slugs a folder name as the original did; out holds at least strlen(name) + 8 bytes. */
void	 publish_slug(const char *name, char *out, size_t outlen);

/* Runs the whole publish; returns the exit code (0, 1, 100 or 111). */
int	 publish_run(const struct publish_config *);

#endif
