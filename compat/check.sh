#!/bin/sh
# `make check` hook (compat/include.am): the compat suite against the tandemd
# this build tree made. Missing client packages make it FAIL, not SKIP (a
# skipped test is not a passing one); scripts/setup.sh --test installs them.
# The automake test driver runs this from the top build directory with
# $srcdir exported.
srcdir=${srcdir:-.}
TANDEMD=${TANDEMD:-$(pwd)/src/tandemd}
export TANDEMD
exec bash "$srcdir/compat/run" "$@"
