# See LICENSE. Helpers of the t/42xx orket-publish scripts, sourced after t/lib.sh.

PW='pw-S3cr3t:p@ss%w0rd'
TOK=tok-0d15ea5e7c1e5ecret

command -v git >/dev/null && test_set_prereq GIT
command -v python3 >/dev/null && test_set_prereq PYTHON3
command -v openssl >/dev/null && test_set_prereq OPENSSL
unshare -n true 2>/dev/null && test_set_prereq NONET

# Commits get fixed, increasing dates, so that runs are reproducible.
tick=1700000000
git_commit() {
	tick=$((tick + 60))
	GIT_AUTHOR_DATE="@$tick +0200" GIT_COMMITTER_DATE="@$tick +0200" \
	    git commit -q "$@"
}

# mkrepo DIR: a monorepo on branch main with
#   product/alpha      3 commits, one of them touching a file outside product/ too
#   product/Beta_Two   2 commits
#   product/.hidden    tracked, but a dot-folder
#   product/scratch    on disk only (not in HEAD)
#   docs/              outside the source folder
mkrepo() {
	git init -q -b main "$1" && (
		cd "$1" &&
		git config user.name 'A U Thor' &&
		git config user.email author@example.com &&
		mkdir -p product/alpha product/Beta_Two product/.hidden product/scratch docs &&
		echo one >product/alpha/a.txt && echo top >README &&
		git add . && git_commit -m 'alpha: first' &&
		echo two >>product/alpha/a.txt && echo beta >product/Beta_Two/b.txt &&
		echo doc >docs/d.txt &&
		git add . && git_commit -m 'alpha and beta' -m 'A body line.' &&
		echo hidden >product/.hidden/h.txt && mkdir product/alpha/sub &&
		echo sub >product/alpha/sub/s.txt && echo 'x' >>README &&
		git add . && git_commit -m 'alpha: sub, hidden' &&
		echo b2 >>product/Beta_Two/b.txt && git add . && git_commit -m 'beta: second' &&
		echo scratch >product/scratch/x.txt
	)
}

# split REPO PREFIX: what git itself says the split is.
split() {
	git -C "$1" subtree split -q --prefix="$2" HEAD 2>/dev/null
}

# no_secret FILE...: neither the password nor the token (nor their pieces a percent-encoding
# would leave) appear anywhere in these files.
no_secret() {
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -r -a -l -e 'S3cr3t' -e "$TOK" -e '0d15ea5e' "$f"; then
			echo "secret found in $f" >&2
			return 1
		fi
	done
	return 0
}

# double_start NAME [ARGS...]: t/gitea-git-double.py on an ephemeral loopback port, user
# "orket" with password $PW and token $TOK (read from files, never argv), bare repos under
# NAME.git, its request log in NAME.log, its stderr in NAME.err. Sets $base (the URL to give
# orket-publish, with a trailing /) and $ctl (its /_control/ URL).
double_start() {
	dn=$1
	shift
	printf '%s' "$PW" >"$dn.pw" && printf '%s' "$TOK" >"$dn.tok" &&
	rm -f "$dn.port" &&
	python3 "$TEST_DIR/gitea-git-double.py" --port 0 --port-file "$dn.port" \
	    --log "$dn.log" --git-root "$dn.git" --user orket --password-file "$dn.pw" \
	    --token-file "$dn.tok" --lifetime 900 "$@" 2>"$dn.err" &
	echo $! >"$dn.pid"
	i=0
	while [ ! -s "$dn.port" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$(cat "$dn.pid")" 2>/dev/null; then
			echo "double_start: no port from $dn; its stderr:" >&2
			cat "$dn.err" >&2
			return 1
		fi
		sleep 0.05
	done
	dscheme=http
	dprefix=
	case " $* " in *" --tls "*) dscheme=https ;; esac
	case " $* " in *" --prefix "*) dprefix=$(echo " $* " | sed 's/.* --prefix \([^ ]*\) .*/\1/') ;; esac
	base=$dscheme://localhost:$(cat "$dn.port")$dprefix/
	ctl=${base}_control
}

double_stop() {
	daemon_stop "$1"
}

# control METHOD PATH [JSON]: a /_control/ call to the double; the answer on stdout.
control() {
	if [ $# -ge 3 ]; then
		curl -sS -f --max-time 10 ${CURL_CA:+--cacert "$CURL_CA"} -X "$1" \
		    -H 'Content-Type: application/json' --data-binary "$3" "$ctl/$2"
	else
		curl -sS -f --max-time 10 ${CURL_CA:+--cacert "$CURL_CA"} -X "$1" "$ctl/$2"
	fi
}

# calls FILTER: the /api/v1 and git requests logged since the last reset, one
# "METHOD PATH STATUS" line each, for those whose line matches the grep pattern FILTER.
# With CALLS_SINCE=SEQ, only those after that sequence number (see lastseq).
calls() {
	control GET "calls${CALLS_SINCE:+?since=$CALLS_SINCE}" | python3 -c '
import json, sys
for c in json.load(sys.stdin)["calls"]:
    print(c["method"], c["path"] + ("?" + c["query"] if c.get("query") else ""), c["status"])
' | grep -e "${1:-.}"
}

# lastseq: the sequence number of the double's last logged request.
lastseq() {
	control GET calls | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])'
}

# publish [ARGS...]: an execute run against the double, credentials through the environment.
publish() {
	env GITEA_URL="$base" GITEA_ADMIN_USER=orket GITEA_ADMIN_PASSWORD="$PW" \
	    GITEA_PRODUCT_OWNER="${OWNER:-acme}" ${CA:+GITEA_CA_FILE="$CA"} \
	    orket-publish --repo-root repo --execute "$@"
}

# remote_head OWNER REPO [BRANCH]: what the double's bare repository holds.
remote_head() {
	git -C "$DOUBLE_GIT/$1/$2.git" rev-parse --verify -q "refs/heads/${3:-main}"
}
