#!/bin/sh
# Names a newcomer can find (issue 12, point 8).  Fails, naming the files or
# lines, when:
#  1. a header of ours is named like a client library's (amqp.h,
#     amqp_*.h: rabbitmq-c's; rdkafka.h, rdkafka_*.h: librdkafka's): tests
#     include both kinds, and with the wrong -I ours would shadow theirs;
#  2. a source still includes the AMQP front end's old header
#     "amqp/amqp.h" (now amqp/am.h) or a bare "amqp.h";
#  3. an AMQP method handler (am_h_*) is defined outside the one naming
#     scheme of src/amqp: the handlers of class X are in class_X.c (or
#     class_X_<part>.c); the machinery keeps plain names.
# Then shows, on a scratch tree, that each rule catches what it is for.
#
# Must not depend on: a build (it reads the sources under $srcdir).
set -u
top=${srcdir:-$(dirname "$0")/..}

# The sources are where we look (else every check below would pass).
if ! ls "$top"/src/amqp/*.c >/dev/null 2>&1; then
	echo "FAIL: no C sources in $top/src/amqp (srcdir=$top)"
	exit 1
fi

# check ROOT: prints what breaks the rules under ROOT; status 1 if anything.
check()
{
	root=$1
	bad=0
	dirs=
	for d in src exchange logstore tests; do
		[ -d "$root/$d" ] && dirs="$dirs $root/$d"
	done
	shadow=$(find $dirs \( -name amqp.h -o -name 'amqp_*.h' -o -name rdkafka.h \
		-o -name 'rdkafka_*.h' \) -print)
	if [ -n "$shadow" ]; then
		echo "FAIL: headers named like a client library's (rename them, e.g. src/amqp/am.h):"
		echo "$shadow"
		bad=1
	fi
	incl=$(find $dirs -name '*.[ch]' -exec grep -Hn '#[ \t]*include[ \t]*"\(amqp/\)\{0,1\}amqp\.h"' {} +)
	if [ -n "$incl" ]; then
		echo "FAIL: the AMQP front end's header is \"amqp/am.h\":"
		echo "$incl"
		bad=1
	fi
	handlers=$(for f in "$root"/src/amqp/*.c; do
		[ -f "$f" ] || continue
		case ${f##*/} in class_*.c) continue ;; esac
		grep -Hn '^int am_h_[a-z_]*(' "$f"
	done)
	if [ -n "$handlers" ]; then
		echo "FAIL: AMQP handlers outside src/amqp/class_<class>.c:"
		echo "$handlers"
		bad=1
	fi
	return $bad
}

check "$top"
status=$?

# The rules catch what they are for: each injected mistake, alone in a
# scratch tree, is found.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
inject()
{
	rm -rf "$tmp/t" && mkdir -p "$tmp/t/src/amqp" "$tmp/t/tests/unit" &&
		printf '#include "amqp/am.h"\n' >"$tmp/t/src/amqp/ok.c" || exit 1
	printf '%s\n' "$2" >"$tmp/t/$1"
	if check "$tmp/t" >/dev/null; then
		echo "FAIL: the checks miss $1 holding: $2"
		status=1
	fi
}
inject src/amqp/amqp.h '/* shadows <amqp.h> */'
inject tests/unit/rdkafka.h '/* shadows <rdkafka.h> */'
inject src/amqp/x.c '#include "amqp/amqp.h"'
inject tests/unit/x.c '#include "amqp.h"'
inject src/amqp/h_queue.c 'int am_h_queue_purge(struct am_conn *c)'
# ... and a clean scratch tree passes (the checks do not fail on anything).
rm -rf "$tmp/t" && mkdir -p "$tmp/t/src/amqp" &&
	printf '#include "amqp/am.h"\n#include <amqp.h>\n' >"$tmp/t/src/amqp/ok.c" &&
	printf 'int am_h_queue_purge(struct am_conn *c)\n' >"$tmp/t/src/amqp/class_queue.c"
if ! check "$tmp/t" >/dev/null; then
	echo "FAIL: the checks reject a clean tree"
	status=1
fi

[ $status -eq 0 ] && echo "PASS: no header shadows a client library's, nobody includes amqp/amqp.h," \
	"AMQP handlers are in src/amqp/class_<class>.c"
exit $status
