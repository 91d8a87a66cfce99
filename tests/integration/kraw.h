/*
 * Kafka requests and answers built and read by hand, for the raw-socket
 * tests: a write buffer (big-endian integers, strings; the flexible
 * versions' unsigned varints and compact strings) and a read cursor over
 * an answer.  Check assertions on what does not fit.
 */
#ifndef TANDEM_TESTS_KRAW_H
#define TANDEM_TESTS_KRAW_H

#include <check.h>
#include <stdint.h>
#include <string.h>

struct wb {
	uint8_t d[8192];
	size_t n;
};
static inline void w8(struct wb *b, uint8_t v) { b->d[b->n++] = v; }
static inline void w16(struct wb *b, int16_t v) { w8(b, (uint8_t)((uint16_t)v >> 8)); w8(b, (uint8_t)v); }
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
static inline void wstr(struct wb *b, const char *s)
{
	if (!s) {
		w16(b, -1);
		return;
	}
	w16(b, (int16_t)strlen(s));
	memcpy(b->d + b->n, s, strlen(s));
	b->n += strlen(s);
}

struct rb {
	const uint8_t *p;
	size_t n, off;
};
static inline int16_t r16(struct rb *r) { int16_t v = (int16_t)(r->p[r->off] << 8 | r->p[r->off + 1]); r->off += 2; return v; }
static inline int32_t r32(struct rb *r)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | r->p[r->off++];
	return (int32_t)v;
}
static inline int64_t r64(struct rb *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | r->p[r->off++];
	return (int64_t)v;
}
static inline void rskipstr(struct rb *r) { int16_t l = r16(r); if (l > 0) r->off += (size_t)l; }

/* Flexible-version (KIP-482) helpers: unsigned varints and compact
 * strings (length + 1). */
static inline void wuv(struct wb *b, uint32_t v)
{
	while (v >= 0x80) {
		w8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	w8(b, (uint8_t)v);
}
static inline void wcstr(struct wb *b, const char *s)
{
	wuv(b, s ? (uint32_t)strlen(s) + 1 : 0);
	if (s) {
		memcpy(b->d + b->n, s, strlen(s));
		b->n += strlen(s);
	}
}
static inline uint32_t ruv(struct rb *r)
{
	uint32_t v = 0;
	for (int shift = 0;; shift += 7) {
		uint8_t x = r->p[r->off++];
		v |= (uint32_t)(x & 0x7f) << shift;
		if (!(x & 0x80))
			return v;
	}
}
/* A compact string into out (cap bytes); its length, -1 for null. */
static inline int rcstr(struct rb *r, char *out, size_t cap)
{
	uint32_t n = ruv(r);
	if (n == 0)
		return -1;
	ck_assert_uint_lt(n - 1, cap);
	memcpy(out, r->p + r->off, n - 1);
	out[n - 1] = '\0';
	r->off += n - 1;
	return (int)(n - 1);
}

static inline void rstrcpy(struct rb *r, char *buf, size_t cap)
{
	int16_t l = r16(r);
	size_t n = l > 0 ? (size_t)l : 0;

	ck_assert_uint_lt(n, cap);
	memcpy(buf, r->p + r->off, n);
	buf[n] = '\0';
	r->off += n;
}


static inline void wuuid(struct wb *b, const uint8_t id[16])
{
	memcpy(b->d + b->n, id, 16);
	b->n += 16;
}
static inline void ruuid(struct rb *r, uint8_t id[16])
{
	memcpy(id, r->p + r->off, 16);
	r->off += 16;
}

#endif
