#!/bin/sh
# See LICENSE.
test_description='orket-publish --execute against the Gitea double: create, push, verify, record, re-publish, force'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/publish-lib.sh"

unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_PRODUCT_OWNER \
    GITEA_PROJECT_SOURCE_DIR GITEA_CA_FILE
command -v curl >/dev/null && test_have_prereq GIT,PYTHON3 && test_set_prereq DOUBLE
DOUBLE_GIT=$TRASH/d.git

test_expect_success DOUBLE 'setup: a monorepo, the double, an org and a user' '
	mkrepo repo &&
	split repo product/alpha >alpha.want && split repo product/Beta_Two >beta.want &&
	double_start d && echo "$base" >base &&
	control POST org "{\"name\":\"acme\"}" >/dev/null &&
	control POST user "{\"login\":\"bob\"}" >/dev/null
'
base=$(cat base 2>/dev/null)
ctl=${base}_control

test_expect_success DOUBLE 'publish under an org: created private, pushed, verified' '
	publish --private --verify-parity >out 2>err &&
	sed -n "/^Project: alpha$/,/^\$/p" out >alpha.out &&
	test_grep "^  Repo exists: False$" alpha.out &&
	test_grep "^  Repo created. (private)$" alpha.out &&
	test_grep "^  Subtree commit: $(cat alpha.want)$" alpha.out &&
	test_grep "^  Push: OK$" alpha.out && test_grep "^  Parity: OK$" alpha.out &&
	test "$(remote_head acme alpha)" = "$(cat alpha.want)" &&
	test "$(remote_head acme beta-two)" = "$(cat beta.want)" &&
	calls /api/v1/ >api &&
	test_grep "^GET /api/v1/repos/acme/alpha 404$" api &&
	test_grep "^POST /api/v1/orgs/acme/repos 201$" api &&
	test_grep ! "/user/repos" api &&
	control GET state >state &&
	python3 -c "
import json, sys
s = json.load(open(\"state\"))
r = s[\"repos\"]
assert r[\"acme/alpha\"][\"private\"] is True, r
assert r[\"acme/beta-two\"][\"private\"] is True, r
" &&
	test_grep "^alpha  *acme/alpha  *$(cut -c1-12 alpha.want)  *published, parity verified$" out &&
	test_grep "^Done: 2 published, 0 failed, 2 skipped\.$" out
'

test_expect_success DOUBLE 'the pushed branch is what git subtree split makes, history and all' '
	git clone -q --bare "$DOUBLE_GIT/acme/alpha.git" clone.git &&
	git -C clone.git log --format="%H %T %an %ae %ad %cn %ce %cd %s" main >got &&
	git -C repo log --format="%H %T %an %ae %ad %cn %ce %cd %s" "$(cat alpha.want)" >want &&
	test_cmp want got
'

test_expect_success DOUBLE 'the registry holds one record per project, fields in order' '
	cat >check-reg.py <<-\EOF &&
	import json, os, sys, re
	root = os.path.realpath("repo")
	reg = json.load(open("repo/.orket/project_publish_registry.json"))
	assert list(reg) == ["version", "projects"] and reg["version"] == 1, reg
	keys = ["source_dir", "project_name", "prefix", "repo", "branch", "local_path",
	    "last_published_sha", "last_remote_sha", "parity_verified", "last_published_at",
	    "archived_at", "archived_path", "deleted_at"]
	want = dict(arg.split("=", 1) for arg in sys.argv[2:])
	p = [r for r in reg["projects"] if r["project_name"] == sys.argv[1]]
	assert len(p) == 1, reg
	r = p[0]
	assert list(r)[:len(keys)] == keys, list(r)
	assert r["source_dir"] == "product" and r["prefix"] == "product/" + sys.argv[1], r
	assert r["local_path"] == root + "/product/" + sys.argv[1], r
	assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$",
	    r["last_published_at"]), r
	for k, v in want.items():
	    got = r[k]
	    if isinstance(got, bool) or got is None:
	        got = json.dumps(got)
	    assert got == v, (k, got, v)
	print(r["last_published_at"])
	EOF
	python3 check-reg.py alpha repo=acme/alpha branch=main \
	    last_published_sha=$(cat alpha.want) last_remote_sha=$(cat alpha.want) \
	    parity_verified=true archived_at=null archived_path=null deleted_at=null &&
	python3 check-reg.py Beta_Two repo=acme/beta-two last_published_sha=$(cat beta.want) &&
	test "$(python3 -c "import json; print(len(json.load(open(\"repo/.orket/project_publish_registry.json\"))[\"projects\"]))")" = 2 &&
	tail -c 1 repo/.orket/project_publish_registry.json | od -c | test_grep ! "\\\\n" -
'

test_expect_success DOUBLE 'nothing new: nothing pushed, the registry refreshed' '
	control POST reset "{\"state\":false,\"faults\":false}" >/dev/null &&
	python3 check-reg.py alpha >t1 &&
	sleep 0.01 && publish --projects alpha >out 2>err &&
	test_grep "^  Repo exists: True$" out && test_grep "^  Push: up to date$" out &&
	test_grep "^alpha  *acme/alpha  *[0-9a-f]*  *up to date$" out &&
	calls . >log && test_grep ! "receive-pack" log && test_grep ! "^POST /api" log &&
	python3 check-reg.py alpha parity_verified=false last_remote_sha= >t2 &&
	! test_cmp t1 t2 >/dev/null
'

test_expect_success DOUBLE 'a new commit is published as a fast-forward' '
	echo more >>repo/product/alpha/a.txt && git -C repo add -A -- . ":!product/scratch" ":!.orket" &&
	(cd repo && git_commit -m "alpha: more") && split repo product/alpha >alpha2.want &&
	publish --projects alpha --verify-parity >out 2>err &&
	test_grep "^  Push: OK$" out &&
	test "$(remote_head acme alpha)" = "$(cat alpha2.want)" &&
	git -C "$DOUBLE_GIT/acme/alpha.git" merge-base --is-ancestor \
	    "$(cat alpha.want)" "$(cat alpha2.want)" &&
	python3 check-reg.py alpha last_published_sha=$(cat alpha2.want) >/dev/null
'

test_expect_success DOUBLE 'under a user: created through the admin API, public' '
	(OWNER=bob && publish --projects Beta_Two >out 2>err) &&
	calls /api/v1/ >api &&
	test_grep "^POST /api/v1/orgs/bob/repos 404$" api &&
	test_grep "^POST /api/v1/admin/users/bob/repos 201$" api &&
	test "$(remote_head bob beta-two)" = "$(cat beta.want)" &&
	control GET state >state &&
	python3 -c "
import json
assert json.load(open(\"state\"))[\"repos\"][\"bob/beta-two\"][\"private\"] is False
"
'

# The remote moves to a commit of someone else's, not a descendant of the split.
diverge() {
	git -C "$DOUBLE_GIT/acme/alpha.git" commit-tree -m "someone else $1" \
	    "$(cat alpha.want)^{tree}" >other.sha &&
	git -C "$DOUBLE_GIT/acme/alpha.git" update-ref refs/heads/main "$(cat other.sha)"
}

test_expect_success DOUBLE 'a push that is not a fast-forward is refused without --force' '
	diverge 1 &&
	test_expect_code 1 publish --projects alpha >out 2>err &&
	test_grep "^alpha  *acme/alpha  *[0-9a-f]*  *failed: push to acme/alpha refused" out &&
	test_grep "not a fast-forward? --force replaces it" out &&
	test "$(remote_head acme alpha)" = "$(cat other.sha)"
'

test_expect_success DOUBLE '--force replaces it, with the head it saw as the lease' '
	publish --projects alpha --force --verify-parity >out 2>err &&
	test_grep "^  Push: OK$" out &&
	test "$(remote_head acme alpha)" = "$(cat alpha2.want)"
'

test_expect_success DOUBLE '--force with a stale lease is refused: a push in between is kept' '
	ready= &&
	diverge 2 &&
	control POST git "{\"mode\":\"stall\",\"seconds\":3,\"push\":true,\"count\":1}" \
	    >/dev/null &&
	n=$(lastseq) && ready=1
	{ publish --projects alpha --force >out 2>err; echo $? >rc; } &
	pid=$! && i=0 && test "$ready" = 1 &&
	# Once the ls-remote that read the lease is answered, someone else pushes, while
	# the push itself is held for 3 s.
	until CALLS_SINCE=$n calls "upload-pack 200" >/dev/null || [ $i -ge 100 ]; do
		sleep 0.05; i=$((i + 1));
	done &&
	diverge 3 &&
	wait $pid && test "$(cat rc)" = 1 &&
	test_grep "refused: .*someone else pushed" out &&
	test "$(remote_head acme alpha)" = "$(cat other.sha)"
'

test_expect_success DOUBLE 'a token instead of a password' '
	control POST reset "{\"state\":false,\"faults\":false}" >/dev/null &&
	env GITEA_URL="$base" GITEA_TOKEN="$TOK" GITEA_PRODUCT_OWNER=acme \
	    orket-publish --repo-root repo --execute --force --projects alpha >out 2>err &&
	test "$(remote_head acme alpha)" = "$(cat alpha2.want)" &&
	control GET calls | test_grep "\"auth\": *\"token\"" - &&
	control GET calls | test_grep ! "\"auth\": *\"bad\"" -
'

[ "${ORKET_VALGRIND:-}" = 1 ] || test_set_prereq NATIVE
test_expect_success DOUBLE,NATIVE '--password is blanked in the process'"'"'s own argv' '
	control POST fault "{\"mode\":\"stall\",\"seconds\":2,\"count\":1}" >/dev/null &&
	ok=
	env GITEA_URL="$base" GITEA_ADMIN_USER=orket GITEA_PRODUCT_OWNER=acme \
	    orket-publish --repo-root repo --execute --projects alpha --password "$PW" \
	    >out 2>err &
	pid=$! && i=0 &&
	until tr "\0" " " </proc/$pid/cmdline 2>/dev/null | grep -e "--password xxx" >cmdline ||
	    [ $i -ge 100 ]; do
		sleep 0.02; i=$((i + 1));
	done &&
	test_grep "^orket-publish .* --password xxxxxxxxxxxxxxxxxxx *$" cmdline && ok=1
	wait $pid && test "$ok" = 1 &&
	test_grep "password is visible to other users" err
'

test_expect_success DOUBLE 'the password and the token are nowhere: output, logs, repo, registry' '
	double_stop d &&
	! grep -r -a -l -e "S3cr3t" -e "$TOK" -e 0d15ea5e --exclude="d.pw" --exclude="d.tok" \
	    --exclude="*.sh" . 
'

double_stop d 2>/dev/null
test_done
