# See LICENSE. Helpers for the orket-clean tests (t/50xx): real git repositories, a registry
# written through lib/registry's test tool, split commits made by git subtree itself.

REG=$TEST_TOP/build/t/tools/registry
command -v git >/dev/null && git subtree -h 2>&1 | grep -q 'git subtree' && test_set_prereq GIT
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.com GIT_CONFIG_NOSYSTEM=1 HOME=$TRASH

# ago N: the epoch time N days (and optional extra seconds, $2) before now. It reads the
# clock each time: under valgrind a script runs for minutes, and a threshold test that
# sets a time a minute short of N days must run within that minute of setting it.
ago() { echo $(($(date +%s) - $1 * 86400 - ${2:-0})); }
# iso EPOCH: Python isoformat in UTC.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S+00:00; }
# age PATH EPOCH: every file and folder in PATH gets that mtime.
age() { find "$1" -exec touch -h -d "@$2" {} + ; }

# new_repo DIR PROJECT...: a monorepo with product/PROJECT/{a.txt,sub/b.txt} committed,
# *.db ignored.
new_repo() {
	nr_dir=$1
	shift
	rm -rf "$nr_dir" && mkdir -p "$nr_dir" && git -C "$nr_dir" init -q -b main &&
	echo '*.db' >"$nr_dir/.gitignore" && echo root >"$nr_dir/README" || return 1
	for nr_p in "$@"; do
		mkdir -p "$nr_dir/product/$nr_p/sub" && echo "a $nr_p" >"$nr_dir/product/$nr_p/a.txt" &&
		echo "b $nr_p" >"$nr_dir/product/$nr_p/sub/b.txt" || return 1
	done
	git -C "$nr_dir" add -A && git -C "$nr_dir" commit -q -m init
}

# publish DIR PROJECT [DAYS] [KEY VALUE]...: the record orket-publish writes after a
# verified push, with last_published_at DAYS ago (default 60) and the project aged as much.
# Extra KEY VALUE pairs are set afterwards (-null, -true, -false as the tool takes them).
publish() {
	pb_dir=$1 pb_p=$2 pb_days=${3:-60}
	shift 3 2>/dev/null || shift $#
	pb_sha=$(git -C "$pb_dir" subtree split --prefix="product/$pb_p" HEAD 2>/dev/null) &&
	pb_abs=$(cd "$pb_dir" && pwd -P) && pb_reg=$pb_dir/.orket/project_publish_registry.json &&
	pb_t=$(ago "$pb_days") || return 1
	for kv in "prefix product/$pb_p" "repo org/$pb_p" "branch main" \
	    "local_path $pb_abs/product/$pb_p" "last_published_sha $pb_sha" \
	    "last_remote_sha $pb_sha" "parity_verified -true" "last_published_at $(iso "$pb_t")" \
	    "archived_at -null" "archived_path -null" "deleted_at -null" "note kept"; do
		"$REG" set "$pb_reg" product "$pb_p" "${kv%% *}" "${kv#* }" || return 1
	done
	while [ $# -ge 2 ]; do
		"$REG" set "$pb_reg" product "$pb_p" "$1" "$2" || return 1
		shift 2
	done
	[ ! -d "$pb_dir/product/$pb_p" ] || age "$pb_dir/product/$pb_p" "$pb_t"
}

# field DIR PROJECT KEY: a record's string field, "(none)" when absent or not a string.
field() {
	"$REG" get "$1/.orket/project_publish_registry.json" product "$2" "$3" | sed 's/ bool=.*//'
}

# clean DIR ARGS...: orket-clean in DIR; stdout in out.json, stderr in err.
clean() {
	cl_dir=$1
	shift
	(cd "$cl_dir" && orket-clean "$@") >out.json 2>err
}

# The JSON report, one line per list entry: "archived demo", "skipped demo git_dirty".
summary() {
	python3 -c '
import json, sys
d = json.load(open("out.json"))
for a in d["archived"]: print("archived", a["project"])
for a in d["deleted"]: print("deleted", a["project"])
for a in d["skipped"]: print("skipped", a["project"], a["reason"])
print("execute", d["execute"], d["archive_days"], d["hard_delete_days"])
'
}
