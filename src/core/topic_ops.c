/*
 * Topic reads and administration for the front ends (core/topic_ops.h):
 * thin calls into logstore, the record reader, and the one mapping of
 * logstore's types and status codes to core's (core/topic_types.h).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stddef.h>
#include <stdlib.h>

#include "core/topic_ops.h"
#include "core/topics.h"
#include "logstore/logstore.h"

/* Core's status codes are logstore's, one to one: a status passes up
 * unchanged. */
_Static_assert(TDM_TOPIC_OK == LS_OK && TDM_ERR_NOMEM == LS_ERR_NOMEM && TDM_ERR_IO == LS_ERR_IO &&
		       TDM_ERR_INVALID == LS_ERR_INVALID && TDM_ERR_EXISTS == LS_ERR_EXISTS &&
		       TDM_ERR_NOT_FOUND == LS_ERR_NOT_FOUND &&
		       TDM_ERR_OFFSET_OUT_OF_RANGE == LS_ERR_OFFSET_OUT_OF_RANGE &&
		       TDM_ERR_CORRUPT == LS_ERR_CORRUPT &&
		       TDM_ERR_INVALID_RECORD == LS_ERR_INVALID_RECORD &&
		       TDM_ERR_TOO_LARGE == LS_ERR_TOO_LARGE &&
		       TDM_ERR_UNSUPPORTED_CODEC == LS_ERR_UNSUPPORTED_CODEC &&
		       TDM_ERR_INVALID_CONFIG == LS_ERR_INVALID_CONFIG &&
		       TDM_ERR_INVALID_TOPIC == LS_ERR_INVALID_TOPIC && TDM_ERR_LOCKED == LS_ERR_LOCKED &&
		       TDM_ERR_BUSY == LS_ERR_BUSY &&
		       TDM_ERR_OUT_OF_ORDER_SEQUENCE == LS_ERR_OUT_OF_ORDER_SEQUENCE &&
		       TDM_ERR_PRODUCER_FENCED == LS_ERR_PRODUCER_FENCED &&
		       TDM_ERR_INVALID_TIMESTAMP == LS_ERR_INVALID_TIMESTAMP,
	       "core status codes must equal logstore's");
_Static_assert(TDM_CODEC_NONE == LS_CODEC_NONE && TDM_CODEC_GZIP == LS_CODEC_GZIP &&
		       TDM_CODEC_TOPIC == LS_CODEC_TOPIC,
	       "core codecs must equal logstore's");
_Static_assert(TDM_FSYNC_BUCKETS == LS_FSYNC_BUCKETS, "fsync histogram buckets");
/* Records and headers pass through without copying the header arrays. */
#define SAME_FIELD(a, b, f) (offsetof(struct a, f) == offsetof(struct b, f))
_Static_assert(sizeof(struct tdm_header) == sizeof(struct ls_header) &&
		       SAME_FIELD(tdm_header, ls_header, key) &&
		       SAME_FIELD(tdm_header, ls_header, key_len) &&
		       SAME_FIELD(tdm_header, ls_header, value) &&
		       SAME_FIELD(tdm_header, ls_header, value_len),
	       "struct tdm_header must be laid out as struct ls_header");

const char *tdm_strerror(int rc)
{
	if (rc == TDM_TOPICS_ERR_LIMIT)
		return "partition limit reached";
	return ls_strerror(rc);
}

uint32_t tdm_fsync_bound_us(int i)
{
	return i >= 0 && i < LS_FSYNC_BUCKETS ? ls_fsync_bounds_us[i] : 0;
}

struct ls_topic *tdm_topic_find(struct tdm_topics *t, const char *name)
{
	return t ? ls_topic_find(tdm_topics_store(t), name) : NULL;
}

void tdm_topics_foreach(struct tdm_topics *t, tdm_topic_fn fn, void *ctx)
{
	if (t)
		ls_topic_foreach(tdm_topics_store(t), fn, ctx);
}

const char *tdm_topic_name(const struct ls_topic *topic)
{
	return ls_topic_name(topic);
}

const char *tdm_topic_id(const struct ls_topic *topic)
{
	return ls_topic_id(topic);
}

int tdm_topic_set_id(struct ls_topic *topic, const char *id)
{
	return ls_topic_set_id(topic, id);
}

int32_t tdm_topic_partitions(const struct ls_topic *topic)
{
	return ls_topic_partition_count(topic);
}

int tdm_topic_is_internal(const struct ls_topic *topic)
{
	return ls_topic_is_internal(topic);
}

struct ls_partition *tdm_topic_partition(struct ls_topic *topic, int32_t i)
{
	return ls_partition_get(topic, i);
}

int tdm_topic_config_value(const struct ls_topic *topic, const char *name, char *buf,
			   size_t len, int *is_default)
{
	return ls_topic_config_value(topic, name, buf, len, is_default);
}

const char *tdm_topic_config_name(size_t i)
{
	return ls_config_name(i);
}

int tdm_topics_config_default(struct tdm_topics *t, const char *name, char *buf, size_t len)
{
	return ls_config_format(ls_store_defaults(tdm_topics_store(t)), name, buf, len) == LS_OK
		       ? TDM_TOPIC_OK
		       : TDM_ERR_INVALID_CONFIG;
}

int tdm_topic_config_try(const struct ls_topic *topic, const char *name, const char *value,
			 char *out, size_t outlen)
{
	struct ls_topic_config c;

	if (topic)
		c = *ls_topic_get_config(topic);
	else
		ls_config_defaults(&c);
	if (ls_config_set(&c, name, value) != LS_OK)
		return TDM_ERR_INVALID_CONFIG;
	if (out && outlen)
		ls_config_format(&c, name, out, outlen);
	return TDM_TOPIC_OK;
}

int tdm_topics_producer_id(struct tdm_topics *t, int64_t *pid)
{
	return ls_producer_id_next(tdm_topics_store(t), pid);
}

int32_t tdm_partition_index(const struct ls_partition *p)
{
	return ls_partition_index(p);
}

uint64_t tdm_partition_log_start(const struct ls_partition *p)
{
	return ls_log_start(p);
}

uint64_t tdm_partition_log_end(const struct ls_partition *p)
{
	return ls_log_end(p);
}

uint64_t tdm_partition_flushed(const struct ls_partition *p)
{
	return ls_flushed_offset(p);
}

int tdm_partition_failed(const struct ls_partition *p)
{
	return ls_partition_failed(p);
}

uint64_t tdm_partition_high_watermark(const struct ls_partition *p)
{
	return ls_partition_high_watermark(p);
}

void tdm_partition_set_high_watermark(struct ls_partition *p, uint64_t hw)
{
	ls_partition_set_high_watermark(p, hw);
}

int tdm_partition_assign_epoch(struct ls_partition *p, int32_t epoch, uint64_t start_offset)
{
	return ls_partition_assign_epoch(p, epoch, start_offset);
}

int32_t tdm_partition_latest_epoch(const struct ls_partition *p)
{
	return ls_partition_latest_epoch(p);
}

void tdm_partition_epoch_end(const struct ls_partition *p, int32_t epoch, int32_t *out_epoch,
			     int64_t *end_offset)
{
	ls_partition_epoch_end(p, epoch, out_epoch, end_offset);
}

uint64_t tdm_partition_bytes(const struct ls_partition *p)
{
	return ls_partition_bytes(p);
}

size_t tdm_partition_segments(const struct ls_partition *p)
{
	return ls_partition_segments(p);
}

int tdm_partition_offset_for_time(struct ls_partition *p, int64_t ts, uint64_t *offset,
				  int64_t *found_ts)
{
	return ls_offset_for_time(p, ts, offset, found_ts);
}

int64_t tdm_partition_max_timestamp(const struct ls_partition *p)
{
	return ls_partition_max_timestamp(p);
}

int tdm_partition_first_unstable(struct ls_partition *p, uint64_t *offset)
{
	return ls_partition_first_unstable(p, offset);
}

/* Aborted transactions pass through without a copy. */
_Static_assert(sizeof(struct tdm_aborted_txn) == sizeof(struct ls_aborted_txn) &&
		       SAME_FIELD(tdm_aborted_txn, ls_aborted_txn, producer_id) &&
		       SAME_FIELD(tdm_aborted_txn, ls_aborted_txn, first_offset) &&
		       SAME_FIELD(tdm_aborted_txn, ls_aborted_txn, last_offset),
	       "struct tdm_aborted_txn must be laid out as struct ls_aborted_txn");

int tdm_partition_aborted_txns(struct ls_partition *p, uint64_t from, uint64_t to,
			       struct tdm_aborted_txn *out, size_t max, size_t *n)
{
	return ls_partition_aborted_txns(p, from, to, (struct ls_aborted_txn *)out, max, n);
}

#define READ_CHUNK (1u << 20)

/* Gives the decoded records of dec to fn while fewer than max were given:
 * 1 when fn or max stopped it, 0 when the batches ran out, or an error.
 * *next follows the last record given. */
static int give_some(struct ls_decoder *dec, int32_t partition, size_t max, tdm_record_fn fn,
		     void *ctx, uint64_t *next, size_t *given)
{
	struct ls_record rec;
	int rc;

	while (*given < max) {
		rc = ls_decoder_next(dec, &rec, NULL);
		if (rc <= 0)
			return rc;
		struct tdm_record tr = { rec.key, rec.key_len, rec.value, rec.value_len,
					 (const struct tdm_header *)rec.headers, rec.header_count,
					 rec.timestamp, rec.offset };
		int stop = fn(ctx, partition, &tr);
		*next = rec.offset + 1;
		(*given)++;
		if (stop)
			return 1;
	}
	return 1;
}

int tdm_partition_read_records(struct tdm_topics *t, struct ls_partition *p, uint64_t *next,
			       size_t max, tdm_record_fn fn, void *ctx, size_t *count)
{
	struct ls_decoder *dec = ls_decoder_new(0);
	uint8_t *buf = NULL;
	size_t given = 0;
	int rc = LS_OK;

	if (!dec) {
		rc = LS_ERR_NOMEM;
		goto out;
	}
	while (given < max) {
		struct tdm_read_result rr;

		rc = tdm_topics_read(t, p, *next, READ_CHUNK, &rr);
		if (rc != LS_OK || rr.len == 0) {
			if (rc == LS_OK)
				tdm_topics_read_release(t, &rr);
			break;
		}
		free(buf);
		buf = malloc(rr.len);
		rc = buf ? tdm_topics_read_copy(&rr, buf) : LS_ERR_NOMEM;
		uint64_t after = rr.next_offset;
		size_t len = rr.len;
		tdm_topics_read_release(t, &rr);
		if (rc != LS_OK)
			break;
		ls_decoder_set(dec, buf, len, *next);
		rc = give_some(dec, ls_partition_index(p), max, fn, ctx, next, &given);
		if (rc < 0)
			break;
		if (rc == 1) {
			rc = LS_OK;
			break;
		}
		if (after <= *next)
			break; /* no progress: nothing more to read */
		*next = after;
	}
out:
	free(buf);
	ls_decoder_free(dec);
	if (count)
		*count = given;
	return rc;
}

void tdm_topics_fsync_hist(struct tdm_topics *t, struct tdm_fsync_hist *out)
{
	const struct ls_fsync_hist *h = ls_store_fsync_hist(tdm_topics_store(t));

	out->count = h->count;
	out->sum_us = h->sum_us;
	for (int i = 0; i < TDM_FSYNC_BUCKETS; i++)
		out->bucket[i] = h->bucket[i];
}
