/*
 * A string-keyed hash map (open addressing, linear probing, tombstones) for
 * the broker's name tables: vhosts, exchanges, queues.  Keys are byte
 * strings (AMQP names may hold any octet); the map copies them.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_MAP_H
#define TANDEM_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

struct tdm_map_slot {
	char *key;      /* owned; NULL = empty; TDM_MAP_TOMB = deleted */
	size_t key_len;
	uint64_t hash;
	void *value;    /* ref: the caller owns values */
};

struct tdm_map {
	struct tdm_map_slot *slots; /* owned */
	size_t cap, count, used;    /* used = count + tombstones */
};

void tdm_map_init(struct tdm_map *m);
/* Frees the slots and keys, not the values. */
void tdm_map_free(struct tdm_map *m);
/* Value for key, or NULL. */
void *tdm_map_get(const struct tdm_map *m, const char *key, size_t len);
/* Inserts or replaces; 0 or -1 on allocation failure. */
int tdm_map_put(struct tdm_map *m, const char *key, size_t len, void *value);
/* Removes key; returns its value or NULL. */
void *tdm_map_del(struct tdm_map *m, const char *key, size_t len);
/* Iteration: *pos starts at 0; returns 1 and fills key/value, 0 at the end.
 * Deleting the entry just returned is allowed while iterating. */
int tdm_map_next(const struct tdm_map *m, size_t *pos, const char **key, size_t *len, void **value);
uint64_t tdm_hash_bytes(const void *p, size_t len);

#endif
