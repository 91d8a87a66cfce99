#!/usr/bin/env bash
# A private standalone ZooKeeper (Debian's `zookeeper` package) for the tests
# and for scripts/cluster.sh:
#
#   tests/cluster/zk.sh start DIR [PORT]  writes DIR/zoo.cfg (127.0.0.1 only, a
#                                         free port unless PORT is given, data in
#                                         DIR/data, admin server off, four-letter
#                                         words ruok and stat), starts ZooKeeper
#                                         in the background, waits until it
#                                         answers ruok with imok (at most
#                                         ZK_START_TIMEOUT seconds, 60), prints
#                                         `zookeeper=127.0.0.1:PORT pid=PID`
#                                         (with ZK_OWNER_PID set, it is
#                                         also killed once that process is
#                                         gone)
#   tests/cluster/zk.sh stop DIR          stops it by the PID in DIR/zookeeper.pid
#                                         (TERM, then KILL after 10 s)
#   tests/cluster/zk.sh status DIR        prints the same line if it runs; exit 1
#                                         if it does not
#
# ZooKeeper's own log goes to DIR/zookeeper.log (its stdout and stderr to
# DIR/zookeeper.out).  Fails naming the package when ZooKeeper is not
# installed.  Runs java directly (what zkServer.sh start-foreground runs)
# so that the log lands in DIR rather than in /var/log/zookeeper.
#
# Must not depend on: a build of tandem.
set -euo pipefail

ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
JAVA=${JAVA:-java}

die() { echo "zk.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start DIR [PORT] | stop DIR | status DIR"; }

free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 "$(dirname "$0")/../../scripts/free-ports"
		return
	fi
	local p
	for _ in $(seq 1 50); do # no python: a random port nobody answers on
		p=$((10000 + RANDOM % 22000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# ruok PORT: 0 when ZooKeeper answers imok.
ruok() {
	local ans
	ans=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf ruok >&3 && cat <&3" 2>/dev/null) || true
	[ "$ans" = imok ]
}

alive() { [ -f "$1/zookeeper.pid" ] && kill -0 "$(cat "$1/zookeeper.pid")" 2>/dev/null; }

line() { echo "zookeeper=127.0.0.1:$(cat "$1/port") pid=$(cat "$1/zookeeper.pid")"; }

start() {
	local dir=$1 port=${2:-}
	[ -f "$ZK_JAR" ] || die "ZooKeeper is not installed ($ZK_JAR missing): apt-get install zookeeper"
	command -v "$JAVA" >/dev/null 2>&1 || die "java not found (the zookeeper package brings default-jre)"
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	if alive "$dir"; then
		line "$dir"
		return 0
	fi
	[ -n "$port" ] || port=$(free_port)
	echo "$port" >"$dir/port"
	cat >"$dir/zoo.cfg" <<EOF
# written by tests/cluster/zk.sh: a private standalone ZooKeeper
tickTime=${ZK_TICK_MS:-2000}
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
EOF
	cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$dir/zookeeper.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
EOF
	local cp="$ZK_JAR"
	for j in slf4j-log4j12.jar log4j-1.2.jar; do
		[ -f "/usr/share/java/$j" ] && cp="$cp:/usr/share/java/$j"
	done
	# setsid: its own process group, so a test runner's signals to ours
	# do not reach it and stop kills exactly it.
	setsid "$JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dzookeeper.log.dir="$dir" -Dlog4j.configuration="file:$dir/log4j.properties" \
		-Dzookeeper.jmx.log4j.disable=true \
		-cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
		</dev/null >"$dir/zookeeper.out" 2>&1 &
	echo $! >"$dir/zookeeper.pid"
	[ -n "${ZK_OWNER_PID:-}" ] && watch_owner "$dir" "$ZK_OWNER_PID" "$!"
	local limit=$(( ${ZK_START_TIMEOUT:-60} * 10 )) i
	for ((i = 0; i < limit; i++)); do
		if ruok "$port"; then
			line "$dir"
			return 0
		fi
		if ! alive "$dir"; then
			tail -n 20 "$dir/zookeeper.out" "$dir/zookeeper.log" >&2 2>/dev/null || true
			rm -f "$dir/zookeeper.pid"
			die "ZooKeeper exited at start (logs in $dir)"
		fi
		sleep 0.1
	done
	stop "$dir"
	die "ZooKeeper did not answer ruok on 127.0.0.1:$port within ${ZK_START_TIMEOUT:-60} s (logs in $dir)"
}

# watch_owner DIR OWNER ZKPID: a test killed outright (a runner's timeout
# sends SIGKILL) runs no teardown; ZooKeeper, in its own session, would
# outlive it.  A detached watcher stops it once the owner process is gone.
watch_owner() {
	local dir=$1 owner=$2 zkpid=$3
	setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
		kill -0 "$2" 2>/dev/null && kill -KILL "$2" 2>/dev/null; exit 0' \
		zk-owner "$owner" "$zkpid" </dev/null >/dev/null 2>&1 &
}

stop() {
	local dir=$1 pid i
	[ -f "$dir/zookeeper.pid" ] || return 0
	pid=$(cat "$dir/zookeeper.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$dir/zookeeper.pid"
}

[ $# -ge 2 ] || usage
case $1 in
start) start "$2" "${3:-}" ;;
stop) stop "$2" ;;
status)
	if alive "$2"; then line "$2"; else exit 1; fi
	;;
*) usage ;;
esac
