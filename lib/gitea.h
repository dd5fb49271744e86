/* See LICENSE. The Gitea REST calls orket-publish needs, over libcurl (BearSSL). */
#ifndef GITEA_H
#define GITEA_H

#include <stddef.h>

/*
 * One Gitea server. base is the URL as the operator wrote it (a sub-path such as
 * https://host/gitea is kept); credentials are either user+password (Basic, raw bytes,
 * never percent-encoded) or token (Authorization: token ...). No credential is ever put in
 * a URL, a log line or err. cafile: PEM bundle for https (NULL: the system's).
 */
struct gitea {
	const char	*base;
	const char	*user;
	const char	*password;
	const char	*token;
	const char	*cafile;
	long		 timeout_ms;	/* whole call; 0 means 30000 */
	long		 status;	/* HTTP status of the last call, 0 if none */
	char		 err[256];	/* why the last call failed */
};

/* Results: GITEA_OK, or a failure kind the caller maps to an exit code. */
enum {
	GITEA_OK = 0,
	GITEA_EMISSING = 1,	/* 404: the repo (or owner) does not exist */
	GITEA_EHTTP = -1,	/* an unexpected status (401, 403, 5xx...): see status, err */
	GITEA_ENET = -2		/* no answer: refused, DNS, TLS, timeout */
};

/* GET /api/v1/repos/{owner}/{repo}: GITEA_OK exists, GITEA_EMISSING 404, else error. */
int	 gitea_repo_exists(struct gitea *, const char *owner, const char *repo);

/*
 * Creates owner/repo: POST /api/v1/orgs/{owner}/repos; when the org endpoint answers 404
 * (owner is a user), POST /api/v1/admin/users/{owner}/repos. 201 is success; 409 (already
 * there) is success too. Segments are URL-escaped.
 */
int	 gitea_repo_create(struct gitea *, const char *owner, const char *repo, int private_);

#endif
