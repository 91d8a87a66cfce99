#!/usr/bin/env bash
# Start a private N-node RabbitMQ cluster (Debian's rabbitmq-server, 3.10) on
# loopback, for proving what the cluster client suites expect
# (compat/python/test_cluster_amqp.py). It never touches the system service.
#
# Usage: start-cluster.sh DIR [N]      (N nodes, default 3)
#
# Node I (1..N) is tandem-rmq-I@localhost with its own AMQP port, management
# HTTP port (rabbitmq_management, user guest/guest from 127.0.0.1), Erlang
# distribution port, configuration, data and logs under DIR/node-I. All nodes
# share one private epmd (its own port, started here, stopped by PID) and one
# Erlang cookie (DIR/home/.erlang.cookie: HOME is DIR/home). The nodes boot
# side by side; nodes 2..N then run `rabbitmqctl stop_app; join_cluster
# tandem-rmq-1@localhost; start_app` (stop_app and start_app on those nodes
# side by side, the joins one at a time), and the script waits (bounded,
# RMQ_START_TIMEOUT seconds per step, default 120) until node 1's
# `rabbitmqctl cluster_status` lists N running nodes.
#
# On success prints shell assignments (also saved in DIR/env):
#   RMQ_DIR RMQ_N RMQ_NODES="n1 n2 n3" RMQ_PORTS="p1 p2 p3" RMQ_HTTP_PORTS
#   RMQ_DIST_PORTS RMQ_PIDS RMQ_EPMD_PORT RMQ_EPMD_PID
# Stop with tests/rabbitmq/stop-cluster.sh DIR; take one node down and bring it
# back with tests/rabbitmq/cluster-node.sh DIR stop|kill|start I.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/rabbitmq/rmq-lib.sh
. "$here/rmq-lib.sh"
rmq_require_bin start-cluster.sh

dir=${1:?usage: start-cluster.sh DIR [N]}
n=${2:-3}
case "$n" in '' | *[!0-9]* | 0) echo "start-cluster.sh: N must be a positive number" >&2; exit 2 ;; esac
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -f "$dir/env" ]; then
	echo "start-cluster.sh: $dir/env exists: stop that cluster first (stop-cluster.sh $dir)" >&2
	exit 1
fi
timeout_s=${RMQ_START_TIMEOUT:-120}
t0=$SECONDS

# 3 ports per node and the epmd port, all distinct
read -r -d '' -a ports < <(rmq_free_ports $((3 * n + 1))) || true
if [ "${#ports[@]}" -ne $((3 * n + 1)) ]; then
	echo "start-cluster.sh: could not find $((3 * n + 1)) free ports" >&2
	exit 1
fi
RMQ_EPMD_PORT=${ports[$((3 * n))]}
RMQ_EPMD_PID=""
rmq_nodes=() rmq_ports=() rmq_http_ports=() rmq_dist_ports=() rmq_pids=()
for i in $(seq 1 "$n"); do
	rmq_nodes+=("tandem-rmq-$i@localhost")
	rmq_ports+=("${ports[$((3 * (i - 1)))]}")
	rmq_http_ports+=("${ports[$((3 * (i - 1) + 1))]}")
	rmq_dist_ports+=("${ports[$((3 * (i - 1) + 2))]}")
	rmq_pids+=("")
done

fail() {
	echo "start-cluster.sh: $*" >&2
	rmq_cluster_save "$dir"
	"$here/stop-cluster.sh" "$dir" --keep >&2 || true
	echo "start-cluster.sh: logs kept in $dir" >&2
	exit 1
}

# One cookie for every node and for rabbitmqctl, written before any node
# starts (a node that finds none makes its own, and they would differ).
mkdir -p "$dir/home"
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F >"$dir/home/.erlang.cookie")
chmod 400 "$dir/home/.erlang.cookie"

# The shared epmd, in the foreground of its own session so that its PID is ours.
setsid epmd -port "$RMQ_EPMD_PORT" -address 127.0.0.1 >"$dir/epmd.out" 2>&1 </dev/null &
RMQ_EPMD_PID=$!
rmq_cluster_save "$dir"
for _ in $(seq 1 100); do rmq_port_open "$RMQ_EPMD_PORT" && break; sleep 0.05; done
rmq_port_open "$RMQ_EPMD_PORT" || fail "epmd did not open port $RMQ_EPMD_PORT"

# Every node boots on its own first (side by side: less time than one by one).
for i in $(seq 1 "$n"); do
	rmq_write_config "$dir/node-$i" "${rmq_ports[$((i - 1))]}" "${rmq_http_ports[$((i - 1))]}" rabbitmq_management
	rmq_pids[$((i - 1))]=$(rmq_cluster_node_env "$dir" "$i" && rmq_spawn "$dir/node-$i" && echo "$RMQ_SPAWNED_PID")
done
rmq_cluster_save "$dir"
for i in $(seq 1 "$n"); do
	(rmq_cluster_node_env "$dir" "$i"
		rmq_wait_ports start-cluster.sh "${rmq_pids[$((i - 1))]}" "$dir/node-$i" "$timeout_s" \
			"${rmq_ports[$((i - 1))]}" "${rmq_http_ports[$((i - 1))]}") ||
		fail "node $i (${rmq_nodes[$((i - 1))]}) did not start"
done
t_boot=$((SECONDS - t0))

# Nodes 2..N join node 1.
ctl() { # ctl I ARGS...: rabbitmqctl on node I, bounded, output in DIR/ctl.out
	local i=$1
	shift
	(rmq_cluster_node_env "$dir" "$i"
		echo "+ $(date +%T.%N | cut -c1-12) rabbitmqctl -n ${rmq_nodes[$((i - 1))]} $*"
		timeout "$timeout_s" "$RMQ_BIN/rabbitmqctl" -n "${rmq_nodes[$((i - 1))]}" -q "$@") >>"$dir/ctl.out" 2>&1
}
# each_node OP: `rabbitmqctl OP` on nodes 2..N side by side (stop_app takes
# seconds: one at a time it would double the time the cluster takes).
each_node() {
	local i pids=() rc=0
	for i in $(seq 2 "$n"); do
		ctl "$i" "$1" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	return $rc
}
# stop_app side by side, join_cluster one at a time (each changes the
# cluster's membership), start_app side by side
each_node stop_app || { tail -n 20 "$dir/ctl.out" >&2; fail "rabbitmqctl stop_app failed"; }
for i in $(seq 2 "$n"); do
	ctl "$i" join_cluster "${rmq_nodes[0]}" ||
		{ tail -n 20 "$dir/ctl.out" >&2; fail "node $i could not join ${rmq_nodes[0]}"; }
done
each_node start_app || { tail -n 20 "$dir/ctl.out" >&2; fail "rabbitmqctl start_app failed"; }
rmq_cluster_wait "$dir" 1 "$n" "$timeout_s" || fail "the cluster did not form"
for i in $(seq 1 "$n"); do
	(rmq_cluster_node_env "$dir" "$i"
		rmq_wait_ports start-cluster.sh "${rmq_pids[$((i - 1))]}" "$dir/node-$i" "$timeout_s" \
			"${rmq_ports[$((i - 1))]}" "${rmq_http_ports[$((i - 1))]}") ||
		fail "node $i (${rmq_nodes[$((i - 1))]}) did not come back after joining"
done
echo "start-cluster.sh: $n nodes booted in $t_boot s, clustered in $((SECONDS - t0)) s" >&2
cat "$dir/env"
