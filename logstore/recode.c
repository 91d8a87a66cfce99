/*
 * logstore/recode.c: rebuilding a batch from its decoded records: the
 * records kept across a batch's decoding (compaction keeps some of them),
 * and a whole batch re-encoded in another codec (a topic whose
 * compression.type names a codec, as Kafka's broker recompresses).
 *
 * Must not depend on anything but libc.
 */
#include <stdlib.h>
#include <string.h>

#include "logstore_internal.h"

int ls_kept_add(struct ls_kept *k, const struct ls_record *r, uint32_t delta)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		struct ls_record *nr = realloc(k->recs, cap * sizeof *nr);
		uint32_t *nd;
		size_t *na;

		if (nr == NULL)
			return LS_ERR_NOMEM;
		k->recs = nr;
		nd = realloc(k->deltas, cap * sizeof *nd);
		if (nd == NULL)
			return LS_ERR_NOMEM;
		k->deltas = nd;
		na = realloc(k->hdr_at, cap * sizeof *na);
		if (na == NULL)
			return LS_ERR_NOMEM;
		k->hdr_at = na;
		k->cap = cap;
	}
	if (k->nh + r->header_count > k->hcap) {
		size_t cap = k->hcap ? k->hcap * 2 : 64;
		struct ls_header *nh;

		while (cap < k->nh + r->header_count)
			cap *= 2;
		nh = realloc(k->hdrs, cap * sizeof *nh);
		if (nh == NULL)
			return LS_ERR_NOMEM;
		k->hdrs = nh;
		k->hcap = cap;
	}
	/* Headers point into the decoder's per-record array: copy them. */
	if (r->header_count > 0)
		memcpy(k->hdrs + k->nh, r->headers, r->header_count * sizeof *r->headers);
	k->hdr_at[k->n] = k->nh;
	k->nh += r->header_count;
	k->recs[k->n] = *r;
	k->deltas[k->n] = delta;
	k->n++;
	return LS_OK;
}

void ls_kept_free(struct ls_kept *k)
{
	free(k->recs);
	free(k->deltas);
	free(k->hdr_at);
	free(k->hdrs);
}

void ls_kept_fix_headers(struct ls_kept *k)
{
	for (size_t j = 0; j < k->n; j++)
		k->recs[j].headers = k->hdrs + k->hdr_at[j];
}

int ls_batch_recode(struct ls_store *s, const unsigned char *buf, size_t len,
		    struct ls_encode_args *a, const unsigned char **out, size_t *out_len)
{
	struct ls_batch_info b;
	struct ls_record rec;
	struct ls_kept k;
	int rc;

	memset(&k, 0, sizeof k);
	rc = ls_batch_parse(buf, len, &b);
	if (rc != LS_OK)
		return LS_ERR_INVALID_RECORD;
	ls_decoder_set(s->dec, buf, len, 0);
	while ((rc = ls_decoder_next(s->dec, &rec, NULL)) == 1) {
		rc = ls_kept_add(&k, &rec, (uint32_t)(rec.offset - b.base_offset));
		if (rc != LS_OK)
			goto out;
	}
	if (rc < 0)
		goto out;
	ls_kept_fix_headers(&k);
	a->deltas = k.deltas;
	rc = ls_encode_batch(&s->enc, a, k.recs, k.n, out, out_len);
	a->deltas = NULL;
out:
	ls_kept_free(&k);
	return rc;
}
