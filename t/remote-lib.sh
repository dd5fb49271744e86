# See LICENSE. Helpers of the t/41xx tests (lib/gitea, lib/gitpush): the Gitea+git double,
# the test tools, and the secrets check. Sourced after t/lib.sh.
#
# Tools run as "tool NAME ARGS...": build/t/tools/NAME, or under ORKET_VALGRIND=1 (set by
# t/4190) build/vg/t/tools/NAME behind valgrind, one report per process in ORKET_VGLOG.
# TOOL_WRAP, when set, is put in front of the tool instead (e.g. "strace -f").

command -v python3 >/dev/null && command -v git >/dev/null && test_set_prereq DOUBLE
command -v openssl >/dev/null && test_set_prereq OPENSSL

# The credentials: characters a percent-encoding bug or a shell would trip on.
user=Orket
pass='pw@9f3:S3c/r%t ö'
tok=tok-7c1e5ecret0123
printf '%s' "$pass" >pass.secret
printf '%s' "$tok" >tok.secret
basic64=$(printf '%s:%s' "$user" "$pass" | base64 | tr -d '\n')
unset GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_URL

if [ "${ORKET_VALGRIND:-}" = 1 ]; then
	TOOLS=$TEST_TOP/build/vg/t/tools
	: "${ORKET_VGLOG:=$TRASH/vglog}"
	mkdir -p "$ORKET_VGLOG"
else
	TOOLS=$TEST_TOP/build/t/tools
fi

tool() {
	tl_name=$1
	shift
	if [ -n "${TOOL_WRAP:-}" ]; then
		$TOOL_WRAP "$TOOLS/$tl_name" "$@"
	elif [ "${ORKET_VALGRIND:-}" = 1 ]; then
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=97 \
		    --log-file="$ORKET_VGLOG/$tl_name.%p.log" "$TOOLS/$tl_name" "$@"
	else
		"$TOOLS/$tl_name" "$@"
	fi
}

# As the admin (Basic), with a token, or with no credentials at all.
as_admin() { GITEA_ADMIN_USER=$user GITEA_ADMIN_PASSWORD=$pass "$@"; }
as_token() { GITEA_TOKEN=$tok "$@"; }

# start_double NAME [ARGS...]: the double on an ephemeral port, its repos in NAME.root,
# its log in NAME.log; waits (10 s at most) for NAME.port.
start_double() {
	sd_n=$1
	shift
	rm -f "$sd_n.port"
	python3 "$TEST_DIR/gitea-git-double.py" --git-root "$sd_n.root" --port-file "$sd_n.port" \
	    --log "$sd_n.log" --user "$user" --password-file pass.secret --token-file tok.secret \
	    --lifetime 600 "$@" 2>"$sd_n.err" &
	echo $! >"$sd_n.pid"
	sd_i=0
	while [ ! -s "$sd_n.port" ]; do
		sd_i=$((sd_i + 1))
		if [ $sd_i -gt 100 ] || ! kill -0 "$(cat "$sd_n.pid")" 2>/dev/null; then
			echo "start_double: no port after $sd_i tries" >&2
			cat "$sd_n.err" >&2
			return 1
		fi
		sleep 0.1
	done
	eval "${sd_n}_port=\$(cat \"\$sd_n.port\")"
}

stop_double() {
	[ -f "$1.pid" ] || return 0
	kill "$(cat "$1.pid")" 2>/dev/null
	wait "$(cat "$1.pid")" 2>/dev/null
	rm -f "$1.pid"
}

# ctl BASE WHAT JSON: a control request to the double at BASE that must answer 200.
ctl() {
	ctl_code=$(curl -sS --max-time 10 -o ctl.out -w '%{http_code}' -X POST \
	    ${CURL_CA:+--cacert "$CURL_CA"} -H 'Content-Type: application/json' \
	    --data-binary "$3" "$1/_control/$2") || return 1
	if [ "$ctl_code" != 200 ]; then
		echo "control $2 answered $ctl_code" >&2
		cat ctl.out >&2
		return 1
	fi
}

# No file here may hold a secret, raw, as Basic, or percent-encoded: outputs, logs, state.
# The secret files themselves are the one exception.
check_no_secrets() {
	pct=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' \
	    "$pass")
	found=$(find . -type f ! -name '*.secret' -print0 |
	    xargs -0 grep -lF -e "$pass" -e "$tok" -e "$basic64" -e "$pct" 2>/dev/null)
	if [ -n "$found" ]; then
		echo "a secret is in: $found" >&2
		return 1
	fi
}
