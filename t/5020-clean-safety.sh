#!/bin/sh
# See LICENSE.
test_description='orket-clean: dirty and ignored files, confinement, symlinks, HEAD checks, corrupt registry, failures'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/clean-lib.sh"

reg() { echo "$1/.orket/project_publish_registry.json"; }
mkdir chk && chattr +i chk 2>/dev/null && chattr -i chk && test_set_prereq CHATTR

test_expect_success GIT 'a modified file: git_dirty, listed, nothing moved' '
	new_repo m demo && publish m demo 60 && echo more >>m/product/demo/a.txt && age m/product/demo $(ago 60) &&
	cp $(reg m) reg.m && clean m --execute && summary >actual &&
	printf "skipped demo git_dirty\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	python3 -c "
import json; s = json.load(open(\"out.json\"))[\"skipped\"][0]
assert s[\"files\"] == [\"product/demo/a.txt\"] and s[\"files_total\"] == 1, s" &&
	test -f m/product/demo/a.txt && test_cmp reg.m $(reg m)
'

test_expect_success GIT 'untracked and deleted files: git_dirty; --allow-dirty-git archives anyway' '
	new_repo u demo && publish u demo 60 && echo new >u/product/demo/sub/new.txt && rm u/product/demo/a.txt &&
	age u/product/demo $(ago 60) &&
	clean u --execute && summary >actual &&
	printf "skipped demo git_dirty\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	python3 -c "
import json; s = json.load(open(\"out.json\"))[\"skipped\"][0]
assert sorted(s[\"files\"]) == [\"product/demo/a.txt\", \"product/demo/sub/new.txt\"], s" &&
	clean u --execute --allow-dirty-git && summary >actual &&
	printf "archived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -f "$(field u demo archived_path)/sub/new.txt"
'

test_expect_success GIT 'ignored files only: skipped by default, archived with --include-ignored' '
	new_repo i demo && publish i demo 60 && mkdir -p i/product/demo/data && echo db >i/product/demo/data/local.db &&
	age i/product/demo $(ago 60) &&
	clean i --execute && summary >actual &&
	printf "skipped demo git_dirty\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	grep "product/demo/data/local.db" out.json && test -f i/product/demo/data/local.db &&
	clean i --execute --include-ignored && summary >actual &&
	printf "archived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -f "$(field i demo archived_path)/data/local.db"
'

test_expect_success GIT '--include-ignored does not let untracked files through' '
	new_repo i2 demo && publish i2 demo 60 && echo db >i2/product/demo/x.db && echo u >i2/product/demo/u.txt &&
	age i2/product/demo $(ago 60) &&
	clean i2 --execute --include-ignored && summary >actual &&
	printf "skipped demo git_dirty\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	python3 -c "
import json; s = json.load(open(\"out.json\"))[\"skipped\"][0]
assert s[\"files\"] == [\"product/demo/u.txt\"], s"
'

test_expect_success GIT 'the dirty listing is capped: 100 files listed of 100, 100 listed of 101' '
	new_repo f demo && publish f demo 60 && i=0 && while [ $i -lt 100 ]; do echo >f/product/demo/u$i; i=$((i + 1)); done &&
	age f/product/demo $(ago 60) && clean f && python3 -c "
import json; s = json.load(open(\"out.json\"))[\"skipped\"][0]
assert len(s[\"files\"]) == 100 and s[\"files_total\"] == 100, s" &&
	echo >f/product/demo/u100 && age f/product/demo $(ago 60) && clean f && python3 -c "
import json; s = json.load(open(\"out.json\"))[\"skipped\"][0]
assert len(s[\"files\"]) == 100 and s[\"files_total\"] == 101, s"
'

test_expect_success GIT 'a project called a is not dirty because of a-b' '
	new_repo ab a a-b && publish ab a 60 && echo u >ab/product/a-b/u.txt &&
	clean ab && summary >actual &&
	printf "archived a\nexecute False 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'HEAD moved since the publish: not_published_head, nothing moved' '
	new_repo h demo && publish h demo 60 && echo changed >h/product/demo/a.txt &&
	git -C h commit -q -am change && age h/product/demo $(ago 60) &&
	clean h --execute && summary >actual &&
	printf "skipped demo not_published_head\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -f h/product/demo/a.txt && grep "differs from the published commit" out.json
'

test_expect_success GIT 'history moved but the content came back (change, then revert): the split differs, skipped' '
	new_repo hv demo && publish hv demo 60 && echo changed >hv/product/demo/a.txt &&
	git -C hv commit -q -am change && git -C hv revert --no-edit HEAD >/dev/null &&
	age hv/product/demo $(ago 60) &&
	clean hv --execute && summary >actual &&
	printf "skipped demo not_published_head\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	grep "the split of product/demo at HEAD is" out.json && test -f hv/product/demo/a.txt &&
	new=$(git -C hv subtree split --prefix=product/demo HEAD 2>/dev/null) && grep "is $new, not" out.json
'

test_expect_success GIT 'the split is checked against git subtree split; its cache is written only with --execute' '
	new_repo sc demo && echo 2 >sc/product/demo/two && git -C sc add -A && git -C sc commit -q -m two &&
	publish sc demo 60 &&
	clean sc && summary >actual && printf "archived demo\nexecute False 45 90\n" >expect && test_cmp expect actual &&
	test ! -e sc/.orket/split-cache &&
	clean sc --execute && summary >actual && printf "archived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -d sc/.orket/split-cache && test -n "$(ls sc/.orket/split-cache)"
'

test_expect_success GIT 'a published commit that is not in the repository: not_published_head' '
	new_repo h2 demo && publish h2 demo 60 last_published_sha 0123456789abcdef0123456789abcdef01234567 &&
	clean h2 --execute && summary >actual &&
	printf "skipped demo not_published_head\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	grep "is not in the repository" out.json && test -d h2/product/demo
'

test_expect_success GIT 'HEAD moved elsewhere in the repo, not in the folder: still archived' '
	new_repo h3 demo && publish h3 demo 60 && echo x >h3/README && git -C h3 commit -q -am other &&
	age h3/product/demo $(ago 60) && clean h3 && summary >actual &&
	printf "archived demo\nexecute False 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'a prefix that is not the folder: prefix_mismatch' '
	new_repo p demo other && publish p demo 60 prefix product/other &&
	clean p --execute && summary >actual &&
	printf "skipped demo prefix_mismatch\nexecute True 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT 'a symlinked local_path: symlink, the target untouched' '
	new_repo s demo && publish s demo 60 && ln -s demo s/product/link &&
	for kv in "prefix product/link" "local_path $TRASH/s/product/link" "parity_verified -true" \
	    "last_published_sha $(field s demo last_published_sha)" "last_published_at $(iso $(ago 60))"; do
		$REG set $(reg s) product link "${kv%% *}" "${kv#* }" || exit 1; done &&
	clean s --execute --projects link && summary >actual &&
	printf "skipped link symlink\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -f s/product/demo/a.txt && test -L s/product/link
'

test_expect_success GIT 'a symlink among the components (source_dir itself): symlink' '
	new_repo s2 demo && publish s2 demo 60 && ln -s product s2/alias &&
	$REG set $(reg s2) alias demo parity_verified -true &&
	$REG set $(reg s2) alias demo local_path "$TRASH/s2/alias/demo" &&
	$REG set $(reg s2) alias demo prefix alias/demo &&
	$REG set $(reg s2) alias demo last_published_at "$(iso $(ago 60))" &&
	clean s2 --execute --source-dir alias && python3 -c "
import json; d = json.load(open(\"out.json\"))
assert d[\"skipped\"] == [{\"project\": \"demo\", \"reason\": \"symlink\", \"detail\": \"$TRASH/s2/alias/demo\"}], d" &&
	test -f s2/product/demo/a.txt
'

test_expect_success GIT 'paths outside the source dir or the repo: outside_root' '
	new_repo o demo && publish o demo 60 local_path "$TRASH/o/demo" &&
	clean o --execute && summary >actual &&
	printf "skipped demo outside_root\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	publish o demo 60 local_path /tmp && clean o --execute && summary >actual && test_cmp expect actual &&
	publish o demo 60 local_path "$TRASH/o/product" && clean o --execute && summary >actual && test_cmp expect actual &&
	publish o demo 60 local_path "$TRASH/o/product/" && clean o --execute && summary >actual && test_cmp expect actual &&
	test -f o/product/demo/a.txt
'

test_expect_success GIT 'a .. component: dotdot; an empty or missing local_path: empty_path' '
	new_repo dd demo && publish dd demo 60 local_path "$TRASH/dd/product/x/../demo" &&
	clean dd --execute && summary >actual &&
	printf "skipped demo dotdot\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	publish dd demo 60 local_path "" && clean dd --execute && summary >actual &&
	printf "skipped demo empty_path\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	publish dd demo 60 local_path -null && clean dd --execute && summary >actual && test_cmp expect actual &&
	test -f dd/product/demo/a.txt
'

test_expect_success GIT 'a source_dir that is absolute or climbs: bad_source_dir' '
	new_repo bs demo && publish bs demo 60 &&
	$REG set $(reg bs) .. demo parity_verified -true && $REG set $(reg bs) .. demo local_path "$TRASH/bs/product/demo" &&
	$REG set $(reg bs) /abs demo parity_verified -true && $REG set $(reg bs) /abs demo local_path "$TRASH/bs/product/demo" &&
	clean bs --projects demo && summary >actual &&
	printf "archived demo\nskipped demo bad_source_dir\nskipped demo bad_source_dir\nexecute False 45 90\n" >expect &&
	test_cmp expect actual
'

test_expect_success GIT 'archived_path outside the archive, climbing, or a symlink: never deleted' '
	new_repo x demo a b c && publish x demo 60 && publish x a 60 && publish x b 60 && publish x c 60 &&
	rm -rf x/product/a x/product/b x/product/c &&
	mkdir -p x/.orket/local_archive/projects x/elsewhere/keep && echo keep >x/elsewhere/keep/f &&
	ln -s ../../../elsewhere/keep x/.orket/local_archive/projects/c-1 &&
	for p in a b c; do $REG set $(reg x) product $p archived_at "$(iso $(ago 200))" || exit 1; done &&
	$REG set $(reg x) product a archived_path "$TRASH/x/elsewhere/keep" &&
	$REG set $(reg x) product b archived_path "$TRASH/x/.orket/local_archive/projects/../../../elsewhere/keep" &&
	$REG set $(reg x) product c archived_path "$TRASH/x/.orket/local_archive/projects/c-1" &&
	clean x --execute --projects a b c && summary >actual &&
	printf "skipped a outside_archive\nskipped b dotdot\nskipped c symlink\nexecute True 45 90\n" >expect &&
	test_cmp expect actual && test -f x/elsewhere/keep/f
'

test_expect_success GIT 'a hard delete removes symlinks in the archive, never what they point at' '
	new_repo y demo && publish y demo 60 && ln -s "$TRASH/y/elsewhere" y/product/demo/sub/link &&
	mkdir y/elsewhere && echo keep >y/elsewhere/f && age y/product/demo $(ago 60) &&
	clean y --execute --allow-dirty-git && arch=$(field y demo archived_path) && test -L "$arch/sub/link" &&
	$REG set $(reg y) product demo archived_at "$(iso $(ago 100))" &&
	clean y --execute && summary >actual &&
	printf "deleted demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test ! -e "$arch" && test -f y/elsewhere/f
'

for bad in '{"version":1,"projects":[' '[]' '{"projects":{"a":1}}' '{"projects":[{"project_name":"demo"},7]}'; do
	test_expect_success GIT "a corrupt registry: exit 100, untouched, nothing moved: $bad" "
		new_repo k demo && mkdir -p k/.orket && printf '%s' '$bad' >\$(reg k) && cp \$(reg k) reg.k &&
		test_expect_code 100 clean k --execute && test_cmp reg.k \$(reg k) && test ! -s out.json &&
		grep 'project_publish_registry.json' err && grep 'left as it is' err && test -d k/product/demo
	"
done

test_expect_success GIT 'an unreadable registry (a folder in its way) is a system error: 111' '
	new_repo k2 demo && test_expect_code 111 clean k2 --registry-path README/reg.json && grep "unable to open" err
'

test_expect_success GIT 'two projects with the same name in the same second: two archives, no collision' '
	new_repo t demo && mkdir -p t/apps/demo && echo a >t/apps/demo/a.txt && git -C t add -A && git -C t commit -q -m apps &&
	publish t demo 60 &&
	sha=$(git -C t subtree split --prefix=apps/demo HEAD 2>/dev/null) &&
	for kv in "prefix apps/demo" "local_path $TRASH/t/apps/demo" "last_published_sha $sha" \
	    "parity_verified -true" "last_published_at $(iso $(ago 60))"; do
		$REG set $(reg t) apps demo "${kv%% *}" "${kv#* }" || exit 1; done &&
	age t/apps/demo $(ago 60) &&
	clean t && python3 -c "
import json; a = json.load(open(\"out.json\"))[\"archived\"]
assert len(a) == 2 and a[0][\"to\"] != a[1][\"to\"] and a[1][\"to\"] == a[0][\"to\"] + \"-2\", a" &&
	clean t --execute && summary >actual &&
	printf "archived demo\narchived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	p1=$($REG get $(reg t) product demo archived_path | sed "s/ bool.*//") &&
	p2=$($REG get $(reg t) apps demo archived_path | sed "s/ bool.*//") &&
	test "$p1" != "$p2" && test -f "$p1/sub/b.txt" && test -f "$p2/a.txt" && test ! -e "$p1/demo"
'

# names NAME K: the archive names of the next 60 seconds' runs, suffixes 1 (none) to K.
names() {
	now=$(date +%s) && awk -v now=$now -v n="$1" -v k="$2" -v dir="$3" "BEGIN {
		for (t = now; t < now + 60; t++) {
			cmd = \"date -u -d @\" t \" +%Y%m%d-%H%M%S\"; cmd | getline st; close(cmd)
			print dir \"/\" n \"-\" st
			for (i = 2; i <= k; i++) print dir \"/\" n \"-\" st \"-\" i
		} }"
}
test_expect_success GIT 'archive names: with -2 to -99 taken, -100 (the cap) is used; with -100 taken too, none' '
	new_repo sx demo other && publish sx demo 60 && publish sx other 60 &&
	names demo 99 sx/.orket/local_archive/projects | xargs mkdir -p &&
	names other 100 sx/.orket/local_archive/projects | xargs mkdir -p &&
	test_expect_code 1 clean sx --execute && summary >actual &&
	printf "archived demo\nskipped other archive_failed\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	field sx demo archived_path | grep -- "-100$" && grep "no free archive name" out.json &&
	test -d sx/product/other && test "$(field sx other archived_path)" = "(none)"
'

test_expect_success GIT,CHATTR 'a move that fails in the middle: exit 1, the others done, the registry consistent' '
	new_repo mf a b c && publish mf a 60 && publish mf b 60 && publish mf c 60 &&
	chattr +i mf/product/b && test_when_finished "chattr -i $TRASH/mf/product/b" &&
	test_expect_code 1 clean mf --execute && summary >actual &&
	printf "archived a\narchived c\nskipped b archive_failed\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	grep "unable to move" out.json &&
	test ! -e mf/product/a && test ! -e mf/product/c && test -f mf/product/b/a.txt &&
	test -d "$(field mf a archived_path)" && test -d "$(field mf c archived_path)" &&
	test "$(field mf b archived_path)" = "(none)" && test "$(field mf b archived_at)" = "(none)" &&
	$REG get $(reg mf) product b archived_at | grep "truthy=0" &&
	chattr -i mf/product/b && clean mf --execute && summary >actual &&
	printf "archived b\nexecute True 45 90\n" >expect && test_cmp expect actual
'

test_expect_success GIT,CHATTR 'a delete that fails: exit 1, deleted_at not written, retried next run' '
	new_repo df demo && publish df demo 60 && clean df --execute && arch=$(field df demo archived_path) &&
	$REG set $(reg df) product demo archived_at "$(iso $(ago 100))" &&
	chattr +i "$arch/sub" && test_when_finished "chattr -i $arch/sub" &&
	test_expect_code 1 clean df --execute && summary >actual &&
	printf "skipped demo delete_failed\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test "$(field df demo deleted_at)" = "(none)" &&
	chattr -i "$arch/sub" && clean df --execute && summary >actual &&
	printf "deleted demo\nexecute True 45 90\n" >expect && test_cmp expect actual && test ! -e "$arch"
'

shm=$(mktemp -d /dev/shm/orket-clean-test.XXXXXX 2>/dev/null) &&
	test "$(stat -c %d "$shm")" != "$(stat -c %d "$TRASH")" && test_set_prereq OTHERFS
test_expect_success GIT 'partial copies a killed run left: removed before the first move; a live one, a file, a symlink stay' '
	new_repo kp demo && publish kp demo 60 && age kp/product/demo $(ago 60) &&
	dead=$(sh -c "echo \$\$") && ! kill -0 $dead 2>/dev/null &&
	stale=kp-arch/.demo-20260101-000000.partial-$dead &&
	mkdir -p $stale/sub && echo x >$stale/sub/f &&
	mkdir kp-arch/.live.partial-$$ && echo file >kp-arch/.file.partial-$dead &&
	mkdir kp-target && ln -s ../kp-target kp-arch/.link.partial-$dead &&
	mkdir kp-arch/.odd.partial-12x &&
	clean kp --archive-dir "$TRASH/kp-arch" && test -d $stale &&
	clean kp --execute --archive-dir "$TRASH/kp-arch" && summary >actual &&
	printf "archived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test ! -e $stale && grep "removed .*partial-$dead, a partial copy left by a killed run" err &&
	test -d kp-arch/.live.partial-$$ && test -f kp-arch/.file.partial-$dead &&
	test -L kp-arch/.link.partial-$dead && test -d kp-target && test -d kp-arch/.odd.partial-12x &&
	test -f "$(field kp demo archived_path)/sub/b.txt"
'

test_expect_success GIT,OTHERFS 'an archive on another file system: copied with modes, times and symlinks, then removed' '
	test_when_finished "rm -rf $shm" &&
	new_repo xd demo && publish xd demo 60 && chmod 751 xd/product/demo/a.txt && git -C xd add -A &&
	git -C xd commit -q -m mode && publish xd demo 60 &&
	ln -s a.txt xd/product/demo/sub/link && echo db >xd/product/demo/sub/local.db &&
	age xd/product/demo $(ago 60) &&
	clean xd --execute --allow-dirty-git --archive-dir "$shm/arch" && summary >actual &&
	printf "archived demo\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	grep "copying" err && arch=$(field xd demo archived_path) && case $arch in "$shm"/arch/demo-*) ;; *) false ;; esac &&
	test ! -e xd/product/demo && test -f "$arch/sub/local.db" && test -L "$arch/sub/link" &&
	test "$(readlink "$arch/sub/link")" = a.txt && test "$(stat -c %a "$arch/a.txt")" = 751 &&
	test "$(stat -c %Y "$arch/sub/b.txt")" = "$(stat -c %Y "$arch/a.txt")" &&
	test $(stat -c %Y "$arch/sub") -lt $(ago 59) && test -z "$(ls -A "$shm/arch" | grep partial)" &&
	$REG set $(reg xd) product demo archived_at "$(iso $(ago 100))" &&
	clean xd --execute --archive-dir "$shm/arch" && summary >actual &&
	printf "deleted demo\nexecute True 45 90\n" >expect && test_cmp expect actual && test ! -e "$arch"
'

test_expect_success GIT,OTHERFS 'a special file stops a copy across file systems: nothing lost, nothing left' '
	test_when_finished "rm -rf $shm" &&
	new_repo xs demo && publish xs demo 60 && mkfifo xs/product/demo/sub/fifo && age xs/product/demo $(ago 60) &&
	test_expect_code 1 clean xs --execute --allow-dirty-git --archive-dir "$shm/arch2" && summary >actual &&
	printf "skipped demo archive_failed\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	grep "special file" out.json && test -p xs/product/demo/sub/fifo && test -f xs/product/demo/sub/b.txt &&
	test -z "$(ls -A "$shm/arch2")" && test "$(field xs demo archived_path)" = "(none)"
'

for cv in local_path=/moved/by/publish last_published_sha=1111111111111111111111111111111111111111; do
test_expect_success GIT "a record changed by a concurrent publish while clean waited for the lock is left alone: ${cv%%=*}" '
	new_repo cc demo && publish cc demo 60 && rm -f err &&
	exec 9>cc/.orket/project_publish_registry.json.lock && flock 9 &&
	{ ( cd cc && exec orket-clean --execute 9>&- ) >out.json 2>err & } && pid=$! &&
	i=0 && while ! grep -q "checking product/demo" err 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done &&
	KV=$cv python3 -c "
import json, os; p = \"cc/.orket/project_publish_registry.json\"; d = json.load(open(p))
k, v = os.environ[\"KV\"].split(\"=\", 1); d[\"projects\"][0][k] = v
open(p, \"w\").write(json.dumps(d, indent=2))" &&
	flock -u 9 && exec 9>&- && wait $pid && summary >actual &&
	printf "skipped demo registry_changed\nexecute True 45 90\n" >expect && test_cmp expect actual &&
	test -f cc/product/demo/a.txt && test "$(field cc demo ${cv%%=*})" = "${cv#*=}" &&
	test "$(field cc demo archived_path)" = "(none)"
'
done

test_done
