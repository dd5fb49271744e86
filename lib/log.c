/* See LICENSE. Diagnostics on fd 2 and the rotating JSON-lines event log. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dotenv.h"
#include "json.h"
#include "log.h"

/* The longest program name and errno text we print; a line must keep room for its message. */
#define PROG_MAX	256
#define ERRTEXT_MAX	256

/* MT-unsafe by design: main sets it once before any thread starts (see log.h). */
const char *log_prog = "orket";

static const char hexdigits[] = "0123456789abcdef";

/*
 * Append s to line at *pos, without passing lim, with control characters escaped so the
 * result stays on one line and cannot carry terminal escapes. An escape is never split.
 * Return 1 when all of s fit, 0 when it was cut.
 */
static int
put_escaped(char *line, size_t *pos, size_t lim, const char *s)
{
	const unsigned char *p;
	char e[4];
	size_t n;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		n = 2;
		e[0] = '\\';
		switch (*p) {
		case '\n':
			e[1] = 'n';
			break;
		case '\r':
			e[1] = 'r';
			break;
		case '\t':
			e[1] = 't';
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				e[1] = 'x';
				e[2] = hexdigits[*p >> 4];
				e[3] = hexdigits[*p & 0xf];
				n = 4;
			} else {
				e[0] = (char)*p;
				n = 1;
			}
			break;
		}
		if (n > lim - *pos)
			return 0;
		memcpy(line + *pos, e, n);
		*pos += n;
	}
	return 1;
}

static void
put_raw(char *line, size_t *pos, size_t lim, const char *s)
{
	size_t n;

	n = strlen(s);
	if (n > lim - *pos)
		n = lim - *pos;
	memcpy(line + *pos, s, n);
	*pos += n;
}

/*
 * Build "PROG: LEVEL: message[: errno text]\n" and send it with one write(2). errnum 0
 * means no errno text. errno is left as the caller had it.
 */
static void
log_emit(const char *level, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX], suffix[ERRTEXT_MAX];
	size_t pos, start, lim, off;
	ssize_t w;
	int saved, n, whole;

	saved = errno;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		/* A bad format still deserves a line rather than silence. */
		msg[0] = '\0';
		n = 0;
	}

	pos = 0;
	if (!put_escaped(line, &pos, PROG_MAX, log_prog ? log_prog : "orket"))
		put_raw(line, &pos, PROG_MAX + 3, "...");
	put_raw(line, &pos, sizeof(line), ": ");
	put_raw(line, &pos, sizeof(line), level);
	put_raw(line, &pos, sizeof(line), ": ");

	/* The errno text goes at the end and is kept even when the message is cut. */
	suffix[0] = '\0';
	if (errnum != 0) {
		off = 0;
		put_raw(suffix, &off, sizeof(suffix) - 1, ": ");
		put_raw(suffix, &off, sizeof(suffix) - 1, strerror(errnum));
		suffix[off] = '\0';
	}

	/* Leave room for the suffix and the newline; cut the message and mark it with "...". */
	lim = sizeof(line) - 1 - strlen(suffix);
	start = pos;
	whole = (size_t)n < sizeof(msg) && put_escaped(line, &pos, lim, msg);
	if (!whole) {
		pos = start;
		put_escaped(line, &pos, lim - 3, msg);
		put_raw(line, &pos, lim, "...");
	}
	put_raw(line, &pos, sizeof(line) - 1, suffix);
	line[pos++] = '\n';

	/* A short write is only possible on a full disk or a closed pipe; finish the line if we can. */
	for (off = 0; off < pos; off += (size_t)w) {
		w = write(STDERR_FILENO, line + off, pos - off);
		if (w == -1 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			break;
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning", 0, fmt, ap);
	va_end(ap);
}

void
log_warnsys(const char *fmt, ...)
{
	va_list ap;
	int e;

	e = errno;
	va_start(ap, fmt);
	log_emit("warning", e, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("info", 0, fmt, ap);
	va_end(ap);
}

/* Read at each call, so a SIGHUP reload of the environment turns debug lines on or off. */
int
log_debug_enabled(void)
{
	return env_truthy("ORKET_DEBUG");
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;
	int e;

	e = errno;
	if (!log_debug_enabled()) {
		errno = e;
		return;
	}
	errno = e;
	va_start(ap, fmt);
	log_emit("debug", 0, fmt, ap);
	va_end(ap);
}

void
log_fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", 0, fmt, ap);
	va_end(ap);
	fflush(stdout);
	_exit(code);
}

void
log_fatalsys(int code, const char *fmt, ...)
{
	va_list ap;
	int e;

	e = errno;
	va_start(ap, fmt);
	log_emit("fatal", e, fmt, ap);
	va_end(ap);
	fflush(stdout);
	_exit(code);
}

/* Write v as exactly width decimal digits, most significant first. */
static char *
put_digits(char *p, long v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

int
log_timestamp_ts(const struct timespec *ts, char *out, size_t cap)
{
	struct tm tm;
	long year;
	char *p;

	if (cap < LOG_TIMESTAMP_SIZE) {
		errno = ENOBUFS;
		return -1;
	}
	if (ts->tv_nsec < 0 || ts->tv_nsec > 999999999L) {
		errno = EINVAL;
		return -1;
	}
	if (gmtime_r(&ts->tv_sec, &tm) == NULL)
		return -1;
	year = tm.tm_year + 1900L;
	if (year < 0 || year > 9999) {
		errno = EOVERFLOW;
		return -1;
	}
	/* By hand: no locale, no allocation, and the width of each field is fixed. */
	p = put_digits(out, year, 4);
	*p++ = '-';
	p = put_digits(p, tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_sec, 2);
	*p++ = '.';
	/* Truncated, not rounded: rounding could carry into the seconds. */
	p = put_digits(p, ts->tv_nsec / 1000, 6);
	*p++ = 'Z';
	*p = '\0';
	return LOG_TIMESTAMP_LEN;
}

int
log_timestamp(char *out, size_t cap)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	return log_timestamp_ts(&ts, out, cap);
}

/* Append a serialized JSON value, turning raw CR and LF (whitespace in JSON) into spaces. */
static int
json_raw_oneline(struct buf *b, const char *s)
{
	size_t n;

	for (;;) {
		n = strcspn(s, "\r\n");
		if (buf_add(b, s, n) == -1)
			return -1;
		if (s[n] == '\0')
			return 0;
		if (buf_addc(b, ' ') == -1)
			return -1;
		s += n + 1;
	}
}

/* mkdir -p for the folders above path; the last component is the file itself. */
static int
mkparents(const char *path)
{
	char tmp[EVLOG_PATH_MAX];
	size_t n, i;

	n = strlen(path);
	if (n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (i = 1; i < n; i++) {
		if (tmp[i] != '/' || tmp[i - 1] == '/')
			continue;
		tmp[i] = '\0';
		/* An existing non-folder shows up as ENOTDIR when the file is opened. */
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
			return -1;
		tmp[i] = '/';
	}
	return 0;
}

/* Open (or create) ev->path and take over its size, closing the file held before. */
static int
evlog_reopen(struct evlog *ev)
{
	struct stat st;
	int fd;

	fd = open(ev->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if (ev->fd != -1)
		close(ev->fd);
	ev->fd = fd;
	ev->regular = S_ISREG(st.st_mode);
	ev->size = ev->regular ? (size_t)st.st_size : 0;
	return 0;
}

int
evlog_open(struct evlog *ev, const char *path, size_t cap, int keep)
{
	size_t n;

	ev->fd = -1;
	ev->size = 0;
	ev->regular = 0;
	ev->path[0] = '\0';
	buf_init(&ev->line, EVLOG_LINE_MAX);
	if (path == NULL || *path == '\0' || keep < 0 || keep > EVLOG_KEEP_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* Room for the ".NN" of the oldest kept file. */
	n = strlen(path);
	if (n + 4 > sizeof(ev->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(ev->path, path, n + 1);
	ev->cap = cap ? cap : EVLOG_CAP_DEFAULT;
	ev->keep = keep;
	if (mkparents(ev->path) == -1)
		return -1;
	return evlog_reopen(ev);
}

static int
fits(const struct evlog *ev, size_t len)
{
	return ev->size == 0 || (len <= ev->cap && ev->size <= ev->cap - len);
}

/*
 * Write "path.N" into out, which has room for EVLOG_PATH_MAX bytes; evlog_open checked that
 * path leaves room for ".NN", and N never passes EVLOG_KEEP_MAX.
 */
static void
numbered(char *out, const char *path, int n)
{
	size_t len;

	len = strlen(path);
	memcpy(out, path, len);
	out[len++] = '.';
	if (n >= 10)
		out[len++] = (char)('0' + n / 10);
	out[len++] = (char)('0' + n % 10);
	out[len] = '\0';
}

/* Shift path.N to path.N+1, dropping the oldest, then path to path.1, and start afresh. */
static int
evlog_rotate(struct evlog *ev)
{
	char from[EVLOG_PATH_MAX], to[EVLOG_PATH_MAX];
	int i;

	if (ev->keep == 0) {
		if (unlink(ev->path) == -1 && errno != ENOENT)
			return -1;
		return evlog_reopen(ev);
	}
	for (i = ev->keep - 1; i >= 1; i--) {
		numbered(from, ev->path, i);
		numbered(to, ev->path, i + 1);
		if (rename(from, to) == -1 && errno != ENOENT)
			return -1;
	}
	numbered(to, ev->path, 1);
	if (rename(ev->path, to) == -1 && errno != ENOENT)
		return -1;
	return evlog_reopen(ev);
}

/*
 * Make room for len more bytes. Before rotating, look at the file again: another process
 * may have rotated it (path is then a different file or none), truncated it (clear-logs) or
 * appended to it, so our count may be stale. This costs two stat calls per rotation only.
 */
static int
evlog_make_room(struct evlog *ev, size_t len)
{
	struct stat pst, fst;

	if (!ev->regular || fits(ev, len))
		return 0;
	if (fstat(ev->fd, &fst) == -1)
		return -1;
	if (stat(ev->path, &pst) == -1) {
		if (errno != ENOENT)
			return -1;
		return evlog_reopen(ev);
	}
	if (pst.st_dev != fst.st_dev || pst.st_ino != fst.st_ino) {
		if (evlog_reopen(ev) == -1)
			return -1;
	} else
		ev->size = (size_t)fst.st_size;
	if (!ev->regular || fits(ev, len))
		return 0;
	return evlog_rotate(ev);
}

int
evlog_write(struct evlog *ev, const char *role, const char *event, const char *data_json)
{
	char ts[LOG_TIMESTAMP_SIZE];
	struct buf *b = &ev->line;
	size_t off;
	ssize_t w;

	if (ev->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (role == NULL || event == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (data_json == NULL || *data_json == '\0')
		data_json = "{}";
	if (log_timestamp(ts, sizeof(ts)) == -1)
		return -1;
	buf_reset(b);
	if (buf_adds(b, "{\"timestamp\":\"") == -1 ||
	    buf_add(b, ts, LOG_TIMESTAMP_LEN) == -1 ||
	    buf_adds(b, "\",\"role\":") == -1 ||
	    json_escape(b, role, strlen(role)) == -1 ||
	    buf_adds(b, ",\"event\":") == -1 ||
	    json_escape(b, event, strlen(event)) == -1 ||
	    buf_adds(b, ",\"data\":") == -1 ||
	    json_raw_oneline(b, data_json) == -1 ||
	    buf_adds(b, "}\n") == -1)
		return -1;
	if (evlog_make_room(ev, b->len) == -1)
		return -1;
	/*
	 * One write with O_APPEND keeps the line whole even with other writers; a short write
	 * (full disk) is finished if the disk lets us, so that the next line starts a line.
	 */
	for (off = 0; off < b->len; off += (size_t)w) {
		w = write(ev->fd, b->p + off, b->len - off);
		if (w == -1 && errno == EINTR)
			w = 0;
		else if (w <= 0) {
			if (w == 0)
				errno = EIO;
			ev->size += off;
			return -1;
		}
	}
	ev->size += b->len;
	return 0;
}

void
evlog_close(struct evlog *ev)
{
	if (ev->fd != -1)
		close(ev->fd);
	ev->fd = -1;
	buf_free(&ev->line);
}

void
log_scrub(char *s, const char *secret)
{
	char *p;
	size_t n;

	if (secret == NULL || (n = strlen(secret)) < 1)
		return;
	while ((p = strstr(s, secret)) != NULL)
		memset(p, '*', n);
}
