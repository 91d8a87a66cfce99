#!/bin/sh
# Core is the only door to logstore (issue 12): the front ends call tdm_*
# (core/topics.h, core/topic_ops.h, core/groups.h), never ls_*, and
# logstore/logstore.h is included by nobody above core.  Fails, naming the
# lines, when either rule is broken.
#
# Must not depend on: a build (it reads the sources under $srcdir).
set -u
top=${srcdir:-$(dirname "$0")/..}
fronts="$top/src/kafka $top/src/http $top/src/amqp"
status=0

# The sources are where we look (else every grep below would pass).
for d in $fronts; do
	if ! ls "$d"/*.c >/dev/null 2>&1; then
		echo "FAIL: no C sources in $d (srcdir=$top)"
		exit 1
	fi
done

# 1. No logstore call from a front end: an identifier starting with "ls_"
#    followed by "(" (tdm_tls_new( is not one).
calls=$(grep -rnE '(^|[^A-Za-z0-9_])ls_[a-z_]*\(' $fronts)
if [ -n "$calls" ]; then
	echo "FAIL: front ends call logstore directly (use core's tdm_* calls):"
	echo "$calls"
	status=1
fi

# 2. Nobody above core includes logstore.h: only src/core, logstore/ and
#    tests may.
incl=$(find "$top/src" "$top/exchange" -name '*.[ch]' ! -path "$top/src/core/*" \
	-exec grep -ln '#include "logstore/logstore.h"' {} +)
if [ -n "$incl" ]; then
	echo "FAIL: logstore/logstore.h included outside src/core, logstore/ and tests:"
	echo "$incl"
	status=1
fi

# 3. Nor the store handle itself (core and tests only).
store=$(grep -rn 'tdm_topics_store(' $fronts $top/src/tools $top/src/net $top/src/tandemd.c)
if [ -n "$store" ]; then
	echo "FAIL: tdm_topics_store used above core:"
	echo "$store"
	status=1
fi

# The checks themselves catch what they are for: an injected call and
# include in a scratch copy of one front-end file are found.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/kafka"
printf '#include "logstore/logstore.h"\nstatic int f(void) { return ls_log_end(0); }\n' \
	>"$tmp/src/kafka/injected.c"
if ! grep -rqn 'ls_[a-z_]*(' "$tmp/src/kafka" ||
   [ -z "$(find "$tmp/src" -name '*.[ch]' -exec grep -ln '#include "logstore/logstore.h"' {} +)" ]; then
	echo "FAIL: the checks do not catch an injected logstore call or include"
	status=1
fi

[ $status -eq 0 ] && echo "PASS: front ends reach logstore only through core"
exit $status
