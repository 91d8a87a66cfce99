/*
 * tandem-perf: log-bucketed latency histogram (see perf_hist.h).
 * Must not depend on: anything but libc.
 */
#include <math.h>
#include <string.h>

#include "tools/perf_hist.h"

void perf_hist_init(struct perf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned perf_hist_index(uint64_t v)
{
	if (v < PERF_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
	unsigned shift = msb - (PERF_HIST_SUB_BITS - 1);  /* keeps the top SUB_BITS bits */
	unsigned sub = (unsigned)(v >> shift) - PERF_HIST_HALF; /* [0, HALF) */
	return PERF_HIST_SUB + (msb - PERF_HIST_SUB_BITS) * PERF_HIST_HALF + sub;
}

uint64_t perf_hist_bucket_high(unsigned idx)
{
	if (idx < PERF_HIST_SUB)
		return idx;
	unsigned rel = idx - PERF_HIST_SUB;
	unsigned msb = rel / PERF_HIST_HALF + PERF_HIST_SUB_BITS;
	unsigned sub = rel % PERF_HIST_HALF;
	unsigned shift = msb - (PERF_HIST_SUB_BITS - 1);
	uint64_t low = (uint64_t)(sub + PERF_HIST_HALF) << shift;
	return low + ((UINT64_C(1) << shift) - 1);
}

void perf_hist_record(struct perf_hist *h, uint64_t v)
{
	h->counts[perf_hist_index(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t perf_hist_percentile(const struct perf_hist *h, double p)
{
	if (!h->count)
		return 0;
	if (p >= 100.0)
		return h->max;
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = perf_hist_bucket_high(i);
			return v > h->max ? h->max : (v < h->min ? h->min : v);
		}
	}
	return h->max;
}
