#!/bin/sh
# See LICENSE.
test_description='orket-publish dry run: discovery, names, the split of each project, no network, no registry'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/publish-lib.sh"

unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_PRODUCT_OWNER \
    GITEA_PROJECT_SOURCE_DIR GITEA_CA_FILE

test_expect_success GIT 'setup: a monorepo' '
	mkrepo repo &&
	split repo product/alpha >alpha.want && test -s alpha.want &&
	split repo product/Beta_Two >beta.want && test -s beta.want
'

test_expect_success GIT 'a dry run needs no credentials and prints the split git would make' '
	orket-publish --repo-root repo --owner acme >out 2>err &&
	test_grep "^\[DRY-RUN\] Publishing 2 project(s) from $TRASH/repo/product$" out &&
	test_grep "^Target branch: main$" out &&
	sed -n "/^Project: alpha$/,/^\$/p" out >alpha.out &&
	test_grep "^  Prefix: product/alpha$" alpha.out &&
	test_grep "^  Target: acme/alpha (branch: main)$" alpha.out &&
	test_grep "^  Repo exists: (skip in dry-run)$" alpha.out &&
	test_grep "^  Subtree commit: $(cat alpha.want)$" alpha.out &&
	test_grep "^  Push: skipped (dry-run)\.$" alpha.out &&
	test_grep "^  Subtree commit: $(cat beta.want)$" out &&
	test_grep "^  Target: acme/beta-two (branch: main)$" out
'

test_expect_success GIT 'no progress lines when stderr is not a terminal' '
	test_grep ! "info:" err
'

command -v script >/dev/null && test_set_prereq SCRIPT
test_expect_success GIT,SCRIPT 'progress lines on stderr when it is a terminal' '
	script -qec "orket-publish --repo-root repo --owner acme" /dev/null >tty.out </dev/null &&
	test_grep "orket-publish: info: \[1/2\] Beta_Two: splitting" tty.out &&
	test_grep "orket-publish: info: \[2/2\] alpha: splitting" tty.out
'

test_expect_success GIT 'dot-folders and folders absent from HEAD are reported as skipped' '
	test_grep "^Skipped: .hidden (dot-folder)$" out &&
	test_grep "^Skipped: scratch (not in HEAD)$" out &&
	test_grep "^\.hidden  *-  *-  *skipped: dot-folder$" out &&
	test_grep "^scratch  *-  *-  *skipped: not in HEAD$" out &&
	test_grep "^Done: 2 to publish, 0 failed, 2 skipped\.$" out
'

test_expect_success GIT 'the summary lists each project with its short split commit' '
	sed -n "/^Summary:/,/^\$/p" out >summary &&
	test_grep "^project  *repo  *commit  *result$" summary &&
	test_grep "^alpha  *acme/alpha  *$(cut -c1-12 alpha.want)  *would publish$" summary &&
	test_grep "^Beta_Two  *acme/beta-two  *$(cut -c1-12 beta.want)  *would publish$" summary
'

test_expect_success GIT 'nothing is written but the split cache' '
	test ! -e repo/.orket/project_publish_registry.json &&
	test -d repo/.orket/split-cache &&
	git -C repo status --porcelain --ignored >st &&
	test_grep "^?? .orket/$" st &&
	test_grep "^?? product/scratch/$" st &&
	test "$(wc -l <st)" = 2
'

test_expect_success GIT 'the cached split is the same split; so is a cold one' '
	orket-publish --repo-root repo >out2 &&
	grep "Subtree commit" out >c1 && grep "Subtree commit" out2 >c2 && test_cmp c1 c2 &&
	rm -rf repo/.orket &&
	orket-publish --repo-root repo >out3 &&
	grep "Subtree commit" out3 >c3 && test_cmp c1 c3
'

test_expect_success GIT,NONET 'a dry run makes no network call: it works with no network at all' '
	unshare -n sh -c "orket-publish --repo-root repo --owner acme \
	    --gitea-url http://127.0.0.1:9/ >out4 2>err4" &&
	grep "Subtree commit" out4 >c4 && test_cmp c1 c4
'

test_expect_success GIT 'a new commit gives a new split, still the one of git' '
	echo three >>repo/product/alpha/a.txt && git -C repo add -A -- . ":!product/scratch" ":!.orket" &&
	(cd repo && git_commit -m "alpha: third") &&
	split repo product/alpha >alpha2.want &&
	! test_cmp alpha.want alpha2.want >/dev/null &&
	orket-publish --repo-root repo --projects alpha >out &&
	test_grep "^  Subtree commit: $(cat alpha2.want)$" out &&
	test_grep "^\[DRY-RUN\] Publishing 1 project(s)" out
'

test_expect_success GIT '--projects selects exact names, trimmed, and warns about unknown ones' '
	orket-publish --repo-root repo --projects " Beta_Two " "" beta nope --owner o >out 2>err &&
	test_grep "^Project: Beta_Two$" out && test_grep ! "^Project: alpha" out &&
	test_grep "no project folder named beta under" err &&
	test_grep "no project folder named nope under" err &&
	orket-publish --repo-root repo --projects --owner o >out &&
	test_grep "^Project: alpha$" out && test_grep "^Project: Beta_Two$" out &&
	orket-publish --repo-root repo --projects " " "" >out &&
	test_grep "^Project: alpha$" out && test_grep "^Project: Beta_Two$" out
'

test_expect_success GIT 'slugs as the original, with --repo-prefix verbatim' '
	mkdir -p repo/product/Foo_Bar.x repo/product/"  Sp ace" repo/product/___ &&
	for d in Foo_Bar.x "  Sp ace" ___; do echo x >"repo/product/$d/f"; done &&
	git -C repo add -A -- . ":!product/scratch" ":!.orket" && (cd repo && git_commit -m names) &&
	orket-publish --repo-root repo --owner o --repo-prefix P_ >out &&
	test_grep "^  Target: o/P_foo-bar-x (branch: main)$" out &&
	test_grep "^  Target: o/P_sp-ace (branch: main)$" out &&
	test_grep "^  Target: o/P_project (branch: main)$" out
'

test_expect_success GIT 'repo-name collisions fail both projects; the others go on: 1' '
	mkdir -p repo/product/a_b repo/product/a-b repo/product/A.B &&
	for d in a_b a-b A.B; do echo "$d" >"repo/product/$d/f"; done &&
	git -C repo add -A -- . ":!product/scratch" ":!.orket" && (cd repo && git_commit -m collide) &&
	test_expect_code 1 orket-publish --repo-root repo --owner o >out 2>err &&
	test_grep "^a_b  *o/a-b  *-  *failed: repo name a-b collides with folder" out &&
	test_grep "^a-b  *o/a-b  *-  *failed: repo name a-b collides with folder" out &&
	test_grep "^A.B  *o/a-b  *-  *failed: repo name a-b collides" out &&
	test_grep "^alpha  *o/alpha  *[0-9a-f]\{12\}  *would publish$" out &&
	test_grep "a_b: the repo name a-b is also the name of folder" err
'

test_expect_success GIT 'a repo name of 100 characters is fine, 101 is refused' '
	n99=$(printf "%099d" 0) &&
	mkdir -p "repo/product/$n99" && echo x >"repo/product/$n99/f" &&
	git -C repo add -A -- . ":!product/scratch" ":!.orket" && (cd repo && git_commit -m long) &&
	orket-publish --repo-root repo --projects "$n99" --repo-prefix x >out &&
	test_grep "^  Target: (no owner)/x$n99 (branch: main)$" out &&
	test_expect_code 1 orket-publish --repo-root repo --projects "$n99" --repo-prefix xy \
	    >out 2>err &&
	test_grep "failed: repo name longer than 100 characters" out &&
	test_grep "the repo name xy$n99 is longer than 100 characters" err
'

test_expect_success GIT 'a corrupt registry stops even a dry run, and is left as it was' '
	mkdir -p repo/.orket && printf "{\"version\": 1, \"projects\": [" \
	    >repo/.orket/project_publish_registry.json &&
	cp repo/.orket/project_publish_registry.json reg.before &&
	test_expect_code 100 orket-publish --repo-root repo >out 2>err &&
	test_grep "unable to load the registry .*project_publish_registry.json" err &&
	test_grep ! "Subtree commit" out &&
	test_cmp reg.before repo/.orket/project_publish_registry.json &&
	rm repo/.orket/project_publish_registry.json
'

test_expect_success GIT 'a symlink to a folder counts; a plain file does not' '
	ln -s ../docs repo/product/zlink && echo f >repo/product/zfile &&
	test_expect_code 1 orket-publish --repo-root repo --projects zlink zfile >out 2>err &&
	test_grep "^Skipped: zlink (not in HEAD)$" out &&
	test_grep "no project folder named zfile" err &&
	test_grep "^Done: 0 to publish, 0 failed, 1 skipped\.$" out
'

test_done
