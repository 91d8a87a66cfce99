#!/bin/bash
# tandem-perf over TLS (what tests/perf/tls.sh relies on): against a tandemd
# with AMQPS and a Kafka SSL listener, both requiring a client certificate,
#   - AMQP with --tls --cacert --cert --key moves 3000 messages with confirms
#     and manual acks, every one checked (status=ok);
#   - the log mode (librdkafka, security.protocol=ssl) produces and consumes
#     3000 records the same way;
#   - a CA that did not sign the server is refused (no result, non-zero exit).
# Certificates come from the openssl command; tandemd runs on free loopback
# ports in a temp dir and is stopped by PID.  Run by make check from the
# build directory (src/tandemd, src/tools/tandem-perf).
set -u
top_build=$(pwd)
TANDEMD=${TANDEMD:-$top_build/src/tandemd}
PERF=$top_build/src/tools/tandem-perf
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TANDEMD" ] || fail "no $TANDEMD"
[ -x "$PERF" ] || fail "no $PERF"

work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-perf-tls.XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(
	cd "$work" || exit 1
	set -e
	gen() { timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1"; }
	leaf() {
		timeout 30 openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$1.key" -out "$1.csr" -subj "/CN=$1"
		echo "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$1.ext"
		timeout 30 openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out "$1.pem" -days 2 -extfile "$1.ext"
	}
	gen ca
	gen otherca
	leaf server
	leaf client
	cat server.key server.pem >server-bundle.pem
) >"$work/gen.log" 2>&1 || fail "openssl: $(tail -3 "$work/gen.log")"

free_port() {
	python3 "$(dirname "$0")/../../scripts/free-ports"
}
amqps=$(free_port)
kssl=$(free_port)
while [ "$kssl" = "$amqps" ]; do kssl=$(free_port); done
cat >"$work/tandem.conf" <<CONF
amqp_port = 0
http_port = 0
listeners.ssl.default = $amqps
ssl_options.cacertfile = $work/ca.pem
ssl_options.certfile = $work/server.pem
ssl_options.keyfile = $work/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
listeners = SSL://127.0.0.1:$kssl
ssl.keystore.location = $work/server-bundle.pem
ssl.truststore.location = $work/ca.pem
ssl.client.auth = required
CONF
"$TANDEMD" --config "$work/tandem.conf" --data-dir "$work/data" --log-level warning >"$work/tandemd.log" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 200); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$amqps") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$kssl") 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
[ "$up" = 1 ] || fail "tandemd did not open its TLS ports: $(tail -5 "$work/tandemd.log")"

tls="--tls --cacert $work/ca.pem --cert $work/client.pem --key $work/client.key"
status=0
# shellcheck disable=SC2086
out=$(timeout 90 "$PERF" -h "localhost:$amqps" -i 0 -T 60 -D 20 -x 1 -y 1 -s 100 -C 3000 -c 100 -q 100 $tls 2>&1)
if grep -q '^result .*received=3000 .*status=ok' <<<"$out"; then
	echo "PASS: AMQPS: 3000 messages with confirms and acks"
else
	echo "FAIL: AMQPS: $out"
	status=1
fi
# shellcheck disable=SC2086
out=$(timeout 90 "$PERF" -M log -h "localhost:$kssl" -i 0 -T 60 -D 20 -x 1 -y 1 -s 100 -C 3000 --topic perf-tls $tls 2>&1)
if grep -q '^result .*received=3000 .*status=ok' <<<"$out"; then
	echo "PASS: Kafka SSL: 3000 records produced and consumed"
else
	echo "FAIL: Kafka SSL: $out"
	status=1
fi
out=$(timeout 60 "$PERF" -h "localhost:$amqps" -i 0 -T 20 -x 1 -y 1 -C 10 --tls --cacert "$work/otherca.pem" \
	--cert "$work/client.pem" --key "$work/client.key" 2>&1)
rc=$?
if [ "$rc" != 0 ] && ! grep -q '^result ' <<<"$out"; then
	echo "PASS: AMQPS: a server our --cacert did not sign is refused ($(head -1 <<<"$out"))"
else
	echo "FAIL: AMQPS with another CA: exit $rc: $out"
	status=1
fi
exit $status
