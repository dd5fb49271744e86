#!/bin/sh
# See LICENSE.
test_description='orket-httpd: a symlink swapped in while requests run never leads outside'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/httpd-lib.sh"

# While requests stream in, a folder d of the workspace and a symlink to a folder outside
# trade places as fast as the kernel allows (renameat2 RENAME_EXCHANGE: the name is never
# missing), and so do a file g.txt and a symlink to a file outside. Every answer must be
# the inside content, 403 or 404; nothing outside may be read, listed or written.
cat >swap.py <<'PY'
import ctypes, http.client, json, os, sys, threading, time

port, key, ws, outside, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2

def exchange(a, b):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")

stop = threading.Event()
swaps = [0]

def swapper():
    while not stop.is_set():
        exchange(ws + "/d", ws + "/d-alt")
        exchange(ws + "/g.txt", ws + "/g-alt")
        swaps[0] += 1

counts, bad = {}, []

def client(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"X-API-Key": key, "Content-Type": "application/json"}
    i = 0
    while not stop.is_set():
        i += 1
        kind = i % 5
        if kind == 0:
            c.request("GET", "/v1/system/read?path=d/f.txt", headers=h)
        elif kind == 1:
            c.request("GET", "/v1/system/explorer?path=d", headers=h)
        elif kind == 2:
            body = json.dumps({"path": "d/w-%d-%d.txt" % (n, i), "content": "W"})
            c.request("POST", "/v1/system/save", body, h)
        elif kind == 3:
            c.request("GET", "/v1/system/read?path=g.txt", headers=h)
        else:
            c.request("POST", "/v1/system/save", json.dumps({"path": "g.txt", "content": "G"}), h)
        r = c.getresponse()
        text = r.read().decode("utf-8", "replace")
        k = "%d:%d" % (kind, r.status)
        counts[k] = counts.get(k, 0) + 1
        if r.status not in (200, 403, 404) or "OUTSIDE" in text or "only-outside" in text:
            bad.append((kind, r.status, text[:200]))

ts = [threading.Thread(target=client, args=(n,)) for n in range(4)]
sw = threading.Thread(target=swapper)
sw.start()
for t in ts:
    t.start()
time.sleep(seconds)
stop.set()
for t in ts + [sw]:
    t.join()
print(json.dumps({"counts": counts, "swaps": swaps[0], "bad": bad[:5]}, sort_keys=True))
ok = sum(v for k, v in counts.items() if k.endswith(":200"))
denied = sum(v for k, v in counts.items() if k.endswith(":403"))
sys.exit(1 if bad or ok == 0 or denied == 0 or swaps[0] < 10 else 0)
PY

setup() {
	rm -rf s-ws outside && mkdir -p s-ws/d outside/only-outside &&
	echo INSIDE >s-ws/d/f.txt && echo INSIDE-G >s-ws/g.txt &&
	echo OUTSIDE-SECRET >outside/f.txt && echo OUTSIDE-G >outside/g.txt &&
	ln -s "$TRASH/outside" s-ws/d-alt && ln -s "$TRASH/outside/g.txt" s-ws/g-alt &&
	(cd outside && find . | sort && cat f.txt g.txt) >outside.before
}

race() {
	test_expect_success $2 "$1: requests race a folder and a file swapped for symlinks" "
		setup &&
		daemon_start s env ORKET_HOST=127.0.0.1 ORKET_PORT=0 ORKET_RUNTIME_DB=s-$1.db \
		    ORKET_EVENT_LOG=s-$1.log ORKET_WORKSPACE=s-ws ORKET_API_KEY='$KEY' \
		    ORKET_RESOLVE=$1 orket-httpd &&
		test_when_finished 'daemon_stop s' &&
		python3 swap.py \"\$(cat s.port)\" '$KEY' s-ws outside 2.5 >result &&
		cat result &&
		(cd outside && find . | sort && cat f.txt g.txt) >outside.after &&
		test_cmp outside.before outside.after &&
		! find outside -name 'w-*' | grep . &&
		! grep -r -l -e PWN -e '^W\$' -e '^G\$' outside &&
		test -z \"\$(metric s 'orket_httpd_requests_total{code=\"500\"}')\"
	"
}

command -v python3 >/dev/null && python3 -c 'import ctypes; ctypes.CDLL(None).renameat2' \
    2>/dev/null && test_set_prereq RENAMEAT2

race walk HTTPD,RENAMEAT2
race openat2 HTTPD,RENAMEAT2,OPENAT2

test_done
