#!/usr/bin/env bash
# Side-by-side benchmark: tandemd against a private RabbitMQ 3.10 node on this
# machine, same client (tandem-perf), same scenarios, alternating which broker
# goes first each round, several rounds; prints per scenario the tandemd median,
# the RabbitMQ median and their ratio, and regenerates BENCHMARKS.md.
#
# Usage: tests/perf/compare.sh [--rounds N] [--duration S] [--backlog N]
#                              [--idle-queues N] [--log-records N] [--stream-records N]
#                              [--only a,b,...] [--output FILE] [--rev REV] [--no-build]
#                              [--bin-dir DIR] [--keep]
#   --rounds N       rounds per broker (default 3; env ROUNDS)
#   --duration S     seconds of publishing per throughput scenario (default 10; env DURATION)
#   --warmup S       untimed transient run on each freshly started broker before the
#                    throughput scenarios (default 3; 0 = none; env WARMUP)
#   --backlog N      messages published into a queue with no consumer (default 1000000)
#   --idle-queues N  queues declared for the idle-RSS scenario (default 1000)
#   --log-records N  records produced, then read from the beginning, in kafka-consume and
#                    kafka-consume-committed (default 5000000)
#   --stream-records N  messages published, then read from the first, in stream-consume (default 500000)
#   --only LIST      run only these scenarios (names as in the table), or the groups
#                    amqp (the AMQP queue scenarios), log (kafka-* and stream-*),
#                    kafka (kafka-*: tandemd only) and stream (stream queues over AMQP)
#   --output FILE    where to write the report (default BENCHMARKS.md at the top of the tree;
#                    "-" = do not write one)
#   --rev REV        build tandemd and tandem-perf from a clean export of git revision REV
#                    (e.g. HEAD) instead of the work tree, so the report names exactly what ran
#   --no-build       use the work tree's binaries as they are
#   --bin-dir DIR    use DIR/src/tandemd and DIR/src/tools/tandem-perf as they are (a build
#                    directory, e.g. scripts/setup.sh's build/main); implies --no-build
#   --quiet-wait S   before each run wait up to S seconds (default 180) for the machine's
#                    CPU to be idle (other work under 25 %); runs started busy are counted
#   --keep           keep the work directory (logs, raw results)
#
# Starts everything it needs on loopback with its own temp directory, ports and
# data dirs (tandemd directly, RabbitMQ through tests/rabbitmq/start-private.sh)
# and stops by PID everything it started, also on error or Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
invocation="tests/perf/compare.sh${*:+ $*}"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
BACKLOG=${BACKLOG:-1000000}
IDLE_QUEUES=${IDLE_QUEUES:-1000}
LOG_RECORDS=${LOG_RECORDS:-5000000}
STREAM_RECORDS=${STREAM_RECORDS:-500000}
ONLY=""
OUTPUT="$top/BENCHMARKS.md"
BUILD=1
KEEP=0
REV=""
BIN_DIR=""
QUIET_WAIT=${QUIET_WAIT:-180}
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--backlog) BACKLOG=$2; shift 2 ;;
	--idle-queues) IDLE_QUEUES=$2; shift 2 ;;
	--log-records) LOG_RECORDS=$2; shift 2 ;;
	--stream-records) STREAM_RECORDS=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--output) OUTPUT=$2; shift 2 ;;
	--rev) REV=$2; shift 2 ;;
	--quiet-wait) QUIET_WAIT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--bin-dir) BIN_DIR=$2; BUILD=0; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "compare.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-compare.XXXXXX")
early_exit() { [ "$KEEP" = 1 ] || rm -rf "$work"; }
trap early_exit EXIT

# ---------- build ----------
TANDEMD="${BIN_DIR:-$top}/src/tandemd"
PERF="${BIN_DIR:-$top}/src/tools/tandem-perf"
commit=$(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(cd "$top" && git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " plus the uncommitted changes of the work tree" || true)
if [ -n "$REV" ]; then
	commit=$(cd "$top" && git rev-parse --short "$REV") || die "unknown revision $REV"
	dirty=" (clean export, built by this script)"
	log "building tandemd and tandem-perf from a clean export of $REV ($commit)"
	mkdir -p "$work/build"
	(cd "$top" && git archive "$commit") | tar -x -C "$work/build"
	(
		cd "$work/build"
		autoreconf -fi >/dev/null 2>&1 && ./configure >/dev/null && make -j2 src/tandemd src/tools/tandem-perf >/dev/null
	) || die "build of $REV failed"
	TANDEMD="$work/build/src/tandemd"
	PERF="$work/build/src/tools/tandem-perf"
elif [ "$BUILD" = 1 ]; then
	log "building tandemd and tandem-perf"
	(
		cd "$top"
		if [ ! -f Makefile ]; then
			autoreconf -fi >/dev/null && ./configure >/dev/null
		fi
		make -j2 src/tandemd src/tools/tandem-perf >/dev/null
	) || die "build failed"
fi
[ -x "$TANDEMD" ] || die "$TANDEMD missing (run without --no-build)"
[ -x "$PERF" ] || die "$PERF missing (run without --no-build)"

# ---------- RabbitMQ ----------
RMQ_BIN=${RMQ_BIN:-/usr/lib/rabbitmq/bin}
START_RMQ="$top/tests/rabbitmq/start-private.sh"
STOP_RMQ="$top/tests/rabbitmq/stop-private.sh"
[ -x "$START_RMQ" ] && [ -x "$STOP_RMQ" ] || die "tests/rabbitmq/start-private.sh and stop-private.sh are needed"
if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
	log "installing rabbitmq-server (Debian package)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y rabbitmq-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y rabbitmq-server >/dev/null; } ||
		die "apt-get install rabbitmq-server failed"
	# The package starts the system node where it can; we want only our private one.
	if command -v invoke-rc.d >/dev/null 2>&1; then invoke-rc.d rabbitmq-server stop >/dev/null 2>&1 || true; fi
	if command -v systemctl >/dev/null 2>&1; then systemctl stop rabbitmq-server >/dev/null 2>&1 || true; fi
fi
rmq_version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo unknown)
erl_version=$(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null || echo unknown)

# ---------- teardown ----------
results="$work/results.txt" # round broker scenario metric value
: >"$results"
. "$top/tests/perf/teardown.sh"

free_port() {
	python3 "$here/../../scripts/free-ports"
}
wait_port() { # port pid
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# Start broker $1 fresh; sets PORT and BPID (the process whose RSS counts).
start_broker() {
	case "$1" in
	tandemd)
		local d="$work/tandemd.$((++td_starts))"
		mkdir -p "$d"
		PORT=$(free_port)
		KPORT=$(free_port)
		# the Kafka listener on a port of its own; no HTTP listener (15672 may be taken)
		"$TANDEMD" --amqp-port "$PORT" --kafka-port "$KPORT" --http-port 0 --data-dir "$d/data" \
			--log-level warning >"$d/log" 2>&1 &
		TD_PID=$!
		TD_DATA="$d/data"
		wait_port "$PORT" "$TD_PID" || die "tandemd did not start: $(tail -5 "$d/log")"
		wait_port "$KPORT" "$TD_PID" || die "tandemd's Kafka listener did not start: $(tail -5 "$d/log")"
		BPID=$TD_PID
		;;
	rabbitmq)
		RMQ_STATE="$work/rmq.$((++rmq_starts))"
		local envout
		envout=$("$START_RMQ" "$RMQ_STATE") || die "RabbitMQ did not start"
		PORT=$(sed -n 's/^RMQ_PORT=//p' <<<"$envout")
		BPID=""
		for _ in $(seq 1 100); do # the Erlang VM's PID, written by RabbitMQ at boot
			[ -s "$RMQ_STATE/rabbitmq.pid" ] && BPID=$(cat "$RMQ_STATE/rabbitmq.pid") && break
			sleep 0.1
		done
		[ -n "$BPID" ] && grep -q beam "/proc/$BPID/cmdline" 2>/dev/null || die "no beam.smp PID for RabbitMQ"
		;;
	esac
	sleep 2 # let a fresh node finish its start-up work before anything is measured
}
stop_broker() {
	case "$1" in
	tandemd) stop_tandemd ;;
	rabbitmq) stop_rabbit ;;
	esac
}
td_starts=0
rmq_starts=0

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system, all threads) of a process, in clock ticks
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Percent of the machine's CPU busy over one second (all processes).
busy_pct() {
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); t=y[2]-x[2]; printf "%d", (t > 0) ? 100 * (y[1] - x[1]) / t : 0}'
}
# Other work on a shared machine skews every number: wait (bounded) for quiet.
busy_runs=0
quiet_gate() {
	local waited=0 pct
	while :; do
		pct=$(busy_pct)
		[ "$pct" -lt 25 ] && return 0
		if [ "$waited" -ge "$QUIET_WAIT" ]; then
			log "  machine still ${pct}% busy after ${waited}s: running anyway"
			busy_runs=$((busy_runs + 1))
			return 0
		fi
		[ "$waited" = 0 ] && log "  machine ${pct}% busy with other work: waiting up to ${QUIET_WAIT}s"
		sleep 4
		waited=$((waited + 5))
	done
}

# run_perf BROKER ROUND SCENARIO ARGS... : runs tandem-perf, leaves key=value pairs in $R
# (kafka-* scenarios talk to tandemd's Kafka listener)
run_perf() {
	local broker=$1 round=$2 scen=$3 port=$PORT
	shift 3
	case "$scen" in kafka-*) port=$KPORT ;; esac
	local out="$work/$scen.$broker.$round.out"
	local rc=0 c0
	case "$scen" in warmup | *declare | idle-queues) ;; *) quiet_gate ;; esac
	c0=$(cpu_ticks "$BPID")
	"$PERF" -h "127.0.0.1:$port" -i 0 -D 60 -T 600 "$@" >"$out" 2>"$out.err" || rc=$?
	CPU_US=$(($(cpu_ticks "$BPID") - c0))
	CPU_US=$((CPU_US * TICK_US))
	R=$(grep '^result ' "$out" | tail -1 | cut -d' ' -f2-)
	if [ -z "$R" ]; then
		R="status=error"
		log "  $broker $scen: tandem-perf failed (rc $rc): $(tail -3 "$out.err" | tr '\n' ' ')"
	elif [ "$rc" != 0 ]; then
		log "  $broker $scen: tandem-perf exit $rc: $(tail -2 "$out.err" | tr '\n' ' ')"
	fi
	echo "$round $broker $scen status $(val status)" >>"$results"
}
val() { tr ' ' '\n' <<<"$R" | sed -n "s/^$1=//p" | head -1; }
record() { echo "$1 $2 $3 $4 $5" >>"$results"; } # round broker scenario metric value

scenario_group() { # scenario -> its groups, comma-separated
	case "$1" in
	kafka-*) echo "log,kafka" ;;
	stream-*) echo "log,stream" ;;
	*) echo "amqp" ;;
	esac
}
want() {
	[ -z "$ONLY" ] && return 0
	[[ ",$ONLY," == *",$1,"* ]] && return 0
	local g
	for g in $(scenario_group "$1" | tr ',' ' '); do [[ ",$ONLY," == *",$g,"* ]] && return 0; done
	return 1
}

# ---------- scenarios ----------
D=$DURATION
throughput_scenarios=(transient confirm-ack persistent size-4k fanout-4 latency-10k)
declare -A args=(
	[transient]="-x 1 -y 1 -s 100 -a -z $D"
	[confirm-ack]="-x 1 -y 1 -s 100 -c 1000 -q 1000 -z $D"
	[persistent]="-x 1 -y 1 -s 100 -c 1000 -q 1000 -f -d -z $D"
	[size-4k]="-x 1 -y 1 -s 4096 -a -z $D"
	[fanout-4]="-x 1 -y 4 -K 4 -t fanout -s 100 -a -z $D"
	[latency-10k]="-x 1 -y 1 -s 100 -r 10000 -c 1000 -q 1000 -z $D"
)
# Log scenarios.  kafka-*: tandem-perf's log mode (librdkafka) against tandemd's
# Kafka listener; RabbitMQ 3.10 has no Kafka protocol, so they run on tandemd only.
# stream-*: stream queues over AMQP (x-queue-type=stream, durable, consumers with
# x-stream-offset=first, manual ack under prefetch, as RabbitMQ requires), both brokers.
# kafka-produce-acks-all, -idem, -txn, kafka-consume-committed and the per-codec
# kafka-produce-CODEC (issue 16) have kafka-produce's shape; idempotence and
# transactions need acks=all, so kafka-produce-acks-all is their baseline and the
# codecs' baseline is kafka-produce (acks=1).
log_scenarios=(kafka-produce kafka-consume kafka-latency-10k kafka-produce-acks-all kafka-produce-idem
	kafka-produce-txn kafka-consume-committed kafka-produce-gzip kafka-produce-snappy kafka-produce-lz4
	kafka-produce-zstd stream-publish-consume stream-consume)
STREAM_ARGS="-s 100 -d -c 1000 -q 1000 -A 100 -X x-queue-type=stream --consumer-args x-stream-offset=first"
args+=(
	[kafka-produce]="-M log -x 1 -y 0 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks 1 -z $D"
	[kafka-consume]="-M log -x 1 -y 1 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks 1 -C $LOG_RECORDS --consume-later"
	[kafka-latency-10k]="-M log -x 1 -y 1 -s 100 -P 1 --linger-ms 0 --acks 1 -r 10000 -z $D"
	[kafka-produce-acks-all]="-M log -x 1 -y 0 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks all -z $D"
	[kafka-produce-idem]="-M log -x 1 -y 0 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks all --idempotence -z $D"
	[kafka-produce-txn]="-M log -x 1 -y 0 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks all --transactional-id perf-produce-txn --txn-records 10000 -z $D"
	[kafka-consume-committed]="-M log -x 1 -y 1 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks all --transactional-id perf-consume-committed --txn-records 10000 -C $LOG_RECORDS --consume-later --isolation-level read_committed"
	[stream-publish-consume]="-x 1 -y 1 $STREAM_ARGS -z $D"
	[stream-consume]="-x 1 -y 1 $STREAM_ARGS -C $STREAM_RECORDS --consume-later"
)
for codec in gzip snappy lz4 zstd; do
	args[kafka-produce-$codec]="${args[kafka-produce]% -z *} --compression $codec -z $D"
done
tandemd_only() { case "$1" in kafka-*) return 0 ;; *) return 1 ;; esac; }

run_broker_round() { # broker round
	local b=$1 r=$2 s
	if want idle-queues; then
		start_broker "$b"
		local base
		base=$(rss_kib "$BPID")
		run_perf "$b" "$r" idle-queues -K "$IDLE_QUEUES" -x 0 -y 0 --declare-only -u idle
		sleep 3
		record "$r" "$b" idle-queues rss_base_mib "$(awk -v k="$base" 'BEGIN{printf "%.1f", k/1024}')"
		record "$r" "$b" idle-queues rss_mib "$(awk -v k="$(rss_kib "$BPID")" 'BEGIN{printf "%.1f", k/1024}')"
		stop_broker "$b"
	fi
	local any=0
	for s in "${throughput_scenarios[@]}"; do want "$s" && any=1; done
	if [ "$any" = 1 ]; then
		start_broker "$b"
		if [ "$WARMUP" != 0 ]; then
			run_perf "$b" "$r" warmup -x 1 -y 1 -s 100 -a -z "$WARMUP" -u warmup
		fi
		for s in "${throughput_scenarios[@]}"; do
			want "$s" || continue
			# shellcheck disable=SC2086
			run_perf "$b" "$r" "$s" ${args[$s]} -u "perf-$s"
			record "$r" "$b" "$s" recv_rate "$(val recv_rate)"
			record "$r" "$b" "$s" send_rate "$(val send_rate)"
			record "$r" "$b" "$s" p50_us "$(val p50_us)"
			record "$r" "$b" "$s" p99_us "$(val p99_us)"
			record "$r" "$b" "$s" p999_us "$(val p999_us)"
			record "$r" "$b" "$s" cpu_us_per_msg "$(awk -v c="$CPU_US" -v n="$(val received)" 'BEGIN{if (n>0) printf "%.2f", c/n}')"
			if [ "$s" = persistent ] && [ "$b" = tandemd ]; then
				record "$r" "$b" "$s" data_dir_kib "$(du -sk "$TD_DATA" | cut -f1)"
			fi
			log "  round $r $b $s: recv $(val recv_rate)/s send $(val send_rate)/s p99 $(val p99_us) us lost $(val lost) status $(val status)"
		done
		stop_broker "$b"
	fi
	any=0
	for s in "${log_scenarios[@]}"; do want "$s" && ! { [ "$b" = rabbitmq ] && tandemd_only "$s"; } && any=1; done
	if [ "$any" = 1 ]; then
		start_broker "$b"
		for s in "${log_scenarios[@]}"; do
			want "$s" || continue
			[ "$b" = rabbitmq ] && tandemd_only "$s" && continue
			# shellcheck disable=SC2086
			case "$s" in
			kafka-*) run_perf "$b" "$r" "$s" ${args[$s]} --topic "perf-$s-$r" ;;
			*) run_perf "$b" "$r" "$s" ${args[$s]} -u "perf-$s" ;;
			esac
			record "$r" "$b" "$s" recv_rate "$(val recv_rate)"
			record "$r" "$b" "$s" send_rate "$(val send_rate)"
			record "$r" "$b" "$s" recv_mbps "$(val recv_mbps)"
			record "$r" "$b" "$s" send_mbps "$(val send_mbps)"
			record "$r" "$b" "$s" p50_us "$(val p50_us)"
			record "$r" "$b" "$s" p99_us "$(val p99_us)"
			record "$r" "$b" "$s" p999_us "$(val p999_us)"
			local n
			n=$(val received)
			[ "${n:-0}" = 0 ] && n=$(val confirmed)
			record "$r" "$b" "$s" cpu_us_per_msg "$(awk -v c="$CPU_US" -v n="$n" 'BEGIN{if (n>0) printf "%.2f", c/n}')"
			log "  round $r $b $s: recv $(val recv_rate)/s send $(val send_rate)/s p50 $(val p50_us) us p99 $(val p99_us) us lost $(val lost) status $(val status)"
		done
		stop_broker "$b"
	fi
	if want backlog; then
		start_broker "$b"
		run_perf "$b" "$r" backlog-declare -K 1 -x 0 -y 0 --declare-only -u backlog
		local before after
		before=$(rss_kib "$BPID")
		run_perf "$b" "$r" backlog -x 1 -y 0 -K 1 -s 100 -c 1000 -C "$BACKLOG" -u backlog --no-cleanup
		sleep 2
		after=$(rss_kib "$BPID")
		record "$r" "$b" backlog rss_mib "$(awk -v k="$after" 'BEGIN{printf "%.1f", k/1024}')"
		record "$r" "$b" backlog bytes_per_msg "$(awk -v a="$after" -v b="$before" -v n="$BACKLOG" 'BEGIN{printf "%.0f", (a-b)*1024/n}')"
		record "$r" "$b" backlog send_rate "$(val send_rate)"
		record "$r" "$b" backlog cpu_us_per_msg "$(awk -v c="$CPU_US" -v n="$(val confirmed)" 'BEGIN{if (n>0) printf "%.2f", c/n}')"
		log "  round $r $b backlog: rss $((after / 1024)) MiB (+$(((after - before) / 1024)) MiB), confirmed $(val confirmed) at $(val send_rate)/s"
		stop_broker "$b"
	fi
}

log "work directory $work; $ROUNDS round(s), ${DURATION}s per throughput scenario"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$SECONDS
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="tandemd rabbitmq"; else order="rabbitmq tandemd"; fi
	for b in $order; do
		log "round $r: $b"
		run_broker_round "$b" "$r"
	done
done
elapsed=$((SECONDS - t0))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------- medians and report ----------
median() { # broker scenario metric -> median over rounds (empty if none)
	awk -v b="$1" -v s="$2" -v m="$3" '$2==b && $3==s && $4==m && $5!="" {print $5}' "$results" | sort -g |
		awk '{v[NR]=$1} END {if (NR==0) exit; if (NR%2) {printf "%s", v[(NR+1)/2]; exit}
			m = (v[NR/2]+v[NR/2+1])/2; if (m < 100) printf "%.3f", m; else printf "%.1f", m}'
}
failures() { # broker scenario -> runs whose status was not ok
	awk -v b="$1" -v s="$2" '$2==b && $3==s && $4=="status" && $5!="ok" {n++} END {print n+0}' "$results"
}

# rows: scenario|metric|label|unit|better(higher/lower)
rows=(
	"transient|recv_rate|transient 100 B, no confirms, autoack|msg/s|higher"
	"confirm-ack|recv_rate|100 B, confirms (window 1000) + manual ack (prefetch 1000)|msg/s|higher"
	"persistent|recv_rate|persistent 100 B, confirms, durable queue, manual ack|msg/s|higher"
	"size-4k|recv_rate|4 KiB, no confirms, autoack|msg/s|higher"
	"fanout-4|recv_rate|fanout to 4 queues, 100 B, autoack (deliveries)|msg/s|higher"
	"latency-10k|p50_us|latency at 10,000 msg/s, p50|us|lower"
	"latency-10k|p99_us|latency at 10,000 msg/s, p99|us|lower"
	"latency-10k|p999_us|latency at 10,000 msg/s, p99.9|us|lower"
	"transient|cpu_us_per_msg|broker CPU per message: transient 100 B|us|lower"
	"confirm-ack|cpu_us_per_msg|broker CPU per message: confirms + manual ack|us|lower"
	"persistent|cpu_us_per_msg|broker CPU per message: persistent|us|lower"
	"size-4k|cpu_us_per_msg|broker CPU per message: 4 KiB|us|lower"
	"fanout-4|cpu_us_per_msg|broker CPU per delivery: fanout to 4|us|lower"
	"latency-10k|cpu_us_per_msg|broker CPU per message: at 10,000 msg/s|us|lower"
	"backlog|rss_mib|RSS after $BACKLOG x 100 B queued, no consumer|MiB|lower"
	"backlog|bytes_per_msg|memory per queued 100 B message|bytes|lower"
	"backlog|send_rate|publishing the backlog (confirms, window 1000)|msg/s|higher"
	"idle-queues|rss_mib|idle RSS with $IDLE_QUEUES declared queues|MiB|lower"
	"idle-queues|rss_base_mib|idle RSS, fresh broker|MiB|lower"
	"kafka-produce|send_rate|log, Kafka protocol: produce 100 B, 1 partition, linger 5 ms, batch 10000, acks=1 (acknowledged records)|records/s|higher"
	"kafka-produce|send_mbps|log, Kafka protocol: produce, payload MB/s|MB/s|higher"
	"kafka-consume|recv_rate|log, Kafka protocol: consume $LOG_RECORDS records from the beginning (page cache)|records/s|higher"
	"kafka-consume|recv_mbps|log, Kafka protocol: consume from the beginning, payload MB/s|MB/s|higher"
	"kafka-latency-10k|p50_us|log, Kafka protocol: end-to-end latency at 10,000 records/s (linger 0), p50|us|lower"
	"kafka-latency-10k|p99_us|log, Kafka protocol: end-to-end latency at 10,000 records/s, p99|us|lower"
	"kafka-latency-10k|p999_us|log, Kafka protocol: end-to-end latency at 10,000 records/s, p99.9|us|lower"
	"kafka-produce-acks-all|send_rate|log, Kafka protocol: produce as kafka-produce but acks=all|records/s|higher"
	"kafka-produce-idem|send_rate|log, Kafka protocol: idempotent produce (enable.idempotence, acks=all)|records/s|higher"
	"kafka-produce-txn|send_rate|log, Kafka protocol: transactional produce, 10000 records per transaction, acks=all (committed records)|records/s|higher"
	"kafka-consume-committed|recv_rate|log, Kafka protocol: consume $LOG_RECORDS transactional records from the beginning, read_committed|records/s|higher"
	"kafka-produce-gzip|send_rate|log, Kafka protocol: produce as kafka-produce, gzip|records/s|higher"
	"kafka-produce-snappy|send_rate|log, Kafka protocol: produce as kafka-produce, snappy|records/s|higher"
	"kafka-produce-lz4|send_rate|log, Kafka protocol: produce as kafka-produce, lz4|records/s|higher"
	"kafka-produce-zstd|send_rate|log, Kafka protocol: produce as kafka-produce, zstd|records/s|higher"
	"kafka-produce|cpu_us_per_msg|broker CPU per record: Kafka produce|us|lower"
	"kafka-consume|cpu_us_per_msg|broker CPU per record: Kafka produce, then consume from the beginning|us|lower"
	"kafka-produce-acks-all|cpu_us_per_msg|broker CPU per record: Kafka produce, acks=all|us|lower"
	"kafka-produce-idem|cpu_us_per_msg|broker CPU per record: Kafka idempotent produce|us|lower"
	"kafka-produce-txn|cpu_us_per_msg|broker CPU per record: Kafka transactional produce (committed records)|us|lower"
	"kafka-consume-committed|cpu_us_per_msg|broker CPU per record: Kafka transactional produce, then consume read_committed|us|lower"
	"kafka-produce-gzip|cpu_us_per_msg|broker CPU per record: Kafka produce, gzip|us|lower"
	"kafka-produce-snappy|cpu_us_per_msg|broker CPU per record: Kafka produce, snappy|us|lower"
	"kafka-produce-lz4|cpu_us_per_msg|broker CPU per record: Kafka produce, lz4|us|lower"
	"kafka-produce-zstd|cpu_us_per_msg|broker CPU per record: Kafka produce, zstd|us|lower"
	"stream-publish-consume|recv_rate|stream queue over AMQP: publish (confirms) and consume from first at once (prefetch 1000)|msg/s|higher"
	"stream-consume|recv_rate|stream queue over AMQP: read $STREAM_RECORDS messages from first after publishing|msg/s|higher"
	"stream-publish-consume|p99_us|stream queue over AMQP: publish and consume at once, p99 latency|us|lower"
	"stream-publish-consume|cpu_us_per_msg|broker CPU per message: stream queue publish + consume|us|lower"
	"stream-consume|cpu_us_per_msg|broker CPU per message: stream queue publish, then read from first|us|lower"
)

table="$work/table.md"
{
	echo "| scenario | unit | tandemd (median) | RabbitMQ (median) | tandemd / RabbitMQ | better is | tandemd ahead |"
	echo "|---|---|---:|---:|---:|---|---|"
	for row in "${rows[@]}"; do
		IFS='|' read -r s m label unit better <<<"$row"
		want "$s" || continue
		t=$(median tandemd "$s" "$m")
		q=$(median rabbitmq "$s" "$m")
		ratio="n/a"
		ahead="n/a"
		if [ -n "$t" ] && [ -n "$q" ] && awk -v q="$q" 'BEGIN{exit !(q>0)}'; then
			ratio=$(awk -v t="$t" -v q="$q" 'BEGIN{printf "%.2f", t/q}')
			if [ "$better" = higher ]; then
				ahead=$(awk -v t="$t" -v q="$q" 'BEGIN{if (t > q) print "yes"; else print "no"}')
			else
				ahead=$(awk -v t="$t" -v q="$q" 'BEGIN{if (t < q) print "yes"; else print "no"}')
			fi
		fi
		note=""
		ft=$(failures tandemd "$s")
		fq=$(failures rabbitmq "$s")
		[ "$ft" != 0 ] && note="$note (tandemd: $ft run(s) not ok)"
		[ "$fq" != 0 ] && note="$note (RabbitMQ: $fq run(s) not ok)"
		echo "| $label$note | $unit | ${t:-n/a} | ${q:-n/a} | $ratio | $better | $ahead |"
	done
} >"$table"

raw="$work/raw.md"
{
	echo "| round | broker | scenario | status | recv msg/s | send msg/s | p50 us | p99 us | p99.9 us | broker CPU us/msg |"
	echo "|---:|---|---|---|---:|---:|---:|---:|---:|---:|"
	awk '$4=="status" {print $1, $2, $3}' "$results" | grep -v -e ' backlog-declare$' -e ' warmup$' | while read -r rr bb ss; do
		g() { awk -v r="$rr" -v b="$bb" -v s="$ss" -v m="$1" '$1==r && $2==b && $3==s && $4==m {print $5; exit}' "$results"; }
		echo "| $rr | $bb | $ss | $(g status) | $(g recv_rate) | $(g send_rate) | $(g p50_us) | $(g p99_us) | $(g p999_us) | $(g cpu_us_per_msg) |"
	done
} >"$raw"

# ratio_line BASE SCENARIO...: each scenario's median send rate and broker CPU
# per record over BASE's, from this run
ratio_line() {
	local base=$1 s bs bc t c out=""
	shift
	bs=$(median tandemd "$base" send_rate)
	bc=$(median tandemd "$base" cpu_us_per_msg)
	awk -v b="${bs:-0}" 'BEGIN{exit !(b>0)}' || return 0
	for s in "$@"; do
		t=$(median tandemd "$s" send_rate)
		c=$(median tandemd "$s" cpu_us_per_msg)
		[ -n "$t" ] || continue
		out="$out; $s send rate $(awk -v t="$t" -v b="$bs" 'BEGIN{printf "%.2f", t/b}')"
		[ -n "$c" ] && [ -n "$bc" ] && out="$out (broker CPU per record $(awk -v c="$c" -v b="$bc" 'BEGIN{if (b>0) printf "%.2f", c/b; else print "n/a"}'))"
	done
	if [ -n "$out" ]; then echo "Medians of this run over ${base}'s: ${out#; }."; fi
}
notes="$work/notes.md"
{
	pk=$(awk '$2=="tandemd" && $3=="persistent" && $4=="data_dir_kib" {print $5}' "$results" | sort -g | tail -1)
	if [ -n "$pk" ] && [ "$pk" -lt 1024 ]; then
		echo "- **persistent is not like for like in this run:** tandemd's data directory held at most ${pk} KiB after the persistent scenario, so it did not write the messages to disk, while RabbitMQ did (fsync before confirming)."
	fi
	echo "- Throughput is the consumers' receive rate: messages (for fanout: deliveries) received from the start of publishing to the last delivery, so a broker that accepts faster than it delivers is charged for the backlog it builds."
	echo "- Latency is end to end (publish to delivery, CLOCK_MONOTONIC in one process), computed per run over all its deliveries from a log-bucketed histogram (< 1 % error); the table shows the median of the rounds' runs."
	echo "- Every run's counts are checked per message (sequence numbers): a run that lost, duplicated or left messages unconfirmed is marked \"not ok\" next to its scenario."
	echo "- Broker CPU per message is the broker process's user + system CPU time (all threads; for RabbitMQ the beam.smp VM) during the run, divided by the messages (deliveries) received: it does not depend on whether the client or the broker limited the rate. Where tandemd uses well under one core at its top rate, its rate is limited by the client sharing the machine's two cores, and the throughput ratio understates the difference."
	any_kafka=0
	for s in "${log_scenarios[@]}"; do case "$s" in kafka-*) want "$s" && any_kafka=1 ;; esac; done
	if [ "$any_kafka" = 1 ]; then
		echo "- **kafka-* rows are tandemd only:** RabbitMQ 3.10 has no Kafka protocol, so its column says n/a. They run tandem-perf's log mode (librdkafka $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null || echo unknown), one rd_kafka_t per producer and consumer) against tandemd's Kafka listener: the producer rate counts records the broker acknowledged (acks=1), from the start to the last acknowledgement; kafka-consume produces $LOG_RECORDS records first, then one consumer assigns the partition from the beginning and its rate counts from then (the log is in the page cache); its latency columns are the records' age, not end to end. Targets (docs: issue 7): at least 1,000,000 records/s produced into one partition, consumed at least as fast."
	fi
	if want kafka-produce-idem || want kafka-produce-txn || want kafka-consume-committed; then
		echo "- kafka-produce-acks-all, -idem, -txn: kafka-produce with acks=all (idempotence requires it), then with enable.idempotence (the broker checks each batch's producer id, epoch and sequence), then transactional (transactional.id; InitProducerId once, then per transaction of 10000 records AddPartitionsToTxn, the records, EndTxn and a commit marker in the partition; the rate counts only records whose commit returned, up to the last commit). kafka-consume-committed produces $LOG_RECORDS records that way, then reads them from the beginning with isolation.level=read_committed (the consumer stops at the last stable offset and skips the markers). $(ratio_line kafka-produce-acks-all kafka-produce-idem kafka-produce-txn)"
	fi
	if want kafka-produce-gzip || want kafka-produce-snappy || want kafka-produce-lz4 || want kafka-produce-zstd; then
		echo "- kafka-produce-CODEC: kafka-produce with compression.codec CODEC (librdkafka compresses each batch; tandemd validates it, CRC-32C and every record decompressed, and stores it as sent); 100-byte records of random letters. $(ratio_line kafka-produce kafka-produce-gzip kafka-produce-snappy kafka-produce-lz4 kafka-produce-zstd)"
	fi
	if want stream-publish-consume || want stream-consume; then
		echo "- stream-* rows: stream queues over AMQP on both brokers (\`$STREAM_ARGS\`); stream-consume publishes $STREAM_RECORDS messages first, then the consumer subscribes at offset first and its rate counts from then. A broker that refuses stream queues shows as not ok with no numbers."
	fi
	echo "- RSS is VmRSS of the tandemd process and of RabbitMQ's beam.smp, each broker freshly started for the memory scenarios; \"memory per queued message\" is the RSS growth divided by the message count."
} >"$notes"

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
report="$work/report.md"
{
	echo "# Benchmarks: tandemd and RabbitMQ side by side"
	echo
	echo "Generated by \`tests/perf/compare.sh\`; do not edit by hand, run it again."
	echo
	echo "## Machine"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- CPU: ${cpu:-unknown}, nproc $(nproc)"
	echo "- RAM: $mem"
	echo "- load average (1, 5, 15 min) before the run: $load_before; after: $load_after; runs that started with other work using over 25 % of the CPU after waiting ${QUIET_WAIT} s: $busy_runs"
	echo "- kernel: $(uname -r); Debian $(cat /etc/debian_version 2>/dev/null || echo unknown)"
	echo "- tandemd: commit $commit$dirty"
	echo "- RabbitMQ: $rmq_version (Erlang $erl_version), private node, no plugins, default settings except vm_memory_high_watermark 8GB"
	echo "- client: tandem-perf (rabbitmq-c $(dpkg-query -W -f='${Version}' librabbitmq4 2>/dev/null || echo unknown)), every producer and consumer a thread with its own connection, on the same machine, loopback"
	echo
	echo "## Command"
	echo
	echo '```'
	echo "$invocation"
	echo '```'
	echo
	echo "$ROUNDS round(s), ${DURATION} s of publishing per throughput scenario, ${WARMUP} s untimed warm-up on each fresh broker before them, brokers alternating which goes first each round; took ${elapsed} s. tandem-perf arguments per scenario (plus \`-h 127.0.0.1:PORT -u perf-SCENARIO\`):"
	echo
	for s in "${throughput_scenarios[@]}" "${log_scenarios[@]}"; do want "$s" && echo "- $s: \`${args[$s]}\`"; done
	want backlog && echo "- backlog: \`-x 1 -y 0 -s 100 -c 1000 -C $BACKLOG --no-cleanup\`, RSS read 2 s after the last confirm"
	want idle-queues && echo "- idle-queues: \`--declare-only -K $IDLE_QUEUES -x 0 -y 0\`, RSS read 3 s later"
	echo
	echo "## Medians"
	echo
	cat "$table"
	echo
	echo "Ratio is tandemd / RabbitMQ: above 1 means tandemd is higher (better for rates, worse for latency and memory)."
	echo
	echo "## Notes"
	echo
	cat "$notes"
	echo
	echo "## Every run"
	echo
	cat "$raw"
} >"$report"

echo
cat "$table"
echo
cat "$notes"
if [ "$OUTPUT" != "-" ]; then
	# tests/perf/tls.sh's section (from its marker line to the end) stays
	if [ -f "$OUTPUT" ] && grep -q '^<!-- tls.sh:' "$OUTPUT"; then
		{ echo; sed -n '/^<!-- tls.sh:/,$p' "$OUTPUT"; } >>"$report"
	fi
	cp "$report" "$OUTPUT"
	log "wrote $OUTPUT"
fi
