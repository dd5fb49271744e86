#!/bin/sh
# See LICENSE.
test_description='orket-hookd under load: 1,000 concurrent deliveries, replays, a slow client, kill -9'
. "$(dirname "$0")/lib.sh"

hookd_env
# 1,000 connections at once need as many descriptors in the client and in the daemon.
n=$(ulimit -n)
if [ "$n" != unlimited ] && [ "$n" -lt 2200 ]; then
	ulimit -n 2200 2>/dev/null
fi
n=$(ulimit -n)
if [ "$n" = unlimited ] || [ "$n" -ge 2200 ]; then
	test_have_prereq HOOKD && test_set_prereq FDS
else
	say "ulimit -n is $n (below 2200): the 1,000-connection tests are skipped"
fi
# A time bound is a functional check, but not one to make under valgrind.
test "${ORKET_VALGRIND:-}" = 1 || test_set_prereq NOVALGRIND

GITEA_WEBHOOK_SECRET='load-S3cret-c5e8'
export GITEA_WEBHOOK_SECRET
S='--secret-env GITEA_WEBHOOK_SECRET'
push='{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"4a5b6c7d8e9f00112233445566778899aabbccdd","repository":{"full_name":"acme/web","name":"web","owner":{"login":"acme"}}}'
printf '%s' "$push" >push.json
ok='{"status":"ignored","message":"Event type push not handled"}'

# hookd_run NAME [VAR=VALUE...]: orket-hookd on 127.0.0.1, an ephemeral port, databases
# NAME.db and NAME-runtime.db, event log NAME.log, stopped after the test.
# hookd_start is the same on fresh files.
hookd_run() {
	hn=$1
	shift
	test_when_finished "daemon_stop $hn"
	daemon_start "$hn" env ORKET_WEBHOOK_HOST=127.0.0.1 ORKET_WEBHOOK_PORT=0 \
	    ORKET_WEBHOOK_DB="$hn.db" ORKET_RUNTIME_DB="$hn-runtime.db" \
	    ORKET_EVENT_LOG="$hn.log" ORKET_RATE_LIMIT=100000 "$@" orket-hookd
}

hookd_start() {
	rm -f "$1.db" "$1.db-wal" "$1.db-shm" "$1-runtime.db" "$1-runtime.db-wal" \
	    "$1-runtime.db-shm" "$1.log" || return 1
	hookd_run "$@"
}

# sql NAME QUERY: one query on daemon NAME's webhook database.
sql() {
	sqlite3 "$1.db" "$2"
}

test_expect_success FDS '1,000 concurrent signed deliveries are all answered 200 and all stored' '
	hookd_start h &&
	hook h $S --body push.json --event push --prefix load --concurrent 1000 --by-result \
	    >summary &&
	echo "{\"200:ignored\": 1000}" >expect && test_cmp expect summary &&
	sql h "SELECT count(*), count(DISTINCT delivery_id), min(length(payload)),
	    max(length(payload)) FROM webhook_events" >actual &&
	echo "1000|1000|${#push}|${#push}" >expect && test_cmp expect actual &&
	sql h "SELECT count(*) FROM webhook_events WHERE delivery_id
	    NOT GLOB '"'"'load-[0-9]*'"'"'" >actual &&
	echo 0 >expect && test_cmp expect actual &&
	sql h "SELECT count(*) FROM webhook_events
	    WHERE CAST(substr(delivery_id, 6) AS INTEGER) BETWEEN 0 AND 999" >actual &&
	echo 1000 >expect && test_cmp expect actual &&
	hook h $S --body push.json --event push --prefix load --concurrent 1000 --by-result \
	    >summary &&
	echo "{\"200:duplicate\": 1000}" >expect && test_cmp expect summary &&
	sql h "SELECT count(*) FROM webhook_events" >actual &&
	echo 1000 >expect && test_cmp expect actual &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	grep "^orket_hookd_deliveries_total{result=\"stored\"} 1000$" metrics &&
	grep "^orket_hookd_deliveries_total{result=\"duplicate\"} 1000$" metrics &&
	grep "^orket_hookd_requests_total{code=\"200\"} 200[0-9]$" metrics &&
	! grep "^orket_hookd_requests_total{code=\"5" metrics &&
	daemon_stop h && echo 0 >expect && test_cmp expect h.status
'

test_expect_success FDS 'mixed at once: new, replayed and unsigned deliveries each get their answer' '
	hookd_start h &&
	hook h $S --body push.json --event push --prefix mix --concurrent 300 >summary &&
	echo "{\"200\": 300}" >expect && test_cmp expect summary &&
	{ hook h $S --body push.json --event push --prefix mix --concurrent 600 --by-result \
	    >s1 & p1=$!; } &&
	{ hook h --body push.json --event push --prefix bad --concurrent 200 --by-result \
	    >s2 & p2=$!; } &&
	wait $p1 && wait $p2 &&
	echo "{\"200:duplicate\": 300, \"200:ignored\": 300}" >expect && test_cmp expect s1 &&
	echo "{\"401:-\": 200}" >expect && test_cmp expect s2 &&
	sql h "SELECT count(*), count(DISTINCT delivery_id) FROM webhook_events" >actual &&
	echo "600|600" >expect && test_cmp expect actual
'

test_expect_success NOVALGRIND 'a slow-loris client does not hold up the others; it is cut off at last' '
	hookd_start h &&
	rm -f loris.ready &&
	{ hook h --slowloris 14 --ready-file loris.ready >loris.out & lpid=$!; } &&
	i=0 &&
	while [ ! -f loris.ready ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done &&
	test -f loris.ready &&
	hook h $S --body push.json --event push --prefix seq --concurrent 20 --sequential \
	    --max-seconds 1 >lat.seq &&
	hook h $S --body push.json --event push --prefix par --concurrent 20 \
	    --max-seconds 1 >lat.par &&
	kill -0 $lpid &&
	wait $lpid &&
	test_grep "^{\"200\": 20, \"max_seconds\": 0\.[0-9]*}$" lat.seq &&
	test_grep "^{\"200\": 20, \"max_seconds\": 0\.[0-9]*}$" lat.par &&
	test_grep "\"status\": 408" loris.out &&
	sql h "SELECT count(*) FROM webhook_events" >actual &&
	echo 40 >expect && test_cmp expect actual
'

test_expect_success HOOKD 'kill -9 right after a 200: the delivery is there after a restart' '
	hookd_start d &&
	hook d $S --body push.json --event push --delivery durable-1 >out &&
	printf "200\n%s\n" "$ok" >expect && test_cmp expect out &&
	daemon_stop d KILL && echo 137 >expect && test_cmp expect d.status &&
	sql d "SELECT event_type, delivery_id, length(payload) FROM webhook_events" >actual &&
	echo "push|durable-1|${#push}" >expect && test_cmp expect actual &&
	hookd_run d &&
	sql d "SELECT count(*) FROM webhook_events" >actual &&
	echo 1 >expect && test_cmp expect actual &&
	hook d $S --body push.json --event push --delivery durable-1 >out &&
	printf "200\n%s\n" "{\"status\":\"duplicate\",\"message\":\"Delivery durable-1 was already received\"}" \
	    >expect && test_cmp expect out &&
	hook d $S --body push.json --event push --delivery durable-2 >out &&
	printf "200\n%s\n" "$ok" >expect && test_cmp expect out &&
	daemon_stop d && echo 0 >expect && test_cmp expect d.status &&
	sql d "SELECT group_concat(delivery_id) FROM webhook_events" >actual &&
	echo "durable-1,durable-2" >expect && test_cmp expect actual
'

test_expect_success FDS 'kill -9 right after 300 concurrent 200s: every one of them survives' '
	hookd_start k &&
	hook k $S --body push.json --event push --prefix crash --concurrent 300 >summary &&
	daemon_stop k KILL &&
	echo "{\"200\": 300}" >expect && test_cmp expect summary &&
	sql k "SELECT count(*), count(DISTINCT delivery_id) FROM webhook_events" >actual &&
	echo "300|300" >expect && test_cmp expect actual &&
	hookd_run k &&
	hook k $S --body push.json --event push --prefix crash --concurrent 300 --by-result \
	    >summary &&
	echo "{\"200:duplicate\": 300}" >expect && test_cmp expect summary
'

# Large deliveries over a few keep-alive connections: N deliveries of about 12 KB each.
cat >big.py <<'PY'
import hashlib, hmac, http.client, json, os, sys, threading
port, n, conns = int(sys.argv[1]), int(sys.argv[2]), 4
key = os.environb[b"GITEA_WEBHOOK_SECRET"]
body = json.dumps({"ref": "refs/heads/main", "pad": "x" * 12000,
                   "repository": {"name": "r", "owner": {"login": "o"}}}).encode()
sig = hmac.new(key, body, hashlib.sha256).hexdigest()
ok = [0] * conns
def run(c):
    h = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(c, n, conns):
        h.request("POST", "/webhook/gitea", body, {"Content-Type": "application/json",
                  "X-Gitea-Event": "push", "X-Gitea-Delivery": "big-%d" % i,
                  "X-Gitea-Signature": sig})
        r = h.getresponse()
        r.read()
        ok[c] += r.status == 200
ts = [threading.Thread(target=run, args=(c,)) for c in range(conns)]
[t.start() for t in ts]
[t.join() for t in ts]
print(sum(ok))
PY

# 6,000 deliveries write about 75 MB of WAL. The checkpoint thread copies the bulk back as
# it goes and the writer only the last frames, once the WAL has passed 32 MB: the WAL then
# starts over instead of growing. 64 MB is its bound, reached only if the disk is slower
# than the stream, give or take the last group commit (512 deliveries of 16 KB at most).
test_expect_success NOVALGRIND 'under a stream of large deliveries the WAL starts over; the thread copies the bulk' '
	hookd_start wal &&
	hp=$(cat wal.port) &&
	python3 big.py "$hp" 6000 >out &&
	echo 6000 >expect &&
	test_cmp expect out &&
	sql wal "SELECT count(*) FROM webhook_events WHERE delivery_id LIKE '"'big-%'"'" >rows &&
	test_cmp expect rows &&
	wal=$(stat -c %s wal.db-wal) &&
	ps=$(sql wal "PRAGMA page_size") &&
	curl -s "http://127.0.0.1:$hp/metrics" >metrics &&
	tf=$(sed -n "s/^orket_hookd_wal_frames_checkpointed_total{by=\"thread\"} //p" metrics) &&
	wf=$(sed -n "s/^orket_hookd_wal_frames_checkpointed_total{by=\"writer\"} //p" metrics) &&
	wr=$(sed -n "s/^orket_hookd_wal_checkpoints_total{by=\"writer\"} //p" metrics) &&
	say "WAL file after 6,000 deliveries of 12 KB: $wal bytes ($ps-byte pages); frames copied: thread $tf, writer $wf in $wr rounds" &&
	test "$wal" -le $((((64 + 8) << 20) / ps * (ps + 24) + 32)) &&
	test "$wr" -ge 1 &&
	test "$tf" -gt $((2 * wf)) &&
	test "$(((tf + wf) * ps))" -gt $((56 << 20))
'

# hold_lock DB SECONDS: another process takes DB's write lock for SECONDS, in the
# background ($locker); returns once it has it.
hold_lock() {
	rm -f locked &&
	python3 - "$1" "$2" <<-\PY &
	import sqlite3, sys, time
	c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
	c.execute("BEGIN IMMEDIATE")
	open("locked", "w").close()
	time.sleep(float(sys.argv[2]))
	c.execute("ROLLBACK")
	PY
	locker=$!
	i=0 && while [ ! -e locked ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	test -e locked
}

# The group commit runs on its own thread: a commit held up (here by another process's
# write lock, for 2.5 s of the 5 s busy wait) holds up no answer of the loop's.
test_expect_success NOVALGRIND 'a commit held up by a lock: /health still answers at once, then all 20 are stored' '
	hookd_start stall &&
	hold_lock stall.db 2.5 &&
	{ hook stall $S --body push.json --event push --prefix stall --concurrent 20 >out & } &&
	client=$! &&
	sleep 0.5 &&
	t0=$(date +%s%N) && curl -sf "http://127.0.0.1:$(cat stall.port)/health" >health &&
	t1=$(date +%s%N) && ms=$(((t1 - t0) / 1000000)) &&
	say "/health answered in $ms ms while the commit waited for the lock" &&
	test $ms -lt 500 &&
	test_grep healthy health &&
	wait $client && wait $locker &&
	echo "{\"200\": 20}" >expect && test_cmp expect out &&
	test "$(sql stall "SELECT count(*) FROM webhook_events WHERE delivery_id LIKE '"'stall-%'"'")" = 20
'

# HOOKD_BATCH_MAX (512) deliveries in one transaction at the most: 1,000 arrive while the
# first commit waits for the lock, so more than 512 are waiting when it comes back.
test_expect_success FDS,NOVALGRIND 'one group commit takes 512 deliveries at the most, the rest the next' '
	hookd_start cap &&
	hold_lock cap.db 4 &&
	hook cap $S --body push.json --event push --prefix cap --concurrent 1000 >out &&
	wait $locker &&
	echo "{\"200\": 1000}" >expect && test_cmp expect out &&
	test "$(sql cap "SELECT count(DISTINCT delivery_id) FROM webhook_events WHERE delivery_id LIKE '"'cap-%'"'")" = 1000 &&
	curl -sf "http://127.0.0.1:$(cat cap.port)/metrics" >metrics &&
	largest=$(sed -n "s/^orket_hookd_group_commit_largest //p" metrics) &&
	commits=$(sed -n "s/^orket_hookd_group_commits_total //p" metrics) &&
	say "largest group commit: $largest deliveries, of $commits commits" &&
	test "$largest" = 512 && test "$commits" -ge 3
'

# The commit waits DB_BUSY_TIMEOUT_MS (5 s) for a lock another process holds: a lock of
# 4.5 s is waited out, one of 6 s is not, and the delivery gets 503 with Retry-After,
# is not stored, and is stored when sent again.
test_expect_success NOVALGRIND 'the 5 s busy wait of a commit: a lock of 4.5 s is waited out, one of 6 s is a 503' '
	hookd_start busy &&
	hold_lock busy.db 4.5 &&
	hook busy $S --body push.json --event push --delivery busy-1 >out &&
	wait $locker &&
	expect_status 200 &&
	hold_lock busy.db 6 &&
	hook busy $S --body push.json --event push --delivery busy-2 --show-headers >out &&
	wait $locker &&
	expect_status 503 &&
	test_grep "Retry-After: 5" out && test_grep "Delivery not stored, try again" out &&
	test "$(sql busy "SELECT count(*) FROM webhook_events WHERE delivery_id = '"'busy-2'"'")" = 0 &&
	curl -sf "http://127.0.0.1:$(cat busy.port)/metrics" >metrics &&
	test "$(sed -n "s/^orket_hookd_group_commit_failures_total //p" metrics)" = 1 &&
	hook busy $S --body push.json --event push --delivery busy-2 >out &&
	expect_status 200 &&
	test "$(sql busy "SELECT count(*) FROM webhook_events WHERE delivery_id LIKE '"'busy-%'"'")" = 2
'

test_done
