#!/bin/sh
# See LICENSE.
test_description='orket-httpd: no path leaves the workspace (.., absolute, encoded, symlinks), openat2 and walk'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

# What must never be read or changed: a folder beside the workspace.
mkdir -p outside/sub && echo TOP-SECRET-OUTSIDE >outside/secret.txt &&
	echo TOP-SECRET-SUB >outside/sub/s2.txt
snapshot() {
	(cd outside && find . -print | sort && find . -type f -exec sha256sum {} + | sort)
}
snapshot >outside.before

# A workspace with links out of it (relative, absolute, to /etc, through a loop) and in it.
make_ws() {
	rm -rf "$1" && mkdir -p "$1/sub" "$1/.git" &&
	echo inside >"$1/inner.txt" && echo inside-sub >"$1/sub/file.txt" &&
	echo GITCONFIG >"$1/.git/config" &&
	echo '{"role":"x","event":"model_usage","data":{"total_tokens":5}}' >"$1/orket.log" &&
	ln -s ../outside "$1/out" && ln -s "$TRASH/outside" "$1/outabs" &&
	ln -s ../outside/secret.txt "$1/secret" && ln -s /etc "$1/etc" &&
	ln -s .git "$1/dotlink" && ln -s sub "$1/inner" && ln -s loop "$1/loop" &&
	ln -s /proc/self/root "$1/proc" && ln -s ../outside/nothing-yet "$1/dangling"
}

# expect_denied ROUTE PATH: 403 with the route's message, and nothing secret in the body.
expect_denied() {
	case $1 in
	read)
		api w GET "/v1/system/read?path=$2" &&
		jcheck "j[\"detail\"].startswith(\"Access denied: \")" ;;
	explorer)
		api w GET "/v1/system/explorer?path=$2" &&
		jcheck "j == {\"detail\": \"Forbidden\"}" ;;
	save)
		post w /v1/system/save "{\"path\":\"$2\",\"content\":\"PWNED\"}" &&
		jcheck "j[\"detail\"].startswith(\"Access denied: \")" ;;
	esac || { echo "for $1 $2" >&2; return 1; }
	expect_status 403 && ! grep -e TOP-SECRET -e GITCONFIG -e "root:" body ||
	{ echo "for $1 $2" >&2; return 1; }
}

escapes() {
	mode=$1
	test_expect_success $2 "$mode: start, the workspace full of links" "
		make_ws w-ws &&
		daemon_start w env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=w-$mode.db \
		    ORKET_EVENT_LOG=w-$mode.log ORKET_WORKSPACE=w-ws ORKET_API_KEY='$KEY' \
		    ORKET_RESOLVE=$mode orket-httpd &&
		if [ $mode = walk ]; then test_grep 'resolved by an O_NOFOLLOW walk' w.err
		else test_grep 'resolved by openat2)' w.err; fi
	"

	test_expect_success $2 "$mode: read refuses .., absolute, encoded and linked paths" '
		( for p in .. ../outside/secret.txt sub/../../outside/secret.txt /etc/passwd \
		    //etc/passwd "$TRASH/outside/secret.txt" %2e%2e/outside/secret.txt \
		    %2E%2E%2Foutside%2Fsecret.txt .%2E/outside/secret.txt ..%2F..%2Fetc%2Fpasswd \
		    out/secret.txt outabs/secret.txt secret etc/passwd dotlink/config loop loop/x \
		    proc/etc/passwd out/sub/s2.txt "sub/%2e%2e/%2e%2e/outside/secret.txt" \
		    %00 "inner.txt%00" dangling
		do
			expect_denied read "$p" || exit 1
		done ) &&
		api w GET "/v1/system/read?path=%252e%252e/outside/secret.txt" &&
		expect_answer 404 "{\"detail\":\"File not found\"}" &&
		api w GET "/v1/system/read?path=inner.txt" && expect_answer 200 "{\"content\":\"inside\\n\"}"
	'

	test_expect_success $2 "$mode: explorer refuses the same" '
		( for p in .. ../outside out outabs etc dotlink loop proc "$TRASH/outside" \
		    %2e%2e out/sub
		do
			expect_denied explorer "$p" || exit 1
		done ) &&
		api w GET "/v1/system/explorer" && expect_status 200 &&
		jcheck "\"secret.txt\" not in str(j) and \"s2.txt\" not in str(j)"
	'

	test_expect_success $2 "$mode: save refuses the same, and writes nothing outside" '
		( for p in ../outside/new.txt "$TRASH/outside/new.txt" /tmp/orket-pwned \
		    out/new.txt outabs/new.txt out/deeper/x.txt secret etc/orket-pwned \
		    dotlink/hooks/x loop/x proc/tmp/orket-pwned dangling sub/../../outside/new.txt
		do
			expect_denied save "$p" || exit 1
		done ) &&
		test ! -e /tmp/orket-pwned && test ! -e /etc/orket-pwned &&
		test ! -e w-ws/.git/hooks &&
		snapshot >outside.after && test_cmp outside.before outside.after
	'

	test_expect_success $2 "$mode: the session id of run metrics is no path either" '
		api w GET "/v1/runs/%2E%2E/metrics" && expect_answer 200 "{}" &&
		api w GET "/v1/runs/..%2F..%2Foutside/metrics" && expect_status 404 &&
		api w GET "/v1/runs/.hidden/metrics" && expect_answer 200 "{}"
	'
}

escapes walk HTTPD
test_expect_success HTTPD 'walk: a link inside the workspace is not followed either' '
	api w GET "/v1/system/read?path=inner/file.txt" && expect_status 403 &&
	api w GET "/v1/system/explorer" &&
	jcheck "{i[\"name\"]: i[\"is_dir\"] for i in j[\"items\"]}[\"inner\"] is False" &&
	daemon_stop w
'

escapes openat2 HTTPD,OPENAT2
test_expect_success HTTPD,OPENAT2 'openat2: a link that stays inside is followed' '
	api w GET "/v1/system/read?path=inner/file.txt" &&
	expect_answer 200 "{\"content\":\"inside-sub\\n\"}" &&
	post w /v1/system/save "{\"path\":\"inner/new.txt\",\"content\":\"n\"}" &&
	expect_status 200 && test "$(cat w-ws/sub/new.txt)" = n &&
	api w GET "/v1/system/explorer" &&
	jcheck "{i[\"name\"]: i[\"is_dir\"] for i in j[\"items\"]}[\"inner\"] is True" &&
	jcheck "{i[\"name\"]: i[\"is_dir\"] for i in j[\"items\"]}[\"out\"] is False" &&
	daemon_stop w
'

test_expect_success 'nothing outside the workspace was read or changed' '
	snapshot >outside.after && test_cmp outside.before outside.after
'

daemon_stop w
test_done
