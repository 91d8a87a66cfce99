#!/usr/bin/env bash
# compat/kafka/run.sh [TANDEMD]: the Kafka client suites (kcat, kafka-python,
# kafkajs, librdkafka's codecs, idempotent and transactional clients,
# Sarama and kafka-go) against a tandemd this script starts (and the
# suites restart or kill) on
# a free loopback port, then kafka-python, librdkafka and kafkajs through
# rounds of a leader's kill -9, each in a 3-node cluster of its own.
# TANDEMD defaults to build/main/src/tandemd.
# Needs: kcat, python3-kafka, python3-confluent-kafka (Debian), node + npm
# (kafkajs is installed from the pinned package-lock.json on first use, under
# COMPAT_NODE_DIR: see compat/npm-ci.sh), golang-go with
# golang-github-shopify-sarama-dev and golang-github-segmentio-kafka-go-dev
# (built offline in GOPATH mode against /usr/share/gocode, into
# COMPAT_GO_DIR), zookeeper for the cluster.  Prints
# one line per suite and "N passed, M failed"; exits non-zero when a suite
# failed.
#
# Environment:
#   KAFKA_SUITES      the suites to run, of: kcat kafka-python kafkajs
#                     rdkafka-codecs txn-clients go cluster_failover
#                     (default: all seven)
#   COMPAT_GO_DIR     where the go suite's test binary and Go build cache go
#                     (default: a go/ folder in the temporary state dir)
#   FAILOVER_CLIENTS  the clients cluster_failover runs, of: python rdkafka
#                     kafkajs (default: all three)
#   FAILOVER_SEED, FAILOVER_ROUNDS  for the python and rdkafka failover
#                     tests (compat/kafka/failover_rounds.py): replay a seed
#                     they printed, the number of rounds (4)
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

# Sarama 1.22.1 and kafka-go 0.2.1 (Debian's packaged sources, no module
# proxy): one `go test` package, compiled in GOPATH mode into COMPAT_GO_DIR
# (binary and build cache; nothing in the source tree), then run, bounded.
go_suite() {
	local dir=${COMPAT_GO_DIR:-$COMPAT_KAFKA_STATE/go}
	command -v go >/dev/null 2>&1 || { echo "run.sh: no go (Debian golang-go)" >&2; return 1; }
	mkdir -p "$dir"
	if ! (cd "$here/go" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
		GOCACHE="$dir/cache" CGO_CFLAGS="-O2 -Wno-deprecated-declarations" \
		timeout 600 go test -p 1 -c -o "$dir/compat-kafka-go.test" .) >"$dir/build.log" 2>&1; then
		cat "$dir/build.log"
		return 1
	fi
	(cd "$dir" && timeout 300 ./compat-kafka-go.test -test.v -test.timeout 280s)
}

# kafka-python, librdkafka (python3-confluent-kafka) and kafkajs through a
# leader's kill -9, each in a 3-node cluster of its own (scripts/cluster.sh;
# ZooKeeper session timeout 4 s so the failover is quick): python and rdkafka
# run rounds of kill -9 and restart (compat/kafka/failover_rounds.py), each
# bounded by 300 s
failover_client() { # python | rdkafka | kafkajs
	local modules
	case "$1" in
	python) timeout 300 /usr/bin/python3 "$here/test_cluster_failover.py" ;;
	rdkafka) timeout 300 /usr/bin/python3 "$here/test_cluster_failover_rdkafka.py" ;;
	kafkajs)
		modules=$("$here/../npm-ci.sh" "$here/kafkajs" kafkajs) || return 1
		(cd "$here/kafkajs" && NODE_PATH="$modules${NODE_PATH:+:$NODE_PATH}" \
			timeout 300 node --test cluster_failover.js)
		;;
	*) echo "run.sh: no failover client $1 (python, rdkafka, kafkajs)" >&2; return 1 ;;
	esac
}

cluster_failover() {
	local rc=0 client t
	export TANDEM_CLUSTER_ARGS="--zookeeper-session-timeout-ms 4000"
	for client in ${FAILOVER_CLIENTS:-python rdkafka kafkajs}; do
		export TANDEM_CLUSTER_DIR="$COMPAT_KAFKA_STATE/cluster-$client"
		if ! "$top/scripts/cluster.sh" up 3 >"$TANDEM_CLUSTER_DIR.up.log" 2>&1; then
			cat "$TANDEM_CLUSTER_DIR.up.log"
			rc=1
			continue
		fi
		t=$SECONDS
		if ! failover_client "$client"; then
			rc=1
			echo "FAIL  $client failover ($((SECONDS - t)) s); the nodes' logs:"
			tail -n 30 "$TANDEM_CLUSTER_DIR"/node-*/tandemd.log
		else
			echo "ok    $client failover ($((SECONDS - t)) s)"
		fi
		"$top/scripts/cluster.sh" down >/dev/null 2>&1 || rc=1
	done
	unset TANDEM_CLUSTER_DIR TANDEM_CLUSTER_ARGS
	return $rc
}

want() { case " ${KAFKA_SUITES:-kcat kafka-python kafkajs rdkafka-codecs txn-clients go cluster_failover} " in *" $1 "*) return 0 ;; esac; return 1; }
want kcat && suite kcat "$here/test_kcat.sh"
want kafka-python && suite kafka-python /usr/bin/python3 "$here/test_kafka_python.py"
want kafkajs && suite kafkajs kafkajs
want rdkafka-codecs && suite rdkafka-codecs /usr/bin/python3 "$here/test_codecs_rdkafka.py"
want txn-clients && suite txn-clients timeout 600 /usr/bin/python3 "$here/test_txn_clients.py"
want go && suite "go (Sarama 1.22.1, kafka-go 0.2.1)" go_suite
want cluster_failover &&
	suite "kafka-python, librdkafka and kafkajs through a leader's kill -9 (3-node clusters)" cluster_failover
if ! "$BROKER_CTL" stop; then
	echo "FAIL  tandemd did not stop cleanly"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
