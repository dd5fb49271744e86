# See LICENSE. Our small test harness, after git's t/test-lib.sh: TAP on stdout, one scratch
# folder per script (kept when something failed), and the verbs test_expect_success,
# test_expect_code, test_must_fail, test_cmp, test_when_finished, test_done.
#
# A script sets test_description, sources this file, runs its tests and ends with test_done.
# Environment: ORKET_BIN (programs, default build/bin), ORKET_VALGRIND=1 to run every
# orket-* program under valgrind (with ORKET_BIN=build/vg/bin), ORKET_VGLOG (folder for its
# reports: one file per process, empty when valgrind found nothing), TEST_VERBOSE=1 to show
# each test's output.

export LC_ALL=C TZ=UTC
unset CDPATH ORKET_RUNTIME_DB ORKET_WEBHOOK_DB ORKET_API_KEY GITEA_WEBHOOK_SECRET

TEST_TOP=$(cd "$(dirname "$0")/.." && pwd)
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$TEST_TOP/t
ORKET_BIN=${ORKET_BIN:-$TEST_TOP/build/bin}
case $ORKET_BIN in /*) ;; *) ORKET_BIN=$TEST_TOP/$ORKET_BIN ;; esac
TRASH=$TEST_TOP/t/trash-$TEST_NAME${TRASH_SUFFIX:-}
test_count=0
test_failed=0
test_cleanup=
test_prereqs=" "

rm -rf "$TRASH" && mkdir -p "$TRASH/.bin" || { echo "Bail out! unable to create $TRASH"; exit 1; }

# Put the programs on PATH, each behind valgrind when asked.
for p in "$ORKET_BIN"/orket-*; do
	[ -x "$p" ] || continue
	if [ "${ORKET_VALGRIND:-}" = 1 ]; then
		: "${ORKET_VGLOG:=$TRASH/vglog}"
		mkdir -p "$ORKET_VGLOG" && chmod 1777 "$ORKET_VGLOG"
		# exec, so that the pid a test sees (and signals) is the program's own;
		# valgrind's report, empty when all is well, is checked by the t/19xx scripts.
		cat >"$TRASH/.bin/$(basename "$p")" <<WRAP
#!/bin/sh
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \\
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=97 \\
    --log-file="$ORKET_VGLOG/$(basename "$p").%p.log" "$p" "\$@"
WRAP
		chmod +x "$TRASH/.bin/$(basename "$p")"
	else
		ln -s "$p" "$TRASH/.bin/$(basename "$p")"
	fi
done
PATH=$TRASH/.bin:$PATH
export PATH ORKET_BIN TEST_TOP

cd "$TRASH" || exit 1

say() { printf '# %s\n' "$*"; }

# daemon_start NAME CMD...: start a daemon with its readiness pipe on fd 3 (-d 3), its
# stderr in NAME.err and its pid in NAME.pid, and wait (20 s at most) for the newline it
# writes once it listens. NAME.port gets the port it reports on stderr.
daemon_start() {
	dn=$1
	shift
	rm -f "$dn.ready" "$dn.port" && mkfifo "$dn.ready" || return 1
	"$@" -d 3 3>"$dn.ready" 2>"$dn.err" &
	echo $! >"$dn.pid"
	if ! timeout 20 sh -c 'read -r line' <"$dn.ready"; then
		echo "daemon_start: $dn did not become ready; its stderr:" >&2
		cat "$dn.err" >&2
		return 1
	fi
	sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' "$dn.err" | head -n 1 >"$dn.port"
	test -s "$dn.port"
}

# daemon_stop NAME [SIGNAL]: signal it (TERM) and wait (20 s at most) for it to exit;
# the exit status is left in NAME.status.
daemon_stop() {
	dn=$1
	dpid=$(cat "$dn.pid" 2>/dev/null) || return 0
	kill -"${2:-TERM}" "$dpid" 2>/dev/null
	i=0
	while kill -0 "$dpid" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$dpid" 2>/dev/null; then
		echo "daemon_stop: $dn did not exit; killing it" >&2
		kill -9 "$dpid" 2>/dev/null
	fi
	wait "$dpid" 2>/dev/null
	echo $? >"$dn.status"
	rm -f "$dn.pid"
}

test_set_prereq() { test_prereqs="$test_prereqs$1 "; }
# test_have_prereq A,B,...: every one of them is set.
test_have_prereq() {
	for tp_ in $(echo "$1" | tr ',' ' '); do
		case $test_prereqs in *" $tp_ "*) ;; *) return 1 ;; esac
	done
	return 0
}

# Run "$2" in a subshell-free eval so that test_when_finished can register cleanups.
test_run_() {
	test_cleanup=:
	if [ "${TEST_VERBOSE:-}" = 1 ]; then
		eval "$1"
	else
		eval "$1" >"$TRASH/.out" 2>&1
	fi
	test_rc_=$?
	eval "$test_cleanup" >/dev/null 2>&1
	return $test_rc_
}

test_ok_() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1"
}

test_failure_() {
	test_count=$((test_count + 1))
	test_failed=$((test_failed + 1))
	echo "not ok $test_count - $1"
	printf '%s\n' "$2" | sed 's/^/#	/'
	if [ -s "$TRASH/.out" ]; then
		echo "#   output:"
		tail -n 40 "$TRASH/.out" | sed 's/^/#   | /'
	fi
}

# test_expect_success [PREREQ] 'title' 'commands'
test_expect_success() {
	if [ $# = 3 ]; then
		if ! test_have_prereq "$1"; then
			test_count=$((test_count + 1))
			echo "ok $test_count # skip $2 (missing $1)"
			return
		fi
		shift
	fi
	if test_run_ "$2"; then
		test_ok_ "$1"
	else
		test_failure_ "$1" "$2"
	fi
}

# Inside a test: run a command that must fail cleanly (not by a signal, not "not found").
test_must_fail() {
	"$@"
	rc=$?
	if [ $rc = 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo "test_must_fail: died by signal $((rc - 128)): $*" >&2
		return 1
	elif [ $rc = 127 ] || [ $rc = 97 ]; then
		echo "test_must_fail: exit $rc (not found, or valgrind error): $*" >&2
		return 1
	fi
	return 0
}

# Inside a test: the command must exit with exactly this code.
test_expect_code() {
	want=$1
	shift
	"$@"
	rc=$?
	if [ $rc != "$want" ]; then
		echo "test_expect_code: want exit $want, got $rc: $*" >&2
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

# The file must contain a line matching the (grep basic) pattern.
test_grep() {
	if [ "$1" = "!" ]; then
		shift
		if grep -e "$1" "$2" >/dev/null; then
			echo "test_grep: '$1' unexpectedly found in $2:" >&2
			grep -e "$1" "$2" >&2
			return 1
		fi
		return 0
	fi
	if ! grep -e "$1" "$2" >/dev/null; then
		echo "test_grep: '$1' not found in $2; it holds:" >&2
		head -n 20 "$2" >&2
		return 1
	fi
}

# Inside a test: run these commands after it, whether it passed or not.
test_when_finished() {
	test_cleanup="$*; $test_cleanup"
}

# test_valgrind_scripts PROG SCRIPT...: run each script again with every program under
# valgrind (the glibc build in build/vg): one test per script, which passes when the script
# passed and every valgrind report is empty, and at least one was PROG's (unless the script
# skipped every test, as the fixture tests do without ../shared beside the checkout).
test_valgrind_scripts() {
	tv_prog=$1
	shift
	tv_bin=$TEST_TOP/build/vg/bin
	command -v valgrind >/dev/null && [ -x "$tv_bin/$tv_prog" ] && test_set_prereq VALGRIND
	for tv_s in "$@"; do
		test_expect_success VALGRIND "$tv_s under valgrind" "
			mkdir -p vg-$tv_s &&
			ORKET_VALGRIND=1 ORKET_BIN='$tv_bin' ORKET_VGLOG='$TRASH/vg-$tv_s' \
				TRASH_SUFFIX=-vg sh '$TEST_DIR/$tv_s.sh' >tap-$tv_s 2>&1;
			rc=\$?; cat tap-$tv_s;
			test \$rc = 0 && ! grep '^not ok' tap-$tv_s &&
			for f in vg-$tv_s/*.log; do test ! -s \"\$f\" || { cat \"\$f\"; exit 1; }; done &&
			{ ! grep '^ok' tap-$tv_s | grep -qv '# skip' || ls vg-$tv_s | grep -q '$tv_prog.*log'; }
		"
	done
}

# hookd_env: an orket-hookd test starts from none of the daemon's variables of the caller's
# environment; HOOKD is set when python3, sqlite3 and curl are there.
hookd_env() {
	unset ORKET_WEBHOOK_HOST ORKET_WEBHOOK_PORT ORKET_RATE_LIMIT ORKET_EVENT_LOG \
	    ORKET_ENABLE_WEBHOOK_TEST_ENDPOINT ORKET_WEBHOOK_TEST_TOKEN \
	    GITEA_WEBHOOK_SECRET_PREVIOUS GITEA_TOKEN GITEA_ADMIN_PASSWORD GITEA_URL ORKET_API_URL \
	    ORKET_SANDBOX_COMMAND ORKET_DURABILITY ORKET_WEBHOOK_MAX_CONNS
	command -v python3 >/dev/null && test_set_prereq PYTHON3
	command -v curl >/dev/null && test_set_prereq CURL
	test_have_prereq PYTHON3 && test_have_prereq SQLITE3 && test_have_prereq CURL &&
	    test_set_prereq HOOKD
}

# hook NAME [options of t/webhook-client.py]: a request to the daemon NAME (daemon_start's
# NAME.port); expect_status CODE: the status line the client wrote to "out" is CODE.
hook() {
	hp=$(cat "$1.port") || return 1
	shift
	python3 "$TEST_DIR/webhook-client.py" --port "$hp" "$@"
}

expect_status() {
	echo "$1" >expect && head -n 1 out >status && test_cmp expect status
}

test_done() {
	echo "1..$test_count"
	cd "$TEST_TOP" || exit 1
	if [ "$test_failed" = 0 ]; then
		rm -rf "$TRASH"
		exit 0
	fi
	echo "# failed $test_failed among $test_count test(s); scratch folder kept: $TRASH"
	exit 1
}

command -v sqlite3 >/dev/null && test_set_prereq SQLITE3
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	unshare -m sh -c 'mkdir -p "$1" && mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1"' \
	    - "$TRASH/.romount" 2>/dev/null && test_set_prereq ROMOUNT
rmdir "$TRASH/.romount" 2>/dev/null
