#!/usr/bin/env bash
# Stop a node started by start-private.sh: rabbitmqctl stop (bounded), then
# SIGTERM / SIGKILL by the PID we recorded, then the node's private epmd.
# Usage: stop-private.sh STATE_DIR [--keep]   (--keep leaves the directory for inspection)
set -uo pipefail

dir=${1:?usage: stop-private.sh STATE_DIR [--keep]}
keep=${2:-}
RMQ_BIN=${RMQ_BIN:-/usr/lib/rabbitmq/bin}
if [ ! -f "$dir/env" ]; then
	echo "stop-private.sh: $dir/env not found" >&2
	exit 1
fi
# shellcheck disable=SC1091
. "$dir/env"

export HOME="$dir/home" ERL_EPMD_PORT="$RMQ_EPMD_PORT" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"

alive() { [ -n "${RMQ_PID:-}" ] && kill -0 "$RMQ_PID" 2>/dev/null; }

if alive; then
	timeout 30 "$RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" stop >/dev/null 2>&1 || true
fi
# The script exits once the node has stopped; give it a bounded moment.
for _ in $(seq 1 40); do alive || break; sleep 0.25; done
if alive; then
	kill -TERM -- "-$RMQ_PID" 2>/dev/null || kill -TERM "$RMQ_PID" 2>/dev/null
	for _ in $(seq 1 40); do alive || break; sleep 0.25; done
fi
if alive; then
	kill -KILL -- "-$RMQ_PID" 2>/dev/null || kill -KILL "$RMQ_PID" 2>/dev/null
fi
# The Erlang VM itself (recorded by RabbitMQ), in case it outlived the script.
if [ -s "$dir/rabbitmq.pid" ]; then
	beam=$(cat "$dir/rabbitmq.pid")
	if kill -0 "$beam" 2>/dev/null; then
		kill -KILL "$beam" 2>/dev/null || true
	fi
fi
# Our node started a private epmd on its own port; end it.
if command -v epmd >/dev/null 2>&1 || [ -x /usr/bin/epmd ]; then
	timeout 10 epmd -port "$RMQ_EPMD_PORT" -kill >/dev/null 2>&1 || true
fi
if [ "$keep" != "--keep" ]; then
	rm -rf "$dir"
fi
exit 0
