#!/bin/sh
# See LICENSE.
test_description='orket-hookd caps at and one past: the secret, JSON tokens (full and top-level parse), the rate-limit and signature-failure address tables'
. "$(dirname "$0")/lib.sh"

hookd_env

hookd_start() {
	hn=$1
	shift
	test_when_finished "daemon_stop $hn"
	rm -f "$hn.db" "$hn.db-wal" "$hn.db-shm" "$hn-runtime.db" "$hn-runtime.db-wal" \
	    "$hn-runtime.db-shm" "$hn.log" || return 1
	daemon_start "$hn" env ORKET_WEBHOOK_HOST=127.0.0.1 ORKET_WEBHOOK_PORT=0 \
	    ORKET_WEBHOOK_DB="$hn.db" ORKET_RUNTIME_DB="$hn-runtime.db" \
	    ORKET_EVENT_LOG="$hn.log" "$@" orket-hookd
}

# A secret of N printable bytes.
secret_of() {
	python3 -c 'import sys; print(("k3y-" * 300)[:int(sys.argv[1])])' "$1"
}

test_expect_success HOOKD 'a secret of exactly 1024 bytes is taken, and signs' '
	GITEA_WEBHOOK_SECRET=$(secret_of 1024) && export GITEA_WEBHOOK_SECRET &&
	hookd_start s1 &&
	hook s1 --event push --delivery s-1 --secret-env GITEA_WEBHOOK_SECRET \
	    --body-text "{\"ref\":\"x\"}" >out &&
	expect_status 200 &&
	hook s1 --event push --delivery s-2 --sig raw:X-Gitea-Signature:00 --body-text "{}" >out &&
	expect_status 401
'

test_expect_success HOOKD 'a secret of 1025 bytes is exit 100, naming it and not showing it' '
	GITEA_WEBHOOK_SECRET=$(secret_of 1025) && export GITEA_WEBHOOK_SECRET &&
	test_expect_code 100 env ORKET_WEBHOOK_HOST=127.0.0.1 ORKET_WEBHOOK_PORT=0 \
	    ORKET_WEBHOOK_DB=s2.db ORKET_RUNTIME_DB=s2-runtime.db ORKET_EVENT_LOG=s2.log \
	    orket-hookd 2>err &&
	test_grep "GITEA_WEBHOOK_SECRET is longer than 1024 bytes" err &&
	! grep -q "k3y-k3y-" err
'

# JSON of exactly N tokens: {"a":[0,0,...]} is 3 tokens and one per element.
tokens() {
	python3 -c 'import sys; n = int(sys.argv[1]) - 3
sys.stdout.write("{\"a\":[" + ",".join(["0"] * n) + "]}")' "$1" >"$2"
}

test_expect_success HOOKD 'JSON tokens: 65,536 pass, 65,537 are 400, whichever parse the event takes' '
	GITEA_WEBHOOK_SECRET=tok-S3cret && export GITEA_WEBHOOK_SECRET &&
	hookd_start t1 ORKET_RATE_LIMIT=1000 &&
	tokens 65536 at.json && tokens 65537 over.json &&
	for ev in push pull_request; do
		hook t1 --event $ev --delivery "at-$ev" --secret-env GITEA_WEBHOOK_SECRET \
		    --body at.json >out &&
		expect_status 200 &&
		hook t1 --event $ev --delivery "over-$ev" --secret-env GITEA_WEBHOOK_SECRET \
		    --body over.json >out &&
		expect_status 400 &&
		test_grep "too large" out || return 1
	done &&
	echo 2 >expect &&
	sqlite3 t1.db "SELECT count(*) FROM webhook_events WHERE delivery_id LIKE '"'at-%'"'" >n &&
	test_cmp expect n
'

# N requests, each from its own loopback address 127.X.Y.Z (in order from FIRST), each a
# POST with a bad signature; prints the status codes, one a line.
cat >from-many.py <<'PY'
import http.client, sys
port, first, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + n):
    addr = "127.%d.%d.%d" % (3 + i // 62500, (i // 250) % 250, i % 250 + 1)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(addr, 0))
    c.request("POST", "/webhook/gitea", b"{}", {"Content-Type": "application/json",
              "X-Gitea-Event": "push", "X-Gitea-Signature": "00"})
    r = c.getresponse()
    r.read()
    print(r.status)
    c.close()
PY

# Each request number maps to its own address: 1 is 127.3.0.2, 250 is 127.3.1.1 ...
test_expect_success HOOKD 'signature failures by address: 255 addresses get a row each, the rest count as "other"' '
	GITEA_WEBHOOK_SECRET=fail-S3cret && export GITEA_WEBHOOK_SECRET &&
	hookd_start f1 ORKET_RATE_LIMIT=1000 &&
	python3 from-many.py "$(cat f1.port)" 1 255 >codes &&
	test "$(grep -c "^401$" codes)" = 255 &&
	curl -s "http://127.0.0.1:$(cat f1.port)/metrics" >metrics &&
	test "$(grep -c "^orket_hookd_signature_failures_by_addr_total{addr=\"127\." metrics)" = 255 &&
	! grep -q "addr=\"other\"" metrics &&
	python3 from-many.py "$(cat f1.port)" 256 3 >codes &&
	curl -s "http://127.0.0.1:$(cat f1.port)/metrics" >metrics &&
	test "$(grep -c "^orket_hookd_signature_failures_by_addr_total{addr=\"127\." metrics)" = 255 &&
	grep -q "^orket_hookd_signature_failures_by_addr_total{addr=\"other\"} 3$" metrics
'

test_expect_success HOOKD 'the rate limiter tracks 4,096 addresses: at the cap all are remembered, one more forgets the one seen longest ago' '
	GITEA_WEBHOOK_SECRET=rate-S3cret && export GITEA_WEBHOOK_SECRET &&
	hookd_start r1 ORKET_RATE_LIMIT=1 &&
	hp=$(cat r1.port) &&
	python3 from-many.py "$hp" 1 4096 >codes &&
	test "$(grep -c "^401$" codes)" = 4096 &&
	python3 from-many.py "$hp" 1 1 >again1 && echo 429 >expect && test_cmp expect again1 &&
	python3 from-many.py "$hp" 4096 1 >again && test_cmp expect again &&
	python3 from-many.py "$hp" 4097 1 >new && echo 401 >expect && test_cmp expect new &&
	python3 from-many.py "$hp" 2 1 >forgot && test_cmp expect forgot &&
	python3 from-many.py "$hp" 1 1 >kept && echo 429 >expect && test_cmp expect kept
'

test_done
