#!/bin/sh
# See LICENSE.
test_description='the orket-migrate tests again under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-migrate 1000-migrate-fresh 1010-migrate-adopt

test_done
