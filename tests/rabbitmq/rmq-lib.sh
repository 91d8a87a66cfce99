# shellcheck shell=bash
# Shared by the private RabbitMQ scripts (start-private.sh, stop-private.sh,
# start-cluster.sh, stop-cluster.sh, cluster-node.sh): sourced, never run.
# Debian's rabbitmq-server 3.10; nothing here touches the system service:
# every node has its own node name, ports, data, logs, config and plugins
# file, and the Erlang cookie lives in a private HOME.
#
# Functions (all prefixed rmq_):
#   rmq_require_bin NAME          exit 2 when $RMQ_BIN/rabbitmq-server is missing
#   rmq_free_ports N              N distinct free loopback ports, one per line
#   rmq_port_open PORT            true when 127.0.0.1:PORT accepts a connection
#   rmq_node_env NODEDIR NODE PORT DIST_PORT EPMD_PORT HOME
#                                 export the RABBITMQ_* / ERL_* variables that
#                                 make rabbitmq-server and rabbitmqctl use the
#                                 node whose files are under NODEDIR
#   rmq_write_config NODEDIR PORT HTTP_PORT PLUGINS...
#                                 NODEDIR/rabbitmq.conf (HTTP_PORT "" for none),
#                                 enabled_plugins, an empty rabbitmq-env.conf
#   rmq_spawn NODEDIR             start rabbitmq-server in its own session
#                                 (setsid: stop by process group); sets RMQ_SPAWNED_PID
#   rmq_wait_ports NAME PID NODEDIR TIMEOUT PORT...
#                                 bounded wait until every PORT accepts; 1 (with
#                                 the node's last output on stderr) when the
#                                 server exits or the time runs out
#   rmq_stop_node NODE PID NODEDIR [stop|term|kill]
#                                 stop (default): rabbitmqctl stop (bounded),
#                                 then SIGTERM, then SIGKILL to the process
#                                 group by PID (bounded waits); term: from
#                                 SIGTERM on; kill: SIGKILL only (a crash);
#                                 then the Erlang VM by the PID RabbitMQ wrote.
#                                 rabbitmqctl needs rmq_node_env's HOME /
#                                 ERL_EPMD_PORT in the environment
# Clusters (start-cluster.sh, stop-cluster.sh, cluster-node.sh), state in DIR:
#   rmq_cluster_load DIR          source DIR/env; set the arrays rmq_nodes,
#                                 rmq_ports, rmq_http_ports, rmq_dist_ports,
#                                 rmq_pids (index 0 is node 1)
#   rmq_cluster_save DIR          write DIR/env from those arrays
#   rmq_cluster_node_env DIR I    rmq_node_env for node I (1-based)
#   rmq_cluster_running DIR I     the number of running nodes node I's
#                                 `rabbitmqctl cluster_status` lists (0 when it
#                                 does not answer)
#   rmq_cluster_wait DIR I COUNT TIMEOUT
#                                 bounded wait until that number is COUNT

RMQ_BIN=${RMQ_BIN:-/usr/lib/rabbitmq/bin}
RMQ_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

rmq_require_bin() {
	if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
		echo "$1: $RMQ_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)" >&2
		exit 2
	fi
}

# Free loopback ports below the kernel's ephemeral range (scripts/free-ports
# says why). There is a small race between the probe and RabbitMQ binding the
# port; a failed start is reported by rmq_wait_ports.
rmq_free_ports() {
	python3 "$RMQ_LIB_DIR/../../scripts/free-ports" "$1" 2>/dev/null && return
	# no python3: random high ports that nothing listens on
	local p n=0 seen=" "
	while [ "$n" -lt "$1" ]; do
		p=$(((RANDOM % 20000) + 10000))
		case $seen in *" $p "*) continue ;; esac
		if ! rmq_port_open "$p"; then
			echo "$p"
			seen="$seen$p "
			n=$((n + 1))
		fi
	done
}

rmq_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rmq_node_env() {
	local d=$1
	export HOME="$6"
	export RABBITMQ_NODENAME="$2"
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT="$3"
	export RABBITMQ_DIST_PORT="$4"
	export ERL_EPMD_PORT="$5"
	export ERL_EPMD_ADDRESS=127.0.0.1
	export RABBITMQ_MNESIA_BASE="$d/mnesia"
	export RABBITMQ_LOG_BASE="$d/log"
	export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
	export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
	export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
	export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
	export RABBITMQ_PID_FILE="$d/rabbitmq.pid"
}

rmq_write_config() {
	local d=$1 port=$2 http_port=$3
	shift 3
	mkdir -p "$d/mnesia" "$d/log"
	(IFS=,; echo "[$*].") >"$d/enabled_plugins"
	: >"$d/rabbitmq-env.conf"
	# Defaults as in a fresh install, except resource alarms: the suites publish
	# bodies near the 128 MiB message limit and must not trip a memory or disk
	# alarm that depends on the machine they run on.
	cat >"$d/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users.guest = true
vm_memory_high_watermark.absolute = 8GB
disk_free_limit.absolute = 1MB
log.file.level = info
log.console = false
CONF
	if [ -n "$http_port" ]; then
		printf 'management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = %s\n' "$http_port" >>"$d/rabbitmq.conf"
	fi
}

rmq_spawn() {
	# setsid: own process group, so rmq_stop_node can end the whole node tree.
	setsid "$RMQ_BIN/rabbitmq-server" >>"$1/server.out" 2>&1 </dev/null &
	# shellcheck disable=SC2034 # read by the callers
	RMQ_SPAWNED_PID=$!
}

rmq_wait_ports() {
	local name=$1 pid=$2 d=$3 deadline=$((SECONDS + $4)) p ok
	shift 4
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$name: rabbitmq-server exited during start; last output:" >&2
			tail -n 30 "$d/server.out" >&2 || true
			tail -n 30 "$d/log/"*.log >&2 2>/dev/null || true
			return 1
		fi
		ok=1
		for p in "$@"; do
			rmq_port_open "$p" || { ok=0; break; }
		done
		[ "$ok" = 0 ] || return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$name: RabbitMQ ($RABBITMQ_NODENAME) did not open port(s) $* in time" >&2
			tail -n 30 "$d/server.out" >&2 || true
			return 1
		fi
		sleep 0.2
	done
}

rmq_stop_node() {
	local node=$1 pid=$2 d=$3 how=${4:-stop} beam
	alive() { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
	if [ "$how" = stop ] && alive; then
		timeout 30 "$RMQ_BIN/rabbitmqctl" -n "$node" stop >/dev/null 2>&1 || true
		# the script exits once the node has stopped; give it a bounded moment
		for _ in $(seq 1 40); do alive || break; sleep 0.25; done
	fi
	if [ "$how" != kill ] && alive; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 40); do alive || break; sleep 0.25; done
	fi
	if alive; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
		for _ in $(seq 1 40); do alive || break; sleep 0.05; done
	fi
	# The Erlang VM itself (recorded by RabbitMQ), in case it outlived the script.
	if [ -s "$d/rabbitmq.pid" ]; then
		beam=$(cat "$d/rabbitmq.pid")
		if kill -0 "$beam" 2>/dev/null; then
			kill -KILL "$beam" 2>/dev/null || true
			for _ in $(seq 1 40); do kill -0 "$beam" 2>/dev/null || break; sleep 0.05; done
		fi
		rm -f "$d/rabbitmq.pid"
	fi
	unset -f alive
	return 0
}

# ---- clusters ---------------------------------------------------------------

rmq_cluster_load() {
	if [ ! -f "$1/env" ]; then
		echo "rmq-lib: $1/env not found (start-cluster.sh DIR writes it)" >&2
		return 1
	fi
	# shellcheck disable=SC1091
	. "$1/env"
	read -r -a rmq_nodes <<<"$RMQ_NODES"
	read -r -a rmq_ports <<<"$RMQ_PORTS"
	read -r -a rmq_http_ports <<<"$RMQ_HTTP_PORTS"
	read -r -a rmq_dist_ports <<<"$RMQ_DIST_PORTS"
	read -r -a rmq_pids <<<"$RMQ_PIDS"
}

rmq_cluster_save() {
	cat >"$1/env.tmp" <<ENV
RMQ_DIR=$1
RMQ_N=${#rmq_nodes[@]}
RMQ_NODES="${rmq_nodes[*]}"
RMQ_PORTS="${rmq_ports[*]}"
RMQ_HTTP_PORTS="${rmq_http_ports[*]}"
RMQ_DIST_PORTS="${rmq_dist_ports[*]}"
RMQ_PIDS="${rmq_pids[*]}"
RMQ_EPMD_PORT=$RMQ_EPMD_PORT
RMQ_EPMD_PID=$RMQ_EPMD_PID
ENV
	mv "$1/env.tmp" "$1/env"
}

rmq_cluster_node_env() {
	local i=$(($2 - 1))
	rmq_node_env "$1/node-$2" "${rmq_nodes[$i]}" "${rmq_ports[$i]}" "${rmq_dist_ports[$i]}" \
		"$RMQ_EPMD_PORT" "$1/home"
	# Several nodes on a few shared cores: Erlang's schedulers must not spin
	# waiting for work (its default), which would take the CPU the other
	# nodes (and other programs) need.
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none"
}

rmq_cluster_running() {
	local out
	out=$( (rmq_cluster_node_env "$1" "$2"
		timeout 30 "$RMQ_BIN/rabbitmqctl" -n "${rmq_nodes[$(($2 - 1))]}" -q cluster_status --formatter json) 2>/dev/null) || {
		echo 0
		return
	}
	python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("running_nodes", [])))' <<<"$out" 2>/dev/null || echo 0
}

rmq_cluster_wait() {
	local deadline=$((SECONDS + $4)) n
	while :; do
		n=$(rmq_cluster_running "$1" "$2")
		[ "$n" != "$3" ] || return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "rmq-lib: ${rmq_nodes[$(($2 - 1))]} lists $n running nodes, not $3, after $4 s" >&2
			return 1
		fi
		sleep 0.5
	done
}
