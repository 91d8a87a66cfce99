#!/usr/bin/env bash
# Set up a Debian 12 machine for tandem and build it.
#
#   scripts/setup.sh          build dependencies, then build (build/main)
#   scripts/setup.sh --test   also what the test suite needs (RabbitMQ, ZooKeeper,
#                             amqp-tools, valgrind, clang for the fuzzer, the compat/ clients:
#                             python3-pika, python3-kombu, python3-amqp, node, npm,
#                             chromium for the console's browser test)
#
# Installs only missing packages, with apt-get (as root, or through sudo).
# Builds out of tree from a clean export of the source (build/src), so a source
# tree that was also configured in place still builds; the build products live
# under build/ (which ignores itself in git).
# Prints the build directory on the last line of its output.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TANDEM_BUILD_DIR:-$ROOT/build}
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '==> %s\n' "$*" >&2; }

# ---- packages ---------------------------------------------------------------
pkgs=(build-essential autoconf automake libtool pkg-config libevent-dev zlib1g-dev libsnappy-dev liblz4-dev
	libzstd-dev libssl-dev openssl check librabbitmq-dev librdkafka-dev libzookeeper-mt-dev git)
if [ "$want_test" = 1 ]; then
	# zookeeper: the server (Java) the cluster tests and scripts/cluster.sh
	# start privately (tests/cluster/zk.sh); the package runs no service
	# python3-confluent-kafka: librdkafka from Python, for compat/kafka's
	# failover rounds (test_cluster_failover_rdkafka.py) and codecs
	# (test_codecs_rdkafka.py); python3-snappy, -lz4, -zstandard: kafka-python's
	# codecs (test_kafka_python.py); golang-go and Debian's Sarama and
	# kafka-go sources: compat/kafka/go (built offline, GOPATH mode)
	pkgs+=(rabbitmq-server amqp-tools valgrind clang libclang-rt-dev procps kcat python3-kafka
		python3-confluent-kafka python3-pika python3-kombu python3-amqp python3-celery chromium zookeeper
		python3-snappy python3-lz4 python3-zstandard
		golang-go golang-github-shopify-sarama-dev golang-github-segmentio-kafka-go-dev)
	# node and npm: Debian's packages, unless a node with npm is already there
	# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package)
	command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
	command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	say "installing: ${missing[*]}"
	SUDO=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
		SUDO=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# The package starts the system RabbitMQ where it can (it would hold
	# 5672); tandem's tests start their own private node instead.
	if printf '%s\n' "${missing[@]}" | grep -qx rabbitmq-server; then
		if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
			say "stopping and disabling the system rabbitmq-server service"
			"${SUDO[@]}" systemctl stop rabbitmq-server || true
			"${SUDO[@]}" systemctl disable rabbitmq-server >/dev/null 2>&1 || true
		elif command -v service >/dev/null 2>&1 && service rabbitmq-server status >/dev/null 2>&1; then
			say "stopping the system rabbitmq-server service"
			"${SUDO[@]}" service rabbitmq-server stop || true
		fi
	fi
fi

# ---- clean export of the source -------------------------------------------
mkdir -p "$BUILD/src"
[ -f "$BUILD/.gitignore" ] || echo '*' >"$BUILD/.gitignore"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked files plus new, not ignored ones: the generated files of an
	# in-place build (configure, Makefile, *.o) are ignored and stay behind.
	# tar keeps modification times, so make rebuilds only what changed.
	(cd "$ROOT" && git ls-files -co --exclude-standard -z -- . ':!build' |
		tar --null -T - -cf -) | tar -C "$BUILD/src" -xf -
else
	if [ -f "$ROOT/config.status" ]; then
		echo "setup: $ROOT is configured in place and is not a git checkout;" \
			"run 'make distclean' there first" >&2
		exit 1
	fi
	tar -C "$ROOT" --exclude=./build --exclude=./.git -cf - . | tar -C "$BUILD/src" -xf -
fi

# ---- configure and build ------------------------------------------------------
# build_tree DIR [configure flags...]: configure once, then make (automake's
# rules rerun autoconf/automake/configure when their inputs change).
build_tree() {
	local dir=$1
	shift
	if [ ! -x "$BUILD/src/configure" ]; then
		say "autoreconf"
		(cd "$BUILD/src" && autoreconf -fi >/dev/null 2>&1) ||
			(cd "$BUILD/src" && autoreconf -fi)
	fi
	mkdir -p "$dir"
	# a tree configured before with other flags (say, before --enable-werror
	# existed) is configured again
	if [ -f "$dir/config.status" ]; then
		local f conf
		conf=$("$dir/config.status" --config)
		for f in "$@"; do
			# autoconf quotes the flags or not, depending on its version
			case " $conf " in *"'$f'"* | *" $f "*) ;; *) rm -f "$dir/config.status" ;; esac
		done
	fi
	if [ ! -f "$dir/config.status" ]; then
		say "configure $* in $dir"
		(cd "$dir" && "$BUILD/src/configure" -q "$@")
	fi
	say "make in $dir"
	make -C "$dir" -s -j"$(nproc 2>/dev/null || echo 2)"
}

# --enable-werror: the export has no .git, and CI builds with -Werror
build_tree "$BUILD/main" --enable-werror
echo "$BUILD/main"
