/* See LICENSE. A tiny TAP producer for the unit tests: ok(), is_str(), done_testing(). */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>

static int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s line %d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

/* Compare two byte strings of known length; show both on failure. */
#define is_mem(got, glen, want, wlen, ...) do { \
	size_t is_gl_ = (glen), is_wl_ = (wlen); \
	if (!ok(is_gl_ == is_wl_ && memcmp((got), (want), is_wl_) == 0, __VA_ARGS__)) \
		printf("#   got:  '%.*s'\n#   want: '%.*s'\n", (int)is_gl_, (const char *)(got), \
		    (int)is_wl_, (const char *)(want)); \
} while (0)

#define is_str(got, want, ...) do { \
	const char *is_g_ = (got), *is_w_ = (want); \
	if (!ok(is_g_ && strcmp(is_g_, is_w_) == 0, __VA_ARGS__)) \
		printf("#   got:  '%s'\n#   want: '%s'\n", is_g_ ? is_g_ : "(null)", is_w_); \
} while (0)

#define is_int(got, want, ...) do { \
	long long is_g_ = (got), is_w_ = (want); \
	if (!ok(is_g_ == is_w_, __VA_ARGS__)) \
		printf("#   got:  %lld\n#   want: %lld\n", is_g_, is_w_); \
} while (0)

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
