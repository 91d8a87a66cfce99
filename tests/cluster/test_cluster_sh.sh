#!/bin/sh
# scripts/cluster.sh up 3 | status | kill ID | stop ID | start ID | down
# against this build's tandemd: one ZooKeeper line and three node lines in
# the documented format, every listener answering, distinct ports and data
# directories, status prints the same lines, a second `up` is refused;
# `kill 2` ends node 2's process (status drops its line), `stop 3` too,
# `start` of a running node or of a node that was never made is refused,
# `start 2` and `start 3` bring them back on the same ports and data
# directories (a new pid, listeners answering, status has every line again);
# after `down` no process of the cluster is left and status says none runs.
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

# kill / stop / start one node
line_of() { echo "$1" | grep "^node=$2 "; }
if bash "$top/scripts/cluster.sh" start 1 >/dev/null 2>&1; then
	fail "start of node 1, which runs, was accepted"
fi
if bash "$top/scripts/cluster.sh" start 7 >/dev/null 2>&1; then
	fail "start of node 7, which up never made, was accepted"
fi
if bash "$top/scripts/cluster.sh" kill 7 >/dev/null 2>&1; then
	fail "kill of node 7, which up never made, was accepted"
fi
for step in "kill 2" "stop 3"; do
	id=${step#* }
	old=$(line_of "$up" "$id")
	oldpid=$(echo "$old" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
	# shellcheck disable=SC2086 # two words
	bash "$top/scripts/cluster.sh" $step || fail "$step failed"
	if kill -0 "$oldpid" 2>/dev/null; then
		fail "pid $oldpid of node $id still runs after $step"
	fi
	st=$(bash "$top/scripts/cluster.sh" status) || fail "status failed after $step"
	[ "$(echo "$st" | wc -l)" -eq 3 ] || fail "status after $step printed: $st"
	line_of "$st" "$id" >/dev/null && fail "status still lists node $id after $step"
	# shellcheck disable=SC2086 # two words
	if bash "$top/scripts/cluster.sh" $step >/dev/null 2>&1; then
		fail "$step of a node that does not run was accepted"
	fi
	new=$(bash "$top/scripts/cluster.sh" start "$id") || fail "start $id after $step failed: $new"
	echo "$new"
	[ "$(echo "$new" | wc -l)" -eq 1 ] || fail "start $id printed $(echo "$new" | wc -l) lines, not 1"
	newpid=$(echo "$new" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
	[ -n "$newpid" ] && [ "$newpid" != "$oldpid" ] || fail "start $id: pid $newpid, was $oldpid"
	[ "$(echo "$new" | sed 's/ pid=[0-9]*//')" = "$(echo "$old" | sed 's/ pid=[0-9]*//')" ] ||
		fail "start $id: not the ports and data directory it had: $new (was $old)"
	for p in $(echo "$new" | grep -Eo '127\.0\.0\.1:[0-9]+' | cut -d: -f2); do
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null || fail "nothing answers on port $p after start $id"
	done
	up=$(echo "$up" | awk -v id="$id" -v new="$new" '$1 == "node=" id { print new; next } { print }')
	pids=$(echo "$pids" | sed "s/^$oldpid\$/$newpid/")
done
st=$(bash "$top/scripts/cluster.sh" status) || fail "status failed after the restarts"
[ "$st" = "$up" ] || fail "status after the restarts printed: $st (expected $up)"
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
echo "PASS: up 3, status, kill, stop, start, down"
