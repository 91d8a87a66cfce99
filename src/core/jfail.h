/*
 * What the AMQP journal failed to make durable (write discipline, Redis
 * AOF style): the offset ranges whose records never reached the disk or
 * whose fsync failed, so that their publisher confirms become nacks, and
 * the messages of records that never reached the disk, kept in memory so
 * that a queue that paged one out can still read it back (its offset
 * holds no record: the journal skips past failed offsets, never reuses
 * them).  Failures are rare; both lists are small and sorted by offset.
 *
 * Must not depend on: libevent, logstore, protocol front ends.
 */
#ifndef TANDEM_CORE_JFAIL_H
#define TANDEM_CORE_JFAIL_H

#include <stddef.h>
#include <stdint.h>

struct tdm_message;

#define TDM_JFAIL_RANGES 64

struct tdm_jfail {
	struct { uint64_t lo, hi; } range[TDM_JFAIL_RANGES]; /* [lo, hi), sorted */
	size_t nranges;
	struct tdm_jfail_kept {
		uint64_t off;
		struct tdm_message *msg; /* ref */
	} *kept;                     /* owned: sorted by off, from kept_head */
	size_t kept_head, kept_len, kept_cap;
};

/* Offsets [lo, hi) were not made durable.  Offsets only grow, so a range
 * extends or follows the last one; past TDM_JFAIL_RANGES the two closest
 * ranges merge (a nack for a record that did reach the disk is allowed,
 * an ack for one that did not never is). */
void tdm_jfail_range(struct tdm_jfail *f, uint64_t lo, uint64_t hi);
/* 1 when off lies in a failed range. */
int tdm_jfail_failed(const struct tdm_jfail *f, uint64_t off);
/* Keeps a reference to m, whose record at off never reached the disk.
 * Offsets come in increasing order.  0 or -1 (out of memory). */
int tdm_jfail_keep(struct tdm_jfail *f, uint64_t off, struct tdm_message *m);
/* The kept message of off (borrowed), or NULL. */
struct tdm_message *tdm_jfail_kept(const struct tdm_jfail *f, uint64_t off);
/* Drops kept messages below off (nothing refers to them any more). */
void tdm_jfail_trim(struct tdm_jfail *f, uint64_t off);
/* Drops everything. */
void tdm_jfail_free(struct tdm_jfail *f);

#endif
