#!/bin/sh
# See LICENSE.
test_description='the split tests again, t/tools/split under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

# As test_valgrind_scripts does for the orket-* programs, for the test tool: t/4000 puts
# build/vg/t/tools/split behind valgrind when ORKET_VALGRIND=1, one report per process.
command -v valgrind >/dev/null && [ -x "$TEST_TOP/build/vg/t/tools/split" ] &&
	test_set_prereq VALGRIND
for s in 4000-split; do
	test_expect_success VALGRIND "$s under valgrind" "
		mkdir -p vg-$s &&
		ORKET_VALGRIND=1 ORKET_VGLOG='$TRASH/vg-$s' TRASH_SUFFIX=-vg \
			sh '$TEST_DIR/$s.sh' >tap-$s 2>&1;
		rc=\$?; cat tap-$s;
		test \$rc = 0 && ! grep '^not ok' tap-$s &&
		bad= &&
		for f in vg-$s/*.log; do test ! -s \"\$f\" || { cat \"\$f\"; bad=1; }; done &&
		test -z \"\$bad\" &&
		ls vg-$s | grep -q 'split\\..*log'
	"
done

test_done
