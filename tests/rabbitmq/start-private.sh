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

# shellcheck source=tests/rabbitmq/rmq-lib.sh
. "$(dirname "$0")/rmq-lib.sh"
rmq_require_bin start-private.sh

dir=${1:-}
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tandem-rmq.XXXXXX")
else
	mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)

want=3
[ "${RMQ_MANAGEMENT:-0}" != 1 ] || want=$((want + 1))
[ -z "${RMQ_TLS_DIR:-}" ] || want=$((want + 1))
read -r -d '' port dist_port epmd_port extra1 extra2 < <(rmq_free_ports "$want") || true
node="tandemtest-$$@localhost"

http_port="" tls_port=""
if [ "${RMQ_MANAGEMENT:-0}" = 1 ]; then
	http_port=$extra1
	tls_port=$extra2
else
	tls_port=$extra1
fi
[ -n "${RMQ_TLS_DIR:-}" ] || tls_port=""

mkdir -p "$dir/home"
plugins=()
[ -z "$http_port" ] || plugins+=(rabbitmq_management)
[ -z "${RMQ_TLS_DIR:-}" ] || plugins+=(rabbitmq_auth_mechanism_ssl)
rmq_write_config "$dir" "$port" "$http_port" "${plugins[@]}"
if [ -n "${RMQ_TLS_DIR:-}" ]; then
	# AMQPS as compat/run's pika-tls suite expects it (the certificates are its)
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
rmq_node_env "$dir" "$node" "$port" "$dist_port" "$epmd_port" "$dir/home"

cat >"$dir/env" <<ENV
RMQ_DIR=$dir
RMQ_PORT=$port
RMQ_NODE=$node
RMQ_EPMD_PORT=$epmd_port
RMQ_DIST_PORT=$dist_port
ENV
[ -z "$http_port" ] || echo "RMQ_HTTP_PORT=$http_port" >>"$dir/env"
[ -z "$tls_port" ] || echo "RMQ_TLS_PORT=$tls_port" >>"$dir/env"

rmq_spawn "$dir"
pid=$RMQ_SPAWNED_PID
echo "RMQ_PID=$pid" >>"$dir/env"

# Bounded wait: the AMQP listener opens only when the node has fully booted.
# shellcheck disable=SC2086
if ! rmq_wait_ports start-private.sh "$pid" "$dir" "${RMQ_START_TIMEOUT:-120}" "$port" $http_port $tls_port; then
	"$(dirname "$0")/stop-private.sh" "$dir" >&2 || true
	exit 1
fi

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
