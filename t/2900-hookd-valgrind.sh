#!/bin/sh
# See LICENSE.
test_description='the orket-hookd tests again, the daemon under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

vgbin=$TEST_TOP/build/vg/bin
command -v valgrind >/dev/null && [ -x "$vgbin/orket-hookd" ] && test_set_prereq VALGRIND

for s in 2010-hookd-http 2011-hookd-caps 2020-hookd-review 2030-hookd-outbox 2040-hookd-sandbox 2050-hookd-rotate; do
	test_expect_success VALGRIND "$s under valgrind" "
		mkdir -p vg-$s &&
		ORKET_VALGRIND=1 ORKET_BIN='$vgbin' ORKET_VGLOG='$TRASH/vg-$s' TRASH_SUFFIX=-vg \
			sh '$TEST_DIR/$s.sh' >tap-$s 2>&1;
		rc=\$?; cat tap-$s;
		test \$rc = 0 && ! grep '^not ok' tap-$s &&
		for f in vg-$s/*.log; do test ! -s \"\$f\" || { cat \"\$f\"; exit 1; }; done &&
		ls vg-$s | grep -q 'orket-hookd.*log'
	"
done

test_done
