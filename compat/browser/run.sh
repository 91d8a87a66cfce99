#!/usr/bin/env bash
# The web console in a real browser (see README.md here): installs
# playwright-core at the version package-lock.json pins (npm ci, once, under
# COMPAT_NODE_DIR: see compat/npm-ci.sh), then
# runs console-test.js against TANDEMD in Debian's Chromium.
#
#   compat/browser/run.sh [TANDEMD] [--screenshot FILE]
#
# TANDEMD defaults to $TANDEMD, else build/main/src/tandemd, else src/tandemd.
# A missing Chromium, node or npm install is a failure, never a skip.
# Prints PASS:/FAIL: lines and 'N passed, N failed'; exit status 1 on failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
say() { printf 'browser: %s\n' "$*" >&2; }
die() { echo "browser: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

tandemd=${TANDEMD:-}
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
	tandemd=$1
	shift
fi
if [ -z "$tandemd" ]; then
	for t in "$root/build/main/src/tandemd" "$root/src/tandemd"; do
		[ -x "$t" ] && { tandemd=$t; break; }
	done
fi
[ -n "$tandemd" ] && [ -x "$tandemd" ] || die "no tandemd to test (build it, or pass its path)"

chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || die "Chromium not found at $chromium: apt-get install -y chromium (scripts/setup.sh --test does)"
command -v node >/dev/null 2>&1 || die "node not found: apt-get install -y nodejs npm"
command -v npm >/dev/null 2>&1 || die "npm not found: apt-get install -y npm"

modules=$("$here/../npm-ci.sh" "$here" playwright-core) || die "could not install playwright-core"
export NODE_PATH="$modules${NODE_PATH:+:$NODE_PATH}"

CHROMIUM=$chromium exec timeout 300 node "$here/console-test.js" "$tandemd" "$@"
