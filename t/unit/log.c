/* See LICENSE. Unit tests for lib/log.c: diagnostic lines, timestamps and the event log. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char scratch[] = "/tmp/orket-unit-log.XXXXXX";
static char capfile[4200];

/* The tests share one scratch folder; these build names inside it. */
static const char *
spath(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", scratch, name);
	return out;
}

/*
 * Run the diagnostic call between cap_start and cap_end: fd 2 goes to a file, which is
 * read back into out. The test's own output is on stdout, so it is unaffected.
 */
static int saved_fd2 = -1;

static void
cap_start(void)
{
	int fd;

	fflush(stderr);
	saved_fd2 = dup(2);
	fd = open(capfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved_fd2 == -1 || fd == -1 || dup2(fd, 2) == -1) {
		perror("cap_start");
		exit(2);
	}
	close(fd);
}

static size_t
read_file(const char *path, char *out, size_t cap)
{
	ssize_t n;
	size_t len = 0;
	int fd;

	out[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	out[len] = '\0';
	return len;
}

static size_t
cap_end(char *out, size_t cap)
{
	int e = errno;

	dup2(saved_fd2, 2);
	close(saved_fd2);
	saved_fd2 = -1;
	errno = e;
	return read_file(capfile, out, cap);
}

static int
count_char(const char *s, size_t n, char c)
{
	size_t i;
	int k = 0;

	for (i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == -1 ? -1 : st.st_size;
}

static void
test_diag_format(void)
{
	char got[8192], want[512];
	size_t n;

	log_prog = "tst";
	cap_start();
	log_warn("hello %d %s", 42, "world");
	n = cap_end(got, sizeof(got));
	is_str(got, "tst: warning: hello 42 world\n", "log_warn line");
	is_int(n, 29, "log_warn wrote exactly one line");

	cap_start();
	log_info("ready on %s", "127.0.0.1:8080");
	cap_end(got, sizeof(got));
	is_str(got, "tst: info: ready on 127.0.0.1:8080\n", "log_info line");

	cap_start();
	errno = ENOENT;
	log_warnsys("unable to open %s", "/nope");
	cap_end(got, sizeof(got));
	snprintf(want, sizeof(want), "tst: warning: unable to open /nope: %s\n", strerror(ENOENT));
	is_str(got, want, "log_warnsys appends the errno text");

	log_prog = NULL;
	cap_start();
	log_warn("x");
	cap_end(got, sizeof(got));
	is_str(got, "orket: warning: x\n", "a NULL log_prog prints orket");
	log_prog = "tst";
}

static void
test_errno_kept(void)
{
	char got[8192];

	cap_start();
	errno = EACCES;
	log_warn("a");
	is_int(errno, EACCES, "log_warn keeps errno");
	errno = EROFS;
	log_warnsys("b");
	is_int(errno, EROFS, "log_warnsys keeps errno");
	errno = EPIPE;
	log_info("c");
	is_int(errno, EPIPE, "log_info keeps errno");
	unsetenv("ORKET_DEBUG");
	errno = ENOSPC;
	log_debug("d");
	is_int(errno, ENOSPC, "log_debug keeps errno when off");
	setenv("ORKET_DEBUG", "1", 1);
	errno = EEXIST;
	log_debug("e");
	is_int(errno, EEXIST, "log_debug keeps errno when on");
	unsetenv("ORKET_DEBUG");
	cap_end(got, sizeof(got));
}

static void
test_one_line(void)
{
	char got[8192];
	size_t n;

	cap_start();
	log_warn("bad path %s", "a\nb\rc\td\x1b[31m\x7f!");
	n = cap_end(got, sizeof(got));
	is_str(got, "tst: warning: bad path a\\nb\\rc\\td\\x1b[31m\\x7f!\n",
	    "control characters are escaped");
	is_int(count_char(got, n, '\n'), 1, "a newline in the message does not split the line");

	log_prog = "t\nx";
	cap_start();
	log_info("m");
	cap_end(got, sizeof(got));
	is_str(got, "t\\nx: info: m\n", "the program name is escaped too");
	log_prog = "tst";
}

static void
test_truncation(void)
{
	static char msg[10000], got[16384];
	const char *prefix = "tst: warning: ";
	char want[512];
	size_t n, plen, fill;

	plen = strlen(prefix);

	/* Exactly at the cap: the whole message, newline included, is LOG_LINE_MAX bytes. */
	fill = LOG_LINE_MAX - 1 - plen;
	memset(msg, 'x', fill);
	msg[fill] = '\0';
	cap_start();
	log_warn("%s", msg);
	n = cap_end(got, sizeof(got));
	is_int(n, LOG_LINE_MAX, "a message that just fits makes a line of LOG_LINE_MAX");
	ok(n >= 4 && memcmp(got + n - 4, "xxx\n", 4) == 0, "and it is not cut");

	/* One byte over: cut, marked, still one line of at most LOG_LINE_MAX. */
	msg[fill] = 'y';
	msg[fill + 1] = '\0';
	cap_start();
	log_warn("%s", msg);
	n = cap_end(got, sizeof(got));
	is_int(n, LOG_LINE_MAX, "one byte over the cap is cut to LOG_LINE_MAX");
	ok(n >= 4 && memcmp(got + n - 4, "...\n", 4) == 0, "a cut line ends in ...");
	is_int(count_char(got, n, '\n'), 1, "a cut line is one line");

	/* Far over the cap. */
	memset(msg, 'z', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	cap_start();
	log_warn("%s", msg);
	n = cap_end(got, sizeof(got));
	ok(n <= LOG_LINE_MAX && n > plen, "a 10000-byte message gives %zu bytes", n);
	ok(strncmp(got, prefix, plen) == 0, "a cut line keeps its prefix");
	is_int(count_char(got, n, '\n'), 1, "a 10000-byte message stays one line");

	/* The errno text survives the cut. */
	cap_start();
	errno = ENOENT;
	log_warnsys("%s", msg);
	n = cap_end(got, sizeof(got));
	snprintf(want, sizeof(want), "...: %s\n", strerror(ENOENT));
	ok(n <= LOG_LINE_MAX && n > strlen(want) &&
	    strcmp(got + n - strlen(want), want) == 0, "a cut log_warnsys line keeps the errno text");

	/* An escape is never split at the cut. */
	fill = LOG_LINE_MAX - 1 - 3 - plen - 1;
	memset(msg, 'x', fill);
	msg[fill] = '\n';
	memset(msg + fill + 1, 'y', 100);
	msg[fill + 101] = '\0';
	cap_start();
	log_warn("%s", msg);
	n = cap_end(got, sizeof(got));
	ok(n >= 5 && memcmp(got + n - 5, "x...\n", 5) == 0, "an escape at the cut is dropped whole");
	ok(n <= LOG_LINE_MAX, "and the line is within the cap");
}

static void
test_debug(void)
{
	char got[8192];

	unsetenv("ORKET_DEBUG");
	cap_start();
	log_debug("hidden");
	cap_end(got, sizeof(got));
	is_str(got, "", "log_debug is silent without ORKET_DEBUG");

	setenv("ORKET_DEBUG", "0", 1);
	cap_start();
	log_debug("hidden");
	cap_end(got, sizeof(got));
	is_str(got, "", "log_debug is silent with ORKET_DEBUG=0");

	setenv("ORKET_DEBUG", " On ", 1);
	cap_start();
	log_debug("shown %d", 7);
	cap_end(got, sizeof(got));
	is_str(got, "tst: debug: shown 7\n", "log_debug writes with ORKET_DEBUG=' On '");
	unsetenv("ORKET_DEBUG");
}

/* Run a fatal call in a child, with stdout and stderr in files; return its wait status. */
static int
run_fatal(int sys, char *out, size_t outcap, char *err, size_t errcap)
{
	char opath[4200];
	pid_t pid;
	int st, fd;

	spath(opath, sizeof(opath), "fatal.out");
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fd = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		close(fd);
		fd = open(capfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
		/* No newline: only an explicit flush can get this out. */
		printf("partial data");
		if (sys) {
			errno = EACCES;
			log_fatalsys(111, "unable to read %s", "cfg");
		}
		log_fatal(100, "bad %s", "input");
	}
	if (waitpid(pid, &st, 0) == -1)
		return -1;
	read_file(opath, out, outcap);
	read_file(capfile, err, errcap);
	return st;
}

static void
test_fatal(void)
{
	char out[256], err[512], want[512];
	int st;

	st = run_fatal(0, out, sizeof(out), err, sizeof(err));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 100, "log_fatal exits with its code");
	is_str(err, "tst: fatal: bad input\n", "log_fatal line");
	is_str(out, "partial data", "log_fatal flushes stdout first");

	st = run_fatal(1, out, sizeof(out), err, sizeof(err));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 111, "log_fatalsys exits with its code");
	snprintf(want, sizeof(want), "tst: fatal: unable to read cfg: %s\n", strerror(EACCES));
	is_str(err, want, "log_fatalsys line");
}

static int
ts_shape(const char *s)
{
	const char *pat = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	size_t i;

	if (strlen(s) != LOG_TIMESTAMP_LEN)
		return 0;
	for (i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	return 1;
}

static void
test_timestamp(void)
{
	struct timespec ts;
	char out[64];
	int r;

	ts.tv_sec = 1795722627;
	ts.tv_nsec = 123456789;
	r = log_timestamp_ts(&ts, out, sizeof(out));
	is_int(r, LOG_TIMESTAMP_LEN, "log_timestamp_ts returns the length");
	is_str(out, "2026-11-26T19:50:27.123456Z", "a known instant, microseconds truncated");

	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	log_timestamp_ts(&ts, out, sizeof(out));
	is_str(out, "1970-01-01T00:00:00.000000Z", "the epoch");

	ts.tv_sec = 1709251199;
	ts.tv_nsec = 999999999;
	log_timestamp_ts(&ts, out, sizeof(out));
	is_str(out, "2024-02-29T23:59:59.999999Z", "a leap day, never rounded up");

	ts.tv_sec = -1;
	ts.tv_nsec = 500000;
	log_timestamp_ts(&ts, out, sizeof(out));
	is_str(out, "1969-12-31T23:59:59.000500Z", "before the epoch");

	ts.tv_sec = 253402300799;
	ts.tv_nsec = 0;
	r = log_timestamp_ts(&ts, out, sizeof(out));
	is_str(r == LOG_TIMESTAMP_LEN ? out : "", "9999-12-31T23:59:59.000000Z",
	    "the last second of 9999");
	ts.tv_sec = 253402300800;
	errno = 0;
	r = log_timestamp_ts(&ts, out, sizeof(out));
	ok(r == -1 && errno == EOVERFLOW, "the year 10000 is EOVERFLOW");

	errno = 0;
	r = log_timestamp(out, LOG_TIMESTAMP_SIZE - 1);
	ok(r == -1 && errno == ENOBUFS, "a buffer one byte short is ENOBUFS");
	r = log_timestamp(out, LOG_TIMESTAMP_SIZE);
	ok(r == LOG_TIMESTAMP_LEN && ts_shape(out), "log_timestamp now: %s", out);
	ok(strcmp(out, "2025-01-01") > 0, "the clock is past 2025");
}

/*
 * Write one event and return the line after its timestamp, checking the part before it.
 * *tsok says whether the timestamp had the right shape.
 */
static const char *
one_event(const char *path, const char *role, const char *event, const char *data, int *tsok,
    char *line, size_t cap)
{
	struct evlog ev;
	const char *head = "{\"timestamp\":\"";
	char ts[LOG_TIMESTAMP_SIZE];
	size_t hl = strlen(head);

	unlink(path);
	*tsok = 0;
	if (evlog_open(&ev, path, 0, 5) == -1 || evlog_write(&ev, role, event, data) == -1) {
		evlog_close(&ev);
		return "(write failed)";
	}
	evlog_close(&ev);
	read_file(path, line, cap);
	if (strncmp(line, head, hl) != 0 || strlen(line) < hl + LOG_TIMESTAMP_LEN)
		return "(bad head)";
	memcpy(ts, line + hl, LOG_TIMESTAMP_LEN);
	ts[LOG_TIMESTAMP_LEN] = '\0';
	*tsok = ts_shape(ts);
	return line + hl + LOG_TIMESTAMP_LEN;
}

static void
test_event_escaping(void)
{
	char path[4200], line[8192];
	const char *rest;
	int tsok;

	spath(path, sizeof(path), "esc.log");
	rest = one_event(path, "sys\"tem", "ev\\t\n", "{\"k\":1}", &tsok, line, sizeof(line));
	ok(tsok, "the event's timestamp has the right shape");
	is_str(rest, "\",\"role\":\"sys\\\"tem\",\"event\":\"ev\\\\t\\n\",\"data\":{\"k\":1}}\n",
	    "quotes, backslashes and newlines are escaped");

	rest = one_event(path, "\x01\x1f\b\f\r\t", "x", NULL, &tsok, line, sizeof(line));
	is_str(rest, "\",\"role\":\"\\u0001\\u001f\\b\\f\\r\\t\",\"event\":\"x\",\"data\":{}}\n",
	    "control characters, and NULL data is {}");

	rest = one_event(path, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "", "", &tsok,
	    line, sizeof(line));
	is_str(rest, "\",\"role\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
	    "\"event\":\"\",\"data\":{}}\n", "valid UTF-8 is kept as is; empty data is {}");

	rest = one_event(path, "a\xff" "b", "\xe2\x82", NULL, &tsok, line, sizeof(line));
	is_str(rest, "\",\"role\":\"a\xef\xbf\xbd" "b\",\"event\":\"\xef\xbf\xbd\",\"data\":{}}\n",
	    "a bad byte and a truncated sequence each become U+FFFD");

	rest = one_event(path, "\xc0\xaf", "\xed\xa0\x80", NULL, &tsok, line, sizeof(line));
	is_str(rest, "\",\"role\":\"\xef\xbf\xbd\xef\xbf\xbd\",\"event\":\""
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\",\"data\":{}}\n",
	    "overlong forms and surrogates are replaced byte by byte");

	rest = one_event(path, "\xf4\x90\x80\x80", "\xe2\x82x", NULL, &tsok, line, sizeof(line));
	is_str(rest, "\",\"role\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
	    "\"event\":\"\xef\xbf\xbdx\",\"data\":{}}\n",
	    "past U+10FFFF, and a cut sequence followed by ASCII");

	rest = one_event(path, "r", "e", "{\n  \"a\": [1,\r\n 2]\n}", &tsok, line, sizeof(line));
	is_str(rest, "\",\"role\":\"r\",\"event\":\"e\",\"data\":{   \"a\": [1,   2] }}\n",
	    "raw CR and LF in data become spaces");
}

static void
test_event_errors(void)
{
	struct evlog ev;
	char path[4200], *big;
	off_t before;
	int r;

	spath(path, sizeof(path), "err.log");
	ok(evlog_open(&ev, path, 0, 5) == 0, "evlog_open");
	is_int(ev.cap, EVLOG_CAP_DEFAULT, "cap 0 means 10 MiB");
	errno = 0;
	r = evlog_write(&ev, NULL, "e", NULL);
	ok(r == -1 && errno == EINVAL, "a NULL role is EINVAL");
	errno = 0;
	r = evlog_write(&ev, "r", NULL, NULL);
	ok(r == -1 && errno == EINVAL, "a NULL event is EINVAL");

	ok(evlog_write(&ev, "r", "e", NULL) == 0, "a small event");

	/*
	 * Around the line cap: the line is 75 bytes of frame plus the data, so a JSON string
	 * of EVLOG_LINE_MAX - 75 bytes makes a line of exactly EVLOG_LINE_MAX.
	 */
	big = malloc(EVLOG_LINE_MAX + 1);
	memset(big, ' ', EVLOG_LINE_MAX);
	big[0] = '"';
	big[EVLOG_LINE_MAX - 75 - 1] = '"';
	big[EVLOG_LINE_MAX - 75] = '\0';
	before = file_size(path);
	ok(evlog_write(&ev, "r", "e", big) == 0, "a line of exactly EVLOG_LINE_MAX is written");
	is_int(file_size(path) - before, EVLOG_LINE_MAX, "all of it");
	before = file_size(path);
	big[EVLOG_LINE_MAX - 75 - 1] = ' ';
	big[EVLOG_LINE_MAX - 75] = '"';
	big[EVLOG_LINE_MAX - 75 + 1] = '\0';
	errno = 0;
	r = evlog_write(&ev, "r", "e", big);
	ok(r == -1 && errno == ENOBUFS, "one byte more is ENOBUFS");
	is_int(file_size(path), before, "and nothing of it is written");
	ok(evlog_write(&ev, "r", "e", NULL) == 0, "the evlog still works after ENOBUFS");
	free(big);
	evlog_close(&ev);
	evlog_close(&ev);
	ok(ev.fd == -1, "evlog_close twice is harmless");

	errno = 0;
	ok(evlog_open(&ev, path, 0, -1) == -1 && errno == EINVAL, "keep -1 is EINVAL");
	evlog_close(&ev);
	errno = 0;
	ok(evlog_open(&ev, path, 0, EVLOG_KEEP_MAX + 1) == -1 && errno == EINVAL,
	    "keep over EVLOG_KEEP_MAX is EINVAL");
	evlog_close(&ev);
	errno = 0;
	ok(evlog_open(&ev, "", 0, 5) == -1 && errno == EINVAL, "an empty path is EINVAL");
	evlog_close(&ev);
	spath(path, sizeof(path), "err.log/sub/x.log");
	errno = 0;
	ok(evlog_open(&ev, path, 0, 5) == -1 && errno == ENOTDIR,
	    "a file in the way of the folders is ENOTDIR");
	evlog_close(&ev);
	errno = 0;
	ok(evlog_write(&ev, "r", "e", NULL) == -1 && errno == EBADF,
	    "writing to a closed evlog is EBADF");
}

static void
test_event_parents(void)
{
	struct evlog ev;
	struct stat st;
	char path[4200], dir[4200];

	spath(path, sizeof(path), "a//b/c/orket.log");
	ok(evlog_open(&ev, path, 0, 5) == 0, "evlog_open creates parent folders");
	ok(evlog_write(&ev, "system", "start", "{\"pid\":1}") == 0, "and writes there");
	evlog_close(&ev);
	spath(dir, sizeof(dir), "a/b/c");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755,
	    "the folders are 0755");
	ok(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644,
	    "the file is 0644");
	/* A second open appends and takes over the size. */
	ok(evlog_open(&ev, path, 0, 5) == 0, "reopening an existing log");
	is_int(ev.size, st.st_size, "the size is taken from the file");
	evlog_close(&ev);
}

/* Does file hold the event with number n? */
static int
has_n(const char *path, int n)
{
	char buf[4096], want[32];

	read_file(path, buf, sizeof(buf));
	snprintf(want, sizeof(want), "{\"n\":%d}}\n", n);
	return strstr(buf, want) != NULL;
}

static int
lines_in(const char *path)
{
	char buf[4096];
	size_t n;

	n = read_file(path, buf, sizeof(buf));
	return count_char(buf, n, '\n');
}

static void
test_rotation(void)
{
	struct evlog ev;
	char path[4200], old[4300], data[32];
	int i, k, capok = 1, sizeok = 1, total;

	spath(path, sizeof(path), "rot/orket.log");
	ok(evlog_open(&ev, path, 200, 5) == 0, "evlog_open with a 200-byte cap");
	/* Each line is 84 bytes, so two fit and the third rotates: 15 lines rotate 7 times. */
	for (i = 100; i < 115; i++) {
		snprintf(data, sizeof(data), "{\"n\":%d}", i);
		if (evlog_write(&ev, "r", "e", data) == -1)
			ok(0, "write %d: %s", i, strerror(errno));
		if (file_size(path) > 200)
			capok = 0;
		if ((off_t)ev.size != file_size(path))
			sizeok = 0;
		for (k = 1; k <= 6; k++) {
			snprintf(old, sizeof(old), "%s.%d", path, k);
			if (file_size(old) > 200)
				capok = 0;
		}
	}
	evlog_close(&ev);
	ok(capok, "no file ever went past the cap");
	ok(sizeok, "the tracked size matched the file after every write");
	ok(file_size(path) == 84, "one line is 84 bytes as planned");
	for (k = 1; k <= 5; k++) {
		snprintf(old, sizeof(old), "%s.%d", path, k);
		ok(file_size(old) == 168, "%s.%d exists with two lines", "orket.log", k);
	}
	snprintf(old, sizeof(old), "%s.6", path);
	ok(file_size(old) == -1 && errno == ENOENT, "there is no orket.log.6");
	ok(has_n(path, 114) && lines_in(path) == 1, "the newest line is alone in orket.log");
	snprintf(old, sizeof(old), "%s.1", path);
	ok(has_n(old, 112) && has_n(old, 113), "orket.log.1 holds the two before it");
	snprintf(old, sizeof(old), "%s.5", path);
	ok(has_n(old, 104) && has_n(old, 105), "orket.log.5 holds the oldest kept lines");
	total = lines_in(path);
	for (k = 1; k <= 5; k++) {
		snprintf(old, sizeof(old), "%s.%d", path, k);
		total += lines_in(old);
	}
	is_int(total, 11, "the four oldest lines were dropped with the old .5");

	/* keep 0: the file starts afresh and nothing is kept. */
	spath(path, sizeof(path), "rot0/orket.log");
	ok(evlog_open(&ev, path, 200, 0) == 0, "evlog_open with keep 0");
	for (i = 100; i < 103; i++)
		evlog_write(&ev, "r", "e", "{\"n\":1}");
	evlog_close(&ev);
	snprintf(old, sizeof(old), "%s.1", path);
	ok(lines_in(path) == 1 && file_size(old) == -1, "keep 0 starts afresh and keeps nothing");

	/* A line longer than the cap is written alone, then rotated away. */
	spath(path, sizeof(path), "rotbig/orket.log");
	ok(evlog_open(&ev, path, 100, 5) == 0, "evlog_open with a 100-byte cap");
	evlog_write(&ev, "r", "e", "{\"n\":1}");
	evlog_write(&ev, "r", "e", "{\"pad\":\"................................................\"}");
	snprintf(old, sizeof(old), "%s.1", path);
	ok(file_size(path) > 100 && lines_in(path) == 1 && lines_in(old) == 1,
	    "a line over the cap goes alone into a fresh file");
	evlog_write(&ev, "r", "e", "{\"n\":3}");
	evlog_close(&ev);
	snprintf(old, sizeof(old), "%s.2", path);
	ok(lines_in(path) == 1 && has_n(path, 3) && lines_in(old) == 1,
	    "and the next line rotates it away");
}

static void
test_foreign_rotation(void)
{
	struct evlog ev;
	char path[4200], moved[4200], old[4300];

	/* Another process renamed our file away: follow it instead of rotating again. */
	spath(path, sizeof(path), "foreign/orket.log");
	spath(moved, sizeof(moved), "foreign/orket.log.moved");
	snprintf(old, sizeof(old), "%s.1", path);
	ok(evlog_open(&ev, path, 200, 5) == 0, "evlog_open");
	evlog_write(&ev, "r", "e", "{\"n\":1}");
	evlog_write(&ev, "r", "e", "{\"n\":2}");
	rename(path, moved);
	ok(evlog_write(&ev, "r", "e", "{\"n\":3}") == 0, "a write after a foreign rename");
	ok(lines_in(moved) == 2 && lines_in(path) == 1 && has_n(path, 3),
	    "the new line went to a new file");
	ok(file_size(old) == -1, "and nothing was rotated");

	/* Someone truncated it (clear-logs): no rotation either. */
	evlog_write(&ev, "r", "e", "{\"n\":4}");
	if (truncate(path, 0) == -1)
		ok(0, "truncate: %s", strerror(errno));
	ok(evlog_write(&ev, "r", "e", "{\"n\":5}") == 0 &&
	    evlog_write(&ev, "r", "e", "{\"n\":6}") == 0, "writes after a foreign truncate");
	ok(lines_in(path) == 2 && has_n(path, 6) && file_size(old) == -1,
	    "both lines were appended without rotating");
	is_int(ev.size, file_size(path), "and the size is right again");
	evlog_close(&ev);
}

static void
test_fifo(void)
{
	struct evlog ev;
	char path[4200], old[4300], buf[4096];
	ssize_t n;
	int rfd, i;

	spath(path, sizeof(path), "fifo");
	snprintf(old, sizeof(old), "%s.1", path);
	if (mkfifo(path, 0600) == -1 ||
	    (rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		ok(0, "mkfifo: %s", strerror(errno));
		return;
	}
	ok(evlog_open(&ev, path, 10, 5) == 0, "evlog_open on a FIFO");
	for (i = 0; i < 3; i++)
		evlog_write(&ev, "r", "e", NULL);
	evlog_close(&ev);
	n = read(rfd, buf, sizeof(buf));
	close(rfd);
	ok(n > 0 && count_char(buf, (size_t)n, '\n') == 3, "all three lines came through");
	ok(file_size(old) == -1, "a FIFO is never rotated");
}

static void
test_scrub(void)
{
	char s[] = "auth pw:Secr3t failed; again Secr3tSecr3t", t[] = "nothing here";

	log_scrub(s, "Secr3t");
	is_str(s, "auth pw:****** failed; again ************", "scrub: every copy blotted out");
	log_scrub(t, "");
	log_scrub(t, NULL);
	is_str(t, "nothing here", "scrub: an empty or absent secret changes nothing");
}

int
main(void)
{
	umask(022);
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	spath(capfile, sizeof(capfile), "stderr");

	test_diag_format();
	test_scrub();
	test_errno_kept();
	test_one_line();
	test_truncation();
	test_debug();
	test_fatal();
	test_timestamp();
	test_event_escaping();
	test_event_errors();
	test_event_parents();
	test_rotation();
	test_foreign_rotation();
	test_fifo();

	nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	ok(access(scratch, F_OK) == -1, "the scratch folder is gone");
	return done_testing();
}
