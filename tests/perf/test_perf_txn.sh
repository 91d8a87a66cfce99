#!/bin/bash
# tandem-perf's log-mode producer and consumer options of issue 16 (what
# tests/perf/compare.sh's kafka-produce-idem, -txn and kafka-consume-committed
# rely on), against a plain tandemd:
#   - --transactional-id with --txn-records and two producers (ids ID-0, ID-1)
#     and a read_committed consumer: every committed record arrives (status=ok);
#   - --idempotence with --acks all, read_uncommitted consumer: status=ok;
#   - --idempotence or --transactional-id without --acks all, and an unknown
#     --isolation-level, are refused as bad options (exit 2, no result);
#   - a second producer with the same transactional id fences the first, whose
#     run ends early with a message and a non-zero exit.
# tandemd runs on free loopback ports in a temp dir and is stopped by PID.  Run
# by make check from the build directory (src/tandemd, src/tools/tandem-perf).
set -u
top_build=$(pwd)
TANDEMD=${TANDEMD:-$top_build/src/tandemd}
PERF=$top_build/src/tools/tandem-perf
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$TANDEMD" ] || fail "no $TANDEMD"
[ -x "$PERF" ] || fail "no $PERF"

work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-perf-txn.XXXXXX")
pid=""
fenced=""
cleanup() {
	[ -n "$fenced" ] && kill -TERM "$fenced" 2>/dev/null
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

kport=$(python3 "$(dirname "$0")/../../scripts/free-ports")
"$TANDEMD" --amqp-port 0 --http-port 0 --kafka-port "$kport" --data-dir "$work/data" --log-level warning \
	>"$work/tandemd.log" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 200); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
[ "$up" = 1 ] || fail "tandemd did not open its Kafka port: $(tail -5 "$work/tandemd.log")"

status=0
perf() { timeout 90 "$PERF" -M log -h "127.0.0.1:$kport" -i 0 -T 60 -D 20 -s 100 "$@" 2>&1; }
check() { # name expected-regexp output
	if grep -q "$2" <<<"$3"; then
		echo "PASS: $1"
	else
		echo "FAIL: $1: $3"
		status=1
	fi
}

out=$(perf -x 2 -y 1 -C 3000 --acks all --transactional-id perf-txn --txn-records 1000 \
	--isolation-level read_committed --topic perf-txn)
check "transactions: 2 x 3000 records committed and read with read_committed" \
	'^result .*confirmed=6000 .*received=6000 .*transactional=1 txn_records=1000 isolation=read_committed status=ok' "$out"
check "transactions: the header names the ids and the records per transaction" \
	'transactional (id perf-txn-<i>, 1000 records per transaction)' "$out"

out=$(perf -x 1 -y 1 -C 3000 --acks all --idempotence --isolation-level read_uncommitted --topic perf-idem)
check "idempotence: 3000 records, read_uncommitted" \
	'^result .*received=3000 .*idempotence=1 transactional=0 txn_records=0 isolation=read_uncommitted status=ok' "$out"

for bad in "--idempotence" "--transactional-id x" "--isolation-level dirty --acks all"; do
	# shellcheck disable=SC2086
	out=$(perf -C 10 $bad)
	rc=$?
	if [ "$rc" = 2 ] && ! grep -q '^result ' <<<"$out"; then
		echo "PASS: refused: $bad ($out)"
	else
		echo "FAIL: $bad: exit $rc: $out"
		status=1
	fi
done

# The first producer runs slowly; the second InitProducerId with its id bumps
# the epoch, and the first's next produce or commit is fenced (fatal).
perf -x 1 -y 1 -r 1000 -z 40 -i 0.5 --acks all --transactional-id perf-fence --txn-records 100 \
	--topic perf-fence1 >"$work/fenced.out" &
fenced=$!
for _ in $(seq 1 200); do grep -q 'confirmed [1-9]' "$work/fenced.out" 2>/dev/null && break; sleep 0.1; done
t0=$SECONDS
out=$(perf -x 1 -y 0 -C 100 --acks all --transactional-id perf-fence --topic perf-fence2)
check "fencing: the new producer commits" '^result .*confirmed=100 .*status=ok' "$out"
wait "$fenced"
rc=$?
fenced=""
out=$(cat "$work/fenced.out")
if [ "$rc" != 0 ] && [ $((SECONDS - t0)) -lt 30 ] && grep -q 'the run ends' <<<"$out"; then
	echo "PASS: fencing: the old producer's run ends (exit $rc): $(grep -m1 'the run ends' <<<"$out")"
else
	echo "FAIL: fencing: exit $rc after $((SECONDS - t0)) s: $out"
	status=1
fi
exit $status
