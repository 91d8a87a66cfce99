#!/usr/bin/env bash
# The AMQP side of a cluster, tandem beside RabbitMQ 3.10, in one run
# (issue 15's benchmark): a 3-node tandem cluster (scripts/cluster.sh) and a
# 3-node RabbitMQ cluster (tests/rabbitmq/start-cluster.sh) on this machine,
# up together, measured in alternation, ROUNDS rounds each, with tandem-perf
# (rabbitmq-c) and the same options for both:
#   quorum     a quorum queue declared on node 1 (its leader), 100 B
#              persistent messages published on node 2 with confirms (at
#              most 1000 unconfirmed), consumed on node 3 with manual acks
#              (prefetch 1000): every message crosses two links;
#   classic    the same with a durable classic queue whose home is node 1
#              (RabbitMQ's classic queue lives where it was declared).
# Prints one line per run, then per scenario the medians and the ratio
# tandem/RabbitMQ (rates; latency ratios are RabbitMQ/tandem, so above 1 is
# tandem ahead either way).  Numbers are machine-dependent: compare ratios.
#
# Usage: tests/perf/cluster_amqp.sh [--rounds N] [--duration S]
set -euo pipefail

# shellcheck source=tests/perf/rounds.sh
. "$(dirname "$0")/rounds.sh"
results=$work/results
cleanup() {
	TANDEM_CLUSTER_DIR=$work/tandem "$top/scripts/cluster.sh" down >/dev/null 2>&1 || true
	"$top/tests/rabbitmq/stop-cluster.sh" "$work/rmq" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "starting a 3-node tandem cluster and a 3-node RabbitMQ cluster" >&2
TANDEMD=$TANDEMD TANDEM_CLUSTER_DIR=$work/tandem "$top/scripts/cluster.sh" up 3 >"$work/up" 2>&1 ||
	{ cat "$work/up"; exit 1; }
"$top/tests/rabbitmq/start-cluster.sh" "$work/rmq" 3 >"$work/rmq.env" 2>"$work/rmq.err" ||
	{ cat "$work/rmq.err"; exit 1; }
read -r -a tports <<<"$(sed -n 's/^node=[0-9]* amqp=[^:]*:\([0-9]*\).*/\1/p' "$work/up" | tr '\n' ' ')"
# shellcheck disable=SC1091
. "$work/rmq.env"
read -r -a rports <<<"$RMQ_PORTS"
[ "${#tports[@]}" -eq 3 ] && [ "${#rports[@]}" -eq 3 ] || { echo "ports not found" >&2; exit 1; }

pick() { tr ' ' '\n' | grep -E "^($1)=" | tr '\n' ' '; }
uri() { echo "amqp://guest:guest@127.0.0.1:$1/%2F"; }

run() { # broker scenario round ports... -- args
	local broker=$1 scenario=$2 round=$3 p1=$4 p2=$5 p3=$6
	shift 6
	local out line
	out=$("$PERF" -h "$(uri "$p2")" --consumer-uri "$(uri "$p3")" --setup-uri "$(uri "$p1")" \
		-u "perf-$scenario-$round" -e "" -s 100 -d -f -c 1000 -q 1000 -z "$DURATION" -i 0 "$@" \
		2>&1 | tail -1)
	line=$(pick 'send_rate|recv_rate|p50_us|p99_us|lost|dup|status' <<<"$out")
	echo "$broker $scenario $line" | tee -a "$results"
}

for r in $(seq 1 "$ROUNDS"); do
	for b in tandem rabbitmq; do
		if [ "$b" = tandem ]; then ports=("${tports[@]}"); else ports=("${rports[@]}"); fi
		run "$b" quorum "$r" "${ports[@]}" -X x-queue-type=quorum
		run "$b" classic "$r" "${ports[@]}"
	done
done

median() { # broker scenario metric
	grep "^$1 $2 " "$results" | tr ' ' '\n' | sed -n "s/^$3=//p" | sort -g |
		awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "?" }'; }

echo
echo "medians over $ROUNDS rounds (msg/s; end-to-end latency us); ratio: tandem ahead when > 1"
for s in quorum classic; do
	line="$s"
	for m in send_rate recv_rate p50_us p99_us; do
		t=$(median tandem "$s" "$m")
		q=$(median rabbitmq "$s" "$m")
		case "$m" in
		*_us) x=$(ratio "$q" "$t") ;;
		*) x=$(ratio "$t" "$q") ;;
		esac
		line="$line $m tandem=${t:-?} rabbitmq=${q:-?} ratio=$x;"
	done
	echo "$line"
done
