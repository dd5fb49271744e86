#!/bin/sh
# See LICENSE.
test_description='the orket-hookd tests again, the daemon under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-hookd 2010-hookd-http 2011-hookd-caps 2013-hookd-caps-more 2020-hookd-review 2030-hookd-outbox 2040-hookd-sandbox 2050-hookd-rotate 2014-hookd-verify

test_done
