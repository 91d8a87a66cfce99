#!/bin/sh
# Builds the JSON reader fuzzer (src/http/json.c) with clang + libFuzzer (no
# configure needed) and runs it for N seconds (default 60) on a copy of the
# committed corpus.  Any crash fails (exit status non-zero); the crasher is
# left in the work directory: copy it into tests/fuzz/corpus/json/ as a
# regression seed once fixed.
#
# Usage: tests/fuzz/run-fuzz-json.sh [SECONDS] [extra libFuzzer flags...]
# Environment: CC (default: clang, else clang-14), FUZZ_WORK (default: a temp dir).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift

if [ -z "${CC:-}" ]; then
	for c in clang clang-14; do
		if command -v "$c" >/dev/null 2>&1; then CC=$c; break; fi
	done
fi
[ -n "${CC:-}" ] || { echo "run-fuzz-json: clang not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }

work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz-json.XXXXXX")}
mkdir -p "$work/corpus"

"$CC" -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$top/src" "$top/tests/fuzz/fuzz_json.c" "$top/src/http/json.c" -lm \
	-o "$work/fuzz_json"

cp "$top"/tests/fuzz/corpus/json/* "$work/corpus/"

status=0
"$work/fuzz_json" -max_total_time="$secs" -artifact_prefix="$work/" -print_final_stats=1 \
	"$@" "$work/corpus" || status=$?

if [ "$status" -ne 0 ]; then
	echo "run-fuzz-json: FAILED (status $status); artifacts:" >&2
	ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null >&2 || true
	exit "$status"
fi
echo "run-fuzz-json: no crash in ${secs}s; corpus grew to $(ls "$work/corpus" | wc -l) inputs in $work/corpus"
