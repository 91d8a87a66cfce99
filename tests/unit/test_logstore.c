/*
 * tests/unit/test_logstore.c: Check suites for logstore/, core part and
 * main(): CRC-32C against published vectors (the check value, RFC 3720
 * B.4) and a bitwise reference; murmur2 against Kafka's and librdkafka's
 * vectors; the config table; RecordBatch v2 encoding against a layout
 * built by hand from the spec, decoding, gzip, and validation of producer
 * batches.  The log, recovery, retention and codec suites live in
 * test_logstore_*.c.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "crc32c.h"
#include "test_logstore.h"

/* One bit at a time, straight from the definition. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

START_TEST(test_crc32c_vectors)
{
	uint8_t buf[32];

	ck_assert_uint_eq(ls_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(ls_crc32c(0, NULL, 0), 0);
	ck_assert_uint_eq(ls_crc32c(0, "a", 1), 0xC1D04330u);
	/* RFC 3720 appendix B.4 */
	memset(buf, 0, sizeof buf);
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof buf);
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x113FDB5Cu);
}
END_TEST

/* The portable table, on a CPU where the instruction would be used: it
 * must agree with the definition too (each Check test runs in its own
 * process, so the choice made here does not leak into other tests). */
START_TEST(test_crc32c_portable)
{
	static uint8_t data[1031];
	setenv("LS_CRC32C_PORTABLE", "1", 1);
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= sizeof data; n += 37)
			HOT_ASSERT(ls_crc32c(0, data + off, n) == crc32c_bitwise(data + off, n),
				   "off %zu len %zu", off, n);
	ck_assert_uint_eq(ls_crc32c(0, "123456789", 9), 0xE3069283u);
}
END_TEST

START_TEST(test_crc32c_incremental)
{
	enum { LEN = 4099 };
	static uint8_t data[LEN + 8];
	uint64_t x = 0x2545F4914F6CDD1DULL;

	for (size_t i = 0; i < sizeof data; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint8_t)x;
	}
	/* Every length and misalignment up to a few words, then long runs. */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n < 80; n++)
			HOT_ASSERT(ls_crc32c(0, data + off, n) ==
					   crc32c_bitwise(data + off, n),
				   "off %zu len %zu", off, n);
	ck_assert_uint_eq(ls_crc32c(0, data, LEN), crc32c_bitwise(data, LEN));
	/* Pieces of any size chain to the one-shot value. */
	for (int trial = 0; trial < 200; trial++) {
		uint32_t c = 0;
		size_t pos = 0;

		while (pos < LEN) {
			size_t step;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			step = (size_t)(x % 97);
			if (step > LEN - pos)
				step = LEN - pos;
			c = ls_crc32c(c, data + pos, step);
			pos += step;
		}
		ck_assert_uint_eq(c, crc32c_bitwise(data, LEN));
	}
}
END_TEST

/* ---- murmur2 and the partitioner ---------------------------------------- */

START_TEST(test_murmur2_vectors)
{
	/* librdkafka's rdmurmur2.c unit test (checked against Java). */
	static const struct {
		const char *key;
		uint32_t h;
	} v[] = {
		{ "kafka", 0xd067cf64u },
		{ "giberish123456789", 0x8f552b0cu },
		{ "1234", 0x9fc97b14u },
		{ "234", 0xe7c009cau },
		{ "34", 0x873930dau },
		{ "4", 0x5a4b5ca1u },
		{ "PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1cu },
		{ "reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377u },
		{ "eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09eu },
		{ "AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43fu },
		{ "", 0x106e08d9u },
	};
	/* Kafka's UtilsTest (Java ints). */
	static const struct {
		const char *key;
		int32_t h;
	} j[] = {
		{ "21", -973932308 },
		{ "foobar", -790332482 },
		{ "a-little-bit-long-string", -985981536 },
		{ "a-little-bit-longer-string", -1486304829 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
		{ "abc", 479470107 },
	};

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		ck_assert_uint_eq(ls_murmur2(v[i].key, strlen(v[i].key)), v[i].h);
	for (size_t i = 0; i < sizeof j / sizeof j[0]; i++)
		ck_assert_int_eq((int32_t)ls_murmur2(j[i].key, strlen(j[i].key)), j[i].h);
	ck_assert_uint_eq(ls_murmur2(NULL, 0), 0x106e08d9u);
}
END_TEST

START_TEST(test_partition_for_key)
{
	/* (murmur2 & 0x7fffffff) % n, by hand for "kafka": 0x5067cf64. */
	ck_assert_int_eq(ls_partition_for_key("kafka", 5, 1), 0);
	ck_assert_int_eq(ls_partition_for_key("kafka", 5, 7), (int32_t)(0x5067cf64u % 7));
	ck_assert_int_eq(ls_partition_for_key("abc", 3, 100), 479470107 % 100);
	/* negative Java hash: sign bit cleared, not abs() */
	ck_assert_int_eq(ls_partition_for_key("21", 2, 1000),
			 (int32_t)(((uint32_t)-973932308 & 0x7fffffffu) % 1000));
	for (int32_t n = 1; n < 50; n++) {
		int32_t p = ls_partition_for_key("some key", 8, n);

		ck_assert(p >= 0 && p < n);
	}
}
END_TEST

/* ---- config table --------------------------------------------------------- */

START_TEST(test_config_table)
{
	struct ls_topic_config c;
	char buf[64];

	ls_config_defaults(&c);
	ck_assert_int_eq(c.segment_bytes, 1073741824);
	ck_assert_int_eq(c.retention_ms, 604800000);
	ck_assert_int_eq(c.retention_bytes, -1);
	ck_assert_int_eq(c.index_interval_bytes, 4096);
	ck_assert_int_eq(c.cleanup_policy, LS_CLEANUP_DELETE);
	ck_assert_int_eq(c.max_message_bytes, 1048588);
	ck_assert_int_eq(c.compression_type, LS_COMPRESSION_PRODUCER);
	ck_assert_int_eq(ls_config_set(&c, "retention.ms", "-1"), LS_OK);
	ck_assert_int_eq(c.retention_ms, -1);
	ck_assert_int_eq(ls_config_set(&c, "retention.ms", "-2"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "retention.ms", "12x"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "retention.ms", ""), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "segment.bytes", "13"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "no.such.key", "1"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "cleanup.policy", "compact,delete"), LS_OK);
	ck_assert_int_eq(c.cleanup_policy, LS_CLEANUP_COMPACT | LS_CLEANUP_DELETE);
	ck_assert_int_eq(ls_config_set(&c, "cleanup.policy", "shred"), LS_ERR_INVALID_CONFIG);
	/* every value Kafka accepts */
	{
		static const char *ct[] = { "uncompressed", "zstd", "lz4", "snappy", "gzip",
					    "producer" };
		static const int64_t cv[] = { LS_CODEC_NONE, LS_CODEC_ZSTD, LS_CODEC_LZ4,
					      LS_CODEC_SNAPPY, LS_CODEC_GZIP,
					      LS_COMPRESSION_PRODUCER };

		for (int i = 0; i < 6; i++) {
			ck_assert_int_eq(ls_config_set(&c, "compression.type", ct[i]), LS_OK);
			ck_assert_int_eq(c.compression_type, cv[i]);
			ls_config_format(&c, "compression.type", buf, sizeof buf);
			ck_assert_str_eq(buf, ct[i]);
		}
	}
	ck_assert_int_eq(ls_config_set(&c, "compression.type", "brotli"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "compression.type", "gzip"), LS_OK);
	ck_assert_int_eq(ls_config_set(&c, "min.cleanable.dirty.ratio", "0.25"), LS_OK);
	ck_assert_int_eq(ls_config_set(&c, "min.cleanable.dirty.ratio", "1.5"),
			 LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "message.timestamp.type", "LogAppendTime"), LS_OK);
	ck_assert_int_eq(ls_config_format(&c, "message.timestamp.type", buf, sizeof buf),
			 LS_OK);
	ck_assert_str_eq(buf, "LogAppendTime");
	/* message.format.version: Kafka's spellings of a release, kept (and
	 * ignored: KIP-724) as the release */
	ls_config_format(&c, "message.format.version", buf, sizeof buf);
	ck_assert_str_eq(buf, "3.0");
	{
		static const char *in[] = { "0.10.0.0", "0.10.0-IV1", "0.8.2", "2.4.1", "3.0-IV1",
					    "1.1" };
		static const char *out[] = { "0.10.0", "0.10.0", "0.8.2", "2.4", "3.0", "1.1" };

		for (int i = 0; i < 6; i++) {
			ck_assert_int_eq(ls_config_set(&c, "message.format.version", in[i]), LS_OK);
			ls_config_format(&c, "message.format.version", buf, sizeof buf);
			ck_assert_str_eq(buf, out[i]);
		}
	}
	ck_assert_int_eq(ls_config_set(&c, "message.format.version", "0.10"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "message.format.version", "4.0"), LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_config_set(&c, "message.format.version", "0.10.0-IVx"),
			 LS_ERR_INVALID_CONFIG);
	ls_config_format(&c, "cleanup.policy", buf, sizeof buf);
	ck_assert_str_eq(buf, "compact,delete");
	ls_config_format(&c, "min.cleanable.dirty.ratio", buf, sizeof buf);
	ck_assert_str_eq(buf, "0.25");
	/* every listed key formats and parses back */
	for (size_t i = 0; ls_config_name(i) != NULL; i++) {
		struct ls_topic_config d;

		ls_config_defaults(&d);
		ck_assert_int_eq(ls_config_format(&c, ls_config_name(i), buf, sizeof buf), LS_OK);
		ck_assert_int_eq(ls_config_set(&d, ls_config_name(i), buf), LS_OK);
	}
}
END_TEST

/* ---- batches -------------------------------------------------------------- */

static size_t zz(unsigned char *p, int64_t v) /* independent varint writer */
{
	uint64_t u = v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1 : (uint64_t)v << 1;
	size_t n = 0;

	do {
		p[n] = (unsigned char)(u & 0x7f);
		u >>= 7;
		if (u)
			p[n] |= 0x80;
		n++;
	} while (u);
	return n;
}

static void be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A two-record batch laid out by hand from kafka-protocol.md 2.5. */
static size_t hand_batch(unsigned char *b, uint64_t base, int64_t ts)
{
	unsigned char rec[2][64];
	size_t rl[2], pos = 61;

	for (int r = 0; r < 2; r++) {
		unsigned char body[64];
		size_t n = 0;

		body[n++] = 0;              /* attributes */
		n += zz(body + n, r * 5);   /* timestamp delta */
		n += zz(body + n, r);       /* offset delta */
		if (r == 0) {
			n += zz(body + n, 1);
			body[n++] = 'k';
		} else {
			n += zz(body + n, -1); /* null key */
		}
		n += zz(body + n, 2);
		body[n++] = 'v';
		body[n++] = (unsigned char)('0' + r);
		n += zz(body + n, r == 0 ? 1 : 0); /* headers */
		if (r == 0) {
			n += zz(body + n, 2);
			body[n++] = 'h';
			body[n++] = '1';
			n += zz(body + n, -1); /* null header value */
		}
		rl[r] = zz(rec[r], (int64_t)n);
		memcpy(rec[r] + rl[r], body, n);
		rl[r] += n;
	}
	memset(b, 0, 61);
	for (int r = 0; r < 2; r++) {
		memcpy(b + pos, rec[r], rl[r]);
		pos += rl[r];
	}
	be(b, base, 8);
	be(b + 8, pos - 12, 4);
	be(b + 12, 0xffffffffu, 4);
	b[16] = 2;
	be(b + 21, 0, 2);
	be(b + 23, 1, 4);
	be(b + 27, (uint64_t)ts, 8);
	be(b + 35, (uint64_t)ts + 5, 8);
	be(b + 43, UINT64_MAX, 8);
	be(b + 51, 0xffff, 2);
	be(b + 53, 0xffffffffu, 4);
	be(b + 57, 2, 4);
	be(b + 17, ls_crc32c(0, b + 21, pos - 21), 4);
	return pos;
}

START_TEST(test_batch_layout)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	struct ls_header h = { "h1", 2, NULL, 0 };
	struct ls_record recs[2] = {
		{ "k", 1, "v0", 2, &h, 1, 7000, 0 },
		{ NULL, 0, "v1", 2, NULL, 0, 7005, 0 },
	};
	unsigned char want[256], got[256];
	struct ls_read_result r;
	size_t n;

	tl_append(p, 3, 0); /* so the batch gets base offset 3 */
	ck_assert_int_eq(ls_append(p, recs, 2, LS_CODEC_NONE, NULL), LS_OK);
	n = hand_batch(want, 3, 7000);
	ck_assert_int_eq(ls_read(p, 3, 1, &r), LS_OK);
	ck_assert_uint_eq(r.len, n);
	ck_assert_uint_eq(r.first_offset, 3);
	ck_assert_uint_eq(r.next_offset, 5);
	ck_assert_int_eq(ls_read_copy(&r, got), LS_OK);
	ls_read_release(&r);
	ck_assert_mem_eq(got, want, n);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_batch_decode_hand)
{
	unsigned char b[256];
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_batch_info info;
	struct ls_record rec;
	size_t n = hand_batch(b, (1ULL << 40) + 1, 123456);

	ls_decoder_set(d, b, n, 0);
	ck_assert_int_eq(ls_decoder_next(d, &rec, &info), 1);
	ck_assert_uint_eq(info.record_count, 2);
	ck_assert_uint_eq(rec.offset, (1ULL << 40) + 1);
	ck_assert_int_eq(rec.timestamp, 123456);
	ck_assert_uint_eq(rec.key_len, 1);
	ck_assert_mem_eq(rec.key, "k", 1);
	ck_assert_mem_eq(rec.value, "v0", 2);
	ck_assert_uint_eq(rec.header_count, 1);
	ck_assert_mem_eq(rec.headers[0].key, "h1", 2);
	ck_assert_ptr_null(rec.headers[0].value);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_ptr_null(rec.key);
	ck_assert_int_eq(rec.timestamp, 123461);
	ck_assert_uint_eq(rec.offset, (1ULL << 40) + 2);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 0);
	/* min_offset skips the first record; a partial tail is ignored */
	ls_decoder_set(d, b, n + 0, (1ULL << 40) + 2);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_uint_eq(rec.offset, (1ULL << 40) + 2);
	ls_decoder_set(d, b, n - 1, 0);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 0);
	/* a client's timestamp near the limit wraps as Kafka's long, no UB */
	n = hand_batch(b, 0, INT64_MAX);
	ls_decoder_set(d, b, n, 0);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_int_eq(rec.timestamp, INT64_MIN + 4);
	n = hand_batch(b, (1ULL << 40) + 1, 123456);
	/* a flipped bit anywhere in the CRC'd range is caught */
	for (size_t i = 21; i < n; i++) {
		b[i] ^= 0x10;
		ls_decoder_set(d, b, n, 0);
		HOT_ASSERT(ls_decoder_next(d, &rec, NULL) == LS_ERR_CORRUPT, "byte %zu", i);
		b[i] ^= 0x10;
	}
	ls_decoder_free(d);
}
END_TEST

START_TEST(test_batch_validate)
{
	unsigned char b[256], two[512];
	struct ls_batch_info info;
	size_t n = hand_batch(b, 0, 1000);

	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_OK);
	ck_assert_int_eq(info.record_count, 2);
	/* keyless second record on a compacted topic */
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 1, &info), LS_ERR_INVALID_RECORD);
	/* short, wrong length, two batches */
	ck_assert_int_eq(ls_batch_validate(NULL, b, 60, 0, &info), LS_ERR_INVALID_RECORD);
	ck_assert_int_eq(ls_batch_validate(NULL, b, n - 1, 0, &info), LS_ERR_INVALID_RECORD);
	memcpy(two, b, n);
	memcpy(two + n, b, n);
	ck_assert_int_eq(ls_batch_validate(NULL, two, 2 * n, 0, &info),
			 LS_ERR_INVALID_RECORD);
	/* magic */
	b[16] = 1;
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
	b[16] = 2;
	/* CRC */
	b[n - 1] ^= 1;
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_CORRUPT);
	b[n - 1] ^= 1;
	/* base offset and leader epoch lie outside the CRC */
	be(b, 77, 8);
	be(b + 12, 5, 4);
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_OK);
#define REPAIR() be(b + 17, ls_crc32c(0, b + 21, n - 21), 4)
	/* lastOffsetDelta, recordCount disagree */
	be(b + 23, 2, 4);
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
	be(b + 23, 1, 4);
	be(b + 57, 3, 4);
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
	be(b + 57, 2, 4);
	/* codecs: 5 unknown; control, and transactional without a producer
	 * id, refused; a batch marked snappy is looked into (these plain
	 * records are no snappy data: refused) */
	be(b + 21, 5, 2);
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_UNSUPPORTED_CODEC);
	be(b + 21, 0x20, 2);
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
	be(b + 21, 0x10, 2);
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
	be(b + 21, 2, 2);
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
	be(b + 21, 0, 2);
	/* a record overrunning the batch */
	b[61] = 0x7e;
	REPAIR();
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_ERR_INVALID_RECORD);
#undef REPAIR
}
END_TEST

/* Gzip a batch's records with zlib directly, as a producer would. */
static size_t gzip_batch(unsigned char *out, const unsigned char *plain, size_t n)
{
	z_stream zs;
	size_t zlen;

	memset(&zs, 0, sizeof zs);
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)plain + 61;
	zs.avail_in = (uInt)(n - 61);
	zs.next_out = out + 61;
	zs.avail_out = 4096;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	zlen = 4096 - zs.avail_out;
	deflateEnd(&zs);
	memcpy(out, plain, 61);
	be(out + 8, 61 - 12 + zlen, 4);
	be(out + 21, 1, 2);
	be(out + 17, ls_crc32c(0, out + 21, 61 + zlen - 21), 4);
	return 61 + zlen;
}

START_TEST(test_gzip)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv gz[] = { { "compression.type", "gzip" } };
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	struct ls_partition *q = tl_topic(s, "gz", 1, gz, 1);
	unsigned char plain[256], z[4096], *stored;
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_append_result res;
	struct ls_read_result r;
	struct ls_batch_info info;
	struct ls_record rec;
	size_t n = hand_batch(plain, 0, 5000), zn = gzip_batch(z, plain, n);

	/* a producer's gzip batch is stored byte for byte but the base */
	tl_append(p, 10, 0);
	ck_assert_int_eq(ls_append_batch(p, z, zn, &res), LS_OK);
	ck_assert_uint_eq(res.base_offset, 10);
	ck_assert_int_eq(res.log_append_time, -1);
	ck_assert_int_eq(ls_read(p, 10, 1, &r), LS_OK);
	ck_assert_uint_eq(r.len, zn);
	stored = malloc(r.len);
	ck_assert_int_eq(ls_read_copy(&r, stored), LS_OK);
	ls_read_release(&r);
	ck_assert_uint_eq(ls_batch_parse(stored, zn, &info), LS_OK);
	ck_assert_uint_eq(info.base_offset, 10);
	ck_assert_mem_eq(stored + 8, z + 8, zn - 8);
	ls_decoder_set(d, stored, zn, 0);
	ck_assert_int_eq(ls_decoder_next(d, &rec, &info), 1);
	ck_assert_int_eq(info.codec, LS_CODEC_GZIP);
	ck_assert_uint_eq(rec.offset, 10);
	ck_assert_mem_eq(rec.value, "v0", 2);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 1);
	ck_assert_uint_eq(rec.offset, 11);
	ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), 0);
	free(stored);
	/* a corrupt deflate stream with a valid CRC is refused */
	z[61 + 20] ^= 0xff; /* inside the deflate data */
	be(z + 17, ls_crc32c(0, z + 21, zn - 21), 4);
	ck_assert_int_eq(ls_append_batch(p, z, zn, NULL), LS_ERR_INVALID_RECORD);
	/* topic compression.type=gzip: ls_append compresses */
	tl_append(q, 500, 0);
	ck_assert_int_eq(ls_read(q, 0, 1, &r), LS_OK);
	stored = malloc(r.len);
	ck_assert_int_eq(ls_read_copy(&r, stored), LS_OK);
	ck_assert_int_eq(ls_batch_parse(stored, r.len, &info), LS_OK);
	ck_assert_int_eq(info.codec, LS_CODEC_GZIP);
	ck_assert_uint_lt(r.len, 500 * 5);
	ls_read_release(&r);
	free(stored);
	ck_assert_uint_eq(tl_read_all(q, 0, 1, NULL, 0), 500);
	ck_assert_uint_eq(tl_read_all(q, 250, 1, NULL, 0), 250);
	ls_decoder_free(d);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A producer's batch may not carry the embedding broker's own headers
 * (options.reserved_header_prefix), plain or gzipped; the broker's own
 * ls_append may (issue 11, finding 2: no Kafka record passes for an AMQP
 * publish with a validated user_id). */
START_TEST(test_append_batch_reserved_headers)
{
	char *dir = tl_mkdtemp(), err[256] = "";
	struct ls_options o;
	struct ls_store *s;
	unsigned char b[256], z[4096];
	size_t n = hand_batch(b, 0, 1000), zn = gzip_batch(z, b, n);
	struct ls_batch_info info;
	static const struct ls_header h = { "h1-mine", 7, "x", 1 };
	struct ls_record rec = { .key = "k", .key_len = 1, .value = "v", .value_len = 1,
				 .headers = &h, .header_count = 1, .timestamp = -1 };

	ls_options_init(&o);
	o.reserved_header_prefix = "h1";
	s = ls_open(dir, &o, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	ck_assert_int_eq(ls_append_batch(p, b, n, NULL), LS_ERR_INVALID_RECORD);
	ck_assert_int_eq(ls_append_batch(p, z, zn, NULL), LS_ERR_INVALID_RECORD);
	ck_assert_uint_eq(ls_log_end(p), 0);
	ck_assert_int_eq(ls_append(p, &rec, 1, LS_CODEC_NONE, NULL), LS_OK);
	ck_assert_uint_eq(ls_log_end(p), 1);
	/* the embedding broker's own batches (a cluster link) go in */
	ck_assert_int_eq(ls_append_batch_trusted(p, b, n, NULL), LS_OK);
	ck_assert_int_eq(ls_append_batch_trusted(p, z, zn, NULL), LS_OK);
	ck_assert_uint_eq(ls_log_end(p), 5);
	ck_assert_int_eq(ls_batch_validate(NULL, b, n, 0, &info), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* another prefix: the same batches go in */
	o.reserved_header_prefix = "x-amqp-";
	s = ls_open(dir, &o, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	p = tl_part(s, "t", 0);
	ck_assert_int_eq(ls_append_batch(p, b, n, NULL), LS_OK);
	ck_assert_int_eq(ls_append_batch(p, z, zn, NULL), LS_OK);
	ck_assert_uint_eq(ls_log_end(p), 9);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_append_batch_producer_bytes)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv lat[] = { { "message.timestamp.type", "LogAppendTime" } };
	static const struct ls_kv small[] = { { "max.message.bytes", "60" } };
	static const struct ls_kv comp[] = { { "cleanup.policy", "compact" } };
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	struct ls_partition *q = tl_topic(s, "lat", 1, lat, 1);
	struct ls_partition *m = tl_topic(s, "small", 1, small, 1);
	struct ls_partition *c = tl_topic(s, "comp", 1, comp, 1);
	unsigned char b[256], got[256];
	struct ls_decoder *d = ls_decoder_new(0);
	struct ls_append_result res;
	struct ls_read_result r;
	struct ls_batch_info info;
	struct ls_record rec;
	size_t n = hand_batch(b, 999, 4000);

	be(b + 12, 42, 4); /* producer's leader epoch: kept */
	ck_assert_int_eq(ls_append_batch(p, b, n, &res), LS_OK);
	ck_assert_uint_eq(res.base_offset, 0);
	ck_assert_uint_eq(res.last_offset, 1);
	ck_assert_int_eq(ls_append_batch(p, b, n, &res), LS_OK);
	ck_assert_uint_eq(res.base_offset, 2);
	ck_assert_uint_eq(ls_log_end(p), 4);
	ck_assert_int_eq(ls_read(p, 3, 1, &r), LS_OK);
	ck_assert_uint_eq(r.first_offset, 2);
	ck_assert_uint_eq(r.len, n);
	ck_assert_int_eq(ls_read_copy(&r, got), LS_OK);
	ls_read_release(&r);
	ck_assert_mem_eq(got + 8, b + 8, n - 8);
	ck_assert_uint_eq(ls_batch_parse(got, n, &info), LS_OK);
	ck_assert_uint_eq(info.base_offset, 2);
	/* LogAppendTime: broker time, bit 3, new CRC */
	tl_clock = 777777;
	ck_assert_int_eq(ls_append_batch(q, b, n, &res), LS_OK);
	ck_assert_int_eq(res.log_append_time, 777777);
	ck_assert_int_eq(ls_read(q, 0, 1, &r), LS_OK);
	ck_assert_int_eq(ls_read_copy(&r, got), LS_OK);
	ls_read_release(&r);
	ls_decoder_set(d, got, n, 0);
	ck_assert_int_eq(ls_decoder_next(d, &rec, &info), 1);
	ck_assert_int_eq(rec.timestamp, 777777);
	ck_assert_int_eq(info.max_timestamp, 777777);
	ck_assert(info.attributes & 8);
	/* size limit, compacted topic needs keys, failures change nothing */
	ck_assert_int_eq(ls_append_batch(m, b, n, NULL), LS_ERR_TOO_LARGE);
	ck_assert_int_eq(ls_append_batch(c, b, n, NULL), LS_ERR_INVALID_RECORD);
	b[30] ^= 4;
	ck_assert_int_eq(ls_append_batch(p, b, n, NULL), LS_ERR_CORRUPT);
	ck_assert_uint_eq(ls_log_end(p), 4);
	ck_assert_uint_eq(ls_log_end(m), 0);
	ck_assert_uint_eq(ls_log_end(c), 0);
	ls_decoder_free(d);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_core_suite(void)
{
	Suite *s = suite_create("logstore");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_crc32c_vectors);
	tcase_add_test(tc, test_crc32c_incremental);
	tcase_add_test(tc, test_crc32c_portable);
	tcase_add_test(tc, test_murmur2_vectors);
	tcase_add_test(tc, test_partition_for_key);
	tcase_add_test(tc, test_config_table);
	tcase_add_test(tc, test_batch_layout);
	tcase_add_test(tc, test_batch_decode_hand);
	tcase_add_test(tc, test_batch_validate);
	tcase_add_test(tc, test_gzip);
	tcase_add_test(tc, test_append_batch_producer_bytes);
	tcase_add_test(tc, test_append_batch_reserved_headers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tl_core_suite());
	int failed;

	srunner_add_suite(sr, tl_log_suite());
	srunner_add_suite(sr, tl_recovery_suite());
	srunner_add_suite(sr, tl_retention_suite());
	srunner_add_suite(sr, tl_draft_suite());
	srunner_add_suite(sr, tl_repl_suite());
	srunner_add_suite(sr, tl_producer_suite());
	srunner_add_suite(sr, tl_codec_suite());
	srunner_add_suite(sr, tl_legacy_suite());
	srunner_add_suite(sr, tl_txn_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
