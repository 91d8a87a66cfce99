/*
 * The journal's failed ranges and kept messages; see jfail.h.
 *
 * Must not depend on: libevent, logstore, protocol front ends.
 */
#include "core/jfail.h"

#include <stdlib.h>
#include <string.h>

#include "core/message.h"

void tdm_jfail_range(struct tdm_jfail *f, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return;
	if (f->nranges && lo <= f->range[f->nranges - 1].hi) {
		if (hi > f->range[f->nranges - 1].hi)
			f->range[f->nranges - 1].hi = hi;
		return;
	}
	if (f->nranges == TDM_JFAIL_RANGES) {
		size_t best = 0; /* the pair with the smallest hole between */
		for (size_t i = 1; i + 1 < f->nranges; i++)
			if (f->range[i + 1].lo - f->range[i].hi <
			    f->range[best + 1].lo - f->range[best].hi)
				best = i;
		f->range[best].hi = f->range[best + 1].hi;
		memmove(&f->range[best + 1], &f->range[best + 2],
			(f->nranges - best - 2) * sizeof(f->range[0]));
		f->nranges--;
	}
	f->range[f->nranges].lo = lo;
	f->range[f->nranges].hi = hi;
	f->nranges++;
}

int tdm_jfail_failed(const struct tdm_jfail *f, uint64_t off)
{
	size_t lo = 0, hi = f->nranges;
	while (lo < hi) { /* first range with hi > off */
		size_t mid = lo + (hi - lo) / 2;
		if (f->range[mid].hi <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nranges && f->range[lo].lo <= off;
}

int tdm_jfail_keep(struct tdm_jfail *f, uint64_t off, struct tdm_message *m)
{
	if (f->kept_head + f->kept_len == f->kept_cap) {
		if (f->kept_head) { /* reuse the room trimmed at the front */
			memmove(f->kept, f->kept + f->kept_head, f->kept_len * sizeof(*f->kept));
			f->kept_head = 0;
		}
		if (f->kept_len == f->kept_cap) {
			size_t nc = f->kept_cap ? f->kept_cap * 2 : 64;
			struct tdm_jfail_kept *n = realloc(f->kept, nc * sizeof(*n));
			if (!n)
				return -1;
			f->kept = n;
			f->kept_cap = nc;
		}
	}
	f->kept[f->kept_head + f->kept_len++] = (struct tdm_jfail_kept){ off, tdm_message_ref(m) };
	return 0;
}

struct tdm_message *tdm_jfail_kept(const struct tdm_jfail *f, uint64_t off)
{
	const struct tdm_jfail_kept *k = f->kept + f->kept_head;
	size_t lo = 0, hi = f->kept_len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->kept_len && k[lo].off == off ? k[lo].msg : NULL;
}

void tdm_jfail_trim(struct tdm_jfail *f, uint64_t off)
{
	while (f->kept_len && f->kept[f->kept_head].off < off) {
		tdm_message_unref(f->kept[f->kept_head].msg);
		f->kept_head++;
		f->kept_len--;
	}
	if (!f->kept_len)
		f->kept_head = 0;
}

void tdm_jfail_free(struct tdm_jfail *f)
{
	tdm_jfail_trim(f, UINT64_MAX);
	free(f->kept);
	memset(f, 0, sizeof(*f));
}
