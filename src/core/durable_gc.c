/*
 * Space: live stored copies are counted per block of 1 << BLOCK_SHIFT
 * journal offsets; once every block below some offset is empty, the whole
 * segments below it are deleted (ls_delete_records) and the journal's
 * failure list forgets what lay there.
 *
 * Must not depend on: the record formats, the write path (pending records,
 * fsync rounds), libevent, protocol front ends.
 */
#include <stdlib.h>
#include <string.h>

#include "core/durable_internal.h"
#include "util/invariant.h"

void dur_live_add(struct tdm_durable *d, uint64_t off, int delta)
{
	uint64_t blk = off >> BLOCK_SHIFT;
	if (blk < d->live_base)
		return;
	size_t i = (size_t)(blk - d->live_base);
	if (i >= d->live_cap) {
		size_t nc = d->live_cap ? d->live_cap * 2 : 64;
		while (nc <= i)
			nc *= 2;
		uint32_t *n = realloc(d->live, nc * sizeof(*n));
		if (!n)
			return;
		memset(n + d->live_cap, 0, (nc - d->live_cap) * sizeof(*n));
		d->live = n;
		d->live_cap = nc;
	}
	if (i >= d->live_n)
		d->live_n = i + 1;
	TDM_ASSERT((int64_t)d->live[i] + delta >= 0); /* live copies never below zero */
	d->live[i] = (uint32_t)((int64_t)d->live[i] + delta);
}

void tdm_durable_stored(struct tdm_durable *d, uint64_t off)
{
	dur_live_add(d, off, 1);
}

void tdm_durable_unlive(struct tdm_durable *d, uint64_t off)
{
	dur_live_add(d, off, -1);
}

void tdm_durable_gc(struct tdm_durable *d)
{
	if (!d)
		return;
	uint64_t end_blk = d->next_offset >> BLOCK_SHIFT;
	size_t k = 0;
	while (k < d->live_n && d->live[k] == 0 && d->live_base + k < end_blk)
		k++;
	if (k == 0 && !(d->live_n == 0 && d->live_base < end_blk))
		return;
	if (d->live_n == 0)
		k = (size_t)(end_blk - d->live_base);
	else {
		memmove(d->live, d->live + k, (d->live_n - k) * sizeof(*d->live));
		memset(d->live + d->live_n - k, 0, k * sizeof(*d->live));
		d->live_n -= k;
	}
	d->live_base += k;
	tdm_jfail_trim(&d->fail, d->live_base << BLOCK_SHIFT);
	ls_delete_records(d->journal, d->live_base << BLOCK_SHIFT);
}
