#!/bin/sh
# See LICENSE. The publish benchmark (SPEC §10): on a generated N-commit history (merges, the
# prefix touched by about a third of the commits), `git subtree split` and lib/split (through
# t/tools/split, cold cache) side by side in one run, each in its own copy of the repository
# so that each writes every split commit itself; both must print the same id. Then the
# re-split with nothing new (warm cache; median of WARM_RUNS runs) and with one new commit.
# Writes bench/results/DATE_publish.json. Exit 0 whether or not the targets are met (a
# measurement); 1 when a check fails; 100 when a tool is missing.
#
# Environment: N (5000 commits), PREFIX (p), WARM_RUNS (9), SPLIT (another split tool),
# KEEP=1 keeps the scratch folder.
#
# To add a measurement: a function that calls `measure NAME [--cwd DIR] -- COMMAND...` (one
# run; NAME.K for repeats, reported as their median) and a call in the main part below;
# ratios and targets are listed in bench/publish/report.py.
set -eu
export LC_ALL=C TZ=UTC GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/bench/publish
N=${N:-5000}
PREFIX=${PREFIX:-p}
WARM_RUNS=${WARM_RUNS:-9}

say() { printf 'publish.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- tools ---------------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || { say "python3 is needed"; exit 100; }
command -v git >/dev/null 2>&1 || { say "git is needed"; exit 100; }
git subtree -h >/dev/null 2>&1 || [ $? = 129 ] || { say "git subtree is needed"; exit 100; }
# Built only when missing: another make may be running in this tree.
split=${SPLIT:-$top/build/t/tools/split}
uptodate=true
if [ -z "${SPLIT:-}" ]; then
	if [ ! -x "$split" ]; then
		say "building: make progs"
		make -s -C "$top" progs >&2 || die "make progs failed"
	elif ! make -q -C "$top" progs >/dev/null 2>&1; then
		say "warning: $split is older than its sources (make progs); measured as it is"
		uptodate=false
	fi
fi
[ -x "$split" ] || die "no $split"

work=$(mktemp -d /tmp/bench-publish.XXXXXX)
cleanup() { [ "${KEEP:-}" = 1 ] && say "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$work/m"

# measure NAME [--cwd DIR] -- COMMAND...: one timed run into $work/m/NAME.json.
measure() {
	mn=$1
	shift
	python3 "$here/timed.py" "$work/m/$mn.json" "$@"
}

# printed NAME: what that run printed.
printed() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["stdout"])' "$work/m/$1.json"
}

# ---- the history ---------------------------------------------------------------------
make_history() {
	say "generating a $N-commit history"
	sh "$top/t/gen-history.sh" big "$work/src" "$N" >/dev/null
	# One copy per contender: each writes its own split commits.
	cp -a "$work/src" "$work/subtree"
	cp -a "$work/src" "$work/ours"
}

# ---- the contenders --------------------------------------------------------------------
bench_git_subtree() {
	say "git subtree split --prefix=$PREFIX (this takes a while)"
	measure git_subtree_split --cwd "$work/subtree" -- \
	    git subtree split -q --prefix="$PREFIX" HEAD >/dev/null
}

bench_split() {
	say "split, cold cache"
	measure split_cold -- "$split" "$work/ours" "$PREFIX" HEAD --cache "$work/cache" >/dev/null
	say "split, warm cache, nothing new ($WARM_RUNS runs)"
	i=1
	while [ $i -le "$WARM_RUNS" ]; do
		measure "split_warm.$i" -- "$split" "$work/ours" "$PREFIX" HEAD \
		    --cache "$work/cache" >/dev/null
		i=$((i + 1))
	done
	# One new commit touching the prefix: the cache walks just that one.
	(cd "$work/ours" && echo new >>"$PREFIX/new" && git add "$PREFIX/new" &&
	    GIT_AUTHOR_NAME=B GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=B \
	    GIT_COMMITTER_EMAIL=b@example.com GIT_AUTHOR_DATE='1800000000 +0000' \
	    GIT_COMMITTER_DATE='1800000000 +0000' git commit -q -m 'one new commit')
	say "split, warm cache, one new commit"
	measure split_one_new -- "$split" "$work/ours" "$PREFIX" HEAD --cache "$work/cache" >/dev/null
	# The same answer without the cache, in a copy that has none of the split commits.
	rm -rf "$work/check" && cp -a "$work/ours" "$work/check"
	rm -rf "$work/check/.git/objects/pack" && cp -a "$work/src/.git/objects/pack" \
	    "$work/check/.git/objects/pack"
	measure check_one_new_cold -- "$split" "$work/check" "$PREFIX" HEAD >/dev/null
}

# ---- orket-publish itself (added for cmd/orket-publish) --------------------------------
# orket-publish splits SOURCE/NAME folders, so it runs on the same history with p moved to
# product/p (fast-export | fast-import: the same graph and content, one folder deeper), next
# to git subtree split of product/p on a copy of that repository. Then, against the Gitea
# double over loopback, a first --execute that creates and pushes, and WARM_RUNS re-publishes
# with nothing new (REST lookup, ls-remote, no push). Skipped when the binary is missing.
bench_orket_publish() {
	pub=$top/build/bin/orket-publish
	if [ ! -x "$pub" ]; then
		say "no $pub: orket-publish not measured"
		return 0
	fi
	say "orket-publish: the history again with p under product/"
	git -C "$work" init -q -b main pub
	git -C "$work/src" fast-export --all |
	    sed 's#^\(M [0-7]* [^ ]* \)p/#\1product/p/#' |
	    git -C "$work/pub" fast-import --quiet
	git -C "$work/pub" reset -q --hard main
	cp -a "$work/pub" "$work/pub-subtree"
	say "orket-publish dry run, cold split cache"
	measure publish_dry_cold -- "$pub" --repo-root "$work/pub" --projects p >/dev/null
	say "git subtree split --prefix=product/p (this takes a while)"
	measure publish_git_subtree_split --cwd "$work/pub-subtree" -- \
	    git subtree split -q --prefix=product/p HEAD >/dev/null

	say "orket-publish --execute against the Gitea double"
	printf 'bench-pw-%s' "$$" >"$work/double.pw"
	python3 "$top/t/gitea-git-double.py" --port 0 --port-file "$work/double.port" \
	    --git-root "$work/double-git" --user orket --password-file "$work/double.pw" \
	    --lifetime 900 2>"$work/double.err" &
	dpid=$!
	i=0
	while [ ! -s "$work/double.port" ] && [ $i -lt 200 ] && kill -0 "$dpid" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	if [ ! -s "$work/double.port" ]; then
		kill "$dpid" 2>/dev/null
		die "the Gitea double did not start: $(cat "$work/double.err")"
	fi
	durl=http://localhost:$(cat "$work/double.port")/
	curl -sS -f -o /dev/null -X POST -H 'Content-Type: application/json' \
	    --data-binary '{"name":"bench"}' "${durl}_control/org" ||
	    { kill "$dpid"; die "unable to create the org in the double"; }
	export GITEA_URL="$durl" GITEA_ADMIN_USER=orket GITEA_PRODUCT_OWNER=bench
	GITEA_ADMIN_PASSWORD=$(cat "$work/double.pw")
	export GITEA_ADMIN_PASSWORD
	measure publish_first -- "$pub" --repo-root "$work/pub" --projects p --execute \
	    --verify-parity >/dev/null || { kill "$dpid"; die "the first publish failed"; }
	say "orket-publish --execute, nothing new ($WARM_RUNS runs)"
	i=1
	while [ $i -le "$WARM_RUNS" ]; do
		measure "publish_nothing_new.$i" -- "$pub" --repo-root "$work/pub" --projects p \
		    --execute >/dev/null || { kill "$dpid"; die "a re-publish failed"; }
		i=$((i + 1))
	done
	remote_head=$(git -C "$work/double-git/bench/p.git" rev-parse refs/heads/main)
	kill "$dpid"
	wait "$dpid" 2>/dev/null || true
	unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_PRODUCT_OWNER
}

# publish_checks: orket-publish printed git's split, pushed it, and never pushed again.
publish_checks() {
	[ -f "$work/m/publish_dry_cold.json" ] || return 0
	theirs=$(printed publish_git_subtree_split)
	printed publish_dry_cold | grep "^  Subtree commit: $theirs\$" >/dev/null && [ -n "$theirs" ] ||
	    { say "FAIL: orket-publish's split is not git subtree split's $theirs"; return 1; }
	[ "$remote_head" = "$theirs" ] ||
	    { say "FAIL: the double holds $remote_head, not $theirs"; return 1; }
	printed "publish_nothing_new.$WARM_RUNS" | grep '^  Push: up to date$' >/dev/null ||
	    { say "FAIL: a re-publish with nothing new did not say up to date"; return 1; }
}

# ---- main ----------------------------------------------------------------------------
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
make_history
bench_split
bench_git_subtree
bench_orket_publish

rc=0
theirs=$(printed git_subtree_split)
cold=$(printed split_cold)
warm=$(printed "split_warm.$WARM_RUNS")
[ -n "$theirs" ] && [ "$theirs" = "$cold" ] && [ "$cold" = "$warm" ] ||
    { say "FAIL: git subtree split printed '$theirs', split cold '$cold', warm '$warm'"; rc=1; }
[ "$(printed split_one_new)" = "$(printed check_one_new_cold)" ] ||
    { say "FAIL: after one new commit the cached split differs from a cold one"; rc=1; }
git -C "$work/ours" rev-list --objects "$cold" >/dev/null ||
    { say "FAIL: the split commits are not all in the repository"; rc=1; }
publish_checks || rc=1

date=$(date -u +%F)
mkdir -p "$top/bench/results"
out=$top/bench/results/${date}_publish.json
R_DATE=$date \
R_MACHINE="$(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)" \
R_LOAD=$load \
R_COMMIT=$(git -C "$top" rev-parse --short HEAD) \
R_DIRTY=$(git -C "$top" status --porcelain -- lib/split.c t/tools/split.c bench/publish.sh bench/publish) \
R_GIT=$(git --version) \
R_COMMITS=$(git -C "$work/src" rev-list --count HEAD) \
R_MERGES=$(git -C "$work/src" rev-list --count --merges HEAD) \
R_TOUCHING=$(git -C "$work/src" rev-list --count HEAD -- "$PREFIX") \
R_SPLIT_COMMITS=$(git -C "$work/ours" rev-list --count "$cold") \
R_PREFIX=$PREFIX \
R_WHAT="git subtree split --prefix=$PREFIX HEAD vs t/tools/split (lib/split) with a cold cache, each in its own copy of the repository (each writes its split commits); then re-splits with the cache: nothing new (median), and one new commit; binary up to date: $uptodate" \
    python3 "$here/report.py" "$work" "$out"
say "wrote $out"
exit $rc
