/*
 * exchange/htab.h: the two small tools every routing table in exchange/ is
 * built on: a seeded SipHash-2-4 (keys come from clients, so bucket choice
 * must not be predictable; src/util/siphash.h, reached through this
 * library's own include path to src/util) and an intrusive chained hash table whose nodes
 * live inside the caller's own structs (one allocation per object, and
 * lookups compare with the caller's own equality, so a lookup never needs to
 * build a temporary key).
 *
 * Internal to exchange/.  Must not depend on anything outside libc and
 * src/util.
 */
#ifndef TANDEM_EXCHANGE_HTAB_H
#define TANDEM_EXCHANGE_HTAB_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

/* Pointer to the struct that contains `ptr` as its member `member`. */
#define EX_CONTAINER(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Embed in the object to be hashed; `hash` is set by ex_htab_insert. */
struct ex_hnode {
	struct ex_hnode *next;
	uint64_t hash;
};

struct ex_htab {
	struct ex_hnode **buckets; /* owned; power-of-two count */
	size_t mask;               /* bucket count - 1 */
	size_t count;
};

/* Allocates the bucket array (at least 8 buckets).  0 or EX_ERR_NOMEM. */
int ex_htab_init(struct ex_htab *h);
/* Frees the bucket array, not the nodes. */
void ex_htab_fini(struct ex_htab *h);
/*
 * Links node n with hash value `hash`.  Never fails: when the table cannot
 * grow for lack of memory it keeps working with longer chains.
 */
void ex_htab_insert(struct ex_htab *h, struct ex_hnode *n, uint64_t hash);
/* Unlinks n, which must be in h.  Never shrinks the bucket array. */
void ex_htab_remove(struct ex_htab *h, struct ex_hnode *n);

/* First node of the chain where nodes with this hash live; walk with ->next
 * and compare ->hash before the caller's own equality. */
static inline struct ex_hnode *ex_htab_chain(const struct ex_htab *h,
					     uint64_t hash)
{
	return h->buckets[hash & h->mask];
}

#endif
