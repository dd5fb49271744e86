#!/bin/sh
# See LICENSE. /ws/events fan-out (SPEC §10: 10,000 clients connected, fan-out p99 < 10 ms).
# Builds bench/ws/{hubd,load,floor} against build/lib/liborket.a, then for each client
# count: floor (a bare send() loop, no hub: what the kernel alone costs on this machine),
# hubd + load with the loop doing the sends as in a daemon, and hubd + load with hub_flush
# in the request (the server's own fan-out time). Writes bench/results/DATE_ws.json.
# Exit 0 whether or not the target is met (a measurement); 1 when a run fails; 100 when
# the descriptor limit is too low for the largest count.
#
# Environment: CLIENTS ("1000 10000"), EVENTS (50), PAD (0: ~130-byte frames), KEEP=1
# keeps the scratch folder.
set -eu
export LC_ALL=C TZ=UTC
top=$(cd "$(dirname "$0")/../.." && pwd)
CLIENTS=${CLIENTS:-"1000 10000"}
EVENTS=${EVENTS:-50}
PAD=${PAD:-0}

say() { printf 'ws/run.sh: %s\n' "$*" >&2; }

max=0
for n in $CLIENTS; do [ "$n" -gt "$max" ] && max=$n; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((max + 200)) ]; then
	say "need $((max + 200)) descriptors per process, the limit is $(ulimit -n)"
	exit 100
fi

say "building"
make -s -C "$top" build/lib/liborket.a >&2
work=$(mktemp -d /tmp/bench-ws.XXXXXX)
hpid=
cleanup() {
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null
	[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
CF="-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Wshadow -Wno-unused-parameter -static"
musl-gcc $CF -I"$top/lib" -isystem "$top/build/sysroot/include" -o "$work/hubd" \
    "$top/bench/ws/hubd.c" "$top/build/lib/liborket.a" -L"$top/build/sysroot/lib" \
    -lhttp_parser -lbearssl
musl-gcc $CF -o "$work/load" "$top/bench/ws/load.c"
musl-gcc $CF -o "$work/floor" "$top/bench/ws/floor.c"

# One hubd, one load run against it; the JSON of load on stdout.
run_load() {
	: >"$work/port"
	"$work/hubd" >"$work/port" 2>"$work/hubd.err" &
	hpid=$!
	i=0
	while [ ! -s "$work/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	"$work/load" "$@" -e "$EVENTS" -s "$PAD" -b 256 "$(cat "$work/port")" ||
	    { say "load $* failed"; kill "$hpid"; exit 1; }
	kill "$hpid"
	wait "$hpid" 2>/dev/null || true
	hpid=
}

runs=
for n in $CLIENTS; do
	say "$n clients: floor"
	floor=$("$work/floor" "$n" "$EVENTS") || { say "floor failed"; exit 1; }
	say "$n clients: hub, sends from the loop"
	loop=$(run_load -n "$n")
	say "$n clients: hub, hub_flush in the request"
	sync=$(run_load -S -n "$n")
	runs="$runs${runs:+,}
    { \"clients\": $n, \"floor\": $floor,
      \"hub_loop\": $loop,
      \"hub_sync\": $sync }"
done

mkdir -p "$top/bench/results"
out=$top/bench/results/$(date -u +%Y-%m-%d)_ws.json
cat >"$out" <<JSON
{
  "what": "websocket event fan-out on loopback: publish one event, time until every client has read it",
  "machine": "$(nproc) cores, $(uname -m), $(uname -r)",
  "commit": "$(git -C "$top" rev-parse --short HEAD)",
  "events": $EVENTS,
  "target": { "clients": 10000, "fanout_p99_ms_max": 10 },
  "runs": [$runs
  ]
}
JSON
cat "$out"
