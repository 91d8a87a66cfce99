/*
 * Seeded string-keyed hash map; see map.h.  Power-of-two capacity, linear
 * probing, resize at 70% occupancy counting tombstones.
 *
 * Must not depend on anything outside libc.
 */
#include "map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "siphash.h"

static char tomb_marker;
#define TOMB (&tomb_marker) /* key of a deleted slot */

static uint64_t process_seed[2];
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	size_t got = 0;

	while (got < sizeof(process_seed)) {
		ssize_t n = getrandom((char *)process_seed + got, sizeof(process_seed) - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == sizeof(process_seed))
		return;
	/* No entropy (very old kernel, seccomp): a guessable key costs flooding
	 * resistance, never correctness. */
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	process_seed[0] ^= (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)getpid();
	process_seed[1] ^= (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&process_seed;
}

void tu_hash_seed(uint64_t out[2])
{
	pthread_once(&seed_once, seed_init);
	out[0] = process_seed[0];
	out[1] = process_seed[1];
}

uint64_t tu_hash_bytes(const void *key, size_t len)
{
	uint64_t seed[2];

	tu_hash_seed(seed);
	return tu_siphash(seed, key, len);
}

void tu_map_init(struct tu_map *m)
{
	memset(m, 0, sizeof(*m));
}

void tu_map_init_seeded(struct tu_map *m, const uint64_t seed[2])
{
	memset(m, 0, sizeof(*m));
	m->seed[0] = seed[0];
	m->seed[1] = seed[1];
	m->seeded = 1;
}

void tu_map_free(struct tu_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMB)
			free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = m->used = 0; /* the seed stays: a map keeps its layout key */
}

static uint64_t hash_of(const struct tu_map *m, const void *key, size_t len)
{
	return tu_siphash(m->seed, key, len);
}

static struct tu_map_entry *find(const struct tu_map *m, const void *key, size_t len)
{
	if (!m->cap)
		return NULL;
	uint64_t h = hash_of(m, key, len);
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct tu_map_entry *e = &m->slots[i];

		if (!e->key)
			return NULL;
		if (e->key != TOMB && e->hash == h && e->key_len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
}

void *tu_map_get(const struct tu_map *m, const void *key, size_t len)
{
	struct tu_map_entry *e = find(m, key, len);

	return e ? e->value : NULL;
}

/* Rehashes into a table big enough for count + 1 at under 50%. */
static int grow(struct tu_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;

	while ((m->count + 1) * 10 >= ncap * 5)
		ncap *= 2;
	struct tu_map_entry *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -1;
	if (!m->seeded) {
		tu_hash_seed(m->seed);
		m->seeded = 1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		struct tu_map_entry *e = &m->slots[i];

		if (!e->key || e->key == TOMB)
			continue;
		size_t j = e->hash & (ncap - 1);

		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *e;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	m->used = m->count;
	return 0;
}

int tu_map_put(struct tu_map *m, const void *key, size_t len, void *value, void **old)
{
	struct tu_map_entry *e = find(m, key, len);

	if (old)
		*old = NULL;
	if (e) {
		if (old)
			*old = e->value;
		e->value = value;
		return 0;
	}
	char *k = malloc(len + 1);

	if (!k)
		return -1;
	if ((m->used + 1) * 10 >= m->cap * 7 && grow(m) < 0) {
		free(k);
		return -1;
	}
	memcpy(k, key, len);
	k[len] = '\0';
	uint64_t h = hash_of(m, key, len);
	size_t mask = m->cap - 1, i = h & mask;

	while (m->slots[i].key && m->slots[i].key != TOMB)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct tu_map_entry){ k, len, h, value };
	m->count++;
	return 0;
}

void *tu_map_del(struct tu_map *m, const void *key, size_t len)
{
	struct tu_map_entry *e = find(m, key, len);

	if (!e)
		return NULL;
	void *v = e->value;

	free(e->key);
	e->key = TOMB;
	e->value = NULL;
	m->count--;
	return v;
}

struct tu_map_entry *tu_map_next(const struct tu_map *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct tu_map_entry *e = &m->slots[(*pos)++];

		if (e->key && e->key != TOMB)
			return e;
	}
	return NULL;
}
