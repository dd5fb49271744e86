#!/bin/sh
# See LICENSE. make run: migrate the default databases, then start what exists so far.
set -eu
bin=build/bin
echo "run: migrating the databases (ORKET_RUNTIME_DB=${ORKET_RUNTIME_DB:-orket_persistence.db}," \
	"ORKET_WEBHOOK_DB=${ORKET_WEBHOOK_DB:-.orket/webhook.db})"
"$bin/orket-migrate"
for d in orket-httpd orket-hookd; do
	if [ ! -x "$bin/$d" ]; then
		echo "run: $d is not built yet (see README.md, Programs): nothing to start"
	fi
done
