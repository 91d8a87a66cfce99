/*
 * tandem-perf: an HDR-style latency histogram.  Values (ns) below 256 are
 * counted exactly; above, each power of two is split into 128 linear
 * sub-buckets, so a reported value is within 1/128 (0.8 %) of the truth
 * from 1 ns to centuries, in a fixed 58 KiB array.  One per consumer thread,
 * merged after the threads are joined: recording takes no lock.
 *
 * Must not depend on: anything but libc.
 */
#ifndef TANDEM_TOOLS_PERF_HIST_H
#define TANDEM_TOOLS_PERF_HIST_H

#include <stdint.h>

#define PERF_HIST_SUB_BITS 8
#define PERF_HIST_SUB (1u << PERF_HIST_SUB_BITS)      /* exact range: [0, 256) */
#define PERF_HIST_HALF (PERF_HIST_SUB / 2)             /* sub-buckets per power of two */
#define PERF_HIST_BUCKETS (PERF_HIST_SUB + (64 - PERF_HIST_SUB_BITS) * PERF_HIST_HALF)

struct perf_hist {
	uint64_t count;
	uint64_t min, max; /* exact */
	uint64_t counts[PERF_HIST_BUCKETS];
};

void perf_hist_init(struct perf_hist *h);
void perf_hist_record(struct perf_hist *h, uint64_t v);
/* Add every count of src into dst. */
void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src);
/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket holding the ceil(p% * count)-th smallest sample, capped at max;
 * 0 when empty. */
uint64_t perf_hist_percentile(const struct perf_hist *h, double p);
/* Bucket index of v and the highest value that bucket holds (for tests). */
unsigned perf_hist_index(uint64_t v);
uint64_t perf_hist_bucket_high(unsigned idx);

#endif
