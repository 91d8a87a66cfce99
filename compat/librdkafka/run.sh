#!/usr/bin/env bash
# compat/librdkafka/run.sh [TANDEMD]: librdkafka's own test suite (the tests/
# of Debian's source package, the version of the installed library) against
# a tandemd this script starts on free loopback ports, in full mode (not -Q),
# every test that needs a broker except those compat/librdkafka/skip.txt
# lists with their reasons; of those, the sub-tests subtests.txt names run
# one by one beside it, and the tests cluster.txt names (they need three
# brokers) run afterwards against a 3-node tandem cluster
# (scripts/cluster.sh, with a private ZooKeeper).  Prints the suite's summary and one line per
# failed test; a test that failed runs once more, alone: exits non-zero
# when any test failed again (one that passes alone is reported FLAKY).
#
# On a fresh Debian 12 machine (as root) it adds a deb-src entry for bookworm
# (its own file, /etc/apt/sources.list.d/tandem-deb-src.sources) when apt has
# none, downloads the source with `apt-get source` and installs the build
# dependencies the tests need; the source is unpacked and built under
# RDK_DIR, never in the source tree, and kept for the next run.
#
# Environment:
#   RDK_DIR     where the source goes (default: librdkafka-src beside the
#               directory of TANDEMD, i.e. the build directory)
#   RDK_JOBS    make -j for the build (2)
#   RDK_PAR     tests run at a time (test-runner -pN; 2)
#   TESTS       only these tests (librdkafka's own variable: "0001,0012")
#   SUBTESTS    only the sub-tests whose name contains this (librdkafka's)
#   RDK_NO_SKIP 1: ignore skip.txt and subtests.txt (to look into a test)
#   RDK_KEEP    1: keep the broker's state directory (its log) after the run
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TANDEMD=${1:-${TANDEMD:-$top/build/main/src/tandemd}}
[ -x "$TANDEMD" ] || { echo "run.sh: no tandemd at $TANDEMD" >&2; exit 2; }
TANDEMD=$(cd "$(dirname "$TANDEMD")" && pwd)/$(basename "$TANDEMD")
RDK_DIR=${RDK_DIR:-$(dirname "$(dirname "$TANDEMD")")/librdkafka-src}
# the broker version the suite assumes (its tests gate on it): the
# version librdkafka 2.0.2's own Makefile tests against
KAFKA_VERSION=3.1.0

say() { printf '==> %s\n' "$*"; }

# as_root CMD...: CMD as root (sudo when not root); fails when neither works
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "run.sh: '$*' needs root" >&2
		return 1
	fi
}

# The source package's version: that of the installed librdkafka1, so the
# tests match the library the rest of tandem's suites use.
rdk_version() {
	dpkg-query -W -f='${source:Version}' librdkafka1 2>/dev/null || echo 2.0.2-1
}

# A deb-src entry for bookworm's main archive, unless apt already has one.
ensure_deb_src() {
	if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	say "adding a deb-src entry for bookworm" >&2
	printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' \
		'Suites: bookworm' 'Components: main' \
		'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
		as_root tee /etc/apt/sources.list.d/tandem-deb-src.sources >/dev/null &&
		as_root apt-get update -q >/dev/null
}

# The unpacked source under $RDK_DIR; downloaded only when absent.
# Prints the tree's path.
fetch_source() {
	local ver=$1 tree
	tree=$RDK_DIR/librdkafka-${ver%-*}
	if [ ! -f "$tree/tests/test.c" ]; then
		ensure_deb_src || return 1
		mkdir -p "$RDK_DIR"
		(cd "$RDK_DIR" && apt-get source -q "librdkafka=$ver") >"$RDK_DIR/apt-source.log" 2>&1 ||
			{ echo "run.sh: apt-get source failed (see $RDK_DIR/apt-source.log)" >&2; return 1; }
	fi
	echo "$tree"
}

# What the library and the test runner need to build (Debian's
# Build-Depends, less debhelper and GSSAPI's libsasl2-dev, which no test
# here uses); installed only when missing.
ensure_build_deps() {
	local missing=() p
	for p in build-essential python3 liblz4-dev libssl-dev libzstd-dev zlib1g-dev rapidjson-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# librdkafka (its tests link its internals and its own build) and
# tests/test-runner, built once: the stamp file says it is done.
build_suite() {
	local tree=$1 log=$RDK_DIR/build.log
	[ -f "$tree/.tandem-built" ] && [ -x "$tree/tests/test-runner" ] && return 0
	say "building librdkafka and its test runner (log: $log)"
	(
		cd "$tree" &&
			./configure --no-download --disable-gssapi --disable-curl &&
			make -j"${RDK_JOBS:-2}" libs &&
			make -C tests -j"${RDK_JOBS:-2}" test-runner
	) >"$log" 2>&1 || { echo "run.sh: the build failed (see $log)" >&2; tail -n 20 "$log" >&2; return 1; }
	touch "$tree/.tandem-built"
}

# The test numbers of skip.txt (first word of each line that is not a
# comment), comma-separated, for the runner's TESTS_SKIP.
skip_list() {
	[ "${RDK_NO_SKIP:-0}" = 1 ] && return 0
	sed -e 's/#.*//' "$here/skip.txt" | awk 'NF { printf "%s%s", sep, $1; sep = "," }'
}

# A tandemd with what librdkafka's test clusters have (its
# tests/scenarios/default.json, Kafka 3.1's defaults otherwise): topics
# created on first use, 4 partitions each, segment.bytes down to Kafka
# 3's floor of 14 (0129 asks for 20000).  Kafka's 3 s before a new
# group's first rebalance stays: 0102 counts on both its members joining
# it.  The users 0081's ACL sub-tests name, test1 and test2, exist with
# no permission anywhere (vhosts ""), and the suite's own user (guest,
# as kafka_default_user) has "^.*" rather than ".*": the same grant,
# which DescribeAcls does not show as the wildcard binding (LITERAL "*",
# ALL) that those sub-tests count on being absent (Kafka's suite runs as
# a super user, whose rights are no ACLs).  State under $1; echoes the
# bootstrap.
start_broker() {
	local state=$1 port
	port=$(/usr/bin/python3 "$top/scripts/free-ports")
	"$TANDEMD" --data-dir "$state/data" --amqp-port 0 --http-port 0 \
		--listeners "PLAINTEXT://127.0.0.1:$port" \
		--auto-create-topics true --num-partitions 4 --log-min-segment-bytes 14 \
		--default_permissions.configure '^.*' --default_permissions.write '^.*' \
		--default_permissions.read '^.*' \
		--users.test1.password test1 --users.test1.vhosts '' \
		--users.test2.password test2 --users.test2.vhosts '' \
		--log-level "${TANDEMD_LOG_LEVEL:-warning}" \
		>>"$state/tandemd.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 1 200); do
		if /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
			echo "127.0.0.1:$port"
			return 0
		fi
		kill -0 "$(cat "$state/pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "run.sh: tandemd did not start (see $state/tandemd.log)" >&2
	return 1
}

stop_broker() {
	local state=$1 pid
	[ -f "$state/pid" ] || return 0
	pid=$(cat "$state/pid")
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
}

# The sub-tests to run one by one of the tests skip.txt leaves out as a
# whole (subtests.txt: "NNNN SUBSTRING", librdkafka's SUBTESTS match),
# as "NNNN SUBSTRING" lines; only those of TESTS when it is set.
subtest_list() {
	[ "${RDK_NO_SKIP:-0}" = 1 ] && return 0
	sed -e 's/#.*//' "$here/subtests.txt" | awk 'NF >= 2 { print $1, $2 }' |
		while read -r t sub; do
			case ",${TESTS:-$t}," in *"$t"*) echo "$t $sub" ;; esac
		done
}

# Runs the sub-tests of subtest_list (or of the file RERUN_LIST) whose line
# number is lane modulo lanes, one runner each, one at a time (test.conf
# must exist).  Returns
# non-zero when any failed.
run_subtests() {
	local tree=$1 state=$2 lane=$3 lanes=$4 rc=0 t sub
	while read -r t sub; do
		printf '==> %s, sub-test %s\n' "$t" "$sub"
		(
			cd "$tree/tests" &&
				LD_LIBRARY_PATH="../src:../src-cpp" RDKAFKA_TEST_CONF="$state/test.conf" \
					TEST_KAFKA_VERSION=$KAFKA_VERSION TESTS="$t" SUBTESTS="$sub" TESTS_SKIP= \
					RDKAFKA_GITVER="debian-$(rdk_version)" ./test-runner -L -p"${4:-1}"
		) || { rc=1; echo "FAILED: $t sub-test $sub"; }
	done < <({ if [ -n "${RERUN_LIST:-}" ]; then cat "$RERUN_LIST"; else subtest_list; fi; } |
		awk -v l="$lane" -v n="$lanes" '(NR - 1) % n == l')
	return $rc
}

# Runs the suite: broker tests only (-L: the local ones never reach a
# broker), full mode, RDK_PAR at a time.  Returns the runner's status.
run_suite() {
	local tree=$1 state=$2
	(
		cd "$tree/tests" &&
			LD_LIBRARY_PATH="../src:../src-cpp" RDKAFKA_TEST_CONF="$state/test.conf" \
				TEST_KAFKA_VERSION=$KAFKA_VERSION TESTS_SKIP="$(skip_list)" \
				RDKAFKA_GITVER="debian-$(rdk_version)" \
				./test-runner -L -p"${RDK_PAR:-2}"
	)
}

# The lines of log $1 that name a failure; status 1 when there is none.
failure_lines() {
	sed -e 's/\x1b\[[0-9;]*m//g' "$1" | grep -a -E '^### Test .* failed at|^FAILED: '
}

# The numbers of the tests of the runner in tree $1 that log $2 does not
# show passed or skipped, comma-separated: those that failed, and those that
# never ran when the runner aborted (it does at a test's time-out).  Of the
# tests $3 (comma-separated) when given, else of all the runner's tests but
# skip.txt's and the manual ones (8000 and up: they run only when named);
# the local ones the runner filters again itself (-L).
unfinished_tests() {
	local done
	done=$(sed -e 's/\x1b\[[0-9;]*m//g' "$2" |
		sed -n -E -e 's/.*= Test ([0-9]{4})_[^ ]* (PASSED|SKIPPED) =.*/\1/p' \
			-e 's/^\| ([0-9]{4})_[^ ]* +\| +(PASSED|SKIPPED) .*/\1/p' | sort -u)
	if [ -n "${3:-}" ]; then
		printf '%s\n' "${3//,/ }" | tr ' ' '\n'
	else
		sed -n -E 's/^_TEST_DECL\(([0-9]{4})_.*/\1/p' "$1/tests/test.c" |
			grep -v -x -F -f <(printf '%s\n' $(skip_list | tr , ' ') 0000) | awk '$1 < 8000'
	fi | sort -u | grep -v -x -F -f <(printf '%s\n' $done ----) | paste -sd, -
}

# The numbers of the tests log $1 names as failed, comma-separated.
failed_tests() {
	failure_lines "$1" | sed -n -E 's/^### Test "([0-9]{4})_.*/\1/p' | sort -u | paste -sd, -
}

# The comma-separated list $1 without the numbers in list $2.
list_minus() {
	printf '%s\n' ${1//,/ } | grep -v -x -F -f <(printf '%s\n' ${2//,/ } ----) | paste -sd, -
}

# After a failed parallel run: first the tests the runner never started
# (it aborts at a test's time-out), in parallel as the suite (-p2); then,
# alone (one test at a time, nothing beside it), each test and sub-test
# that failed in either run.  Several of librdkafka's tests measure time
# windows of a second or so (0102's rebalances), and 0076 closes a socket
# under librdkafka, whose descriptor another test's connection in the same
# process may be given meanwhile.  A test that passes alone is reported as
# FLAKY (and does not fail the run); one that fails again, or a failed run
# that names no test (a crash), fails it.
rerun_alone() {
	local tree=$1 state=$2 failed unrun subs rc=0
	failed=$(failed_tests "$state/suite.log")
	unrun=$(list_minus "$(unfinished_tests "$tree" "$state/suite.log")" "$failed")
	subs=$(failure_lines "$state/suite.log" | sed -n -E 's/^FAILED: ([0-9]{4}) sub-test (.*)$/\1 \2/p')
	if [ -z "$failed" ] && [ -z "$unrun" ] && [ -z "$subs" ]; then
		echo "run.sh: the suite failed without naming a test (see above)"
		return 1
	fi
	if [ -n "$unrun" ]; then
		say "running the tests the aborted runner never started: $unrun"
		if run_tests "$tree" "$state/test.conf" "$unrun" "${RDK_PAR:-2}" >"$state/unrun.log" 2>&1; then
			say "they passed"
		else
			failed=$(printf '%s\n' ${failed//,/ } \
				$(unfinished_tests "$tree" "$state/unrun.log" "$unrun" | tr , ' ') | sort -u | paste -sd, -)
		fi
	fi
	if [ -n "$failed" ]; then
		say "re-running alone what failed: $failed"
		if run_tests "$tree" "$state/test.conf" "$failed" 1 >"$state/rerun.log" 2>&1; then
			say "FLAKY (failed beside other tests, passed alone): $failed"
		else
			cat "$state/rerun.log"
			say "failed again, alone: $failed"
			rc=1
		fi
	fi
	if [ -n "$subs" ]; then
		printf '%s\n' "$subs" >"$state/rerun-subtests.txt"
		if RERUN_LIST="$state/rerun-subtests.txt" run_subtests "$tree" "$state" 0 1 \
			>"$state/rerun-sub.log" 2>&1; then
			say "FLAKY (failed beside the suite, passed alone): sub-tests $(paste -sd, "$state/rerun-subtests.txt")"
		else
			cat "$state/rerun-sub.log"
			rc=1
		fi
	fi
	return $rc
}

# The tests that need three brokers (cluster.txt's numbers), against a
# 3-node tandem cluster (scripts/cluster.sh, a private ZooKeeper) set up as
# trivup's: racks RACK1..RACK3 with the leader choosing a replica by rack
# (0101), replication factor 3 by default, and the single broker's
# settings.  State under $2/cluster; one test at a time.  Returns non-zero
# when any failed (after a re-run alone of what failed, as the suite's).
run_cluster_lane() {
	local tree=$1 state=$2 tests boot rc=0
	tests=$(sed -e 's/#.*//' "$here/cluster.txt" | awk 'NF { print $1 }' |
		while read -r t; do case ",${TESTS:-$t}," in *"$t"*) echo "$t" ;; esac; done | paste -sd, -)
	[ -n "$tests" ] || return 0
	export TANDEM_CLUSTER_DIR="$state/cluster"
	say "tests $tests against a 3-node tandem cluster (scripts/cluster.sh, state in $TANDEM_CLUSTER_DIR)"
	if ! TANDEMD="$TANDEMD" TANDEM_CLUSTER_ARGS="--broker-rack RACK{node_id} \
		--kafka-replica-selector rack --default-replication-factor 3 \
		--auto-create-topics true --num-partitions 4 --log-min-segment-bytes 14 \
		--log-level ${TANDEMD_LOG_LEVEL:-warning}" \
		bash "$top/scripts/cluster.sh" up 3 >"$state/cluster.lines"; then
		echo "run.sh: the cluster did not start (see $TANDEM_CLUSTER_DIR)"
		bash "$top/scripts/cluster.sh" down >/dev/null 2>&1
		return 1
	fi
	boot=$(sed -n -E 's/^node=.* kafka=([^ ]+) .*/\1/p' "$state/cluster.lines" | paste -sd, -)
	printf 'bootstrap.servers=%s\n' "$boot" >"$state/cluster.conf"
	run_tests "$tree" "$state/cluster.conf" "$tests" >"$state/cluster.log" 2>&1 ||
		run_tests "$tree" "$state/cluster.conf" \
			"$(unfinished_tests "$tree" "$state/cluster.log" "$tests")" \
			>"$state/cluster-rerun.log" 2>&1 || rc=1
	cat "$state/cluster.log"
	if [ -f "$state/cluster-rerun.log" ]; then
		[ "$rc" = 0 ] && say "FLAKY (failed on the cluster, passed when run again): see above" ||
			cat "$state/cluster-rerun.log"
	fi
	bash "$top/scripts/cluster.sh" down >/dev/null 2>&1
	return $rc
}

# Tests $3 (comma-separated) with the runner in tree $1, bootstrap config
# $2, $4 at a time (default 1).
run_tests() {
	(
		cd "$1/tests" &&
			LD_LIBRARY_PATH="../src:../src-cpp" RDKAFKA_TEST_CONF="$2" \
				TEST_KAFKA_VERSION=$KAFKA_VERSION TESTS="$3" TESTS_SKIP= \
				RDKAFKA_GITVER="debian-$(rdk_version)" ./test-runner -L -p"${4:-1}"
	)
}

main() {
	local ver tree state bootstrap rc sub0 sub1 t0=$SECONDS
	ver=$(rdk_version)
	tree=$(fetch_source "$ver") || exit 1
	ensure_build_deps || exit 1
	build_suite "$tree" || exit 1
	state=$(mktemp -d "${TMPDIR:-/tmp}/tandem-rdktests.XXXXXX")
	trap 'stop_broker "$state"; [ "${RDK_KEEP:-0}" = 1 ] || rm -rf "$state"' EXIT
	bootstrap=$(start_broker "$state") || exit 1
	printf 'bootstrap.servers=%s\n' "$bootstrap" >"$state/test.conf"
	say "librdkafka $ver test suite against tandemd on $bootstrap (skipped: $(skip_list))"
	# the sub-tests beside the suite, in two lanes (they mostly wait on
	# the broker's timers), their output after the suite's
	run_subtests "$tree" "$state" 0 2 >"$state/subtests0.log" 2>&1 &
	sub0=$!
	run_subtests "$tree" "$state" 1 2 >"$state/subtests1.log" 2>&1 &
	sub1=$!
	run_suite "$tree" "$state" 2>&1 | tee "$state/suite.log"
	rc=${PIPESTATUS[0]}
	wait "$sub0" || rc=1
	wait "$sub1" || rc=1
	cat "$state/subtests0.log" "$state/subtests1.log" | tee -a "$state/suite.log"
	say "failed tests:"
	# one line per failure, a test's time-out too (which ends the runner
	# before its summary), and a sub-test runner's crash
	failure_lines "$state/suite.log" || echo "none"
	if [ "$rc" != 0 ]; then
		rerun_alone "$tree" "$state"
		rc=$?
	fi
	run_cluster_lane "$tree" "$state" || rc=1
	cp "$state/tandemd.log" "$RDK_DIR/tandemd.log" 2>/dev/null
	say "librdkafka test suite: $([ "$rc" = 0 ] && echo PASSED || echo FAILED) in $((SECONDS - t0)) s (tandemd's log: $RDK_DIR/tandemd.log)"
	exit "$rc"
}

main
