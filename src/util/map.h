/*
 * A byte-string-keyed hash map (open addressing, linear probing,
 * tombstones) hashed with SipHash-2-4 under a secret key, so that clients
 * who choose the keys (queue, exchange and vhost names, Kafka group ids,
 * topic names) cannot aim them all at one bucket.  Every map takes the
 * process-wide key, drawn once from getrandom(), unless a test gives it
 * its own.  Keys are copied (and NUL-terminated); values are the caller's.
 *
 * Must not depend on anything outside libc.
 */
#ifndef TANDEM_UTIL_MAP_H
#define TANDEM_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

struct tu_map_entry {
	char *key;      /* owned copy, NUL-terminated; NULL = empty slot */
	size_t key_len;
	uint64_t hash;
	void *value;    /* ref: the caller owns values */
};

struct tu_map {
	struct tu_map_entry *slots; /* owned; power-of-two count */
	size_t cap, count, used;    /* used = count + tombstones */
	uint64_t seed[2];           /* SipHash key; fixed when slots are first allocated */
	int seeded;                 /* seed set (by tu_map_init_seeded or first allocation) */
};

/* An empty map keyed with the process seed.  A zeroed struct tu_map is
 * also a valid empty map (seeded on its first insertion). */
void tu_map_init(struct tu_map *m);
/* An empty map keyed with `seed` (tests, reproducible layouts). */
void tu_map_init_seeded(struct tu_map *m, const uint64_t seed[2]);
/* Frees the slots and key copies, not the values; leaves an empty map. */
void tu_map_free(struct tu_map *m);
/* Value stored under key[0..len), or NULL. */
void *tu_map_get(const struct tu_map *m, const void *key, size_t len);
/* Inserts or replaces; the previous value (or NULL) goes to *old when old
 * is not NULL.  0, or -1 on allocation failure (the map is unchanged). */
int tu_map_put(struct tu_map *m, const void *key, size_t len, void *value, void **old);
/* Removes key; returns its value, or NULL when absent. */
void *tu_map_del(struct tu_map *m, const void *key, size_t len);
/* Iterates in slot order: start with *pos = 0; returns the next entry or
 * NULL at the end.  Deleting the entry just returned is allowed. */
struct tu_map_entry *tu_map_next(const struct tu_map *m, size_t *pos);

/* The process-wide SipHash key (drawn from getrandom() on first use). */
void tu_hash_seed(uint64_t out[2]);
/* SipHash-2-4 of key[0..len) under the process-wide key. */
uint64_t tu_hash_bytes(const void *key, size_t len);

#endif
