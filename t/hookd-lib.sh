# See LICENSE. Helpers for the orket-hookd tests: a Gitea double, the daemon, deliveries.
# Sourced after t/lib.sh.

FIX=$TEST_TOP/../shared/fixtures/gitea
[ -d "$FIX" ] || FIX=$(cd "$TEST_TOP/.." && pwd)/shared/fixtures/gitea
[ -d "$FIX" ] && test_set_prereq FIXTURES
command -v python3 >/dev/null && command -v curl >/dev/null && test_set_prereq CLIENTS

export GITEA_WEBHOOK_SECRET='test-secret-0123'
GITEA_TEST_PASSWORD='gitea-pw-XyZ987'

# gitea_start: the REST double on an ephemeral port; its calls land in gitea.log.
gitea_start() {
	rm -f gitea.port
	printf '%s' "$GITEA_TEST_PASSWORD" >gitea.pw
	python3 "$TEST_DIR/gitea-double.py" --port 0 --port-file gitea.port --log gitea.log \
		--user orket --password-file gitea.pw --lifetime 300 </dev/null >gitea.out 2>&1 &
	echo $! >gitea.pid
	i=0
	while [ ! -s gitea.port ] && [ $i -lt 100 ]; do
		kill -0 "$(cat gitea.pid)" 2>/dev/null || { cat gitea.out >&2; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	test -s gitea.port
}

gitea_stop() {
	[ -f gitea.pid ] && kill "$(cat gitea.pid)" 2>/dev/null
	rm -f gitea.pid
}

# gitea_control PATH JSON: a control call to the double.
gitea_control() {
	curl -s -f -X POST -H 'Content-Type: application/json' --data-binary "$2" \
		"http://127.0.0.1:$(cat gitea.port)/_control/$1" >/dev/null
}

# hookd_start [ARGS...]: exec the daemon (so daemon_start knows its pid), talking to the
# double, in this folder; HOOKD_ENV holds
# extra VAR=VALUE words (no spaces in them).
hookd_start() {
	# shellcheck disable=SC2086
	exec env ORKET_WEBHOOK_PORT=0 ORKET_WEBHOOK_HOST=127.0.0.1 \
		GITEA_URL="http://127.0.0.1:$(cat gitea.port 2>/dev/null || echo 9)" \
		GITEA_ADMIN_USER=orket GITEA_ADMIN_PASSWORD="$GITEA_TEST_PASSWORD" \
		ORKET_WEBHOOK_DB=w.db ORKET_RUNTIME_DB=r.db ORKET_EVENT_LOG=events.log \
		ORKET_OUTBOX_BACKOFF_MS=100 ORKET_RATE_LIMIT=100000 ${HOOKD_ENV:-} \
		orket-hookd "$@"
}

# sign FILE: the signature of FILE's bytes with $GITEA_WEBHOOK_SECRET (kept out of argv).
sign() {
	python3 -c 'import hmac, hashlib, os, sys
print(hmac.new(os.environb[b"GITEA_WEBHOOK_SECRET"], open(sys.argv[1], "rb").read(),
    hashlib.sha256).hexdigest())' "$1"
}

# deliver FILE EVENT DELIVERY-ID [EVENT-TYPE]: the status on stdout, the body in reply.
deliver() {
	curl -s -o reply -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "X-Gitea-Event: $2" -H "X-Gitea-Delivery: $3" \
		${4:+-H "X-Gitea-Event-Type: $4"} -H "X-Gitea-Signature: $(sign "$1")" \
		--data-binary @"$1" "http://127.0.0.1:$(cat hookd.port)/webhook/gitea"
}

# expect_delivery STATUS-JSON-SUBSTRING FILE EVENT ID [TYPE]: 200 and the reply holds it.
expect_delivery() {
	want=$1
	shift
	code=$(deliver "$@") || return 1
	if [ "$code" != 200 ]; then
		echo "expect_delivery: HTTP $code: $(cat reply)" >&2
		return 1
	fi
	grep -F -e "$want" reply >/dev/null || {
		echo "expect_delivery: reply lacks '$want': $(cat reply)" >&2
		return 1
	}
}

# calls: the API calls the double received, "METHOD PATH" a line, without the control ones.
calls() {
	python3 -c 'import json, sys
for line in open("gitea.log"):
    c = json.loads(line)
    if not c.get("control"):
        print(c["method"], c["path"], c["status"])' 2>/dev/null
}

# wait_calls N: until the double has received N API calls (10 s at most).
wait_calls() {
	i=0
	while [ "$(calls | wc -l)" -lt "$1" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(calls | wc -l)" -ge "$1" ]
}

# outbox_settled: no outbox row pending or running (10 s at most).
outbox_settled() {
	i=0
	while [ "$(sqlite3 w.db "SELECT count(*) FROM outbox WHERE state IN ('pending','running')")" != 0 ] &&
	    [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(sqlite3 w.db "SELECT count(*) FROM outbox WHERE state IN ('pending','running')")" = 0 ]
}
