#!/usr/bin/env bash
# What TLS costs: tandemd's AMQP and Kafka throughput over plaintext and over
# TLS (AMQPS, Kafka SSL) in one run, beside a private RabbitMQ 3.10's AMQP
# and AMQPS on the same machine with the same certificates and the same
# client (tandem-perf; rabbitmq-c's SSL socket for AMQPS, librdkafka with
# security.protocol=ssl for Kafka).  Prints per scenario the medians over the
# rounds and the ratios TLS / plaintext and tandemd / RabbitMQ, and writes them
# as the "TLS" section at the end of BENCHMARKS.md (the rest of that file is
# compare.sh's, which keeps this section when it rewrites the file).
#
# Usage: tests/perf/tls.sh [--rounds N] [--duration S] [--log-records N]
#                          [--only a,b,...] [--output FILE] [--no-build] [--keep]
#   --rounds N       rounds; each round runs every scenario plain and TLS on each
#                    broker, alternating which broker goes first (default 3; env ROUNDS)
#   --duration S     seconds of publishing per scenario (default 10; env DURATION)
#   --log-records N  records produced, then read from the beginning, in kafka-consume
#                    (default 2000000)
#   --only LIST      run only these scenarios (amqp-transient, amqp-confirm, amqp-4k,
#                    kafka-produce, kafka-consume), or the groups amqp and kafka
#   --output FILE    file whose "TLS" section is (re)written (default BENCHMARKS.md at
#                    the top of the tree; "-" = none)
#   --quiet-wait S   before each run wait up to S seconds (default 60) for the machine's
#                    CPU to be idle (other work under 25 %); runs started busy are counted
#   --no-build       use the work tree's binaries as they are
#   --keep           keep the work directory (certificates, logs, raw results)
#
# Both brokers get one CA's server certificate (SAN localhost and 127.0.0.1)
# and require and verify a client certificate (RabbitMQ: verify_peer +
# fail_if_no_peer_cert; tandemd the same keys, and ssl.client.auth = required
# on the Kafka SSL listener); the client verifies the server's certificate and
# host name.  Everything runs on loopback in a temp directory and is stopped by
# PID, also on error or Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
invocation="tests/perf/tls.sh${*:+ $*}"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
LOG_RECORDS=${LOG_RECORDS:-2000000}
ONLY=""
OUTPUT="$top/BENCHMARKS.md"
BUILD=1
KEEP=0
QUIET_WAIT=${QUIET_WAIT:-60}
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--log-records) LOG_RECORDS=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--output) OUTPUT=$2; shift 2 ;;
	--quiet-wait) QUIET_WAIT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--keep) KEEP=1; shift ;;
	-h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "tls.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

log() { printf '[tls %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-tls.XXXXXX")
. "$top/tests/perf/teardown.sh"

# ---------- build ----------
TANDEMD="$top/src/tandemd"
PERF="$top/src/tools/tandem-perf"
# an out-of-tree build when the top has none: scripts/setup.sh's build/main,
# or a directory "b"
for b in build/main b; do
	if [ ! -x "$TANDEMD" ] && [ -x "$top/$b/src/tandemd" ]; then
		TANDEMD="$top/$b/src/tandemd"
		PERF="$top/$b/src/tools/tandem-perf"
	fi
done
if [ "$BUILD" = 1 ]; then
	log "building tandemd and tandem-perf"
	bdir=$(dirname "$(dirname "$TANDEMD")")
	if [ ! -f "$bdir/Makefile" ]; then
		(cd "$top" && autoreconf -fi >/dev/null && ./configure >/dev/null) || die "configure failed"
		bdir=$top
	fi
	make -C "$bdir" -j2 src/tandemd src/tools/tandem-perf >/dev/null || die "build failed"
fi
[ -x "$TANDEMD" ] || die "$TANDEMD missing (run without --no-build)"
[ -x "$PERF" ] || die "$PERF missing (run without --no-build)"
commit=$(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(cd "$top" && git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " plus the uncommitted changes of the work tree" || true)
[ -x "${RMQ_BIN:-/usr/lib/rabbitmq/bin}/rabbitmq-server" ] || die "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
command -v openssl >/dev/null || die "the openssl command line is needed for the certificates"

# ---------- certificates (one CA; server: localhost + 127.0.0.1; one client) ----------
certs="$work/certs"
mkdir -p "$certs"
(
	cd "$certs"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tandem-tls-bench CA" \
		-keyout ca.key -out ca.pem
	for who in server client; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$who.key" -out "$who.csr"
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$who.ext"
		openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile "$who.ext" -out "$who.pem"
	done
	cat server.key server.pem >server-keystore.pem
) >"$work/certs.log" 2>&1 || die "openssl failed: $(tail -3 "$work/certs.log")"
TLS_ARGS="--tls --cacert $certs/ca.pem --cert $certs/client.pem --key $certs/client.key"
TLS_ARGS_SHOWN="--tls --cacert ca.pem --cert client.pem --key client.key"

# ---------- helpers ----------
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
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
busy_pct() {
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); t=y[2]-x[2]; printf "%d", (t > 0) ? 100 * (y[1] - x[1]) / t : 0}'
}
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
		sleep 4
		waited=$((waited + 5))
	done
}

# Start broker $1: sets PLAIN_PORT TLS_PORT (AMQP) KPLAIN KTLS (Kafka, tandemd) and BPID.
start_broker() {
	case "$1" in
	tandemd)
		local d="$work/tandemd.$((++td_starts))"
		mkdir -p "$d"
		PLAIN_PORT=$(free_port) TLS_PORT=$(free_port) KPLAIN=$(free_port) KTLS=$(free_port)
		cat >"$d/tandem.conf" <<CONF
amqp_port = $PLAIN_PORT
http_port = 0
listeners.ssl.default = $TLS_PORT
ssl_options.cacertfile = $certs/ca.pem
ssl_options.certfile = $certs/server.pem
ssl_options.keyfile = $certs/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
listeners = PLAINTEXT://127.0.0.1:$KPLAIN,SSL://127.0.0.1:$KTLS
ssl.keystore.location = $certs/server-keystore.pem
ssl.truststore.location = $certs/ca.pem
ssl.client.auth = required
CONF
		"$TANDEMD" --config "$d/tandem.conf" --data-dir "$d/data" --log-level warning >"$d/log" 2>&1 &
		TD_PID=$!
		for p in "$PLAIN_PORT" "$TLS_PORT" "$KPLAIN" "$KTLS"; do
			wait_port "$p" "$TD_PID" || die "tandemd did not open port $p: $(tail -5 "$d/log")"
		done
		BPID=$TD_PID
		;;
	rabbitmq)
		RMQ_STATE="$work/rmq.$((++rmq_starts))"
		local envout
		envout=$(RMQ_TLS_DIR="$certs" "$top/tests/rabbitmq/start-private.sh" "$RMQ_STATE") || die "RabbitMQ did not start"
		PLAIN_PORT=$(sed -n 's/^RMQ_PORT=//p' <<<"$envout")
		TLS_PORT=$(sed -n 's/^RMQ_TLS_PORT=//p' <<<"$envout")
		BPID=""
		for _ in $(seq 1 100); do
			[ -s "$RMQ_STATE/rabbitmq.pid" ] && BPID=$(cat "$RMQ_STATE/rabbitmq.pid") && break
			sleep 0.1
		done
		[ -n "$BPID" ] && grep -q beam "/proc/$BPID/cmdline" 2>/dev/null || die "no beam.smp PID for RabbitMQ"
		;;
	esac
	sleep 2 # let a fresh node finish its start-up work before anything is measured
}
stop_broker() { case "$1" in tandemd) stop_tandemd ;; rabbitmq) stop_rabbit ;; esac; }
td_starts=0
rmq_starts=0

results="$work/results.txt" # round broker scenario transport metric value
: >"$results"
val() { tr ' ' '\n' <<<"$R" | sed -n "s/^$1=//p" | head -1; }

# run_one BROKER ROUND SCENARIO TRANSPORT(plain|tls)
run_one() {
	local b=$1 r=$2 s=$3 t=$4 port extra="" out rc=0 c0 cpu n
	case "$s:$t" in
	kafka-*:plain) port=$KPLAIN ;;
	kafka-*:tls) port=$KTLS ;;
	*:plain) port=$PLAIN_PORT ;;
	*:tls) port=$TLS_PORT ;;
	esac
	[ "$t" = tls ] && extra=$TLS_ARGS
	out="$work/$s.$t.$b.$r.out"
	quiet_gate
	c0=$(cpu_ticks "$BPID")
	# shellcheck disable=SC2086
	case "$s" in
	kafka-*) "$PERF" -h "localhost:$port" -i 0 -D 60 -T 600 ${args[$s]} $extra --topic "tls-$s-$t-$r" >"$out" 2>"$out.err" || rc=$? ;;
	*) "$PERF" -h "localhost:$port" -i 0 -D 60 -T 600 ${args[$s]} $extra -u "tls-$s-$t" >"$out" 2>"$out.err" || rc=$? ;;
	esac
	cpu=$((($(cpu_ticks "$BPID") - c0) * TICK_US))
	R=$(grep '^result ' "$out" | tail -1 | cut -d' ' -f2-)
	if [ -z "$R" ]; then
		R="status=error"
		log "  $b $s $t: tandem-perf failed (rc $rc): $(tail -3 "$out.err" | tr '\n' ' ')"
	fi
	local rate
	rate=$(val recv_rate)
	case "$s" in kafka-produce) rate=$(val send_rate) ;; esac
	n=$(val received)
	[ "${n:-0}" = 0 ] && n=$(val confirmed)
	{
		echo "$r $b $s $t status $(val status)"
		echo "$r $b $s $t rate ${rate:-}"
		echo "$r $b $s $t mbps $(case "$s" in kafka-produce) val send_mbps ;; *) val recv_mbps ;; esac)"
		echo "$r $b $s $t cpu_us $(awk -v c="$cpu" -v n="${n:-0}" 'BEGIN{if (n>0) printf "%.2f", c/n}')"
	} >>"$results"
	log "  round $r $b $s $t: ${rate:-?}/s status $(val status)"
}

D=$DURATION
scenarios=(amqp-transient amqp-confirm amqp-4k kafka-produce kafka-consume)
declare -A args=(
	[amqp-transient]="-x 1 -y 1 -s 100 -a -z $D"
	[amqp-confirm]="-x 1 -y 1 -s 100 -c 1000 -q 1000 -z $D"
	[amqp-4k]="-x 1 -y 1 -s 4096 -a -z $D"
	[kafka-produce]="-M log -x 1 -y 0 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks 1 -z $D"
	[kafka-consume]="-M log -x 1 -y 1 -s 100 -P 1 --linger-ms 5 --batch-num-messages 10000 --acks 1 -C $LOG_RECORDS --consume-later"
)
declare -A label=(
	[amqp-transient]="AMQP 100 B, no confirms, autoack"
	[amqp-confirm]="AMQP 100 B, confirms (window 1000) + manual ack (prefetch 1000)"
	[amqp-4k]="AMQP 4 KiB, no confirms, autoack"
	[kafka-produce]="Kafka produce 100 B, 1 partition, linger 5 ms, acks=1"
	[kafka-consume]="Kafka consume $LOG_RECORDS x 100 B from the beginning"
)
want() {
	[ -z "$ONLY" ] && return 0
	[[ ",$ONLY," == *",$1,"* ]] && return 0
	[[ ",$ONLY," == *",${1%%-*},"* ]]
}
tandemd_only() { case "$1" in kafka-*) return 0 ;; *) return 1 ;; esac; }

start_s=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="tandemd rabbitmq"; else order="rabbitmq tandemd"; fi
	for b in $order; do
		any=0
		for s in "${scenarios[@]}"; do want "$s" && ! { [ "$b" = rabbitmq ] && tandemd_only "$s"; } && any=1; done
		[ "$any" = 1 ] || continue
		log "round $r: $b"
		start_broker "$b"
		for s in "${scenarios[@]}"; do
			want "$s" || continue
			[ "$b" = rabbitmq ] && tandemd_only "$s" && continue
			# plaintext and TLS back to back, in alternating order
			if [ $((r % 2)) = 1 ]; then ts="plain tls"; else ts="tls plain"; fi
			for t in $ts; do run_one "$b" "$r" "$s" "$t"; done
		done
		stop_broker "$b"
	done
done
elapsed=$((SECONDS - start_s))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------- report ----------
median() { # broker scenario transport metric
	awk -v b="$1" -v s="$2" -v t="$3" -v m="$4" '$2 == b && $3 == s && $4 == t && $5 == m && $6 != "" {print $6}' "$results" |
		sort -g | awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a != "" && b != "" && b + 0 > 0) printf "%.2f", a / b; else print "n/a"}'; }
na() { [ -n "$1" ] && echo "$1" || echo "n/a"; }
notok() { # scenario: " (not ok: ...)" when any run was not ok
	local bad
	bad=$(awk -v s="$1" '$3 == s && $5 == "status" && $6 != "ok" {print $2 " " $4 " round " $1 ": " $6}' "$results" | paste -sd';' -)
	[ -z "$bad" ] || echo " (not ok: $bad)"
}
table="$work/table.md"
{
	echo "| scenario | unit | tandemd plain | tandemd TLS | tandemd TLS / plain | RabbitMQ plain | RabbitMQ TLS | RabbitMQ TLS / plain | TLS: tandemd / RabbitMQ |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for s in "${scenarios[@]}"; do
		want "$s" || continue
		unit="msg/s"
		case "$s" in kafka-*) unit="records/s" ;; esac
		tp=$(median tandemd "$s" plain rate) tt=$(median tandemd "$s" tls rate)
		rp=$(median rabbitmq "$s" plain rate) rt=$(median rabbitmq "$s" tls rate)
		echo "| ${label[$s]}$(notok "$s") | $unit | $(na "$tp") | $(na "$tt") | $(ratio "$tt" "$tp") | $(na "$rp") | $(na "$rt") | $(ratio "$rt" "$rp") | $(ratio "$tt" "$rt") |"
	done
	for s in "${scenarios[@]}"; do
		want "$s" || continue
		tp=$(median tandemd "$s" plain cpu_us) tt=$(median tandemd "$s" tls cpu_us)
		rp=$(median rabbitmq "$s" plain cpu_us) rt=$(median rabbitmq "$s" tls cpu_us)
		echo "| broker CPU per message: ${label[$s]} | us | $(na "$tp") | $(na "$tt") | $(ratio "$tt" "$tp") | $(na "$rp") | $(na "$rt") | $(ratio "$rt" "$rp") | $(ratio "$tt" "$rt") |"
	done
} >"$table"
raw="$work/raw.md"
{
	echo "| round | broker | scenario | transport | status | rate /s | payload MB/s | broker CPU us/msg |"
	echo "|---:|---|---|---|---|---:|---:|---:|"
	awk '{k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4; if (!(k in seen)) {seen[k] = 1; order[++n] = k} v[k, $5] = $6}
	     END {for (i = 1; i <= n; i++) {split(order[i], f, SUBSEP);
	          printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], v[order[i], "status"],
	                 v[order[i], "rate"], v[order[i], "mbps"], v[order[i], "cpu_us"]}}' "$results"
} >"$raw"

section="$work/section.md"
{
	echo "<!-- tls.sh: from here to the end this file is written by tests/perf/tls.sh -->"
	echo "## TLS: AMQPS and Kafka SSL beside plaintext"
	echo
	echo "Generated by \`tests/perf/tls.sh\`; do not edit by hand, run it again."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); CPU: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), nproc $(nproc)"
	echo "- load average (1, 5, 15 min) before the run: $load_before; after: $load_after; runs that started with other work using over 25 % of the CPU after waiting ${QUIET_WAIT} s: $busy_runs"
	echo "- tandemd: commit $commit$dirty; OpenSSL $(openssl version | awk '{print $2}')"
	echo "- RabbitMQ: $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo unknown) (Erlang $(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null || echo unknown)), private node, AMQPS listener from tests/rabbitmq/start-private.sh (RMQ_TLS_DIR)"
	echo "- TLS: one CA; RSA 2048 server certificate; both brokers verify_peer + fail_if_no_peer_cert (tandemd's Kafka SSL listener ssl.client.auth = required), the client verifies the server's certificate and host name; the protocol version and cipher are the defaults each side negotiates (tandemd with OpenSSL s_client: TLS 1.3, TLS_AES_256_GCM_SHA384; RabbitMQ's not checked)"
	echo "- client: tandem-perf: AMQPS through rabbitmq-c's SSL socket ($(dpkg-query -W -f='${Version}' librabbitmq4 2>/dev/null || echo unknown)), Kafka SSL through librdkafka ($(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null || echo unknown)) with security.protocol=ssl; one thread and one connection per producer and consumer, on the same machine"
	echo
	echo '```'
	echo "$invocation"
	echo '```'
	echo
	echo "$ROUNDS round(s), ${D} s of publishing per scenario, brokers alternating which goes first and plaintext and TLS alternating within a broker each round; took ${elapsed} s. tandem-perf arguments (plus \`-h localhost:PORT\`, and \`$TLS_ARGS_SHOWN\` for TLS):"
	echo
	for s in "${scenarios[@]}"; do want "$s" && echo "- $s: \`${args[$s]}\`"; done
	echo
	cat "$table"
	echo
	echo "Medians of the rounds. Rates are the consumers' receive rate (kafka-produce: records the broker acknowledged). RabbitMQ 3.10 has no Kafka protocol: its Kafka columns say n/a."
	echo
	echo "### Where TLS costs"
	echo
	echo "- Every byte is encrypted once by its sender and decrypted once by its receiver, on the CPU of whoever holds that connection. tandemd does all of it on its one event-loop thread: one core encrypts and decrypts for every connection it serves. RabbitMQ spreads its connections' TLS over Erlang schedulers (one per core), but one connection's TLS still runs on one of them at a time. The client pays the same again: each tandem-perf producer and consumer is one thread, so one connection's TLS is at most one core, and on a 2-core machine the broker's loop, the producer and the consumer share two cores."
	echo "- **Small AMQP messages**: each TLS record costs the same fixed work on both sides whatever it carries, so what counts is how many messages share one. tandemd runs OpenSSL over a socket bufferevent (src/net/tls.c): one read takes every record that has arrived (up to 64 KiB), and what the protocol wrote in one loop turn is handed to OpenSSL in pieces of up to 16 KiB, one record each (src/net/net.c), which leave in one writev. Measured with \`strace -c -f\` on tandemd moving 100,000 messages of 100 B over AMQPS (one producer, one consumer, autoack): about 4,500 readv, 4,500 writev and 4,500 epoll_wait, as plaintext's about 4,000 readv and 4,000 writev (before, with OpenSSL on the socket itself: about 200,000 read, 100,000 write, 100,000 epoll_wait and 100,000 epoll_ctl, one record per read event read as its 5-byte header then its body, and one record and one write per evbuffer chain). The client still sends one record per message (tandem-perf writes each publish as it goes, \`-b 1\`): decrypting those is most of what tandemd pays over plaintext."
	echo "- 4 KiB messages: the cost is the cipher's work on the bytes (AES-GCM with AES-NI) plus the copies through OpenSSL's buffers; the client's publishes are one record each, tandemd's deliveries share records of 16 KiB."
	echo "- Kafka batches records, so one TLS record carries many of them: produce and consume lose little, and most of what they lose is the cipher on the bytes. Under TLS a Fetch cannot go out with sendfile: the log's bytes are read and encrypted in user space."
	echo "- The handshake (RSA 2048 signature, ECDHE) is paid once per connection and is not in these long-running numbers."
	echo "- The machine is shared: the load averages above say how busy it was; the ratios within one broker (TLS / plain, run back to back) hold better than the absolute rates."
	echo
	echo "### Every run"
	echo
	cat "$raw"
} >"$section"

echo
cat "$table"
if [ "$OUTPUT" != "-" ]; then
	if [ -f "$OUTPUT" ] && grep -q '^<!-- tls.sh:' "$OUTPUT"; then
		sed -n '/^<!-- tls.sh:/q;p' "$OUTPUT" >"$work/head.md"
	else
		cp "$OUTPUT" "$work/head.md" 2>/dev/null || : >"$work/head.md"
		echo >>"$work/head.md"
	fi
	cat "$work/head.md" "$section" >"$OUTPUT"
	log "wrote the TLS section of $OUTPUT"
fi
