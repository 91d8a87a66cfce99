/*
 * SipHash-2-4 (Aumasson and Bernstein): a keyed hash for tables whose keys
 * come from clients, so that bucket choice cannot be predicted.  Moved here
 * from exchange/htab.c so the whole tree has one copy.
 *
 * Must not depend on anything outside libc.
 */
#include "siphash.h"

static uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(struct tu_sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static void sip_compress(struct tu_sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

static uint64_t load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

void tu_sip_init(struct tu_sip *s, const uint64_t key[2])
{
	s->v0 = key[0] ^ UINT64_C(0x736f6d6570736575);
	s->v1 = key[1] ^ UINT64_C(0x646f72616e646f6d);
	s->v2 = key[0] ^ UINT64_C(0x6c7967656e657261);
	s->v3 = key[1] ^ UINT64_C(0x7465646279746573);
	s->tail = 0;
	s->len = 0;
}

void tu_sip_update(struct tu_sip *s, const void *p, size_t n)
{
	const unsigned char *b = p;

	/* Top up a partial word first, then take whole words straight. */
	while (n > 0 && (s->len & 7) != 0) {
		s->tail |= (uint64_t)*b++ << (8 * (s->len & 7));
		s->len++;
		n--;
		if ((s->len & 7) == 0) {
			sip_compress(s, s->tail);
			s->tail = 0;
		}
	}
	while (n >= 8) {
		sip_compress(s, load_le64(b));
		s->len += 8;
		b += 8;
		n -= 8;
	}
	while (n > 0) {
		s->tail |= (uint64_t)*b++ << (8 * (s->len & 7));
		s->len++;
		n--;
	}
}

void tu_sip_u64(struct tu_sip *s, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	tu_sip_update(s, b, sizeof b);
}

uint64_t tu_sip_final(const struct tu_sip *s)
{
	struct tu_sip f = *s;
	uint64_t last = f.tail | (uint64_t)(f.len & 0xff) << 56;

	sip_compress(&f, last);
	f.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(&f);
	return f.v0 ^ f.v1 ^ f.v2 ^ f.v3;
}

uint64_t tu_siphash(const uint64_t key[2], const void *p, size_t n)
{
	struct tu_sip s;

	tu_sip_init(&s, key);
	tu_sip_update(&s, p, n);
	return tu_sip_final(&s);
}
