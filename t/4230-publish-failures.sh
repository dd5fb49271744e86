#!/bin/sh
# See LICENSE.
test_description='orket-publish --execute when things fail: each project alone, a summary, the exit code'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/publish-lib.sh"

unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_PRODUCT_OWNER \
    GITEA_PROJECT_SOURCE_DIR GITEA_CA_FILE
command -v curl >/dev/null && test_have_prereq GIT,PYTHON3 && test_set_prereq DOUBLE
DOUBLE_GIT=$TRASH/d.git
REG=repo/.orket/project_publish_registry.json

test_expect_success DOUBLE 'setup: a monorepo with three projects, the double, an org' '
	mkrepo repo && mkdir repo/product/gamma && echo g >repo/product/gamma/g.txt &&
	git -C repo add -A -- . ":!product/scratch" ":!.orket" && (cd repo && git_commit -m gamma) &&
	split repo product/alpha >alpha.want && split repo product/gamma >gamma.want &&
	double_start d && echo "$base" >base &&
	control POST org "{\"name\":\"acme\"}" >/dev/null
'
base=$(cat base 2>/dev/null)
ctl=${base}_control

# reset: forget faults and calls, keep the repos.
reset() {
	control POST reset "{\"state\":false}" >/dev/null &&
	control DELETE git >/dev/null
}

test_expect_success DOUBLE 'a 500 on one project: it fails, the others publish, exit 1' '
	control POST fault "{\"mode\":\"status\",\"status\":500,\"path\":\"/api/v1/repos/acme/beta-two\"}" >/dev/null &&
	test_expect_code 1 publish >out 2>err &&
	test_grep "^Beta_Two  *acme/beta-two  *[0-9a-f]\{12\}  *failed: unable to look up acme/beta-two: .*500" out &&
	test_grep "^alpha  *acme/alpha  *[0-9a-f]\{12\}  *published$" out &&
	test_grep "^gamma  *acme/gamma  *[0-9a-f]\{12\}  *published$" out &&
	test_grep "^Done: 2 published, 1 failed, 2 skipped\.$" out &&
	test_grep "Beta_Two: unable to look up acme/beta-two" err &&
	calls /api/v1/ >api && test_grep ! "POST.*beta-two" api &&
	test "$(remote_head acme gamma)" = "$(cat gamma.want)" &&
	test ! -d "$DOUBLE_GIT/acme/beta-two.git" &&
	python3 -c "
import json
names = [r[\"project_name\"] for r in json.load(open(\"$REG\"))[\"projects\"]]
assert names == [\"alpha\", \"gamma\"], names
"
'

test_expect_success DOUBLE 'a 401 on the lookup is a failure, never taken for missing' '
	reset &&
	control POST fault "{\"mode\":\"status\",\"status\":401,\"path\":\"/api/v1/repos/acme/beta-two\"}" >/dev/null &&
	test_expect_code 1 publish --projects Beta_Two >out 2>err &&
	test_grep "failed: unable to look up acme/beta-two: .*401" out &&
	calls /api/v1/ >api && test_grep ! "POST" api
'

test_expect_success DOUBLE 'a failed creation fails its project' '
	reset &&
	control POST fault "{\"mode\":\"status\",\"status\":500,\"method\":\"POST\",\"path\":\"/api/v1/orgs/*\"}" >/dev/null &&
	test_expect_code 1 publish --projects Beta_Two >out 2>err &&
	test_grep "failed: unable to create acme/beta-two" out
'

test_expect_success DOUBLE '--no-create and a missing repository: a clear error for that project' '
	reset &&
	test_expect_code 1 publish --no-create --projects Beta_Two alpha >out 2>err &&
	test_grep "^Beta_Two  .*failed: acme/beta-two does not exist and --no-create was given$" out &&
	test_grep "^alpha  .*up to date$" out &&
	calls /api/v1/ >api && test_grep ! "POST" api
'

test_expect_success DOUBLE 'a push the server declines fails its project' '
	reset &&
	echo more >>repo/product/gamma/g.txt && git -C repo add -A -- . ":!product/scratch" ":!.orket" &&
	(cd repo && git_commit -m "gamma: more") &&
	control POST git "{\"mode\":\"decline\",\"push\":true}" >/dev/null &&
	test_expect_code 1 publish --projects gamma alpha >out 2>err &&
	test_grep "^gamma  .*failed: push to acme/gamma refused" out &&
	test_grep "^alpha  .*up to date$" out &&
	test "$(remote_head acme gamma)" = "$(cat gamma.want)"
'

test_expect_success DOUBLE 'a git error (HTTP 500) fails its project' '
	reset &&
	control POST git "{\"mode\":\"status\",\"status\":500}" >/dev/null &&
	test_expect_code 1 publish --projects gamma >out 2>err &&
	test_grep "^gamma  .*failed: unable to read refs/heads/main of acme/gamma" out
'

test_expect_success DOUBLE 'parity: a branch that moves between the push and the check' '
	reset &&
	hook=$DOUBLE_GIT/acme/gamma.git/hooks/post-receive &&
	cat >"$hook" <<-\EOF &&
	#!/bin/sh
	# Someone else commits on top, right after our push.
	export GIT_AUTHOR_NAME=else GIT_AUTHOR_EMAIL=else@example.com
	export GIT_COMMITTER_NAME=else GIT_COMMITTER_EMAIL=else@example.com
	while read old new ref; do
		c=$(git commit-tree -p "$new" -m "moved by a hook" "$new^{tree}") &&
		git update-ref "$ref" "$c"
	done
	EOF
	chmod +x "$hook" && test_when_finished "rm -f \"$hook\"" &&
	python3 -c "import json; print(json.load(open(\"$REG\")))" >reg.before &&
	test_expect_code 1 publish --projects gamma --verify-parity >out 2>err &&
	test_grep "^  Push: OK$" out && test_grep "^  Parity: FAILED$" out &&
	test_grep "^gamma  .*failed: parity: the remote refs/heads/main is [0-9a-f]\{12\}, not the split" out &&
	python3 -c "import json; print(json.load(open(\"$REG\")))" >reg.after &&
	test_cmp reg.before reg.after
'

command -v flock >/dev/null && test_set_prereq FLOCK
test_expect_success DOUBLE,FLOCK 'the registry is written under its lock: a holder is waited for' '
	ok= && reset && rm -f held && ok=1
	flock "$REG.lock" sh -c "touch held; sleep 2" &
	holder=$! && test "$ok" = 1 && i=0 &&
	until [ -e held ] || [ $i -ge 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	start=$(date +%s%N) &&
	publish --projects alpha >out 2>err &&
	end=$(date +%s%N) && wait $holder &&
	test $(((end - start) / 1000000)) -ge 1000 &&
	test_grep "^alpha  .*up to date$" out
'

test_expect_success DOUBLE 'a wrong password: each project fails, not a network error: 1' '
	reset &&
	test_expect_code 1 env GITEA_URL="$base" GITEA_ADMIN_USER=orket \
	    GITEA_ADMIN_PASSWORD=wrong-S3cr3t GITEA_PRODUCT_OWNER=acme \
	    orket-publish --repo-root repo --execute >out 2>err &&
	test_grep "^alpha  .*failed: unable to look up acme/alpha: .*401" out &&
	no_secret out err
'

test_expect_success DOUBLE 'a corrupt registry: 100 before any call, and left as it was' '
	reset && cp "$REG" reg.good && test_when_finished "cp reg.good $REG" &&
	n=$(lastseq) &&
	printf "[1, 2]" >"$REG" &&
	test_expect_code 100 publish >out 2>err &&
	test_grep "unable to load the registry" err &&
	test "$(cat "$REG")" = "[1, 2]" &&
	printf "{\"version\": 1, \"projects\": [}" >"$REG" &&
	test_expect_code 100 publish >out 2>err &&
	test_grep ! "Subtree commit" out &&
	! CALLS_SINCE=$n calls "/api/v1/\|\.git/"
'

test_expect_success DOUBLE 'the API down (connections reset): every project fails: 111' '
	reset &&
	control POST fault "{\"mode\":\"down\"}" >/dev/null &&
	test_expect_code 111 publish >out 2>err &&
	test_grep "^Done: 0 published, 3 failed, 2 skipped\.$" out &&
	control DELETE fault >/dev/null
'

test_expect_success DOUBLE 'the server gone: 111; some project failing otherwise: 1' '
	double_stop d &&
	test_expect_code 111 publish >out 2>err &&
	test_grep "^alpha  .*failed: unable to look up acme/alpha" out &&
	mkdir repo/product/a_b repo/product/a-b && echo 1 >repo/product/a_b/f &&
	echo 2 >repo/product/a-b/f && git -C repo add -A -- . ":!product/scratch" ":!.orket" && (cd repo && git_commit -m clash) &&
	test_expect_code 1 publish >out 2>err &&
	test_grep "collides" out
'

test_expect_success DOUBLE 'no secret in any output, log or file' '
	! grep -r -a -l -e "S3cr3t" -e "$TOK" -e 0d15ea5e --exclude="d.pw" --exclude="d.tok" .
'

double_stop d 2>/dev/null
test_done
