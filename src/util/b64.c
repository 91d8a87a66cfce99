/*
 * base64 (RFC 4648); see b64.h.
 *
 * Must not depend on anything outside libc.
 */
#include "b64.h"

#include <stdint.h>

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(const unsigned char *in, size_t n, char *out, const char *a, int pad)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t tu_b64_encode(const void *in, size_t n, char *out)
{
	return encode(in, n, out, std_alphabet, 1);
}

size_t tu_b64url_encode(const void *in, size_t n, char *out)
{
	return encode(in, n, out, url_alphabet, 0);
}

/* Value of a standard-alphabet character, or -1. */
static int digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long tu_b64_decode(const char *s, size_t len, void *out)
{
	unsigned char *o = out;
	size_t n = 0;

	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;

		/* all four characters are read before any byte is written,
		 * which is what makes decoding in place safe */
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = digit(s[i + k])) < 0) {
				return -1;
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		o[n++] = (unsigned char)(x >> 16);
		if (pad < 2)
			o[n++] = (unsigned char)(x >> 8);
		if (pad < 1)
			o[n++] = (unsigned char)x;
	}
	return (long)n;
}

long tu_b64url_decode(const char *s, size_t len, void *out)
{
	unsigned char *o = out;
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1; /* no byte count encodes to that many characters */
	for (size_t i = 0; i < len; i++) {
		int d = s[i] == '-' ? 62 : s[i] == '_' ? 63 : s[i] == '+' || s[i] == '/' ? -1
											: digit(s[i]);

		if (d < 0)
			return -1;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)n;
}
