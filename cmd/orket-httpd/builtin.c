/* See LICENSE. orket-httpd: the built-in runner, used when ORKET_RUNNER is not set. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"

/* Write all of b to stdout; 0 or -1. */
static int
put(const struct buf *b)
{
	size_t off = 0;
	ssize_t n;

	while (off < b->len) {
		n = write(1, b->p + off, b->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* One event line: {"event","role":"system","data":{...}} and a newline. */
static int
line(struct buf *b, const char *event, const char *k1, const char *v1, const char *k2,
    const char *v2, const char *k3, const char *v3)
{
	struct jw w;

	buf_reset(b);
	jw_init(&w, b);
	jw_obj_open(&w);
	jw_key(&w, "event");
	jw_str(&w, event);
	jw_key(&w, "role");
	jw_str(&w, "system");
	jw_key(&w, "data");
	jw_obj_open(&w);
	jw_key(&w, k1);
	jw_str(&w, v1);
	if (k2) {
		jw_key(&w, k2);
		jw_str(&w, v2);
	}
	if (k3) {
		jw_key(&w, k3);
		jw_str(&w, v3);
	}
	jw_obj_close(&w);
	jw_obj_close(&w);
	if (jw_finish(&w) == -1 || buf_addc(b, '\n') == -1)
		return -1;
	return put(b);
}

/*
 * orket-httpd --builtin-runner ASSET BUILD SESSION: what a run does when no engine is
 * configured. It does no work: it says so, in the events the original's engine starts and
 * ends a session with, and exits 0. orket-httpd records the session around it.
 */
int
builtin_runner(int argc, char **argv)
{
	struct buf b = BUF_INIT(64 * 1024);
	int r;

	log_prog = "orket-httpd";
	if (argc != 3) {
		log_warn("--builtin-runner needs an asset id, a build id and a session id");
		return 100;
	}
	r = line(&b, "session_start", "epic", argv[0], "run_id", argv[2], "build_id",
	    argv[1]) == -1 ||
	    line(&b, "builtin_runner", "asset_id", argv[0], "message", "No ORKET_RUNNER is "
	    "configured: the built-in runner records the session and finishes.", NULL,
	    NULL) == -1 ||
	    line(&b, "session_end", "run_id", argv[2], NULL, NULL, NULL, NULL) == -1;
	buf_free(&b);
	if (r) {
		log_warnsys("unable to write the events");
		return 111;
	}
	return 0;
}
