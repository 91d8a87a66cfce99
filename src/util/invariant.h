/*
 * TDM_ASSERT(cond): an invariant of the broker's own bookkeeping (refcounts
 * never below zero, journal offsets handed out in order, ring indices inside
 * the ring).  Checked in debug and sanitizer builds: when TDM_DEBUG_ASSERTS
 * is defined (configure --enable-sanitizers adds it) or the compiler builds
 * with AddressSanitizer or ThreadSanitizer.  A violation prints
 * "file:line: assertion failed: cond" on stderr and aborts, so the test that
 * hit it fails with a core dump at the first wrong step instead of a
 * use-after-free later.  In other builds cond is not evaluated (so it must
 * have no side effects) and costs nothing.
 *
 * Checks that protect data on disk stay on in every build and do not use
 * this macro (see append_run in durable_journal.c).
 *
 * Must not depend on: anything but the C library (any layer may include it;
 * src/net does, for its connection refcount).
 */
#ifndef TANDEM_UTIL_INVARIANT_H
#define TANDEM_UTIL_INVARIANT_H

#if defined(TDM_DEBUG_ASSERTS) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TDM_ASSERTS_ON 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TDM_ASSERTS_ON 1
#endif
#endif
#ifndef TDM_ASSERTS_ON
#define TDM_ASSERTS_ON 0
#endif

#if TDM_ASSERTS_ON
#include <stdio.h>
#include <stdlib.h>

/* Reports a violated invariant and aborts (SIGABRT); never returns. */
static inline _Noreturn void tdm_assert_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	fflush(stderr);
	abort();
}

#define TDM_ASSERT(cond) ((cond) ? (void)0 : tdm_assert_fail(__FILE__, __LINE__, #cond))
#else
/* not evaluated; sizeof keeps it compiled, so its names stay checked */
#define TDM_ASSERT(cond) ((void)sizeof((cond) ? 1 : 0))
#endif

#endif
