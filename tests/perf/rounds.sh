# Sourced by the cluster benchmarks (tests/perf/cluster.sh, cluster_amqp.sh):
# parses [--rounds N] [--duration S] into ROUNDS (default 2) and DURATION
# (seconds, default 10), finds the built tandem-perf and tandemd (PERF and
# TANDEMD override them) and makes the run's scratch directory `work`.
ROUNDS=2
DURATION=10
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--duration S]" >&2; exit 2 ;;
	esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
PERF=${PERF:-$top/build/main/src/tools/tandem-perf}
TANDEMD=${TANDEMD:-$top/build/main/src/tandemd}
[ -x "$PERF" ] && [ -x "$TANDEMD" ] || { echo "build first (scripts/setup.sh)" >&2; exit 1; }
work=$(mktemp -d)
