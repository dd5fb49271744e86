/* See LICENSE. Push, ls-remote and fetch over libgit2, with credentials from a callback. */
#ifndef GITPUSH_H
#define GITPUSH_H

#include <stddef.h>
#include <git2.h>

/*
 * A remote: url has no userinfo (http:// or https://); the credential callback hands
 * user+password or token to libgit2 when the server asks. cafile: PEM trust anchors for
 * https through our BearSSL TLS stream (registered with git_stream_register).
 */
struct gitremote {
	const char	*url;
	const char	*user;
	const char	*password;
	const char	*token;
	const char	*cafile;
};

/*
 * Errors come back in err ("push to URL: why"), never holding a credential: the URL has
 * none (one with userinfo is refused) and any echo of the password or token is blotted
 * out. Off-site redirects are not followed. The functions share the trust anchors of
 * lib/tlsstream, which a remote's cafile replaces: MT-unsafe, one operation at a time.
 */
enum {
	GITPUSH_OK = 0,
	GITPUSH_EREJECT = 1,	/* the server refused the update (non fast-forward, lease lost, hook) */
	GITPUSH_EAUTH = 2,	/* credentials refused */
	GITPUSH_EGIT = -1,	/* anything else from libgit2 */
	GITPUSH_ENET = -2	/* connection, TLS or timeout */
};

/*
 * Once per process, after git_libgit2_init(): registers our streams (lib/tlsstream.h) for
 * http:// (TCP with timeouts) and https:// (BearSSL), taking precedence over any TLS
 * backend libgit2 was built with. cafile NULL: the system bundle, read at the first https
 * connection. A remote's own cafile replaces these trust anchors when it is used.
 */
int	 gitpush_init(const char *cafile, char *err, size_t errlen);

/* Connect, read and write timeout of later operations, in ms (default 30000). */
void	 gitpush_set_timeout(long ms);

/* Frees what gitpush_init loaded (before exit, for valgrind). */
void	 gitpush_free(void);

/* The remote's REF (refs/heads/NAME): *found = 0 when the ref does not exist. */
int	 gitpush_ls_remote(git_repository *, const struct gitremote *, const char *ref,
	    git_oid *out, int *found, char *err, size_t errlen);

/*
 * Pushes COMMIT to REF. lease NULL: a plain fast-forward push. lease non-NULL: a forced
 * push that goes through only if the remote REF still is *lease (zero oid: must not
 * exist), checked in push negotiation on the same connection.
 */
int	 gitpush_push(git_repository *, const struct gitremote *, const git_oid *commit,
	    const char *ref, const git_oid *lease, char *err, size_t errlen);

/*
 * Fetches the remote REF into LOCALREF (e.g. refs/orket/parity/NAME); its id in *out. A
 * LOCALREF left from before is deleted first; when the server has no REF the result is
 * GITPUSH_EGIT ("the server has no REF") and LOCALREF does not exist.
 */
int	 gitpush_fetch(git_repository *, const struct gitremote *, const char *ref,
	    const char *localref, git_oid *out, char *err, size_t errlen);

#endif
