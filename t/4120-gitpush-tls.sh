#!/bin/sh
# See LICENSE.
test_description='lib/gitpush over https through our BearSSL stream, and lib/gitea over https'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.org GIT_COMMITTER_NAME=A
export GIT_COMMITTER_EMAIL=a@example.org GIT_CONFIG_NOSYSTEM=1 HOME=$TRASH

cat >seed.json <<'EOF'
{"orgs":[{"name":"acme"}]}
EOF

# cert NAME CN: a self-signed certificate for the host name CN (NAME.pem, NAME.key).
cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 3 \
	    -subj "/CN=$2" -addext "subjectAltName=DNS:$2" 2>/dev/null
}

# A CA, and a server certificate for localhost it signed; the server sends the chain.
test_expect_success DOUBLE,OPENSSL 'setup: a CA, certificates, the double over https' '
	cert ca "Orket test CA" &&
	openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost \
	    2>/dev/null &&
	printf "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n" >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 \
	    -extfile srv.ext -out srv.pem 2>/dev/null &&
	cat srv.pem ca.pem >chain.pem &&
	cert other localhost &&
	cert wrong example.invalid &&
	cp seed.json g.state && start_double g --state g.state --tls chain.pem srv.key &&
	echo "https://localhost:$g_port" >base &&
	git init -q -b main src &&
	(cd src && echo a >f && git add f && git commit -qm A && echo b >f &&
	 git commit -qam B && git checkout -q -b side HEAD~1 && echo d >f && git commit -qam D) &&
	git -C src rev-parse main >B.id && git -C src rev-parse side >D.id
'
B=$(cat base 2>/dev/null)
U=$B/acme/demo.git
B_=$(cat B.id 2>/dev/null) D=$(cat D.id 2>/dev/null)
remote() { git --git-dir=g.root/acme/demo.git rev-parse "$1"; }

test_expect_success DOUBLE,OPENSSL 'REST over https with the CA file' '
	as_admin tool gitea -c ca.pem "$B" create acme demo >out.1 &&
	as_admin tool gitea -c ca.pem "$B" exists acme demo >out.1b &&
	echo "exists 200" >expect && test_cmp expect out.1b
'

test_expect_success DOUBLE,OPENSSL 'REST over https with the wrong CA: no answer, no request' '
	wc -l <g.log >mark &&
	test_expect_code 3 as_admin tool gitea -c other.pem "$B" exists acme demo >out.2 2>err.2 &&
	grep -qi "certificate\|X.509\|trust" err.2 &&
	test $(wc -l <g.log) = $(cat mark)
'

test_expect_success DOUBLE,OPENSSL 'push, ls-remote and fetch over https' '
	as_admin tool gitpush -c ca.pem src "$U" push $B_ refs/heads/main >out.3 2>err.3 &&
	test "$(remote main)" = $B_ &&
	as_admin tool gitpush -c ca.pem src "$U" ls refs/heads/main >out.3b &&
	echo $B_ >expect && test_cmp expect out.3b &&
	as_admin tool gitpush -c ca.pem src "$U" fetch refs/heads/main refs/orket/parity/x >out.3c &&
	test_cmp expect out.3c
'

test_expect_success DOUBLE,OPENSSL 'over https: non fast-forward rejected, the right lease ok' '
	test_expect_code 1 as_admin tool gitpush -c ca.pem src "$U" push $D refs/heads/main \
	    >out.4 2>err.4 &&
	test_grep "not a fast-forward" err.4 &&
	as_admin tool gitpush -c ca.pem src "$U" push $D refs/heads/main $B_ >out.4b &&
	test "$(remote main)" = $D
'

test_expect_success DOUBLE,OPENSSL 'over https: wrong credentials refused' '
	test_expect_code 2 env GITEA_ADMIN_USER=$user GITEA_ADMIN_PASSWORD=nope \
	    "$TOOLS/gitpush" -c ca.pem src "$U" push $B_ refs/heads/main $D >out.5 2>err.5 &&
	test_grep "refused the credentials" err.5
'

# The message is our stream'"'"'s: it proves that our registration beats any TLS backend
# libgit2 was built with (Debian'"'"'s, in the valgrind build, has OpenSSL).
test_expect_success DOUBLE,OPENSSL 'a CA that did not sign the server: refused by our stream' '
	wc -l <g.log >mark &&
	test_expect_code 4 as_admin tool gitpush -c other.pem src "$U" push $B_ refs/heads/main $D \
	    >out.6 2>err.6 &&
	test_grep "tls: localhost:$g_port: certificate not trusted" err.6 &&
	test_grep "BearSSL error 62" err.6 &&
	test "$(remote main)" = $D &&
	test $(wc -l <g.log) = $(cat mark)
'

test_expect_success DOUBLE,OPENSSL 'a host name the certificate does not name is refused' '
	test_expect_code 4 as_admin tool gitpush -c ca.pem src "https://127.0.0.1:$g_port/acme/demo.git" \
	    ls refs/heads/main >out.7 2>err.7 &&
	test_grep "tls: 127.0.0.1:$g_port: certificate does not match the host name" err.7 &&
	cp seed.json w.state && start_double w --state w.state --tls wrong.pem wrong.key &&
	test_expect_code 4 as_admin tool gitpush -c wrong.pem src "https://localhost:$w_port/acme/demo.git" \
	    ls refs/heads/main >out.7b 2>err.7b &&
	test_grep "certificate does not match the host name" err.7b &&
	stop_double w
'

test_expect_success DOUBLE,OPENSSL 'a self-signed server certificate can be trusted as itself' '
	cp g.state o.state && ln -s g.root o.root &&
	start_double o --state o.state --tls other.pem other.key &&
	as_admin tool gitpush -c other.pem src "https://localhost:$o_port/acme/demo.git" \
	    ls refs/heads/main >out.8 &&
	stop_double o
'

test_expect_success DOUBLE,OPENSSL 'the remote'"'"'s own CA file replaces the one of init' '
	as_admin tool gitpush -c other.pem -C ca.pem src "$U" ls refs/heads/main >out.9 &&
	echo $D >expect && test_cmp expect out.9
'

test_expect_success DOUBLE,OPENSSL 'CA files: missing, without a certificate, not PEM' '
	test_expect_code 3 tool gitpush -c nosuch.pem src "$U" ls refs/heads/main >out.10 2>err.10 &&
	test_grep "unable to open the CA file nosuch.pem" err.10 &&
	test_expect_code 3 tool gitpush -c srv.key src "$U" ls refs/heads/main >out.10b 2>err.10b &&
	test_grep "holds no certificate" err.10b &&
	sed "2s/^.../!!!/" ca.pem >bad.pem &&
	test_expect_code 3 tool gitpush -c bad.pem src "$U" ls refs/heads/main >out.10c 2>err.10c &&
	test_grep "the CA file bad.pem" err.10c
'

test_expect_success DOUBLE,OPENSSL 'CA files: 1024 certificates are read, 1025 refused' '
	i=0 && : >many.pem && while [ $i -lt 1023 ]; do cat other.pem; i=$((i + 1)); done >many.pem &&
	cat ca.pem >>many.pem &&
	as_admin tool gitpush -c many.pem src "$U" ls refs/heads/main >out.11 &&
	cat other.pem >>many.pem &&
	test_expect_code 3 tool gitpush -c many.pem src "$U" ls refs/heads/main >out.11b 2>err.11b &&
	test_grep "holds more than 1024 certificates" err.11b
'

test_expect_success DOUBLE,OPENSSL 'CA files: 8 MiB are read, one byte more refused' '
	size=$(wc -c <ca.pem) &&
	{ cat ca.pem; head -c $(( 8388608 - size - 1 )) /dev/zero | tr "\0" "#"; echo; } >big.pem &&
	test $(wc -c <big.pem) = 8388608 &&
	as_admin tool gitpush -c big.pem src "$U" ls refs/heads/main >out.12 &&
	echo >>big.pem &&
	test_expect_code 3 tool gitpush -c big.pem src "$U" ls refs/heads/main >out.12b 2>err.12b &&
	test_grep "larger than 8388608 bytes" err.12b
'

test_expect_success DOUBLE,OPENSSL 'a stalled https server: a network error within the timeout' '
	CURL_CA=ca.pem ctl "$B" git "{\"mode\":\"stall\",\"seconds\":8,\"count\":1}" &&
	start=$(date +%s) &&
	test_expect_code 4 as_admin tool gitpush -t 500 -c ca.pem src "$U" ls refs/heads/main \
	    >out.13 2>err.13 &&
	test $(( $(date +%s) - start )) -lt 8 &&
	test_grep "timed out" err.13
'

test_expect_success DOUBLE,OPENSSL 'no password, token or Basic header in any output or log' '
	test -s g.log && check_no_secrets
'

stop_double g
test_done
