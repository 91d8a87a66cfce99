#!/usr/bin/env bash
# Start a private RabbitMQ node (Debian's rabbitmq-server, 3.10) for proving the
# integration suite's expectations. It never touches the system service: its own
# node name, AMQP / distribution / epmd ports, data, logs, config, plugins file and
# Erlang cookie (HOME) all live in one temporary directory.
#
# Usage: start-private.sh [STATE_DIR]
# On success prints shell assignments (also saved in STATE_DIR/env):
#   RMQ_DIR=... RMQ_PORT=... RMQ_PID=... RMQ_NODE=... RMQ_EPMD_PORT=...
# With RMQ_MANAGEMENT=1 in the environment the management plugin runs too,
# on 127.0.0.1:RMQ_HTTP_PORT (also printed).
# With RMQ_TLS_DIR=DIR (holding ca.pem, server.pem, server.key) an AMQPS listener
# with verify_peer and fail_if_no_peer_cert runs on 127.0.0.1:RMQ_TLS_PORT (printed),
# with login by certificate: the rabbitmq_auth_mechanism_ssl plugin, auth_mechanisms
# PLAIN, AMQPLAIN, EXTERNAL, ssl_cert_login_from = common_name and a user "client"
# (permissions on /), as compat/run's pika-tls suite expects.
# Stop with: tests/rabbitmq/stop-private.sh STATE_DIR
set -euo pipefail

RMQ_BIN=${RMQ_BIN:-/usr/lib/rabbitmq/bin}
if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
	echo "start-private.sh: $RMQ_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)" >&2
	exit 2
fi

dir=${1:-}
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tandem-rmq.XXXXXX")
else
	mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)

# Free loopback ports below the kernel's ephemeral range (scripts/free-ports).
# There is a small race between the probe and RabbitMQ binding the port; a
# failed start is reported below.
free_port() {
	python3 "$(dirname "$0")/../../scripts/free-ports" 2>/dev/null && return
	# no python3: pick a random high port that nothing listens on
	local p
	while :; do
		p=$(( (RANDOM % 20000) + 30000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
}

port=$(free_port)
dist_port=$(free_port)
epmd_port=$(free_port)
while [ "$dist_port" = "$port" ]; do dist_port=$(free_port); done
while [ "$epmd_port" = "$port" ] || [ "$epmd_port" = "$dist_port" ]; do epmd_port=$(free_port); done
node="tandemtest-$$@localhost"

http_port=""
if [ "${RMQ_MANAGEMENT:-0}" = 1 ]; then
	http_port=$(free_port)
	while [ "$http_port" = "$port" ] || [ "$http_port" = "$dist_port" ] || [ "$http_port" = "$epmd_port" ]; do
		http_port=$(free_port)
	done
fi

mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
plugins=()
[ -z "$http_port" ] || plugins+=(rabbitmq_management)
[ -z "${RMQ_TLS_DIR:-}" ] || plugins+=(rabbitmq_auth_mechanism_ssl)
(IFS=,; echo "[${plugins[*]}].") >"$dir/enabled_plugins"
: >"$dir/rabbitmq-env.conf"
# Defaults as in a fresh install, except resource alarms: the suite publishes
# bodies near the 128 MiB message limit and must not trip a memory or disk alarm
# that depends on the machine it runs on.
cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users.guest = true
vm_memory_high_watermark.absolute = 8GB
disk_free_limit.absolute = 1MB
log.file.level = info
log.console = false
CONF
tls_port=""
if [ -n "${RMQ_TLS_DIR:-}" ]; then
	# AMQPS as compat/run's pika-tls suite expects it (the certificates are its)
	tls_port=$(free_port)
	cat >>"$dir/rabbitmq.conf" <<CONF
listeners.ssl.1 = 127.0.0.1:$tls_port
ssl_options.cacertfile = $RMQ_TLS_DIR/ca.pem
ssl_options.certfile = $RMQ_TLS_DIR/server.pem
ssl_options.keyfile = $RMQ_TLS_DIR/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
ssl_cert_login_from = common_name
CONF
fi
if [ -n "$http_port" ]; then
	printf 'management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = %s\n' "$http_port" >>"$dir/rabbitmq.conf"
fi

export HOME="$dir/home"
export RABBITMQ_NODENAME="$node"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$port"
export RABBITMQ_DIST_PORT="$dist_port"
export ERL_EPMD_PORT="$epmd_port"
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE="$dir/mnesia"
export RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"

cat >"$dir/env" <<ENV
RMQ_DIR=$dir
RMQ_PORT=$port
RMQ_NODE=$node
RMQ_EPMD_PORT=$epmd_port
RMQ_DIST_PORT=$dist_port
ENV
[ -z "$http_port" ] || echo "RMQ_HTTP_PORT=$http_port" >>"$dir/env"
[ -z "$tls_port" ] || echo "RMQ_TLS_PORT=$tls_port" >>"$dir/env"

# setsid: own process group, so stop-private.sh can end the whole node tree.
setsid "$RMQ_BIN/rabbitmq-server" >"$dir/server.out" 2>&1 </dev/null &
pid=$!
echo "RMQ_PID=$pid" >>"$dir/env"

# Bounded wait: the AMQP listener opens only when the node has fully booted.
deadline=$((SECONDS + ${RMQ_START_TIMEOUT:-120}))
while :; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "start-private.sh: rabbitmq-server exited during start; last output:" >&2
		tail -n 30 "$dir/server.out" >&2 || true
		tail -n 30 "$dir/log/"*.log >&2 2>/dev/null || true
		exit 1
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		{ [ -z "$http_port" ] || (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; } &&
		{ [ -z "$tls_port" ] || (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null; }; then
		break
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "start-private.sh: RabbitMQ did not open port $port in time" >&2
		tail -n 30 "$dir/server.out" >&2 || true
		"$(dirname "$0")/stop-private.sh" "$dir" >&2 || true
		exit 1
	fi
	sleep 0.5
done

if [ -n "$tls_port" ]; then
	# the user EXTERNAL logs in as (its password is never used)
	ctl() { "$RMQ_BIN/rabbitmqctl" -n "$node" -q "$@" >>"$dir/ctl.out" 2>&1; }
	if ! { ctl add_user client "compat-$RANDOM$RANDOM" && ctl set_permissions -p / client '.*' '.*' '.*'; }; then
		echo "start-private.sh: rabbitmqctl could not add the user client:" >&2
		tail -n 20 "$dir/ctl.out" >&2 || true
		"$(dirname "$0")/stop-private.sh" "$dir" >&2 || true
		exit 1
	fi
fi

cat "$dir/env"
