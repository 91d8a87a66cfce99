/*
 * exchange/htab.c: seeded SipHash-2-4 and the intrusive chained hash table
 * used by every routing table in exchange/ (see htab.h for why).
 *
 * Must not depend on anything outside libc.
 */
#include "htab.h"

#include <stdlib.h>
#include <string.h>

#include "exchange.h"

#define HTAB_MIN_BUCKETS 8

static uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(struct ex_sip *s)
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

static void sip_compress(struct ex_sip *s, uint64_t m)
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

void ex_sip_init(struct ex_sip *s, const uint64_t key[2])
{
	s->v0 = key[0] ^ UINT64_C(0x736f6d6570736575);
	s->v1 = key[1] ^ UINT64_C(0x646f72616e646f6d);
	s->v2 = key[0] ^ UINT64_C(0x6c7967656e657261);
	s->v3 = key[1] ^ UINT64_C(0x7465646279746573);
	s->tail = 0;
	s->len = 0;
}

void ex_sip_update(struct ex_sip *s, const void *p, size_t n)
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

void ex_sip_u64(struct ex_sip *s, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	ex_sip_update(s, b, sizeof b);
}

uint64_t ex_sip_final(const struct ex_sip *s)
{
	struct ex_sip f = *s;
	uint64_t last = f.tail | (uint64_t)(f.len & 0xff) << 56;

	sip_compress(&f, last);
	f.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(&f);
	return f.v0 ^ f.v1 ^ f.v2 ^ f.v3;
}

uint64_t ex_siphash(const uint64_t key[2], const void *p, size_t n)
{
	struct ex_sip s;

	ex_sip_init(&s, key);
	ex_sip_update(&s, p, n);
	return ex_sip_final(&s);
}

int ex_htab_init(struct ex_htab *h)
{
	h->buckets = calloc(HTAB_MIN_BUCKETS, sizeof *h->buckets);
	if (h->buckets == NULL)
		return EX_ERR_NOMEM;
	h->mask = HTAB_MIN_BUCKETS - 1;
	h->count = 0;
	return 0;
}

void ex_htab_fini(struct ex_htab *h)
{
	free(h->buckets);
	h->buckets = NULL;
	h->mask = 0;
	h->count = 0;
}

/* Doubles the bucket array; on failure the old one stays in use. */
static void htab_grow(struct ex_htab *h)
{
	size_t old = h->mask + 1;
	size_t nb = old * 2;
	struct ex_hnode **b;

	if (nb > SIZE_MAX / sizeof *b)
		return;
	b = calloc(nb, sizeof *b);
	if (b == NULL)
		return;
	for (size_t i = 0; i < old; i++) {
		struct ex_hnode *n = h->buckets[i];

		while (n != NULL) {
			struct ex_hnode *next = n->next;
			size_t j = n->hash & (nb - 1);

			n->next = b[j];
			b[j] = n;
			n = next;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->mask = nb - 1;
}

void ex_htab_insert(struct ex_htab *h, struct ex_hnode *n, uint64_t hash)
{
	size_t i;

	if (h->count >= h->mask + 1)
		htab_grow(h);
	i = hash & h->mask;
	n->hash = hash;
	n->next = h->buckets[i];
	h->buckets[i] = n;
	h->count++;
}

void ex_htab_remove(struct ex_htab *h, struct ex_hnode *n)
{
	struct ex_hnode **pp = &h->buckets[n->hash & h->mask];

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	n->next = NULL;
	h->count--;
}
