#!/bin/sh
# See LICENSE.
test_description='orket-hookd over HTTP: routes, signatures, payloads, replay, event log, exit codes'
. "$(dirname "$0")/lib.sh"

hookd_env
fix=$TEST_TOP/../shared/fixtures/gitea
test_have_prereq HOOKD && test -f "$fix/push-branch-multi-commit.json" && test_set_prereq FIXTURES

# The secret only ever travels through the environment (--secret-env), never through argv.
secret='hook-S3cret-9d2f/e71'
GITEA_WEBHOOK_SECRET=$secret
export GITEA_WEBHOOK_SECRET
S='--secret-env GITEA_WEBHOOK_SECRET'

# hookd_start NAME [VAR=VALUE...]: orket-hookd on 127.0.0.1, an ephemeral port, with fresh
# databases (NAME.db, NAME-runtime.db) and event log (NAME.log), stopped after the test.
# The rate limit is out of the way here (t/2011 tests it).
hookd_start() {
	hn=$1
	shift
	test_when_finished "daemon_stop $hn"
	rm -f "$hn.db" "$hn.db-wal" "$hn.db-shm" "$hn-runtime.db" "$hn-runtime.db-wal" \
	    "$hn-runtime.db-shm" "$hn.log" || return 1
	daemon_start "$hn" env ORKET_WEBHOOK_HOST=127.0.0.1 ORKET_WEBHOOK_PORT=0 \
	    ORKET_WEBHOOK_DB="$hn.db" ORKET_RUNTIME_DB="$hn-runtime.db" \
	    ORKET_EVENT_LOG="$hn.log" ORKET_RATE_LIMIT=1000 "$@" orket-hookd
}

# expect_answer STATUS BODY: the client's output, in "out", must be exactly this.
expect_answer() {
	printf '%s\n%s\n' "$1" "$2" >expect && test_cmp expect out
}

# rows NAME [ID | -null]: how many webhook_events rows daemon NAME stored (with that
# delivery id, or with none).
rows() {
	case ${2-} in
	'') sqlite3 "$1.db" "SELECT count(*) FROM webhook_events" ;;
	-null) sqlite3 "$1.db" "SELECT count(*) FROM webhook_events WHERE delivery_id IS NULL" ;;
	*) sqlite3 "$1.db" "SELECT count(*) FROM webhook_events WHERE delivery_id = '$2'" ;;
	esac
}

# row NAME ID COLUMNS: those columns of the row of delivery ID.
row() {
	sqlite3 "$1.db" "SELECT $3 FROM webhook_events WHERE delivery_id = '$2'"
}

# payload NAME ID FILE: the stored payload of delivery ID, byte for byte, into FILE.
payload() {
	rm -f "$3" &&
	sqlite3 "$1.db" "SELECT writefile('$3', payload) FROM webhook_events
	    WHERE delivery_id = '$2'" >/dev/null &&
	test -f "$3"
}

# A metric's value in the file "metrics" (the whole name with its labels).
metric() {
	awk -v m="$1" '$1 == m { print $2 }' metrics
}

# Every event log line is one JSON object {"timestamp","role","event","data"}; the statuses
# of the rejection events ("webhook", level "error"), in order, must be exactly the
# arguments after the file name.
cat >check-events.py <<'PY'
import json, re, sys
want = [int(s) for s in sys.argv[2:]]
got = []
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    assert list(e) == ["timestamp", "role", "event", "data"], line
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", e["timestamp"]), line
    assert e["role"] == "hookd", line
    if e["event"] == "webhook" and e["data"].get("level") == "error":
        got.append(e["data"]["status"])
if got != want:
    sys.exit("rejection events %s, want %s" % (got, want))
PY

push='{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"4a5b6c7d8e9f00112233445566778899aabbccdd","repository":{"full_name":"acme/web","name":"web","owner":{"login":"acme"}}}'
printf '%s' "$push" >push.json

test_expect_success 'usage errors: unknown option, bad -d, missing value exit 100' '
	test_expect_code 100 orket-hookd --bogus >out 2>err &&
	test_grep "usage: orket-hookd" err && test_grep "bogus" err &&
	test_expect_code 100 orket-hookd stray 2>err && test_grep "stray" err &&
	test_expect_code 100 orket-hookd -d 987 2>err && test_grep "^orket-hookd: .*-d" err &&
	test_expect_code 100 orket-hookd -d 2 2>err &&
	test_expect_code 100 orket-hookd -d abc 2>err &&
	test_expect_code 100 orket-hookd -d 2>err &&
	test_expect_code 100 orket-hookd --env-file 2>err &&
	test ! -e .orket && test ! -e workspace
'

test_expect_success '--help and --version print to stdout and exit 0' '
	orket-hookd --help >out 2>err && test ! -s err &&
	test_grep "^usage: orket-hookd \[-d fd\] \[--env-file path\]$" out &&
	orket-hookd -h >out2 && test_cmp out out2 &&
	orket-hookd --version >out 2>err && test ! -s err &&
	test_grep "^orket-hookd [0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*" out &&
	test "$(wc -l <out)" = 1
'

test_expect_success 'a missing or blank GITEA_WEBHOOK_SECRET is exit 100, naming it' '
	test_expect_code 100 env -u GITEA_WEBHOOK_SECRET ORKET_WEBHOOK_PORT=0 \
	    timeout 10 orket-hookd 2>err &&
	test_grep "GITEA_WEBHOOK_SECRET" err &&
	test_expect_code 100 env GITEA_WEBHOOK_SECRET= ORKET_WEBHOOK_PORT=0 \
	    timeout 10 orket-hookd 2>err &&
	test_grep "GITEA_WEBHOOK_SECRET" err &&
	test_expect_code 100 env GITEA_WEBHOOK_SECRET="   " ORKET_WEBHOOK_PORT=0 \
	    timeout 10 orket-hookd 2>err &&
	test_grep "GITEA_WEBHOOK_SECRET" err &&
	test_expect_code 100 env GITEA_WEBHOOK_SECRET="	 " ORKET_WEBHOOK_PORT=0 \
	    timeout 10 orket-hookd 2>err &&
	test_grep "GITEA_WEBHOOK_SECRET" err &&
	test ! -e .orket && test ! -e workspace
'

test_expect_success HOOKD 'it reports readiness on -d and its port on stderr, then serves GET /' '
	hookd_start h &&
	test_grep "listening on http://127.0.0.1:[0-9]*/" h.err &&
	test "$(cat h.port)" -gt 0 &&
	orket-hookd --version | sed "s/^orket-hookd //" >version &&
	hook h --no-body --path / --show-headers >out &&
	test_grep "^Content-Type: application/json$" out &&
	sed -n "\$p" out >body &&
	printf "{\"service\":\"Orket Webhook Server\",\"status\":\"running\",\"version\":\"%s\"}\n" \
	    "$(cat version)" >expect && test_cmp expect body &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status
'

test_expect_success HOOKD 'GET /health; unknown paths 404; wrong methods 405' '
	hookd_start h &&
	hook h --no-body --path /health >out &&
	expect_answer 200 "{\"status\":\"healthy\"}" &&
	hook h --no-body --path /nope >out &&
	expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	hook h --no-body --path /webhook/gitea/ >out &&
	expect_answer 404 "{\"detail\":\"Not Found\"}" &&
	hook h --no-body --path /webhook/gitea --show-headers >out &&
	head -n 1 out >status && echo 405 >expect && test_cmp expect status &&
	test_grep "^Allow: POST$" out &&
	test_grep "^{\"detail\":\"Method Not Allowed\"}$" out &&
	hook h --method PUT --body-text "{}" --path /webhook/gitea >out &&
	expect_answer 405 "{\"detail\":\"Method Not Allowed\"}" &&
	hook h --no-body --path /webhook/test >out &&
	expect_answer 405 "{\"detail\":\"Method Not Allowed\"}" &&
	hook h --method POST --body-text "{}" --path /health >out &&
	expect_answer 405 "{\"detail\":\"Method Not Allowed\"}" &&
	hook h --no-body --path /health >out &&
	expect_answer 200 "{\"status\":\"healthy\"}"
'

test_expect_success HOOKD 'GET /metrics is Prometheus text and its counters move' '
	hookd_start h &&
	hook h --no-body --path /metrics --show-headers >out &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
	test_grep "^Content-Type: text/plain" out &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	test "$(metric "orket_hookd_signature_failures_total{reason=\"invalid\"}")" = 0 &&
	test "$(metric "orket_hookd_signature_failures_total{reason=\"missing\"}")" = 0 &&
	test_grep ! "signature_failures_by_addr_total{addr=" metrics &&
	hook h --body push.json --event push \
	    --sig "raw:X-Gitea-Signature:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
	    >out &&
	expect_answer 401 "{\"detail\":\"Invalid signature\"}" &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	test "$(metric "orket_hookd_signature_failures_total{reason=\"invalid\"}")" = 1 &&
	test "$(metric "orket_hookd_signature_failures_total{reason=\"missing\"}")" = 0 &&
	test "$(metric "orket_hookd_signature_failures_by_addr_total{addr=\"127.0.0.1\"}")" = 1 &&
	test "$(metric "orket_hookd_requests_total{code=\"401\"}")" = 1 &&
	hook h --bind 127.0.0.2 --body push.json --event push >out &&
	expect_answer 401 "{\"detail\":\"Missing signature\"}" &&
	hook h $S --body push.json --event push --delivery m-1 >out &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
	hook h $S --body push.json --event push --delivery m-1 >out &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	test "$(metric "orket_hookd_signature_failures_total{reason=\"missing\"}")" = 1 &&
	test "$(metric "orket_hookd_signature_failures_by_addr_total{addr=\"127.0.0.2\"}")" = 1 &&
	test "$(metric "orket_hookd_signature_failures_by_addr_total{addr=\"127.0.0.1\"}")" = 1 &&
	test "$(metric "orket_hookd_requests_total{code=\"401\"}")" = 2 &&
	test "$(metric "orket_hookd_deliveries_total{result=\"stored\"}")" = 1 &&
	test "$(metric "orket_hookd_deliveries_total{result=\"duplicate\"}")" = 1 &&
	test "$(metric "orket_hookd_delivery_seconds_count")" = 2 &&
	test "$(metric "orket_hookd_delivery_seconds_bucket{le=\"+Inf\"}")" = 2 &&
	test -n "$(metric orket_hookd_rate_limited_total)" &&
	test -n "$(metric orket_hookd_outbox_depth)" &&
	grep -v "^#" metrics >samples && test -s samples &&
	! grep -v -E "^[a-z_]+(\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\})? [0-9.eE+-]+$" samples
'

test_expect_success FIXTURES 'real Gitea deliveries are stored byte for byte and answered 200' '
	hookd_start h &&
	(
		while read -r file event type id want; do
			if [ "$type" = - ]; then et=; else et="--event-type $type"; fi
			hook h $S --body "$fix/$file" --event "$event" $et --delivery "$id" >out &&
			head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
			sed -n 2p out >body &&
			test_grep "^{\"status\":\"$want\",\"message\":\"[^\"]*\"}$" body &&
			payload h "$id" got.json && cmp "$fix/$file" got.json &&
			row h "$id" "event_type, source_addr, result" >actual &&
			printf "%s|127.0.0.1|%s\n" "$event" "$(cat body)" >expect &&
			test_cmp expect actual || exit 1
		done
	) <<-\EOF &&
	push-branch-multi-commit.json push push 5b0c3a1e-push ignored
	push-branch-gitea1.5.json push - 5b0c3a1e-push-old ignored
	push-docs-example.json push - 5b0c3a1e-push-docs ignored
	pull_request-opened-gitea1.5.json pull_request - 5b0c3a1e-opened ignored
	pull_request-synchronized.json pull_request pull_request_sync 5b0c3a1e-sync ignored
	pull_request-closed-unmerged.json pull_request pull_request 5b0c3a1e-closed ignored
	pull_request-closed-merged.json pull_request pull_request 5b0c3a1e-merged success
	pull_request_approved-review.json pull_request_approved pull_request_review_approved 5b0c3a1e-ok success
	pull_request_rejected-review.json pull_request_rejected pull_request_review_rejected 5b0c3a1e-no changes_requested
	EOF
	test "$(rows h)" = 9 &&
	row h 5b0c3a1e-push result >actual &&
	echo "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" >expect &&
	test_cmp expect actual &&
	row h 5b0c3a1e-opened result >actual &&
	echo "{\"status\":\"ignored\",\"message\":\"No issue ID found in PR title\"}" >expect &&
	test_cmp expect actual &&
	row h 5b0c3a1e-closed result >actual &&
	echo "{\"status\":\"ignored\",\"message\":\"PR closed without merge\"}" >expect &&
	test_cmp expect actual &&
	row h 5b0c3a1e-no "pr_key, action" >actual &&
	echo "a_nice_user/hello_world_ci#7|reviewed" >expect && test_cmp expect actual &&
	row h 5b0c3a1e-merged "pr_key, action" >actual &&
	echo "anbraten/test-repo#1|closed" >expect && test_cmp expect actual
'

test_expect_success FIXTURES 'a chunked delivery is stored byte for byte too' '
	hookd_start h &&
	hook h $S --body "$fix/pull_request-closed-merged.json" --event pull_request \
	    --delivery chunky --chunked --chunk-size 1000 >out &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
	payload h chunky got.json && cmp "$fix/pull_request-closed-merged.json" got.json
'

test_expect_success HOOKD 'signatures: X-Gitea-Signature hex or X-Hub-Signature-256 sha256=hex' '
	hookd_start h &&
	good=$(python3 "$TEST_DIR/webhook-client.py" $S --body push.json --print-sig) &&
	test ${#good} = 64 &&
	other=$(python3 "$TEST_DIR/webhook-client.py" $S --body-text "{}" --print-sig) &&
	hook h $S --body push.json --event push --delivery sig-gitea --sig gitea >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook h $S --body push.json --event push --delivery sig-hub --sig hub >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook h $S --body push.json --event push --delivery sig-both --sig both >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook h $S --body push.json --event push --delivery sig-literal \
	    --sig "raw:X-Gitea-Signature:$good" >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	short=$(echo "$good" | cut -c 1-63) &&
	for bad in "raw:X-Gitea-Signature:sha256={sig}" \
	    "raw:X-Gitea-Signature:{SIG}" \
	    "raw:X-Gitea-Signature:$other" \
	    "raw:X-Gitea-Signature:0000000000000000000000000000000000000000000000000000000000000000" \
	    "raw:X-Gitea-Signature:$short" \
	    "raw:X-Gitea-Signature:${good}0" \
	    "raw:X-Gitea-Signature:${short}g" \
	    "raw:X-Hub-Signature-256:{sig}" \
	    "raw:X-Hub-Signature-256:SHA256={sig}" \
	    "raw:X-Hub-Signature-256:sha256={SIG}" \
	    "raw:X-Hub-Signature-256:sha1={sig}"
	do
		echo "$bad"
	done >variants &&
	(
		while IFS= read -r bad; do
			hook h $S --body push.json --event push --delivery sig-bad --sig "$bad" >out &&
			expect_answer 401 "{\"detail\":\"Invalid signature\"}" ||
			{ echo "for $bad" >&2; exit 1; }
		done <variants
	) &&
	OTHER_SECRET=not-the-secret hook h --secret-env OTHER_SECRET --body push.json \
	    --event push >out &&
	expect_answer 401 "{\"detail\":\"Invalid signature\"}" &&
	hook h --body push.json --event push --delivery sig-none >out &&
	expect_answer 401 "{\"detail\":\"Missing signature\"}" &&
	hook h --body push.json --event push --sig "raw:X-Gitea-Signature:" >out &&
	expect_answer 401 "{\"detail\":\"Missing signature\"}" &&
	hook h --body push.json --event push --sig "raw:X-Gitea-Signature-256:$good" >out &&
	expect_answer 401 "{\"detail\":\"Missing signature\"}" &&
	test "$(rows h)" = 4 && test "$(rows h sig-bad)" = 0
'

test_expect_success HOOKD 'any bytes in the signature header give 401, never 500; it stays up' '
	hookd_start h &&
	high=$(python3 -c "print(\"\\\\x80\\\\xff\" * 32)") &&
	all=$(python3 -c "print(\"\".join(\"\\\\x%02x\" % b for b in range(0x80, 0x100)))") &&
	utf8=$(python3 -c "print(\"\\\\xc3\\\\xa9\" * 32)") &&
	long=$(python3 -c "print(\"a\" * 12000)") &&
	for bad in "raw:X-Gitea-Signature:$high" "raw:X-Gitea-Signature:$all" \
	    "raw:X-Gitea-Signature:$utf8" "raw:X-Gitea-Signature:$long" \
	    "raw:X-Gitea-Signature:{sig}\xff" "raw:X-Gitea-Signature:\xff{sig}" \
	    "raw:X-Hub-Signature-256:sha256=$high" "raw:X-Hub-Signature-256:$all" \
	    "raw:X-Gitea-Signature:\"{sig}\"" "raw:X-Gitea-Signature:{sig},{sig}"
	do
		echo "$bad"
	done >variants &&
	(
		while IFS= read -r bad; do
			hook h $S --body push.json --event push --sig "$bad" >out &&
			expect_answer 401 "{\"detail\":\"Invalid signature\"}" ||
			{ echo "for $bad" >&2; exit 1; }
		done <variants
	) &&
	hook h $S --body push.json --event push --sig "raw:X-Gitea-Signature:ab\x01cd" >out &&
	head -n 1 out >status && echo 400 >expect && test_cmp expect status &&
	hook h --no-body --path /health >out &&
	expect_answer 200 "{\"status\":\"healthy\"}" &&
	hook h $S --body push.json --event push --delivery still-up >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	test_grep ! "code=\"5" metrics &&
	test "$(metric "orket_hookd_signature_failures_total{reason=\"invalid\"}")" = 10 &&
	kill -0 "$(cat h.pid)"
'

test_expect_success HOOKD 'invalid JSON and wrong types are 400 "Invalid payload: ..." and not stored' '
	hookd_start h &&
	(
		while IFS= read -r body; do
			hook h $S --body-text "$body" --event pull_request --delivery bad >out &&
			head -n 1 out >status && echo 400 >expect && test_cmp expect status &&
			sed -n 2p out >detail &&
			test_grep "^{\"detail\":\"Invalid payload: [^\"]" detail ||
			{ echo "for the body: $body" >&2; exit 1; }
		done
	) <<-\EOF &&
	{"action":
	not json
	{"number":1}x
	{"number":1,}
	{'"'"'number'"'"':1}
	{"number":"x"}
	{"number":0}
	{"number":-1}
	{"number":1.5}
	{"number":true}
	{"action":5}
	{"action":["opened"]}
	{"pull_request":"str"}
	{"pull_request":[]}
	{"repository":1}
	{"review":"approved"}
	{"sender":false}
	[]
	[{"action":"opened"}]
	"a string"
	42
	null
	EOF
	hook h $S --body-text "" --event pull_request --delivery bad >out &&
	head -n 1 out >status && echo 400 >expect && test_cmp expect status &&
	test_grep "^{\"detail\":\"Invalid payload: " out &&
	printf "{\"action\":\"\377\"}" >bad-utf8.json &&
	hook h $S --body bad-utf8.json --event pull_request --delivery bad >out &&
	head -n 1 out >status && echo 400 >expect && test_cmp expect status &&
	test_grep "^{\"detail\":\"Invalid payload: " out &&
	test "$(rows h)" = 0 &&
	hook h --no-body --path /metrics | sed 1d >metrics &&
	test "$(metric orket_hookd_invalid_payloads_total)" = 24 &&
	hook h $S --event push --delivery nulls \
	    --body-text "{\"action\":null,\"number\":null,\"pull_request\":null,\"review\":null}" >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook h $S --event push --delivery extra \
	    --body-text "{\"number\":3,\"unknown\":[1,{\"x\":null}],\"sender\":{}}" >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	test "$(rows h)" = 2
'

test_expect_success HOOKD 'a repeated X-Gitea-Delivery is answered duplicate and changes nothing' '
	hookd_start h &&
	hook h $S --body push.json --event push --delivery 0f6a-dup >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook h $S --body push.json --event push --delivery 0f6a-dup >out &&
	expect_answer 200 "{\"status\":\"duplicate\",\"message\":\"Delivery 0f6a-dup was already received\"}" &&
	hook h $S --body-text "{\"number\":2}" --event pull_request --delivery 0f6a-dup >out &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
	test_grep "^{\"status\":\"duplicate\"," out &&
	test "$(rows h)" = 1 &&
	row h 0f6a-dup event_type >actual && echo push >expect && test_cmp expect actual &&
	payload h 0f6a-dup got.json && cmp push.json got.json &&
	hook h $S --body push.json --event push >out &&
	hook h $S --body push.json --event push >out &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
	test "$(rows h -null)" = 2 &&
	hook h $S --body push.json --event push --delivery 0f6a-dup2 >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	test "$(rows h)" = 4
'

test_expect_success HOOKD 'each rejected delivery is one event log line, without secret or signature' '
	hookd_start h &&
	good=$(python3 "$TEST_DIR/webhook-client.py" $S --body push.json --print-sig) &&
	wrong=9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0 &&
	hook h --body push.json --event push >out &&
	expect_answer 401 "{\"detail\":\"Missing signature\"}" &&
	hook h --body push.json --event push --sig "raw:X-Gitea-Signature:$wrong" >out &&
	expect_answer 401 "{\"detail\":\"Invalid signature\"}" &&
	hook h $S --body push.json --event push --sig "raw:X-Gitea-Signature:{SIG}" >out &&
	expect_answer 401 "{\"detail\":\"Invalid signature\"}" &&
	hook h $S --body push.json --event push --sig "raw:X-Hub-Signature-256:sha256=$wrong" >out &&
	expect_answer 401 "{\"detail\":\"Invalid signature\"}" &&
	hook h $S --body-text "{\"number\":0}" --event pull_request >out &&
	head -n 1 out >status && echo 400 >expect && test_cmp expect status &&
	hook h $S --body push.json --event push --delivery logged-ok >out &&
	head -n 1 out >status && echo 200 >expect && test_cmp expect status &&
	python3 check-events.py h.log 401 401 401 401 400 &&
	test_grep "\"addr\":\"127.0.0.1\"" h.log &&
	test_grep "Missing webhook signature" h.log &&
	test_grep "Invalid webhook signature" h.log &&
	test -s h.err &&
	! grep -F -i -e "$secret" -e "$good" -e "$wrong" h.log h.err
'

test_expect_success HOOKD '/webhook/test is 403 unless enabled with a token, then needs the bearer' '
	hookd_start off &&
	hook off --path /webhook/test --body-text "{\"event\":\"push\"}" >out &&
	expect_answer 403 "{\"detail\":\"Test webhook endpoint disabled\"}" &&
	hook off --path /webhook/test --body-text "{}" \
	    --header "Authorization: Bearer tok-1d7e-secret" >out &&
	expect_answer 403 "{\"detail\":\"Test webhook endpoint disabled\"}" &&
	hookd_start notoken ORKET_ENABLE_WEBHOOK_TEST_ENDPOINT=true &&
	hook notoken --path /webhook/test --body-text "{}" \
	    --header "Authorization: Bearer tok-1d7e-secret" >out &&
	head -n 1 out >status && echo 403 >expect && test_cmp expect status &&
	test_grep "^{\"detail\":\"[^\"]*\"}$" out &&
	hookd_start on ORKET_ENABLE_WEBHOOK_TEST_ENDPOINT=" Yes " \
	    ORKET_WEBHOOK_TEST_TOKEN=tok-1d7e-secret &&
	hook on --path /webhook/test --body-text "{\"event\":\"push\"}" >out &&
	head -n 1 out >status && echo 401 >expect && test_cmp expect status &&
	test_grep "^{\"detail\":\"[^\"]*\"}$" out &&
	for auth in "Bearer tok-1d7e-wrong" "Bearer tok-1d7e-secretX" "Bearer tok-1d7e-secre" \
	    "Bearer " "Basic dG9rLTFkN2Utc2VjcmV0Og==" "tok-1d7e-secret" "Bearer  tok-1d7e-secret"
	do
		echo "$auth"
	done >variants &&
	(
		while IFS= read -r auth; do
			hook on --path /webhook/test --body-text "{\"event\":\"push\"}" \
			    --header "Authorization: $auth" >out &&
			head -n 1 out >status && echo 401 >expect && test_cmp expect status ||
			{ echo "for Authorization: $auth" >&2; exit 1; }
		done <variants
	) &&
	hook on --path /webhook/test --body-text "{\"event\":\"push\",\"payload\":{}}" \
	    --header "Authorization: Bearer tok-1d7e-secret" >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	hook on --path /webhook/test --body-text "{}" \
	    --header "Authorization: Bearer tok-1d7e-secret" >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type test not handled\"}" &&
	! grep -F -e tok-1d7e-secret on.log on.err notoken.log off.log
'

test_expect_success HOOKD 'SIGTERM finishes the request in progress, refuses new ones, exits 0' '
	hookd_start h &&
	hook h $S --body push.json --event push --delivery before-term >out &&
	expect_answer 200 "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" &&
	rm -f paused &&
	{ hook h $S --body push.json --event push --delivery in-flight --pause-at 100 \
	    --pause 1 --paused-file paused >inflight & cpid=$!; } &&
	i=0 &&
	while [ ! -f paused ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done &&
	test -f paused &&
	hpid=$(cat h.pid) &&
	kill -TERM "$hpid" &&
	sleep 0.3 &&
	test_must_fail hook h --no-body --path /health >out 2>err &&
	wait $cpid &&
	printf "200\n%s\n" "{\"status\":\"ignored\",\"message\":\"Event type push not handled\"}" \
	    >expect && test_cmp expect inflight &&
	i=0 &&
	while kill -0 "$hpid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done &&
	! kill -0 "$hpid" 2>/dev/null &&
	{ wait "$hpid"; echo $? >h.status; rm -f h.pid; } &&
	echo 0 >expect && test_cmp expect h.status &&
	test_grep "stopped" h.err &&
	test "$(rows h before-term)" = 1 && test "$(rows h in-flight)" = 1
'

test_expect_success HOOKD 'SIGTERM and SIGINT on an idle daemon: exit 0 at once' '
	hookd_start h &&
	daemon_stop h && echo 0 >expect && test_cmp expect h.status &&
	hookd_start h2 &&
	daemon_stop h2 INT && echo 0 >expect && test_cmp expect h2.status
'

test_done
