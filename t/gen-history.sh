#!/bin/sh
# See LICENSE. Generates deterministic git histories for the split tests and benchmark.
#
# usage: sh t/gen-history.sh SCENARIO DIR [N]
#
# Every date, name and message is fixed, so one scenario always gives the same commit ids.
# Scenarios: linear, merges, renames, vanish, i18n, messages, idents, rejoin, nested,
# big (N commits, default 5000, with merges; the prefix "p" touched in about a third).
set -e

scenario=$1
dir=$2
n=${3:-5000}
[ -n "$scenario" ] && [ -n "$dir" ] || { echo "usage: gen-history.sh SCENARIO DIR [N]" >&2; exit 100; }

export LC_ALL=C TZ=UTC GIT_CONFIG_NOSYSTEM=1 HOME=${HOME:-/tmp}
export GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL='author@example.com'
export GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL='committer@example.com'
tick=1700000000
tz=+0000
RAW_AUTHOR=
RAW_COMMITTER=
RAW_ENCODING=
RAW_EXTRA=

rm -rf "$dir"
git init -q -b main "$dir"
cd "$dir"
git config core.autocrlf false
git config commit.gpgsign false
git config gc.auto 0

# The next commit's dates: one minute later each time, in the zone $tz.
next() {
	tick=$((tick + 60))
	export GIT_AUTHOR_DATE="$tick $tz" GIT_COMMITTER_DATE="$tick $tz"
}

# c MSG PATH...: append a line to each PATH (creating folders) and commit.
c() {
	msg=$1
	shift
	for f in "$@"; do
		mkdir -p "$(dirname "$f")"
		echo "$msg" >>"$f"
		git add "$f"
	done
	next
	git commit -q --allow-empty -m "$msg"
}

# raw TREE MSGFILE PARENT...: a commit object written as is (no clean-up, no UTF-8 fix);
# RAW_AUTHOR, RAW_COMMITTER (whole ident values), RAW_ENCODING and RAW_EXTRA (more header
# lines) change it. HEAD moves there.
raw() {
	rt=$1 rm=$2
	shift 2
	next
	{
		echo "tree $rt"
		for rp in "$@"; do echo "parent $rp"; done
		echo "author ${RAW_AUTHOR:-$GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL> $GIT_AUTHOR_DATE}"
		echo "committer ${RAW_COMMITTER:-$GIT_COMMITTER_NAME <$GIT_COMMITTER_EMAIL> $GIT_COMMITTER_DATE}"
		[ -z "$RAW_ENCODING" ] || echo "encoding $RAW_ENCODING"
		[ -z "$RAW_EXTRA" ] || printf '%s\n' "$RAW_EXTRA"
		echo
		cat "$rm"
	} >../raw.obj.$$
	id=$(git hash-object -t commit -w --literally ../raw.obj.$$)
	rm -f ../raw.obj.$$
	git update-ref HEAD "$id"
	git reset -q --hard "$id"
}

# bump: change p/a and stage it, for the next raw commit.
bump() {
	mkdir -p p
	echo "$1" >>p/a
	git add p/a
}

case $scenario in
linear)
	c 'root' README
	c 'first p' p/a
	c 'other only' other/x
	c 'both' p/a other/x
	c 'second p' p/b
	c 'empty'
	c 'third p' p/sub/c
	git rm -q p/b && next && git commit -q -m 'remove p/b'
	c 'fourth p' p/a
	;;
merges)
	c 'root' README
	c 'p starts' p/a
	git branch side
	git branch other
	c 'main p 1' p/a
	c 'main x' x
	git checkout -q side
	c 'side p 1' p/b
	c 'side y' y
	git checkout -q other
	c 'other only, no p' z
	c 'other only 2' z
	git checkout -q main
	next && git merge -q --no-ff -m 'merge side (both touch p)' side
	next && git merge -q --no-ff -m 'merge other (no p change)' other
	# criss-cross
	git checkout -q -b cc1 main
	c 'cc1 p' p/cc1
	git checkout -q -b cc2 main
	c 'cc2 p' p/cc2
	git checkout -q cc1
	next && git merge -q --no-ff -m 'cc1 merges cc2' cc2
	git checkout -q cc2
	next && git merge -q --no-ff -m 'cc2 merges cc1' cc1~1
	c 'cc2 more' p/cc2
	git checkout -q cc1
	next && git merge -q --no-ff -m 'criss-cross merge' cc2
	git checkout -q main
	next && git merge -q --no-ff -m 'merge criss-cross' cc1
	# octopus: three branches, one without p changes
	git branch o1 && git branch o2 && git branch o3
	git checkout -q o1 && c 'o1 p' p/o1
	git checkout -q o2 && c 'o2 only q' q/o2
	git checkout -q o3 && c 'o3 p' p/o3
	git checkout -q main
	next && git merge -q --no-ff -m 'octopus' o1 o2 o3
	# the same change made on two branches: both sides have the same p tree
	git checkout -q -b twin main
	c 'twin' p/same
	git checkout -q main
	c 'twin' p/same
	next && git merge -q --no-ff -m 'merge twin' twin
	# a side branch that adds and then removes a p file: same p tree, other history
	git checkout -q -b detour main
	c 'detour in' p/tmp
	git rm -q p/tmp && next && git commit -q -m 'detour out'
	git checkout -q main
	c 'main x again' x
	next && git merge -q --no-ff -m 'merge detour' detour
	c 'after merges' p/a
	;;
renames)
	c 'root' README
	c 'outside' lib/file
	git mv lib p && next && git commit -q -m 'move lib into p'
	c 'edit' p/file
	git mv p/file top-file && next && git commit -q -m 'move a file out of p'
	c 'edit p' p/new
	git mv p p2 && next && git commit -q -m 'rename p away'
	git mv p2 p && next && git commit -q -m 'rename p back'
	c 'last' p/new
	;;
vanish)
	c 'root' README
	c 'p appears' p/a
	c 'p grows' p/a
	git rm -q -r p && next && git commit -q -m 'p vanishes'
	c 'no p here' x
	c 'still no p' x
	c 'p returns' p/a
	c 'p grows again' p/b
	git branch back
	git rm -q -r p && next && git commit -q -m 'p vanishes again'
	c 'after' x
	# a branch without p merged into one with it
	git checkout -q -b gone main
	c 'gone side' y
	git checkout -q back
	c 'back p' p/c
	next && git merge -q --no-ff -m 'merge gone into back' gone
	git checkout -q main
	;;
i18n)
	c 'root' README
	c 'p' p/a
	# Latin-1 bytes without an encoding header (commit-tree makes them UTF-8).
	printf 'caf\351 au lait\n\nna\357ve body \344\366\374\n' >../msg.$$
	bump 1 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	# Latin-1 with an encoding header (log re-encodes it to UTF-8).
	RAW_ENCODING=ISO-8859-1
	bump 2 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	RAW_ENCODING=latin-1
	bump 2b && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	# UTF-8 in a commit that claims Latin-1: it is converted twice over.
	printf 'd\303\251j\303\240 vu \342\202\254\n' >../msg.$$
	RAW_ENCODING=ISO-8859-1
	bump 3 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	# A header that says UTF-8; then plain UTF-8.
	RAW_ENCODING=utf-8
	bump 4 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	RAW_ENCODING=
	bump 5 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	# A bogus encoding name: iconv fails and the text is taken as is.
	printf 'caf\351 unknown\n' >../msg.$$
	RAW_ENCODING=x-no-such-charset
	bump 6 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	RAW_ENCODING=
	# An overlong sequence, a lone continuation byte, a surrogate, a non-character.
	printf 'bad \300\257 and \200 end \355\240\200 \357\277\276 \364\220\200\200\n' >../msg.$$
	bump 7 && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	rm -f ../msg.$$
	;;
messages)
	c 'root' README
	for m in 'subject only, no newline' '' '\n\n  leading blank lines\n\n\nbody\n\n\n' \
	    'multi\nline\nsubject\n\nbody line 1\n  indented\\ with backslash \\\\\ttab\n# not a comment\n' \
	    'trailing spaces   \n\nbody   \n   \n' 'CRLF\r\n\r\nbody\r\n' '\n' 'x\\'; do
		printf "$m" >../msg.$$
		bump "$m" && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	done
	# A signature header (continued lines, one of them blank): the copy drops it.
	RAW_EXTRA=$(printf 'gpgsig -----BEGIN PGP SIGNATURE-----\n \n author not-a-header\n -----END PGP SIGNATURE-----')
	printf 'signed\n' >../msg.$$
	bump signed && raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	RAW_EXTRA=
	rm -f ../msg.$$
	;;
idents)
	c 'root' README
	tz=+0530
	GIT_AUTHOR_NAME='Dr. Who.'
	c 'crud in the name' p/a
	tz=-0800
	GIT_AUTHOR_NAME='A U Thor'
	c 'west coast' p/a
	tz=+1245
	GIT_COMMITTER_NAME="O'Brien, \"Bob\""
	c 'quotes' p/a
	GIT_COMMITTER_NAME='C O Mitter'
	tz=-0000
	c 'minus zero' p/a
	tz=+0000
	printf 'msg\n' >../msg.$$
	for who in '  Spaced   Out   <  sp@example.com > 1700000000 +0100' \
	    'Back\\slash <b@example.com> 1700000001 +0000' \
	    'J. R. <<j@example.com>> 1700000003 +0000' \
	    'Epoch <e@example.com> 0 +0000' \
	    'Tab\tName <t@example.com> 1700000004 +0000' \
	    'UTF-8 N\303\244me <u@example.com> 1700000005 +0000' \
	    'Latin N\344me <l@example.com> 1700000006 +0000' \
	    'Odd Zone <oz@example.com> 1700000008 +0545' \
	    'Far Zone <fz@example.com> 1700000009 -1200'; do
		bump "$who"
		RAW_AUTHOR=$(printf "$who")
		raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	done
	RAW_AUTHOR=
	bump c
	RAW_COMMITTER='Committer. <c@example.com> 1700000100 +0200'
	raw "$(git write-tree)" ../msg.$$ "$(git rev-parse HEAD)"
	RAW_COMMITTER=
	rm -f ../msg.$$
	;;
rejoin)
	c 'root' README
	c 'p 1' p/a
	c 'x' x
	c 'p 2' p/a
	next
	git subtree split -q --prefix=p --rejoin >/dev/null 2>&1
	c 'p 3 after rejoin' p/a
	c 'x 2' x
	next
	git subtree split -q --prefix=p --rejoin >/dev/null 2>&1
	c 'p 4' p/b
	# an added subtree q, and a squashed one s
	git checkout -q --orphan lib
	git rm -q -r -f . >/dev/null
	c 'lib root' file
	c 'lib 2' file
	git checkout -q main
	next
	git subtree add -q --prefix=q lib >/dev/null 2>&1
	c 'q edit' q/file
	next
	git subtree add -q --squash --prefix=s lib >/dev/null 2>&1
	c 's edit' s/file
	c 'p 5' p/a
	;;
nested)
	c 'root' README
	c 'a' a/x
	c 'abc 1' a/b/c/file
	c 'ab only' a/b/y
	c 'abc 2' a/b/c/file
	c 'other in b' a/b/other
	c 'abc 3' a/b/c/deeper/f
	;;
big)
	# n commits in all; every 50th step on main merges a side branch (one or two commits)
	# forked three commits earlier; the prefix p is touched by about a third of the commits. fast-import makes
	# it in seconds where one `git commit` per commit takes minutes.
	awk -v n="$n" -v t="$tick" '
	function commit(mark, ref, msg, parents, path, content,   np, i, p) {
		t += 60
		printf "commit %s\nmark :%d\n", ref, mark
		printf "author A U Thor <author@example.com> %d +0000\n", t
		printf "committer C O Mitter <committer@example.com> %d +0000\n", t
		printf "data %d\n%s\n", length(msg) + 1, msg
		np = split(parents, p, " ")
		if (np >= 1) printf "from :%d\n", p[1]
		for (i = 2; i <= np; i++) printf "merge :%d\n", p[i]
		if (path != "") printf "M 100644 inline %s\ndata %d\n%s\n", path, length(content) + 1, content
		printf "\n"
	}
	BEGIN {
		mark = 1; nm = 1; main[1] = 1
		commit(1, "refs/heads/main", "root", "", "README", "root")
		i = 1
		while (mark < n) {
			if (i % 50 == 0 && nm > 3 && mark + 3 <= n) {
				mark++
				commit(mark, "refs/heads/side", "side " i, main[nm - 3], "side/" (i % 7), "side " i)
				side = mark
				if (i % 100 == 0) {
					mark++
					commit(mark, "refs/heads/side", "side p " i, side, "p/side" (i % 5), "s " i)
					side = mark
				}
				mark++
				commit(mark, "refs/heads/main", "merge side " i, main[nm] " " side, "", "")
				main[++nm] = mark
				i++
				continue
			}
			mark++
			k = i % 3
			if (k == 0) { path = "p/f" (i % 11); msg = "p " i }
			else if (k == 1) { path = "src/f" (i % 13); msg = "src " i }
			else { path = "doc/f" (i % 5); msg = "doc " i }
			commit(mark, "refs/heads/main", msg, main[nm], path, msg)
			main[++nm] = mark
			i++
		}
	}' </dev/null | git fast-import --quiet
	git branch -q -D side 2>/dev/null || true
	git reset -q --hard main
	;;
*)
	echo "gen-history.sh: unknown scenario $scenario" >&2
	exit 100
	;;
esac
git checkout -q main 2>/dev/null || true
