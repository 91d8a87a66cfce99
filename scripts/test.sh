#!/usr/bin/env bash
# Install what is missing, build, and run every test:
#   1. make check               unit suites, integration suite against tandemd,
#                               fuzz corpus replay (build/main); about 40 s
#                               (four test programs at a time: TEST_JOBS)
#   2. make check, sanitized    the same with ASan + UBSan (build/asan)
#   3. RabbitMQ proof           the integration suite against a private
#                               RabbitMQ 3.10 node: every expectation is real
#   4. compat, tandemd          third-party clients (pika, kombu, py-amqp,
#                               amqplib, amqp-tools) against tandemd
#                               (make check-compat-amqp: compat/run)
#   5. compat, RabbitMQ         the same client suites against a private
#                               RabbitMQ 3.10 node: every expectation is real
#                               (make check-compat-rabbitmq)
#   6. fuzzing                  short libFuzzer runs of the eight targets
#                               (FUZZ_SECONDS each, default 60), one per
#                               core at a time
#   7. ThreadSanitizer          tandemd built with TSan (build/tsan) under the
#                               integration programs that drive its background
#                               jobs; the job service's and the ZooKeeper
#                               session's tests, instrumented
#   8. valgrind                 integration programs against tandemd under
#                               valgrind, and test_zk (definite leaks and
#                               errors fail)
#   9. Kafka clients            kcat, kafka-python, kafkajs, librdkafka,
#                               Sarama and kafka-go against tandemd
#                               (make check-compat-kafka: compat/kafka/run.sh)
#  10. librdkafka's suite       librdkafka 2.0.2's own tests (Debian's source
#                               package, built under build/main) against a
#                               tandemd, full mode, but for skip.txt's
#                               (make check-compat-librdkafka:
#                               compat/librdkafka/run.sh; about 14 minutes the
#                               first time, 3.5 of them the build), and
#                               0101 and 0103 against a 3-node tandem cluster
#  11. browser console          the web console in Debian's Chromium, driven by
#                               playwright-core (make check-browser:
#                               compat/browser/run.sh); its screenshot lands in
#                               build/logs/side-by-side.png
#  12. fault suite              power cut (kill -9, files cut back to what was
#                               fsynced) and a tmpfs data directory that fills
#                               up under AMQP and Kafka load (tests/faults/run.sh)
#  13. cluster                  three nodes and a private ZooKeeper: the cluster
#                               client suite (compat/python/test_cluster_amqp.py,
#                               proven against RabbitMQ in stage 5), replication,
#                               kill -9 of a leader under acks=all, of the
#                               controller, a leader paused past its session
#                               (tests/cluster/test_cluster); again with the
#                               nodes under ASan + UBSan and under TSan
#  14. make distcheck           the release tarball holds every file it needs,
#                               builds (without -Werror, as a packager would),
#                               installs, and passes the unit suites, the fuzz
#                               replays, the source checks and one integration
#                               program per front end (the rest ran in 1)
# make check-compat (4 and 9) and check-compat-librdkafka (10) are not part of make check; node modules go under
# build/main/compat/node_modules and the Go suite's binary and build cache
# under build/main/compat/go, never into the source tree. Builds from the
# git checkout and CI's build/ have -Werror (configure --enable-werror);
# release tarballs do not.
# Every stage runs; the summary lists them; the exit status is non-zero if any
# failed. Environment: FUZZ_SECONDS, TANDEM_BUILD_DIR (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TANDEM_BUILD_DIR:-$ROOT/build}
JOBS=$(nproc 2>/dev/null || echo 2)
# the integration programs wait on sockets, not on the CPU
CHECK_JOBS=$((JOBS > 4 ? JOBS : 4))

say() { printf '\n==> %s\n' "$*"; }

say "setup and build"
TANDEM_BUILD_DIR="$BUILD" "$ROOT/scripts/setup.sh" --test >/dev/null
main="$BUILD/main"

results=()
failed=0
failed_logs=()
logs="$BUILD/logs"
mkdir -p "$logs"
stage() {
	local name=$1
	shift
	local t0=$SECONDS
	local log="$logs/$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '-').log"
	say "$name"
	if "$@" 2>&1 | tee "$log"; then
		results+=("PASS  $name ($((SECONDS - t0)) s)")
	else
		results+=("FAIL  $name ($((SECONDS - t0)) s)")
		failed=$((failed + 1))
		failed_logs+=("$log")
	fi
}

# The lines of a failed stage's output that name what failed: automake's
# FAIL/ERROR lines, Check's file:line:F: lines, compat's FAIL: lines,
# sanitizer reports. Printed last, so that the tail of a CI log says why.
why_failed() {
	local log
	for log in "${failed_logs[@]}"; do
		echo "--- $(basename "$log" .log) (full output: $log)"
		grep -a -E '^(FAIL|ERROR|XPASS)[: ]|:[0-9]+:[FE]:|^not ok|^### Test .* failed at|failed again, alone|ERROR: AddressSanitizer|WARNING: ThreadSanitizer|runtime error:|Assertion|Traceback|Error:|timed out' "$log" |
			grep -v -E '^# (FAIL|ERROR|XPASS):' | head -n 12
	done
}

make_check() {
	make -C "$1" -s -j"$CHECK_JOBS" check TEST_JOBS="$CHECK_JOBS" VERBOSE=1
}

asan_check() {
	local dir="$BUILD/asan"
	mkdir -p "$dir"
	if [ ! -f "$dir/config.status" ]; then
		(cd "$dir" && "$BUILD/src/configure" -q --enable-sanitizers --enable-werror) || return 1
	fi
	make -C "$dir" -s -j"$JOBS" || return 1
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		make_check "$dir"
}

rabbitmq_proof() {
	"$BUILD/src/tests/rabbitmq/run-against-rabbitmq.sh" "$main"
}

compat_tandemd() {
	make -C "$main" -s check-compat-amqp
}

compat_rabbitmq() {
	local rc=0
	make -C "$main" -s check-compat-rabbitmq || rc=1
	# the cluster suites (issue 15) against a private 3-node RabbitMQ
	# cluster: about 3 min on a 2-core machine (25 s to form the cluster,
	# 18 s of tests, one node stopped and started again among them, then
	# five rounds of kill -9 of a quorum queue's leader under pika and
	# rabbitmq-c clients)
	bash "$ROOT/compat/run" --against rabbitmq-cluster --suite cluster --suite cluster-kill || rc=1
	return $rc
}

fuzz() {
	local script="$BUILD/src/tests/fuzz/run-fuzz.sh" t rc=0
	if ! command -v clang >/dev/null 2>&1 && ! command -v clang-14 >/dev/null 2>&1; then
		echo "FAIL: clang is not installed (scripts/setup.sh --test installs it)"
		return 1
	fi
	# AMQP frames, Kafka requests, the management API's JSON, the ZooKeeper
	# znodes, SCRAM messages,
	# the Kafka SASL requests, the TLS-wrapped accept path, logstore's record
	# batches and codecs; the work dirs
	# (grown corpus, any crasher) stay under build/, not in /tmp
	# Each target runs on one core: $JOBS of them at a time, each for the
	# full FUZZ_SECONDS, its output printed whole when it ends.
	local running=() out
	for t in frame kafka json zkdata scram sasl tls batch; do
		FUZZ_WORK="$BUILD/fuzz-$t" sh "$script" "$t" "${FUZZ_SECONDS:-60}" \
			>"$BUILD/fuzz-$t.out" 2>&1 &
		running+=("$!:$t")
		if [ "${#running[@]}" -ge "$JOBS" ]; then
			fuzz_reap "${running[0]}" || rc=1
			running=("${running[@]:1}")
		fi
	done
	for out in "${running[@]}"; do
		fuzz_reap "$out" || rc=1
	done
	return $rc
}

# Waits for one fuzz run ("pid:target"), prints its output; its status.
fuzz_reap() {
	local pid=${1%%:*} t=${1#*:} st=0
	wait "$pid" || st=$?
	echo "--- fuzz target $t (status $st)"
	cat "$BUILD/fuzz-$t.out"
	return $st
}

kafka_clients() {
	make -C "$main" -s check-compat-kafka
}

librdkafka_suite() {
	make -C "$main" -s check-compat-librdkafka
}

fault_suite() {
	"$BUILD/src/tests/faults/run.sh" "$main/src/tandemd"
}

browser_console() {
	make -C "$main" -s check-browser BROWSER_ARGS="--screenshot $logs/side-by-side.png"
}

# The tarball: every file it needs is in it, it builds without -Werror (as
# from a release), passes make check, installs and uninstalls cleanly.
# The release tarball builds every program (make check builds them all,
# whatever TESTS says) and installs; of the tests, the tarball's copy runs
# the unit suites, the fuzz corpus replays, the source checks and one
# integration program per front end (AMQP, Kafka, HTTP): the whole suite
# ran from the same sources in stage 1, and the time goes to stage 10.
distcheck() {
	local tests
	tests=$(make -C "$main" -s --no-print-directory -f Makefile \
		-f <(printf 'tdm-print-tests:\n\t@echo $(TESTS)\n') tdm-print-tests | tr ' ' '\n' |
		grep -E '^tests/(unit|fuzz)/|^tests/test_[a-z_]+\.sh$|^tests/integration/test_(basic|kafka_basic|http)$' |
		paste -sd' ' -)
	[ -n "$tests" ] || { echo "distcheck: no tests found in $main/Makefile"; return 1; }
	make -C "$main" -s -j"$CHECK_JOBS" distcheck TESTS="$tests"
}

# tandemd built with ThreadSanitizer (build/tsan) under the integration
# programs that drive its background jobs (journal and log fsyncs, topic
# creation, fault paths, shutdown), plus the job service's own unit test.
# A race makes tandemd exit 66 at SIGTERM, which fails the program.
tsan_check() {
	local dir="$BUILD/tsan" rc=0 t
	mkdir -p "$dir"
	if [ ! -f "$dir/config.status" ]; then
		(cd "$dir" && "$BUILD/src/configure" -q --enable-werror --enable-sanitizers=thread) || return 1
	fi
	make -C "$dir" -s -j"$JOBS" src/tandemd tests/unit/test_worker tests/cluster/test_zk \
		tests/cluster/test_controller || return 1
	export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1 suppressions=$ROOT/tests/tsan.supp}
	echo "--- test_worker (instrumented)"
	"$dir/tests/unit/test_worker" || rc=1
	# the ZooKeeper client's threads hand results to the loop (src/cluster/zk.c),
	# also under the controller's load (src/cluster/controller.c)
	echo "--- test_zk (instrumented)"
	"$dir/tests/cluster/test_zk" || rc=1
	echo "--- test_controller (instrumented)"
	"$dir/tests/cluster/test_controller" || rc=1
	for t in test_basic test_confirm_tx test_faults test_shutdown test_stream_kafka test_kafka_basic test_dos \
		test_kafka_faults test_kafka_group test_http_log test_cluster_link test_link; do
		echo "--- $t with tandemd under ThreadSanitizer"
		TANDEMD="$dir/src/tandemd" CK_TIMEOUT_MULTIPLIER=4 "$main/tests/integration/$t" || rc=1
	done
	return $rc
}

valgrind_check() {
	local rc=0 t
	local wrapper="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1"
	# the server under valgrind is 20-50 times slower: stretch Check's timeouts
	for t in test_basic test_raw test_confirm_tx test_queue test_kafka_raw test_kafka_txn test_stream test_stream_kafka \
		test_http test_http_log test_cluster_link test_link test_cluster_link_amqp test_quorum; do
		echo "--- $t with tandemd under valgrind"
		TANDEMD_WRAPPER="$wrapper" CK_TIMEOUT_MULTIPLIER=10 "$main/tests/integration/$t" || rc=1
	done
	# src/cluster/zk.c itself under valgrind (its callers' threads, its frees)
	echo "--- test_zk under valgrind"
	CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 $wrapper "$main/tests/cluster/test_zk" || rc=1
	echo "--- test_controller under valgrind"
	CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 $wrapper "$main/tests/cluster/test_controller" || rc=1
	# the cluster link's AMQP client (src/cluster/amc*.c) itself
	echo "--- test_amqp_client under valgrind"
	CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 $wrapper "$main/tests/integration/test_amqp_client" || rc=1
	return $rc
}

# The cluster: three tandemd nodes and a private ZooKeeper on loopback,
# driven by librdkafka (tests/cluster/test_cluster): replication, kill -9
# of a leader under acks=all, kill -9 of the controller; stream queues over
# AMQP on the cluster (tests/cluster/test_cluster_stream), classic queues used
# from any node (tests/cluster/test_cluster_queues), a quorum queue's leader
# killed under a publisher and a consumer (tests/cluster/test_cluster_quorum),
# transactions across leaders and a killed coordinator
# (tests/cluster/test_cluster_txn).
# Built by make
# check; too slow for it (failovers wait for ZooKeeper session timeouts).
# Then the same with the nodes built with ASan + UBSan (build/asan) and with
# ThreadSanitizer (build/tsan): a report makes a node exit non-zero at
# SIGTERM, which fails the program.
# The cluster client suites (compat/python/test_cluster_amqp.py, and
# test_cluster_kill.py: kill -9 rounds of a quorum queue's leader; both
# proven by the compat stage against a 3-node RabbitMQ 3.10 cluster)
# against a 3-node tandem cluster from scripts/cluster.sh, with short
# ZooKeeper sessions so that a killed node's queues fail over in seconds.
compat_cluster() (
	local dir="$BUILD/tandem-cluster" rc=0 lines ctl
	export TANDEM_CLUSTER_DIR="$dir" TANDEMD="$main/src/tandemd"
	export TANDEM_CLUSTER_ARGS="--zookeeper-session-timeout-ms=4000 --replica-lag-time-max-ms=2000"
	ctl="$ROOT/scripts/cluster.sh"
	rm -rf "$dir"
	if ! lines=$("$ctl" up 3); then
		echo "compat cluster: the tandem cluster did not start" >&2
		"$ctl" down >/dev/null 2>&1 || true
		return 1
	fi
	COMPAT_AMQP_PORTS=$(printf '%s\n' "$lines" | sed -n 's/^node=.* amqp=[^ ]*:\([0-9]*\) .*/\1/p' | xargs) \
		COMPAT_HTTP_PORTS=$(printf '%s\n' "$lines" | sed -n 's/^node=.* http=[^ ]*:\([0-9]*\) .*/\1/p' | xargs) \
		COMPAT_CLUSTER_CTL="$ctl" COMPAT_QQ_CLIENT="$main/tests/cluster/qq_client" \
		bash "$ROOT/compat/run" --against nodes --suite cluster --suite cluster-kill || rc=1
	"$ctl" down >/dev/null 2>&1 || rc=1
	return $rc
)

# Runs cluster test program $1 (under $main/tests/cluster) with the nodes it
# starts under ASan + UBSan.
with_asan_nodes() {
	echo "--- $1 with the nodes under ASan + UBSan"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		TANDEMD="$BUILD/asan/src/tandemd" "$main/tests/cluster/$1"
}

cluster_check() {
	local rc=0 t
	for t in test_cluster test_cluster_stream test_cluster_fetchlink test_cluster_rack \
		test_cluster_queues test_cluster_quorum test_cluster_txn; do
		echo "--- $t"
		"$main/tests/cluster/$t" || rc=1
	done
	for t in test_cluster test_cluster_stream test_cluster_queues test_cluster_quorum \
		test_cluster_txn test_cluster_rack; do
		with_asan_nodes "$t" || rc=1
	done
	echo "--- compat cluster suites against a 3-node tandem cluster"
	compat_cluster || rc=1
	echo "--- test_cluster with the nodes under ThreadSanitizer"
	TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1 suppressions=$ROOT/tests/tsan.supp} \
		TANDEMD="$BUILD/tsan/src/tandemd" "$main/tests/cluster/test_cluster" || rc=1
	return $rc
}

stage "make check" make_check "$main"
stage "make check with ASan + UBSan" asan_check
stage "integration suite against RabbitMQ 3.10" rabbitmq_proof
stage "compat clients against tandemd" compat_tandemd
stage "compat clients against RabbitMQ 3.10" compat_rabbitmq
stage "fuzzing" fuzz
stage "ThreadSanitizer" tsan_check
stage "valgrind" valgrind_check
stage "Kafka client suites (compat/kafka)" kafka_clients
stage "librdkafka's own test suite (compat/librdkafka)" librdkafka_suite
stage "browser console" browser_console
stage "fault suite (power cut, disk full)" fault_suite
stage "cluster (3 nodes, ZooKeeper, kill -9)" cluster_check
stage "make distcheck" distcheck

say "summary"
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
	echo "$failed stage(s) failed; what failed:"
	why_failed
	exit 1
fi
echo "all stages passed"
