/*
 * The broker's name tables (vhosts, exchanges, queues, groups...): the
 * tree's one hash map, src/util/map.h, which hashes with SipHash under a
 * per-process secret key because clients choose the names.  These are
 * core's names for it, so callers keep reading as core calls; the struct is
 * util's own (fields such as .count are the same).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_MAP_H
#define TANDEM_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

#define tdm_map tu_map

static inline void tdm_map_init(struct tdm_map *m)
{
	tu_map_init(m);
}

/* Frees the slots and keys, not the values. */
static inline void tdm_map_free(struct tdm_map *m)
{
	tu_map_free(m);
}

/* Value for key, or NULL. */
static inline void *tdm_map_get(const struct tdm_map *m, const char *key, size_t len)
{
	return tu_map_get(m, key, len);
}

/* Inserts or replaces; 0 or -1 on allocation failure. */
static inline int tdm_map_put(struct tdm_map *m, const char *key, size_t len, void *value)
{
	return tu_map_put(m, key, len, value, NULL);
}

/* Removes key; returns its value or NULL. */
static inline void *tdm_map_del(struct tdm_map *m, const char *key, size_t len)
{
	return tu_map_del(m, key, len);
}

/* Iteration: *pos starts at 0; returns 1 and fills key/value, 0 at the end.
 * Deleting the entry just returned is allowed while iterating. */
static inline int tdm_map_next(const struct tdm_map *m, size_t *pos, const char **key,
			       size_t *len, void **value)
{
	struct tu_map_entry *e = tu_map_next(m, pos);

	if (!e)
		return 0;
	if (key)
		*key = e->key;
	if (len)
		*len = e->key_len;
	if (value)
		*value = e->value;
	return 1;
}

#endif
