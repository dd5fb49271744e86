/* See LICENSE. orket-clean's decision table, its safety checks and its actions. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "buf.h"
#include "clean.h"
#include "json.h"
#include "log.h"
#include "registry.h"
#include "split.h"
#include "worktree.h"

#define OUT_MAX		(64UL * 1024 * 1024)

struct ctx {
	const struct clean_config *cfg;
	char		*root;		/* the repo root, resolved */
	char		*archive;	/* the archive folder, resolved as far as it exists */
	char		*regpath;
	git_repository	*repo;
	registry	*reg;
	struct timespec	 now;
	char		 nowiso[40];
	char		 stamp[32];	/* YYYYmmdd-HHMMSS */
	struct buf	 out[3];	/* archived, deleted, skipped: objects, comma-joined */
	size_t		 count[3];
	int		 failed;
	int		 sysfail;	/* a failure retrying may fix */
	char		**chosen;	/* archive names handed out in this run */
	size_t		 nchosen;
	int		 swept;		/* the archive's stale partial copies looked for */
};

enum { OUT_ARCHIVED, OUT_DELETED, OUT_SKIPPED };

/* What one record is, as far as the checks before an action go. */
struct rec {
	size_t		 idx;
	const char	*name;		/* project_name, may be NULL */
	const char	*source_dir;
	char		*local;		/* local_path, normalised */
	char		*rel;		/* local_path below the repo root */
	char		*arch;		/* archived_path, normalised */
	char		*arel;		/* archived_path below the archive folder */
};

/* Append one finished JSON object to list k. */
static void
emit(struct ctx *c, int k, struct buf *obj)
{
	if ((c->count[k] > 0 && buf_addc(&c->out[k], ',') == -1) ||
	    buf_add(&c->out[k], obj->p, obj->len) == -1)
		log_fatalsys(111, "unable to build the report");
	c->count[k]++;
}

static void
skip(struct ctx *c, const char *name, const char *reason, const char *detail,
    const struct buf *files, long nfiles)
{
	struct buf b = BUF_INIT(OUT_MAX);
	struct jw jw;

	jw_init(&jw, &b);
	jw_obj_open(&jw);
	jw_key(&jw, "project");
	jw_str(&jw, name);
	jw_key(&jw, "reason");
	jw_str(&jw, reason);
	if (detail != NULL) {
		jw_key(&jw, "detail");
		jw_str(&jw, detail);
	}
	if (files != NULL) {
		jw_key(&jw, "files");
		jw_arr_open(&jw);
		if (files->len > 0)
			jw_raw(&jw, files->p, files->len);
		jw_arr_close(&jw);
		jw_key(&jw, "files_total");
		jw_int(&jw, nfiles);
	}
	jw_obj_close(&jw);
	if (jw_finish(&jw) == -1)
		log_fatalsys(111, "unable to build the report");
	emit(c, OUT_SKIPPED, &b);
	buf_free(&b);
	log_info("skipped %s: %s%s%s", name ? name : "(no name)", reason,
	    detail ? ": " : "", detail ? detail : "");
}

static void
failed(struct ctx *c, const char *name, const char *reason, const char *error)
{
	c->failed = 1;
	log_warn("%s: %s: %s", name, reason, error);
	skip(c, name, reason, error, NULL, 0);
}

/*
 * path made absolute against base and cut into clean components: no empty ones, no
 * ".". A ".." anywhere gives 1: it is refused, never resolved, since what it names
 * depends on symlinks this program does not follow.
 */
static int
normalize(const char *base, const char *path, char **out)
{
	struct buf b = BUF_INIT(PATH_MAX * 4);
	const char *p, *q;
	size_t n;
	int pass;

	*out = NULL;
	for (pass = path[0] == '/' ? 1 : 0; pass < 2; pass++) {
		for (p = pass == 0 ? base : path; *p != '\0'; p = q) {
			while (*p == '/')
				p++;
			if (*p == '\0')
				break;
			q = strchr(p, '/');
			if (q == NULL)
				q = p + strlen(p);
			n = (size_t)(q - p);
			if (n == 1 && p[0] == '.')
				continue;
			if (n == 2 && p[0] == '.' && p[1] == '.') {
				buf_free(&b);
				return 1;
			}
			if (buf_addc(&b, '/') == -1 || buf_add(&b, p, n) == -1) {
				buf_free(&b);
				return -1;
			}
		}
	}
	if (b.len == 0 && buf_addc(&b, '/') == -1)
		return -1;
	*out = buf_steal(&b);
	return *out == NULL ? -1 : 0;
}

/* The part of path strictly below dir, or NULL. */
static const char *
below(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[1] != '\0' ? path + 1 : NULL;
	if (strncmp(dir, path, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
		return NULL;
	return path + n + 1;
}

/* realpath for a path whose last components may not exist yet. */
static char *
resolve_loose(const char *path)
{
	char *r, *dir, *slash, *res;
	const char *last;

	if ((r = realpath(path, NULL)) != NULL || errno != ENOENT)
		return r;
	if ((dir = strdup(path)) == NULL)
		return NULL;
	while ((slash = strrchr(dir, '/')) != NULL && slash[1] == '\0' && slash != dir)
		*slash = '\0';
	if (slash == NULL || slash == dir) {
		last = slash == NULL ? dir : dir + 1;
		r = realpath(slash == NULL ? "." : "/", NULL);
	} else {
		*slash = '\0';
		last = slash + 1;
		r = resolve_loose(dir);
	}
	if (r == NULL || strcmp(last, "..") == 0 || strcmp(last, ".") == 0) {
		if (r != NULL)
			errno = EINVAL;
		free(r);
		free(dir);
		return NULL;
	}
	if ((res = malloc(strlen(r) + strlen(last) + 2)) != NULL)
		sprintf(res, "%s%s%s", r, strcmp(r, "/") == 0 ? "" : "/", last);
	free(r);
	free(dir);
	return res;
}

static int
days_since(const struct timespec *now, const struct timespec *t)
{
	long long s = (long long)now->tv_sec - (long long)t->tv_sec;

	if (now->tv_nsec < t->tv_nsec)
		s--;
	/* Floor, as Python's timedelta.days: a future time gives a negative age. */
	return (int)(s >= 0 ? s / 86400 : -((-s + 86399) / 86400));
}

struct dirty {
	struct buf	 files;		/* JSON strings, comma-joined */
	long		 n;
};

static void
dirty_cb(void *arg, const char *path, const char *why)
{
	struct dirty *d = arg;

	struct jw jw;

	if (d->n++ >= CLEAN_FILES_MAX)
		return;
	/* One small document per name: the writer takes one value at its top level. */
	if (d->files.len > 0)
		buf_addc(&d->files, ',');
	jw_init(&jw, &d->files);
	jw_str(&jw, path);
	log_info("  %s: %s", why, path);
}

/*
 * The folder at HEAD must be what was published. First its content: the tree at the
 * prefix in HEAD equals the tree of the published split commit, which the remote holds.
 * Then its history: splitting HEAD again, as git subtree split does, gives the published
 * commit itself, so the local history has nothing the remote lacks either. The split
 * cache only saves time; it is written back only when the run may write.
 * 0 when all is well, 1 a mismatch (detail says what), -1 a failure (detail says why).
 */
static int
head_check(struct ctx *c, const char *prefix, const char *sha, char *detail, size_t n)
{
	git_oid pub, head, out;
	git_commit *pc = NULL, *hc = NULL;
	git_tree *ht = NULL;
	git_tree_entry *te = NULL;
	split_cache *cache = NULL;
	char err[512], *dir = NULL, hex[GIT_OID_HEXSZ + 1];
	int r = 1, sr;

	if (sha == NULL || strlen(sha) != GIT_OID_HEXSZ || git_oid_fromstr(&pub, sha) < 0) {
		snprintf(detail, n, "no valid last_published_sha");
		return 1;
	}
	if (git_reference_name_to_id(&head, c->repo, "HEAD") < 0) {
		snprintf(detail, n, "HEAD names no commit");
		return 1;
	}
	if (git_commit_lookup(&pc, c->repo, &pub) < 0) {
		snprintf(detail, n, "the published commit %s is not in the repository", sha);
		goto out;
	}
	if (git_commit_lookup(&hc, c->repo, &head) < 0 || git_commit_tree(&ht, hc) < 0) {
		snprintf(detail, n, "unable to read HEAD");
		r = -1;
		goto out;
	}
	if (git_tree_entry_bypath(&te, ht, prefix) < 0 ||
	    git_tree_entry_type(te) != GIT_OBJECT_TREE) {
		snprintf(detail, n, "%s is not a folder at HEAD", prefix);
		goto out;
	}
	if (!git_oid_equal(git_tree_entry_id(te), git_commit_tree_id(pc))) {
		snprintf(detail, n, "%s at HEAD differs from the published commit %s", prefix,
		    sha);
		goto out;
	}
	if ((dir = malloc(strlen(c->root) + 32)) == NULL)
		log_fatalsys(111, "out of memory");
	sprintf(dir, "%s/.orket/split-cache", c->root);
	if (split_cache_open(&cache, dir, prefix, err, sizeof(err)) == -1) {
		log_warn("split cache for %s left unused: %s", prefix, err);
		cache = NULL;
	}
	sr = split_subtree(c->repo, prefix, &head, cache, &out, err, sizeof(err));
	if (sr == SPLIT_EGIT) {
		snprintf(detail, n, "unable to split %s: %s", prefix, err);
		r = -1;
		goto out;
	}
	if (sr == SPLIT_ENOHISTORY) {
		snprintf(detail, n, "%s has no history at HEAD", prefix);
		goto out;
	}
	if (!git_oid_equal(&out, &pub)) {
		git_oid_tostr(hex, sizeof(hex), &out);
		snprintf(detail, n, "the split of %s at HEAD is %s, not the published %s",
		    prefix, hex, sha);
		goto out;
	}
	if (c->cfg->execute && cache != NULL && split_cache_save(cache, err, sizeof(err)) == -1)
		log_warn("unable to save the split cache for %s: %s", prefix, err);
	r = 0;
out:
	split_cache_free(cache);
	free(dir);
	git_tree_entry_free(te);
	git_tree_free(ht);
	git_commit_free(hc);
	git_commit_free(pc);
	return r;
}

static const char *sweep_dir;

static void
swept(const char *name, int err)
{
	if (err)
		log_warn("unable to remove %s/%s, a partial copy left by a killed run: %s",
		    sweep_dir, name, strerror(err));
	else
		log_info("removed %s/%s, a partial copy left by a killed run", sweep_dir, name);
}

/* A free archive name for this project: NAME-STAMP, then NAME-STAMP-2 and so on. */
static char *
archive_name(struct ctx *c, const char *name, int archfd)
{
	struct stat st;
	char *s, **nc;
	size_t i, n = strlen(name) + strlen(c->stamp) + 16;
	int k, used;

	if ((s = malloc(n)) == NULL)
		return NULL;
	for (k = 1; k <= CLEAN_SUFFIX_MAX; k++) {
		if (k == 1)
			snprintf(s, n, "%s-%s", name, c->stamp);
		else
			snprintf(s, n, "%s-%s-%d", name, c->stamp, k);
		for (used = 0, i = 0; i < c->nchosen && !used; i++)
			used = strcmp(c->chosen[i], s) == 0;
		if (!used && archfd != -1 && fstatat(archfd, s, &st, AT_SYMLINK_NOFOLLOW) == 0)
			used = 1;
		if (used)
			continue;
		if ((nc = realloc(c->chosen, (c->nchosen + 1) * sizeof(*nc))) == NULL) {
			free(s);
			return NULL;
		}
		c->chosen = nc;
		if ((c->chosen[c->nchosen] = strdup(s)) == NULL) {
			free(s);
			return NULL;
		}
		c->nchosen++;
		return s;
	}
	free(s);
	errno = EEXIST;
	return NULL;
}

/* Whether a string field is the same (or absent from both) in two records. */
static int
same_str(const registry *a, size_t i, const registry *b, size_t j, const char *key)
{
	const char *x = registry_get_str(a, i, key), *y = registry_get_str(b, j, key);

	return x == NULL ? y == NULL : y != NULL && strcmp(x, y) == 0;
}

/*
 * Under the registry lock, reload and find the record again: it must still be the one
 * the checks saw (same local_path and archived_path, still verified, not deleted), or a
 * concurrent publish changed it (a new split, say) and this run leaves it alone.
 */
static long
relock(struct ctx *c, const struct rec *r, int *lockfd, registry **reg, char *err, size_t n)
{
	const char *lp, *ap, *ap0;
	long i;

	*reg = NULL;
	if (registry_lock(c->regpath, lockfd, err, n) == -1)
		return -1;
	if (registry_load(reg, c->regpath, err, n) == -1) {
		registry_unlock(*lockfd);
		return -1;
	}
	if ((i = registry_find(*reg, r->source_dir, r->name)) == -1)
		goto changed;
	lp = registry_get_str(*reg, (size_t)i, "local_path");
	ap = registry_get_str(*reg, (size_t)i, "archived_path");
	ap0 = registry_get_str(c->reg, r->idx, "archived_path");
	if (!same_str(*reg, (size_t)i, c->reg, r->idx, "last_published_sha") ||
	    lp == NULL || strcmp(lp, registry_get_str(c->reg, r->idx, "local_path")) != 0 ||
	    (ap == NULL) != (ap0 == NULL) || (ap != NULL && strcmp(ap, ap0) != 0) ||
	    !registry_get_bool(*reg, (size_t)i, "parity_verified") ||
	    registry_get_truthy(*reg, (size_t)i, "deleted_at"))
		goto changed;
	return i;
changed:
	snprintf(err, n, "the record changed since this run read it");
	errno = ESTALE;
	registry_free(*reg);
	*reg = NULL;
	registry_unlock(*lockfd);
	return -1;
}

static void
report_archived(struct ctx *c, const struct rec *r, const char *to)
{
	struct buf b = BUF_INIT(OUT_MAX);
	struct jw jw;

	jw_init(&jw, &b);
	jw_obj_open(&jw);
	jw_key(&jw, "project");
	jw_str(&jw, r->name);
	jw_key(&jw, "from");
	jw_str(&jw, r->local);
	jw_key(&jw, "to");
	jw_str(&jw, to);
	jw_obj_close(&jw);
	if (jw_finish(&jw) == -1)
		log_fatalsys(111, "unable to build the report");
	emit(c, OUT_ARCHIVED, &b);
	buf_free(&b);
	log_info("%s %s to %s", c->cfg->execute ? "archived" : "would archive", r->local, to);
}

static void
report_deleted(struct ctx *c, const struct rec *r)
{
	struct buf b = BUF_INIT(OUT_MAX);
	struct jw jw;

	jw_init(&jw, &b);
	jw_obj_open(&jw);
	jw_key(&jw, "project");
	jw_str(&jw, r->name);
	jw_key(&jw, "path");
	jw_str(&jw, r->arch);
	jw_obj_close(&jw);
	if (jw_finish(&jw) == -1)
		log_fatalsys(111, "unable to build the report");
	emit(c, OUT_DELETED, &b);
	buf_free(&b);
	log_info("%s %s", c->cfg->execute ? "deleted" : "would delete", r->arch);
}

/*
 * Archive: the registry is written first (archived_at, archived_path), then the folder
 * is moved. A crash in between leaves a record pointing at an archive that does not
 * exist while the folder is still in place: the next run archives it again. The other
 * order could leave a moved folder that no record knows of, lost for good.
 */
static void
do_archive(struct ctx *c, const struct rec *r, int parentfd, const char *leaf)
{
	char err[1024], *name = NULL, *to = NULL;
	const char *oat, *oap;
	char *old_at = NULL, *old_ap = NULL;
	size_t lat = 0, lap = 0;
	registry *reg = NULL;
	int archfd = -1, lockfd = -1, e, mv;
	long i;

	if (c->cfg->execute && fs_mkdirs(c->archive) == -1) {
		e = errno;
		snprintf(err, sizeof(err), "unable to create %s: %s", c->archive, strerror(e));
		failed(c, r->name, "archive_failed", err);
		return;
	}
	archfd = open(c->archive, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if ((name = archive_name(c, r->name, archfd)) == NULL) {
		snprintf(err, sizeof(err), "no free archive name for %s in %s", r->name,
		    c->archive);
		failed(c, r->name, "archive_failed", err);
		goto out;
	}
	if ((to = malloc(strlen(c->archive) + strlen(name) + 2)) == NULL)
		log_fatalsys(111, "out of memory");
	sprintf(to, "%s/%s", c->archive, name);
	if (!c->cfg->execute) {
		report_archived(c, r, to);
		goto out;
	}
	if (archfd == -1) {
		e = errno;
		snprintf(err, sizeof(err), "unable to open %s: %s", c->archive, strerror(e));
		failed(c, r->name, "archive_failed", err);
		goto out;
	}
	if (!c->swept) {
		/* Once a run, before its first move: what a killed run's copy left behind. */
		c->swept = 1;
		sweep_dir = c->archive;
		fs_sweep_partials(archfd, swept);
	}
	if ((i = relock(c, r, &lockfd, &reg, err, sizeof(err))) == -1) {
		if (errno == ESTALE)
			skip(c, r->name, "registry_changed", NULL, NULL, 0);
		else
			failed(c, r->name, "archive_failed", err);
		goto out;
	}
	if ((oat = registry_get_raw(reg, (size_t)i, "archived_at", &lat)) != NULL &&
	    (old_at = strndup(oat, lat)) == NULL)
		log_fatalsys(111, "out of memory");
	if ((oap = registry_get_raw(reg, (size_t)i, "archived_path", &lap)) != NULL &&
	    (old_ap = strndup(oap, lap)) == NULL)
		log_fatalsys(111, "out of memory");
	if (registry_set_str(reg, (size_t)i, "archived_at", c->nowiso) == -1 ||
	    registry_set_str(reg, (size_t)i, "archived_path", to) == -1)
		log_fatalsys(111, "out of memory");
	if (registry_save(reg, err, sizeof(err)) == -1) {
		failed(c, r->name, "archive_failed", err);
		goto out;
	}
	mv = fs_rename_new(parentfd, leaf, archfd, name);
	if (mv == -1 && errno == EXDEV) {
		log_info("%s: the archive is on another file system: copying", r->name);
		mv = fs_move_across(parentfd, leaf, archfd, name);
	}
	if (mv == 1) {
		/* The archive is whole and recorded; only the source is left half removed. */
		e = errno;
		snprintf(err, sizeof(err), "archived to %s, but unable to remove all of %s: %s",
		    to, r->local, strerror(e));
		failed(c, r->name, "archive_failed", err);
		goto out;
	}
	if (mv == -1) {
		e = errno;
		snprintf(err, sizeof(err), "unable to move %s to %s: %s", r->local, to,
		    e == EXDEV ? "it holds another file system" :
		    e == EINVAL ? "it holds a special file" : strerror(e));
		/* Put the record back as it was; the folder has not moved. */
		if (registry_set_raw(reg, (size_t)i, "archived_at", old_at, lat) == -1 ||
		    registry_set_raw(reg, (size_t)i, "archived_path", old_ap, lap) == -1)
			log_fatalsys(111, "out of memory");
		{
			char err2[1024];

			if (registry_save(reg, err2, sizeof(err2)) == -1)
				log_warn("unable to undo the registry change for %s: %s",
				    r->name, err2);
		}
		failed(c, r->name, "archive_failed", err);
		goto out;
	}
	fsync(archfd);
	fsync(parentfd);
	report_archived(c, r, to);
out:
	if (reg != NULL)
		registry_free(reg);
	if (lockfd != -1)
		registry_unlock(lockfd);
	if (archfd != -1)
		close(archfd);
	free(old_at);
	free(old_ap);
	free(name);
	free(to);
}

/*
 * Hard delete: the folder goes first, then deleted_at is written. A crash in between
 * leaves a record whose archive is gone, which the next run passes over (row C).
 */
static void
do_delete(struct ctx *c, const struct rec *r, int parentfd, const char *leaf)
{
	char err[1024];
	registry *reg = NULL;
	int lockfd = -1, e;
	long i;

	if (!c->cfg->execute) {
		report_deleted(c, r);
		return;
	}
	if ((i = relock(c, r, &lockfd, &reg, err, sizeof(err))) == -1) {
		if (errno == ESTALE)
			skip(c, r->name, "registry_changed", NULL, NULL, 0);
		else
			failed(c, r->name, "delete_failed", err);
		return;
	}
	if (fs_rmtree(parentfd, leaf) == -1) {
		e = errno;
		snprintf(err, sizeof(err), "unable to delete %s: %s", r->arch,
		    e == EXDEV ? "it holds another file system" : strerror(e));
		failed(c, r->name, "delete_failed", err);
		goto out;
	}
	fsync(parentfd);
	if (registry_set_str(reg, (size_t)i, "deleted_at", c->nowiso) == -1)
		log_fatalsys(111, "out of memory");
	if (registry_save(reg, err, sizeof(err)) == -1) {
		failed(c, r->name, "delete_failed", err);
		goto out;
	}
	report_deleted(c, r);
out:
	registry_free(reg);
	registry_unlock(lockfd);
}

/* A project or folder name must be one plain path component. */
static int
plain_name(const char *s)
{
	return s != NULL && *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

static int
filtered(const struct ctx *c, const char *sd, const char *name)
{
	size_t i;

	if (c->cfg->source_dir[0] != '\0' && (sd == NULL || strcmp(sd, c->cfg->source_dir) != 0))
		return 1;
	if (c->cfg->nprojects == 0)
		return 0;
	for (i = 0; i < c->cfg->nprojects; i++)
		if (name != NULL && strcmp(name, c->cfg->projects[i]) == 0)
			return 0;
	return 1;
}

/* Rows A0-A3: the folder is there. */
static void
row_a(struct ctx *c, struct rec *r, int parentfd, const char *leaf)
{
	struct timespec newest = { 0, 0 }, pub;
	struct dirty d;
	const char *prefix;
	char detail[1024];
	long n;

	if (fs_newest(parentfd, leaf, &newest, 0) == -1) {
		if (errno == ELOOP)
			snprintf(detail, sizeof(detail), "nested deeper than %d folders",
			    FS_MAXDEPTH);
		else
			snprintf(detail, sizeof(detail), "%s", strerror(errno));
		skip(c, r->name, "stat_failed", detail, NULL, 0);
		return;
	}
	if (registry_parse_isotime(registry_get_str(c->reg, r->idx, "last_published_at"),
	    &pub) == -1) {
		skip(c, r->name, "bad_last_published_at", NULL, NULL, 0);
		return;
	}
	if (pub.tv_sec > newest.tv_sec ||
	    (pub.tv_sec == newest.tv_sec && pub.tv_nsec > newest.tv_nsec))
		newest = pub;
	if (days_since(&c->now, &newest) < c->cfg->archive_days)
		return;
	prefix = registry_get_str(c->reg, r->idx, "prefix");
	if (prefix == NULL || strcmp(prefix, r->rel) != 0) {
		snprintf(detail, sizeof(detail), "prefix %s is not the folder %s",
		    prefix ? prefix : "(none)", r->rel);
		skip(c, r->name, "prefix_mismatch", detail, NULL, 0);
		return;
	}
	if (!c->cfg->allow_dirty) {
		buf_init(&d.files, OUT_MAX);
		d.n = 0;
		log_info("checking %s for files that are not in git", r->rel);
		n = worktree_dirty(c->repo, r->rel, !c->cfg->include_ignored, dirty_cb, &d,
		    detail, sizeof(detail));
		if (n == -1) {
			buf_free(&d.files);
			failed(c, r->name, "git_status_failed", detail);
			return;
		}
		if (n > 0) {
			snprintf(detail, sizeof(detail), "%ld file%s not in git", n,
			    n == 1 ? "" : "s");
			skip(c, r->name, "git_dirty", detail, &d.files, n);
			buf_free(&d.files);
			return;
		}
		buf_free(&d.files);
	}
	switch (head_check(c, r->rel, registry_get_str(c->reg, r->idx, "last_published_sha"),
	    detail, sizeof(detail))) {
	case 1:
		skip(c, r->name, "not_published_head", detail, NULL, 0);
		return;
	case -1:
		failed(c, r->name, "split_failed", detail);
		return;
	}
	do_archive(c, r, parentfd, leaf);
}

/* Rows B0-B2 and C: the folder is gone; its archive may be due for deletion. */
static void
row_b(struct ctx *c, struct rec *r)
{
	struct timespec at;
	const char *ap, *rel;
	char *leaf;
	int archfd, parentfd, st, err;

	ap = registry_get_str(c->reg, r->idx, "archived_path");
	if (ap == NULL || *ap == '\0')
		return;
	switch (normalize(c->root, ap, &r->arch)) {
	case 1:
		skip(c, r->name, "dotdot", ap, NULL, 0);
		return;
	case -1:
		log_fatalsys(111, "out of memory");
	}
	if ((rel = below(c->archive, r->arch)) == NULL) {
		skip(c, r->name, "outside_archive", r->arch, NULL, 0);
		return;
	}
	if ((archfd = open(c->archive, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;		/* no archive folder: nothing in it to delete (row C) */
	st = fs_walk(archfd, rel, &parentfd, &err);
	close(archfd);
	switch (st) {
	case FS_MISSING:
		return;
	case FS_SYMLINK:
		skip(c, r->name, "symlink", r->arch, NULL, 0);
		return;
	case FS_ERROR:
		skip(c, r->name, "stat_failed", strerror(err), NULL, 0);
		return;
	}
	leaf = strrchr(r->arch, '/') + 1;
	if (registry_parse_isotime(registry_get_str(c->reg, r->idx, "archived_at"), &at) == -1)
		skip(c, r->name, "missing_archived_at", NULL, NULL, 0);
	else if (days_since(&c->now, &at) >= c->cfg->hard_delete_days)
		do_delete(c, r, parentfd, leaf);
	close(parentfd);
}

static void
one(struct ctx *c, size_t i)
{
	struct rec r;
	const char *lp, *rel;
	char *sroot = NULL, *leaf;
	int rootfd, parentfd, st, err;

	memset(&r, 0, sizeof(r));
	r.idx = i;
	r.name = registry_get_str(c->reg, i, "project_name");
	r.source_dir = registry_get_str(c->reg, i, "source_dir");
	if (filtered(c, r.source_dir, r.name) || registry_get_truthy(c->reg, i, "deleted_at") ||
	    !registry_get_bool(c->reg, i, "parity_verified"))
		return;
	lp = registry_get_str(c->reg, i, "local_path");
	if (lp == NULL || *lp == '\0') {
		skip(c, r.name, "empty_path", NULL, NULL, 0);
		return;
	}
	if (!plain_name(r.name)) {
		skip(c, r.name, "bad_project_name", NULL, NULL, 0);
		return;
	}
	if (r.source_dir == NULL || *r.source_dir == '\0' || r.source_dir[0] == '/' ||
	    normalize(c->root, r.source_dir, &sroot) != 0) {
		skip(c, r.name, "bad_source_dir", r.source_dir, NULL, 0);
		goto out;
	}
	switch (normalize(c->root, lp, &r.local)) {
	case 1:
		skip(c, r.name, "dotdot", lp, NULL, 0);
		goto out;
	case -1:
		log_fatalsys(111, "out of memory");
	}
	if (below(sroot, r.local) == NULL || (rel = below(c->root, r.local)) == NULL) {
		skip(c, r.name, "outside_root", r.local, NULL, 0);
		goto out;
	}
	if ((r.rel = strdup(rel)) == NULL)
		log_fatalsys(111, "out of memory");
	if ((rootfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		skip(c, r.name, "stat_failed", strerror(errno), NULL, 0);
		goto out;
	}
	st = fs_walk(rootfd, r.rel, &parentfd, &err);
	close(rootfd);
	leaf = strrchr(r.local, '/') + 1;
	switch (st) {
	case FS_DIR:
		row_a(c, &r, parentfd, leaf);
		close(parentfd);
		break;
	case FS_OTHER:
		close(parentfd);
		skip(c, r.name, "not_a_directory", r.local, NULL, 0);
		break;
	case FS_SYMLINK:
		skip(c, r.name, "symlink", r.local, NULL, 0);
		break;
	case FS_ERROR:
		skip(c, r.name, "stat_failed", strerror(err), NULL, 0);
		break;
	case FS_MISSING:
		row_b(c, &r);
		break;
	}
out:
	free(sroot);
	free(r.local);
	free(r.rel);
	free(r.arch);
	free(r.arel);
}

static int
report(struct ctx *c)
{
	static const char *keys[] = { "archived", "deleted", "skipped" };
	struct buf doc = BUF_INIT(OUT_MAX * 3 + 1024), out = BUF_INIT(OUT_MAX * 6);
	int k;

	buf_addc(&doc, '{');
	for (k = 0; k < 3; k++) {
		buf_addf(&doc, "\"%s\":[", keys[k]);
		buf_add(&doc, c->out[k].p ? c->out[k].p : "", c->out[k].len);
		buf_adds(&doc, "],");
	}
	buf_addf(&doc, "\"execute\":%s,\"archive_days\":%ld,\"hard_delete_days\":%ld}",
	    c->cfg->execute ? "true" : "false", c->cfg->archive_days,
	    c->cfg->hard_delete_days);
	if (registry_dumps(&out, doc.p, doc.len) == -1 || buf_addc(&out, '\n') == -1)
		log_fatalsys(111, "unable to build the report");
	fwrite(out.p, 1, out.len, stdout);
	buf_free(&doc);
	buf_free(&out);
	log_info("%s%zu archived, %zu deleted, %zu skipped",
	    c->cfg->execute ? "" : "dry run: ", c->count[0], c->count[1], c->count[2]);
	return 0;
}

int
clean_run(const struct clean_config *cfg)
{
	struct ctx c;
	struct tm tm;
	char err[1024], *joined;
	const char *wd;
	size_t i, n;
	int rc = 0, e;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	for (i = 0; i < 3; i++)
		buf_init(&c.out[i], OUT_MAX);
	git_libgit2_init();
	if ((c.root = realpath(cfg->repo_root, NULL)) == NULL) {
		e = errno;
		log_warn("unable to resolve repo root %s: %s", cfg->repo_root, strerror(e));
		rc = e == ENOENT || e == ENOTDIR ? 100 : 111;
		goto out;
	}
	n = strlen(c.root) + strlen(cfg->registry_path) + strlen(cfg->archive_dir) + 4;
	if ((joined = malloc(n)) == NULL || (c.regpath = malloc(n)) == NULL)
		log_fatalsys(111, "out of memory");
	if (cfg->registry_path[0] == '/')
		snprintf(c.regpath, n, "%s", cfg->registry_path);
	else
		snprintf(c.regpath, n, "%s/%s", c.root, cfg->registry_path);
	if (cfg->archive_dir[0] == '/')
		snprintf(joined, n, "%s", cfg->archive_dir);
	else
		snprintf(joined, n, "%s/%s", c.root, cfg->archive_dir);
	c.archive = resolve_loose(joined);
	e = errno;
	free(joined);
	if (c.archive == NULL) {
		log_warn("unable to resolve archive folder %s: %s", cfg->archive_dir,
		    strerror(e));
		rc = e == EINVAL || e == ENOTDIR || e == ELOOP ? 100 : 111;
		goto out;
	}
	if (strcmp(c.archive, c.root) == 0 || below(c.archive, c.root) != NULL) {
		log_warn("the archive folder %s holds the repo root", c.archive);
		rc = 100;
		goto out;
	}
	if (git_repository_open_ext(&c.repo, c.root, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
	    (wd = git_repository_workdir(c.repo)) == NULL ||
	    strncmp(wd, c.root, strlen(c.root)) != 0 || strcmp(wd + strlen(c.root), "/") != 0) {
		log_warn("%s is not the top of a git work tree", c.root);
		rc = 100;
		goto out;
	}
	if (registry_load(&c.reg, c.regpath, err, sizeof(err)) == -1) {
		e = errno;
		log_warn("%s", err);
		log_warn("the registry was left as it is");
		rc = e == EINVAL || e == EFBIG ? 100 : 111;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &c.now);
	registry_isotime_ts(&c.now, c.nowiso);
	gmtime_r(&c.now.tv_sec, &tm);
	strftime(c.stamp, sizeof(c.stamp), "%Y%m%d-%H%M%S", &tm);
	log_info("%s: registry %s, archive %s, archive after %ld days, delete after %ld",
	    cfg->execute ? "execute" : "dry run", c.regpath, c.archive, cfg->archive_days,
	    cfg->hard_delete_days);
	for (i = 0; i < registry_count(c.reg); i++)
		one(&c, i);
	report(&c);
	rc = c.failed ? 1 : 0;
out:
	registry_free(c.reg);
	git_repository_free(c.repo);
	git_libgit2_shutdown();
	for (i = 0; i < c.nchosen; i++)
		free(c.chosen[i]);
	free(c.chosen);
	for (i = 0; i < 3; i++)
		buf_free(&c.out[i]);
	free(c.root);
	free(c.archive);
	free(c.regpath);
	return rc;
}
