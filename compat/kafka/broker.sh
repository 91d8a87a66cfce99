#!/usr/bin/env bash
# compat/kafka/broker.sh start|stop|restart|kill|bootstrap|sasl-ssl-bootstrap|ca
# A tandemd with a PLAINTEXT Kafka listener and a SASL_SSL one (certificates
# made here with openssl; ca prints the CA file) on free loopback ports (AMQP off),
# state in $COMPAT_KAFKA_STATE (pid, port, data dir), so the suites can
# restart the broker on the same port and data (kill is a kill -9, waiting
# until the process is gone: start brings it back).  TANDEMD names the binary.
# A second vhost, kperm, lets a suite act outside "/" (SASL "kperm:guest");
# acluser (password aclpw) may open only kperm, for the ACL test.
set -euo pipefail
state=${COMPAT_KAFKA_STATE:?COMPAT_KAFKA_STATE must name a directory}
tandemd=${TANDEMD:?TANDEMD must name the tandemd binary}
mkdir -p "$state"

# a port below the ephemeral range: restart keeps it (scripts/free-ports)
free_port() {
	/usr/bin/python3 "$(dirname "$0")/../../scripts/free-ports"
}

# A CA and a server certificate for 127.0.0.1 (EC keys, made once per
# state dir): ca.pem for the clients, server-bundle.pem (key + certificate,
# Kafka's PEM keystore) for the SASL_SSL listener.
certs() {
	local d=$state/certs
	[ -f "$d/server-bundle.pem" ] && return 0
	mkdir -p "$d"
	(
		cd "$d"
		timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.pem -days 2 -subj /CN=compat-kafka-ca
		timeout 30 openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout server.key -out server.csr -subj /CN=127.0.0.1
		echo "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
		timeout 30 openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
			-CAcreateserial -out server.pem -days 2 -extfile server.ext
		cat server.key server.pem >server-bundle.pem
	) >"$state/certs.log" 2>&1 || { echo "broker.sh: openssl failed (see $state/certs.log)" >&2; return 1; }
}

start() {
	[ -f "$state/port" ] || free_port >"$state/port"
	[ -f "$state/sasl-ssl-port" ] || free_port >"$state/sasl-ssl-port"
	mkdir -p "$state/data"
	certs
	local port sslport
	port=$(cat "$state/port")
	sslport=$(cat "$state/sasl-ssl-port")
	"$tandemd" --data-dir "$state/data" --amqp-port 0 --http-port 0 \
		--listeners "PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sslport" \
		--ssl.keystore.location "$state/certs/server-bundle.pem" \
		--log-level "${TANDEMD_LOG_LEVEL:-warning}" \
		--group-initial-rebalance-delay-ms 500 --log-retention-check-interval-ms 200 \
		--log-min-segment-bytes 1024 --vhosts kperm \
		--users.acluser.password aclpw --users.acluser.vhosts kperm \
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

# kill -9, as a crash: nothing is flushed or closed; returns once it is gone
kill9() {
	[ -f "$state/pid" ] || return 0
	local pid
	pid=$(cat "$state/pid")
	rm -f "$state/pid"
	kill -KILL "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	echo "broker.sh: tandemd $pid still there 10 s after kill -9" >&2
	return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
kill) kill9 ;;
bootstrap) echo "127.0.0.1:$(cat "$state/port")" ;;
sasl-ssl-bootstrap) echo "127.0.0.1:$(cat "$state/sasl-ssl-port")" ;;
ca) echo "$state/certs/ca.pem" ;;
*) echo "usage: broker.sh start|stop|restart|kill|bootstrap|sasl-ssl-bootstrap|ca" >&2; exit 2 ;;
esac
