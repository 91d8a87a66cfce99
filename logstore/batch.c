/*
 * logstore/batch.c: Kafka RecordBatch v2: building batches (varint
 * records, compressed through codec.c, CRC-32C), parsing headers,
 * validating what a producer sent, and decoding records back
 * (ls_decoder).
 *
 * Layout (kafka-protocol.md 2.5): baseOffset i64, batchLength i32,
 * partitionLeaderEpoch i32, magic i8 = 2, crc u32 (CRC-32C of attributes
 * to the end), attributes i16, lastOffsetDelta i32, baseTimestamp i64,
 * maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32,
 * recordCount i32, then the records (compressed as one blob when the
 * codec is not 0).  Parsers are bounds-checked: every length is checked
 * against the end of its buffer before use.
 *
 * Must not depend on anything but libc (the codecs are codec.c's).
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "logstore_internal.h"

#define ATTR_CODEC_MASK 0x7
#define ATTR_LOG_APPEND_TIME 0x8
#define ATTR_TRANSACTIONAL 0x10
#define ATTR_CONTROL 0x20
#define DEFAULT_MAX_INFLATED (64u << 20)

struct ls_decoder {
	size_t max_inflated;
	const unsigned char *buf; /* borrowed: the batches */
	size_t len, pos;
	uint64_t min_offset;
	int in_batch;
	int strict; /* validation: records must fill the batch exactly */
	struct ls_batch_info info;
	const unsigned char *rp, *rend; /* records of the current batch */
	int32_t left;
	struct ls_unzip unzip; /* owned: decompressed records */
	struct ls_header *hdrs; /* owned: headers of the current record */
	size_t hcap;
};

uint32_t ls_batch_crc(const unsigned char *buf, size_t len)
{
	return ls_crc32c(0, buf + 21, len - 21);
}

int ls_batch_parse(const void *vbuf, size_t len, struct ls_batch_info *info)
{
	const unsigned char *b = vbuf;
	int32_t blen;

	if (len < 17)
		return LS_ERR_NOT_FOUND;
	blen = (int32_t)ls_get_be32(b + 8);
	if (b[16] != 2)
		return LS_ERR_INVALID_RECORD;
	if (blen < LS_BATCH_HEADER_SIZE - 12)
		return LS_ERR_INVALID_RECORD;
	info->size = (uint32_t)blen + 12;
	if (len < LS_BATCH_HEADER_SIZE || len < info->size)
		return LS_ERR_NOT_FOUND;
	info->base_offset = ls_get_be64(b);
	info->partition_leader_epoch = (int32_t)ls_get_be32(b + 12);
	info->crc = ls_get_be32(b + 17);
	info->attributes = (int16_t)ls_get_be16(b + 21);
	info->codec = info->attributes & ATTR_CODEC_MASK;
	info->last_offset_delta = (int32_t)ls_get_be32(b + 23);
	info->base_timestamp = (int64_t)ls_get_be64(b + 27);
	info->max_timestamp = (int64_t)ls_get_be64(b + 35);
	info->producer_id = (int64_t)ls_get_be64(b + 43);
	info->producer_epoch = (int16_t)ls_get_be16(b + 51);
	info->base_sequence = (int32_t)ls_get_be32(b + 53);
	info->record_count = (int32_t)ls_get_be32(b + 57);
	return LS_OK;
}

int ls_batch_control_type(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf + LS_BATCH_HEADER_SIZE, *end;
	int64_t rlen, skip, klen;
	int16_t version, type;

	if (len < LS_BATCH_HEADER_SIZE || buf[16] != 2)
		return -1;
	uint16_t attr = ls_get_be16(buf + 21);
	if (!(attr & ATTR_CONTROL) || (attr & ATTR_CODEC_MASK) != LS_CODEC_NONE ||
	    (int32_t)ls_get_be32(buf + 57) < 1)
		return -1;
	/* the first record: length, attributes, timestamp and offset deltas,
	 * then the key; only the bytes there are looked at */
	end = buf + len;
	if (ls_varint_get(&p, end, &rlen) != 0 || rlen < 1)
		return -1;
	if (rlen < end - p)
		end = p + rlen;
	p++;
	if (p > end || ls_varint_get(&p, end, &skip) != 0 || ls_varint_get(&p, end, &skip) != 0 ||
	    ls_varint_get(&p, end, &klen) != 0 || klen < 4 || klen > end - p)
		return -1;
	version = (int16_t)ls_get_be16(p);
	type = (int16_t)ls_get_be16(p + 2);
	if (version < 0 || (type != LS_TXN_ABORT && type != LS_TXN_COMMIT))
		return -1;
	return type;
}

int ls_batch_check(const unsigned char *buf, size_t len, struct ls_batch_info *info)
{
	int rc = ls_batch_parse(buf, len, info);

	if (rc == LS_ERR_NOT_FOUND)
		return LS_ERR_INVALID_RECORD;
	if (rc != LS_OK)
		return rc;
	if (ls_batch_crc(buf, info->size) != info->crc)
		return LS_ERR_CORRUPT;
	return LS_OK;
}

/* ---- encoding ------------------------------------------------------------ */

void ls_encoder_free(struct ls_encoder *e)
{
	free(e->buf);
	free(e->zbuf);
	ls_zip_free(&e->zip);
	memset(e, 0, sizeof *e);
}

static size_t rec_body_size(const struct ls_record *r, int64_t ts_delta,
			    int64_t off_delta)
{
	size_t n = 1 + ls_varint_size(ts_delta) + ls_varint_size(off_delta);

	n += r->key ? ls_varint_size((int64_t)r->key_len) + r->key_len : 1;
	n += r->value ? ls_varint_size((int64_t)r->value_len) + r->value_len : 1;
	n += ls_varint_size((int64_t)r->header_count);
	for (size_t h = 0; h < r->header_count; h++) {
		const struct ls_header *hd = &r->headers[h];

		n += ls_varint_size((int64_t)hd->key_len) + hd->key_len;
		n += hd->value ? ls_varint_size((int64_t)hd->value_len) + hd->value_len : 1;
	}
	return n;
}

static unsigned char *put_bytes(unsigned char *p, const void *data, size_t len,
				int null)
{
	if (null)
		return p + ls_varint_put(p, -1);
	p += ls_varint_put(p, (int64_t)len);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

int ls_batch_build(const struct ls_record *recs, size_t n, int codec, int64_t now_ms,
		   void **out, size_t *len)
{
	struct ls_encoder e = { 0 };
	struct ls_encode_args a = { .codec = codec, .now = now_ms, .leader_epoch = -1 };
	const unsigned char *b;
	int rc = ls_encode_batch(&e, &a, recs, n, &b, len);

	if (rc == LS_OK && (*out = malloc(*len)) == NULL)
		rc = LS_ERR_NOMEM;
	if (rc == LS_OK)
		memcpy(*out, b, *len);
	ls_encoder_free(&e);
	return rc;
}

int ls_encode_batch(struct ls_encoder *e, const struct ls_encode_args *a,
		    const struct ls_record *recs, size_t n,
		    const unsigned char **out, size_t *len)
{
	int64_t base_ts = -1, max_ts = -1;
	size_t total = 0, rec_len;
	unsigned char *p, *hdr;
	int16_t attr = 0;
	int32_t lod;
	int rc;

	if (n == 0 || n > INT32_MAX)
		return LS_ERR_INVALID;
	if (!ls_codec_known(a->codec))
		return LS_ERR_UNSUPPORTED_CODEC;
	for (size_t i = 0; i < n; i++) {
		int64_t ts = a->log_append_time || recs[i].timestamp < 0 ? a->now
									 : recs[i].timestamp;
		uint32_t od = a->deltas ? a->deltas[i] : (uint32_t)i;
		size_t body;

		if (i == 0)
			base_ts = ts;
		if (ts > max_ts)
			max_ts = ts;
		body = rec_body_size(&recs[i], ts - base_ts, od);
		total += ls_varint_size((int64_t)body) + body;
		if (total > INT32_MAX - 2 * LS_BATCH_HEADER_SIZE)
			return LS_ERR_TOO_LARGE;
	}
	if (ls_buf_reserve(&e->buf, &e->cap, LS_BATCH_HEADER_SIZE + total) != LS_OK)
		return LS_ERR_NOMEM;
	p = e->buf + LS_BATCH_HEADER_SIZE;
	for (size_t i = 0; i < n; i++) {
		const struct ls_record *r = &recs[i];
		int64_t ts = a->log_append_time || r->timestamp < 0 ? a->now : r->timestamp;
		uint32_t od = a->deltas ? a->deltas[i] : (uint32_t)i;
		size_t body = rec_body_size(r, ts - base_ts, od);

		p += ls_varint_put(p, (int64_t)body);
		*p++ = 0; /* record attributes: unused */
		p += ls_varint_put(p, ts - base_ts);
		p += ls_varint_put(p, od);
		p = put_bytes(p, r->key, r->key_len, r->key == NULL);
		p = put_bytes(p, r->value, r->value_len, r->value == NULL);
		p += ls_varint_put(p, (int64_t)r->header_count);
		for (size_t h = 0; h < r->header_count; h++) {
			const struct ls_header *hd = &r->headers[h];

			p = put_bytes(p, hd->key, hd->key_len, 0);
			p = put_bytes(p, hd->value, hd->value_len, hd->value == NULL);
		}
	}
	rec_len = total;
	hdr = e->buf;
	if (a->codec != LS_CODEC_NONE) {
		rc = ls_compress(&e->zip, a->codec, e->buf + LS_BATCH_HEADER_SIZE, total,
				 &e->zbuf, &e->zcap, LS_BATCH_HEADER_SIZE, &rec_len);
		if (rc != LS_OK)
			return rc;
		if (rec_len > INT32_MAX - LS_BATCH_HEADER_SIZE)
			return LS_ERR_TOO_LARGE;
		hdr = e->zbuf;
	}
	if (a->log_append_time)
		attr |= ATTR_LOG_APPEND_TIME;
	attr |= (int16_t)a->codec;
	lod = a->deltas ? (int32_t)a->deltas[n - 1] : (int32_t)(n - 1);
	ls_put_be64(hdr, a->base);
	ls_put_be32(hdr + 8, (uint32_t)(LS_BATCH_HEADER_SIZE - 12 + rec_len));
	ls_put_be32(hdr + 12, (uint32_t)a->leader_epoch); /* partitionLeaderEpoch */
	hdr[16] = 2;
	ls_put_be64(hdr + 43, UINT64_MAX); /* producerId -1 */
	ls_put_be16(hdr + 51, UINT16_MAX); /* producerEpoch -1 */
	ls_put_be32(hdr + 53, UINT32_MAX); /* baseSequence -1 */
	if (a->tmpl != NULL) {
		attr |= (int16_t)(a->tmpl->attributes & 0x78);
		lod = a->tmpl->last_offset_delta;
		ls_put_be32(hdr + 12, (uint32_t)a->tmpl->partition_leader_epoch);
		ls_put_be64(hdr + 43, (uint64_t)a->tmpl->producer_id);
		ls_put_be16(hdr + 51, (uint16_t)a->tmpl->producer_epoch);
		ls_put_be32(hdr + 53, (uint32_t)a->tmpl->base_sequence);
		if (a->tmpl->attributes & ATTR_LOG_APPEND_TIME)
			max_ts = a->tmpl->max_timestamp;
	}
	ls_put_be16(hdr + 21, (uint16_t)attr);
	ls_put_be32(hdr + 23, (uint32_t)lod);
	ls_put_be64(hdr + 27, (uint64_t)base_ts);
	ls_put_be64(hdr + 35, (uint64_t)max_ts);
	ls_put_be32(hdr + 57, (uint32_t)n);
	ls_put_be32(hdr + 17, ls_batch_crc(hdr, LS_BATCH_HEADER_SIZE + rec_len));
	*out = hdr;
	*len = LS_BATCH_HEADER_SIZE + rec_len;
	return LS_OK;
}

/* ---- decoding ------------------------------------------------------------ */

struct ls_decoder *ls_decoder_new(size_t max_inflated)
{
	struct ls_decoder *d = calloc(1, sizeof *d);

	if (d != NULL)
		d->max_inflated = max_inflated ? max_inflated : DEFAULT_MAX_INFLATED;
	return d;
}

void ls_decoder_free(struct ls_decoder *d)
{
	if (d == NULL)
		return;
	ls_unzip_free(&d->unzip);
	free(d->hdrs);
	free(d);
}

void ls_decoder_set(struct ls_decoder *d, const void *buf, size_t len,
		    uint64_t min_offset)
{
	d->buf = buf;
	d->len = len;
	d->pos = 0;
	d->min_offset = min_offset;
	d->in_batch = 0;
	d->strict = 0;
}

/* Enters the batch at d->pos: 1 entered, 0 no more batches, < 0 error. */
static int enter_batch(struct ls_decoder *d)
{
	const unsigned char *b;
	size_t rlen;
	int rc;

	for (;;) {
		if (d->pos >= d->len)
			return 0;
		b = d->buf + d->pos;
		rc = ls_batch_parse(b, d->len - d->pos, &d->info);
		if (rc == LS_ERR_NOT_FOUND)
			return 0; /* trailing partial batch */
		if (rc != LS_OK)
			return rc;
		if (ls_batch_crc(b, d->info.size) != d->info.crc)
			return LS_ERR_CORRUPT;
		d->pos += d->info.size;
		if (d->info.attributes & ATTR_CONTROL)
			continue;
		if (d->info.base_offset + (uint32_t)d->info.last_offset_delta < d->min_offset &&
		    !d->strict)
			continue;
		if (d->info.record_count < 0)
			return LS_ERR_INVALID_RECORD;
		switch (d->info.codec) {
		case LS_CODEC_NONE:
			d->rp = b + LS_BATCH_HEADER_SIZE;
			d->rend = b + d->info.size;
			break;
		case LS_CODEC_GZIP:
		case LS_CODEC_SNAPPY:
		case LS_CODEC_LZ4:
		case LS_CODEC_ZSTD:
			rc = ls_decompress(&d->unzip, d->info.codec, b + LS_BATCH_HEADER_SIZE,
					   d->info.size - LS_BATCH_HEADER_SIZE, d->max_inflated,
					   &rlen);
			if (rc != LS_OK)
				return rc;
			d->rp = d->unzip.buf;
			d->rend = d->unzip.buf + rlen;
			break;
		default:
			return LS_ERR_UNSUPPORTED_CODEC;
		}
		d->left = d->info.record_count;
		d->in_batch = 1;
		return 1;
	}
}

static int get_bytes(const unsigned char **p, const unsigned char *end,
		     const void **data, size_t *len)
{
	int64_t n;

	if (ls_varint_get(p, end, &n) != 0 || n < -1 || n > end - *p)
		return -1;
	if (n < 0) {
		*data = NULL;
		*len = 0;
		return 0;
	}
	*data = *p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

static int parse_record(struct ls_decoder *d, struct ls_record *rec)
{
	const unsigned char *p = d->rp, *end;
	int64_t len, ts_delta, off_delta, nh;

	if (ls_varint_get(&p, d->rend, &len) != 0 || len < 1 || len > d->rend - p)
		return LS_ERR_INVALID_RECORD;
	end = p + len;
	p++; /* attributes */
	if (ls_varint_get(&p, end, &ts_delta) != 0 ||
	    ls_varint_get(&p, end, &off_delta) != 0 || off_delta < 0 ||
	    off_delta > INT32_MAX)
		return LS_ERR_INVALID_RECORD;
	if (get_bytes(&p, end, &rec->key, &rec->key_len) != 0 ||
	    get_bytes(&p, end, &rec->value, &rec->value_len) != 0 ||
	    ls_varint_get(&p, end, &nh) != 0 || nh < 0 || nh > end - p)
		return LS_ERR_INVALID_RECORD;
	if ((size_t)nh > d->hcap) {
		struct ls_header *h = realloc(d->hdrs, (size_t)nh * sizeof *h);

		if (h == NULL)
			return LS_ERR_NOMEM;
		d->hdrs = h;
		d->hcap = (size_t)nh;
	}
	for (int64_t i = 0; i < nh; i++) {
		struct ls_header *h = &d->hdrs[i];
		const void *k;

		if (get_bytes(&p, end, &k, &h->key_len) != 0 || k == NULL ||
		    get_bytes(&p, end, &h->value, &h->value_len) != 0)
			return LS_ERR_INVALID_RECORD;
		h->key = k;
	}
	if (p != end)
		return LS_ERR_INVALID_RECORD;
	rec->headers = nh > 0 ? d->hdrs : NULL;
	rec->header_count = (size_t)nh;
	rec->offset = d->info.base_offset + (uint64_t)off_delta;
	/* Timestamps are the client's: the sum wraps as Kafka's long does. */
	rec->timestamp = (d->info.attributes & ATTR_LOG_APPEND_TIME)
				 ? d->info.max_timestamp
				 : (int64_t)((uint64_t)d->info.base_timestamp +
					     (uint64_t)ts_delta);
	d->rp = end;
	return LS_OK;
}

int ls_decoder_next(struct ls_decoder *d, struct ls_record *rec,
		    struct ls_batch_info *batch)
{
	int rc;

	for (;;) {
		if (!d->in_batch) {
			rc = enter_batch(d);
			if (rc <= 0)
				return rc;
		}
		if (d->left == 0) {
			if (d->rp != d->rend)
				return LS_ERR_INVALID_RECORD;
			d->in_batch = 0;
			continue;
		}
		rc = parse_record(d, rec);
		if (rc != LS_OK)
			return rc;
		d->left--;
		if (rec->offset < d->min_offset)
			continue;
		if (batch != NULL)
			*batch = d->info;
		return 1;
	}
}

/* 1 when one of rec's header keys starts with prefix[0..plen). */
static int has_reserved_header(const struct ls_record *rec, const char *prefix, size_t plen)
{
	for (size_t i = 0; i < rec->header_count; i++)
		if (rec->headers[i].key_len >= plen &&
		    memcmp(rec->headers[i].key, prefix, plen) == 0)
			return 1;
	return 0;
}

int ls_batch_validate(struct ls_decoder *dec, const void *vbuf, size_t len,
		      int require_keys, struct ls_batch_info *info)
{
	return ls_batch_validate_reserved(dec, vbuf, len, require_keys, NULL, info, NULL);
}

/* The reason a record i of a batch is refused, or NULL. */
static const char *record_fault(const struct ls_record *rec, const struct ls_batch_info *info,
				int32_t i, int require_keys, const char *reserved, size_t rlen)
{
	if (rec->offset - info->base_offset != (uint64_t)i)
		return "Record offset delta does not follow its predecessor's";
	if (require_keys && rec->key == NULL)
		return "Compacted topic cannot accept message without key";
	if (rlen && has_reserved_header(rec, reserved, rlen))
		return "Record carries a header reserved for the broker";
	return NULL;
}

int ls_batch_validate_reserved(struct ls_decoder *dec, const void *vbuf, size_t len,
			       int require_keys, const char *reserved, struct ls_batch_info *info,
			       struct ls_append_error *err)
{
	const char *why;
	size_t rlen = reserved ? strlen(reserved) : 0;
	const unsigned char *buf = vbuf;
	struct ls_decoder *d = dec;
	struct ls_record rec;
	int32_t i = 0;
	int rc;

	if (len < LS_BATCH_HEADER_SIZE)
		return LS_ERR_INVALID_RECORD;
	rc = ls_batch_parse(buf, len, info);
	if (rc != LS_OK)
		return LS_ERR_INVALID_RECORD;
	if (info->size != len)
		return LS_ERR_INVALID_RECORD; /* exactly one batch */
	if (ls_batch_crc(buf, len) != info->crc)
		return LS_ERR_CORRUPT;
	if (!ls_codec_known(info->codec))
		return LS_ERR_UNSUPPORTED_CODEC;
	/* control records cannot be produced; a transaction is a producer
	 * id's */
	if ((info->attributes & ATTR_CONTROL) ||
	    ((info->attributes & ATTR_TRANSACTIONAL) && info->producer_id < 0))
		return LS_ERR_INVALID_RECORD;
	if (info->record_count < 1 || info->last_offset_delta != info->record_count - 1)
		return LS_ERR_INVALID_RECORD;
	if (d == NULL && (d = ls_decoder_new(0)) == NULL)
		return LS_ERR_NOMEM;
	ls_decoder_set(d, buf, len, 0);
	d->strict = 1;
	while ((rc = ls_decoder_next(d, &rec, NULL)) == 1) {
		if ((why = record_fault(&rec, info, i, require_keys, reserved, rlen)) != NULL) {
			if (err) {
				err->index = i;
				err->message = why;
			}
			rc = LS_ERR_INVALID_RECORD;
			goto out;
		}
		i++;
	}
	if (rc == 0 && i != info->record_count)
		rc = LS_ERR_INVALID_RECORD;
out:
	if (d != dec)
		ls_decoder_free(d);
	return rc < 0 ? rc : LS_OK;
}
