#!/bin/sh
# See LICENSE.
test_description='orket-httpd tests 3004-3010 again under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-httpd 3004-httpd-swap 3005-httpd-db 3006-httpd-runs 3007-httpd-cancel 3010-httpd-ws

test_done
