#!/bin/sh
# See LICENSE.
test_description='the build: a change to one program rebuilds only that program'
. "$(dirname "$0")/lib.sh"

[ -f "$TEST_TOP/build/sysroot/.stamp-libgit2" ] && test_set_prereq BUILT

test_expect_success BUILT 'after make, nothing is left to compile or link' '
	make -C "$TEST_TOP" -n progs >plan &&
	test_grep ! "musl-gcc" plan && test_grep ! "fetch-src" plan
'

test_expect_success BUILT 'touching one file in cmd/ recompiles it and relinks, nothing more' '
	make -C "$TEST_TOP" -n -W cmd/orket-migrate/main.c progs >plan &&
	test_grep "cmd/orket-migrate/main.c" plan &&
	test_grep "\-o build/bin/orket-migrate" plan &&
	test_grep ! "fetch-src" plan &&
	test_grep ! "sysroot/lib/lib" plan &&
	test_grep ! "lib/db.c" plan &&
	test $(grep -c "musl-gcc" plan) = 2
'

test_expect_success BUILT 'touching a migration regenerates the embedded SQL and relinks its users' '
	make -C "$TEST_TOP" -n -W sql/runtime/0001-schema.sql progs >plan &&
	test_grep "embed-sql.sh" plan && test_grep "\-o build/bin/orket-migrate" plan &&
	test_grep ! "fetch-src" plan
'

test_expect_success BUILT 'every dependency is pinned by checksum' '
	for v in ZLIB_SUM BEARSSL_SUM SQLITE_SUM HTTPPARSER_SUM CURL_SUM LIBGIT2_SUM JSMN_H_SUM; do
		grep -E "^$v += [0-9a-f]{64}$" "$TEST_TOP/mk/deps.mk" || { echo "$v not pinned"; exit 1; }
	done
'

test_done
