#!/bin/sh
# See LICENSE.
test_description='orket-publish --delete-local: only verified, only clean folders; the rest is listed and kept'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/publish-lib.sh"

unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_PRODUCT_OWNER \
    GITEA_PROJECT_SOURCE_DIR GITEA_CA_FILE
command -v curl >/dev/null && test_have_prereq GIT,PYTHON3 && test_set_prereq DOUBLE
DOUBLE_GIT=$TRASH/d.git
REG=repo/.orket/project_publish_registry.json

test_expect_success DOUBLE 'setup: a monorepo that ignores *.db, the double, an org' '
	mkrepo repo && echo "*.db" >repo/.gitignore && mkdir repo/product/gamma &&
	echo g >repo/product/gamma/g.txt && git -C repo add -A -- . ":!product/scratch" ":!.orket" && (cd repo && git_commit -m gamma) &&
	double_start d && echo "$base" >base &&
	control POST org "{\"name\":\"acme\"}" >/dev/null
'
base=$(cat base 2>/dev/null)
ctl=${base}_control

deleted_at() {
	python3 -c "
import json, sys
for r in json.load(open(\"$REG\"))[\"projects\"]:
    if r[\"project_name\"] == sys.argv[1]:
        print(json.dumps(r[\"deleted_at\"]), json.dumps(r[\"parity_verified\"]))
" "$1"
}

test_expect_success DOUBLE 'modified, deleted, untracked and ignored files are listed, and kept' '
	echo changed >>repo/product/alpha/a.txt &&
	rm repo/product/alpha/sub/s.txt &&
	echo new >repo/product/alpha/new.txt &&
	mkdir repo/product/alpha/data && echo db >repo/product/alpha/data/local.db &&
	test_expect_code 1 publish --verify-parity --delete-local --projects alpha >out 2>err &&
	test_grep "^  Parity: OK$" out &&
	test_grep "^    modified: product/alpha/a.txt$" out &&
	test_grep "^    deleted: product/alpha/sub/s.txt$" out &&
	test_grep "^    untracked: product/alpha/new.txt$" out &&
	test_grep "^    ignored: product/alpha/data/local.db$" out &&
	test_grep "^alpha  .*failed: not deleted: 4 file(s) under product/alpha are modified, untracked or ignored" out &&
	test -f repo/product/alpha/data/local.db && test -f repo/product/alpha/a.txt &&
	test "$(deleted_at alpha)" = "null true"
'

test_expect_success DOUBLE 'an ignored file alone is enough to refuse' '
	git -C repo checkout -q -- product/alpha && rm repo/product/alpha/new.txt &&
	test_expect_code 1 publish --verify-parity --delete-local --projects alpha >out 2>err &&
	test_grep "^    ignored: product/alpha/data/local.db$" out &&
	test_grep "not deleted: 1 file(s)" out &&
	test -f repo/product/alpha/data/local.db
'

test_expect_success DOUBLE 'a clean folder is deleted once verified, and the registry says when' '
	test_expect_code 1 publish --verify-parity --delete-local --projects alpha Beta_Two \
	    >out 2>err &&
	test_grep "^  Local delete: $TRASH/repo/product/Beta_Two$" out &&
	test ! -e repo/product/Beta_Two && test -d repo/product/alpha &&
	test_grep "^Beta_Two  .*published, parity verified, local deleted$" out &&
	deleted_at Beta_Two >d && test_grep "^\"20[0-9-]*T[0-9:.]*+00:00\" true$" d
'

test_expect_success DOUBLE 'a failed parity check deletes nothing' '
	hook=$DOUBLE_GIT/acme/gamma.git/hooks/post-receive &&
	publish --projects gamma >/dev/null &&
	echo more >>repo/product/gamma/g.txt && git -C repo add -A -- . ":!product/scratch" ":!.orket" &&
	(cd repo && git_commit -m "gamma: more") &&
	printf "#!/bin/sh\nwhile read o n r; do git update-ref \"\$r\" \"\$o\"; done\n" >"$hook" &&
	chmod +x "$hook" &&
	test_expect_code 1 publish --verify-parity --delete-local --projects gamma >out 2>err &&
	test_grep "^  Parity: FAILED$" out && test_grep ! "Local delete" out &&
	test -f repo/product/gamma/g.txt
'

double_stop d 2>/dev/null
test_done
