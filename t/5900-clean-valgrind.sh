#!/bin/sh
# See LICENSE.
test_description='the orket-clean and registry tests again under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-clean 5010-clean-table 5020-clean-safety 5030-clean-options

[ -x "$TEST_TOP/build/vg/t/tools/registry" ] || test_unset_prereq_registry=1
test_expect_success VALGRIND '5000-registry under valgrind, the registry tool in the glibc build' '
	[ -z "$test_unset_prereq_registry" ] && mkdir -p vg-5000 &&
	ORKET_VALGRIND=1 ORKET_BIN="$TEST_TOP/build/vg/bin" ORKET_VGLOG="$TRASH/vg-5000" \
		TRASH_SUFFIX=-vg sh "$TEST_DIR/5000-registry.sh" >tap-5000 2>&1;
	rc=$?; cat tap-5000; test $rc = 0 && ! grep "^not ok" tap-5000 &&
	for f in vg-5000/*.log; do test ! -s "$f" || { cat "$f"; exit 1; }; done &&
	ls vg-5000 | grep -q "^registry\..*\.log$"
'

test_done
