#!/bin/sh
# See LICENSE.
test_description='the unit tests again, built with glibc and run under valgrind'
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null && test_set_prereq VALGRIND

for u in "$TEST_TOP"/t/unit/*.c; do
	n=$(basename "$u" .c)
	test_expect_success VALGRIND "unit test $n: no leak, no invalid access" "
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
			--error-exitcode=97 '$TEST_TOP/build/vg/t/unit/$n' >tap 2>vg;
		rc=\$?; cat vg; test \$rc = 0 && test ! -s vg && ! grep '^not ok' tap &&
		grep '^1\.\.[1-9]' tap
	"
done

test_done
