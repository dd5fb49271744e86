#!/bin/sh
# See LICENSE.
test_description='the orket-clean tests again under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-clean 5010-clean-table 5020-clean-safety 5030-clean-options

test_done
