/*
 * exchange/htab.c: the intrusive chained hash table used by every routing
 * table in exchange/ (see htab.h for why).
 *
 * Must not depend on anything outside libc.
 */
#include "htab.h"

#include <stdlib.h>
#include <string.h>

#include "exchange.h"

#define HTAB_MIN_BUCKETS 8

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
