#!/usr/bin/env bash
# The fault suite's end-to-end runs (the in-process fault tests are in make
# check: tests/integration/test_faults, test_kafka_faults):
#   power_cut.py   kill -9, then every segment file cut back to what its last
#                  successful fsync covered; nothing confirmed may be lost
#   disk_full.py   a tmpfs data directory fills up under mixed AMQP and Kafka
#                  load (needs root); nothing confirmed lost, nothing read
#                  from another queue or vhost, nothing duplicated
# Usage: tests/faults/run.sh [TANDEMD]   (default: build/main/src/tandemd)
# Needs /usr/bin/python3 with python3-pika and python3-kafka (setup.sh --test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export TANDEMD=${1:-${TANDEMD:-$here/../../build/main/src/tandemd}}
[ -x "$TANDEMD" ] || { echo "FAIL: no tandemd at $TANDEMD"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-faults.XXXXXX")
cleanup() {
	# a run that failed half-way may leave its tmpfs mounted and brokers running
	pkill -KILL -f -- "--data-dir $work" 2>/dev/null || true
	for m in "$work"/full "$work"/alarm; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT
rc=0
for t in power_cut disk_full; do
	echo "--- $t"
	if timeout 600 /usr/bin/python3 "$here/$t.py" "$work" >"$work/$t.out" 2>&1; then
		cat "$work/$t.out"
		echo "PASS: $t"
	else
		cat "$work/$t.out"
		for f in "$work"/tandemd-*.log; do
			[ -f "$f" ] && { echo "--- tail of $f"; tail -n 20 "$f"; }
		done
		echo "FAIL: $t"
		rc=1
	fi
done
exit $rc
