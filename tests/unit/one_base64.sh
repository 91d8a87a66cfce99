#!/bin/sh
# The tree has one base64 (issue 12): src/util/b64.c.  Fails when C code
# elsewhere carries a base64 alphabet or a hand-written base64 digit
# decoder.  Usage: one_base64.sh [SRCDIR] (make check passes $srcdir).
top=${1:-${srcdir:-.}}
cd "$top" || exit 99
found=$(grep -rnE --include='*.c' --include='*.h' \
	-e 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz' \
	-e "'a'[[:space:]]*\+[[:space:]]*26" \
	-e "'\+'\)?[[:space:]]*(return|\?)[[:space:]]*62" \
	src exchange logstore tests compat 2>/dev/null |
	grep -v -e '^src/util/' -e '^tests/unit/test_util\.c:')
if [ -n "$found" ]; then
	echo "base64 outside src/util (use src/util/b64.h):"
	echo "$found"
	exit 1
fi
exit 0
