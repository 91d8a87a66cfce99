/*
 * Records over HTTP: GET /api/topics/{name}/partitions/{p}/messages reads
 * a partition by offset (replay), and hx_write_records, which the group
 * fetch endpoint (api_groups.c) shares, turns stored batches into JSON
 * record objects.  Reads go through core (core/topic_ops.h:
 * tdm_partition_read_records decodes, gzip included).  Keys,
 * values and header values are JSON strings when they are valid UTF-8,
 * base64 otherwise (say the *_encoding fields).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/topic_ops.h"
#include "core/topics.h"
#include "http/amqpval.h"
#include "http/hx.h"

/* Past this much JSON a reply stops adding records (but has one at least). */
#define MAX_REPLY_BYTES (16u << 20)

/* Writes bytes as a string value: text when UTF-8, else base64.
 * Returns the encoding's name. */
static const char *write_bytes(struct js_w *w, const void *p, size_t n)
{
	if (hx_valid_utf8(p, n)) {
		js_strn(w, p, n);
		return "string";
	}
	js_value_begin(w);
	js_raw(w, "\"", 1);
	hv_b64_encode(w, p, n);
	js_raw(w, "\"", 1);
	return "base64";
}

static void write_record(struct js_w *w, int32_t partition, const struct tdm_record *rec)
{
	const char *enc = "string";

	js_obj(w);
	js_kint(w, "partition", partition);
	js_kuint(w, "offset", rec->offset);
	js_kint(w, "timestamp", rec->timestamp);
	js_key(w, "key");
	if (rec->key)
		enc = write_bytes(w, rec->key, rec->key_len);
	else
		js_null(w);
	js_kstr(w, "key_encoding", enc);
	enc = "string";
	js_key(w, "payload");
	if (rec->value)
		enc = write_bytes(w, rec->value, rec->value_len);
	else
		js_null(w);
	js_kstr(w, "payload_encoding", enc);
	js_key(w, "headers");
	js_obj(w);
	for (size_t i = 0; i < rec->header_count; i++) {
		const struct tdm_header *h = &rec->headers[i];

		js_keyn(w, h->key, h->key_len);
		if (h->value)
			write_bytes(w, h->value, h->value_len);
		else
			js_null(w);
	}
	js_obj_end(w);
	js_obj_end(w);
}

struct write_ctx {
	struct js_w *w;
};

/* One record into the reply; stops the read once the reply is big enough. */
static int record_cb(void *ctx, int32_t partition, const struct tdm_record *rec)
{
	struct write_ctx *wc = ctx;

	write_record(wc->w, partition, rec);
	return wc->w->len >= MAX_REPLY_BYTES;
}

int hx_write_records(struct tdm_topics *tp, struct ls_partition *p, uint64_t *next, size_t max,
		     struct js_w *w, size_t *written)
{
	struct write_ctx wc = { w };

	return tdm_partition_read_records(tp, p, next, max, record_cb, &wc, written);
}

/* The HTTP API's one mapping of core statuses (TDM_ERR_*) to replies. */
void hx_topic_error(struct hx_req *r, int rc)
{
	if (rc == TDM_ERR_UNSUPPORTED_CODEC)
		hx_error(r, 501, "unsupported_codec",
			 "the records are compressed with a codec tandem cannot decode (attributes codec 5-7)");
	else if (rc == TDM_ERR_INVALID)
		hx_error(r, 400, "bad_request", tdm_strerror(rc));
	else if (rc == TDM_ERR_NOMEM)
		hx_error(r, 500, "internal_error", "out of memory");
	else
		hx_error(r, 500, "internal_error", tdm_strerror(rc));
}

/* A decimal number in [0, max] from text s: 0, or -1. */
int hx_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* count=: 1.., more than HX_MAX_RECORDS is cut to it; -1 when malformed. */
static int64_t count_param(const char *s)
{
	uint64_t v;

	if (!s)
		return HX_DEFAULT_RECORDS;
	if (hx_parse_uint(s, strlen(s), UINT64_MAX, &v) < 0 || v == 0)
		return -1;
	return v > HX_MAX_RECORDS ? HX_MAX_RECORDS : (int64_t)v;
}

void hx_topic_messages(struct hx_req *r, struct ls_topic *t)
{
	uint64_t pi, offset;
	struct ls_partition *p = NULL;
	const char *os = hx_query(r, "offset");
	int64_t count = count_param(hx_query(r, "count"));
	char reason[200];
	struct js_w w;
	size_t n;

	if (hx_parse_uint(r->seg[3].s, r->seg[3].len, INT32_MAX, &pi) == 0)
		p = tdm_topic_partition(t, (int32_t)pi);
	if (!p) {
		hx_not_found(r);
		return;
	}
	if (count < 0) {
		hx_error(r, 400, "bad_request", "count must be a positive integer");
		return;
	}
	uint64_t start = tdm_partition_log_start(p), end = tdm_partition_log_end(p);
	offset = start;
	if (os && hx_parse_uint(os, strlen(os), UINT64_MAX, &offset) < 0) {
		hx_error(r, 400, "bad_request", "offset must be a non-negative integer");
		return;
	}
	if (offset < start || offset > end) {
		snprintf(reason, sizeof(reason),
			 "offset %" PRIu64 " is out of range: the partition holds offsets %" PRIu64
			 " (log start) to %" PRIu64 " (log end)",
			 offset, start, end);
		hx_error(r, 400, "offset_out_of_range", reason);
		return;
	}
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "topic", tdm_topic_name(t));
	js_kint(&w, "partition", (int64_t)pi);
	js_kuint(&w, "log_start_offset", start);
	js_kuint(&w, "log_end_offset", end);
	js_key(&w, "messages");
	js_arr(&w);
	int rc = hx_write_records(r->h->topics, p, &offset, (size_t)count, &w, &n);
	js_arr_end(&w);
	js_kuint(&w, "next_offset", offset);
	js_obj_end(&w);
	if (rc != TDM_TOPIC_OK)
		hx_topic_error(r, rc);
	else
		hx_reply_json(r, 200, &w);
	js_w_free(&w);
}
