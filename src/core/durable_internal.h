/*
 * What the durable_*.c files share: the layout of struct tdm_durable, the
 * big-endian byte helpers the records are written and read with, and the
 * few functions one part of the store calls in another (prefix dur_).
 * Only src/core/durable*.c include this; everything else sees the opaque
 * struct of core/durable.h.
 *
 * The parts (see durable.h for the model):
 *   durable.c          opening and closing the store, store-wide readings
 *   durable_topology.c exchanges, queues, bindings, vhosts, users in "__definitions"
 *   durable_journal.c  the message journal: pending records, appends, group fsync,
 *                      and its record format read back
 *   durable_page.c     paged-out messages: page records and the read-back cache
 *   durable_gc.c       live copies per journal block and reclaiming segments
 *   durable_recover.c  the replay of both topics at startup
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_DURABLE_INTERNAL_H
#define TANDEM_CORE_DURABLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/durable.h"
#include "core/jfail.h"
#include "logstore/logstore.h"

#define BLOCK_SHIFT 10            /* live counts per 1024 journal offsets */

struct pend {
	struct tdm_message *msg;  /* ref, for E records */
	uint8_t kind;             /* 'E' enqueue, 'P' page, 'A' acks, 'D' delivery marks */
	size_t meta_off, meta_len;/* in d->scratch: qid list (E) or pairs (A, D) */
	uint64_t off;             /* the journal offset handed out for it */
};

struct tdm_durable {
	struct tdm_broker *b;     /* borrowed */
	struct ls_store *store;   /* owned */
	struct ls_partition *defs, *journal; /* borrowed from the store */
	struct ls_decoder *dec;   /* owned */
	struct pend *pend;        /* owned */
	size_t npend, pend_cap;
	uint8_t *scratch;         /* owned: metadata of pending records */
	size_t scratch_len, scratch_cap;
	uint8_t *acks;            /* owned: (qid u32, offset u64) pairs to record */
	size_t acks_len, acks_cap;
	struct tdm_queue *marked; /* queues with a new delivery mark (ref) */
	uint64_t next_offset;     /* offset the next pending record gets; never
				     below the log end, above it after a failed
				     append (the journal skips those offsets) */
	struct tdm_jfail fail;    /* what did not become durable */
	uint64_t fail_count;      /* failed appends since the last good one */
	uint32_t *live;           /* owned: live copies per block, from live_base */
	size_t live_n, live_cap;
	uint64_t live_base;
	struct ls_sync_job *job;  /* the fsync in flight */
	uint64_t flushed;
	uint32_t next_id;
	uint64_t cluster_applied; /* the 'C' record: core/defs.h */
	int replaying;
	/* read-back cache for paged messages: one ls_read range, decoded on demand */
	uint8_t *cache;
	size_t cache_len, cache_cap;
	uint64_t cache_first, cache_next;
	struct ls_decoder *cache_dec;
};

/* ---- small byte helpers ------------------------------------------------------ */
/* Records are big-endian; strings are a u32 length then the bytes.  A writer
 * grows w->p (owned by the caller) and sets w->err when out of memory, after
 * which it writes nothing more; a reader sets r->err on a short record and
 * then returns NULL or 0: check err once, after the last field. */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static inline void dur_put(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n == 0)
		return;
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		while (nc < w->len + n)
			nc *= 2;
		uint8_t *np = realloc(w->p, nc);
		if (!np) {
			w->err = 1;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static inline void dur_put_u8(struct wbuf *w, uint8_t v)
{
	dur_put(w, &v, 1);
}

static inline void dur_put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	dur_put(w, b, 4);
}

static inline void dur_put_u64(struct wbuf *w, uint64_t v)
{
	dur_put_u32(w, (uint32_t)(v >> 32));
	dur_put_u32(w, (uint32_t)v);
}

static inline void dur_put_str(struct wbuf *w, const void *s, size_t n)
{
	dur_put_u32(w, (uint32_t)n);
	dur_put(w, s, n);
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	int err;
};

static inline const uint8_t *dur_get(struct rbuf *r, size_t n)
{
	if (r->err || r->len - r->pos < n) {
		r->err = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

static inline uint8_t dur_get_u8(struct rbuf *r)
{
	const uint8_t *p = dur_get(r, 1);
	return p ? p[0] : 0;
}

static inline uint32_t dur_get_u32(struct rbuf *r)
{
	const uint8_t *p = dur_get(r, 4);
	return p ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) : 0;
}

static inline uint64_t dur_get_u64(struct rbuf *r)
{
	uint64_t hi = dur_get_u32(r);
	return hi << 32 | dur_get_u32(r);
}

static inline const uint8_t *dur_get_str(struct rbuf *r, size_t *n)
{
	*n = dur_get_u32(r);
	return dur_get(r, *n);
}

/* ---- shared between the parts --------------------------------------------------- */

/* durable_journal.c: makes a pending journal record of `kind` with a copy of
 * meta, at offset d->next_offset (which advances); NULL when out of memory.
 * The record is appended by the next tdm_durable_flush. */
/* Appends key/val (val NULL: a tombstone) to "__definitions" and fsyncs it
 * (nothing while replaying); a vhost, user or limit record is also
 * proposed to the cluster (core/defs.h).  0 or -1. */
int dur_defs_write(struct tdm_durable *d, const struct wbuf *key, const struct wbuf *val);
struct pend *dur_pend_add(struct tdm_durable *d, uint8_t kind, const struct wbuf *meta);
/* durable_journal.c: the message of an 'E' or 'P' journal record (refcount 1,
 * owned by the caller, passed through the broker's restore_message hook),
 * or NULL. */
struct tdm_message *dur_message_of(struct tdm_durable *d, const struct ls_record *r);
/* durable_journal.c: finishes the fsync round d->job on the loop thread
 * (arg is d): records a failure, advances d->flushed, tells the front end
 * and starts the next round if records came in meanwhile. */
void dur_sync_done(void *arg);
/* durable_gc.c: adds delta to the live copies of the block holding journal
 * offset off (blocks already reclaimed are ignored). */
void dur_live_add(struct tdm_durable *d, uint64_t off, int delta);

#endif
