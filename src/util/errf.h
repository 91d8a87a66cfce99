/*
 * The "char *err, size_t errlen" convention of the configuration, auth and
 * storage code: one formatter for it.
 *
 * Must not depend on anything outside libc.
 */
#ifndef TANDEM_UTIL_ERRF_H
#define TANDEM_UTIL_ERRF_H

#include <stddef.h>

/* Formats into err[0..errlen) (truncating); does nothing when err is NULL
 * or errlen is 0. */
void tu_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
