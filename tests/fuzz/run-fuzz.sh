#!/bin/sh
# Builds one libFuzzer target with clang (no configure needed) and runs it
# for N seconds (default 60) on a copy of its committed corpus.  Any crash
# fails (exit status non-zero); the crasher is left in the work directory,
# printed at the end: copy it into tests/fuzz/corpus/TARGET/ as a
# regression seed once fixed.
#
# Targets: frame (AMQP frames, src/amqp codec), kafka (Kafka request
# decoder), json (the management API's JSON reader), zkdata (the ZooKeeper
# znode decoders), scram (SCRAM messages),
# sasl (the Kafka listener's SASL requests), tls (the TLS-wrapped accept path),
# batch (logstore's RecordBatch parser and its gzip/snappy/lz4/zstd codecs, and
# the legacy message-set conversion).
# Usage: tests/fuzz/run-fuzz.sh [TARGET] [SECONDS] [extra libFuzzer flags...]
#        (TARGET defaults to frame)
# Environment: CC (default: clang, else clang-14), FUZZ_WORK (default: a temp dir).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
target=frame
case "${1:-}" in frame | kafka | json | zkdata | scram | sasl | tls | batch) target=$1; shift ;; esac
secs=${1:-60}
[ $# -gt 0 ] && shift

case "$target" in
frame) srcs="$top/src/amqp/codec.c $top/src/amqp/table.c $top/src/amqp/props.c" libs= ;;
kafka) srcs="$top/src/kafka/decode.c $top/src/kafka/txn_decode.c $top/src/kafka/acl_decode.c" libs= ;;
json) srcs="$top/src/util/json.c $top/src/util/hex.c" libs=-lm ;;
zkdata) srcs="$top/src/cluster/zkdata.c $top/src/util/json.c $top/src/util/hex.c $top/src/util/b64.c" libs=-lm ;;
scram) srcs="$top/src/core/scram.c $top/src/util/b64.c" libs=-lcrypto ;;
sasl)
	srcs="$top/src/kafka/sasl.c $top/src/kafka/authz.c $top/src/kafka/decode.c $top/src/core/scram.c $top/src/core/log.c"
	srcs="$srcs $top/src/util/b64.c $top/src/util/hex.c" libs="-levent -lcrypto" ;;
tls) srcs="$top/src/net/tls.c" libs="-levent_openssl -levent -lssl -lcrypto" ;;
batch)
	srcs="$top/logstore/batch.c $top/logstore/codec.c $top/logstore/crc32c.c $top/logstore/legacy.c"
	libs="-lz -lsnappy -llz4 -lzstd" incs="-I$top/logstore -I$top/src/util" ;;
esac

if [ -z "${CC:-}" ]; then
	for c in clang clang-14; do
		if command -v "$c" >/dev/null 2>&1; then CC=$c; break; fi
	done
fi
[ -n "${CC:-}" ] || { echo "run-fuzz: clang not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }

work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz-$target.XXXXXX")}
mkdir -p "$work/corpus"

# shellcheck disable=SC2086 # srcs and libs are word lists
"$CC" -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$top/src" -I"$top" ${incs:-} "$top/tests/fuzz/fuzz_$target.c" $srcs $libs -o "$work/fuzz_$target"

cp "$top"/tests/fuzz/corpus/"$target"/* "$work/corpus/"

status=0
"$work/fuzz_$target" -max_total_time="$secs" -artifact_prefix="$work/" -print_final_stats=1 \
	"$@" "$work/corpus" || status=$?

if [ "$status" -ne 0 ]; then
	echo "run-fuzz $target: FAILED (status $status); artifacts:" >&2
	ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null >&2 || true
	exit "$status"
fi
echo "run-fuzz $target: no crash in ${secs}s; corpus grew to $(ls "$work/corpus" | wc -l) inputs in $work/corpus"
