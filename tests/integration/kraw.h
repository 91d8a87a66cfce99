/*
 * Kafka requests and answers built and read by hand, for the raw-socket
 * tests: a write buffer (big-endian integers, strings; the flexible
 * versions' unsigned varints, compact strings, bytes and arrays, tagged
 * fields) and a read cursor over an answer.  Every write and read is
 * checked against the buffer's end (a Check failure, never an overrun).
 */
#ifndef TANDEM_TESTS_KRAW_H
#define TANDEM_TESTS_KRAW_H

#include <check.h>
#include <stdint.h>
#include <string.h>

/* ---- writing requests ---------------------------------------------------- */

struct wb {
	uint8_t d[8192];
	size_t n;
};
static inline void w8(struct wb *b, uint8_t v)
{
	ck_assert_uint_lt(b->n, sizeof(b->d));
	b->d[b->n++] = v;
}
static inline void w16(struct wb *b, int16_t v)
{
	w8(b, (uint8_t)((uint16_t)v >> 8));
	w8(b, (uint8_t)v);
}
static inline void w32(struct wb *b, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		w8(b, (uint8_t)((uint32_t)v >> s));
}
static inline void w64(struct wb *b, int64_t v)
{
	for (int s = 56; s >= 0; s -= 8)
		w8(b, (uint8_t)((uint64_t)v >> s));
}
static inline void wraw(struct wb *b, const void *p, size_t n)
{
	ck_assert_uint_le(b->n + n, sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}
/* A classic string (int16 length; NULL: null). */
static inline void wstr(struct wb *b, const char *s)
{
	w16(b, s ? (int16_t)strlen(s) : -1);
	if (s)
		wraw(b, s, strlen(s));
}
static inline void wuv(struct wb *b, uint32_t v)
{
	while (v >= 0x80) {
		w8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	w8(b, (uint8_t)v);
}
/* A compact string (length + 1; NULL: null). */
static inline void wcstr(struct wb *b, const char *s)
{
	wuv(b, s ? (uint32_t)strlen(s) + 1 : 0);
	if (s)
		wraw(b, s, strlen(s));
}
/* Compact bytes of a C string. */
static inline void wcbytes(struct wb *b, const char *s)
{
	wuv(b, (uint32_t)strlen(s) + 1);
	wraw(b, s, strlen(s));
}
/* A compact array's count (n < 0: null). */
static inline void wcarr(struct wb *b, int n)
{
	wuv(b, n < 0 ? 0 : (uint32_t)n + 1);
}
/* No tagged fields. */
static inline void wtags(struct wb *b)
{
	w8(b, 0);
}
/* A flexible request's body begins with request header v2's tags. */
static inline void flex_begin(struct wb *b)
{
	b->n = 0;
	wtags(b);
}
static inline void wuuid(struct wb *b, const uint8_t id[16])
{
	wraw(b, id, 16);
}

/* ---- reading answers ------------------------------------------------------- */

struct rb {
	const uint8_t *p;
	size_t n, off;
};
static inline const uint8_t *rtake(struct rb *r, size_t n)
{
	ck_assert_uint_le(r->off + n, r->n);
	r->off += n;
	return r->p + r->off - n;
}
static inline int8_t r8(struct rb *r)
{
	return (int8_t)rtake(r, 1)[0];
}
static inline int16_t r16(struct rb *r)
{
	const uint8_t *p = rtake(r, 2);
	return (int16_t)(p[0] << 8 | p[1]);
}
static inline int32_t r32(struct rb *r)
{
	const uint8_t *p = rtake(r, 4);
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}
static inline int64_t r64(struct rb *r)
{
	const uint8_t *p = rtake(r, 8);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}
static inline uint32_t ruv(struct rb *r)
{
	uint32_t v = 0;
	for (int shift = 0; shift <= 28; shift += 7) {
		uint8_t x = (uint8_t)r8(r);
		v |= (uint32_t)(x & 0x7f) << shift;
		if (!(x & 0x80))
			return v;
	}
	ck_abort_msg("varint too long");
	return 0;
}
/* A compact string into out ("" for null); its length, -1 for null. */
static inline int rcstr(struct rb *r, char *out, size_t cap)
{
	uint32_t n = ruv(r);
	out[0] = '\0';
	if (n == 0)
		return -1;
	ck_assert_uint_lt(n - 1, cap);
	memcpy(out, rtake(r, n - 1), n - 1);
	out[n - 1] = '\0';
	return (int)(n - 1);
}
/* A classic string, the same way. */
static inline int rstr(struct rb *r, char *out, size_t cap)
{
	int16_t n = r16(r);
	out[0] = '\0';
	if (n < 0)
		return -1;
	ck_assert_uint_lt((size_t)n, cap);
	memcpy(out, rtake(r, (size_t)n), (size_t)n);
	out[n] = '\0';
	return n;
}
static inline void rstrcpy(struct rb *r, char *buf, size_t cap)
{
	(void)rstr(r, buf, cap);
}
static inline void rskipstr(struct rb *r)
{
	int16_t l = r16(r);
	if (l > 0)
		(void)rtake(r, (size_t)l);
}
/* A compact array's count, -1 for null. */
static inline int32_t rcarr(struct rb *r)
{
	return (int32_t)ruv(r) - 1;
}
/* No tagged fields came. */
static inline void rtags(struct rb *r)
{
	ck_assert_int_eq(r8(r), 0);
}
/* The whole answer was read. */
static inline void rend(struct rb *r)
{
	ck_assert_uint_eq(r->off, r->n);
}
static inline void ruuid(struct rb *r, uint8_t id[16])
{
	memcpy(id, rtake(r, 16), 16);
}

#endif
