#!/bin/sh
# See LICENSE.
test_description='orket-httpd: explorer, read, save and clear-logs inside the workspace'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

# One daemon for the whole script; its event log is the workspace's default/orket.log,
# as with the default settings, so clear-logs truncates the daemon's own log.
test_expect_success HTTPD 'start with a workspace holding files and folders' '
	mkdir -p f-ws/default f-ws/Beta f-ws/alpha/deep f-ws/zeta f-ws/.git f-ws/__pycache__ \
	    f-ws/node_modules f-ws/src/__pycache__x &&
	printf "hello\n" >f-ws/hello.txt &&
	printf "x" >f-ws/Archive.tar.gz && printf "y" >f-ws/noext && printf "z" >f-ws/dot. &&
	printf "SECRET=1\n" >f-ws/.env && printf "[core]\n" >f-ws/.git/config &&
	printf "d" >f-ws/alpha/deep/d.md &&
	daemon_start f env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=f.db \
	    ORKET_EVENT_LOG=f-ws/default/orket.log ORKET_WORKSPACE=f-ws ORKET_API_KEY="$KEY" \
	    $HTTPD_VGENV orket-httpd
'

test_expect_success HTTPD 'explorer: folders first, then names in any case; hidden ones left out' '
	api f GET /v1/system/explorer && expect_status 200 &&
	python3 -c "import json
j = json.load(open(\"body\"))
assert list(j) == [\"items\", \"path\"] and j[\"path\"] == \".\", j
got = [(i[\"name\"], i[\"is_dir\"], i[\"ext\"]) for i in j[\"items\"]]
want = [(\"alpha\", True, \"\"), (\"Beta\", True, \"\"), (\"default\", True, \"\"),
        (\"src\", True, \"\"), (\"zeta\", True, \"\"), (\"Archive.tar.gz\", False, \".gz\"),
        (\"dot.\", False, \"\"), (\"hello.txt\", False, \".txt\"), (\"noext\", False, \"\")]
assert got == want, got
assert all(list(i) == [\"name\", \"is_dir\", \"ext\"] for i in j[\"items\"])" &&
	api f GET "/v1/system/explorer?path=" && expect_status 200 &&
	jcheck "j[\"path\"] == \"\" and len(j[\"items\"]) == 9" &&
	api f GET "/v1/system/explorer?path=./alpha/" && expect_status 200 &&
	jcheck "j == {\"items\": [{\"name\": \"deep\", \"is_dir\": True, \"ext\": \"\"}], \"path\": \"./alpha/\"}" &&
	api f GET "/v1/system/explorer?path=alpha%2Fdeep" &&
	jcheck "j[\"items\"] == [{\"name\": \"d.md\", \"is_dir\": False, \"ext\": \".md\"}]" &&
	api f GET "/v1/system/explorer?path=src" && jcheck "j[\"items\"] == []"
'

test_expect_success HTTPD 'explorer: a missing folder is empty, a file is 400, dot-folders 403' '
	api f GET "/v1/system/explorer?path=no/such" &&
	expect_answer 200 "{\"items\":[],\"path\":\"no/such\"}" &&
	api f GET "/v1/system/explorer?path=hello.txt/x" &&
	expect_answer 200 "{\"items\":[],\"path\":\"hello.txt/x\"}" &&
	api f GET "/v1/system/explorer?path=hello.txt" &&
	expect_answer 400 "{\"detail\":\"Not a directory\"}" &&
	( for p in .git .git/ alpha/.x ... "/" "/etc" "alpha/../.." ".."; do
		api f GET "/v1/system/explorer?path=$p" &&
		expect_answer 403 "{\"detail\":\"Forbidden\"}" || exit 1
	done )
'

test_expect_success HTTPD 'read: the whole file as text; 404; 422 without path; folders 400' '
	api f GET "/v1/system/read?path=hello.txt" &&
	expect_answer 200 "{\"content\":\"hello\\n\"}" &&
	api f GET "/v1/system/read?path=alpha/deep/d.md" &&
	expect_answer 200 "{\"content\":\"d\"}" &&
	api f GET "/v1/system/read?path=./alpha//deep/./d.md" && expect_status 200 &&
	api f GET "/v1/system/read?path=nope.txt" &&
	expect_answer 404 "{\"detail\":\"File not found\"}" &&
	api f GET "/v1/system/read?path=hello.txt/x" && expect_status 404 &&
	api f GET "/v1/system/read" && expect_status 422 &&
	jcheck "j == {\"detail\": [{\"type\": \"missing\", \"loc\": [\"query\", \"path\"], \"msg\": \"Field required\", \"input\": None}]}" &&
	api f GET "/v1/system/read?pathx=hello.txt" && expect_status 422 &&
	api f GET "/v1/system/read?path=alpha" &&
	expect_answer 400 "{\"detail\":\"Not a regular file\"}" &&
	api f GET "/v1/system/read?path=" && expect_status 400 &&
	mkfifo f-ws/fifo && api f GET "/v1/system/read?path=fifo" && expect_status 400
'

test_expect_success HTTPD 'read: UTF-8 text only, up to 1 MiB exactly' '
	printf "caf\303\251 \342\202\254 \360\237\230\200\n" >f-ws/utf8.txt &&
	api f GET "/v1/system/read?path=utf8.txt" && expect_status 200 &&
	python3 -c "import json
assert json.load(open(\"body\"))[\"content\"] == open(\"f-ws/utf8.txt\", encoding=\"utf-8\").read()" &&
	printf "bad \377 byte" >f-ws/latin.txt &&
	api f GET "/v1/system/read?path=latin.txt" &&
	expect_answer 400 "{\"detail\":\"File is not UTF-8 text\"}" &&
	printf "\355\240\200" >f-ws/surrogate.txt &&
	api f GET "/v1/system/read?path=surrogate.txt" && expect_status 400 &&
	python3 -c "open(\"f-ws/mib\", \"w\").write(\"a\" * 1048576)" &&
	api f GET "/v1/system/read?path=mib" && expect_status 200 &&
	jcheck "len(j[\"content\"]) == 1048576" &&
	python3 -c "open(\"f-ws/mib1\", \"w\").write(\"a\" * 1048577)" &&
	api f GET "/v1/system/read?path=mib1" &&
	expect_answer 413 "{\"detail\":\"File larger than 1048576 bytes\"}" &&
	: >f-ws/empty && api f GET "/v1/system/read?path=empty" &&
	expect_answer 200 "{\"content\":\"\"}"
'

test_expect_success HTTPD 'read: dot-files are refused like paths outside' '
	( for p in .env .git/config alpha/../.env %2Eenv "./.env" ".git%2Fconfig"; do
		api f GET "/v1/system/read?path=$p" && expect_status 403 &&
		jcheck "j[\"detail\"].startswith(\"Access denied: \") and j[\"detail\"].endswith(\" is outside allowed boundaries.\")" &&
		! grep -e SECRET -e core body || exit 1
	done ) &&
	api f GET "/v1/system/read?path=.env" &&
	expect_answer 403 "{\"detail\":\"Access denied: .env is outside allowed boundaries.\"}"
'

test_expect_success HTTPD 'save: makes folders, writes the bytes, 0644 whatever the umask' '
	post f /v1/system/save "{\"path\":\"new/sub/dir/a.txt\",\"content\":\"line 1\\nline 2 \\u00e9\\u20ac\\n\"}" &&
	expect_answer 200 "{\"ok\":true}" &&
	printf "line 1\nline 2 \303\251\342\202\254\n" >expect && test_cmp expect f-ws/new/sub/dir/a.txt &&
	test "$(stat -c %a f-ws/new/sub/dir/a.txt)" = 644 &&
	test "$(stat -c %a f-ws/new/sub/dir)" = 755 &&
	post f /v1/system/save "{\"path\":\"nul.bin\",\"content\":\"a\\u0000b\"}" &&
	expect_status 200 && printf "a\000b" >expect && cmp expect f-ws/nul.bin &&
	post f /v1/system/save "{\"path\":\"hello.txt\",\"content\":\"\"}" &&
	expect_status 200 && test ! -s f-ws/hello.txt &&
	printf "#!/bin/sh\n" >f-ws/tool.sh && chmod 4755 f-ws/tool.sh &&
	post f /v1/system/save "{\"path\":\"tool.sh\",\"content\":\"#!/bin/sh\\necho hi\\n\"}" &&
	expect_status 200 && test "$(stat -c %a f-ws/tool.sh)" = 644 &&
	test ! -x f-ws/tool.sh &&
	ls -a f-ws f-ws/new/sub/dir >listing && test_grep ! "orket-save" listing
'

test_expect_success HTTPD 'save under a umask of 077 still makes 0644 files' '
	(
		umask 077 &&
		rm -rf u.db* u-ws u.log &&
		daemon_start u env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=u.db \
		    ORKET_EVENT_LOG=u.log ORKET_WORKSPACE=u-ws ORKET_API_KEY="$KEY" \
		    $HTTPD_VGENV orket-httpd
	) &&
	test_when_finished "daemon_stop u" &&
	post u /v1/system/save "{\"path\":\"x/y.txt\",\"content\":\"y\"}" && expect_status 200 &&
	test "$(stat -c %a u-ws/x/y.txt)" = 644
'

test_expect_success HTTPD 'save: 1 MiB of content exactly, 413 one byte over' '
	python3 -c "import json; json.dump({\"path\": \"big.txt\", \"content\": \"b\" * 1048576}, open(\"big.json\", \"w\"))" &&
	api f POST /v1/system/save --data-binary @big.json && expect_answer 200 "{\"ok\":true}" &&
	test "$(wc -c <f-ws/big.txt)" = 1048576 &&
	python3 -c "import json; json.dump({\"path\": \"big1.txt\", \"content\": \"b\" * 1048577}, open(\"big1.json\", \"w\"))" &&
	api f POST /v1/system/save --data-binary @big1.json &&
	expect_answer 413 "{\"detail\":\"Content larger than 1048576 bytes\"}" &&
	test ! -e f-ws/big1.txt &&
	python3 -c "import json; json.dump({\"path\": \"esc.txt\", \"content\": \"\\n\" * 1048576}, open(\"esc.json\", \"w\"))" &&
	api f POST /v1/system/save --data-binary @esc.json && expect_status 200 &&
	test "$(wc -c <f-ws/esc.txt)" = 1048576
'

test_expect_success HTTPD 'save: fields checked (422), folders and dot-files refused' '
	post f /v1/system/save "{\"path\":\"a.txt\"}" && expect_status 422 &&
	jcheck "[(e[\"type\"], e[\"loc\"]) for e in j[\"detail\"]] == [(\"missing\", [\"body\", \"content\"])]" &&
	post f /v1/system/save "{\"content\":1,\"path\":[]}" && expect_status 422 &&
	jcheck "[(e[\"type\"], e[\"loc\"], e[\"input\"]) for e in j[\"detail\"]] == [(\"string_type\", [\"body\", \"path\"], []), (\"string_type\", [\"body\", \"content\"], 1)]" &&
	post f /v1/system/save "\"text\"" && expect_status 422 &&
	post f /v1/system/save "{\"path\":\"alpha\",\"content\":\"x\"}" &&
	expect_answer 400 "{\"detail\":\"Is a directory\"}" && test -d f-ws/alpha &&
	post f /v1/system/save "{\"path\":\".\",\"content\":\"x\"}" && expect_status 400 &&
	post f /v1/system/save "{\"path\":\"noext/x.txt\",\"content\":\"x\"}" &&
	expect_answer 400 "{\"detail\":\"A parent of the path is not a directory\"}" &&
	( for p in .env .git/hooks/post-commit a/.hidden/x .profile; do
		post f /v1/system/save "{\"path\":\"$p\",\"content\":\"pwned\"}" &&
		expect_answer 403 "{\"detail\":\"Access denied: $p is outside allowed boundaries.\"}" ||
		exit 1
	done ) &&
	test "$(cat f-ws/.env)" = SECRET=1 && test ! -e f-ws/.git/hooks && test ! -e f-ws/a &&
	test ! -e f-ws/.profile
'

test_expect_success HTTPD 'save never replaces the daemon'"'"'s own event log' '
	post f /v1/system/save "{\"path\":\"default/orket.log\",\"content\":\"x\"}" &&
	expect_answer 403 "{\"detail\":\"Access denied: default/orket.log is outside allowed boundaries.\"}" &&
	api f GET /v1/sessions/zz && expect_status 404 &&
	test_grep "\"session_id\":\"zz\"" f-ws/default/orket.log
'

test_expect_success HTTPD 'clear-logs truncates the event log, which goes on after it' '
	test -s f-ws/default/orket.log &&
	api f POST /v1/system/clear-logs && expect_answer 200 "{\"ok\":true}" &&
	test ! -s f-ws/default/orket.log &&
	api f GET /v1/sessions/after-clear && expect_status 404 &&
	test_grep "\"event\":\"api_session_detail\"" f-ws/default/orket.log &&
	test "$(wc -l <f-ws/default/orket.log)" = 1
'

test_expect_success HTTPD 'clear-logs creates the log; a symlink in its place is skipped, 200' '
	rm -rf c.db* c-ws c.log && mkdir -p c-ws outside-c && echo keep >outside-c/orket.log &&
	test_when_finished "daemon_stop c" &&
	daemon_start c env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=c.db \
	    ORKET_EVENT_LOG=c.log ORKET_WORKSPACE=c-ws ORKET_API_KEY="$KEY" $HTTPD_VGENV orket-httpd &&
	api c POST /v1/system/clear-logs && expect_answer 200 "{\"ok\":true}" &&
	test -f c-ws/default/orket.log && test ! -s c-ws/default/orket.log &&
	test "$(stat -c %a c-ws/default/orket.log)" = 644 &&
	rm c-ws/default/orket.log && ln -s ../../outside-c/orket.log c-ws/default/orket.log &&
	api c POST /v1/system/clear-logs && expect_answer 200 "{\"ok\":true}" &&
	test "$(cat outside-c/orket.log)" = keep &&
	test_grep "\"event\":\"clear_logs_skipped\"" c.log &&
	test_grep "\"path\":\"c-ws/default/orket.log\"" c.log &&
	rm c-ws/default/orket.log && rmdir c-ws/default && ln -s ../outside-c c-ws/default &&
	api c POST /v1/system/clear-logs && expect_answer 200 "{\"ok\":true}" &&
	test "$(cat outside-c/orket.log)" = keep &&
	test "$(grep -c clear_logs_skipped c.log)" = 2
'

test_expect_success HTTPD 'the file routes never answered 5xx' '
	test -z "$(metric f "orket_httpd_requests_total{code=\"500\"}")" &&
	test_grep ! "http_error" f-ws/default/orket.log
'

daemon_stop f
test_done
