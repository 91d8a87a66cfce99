#!/usr/bin/env bash
# Run every integration test program against a private RabbitMQ 3.10 node, to
# prove that each expectation in tests/integration is RabbitMQ's real behaviour.
#
# Usage: run-against-rabbitmq.sh [BUILDDIR]
#   BUILDDIR: where tests/integration/test_* were built (default: .). If none are
#   built yet and BUILDDIR has a Makefile, they are built with `make check TESTS=`.
# Exit status: 0 when every program passed, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-.}" && pwd)
itdir="$builddir/tests/integration"

list_programs() {
	local f
	for f in "$itdir"/test_*; do
		case "$f" in *.c | *.o | *.log | *.trs | *.h) continue ;; esac
		[ -f "$f" ] && [ -x "$f" ] && echo "$f"
	done
}

programs=$(list_programs)
if [ -z "$programs" ] && [ -f "$builddir/Makefile" ]; then
	echo "run-against-rabbitmq: building the test programs in $builddir"
	make -C "$builddir" -j"$(nproc 2>/dev/null || echo 2)" check TESTS= >/dev/null || exit 1
	programs=$(list_programs)
fi
if [ -z "$programs" ]; then
	echo "run-against-rabbitmq: no test programs in $itdir" >&2
	exit 1
fi

state=$(mktemp -d "${TMPDIR:-/tmp}/tandem-rmq.XXXXXX")
logs=$(mktemp -d "${TMPDIR:-/tmp}/tandem-rmq-logs.XXXXXX")
cleanup() {
	"$here/stop-private.sh" "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# With the management plugin: test_limits and test_permissions set limits and
# permissions over the HTTP API (TANDEM_TEST_HTTP_PORT); without it they skip.
echo "run-against-rabbitmq: starting a private RabbitMQ node"
if ! env_out=$(RMQ_MANAGEMENT=1 "$here/start-private.sh" "$state"); then
	echo "run-against-rabbitmq: RabbitMQ did not start" >&2
	exit 1
fi
eval "$env_out"
version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo unknown)
echo "run-against-rabbitmq: RabbitMQ $version on 127.0.0.1:$RMQ_PORT (pid $RMQ_PID)"

# The programs are independent (unique names per test), so they run in parallel.
start=$SECONDS
pids=()
names=()
for p in $programs; do
	n=$(basename "$p")
	TANDEM_TEST_BROKER="127.0.0.1:$RMQ_PORT" TANDEM_TEST_HTTP_PORT="$RMQ_HTTP_PORT" \
		CK_VERBOSITY=normal "$p" >"$logs/$n.log" 2>&1 &
	pids+=($!)
	names+=("$n")
done
failed=0
for i in "${!pids[@]}"; do
	rc=0
	wait "${pids[$i]}" || rc=$?
	if [ "$rc" -eq 0 ]; then
		printf 'PASS: %s  (%s)\n' "${names[$i]}" "$(grep -h '%: Checks' "$logs/${names[$i]}.log" | head -n1)"
	elif [ "$rc" -eq 77 ]; then
		# automake's SKIP: the program needs a broker it controls
		printf 'SKIP: %s  (%s)\n' "${names[$i]}" "$(grep -h '^SKIP' "$logs/${names[$i]}.log" | head -n1)"
	else
		failed=$((failed + 1))
		printf 'FAIL: %s (exit status %d)\n' "${names[$i]}" "$rc"
		sed 's/^/    /' "$logs/${names[$i]}.log"
	fi
done
echo "run-against-rabbitmq: ${#pids[@]} programs, $failed failed, $((SECONDS - start)) s"
rm -rf "$logs"
[ "$failed" -eq 0 ]
