/* See LICENSE. Unit tests for lib/buf. */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"
#include "tap.h"

int
main(void)
{
	struct buf b = BUF_INIT(8);
	char *s;

	ok(buf_adds(&b, "") == 0 && b.len == 0 && b.p && b.p[0] == '\0',
	    "an empty append gives an empty, NUL-terminated string");
	ok(buf_adds(&b, "abcd") == 0 && b.len == 4, "append 4 of 8");
	ok(buf_addf(&b, "%d%c", 12, 'x') == 0 && b.len == 7, "formatted append");
	is_str(b.p, "abcd12x", "contents");
	ok(buf_addc(&b, 'y') == 0 && b.len == 8, "exactly at the cap");
	errno = 0;
	ok(buf_addc(&b, 'z') == -1 && errno == ENOBUFS, "one byte past the cap: ENOBUFS");
	is_str(b.p, "abcd12xy", "a failed append leaves the buffer as it was");
	ok(buf_addf(&b, "%s", "q") == -1 && b.len == 8, "a formatted append past the cap fails");
	ok(b.cap <= 9, "memory never grows past cap + NUL (cap %zu)", b.cap);
	buf_reset(&b);
	ok(b.len == 0 && b.p[0] == '\0', "reset empties");
	ok(buf_add(&b, "123456789", 9) == -1 && b.len == 0, "a 9-byte append into 8 fails whole");
	ok(buf_add(&b, "12345678", 8) == 0, "an 8-byte append fits");
	s = buf_steal(&b);
	ok(s && strcmp(s, "12345678") == 0 && b.p == NULL && b.len == 0, "steal hands over");
	free(s);
	buf_free(&b);

	buf_init(&b, (size_t)-1);
	ok(buf_reserve(&b, (size_t)-1) == -1, "an impossible reservation fails, no overflow");
	ok(buf_add(&b, "x", 1) == 0 && b.len == 1, "a huge cap still works");
	buf_free(&b);
	buf_free(&b);
	ok(1, "buf_free twice is harmless");
	return done_testing();
}
