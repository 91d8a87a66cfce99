/*
 * tests/unit/test_logstore_legacy.c: legacy message sets (magic 0 and 1,
 * Kafka's Produce v0-2) converted to RecordBatch v2 (logstore/legacy.c)
 * and appended (ls_append_legacy): what the topic's configs do to them
 * (LogAppendTime, compaction's keys, compression.type), the trailing
 * partial message Kafka trims, the decompression bound.
 *
 * Must not depend on src/ or libevent.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "test_logstore.h"

struct set {
	unsigned char d[1 << 16];
	size_t n;
};

static void put(struct set *s, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		s->d[s->n++] = (unsigned char)(v >> (8 * i));
}

/* One message (key NULL: null key) with codec attr, value of vlen bytes. */
static void msg(struct set *s, int magic, int attr, int64_t ts, const char *key, const void *v,
		size_t vlen)
{
	size_t at;

	put(s, 0, 8);
	at = s->n;
	put(s, 0, 8); /* size, crc */
	s->d[s->n++] = (unsigned char)magic;
	s->d[s->n++] = (unsigned char)attr;
	if (magic == 1)
		put(s, (uint64_t)ts, 8);
	put(s, key ? strlen(key) : 0xffffffffu, 4);
	if (key) {
		memcpy(s->d + s->n, key, strlen(key));
		s->n += strlen(key);
	}
	put(s, vlen, 4);
	memcpy(s->d + s->n, v, vlen);
	s->n += vlen;
	uint32_t size = (uint32_t)(s->n - at - 4),
		 crc = (uint32_t)crc32(0, s->d + at + 8, size - 4);
	for (int i = 0; i < 4; i++) {
		s->d[at + i] = (unsigned char)(size >> (24 - 8 * i));
		s->d[at + 4 + i] = (unsigned char)(crc >> (24 - 8 * i));
	}
}

static void msg_str(struct set *s, int magic, int64_t ts, const char *key, const char *v)
{
	msg(s, magic, 0, ts, key, v, strlen(v));
}

/* A LogAppendTime topic stamps the broker's time on converted records,
 * as on any batch; CreateTime keeps magic 1 timestamps and gives magic 0
 * records none (-1), not the append time. */
START_TEST(test_legacy_timestamps)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv lat[] = { { "message.timestamp.type", "LogAppendTime" } };
	struct ls_partition *p = tl_topic(s, "ct", 1, NULL, 0);
	struct ls_partition *q = tl_topic(s, "lat", 1, lat, 1);
	static struct set st;
	struct ls_append_result res;
	struct ls_append_error err;
	struct ls_read_result r;
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_record rec;
	static unsigned char got[1 << 16];

	st.n = 0;
	msg_str(&st, 1, 5555, "k", "a");
	tl_clock = 424242;
	ck_assert_int_eq(ls_append_legacy(q, st.d, st.n, &res, &err), LS_OK);
	ck_assert_int_eq(res.log_append_time, 424242);
	ck_assert_int_eq(ls_append_legacy(p, st.d, st.n, &res, &err), LS_OK);
	ck_assert_int_eq(res.log_append_time, -1);
	st.n = 0;
	msg_str(&st, 0, 0, "k", "b");
	ck_assert_int_eq(ls_append_legacy(p, st.d, st.n, &res, &err), LS_OK);
	ck_assert_uint_eq(res.base_offset, 1);

	ck_assert_int_eq(ls_read(q, 0, 1 << 16, &r), LS_OK);
	ck_assert_int_eq(ls_read_copy(&r, got), LS_OK);
	ls_decoder_set(d, got, r.len, 0);
	ls_read_release(&r);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_int_eq(rec.timestamp, 424242);
	ck_assert_int_eq(ls_read(p, 0, 1 << 16, &r), LS_OK);
	ck_assert_int_eq(ls_read_copy(&r, got), LS_OK);
	ls_decoder_set(d, got, r.len, 0);
	ls_read_release(&r);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_int_eq(rec.timestamp, 5555);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_int_eq(rec.timestamp, -1);
	ck_assert_uint_eq(rec.offset, 1);
	ls_decoder_free(d);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A keyless message of a compacted topic is named by its index; nothing
 * is appended.  A trailing partial message is left out, as Kafka trims
 * it; a set of nothing but a partial message is refused. */
START_TEST(test_legacy_keys_and_partial)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv comp[] = { { "cleanup.policy", "compact" } };
	struct ls_partition *c = tl_topic(s, "comp", 1, comp, 1);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	static struct set st;
	struct ls_append_result res;
	struct ls_append_error err;

	st.n = 0;
	msg_str(&st, 1, 1, "k0", "a");
	msg_str(&st, 1, 2, "k1", "b");
	msg_str(&st, 1, 3, NULL, "c");
	ck_assert_int_eq(ls_append_legacy(c, st.d, st.n, &res, &err), LS_ERR_INVALID_RECORD);
	ck_assert_int_eq(err.index, 2);
	ck_assert_ptr_nonnull(strstr(err.message, "without key"));
	ck_assert_uint_eq(ls_log_end(c), 0);

	ck_assert_int_eq(ls_append_legacy(p, st.d, st.n - 5, &res, &err), LS_OK);
	ck_assert_uint_eq(res.last_offset, 1); /* two whole messages */
	ck_assert_int_eq(ls_append_legacy(p, st.d, 20, &res, &err), LS_ERR_INVALID_RECORD);
	ck_assert_uint_eq(ls_log_end(p), 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* The batch is in the codec asked (a topic's compression.type), or the
 * wrapper's with "producer"; a wrapper inflating past the bound is
 * INVALID_RECORD. */
START_TEST(test_legacy_codecs_and_bound)
{
	static struct set inner, st;
	static unsigned char z[1 << 16];
	static char big[40000];
	size_t zn;
	void *out = NULL;
	size_t out_len = 0;
	struct ls_batch_info info;
	struct ls_append_error err;

	inner.n = 0;
	memset(big, 'x', sizeof big);
	msg(&inner, 1, 0, 7, "k", big, sizeof big);
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = inner.d;
	zs.avail_in = (uInt)inner.n;
	zs.next_out = z;
	zs.avail_out = sizeof z;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	zn = zs.total_out;
	deflateEnd(&zs);
	st.n = 0;
	msg(&st, 1, 1, 7, NULL, z, zn);
	ck_assert_int_eq(ls_legacy_convert(st.d, st.n, LS_COMPRESSION_PRODUCER, 0, &out, &out_len,
					   &err),
			 LS_OK);
	ck_assert_int_eq(ls_batch_validate(NULL, out, out_len, 0, &info), LS_OK);
	ck_assert_int_eq(info.codec, LS_CODEC_GZIP);
	ck_assert_int_eq(info.record_count, 1);
	free(out);
	out = NULL;
	ck_assert_int_eq(ls_legacy_convert(st.d, st.n, LS_CODEC_ZSTD, 0, &out, &out_len, &err),
			 LS_OK);
	ck_assert_int_eq(ls_batch_validate(NULL, out, out_len, 0, &info), LS_OK);
	ck_assert_int_eq(info.codec, LS_CODEC_ZSTD);
	free(out);
	out = NULL;
	ck_assert_int_eq(ls_legacy_convert(st.d, st.n, LS_COMPRESSION_PRODUCER, 1024, &out,
					   &out_len, &err),
			 LS_ERR_INVALID_RECORD);
	ck_assert_ptr_null(out);
}
END_TEST

Suite *tl_legacy_suite(void)
{
	Suite *s = suite_create("logstore_legacy");
	TCase *tc = tcase_create("legacy");

	tcase_add_test(tc, test_legacy_timestamps);
	tcase_add_test(tc, test_legacy_keys_and_partial);
	tcase_add_test(tc, test_legacy_codecs_and_bound);
	suite_add_tcase(s, tc);
	return s;
}
