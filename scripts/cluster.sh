#!/usr/bin/env bash
# A local tandem cluster on loopback: one private ZooKeeper and N tandemd
# nodes, for trying a cluster on one machine and for the tests.
#
#   scripts/cluster.sh up N     starts ZooKeeper (its own data directory and
#                               a free port) and nodes 1..N, each with its own
#                               data directory and free AMQP, Kafka, HTTP and
#                               cluster-link ports (the link's secret in
#                               cluster.secret), started with --zookeeper-connect,
#                               --node-id, --advertised-host 127.0.0.1 and its
#                               ports; waits (bounded) until every listener
#                               answers; prints one line per process
#   scripts/cluster.sh down     stops every node, then ZooKeeper, by PID
#   scripts/cluster.sh status   prints the line of each process that runs;
#                               exit 1 when none does
#   scripts/cluster.sh kill ID  kills node ID with SIGKILL by its PID (a crash:
#                               no clean shutdown) and waits until it is gone
#   scripts/cluster.sh stop ID  stops node ID by its PID (TERM, then KILL after
#                               10 s)
#   scripts/cluster.sh start ID starts node ID again, after kill or stop, on
#                               its own data directory and the ports it had,
#                               with the running ZooKeeper; waits (bounded)
#                               until its listeners answer; prints its line
#
# The lines, machine-readable:
#   zookeeper=HOST:PORT pid=PID
#   node=ID amqp=HOST:PORT kafka=HOST:PORT http=HOST:PORT pid=PID data=DIR
#
# Environment:
#   TANDEM_CLUSTER_DIR  state directory (default ./tandem-cluster): zookeeper/
#                       (zoo.cfg, data, logs), cluster.secret, node-ID/ (data,
#                       tandemd.log, pid, ports) for each node
#   TANDEMD             the tandemd binary (default: build/main/src/tandemd, as
#                       scripts/setup.sh builds it, else tandemd on PATH)
#   TANDEM_CLUSTER_ARGS extra flags for every node (e.g. --log-level debug),
#                       read by `up` and by `start`; {node_id} in them is
#                       each node's id (--broker-rack rack-{node_id})
#   TANDEM_CLUSTER_TIMEOUT  seconds to wait for each process (default 60)
#
# `up` on a directory whose processes still run fails: run `down` first.
# `down` keeps the data (ZooKeeper's and every node's): the next `up` starts
# the nodes on it again (on new ports); remove the directory to start afresh.
# `start ID` refuses a node that runs, and fails when ZooKeeper does not run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${TANDEM_CLUSTER_DIR:-./tandem-cluster}
HOST=127.0.0.1
TIMEOUT=${TANDEM_CLUSTER_TIMEOUT:-60}
ZK_SH="$ROOT/tests/cluster/zk.sh"

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() { die "usage: $0 up N | down | status | kill ID | stop ID | start ID   (state in \$TANDEM_CLUSTER_DIR, default ./tandem-cluster)"; }

find_tandemd() {
	if [ -n "${TANDEMD:-}" ]; then
		[ -x "$TANDEMD" ] || die "TANDEMD=$TANDEMD is not an executable"
		echo "$TANDEMD"
	elif [ -x "$ROOT/build/main/src/tandemd" ]; then
		echo "$ROOT/build/main/src/tandemd"
	elif command -v tandemd >/dev/null 2>&1; then
		command -v tandemd
	else
		die "no tandemd: build it (scripts/setup.sh) or set TANDEMD=/path/to/tandemd"
	fi
}

# free_ports N: N distinct free loopback ports below the kernel's ephemeral
# range, one per line (scripts/free-ports says why below).
free_ports() {
	if command -v python3 >/dev/null 2>&1; then
		python3 "$ROOT/scripts/free-ports" "$1"
		return
	fi
	local p n=0 seen=" "
	for _ in $(seq 1 $(($1 * 50))); do # no python: random ports nobody answers on
		p=$((10000 + RANDOM % 22000))
		case $seen in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			seen="$seen$p "
			n=$((n + 1))
			[ "$n" -ge "$1" ] && return
		fi
	done
	die "no free ports found"
}

listening() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_line() {
	local d=$1
	echo "node=$(cat "$d/id") amqp=$HOST:$(cat "$d/amqp_port") kafka=$HOST:$(cat "$d/kafka_port")" \
		"http=$HOST:$(cat "$d/http_port") pid=$(cat "$d/pid") data=$d/data"
}

# The node directories, in node id order.
node_dirs() {
	local d
	for d in "$STATE"/node-*; do
		[ -f "$d/id" ] && echo "$(cat "$d/id") $d"
	done | sort -n | cut -d' ' -f2-
}

stop_pid() { # stop_pid PIDFILE: TERM, then KILL after 10 s
	local pid i
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "cluster.sh: pid $pid did not stop on TERM within 10 s: KILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$1"
}

start_node() { # start_node ID ZKCONNECT TANDEMD: on new free ports
	local id=$1 zk=$2 bin=$3 d amqp kafka http link
	mkdir -p "$STATE/node-$id/data"
	d=$(cd "$STATE/node-$id" && pwd)
	{ read -r amqp; read -r kafka; read -r http; read -r link; } < <(free_ports 4)
	echo "$id" >"$d/id"
	echo "$amqp" >"$d/amqp_port"
	echo "$kafka" >"$d/kafka_port"
	echo "$http" >"$d/http_port"
	echo "$link" >"$d/cluster_port"
	launch_node "$d" "$zk" "$bin"
}

# launch_node DIR ZKCONNECT TANDEMD [append]: starts the node of DIR on the
# ports in DIR, waits until its listeners answer and prints its line; its
# output goes to DIR/tandemd.log (after what is there with `append`).
launch_node() {
	local d=$1 zk=$2 bin=$3 id amqp kafka http link i
	[ "${4:-}" = append ] || : >"$d/tandemd.log"
	id=$(cat "$d/id")
	amqp=$(cat "$d/amqp_port")
	kafka=$(cat "$d/kafka_port")
	http=$(cat "$d/http_port")
	link=$(cat "$d/cluster_port" 2>/dev/null || echo 0)
	local extra=${TANDEM_CLUSTER_ARGS:-}
	extra=${extra//\{node_id\}/$id}
	# shellcheck disable=SC2086 # TANDEM_CLUSTER_ARGS is a list of flags
	setsid "$bin" --data-dir "$d/data" --node-id "$id" --zookeeper-connect "$zk" \
		--advertised-host "$HOST" --bind-address "$HOST" \
		--amqp-port "$amqp" --kafka-port "$kafka" --http-port "$http" \
		--cluster-port "$link" --cluster-secret-file "$STATE/cluster.secret" \
		$extra </dev/null >>"$d/tandemd.log" 2>&1 &
	echo $! >"$d/pid"
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		if listening "$amqp" && listening "$kafka" && listening "$http"; then
			node_line "$d"
			return 0
		fi
		if ! alive "$d/pid"; then
			tail -n 20 "$d/tandemd.log" >&2 || true
			rm -f "$d/pid"
			return 1
		fi
		sleep 0.1
	done
	echo "cluster.sh: node $id did not listen on $amqp, $kafka and $http within $TIMEOUT s" >&2
	return 1
}

up() {
	local n=$1 bin zkline zkport i
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
	bin=$(find_tandemd)
	mkdir -p "$STATE"
	STATE=$(cd "$STATE" && pwd)
	if status >/dev/null 2>&1; then
		die "a cluster already runs in $STATE (scripts/cluster.sh down first)"
	fi
	# the cluster link's shared secret, like RabbitMQ's Erlang cookie
	(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/cluster.secret")
	zkline=$(ZK_START_TIMEOUT=$TIMEOUT bash "$ZK_SH" start "$STATE/zookeeper") ||
		die "ZooKeeper did not start (see above; logs in $STATE/zookeeper)"
	echo "$zkline"
	zkport=${zkline#zookeeper=$HOST:}
	zkport=${zkport%% *}
	for ((i = 1; i <= n; i++)); do
		if ! start_node "$i" "$HOST:$zkport" "$bin"; then
			echo "cluster.sh: node $i failed to start (log: $STATE/node-$i/tandemd.log); stopping the rest" >&2
			down
			exit 1
		fi
	done
}

down() {
	local d pid i left
	[ -d "$STATE" ] || return 0
	for d in $(node_dirs); do # TERM to all at once, then wait for all
		alive "$d/pid" && kill -TERM "$(cat "$d/pid")" 2>/dev/null || true
	done
	for ((i = 0; i < 100; i++)); do
		left=0
		for d in $(node_dirs); do
			alive "$d/pid" && left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for d in $(node_dirs); do
		stop_pid "$d/pid" # KILL what did not stop within 10 s
	done
	bash "$ZK_SH" stop "$STATE/zookeeper"
}

# node_dir ID: the directory of node ID, which must exist (up made it).
node_dir() {
	[[ "$1" =~ ^[1-9][0-9]*$ ]] || usage
	[ -d "$STATE" ] && [ -f "$STATE/node-$1/id" ] ||
		die "no node $1 in $STATE (scripts/cluster.sh up N makes nodes 1..N)"
	(cd "$STATE/node-$1" && pwd)
}

kill_node() {
	local d pid i
	d=$(node_dir "$1")
	alive "$d/pid" || die "node $1 does not run"
	pid=$(cat "$d/pid")
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && die "node $1 (pid $pid) still runs $TIMEOUT s after SIGKILL"
	rm -f "$d/pid"
}

stop_node() {
	local d
	d=$(node_dir "$1")
	alive "$d/pid" || die "node $1 does not run"
	stop_pid "$d/pid"
}

start_again() {
	local d zkline zkport bin
	d=$(node_dir "$1")
	if alive "$d/pid"; then
		die "node $1 already runs (pid $(cat "$d/pid"))"
	fi
	bin=$(find_tandemd)
	zkline=$(bash "$ZK_SH" status "$STATE/zookeeper" 2>/dev/null) ||
		die "ZooKeeper does not run in $STATE/zookeeper (scripts/cluster.sh up N starts it)"
	zkport=${zkline#zookeeper=$HOST:}
	zkport=${zkport%% *}
	echo "cluster.sh: start node $1 again, $(date -u '+%F %T') UTC" >>"$d/tandemd.log"
	launch_node "$d" "$HOST:$zkport" "$bin" append ||
		die "node $1 failed to start (log: $d/tandemd.log)"
}

status() {
	local d any=1
	[ -d "$STATE" ] || return 1
	if bash "$ZK_SH" status "$STATE/zookeeper" 2>/dev/null; then
		any=0
	fi
	for d in $(node_dirs); do
		if alive "$d/pid"; then
			node_line "$d"
			any=0
		fi
	done
	return $any
}

case ${1:-} in
up) [ $# -eq 2 ] || usage; up "$2" ;;
down) [ $# -eq 1 ] || usage; down ;;
status) [ $# -eq 1 ] || usage; status ;;
kill) [ $# -eq 2 ] || usage; kill_node "$2" ;;
stop) [ $# -eq 2 ] || usage; stop_node "$2" ;;
start) [ $# -eq 2 ] || usage; start_again "$2" ;;
*) usage ;;
esac
