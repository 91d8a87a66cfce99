#!/usr/bin/env bash
# Stop a cluster started by start-cluster.sh: every node by its PID (SIGTERM
# to its process group, all nodes at once; after a bounded wait SIGKILL), then
# the cluster's epmd by its PID. A graceful stop takes RabbitMQ about 8 s.
# Usage: stop-cluster.sh DIR [--keep] [--kill]
#   --keep  leave DIR (data and logs) for inspection
#   --kill  SIGKILL at once (no graceful stop: for a cluster thrown away)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/rabbitmq/rmq-lib.sh
. "$here/rmq-lib.sh"
dir=${1:?usage: stop-cluster.sh DIR [--keep] [--kill]}
shift
keep="" how=term
for a in "$@"; do
	case "$a" in
	--keep) keep=--keep ;;
	--kill) how="kill" ;;
	*) echo "usage: stop-cluster.sh DIR [--keep] [--kill]" >&2; exit 2 ;;
	esac
done
rmq_cluster_load "$dir" || exit 1

pids=()
for i in $(seq 1 "${#rmq_nodes[@]}"); do
	(rmq_cluster_node_env "$dir" "$i"
		rmq_stop_node "${rmq_nodes[$((i - 1))]}" "${rmq_pids[$((i - 1))]:-}" "$dir/node-$i" "$how") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
if [ -n "${RMQ_EPMD_PID:-}" ] && kill -0 "$RMQ_EPMD_PID" 2>/dev/null; then
	kill -TERM "$RMQ_EPMD_PID" 2>/dev/null
	for _ in $(seq 1 40); do kill -0 "$RMQ_EPMD_PID" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$RMQ_EPMD_PID" 2>/dev/null
fi
if [ "$keep" != --keep ]; then
	rm -rf "$dir"
fi
exit 0
