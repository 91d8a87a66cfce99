/*
 * Paging: a queue over its memory window writes messages that have no
 * journal record yet as 'P' records (not recovered after a restart: paging
 * only frees memory) and reads them back when they reach the head, through
 * a cache of one ls_read range decoded on demand.  A message whose record
 * never reached the disk is handed back from the journal's failure list.
 *
 * Must not depend on: recovery and topology, libevent, protocol front ends.
 */
#include <stdlib.h>

#include "core/broker.h"
#include "core/durable_internal.h"

int tdm_durable_page(struct tdm_durable *d, struct tdm_message *m)
{
	struct wbuf none = { 0 };
	struct pend *p = dur_pend_add(d, 'P', &none);
	if (!p)
		return -1;
	p->msg = tdm_message_ref(m);
	m->journal_off = d->next_offset - 1;
	return 0;
}

struct tdm_message *tdm_durable_load(struct tdm_durable *d, uint64_t off)
{
	if (off >= ls_log_end(d->journal))
		tdm_durable_flush(d); /* paged during this very read: append it first */
	struct tdm_message *kept = tdm_jfail_kept(&d->fail, off);
	if (kept)
		return tdm_message_ref(kept); /* its record never reached the disk */
	if (!d->cache_dec && !(d->cache_dec = ls_decoder_new(0)))
		return NULL;
	if (off < d->cache_first || off >= d->cache_next) {
		struct ls_read_result r;
		if (ls_read(d->journal, off, 1u << 20, &r) != LS_OK || r.len == 0)
			return NULL;
		if (r.len > d->cache_cap) {
			uint8_t *n = realloc(d->cache, r.len);
			if (!n) {
				ls_read_release(&r);
				return NULL;
			}
			d->cache = n;
			d->cache_cap = r.len;
		}
		int ok = ls_read_copy(&r, d->cache) == LS_OK;
		d->cache_len = ok ? r.len : 0;
		d->cache_first = ok ? r.first_offset : 0;
		d->cache_next = ok ? r.next_offset : 0;
		ls_read_release(&r);
		if (!ok)
			return NULL;
	}
	ls_decoder_set(d->cache_dec, d->cache, d->cache_len, off);
	struct ls_record rec;
	if (ls_decoder_next(d->cache_dec, &rec, NULL) != 1 || rec.offset != off)
		return NULL;
	return dur_message_of(d, &rec);
}
