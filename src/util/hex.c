/*
 * Hexadecimal digits; see hex.h.
 *
 * Must not depend on anything outside libc.
 */
#include "hex.h"

static const char digits[] = "0123456789abcdef";

char tu_hex_digit(unsigned v)
{
	return digits[v & 15];
}

char tu_hex_upper(unsigned v)
{
	return "0123456789ABCDEF"[v & 15];
}

size_t tu_hex_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return 2 * n;
}

int tu_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
