#!/usr/bin/env bash
# amqp-tools (Debian amqp-tools: rabbitmq-c's amqp-declare-queue, amqp-publish,
# amqp-get, amqp-consume, amqp-delete-queue) against the broker under test.
#
# Slice: the shell workflow a user types from the README: declare, publish
# (single bodies, line-buffered stdin, properties and headers), get, consume
# with a count, consume from an exchange through a temporary queue, delete with
# the message count, and the errors these tools print with their reply codes;
# plus queue arguments declared by another client (length limit, dead-letter
# exchange with TTL) seen from the shell. Every expectation is RabbitMQ 3.10's
# behaviour (compat/run --against rabbitmq proves it).
#
# Usage: compat/shell/test_amqp_tools.sh [-k NAME]...
# Environment: COMPAT_HOST, COMPAT_PORT, COMPAT_BROKER, COMPAT_TEST_TIMEOUT
# (set by compat/run). Prints PASS:/FAIL: lines and a summary; exit 1 on failure.
set -uo pipefail

HOST=${COMPAT_HOST:-127.0.0.1}
PORT=${COMPAT_PORT:-5672}
BROKER=${COMPAT_BROKER:-unknown}
TEST_TIMEOUT=${COMPAT_TEST_TIMEOUT:-60}
URL="amqp://guest:guest@$HOST:$PORT"
PY=/usr/bin/python3

# Every tool call is bounded. --foreground keeps the tool in the test's process
# group, which the runner ends as a whole when a test runs out of time.
T() { timeout --foreground 10 "$@"; }

uniq_name() { printf 'compat.tools.%s.%s%04x' "$1" "$(date +%s%N | tail -c 7)" "$RANDOM"; }

# A tiny py-amqp helper for what the tools cannot do (queue arguments, reading
# properties). Usage: pyhelp 'python statements using ch, sys.argv'
pyhelp() {
	local code=$1
	shift
	T "$PY" -c "
import sys, amqp
c = amqp.Connection(host='$HOST:$PORT', userid='guest', password='guest', connect_timeout=5, read_timeout=5)
c.connect()
ch = c.channel()
$code
c.close()
" "$@"
}

fail_msg=""
check() { # check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		fail_msg+="    $1: expected [$2], got [$3]"$'\n'
		return 1
	fi
}

# ---- tests -----------------------------------------------------------------

test_declare_publish_get() {
	local q out rc
	q=$(uniq_name hello)
	out=$(T amqp-declare-queue --url "$URL" -q "$q") || return 1
	check "declare prints the queue name" "$q" "$out" || return 1
	T amqp-publish --url "$URL" -r "$q" -b 'hi there' || return 1
	out=$(T amqp-get --url "$URL" -q "$q") || return 1
	check "amqp-get prints the body" "hi there" "$out" || return 1
	out=$(T amqp-get --url "$URL" -q "$q" 2>&1)
	rc=$?
	check "amqp-get on an empty queue exits 2" "2" "$rc" || return 1
	T amqp-delete-queue --url "$URL" -q "$q" >/dev/null
}

test_server_named_queue() {
	local out
	out=$(T amqp-declare-queue --url "$URL" -q '') || return 1
	case "$out" in
	amq.gen-?*) ;;
	*) check "server-named queue" "amq.gen-..." "$out"; return 1 ;;
	esac
	T amqp-delete-queue --url "$URL" -q "$out" >/dev/null
}

test_line_buffered_publish_and_counted_consume() {
	local q out
	q=$(uniq_name lines)
	T amqp-declare-queue --url "$URL" -q "$q" >/dev/null || return 1
	printf 'one\ntwo\nthree\n' | T amqp-publish --url "$URL" -r "$q" -l || return 1
	out=$(T amqp-consume --url "$URL" -q "$q" -c 3 -- sh -c 'tr -d "\n"; echo') || return 1
	check "three messages, in order" $'one\ntwo\nthree' "$out" || return 1
	out=$(T amqp-delete-queue --url "$URL" -q "$q") || return 1
	check "queue empty after consuming with acks" "0" "$out"
}

test_delete_queue_prints_message_count() {
	local q out
	q=$(uniq_name count)
	T amqp-declare-queue --url "$URL" -q "$q" >/dev/null || return 1
	for b in a b c d; do T amqp-publish --url "$URL" -r "$q" -b "$b" || return 1; done
	out=$(T amqp-delete-queue --url "$URL" -q "$q") || return 1
	check "delete reports 4 messages" "4" "$out" || return 1
	out=$(T amqp-delete-queue --url "$URL" -q "$q") || return 1
	check "deleting a missing queue succeeds with 0" "0" "$out"
}

test_consume_from_exchange_through_temporary_queue() {
	local key out err pid deadline rc r
	key="compat.tools.$RANDOM$RANDOM"
	out=$(mktemp)
	err=$(mktemp)
	T amqp-consume --url "$URL" -e amq.topic -r "$key.#" -c 1 -- cat >"$out" 2>"$err" &
	pid=$!
	# publish until the consumer (whose queue and binding appear asynchronously) got one
	deadline=$((SECONDS + 8))
	while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
		T amqp-publish --url "$URL" -e amq.topic -r "$key.event" -b "topic-msg" || break
		sleep 0.2
	done
	wait "$pid"
	rc=$?
	r=0
	check "consumer exit status" "0" "$rc" || r=1
	check "body through amq.topic" "topic-msg" "$(cat "$out")" || r=1
	# the tool reports the server-named queue it declared
	check "server-named queue" "Server provided queue name: amq.gen-" "$(head -c 36 "$err")" || r=1
	rm -f "$out" "$err"
	return $r
}

test_properties_and_headers_reach_another_client() {
	local q out
	q=$(uniq_name props)
	T amqp-declare-queue --url "$URL" -q "$q" >/dev/null || return 1
	T amqp-publish --url "$URL" -r "$q" -b '{"a":1}' -C application/json -E utf-8 -t reply.here -p \
		-H 'x-trace: abc' -H 'team: core' || return 1
	out=$(pyhelp '
m = None
import time
for _ in range(100):
    m = ch.basic_get(sys.argv[1], no_ack=True)
    if m: break
    time.sleep(0.05)
p = m.properties
print(p["content_type"], p["content_encoding"], p["reply_to"], p["delivery_mode"],
      sorted(m.headers.items()), m.body)
ch.queue_delete(sys.argv[1])
' "$q") || return 1
	check "properties seen by py-amqp" \
		"application/json utf-8 reply.here 2 [('team', 'core'), ('x-trace', 'abc')] {\"a\":1}" "$out"
}

test_redeclare_durable_mismatch_is_406() {
	local q err rc
	q=$(uniq_name dur)
	T amqp-declare-queue --url "$URL" -q "$q" >/dev/null || return 1
	err=$(T amqp-declare-queue --url "$URL" -q "$q" -d 2>&1 >/dev/null)
	rc=$?
	check "exit status" "1" "$rc" || return 1
	check "error" "queue.declare: server channel error 406, message: PRECONDITION_FAILED - inequivalent arg 'durable' for queue '$q' in vhost '/': received 'true' but current is 'false'" "$err" || return 1
	T amqp-delete-queue --url "$URL" -q "$q" >/dev/null
}

test_get_and_consume_missing_queue_are_404() {
	local q err rc
	q=$(uniq_name missing)
	err=$(T amqp-get --url "$URL" -q "$q" 2>&1 >/dev/null)
	rc=$?
	check "amqp-get exit status" "1" "$rc" || return 1
	check "amqp-get error" "basic.get: server channel error 404, message: NOT_FOUND - no queue '$q' in vhost '/'" "$err" || return 1
	err=$(T amqp-consume --url "$URL" -q "$q" -c 1 -- cat 2>&1 >/dev/null)
	rc=$?
	check "amqp-consume exit status" "1" "$rc" || return 1
	check "amqp-consume error" "basic.consume: server channel error 404, message: NOT_FOUND - no queue '$q' in vhost '/'" "$err"
}

test_publish_to_missing_exchange_is_404() {
	local x err rc
	x=$(uniq_name nox)
	err=$(T amqp-publish --url "$URL" -e "$x" -r k -b body 2>&1 >/dev/null)
	rc=$?
	check "exit status" "1" "$rc" || return 1
	check "error" "closing channel: server channel error 404, message: NOT_FOUND - no exchange '$x' in vhost '/'" "$err"
}

test_wrong_password_is_403() {
	local err rc
	err=$(T amqp-get --url "amqp://guest:wrong@$HOST:$PORT" -q whatever 2>&1 >/dev/null)
	rc=$?
	check "exit status" "1" "$rc" || return 1
	check "error" "logging in to AMQP server: server connection error 403, message: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile." "$err"
}

test_heartbeat_consumer_survives_idle_time() {
	local q out pid
	q=$(uniq_name hb)
	T amqp-declare-queue --url "$URL" -q "$q" >/dev/null || return 1
	out=$(mktemp)
	T amqp-consume --url "$URL" --heartbeat=1 -q "$q" -c 1 -- cat >"$out" 2>&1 &
	pid=$!
	sleep 3.5 # several heartbeat intervals with no traffic
	T amqp-publish --url "$URL" -r "$q" -b 'after idle' || { kill "$pid"; return 1; }
	wait "$pid"
	local rc=$?
	check "consumer exit status" "0" "$rc" || { cat "$out" >&2; rm -f "$out"; return 1; }
	check "body" "after idle" "$(cat "$out")"
	local r=$?
	rm -f "$out"
	T amqp-delete-queue --url "$URL" -q "$q" >/dev/null
	return $r
}

test_length_limited_queue_from_the_shell() {
	local q out
	q=$(uniq_name maxlen)
	pyhelp 'ch.queue_declare(sys.argv[1], auto_delete=False, arguments={"x-max-length": 2})' "$q" || return 1
	for b in m1 m2 m3; do T amqp-publish --url "$URL" -r "$q" -b "$b" || return 1; done
	out=$(T amqp-consume --url "$URL" -q "$q" -c 2 -- sh -c 'cat; echo') || return 1
	check "drop-head kept the newest two" $'m2\nm3' "$out" || return 1
	out=$(T amqp-delete-queue --url "$URL" -q "$q") || return 1
	check "queue empty" "0" "$out"
}

test_dead_lettered_expired_message_from_the_shell() {
	local q dlq out
	q=$(uniq_name ttl)
	dlq=$(uniq_name dlq)
	T amqp-declare-queue --url "$URL" -q "$dlq" >/dev/null || return 1
	pyhelp 'ch.queue_declare(sys.argv[1], auto_delete=False, arguments={
    "x-message-ttl": 100, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": sys.argv[2]})' "$q" "$dlq" || return 1
	T amqp-publish --url "$URL" -r "$q" -b 'expired body' || return 1
	out=$(T amqp-consume --url "$URL" -q "$dlq" -c 1 -- cat) || return 1
	check "expired message arrives on the dead-letter queue" "expired body" "$out" || return 1
	out=$(T amqp-delete-queue --url "$URL" -q "$q") || return 1
	check "source queue empty" "0" "$out" || return 1
	T amqp-delete-queue --url "$URL" -q "$dlq" >/dev/null
}

# ---- runner ----------------------------------------------------------------

# internal: `--one TEST MSGFILE` runs one test (in its own session, see below)
# and leaves its check messages in MSGFILE
if [ "${1:-}" = "--one" ]; then
	one_msgfile=$3
	trap 'printf "%s" "$fail_msg" >"$one_msgfile"' EXIT
	"$2"
	exit $?
fi

selectors=()
while [ $# -gt 0 ]; do
	case "$1" in
	-k) selectors+=("$2"); shift 2 ;;
	*) echo "usage: $0 [-k NAME]..." >&2; exit 2 ;;
	esac
done

for tool in amqp-declare-queue amqp-publish amqp-get amqp-consume amqp-delete-queue; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL: amqp-tools.setup ($tool is not installed: apt-get install amqp-tools)"
		echo "amqp-tools: 0 passed, 1 failed"
		exit 1
	fi
done

passed=0
failed=0
t_all=$(date +%s.%N)
for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
	if [ "${#selectors[@]}" -gt 0 ]; then
		hit=0
		for k in "${selectors[@]}"; do case "$t" in *"$k"*) hit=1 ;; esac; done
		[ "$hit" = 1 ] || continue
	fi
	name=${t#test_}
	fail_msg=""
	t0=$(date +%s.%N)
	# each test in its own session (so a timed-out test is ended together with
	# every tool it started), bounded; its check messages come back through a file
	msgfile=$(mktemp)
	setsid bash "$0" --one "$t" "$msgfile" &
	tpid=$!
	# watchdog: its own fds on /dev/null (it must not hold our stdout open), its
	# sleep ended with it
	(
		sleep "$TEST_TIMEOUT" &
		spid=$!
		trap 'kill "$spid" 2>/dev/null; exit 0' TERM
		wait "$spid" && { kill -TERM -- "-$tpid" || kill -TERM "$tpid"; } 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
	wpid=$!
	wait "$tpid"
	rc=$?
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "PASS: amqp-tools.$name ($el s)"
	else
		failed=$((failed + 1))
		echo "FAIL: amqp-tools.$name ($el s)"
		[ -s "$msgfile" ] && cat "$msgfile"
		if [ "$rc" -eq 143 ]; then
			echo "    test exceeded COMPAT_TEST_TIMEOUT=$TEST_TIMEOUT s"
		elif [ ! -s "$msgfile" ]; then
			echo "    a command failed (exit status $rc)"
		fi
	fi
	rm -f "$msgfile"
done
el=$(awk -v a="$t_all" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "amqp-tools: $passed passed, $failed failed ($el s, broker $BROKER at $HOST:$PORT)"
# no test at all is a failure, unless -k selected none of this suite's tests
[ "$failed" -eq 0 ] && { [ "$passed" -gt 0 ] || [ "${#selectors[@]}" -gt 0 ]; }
