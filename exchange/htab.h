/*
 * exchange/htab.h: the two small tools every routing table in exchange/ is
 * built on: a seeded SipHash-2-4 (keys come from clients, so bucket choice
 * must not be predictable) and an intrusive chained hash table whose nodes
 * live inside the caller's own structs (one allocation per object, and
 * lookups compare with the caller's own equality, so a lookup never needs to
 * build a temporary key).
 *
 * Internal to exchange/.  Must not depend on anything outside libc.
 */
#ifndef TANDEM_EXCHANGE_HTAB_H
#define TANDEM_EXCHANGE_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* Pointer to the struct that contains `ptr` as its member `member`. */
#define EX_CONTAINER(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Incremental SipHash-2-4 state. */
struct ex_sip {
	uint64_t v0, v1, v2, v3;
	uint64_t tail; /* pending bytes, little-endian */
	size_t len;    /* total bytes fed so far */
};

/* Starts a hash with the 128-bit key `key`. */
void ex_sip_init(struct ex_sip *s, const uint64_t key[2]);
/* Feeds n bytes (p may be NULL when n is 0). */
void ex_sip_update(struct ex_sip *s, const void *p, size_t n);
/* Feeds one 64-bit value in a fixed byte order. */
void ex_sip_u64(struct ex_sip *s, uint64_t v);
/* The hash of everything fed; s itself is left unchanged. */
uint64_t ex_sip_final(const struct ex_sip *s);
/* One-shot SipHash-2-4 of n bytes. */
uint64_t ex_siphash(const uint64_t key[2], const void *p, size_t n);

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
