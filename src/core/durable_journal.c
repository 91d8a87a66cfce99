/*
 * The persistent-message journal "__journal": records made while handling
 * one read are kept pending and appended as one batch by tdm_durable_flush;
 * an fsync on the background-job service (group commit) makes them durable,
 * and the flushed offset that comes out releases publisher confirms.
 * Appends made while an fsync runs ride on the next one.  Acknowledgement
 * records need no fsync of their own: a lost ack only means a redelivery.
 * Also the journal's record format read back (for paging and recovery).
 *
 * Record kinds (header "t"): 'E' a persistent message for durable queues
 * (headers q = qid list, x, r, h; the body as value), 'P' a page record
 * (the same, empty q), 'A' acks and 'D' delivery marks ((qid u32,
 * offset u64) pairs as value).
 *
 * Must not depend on: libevent (the fsync goes through core/bg.h),
 * protocol front ends, the topology records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/durable_internal.h"
#include "core/log.h"
#include "util/invariant.h"

#define BATCH_BYTES (1u << 20)    /* pending records appended per batch */

/* ---- the journal: writing ---------------------------------------------------- */

struct pend *dur_pend_add(struct tdm_durable *d, uint8_t kind, const struct wbuf *meta)
{
	if (d->npend == d->pend_cap) {
		size_t nc = d->pend_cap ? d->pend_cap * 2 : 64;
		struct pend *np = realloc(d->pend, nc * sizeof(*np));
		if (!np)
			return NULL;
		d->pend = np;
		d->pend_cap = nc;
	}
	struct wbuf s = { d->scratch, d->scratch_len, d->scratch_cap, 0 };
	dur_put(&s, meta->p, meta->len);
	if (s.err)
		return NULL;
	d->scratch = s.p;
	d->scratch_cap = s.cap;
	struct pend *p = &d->pend[d->npend++];
	*p = (struct pend){ NULL, kind, d->scratch_len, meta->len, d->next_offset };
	d->scratch_len = s.len;
	d->next_offset++;
	return p;
}

int tdm_durable_enqueue(struct tdm_durable *d, struct tdm_message *m,
			struct tdm_queue *const *qs, size_t n)
{
	struct wbuf meta = { 0 };
	for (size_t i = 0; i < n; i++)
		dur_put_u32(&meta, qs[i]->qid);
	struct pend *p = meta.err ? NULL : dur_pend_add(d, 'E', &meta);
	free(meta.p);
	if (!p)
		return -1;
	p->msg = tdm_message_ref(m);
	m->journal_off = d->next_offset - 1;
	return 0;
}

void tdm_durable_release(struct tdm_durable *d, struct tdm_queue *q, uint64_t off)
{
	dur_live_add(d, off, -1);
	if (q->deleted || d->replaying)
		return; /* records of a deleted queue are ignored on recovery anyway */
	struct wbuf a = { d->acks, d->acks_len, d->acks_cap, 0 };
	dur_put_u32(&a, q->qid);
	dur_put_u64(&a, off);
	d->acks = a.p;
	d->acks_len = a.err ? d->acks_len : a.len;
	d->acks_cap = a.cap;
}

void tdm_durable_delivered(struct tdm_durable *d, struct tdm_queue *q, uint64_t off)
{
	if (off <= q->delivered_mark && q->delivered_mark != TDM_NO_JOURNAL)
		return;
	q->delivered_mark = off;
	if (!q->delivered_dirty) {
		q->delivered_dirty = 1;
		tdm_queue_ref(q);
		q->delivered_next = d->marked;
		d->marked = q;
	}
}

/* Turns collected acks and delivery marks into pending records. */
static void collect(struct tdm_durable *d)
{
	if (d->acks_len) {
		struct wbuf w = { d->acks, d->acks_len, d->acks_cap, 0 };
		dur_pend_add(d, 'A', &w);
		d->acks_len = 0;
	}
	struct wbuf marks = { 0 };
	while (d->marked) {
		struct tdm_queue *q = d->marked;
		d->marked = q->delivered_next;
		q->delivered_dirty = 0;
		if (!q->deleted) {
			dur_put_u32(&marks, q->qid);
			dur_put_u64(&marks, q->delivered_mark);
		}
		tdm_queue_unref(q);
	}
	if (marks.len && !marks.err)
		dur_pend_add(d, 'D', &marks);
	free(marks.p);
}

static void sync_start(struct tdm_durable *d);

/* What the journal made durable, or failed to, changed: the front end
 * releases (or nacks) the confirms that were waiting. */
static void journal_changed(struct tdm_durable *d)
{
	if (d->b->durable_synced)
		d->b->durable_synced(d->b->durable_synced_ctx);
}

static int append_run(struct tdm_durable *d, size_t from, size_t to)
{
	struct ls_record recs[64];
	struct ls_header hdrs[64][5];
	size_t n = to - from;
	for (size_t i = 0; i < n; i++) {
		struct pend *p = &d->pend[from + i];
		const uint8_t *meta = d->scratch + p->meta_off;
		/* pending records hold consecutive offsets, handed out in order */
		TDM_ASSERT(p->off == d->pend[from].off + i && p->off < d->next_offset);
		static const char kinds[] = "EPAD";
		const char *kind = memchr(kinds, p->kind, 4);
		hdrs[i][0] = (struct ls_header){ "t", 1, kind, 1 };
		recs[i] = (struct ls_record){ .headers = hdrs[i], .header_count = 1, .timestamp = -1 };
		if (p->kind != 'E' && p->kind != 'P') {
			recs[i].value = meta;
			recs[i].value_len = p->meta_len;
			continue;
		}
		struct tdm_message *m = p->msg;
		hdrs[i][1] = (struct ls_header){ "q", 1, meta, p->meta_len }; /* empty for pages */
		hdrs[i][2] = (struct ls_header){ "x", 1, m->exchange, m->exchange_len };
		hdrs[i][3] = (struct ls_header){ "r", 1, m->routing_key, m->routing_key_len };
		hdrs[i][4] = (struct ls_header){ "h", 1, m->header, m->header_len };
		recs[i].header_count = 5;
		recs[i].value = m->body;
		recs[i].value_len = m->body_len;
	}
	/* The offsets were handed out when the records were made: the append
	 * must give exactly those (after a failed append the log end is below
	 * them, and the journal skips the failed offsets, never reusing them). */
	uint64_t want = d->pend[from].off;
	struct ls_append_result res;
	int rc = ls_log_end(d->journal) > want ? LS_ERR_INVALID : ls_skip_to(d->journal, want);
	if (rc == LS_OK)
		rc = ls_append(d->journal, recs, n, LS_CODEC_NONE, &res);
	if (rc != LS_OK) {
		if (d->fail_count++ == 0)
			tdm_error("durable", "journal append failed: %s (offset %llu); persistent "
				  "messages get basic.nack until a journal write succeeds",
				  rc == LS_ERR_IO ? strerror(errno) : ls_strerror(rc),
				  (unsigned long long)want);
		return -1;
	}
	if (res.base_offset != want || res.last_offset != want + n - 1) {
		tdm_error("durable", "journal appended at %llu, expected %llu: offsets the queues "
			  "hold would be wrong; stopping", (unsigned long long)res.base_offset,
			  (unsigned long long)want);
		/* Always on, not TDM_ASSERT: it protects data.  Going on would make
		 * acks and delivery marks name the wrong records, and recovery would
		 * drop or redeliver the wrong messages; the journal on disk is
		 * consistent, memory is not, so stop and let recovery rebuild. */
		abort();
	}
	if (d->fail_count) {
		tdm_info("durable", "journal writable again after %llu failed appends",
			 (unsigned long long)d->fail_count);
		d->fail_count = 0;
	}
	return 0;
}

/* Records [from, npend) never reached the disk: their offsets stay unused,
 * confirms waiting on them become nacks, and their messages stay in memory
 * for queues that paged them out (acks and delivery marks are simply lost:
 * that only means a redelivery after a crash). */
static void append_failed(struct tdm_durable *d, size_t from)
{
	if (from >= d->npend)
		return;
	tdm_jfail_range(&d->fail, d->pend[from].off, d->pend[d->npend - 1].off + 1);
	for (size_t i = from; i < d->npend; i++)
		if (d->pend[i].msg && tdm_jfail_keep(&d->fail, d->pend[i].off, d->pend[i].msg) < 0)
			tdm_error("durable", "out of memory keeping the message of failed journal "
				  "offset %llu", (unsigned long long)d->pend[i].off);
}

void tdm_durable_flush(struct tdm_durable *d)
{
	if (!d)
		return;
	collect(d);
	size_t from = 0, bytes = 0;
	int failed = 0;
	for (size_t i = 0; i < d->npend && !failed; i++) {
		struct pend *p = &d->pend[i];
		size_t sz = p->meta_len + (p->msg ? p->msg->body_len + p->msg->header_len : 0) + 64;
		if (i > from && (i - from == 64 || bytes + sz > BATCH_BYTES)) {
			failed = append_run(d, from, i) < 0;
			if (!failed) {
				from = i;
				bytes = 0;
			}
		}
		bytes += sz;
	}
	if (!failed && from < d->npend)
		failed = append_run(d, from, d->npend) < 0;
	if (failed) /* the rest of this round is not tried: the disk just said no */
		append_failed(d, from);
	for (size_t i = 0; i < d->npend; i++)
		if (d->pend[i].msg)
			tdm_message_unref(d->pend[i].msg);
	int had = d->npend > 0;
	d->npend = 0;
	d->scratch_len = 0;
	if (had)
		sync_start(d);
	if (failed)
		journal_changed(d); /* waiting confirms can be nacked now */
}

/* ---- the journal: fsync as a background job --------------------------------- */

static void sync_work(void *arg)
{
	struct tdm_durable *d = arg;
	ls_sync_run(d->job);
}

/* The fsync of what was appended up to now failed or could not start: the
 * kernel may have dropped those pages, so none of it may be confirmed. */
static void sync_failed(struct tdm_durable *d)
{
	tdm_jfail_range(&d->fail, ls_flushed_offset(d->journal), d->next_offset);
}

void dur_sync_done(void *arg)
{
	struct tdm_durable *d = arg;
	if (ls_sync_end(d->job) != LS_OK) {
		tdm_error("durable", "journal fsync failed: persistent messages get basic.nack "
			  "until tandemd restarts");
		sync_failed(d);
	}
	d->job = NULL;
	d->flushed = ls_flushed_offset(d->journal);
	TDM_ASSERT(d->flushed <= d->next_offset); /* nothing synced that was not handed out */
	journal_changed(d);
	if (d->flushed < ls_log_end(d->journal))
		sync_start(d); /* what came in meanwhile: the next group */
}

static void sync_start(struct tdm_durable *d)
{
	if (d->job)
		return;
	if (ls_sync_begin(d->journal, &d->job) != LS_OK) {
		d->job = NULL;
		sync_failed(d);
		journal_changed(d);
		return;
	}
	if (!d->job)
		return;
	tdm_bg_run(&d->b->bg, TDM_BG_JOURNAL, sync_work, dur_sync_done, d);
}

int tdm_durable_state(const struct tdm_durable *d, uint64_t off)
{
	if (!d || off == TDM_NO_JOURNAL)
		return TDM_JOURNAL_SYNCED;
	if (tdm_jfail_failed(&d->fail, off))
		return TDM_JOURNAL_FAILED;
	return off < d->flushed ? TDM_JOURNAL_SYNCED : TDM_JOURNAL_PENDING;
}

/* ---- the journal: reading records back ---------------------------------------- */

const struct ls_header *tdm_record_header(const struct ls_record *r, char name)
{
	for (size_t i = 0; i < r->header_count; i++)
		if (r->headers[i].key_len == 1 && r->headers[i].key[0] == name)
			return &r->headers[i];
	return NULL;
}

int tdm_record_kind(const struct ls_record *r)
{
	const struct ls_header *t = tdm_record_header(r, 't');
	return t && t->value_len == 1 ? *(const char *)t->value : 0;
}

struct tdm_message *tdm_record_message(struct tdm_broker *b, const struct ls_record *r,
				       int persistent)
{
	const struct ls_header *xh = tdm_record_header(r, 'x'), *rh = tdm_record_header(r, 'r'),
			       *hh = tdm_record_header(r, 'h');
	if (!xh || !rh || !hh || xh->value_len > 255 || rh->value_len > 255)
		return NULL;
	struct tdm_message *m = tdm_message_new(xh->value, xh->value_len, rh->value, rh->value_len,
						hh->value, hh->value_len, r->value_len);
	if (!m)
		return NULL;
	if (r->value_len)
		memcpy(m->body, r->value, r->value_len);
	m->body_filled = r->value_len;
	m->persistent = (uint8_t)!!persistent;
	if (b->restore_message)
		b->restore_message(b->restore_ctx, m);
	return m;
}

/* The message of an 'E' or 'P' journal record, refcount 1, or NULL. */
struct tdm_message *dur_message_of(struct tdm_durable *d, const struct ls_record *r)
{
	struct tdm_message *m = tdm_record_message(d->b, r, tdm_record_kind(r) == 'E');
	if (m)
		m->journal_off = r->offset;
	return m;
}
