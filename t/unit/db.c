/* See LICENSE. lib/db: db_tune's cache of SQLite's freed blocks, its classes and its cap. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "tap.h"

#define K64	(64 * 1024)

int
main(void)
{
	void *b[DB_MEM_CACHE_MAX / K64 + 1], *p, *q;
	size_t i, n = sizeof(b) / sizeof(b[0]);

	is_int(db_tune(), 0, "db_tune takes before SQLite starts");
	is_int(sqlite3_initialize(), SQLITE_OK, "SQLite starts with it");

	p = sqlite3_malloc(K64);
	ok(p != NULL && sqlite3_msize(p) == K64, "a block of 64 KB, the largest class");
	sqlite3_free(p);
	ok(db_mem_cached() == K64, "freed, it is kept");
	p = sqlite3_malloc(K64 + 1);
	ok(p != NULL && sqlite3_msize(p) >= K64 + 1, "a block of 64 KB + 1");
	sqlite3_free(p);
	ok(db_mem_cached() == K64, "freed, it goes back to malloc");

	p = sqlite3_malloc(5000);
	ok(p != NULL && sqlite3_msize(p) == 8192, "5,000 bytes get the 8 KB class");
	memset(p, 'a', 5000);
	q = sqlite3_realloc(p, 8192);
	ok(q == p, "a realloc within the class keeps the block");
	q = sqlite3_realloc(p, 20000);
	ok(q != NULL && sqlite3_msize(q) == 20480 && memcmp(q, "aaaa", 4) == 0 &&
	    ((char *)q)[4999] == 'a', "one to another class moves the bytes");
	sqlite3_free(q);

	/* The cap: 128 blocks of 64 KB are exactly DB_MEM_CACHE_MAX; the 129th is not kept. */
	ok(sqlite3_shutdown() == SQLITE_OK && db_mem_cached() == 0 &&
	    sqlite3_initialize() == SQLITE_OK, "an empty cache to start from");
	for (i = 0; i < n; i++)
		b[i] = sqlite3_malloc(K64);
	for (i = 0; i < n; i++)
		sqlite3_free(b[i]);
	is_int((long)db_mem_cached(), (long)DB_MEM_CACHE_MAX, "128 blocks of 64 KB: the cache is at its cap");
	p = sqlite3_malloc(4096);
	ok(db_mem_cached() == DB_MEM_CACHE_MAX, "a 4 KB block from malloc: the cache is full");
	sqlite3_free(p);
	is_int((long)db_mem_cached(), (long)DB_MEM_CACHE_MAX, "freed, one past the cap is not kept");
	p = sqlite3_malloc(K64);
	is_int((long)db_mem_cached(), (long)(DB_MEM_CACHE_MAX - K64), "a 64 KB block comes from the cache");
	sqlite3_free(p);

	is_int(sqlite3_shutdown(), SQLITE_OK, "sqlite3_shutdown");
	is_int((long)db_mem_cached(), 0, "gives every cached block back");
	return done_testing();
}
