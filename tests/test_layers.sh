#!/bin/sh
# The folders' dependency rules (README "Layout", DESIGN.md), checked on the
# sources' #include lines: dependencies run one way, downward.
#   src/util          libc only
#   exchange/         libc and src/util
#   logstore/         libc, zlib and src/util
#   src/core          no libevent, no threads, no front end, no net; of the
#                     AMQP front end only its neutral codec (amqp/codec.h)
#   src/net           libevent; none of core or the front ends
#   src/amqp          core, net; not kafka or http
#   src/kafka         core, net; not amqp or http
#   src/http          core, net, the AMQP codec; not kafka or the AMQP front end
#   src/cluster       core, net, util, libevent, ZooKeeper; of the front ends
#                     only the neutral codecs (amqp/codec.h, kafka/proto.h);
#                     never logstore (core is its only door); and no layer
#                     below includes it (only src/tandemd.c wires it in)
# The build enforces the same where it can (each layer is compiled with only
# the include paths it may use); this check names the offending lines.
# Then it proves itself: a scratch tree with one violation per rule must
# fail with every one of them named.
#
# Must not depend on: a build (it reads the sources under $srcdir).
set -u
top=${srcdir:-$(dirname "$0")/..}

# forbid DIR PATTERN WHY: fails when a file under DIR includes PATTERN
# (an extended regexp matched against the included name).
forbid() {
	dir=$1 pat=$2 why=$3
	[ -d "$dir" ] || return 0
	hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pat)" "$dir" \
		--include='*.c' --include='*.h')
	if [ -n "$hits" ]; then
		echo "FAIL: $why:"
		echo "$hits"
		return 1
	fi
	return 0
}

check_tree() {
	t=$1 rc=0
	forbid "$t/src/util" '(core|net|amqp|kafka|http|exchange|logstore)/|event2/' \
		"src/util uses libc only" || rc=1
	forbid "$t/exchange" '(core|net|amqp|kafka|http|logstore)/|event2/|pthread\.h' \
		"exchange/ is pure routing (libc and src/util)" || rc=1
	forbid "$t/logstore" '(core|net|amqp|kafka|http|exchange)/|event2/' \
		"logstore/ knows no event loop and no broker" || rc=1
	forbid "$t/src/core" 'event2/|pthread\.h|(net|kafka|http)/|amqp/([^c]|c[^o]|co[^d])' \
		"src/core has no libevent, no threads and no front end (amqp/codec.h only)" || rc=1
	forbid "$t/src/net" '(core|amqp|kafka|http)/' "src/net knows no broker" || rc=1
	forbid "$t/src/amqp" '(kafka|http)/' "the AMQP front end does not call the other front ends" || rc=1
	forbid "$t/src/kafka" '(amqp|http)/' "the Kafka front end does not call the other front ends" || rc=1
	forbid "$t/src/http" 'kafka/|amqp/([^c]|c[^o]|co[^d])' \
		"the HTTP API uses the AMQP codec only, never the front ends" || rc=1
	forbid "$t/src/cluster" 'http/|logstore/|amqp/([^c]|c[^o]|co[^d])|kafka/([^p]|p[^r]|pr[^o])' \
		"src/cluster uses core, net and the neutral codecs, never a front end or logstore" || rc=1
	for d in src/util exchange logstore src/core src/net src/amqp src/kafka src/http; do
		forbid "$t/$d" 'cluster/' "$d must not include src/cluster (it sits above them)" || rc=1
	done
	return $rc
}

if ! ls "$top"/src/core/*.c >/dev/null 2>&1; then
	echo "FAIL: no sources under $top/src (srcdir=$top)"
	exit 1
fi
status=0
check_tree "$top" || status=1

# The check catches what it is for: one violation per rule in a scratch tree.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for f in "src/util/u.c:core/log.h" "exchange/e.c:event2/event.h" "logstore/l.c:core/topics.h" \
	"src/core/c.c:event2/event.h" "src/core/d.c:amqp/am.h" "src/net/n.c:core/broker.h" \
	"src/amqp/a.c:kafka/kf.h" "src/kafka/k.c:http/hx.h" "src/http/h.c:amqp/am.h" \
	"src/cluster/c.c:kafka/kf.h" "src/cluster/l.c:logstore/logstore.h" "src/core/z.c:cluster/zk.h"; do
	file=${f%%:*} inc=${f#*:}
	mkdir -p "$tmp/$(dirname "$file")"
	printf '#include "%s"\n' "$inc" >"$tmp/$file"
done
printf '#include "amqp/codec.h"\n' >"$tmp/src/core/ok.c" # allowed: must not be named
printf '#include "kafka/proto.h"\n#include "core/replica.h"\n' >"$tmp/src/cluster/ok.c" # allowed
out=$(check_tree "$tmp")
n=$(printf '%s\n' "$out" | grep -c '^FAIL')
if [ "$n" -ne 10 ] || printf '%s\n' "$out" | grep -q 'ok\.c' ||
   ! printf '%s\n' "$out" | grep -q 'src/core/d\.c' ||
   ! printf '%s\n' "$out" | grep -q 'src/cluster/l\.c' ||
   ! printf '%s\n' "$out" | grep -q 'src/core/z\.c'; then
	echo "FAIL: the layering check does not catch injected violations as it should:"
	echo "$out"
	status=1
fi
exit $status
