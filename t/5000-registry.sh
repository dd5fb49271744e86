#!/bin/sh
# See LICENSE.
test_description='lib/registry: the original layout, unknown keys kept, strict load, atomic locked saves, caps'
. "$(dirname "$0")/lib.sh"

R=$TEST_TOP/build/t/tools/registry
# Under valgrind (t/5900) the tool runs as the programs do there: a report per process.
[ "${ORKET_VALGRIND:-}" = 1 ] && R="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=97
	--log-file=${ORKET_VGLOG:-$TRASH}/registry.%p.log $TEST_TOP/build/vg/t/tools/registry"
command -v python3 >/dev/null && test_set_prereq PYTHON

test_expect_success 'a missing registry loads empty and saves as the original wrote it' '
	$R roundtrip new.json &&
	printf "{\n  \"version\": 1,\n  \"projects\": []\n}" >expect &&
	test_cmp expect new.json
'

cat >odd.json <<'JSON'
{"zeta": {"a": [1, 2, {}, []], "b": {}},
 "projects": [{"source_dir": "product", "project_name": "d\u00e9mo \ud83d\ude00 \u00fc",
   "raw": "caf\u00e9 \u0001\u007f/\"\\ tab\t", "keep": {"deep": [true, false, null]},
   "parity_verified": true, "n": -12, "e": 1e5}],
 "version": 1, "trailing": "unknown"}
JSON

test_expect_success PYTHON 'a save is byte for byte Python json.dumps(indent=2): order, escapes, no newline' '
	cp odd.json a.json && $R roundtrip a.json &&
	python3 -c "import json,sys; d=json.load(open(\"odd.json\")); d[\"projects\"][0][\"e\"]=\"E\"; sys.stdout.write(json.dumps(d, indent=2))" >expect &&
	sed "s/\"e\": 1e5/\"e\": \"E\"/" a.json >actual &&
	test_cmp expect actual &&
	test "$(tail -c 1 a.json | od -An -c | tr -d " ")" = "}"
'

test_expect_success 'set keeps unknown keys and the place of existing ones; new keys go last' '
	cp odd.json b.json &&
	$R set b.json product "démo 😀 ü" parity_verified -false &&
	$R set b.json product "démo 😀 ü" archived_at 2026-01-01T00:00:00+00:00 &&
	$R get b.json product "démo 😀 ü" raw >out &&
	printf "caf\303\251 \001\177/\"\\\\ tab\t bool=0 truthy=1\n" >expect && test_cmp expect out &&
	grep -n "\"" b.json | sed -n "9,20p" >lines &&
	grep "parity_verified\": false" lines && grep "trailing" b.json &&
	test "$(grep -n archived_at b.json | cut -d: -f1)" -gt "$(grep -n "\"e\":" b.json | cut -d: -f1)" &&
	$R set b.json product other prefix product/other &&
	$R count b.json >n && echo 2 >expect && test_cmp expect n
'

test_expect_success 'truthiness and bools follow Python' '
	printf "%s" "{\"projects\":[{\"source_dir\":\"s\",\"project_name\":\"p\",\"z\":0,\"z2\":0.0,\"o\":1,\"e\":\"\",\"l\":[],\"d\":{},\"t\":\"x\",\"f\":false,\"b\":\"true\"}]}" >t.json &&
	for k in z z2 e l d f missing; do $R get t.json s p $k | grep "truthy=0" || exit 1; done &&
	for k in o t; do $R get t.json s p $k | grep "truthy=1" || exit 1; done &&
	$R get t.json s p b | grep "bool=0"
'

for bad in '[1,' '[]' '"x"' '{"projects":{}}' '{"projects":[1]}' '{"projects":[{"a":1},null]}' '' '{"a":1}{' ; do
	test_expect_success "a corrupt registry is refused (100) and left alone: $bad" "
		printf '%s' '$bad' >c.json && cp c.json c.orig &&
		test_expect_code 100 \$R roundtrip c.json 2>err &&
		grep 'c.json' err && test_cmp c.orig c.json &&
		test_expect_code 100 \$R set c.json product p k v 2>err && test_cmp c.orig c.json
	"
done

test_expect_success 'a registry that is not a file is refused (100), one that cannot be opened is 111' '
	mkdir dir.json && test_expect_code 100 $R roundtrip dir.json 2>err && grep "not a regular file" err &&
	echo x >notdir && test_expect_code 111 $R roundtrip notdir/r.json 2>err && grep "unable to open" err
'

test_expect_success 'the size cap: exactly REGISTRY_MAX bytes loads, one more is refused' '
	printf "{\"version\": 1, \"projects\": []}" >cap.json &&
	size=$(wc -c <cap.json) && pad=$((16777216 - size)) &&
	head -c $pad /dev/zero | tr "\0" " " >>cap.json && test $(wc -c <cap.json) = 16777216 &&
	$R count cap.json &&
	cp cap.json cap1.json && printf " " >>cap1.json &&
	test_expect_code 100 $R count cap1.json 2>err && grep "larger than 16777216" err &&
	test $(wc -c <cap1.json) = 16777217
'

test_expect_success 'a save that would pass the cap fails and leaves the file as it was' '
	{ printf "{\"version\": 1, \"projects\": [], \"x\": ["; head -c 4000000 /dev/zero | tr "\0" "1" | sed "s/1/1,/g"; printf "1]}"; } >big.json &&
	cp big.json big.orig &&
	test_expect_code 100 $R roundtrip big.json 2>err && grep "would be larger" err &&
	test_cmp big.orig big.json && ! ls big.json.tmp.* 2>/dev/null
'

test_expect_success 'the lock serialises writers: 20 concurrent upserts, none lost' '
	i=0; while [ $i -lt 20 ]; do $R set conc.json product p$i parity_verified -true & i=$((i + 1)); done; wait &&
	$R count conc.json >n && echo 20 >expect && test_cmp expect n &&
	test -f conc.json.lock && ! ls conc.json.tmp.* 2>/dev/null
'

test_expect_success 'a writer waits for the lock holder' '
	mkfifo held && { $R hold w.json 2 >held & } && read line <held &&
	start=$(date +%s) && $R set w.json product p k v && end=$(date +%s) &&
	test $((end - start)) -ge 1 && wait
'

# REGISTRY_LOCK_WAIT (30 s) at the cap and past it, side by side to spend 36 s, not 66: a
# holder that lets go after 29 s is waited for; one that holds 36 s is given up on after
# 30 s, with an error naming the lock, and nothing is written.
now() { date +%s.%N; }
test_expect_success 'the lock wait: a holder of 29 s is waited for, one of 36 s is given up on at 30 s' '
	mkfifo held29 held36 &&
	{ $R hold at.json 29 >held29 & } && { $R hold past.json 36 >held36 & } &&
	read line <held29 && read line <held36 &&
	{ { s=$(now); $R set at.json product p k v 2>at.err; echo "$? $s $(now)" >at.rc; } & } &&
	s=$(now) && { $R set past.json product p k v 2>past.err; echo "$? $s $(now)" >past.rc; } &&
	wait &&
	read rc t0 t1 <at.rc && echo "at the cap: status $rc after $t0 -> $t1" &&
	test "$rc" = 0 && $R count at.json >n && echo 1 >expect && test_cmp expect n &&
	read rc t0 t1 <past.rc && echo "past the cap: status $rc after $t0 -> $t1" &&
	test "$rc" != 0 && test "$rc" != 97 &&
	awk -v a="$t0" -v b="$t1" "BEGIN { exit !(b - a >= 30 && b - a < 35) }" &&
	test_grep "registry lock .*past.json.lock is held by another process" past.err &&
	! test -s past.json
'

test_expect_success 'isotime is Python isoformat in UTC' '
	$R isotime 1770921173 123456789 >t && echo 2026-02-12T18:32:53.123456+00:00 >expect && test_cmp expect t &&
	$R isotime 1770921173 999 >t && echo 2026-02-12T18:32:53+00:00 >expect && test_cmp expect t &&
	$R isotime | grep -E "^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\.[0-9]{6})?\+00:00$"
'

test_expect_success 'parse_isotime reads what the original wrote, refuses naive and bad times' '
	$R parsetime 2026-02-12T18:32:53.123456+00:00 >t && echo 1770921173.123456000 >expect && test_cmp expect t &&
	$R parsetime 2026-02-12T18:32:53+01:00 >t && echo 1770917573.000000000 >expect && test_cmp expect t &&
	$R parsetime 2026-02-12T18:32:53Z >t && echo 1770921173.000000000 >expect && test_cmp expect t &&
	$R parsetime "2024-02-29 00:00-00:30" >t && echo 1709166600.000000000 >expect && test_cmp expect t &&
	for bad in 2026-02-12T18:32:53 2026-02-30T00:00:00+00:00 2025-02-29T00:00+00:00 2026-02-12 x 2026-02-12T18:32:53+0000 2026-02-12T24:00:00Z; do
		test_expect_code 100 $R parsetime "$bad" || exit 1; done
'

test_done
