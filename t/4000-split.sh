#!/bin/sh
# See LICENSE.
test_description='lib/split against git subtree split: the same commit ids, at every commit'
. "$(dirname "$0")/lib.sh"

SPLIT=${SPLIT:-"$TEST_TOP/build/t/tools/split"}
# Under t/4900: the glibc build behind valgrind, and fewer commits (the tip of main only).
if [ "${ORKET_VALGRIND:-}" = 1 ]; then
	: "${ORKET_VGLOG:=$TRASH/vglog}"
	mkdir -p "$ORKET_VGLOG"
	cat >"$TRASH/.bin/split-vg" <<WRAP
#!/bin/sh
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \\
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=97 \\
    --log-file="$ORKET_VGLOG/split.%p.log" "$TEST_TOP/build/vg/t/tools/split" "\$@"
WRAP
	chmod +x "$TRASH/.bin/split-vg"
	SPLIT=$TRASH/.bin/split-vg
	SPLIT_TIPS_ONLY=1
fi
GEN=$TEST_DIR/gen-history.sh
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null FILTER_BRANCH_SQUELCH_WARNING=1
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com

test_line_count_is() {
	test "$(wc -l <"$1")" -eq "$2"
}

git subtree -h >/dev/null 2>&1; [ $? = 129 ] && test_set_prereq SUBTREE

# same_as_subtree REPO PREFIX [COMMIT...]: split at each commit (all commits of all branches
# by default) with our tool, in a copy of REPO so that it writes every object itself, and
# with git subtree split in REPO; the ids, the exit status (zero or not) and the full lists
# of split commits must agree, and the copy must hold every object of our answers.
same_as_subtree() {
	sr=$1 sp=$2
	shift 2
	rm -rf "$sr.ours" && cp -a "$sr" "$sr.ours" || return 1
	mkdir -p "$sr/$sp"	# git subtree wants the folder in the work tree
	if [ $# = 0 ] && [ "${SPLIT_TIPS_ONLY:-}" = 1 ]; then
		set -- $(git -C "$sr" rev-parse main)
	fi
	[ $# -gt 0 ] || set -- $(git -C "$sr" rev-list --all)
	sn=0 sbad=0
	for sc in "$@"; do
		ours=$("$SPLIT" "$sr.ours" "$sp" "$sc" ${SPLIT_CACHE:+--cache "$SPLIT_CACHE"} 2>>split.err)
		orc=$?
		theirs=$(cd "$sr" && git subtree split --prefix="$sp" "$sc" 2>/dev/null)
		trc=$?
		sn=$((sn + 1))
		[ $orc = 0 ] && ok1=y || ok1=n
		[ $trc = 0 ] && ok2=y || ok2=n
		if [ "$ours" != "$theirs" ] || [ $ok1 != $ok2 ] || { [ $orc != 0 ] && [ $orc != 1 ]; }; then
			echo "differ at $sc: ours $ours (exit $orc), git subtree $theirs (exit $trc)"
			sbad=$((sbad + 1))
			continue
		fi
		[ $orc = 0 ] || continue
		git -C "$sr.ours" rev-list --parents "$ours" >ours.list &&
		git -C "$sr" rev-list --parents "$theirs" >theirs.list &&
		test_cmp theirs.list ours.list &&
		git -C "$sr.ours" rev-list --objects "$ours" >/dev/null || sbad=$((sbad + 1))
	done
	echo "$sr $sp: $sn commits, $sbad differ"
	[ $sn -gt 0 ] && [ $sbad = 0 ]
}

for s in linear merges renames vanish i18n messages idents rejoin nested; do
	test_expect_success SUBTREE "generate the $s history" "sh '$GEN' $s $s >/dev/null 2>&1"
done

test_expect_success SUBTREE 'a linear history with empty commits' '
	same_as_subtree linear p
'

test_expect_success SUBTREE 'merges: one-sided, criss-cross, octopus, twins, detours' '
	same_as_subtree merges p
'

test_expect_success SUBTREE 'renames into and out of the prefix' '
	same_as_subtree renames p
'

test_expect_success SUBTREE 'a prefix that appears, vanishes and returns (and tips without it)' '
	same_as_subtree vanish p
'

test_expect_success SUBTREE 'the same with a commit-graph (git walks in another way)' '
	rm -rf vanish-cg && cp -a vanish vanish-cg &&
	git -C vanish-cg commit-graph write --reachable &&
	same_as_subtree vanish-cg p
'

test_expect_success SUBTREE 'non-UTF-8 messages, with and without an encoding header' '
	same_as_subtree i18n p
'

for cfg in 'i18n.commitEncoding ISO-8859-1' 'i18n.logOutputEncoding ISO-8859-1' \
    'i18n.commitEncoding UTF8' 'i18n.commitEncoding latin-1'; do
	test_expect_success SUBTREE "non-UTF-8 messages with $cfg" "
		rm -rf enc && cp -a i18n enc && git -C enc config $cfg &&
		same_as_subtree enc p
	"
done

test_expect_success SUBTREE 'messages: empty, no final newline, blank lines, CRLF, backslashes, gpgsig' '
	same_as_subtree messages p
'

test_expect_success SUBTREE 'idents: crud, odd mails, time zones, epoch, Latin-1 names' '
	same_as_subtree idents p
'

test_expect_success SUBTREE 'idents re-encoded for a Latin-1 repository' '
	rm -rf idents-l1 && cp -a idents idents-l1 &&
	git -C idents-l1 config i18n.commitEncoding ISO-8859-1 &&
	same_as_subtree idents-l1 p
'

test_expect_success SUBTREE 'earlier --rejoin splits and subtree add trailers (p, q, squashed s)' '
	same_as_subtree rejoin p &&
	same_as_subtree rejoin q &&
	same_as_subtree rejoin s
'

test_expect_success SUBTREE 'a nested prefix, and its parents' '
	same_as_subtree nested a/b/c &&
	same_as_subtree nested a/b &&
	same_as_subtree nested a
'

test_expect_success SUBTREE 'a prefix that is not a valid regex (git log fails, git subtree goes on)' '
	rm -rf rx && sh "$GEN" linear rx >/dev/null 2>&1 &&
	git -C rx mv p "x[y" && git -C rx commit -q -m "to x[y" &&
	same_as_subtree rx "x[y"
'

test_expect_success SUBTREE 'a prefix that never existed: exit 1 and a message' '
	test_expect_code 1 "$SPLIT" linear nowhere 2>err &&
	test_grep "no history of .nowhere." err &&
	test_expect_code 1 "$SPLIT" nested p 2>err
'

test_expect_success SUBTREE 'a prefix that is a file somewhere: git subtree fails, so do we' '
	rm -rf file && sh "$GEN" linear file >/dev/null 2>&1 &&
	git -C file rm -q -r p && echo x >file/p && git -C file add p &&
	git -C file commit -q -m "p is a file" &&
	! (cd file && git subtree split --prefix=p HEAD >/dev/null 2>&1) &&
	test_expect_code 111 "$SPLIT" file p 2>err &&
	test_grep "not a folder" err
'

test_expect_success 'bad usage and bad input: exit 100; a missing repository: exit 111' '
	test_expect_code 100 "$SPLIT" 2>err &&
	test_grep usage err &&
	test_expect_code 100 "$SPLIT" linear &&
	test_expect_code 100 "$SPLIT" linear p HEAD extra &&
	test_expect_code 100 "$SPLIT" linear p --frobnicate &&
	test_expect_code 100 "$SPLIT" linear p HEAD --cache &&
	for bad in /p p/ ../p a//b a/./b "" .; do
		test_expect_code 100 "$SPLIT" linear "$bad" || return 1
	done &&
	test_expect_code 100 "$SPLIT" linear p no-such-rev &&
	test_expect_code 111 "$SPLIT" no-such-repo p
'

# --- the cache ---

test_expect_success SUBTREE 'cold and warm cache: the same answers as git subtree' '
	rm -rf cache && SPLIT_CACHE=$TRASH/cache same_as_subtree merges p &&
	ls cache >names && test_line_count_is names 1 &&
	grep -E "^[0-9a-f]{64}$" names &&
	SPLIT_CACHE=$TRASH/cache same_as_subtree merges p
'

test_expect_success SUBTREE 'a cache grown commit by commit, oldest first' '
	rm -rf cache && SPLIT_CACHE=$TRASH/cache same_as_subtree rejoin p \
	    $(git -C rejoin rev-list --reverse main | awk -v k=${SPLIT_TIPS_ONLY:+4} "NR % (k + 1) == 0")
'

test_expect_success SUBTREE 'a cache made before rejoins, used after them' '
	rm -rf cache rj.ours && cp -a rejoin rj.ours &&
	"$SPLIT" rj.ours p main~12 --cache cache &&
	SPLIT_CACHE=$TRASH/cache same_as_subtree rejoin p main
'

test_expect_success SUBTREE 'a cache left over after a history rewrite' '
	rm -rf cache rw && cp -a merges rw &&
	SPLIT_CACHE=$TRASH/cache same_as_subtree rw p &&
	git -C rw filter-branch -f --msg-filter "sed s/p/P/" -- --all >/dev/null 2>&1 &&
	git -C rw for-each-ref --format="%(refname)" refs/original | xargs -n 1 git -C rw update-ref -d &&
	SPLIT_CACHE=$TRASH/cache same_as_subtree rw p &&
	git -C rw filter-branch -f --env-filter "GIT_AUTHOR_NAME=Other" -- main >/dev/null 2>&1 &&
	git -C rw for-each-ref --format="%(refname)" refs/original | xargs -n 1 git -C rw update-ref -d &&
	SPLIT_CACHE=$TRASH/cache same_as_subtree rw p main
'

test_expect_success SUBTREE 'a corrupt cache: a warning, and the right answer' '
	rm -rf cache cr.ours && cp -a merges cr.ours &&
	want=$("$SPLIT" cr.ours p) &&
	"$SPLIT" cr.ours p --cache cache >/dev/null &&
	f=$(ls cache/*) &&
	cp "$f" good &&
	for how in truncate flip empty garbage; do
		cp good "$f" &&
		case $how in
		truncate) head -c 200 good >"$f" ;;
		flip) sed "3s/./X/" good >"$f" ;;
		empty) : >"$f" ;;
		garbage) head -c 5000 /dev/urandom >"$f" ;;
		esac &&
		got=$("$SPLIT" cr.ours p --cache cache 2>err) &&
		test "$got" = "$want" &&
		test_grep "corrupt" err || return 1
	done &&
	got=$("$SPLIT" cr.ours p --cache cache 2>err) &&
	test "$got" = "$want" && test_grep ! corrupt err
'

test_expect_success SUBTREE 'a cache file at its cap (64 MiB) is read, one byte more is not' '
	rm -rf cache cap.ours && cp -a merges cap.ours &&
	want=$("$SPLIT" cap.ours p) &&
	mkdir cache && f=cache/$(printf p | sha256sum | cut -d" " -f1) &&
	truncate -s $((64 * 1024 * 1024)) "$f" &&
	got=$("$SPLIT" cap.ours p --cache cache 2>err) &&
	test "$got" = "$want" && test_grep "is corrupt" err &&
	rm "$f" && truncate -s $((64 * 1024 * 1024 + 1)) "$f" &&
	got=$("$SPLIT" cap.ours p --cache cache 2>err) &&
	test "$got" = "$want" && test_grep "is larger than 67108864 bytes" err &&
	test $(wc -c <"$f") -lt 1000000
'

test_expect_success SUBTREE 'a cache whose commits are not in this repository' '
	rm -rf cache a.ours b.ours && cp -a merges a.ours && cp -a merges b.ours &&
	want=$("$SPLIT" a.ours p --cache cache) &&
	got=$("$SPLIT" b.ours p --cache cache 2>err) &&
	test "$got" = "$want" &&
	git -C b.ours rev-list --objects "$got" >/dev/null
'

test_expect_success SUBTREE 'a cache from another clone, then new commits on its tip' '
	rm -rf cache a.ours b.ours && cp -a merges a.ours && cp -a merges b.ours &&
	"$SPLIT" a.ours p main~1 --cache cache >/dev/null &&
	got=$("$SPLIT" b.ours p main --cache cache 2>err) &&
	test "$got" = "$("$SPLIT" a.ours p main)" &&
	git -C b.ours rev-list --objects "$got" >/dev/null
'

test_expect_success SUBTREE 'a cache for another prefix is not mixed up' '
	rm -rf cache n.ours && cp -a nested n.ours &&
	a=$("$SPLIT" n.ours a --cache cache) &&
	abc=$("$SPLIT" n.ours a/b/c --cache cache) &&
	test "$a" != "$abc" &&
	test "$("$SPLIT" n.ours a --cache cache)" = "$a" &&
	test "$("$SPLIT" n.ours a/b/c --cache cache)" = "$abc" &&
	ls cache >names && test_line_count_is names 2
'

test_expect_success SUBTREE 'an unwritable cache folder: a warning, the answer still printed' '
	rm -rf ro && mkdir ro && : >ro/cache &&
	got=$("$SPLIT" linear p --cache ro/cache 2>err) &&
	test "$got" = "$(cd linear && git subtree split --prefix=p 2>/dev/null)" &&
	test_grep "unable to" err
'

test_done
