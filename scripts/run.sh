#!/usr/bin/env bash
# Install what is missing, build, and run the broker with its defaults:
# AMQP on 127.0.0.1:5672, user guest/guest, vhost /, data in ./tandem-data.
# Extra arguments go to tandemd (e.g. --amqp-port 5673, --config tandem.conf).
# Stop it with Ctrl-C (or SIGTERM).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
builddir=$("$ROOT/scripts/setup.sh" | tail -n 1)
cd "$ROOT"
echo "==> starting $builddir/src/tandemd (data in $ROOT/tandem-data)" >&2
exec "$builddir/src/tandemd" --data-dir "$ROOT/tandem-data" "$@"
