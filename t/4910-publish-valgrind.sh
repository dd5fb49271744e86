#!/bin/sh
# See LICENSE.
test_description='the orket-publish tests again under valgrind: no leak, no invalid access'
. "$(dirname "$0")/lib.sh"

test_valgrind_scripts orket-publish 4200-publish-usage 4210-publish-dryrun 4220-publish-execute \
    4230-publish-failures 4240-publish-delete-local 4250-publish-tls

test_done
