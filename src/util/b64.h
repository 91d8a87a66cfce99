/*
 * base64 (RFC 4648): the standard alphabet with padding (section 4) and the
 * URL-safe alphabet without padding (section 5).  The tree's one copy.
 *
 * Must not depend on anything outside libc.
 */
#ifndef TANDEM_UTIL_B64_H
#define TANDEM_UTIL_B64_H

#include <stddef.h>

/* Characters tu_b64_encode writes for n bytes (without the NUL). */
#define TU_B64_LEN(n) (4 * (((n) + 2) / 3))

/*
 * Encodes in[0..n) in the standard alphabet with '=' padding into out,
 * which holds TU_B64_LEN(n) + 1 bytes; NUL-terminates; returns the length.
 */
size_t tu_b64_encode(const void *in, size_t n, char *out);
/*
 * Encodes in[0..n) in the URL-safe alphabet ('-' and '_') without padding
 * into out, which holds TU_B64_LEN(n) + 1 bytes; NUL-terminates; returns
 * the length (ceil(8n / 6)).
 */
size_t tu_b64url_encode(const void *in, size_t n, char *out);
/*
 * Decodes s[0..len), standard alphabet, padded to a multiple of 4 ('='
 * only in the last two places).  Writes at most 3 * len / 4 bytes to out,
 * which may be s itself (decoding in place).  Returns the byte count, or
 * -1 when s is not such base64 (no whitespace is skipped).
 */
long tu_b64_decode(const char *s, size_t len, void *out);
/*
 * Decodes s[0..len), URL-safe alphabet, unpadded (as tu_b64url_encode
 * writes it), into out, which holds 3 * (len + 3) / 4 bytes.  Returns the
 * byte count, or -1 when s is not such base64.
 */
long tu_b64url_decode(const char *s, size_t len, void *out);

#endif
