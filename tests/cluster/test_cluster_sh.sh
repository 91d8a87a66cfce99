#!/bin/sh
# scripts/cluster.sh up 3 | status | down against this build's tandemd: one
# ZooKeeper line and three node lines in the documented format, every
# listener answering, distinct ports and data directories, status prints the
# same lines, a second `up` is refused, and after `down` no process of the
# cluster is left and status says none runs.
#
# Must not depend on: anything but bash, this build's src/tandemd and
# Debian's zookeeper package (FAILS naming it when missing).
set -u
top=${srcdir:-$(dirname "$0")/../..}
bin=${TANDEMD:-$(pwd)/src/tandemd}
state=$(mktemp -d "${TMPDIR:-/tmp}/tandem-cluster-test.XXXXXX")
export TANDEM_CLUSTER_DIR="$state/c" TANDEMD="$bin" TANDEM_CLUSTER_TIMEOUT=60
fail() {
	echo "FAIL: $*"
	bash "$top/scripts/cluster.sh" down >/dev/null 2>&1
	rm -rf "$state"
	exit 1
}
[ -x "$bin" ] || fail "no tandemd at $bin"
[ -f /usr/share/java/zookeeper.jar ] || fail "ZooKeeper is not installed: apt-get install zookeeper"

up=$(bash "$top/scripts/cluster.sh" up 3) || fail "cluster.sh up 3 failed: $up"
echo "$up"
[ "$(echo "$up" | wc -l)" -eq 4 ] || fail "up printed $(echo "$up" | wc -l) lines, not 4"
echo "$up" | head -n 1 | grep -Eqx 'zookeeper=127\.0\.0\.1:[0-9]+ pid=[0-9]+' ||
	fail "bad zookeeper line"
for id in 1 2 3; do
	echo "$up" | grep -Eqx "node=$id amqp=127\.0\.0\.1:[0-9]+ kafka=127\.0\.0\.1:[0-9]+ http=127\.0\.0\.1:[0-9]+ pid=[0-9]+ data=/.*/node-$id/data" ||
		fail "no well-formed line for node $id"
done
ports=$(echo "$up" | grep -Eo '127\.0\.0\.1:[0-9]+' | cut -d: -f2)
[ "$(echo "$ports" | sort -u | wc -l)" -eq 10 ] || fail "ports are not 10 distinct ones: $ports"
for p in $ports; do
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null || fail "nothing answers on port $p"
done
pids=$(echo "$up" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
[ "$(echo "$pids" | wc -l)" -eq 4 ] || fail "not 4 pids"
st=$(bash "$top/scripts/cluster.sh" status) || fail "status failed while the cluster runs"
[ "$st" = "$up" ] || fail "status printed other lines than up: $st"
if bash "$top/scripts/cluster.sh" up 2 >/dev/null 2>&1; then
	fail "a second up on a running cluster was accepted"
fi
bash "$top/scripts/cluster.sh" down || fail "down failed"
for pid in $pids; do
	if kill -0 "$pid" 2>/dev/null; then
		fail "pid $pid still runs after down"
	fi
done
if bash "$top/scripts/cluster.sh" status >/dev/null 2>&1; then
	fail "status says something runs after down"
fi
rm -rf "$state"
echo "PASS: up 3, status, down"
