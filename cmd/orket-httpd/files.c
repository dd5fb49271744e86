/* See LICENSE. orket-httpd: the file routes, confined to the workspace. */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "httpd.h"

/*
 * openat2(2) came with Linux 5.6; musl has no wrapper and our headers may lack its
 * definitions, so they are spelled out here (the kernel ABI, include/uapi/linux/openat2.h).
 */
struct ws_open_how {
	uint64_t	 flags;
	uint64_t	 mode;
	uint64_t	 resolve;
};
#define WS_RESOLVE_NO_MAGICLINKS	0x02
#define WS_RESOLVE_BENEATH		0x08
#ifndef SYS_openat2
#define SYS_openat2	437
#endif

/* Retries of an openat2 that a concurrent rename made give up (EAGAIN). */
#define WS_EAGAIN_TRIES	8

static const char log_rel[] = "default/orket.log";	/* what clear-logs truncates */

static int
sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct ws_open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned)flags;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = WS_RESOLVE_BENEATH | WS_RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* The path behind a descriptor, from /proc; -1 when /proc cannot tell. */
static int
fd_path(int fd, char *out, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, out, cap - 1)) <= 0 || (size_t)n >= cap - 1)
		return -1;
	out[n] = '\0';
	return 0;
}

/*
 * openat2 follows symlinks that stay inside the workspace, so a link "docs" -> ".git"
 * could reach a dot-file by another name: look at where the descriptor really is. When
 * /proc is not there the kernel's RESOLVE_BENEATH still holds, and only this extra check
 * is skipped.
 */
static int
dot_check(const struct httpd *h, int fd)
{
	char path[PATH_MAX + 1];
	const char *p;
	size_t rl;

	if (h->rootpath == NULL || fd_path(fd, path, sizeof(path)) == -1)
		return 0;
	rl = strlen(h->rootpath);
	if (rl == 1 && h->rootpath[0] == '/')
		rl = 0;
	if (strcmp(path, h->rootpath) == 0)
		return 0;
	if (strncmp(path, h->rootpath, rl) != 0 || path[rl] != '/')
		return -1;
	for (p = path + rl; *p == '/'; ) {
		p++;
		if (*p == '.')
			return -1;
		p += strcspn(p, "/");
	}
	return 0;
}

/*
 * Open name in dfd without following it, as O_PATH, and say what it is: the descriptor,
 * or -1 with EXDEV for a symlink (refused: outside, as far as the walk is concerned),
 * ENOTDIR for a non-folder when a folder is wanted, or the system's error. Asking the
 * descriptor, not the name, keeps the answer true when the name is swapped meanwhile.
 */
static int
walk_step(int dfd, const char *name, int wantdir)
{
	struct stat st;
	int fd, e;

	if ((fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		e = errno;
	else if (S_ISLNK(st.st_mode))
		e = EXDEV;
	else if (wantdir && !S_ISDIR(st.st_mode))
		e = ENOTDIR;
	else
		return fd;
	close(fd);
	errno = e;
	return -1;
}

/*
 * The portable walk: one component at a time, each opened with O_NOFOLLOW, so no symlink
 * is ever followed (stricter than openat2, which follows those that stay inside).
 */
static int
ws_walk(const struct httpd *h, const char *rel, int flags, mode_t mode)
{
	char buf[HTTPD_PATH_MAX + 1], *p, *slash;
	int dfd, nfd, e;

	if (strlen(rel) > HTTPD_PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, rel);
	if ((dfd = openat(h->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	p = buf;
	if (strcmp(buf, ".") != 0) {
		for (; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
			*slash = '\0';
			nfd = walk_step(dfd, p, 1);
			e = errno;
			close(dfd);
			if (nfd == -1) {
				errno = e;
				return -1;
			}
			dfd = nfd;
		}
		/*
		 * The last one: a folder or an O_PATH is taken as what it is first, then, for
		 * a folder, opened again through that very descriptor; anything else is
		 * opened with O_NOFOLLOW, where ELOOP can only mean a symlink.
		 */
		if (flags & (O_DIRECTORY | O_PATH)) {
			nfd = walk_step(dfd, p, (flags & O_DIRECTORY) != 0);
			e = errno;
			close(dfd);
			if (nfd == -1 || (flags & O_PATH)) {
				errno = e;
				return nfd;
			}
			dfd = nfd;
			p = ".";
		} else {
			nfd = openat(dfd, p, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			e = errno == ELOOP ? EXDEV : errno;
			close(dfd);
			errno = e;
			return nfd;
		}
	}
	nfd = openat(dfd, p, flags | O_CLOEXEC, mode);
	e = errno;
	close(dfd);
	errno = e;
	return nfd;
}

/*
 * Open rel (a checked relative path, "." for the workspace itself) beneath the workspace.
 * Returns a descriptor, or -1 with errno: EXDEV for anything that would leave the
 * workspace or reach a dot-file through a link, else the system's (ENOENT...).
 */
static int
ws_open(const struct httpd *h, const char *rel, int flags, mode_t mode)
{
	int fd = -1, i;

	/* openat2 refuses any flag but these with O_PATH, where open ignored them. */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	if (!h->openat2)
		return ws_walk(h, rel, flags, mode);
	for (i = 0; i < WS_EAGAIN_TRIES; i++) {
		fd = sys_openat2(h->rootfd, rel, flags | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd == -1) {
		/* A loop, a magic link, or a resolution a rename kept racing: refuse. */
		if (errno == ELOOP || errno == EAGAIN)
			errno = EXDEV;
		return -1;
	}
	if (dot_check(h, fd) == -1) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

/*
 * A client's path, checked before anything touches the disk: relative, no "..", no
 * component starting with ".", no NUL, at most HTTPD_PATH_DEPTH components of NAME_MAX
 * bytes. "" and "." components are dropped. rel gets the components joined by "/", or "."
 * for the workspace itself. Returns 0, -1 refused, -2 too long or too deep.
 */
static int
ws_rel(const char *in, size_t inlen, char *rel, size_t cap)
{
	const char *p, *e, *end = in + inlen;
	size_t n, o = 0;
	int depth = 0;

	if (memchr(in, '\0', inlen) != NULL || (inlen > 0 && in[0] == '/'))
		return -1;
	for (p = in; p < end; p = e + 1) {
		e = memchr(p, '/', (size_t)(end - p));
		if (e == NULL)
			e = end;
		n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (p[0] == '.')
			return -1;	/* "..", and every dot-file or dot-folder */
		if (n > NAME_MAX || ++depth > HTTPD_PATH_DEPTH || o + n + 2 > cap)
			return -2;
		if (o)
			rel[o++] = '/';
		memcpy(rel + o, p, n);
		o += n;
	}
	if (o == 0)
		rel[o++] = '.';
	rel[o] = '\0';
	return 0;
}

/*
 * Open (creating it, 0755, parents too) the workspace; h changes only when this succeeds,
 * so a reload to a bad workspace keeps the one in force.
 */
int
files_open_root(struct httpd *h, const char *ws, int walk, char *err, size_t errlen)
{
	char path[PATH_MAX + 1], *p;
	int fd, o2;

	snprintf(path, sizeof(path), "%s", ws);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "unable to create the workspace %s: %s", ws,
			    strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "unable to create the workspace %s: %s", ws,
		    strerror(errno));
		return -1;
	}
	if ((fd = open(ws, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "unable to open the workspace %s: %s", ws, strerror(errno));
		return -1;
	}
	files_close_root(h);
	h->rootfd = fd;
	if (fd_path(fd, path, sizeof(path)) == 0 || realpath(ws, path) != NULL)
		h->rootpath = strdup(path);
	h->openat2 = 0;
	if (!walk) {
		/* ENOSYS before 5.6; EPERM from a seccomp profile that does not know it. */
		if ((o2 = sys_openat2(h->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0)) >= 0) {
			close(o2);
			h->openat2 = 1;
		} else
			log_info("openat2 is not available (%s): file routes resolve paths by an "
			    "O_NOFOLLOW walk and follow no symlink", strerror(errno));
	}
	return 0;
}

void
files_close_root(struct httpd *h)
{
	if (h->rootfd > 0)
		close(h->rootfd);
	h->rootfd = -1;
	free(h->rootpath);
	h->rootpath = NULL;
}

/* A small regular file of the workspace into b (up to b->max bytes); 0 or -1 with errno. */

int
files_slurp(struct httpd *h, const char *rel, struct buf *b)
{
	struct stat st;
	char tmp[16384];
	ssize_t r;
	int fd, e;

	if ((fd = ws_open(h, rel, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	for (;;) {
		r = read(fd, tmp, sizeof(tmp));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_add(b, tmp, (size_t)r) == -1) {
			r = -1;
			break;
		}
	}
	e = errno;
	close(fd);
	errno = e;
	return r == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------------ */

/* The refusal of the read, save and clear routes, with the original's message. */
static void
denied(struct httpd *h, struct http_request *req, const char *path)
{
	char msg[HTTPD_PATH_MAX + 128];

	h->m.files_denied++;
	snprintf(msg, sizeof(msg), "Access denied: %s is outside allowed boundaries.", path);
	httpd_detail(h, req, 403, msg);
}

static void
path_missing(struct httpd *h, struct http_request *req, const char *where)
{
	struct verr v;

	verr_init(&v);
	verr_add(&v, "missing", where, "path", -1, "Field required", NULL, 0);
	verr_reply(h, req, &v);
	verr_free(&v);
}

static void
sys_error(struct httpd *h, struct http_request *req, const char *verb, int e)
{
	char msg[256];

	if (e == EACCES || e == EPERM) {
		httpd_detail(h, req, 403, "Permission denied");
		return;
	}
	snprintf(msg, sizeof(msg), "Unable to %s: %s", verb, strerror(e));
	httpd_detail(h, req, 500, msg);
}

struct entry {
	char	*name;
	int	 is_dir;
};

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	if (x->is_dir != y->is_dir)
		return y->is_dir - x->is_dir;
	if ((c = strcasecmp(x->name, y->name)) != 0)
		return c;
	return strcmp(x->name, y->name);
}

/* Python's Path.suffix: from the last dot, unless it starts or ends the name. */
static const char *
suffix(const char *name)
{
	const char *d = strrchr(name, '.');
	size_t n = strlen(name);

	if (d == NULL || d == name || (size_t)(d - name) == n - 1)
		return "";
	return d;
}

/* Is entry name of folder rel a folder? A symlink counts when it resolves inside. */
static int
entry_is_dir(struct httpd *h, int dfd, const char *rel, const struct dirent *d)
{
	char path[HTTPD_PATH_MAX + 2 + sizeof(d->d_name) + 2];
	struct stat st;
	int fd, r;

	if (d->d_type == DT_DIR)
		return 1;
	if (d->d_type != DT_LNK && d->d_type != DT_UNKNOWN)
		return 0;
	if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (!S_ISLNK(st.st_mode))
		return S_ISDIR(st.st_mode);
	/* The walk follows no link; openat2 follows those that stay inside. */
	if (!h->openat2)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", rel, d->d_name) >= sizeof(path))
		return 0;
	if ((fd = ws_open(h, path, O_PATH, 0)) == -1)
		return 0;
	r = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
	close(fd);
	return r;
}

/*
 * GET /v1/system/explorer?path=: one folder of the workspace. Unlike the original, a
 * path is never rewritten (it stripped leading and trailing '.' and '/', so ".git" meant
 * "git"): an absolute path, "..", a dot-file or anything outside is 403, and a file is
 * 400 rather than a 500.
 */
void
route_explorer(struct httpd *h, struct http_request *req)
{
	char in[HTTPD_PATH_MAX + 1] = ".", rel[HTTPD_PATH_MAX + 2];
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	struct entry *v = NULL, *nv;
	struct dirent *d;
	struct stat st;
	size_t inlen = 1, n = 0, cap = 0, i;
	DIR *dir;
	struct jw w;
	int fd, r, e;

	r = query_get(req->query, "path", in, sizeof(in), &inlen);
	if (r == -2) {
		h->m.files_denied++;
		httpd_detail(h, req, 403, "Forbidden");
		return;
	}
	if (r == -1) {
		httpd_detail(h, req, 400, "path is longer than 4096 bytes");
		return;
	}
	if (r == 0) {
		in[0] = '.';
		in[1] = '\0';
		inlen = 1;
	}
	if ((r = ws_rel(in, inlen, rel, sizeof(rel))) != 0) {
		if (r == -1) {
			h->m.files_denied++;
			httpd_detail(h, req, 403, "Forbidden");
		} else
			httpd_detail(h, req, 400, "path is too long or too deep");
		return;
	}
	fd = ws_open(h, rel, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
	if (fd == -1) {
		e = errno;
		if (e == EXDEV) {
			h->m.files_denied++;
			httpd_detail(h, req, 403, "Forbidden");
			return;
		}
		if (e == ENOTDIR && (fd = ws_open(h, rel, O_PATH, 0)) >= 0) {
			r = fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode);
			close(fd);
			if (r) {
				httpd_detail(h, req, 400, "Not a directory");
				return;
			}
		}
		if (e != ENOENT && e != ENOTDIR) {
			sys_error(h, req, "list the folder", e);
			return;
		}
		/* A folder that is not there is an empty listing, as the original. */
		jw_init(&w, &b);
		jw_obj_open(&w);
		jw_key(&w, "items");
		jw_arr_open(&w);
		jw_arr_close(&w);
		jw_key(&w, "path");
		jw_strn(&w, in, inlen);
		jw_obj_close(&w);
		jw_finish(&w);
		httpd_json(h, req, 200, &b);
		buf_free(&b);
		return;
	}
	if ((dir = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		sys_error(h, req, "list the folder", e);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || strstr(d->d_name, "__pycache__") != NULL ||
		    strcmp(d->d_name, "node_modules") == 0)
			continue;
		if (n == HTTPD_EXPLORER_MAX) {
			n++;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[n].name = strdup(d->d_name)) == NULL)
			break;
		v[n].is_dir = entry_is_dir(h, dirfd(dir), rel, d);
		n++;
	}
	closedir(dir);
	if (n > HTTPD_EXPLORER_MAX) {
		for (i = 0; i < HTTPD_EXPLORER_MAX; i++)
			free(v[i].name);
		free(v);
		httpd_detail(h, req, 413, "The folder has more than 10000 entries");
		return;
	}
	if (n)
		qsort(v, n, sizeof(*v), entry_cmp);
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "items");
	jw_arr_open(&w);
	for (i = 0; i < n; i++) {
		jw_obj_open(&w);
		jw_key(&w, "name");
		jw_str(&w, v[i].name);
		jw_key(&w, "is_dir");
		jw_bool(&w, v[i].is_dir);
		jw_key(&w, "ext");
		jw_str(&w, suffix(v[i].name));
		jw_obj_close(&w);
		free(v[i].name);
	}
	free(v);
	jw_arr_close(&w);
	jw_key(&w, "path");
	jw_strn(&w, in, inlen);
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		httpd_json(h, req, 200, &b);
	else
		httpd_detail(h, req, 500, "Response too large");
	buf_free(&b);
}

/*
 * GET /v1/system/read?path=: a text file of the workspace, whole. Capped at
 * HTTPD_FILE_MAX (413); a folder, a device or a file that is not UTF-8 is 400 (the
 * original's 500); dot-files such as .env are refused with the 403 of a path outside.
 */
void
route_read(struct httpd *h, struct http_request *req)
{
	char in[HTTPD_PATH_MAX + 1], rel[HTTPD_PATH_MAX + 2], msg[64];
	struct buf f = BUF_INIT(HTTPD_FILE_MAX);
	struct buf b = BUF_INIT(HTTPD_RESPONSE_MAX);
	struct stat st;
	size_t inlen = 0;
	char tmp[65536];
	ssize_t r;
	struct jw w;
	int fd, e, q;

	q = query_get(req->query, "path", in, sizeof(in), &inlen);
	if (q == 0) {
		path_missing(h, req, "query");
		return;
	}
	if (q == -2) {
		denied(h, req, "the path");
		return;
	}
	if (q == -1) {
		httpd_detail(h, req, 400, "path is longer than 4096 bytes");
		return;
	}
	if ((q = ws_rel(in, inlen, rel, sizeof(rel))) != 0) {
		if (q == -1)
			denied(h, req, in);
		else
			httpd_detail(h, req, 400, "path is too long or too deep");
		return;
	}
	if ((fd = ws_open(h, rel, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		e = errno;
		if (e == EXDEV)
			denied(h, req, in);
		else if (e == ENOENT || e == ENOTDIR)
			httpd_detail(h, req, 404, "File not found");
		else
			sys_error(h, req, "read the file", e);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		httpd_detail(h, req, 400, "Not a regular file");
		return;
	}
	if (st.st_size > HTTPD_FILE_MAX) {
		close(fd);
		snprintf(msg, sizeof(msg), "File larger than %d bytes", HTTPD_FILE_MAX);
		httpd_detail(h, req, 413, msg);
		return;
	}
	/* The size is checked again while reading: the file may grow meanwhile. */
	for (;;) {
		r = read(fd, tmp, sizeof(tmp));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_add(&f, tmp, (size_t)r) == -1)
			break;
	}
	e = errno;
	close(fd);
	if (r != 0) {
		if (e == ENOBUFS) {
			snprintf(msg, sizeof(msg), "File larger than %d bytes", HTTPD_FILE_MAX);
			httpd_detail(h, req, 413, msg);
		} else
			sys_error(h, req, "read the file", e);
		buf_free(&f);
		return;
	}
	if (!utf8_valid(f.p ? f.p : "", f.len)) {
		httpd_detail(h, req, 400, "File is not UTF-8 text");
		buf_free(&f);
		return;
	}
	jw_init(&w, &b);
	jw_obj_open(&w);
	jw_key(&w, "content");
	jw_strn(&w, f.p ? f.p : "", f.len);
	jw_obj_close(&w);
	if (jw_finish(&w) == 0)
		httpd_json(h, req, 200, &b);
	else
		httpd_detail(h, req, 500, "Response too large");
	buf_free(&f);
	buf_free(&b);
}

/*
 * Make every folder of dir (a checked relative path), one level at a time: each is made in
 * its parent as opened beneath the workspace, then opened again by its whole path, so a
 * symlink put in place of a folder meanwhile is resolved (or refused) like any other.
 * Returns dir's descriptor (O_PATH), or -1 with errno.
 */
static int
ws_mkdirs(struct httpd *h, char *dir)
{
	char *p = dir, *s;
	int pfd, fd, e;

	if ((pfd = ws_open(h, ".", O_PATH | O_DIRECTORY, 0)) == -1)
		return -1;
	for (;;) {
		if ((s = strchr(p, '/')) != NULL)
			*s = '\0';
		if (mkdirat(pfd, p, 0755) == -1 && errno != EEXIST) {
			e = errno;
			fd = -1;
		} else {
			fd = ws_open(h, dir, O_PATH | O_DIRECTORY, 0);
			e = errno;
		}
		if (s != NULL)
			*s = '/';
		close(pfd);
		if (fd == -1 || s == NULL) {
			errno = e;
			return fd;
		}
		pfd = fd;
		p = s + 1;
	}
}

/*
 * Open the folder of rel beneath the workspace, making it when missing; *last points at
 * rel's last component. Returns a descriptor (O_PATH), or -1 with errno (EXDEV: outside).
 */
static int
ws_parent(struct httpd *h, char *rel, const char **last)
{
	char *slash = strrchr(rel, '/');
	int fd;

	*last = slash ? slash + 1 : rel;
	if (slash == NULL)
		return ws_open(h, ".", O_PATH | O_DIRECTORY, 0);
	*slash = '\0';
	fd = ws_open(h, rel, O_PATH | O_DIRECTORY, 0);
	if (fd == -1 && errno == ENOENT)
		fd = ws_mkdirs(h, rel);
	*slash = '/';
	return fd;
}

/*
 * The daemon's own files may lie in the workspace (the event log does, by default): save
 * must not rename a file over them, or the daemon would go on writing to a file nobody
 * can see any more.
 */
static int
own_file(struct httpd *h, const struct stat *st)
{
	struct stat o;
	const char *db;
	char side[PATH_MAX];
	const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	size_t i;

	if (h->ev.fd != -1 && fstat(h->ev.fd, &o) == 0 && o.st_dev == st->st_dev &&
	    o.st_ino == st->st_ino)
		return 1;
	if (h->db == NULL || (db = sqlite3_db_filename(h->db, "main")) == NULL || *db == '\0')
		return 0;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if ((size_t)snprintf(side, sizeof(side), "%s%s", db, sfx[i]) < sizeof(side) &&
		    stat(side, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino)
			return 1;
	return 0;
}

/*
 * POST /v1/system/save {"path","content"}: write a text file of the workspace, making its
 * folders. The content goes to a temporary dot-file first, made 0644 whatever the umask,
 * then renamed over the target: a reader never sees half a file, no exec bit is ever set,
 * and a symlink in the target's place is refused rather than followed.
 */
void
route_save(struct httpd *h, struct http_request *req, const struct json *j)
{
	char rel[HTTPD_PATH_MAX + 2], tmpname[64], hex[17], msg[64];
	char *path = NULL, *content = NULL;
	const char *last, *raw;
	struct stat st;
	size_t plen = 0, clen = 0, off, rl;
	struct verr v;
	ssize_t wr;
	int tp, tc, pfd = -1, fd = -1, r, e;

	verr_init(&v);
	tp = json_get(j, 0, "path");
	tc = json_get(j, 0, "content");
	if (tp < 0)
		verr_add(&v, "missing", "body", "path", -1, "Field required", j->s, j->len);
	else if (json_type(j, tp) != JSON_STRING) {
		raw = json_raw(j, tp, &rl);
		verr_add(&v, "string_type", "body", "path", -1, "Input should be a valid string",
		    raw, rl);
	}
	if (tc < 0)
		verr_add(&v, "missing", "body", "content", -1, "Field required", j->s, j->len);
	else if (json_type(j, tc) != JSON_STRING) {
		raw = json_raw(j, tc, &rl);
		verr_add(&v, "string_type", "body", "content", -1,
		    "Input should be a valid string", raw, rl);
	}
	if (v.n) {
		verr_reply(h, req, &v);
		verr_free(&v);
		return;
	}
	verr_free(&v);
	/* Both may hold U+0000: measure first, then decode with the length. */
	json_str(j, tp, NULL, 0, &plen);
	json_str(j, tc, NULL, 0, &clen);
	if (plen > HTTPD_PATH_MAX) {
		httpd_detail(h, req, 400, "path is longer than 4096 bytes");
		return;
	}
	if (clen > HTTPD_FILE_MAX) {
		snprintf(msg, sizeof(msg), "Content larger than %d bytes", HTTPD_FILE_MAX);
		httpd_detail(h, req, 413, msg);
		return;
	}
	if ((path = malloc(plen + 1)) == NULL || (content = malloc(clen + 1)) == NULL ||
	    json_str(j, tp, path, plen + 1, &plen) == -1 ||
	    json_str(j, tc, content, clen + 1, &clen) == -1) {
		httpd_detail_hdr(h, req, 503, "Out of memory", "Retry-After: 1\r\n");
		goto out;
	}
	if ((r = ws_rel(path, plen, rel, sizeof(rel))) != 0) {
		if (r == -1)
			denied(h, req, path);
		else
			httpd_detail(h, req, 400, "path is too long or too deep");
		goto out;
	}
	if (strcmp(rel, ".") == 0) {
		httpd_detail(h, req, 400, "Is a directory");
		goto out;
	}
	if ((pfd = ws_parent(h, rel, &last)) == -1) {
		e = errno;
		if (e == EXDEV)
			denied(h, req, path);
		else if (e == ENOTDIR || e == EEXIST)
			httpd_detail(h, req, 400, "A parent of the path is not a directory");
		else
			sys_error(h, req, "save the file", e);
		goto out;
	}
	if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			denied(h, req, path);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			httpd_detail(h, req, 400, "Is a directory");
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			httpd_detail(h, req, 400, "Not a regular file");
			goto out;
		}
		if (own_file(h, &st)) {
			denied(h, req, path);
			goto out;
		}
	}
	if (random_hex(hex, 8) == -1) {
		sys_error(h, req, "save the file", errno);
		goto out;
	}
	snprintf(tmpname, sizeof(tmpname), ".orket-save-%s", hex);
	fd = openat(pfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1 || fchmod(fd, 0644) == -1) {
		sys_error(h, req, "save the file", errno);
		goto out;
	}
	for (off = 0; off < clen; off += (size_t)wr) {
		wr = write(fd, content + off, clen - off);
		if (wr == -1 && errno == EINTR)
			wr = 0;
		else if (wr <= 0)
			break;
	}
	e = errno;
	if (off < clen || close(fd) == -1) {
		if (off < clen)
			close(fd);
		else
			e = errno;
		fd = -1;
		unlinkat(pfd, tmpname, 0);
		sys_error(h, req, "save the file", e);
		goto out;
	}
	fd = -1;
	if (renameat(pfd, tmpname, pfd, last) == -1) {
		e = errno;
		unlinkat(pfd, tmpname, 0);
		if (e == EISDIR || e == ENOTEMPTY)
			httpd_detail(h, req, 400, "Is a directory");
		else
			sys_error(h, req, "save the file", e);
		goto out;
	}
	httpd_reply(h, req, 200, "application/json", "{\"ok\":true}", 11, NULL);
out:
	if (fd != -1)
		close(fd);
	if (pfd != -1)
		close(pfd);
	free(path);
	free(content);
}

/*
 * POST /v1/system/clear-logs: truncate default/orket.log of the workspace (the event log,
 * with the default settings), creating it when missing. It always answers {"ok":true};
 * a failure is the event clear_logs_skipped, as in the original.
 */
void
route_clear_logs(struct httpd *h, struct http_request *req)
{
	char rel[sizeof(log_rel)], shown[HTTPD_PATH_MAX + 32];
	struct buf b = BUF_INIT(HTTPD_PATH_MAX + 512);
	struct stat st, est;
	const char *last, *err = NULL;
	size_t n;
	struct jw w;
	int pfd, fd = -1;

	memcpy(rel, log_rel, sizeof(log_rel));
	if ((pfd = ws_parent(h, rel, &last)) == -1)
		err = errno == EXDEV ? "outside the workspace" : strerror(errno);
	else if ((fd = openat(pfd, last, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0644)) == -1)
		err = errno == ELOOP ? "a symlink" : strerror(errno);
	else if (fstat(fd, &st) == -1)
		err = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		err = "not a regular file";
	else if (ftruncate(fd, 0) == -1)
		err = strerror(errno);
	else {
		if (st.st_mode & 0111)
			fchmod(fd, st.st_mode & 0666);
		/* Our own event log: its size count starts again, so it rotates on time. */
		if (h->ev.fd != -1 && fstat(h->ev.fd, &est) == 0 && est.st_dev == st.st_dev &&
		    est.st_ino == st.st_ino)
			h->ev.size = 0;
	}
	if (fd != -1)
		close(fd);
	if (pfd != -1)
		close(pfd);
	if (err != NULL) {
		n = strlen(h->cfg.workspace);
		while (n > 1 && h->cfg.workspace[n - 1] == '/')
			n--;
		snprintf(shown, sizeof(shown), "%.*s/%s", (int)n, h->cfg.workspace, log_rel);
		jw_init(&w, &b);
		jw_obj_open(&w);
		jw_key(&w, "path");
		jw_str(&w, shown);
		jw_key(&w, "error");
		jw_str(&w, err);
		jw_obj_close(&w);
		httpd_emit(h, "system", "clear_logs_skipped", jw_finish(&w) == 0 ? b.p : NULL);
	}
	buf_free(&b);
	httpd_reply(h, req, 200, "application/json", "{\"ok\":true}", 11, NULL);
}
