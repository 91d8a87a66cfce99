/*
 * tests/unit/test_logstore_codec.c: Check suite for logstore's codecs
 * (logstore/codec.c): round trips of every codec through ls_batch_build
 * and the decoder; batches compressed by the libraries themselves, as a
 * producer would (raw snappy and snappy-java framing, LZ4 frames, zstd
 * frames without a content size); corrupt and truncated payloads; the
 * max_inflated bomb guard; validation looking inside compressed batches;
 * the topic's compression.type on ls_append, on a producer's batch
 * (recompressed, or kept byte for byte) and not on a replica's append;
 * time lookups inside compressed batches.
 *
 * Must not depend on src/ or libevent: it sees only logstore/ and the
 * codec libraries.
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zstd.h>

#include "crc32c.h"
#include "test_logstore.h"

static const int compressed[] = { LS_CODEC_GZIP, LS_CODEC_SNAPPY, LS_CODEC_LZ4, LS_CODEC_ZSTD };
#define NCOMPRESSED (sizeof compressed / sizeof compressed[0])

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* 1 when the CRC-32C of batch b[0..n) holds. */
static int crc_ok(const unsigned char *b, size_t n)
{
	return get_be(b + 17, 4) == ls_crc32c(0, b + 21, n - 21);
}

/* Fixes batchLength and the CRC of the batch b[0..n). */
static void seal(unsigned char *b, size_t n)
{
	put_be(b + 8, n - 12, 4);
	put_be(b + 17, ls_crc32c(0, b + 21, n - 21), 4);
}

/* n records: keys "key<i>", values of `vlen` bytes (a pattern that
 * compresses: "<i>:" then letters), a header on every third. */
struct recs {
	struct ls_record *r;
	char *vals;
	char (*keys)[16];
	struct ls_header h;
	size_t n, vlen;
};

static void recs_make(struct recs *rs, size_t n, size_t vlen)
{
	rs->r = calloc(n, sizeof *rs->r);
	rs->vals = malloc(n * vlen);
	rs->keys = calloc(n, sizeof *rs->keys);
	rs->n = n;
	rs->vlen = vlen;
	rs->h = (struct ls_header){ "trace", 5, "abc", 3 };
	ck_assert(rs->r && rs->vals && rs->keys);
	for (size_t i = 0; i < n; i++) {
		char *v = rs->vals + i * vlen;

		for (size_t j = 0; j < vlen; j++)
			v[j] = (char)('a' + (i + j / 7) % 26);
		snprintf(v, vlen, "%zu:", i);
		snprintf(rs->keys[i], sizeof rs->keys[i], "key%zu", i);
		rs->r[i].key = rs->keys[i];
		rs->r[i].key_len = strlen(rs->keys[i]);
		rs->r[i].value = v;
		rs->r[i].value_len = vlen;
		rs->r[i].timestamp = 1700000000000 + (int64_t)i;
		if (i % 3 == 0) {
			rs->r[i].headers = &rs->h;
			rs->r[i].header_count = 1;
		}
	}
}

static void recs_free(struct recs *rs)
{
	free(rs->r);
	free(rs->vals);
	free(rs->keys);
}

/* Decodes buf[0..len) with d and checks it holds rs's records from
 * offset base on; returns the codec of the last batch. */
static int recs_check(struct ls_decoder *d, const struct recs *rs, const void *buf, size_t len,
		      uint64_t base)
{
	struct ls_batch_info info = { 0 };
	struct ls_record rec;
	size_t i = 0;
	int rc;

	ls_decoder_set(d, buf, len, 0);
	while ((rc = ls_decoder_next(d, &rec, &info)) == 1) {
		const struct ls_record *w = &rs->r[i];

		HOT_ASSERT(i < rs->n, "too many records");
		HOT_ASSERT(rec.offset == base + i, "offset %" PRIu64 " at %zu", rec.offset, i);
		HOT_ASSERT(rec.key_len == w->key_len && memcmp(rec.key, w->key, w->key_len) == 0,
			   "key at %zu", i);
		HOT_ASSERT(rec.value_len == w->value_len &&
				   memcmp(rec.value, w->value, w->value_len) == 0,
			   "value at %zu", i);
		HOT_ASSERT(rec.timestamp == w->timestamp, "timestamp at %zu", i);
		HOT_ASSERT(rec.header_count == w->header_count, "headers at %zu", i);
		if (rec.header_count == 1)
			HOT_ASSERT(rec.headers[0].key_len == 5 &&
					   memcmp(rec.headers[0].key, "trace", 5) == 0 &&
					   rec.headers[0].value_len == 3,
				   "header at %zu", i);
		i++;
	}
	ck_assert_msg(rc == 0, "decode: %s", ls_strerror(rc));
	ck_assert_uint_eq(i, rs->n);
	return info.codec;
}

/* Builds rs as one batch in codec; *out malloc'd. */
static size_t build(const struct recs *rs, int codec, unsigned char **out)
{
	void *b;
	size_t len;

	ck_assert_int_eq(ls_batch_build(rs->r, rs->n, codec, 0, &b, &len), LS_OK);
	*out = b;
	return len;
}

/* The records part of plain[0..n) (codec none) compressed by the codec's
 * own library, as a producer's client would: raw snappy (xerial 0) or
 * snappy-java framing in blocks of `block` bytes (xerial 1), an LZ4
 * frame, a zstd frame without a content size.  Returns the new batch
 * (malloc'd) in *out. */
static size_t rezip(const unsigned char *plain, size_t n, int codec, int xerial,
		    unsigned char **out)
{
	const unsigned char *in = plain + LS_BATCH_HEADER_SIZE;
	size_t in_len = n - LS_BATCH_HEADER_SIZE, cap = 4096 + 2 * in_len, z = 0;
	unsigned char *b = malloc(LS_BATCH_HEADER_SIZE + cap), *p;

	ck_assert_ptr_nonnull(b);
	memcpy(b, plain, LS_BATCH_HEADER_SIZE);
	p = b + LS_BATCH_HEADER_SIZE;
	if (codec == LS_CODEC_SNAPPY && !xerial) {
		z = cap;
		ck_assert_int_eq(snappy_compress((const char *)in, in_len, (char *)p, &z),
				 SNAPPY_OK);
	} else if (codec == LS_CODEC_SNAPPY) {
		static const unsigned char magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
		size_t block = 1000;

		memcpy(p, magic, 8);
		put_be(p + 8, 1, 4);
		put_be(p + 12, 1, 4);
		z = 16;
		for (size_t done = 0; done < in_len; done += block) {
			size_t k = in_len - done < block ? in_len - done : block, c = cap - z - 4;

			ck_assert_int_eq(snappy_compress((const char *)in + done, k,
							 (char *)p + z + 4, &c),
					 SNAPPY_OK);
			put_be(p + z, c, 4);
			z += 4 + c;
		}
	} else if (codec == LS_CODEC_LZ4) {
		LZ4F_preferences_t prefs;

		memset(&prefs, 0, sizeof prefs);
		prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
		prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
		z = LZ4F_compressFrame(p, cap, in, in_len, &prefs);
		ck_assert(!LZ4F_isError(z));
	} else if (codec == LS_CODEC_ZSTD) {
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_outBuffer ob = { p, cap, 0 };
		ZSTD_inBuffer ib = { in, in_len, 0 };

		ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
		ck_assert_uint_eq(ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end), 0);
		z = ob.pos;
		ZSTD_freeCCtx(c);
		/* no Frame_Content_Size: the decoder must stream */
		ck_assert(ZSTD_getFrameContentSize(p, z) == ZSTD_CONTENTSIZE_UNKNOWN);
	}
	put_be(b + 21, (get_be(b + 21, 2) & ~7u) | (unsigned)codec, 2);
	seal(b, LS_BATCH_HEADER_SIZE + z);
	*out = b;
	return LS_BATCH_HEADER_SIZE + z;
}

START_TEST(test_codec_round_trip)
{
	static const int all[] = { LS_CODEC_NONE, LS_CODEC_GZIP, LS_CODEC_SNAPPY, LS_CODEC_LZ4,
				   LS_CODEC_ZSTD };
	static const size_t vlens[] = { 20, 70000 }; /* small; past lz4/snappy blocks */
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_batch_info info;

	for (size_t v = 0; v < 2; v++) {
		struct recs rs;

		size_t plain_n = 0;

		recs_make(&rs, v == 0 ? 1000 : 20, vlens[v]);
		for (size_t c = 0; c < sizeof all / sizeof all[0]; c++) {
			unsigned char *b;
			size_t n = build(&rs, all[c], &b);

			ck_assert_int_eq(ls_batch_validate(d, b, n, 1, &info), LS_OK);
			ck_assert_int_eq(info.codec, all[c]);
			ck_assert_int_eq(recs_check(d, &rs, b, n, 0), all[c]);
			if (all[c] == LS_CODEC_NONE)
				plain_n = n;
			else /* really compressed */
				ck_assert_msg(n < plain_n * 3 / 4, "codec %d: %zu of %zu bytes",
					      all[c], n, plain_n);
			free(b);
		}
		recs_free(&rs);
	}
	/* ls_batch_build's snappy is snappy-java's framing (what the Java
	 * client writes; librdkafka and Kafka read both) */
	{
		struct recs rs;
		unsigned char *b;

		recs_make(&rs, 10, 20);
		build(&rs, LS_CODEC_SNAPPY, &b);
		ck_assert_mem_eq(b + LS_BATCH_HEADER_SIZE, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
		free(b);
		recs_free(&rs);
	}
	ls_decoder_free(d);
}
END_TEST

/* Batches compressed by the libraries directly: raw snappy, snappy-java
 * framing in several blocks, LZ4 frames with checksums, zstd without a
 * content size. */
START_TEST(test_codec_library_batches)
{
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_batch_info info;
	struct recs rs;
	unsigned char *plain, *b;
	size_t n;

	recs_make(&rs, 300, 50);
	n = build(&rs, LS_CODEC_NONE, &plain);
	for (int xerial = 0; xerial < 2; xerial++) {
		size_t zn = rezip(plain, n, LS_CODEC_SNAPPY, xerial, &b);

		ck_assert_int_eq(b[LS_BATCH_HEADER_SIZE] == 0x82, xerial);
		ck_assert_int_eq(ls_batch_validate(d, b, zn, 0, &info), LS_OK);
		ck_assert_int_eq(recs_check(d, &rs, b, zn, 0), LS_CODEC_SNAPPY);
		free(b);
	}
	for (int c = LS_CODEC_LZ4; c <= LS_CODEC_ZSTD; c++) {
		size_t zn = rezip(plain, n, c, 0, &b);

		ck_assert_int_eq(ls_batch_validate(d, b, zn, 0, &info), LS_OK);
		ck_assert_int_eq(recs_check(d, &rs, b, zn, 0), c);
		free(b);
	}
	free(plain);
	recs_free(&rs);
	ls_decoder_free(d);
}
END_TEST

/* Damaged compressed data under a valid CRC is an error from the decoder
 * and from validation, never a crash.  (Flipped bytes inside lz4, snappy
 * or zstd data without checksums may also decode to other bytes: then only
 * "no crash" holds, which ASan checks.) */
START_TEST(test_codec_corrupt)
{
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_batch_info info;
	struct ls_record rec;
	struct recs rs;

	recs_make(&rs, 200, 40);
	for (size_t c = 0; c < NCOMPRESSED; c++) {
		unsigned char *b;
		size_t n = build(&rs, compressed[c], &b), cut;
		int rc;

		/* flipped bytes in the middle of the payload */
		for (size_t i = LS_BATCH_HEADER_SIZE + 20; i < LS_BATCH_HEADER_SIZE + 36; i++)
			b[i] ^= 0x5a;
		seal(b, n);
		rc = ls_batch_validate(d, b, n, 0, &info);
		if (compressed[c] == LS_CODEC_GZIP) /* gzip's own CRC-32 */
			ck_assert_int_lt(rc, 0);
		ls_decoder_set(d, b, n, 0);
		while ((rc = ls_decoder_next(d, &rec, NULL)) == 1)
			;
		/* garbage after the first four bytes */
		memset(b + LS_BATCH_HEADER_SIZE + 4, 0xff, n - LS_BATCH_HEADER_SIZE - 4);
		seal(b, n);
		ck_assert_int_eq(ls_batch_validate(d, b, n, 0, &info), LS_ERR_INVALID_RECORD);
		ls_decoder_set(d, b, n, 0);
		ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), LS_ERR_INVALID_RECORD);
		free(b);
		/* truncated payloads, of several lengths */
		for (cut = 1; cut < 200; cut += 37) {
			n = build(&rs, compressed[c], &b);
			seal(b, n - cut);
			ck_assert_int_eq(ls_batch_validate(d, b, n - cut, 0, &info),
					 LS_ERR_INVALID_RECORD);
			free(b);
		}
	}
	recs_free(&rs);
	ls_decoder_free(d);
}
END_TEST

/* A batch inflating past max_inflated is refused, never inflated whole. */
START_TEST(test_codec_bomb)
{
	struct ls_decoder *small = ls_decoder_new(256 * 1024), *big = ls_decoder_new(0);
	struct ls_batch_info info;
	struct ls_record rec;
	struct recs rs;

	recs_make(&rs, 4, 1 << 20); /* 4 MiB that compress to little */
	for (size_t i = 0; i < rs.n; i++)
		memset((char *)rs.r[i].value, 'z', rs.vlen);
	for (size_t c = 0; c < NCOMPRESSED; c++) {
		unsigned char *b;
		size_t n = build(&rs, compressed[c], &b);

		ck_assert_uint_lt(n, 512 * 1024);
		ck_assert_int_eq(ls_batch_validate(small, b, n, 0, &info), LS_ERR_INVALID_RECORD);
		ls_decoder_set(small, b, n, 0);
		ck_assert_int_eq(ls_decoder_next(small, &rec, NULL), LS_ERR_INVALID_RECORD);
		ck_assert_int_eq(ls_batch_validate(big, b, n, 0, &info), LS_OK);
		free(b);
	}
	/* a library-made lz4 / zstd / raw snappy bomb too */
	{
		unsigned char *plain, *b;
		size_t n = build(&rs, LS_CODEC_NONE, &plain);

		for (int c = LS_CODEC_SNAPPY; c <= LS_CODEC_ZSTD; c++) {
			size_t zn = rezip(plain, n, c, 0, &b);

			ck_assert_int_eq(ls_batch_validate(small, b, zn, 0, &info),
					 LS_ERR_INVALID_RECORD);
			free(b);
		}
		free(plain);
	}
	recs_free(&rs);
	ls_decoder_free(small);
	ls_decoder_free(big);
}
END_TEST

/* Validation walks the records inside snappy, lz4 and zstd batches as it
 * does for gzip: a record overrunning its batch, or a keyless record on a
 * compacted topic, is refused. */
START_TEST(test_codec_validate_inside)
{
	struct ls_batch_info info;
	struct recs rs;
	unsigned char *plain, *b;
	size_t n;

	recs_make(&rs, 5, 10);
	n = build(&rs, LS_CODEC_NONE, &plain);
	plain[LS_BATCH_HEADER_SIZE] = 0x7e; /* first record's length: past the end */
	for (int c = LS_CODEC_GZIP; c <= LS_CODEC_ZSTD; c++) {
		size_t zn;

		if (c == LS_CODEC_GZIP)
			continue; /* covered by test_batch_validate's plain case */
		zn = rezip(plain, n, c, 1, &b);
		ck_assert_int_eq(ls_batch_validate(NULL, b, zn, 0, &info), LS_ERR_INVALID_RECORD);
		free(b);
	}
	free(plain);
	rs.r[2].key = NULL;
	rs.r[2].key_len = 0;
	for (size_t c = 0; c < NCOMPRESSED; c++) {
		n = build(&rs, compressed[c], &b);
		ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_OK);
		ck_assert_int_eq(ls_batch_validate(NULL, b, n, 1, &info), LS_ERR_INVALID_RECORD);
		free(b);
	}
	recs_free(&rs);
}
END_TEST

/* The batch stored at offset `at` of p, malloc'd into *out. */
static size_t stored(struct ls_partition *p, uint64_t at, unsigned char **out)
{
	struct ls_read_result r;
	size_t len;

	ck_assert_int_eq(ls_read(p, at, 1, &r), LS_OK);
	ck_assert_uint_gt(r.len, 0);
	*out = malloc(r.len);
	ck_assert_int_eq(ls_read_copy(&r, *out), LS_OK);
	len = r.len;
	ls_read_release(&r);
	return len;
}

/* ls_append on a topic whose compression.type names a codec stores it. */
START_TEST(test_codec_topic_append)
{
	static const char *names[] = { "uncompressed", "gzip", "snappy", "lz4", "zstd" };
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_batch_info info;

	for (int c = 0; c <= LS_CODEC_ZSTD; c++) {
		struct ls_kv cfg = { "compression.type", names[c] };
		struct ls_partition *p = tl_topic(s, names[c], 1, &cfg, 1);
		unsigned char *b;
		size_t n;

		tl_append(p, 400, 7);
		n = stored(p, 0, &b);
		ck_assert_int_eq(ls_batch_parse(b, n, &info), LS_OK);
		ck_assert_int_eq(info.codec, c);
		ck_assert_int_eq(info.record_count, 400);
		free(b);
		ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 400);
		ck_assert_uint_eq(tl_read_all(p, 123, 1, NULL, 0), 277);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* Sets producer id 4242, epoch 3, base sequence 17 and the timestamps of
 * batch b[0..n) and reseals it. */
static void as_producer(unsigned char *b, size_t n)
{
	put_be(b + 43, 4242, 8);
	put_be(b + 51, 3, 2);
	put_be(b + 53, 17, 4);
	seal(b, n);
}

/* Kafka's broker rule: compression.type=lz4 stores a producer's gzip
 * batch as lz4, offsets, producer fields and timestamps kept; a batch
 * already in lz4 is stored as sent; compression.type=producer keeps every
 * byte. */
START_TEST(test_codec_recompress_on_produce)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv lz4[] = { { "compression.type", "lz4" } };
	struct ls_partition *l = tl_topic(s, "l", 1, lz4, 1);
	struct ls_partition *p = tl_topic(s, "p", 1, NULL, 0);
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_batch_info in, out;
	struct ls_append_result res;
	unsigned char *gz, *lb, *got;
	struct recs rs;
	size_t gn, ln, n;

	recs_make(&rs, 250, 30);
	gn = build(&rs, LS_CODEC_GZIP, &gz);
	as_producer(gz, gn);
	ck_assert_int_eq(ls_batch_parse(gz, gn, &in), LS_OK);
	tl_append(l, 10, 0);
	ck_assert_int_eq(ls_append_batch(l, gz, gn, &res), LS_OK);
	ck_assert_uint_eq(res.base_offset, 10);
	ck_assert_uint_eq(res.last_offset, 259);
	n = stored(l, 10, &got);
	ck_assert_int_eq(ls_batch_parse(got, n, &out), LS_OK);
	ck_assert(crc_ok(got, n));
	ck_assert_int_eq(out.codec, LS_CODEC_LZ4);
	ck_assert_uint_eq(out.base_offset, 10);
	ck_assert_int_eq(out.last_offset_delta, in.last_offset_delta);
	ck_assert_int_eq(out.record_count, in.record_count);
	ck_assert_int_eq(out.producer_id, 4242);
	ck_assert_int_eq(out.producer_epoch, 3);
	ck_assert_int_eq(out.base_sequence, 17);
	ck_assert_int_eq(out.base_timestamp, in.base_timestamp);
	ck_assert_int_eq(out.max_timestamp, in.max_timestamp);
	ck_assert_int_eq(recs_check(d, &rs, got, n, 10), LS_CODEC_LZ4);
	free(got);
	/* an lz4 batch goes in as sent (but its base offset) */
	ln = build(&rs, LS_CODEC_LZ4, &lb);
	as_producer(lb, ln);
	ck_assert_int_eq(ls_append_batch(l, lb, ln, &res), LS_OK);
	n = stored(l, res.base_offset, &got);
	ck_assert_uint_eq(n, ln);
	ck_assert_mem_eq(got + 8, lb + 8, ln - 8);
	free(got);
	/* producer: the gzip batch's bytes are kept */
	ck_assert_int_eq(ls_append_batch(p, gz, gn, &res), LS_OK);
	n = stored(p, 0, &got);
	ck_assert_uint_eq(n, gn);
	ck_assert_mem_eq(got + 8, gz + 8, gn - 8);
	free(got);
	free(lb);
	free(gz);
	recs_free(&rs);
	ls_decoder_free(d);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* With LogAppendTime, a recompressed batch gets the broker's time; with
 * uncompressed, a zstd batch is stored plain. */
START_TEST(test_codec_recompress_log_append_time)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "compression.type", "uncompressed" },
					    { "message.timestamp.type", "LogAppendTime" } };
	struct ls_partition *p = tl_topic(s, "u", 1, cfg, 2);
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_append_result res;
	struct ls_batch_info out;
	struct ls_record rec;
	unsigned char *z, *got;
	struct recs rs;
	size_t zn, n;
	int rc;

	recs_make(&rs, 50, 10);
	zn = build(&rs, LS_CODEC_ZSTD, &z);
	ck_assert_int_eq(ls_append_batch(p, z, zn, &res), LS_OK);
	ck_assert_int_eq(res.log_append_time, tl_clock);
	n = stored(p, 0, &got);
	ck_assert_int_eq(ls_batch_parse(got, n, &out), LS_OK);
	ck_assert(crc_ok(got, n));
	ck_assert_int_eq(out.codec, LS_CODEC_NONE);
	ck_assert_int_eq(out.attributes & 0x8, 0x8);
	ck_assert_int_eq(out.max_timestamp, tl_clock);
	ls_decoder_set(d, got, n, 0);
	while ((rc = ls_decoder_next(d, &rec, NULL)) == 1)
		ck_assert_int_eq(rec.timestamp, tl_clock);
	ck_assert_int_eq(rc, 0);
	free(got);
	free(z);
	recs_free(&rs);
	ls_decoder_free(d);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A follower stores its leader's bytes: no recompression on a replica's
 * append, whatever the topic's compression.type. */
START_TEST(test_codec_replica_as_sent)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv lz4[] = { { "compression.type", "lz4" } };
	struct ls_partition *f = tl_topic(s, "f", 1, lz4, 1);
	unsigned char *gz, *got;
	struct recs rs;
	size_t gn, n, consumed = 0;

	recs_make(&rs, 20, 10);
	gn = build(&rs, LS_CODEC_GZIP, &gz);
	ck_assert_int_eq(ls_append_replica(f, gz, gn, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, gn);
	n = stored(f, 0, &got);
	ck_assert_uint_eq(n, gn);
	ck_assert_mem_eq(got, gz, gn);
	free(got);
	free(gz);
	recs_free(&rs);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* ListOffsets by time finds the record inside a compressed batch, not
 * only the batch. */
START_TEST(test_codec_time_lookup)
{
	static const char *names[] = { "gzip", "snappy", "lz4", "zstd" };
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct recs rs;

	recs_make(&rs, 100, 10);
	for (size_t c = 0; c < NCOMPRESSED; c++) {
		struct ls_partition *p = tl_topic(s, names[c], 1, NULL, 0);
		unsigned char *b;
		size_t n = build(&rs, compressed[c], &b);
		uint64_t off;
		int64_t ts;

		tl_append(p, 5, 0); /* timestamps: now (before rs's) */
		ck_assert_int_eq(ls_append_batch(p, b, n, NULL), LS_OK);
		ck_assert_int_eq(ls_offset_for_time(p, rs.r[37].timestamp, &off, &ts), LS_OK);
		ck_assert_uint_eq(off, 5 + 37);
		ck_assert_int_eq(ts, rs.r[37].timestamp);
		free(b);
	}
	recs_free(&rs);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_codec_suite(void)
{
	Suite *s = suite_create("logstore codecs");
	TCase *tc = tcase_create("codecs");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_codec_round_trip);
	tcase_add_test(tc, test_codec_library_batches);
	tcase_add_test(tc, test_codec_corrupt);
	tcase_add_test(tc, test_codec_bomb);
	tcase_add_test(tc, test_codec_validate_inside);
	tcase_add_test(tc, test_codec_topic_append);
	tcase_add_test(tc, test_codec_recompress_on_produce);
	tcase_add_test(tc, test_codec_recompress_log_append_time);
	tcase_add_test(tc, test_codec_replica_as_sent);
	tcase_add_test(tc, test_codec_time_lookup);
	suite_add_tcase(s, tc);
	return s;
}
