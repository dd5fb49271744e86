/* See LICENSE. Diagnostics on fd 2 for s6-log, and the JSON-lines event log. */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/*
 * Diagnostics: one line per message on fd 2, "PROG: LEVEL: message\n", where LEVEL is fatal,
 * warning, info or debug. No timestamps: s6-log stamps and rotates. Each line is built in a
 * stack buffer of LOG_LINE_MAX bytes (newline included) and sent with one write(2); as that is
 * no more than PIPE_BUF, lines from concurrent writers to one pipe never interleave. A longer
 * message is cut and ends in "..." (the errno text of the *sys forms is kept). Control
 * characters in the message become escapes (\n, \r, \t, \xNN) so that a file name or any
 * other user input can never split a line or drive a terminal. None of these functions
 * changes errno.
 */
#define LOG_LINE_MAX	4096

/*
 * The program name that starts every diagnostic line; main sets it once, before any thread
 * exists. It is the one process-wide variable of the toolbox and is MT-unsafe: never change
 * it while other threads may log. It defaults to "orket".
 */
extern const char *log_prog;

void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnsys(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Debug lines are written only while the environment variable ORKET_DEBUG is truthy
 * (1, true, yes or on, trimmed, any case), read at each call so that a SIGHUP reload of the
 * environment turns them on or off; a program's -v flag does setenv("ORKET_DEBUG", "1", 1).
 * Reading the environment rather than keeping a verbosity variable leaves log_prog the only
 * process-wide variable.
 */
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
int	 log_debug_enabled(void);

/*
 * The only functions in lib/ that end the process. They write "PROG: fatal: ...", then
 * flush stdout so the data a CLI tool has already produced is not lost, then _exit(code).
 * _exit rather than exit: atexit handlers and the flushing of every other FILE are not run,
 * which keeps log_fatal safe while other threads still run (loadgen) and in a forked child
 * (that has flushed stdout before fork). Use 100 for bad input or config, 111 for a failed
 * system call, 101 for "can't happen" (see STYLE.md).
 */
void	 log_fatal(int, const char *, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
void	 log_fatalsys(int, const char *, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));

/*
 * ISO-8601 UTC with microseconds, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": LOG_TIMESTAMP_LEN
 * characters plus a NUL. log_timestamp formats the current CLOCK_REALTIME time and
 * log_timestamp_ts a given one; both return the length written, or -1 with errno ENOBUFS
 * when cap is smaller than LOG_TIMESTAMP_SIZE, EOVERFLOW for a year outside 0..9999.
 */
#define LOG_TIMESTAMP_LEN	27
#define LOG_TIMESTAMP_SIZE	(LOG_TIMESTAMP_LEN + 1)

/*
 * Blots out every copy of SECRET in S with '*', for messages that quote a server or a
 * library, which might echo a credential back. Nothing for a NULL or empty SECRET.
 */
void	 log_scrub(char *s, const char *secret);

int	 log_timestamp(char *, size_t);
int	 log_timestamp_ts(const struct timespec *, char *, size_t);

/*
 * The event log is application data: one JSON object per line,
 * {"timestamp":"...","role":"...","event":"...","data":{...}}, appended to a file whose parent
 * folders are created (0755) and whose mode is 0644. When appending a line would take the file
 * past cap bytes, path.(keep-1) is renamed to path.keep, ..., path to path.1 (the old
 * path.keep is dropped), and the line starts a new path; keep 0 just starts path afresh. A
 * single line longer than cap still gets written, alone in a fresh file. Files that are not
 * regular (a FIFO, /dev/stderr) are never rotated.
 *
 * If another process rotated the file (path no longer names the open file) evlog_write
 * follows it by reopening path instead of rotating a second time.
 *
 * A struct evlog is not thread-safe: one owner writes through it. It keeps one line buffer
 * for reuse, so writing an event allocates nothing once the buffer has grown.
 */
#define EVLOG_CAP_DEFAULT	(10 * 1024 * 1024)
#define EVLOG_KEEP_DEFAULT	5
#define EVLOG_KEEP_MAX		99
#define EVLOG_LINE_MAX		(1024 * 1024)	/* one event line, newline included */
#define EVLOG_PATH_MAX		4096		/* path, with room for ".NN" */

struct evlog {
	char		 path[EVLOG_PATH_MAX];
	int		 fd;
	size_t		 size;		/* bytes in the open file, as far as we know */
	size_t		 cap;
	int		 keep;
	int		 regular;	/* a regular file, so rotation applies */
	struct buf	 line;
};

/*
 * evlog_open creates parent folders and opens path (O_APPEND, O_CLOEXEC). cap 0 means
 * EVLOG_CAP_DEFAULT; keep must be 0..EVLOG_KEEP_MAX. It returns 0, or -1 with errno
 * (EINVAL, ENAMETOOLONG or the system's) with fd -1, so evlog_close is always safe after it.
 *
 * evlog_write appends one event. role and event are escaped as JSON strings (invalid UTF-8
 * becomes U+FFFD); data_json is an already serialized JSON value, inserted as is (NULL or ""
 * means {}), except that a raw CR or LF in it, which valid JSON only has as whitespace,
 * becomes a space so the record stays one line. It returns 0, or -1 with errno: EINVAL for a
 * NULL role or event, ENOBUFS when the line would pass EVLOG_LINE_MAX, or the error of a
 * failed rotation or write. When -1 is returned the line was not written, except after a
 * short write (a full disk), when part of it may have been.
 */
int	 evlog_open(struct evlog *, const char *path, size_t cap, int keep);
int	 evlog_write(struct evlog *, const char *role, const char *event,
	    const char *data_json);
void	 evlog_close(struct evlog *);

#endif
