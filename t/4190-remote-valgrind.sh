#!/bin/sh
# See LICENSE.
test_description='the lib/gitea and lib/gitpush tests again, their tools under valgrind'
. "$(dirname "$0")/lib.sh"

# As test_valgrind_scripts, but for the test tools (build/vg/t/tools), which t/remote-lib.sh
# runs behind valgrind under ORKET_VALGRIND=1: each script passes, every report is empty,
# and at least one tool really ran under valgrind.
vg_tools=$TEST_TOP/build/vg/t/tools
command -v valgrind >/dev/null && [ -x "$vg_tools/gitea" ] && [ -x "$vg_tools/gitpush" ] &&
	test_set_prereq VALGRIND

for s in 4100-gitea-rest 4110-gitpush 4120-gitpush-tls; do
	test_expect_success VALGRIND "$s under valgrind" "
		mkdir -p vg-$s &&
		ORKET_VALGRIND=1 ORKET_BIN='$TEST_TOP/build/vg/bin' ORKET_VGLOG='$TRASH/vg-$s' \
			TRASH_SUFFIX=-vg sh '$TEST_DIR/$s.sh' >tap-$s 2>&1;
		rc=\$?; cat tap-$s;
		test \$rc = 0 && ! grep '^not ok' tap-$s &&
		for f in vg-$s/*.log; do test ! -s \"\$f\" || { cat \"\$f\"; exit 1; }; done &&
		{ ! grep '^ok' tap-$s | grep -qv '# skip' || ls vg-$s | grep -q 'git.*log'; }
	"
done

test_done
