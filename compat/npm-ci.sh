#!/usr/bin/env bash
# compat/npm-ci.sh PACKAGE_DIR NAME: installs the node modules that
# PACKAGE_DIR/package-lock.json pins into $COMPAT_NODE_DIR/NAME (npm ci, only
# when the installed versions differ from the lock) and prints that
# directory's node_modules for NODE_PATH. Nothing is written to the source
# tree: make check-compat sets COMPAT_NODE_DIR under the build directory;
# run by hand, the default is build/compat-node in the checkout (git ignores
# build/).
set -uo pipefail
src=${1:?package dir}
name=${2:?name}
top=$(cd "$(dirname "$0")/.." && pwd)
base=${COMPAT_NODE_DIR:-$top/build/compat-node}
dest="$base/$name"
mkdir -p "$dest" || exit 1
[ -f "$top/build/.gitignore" ] || { [ -d "$top/build" ] && echo '*' >"$top/build/.gitignore"; }
if ! cmp -s "$src/package-lock.json" "$dest/package-lock.json" || [ ! -d "$dest/node_modules" ]; then
	echo "compat: npm ci for $name in $dest" >&2
	cp "$src/package.json" "$src/package-lock.json" "$dest/" || exit 1
	rm -rf "$dest/node_modules"
	log=$(mktemp "${TMPDIR:-/tmp}/compat-npm.XXXXXX")
	if ! (cd "$dest" && timeout 300 npm ci --no-audit --no-fund --prefer-offline >"$log" 2>&1); then
		cat "$log" >&2
		rm -f "$log" "$dest/package-lock.json"
		echo "compat: FAIL: npm ci failed in $dest (the npm registry must be reachable once)" >&2
		exit 1
	fi
	rm -f "$log"
fi
echo "$dest/node_modules"
