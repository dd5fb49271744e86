/* See LICENSE. Push, ls-remote and fetch over libgit2, with credentials from a callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "log.h"
#include "gitpush.h"
#include "tlsstream.h"

/*
 * What the callbacks learn during one operation. libgit2 folds most failures into a
 * negative code and a message; the flags here say what really happened, so that a refused
 * password or a lost lease is reported as such and not as "some libgit2 error".
 */
struct op {
	const struct gitremote	*r;
	int			 cred_calls;
	int			 auth_refused;
	int			 no_creds;
	const char		*ref;
	const git_oid		*lease;
	int			 lease_lost;
	git_oid			 seen;		/* the remote's REF when the lease was lost */
	int			 rejected;
	char			 reject[160];	/* the server's reason for a refused ref */
};

/*
 * Formats err; the text may quote libgit2 and the server, so control characters are
 * blanked and any credential is blotted out. The URL carries none, but a server could
 * echo one back.
 */
static void
seterr(const struct gitremote *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
seterr(const struct gitremote *r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	unsigned char *p;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (p = (unsigned char *)err; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	log_scrub(err, r->password);
	log_scrub(err, r->token);
}

static int
on_credentials(git_credential **out, const char *url, const char *user_from_url,
    unsigned int allowed, void *payload)
{
	struct op *op = payload;
	const struct gitremote *r = op->r;
	const char *user, *pass;

	if (!(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_PASSTHROUGH;
	if (r->token != NULL && r->token[0] != '\0') {
		/*
		 * Gitea takes a token as the password of any user name (services/auth/basic.go
		 * looks the password up as a token first and ignores the name then).
		 */
		user = r->user != NULL && r->user[0] != '\0' ? r->user : "orket";
		pass = r->token;
	} else if (r->user != NULL && r->user[0] != '\0') {
		user = r->user;
		pass = r->password != NULL ? r->password : "";
	} else {
		op->no_creds = 1;
		git_error_set(GIT_ERROR_HTTP, "the server asks for credentials and none were given");
		return GIT_EAUTH;
	}
	/* Asked again: the server refused what we gave; asking once more would not help. */
	if (op->cred_calls++ > 0) {
		op->auth_refused = 1;
		git_error_set(GIT_ERROR_HTTP, "the server refused the credentials of %s", user);
		return GIT_EAUTH;
	}
	return git_credential_userpass_plaintext_new(out, user, pass);
}

static int
on_negotiation(const git_push_update **u, size_t n, void *payload)
{
	struct op *op = payload;
	git_oid zero;
	size_t i;

	if (op->lease == NULL)
		return 0;
	memset(&zero, 0, sizeof(zero));
	for (i = 0; i < n; i++) {
		if (strcmp(u[i]->dst_refname, op->ref) != 0)
			continue;
		if (!git_oid_equal(&u[i]->src, op->lease)) {
			op->lease_lost = 1;
			git_oid_cpy(&op->seen, &u[i]->src);
			git_error_set(GIT_ERROR_REFERENCE, "lease lost");
			return GIT_EUSER;
		}
	}
	return 0;
}

static int
on_update(const char *ref, const char *status, void *payload)
{
	struct op *op = payload;

	if (status != NULL && !op->rejected) {
		op->rejected = 1;
		snprintf(op->reject, sizeof(op->reject), "%s", status);
	}
	return 0;
}

/*
 * Every operation also turns redirects off (follow_redirects): the credential callback
 * must never hand the password to a server other than the one in the URL.
 */
static void
callbacks(git_remote_callbacks *cb, struct op *op)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = on_credentials;
	cb->push_negotiation = on_negotiation;
	cb->push_update_reference = on_update;
	cb->payload = op;
}

/* A libgit2 failure into a GITPUSH_* code and a message, "WHAT URL: why". */
static int
failed(struct op *op, int rc, const char *what, char *err, size_t errlen)
{
	const struct gitremote *r = op->r;
	const git_error *ge = git_error_last();
	const char *msg = ge != NULL && ge->message != NULL ? ge->message : "libgit2 error";
	char h1[GIT_OID_HEXSZ + 1], h2[GIT_OID_HEXSZ + 1];

	if (op->auth_refused || op->no_creds || rc == GIT_EAUTH) {
		seterr(r, err, errlen, "%s %s: %s", what, r->url, op->no_creds ?
		    "the server asks for credentials and none were given" :
		    "the server refused the credentials");
		return GITPUSH_EAUTH;
	}
	if (op->lease_lost) {
		git_oid_tostr(h1, sizeof(h1), &op->seen);
		git_oid_tostr(h2, sizeof(h2), op->lease);
		seterr(r, err, errlen, "%s %s: %s is %s on the server, not %s as expected: "
		    "someone else pushed; refusing to overwrite it", what, r->url, op->ref,
		    git_oid_is_zero(&op->seen) ? "absent" : h1,
		    git_oid_is_zero(op->lease) ? "absent" : h2);
		return GITPUSH_EREJECT;
	}
	if (rc == GIT_ENONFASTFORWARD) {
		seterr(r, err, errlen, "%s %s: %s: not a fast-forward (the remote history "
		    "differs)", what, r->url, op->ref);
		return GITPUSH_EREJECT;
	}
	/*
	 * libgit2 files a refused off-site redirect under GIT_ERROR_NET, but trying again
	 * will not help: the server is configured to send us elsewhere.
	 */
	if (strncmp(msg, "cannot redirect", 15) == 0) {
		seterr(r, err, errlen, "%s %s: %s (redirects to another host are not followed)",
		    what, r->url, msg);
		return GITPUSH_EGIT;
	}
	if (rc == GIT_ECERTIFICATE || (ge != NULL && (ge->klass == GIT_ERROR_NET ||
	    ge->klass == GIT_ERROR_SSL || ge->klass == GIT_ERROR_OS))) {
		seterr(r, err, errlen, "%s %s: %s", what, r->url, msg);
		return GITPUSH_ENET;
	}
	seterr(r, err, errlen, "%s %s: %s", what, r->url, msg);
	return GITPUSH_EGIT;
}

/*
 * An anonymous remote for URL. insteadOf rewriting is skipped: the URL is the operator's,
 * and a rule in some git config must not send our credentials elsewhere (it also keeps us
 * off a leak of Debian's libgit2 1.5 with PCRE2 in its config regex matching).
 */
static int
remote_new(git_remote **out, git_repository *repo, const char *url)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(out, url, &o);
}

/* The URL must carry no credentials: they would end up in libgit2's messages. */
static int
check_url(const struct gitremote *r, char *err, size_t errlen)
{
	const char *h;
	size_t n;

	if (r->url == NULL || (strncmp(r->url, "http://", 7) != 0 &&
	    strncmp(r->url, "https://", 8) != 0)) {
		seterr(r, err, errlen, "the remote URL must start with http:// or https://");
		return -1;
	}
	h = strstr(r->url, "//") + 2;
	n = strcspn(h, "/?#");
	if (memchr(h, '@', n) != NULL) {
		seterr(r, err, errlen, "the remote URL must not hold credentials (user@host)");
		return -1;
	}
	return 0;
}

static int
check_ref(const struct gitremote *r, const char *ref, char *err, size_t errlen)
{
	if (ref == NULL || strncmp(ref, "refs/", 5) != 0 || !git_reference_is_valid_name(ref)) {
		seterr(r, err, errlen, "bad ref name: %s", ref != NULL ? ref : "(none)");
		return -1;
	}
	return 0;
}

/* A per-remote CA file replaces the trust anchors of gitpush_init. */
static int
use_ca(const struct gitremote *r, char *err, size_t errlen)
{
	char e[256];

	if (r->cafile == NULL || r->cafile[0] == '\0')
		return 0;
	if (tlsstream_load_ca(r->cafile, e, sizeof(e)) == -1) {
		seterr(r, err, errlen, "%s", e);
		return -1;
	}
	return 0;
}

int
gitpush_init(const char *cafile, char *err, size_t errlen)
{
	return tlsstream_register(cafile, err, errlen) == -1 ? GITPUSH_EGIT : GITPUSH_OK;
}

void
gitpush_set_timeout(long ms)
{
	tlsstream_set_timeout(ms);
}

void
gitpush_free(void)
{
	tlsstream_free();
}

int
gitpush_ls_remote(git_repository *repo, const struct gitremote *r, const char *ref,
    git_oid *out, int *found, char *err, size_t errlen)
{
	git_remote *rm = NULL;
	git_remote_connect_options co;
	const git_remote_head **heads;
	struct op op;
	size_t n, i;
	int rc, ret;

	memset(&op, 0, sizeof(op));
	op.r = r;
	op.ref = ref;
	*found = 0;
	if (check_url(r, err, errlen) == -1 || check_ref(r, ref, err, errlen) == -1 ||
	    use_ca(r, err, errlen) == -1)
		return GITPUSH_EGIT;
	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	callbacks(&co.callbacks, &op);
	co.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	if ((rc = remote_new(&rm, repo, r->url)) < 0 ||
	    (rc = git_remote_connect_ext(rm, GIT_DIRECTION_FETCH, &co)) < 0 ||
	    (rc = git_remote_ls(&heads, &n, rm)) < 0) {
		ret = failed(&op, rc, "ls-remote", err, errlen);
		goto done;
	}
	for (i = 0; i < n; i++)
		if (strcmp(heads[i]->name, ref) == 0) {
			git_oid_cpy(out, &heads[i]->oid);
			*found = 1;
			break;
		}
	ret = GITPUSH_OK;
done:
	if (rm != NULL)
		git_remote_disconnect(rm);
	git_remote_free(rm);
	return ret;
}

int
gitpush_push(git_repository *repo, const struct gitremote *r, const git_oid *commit,
    const char *ref, const git_oid *lease, char *err, size_t errlen)
{
	git_remote *rm = NULL;
	git_reference *tmp = NULL;
	git_push_options po;
	git_strarray specs;
	struct op op;
	char tmpref[64], spec[512], *sp[1];
	int rc, ret;

	memset(&op, 0, sizeof(op));
	op.r = r;
	op.ref = ref;
	op.lease = lease;
	if (check_url(r, err, errlen) == -1 || check_ref(r, ref, err, errlen) == -1 ||
	    use_ca(r, err, errlen) == -1)
		return GITPUSH_EGIT;
	/*
	 * libgit2 pushes references, not object ids: the commit gets a ref of its own for
	 * the time of the push, named after our pid so that two publishers do not collide.
	 */
	snprintf(tmpref, sizeof(tmpref), "refs/orket/push/%ld", (long)getpid());
	if (snprintf(spec, sizeof(spec), "%s%s:%s", lease != NULL ? "+" : "", tmpref, ref) >=
	    (int)sizeof(spec)) {
		seterr(r, err, errlen, "ref name too long: %s", ref);
		return GITPUSH_EGIT;
	}
	if ((rc = git_reference_create(&tmp, repo, tmpref, commit, 1, "orket: push")) < 0) {
		ret = failed(&op, rc, "push to", err, errlen);
		return ret == GITPUSH_ENET ? GITPUSH_EGIT : ret;
	}
	sp[0] = spec;
	specs.strings = sp;
	specs.count = 1;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	callbacks(&po.callbacks, &op);
	po.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	if ((rc = remote_new(&rm, repo, r->url)) < 0 ||
	    (rc = git_remote_push(rm, &specs, &po)) < 0) {
		ret = failed(&op, rc, "push to", err, errlen);
		goto done;
	}
	if (op.rejected) {
		seterr(r, err, errlen, "push to %s: the server refused %s: %s", r->url, ref,
		    op.reject);
		ret = GITPUSH_EREJECT;
		goto done;
	}
	ret = GITPUSH_OK;
done:
	git_remote_free(rm);
	git_reference_delete(tmp);
	git_reference_free(tmp);
	return ret;
}

int
gitpush_fetch(git_repository *repo, const struct gitremote *r, const char *ref,
    const char *localref, git_oid *out, char *err, size_t errlen)
{
	git_remote *rm = NULL;
	git_reference *old = NULL;
	git_fetch_options fo;
	git_strarray specs;
	struct op op;
	char spec[512], *sp[1];
	int rc, ret;

	memset(&op, 0, sizeof(op));
	op.r = r;
	op.ref = ref;
	if (check_url(r, err, errlen) == -1 || check_ref(r, ref, err, errlen) == -1 ||
	    check_ref(r, localref, err, errlen) == -1 || use_ca(r, err, errlen) == -1)
		return GITPUSH_EGIT;
	if (snprintf(spec, sizeof(spec), "+%s:%s", ref, localref) >= (int)sizeof(spec)) {
		seterr(r, err, errlen, "ref name too long: %s", ref);
		return GITPUSH_EGIT;
	}
	/* A stale LOCALREF must not pass for what the server has now. */
	if (git_reference_lookup(&old, repo, localref) == 0) {
		git_reference_delete(old);
		git_reference_free(old);
	}
	sp[0] = spec;
	specs.strings = sp;
	specs.count = 1;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	callbacks(&fo.callbacks, &op);
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if ((rc = remote_new(&rm, repo, r->url)) < 0 ||
	    (rc = git_remote_fetch(rm, &specs, &fo, "orket: parity fetch")) < 0) {
		ret = failed(&op, rc, "fetch from", err, errlen);
		goto done;
	}
	if (git_reference_name_to_id(out, repo, localref) < 0) {
		seterr(r, err, errlen, "fetch from %s: the server has no %s", r->url, ref);
		ret = GITPUSH_EGIT;
		goto done;
	}
	ret = GITPUSH_OK;
done:
	git_remote_free(rm);
	return ret;
}
