#!/usr/bin/env bash
# Take one node of a start-cluster.sh cluster down, or bring it back.
#
# Usage: cluster-node.sh DIR stop|kill|start I
#   stop I   a clean stop: rabbitmqctl stop, then SIGTERM / SIGKILL by PID
#            (bounded waits); returns once the node's processes are gone
#   kill I   SIGKILL to the node's process group (a crash)
#   start I  starts node I again on its own ports, data and configuration; it
#            rejoins the cluster by itself; waits (bounded, RMQ_START_TIMEOUT,
#            default 120 s) until its AMQP and HTTP ports answer and its
#            `rabbitmqctl cluster_status` lists every node whose process runs;
#            updates RMQ_PIDS in DIR/env
# compat/run points COMPAT_CLUSTER_CTL at "cluster-node.sh DIR".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/rabbitmq/rmq-lib.sh
. "$here/rmq-lib.sh"
usage() { echo "usage: cluster-node.sh DIR stop|kill|start I" >&2; exit 2; }
[ $# -eq 3 ] || usage
dir=$1 op=$2 i=$3
rmq_cluster_load "$dir" || exit 1
case "$i" in '' | *[!0-9]*) usage ;; esac
[ "$i" -ge 1 ] && [ "$i" -le "${#rmq_nodes[@]}" ] || { echo "cluster-node.sh: no node $i" >&2; exit 2; }
k=$((i - 1))
node=${rmq_nodes[$k]}
pid=${rmq_pids[$k]:-}
alive() { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

case "$op" in
stop | kill)
	(rmq_cluster_node_env "$dir" "$i" && rmq_stop_node "$node" "$pid" "$dir/node-$i" "$op")
	if alive; then
		echo "cluster-node.sh: node $i (pid $pid) still runs" >&2
		exit 1
	fi
	;;
start)
	if alive; then
		echo "cluster-node.sh: node $i runs (pid $pid)" >&2
		exit 1
	fi
	pid=$(rmq_cluster_node_env "$dir" "$i" && rmq_spawn "$dir/node-$i" && echo "$RMQ_SPAWNED_PID")
	rmq_pids[$k]=$pid
	rmq_cluster_save "$dir"
	(rmq_cluster_node_env "$dir" "$i"
		rmq_wait_ports cluster-node.sh "$pid" "$dir/node-$i" "${RMQ_START_TIMEOUT:-120}" \
			"${rmq_ports[$k]}" "${rmq_http_ports[$k]}") || exit 1
	running=0
	for p in "${rmq_pids[@]}"; do
		[ -n "$p" ] && kill -0 "$p" 2>/dev/null && running=$((running + 1))
	done
	rmq_cluster_wait "$dir" "$i" "$running" "${RMQ_START_TIMEOUT:-120}" || exit 1
	;;
*) usage ;;
esac
exit 0
