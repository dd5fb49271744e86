#!/bin/sh
# See LICENSE.
test_description='orket-publish: options, their gating, and the checks made before any project'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/publish-lib.sh"

unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_PRODUCT_OWNER \
    GITEA_PROJECT_SOURCE_DIR GITEA_CA_FILE

test_expect_success '--help prints the usage and exits 0' '
	orket-publish --help >out &&
	test_grep "^usage: orket-publish \[--repo-root dir\]" out &&
	orket-publish -h >out2 && test_cmp out out2
'

test_expect_success '--version' '
	orket-publish --version >out && test_grep "^orket-publish [0-9]" out
'

test_expect_success 'an unknown option or an operand is usage: 100' '
	test_expect_code 100 orket-publish --frobnicate 2>err &&
	test_grep "unknown option: --frobnicate" err && test_grep "^usage:" err &&
	test_expect_code 100 orket-publish extra 2>err &&
	test_grep "unexpected argument: extra" err &&
	test_expect_code 100 orket-publish --owner 2>err &&
	test_grep "option --owner needs a value" err
'

test_expect_success GIT 'setup: a monorepo' '
	mkrepo repo
'

test_expect_success GIT '--delete-local needs --execute, then --verify-parity: 100' '
	test_expect_code 100 orket-publish --repo-root repo --delete-local 2>err &&
	test_grep "delete-local requires --execute" err &&
	test_expect_code 100 orket-publish --repo-root repo --delete-local --execute 2>err &&
	test_grep "delete-local requires --verify-parity" err
'

test_expect_success GIT '--execute without credentials names what is missing: 100' '
	test_expect_code 100 orket-publish --repo-root repo --execute >out 2>err &&
	test_grep "missing required args/env: owner (--owner, GITEA_PRODUCT_OWNER), gitea_url" err &&
	test_grep "username" err && test_grep "password" err &&
	test_expect_code 100 env GITEA_TOKEN=$TOK orket-publish --repo-root repo --execute \
	    --owner o 2>err &&
	test_grep "missing required args/env: gitea_url" err && test_grep ! username err &&
	no_secret out err
'

test_expect_success GIT 'a password on the command line is warned about' '
	orket-publish --repo-root repo --password "$PW" >out 2>err &&
	test_grep "password is visible to other users" err &&
	no_secret out err
'

test_expect_success GIT 'a URL with credentials is refused without being echoed' '
	test_expect_code 100 orket-publish --repo-root repo \
	    --gitea-url "http://u:$PW@127.0.0.1:1/" >out 2>err &&
	test_grep "must not carry credentials" err && no_secret out err &&
	test_expect_code 100 orket-publish --repo-root repo --gitea-url 127.0.0.1:3000 2>err &&
	test_grep "must start with http:// or https://" err &&
	test_expect_code 100 orket-publish --repo-root repo --gitea-url "http://h/?x=1" 2>err &&
	test_grep "query" err
'

test_expect_success GIT 'bad owner, prefix, branch and source folder: 100' '
	test_expect_code 100 orket-publish --repo-root repo --owner "a/b" 2>err &&
	test_grep "owner may hold only" err &&
	test_expect_code 100 orket-publish --repo-root repo --repo-prefix "p x-" 2>err &&
	test_grep "repo-prefix may hold only" err &&
	test_expect_code 100 orket-publish --repo-root repo --branch "a..b" 2>err &&
	test_grep "not a valid branch name: a..b" err &&
	test_expect_code 100 orket-publish --repo-root repo --source-dir /abs/product 2>err &&
	test_grep "must be relative" err &&
	test_expect_code 100 orket-publish --repo-root repo --source-dir product/../docs 2>err &&
	test_grep "may not hold" err &&
	test_expect_code 100 orket-publish --repo-root repo --source-dir / 2>err &&
	test_grep "must be relative" err &&
	test_expect_code 100 orket-publish --repo-root repo --source-dir "" 2>err &&
	test_grep "empty" err
'

test_expect_success GIT 'a folder that is not the top of a work tree: 100' '
	mkdir notgit &&
	test_expect_code 100 orket-publish --repo-root notgit 2>err &&
	test_grep "not the top of a git work tree" err &&
	test_expect_code 100 orket-publish --repo-root repo/product 2>err &&
	test_grep "not the top of a git work tree" err &&
	test_expect_code 100 orket-publish --repo-root nowhere 2>err &&
	test_grep "unable to resolve the repo root nowhere" err
'

test_expect_success GIT 'a repository without a commit: 100' '
	git init -q -b main empty &&
	test_expect_code 100 orket-publish --repo-root empty 2>err &&
	test_grep "HEAD has no commit" err
'

test_expect_success GIT 'no project folder: 1, before any credential check' '
	test_expect_code 1 orket-publish --repo-root repo --source-dir nothing --execute >out &&
	test_grep "^No project folders found/selected under .*/repo/nothing\.$" out &&
	test_expect_code 1 orket-publish --repo-root repo --projects nope >out 2>err &&
	test_grep "No project folders" out &&
	test_grep "no project folder named nope" err
'

test_expect_success GIT 'a detached HEAD needs --branch to execute: 100' '
	git -C repo checkout -q --detach HEAD &&
	test_when_finished "git -C repo checkout -q main" &&
	orket-publish --repo-root repo >out &&
	test_grep "^Target branch: (HEAD is detached: --execute needs --branch)" out &&
	test_expect_code 100 env GITEA_ADMIN_PASSWORD=$PW orket-publish --repo-root repo \
	    --execute --owner o --gitea-url http://127.0.0.1:1 --username u 2>err &&
	test_grep "HEAD is detached" err && no_secret out err
'

test_expect_success GIT 'flags beat the environment' '
	test_expect_code 1 env GITEA_PROJECT_SOURCE_DIR=nothing orket-publish --repo-root repo >out &&
	test_grep "under .*/repo/nothing\.$" out &&
	GITEA_PROJECT_SOURCE_DIR=nothing orket-publish --repo-root repo --source-dir product/ \
	    --owner flagowner >out &&
	test_grep "Target: flagowner/alpha (branch: main)" out
'

test_done
