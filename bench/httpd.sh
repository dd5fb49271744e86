#!/bin/sh
# See LICENSE. orket-httpd against nginx (SPEC §10): GET /health on 50 keep-alive
# connections, wrk on loopback, both servers in this one run, in ROUNDS rounds whose order
# alternates (orket-httpd first in odd rounds, nginx first in even ones) because wrk and
# the servers share the machine's cores; the medians are compared. nginx answers from a
# private nginx.conf, one worker (and once more, for information, worker_processes auto).
# Then the /ws/events fan-out (10,000 clients, one event at a time, the latency to the
# last client) when the binary answers the websocket handshake with 101; otherwise that
# part is recorded as skipped. Writes bench/results/DATE_httpd.json. Exit 0 whether or
# not the targets are met (a measurement); 1 when a server does not start or a check
# fails; 100 when a tool is missing.
#
# Environment: DURATION (10 s), WARMUP (2 s), CONNS (50), THREADS (2), ROUNDS (3),
# NGINX_KEEPALIVE_REQUESTS (1000000), WS=0 skips the fan-out, WS_CLIENTS (10000),
# WS_EVENTS (50), HTTPD (another orket-httpd to measure), KEEP=1 keeps the scratch folder.
set -eu
export LC_ALL=C TZ=UTC
top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/bench/httpd
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
# nginx closes a keep-alive connection after 1000 requests by default; orket-httpd has no
# such cap. Raised so that both serve every request of a run on the same 50 connections.
NGINX_KEEPALIVE_REQUESTS=${NGINX_KEEPALIVE_REQUESTS:-1000000}
WS=${WS:-1}
WS_CLIENTS=${WS_CLIENTS:-10000}
WS_EVENTS=${WS_EVENTS:-50}
# The key of the fan-out's daemon: a bench value, never a real one.
KEY=bench-httpd-key-8c41e7

say() { printf 'httpd.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Other work may share the machine: the load average is recorded at both ends.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# ---- tools ---------------------------------------------------------------------------
PATH=$PATH:/usr/sbin:/sbin
missing= installed=
for t in wrk:wrk curl:curl nginx:nginx-light; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" -eq 0 ] || { say "need$missing: run as root to install them"; exit 100; }
	say "installing$missing with apt-get (as root)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >/dev/null ||
	    { say "apt-get install$missing failed"; exit 100; }
	installed=$missing
fi
command -v python3 >/dev/null 2>&1 || { say "python3 is needed"; exit 100; }
# Built only when missing: another make may be running in this tree, and a rebuild here
# could race with it. A binary older than its sources is measured as it is, and said so.
httpd=${HTTPD:-$top/build/bin/orket-httpd}
uptodate=true
if [ -z "${HTTPD:-}" ]; then
	if [ ! -x "$httpd" ]; then
		say "building: make progs"
		make -s -C "$top" progs >&2 || die "make progs failed"
	elif ! make -q -C "$top" progs >/dev/null 2>&1; then
		say "warning: $httpd is older than its sources (make progs); measured as it is"
		uptodate=false
	fi
fi
[ -x "$httpd" ] || die "no $httpd"

# ---- scratch folder, servers, cleanup ------------------------------------------------
work=$(mktemp -d /tmp/bench-httpd.XXXXXX)
pids=	# every server started here; wrk and wsfan are waited for in the foreground
# Running, and not a zombie waiting to be reaped.
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# stop PID...: SIGTERM (nginx: fast shutdown, orket-httpd: finish and exit), 5 s, then
# SIGKILL to it and to the children it had (nginx's workers), all by their ids.
stop() {
	for p in "$@"; do kill "$p" 2>/dev/null || :; done
	for p in "$@"; do
		kids=$(cat /proc/"$p"/task/*/children 2>/dev/null || :)
		i=0
		while alive "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		if alive "$p"; then
			say "process $p did not stop on SIGTERM: killed"
			kill -9 "$p" $kids 2>/dev/null || :
		fi
		wait "$p" 2>/dev/null || :
	done
}
cleanup() {
	# shellcheck disable=SC2086
	stop $pids
	pids=
	if [ "${KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
# forget PID: a server stopped here already.
forget() { pids=$(echo " $pids " | sed "s/ $1 / /;s/^ *//;s/ *\$//"); }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

freeport() {
	python3 -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# start_httpd NAME [VAR=VALUE...]: orket-httpd in $work/NAME on a free port, with only the
# environment given; sets hpid and hport.
start_httpd() {
	n=$1
	shift
	mkdir "$work/$n"
	(cd "$work/$n" && exec env -i PATH=/usr/bin:/bin HOME="$work/$n" ORKET_HOST=127.0.0.1 \
	    ORKET_PORT=0 "$@" "$httpd" 2>"$work/$n.err") &
	hpid=$!
	pids="$pids $hpid"
	hport= i=0
	while [ $i -lt 50 ]; do
		hport=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' \
		    "$work/$n.err")
		[ -n "$hport" ] && break
		alive "$hpid" || break
		sleep 0.1; i=$((i + 1))
	done
	[ -n "$hport" ] || { cat "$work/$n.err" >&2; die "orket-httpd ($n) did not start"; }
}

# start_nginx NAME WORKERS: nginx in the foreground from $work/NAME/nginx.conf, every
# path of its own in that folder; sets npid and nport.
start_nginx() {
	d=$work/$1
	mkdir "$d"
	nport=$(freeport)
	cat >"$d/nginx.conf" <<-EOF
	worker_processes $2;
	daemon off;
	pid $d/nginx.pid;
	error_log $d/error.log warn;
	events { worker_connections 1024; }
	http {
		access_log off;
		default_type application/json;
		keepalive_requests $NGINX_KEEPALIVE_REQUESTS;
		client_body_temp_path $d/client_body;
		proxy_temp_path $d/proxy;
		fastcgi_temp_path $d/fastcgi;
		uwsgi_temp_path $d/uwsgi;
		scgi_temp_path $d/scgi;
		server {
			listen 127.0.0.1:$nport;
			location = /health { return 200 '{"status":"ok"}'; }
		}
	}
	EOF
	# -e: the error log before the configuration is read, which is stderr otherwise.
	nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/stdout" 2>&1 &
	npid=$!
	pids="$pids $npid"
	i=0
	until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$nport/health"; do
		alive "$npid" && [ $i -lt 50 ] ||
		    { cat "$d/stdout" "$d/error.log" >&2 2>/dev/null; die "nginx ($1) did not start"; }
		sleep 0.1; i=$((i + 1))
	done
}

start_httpd httpd
ph=$hport hmain=$hpid
start_nginx nginx 1
pn=$nport n1=$npid
start_nginx nginx-auto auto
pa=$nport na=$npid
say "orket-httpd $("$httpd" --version | awk '{print $2}') on 127.0.0.1:$ph," \
    "$(nginx -v 2>&1 | sed 's/.*: //') on 127.0.0.1:$pn (1 worker) and :$pa (auto)"

# ---- correctness: each answers GET /health 200 ---------------------------------------
# check NAME PORT: the status, the headers and the body of one GET /health.
check() {
	code=$(curl -s --max-time 5 -D "$work/$1.head" -o "$work/$1.body" -w '%{http_code}' \
	    "http://127.0.0.1:$2/health") || code=000
	echo "$code" >"$work/$1.code"
	[ "$code" = 200 ] || die "$1: GET /health answered $code"
}
check httpd "$ph"
check nginx "$pn"
check nginx-auto "$pa"
say "checks: GET /health is 200 from each: orket-httpd $(cat "$work/httpd.body")," \
    "nginx $(cat "$work/nginx.body")"

# ---- load ----------------------------------------------------------------------------
# load NAME PORT: warm-up, then the measured run; wrk's text in NAME.wrk, numbers in
# NAME.json.
load() {
	wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "http://127.0.0.1:$2/health" \
	    >"$work/$1.warm" 2>&1 || die "wrk (warm-up, $1) failed: $(cat "$work/$1.warm")"
	wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$here/report.lua" \
	    "http://127.0.0.1:$2/health" >"$work/$1.wrk" 2>&1 ||
	    die "wrk ($1) failed: $(cat "$work/$1.wrk")"
	sed -n 's/^BENCHJSON //p' "$work/$1.wrk" >"$work/$1.json"
	[ -s "$work/$1.json" ] || die "no numbers from wrk ($1)"
}
say "load: wrk -t$THREADS -c$CONNS, ${WARMUP} s warm-up then ${DURATION} s, $ROUNDS rounds"
r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $((r % 2)) = 1 ]; then order="httpd nginx"; else order="nginx httpd"; fi
	for s in $order; do
		if [ "$s" = httpd ]; then load "r$r-httpd" "$ph"; else load "r$r-nginx" "$pn"; fi
		say "round $r: $s $(python3 -c 'import json,sys
w = json.load(open(sys.argv[1]))
print("%.0f req/s, p99 %.3f ms" % (w["requests"] / w["duration_us"] * 1e6, w["p99_us"] / 1e3))' \
		    "$work/r$r-$s.json")"
	done
	echo "$order" >"$work/r$r.order"
	r=$((r + 1))
done
say "for information: nginx with worker_processes auto ($(nproc) workers)"
load nginx-auto "$pa"

# The Part 1 servers stop before the fan-out, orket-httpd on SIGTERM as it should.
curl -s --max-time 5 "http://127.0.0.1:$ph/metrics" >"$work/httpd.metrics" || :
stop "$n1" "$na"
forget "$n1"
forget "$na"
kill "$hmain"
i=0
while alive "$hmain" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
alive "$hmain" && die "orket-httpd did not stop on SIGTERM"
hstatus=0
wait "$hmain" || hstatus=$?
forget "$hmain"
# ---- /ws/events fan-out --------------------------------------------------------------
# The daemon takes the descriptor limit it is started with: it calls no setrlimit (the
# script looks, in case that changes), so it is raised here, for it and for the clients.
# shellcheck disable=SC3045
ws_skip= ws_status= ws_limits= nofile_hard=$(ulimit -Hn)
if grep -q 'setrlimit *(RLIMIT_NOFILE' "$top"/cmd/orket-httpd/*.c 2>/dev/null; then
	raises=true
else
	raises=false
fi
need=$((WS_CLIENTS + 256))
if [ "$WS" != 1 ]; then
	ws_skip="WS=$WS: not asked for"
elif [ "$nofile_hard" != unlimited ] && [ "$nofile_hard" -lt "$need" ]; then
	ws_skip="the hard descriptor limit is $nofile_hard; $WS_CLIENTS clients need $need"
elif ! command -v cc >/dev/null 2>&1; then
	ws_skip="no C compiler (cc) for bench/httpd/wsfan.c"
fi
if [ -z "$ws_skip" ]; then
	[ "$nofile_hard" = unlimited ] && lim=$need || lim=$nofile_hard
	# shellcheck disable=SC3045 # dash, Debian's sh, has ulimit -n and -H
	ulimit -n "$lim"
	start_httpd ws ORKET_API_KEY="$KEY" ORKET_MAX_CONNS=$((WS_CLIENTS + 1024))
	wpid=$hpid wport=$hport
	ws_limits=$(sed -n 's/^Max open files *//p' "/proc/$wpid/limits" | awk '{print $1 "/" $2}')
	# The handshake, with the key: the status of its answer, or 000.
	ws_status=$(WSKEY=$KEY python3 -c 'import os, socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    s.sendall(("GET /ws/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nX-API-Key: %s\r\n\r\n" % os.environ["WSKEY"]).encode())
    d = b""
    while b"\r\n" not in d:
        b = s.recv(4096)
        if not b:
            break
        d += b
    f = d.split(b"\r\n")[0].split()
    print(f[1].decode() if len(f) > 1 else "000")
except OSError:
    print("000")' "$wport")
	if [ "$ws_status" != 101 ]; then
		ws_skip="GET /ws/events (with the API key and the websocket headers) was answered $ws_status, not 101: this binary does not serve the route yet"
	else
		cc -std=c11 -O2 -Wall -Wextra -o "$work/wsfan" "$here/wsfan.c" 2>"$work/wsfan.cc" ||
		    { cat "$work/wsfan.cc" >&2; die "unable to build bench/httpd/wsfan.c"; }
		say "fan-out: $WS_CLIENTS clients on /ws/events, $WS_EVENTS events from runs" \
		    "(POST /v1/system/run-active, the built-in runner)"
		if ! WSFAN_KEY=$KEY timeout 45 "$work/wsfan" -n "$WS_CLIENTS" -e "$WS_EVENTS" \
		    -p "$wpid" "$wport" >"$work/ws.json" 2>"$work/ws.err"; then
			rm -f "$work/ws.json"
			echo "wsfan failed: $(tail -c 300 "$work/ws.err")" >"$work/ws.failed"
			say "$(cat "$work/ws.failed")"
		fi
	fi
	stop "$wpid"
	forget "$wpid"
fi
[ -z "$ws_skip" ] || say "fan-out skipped: $ws_skip"

# ---- result --------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$top/bench/results"
out=$top/bench/results/$(date -u +%F)_httpd.json
commit=$(git -C "$top" rev-parse --short HEAD)
dirty=$(git -C "$top" diff --name-only HEAD -- cmd lib sql mk Makefile | tr '\n' ' ')
untracked=$(git -C "$top" ls-files --others --exclude-standard -- cmd lib | tr '\n' ' ')
[ -z "$dirty$untracked" ] || commit="$commit+dirty"
set +e
R_DATE=$(date -u +%F) \
R_MACHINE="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" \
R_KERNEL="$(uname -sr)" R_COMMIT=$commit R_DIRTY="$dirty" R_UNTRACKED="$untracked" \
R_UPTODATE=$uptodate R_INSTALLED="$installed" \
R_WRK="wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}')" \
R_NGINX="$(nginx -v 2>&1 | sed 's/.*: //') (Debian nginx $(dpkg-query -W -f='${Version}' nginx 2>/dev/null), nginx-light $(dpkg-query -W -f='${Version}' nginx-light 2>/dev/null))" \
R_CURL="$(curl --version | awk 'NR==1{print $1, $2}')" \
R_HTTPD="$("$httpd" --version)" R_CC="$(cc --version 2>/dev/null | head -1)" \
R_CONNS=$CONNS R_THREADS=$THREADS R_WARMUP=$WARMUP R_DURATION=$DURATION R_ROUNDS=$ROUNDS \
R_KEEPALIVE=$NGINX_KEEPALIVE_REQUESTS R_NPROC=$(nproc) R_HSTATUS=$hstatus \
R_LOAD_START="$load_start" R_LOAD_END="$load_end" R_SECONDS=$(($(date +%s) - t_start)) \
R_WS_SKIP="$ws_skip" R_WS_STATUS="$ws_status" R_WS_LIMITS="$ws_limits" \
R_WS_HARD="$nofile_hard" R_WS_RAISES=$raises R_WS_CLIENTS=$WS_CLIENTS R_WS_EVENTS=$WS_EVENTS \
    python3 "$here/report.py" "$work" "$out"
rc=$?
set -e
[ $rc = 0 ] || die "unable to write $out"
exit 0
