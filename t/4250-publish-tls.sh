#!/bin/sh
# See LICENSE.
test_description='orket-publish over https (BearSSL, a self-signed localhost certificate) and under a sub-path'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/publish-lib.sh"

unset GITEA_URL GITEA_ADMIN_USER GITEA_ADMIN_PASSWORD GITEA_TOKEN GITEA_PRODUCT_OWNER \
    GITEA_PROJECT_SOURCE_DIR GITEA_CA_FILE
command -v curl >/dev/null && test_have_prereq GIT,PYTHON3 && test_set_prereq DOUBLE
test_have_prereq DOUBLE,OPENSSL && test_set_prereq TLS
DOUBLE_GIT=$TRASH/d.git

# cert NAME: a self-signed P-256 certificate for localhost, NAME.pem and NAME.key.
cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$1.key" -out "$1.pem" -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost 2>/dev/null
}

test_expect_success TLS 'setup: a monorepo, a certificate, the double over TLS, an org' '
	mkrepo repo &&
	split repo product/alpha >alpha.want && split repo product/Beta_Two >beta.want &&
	cert server && cert stranger &&
	CURL_CA=server.pem && double_start d --tls server.pem server.key &&
	echo "$base" >base &&
	case $base in https://localhost:*/) ;; *) false ;; esac &&
	control POST org "{\"name\":\"acme\"}" >/dev/null
'
base=$(cat base 2>/dev/null)
ctl=${base}_control
CURL_CA=server.pem

test_expect_success TLS 'https with --ca-file: created, pushed, verified' '
	publish --ca-file server.pem --verify-parity --private >out 2>err &&
	test_grep "^alpha  *acme/alpha  *[0-9a-f]*  *published, parity verified$" out &&
	test "$(remote_head acme alpha)" = "$(cat alpha.want)" &&
	test "$(remote_head acme beta-two)" = "$(cat beta.want)"
'

test_expect_success TLS 'GITEA_CA_FILE does the same; nothing new then' '
	(CA=server.pem && publish --verify-parity >out 2>err) &&
	test_grep "^alpha  *acme/alpha  *[0-9a-f]*  *up to date, parity verified$" out
'

test_expect_success TLS 'a certificate nobody vouches for: every project fails: 111' '
	test_expect_code 111 publish --ca-file stranger.pem >out 2>err &&
	test_grep "^alpha  .*failed: unable to look up acme/alpha" out &&
	test_grep "^Done: 0 published, 2 failed, 2 skipped\.$" out &&
	test_expect_code 111 env SSL_CERT_FILE=stranger.pem CURL_CA_BUNDLE=stranger.pem \
	    GITEA_URL="$base" GITEA_TOKEN="$TOK" GITEA_PRODUCT_OWNER=acme \
	    orket-publish --repo-root repo --execute >out 2>err
'

test_expect_success TLS 'a CA file that cannot be read: 100, before any call' '
	n=$(lastseq) &&
	test_expect_code 100 publish --ca-file nowhere.pem >out 2>err &&
	test_grep "unable to read the CA file nowhere.pem" err &&
	! CALLS_SINCE=$n calls "/api/v1/\|\.git/"
'

test_expect_success DOUBLE 'a Gitea under a sub-path: the API and git both keep it' '
	CURL_CA= && double_start s --prefix /gitea && echo "$base" >sbase &&
	case $base in http://localhost:*/gitea/) ;; *) false ;; esac &&
	control POST org "{\"name\":\"acme\"}" >/dev/null &&
	DOUBLE_GIT=$TRASH/s.git && rm -rf repo/.orket &&
	publish --verify-parity >out 2>err &&
	test_grep "^Beta_Two  *acme/beta-two  *[0-9a-f]*  *published, parity verified$" out &&
	test "$(remote_head acme beta-two)" = "$(cat beta.want)" &&
	double_stop s
'

test_expect_success TLS 'no secret anywhere' '
	double_stop d &&
	! grep -r -a -l -e "S3cr3t" -e "$TOK" -e 0d15ea5e --exclude="[ds].pw" --exclude="[ds].tok" .
'

double_stop d 2>/dev/null
double_stop s 2>/dev/null
test_done
