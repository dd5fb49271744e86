/* See LICENSE. Drive lib/registry from test scripts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "registry.h"

static const char usage[] =
    "usage: registry roundtrip path\n"
    "       registry get path source_dir project key\n"
    "       registry set path source_dir project key value|-null|-true|-false\n"
    "       registry count path\n"
    "       registry dumps <json\n"
    "       registry isotime [sec nsec]\n"
    "       registry parsetime text\n"
    "       registry hold path seconds\n";

static int
fail(const char *err)
{
	fprintf(stderr, "registry: %s\n", err);
	return errno == EINVAL || errno == EFBIG ? 100 : 111;
}

int
main(int argc, char **argv)
{
	char err[512], ts[40];
	registry *r;
	long i;
	int fd;

	if (argc < 2) {
		fputs(usage, stderr);
		return 100;
	}
	if (strcmp(argv[1], "roundtrip") == 0 && argc == 3) {
		if (registry_load(&r, argv[2], err, sizeof(err)) == -1)
			return fail(err);
		if (registry_save(r, err, sizeof(err)) == -1) {
			registry_free(r);
			return fail(err);
		}
		registry_free(r);
		return 0;
	}
	if (strcmp(argv[1], "count") == 0 && argc == 3) {
		if (registry_load(&r, argv[2], err, sizeof(err)) == -1)
			return fail(err);
		printf("%zu\n", registry_count(r));
		registry_free(r);
		return 0;
	}
	if (strcmp(argv[1], "get") == 0 && argc == 6) {
		const char *v;

		if (registry_load(&r, argv[2], err, sizeof(err)) == -1)
			return fail(err);
		if ((i = registry_find(r, argv[3], argv[4])) == -1) {
			registry_free(r);
			return 1;
		}
		v = registry_get_str(r, (size_t)i, argv[5]);
		printf("%s bool=%d truthy=%d\n", v ? v : "(none)",
		    registry_get_bool(r, (size_t)i, argv[5]),
		    registry_get_truthy(r, (size_t)i, argv[5]));
		registry_free(r);
		return 0;
	}
	if (strcmp(argv[1], "set") == 0 && argc == 7) {
		int rc;

		if (registry_lock(argv[2], &fd, err, sizeof(err)) == -1)
			return fail(err);
		if (registry_load(&r, argv[2], err, sizeof(err)) == -1) {
			registry_unlock(fd);
			return fail(err);
		}
		if ((i = registry_upsert(r, argv[3], argv[4])) == -1) {
			registry_free(r);
			registry_unlock(fd);
			return 111;
		}
		if (strcmp(argv[6], "-null") == 0)
			rc = registry_set_str(r, (size_t)i, argv[5], NULL);
		else if (strcmp(argv[6], "-true") == 0 || strcmp(argv[6], "-false") == 0)
			rc = registry_set_bool(r, (size_t)i, argv[5], argv[6][1] == 't');
		else
			rc = registry_set_str(r, (size_t)i, argv[5], argv[6]);
		if (rc == -1 || registry_save(r, err, sizeof(err)) == -1) {
			registry_free(r);
			registry_unlock(fd);
			return fail(rc == -1 ? "set failed" : err);
		}
		registry_free(r);
		registry_unlock(fd);
		return 0;
	}
	if (strcmp(argv[1], "dumps") == 0 && argc == 2) {
		struct buf in = BUF_INIT(REGISTRY_MAX * 2), out = BUF_INIT(REGISTRY_MAX * 4);
		char tmp[65536];
		size_t n;

		while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
			if (buf_add(&in, tmp, n) == -1)
				return 111;
		if (registry_dumps(&out, in.p ? in.p : "", in.len) == -1) {
			buf_free(&in);
			return 100;
		}
		fwrite(out.p, 1, out.len, stdout);
		buf_free(&in);
		buf_free(&out);
		return 0;
	}
	if (strcmp(argv[1], "isotime") == 0 && (argc == 2 || argc == 4)) {
		struct timespec t;

		if (argc == 2)
			registry_isotime(ts);
		else {
			t.tv_sec = atoll(argv[2]);
			t.tv_nsec = atol(argv[3]);
			registry_isotime_ts(&t, ts);
		}
		puts(ts);
		return 0;
	}
	if (strcmp(argv[1], "parsetime") == 0 && argc == 3) {
		struct timespec t;

		if (registry_parse_isotime(argv[2], &t) == -1)
			return 100;
		printf("%lld.%09ld\n", (long long)t.tv_sec, t.tv_nsec);
		return 0;
	}
	if (strcmp(argv[1], "hold") == 0 && argc == 4) {
		if (registry_lock(argv[2], &fd, err, sizeof(err)) == -1)
			return fail(err);
		puts("locked");
		fflush(stdout);
		sleep((unsigned)atoi(argv[3]));
		registry_unlock(fd);
		return 0;
	}
	fputs(usage, stderr);
	return 100;
}
