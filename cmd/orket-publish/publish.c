/* See LICENSE. The publish run: discover, split, create, push, verify, record, delete. */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "gitea.h"
#include "gitpush.h"
#include "log.h"
#include "publish.h"
#include "registry.h"
#include "split.h"
#include "worktree.h"

#define ERR_MAX		512
#define BRANCH_MAX	256

enum pstate {
	P_TODO,		/* to be attempted */
	P_SKIP,		/* a dot-folder, or no history in HEAD: not an error */
	P_OK,
	P_FAIL
};

struct project {
	char		*name;		/* the folder's own name, raw */
	char		*prefix;	/* source dir "/" name */
	char		 repo[PUBLISH_NAME_MAX + 1];
	char		 local[PATH_MAX];	/* absolute, resolved */
	enum pstate	 state;
	int		 neterr;	/* failed for want of an answer from the server */
	size_t		 ord;		/* its place among the projects attempted, from 1 */
	int		 have_split;
	git_oid		 tree;		/* the prefix's tree at HEAD */
	git_oid		 split;
	char		 result[ERR_MAX + 32];
};

struct run {
	const struct publish_config *cfg;
	git_repository	*repo;
	git_oid		 head;
	char		 root[PATH_MAX];	/* the repo root, resolved */
	char		 srcdir[PATH_MAX];	/* --source-dir, '/' trimmed, relative */
	char		 srcroot[PATH_MAX];	/* root "/" srcdir */
	char		 regpath[PATH_MAX];
	char		 cachedir[PATH_MAX];
	char		 branch[BRANCH_MAX];	/* "" when HEAD is detached and no --branch */
	char		 base[1024];		/* --gitea-url without trailing '/' */
	struct gitea	 gitea;
	struct project	*p;
	size_t		 np;
	size_t		 ntodo;		/* projects attempted */
};

/*
 * The original's slug: trim, lowercase, '_' to '-', every run of other characters outside
 * [a-z0-9-] (dots, non-ASCII bytes) to one '-', repeated '-' collapsed, '-' stripped from
 * both ends, "project" when nothing is left.
 */
void
publish_slug(const char *name, char *out, size_t outlen)
{
	const char *s, *e;
	size_t n = 0;
	int c;

	for (s = name; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	for (; s < e && n + 1 < outlen; s++) {
		c = tolower((unsigned char)*s);
		if (c == '_')
			c = '-';
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			c = '-';
		if (c == '-' && (n == 0 || out[n - 1] == '-'))
			continue;
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, outlen, "project");
}

static void
oidhex(const git_oid *id, char out[GIT_OID_HEXSZ + 1])
{
	git_oid_tostr(out, GIT_OID_HEXSZ + 1, id);
}

static void
progress(const struct run *r, size_t i, const char *what)
{
	if (r->cfg->progress)
		log_info("[%zu/%zu] %s: %s", r->p[i].ord, r->ntodo, r->p[i].name, what);
}

static void
fail(struct project *p, int neterr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The project failed: say why on stdout (the report) and stderr (the log). */
static void
fail(struct project *p, int neterr, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->state = P_FAIL;
	p->neterr = neterr;
	snprintf(p->result, sizeof(p->result), "failed: %s", msg);
	printf("  ERROR: %s\n", msg);
	log_warn("%s: %s", p->name, msg);
}

static int
namechars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/*
 * --source-dir as the registry records it: '/' trimmed from both ends. It must stay inside
 * the repo root and name the subtree prefix exactly, so absolute paths, empty components
 * and "." or ".." are refused rather than turned into a wrong prefix as the original did.
 */
static int
norm_source_dir(const char *in, char *out, size_t outlen)
{
	const char *s, *e, *c;
	size_t n;

	if (*in == '/') {
		log_warn("--source-dir must be relative to the repo root: %s", in);
		return -1;
	}
	for (s = in; *s == '/'; s++)
		;
	for (e = s + strlen(s); e > s && e[-1] == '/'; e--)
		;
	n = (size_t)(e - s);
	if (n == 0 || n >= outlen) {
		log_warn("--source-dir is %s: %s", n == 0 ? "empty" : "too long", in);
		return -1;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	for (c = out; ; ) {
		const char *slash = strchr(c, '/');
		size_t len = slash != NULL ? (size_t)(slash - c) : strlen(c);

		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.')) {
			log_warn("--source-dir may not hold empty, \".\" or \"..\" parts: %s", in);
			return -1;
		}
		if (slash == NULL)
			break;
		c = slash + 1;
	}
	return 0;
}

/* http:// or https://, no userinfo (credentials go through the environment), no query. */
static int
check_url(const char *url, char *base, size_t baselen)
{
	const char *h, *end;
	size_t n;

	if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		h = url + 8;
	else {
		log_warn("--gitea-url must start with http:// or https://");
		return -1;
	}
	end = h + strcspn(h, "/");
	if (end == h) {
		log_warn("--gitea-url has no host");
		return -1;
	}
	/* Not echoed: whatever is in there may be a password. */
	if (memchr(h, '@', (size_t)(end - h)) != NULL) {
		log_warn("--gitea-url must not carry credentials: set GITEA_ADMIN_USER and "
		    "GITEA_ADMIN_PASSWORD or GITEA_TOKEN instead");
		return -1;
	}
	if (strpbrk(url, "?# \t\r\n") != NULL) {
		log_warn("--gitea-url may not hold a query, a fragment or spaces");
		return -1;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n >= baselen) {
		log_warn("--gitea-url is too long");
		return -1;
	}
	memcpy(base, url, n);
	base[n] = '\0';
	return 0;
}

static int
cmpname(const void *a, const void *b)
{
	return strcmp(((const struct project *)a)->name, ((const struct project *)b)->name);
}

static int
selected(const struct publish_config *cfg, const char *name)
{
	const char *s, *e;
	size_t i, n;

	if (cfg->projects == NULL)
		return 1;
	n = strlen(name);
	for (i = 0; i < cfg->nprojects; i++) {
		for (s = cfg->projects[i]; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		if ((size_t)(e - s) == n && n > 0 && memcmp(s, name, n) == 0)
			return 1;
	}
	return 0;
}

/* Immediate child folders of the source root (a symlink to one counts), in byte order. */
static int
discover(struct run *r)
{
	const struct publish_config *cfg = r->cfg;
	char path[PATH_MAX];
	struct dirent *de;
	struct project *np;
	struct stat st;
	size_t cap = 0, i;
	DIR *d;

	if ((d = opendir(r->srcroot)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		log_warnsys("unable to read the source folder %s", r->srcroot);
		return 111;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!selected(cfg, de->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", r->srcroot, de->d_name) >=
		    sizeof(path) || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (r->np == cap) {
			cap = cap ? cap * 2 : 16;
			if ((np = realloc(r->p, cap * sizeof(*np))) == NULL)
				goto nomem;
			r->p = np;
		}
		memset(&r->p[r->np], 0, sizeof(r->p[r->np]));
		if ((r->p[r->np].name = strdup(de->d_name)) == NULL)
			goto nomem;
		r->np++;
	}
	if (errno != 0) {
		log_warnsys("unable to read the source folder %s", r->srcroot);
		closedir(d);
		return 111;
	}
	closedir(d);
	if (r->np > 0)
		qsort(r->p, r->np, sizeof(*r->p), cmpname);
	/* Names that match nothing were silently ignored by the original; say so at least. */
	for (i = 0; cfg->projects != NULL && i < cfg->nprojects; i++) {
		size_t j;
		int hit = 0;

		for (j = 0; j < r->np && !hit; j++)
			hit = selected(&(struct publish_config){ .projects = &cfg->projects[i],
			    .nprojects = 1 }, r->p[j].name);
		if (!hit && cfg->projects[i][strspn(cfg->projects[i], " \t")] != '\0')
			log_warn("--projects: no project folder named %s under %s",
			    cfg->projects[i], r->srcroot);
	}
	return 0;
nomem:
	closedir(d);
	log_warnsys("unable to allocate");
	return 111;
}

/* Skips, names, prefixes and repo-name collisions, before anything is split. */
static int
classify(struct run *r)
{
	struct project *p, *q;
	char slug[PATH_MAX];
	size_t i, j, n;
	int rc;

	for (i = 0; i < r->np; i++) {
		p = &r->p[i];
		n = strlen(r->srcdir) + 1 + strlen(p->name) + 1;
		if ((p->prefix = malloc(n)) == NULL) {
			log_warnsys("unable to allocate");
			return 111;
		}
		snprintf(p->prefix, n, "%s/%s", r->srcdir, p->name);
		if (p->name[0] == '.') {
			p->state = P_SKIP;
			snprintf(p->result, sizeof(p->result), "skipped: dot-folder");
			continue;
		}
		rc = split_prefix_tree(r->repo, &r->head, p->prefix, &p->tree);
		if (rc == 1) {
			p->state = P_SKIP;
			snprintf(p->result, sizeof(p->result), "skipped: not in HEAD");
			continue;
		}
		if (rc != 0) {
			p->state = P_FAIL;
			snprintf(p->result, sizeof(p->result), "failed: unable to read %s at HEAD",
			    p->prefix);
			log_warn("%s: unable to read %s at HEAD", p->name, p->prefix);
			continue;
		}
		publish_slug(p->name, slug, sizeof(slug));
		if (strlen(r->cfg->repo_prefix) + strlen(slug) > PUBLISH_NAME_MAX) {
			p->state = P_FAIL;
			snprintf(p->result, sizeof(p->result),
			    "failed: repo name longer than %d characters", PUBLISH_NAME_MAX);
			log_warn("%s: the repo name %s%s is longer than %d characters", p->name,
			    r->cfg->repo_prefix, slug, PUBLISH_NAME_MAX);
			continue;
		}
		memcpy(p->repo, r->cfg->repo_prefix, strlen(r->cfg->repo_prefix));
		memcpy(p->repo + strlen(r->cfg->repo_prefix), slug, strlen(slug) + 1);
		if ((size_t)snprintf(p->local, sizeof(p->local), "%s/%s", r->srcroot, p->name) >=
		    sizeof(p->local)) {
			p->state = P_FAIL;
			snprintf(p->result, sizeof(p->result), "failed: path too long");
			continue;
		}
	}
	/* Two folders that slug alike would push into one repo, each over the other. */
	for (i = 0; i < r->np; i++) {
		p = &r->p[i];
		if (p->repo[0] == '\0' || p->state == P_SKIP)
			continue;
		for (j = 0; j < r->np; j++) {
			q = &r->p[j];
			if (j == i || q->repo[0] == '\0' || q->state == P_SKIP ||
			    strcmp(p->repo, q->repo) != 0)
				continue;
			p->state = P_FAIL;
			snprintf(p->result, sizeof(p->result),
			    "failed: repo name %s collides with folder %.60s", p->repo, q->name);
			log_warn("%s: the repo name %s is also the name of folder %s", p->name,
			    p->repo, q->name);
			break;
		}
	}
	return 0;
}

static int
split_project(struct run *r, struct project *p)
{
	char err[ERR_MAX], hex[GIT_OID_HEXSZ + 1];
	split_cache *cache = NULL;
	int rc;

	if (split_cache_open(&cache, r->cachedir, p->prefix, err, sizeof(err)) != 0) {
		log_warn("%s: split cache not used: %s", p->name, err);
		cache = NULL;
	}
	rc = split_subtree(r->repo, p->prefix, &r->head, cache, &p->split, err, sizeof(err));
	if (rc == SPLIT_OK && cache != NULL && split_cache_save(cache, err, sizeof(err)) != 0)
		log_warn("%s: unable to save the split cache: %s", p->name, err);
	split_cache_free(cache);
	if (rc == SPLIT_ENOHISTORY) {
		fail(p, 0, "%s has no history in HEAD", p->prefix);
		return -1;
	}
	if (rc != SPLIT_OK) {
		fail(p, 0, "unable to split %s: %s", p->prefix, err);
		return -1;
	}
	p->have_split = 1;
	oidhex(&p->split, hex);
	printf("  Subtree commit: %s\n", hex);
	return 0;
}

/* Lock, load, change one record, save, unlock: nothing another writer did is lost. */
static int
record(struct run *r, struct project *p, const char *remote_sha, int parity,
    int deleted, char *err, size_t errlen)
{
	char now[40], hex[GIT_OID_HEXSZ + 1], ref[BRANCH_MAX + 16];
	registry *reg = NULL;
	size_t i;
	long k;
	int lockfd, rc = -1;

	if (registry_lock(r->regpath, &lockfd, err, errlen) != 0)
		return -1;
	if (registry_load(&reg, r->regpath, err, errlen) != 0)
		goto out;
	if ((k = registry_upsert(reg, r->srcdir, p->name)) < 0) {
		snprintf(err, errlen, "unable to add a record: out of memory");
		goto out;
	}
	i = (size_t)k;
	registry_isotime(now);
	if (deleted) {
		if (registry_set_str(reg, i, "deleted_at", now) != 0)
			goto nomem;
	} else {
		oidhex(&p->split, hex);
		snprintf(ref, sizeof(ref), "%s/%s", r->cfg->owner, p->repo);
		if (registry_set_str(reg, i, "source_dir", r->srcdir) != 0 ||
		    registry_set_str(reg, i, "project_name", p->name) != 0 ||
		    registry_set_str(reg, i, "prefix", p->prefix) != 0 ||
		    registry_set_str(reg, i, "repo", ref) != 0 ||
		    registry_set_str(reg, i, "branch", r->branch) != 0 ||
		    registry_set_str(reg, i, "local_path", p->local) != 0 ||
		    registry_set_str(reg, i, "last_published_sha", hex) != 0 ||
		    registry_set_str(reg, i, "last_remote_sha", remote_sha) != 0 ||
		    registry_set_bool(reg, i, "parity_verified", parity) != 0 ||
		    registry_set_str(reg, i, "last_published_at", now) != 0 ||
		    registry_set_str(reg, i, "archived_at", NULL) != 0 ||
		    registry_set_str(reg, i, "archived_path", NULL) != 0 ||
		    registry_set_str(reg, i, "deleted_at", NULL) != 0)
			goto nomem;
	}
	rc = registry_save(reg, err, errlen);
	goto out;
nomem:
	snprintf(err, errlen, "unable to change a record: out of memory");
out:
	registry_free(reg);
	registry_unlock(lockfd);
	return rc;
}

/* The remote branch is the split commit, and its tree, fetched back, is HEAD's prefix tree. */
static int
parity(struct run *r, struct project *p, const struct gitremote *rem, const char *ref,
    char remote_hex[GIT_OID_HEXSZ + 1])
{
	char err[ERR_MAX], localref[PUBLISH_NAME_MAX + 32], a[GIT_OID_HEXSZ + 1];
	git_reference *lref = NULL;
	git_commit *c = NULL;
	git_oid rsha, fetched;
	int found = 0, rc;

	rc = gitpush_ls_remote(r->repo, rem, ref, &rsha, &found, err, sizeof(err));
	if (rc != GITPUSH_OK) {
		printf("  Parity: FAILED\n");
		fail(p, rc == GITPUSH_ENET, "unable to read back %s: %s", ref, err);
		return -1;
	}
	if (!found) {
		printf("  Parity: FAILED\n");
		fail(p, 0, "parity: the server has no %s after the push", ref);
		return -1;
	}
	oidhex(&rsha, remote_hex);
	if (!git_oid_equal(&rsha, &p->split)) {
		oidhex(&p->split, a);
		printf("  Parity: FAILED\n");
		fail(p, 0, "parity: the remote %s is %.12s, not the split %.12s", ref,
		    remote_hex, a);
		return -1;
	}
	snprintf(localref, sizeof(localref), "refs/orket/parity/%s", p->repo);
	rc = gitpush_fetch(r->repo, rem, ref, localref, &fetched, err, sizeof(err));
	if (git_reference_lookup(&lref, r->repo, localref) == 0) {
		git_reference_delete(lref);
		git_reference_free(lref);
	}
	if (rc != GITPUSH_OK) {
		printf("  Parity: FAILED\n");
		fail(p, rc == GITPUSH_ENET, "unable to fetch %s back: %s", ref, err);
		return -1;
	}
	if (!git_oid_equal(&fetched, &p->split) ||
	    git_commit_lookup(&c, r->repo, &fetched) != 0 ||
	    !git_oid_equal(git_commit_tree_id(c), &p->tree)) {
		git_commit_free(c);
		printf("  Parity: FAILED\n");
		fail(p, 0, "parity: the fetched %s does not hold the tree of %s at HEAD", ref,
		    p->prefix);
		return -1;
	}
	git_commit_free(c);
	printf("  Parity: OK\n");
	return 0;
}

static void
dirty_cb(void *arg, const char *path, const char *why)
{
	size_t *n = arg;

	if (++*n <= 1000)
		printf("    %s: %s\n", why, path);
	else if (*n == 1001)
		printf("    ...\n");
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) == 0 ? 0 : -1;
}

/* Only a folder whose every file is in HEAD: anything else exists nowhere but here. */
static int
delete_local(struct run *r, struct project *p)
{
	char err[ERR_MAX];
	struct stat st;
	size_t shown = 0;
	long n;

	n = worktree_dirty(r->repo, p->prefix, 1, dirty_cb, &shown, err, sizeof(err));
	if (n < 0) {
		fail(p, 0, "unable to list what is not in git under %s: %s", p->prefix, err);
		return -1;
	}
	if (n > 0) {
		fail(p, 0, "not deleted: %ld file(s) under %s are modified, untracked or "
		    "ignored (listed above)", n, p->prefix);
		return -1;
	}
	if (lstat(p->local, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fail(p, 0, "not deleted: %s is not a folder", p->local);
		return -1;
	}
	if (nftw(p->local, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
		fail(p, 0, "unable to delete %s: %s", p->local, strerror(errno));
		return -1;
	}
	printf("  Local delete: %s\n", p->local);
	return 0;
}

static void
publish_one(struct run *r, size_t i)
{
	const struct publish_config *cfg = r->cfg;
	struct project *p = &r->p[i];
	struct gitremote rem;
	char err[ERR_MAX], url[2048], ref[BRANCH_MAX + 16], rhex[GIT_OID_HEXSZ + 1] = "";
	git_oid before, zero;
	int found = 0, rc, verified = 0, pushed = 0;

	progress(r, i, "splitting");
	if (split_project(r, p) != 0)
		return;
	if (!cfg->execute) {
		printf("  Push: skipped (dry-run).\n");
		p->state = P_OK;
		snprintf(p->result, sizeof(p->result), "would publish");
		return;
	}

	progress(r, i, "looking up the repository");
	rc = gitea_repo_exists(&r->gitea, cfg->owner, p->repo);
	if (rc == GITEA_OK)
		printf("  Repo exists: True\n");
	else if (rc == GITEA_EMISSING) {
		printf("  Repo exists: False\n");
		if (cfg->no_create) {
			fail(p, 0, "%s/%s does not exist and --no-create was given",
			    cfg->owner, p->repo);
			return;
		}
		progress(r, i, "creating the repository");
		rc = gitea_repo_create(&r->gitea, cfg->owner, p->repo, cfg->private_);
		if (rc != GITEA_OK) {
			fail(p, rc == GITEA_ENET, "unable to create %s/%s: %s", cfg->owner,
			    p->repo, r->gitea.err);
			return;
		}
		printf("  Repo created.%s\n", cfg->private_ ? " (private)" : "");
	} else {
		fail(p, rc == GITEA_ENET, "unable to look up %s/%s: %s", cfg->owner, p->repo,
		    r->gitea.err);
		return;
	}

	snprintf(url, sizeof(url), "%s/%s/%s.git", r->base, cfg->owner, p->repo);
	snprintf(ref, sizeof(ref), "refs/heads/%s", r->branch);
	memset(&rem, 0, sizeof(rem));
	rem.url = url;
	rem.cafile = *cfg->cafile ? cfg->cafile : NULL;
	if (*cfg->token != '\0') {
		rem.token = cfg->token;
		rem.user = *cfg->username ? cfg->username : NULL;
	} else {
		rem.user = cfg->username;
		rem.password = cfg->password;
	}

	/*
	 * The remote head just before the push: when it already is the split there is
	 * nothing to send, and under --force it is the lease, so that a push someone made
	 * since is refused rather than overwritten.
	 */
	progress(r, i, "reading the remote branch");
	rc = gitpush_ls_remote(r->repo, &rem, ref, &before, &found, err, sizeof(err));
	if (rc != GITPUSH_OK) {
		fail(p, rc == GITPUSH_ENET, "unable to read %s of %s/%s: %s", ref, cfg->owner,
		    p->repo, err);
		return;
	}
	if (found && git_oid_equal(&before, &p->split))
		printf("  Push: up to date\n");
	else {
		progress(r, i, "pushing");
		memset(&zero, 0, sizeof(zero));
		rc = gitpush_push(r->repo, &rem, &p->split, ref,
		    cfg->force ? (found ? &before : &zero) : NULL, err, sizeof(err));
		if (rc == GITPUSH_EREJECT) {
			fail(p, 0, "push to %s/%s refused: %s%s", cfg->owner, p->repo, err,
			    cfg->force ? "" : " (not a fast-forward? --force replaces it)");
			return;
		}
		if (rc != GITPUSH_OK) {
			fail(p, rc == GITPUSH_ENET, "unable to push to %s/%s: %s", cfg->owner,
			    p->repo, err);
			return;
		}
		printf("  Push: OK\n");
		pushed = 1;
	}

	if (cfg->verify_parity) {
		progress(r, i, "verifying parity");
		if (parity(r, p, &rem, ref, rhex) != 0)
			return;
		verified = 1;
	}
	if (record(r, p, rhex, verified, 0, err, sizeof(err)) != 0) {
		fail(p, 0, "pushed, but unable to update the registry %s: %s", r->regpath, err);
		return;
	}
	p->state = P_OK;
	snprintf(p->result, sizeof(p->result), "%s%s", pushed ? "published" : "up to date",
	    verified ? ", parity verified" : "");
	if (cfg->delete_local) {
		progress(r, i, "deleting the local folder");
		if (delete_local(r, p) != 0)
			return;
		if (record(r, p, rhex, verified, 1, err, sizeof(err)) != 0) {
			fail(p, 0, "deleted, but unable to update the registry %s: %s",
			    r->regpath, err);
			return;
		}
		snprintf(p->result, sizeof(p->result), "%s, parity verified, local deleted",
		    pushed ? "published" : "up to date");
	}
}

static void
summary(const struct run *r)
{
	char hex[GIT_OID_HEXSZ + 1], repo[PUBLISH_NAME_MAX + 128];
	size_t i, wn = 7, wr = 4, n;

	for (i = 0; i < r->np; i++) {
		if ((n = strlen(r->p[i].name)) > wn)
			wn = n;
		n = r->p[i].repo[0] ? strlen(r->cfg->owner) + 1 + strlen(r->p[i].repo) : 1;
		if (n > wr)
			wr = n;
	}
	printf("\nSummary:\n%-*s  %-*s  %-12s  %s\n", (int)wn, "project", (int)wr, "repo",
	    "commit", "result");
	for (i = 0; i < r->np; i++) {
		const struct project *p = &r->p[i];

		if (p->repo[0] != '\0')
			snprintf(repo, sizeof(repo), "%s/%s", r->cfg->owner, p->repo);
		else
			snprintf(repo, sizeof(repo), "-");
		if (p->have_split)
			oidhex(&p->split, hex);
		else
			snprintf(hex, sizeof(hex), "-");
		printf("%-*s  %-*s  %-12.12s  %s\n", (int)wn, p->name, (int)wr, repo, hex,
		    p->result);
	}
}

/* Which credentials are missing for --execute, as the original named them. */
static int
check_credentials(const struct publish_config *cfg)
{
	char miss[256] = "";

	if (*cfg->owner == '\0')
		strcat(miss, ", owner (--owner, GITEA_PRODUCT_OWNER)");
	if (*cfg->gitea_url == '\0')
		strcat(miss, ", gitea_url (--gitea-url, GITEA_URL)");
	if (*cfg->token == '\0') {
		if (*cfg->username == '\0')
			strcat(miss, ", username (--username, GITEA_ADMIN_USER)");
		if (*cfg->password == '\0')
			strcat(miss, ", password (GITEA_ADMIN_PASSWORD, or GITEA_TOKEN)");
	}
	if (miss[0] == '\0')
		return 0;
	log_warn("missing required args/env: %s", miss + 2);
	return -1;
}

static int
setup(struct run *r)
{
	const struct publish_config *cfg = r->cfg;
	git_reference *head = NULL;
	const char *wd;
	char wdreal[PATH_MAX], err[ERR_MAX];
	registry *reg = NULL;
	int valid = 0, lockfd = -1, e;

	if (realpath(cfg->repo_root, r->root) == NULL) {
		log_warnsys("unable to resolve the repo root %s", cfg->repo_root);
		return 100;
	}
	if (norm_source_dir(cfg->source_dir, r->srcdir, sizeof(r->srcdir)) != 0)
		return 100;
	if (*cfg->owner != '\0' && !namechars_ok(cfg->owner)) {
		log_warn("--owner may hold only letters, digits, '-', '_' and '.': %s",
		    cfg->owner);
		return 100;
	}
	if (!namechars_ok(cfg->repo_prefix)) {
		log_warn("--repo-prefix may hold only letters, digits, '-', '_' and '.': %s",
		    cfg->repo_prefix);
		return 100;
	}
	if (*cfg->gitea_url != '\0' && check_url(cfg->gitea_url, r->base, sizeof(r->base)) != 0)
		return 100;
	if ((size_t)snprintf(r->srcroot, sizeof(r->srcroot), "%s/%s", r->root, r->srcdir) >=
	    sizeof(r->srcroot) ||
	    (size_t)snprintf(r->regpath, sizeof(r->regpath), "%s/%s", r->root,
	    PUBLISH_REGISTRY) >= sizeof(r->regpath) ||
	    (size_t)snprintf(r->cachedir, sizeof(r->cachedir), "%s/%s", r->root,
	    PUBLISH_SPLIT_CACHE) >= sizeof(r->cachedir)) {
		log_warn("the repo root is too long: %s", r->root);
		return 100;
	}

	/* The top of a work tree, as git subtree wants: no search upwards. */
	if (git_repository_open_ext(&r->repo, r->root, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL) != 0) {
		log_warn("%s is not the top of a git work tree: %s", r->root,
		    git_error_last() ? git_error_last()->message : "unknown error");
		return 100;
	}
	if ((wd = git_repository_workdir(r->repo)) == NULL ||
	    realpath(wd, wdreal) == NULL || strcmp(wdreal, r->root) != 0) {
		log_warn("%s is not the top of a git work tree", r->root);
		return 100;
	}
	if (git_repository_head_unborn(r->repo) == 1 ||
	    git_reference_name_to_id(&r->head, r->repo, "HEAD") != 0) {
		log_warn("%s: HEAD has no commit to publish", r->root);
		return 100;
	}
	if (*cfg->branch != '\0') {
		if (snprintf(err, sizeof(err), "refs/heads/%s", cfg->branch) >= (int)sizeof(err) ||
		    strlen(cfg->branch) >= sizeof(r->branch) ||
		    git_reference_name_is_valid(&valid, err) != 0 || !valid) {
			log_warn("--branch is not a valid branch name: %s", cfg->branch);
			return 100;
		}
		snprintf(r->branch, sizeof(r->branch), "%s", cfg->branch);
	} else if (git_repository_head_detached(r->repo) != 1) {
		if (git_repository_head(&head, r->repo) != 0) {
			log_warn("unable to read HEAD: %s",
			    git_error_last() ? git_error_last()->message : "unknown error");
			return 111;
		}
		snprintf(r->branch, sizeof(r->branch), "%s", git_reference_shorthand(head));
		git_reference_free(head);
	}

	if (discover(r) != 0)
		return 111;
	if (r->np == 0) {
		printf("No project folders found/selected under %s.\n", r->srcroot);
		return 1;
	}
	if (cfg->execute) {
		if (check_credentials(cfg) != 0)
			return 100;
		if (*cfg->cafile != '\0' && access(cfg->cafile, R_OK) != 0) {
			log_warnsys("unable to read the CA file %s", cfg->cafile);
			return 100;
		}
		/*
		 * The original mapped a detached HEAD to "main" without a word: a CI
		 * checkout of a tag would then overwrite main. Ask instead.
		 */
		if (r->branch[0] == '\0') {
			log_warn("HEAD is detached: say which branch to publish to with --branch");
			return 100;
		}
	}
	if (classify(r) != 0)
		return 111;

	/* A registry we cannot read is refused now, before anything is pushed. */
	if (cfg->execute && registry_lock(r->regpath, &lockfd, err, sizeof(err)) != 0) {
		log_warn("unable to lock the registry %s: %s", r->regpath, err);
		return 111;
	}
	if (registry_load(&reg, r->regpath, err, sizeof(err)) != 0) {
		/* Bad content needs a human; a failed read may pass. */
		e = errno == EINVAL || errno == EFBIG ? 100 : 111;
		log_warn("unable to load the registry %s (left as it is): %s", r->regpath, err);
		if (cfg->execute)
			registry_unlock(lockfd);
		return e;
	}
	registry_free(reg);
	if (cfg->execute)
		registry_unlock(lockfd);

	if (cfg->execute) {
		r->gitea.base = r->base;
		r->gitea.user = *cfg->token ? NULL : cfg->username;
		r->gitea.password = *cfg->token ? NULL : cfg->password;
		r->gitea.token = *cfg->token ? cfg->token : NULL;
		r->gitea.cafile = *cfg->cafile ? cfg->cafile : NULL;
		if (gitpush_init(r->gitea.cafile, err, sizeof(err)) != 0) {
			log_warn("unable to set up TLS for git: %s", err);
			return 111;
		}
	}
	return 0;
}

int
publish_run(const struct publish_config *cfg)
{
	struct run r;
	size_t i, nok = 0, nfail = 0, nnet = 0, ntodo = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	if (git_libgit2_init() < 0) {
		log_warn("unable to initialise libgit2");
		return 111;
	}
	if ((rc = setup(&r)) != 0)
		goto out;

	for (i = 0; i < r.np; i++)
		if (r.p[i].state == P_TODO)
			r.p[i].ord = ++ntodo;
	r.ntodo = ntodo;
	printf("[%s] Publishing %zu project(s) from %s\n", cfg->execute ? "EXECUTE" : "DRY-RUN",
	    ntodo, r.srcroot);
	printf("Target branch: %s\n", r.branch[0] ? r.branch :
	    "(HEAD is detached: --execute needs --branch)");
	for (i = 0; i < r.np; i++) {
		struct project *p = &r.p[i];

		if (p->state == P_SKIP) {
			printf("\nSkipped: %s (%s)\n", p->name, p->result + 9);
			continue;
		}
		printf("\nProject: %s\n  Prefix: %s\n", p->name, p->prefix);
		if (p->repo[0] != '\0')
			printf("  Target: %s/%s (branch: %s)\n", *cfg->owner ? cfg->owner :
			    "(no owner)", p->repo, r.branch[0] ? r.branch : "?");
		if (p->state == P_FAIL) {
			printf("  ERROR: %s\n", p->result + 8);
			continue;
		}
		if (!cfg->execute)
			printf("  Repo exists: (skip in dry-run)\n");
		publish_one(&r, i);
		fflush(stdout);
	}
	summary(&r);

	for (i = 0; i < r.np; i++) {
		nok += r.p[i].state == P_OK;
		nfail += r.p[i].state == P_FAIL;
		nnet += r.p[i].state == P_FAIL && r.p[i].neterr;
	}
	printf("\nDone: %zu %s, %zu failed, %zu skipped.\n", nok,
	    cfg->execute ? "published" : "to publish", nfail, r.np - nok - nfail);
	if (nfail == 0)
		rc = nok > 0 ? 0 : 1;
	else if (nok == 0 && nnet == nfail)
		rc = 111;	/* nothing got through: the server is down or unreachable */
	else
		rc = 1;
out:
	for (i = 0; i < r.np; i++) {
		free(r.p[i].name);
		free(r.p[i].prefix);
	}
	free(r.p);
	git_repository_free(r.repo);
	if (cfg->execute)
		gitpush_free();
	git_libgit2_shutdown();
	return rc;
}
