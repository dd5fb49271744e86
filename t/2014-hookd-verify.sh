#!/bin/sh
# See LICENSE.
test_description='orket-hookd checks a body under 8 KB on its loop and one of 8 KB or more on the verifier thread: the same answers either way, at 8191 and 8192 bytes'
. "$(dirname "$0")/lib.sh"

hookd_env

GITEA_WEBHOOK_SECRET=verify-current-3c1e
OLD=verify-previous-77a0
export GITEA_WEBHOOK_SECRET OLD

rows() {
	sqlite3 v.db "SELECT count(*) FROM webhook_events WHERE delivery_id = '$1'"
}

metric() {
	curl -sf "http://127.0.0.1:$(cat v.port)/metrics" >metrics &&
	awk -v m="$1" '$1 == m { print $2 }' metrics
}

# body N KIND: N bytes of JSON; KIND good (an object), schema (number -1: valid JSON that
# the payload schema refuses) or broken (the closing brace missing, a byte of padding more).
body() {
	python3 -c 'import sys
n, kind = int(sys.argv[1]), sys.argv[2]
a = {"good": b"{\"pad\":\"", "schema": b"{\"number\":-1,\"pad\":\"", "broken": b"{\"pad\":\""}[kind]
b = b"\"" if kind == "broken" else b"\"}"
sys.stdout.buffer.write(a + b"x" * (n - len(a) - len(b)) + b)' "$1" "$2"
}

test_expect_success HOOKD 'set-up: orket-hookd with a current and a previous secret' '
	GITEA_WEBHOOK_SECRET_PREVIOUS=$OLD && export GITEA_WEBHOOK_SECRET_PREVIOUS &&
	test_when_finished "unset GITEA_WEBHOOK_SECRET_PREVIOUS" &&
	daemon_start v env ORKET_WEBHOOK_HOST=127.0.0.1 ORKET_WEBHOOK_PORT=0 ORKET_RATE_LIMIT=100000 \
	    ORKET_WEBHOOK_DB=v.db ORKET_RUNTIME_DB=v-runtime.db ORKET_EVENT_LOG=v.log \
	    orket-hookd &&
	for n in 8191 8192; do
		for k in good schema broken; do
			body $n $k >$k-$n.json && test "$(wc -c <$k-$n.json)" = $n || return 1
		done
	done
'

for n in 8191 8192; do
	[ $n = 8191 ] && on=loop || on=thread
	test_expect_success HOOKD "$n bytes, signed with the current secret: 200, stored byte for byte, checked on the $on" "
		loop0=\$(metric 'orket_hookd_verified_total{on=\"loop\"}') &&
		thread0=\$(metric 'orket_hookd_verified_total{on=\"thread\"}') &&
		hook v --event push --delivery cur-$n --secret-env GITEA_WEBHOOK_SECRET \
		    --body good-$n.json >out &&
		expect_status 200 &&
		test \"\$(rows cur-$n)\" = 1 &&
		sqlite3 v.db \"SELECT writefile('got-$n.json', payload) FROM webhook_events
		    WHERE delivery_id = 'cur-$n'\" >/dev/null &&
		cmp good-$n.json got-$n.json &&
		loop1=\$(metric 'orket_hookd_verified_total{on=\"loop\"}') &&
		thread1=\$(metric 'orket_hookd_verified_total{on=\"thread\"}') &&
		if [ $on = loop ]; then
			test \$loop1 = \$((loop0 + 1)) && test \$thread1 = \$thread0
		else
			test \$thread1 = \$((thread0 + 1)) && test \$loop1 = \$loop0
		fi
	"

	test_expect_success HOOKD "$n bytes, signed with the previous secret: 200, and counted" "
		before=\$(metric orket_hookd_signature_previous_secret_total) &&
		hook v --event push --delivery prev-$n --secret-env OLD --body good-$n.json >out &&
		expect_status 200 &&
		test \"\$(rows prev-$n)\" = 1 &&
		after=\$(metric orket_hookd_signature_previous_secret_total) &&
		test \$after = \$((before + 1))
	"

	test_expect_success HOOKD "$n bytes, a wrong signature of the right shape: 401, nothing stored" "
		before=\$(metric 'orket_hookd_signature_failures_total{reason=\"invalid\"}') &&
		hook v --event push --delivery bad-$n --body good-$n.json \
		    --sig raw:X-Gitea-Signature:\$(printf '%064d' 7) >out &&
		expect_status 401 &&
		test_grep 'Invalid signature' out &&
		test \"\$(rows bad-$n)\" = 0 &&
		after=\$(metric 'orket_hookd_signature_failures_total{reason=\"invalid\"}') &&
		test \$after = \$((before + 1))
	"

	test_expect_success HOOKD "$n bytes of broken JSON, well signed: 400, nothing stored" "
		hook v --event push --delivery broken-$n --secret-env GITEA_WEBHOOK_SECRET \
		    --body broken-$n.json >out &&
		expect_status 400 &&
		test_grep 'Invalid payload' out &&
		test \"\$(rows broken-$n)\" = 0
	"

	test_expect_success HOOKD "$n bytes that the schema refuses, well signed: 400 naming the field" "
		hook v --event push --delivery schema-$n --secret-env GITEA_WEBHOOK_SECRET \
		    --body schema-$n.json >out &&
		expect_status 400 &&
		test_grep 'number must be an integer above 0' out &&
		test \"\$(rows schema-$n)\" = 0
	"

	test_expect_success HOOKD "$n bytes with a delivery id of 129 bytes: 400, nothing stored" "
		long=\$(printf 'd%.0s' \$(seq 129)) &&
		hook v --event push --delivery \$long --secret-env GITEA_WEBHOOK_SECRET \
		    --body good-$n.json >out &&
		expect_status 400 &&
		test_grep 'too long' out &&
		test \"\$(sqlite3 v.db \"SELECT count(*) FROM webhook_events WHERE length(delivery_id) > 128\")\" = 0
	"

	test_expect_success HOOKD "$n bytes, the same delivery again: 200 duplicate, one row" "
		hook v --event push --delivery cur-$n --secret-env GITEA_WEBHOOK_SECRET \
		    --body good-$n.json >out &&
		expect_status 200 &&
		test_grep duplicate out &&
		test \"\$(rows cur-$n)\" = 1
	"
done

test_expect_success HOOKD '300 deliveries of 8192 bytes at once, through the thread: each stored once' '
	hook v --event push --prefix burst --concurrent 300 --secret-env GITEA_WEBHOOK_SECRET \
	    --body good-8192.json >out &&
	echo "{\"200\": 300}" >expect && test_cmp expect out &&
	test "$(sqlite3 v.db "SELECT count(DISTINCT delivery_id) FROM webhook_events
	    WHERE delivery_id LIKE '"'"'burst-%'"'"'")" = 300
'

test_expect_success HOOKD 'clients that hang up before the answer: the thread finishes, the daemon lives' '
	python3 - "$(cat v.port)" good-8192.json <<-\EOF &&
	import hashlib, hmac, os, socket, sys
	port, body = int(sys.argv[1]), open(sys.argv[2], "rb").read()
	sig = hmac.new(os.environ["GITEA_WEBHOOK_SECRET"].encode(), body, hashlib.sha256).hexdigest()
	for i in range(50):
	    s = socket.create_connection(("127.0.0.1", port))
	    s.sendall(("POST /webhook/gitea HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	               "X-Gitea-Event: push\r\nX-Gitea-Delivery: gone-%d\r\nX-Gitea-Signature: %s\r\n"
	               "Content-Length: %d\r\n\r\n" % (i, sig, len(body))).encode() + body)
	    s.close()
	EOF
	hook v --event push --delivery after-gone --secret-env GITEA_WEBHOOK_SECRET \
	    --body good-8192.json >out &&
	expect_status 200 &&
	curl -sf "http://127.0.0.1:$(cat v.port)/health" >/dev/null
'

test_expect_success HOOKD 'SIGTERM with deliveries in the thread: every 200 is a row, then a clean exit' '
	hook v --event push --prefix term --concurrent 100 --secret-env GITEA_WEBHOOK_SECRET \
	    --body good-8192.json >term.out 2>term.err &
	client=$! &&
	i=0 &&
	while [ "$(sqlite3 v.db "SELECT count(*) FROM webhook_events WHERE delivery_id LIKE '"'"'term-%'"'"'")" = 0 ] &&
	    [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	kill -TERM $(cat v.pid) &&
	{ wait $client || :; } &&
	ok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(\"200\", 0))" term.out) &&
	stored=$(sqlite3 v.db "SELECT count(*) FROM webhook_events WHERE delivery_id LIKE '"'"'term-%'"'"'") &&
	echo "answered 200: $ok, stored: $stored" &&
	test "$ok" -ge 1 && test "$stored" -ge "$ok" &&
	daemon_stop v &&
	test "$(cat v.status)" = 0 &&
	test_grep "stopped" v.err
'

daemon_stop v
test_done
