#!/bin/sh
# See LICENSE.
test_description='orket-hookd caps: body, header section, header count, URL, delivery id; the per-address rate limit'
. "$(dirname "$0")/lib.sh"

hookd_env

GITEA_WEBHOOK_SECRET='caps-S3cret-41c0'
export GITEA_WEBHOOK_SECRET
S='--secret-env GITEA_WEBHOOK_SECRET'
ok='{"status":"ignored","message":"Event type push not handled"}'

# hookd_start NAME [VAR=VALUE...]: orket-hookd on 127.0.0.1, an ephemeral port, with fresh
# databases (NAME.db, NAME-runtime.db) and event log (NAME.log), stopped after the test.
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

# expect_answer STATUS BODY: the client's output, in "out", must be exactly this.
expect_answer() {
	printf '%s\n%s\n' "$1" "$2" >expect && test_cmp expect out
}

# rows NAME [ID]: how many webhook_events rows daemon NAME stored (with that delivery id).
rows() {
	if [ $# = 1 ]; then
		sqlite3 "$1.db" "SELECT count(*) FROM webhook_events"
	else
		sqlite3 "$1.db" "SELECT count(*) FROM webhook_events WHERE delivery_id = '$2'"
	fi
}

# payload NAME ID FILE: the stored payload of delivery ID, byte for byte, into FILE.
payload() {
	rm -f "$3" &&
	sqlite3 "$1.db" "SELECT writefile('$3', payload) FROM webhook_events
	    WHERE delivery_id = '$2'" >/dev/null &&
	test -f "$3"
}

# A metric's value in the file "metrics".
metric() {
	awk -v m="$1" '$1 == m { print $2 }' metrics
}

# The Retry-After value of the answer in "out" (shown with --show-headers).
retry_after() {
	sed -n 's/^Retry-After: \([0-9][0-9]*\)$/\1/p' out
}

# jsonpad N: a valid JSON object of exactly N bytes.
jsonpad() {
	python3 -c 'import sys
n = int(sys.argv[1]); a, b = b"{\"pad\":\"", b"\"}"
sys.stdout.buffer.write(a + b"x" * (n - len(a) - len(b)) + b)' "$1"
}

test_expect_success HOOKD 'set-up: bodies of exactly 1 MiB and 1 MiB + 1' '
	jsonpad 1048576 >mib.json && jsonpad 1048577 >mib1.json &&
	test "$(wc -c <mib.json)" = 1048576 && test "$(wc -c <mib1.json)" = 1048577 &&
	python3 -c "import json; json.load(open(\"mib.json\"))"
'

test_expect_success HOOKD 'a body of exactly 1 MiB is accepted and stored whole' '
	hookd_start h ORKET_RATE_LIMIT=1000 &&
	hook h $S --body mib.json --event push --delivery mib-length >out &&
	expect_answer 200 "$ok" &&
	hook h $S --body mib.json --event push --delivery mib-chunked --chunked >out &&
	expect_answer 200 "$ok" &&
	hook h $S --body mib.json --event push --delivery mib-one-chunk --chunked \
	    --chunk-size 1048576 >out &&
	expect_answer 200 "$ok" &&
	sqlite3 h.db "SELECT delivery_id, length(CAST(payload AS BLOB)) FROM webhook_events
	    ORDER BY id" >actual &&
	printf "%s|1048576\n" mib-length mib-chunked mib-one-chunk >expect &&
	test_cmp expect actual &&
	payload h mib-length got.json && cmp mib.json got.json &&
	payload h mib-chunked got.json && cmp mib.json got.json
'

test_expect_success HOOKD 'one byte more is 413, from Content-Length or while reading chunks' '
	hookd_start h ORKET_RATE_LIMIT=1000 &&
	hook h $S --body mib1.json --event push --delivery over-length >out &&
	expect_answer 413 "{\"detail\":\"Payload too large\"}" &&
	hook h $S --body mib1.json --event push --delivery over-chunked --chunked >out &&
	expect_status 413 &&
	hook h $S --body mib1.json --event push --delivery over-one-chunk --chunked \
	    --chunk-size 1048577 >out &&
	expect_status 413 &&
	hook h $S --body mib1.json --event push --delivery over-small-chunks --chunked \
	    --chunk-size 4096 >out &&
	expect_status 413 &&
	hook h --body mib1.json --event push >out &&
	expect_answer 413 "{\"detail\":\"Payload too large\"}" &&
	test "$(rows h)" = 0 &&
	hook h --no-body --path /health >out &&
	expect_answer 200 "{\"status\":\"healthy\"}" &&
	hook h $S --body mib.json --event push --delivery after >out &&
	expect_answer 200 "$ok" &&
	test "$(grep -c "\"status\":413" h.log)" = 5 &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	test "$(metric "orket_hookd_requests_total{code=\"413\"}")" = 5
'

test_expect_success HOOKD 'the header section: 16 KiB passes, one byte more is 431' '
	hookd_start h ORKET_RATE_LIMIT=1000 &&
	hook h $S --body-text "{}" --event push --delivery hdr-16k --headers-bytes 16384 >out &&
	expect_answer 200 "$ok" &&
	hook h $S --body-text "{}" --event push --delivery hdr-16k1 --headers-bytes 16385 >out &&
	expect_status 431 &&
	hook h --no-body --path /health --headers-bytes 16385 >out &&
	expect_status 431 &&
	hook h --no-body --path /health --headers-bytes 16384 >out &&
	expect_answer 200 "{\"status\":\"healthy\"}" &&
	test "$(rows h hdr-16k)" = 1 && test "$(rows h hdr-16k1)" = 0
'

test_expect_success HOOKD 'header fields: 64 pass, 65 are 431' '
	hookd_start h ORKET_RATE_LIMIT=1000 &&
	hook h $S --body-text "{}" --event push --delivery n64 --headers-count 64 >out &&
	expect_answer 200 "$ok" &&
	hook h $S --body-text "{}" --event push --delivery n65 --headers-count 65 >out &&
	expect_status 431 &&
	test "$(rows h n64)" = 1 && test "$(rows h n65)" = 0
'

test_expect_success HOOKD 'the request target: 8192 bytes pass, 8193 are 414' '
	hookd_start h ORKET_RATE_LIMIT=1000 &&
	hook h $S --body-text "{}" --event push --delivery url-8192 --target-bytes 8192 >out &&
	expect_answer 200 "$ok" &&
	hook h $S --body-text "{}" --event push --delivery url-8193 --target-bytes 8193 >out &&
	expect_status 414 &&
	hook h --no-body --path /health --target-bytes 8193 >out &&
	expect_status 414 &&
	test "$(rows h url-8192)" = 1 && test "$(rows h url-8193)" = 0
'

test_expect_success HOOKD 'X-Gitea-Delivery: 128 bytes are kept, 129 are 400; X-Gitea-Event: 64 and 65' '
	hookd_start h ORKET_RATE_LIMIT=1000 &&
	id128=$(python3 -c "print(\"d\" * 120 + \"-0123456\")") && test ${#id128} = 128 &&
	id129=${id128}7 &&
	hook h $S --body-text "{}" --event push --delivery "$id128" >out &&
	expect_answer 200 "$ok" &&
	hook h $S --body-text "{}" --event push --delivery "$id128" >out &&
	expect_status 200 && test_grep "^{\"status\":\"duplicate\"," out &&
	hook h $S --body-text "{}" --event push --delivery "$id129" >out &&
	expect_status 400 && test_grep "^{\"detail\":\"Invalid payload: [^\"]*\"}$" out &&
	test "$(rows h "$id128")" = 1 && test "$(rows h "$id129")" = 0 &&
	ev64=$(python3 -c "print(\"e\" * 64)") &&
	hook h $S --body-text "{}" --event "$ev64" --delivery ev64 >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type $ev64 not handled\"}" &&
	hook h $S --body-text "{}" --event "${ev64}e" --delivery ev65 >out &&
	expect_status 400 && test_grep "^{\"detail\":\"Invalid payload: " out &&
	test "$(rows h)" = 2
'

test_expect_success HOOKD 'rate limit: the 4th request from one address in 60 s is 429, others pass' '
	hookd_start rl ORKET_RATE_LIMIT=3 &&
	(
		for i in 1 2 3; do
			hook rl $S --body-text "{}" --event push --delivery "rl-$i" >out &&
			expect_answer 200 "$ok" || exit 1
		done
	) &&
	test "$(rows rl)" = 3 &&
	hook rl $S --body-text "{}" --event push --delivery rl-4 --show-headers >out &&
	expect_status 429 &&
	test_grep "^{\"detail\":\"Webhook rate limit exceeded\"}$" out &&
	test_grep "^Content-Type: application/json$" out &&
	ra=$(retry_after) && test -n "$ra" && test "$ra" -ge 1 && test "$ra" -le 60 &&
	hook rl --bind 127.0.0.2 $S --body-text "{}" --event push --delivery rl-other >out &&
	expect_answer 200 "$ok" &&
	hook rl $S --body-text "{}" --event push --delivery rl-5 >out &&
	expect_answer 429 "{\"detail\":\"Webhook rate limit exceeded\"}" &&
	hook rl --bind 127.0.0.2 $S --body-text "{}" --event push --delivery rl-other2 >out &&
	expect_answer 200 "$ok" &&
	hook rl --no-body --path /health >out &&
	expect_answer 200 "{\"status\":\"healthy\"}" &&
	test "$(rows rl)" = 5 && test "$(rows rl rl-4)" = 0 && test "$(rows rl rl-5)" = 0 &&
	hook rl --no-body --path /metrics | sed 1d >metrics &&
	test "$(metric orket_hookd_rate_limited_total)" = 2 &&
	test "$(metric "orket_hookd_requests_total{code=\"429\"}")" = 2 &&
	test "$(grep -c "\"status\":429,\"addr\":\"127.0.0.1\"" rl.log)" = 2
'

test_expect_success HOOKD 'rejected requests (401, 400, 413) count toward the limit' '
	hookd_start rl ORKET_RATE_LIMIT=3 &&
	hook rl --body-text "{}" --event push >out &&
	expect_answer 401 "{\"detail\":\"Missing signature\"}" &&
	hook rl --body-text "{}" --event push \
	    --sig "raw:X-Gitea-Signature:0000000000000000000000000000000000000000000000000000000000000000" \
	    >out &&
	expect_answer 401 "{\"detail\":\"Invalid signature\"}" &&
	hook rl $S --body-text "{\"number\":0}" --event pull_request >out &&
	expect_status 400 &&
	hook rl $S --body-text "{}" --event push --delivery late >out &&
	expect_answer 429 "{\"detail\":\"Webhook rate limit exceeded\"}" &&
	jsonpad 1048577 >big.json &&
	hook rl --bind 127.0.0.3 $S --body big.json --event push >out &&
	expect_status 413 &&
	hook rl --bind 127.0.0.3 $S --body-text "{}" --event push --delivery a3-1 >out &&
	expect_answer 200 "$ok" &&
	hook rl --bind 127.0.0.3 $S --body-text "{}" --event push --delivery a3-2 >out &&
	expect_answer 200 "$ok" &&
	hook rl --bind 127.0.0.3 $S --body-text "{}" --event push --delivery a3-3 >out &&
	expect_answer 429 "{\"detail\":\"Webhook rate limit exceeded\"}" &&
	test "$(rows rl)" = 2
'

test_expect_success HOOKD 'Retry-After is the real time until a slot frees, not a constant' '
	hookd_start rl ORKET_RATE_LIMIT=2 &&
	hook rl $S --body-text "{}" --event push --delivery ra-1 >out &&
	expect_status 200 &&
	sleep 2.2 &&
	hook rl $S --body-text "{}" --event push --delivery ra-2 >out &&
	expect_status 200 &&
	hook rl $S --body-text "{}" --event push --delivery ra-3 --show-headers >out &&
	expect_status 429 &&
	ra=$(retry_after) && test -n "$ra" && test "$ra" -ge 50 && test "$ra" -le 58
'

test_expect_success HOOKD 'ORKET_RATE_LIMIT below 1 means 1' '
	hookd_start rl ORKET_RATE_LIMIT=0 &&
	hook rl $S --body-text "{}" --event push --delivery z-1 >out &&
	expect_answer 200 "$ok" &&
	hook rl $S --body-text "{}" --event push --delivery z-2 >out &&
	expect_answer 429 "{\"detail\":\"Webhook rate limit exceeded\"}" &&
	hookd_start rn ORKET_RATE_LIMIT=-5 &&
	hook rn $S --body-text "{}" --event push --delivery n-1 >out &&
	expect_answer 200 "$ok" &&
	hook rn $S --body-text "{}" --event push --delivery n-2 >out &&
	expect_answer 429 "{\"detail\":\"Webhook rate limit exceeded\"}"
'

test_expect_success 'a malformed ORKET_RATE_LIMIT is exit 100, naming it' '
	(
		for v in abc 5.0 12x 0x10 99999999999999999999; do
			test_expect_code 100 env ORKET_RATE_LIMIT="$v" ORKET_WEBHOOK_HOST=127.0.0.1 \
			    ORKET_WEBHOOK_PORT=0 ORKET_WEBHOOK_DB=never.db timeout 10 orket-hookd \
			    2>err &&
			test_grep "ORKET_RATE_LIMIT" err || exit 1
		done
	) &&
	test ! -e never.db
'

test_done
