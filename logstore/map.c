/*
 * logstore/map.c: a small string-keyed hash table (open addressing with
 * linear probing, FNV-1a) for topic lookups and committed offsets.  Keys
 * are copied; values are the caller's.
 *
 * Must not depend on anything outside libc.
 */
#include <stdlib.h>
#include <string.h>

#include "logstore_internal.h"

static char tomb_mark;
#define TOMB (&tomb_mark) /* marks a deleted slot's key */

static uint64_t map_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

void ls_map_init(struct ls_map *m)
{
	memset(m, 0, sizeof *m);
}

void ls_map_free(struct ls_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != TOMB)
			free(m->slots[i].key);
	free(m->slots);
	ls_map_init(m);
}

static struct ls_map_entry *map_find(const struct ls_map *m, const void *key,
				     size_t len, uint64_t h)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct ls_map_entry *e = &m->slots[i];

		if (e->key == NULL)
			return NULL;
		if (e->key != TOMB && e->hash == h && e->key_len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
}

void *ls_map_get(const struct ls_map *m, const void *key, size_t len)
{
	struct ls_map_entry *e = map_find(m, key, len, map_hash(key, len));

	return e != NULL ? e->val : NULL;
}

static int map_grow(struct ls_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct ls_map_entry *slots, *old = m->slots;
	size_t oldcap = m->cap;

	if (m->count * 2 < m->cap) /* mostly tombstones: rehash in place size */
		cap = m->cap;
	slots = calloc(cap, sizeof *slots);
	if (slots == NULL)
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < oldcap; i++) {
		struct ls_map_entry *e = &old[i];
		size_t j;

		if (e->key == NULL || e->key == TOMB)
			continue;
		for (j = e->hash & (cap - 1); slots[j].key != NULL; j = (j + 1) & (cap - 1))
			;
		slots[j] = *e;
	}
	free(old);
	m->slots = slots;
	m->cap = cap;
	m->tomb = 0;
	return LS_OK;
}

int ls_map_put(struct ls_map *m, const void *key, size_t len, void *val, void **old)
{
	uint64_t h = map_hash(key, len);
	struct ls_map_entry *e = map_find(m, key, len, h);
	char *copy;
	size_t i;

	if (old != NULL)
		*old = NULL;
	if (e != NULL) {
		if (old != NULL)
			*old = e->val;
		e->val = val;
		return LS_OK;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return LS_ERR_NOMEM;
	if ((m->count + m->tomb + 1) * 4 > m->cap * 3 && map_grow(m) != LS_OK) {
		free(copy);
		return LS_ERR_NOMEM;
	}
	for (i = h & (m->cap - 1); m->slots[i].key != NULL && m->slots[i].key != TOMB;
	     i = (i + 1) & (m->cap - 1))
		;
	e = &m->slots[i];
	if (e->key == TOMB)
		m->tomb--;
	memcpy(copy, key, len);
	copy[len] = '\0';
	e->key = copy;
	e->key_len = len;
	e->hash = h;
	e->val = val;
	m->count++;
	return LS_OK;
}

void *ls_map_del(struct ls_map *m, const void *key, size_t len)
{
	struct ls_map_entry *e = map_find(m, key, len, map_hash(key, len));
	void *val;

	if (e == NULL)
		return NULL;
	val = e->val;
	free(e->key);
	e->key = TOMB;
	e->val = NULL;
	m->count--;
	m->tomb++;
	return val;
}

struct ls_map_entry *ls_map_next(const struct ls_map *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct ls_map_entry *e = &m->slots[(*pos)++];

		if (e->key != NULL && e->key != TOMB)
			return e;
	}
	return NULL;
}
