#!/usr/bin/env bash
# compat/kafka/run.sh [TANDEMD]: the Kafka client suites (kcat, kafka-python,
# kafkajs) against a tandemd this script starts (and the suites restart) on
# a free loopback port.  TANDEMD defaults to build/main/src/tandemd.
# Needs: kcat, python3-kafka (Debian), node + npm (kafkajs is installed from
# the pinned package-lock.json on first use, under COMPAT_NODE_DIR: see
# compat/npm-ci.sh).  Prints one line per suite
# and "N passed, M failed"; exits non-zero when a suite failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export TANDEMD=${1:-${TANDEMD:-$top/build/main/src/tandemd}}
[ -x "$TANDEMD" ] || { echo "run.sh: no tandemd at $TANDEMD" >&2; exit 2; }
# absolute: the kafkajs suite restarts the broker from its own directory
TANDEMD=$(cd "$(dirname "$TANDEMD")" && pwd)/$(basename "$TANDEMD")
export COMPAT_KAFKA_STATE=$(mktemp -d "${TMPDIR:-/tmp}/tandem-compat-kafka.XXXXXX")
export BROKER_CTL="$here/broker.sh"
trap '"$BROKER_CTL" stop >/dev/null 2>&1; rm -rf "$COMPAT_KAFKA_STATE"' EXIT

"$BROKER_CTL" start || exit 1
export KAFKA_BOOTSTRAP=$("$BROKER_CTL" bootstrap)
export KAFKA_SASL_SSL_BOOTSTRAP=$("$BROKER_CTL" sasl-ssl-bootstrap)
export KAFKA_CA=$("$BROKER_CTL" ca)
echo "tandemd on $KAFKA_BOOTSTRAP (SASL_SSL on $KAFKA_SASL_SSL_BOOTSTRAP)"

passed=0 failed=0
suite() {
	local name=$1
	shift
	echo "==> $name"
	if "$@"; then
		echo "PASS  $name"
		passed=$((passed + 1))
	else
		echo "FAIL  $name"
		failed=$((failed + 1))
	fi
}

kafkajs() {
	local modules
	modules=$("$here/../npm-ci.sh" "$here/kafkajs" kafkajs) || return 1
	(cd "$here/kafkajs" && NODE_PATH="$modules${NODE_PATH:+:$NODE_PATH}" node --test test.js)
}

# kafka-python and kafkajs through a leader's kill -9, each in a 3-node
# cluster of its own (scripts/cluster.sh; ZooKeeper session timeout 4 s so
# the failover is quick)
failover_client() { # python | kafkajs
	local modules
	case "$1" in
	python) /usr/bin/python3 "$here/test_cluster_failover.py" ;;
	kafkajs)
		modules=$("$here/../npm-ci.sh" "$here/kafkajs" kafkajs) || return 1
		(cd "$here/kafkajs" && NODE_PATH="$modules${NODE_PATH:+:$NODE_PATH}" \
			node --test cluster_failover.js)
		;;
	esac
}

cluster_failover() {
	local rc=0 client
	export TANDEM_CLUSTER_ARGS="--zookeeper-session-timeout-ms 4000"
	for client in python kafkajs; do
		export TANDEM_CLUSTER_DIR="$COMPAT_KAFKA_STATE/cluster-$client"
		if ! "$top/scripts/cluster.sh" up 3 >"$TANDEM_CLUSTER_DIR.up.log" 2>&1; then
			cat "$TANDEM_CLUSTER_DIR.up.log"
			rc=1
			continue
		fi
		failover_client "$client" || rc=1
		"$top/scripts/cluster.sh" down >/dev/null 2>&1 || rc=1
	done
	unset TANDEM_CLUSTER_DIR TANDEM_CLUSTER_ARGS
	return $rc
}

suite kcat "$here/test_kcat.sh"
suite kafka-python /usr/bin/python3 "$here/test_kafka_python.py"
suite kafkajs kafkajs
suite "kafka-python and kafkajs through a leader's kill -9 (3-node cluster)" cluster_failover
if ! "$BROKER_CTL" stop; then
	echo "FAIL  tandemd did not stop cleanly"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
