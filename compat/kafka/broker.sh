#!/usr/bin/env bash
# compat/kafka/broker.sh start|stop|restart|bootstrap
# A tandemd with the Kafka listener on a free loopback port (AMQP off),
# state in $COMPAT_KAFKA_STATE (pid, port, data dir), so the suites can
# restart the broker on the same port and data.  TANDEMD names the binary.
# A second vhost, kperm, lets a suite act outside "/" (SASL "kperm:guest").
set -euo pipefail
state=${COMPAT_KAFKA_STATE:?COMPAT_KAFKA_STATE must name a directory}
tandemd=${TANDEMD:?TANDEMD must name the tandemd binary}
mkdir -p "$state"

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
	[ -f "$state/port" ] || free_port >"$state/port"
	mkdir -p "$state/data"
	local port
	port=$(cat "$state/port")
	"$tandemd" --data-dir "$state/data" --amqp-port 0 --http-port 0 --kafka-port "$port" \
		--log-level "${TANDEMD_LOG_LEVEL:-warning}" \
		--group-initial-rebalance-delay-ms 500 --log-retention-check-interval-ms 200 \
		--log-min-segment-bytes 1024 --vhosts kperm \
		>>"$state/tandemd.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 1 200); do
		if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
			return 0
		fi
		kill -0 "$(cat "$state/pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "broker.sh: tandemd did not start (see $state/tandemd.log)" >&2
	return 1
}

stop() {
	[ -f "$state/pid" ] || return 0
	local pid
	pid=$(cat "$state/pid")
	rm -f "$state/pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	echo "broker.sh: tandemd $pid did not stop; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
	return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
bootstrap) echo "127.0.0.1:$(cat "$state/port")" ;;
*) echo "usage: broker.sh start|stop|restart|bootstrap" >&2; exit 2 ;;
esac
