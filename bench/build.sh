#!/bin/sh
# See LICENSE. How long the build takes: from nothing (a fresh clone, dependencies fetched and
# built), and after a change to one file in cmd/. Writes bench/results/DATE_build.json.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$top" "$work/src"
cd "$work/src"
now() { date +%s.%N; }
t0=$(now); make all >"$work/clean.log" 2>&1; t1=$(now)
touch cmd/orket-migrate/main.c
t2=$(now); make all >"$work/incr.log" 2>&1; t3=$(now)
clean=$(echo "$t1 - $t0" | bc); incr=$(echo "$t3 - $t2" | bc)
mkdir -p "$top/bench/results"
out=$top/bench/results/$(date -u +%Y-%m-%d)_build.json
cat >"$out" <<JSON
{
  "what": "make all from a fresh clone (dependencies fetched and built), then after touching cmd/orket-migrate/main.c",
  "machine": "$(nproc) cores, $(uname -m)",
  "commit": "$(git rev-parse --short HEAD)",
  "clean_build_seconds": $clean,
  "one_file_rebuild_seconds": $incr,
  "targets": { "clean_build_seconds_max": 240, "one_file_rebuild_seconds_max": 5 }
}
JSON
cat "$out"
