/*
 * tandem-perf: sequence bookkeeping (see perf_track.h).
 * Must not depend on: anything but libc.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/perf_track.h"

void perf_bits_free(struct perf_bits *b)
{
	free(b->w);
	b->w = NULL;
	b->nwords = 0;
}

static int bits_grow(struct perf_bits *b, size_t word)
{
	size_t n = b->nwords ? b->nwords : 1024;
	while (n <= word)
		n *= 2;
	uint64_t *w = realloc(b->w, n * sizeof(*w));
	if (!w)
		return -1;
	memset(w + b->nwords, 0, (n - b->nwords) * sizeof(*w));
	b->w = w;
	b->nwords = n;
	return 0;
}

int perf_bits_set(struct perf_bits *b, uint64_t i)
{
	size_t word = (size_t)(i >> 6);
	if (word >= b->nwords && bits_grow(b, word) < 0)
		return -1;
	uint64_t m = UINT64_C(1) << (i & 63);
	int was = (b->w[word] & m) != 0;
	b->w[word] |= m;
	return was;
}

bool perf_bits_test(const struct perf_bits *b, uint64_t i)
{
	size_t word = (size_t)(i >> 6);
	return word < b->nwords && (b->w[word] & (UINT64_C(1) << (i & 63)));
}

static void settle_one(struct perf_pub_track *t, uint64_t seq, bool ack)
{
	int was = perf_bits_set(&t->settled, seq);
	if (was != 0)
		return; /* already settled (or no memory: then it stays outstanding) */
	t->n_settled++;
	if (ack) {
		t->n_acked++;
	} else {
		t->n_nacked++;
		perf_bits_set(&t->nacked, seq);
	}
}

void perf_pub_settle(struct perf_pub_track *t, uint64_t seq, bool multiple, bool ack, uint64_t published)
{
	if (seq >= published)
		return;
	if (multiple)
		for (uint64_t s = t->low; s < seq; s++)
			settle_one(t, s, ack);
	settle_one(t, seq, ack);
	while (perf_bits_test(&t->settled, t->low))
		t->low++;
}

void perf_pub_free(struct perf_pub_track *t)
{
	perf_bits_free(&t->settled);
	perf_bits_free(&t->nacked);
}

int perf_sub_seen(struct perf_sub_track *t, uint64_t seq)
{
	int was = perf_bits_set(&t->seen, seq);
	if (was < 0)
		return -1;
	if (was) {
		t->dup++;
		return 0;
	}
	t->unique++;
	if (seq < t->next)
		t->reordered++;
	else
		t->next = seq + 1;
	return 1;
}

void perf_sub_free(struct perf_sub_track *t)
{
	perf_bits_free(&t->seen);
}

static bool expected_bit(const struct perf_pub_track *pub, uint64_t seq, uint64_t published, bool confirms)
{
	if (seq >= published)
		return false;
	if (!confirms)
		return true;
	return perf_bits_test(&pub->settled, seq) && !perf_bits_test(&pub->nacked, seq);
}

int perf_verdict(struct perf_verdict *v, const struct perf_sub_track *const *subs, size_t n,
		 const struct perf_pub_track *pub, uint64_t published, bool confirms)
{
	memset(v, 0, sizeof(*v));
	size_t words = (size_t)((published + 63) / 64);
	for (size_t i = 0; i < n; i++) {
		if (subs[i]->seen.nwords > words)
			words = subs[i]->seen.nwords;
		v->dup += subs[i]->dup;
	}
	uint64_t *all = calloc(words ? words : 1, sizeof(*all));
	if (!all)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct perf_bits *b = &subs[i]->seen;
		for (size_t k = 0; k < b->nwords; k++) {
			v->dup += (uint64_t)__builtin_popcountll(all[k] & b->w[k]);
			all[k] |= b->w[k];
		}
	}
	for (size_t k = 0; k < words; k++) {
		for (uint64_t m = all[k]; m; m &= m - 1) {
			uint64_t seq = (uint64_t)k * 64 + (uint64_t)__builtin_ctzll(m);
			v->received++;
			if (!expected_bit(pub, seq, published, confirms))
				v->unexpected++;
		}
	}
	for (uint64_t seq = 0; seq < published; seq++) {
		if (!expected_bit(pub, seq, published, confirms))
			continue;
		v->expected++;
		if (!(all[seq >> 6] & (UINT64_C(1) << (seq & 63)))) {
			if (!v->lost++)
				v->first_lost = seq;
			v->last_lost = seq;
		}
	}
	free(all);
	return 0;
}
