#!/bin/sh
# See LICENSE.
test_description='orket-clean: thresholds, clamping, environment, filters, usage, repo and registry errors'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/clean-lib.sh"

reg() { echo "$1/.orket/project_publish_registry.json"; }

test_expect_success 'usage: --help, --version, unknown options and stray arguments' '
	orket-clean --help >help && grep "^usage: orket-clean" help && grep -- "--include-ignored" help &&
	orket-clean --version >v && grep "^orket-clean [0-9]" v &&
	test_expect_code 100 orket-clean --frobnicate 2>err && grep "unknown option: --frobnicate" err &&
	test_expect_code 100 orket-clean stray 2>err && grep "unexpected argument: stray" err &&
	test_expect_code 100 orket-clean --archive-dir 2>err && grep "needs a value" err &&
	test_expect_code 100 orket-clean --repo-root "" 2>err && grep "empty" err
'

test_expect_success GIT 'setup: two source dirs, projects of every age' '
	new_repo r d45 d44 fresh dirmtime newpub &&
	mkdir -p r/apps/tool && echo t >r/apps/tool/a.txt && git -C r add -A && git -C r commit -q -m apps &&
	publish r d45 45 && publish r d44 45 && publish r fresh 10 && publish r dirmtime 60 && publish r newpub 60 &&
	age r/product/d44 $(ago 44) &&
	$REG set $(reg r) product d44 last_published_at "$(iso $(ago 44))" &&
	touch -d "@$(ago 10)" r/product/dirmtime/sub &&
	$REG set $(reg r) product newpub last_published_at "$(iso $(ago 10))" &&
	sha=$(git -C r subtree split --prefix=apps/tool HEAD 2>/dev/null) &&
	for kv in "prefix apps/tool" "local_path $TRASH/r/apps/tool" "last_published_sha $sha" \
	    "parity_verified -true" "last_published_at $(iso $(ago 60))"; do
		$REG set $(reg r) apps tool "${kv%% *}" "${kv#* }" || exit 1; done &&
	age r/apps/tool $(ago 60)
'

test_expect_success GIT 'exactly 45 days is old enough; 44 is not; folder mtimes and last_published_at count' '
	clean r && summary >actual &&
	printf "archived d45\narchived tool\nexecute False 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'a folder one minute short of 45 days stays; at 44 days it goes' '
	new_repo s1 x && publish s1 x 45 && t=$(($(ago 45) + 60)) && age s1/product/x $t &&
	$REG set $(reg s1) product x last_published_at "$(iso $t)" &&
	clean s1 && summary >actual && echo "execute False 45 90" >expect && test_cmp expect actual &&
	clean s1 --archive-days 44 && summary >actual &&
	printf "archived x\nexecute False 44 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'days below 1 count as 1; the cap 1000000 is taken, one more is refused' '
	clean r --archive-days 0 --hard-delete-days -5 && summary | tail -n 1 >actual &&
	echo "execute False 1 1" >expect && test_cmp expect actual &&
	summary | grep -c archived >n && echo 6 >expect && test_cmp expect n &&
	clean r --archive-days 1000000 --hard-delete-days=1000000 && summary >actual &&
	echo "execute False 1000000 1000000" >expect && test_cmp expect actual &&
	test_expect_code 100 clean r --archive-days 1000001 && grep "limit" err && test ! -s out.json &&
	test_expect_code 100 clean r --hard-delete-days 1000001 &&
	for bad in abc 4.5 "" 1e3 99999999999999999999999; do
		test_expect_code 100 clean r --archive-days "$bad" || exit 1; done
'

test_expect_success GIT 'environment: PROJECT_CLEANUP_* set the defaults, flags beat them, bad values are refused' '
	PROJECT_CLEANUP_ARCHIVE_DAYS=30 PROJECT_CLEANUP_HARD_DELETE_DAYS=70 clean r && summary | tail -n 1 >actual &&
	echo "execute False 30 70" >expect && test_cmp expect actual &&
	PROJECT_CLEANUP_ARCHIVE_DAYS=30 clean r --archive-days 50 && summary | tail -n 1 >actual &&
	echo "execute False 50 90" >expect && test_cmp expect actual &&
	PROJECT_CLEANUP_ARCHIVE_DAYS= clean r && summary | tail -n 1 >actual &&
	echo "execute False 45 90" >expect && test_cmp expect actual &&
	PROJECT_CLEANUP_SOURCE_DIR=apps clean r && summary >actual &&
	printf "archived tool\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	PROJECT_CLEANUP_SOURCE_DIR=apps clean r --source-dir product && summary >actual &&
	printf "archived d45\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	PROJECT_CLEANUP_HARD_DELETE_DAYS=x test_expect_code 100 clean r && grep "hard-delete-days" err
'

test_expect_success GIT '--source-dir: exact after trimming; product/ is not product' '
	clean r --source-dir " product " && summary >actual &&
	printf "archived d45\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	clean r --source-dir product/ && summary >actual &&
	echo "execute False 45 90" >expect && test_cmp expect actual
'

test_expect_success GIT '--projects: zero or more names, blanks dropped, up to the next option' '
	clean r --projects tool d44 && summary >actual &&
	printf "archived tool\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	clean r --projects && summary >actual &&
	printf "archived d45\narchived tool\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	clean r --projects " " "d45 " --archive-days 45 && summary >actual &&
	printf "archived d45\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	clean r --projects=tool && summary >actual &&
	printf "archived tool\nexecute False 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'records not verified, verified as a string, or deleted are passed over silently' '
	$REG set $(reg r) product d45 parity_verified -false && clean r && summary >actual &&
	printf "archived tool\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	$REG set $(reg r) product d45 parity_verified true && clean r && summary >actual && test_cmp expect actual &&
	$REG set $(reg r) product d45 parity_verified -true && $REG set $(reg r) product d45 deleted_at "2026-01-01T00:00:00+00:00" &&
	clean r && summary >actual && test_cmp expect actual &&
	$REG set $(reg r) product d45 deleted_at "" && clean r && summary >actual &&
	printf "archived d45\narchived tool\nexecute False 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'a missing or naive last_published_at: bad_last_published_at' '
	$REG set $(reg r) product d45 last_published_at 2020-01-01T00:00:00 && clean r --projects d45 && summary >actual &&
	printf "skipped d45 bad_last_published_at\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	$REG set $(reg r) product d45 last_published_at -null && clean r --projects d45 && summary >actual && test_cmp expect actual
'

test_expect_success GIT 'the archive folder and registry path options, relative and absolute' '
	clean r --execute --projects tool --archive-dir ../arch --registry-path "$TRASH/r/.orket/project_publish_registry.json" &&
	summary >actual && printf "archived tool\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -f "$TRASH"/arch/tool-*/a.txt && $REG get $(reg r) apps tool archived_path | grep "^$TRASH/arch/tool-"
'

test_expect_success GIT 'a missing registry: an empty report, nothing created' '
	new_repo e demo && clean e --execute && summary >actual &&
	echo "execute True 45 90" >expect && test_cmp expect actual && test ! -e e/.orket
'

test_expect_success GIT 'a repo root that is not the top of a work tree, or missing: 100' '
	mkdir plain && test_expect_code 100 clean plain && grep "not the top of a git work tree" err &&
	test_expect_code 100 clean r/product && grep "not the top" err &&
	test_expect_code 100 clean . --repo-root "$TRASH/nonexistent" && grep "unable to resolve repo root" err
'

test_expect_success GIT 'an archive folder that holds the repo root is refused' '
	test_expect_code 100 clean r --archive-dir .. && grep "holds the repo root" err &&
	test_expect_code 100 clean r --archive-dir . && grep "holds the repo root" err
'

test_done
