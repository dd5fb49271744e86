#!/bin/sh
# See LICENSE.
test_description='orket-migrate is static and needs nothing from the host'
. "$(dirname "$0")/lib.sh"

[ "${ORKET_VALGRIND:-}" = 1 ] || test_set_prereq RELEASE
command -v file >/dev/null && test_set_prereq FILE
[ "$(id -u)" = 0 ] && test_set_prereq ROOT

test_expect_success RELEASE 'the binary is statically linked' '
	file "$ORKET_BIN/orket-migrate" >out && test_grep "statically linked" out
'

test_expect_success ROOT 'copied alone into an empty folder it runs in a chroot with no environment' '
	mkdir jail && cp "$ORKET_BIN/orket-migrate" jail/ &&
	env -i "$(command -v chroot)" jail /orket-migrate --runtime-db /r.db --webhook-db /w.db >out &&
	test_grep "Applied 0001-schema.sql to /r.db" out &&
	sqlite3 jail/r.db "SELECT count(*) FROM sqlite_master WHERE name = \"issues\"" >n &&
	echo 1 >expect && test_cmp expect n &&
	test -f jail/w.db
'

test_done
