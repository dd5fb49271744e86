/* See LICENSE. orket-clean: archive, then delete, parity-verified local copies. */
#ifndef CLEAN_H
#define CLEAN_H

#include <stddef.h>
#include <time.h>

#define CLEAN_DAYS_MAX		1000000	/* --archive-days and --hard-delete-days */
#define CLEAN_FILES_MAX		100	/* dirty files listed per project; the rest counted */
#define CLEAN_SUFFIX_MAX	100	/* -2 ... -100 tried on an archive name in use */
#define FS_MAXDEPTH		256	/* folder nesting walked, timed or removed */

struct clean_config {
	const char	 *repo_root;
	const char	 *registry_path;
	const char	 *archive_dir;
	const char	 *source_dir;	/* filter; "" for none */
	const char	**projects;	/* filter; nprojects 0 for none */
	size_t		  nprojects;
	long		  archive_days;
	long		  hard_delete_days;
	int		  allow_dirty;
	int		  include_ignored;
	int		  execute;
};

/* The exit code: 0, 1 (an action failed), 100 or 111. */
int	 clean_run(const struct clean_config *);

/* fs_walk states */
enum { FS_DIR, FS_OTHER, FS_MISSING, FS_SYMLINK, FS_ERROR };

int	 fs_walk(int basefd, const char *rel, int *parentfd, int *err);
int	 fs_newest(int parent, const char *name, struct timespec *best, int depth);
int	 fs_rmtree(int parent, const char *name);
int	 fs_rename_new(int ofd, const char *oname, int nfd, const char *nname);
int	 fs_mkdirs(const char *path);
int	 fs_move_across(int ofd, const char *oname, int nfd, const char *nname);
int	 fs_sweep_partials(int dirfd, void (*report)(const char *name, int err));

#endif
