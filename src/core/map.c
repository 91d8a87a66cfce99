/*
 * String-keyed hash map; see map.h.  FNV-1a hashing, power-of-two capacity,
 * linear probing, resize at 70% occupancy counting tombstones.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/map.h"

#include <stdlib.h>
#include <string.h>

static char tomb_marker;
#define TDM_MAP_TOMB (&tomb_marker)

uint64_t tdm_hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void tdm_map_init(struct tdm_map *m)
{
	memset(m, 0, sizeof(*m));
}

void tdm_map_free(struct tdm_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TDM_MAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	tdm_map_init(m);
}

static struct tdm_map_slot *find(const struct tdm_map *m, const char *key, size_t len, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct tdm_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TDM_MAP_TOMB && s->hash == h && s->key_len == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
	}
}

void *tdm_map_get(const struct tdm_map *m, const char *key, size_t len)
{
	struct tdm_map_slot *s = find(m, key, len, tdm_hash_bytes(key, len));
	return s ? s->value : NULL;
}

static void place(struct tdm_map_slot *slots, size_t cap, struct tdm_map_slot *src)
{
	size_t mask = cap - 1;
	size_t i = src->hash & mask;
	while (slots[i].key)
		i = (i + 1) & mask;
	slots[i] = *src;
}

static int grow(struct tdm_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	while (m->count * 10 >= ncap * 5)
		ncap *= 2;
	struct tdm_map_slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TDM_MAP_TOMB)
			place(ns, ncap, &m->slots[i]);
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	m->used = m->count;
	return 0;
}

int tdm_map_put(struct tdm_map *m, const char *key, size_t len, void *value)
{
	uint64_t h = tdm_hash_bytes(key, len);
	struct tdm_map_slot *s = find(m, key, len, h);
	if (s) {
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 10 >= m->cap * 7 && grow(m) < 0)
		return -1;
	char *k = malloc(len + 1);
	if (!k)
		return -1;
	memcpy(k, key, len);
	k[len] = '\0';
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key && m->slots[i].key != TDM_MAP_TOMB)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct tdm_map_slot){ k, len, h, value };
	m->count++;
	return 0;
}

void *tdm_map_del(struct tdm_map *m, const char *key, size_t len)
{
	struct tdm_map_slot *s = find(m, key, len, tdm_hash_bytes(key, len));
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = TDM_MAP_TOMB;
	s->value = NULL;
	m->count--;
	return v;
}

int tdm_map_next(const struct tdm_map *m, size_t *pos, const char **key, size_t *len, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		struct tdm_map_slot *s = &m->slots[*pos];
		if (s->key && s->key != TDM_MAP_TOMB) {
			if (key)
				*key = s->key;
			if (len)
				*len = s->key_len;
			if (value)
				*value = s->value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
