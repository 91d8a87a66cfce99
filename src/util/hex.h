/*
 * Lower-case hexadecimal digits.  The tree's one copy.
 *
 * Must not depend on anything outside libc.
 */
#ifndef TANDEM_UTIL_HEX_H
#define TANDEM_UTIL_HEX_H

#include <stddef.h>

/* The digit for v & 15: '0'..'9', 'a'..'f'. */
char tu_hex_digit(unsigned v);
/* The same in upper case ('A'..'F'), as percent-encoding writes it. */
char tu_hex_upper(unsigned v);
/* Writes 2n lower-case digits of in[0..n) and a NUL into out (2n + 1 bytes);
 * returns 2n. */
size_t tu_hex_encode(const void *in, size_t n, char *out);
/* Value of hex digit c (either case), or -1. */
int tu_hex_value(char c);

#endif
