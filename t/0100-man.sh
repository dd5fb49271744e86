#!/bin/sh
# See LICENSE.
test_description='man pages: mandoc -Tlint clean, and each SYNOPSIS is its program'"'"'s usage'
. "$(dirname "$0")/lib.sh"

command -v mandoc >/dev/null && test_set_prereq MANDOC

for page in "$TEST_TOP"/man/*.[18]; do
	name=$(basename "$page" | sed 's/\.[18]$//')
	test_expect_success MANDOC "$name: mandoc -Tlint has nothing to say" "
		mandoc -Tlint -W warning '$page' >lint 2>&1; test ! -s lint || { cat lint; false; }
	"
	test_expect_success MANDOC "$name: --help is the SYNOPSIS word for word" "
		mandoc -Tascii '$page' | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
			sed '1d;\$d' | tr -s ' \t\n' '   ' | sed 's/^ //; s/ \$//' >synopsis &&
		$name --help | sed 's/^usage: //' | tr -s ' \t\n' '   ' | sed 's/^ //; s/ \$//' >usage &&
		test_cmp synopsis usage
	"
done

test_expect_success 'every program has a man page' '
	for p in "$TEST_TOP"/cmd/*; do
		n=$(basename "$p");
		test -f "$TEST_TOP/man/$n.1" || test -f "$TEST_TOP/man/$n.8" || { echo "no page for $n"; exit 1; }
	done
'

test_done
