/* See LICENSE. The publish registry .orket/project_publish_registry.json. */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/*
 * {"version":1,"projects":[record,...]}: the original's schema. Unknown top-level keys and
 * unknown record keys are kept, in order. Missing file: empty registry. A file that cannot
 * be read or parsed, or whose shape is wrong, is an error: it is never replaced silently.
 * Saves are atomic (temp file in the same folder, fsync, rename, fsync the folder) and
 * written as the original did: 2-space indent, UTF-8, no trailing newline.
 *
 * Concurrent writers (publish and clean) serialise on an flock of PATH.lock: take the lock,
 * load, change, save, unlock, once per action, so that no update is lost.
 */
typedef struct registry registry;

int	 registry_lock(const char *path, int *lockfd, char *err, size_t errlen);
void	 registry_unlock(int lockfd);
int	 registry_load(registry **, const char *path, char *err, size_t errlen);
int	 registry_save(registry *, char *err, size_t errlen);
void	 registry_free(registry *);

size_t	 registry_count(const registry *);
/* The record keyed by (source_dir, project_name), or -1. */
long	 registry_find(const registry *, const char *source_dir, const char *project_name);
/* Finds or appends that record; its index. */
long	 registry_upsert(registry *, const char *source_dir, const char *project_name);

/* Field access. get_str: NULL when absent, null or not a string. */
const char *registry_get_str(const registry *, size_t i, const char *key);
int	 registry_get_bool(const registry *, size_t i, const char *key);	/* absent: 0 */
/* set_str with NULL writes null. Existing keys keep their place; new ones go last. */
int	 registry_set_str(registry *, size_t i, const char *key, const char *value);
int	 registry_set_bool(registry *, size_t i, const char *key, int value);

/* Python isoformat of now or of T in UTC: 2026-02-12T18:32:53.123456+00:00 (no .000000). */
void	 registry_isotime(char out[40]);

/*
 * Additions to the contract above.
 *
 * REGISTRY_MAX caps the registry file, read or written: a bigger one is refused (EFBIG)
 * and left as it is. registry_load and registry_save return -1 with errno EINVAL (not
 * JSON, or the wrong shape) or EFBIG for bad content, which retrying cannot fix, and the
 * system's errno for a failed read or write. registry_lock waits at most
 * REGISTRY_LOCK_WAIT seconds for another holder, then fails with EWOULDBLOCK.
 */
#define REGISTRY_MAX		(16UL * 1024 * 1024)
#define REGISTRY_LOCK_WAIT	30

const char *registry_path(const registry *);
/* Python truthiness of the value: absent, null, false, 0, "", [] and {} are false. */
int	 registry_get_truthy(const registry *, size_t i, const char *key);
/* The value as written in the file (a string keeps its quotes), or NULL when absent. */
const char *registry_get_raw(const registry *, size_t i, const char *key, size_t *len);
/* Put back a value taken with registry_get_raw (NULL removes nothing, it writes null). */
int	 registry_set_raw(registry *, size_t i, const char *key, const char *raw, size_t len);

void	 registry_isotime_ts(const struct timespec *, char out[40]);
/*
 * Python's datetime.fromisoformat for the forms the registry holds:
 * YYYY-MM-DD[T ]HH:MM[:SS[.f...]] followed by Z or +HH:MM[:SS] / -HH:MM[:SS]. A time
 * without an offset is refused, as the original's arithmetic on it crashed. 0 or -1.
 */
int	 registry_parse_isotime(const char *, struct timespec *);

/*
 * Python's json.dumps(value, indent=2) of the JSON text S: one member or element per line,
 * indented two spaces a level, "," ending every line but a container's last, ": " after
 * keys, empty containers as {} and [], and every character outside printable ASCII in a
 * string written as \uXXXX (ensure_ascii, surrogate pairs above U+FFFF). Numbers are
 * kept as written. Appends to OUT with no trailing newline; 0, or -1 with errno (EINVAL:
 * S is not JSON; ENOBUFS: OUT would pass its cap).
 */
int	 registry_dumps(struct buf *out, const char *s, size_t len);

#endif
