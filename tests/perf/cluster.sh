#!/usr/bin/env bash
# The cluster beside the single node, in one run (issue 14's benchmark):
# tandem-perf's log mode against a 3-node cluster (scripts/cluster.sh:
# ZooKeeper plus three tandemd on loopback) producing with acks=all to a
# topic with replication factor 3, and against one tandemd with acks=1,
# alternating, ROUNDS rounds each.  Two scenarios each: throughput
# (linger.ms 5, as many records as the producer can send) and a fixed
# 10000 records/s (end-to-end latency percentiles, linger.ms 5 and 0).
# Prints one line per run and the medians; numbers are machine-dependent:
# compare the ratios.
#
# Usage: tests/perf/cluster.sh [--rounds N] [--duration S]
set -euo pipefail

# shellcheck source=tests/perf/rounds.sh
. "$(dirname "$0")/rounds.sh"
results=$work/results
single_pid=""
cleanup() {
	[ -n "$single_pid" ] && kill "$single_pid" 2>/dev/null && wait "$single_pid" 2>/dev/null
	TANDEM_CLUSTER_DIR=$work/cluster "$top/scripts/cluster.sh" down >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

pick() { tr ' ' '\n' | grep -E "^($1)=" | tr '\n' ' '; }

run() { # label bootstrap topic args...
	local label=$1 bs=$2 topic=$3
	shift 3
	local out
	out=$("$PERF" -M log -h "$bs" -x 1 -y 1 -s 100 -P 1 --topic "$topic" -z "$DURATION" "$@" 2>&1 | tail -1)
	local line
	line=$(pick 'recv_rate|p50_us|p99_us|p999_us|lost|status' <<<"$out")
	echo "$label $line" | tee -a "$results"
}

for r in $(seq 1 "$ROUNDS"); do
	# the cluster: acks=all, replication factor 3
	TANDEMD=$TANDEMD TANDEM_CLUSTER_DIR=$work/cluster "$top/scripts/cluster.sh" up 3 >"$work/up" 2>&1 ||
		{ cat "$work/up"; exit 1; }
	bs=$(sed -n 's/^node=1 .*kafka=\([^ ]*\).*/\1/p' "$work/up")
	sleep 2
	run "cluster-rf3-acks-all-throughput" "$bs" "t$r" --linger-ms 5 --batch-num-messages 10000 \
		--acks all --replication-factor 3
	run "cluster-rf3-acks-all-10k-linger5" "$bs" "l$r" --linger-ms 5 --acks all --replication-factor 3 -r 10000
	run "cluster-rf3-acks-all-10k-linger0" "$bs" "z$r" --linger-ms 0 --acks all --replication-factor 3 -r 10000
	TANDEM_CLUSTER_DIR=$work/cluster "$top/scripts/cluster.sh" down >/dev/null 2>&1
	rm -rf "$work/cluster"
	# the single node: acks=1
	port=$(python3 "$top/scripts/free-ports")
	mkdir -p "$work/single"
	"$TANDEMD" --kafka-port "$port" --amqp-port 0 --http-port 0 --data-dir "$work/single" \
		--log-level warning >"$work/single.log" 2>&1 &
	single_pid=$!
	sleep 2
	run "single-acks-1-throughput" "127.0.0.1:$port" "t$r" --linger-ms 5 --batch-num-messages 10000 --acks 1
	run "single-acks-1-10k-linger5" "127.0.0.1:$port" "l$r" --linger-ms 5 --acks 1 -r 10000
	run "single-acks-1-10k-linger0" "127.0.0.1:$port" "z$r" --linger-ms 0 --acks 1 -r 10000
	kill "$single_pid"
	wait "$single_pid" 2>/dev/null || true
	single_pid=""
	rm -rf "$work/single"
done

echo
echo "medians over $ROUNDS rounds (recv_rate records/s, end-to-end latency us):"
for s in cluster-rf3-acks-all-throughput single-acks-1-throughput cluster-rf3-acks-all-10k-linger5 \
	single-acks-1-10k-linger5 cluster-rf3-acks-all-10k-linger0 single-acks-1-10k-linger0; do
	for m in recv_rate p50_us p99_us; do
		v=$(grep "^$s " "$results" | tr ' ' '\n' | sed -n "s/^$m=//p" | sort -g |
			awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
		printf '%s %s=%s ' "$s" "$m" "${v:-?}"
	done
	echo
done
