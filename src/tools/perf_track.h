/*
 * tandem-perf: per-sequence bookkeeping that proves counts.  A producer
 * numbers its messages 0, 1, 2 ... and remembers which a confirm settled
 * (acked or nacked); a consumer keeps, per producer, a bitmap of the seqs it
 * received.  After the run the bitmaps of all consumers of one queue are
 * merged against what each producer published (or had confirmed) to count
 * lost, duplicated and reordered messages exactly, not just totals.
 *
 * Must not depend on: anything but libc.
 */
#ifndef TANDEM_TOOLS_PERF_TRACK_H
#define TANDEM_TOOLS_PERF_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable bitmap indexed by seq. */
struct perf_bits {
	uint64_t *w;   /* owned */
	size_t nwords;
};

void perf_bits_free(struct perf_bits *b);
/* Set bit i; returns its previous value, or -1 when out of memory. */
int perf_bits_set(struct perf_bits *b, uint64_t i);
bool perf_bits_test(const struct perf_bits *b, uint64_t i);

/* Producer side: which seqs a confirm settled, which of those were nacks. */
struct perf_pub_track {
	struct perf_bits settled;
	struct perf_bits nacked;
	uint64_t low;      /* every seq below is settled */
	uint64_t n_settled, n_acked, n_nacked;
};

/* Settle seq (and, if multiple, every unsettled seq below it); bounded by
 * published so a broker that confirms a tag never sent cannot grow memory. */
void perf_pub_settle(struct perf_pub_track *t, uint64_t seq, bool multiple, bool ack, uint64_t published);
void perf_pub_free(struct perf_pub_track *t);

/* Consumer side, one per producer. */
struct perf_sub_track {
	struct perf_bits seen;
	uint64_t unique, dup, reordered;
	uint64_t next; /* the seq expected next in order (last seen + 1) */
};

/* Record seq; returns 1 new, 0 duplicate within this consumer, -1 no memory. */
int perf_sub_seen(struct perf_sub_track *t, uint64_t seq);
void perf_sub_free(struct perf_sub_track *t);

/* The verdict for one queue and one producer. */
struct perf_verdict {
	uint64_t expected;   /* seqs the queue should have delivered */
	uint64_t received;   /* distinct seqs delivered */
	uint64_t lost;       /* expected but never delivered */
	uint64_t first_lost, last_lost; /* seqs, valid when lost */
	uint64_t dup;        /* deliveries beyond the first of a seq */
	uint64_t unexpected; /* delivered seqs never published or nacked */
};

/* Merge the tracks of the n consumers of one queue (subs[i] is consumer i's
 * track for this producer) and compare with what the producer published:
 * with confirms only acked seqs are expected, else every seq below
 * published.  Returns 0 or -1 when out of memory. */
int perf_verdict(struct perf_verdict *v, const struct perf_sub_track *const *subs, size_t n,
		 const struct perf_pub_track *pub, uint64_t published, bool confirms);

#endif
