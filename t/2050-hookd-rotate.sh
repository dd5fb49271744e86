#!/bin/sh
# See LICENSE.
test_description='orket-hookd: rotating the secret with SIGHUP while deliveries keep arriving'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/hookd-lib.sh"

# The secrets come from the --env-file only: the environment would beat the file.
unset GITEA_WEBHOOK_SECRET
export OLD='old-secret-AAAA' NEW='new-secret-BBBB' OTHER='other-secret-CCCC'

# stream SECONDS KIND=VAR...: counts of answers, as JSON, into stream.out.
stream() {
	python3 "$TEST_DIR/hookd-stream.py" "$(cat hookd.port)" "$@" >stream.out
}

# check KIND STATUS: every delivery of that kind got that status, and there were some.
check() {
	python3 -c 'import json, sys
c = json.load(open("stream.out"))[sys.argv[1]]
assert list(c) == [sys.argv[2]] and c[sys.argv[2]] > 5, c' "$1" "$2" || { cat stream.out; return 1; }
}

test_expect_success CLIENTS 'start with the old secret from the env file' '
	echo "GITEA_WEBHOOK_SECRET=$OLD" >hook.env &&
	daemon_start hookd hookd_start --env-file hook.env &&
	stream 0.5 old=OLD other=OTHER && check old 200 && check other 401
'

test_expect_success CLIENTS 'SIGHUP to new + previous=old while old-signed deliveries stream in: none lost' '
	printf "GITEA_WEBHOOK_SECRET=%s\nGITEA_WEBHOOK_SECRET_PREVIOUS=%s\n" "$NEW" "$OLD" >hook.env &&
	( sleep 0.7; kill -HUP $(cat hookd.pid) ) & hup=$! &&
	stream 1.5 old=OLD other=OTHER && wait $hup && check old 200 && check other 401 &&
	grep "configuration reloaded (the previous secret is accepted too)" hookd.err
'

test_expect_success CLIENTS 'after the reload both secrets are accepted, the previous counted apart' '
	stream 0.5 new=NEW old=OLD other=OTHER && check new 200 && check old 200 && check other 401 &&
	curl -s "http://127.0.0.1:$(cat hookd.port)/metrics" >metrics &&
	test_grep "^orket_hookd_signature_previous_secret_total [1-9]" metrics
'

test_expect_success CLIENTS 'SIGHUP without the previous secret while new-signed ones stream: none lost' '
	printf "GITEA_WEBHOOK_SECRET=%s\n" "$NEW" >hook.env &&
	( sleep 0.7; kill -HUP $(cat hookd.pid) ) & hup=$! &&
	stream 1.5 new=NEW other=OTHER && wait $hup && check new 200 && check other 401 &&
	stream 0.5 new=NEW old=OLD && check new 200 && check old 401
'

test_expect_success CLIENTS 'a reload that fails keeps the configuration in force' '
	printf "GITEA_WEBHOOK_SECRET=\n" >hook.env &&
	kill -HUP $(cat hookd.pid) && sleep 0.3 &&
	test_grep "reload refused" hookd.err && test_grep "GITEA_WEBHOOK_SECRET" hookd.err &&
	stream 0.3 new=NEW && check new 200
'

test_expect_success CLIENTS 'no secret reached a log' '
	! grep -F -e "$OLD" -e "$NEW" -e "$OTHER" hookd.err events.log
'

test_expect_success CLIENTS 'SIGTERM: exit 0' '
	daemon_stop hookd && echo 0 >expect && test_cmp expect hookd.status
'
daemon_stop hookd
test_done
