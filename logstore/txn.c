/*
 * logstore/txn.c: the transactions of a partition (Kafka's KIP-98), as the
 * producer state (producer.c) tracks them: the transactions still open,
 * ordered by first offset (the oldest gives the first unstable offset at
 * once), and the aborted ones, ordered by the offset of their abort marker
 * (a Fetch's range is found by a binary search).
 *
 * Each aborted transaction also keeps the first unstable offset as it was
 * just after its marker (Kafka's "last stable offset" in its transaction
 * index): every transaction aborted later started at or after it, so a
 * lookup for [from, to) stops at the first entry whose bound reaches `to`.
 *
 * Must not depend on anything outside libc.
 */
#include <stdlib.h>
#include <string.h>

#include "logstore_internal.h"

void ls_txns_free(struct ls_txns *t)
{
	free(t->open);
	free(t->ab);
	memset(t, 0, sizeof(*t));
}

/* Index of the first open transaction whose first offset is >= first. */
static size_t open_lower(const struct ls_txns *t, uint64_t first)
{
	size_t lo = 0, hi = t->nopen;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->open[mid].first < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int ls_txns_open(struct ls_txns *t, int64_t pid, uint64_t first)
{
	if (t->nopen == t->open_cap) {
		size_t cap = t->open_cap ? t->open_cap * 2 : 8;
		struct ls_open_txn *n = realloc(t->open, cap * sizeof(*n));
		if (!n)
			return LS_ERR_NOMEM;
		t->open = n;
		t->open_cap = cap;
	}
	/* appends come in offset order: the slot is nearly always the last */
	size_t i = t->nopen > 0 && t->open[t->nopen - 1].first < first ? t->nopen
								       : open_lower(t, first);
	memmove(t->open + i + 1, t->open + i, (t->nopen - i) * sizeof(*t->open));
	t->open[i] = (struct ls_open_txn){ pid, first };
	t->nopen++;
	return LS_OK;
}

void ls_txns_close(struct ls_txns *t, int64_t pid, uint64_t first)
{
	for (size_t i = open_lower(t, first); i < t->nopen && t->open[i].first == first; i++)
		if (t->open[i].pid == pid) {
			memmove(t->open + i, t->open + i + 1,
				(t->nopen - i - 1) * sizeof(*t->open));
			t->nopen--;
			return;
		}
}

uint64_t ls_txns_first_unstable(const struct ls_txns *t, uint64_t log_end)
{
	return t->nopen > 0 && t->open[0].first < log_end ? t->open[0].first : log_end;
}

int ls_txns_add_aborted(struct ls_txns *t, int64_t pid, uint64_t first, uint64_t last)
{
	if (t->nab == t->ab_cap) {
		size_t cap = t->ab_cap ? t->ab_cap * 2 : 8;
		struct ls_txn_aborted *n = realloc(t->ab, cap * sizeof(*n));
		if (!n)
			return LS_ERR_NOMEM;
		t->ab = n;
		t->ab_cap = cap;
	}
	/* the transaction is closed already: what stays open bounds the
	 * first offsets of every transaction aborted after this one */
	uint64_t bound = ls_txns_first_unstable(t, last + 1);
	t->ab[t->nab++] = (struct ls_txn_aborted){ pid, first, last, bound };
	return LS_OK;
}

/* Index of the first aborted transaction whose marker is at or past off. */
static size_t aborted_lower(const struct ls_txns *t, uint64_t off)
{
	size_t lo = 0, hi = t->nab;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ab[mid].last < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t ls_txns_aborted(const struct ls_txns *t, uint64_t from, uint64_t to,
		       struct ls_aborted_txn *out, size_t max)
{
	size_t n = 0;
	if (from >= to)
		return 0;
	for (size_t i = aborted_lower(t, from); i < t->nab; i++) {
		const struct ls_txn_aborted *a = &t->ab[i];
		if (a->first < to) {
			if (n < max)
				out[n] = (struct ls_aborted_txn){ a->pid, a->first, a->last };
			n++;
		}
		if (a->bound >= to)
			break;
	}
	return n;
}

void ls_txns_truncate_head(struct ls_txns *t, uint64_t log_start)
{
	size_t k = aborted_lower(t, log_start);
	if (k == 0)
		return;
	memmove(t->ab, t->ab + k, (t->nab - k) * sizeof(*t->ab));
	t->nab -= k;
}

/* ---- snapshots ------------------------------------------------------------ */

size_t ls_txns_snapshot_size(const struct ls_txns *t)
{
	return 4 + t->nab * LS_TXN_ABORTED_BYTES;
}

unsigned char *ls_txns_put(const struct ls_txns *t, unsigned char *p)
{
	ls_put_be32(p, (uint32_t)t->nab);
	p += 4;
	for (size_t i = 0; i < t->nab; i++, p += LS_TXN_ABORTED_BYTES) {
		ls_put_be64(p, (uint64_t)t->ab[i].pid);
		ls_put_be64(p + 8, t->ab[i].first);
		ls_put_be64(p + 16, t->ab[i].last);
		ls_put_be64(p + 24, t->ab[i].bound);
	}
	return p;
}

int ls_txns_get(struct ls_txns *t, const unsigned char *p, size_t len)
{
	if (len < 4)
		return LS_ERR_CORRUPT;
	size_t n = ls_get_be32(p);
	if ((len - 4) / LS_TXN_ABORTED_BYTES < n || len - 4 != n * LS_TXN_ABORTED_BYTES)
		return LS_ERR_CORRUPT;
	p += 4;
	for (size_t i = 0; i < n; i++, p += LS_TXN_ABORTED_BYTES) {
		struct ls_txn_aborted a = { (int64_t)ls_get_be64(p), ls_get_be64(p + 8),
					    ls_get_be64(p + 16), ls_get_be64(p + 24) };
		/* the order a lookup relies on */
		if (a.first > a.last || (t->nab > 0 && t->ab[t->nab - 1].last >= a.last))
			return LS_ERR_CORRUPT;
		if (t->nab == t->ab_cap) {
			size_t cap = t->ab_cap ? t->ab_cap * 2 : 8;
			while (cap < n)
				cap *= 2;
			struct ls_txn_aborted *m = realloc(t->ab, cap * sizeof(*m));
			if (!m)
				return LS_ERR_NOMEM;
			t->ab = m;
			t->ab_cap = cap;
		}
		t->ab[t->nab++] = a;
	}
	return LS_OK;
}

/* ---- the partition's queries (logstore.h) ----------------------------------- */

int ls_partition_first_unstable(struct ls_partition *p, uint64_t *offset)
{
	int rc = ls_pstate_load(p, ls_now_ms(p->store));
	if (rc != LS_OK)
		return rc;
	uint64_t first = ls_pstate_first_unstable(p->pstate, p->log_end);
	/* a transaction whose start retention took is unstable from the
	 * log start on, as Kafka clamps it */
	*offset = first < p->log_start ? p->log_start : first;
	return LS_OK;
}

int ls_partition_aborted_txns(struct ls_partition *p, uint64_t from, uint64_t to,
			      struct ls_aborted_txn *out, size_t max, size_t *n)
{
	int rc = ls_pstate_load(p, ls_now_ms(p->store));
	if (rc != LS_OK)
		return rc;
	*n = ls_pstate_aborted(p->pstate, from, to, out, max);
	return LS_OK;
}

int ls_partition_batch_aborted(struct ls_partition *p, const struct ls_batch_info *b)
{
	struct ls_aborted_txn few[8], *a = few;
	size_t n = 0;
	int rc, found = 0;

	if ((b->attributes & (LS_ATTR_TRANSACTIONAL | LS_ATTR_CONTROL)) != LS_ATTR_TRANSACTIONAL)
		return 0;
	rc = ls_partition_aborted_txns(p, b->base_offset, b->base_offset + 1, few, 8, &n);
	if (rc == LS_OK && n > 8) {
		a = malloc(n * sizeof *a);
		rc = a ? ls_partition_aborted_txns(p, b->base_offset, b->base_offset + 1, a, n, &n)
		       : LS_ERR_NOMEM;
	}
	for (size_t i = 0; rc == LS_OK && i < n; i++)
		found |= a[i].producer_id == b->producer_id;
	if (a != few)
		free(a);
	return rc == LS_OK ? found : rc;
}
