#!/bin/sh
# See LICENSE.
test_description='orket-clean: every row of the decision table, dry run and execute, registry after each action'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/clean-lib.sh"

REGF=r/.orket/project_publish_registry.json

test_expect_success GIT 'setup: an old published project and a young one' '
	new_repo r demo young &&
	publish r demo 60 && publish r young 10 &&
	cp $REGF reg.before && ls -la --time-style=full-iso r/.orket >ls.before
'

test_expect_success GIT 'A3 dry run: reported, nothing moved, nothing written' '
	clean r &&
	summary >actual &&
	printf "archived demo\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	test -d r/product/demo && test ! -e r/.orket/local_archive && test_cmp reg.before $REGF &&
	ls -la --time-style=full-iso r/.orket >ls.after && test_cmp ls.before ls.after &&
	grep "would archive" err &&
	python3 -c "
import json; d = json.load(open(\"out.json\")); a = d[\"archived\"][0]
assert list(d) == [\"archived\", \"deleted\", \"skipped\", \"execute\", \"archive_days\", \"hard_delete_days\"], list(d)
assert list(a) == [\"project\", \"from\", \"to\"]
assert a[\"from\"] == \"$TRASH/r/product/demo\", a
assert a[\"to\"].startswith(\"$TRASH/r/.orket/local_archive/projects/demo-\"), a
"
'

test_expect_success GIT 'the report is Python json.dumps(indent=2) of itself, with a final newline' '
	clean r &&
	python3 -c "import json,sys; sys.stdout.write(json.dumps(json.load(open(\"out.json\")), indent=2) + \"\n\")" >expect &&
	test_cmp expect out.json
'

test_expect_success GIT 'A3 execute: moved, registry updated at once, every other key kept' '
	clean r --execute &&
	summary >actual &&
	printf "archived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	to=$(python3 -c "import json; print(json.load(open(\"out.json\"))[\"archived\"][0][\"to\"])") &&
	test ! -e r/product/demo && test -f "$to/a.txt" && test -f "$to/sub/b.txt" &&
	test "$(field r demo archived_path)" = "$to" &&
	field r demo archived_at | grep -E "^20[0-9-]{8}T[0-9:]{8}(\.[0-9]{6})?\+00:00$" &&
	test "$(field r demo note)" = kept && test "$(field r demo deleted_at)" = "(none)" &&
	test -f r/product/young/a.txt && test "$(field r young archived_path)" = "(none)" &&
	python3 -c "
import json
a = json.load(open(\"reg.before\")); b = json.load(open(\"$REGF\"))
assert list(a) == list(b)
for x, y in zip(a[\"projects\"], b[\"projects\"]):
    assert list(x) == list(y), (list(x), list(y))
    for k in x:
        if k not in (\"archived_at\", \"archived_path\") or x[\"project_name\"] != \"demo\":
            assert x[k] == y[k], k
"
'

test_expect_success GIT 'A1: the young project is not reported; B1: the archive is not old enough' '
	cp $REGF reg.mid &&
	clean r --execute &&
	summary >actual && echo "execute True 45 90" >expect && test_cmp expect actual &&
	test_cmp reg.mid $REGF
'

test_expect_success GIT 'B0: an archive without a readable archived_at is skipped' '
	$REG set $REGF product demo archived_at "last tuesday" &&
	clean r --execute && summary >actual &&
	printf "skipped demo missing_archived_at\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	$REG set $REGF product demo archived_at -null &&
	clean r --execute && summary >actual && test_cmp expect actual &&
	test -d "$(field r demo archived_path)"
'

test_expect_success GIT 'B1 at the threshold: one second short of 90 days keeps the archive' '
	$REG set $REGF product demo archived_at "$(iso $(($(ago 90) + 60)))" &&
	clean r --execute && summary >actual &&
	echo "execute True 45 90" >expect && test_cmp expect actual &&
	test -d "$(field r demo archived_path)"
'

test_expect_success GIT 'B2 dry run: reported, nothing deleted or written' '
	$REG set $REGF product demo archived_at "$(iso $(ago 90))" && cp $REGF reg.b2 &&
	clean r && summary >actual &&
	printf "deleted demo\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	test -d "$(field r demo archived_path)" && test_cmp reg.b2 $REGF
'

test_expect_success GIT 'B2 execute at exactly 90 days: deleted, deleted_at written' '
	arch=$(field r demo archived_path) &&
	clean r --execute && summary >actual &&
	printf "deleted demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test ! -e "$arch" && test -d r/.orket/local_archive/projects &&
	field r demo deleted_at | grep -E "^20[0-9-]{8}T" &&
	test "$(field r demo archived_path)" = "$arch" &&
	python3 -c "import json; d = json.load(open(\"out.json\")); assert d[\"deleted\"] == [{\"project\": \"demo\", \"path\": \"$arch\"}], d"
'

test_expect_success GIT 'a deleted record is never considered again' '
	cp $REGF reg.del && clean r --execute && summary >actual &&
	echo "execute True 45 90" >expect && test_cmp expect actual && test_cmp reg.del $REGF
'

test_expect_success GIT 'C: folder and archive both gone, or no archive recorded: nothing, no change' '
	new_repo c gone gone2 && publish c gone 100 && publish c gone2 100 &&
	$REG set c/.orket/project_publish_registry.json product gone archived_path "$TRASH/c/.orket/local_archive/projects/gone-1" &&
	$REG set c/.orket/project_publish_registry.json product gone archived_at "$(iso $(ago 200))" &&
	rm -rf c/product/gone c/product/gone2 && cp c/.orket/project_publish_registry.json reg.c &&
	clean c --execute && summary >actual &&
	echo "execute True 45 90" >expect && test_cmp expect actual &&
	test_cmp reg.c c/.orket/project_publish_registry.json
'

test_expect_success GIT 'A0: 257 nested folders are stat_failed; 256, the cap, are walked, archived and deleted' '
	new_repo d deep deeper && publish d deep 60 && publish d deeper 60 &&
	p=d/product/deep; i=1; while [ $i -lt 256 ]; do p=$p/d; i=$((i + 1)); done; mkdir -p $p &&
	p=d/product/deeper; i=1; while [ $i -lt 257 ]; do p=$p/d; i=$((i + 1)); done; mkdir -p $p &&
	age d/product/deep $(ago 60) && age d/product/deeper $(ago 60) &&
	clean d --execute --allow-dirty-git && summary >actual &&
	printf "archived deep\nskipped deeper stat_failed\nexecute True 45 90\n" >expect &&
	test_cmp expect actual && test -d d/product/deeper &&
	grep "deeper: stat_failed: nested deeper than 256 folders" err &&
	$REG set d/.orket/project_publish_registry.json product deep archived_at "$(iso $(ago 100))" &&
	clean d --execute --allow-dirty-git && summary >actual &&
	printf "deleted deep\nskipped deeper stat_failed\nexecute True 45 90\n" >expect &&
	test_cmp expect actual && test ! -e "$(field d deep archived_path)"
'

test_expect_success GIT 'a restored folder is archived again beside the first archive' '
	new_repo e demo && publish e demo 60 &&
	clean e --execute && first=$(field e demo archived_path) &&
	git -C e checkout -q -- product/demo && age e/product/demo $(ago 60) &&
	clean e --execute && second=$(field e demo archived_path) &&
	test "$first" != "$second" && test -d "$first" && test -d "$second"
'

test_done
