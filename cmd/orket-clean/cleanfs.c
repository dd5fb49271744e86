/* See LICENSE. Folder walks for orket-clean that never follow a symlink. */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clean.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

#define DIRFLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int
fs_walk(int basefd, const char *rel, int *parentfd, int *err)
{
	struct stat st;
	char *copy, *comp, *next;
	int fd, nfd, state;

	*parentfd = -1;
	*err = 0;
	if ((copy = strdup(rel)) == NULL) {
		*err = errno;
		return FS_ERROR;
	}
	if ((fd = openat(basefd, ".", DIRFLAGS)) == -1) {
		*err = errno;
		free(copy);
		return FS_ERROR;
	}
	for (comp = copy; ; comp = next) {
		if ((next = strchr(comp, '/')) != NULL)
			*next++ = '\0';
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			*err = errno;
			state = errno == ENOENT || errno == ENOTDIR ? FS_MISSING : FS_ERROR;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			state = FS_SYMLINK;
			break;
		}
		if (next == NULL) {
			state = S_ISDIR(st.st_mode) ? FS_DIR : FS_OTHER;
			free(copy);
			*parentfd = fd;
			return state;
		}
		if (!S_ISDIR(st.st_mode)) {
			state = FS_MISSING;
			break;
		}
		if ((nfd = openat(fd, comp, DIRFLAGS)) == -1) {
			*err = errno;
			/* Swapped for a symlink since the fstatat. */
			state = errno == ELOOP ? FS_SYMLINK : errno == ENOENT ? FS_MISSING :
			    FS_ERROR;
			break;
		}
		close(fd);
		fd = nfd;
	}
	close(fd);
	free(copy);
	return state;
}

static void
newer(struct timespec *best, const struct timespec *t)
{
	if (t->tv_sec > best->tv_sec || (t->tv_sec == best->tv_sec && t->tv_nsec > best->tv_nsec))
		*best = *t;
}

/* The newest mtime of name (below parent) and everything in it, symlinks not followed. */
int
fs_newest(int parent, const char *name, struct timespec *best, int depth)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;
	int fd, e;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	newer(best, &st.st_mtim);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth >= FS_MAXDEPTH) {
		errno = ELOOP;
		return -1;
	}
	if ((fd = openat(parent, name, DIRFLAGS)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	for (errno = 0; (d = readdir(dir)) != NULL; errno = 0) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fs_newest(dirfd(dir), d->d_name, best, depth + 1) == -1) {
			e = errno;
			closedir(dir);
			errno = e;
			return -1;
		}
	}
	e = errno;
	closedir(dir);
	errno = e;
	return e == 0 ? 0 : -1;
}

/*
 * Remove name below parent and everything in it. Symlinks are removed, never followed,
 * and a folder on another file system (a mount inside the archive) is refused with
 * EXDEV rather than emptied.
 */
static int
rmtree(int parent, const char *name, dev_t dev, int depth)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;
	int fd, e, pass;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) == -1 && errno != ENOENT ? -1 : 0;
	if (st.st_dev != dev) {
		errno = EXDEV;
		return -1;
	}
	if (depth >= FS_MAXDEPTH) {
		errno = ELOOP;
		return -1;
	}
	/* Entries removed while reading may shift the listing: read again until empty. */
	for (pass = 0; pass < 3; pass++) {
		if ((fd = openat(parent, name, DIRFLAGS)) == -1)
			return -1;
		if ((dir = fdopendir(fd)) == NULL) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		for (errno = 0; (d = readdir(dir)) != NULL; errno = 0) {
			if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
				continue;
			if (rmtree(dirfd(dir), d->d_name, dev, depth + 1) == -1) {
				e = errno;
				closedir(dir);
				errno = e;
				return -1;
			}
		}
		e = errno;
		closedir(dir);
		if (e != 0) {
			errno = e;
			return -1;
		}
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return -1;
	}
	return -1;
}

int
fs_rmtree(int parent, const char *name)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	return rmtree(parent, name, st.st_dev, 0);
}

/* rename(2) that never replaces an existing destination. */
int
fs_rename_new(int ofd, const char *oname, int nfd, const char *nname)
{
	struct stat st;

	if (syscall(SYS_renameat2, ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -1;
	/* A kernel or file system without RENAME_NOREPLACE: check, then rename. */
	if (fstatat(nfd, nname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(ofd, oname, nfd, nname);
}

/* mkdir -p of an absolute path. */
int
fs_mkdirs(const char *path)
{
	char *tmp;
	size_t i, n;
	int e;

	n = strlen(path);
	if ((tmp = strdup(path)) == NULL)
		return -1;
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		if (tmp[i - 1] == '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST) {
			e = errno;
			free(tmp);
			errno = e;
			return -1;
		}
		if (i < n)
			tmp[i] = '/';
	}
	free(tmp);
	return 0;
}

static int
copy_data(int in, int out)
{
	char b[65536];
	ssize_t n, w, off;

	for (;;) {
		if ((n = read(in, b, sizeof(b))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		for (off = 0; off < n; off += w)
			if ((w = write(out, b + off, (size_t)(n - off))) == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				return -1;
			}
	}
}

/*
 * Copy name below sparent to dname below dparent: folders, regular files and symlinks
 * with their modes and times, every file and folder synced, since the source is removed
 * next. Anything else (a FIFO, a socket, a device) and a folder on another file system
 * are refused: the source must go only once all of it is safe.
 */
static int
copytree(int sparent, const char *name, int dparent, const char *dname, dev_t dev, int depth)
{
	struct timespec times[2];
	struct stat st;
	struct dirent *d;
	char *target;
	DIR *dir;
	int sfd = -1, dfd = -1, e;
	ssize_t n;

	if (fstatat(sparent, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	if (S_ISLNK(st.st_mode)) {
		if ((target = malloc((size_t)st.st_size + 2)) == NULL)
			return -1;
		n = readlinkat(sparent, name, target, (size_t)st.st_size + 1);
		if (n == -1 || n > st.st_size) {
			e = n == -1 ? errno : EAGAIN;
			free(target);
			errno = e;
			return -1;
		}
		target[n] = '\0';
		e = symlinkat(target, dparent, dname);
		free(target);
		if (e == -1)
			return -1;
		return utimensat(dparent, dname, times, AT_SYMLINK_NOFOLLOW);
	}
	if (S_ISREG(st.st_mode)) {
		if ((sfd = openat(sparent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    (dfd = openat(dparent, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600)) == -1 ||
		    copy_data(sfd, dfd) == -1 || fchmod(dfd, st.st_mode & 07777) == -1 ||
		    futimens(dfd, times) == -1 || fsync(dfd) == -1)
			goto fail;
		close(sfd);
		return close(dfd);
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_dev != dev) {
		errno = EXDEV;
		return -1;
	}
	if (depth >= FS_MAXDEPTH) {
		errno = ELOOP;
		return -1;
	}
	if (mkdirat(dparent, dname, 0700) == -1)
		return -1;
	if ((sfd = openat(sparent, name, DIRFLAGS)) == -1 ||
	    (dfd = openat(dparent, dname, DIRFLAGS)) == -1)
		goto fail;
	if ((dir = fdopendir(sfd)) == NULL)
		goto fail;
	sfd = -1;
	for (errno = 0; (d = readdir(dir)) != NULL; errno = 0) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (copytree(dirfd(dir), d->d_name, dfd, d->d_name, dev, depth + 1) == -1)
			break;
	}
	e = errno;
	closedir(dir);
	if (e != 0) {
		errno = e;
		goto fail;
	}
	if (fchmod(dfd, st.st_mode & 07777) == -1 || futimens(dfd, times) == -1 ||
	    fsync(dfd) == -1)
		goto fail;
	return close(dfd);
fail:
	e = errno;
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	errno = e;
	return -1;
}

/*
 * The partial copies that a killed run left in the archive folder (fs_move_across names
 * them .NAME.partial-PID): every such folder whose process is gone is removed, and its
 * name passed to report. A live process's copy, anything that is not a folder, and any
 * other name are left alone. Returns the number removed, or -1 if the folder cannot be
 * read.
 */
int
fs_sweep_partials(int dirfd, void (*report)(const char *name, int err))
{
	struct dirent *de;
	struct stat st;
	const char *p, *q;
	DIR *d;
	long pid;
	int fd, n = 0;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || (p = strstr(de->d_name, ".partial-")) == NULL ||
		    p == de->d_name)
			continue;
		p += 9;
		for (q = p, pid = 0; *q >= '0' && *q <= '9' && pid < 1L << 30; q++)
			pid = pid * 10 + (*q - '0');
		if (q == p || *q != '\0' || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;	/* alive, or not ours to judge */
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (fs_rmtree(dirfd, de->d_name) == -1)
			report(de->d_name, errno);
		else {
			report(de->d_name, 0);
			n++;
		}
	}
	closedir(d);
	return n;
}

/*
 * A move across file systems: copy to a hidden partial name in the destination folder,
 * rename that into place (never over anything), then remove the source. A failed copy
 * removes its partial copy and leaves the source whole; returns -1 then. A source that
 * could not be removed entirely, with the copy in place, returns 1 with errno set.
 */
int
fs_move_across(int ofd, const char *oname, int nfd, const char *nname)
{
	struct stat st;
	char *tmp;
	int e;

	if (fstatat(ofd, oname, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if ((tmp = malloc(strlen(nname) + 32)) == NULL)
		return -1;
	snprintf(tmp, strlen(nname) + 32, ".%s.partial-%ld", nname, (long)getpid());
	if (copytree(ofd, oname, nfd, tmp, st.st_dev, 0) == -1 ||
	    fs_rename_new(nfd, tmp, nfd, nname) == -1) {
		e = errno;
		fs_rmtree(nfd, tmp);
		free(tmp);
		errno = e;
		return -1;
	}
	free(tmp);
	fsync(nfd);
	if (fs_rmtree(ofd, oname) == -1)
		return 1;
	return 0;
}
