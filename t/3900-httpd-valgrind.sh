#!/bin/sh
# See LICENSE.
test_description='orket-httpd tests 3000-3003 again under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-httpd 3000-httpd-basics 3001-httpd-auth 3002-httpd-files 3003-httpd-escapes

test_done
