#!/usr/bin/env bash
# Stop a node started by start-private.sh: rabbitmqctl stop (bounded), then
# SIGTERM / SIGKILL by the PID we recorded, then the node's private epmd.
# Usage: stop-private.sh STATE_DIR [--keep]   (--keep leaves the directory for inspection)
set -uo pipefail

dir=${1:?usage: stop-private.sh STATE_DIR [--keep]}
keep=${2:-}
# shellcheck source=tests/rabbitmq/rmq-lib.sh
. "$(dirname "$0")/rmq-lib.sh"
if [ ! -f "$dir/env" ]; then
	echo "stop-private.sh: $dir/env not found" >&2
	exit 1
fi
# shellcheck disable=SC1091
. "$dir/env"

export HOME="$dir/home" ERL_EPMD_PORT="$RMQ_EPMD_PORT" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"

rmq_stop_node "$RMQ_NODE" "${RMQ_PID:-}" "$dir"
# Our node started a private epmd on its own port; end it.
if command -v epmd >/dev/null 2>&1 || [ -x /usr/bin/epmd ]; then
	timeout 10 epmd -port "$RMQ_EPMD_PORT" -kill >/dev/null 2>&1 || true
fi
if [ "$keep" != "--keep" ]; then
	rm -rf "$dir"
fi
exit 0
