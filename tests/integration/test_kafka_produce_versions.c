/* Produce v0-9 over raw sockets: legacy message sets (magic 0 and 1,
 * uncompressed and in gzip/snappy/lz4 wrappers, lz4 with magic 0's wrong
 * frame checksum) converted to RecordBatch v2 and read back with Fetch v4
 * record by record; their refusals (CRC, mixed magic, LogAppendTime,
 * nested compression, zstd); the answer of every version (throttle v1+,
 * log_append_time v2+, log_start_offset v5+, record_errors and
 * error_message v8+, the flexible v9). */
#include "kafka_harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>

/* ---- writing and reading big-endian fields ------------------------------- */

struct wb {
	uint8_t d[1 << 16];
	size_t n;
};
static void w8(struct wb *b, uint8_t v)
{
	ck_assert_uint_lt(b->n, sizeof(b->d));
	b->d[b->n++] = v;
}
static void wbe(struct wb *b, uint64_t v, int bytes)
{
	for (int s = (bytes - 1) * 8; s >= 0; s -= 8)
		w8(b, (uint8_t)(v >> s));
}
static void wraw(struct wb *b, const void *p, size_t n)
{
	ck_assert_uint_le(b->n + n, sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}
static void wstr(struct wb *b, const char *s)
{
	wbe(b, s ? strlen(s) : 0xffff, 2);
	if (s)
		wraw(b, s, strlen(s));
}
static void wuv(struct wb *b, uint32_t v)
{
	while (v >= 0x80) {
		w8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	w8(b, (uint8_t)v);
}

struct rb {
	const uint8_t *p;
	size_t n, off;
};
static uint64_t rbe(struct rb *r, int bytes)
{
	uint64_t v = 0;
	ck_assert_uint_le(r->off + (size_t)bytes, r->n);
	for (int i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off++];
	return v;
}
static int16_t r16(struct rb *r)
{
	return (int16_t)rbe(r, 2);
}
static int32_t r32(struct rb *r)
{
	return (int32_t)rbe(r, 4);
}
static int64_t r64(struct rb *r)
{
	return (int64_t)rbe(r, 8);
}
static uint32_t ruv(struct rb *r)
{
	uint32_t v = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		ck_assert_uint_lt(r->off, r->n);
		uint8_t x = r->p[r->off++];
		v |= (uint32_t)(x & 0x7f) << shift;
		if (!(x & 0x80))
			return v;
	}
	ck_abort_msg("varint too long");
	return 0;
}
static int64_t rvarint(struct rb *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		ck_assert_uint_lt(r->off, r->n);
		uint8_t x = r->p[r->off++];
		v |= (uint64_t)(x & 0x7f) << shift;
		if (!(x & 0x80))
			return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	}
	ck_abort_msg("varint too long");
	return 0;
}
/* A string (classic, or compact when flex) into out; its length, -1 null. */
static int rstr(struct rb *r, int flex, char *out, size_t cap)
{
	int32_t n = flex ? (int32_t)ruv(r) - 1 : r16(r);
	out[0] = '\0';
	if (n < 0)
		return -1;
	ck_assert_uint_lt((size_t)n, cap);
	ck_assert_uint_le(r->off + (size_t)n, r->n);
	memcpy(out, r->p + r->off, (size_t)n);
	out[n] = '\0';
	r->off += (size_t)n;
	return n;
}

static uint8_t resp[1 << 20];

/* ---- legacy messages -------------------------------------------------------- */

#define TS_A 1700000000123LL
#define TS_B 1700000000456LL

/* One legacy message (magic 0 or 1) at offset into b: key and value NULL
 * for null; value of vlen bytes.  break_crc: a wrong CRC. */
static void legacy_msg(struct wb *b, int64_t offset, int magic, uint8_t attr, int64_t ts,
		       const char *key, const void *value, size_t vlen, int break_crc)
{
	size_t at;

	wbe(b, (uint64_t)offset, 8);
	at = b->n;
	wbe(b, 0, 4); /* size, set below */
	wbe(b, 0, 4); /* crc, set below */
	w8(b, (uint8_t)magic);
	w8(b, attr);
	if (magic == 1)
		wbe(b, (uint64_t)ts, 8);
	wbe(b, key ? strlen(key) : 0xffffffffu, 4);
	if (key)
		wraw(b, key, strlen(key));
	wbe(b, value ? vlen : 0xffffffffu, 4);
	if (value)
		wraw(b, value, vlen);
	uint32_t size = (uint32_t)(b->n - at - 4);
	uint32_t crc = (uint32_t)crc32(0, b->d + at + 8, (uInt)(size - 4)) ^ (break_crc ? 1u : 0u);
	for (int i = 0; i < 4; i++) {
		b->d[at + i] = (uint8_t)(size >> (24 - 8 * i));
		b->d[at + 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
	}
}

static void legacy_str(struct wb *b, int64_t offset, int magic, int64_t ts, const char *key,
		       const char *value)
{
	legacy_msg(b, offset, magic, 0, ts, key, value, value ? strlen(value) : 0, 0);
}

enum { C_GZIP = 1, C_SNAPPY = 2, C_LZ4 = 3 };

/* Compresses in[0..len) as a Kafka client does for a wrapper. */
static size_t compress_set(int codec, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	if (codec == C_GZIP) {
		z_stream zs;
		memset(&zs, 0, sizeof zs);
		ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY),
				 Z_OK);
		zs.next_in = (Bytef *)in;
		zs.avail_in = (uInt)len;
		zs.next_out = out;
		zs.avail_out = (uInt)cap;
		ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
		size_t n = zs.total_out;
		deflateEnd(&zs);
		return n;
	}
	if (codec == C_SNAPPY) {
		size_t n = cap;
		ck_assert_int_eq(snappy_compress((const char *)in, len, (char *)out, &n),
				 SNAPPY_OK);
		return n;
	}
	size_t n = LZ4F_compressFrame(out, cap, in, len, NULL);
	ck_assert(!LZ4F_isError(n));
	return n;
}

/* A wrapper (magic, codec) holding three inner messages "<tag>-0..2"
 * with keys "k0..2" and, for magic 1, timestamps TS_A + i.  lz4_bad_hc:
 * the lz4 frame's header checksum made wrong (as magic 0 clients wrote
 * it, KAFKA-3160). */
static void wrapper(struct wb *b, int magic, int codec, const char *tag, int lz4_bad_hc)
{
	struct wb inner = { .n = 0 };
	static uint8_t z[1 << 16];
	char key[16], val[64];

	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "k%d", i);
		snprintf(val, sizeof val, "%s-%d", tag, i);
		legacy_str(&inner, magic == 1 ? i : 0, magic, TS_A + i, key, val);
	}
	size_t zn = compress_set(codec, inner.d, inner.n, z, sizeof z);
	if (lz4_bad_hc) {
		size_t desc = 2 + ((z[4] & 0x08) ? 8 : 0) + ((z[4] & 0x01) ? 4 : 0);
		z[4 + desc] ^= 0x5a;
	}
	legacy_msg(b, magic == 1 ? 2 : 0, magic, (uint8_t)codec, TS_A + 2, NULL, z, zn, 0);
}

/* ---- Produce at any version ------------------------------------------------- */

struct pres {
	int16_t err;
	int64_t base, log_append_time, log_start;
	int32_t nrec_errors, rec_index;
	char rec_msg[256], err_msg[512];
	int err_msg_null;
};

static int32_t corr = 1;

/* Produce version ver of data[0..len) to topic/partition (acks 1); the
 * answer decoded field by field for that version, to its last byte. */
static struct pres produce_ver(int fd, int16_t ver, const char *topic, int32_t part,
			       const uint8_t *data, size_t len)
{
	static struct wb b;
	int flex = ver >= 9;
	struct pres p = { .base = -2, .log_append_time = -2, .log_start = -2, .rec_index = -1 };
	char name[256];

	b.n = 0;
	if (flex)
		w8(&b, 0); /* request header v2: no tagged fields */
	if (ver >= 3) {
		if (flex)
			wuv(&b, 0); /* transactional_id null */
		else
			wstr(&b, NULL);
	}
	wbe(&b, 1, 2);    /* acks */
	wbe(&b, 5000, 4); /* timeout */
	if (flex) {
		wuv(&b, 2);
		wuv(&b, (uint32_t)strlen(topic) + 1);
		wraw(&b, topic, strlen(topic));
		wuv(&b, 2);
		wbe(&b, (uint32_t)part, 4);
		wuv(&b, (uint32_t)len + 1);
		wraw(&b, data, len);
		w8(&b, 0); /* partition tags */
		w8(&b, 0); /* topic tags */
		w8(&b, 0); /* body tags */
	} else {
		wbe(&b, 1, 4);
		wstr(&b, topic);
		wbe(&b, 1, 4);
		wbe(&b, (uint32_t)part, 4);
		wbe(&b, len, 4);
		wraw(&b, data, len);
	}
	int32_t c = corr++;
	kh_raw_request(fd, 0, ver, c, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), c);
	if (flex)
		ck_assert_int_eq(ruv(&r), 0); /* response header v1: no tags */
	ck_assert_int_eq(flex ? (int32_t)ruv(&r) - 1 : r32(&r), 1);
	rstr(&r, flex, name, sizeof name);
	ck_assert_str_eq(name, topic);
	ck_assert_int_eq(flex ? (int32_t)ruv(&r) - 1 : r32(&r), 1);
	ck_assert_int_eq(r32(&r), part);
	p.err = r16(&r);
	p.base = r64(&r);
	if (ver >= 2)
		p.log_append_time = r64(&r);
	if (ver >= 5)
		p.log_start = r64(&r);
	if (ver >= 8) {
		p.nrec_errors = flex ? (int32_t)ruv(&r) - 1 : r32(&r);
		for (int32_t i = 0; i < p.nrec_errors; i++) {
			int32_t idx = r32(&r);
			if (i == 0)
				p.rec_index = idx;
			rstr(&r, flex, i == 0 ? p.rec_msg : name, sizeof name);
			if (flex)
				ck_assert_int_eq(ruv(&r), 0);
		}
		p.err_msg_null = rstr(&r, flex, p.err_msg, sizeof p.err_msg) < 0;
	}
	if (flex) {
		ck_assert_int_eq(ruv(&r), 0); /* partition tags */
		ck_assert_int_eq(ruv(&r), 0); /* topic tags */
	}
	if (ver >= 1)
		ck_assert_int_eq(r32(&r), 0); /* throttle_time_ms */
	if (flex)
		ck_assert_int_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, (size_t)n);
	return p;
}

/* ---- Fetch v4 and RecordBatch v2 decoding ----------------------------------- */

struct rec {
	int64_t offset, timestamp;
	char key[64], value[256];
	int key_null;
};

static size_t gunzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	ck_assert_int_eq(inflateInit2(&zs, 16 + 15), Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t n = zs.total_out;
	inflateEnd(&zs);
	return n;
}

static void rbytes(struct rb *r, char *out, size_t cap, int *is_null)
{
	int64_t n = rvarint(r);
	if (is_null)
		*is_null = n < 0;
	out[0] = '\0';
	if (n < 0)
		return;
	ck_assert_uint_lt((size_t)n, cap);
	ck_assert_uint_le(r->off + (size_t)n, r->n);
	memcpy(out, r->p + r->off, (size_t)n);
	out[n] = '\0';
	r->off += (size_t)n;
}

/* Decodes the records of one batch (codec none or gzip); returns how many
 * went into out[at..max).  *codec: the batch's codec. */
static int batch_records(const uint8_t *bt, size_t len, struct rec *out, int at, int max,
			 int *codec)
{
	static uint8_t plain[1 << 18];
	struct rb h = { bt, len, 0 };
	int64_t base = r64(&h);
	r32(&h);
	r32(&h);
	ck_assert_int_eq((int8_t)rbe(&h, 1), 2);
	r32(&h);
	int16_t attr = r16(&h);
	r32(&h);
	int64_t base_ts = r64(&h);
	r64(&h);
	r64(&h);
	r16(&h);
	r32(&h);
	int32_t count = r32(&h);
	struct rb r = { bt + 61, len - 61, 0 };
	*codec = attr & 7;
	ck_assert(*codec == 0 || *codec == C_GZIP);
	if (*codec == C_GZIP) {
		r.n = gunzip(bt + 61, len - 61, plain, sizeof plain);
		r.p = plain;
	}
	for (int32_t i = 0; i < count; i++) {
		ck_assert_int_lt(at, max);
		struct rec *x = &out[at++];
		int64_t rl = rvarint(&r);
		size_t end = r.off + (size_t)rl;
		r.off++; /* attributes */
		x->timestamp = base_ts + rvarint(&r);
		x->offset = base + rvarint(&r);
		rbytes(&r, x->key, sizeof x->key, &x->key_null);
		rbytes(&r, x->value, sizeof x->value, NULL);
		ck_assert_int_eq(rvarint(&r), 0); /* headers */
		ck_assert_uint_eq(r.off, end);
	}
	return count;
}

/* Fetch v4 of topic/partition 0 from offset 0: every record (at most max)
 * into out; returns how many; *hw the high watermark; codecs[i] the codec
 * of the i-th batch (at most 16). */
static int fetch_all(int fd, const char *topic, struct rec *out, int max, int64_t *hw, int *codecs)
{
	static struct wb b;
	b.n = 0;
	wbe(&b, 0xffffffffu, 4);
	wbe(&b, 0, 4); /* max wait */
	wbe(&b, 0, 4); /* min bytes */
	wbe(&b, 1 << 20, 4);
	w8(&b, 0);
	wbe(&b, 1, 4);
	wstr(&b, topic);
	wbe(&b, 1, 4);
	wbe(&b, 0, 4);
	wbe(&b, 0, 8);
	wbe(&b, 1 << 20, 4);
	int32_t c = corr++;
	kh_raw_request(fd, 1, 4, c, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 0 };
	char name[256];
	ck_assert_int_eq(r32(&r), c);
	r32(&r); /* throttle */
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, 0, name, sizeof name);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	*hw = r64(&r);
	r64(&r);
	r32(&r); /* aborted: null or empty */
	int32_t len = r32(&r);
	int got = 0, nb = 0;
	size_t end = r.off + (size_t)(len > 0 ? len : 0);
	ck_assert_uint_eq(end, (size_t)n);
	while (r.off + 12 <= end) {
		uint32_t bl = (uint32_t)(resp[r.off + 8] << 24 | resp[r.off + 9] << 16 |
					 resp[r.off + 10] << 8 | resp[r.off + 11]);
		ck_assert_uint_le(r.off + 12 + bl, end);
		int codec = 0;
		got += batch_records(resp + r.off, 12 + bl, out, got, max, &codec);
		if (codecs && nb < 16)
			codecs[nb] = codec;
		nb++;
		r.off += 12 + bl;
	}
	return got;
}

/* CreateTopics v1 of one partition with config key = value (none when
 * key is NULL). */
static void create_topic(int fd, const char *name, const char *key, const char *value)
{
	static struct wb b;
	b.n = 0;
	wbe(&b, 1, 4);
	wstr(&b, name);
	wbe(&b, 1, 4);
	wbe(&b, 1, 2);
	wbe(&b, 0, 4);
	wbe(&b, key ? 1 : 0, 4);
	if (key) {
		wstr(&b, key);
		wstr(&b, value);
	}
	wbe(&b, 5000, 4);
	w8(&b, 0);
	kh_raw_request(fd, 19, 1, corr++, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	char s[256];
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, 0, s, sizeof s);
	ck_assert_int_eq(r16(&r), 0);
}

static void assert_rec(const struct rec *x, int64_t offset, int64_t ts, const char *key,
		       const char *value)
{
	ck_assert_int_eq(x->offset, offset);
	ck_assert_int_eq(x->timestamp, ts);
	if (key) {
		ck_assert(!x->key_null);
		ck_assert_str_eq(x->key, key);
	} else {
		ck_assert(x->key_null);
	}
	ck_assert_str_eq(x->value, value);
}

/* ---- tests ------------------------------------------------------------------- */

/* v0 and v1 carry magic 0 (no timestamp: -1 after conversion), v2 magic 1
 * (timestamps kept); offsets follow on; keys, a null key, values kept;
 * the answers have each version's fields and no more. */
START_TEST(legacy_uncompressed)
{
	char topic[128];
	static struct rec recs[16];
	int fd = kh_raw_connect(kh_main());
	struct wb *b = calloc(1, sizeof *b);
	int64_t hw;
	struct pres p;

	kh_name(topic, sizeof topic, "legacy");
	create_topic(fd, topic, NULL, NULL);
	legacy_str(b, 0, 0, 0, "k0", "v0-a");
	legacy_str(b, 1, 0, 0, NULL, "v0-b");
	p = produce_ver(fd, 0, topic, 0, b->d, b->n);
	ck_assert_int_eq(p.err, 0);
	ck_assert_int_eq(p.base, 0);
	b->n = 0;
	legacy_str(b, 0, 0, 0, "k1", "v1-a");
	p = produce_ver(fd, 1, topic, 0, b->d, b->n);
	ck_assert_int_eq(p.err, 0);
	ck_assert_int_eq(p.base, 2);
	b->n = 0;
	legacy_str(b, 0, 1, TS_A, "k2", "v2-a");
	legacy_str(b, 1, 1, TS_B, "k2", "v2-b");
	p = produce_ver(fd, 2, topic, 0, b->d, b->n);
	ck_assert_int_eq(p.err, 0);
	ck_assert_int_eq(p.base, 3);
	ck_assert_int_eq(p.log_append_time, -1);

	ck_assert_int_eq(fetch_all(fd, topic, recs, 16, &hw, NULL), 5);
	ck_assert_int_eq(hw, 5);
	assert_rec(&recs[0], 0, -1, "k0", "v0-a");
	assert_rec(&recs[1], 1, -1, NULL, "v0-b");
	assert_rec(&recs[2], 2, -1, "k1", "v1-a");
	assert_rec(&recs[3], 3, TS_A, "k2", "v2-a");
	assert_rec(&recs[4], 4, TS_B, "k2", "v2-b");
	free(b);
	close(fd);
}
END_TEST

/* gzip, snappy and lz4 wrappers of magic 1 (Produce v2) and magic 0
 * (Produce v1; lz4 with the wrong header checksum those clients wrote)
 * unpacked into plain batches of a topic with compression.type
 * uncompressed; a magic 1 lz4 frame with a wrong checksum is refused. */
START_TEST(legacy_wrapped)
{
	char topic[128], tag[32];
	static struct rec recs[64];
	int fd = kh_raw_connect(kh_main());
	struct wb *b = calloc(1, sizeof *b);
	int64_t hw, next = 0;
	struct pres p;

	kh_name(topic, sizeof topic, "wrapped");
	create_topic(fd, topic, "compression.type", "uncompressed");
	for (int magic = 1; magic >= 0; magic--)
		for (int codec = C_GZIP; codec <= C_LZ4; codec++) {
			b->n = 0;
			snprintf(tag, sizeof tag, "m%dc%d", magic, codec);
			wrapper(b, magic, codec, tag, magic == 0 && codec == C_LZ4);
			p = produce_ver(fd, magic == 1 ? 2 : 1, topic, 0, b->d, b->n);
			ck_assert_msg(p.err == 0, "magic %d codec %d: error %d", magic, codec,
				      p.err);
			ck_assert_int_eq(p.base, next);
			next += 3;
		}
	b->n = 0;
	wrapper(b, 1, C_LZ4, "bad-hc", 1);
	p = produce_ver(fd, 2, topic, 0, b->d, b->n);
	ck_assert_int_eq(p.err, 87); /* INVALID_RECORD */

	int codecs[16];
	ck_assert_int_eq(fetch_all(fd, topic, recs, 64, &hw, codecs), 18);
	ck_assert_int_eq(hw, 18);
	int i = 0;
	for (int magic = 1; magic >= 0; magic--)
		for (int codec = C_GZIP; codec <= C_LZ4; codec++) {
			ck_assert_int_eq(codecs[i / 3], 0);
			for (int j = 0; j < 3; j++, i++) {
				char key[16], val[64];
				snprintf(key, sizeof key, "k%d", j);
				snprintf(val, sizeof val, "m%dc%d-%d", magic, codec, j);
				assert_rec(&recs[i], i, magic == 1 ? TS_A + j : -1, key, val);
			}
		}
	free(b);
	close(fd);
}
END_TEST

/* compression.type producer keeps the producer's codec: a gzip wrapper
 * becomes a gzip batch; a topic in gzip compresses a plain set. */
START_TEST(legacy_target_codec)
{
	char topic[128], topic2[128];
	static struct rec recs[16];
	int fd = kh_raw_connect(kh_main());
	struct wb *b = calloc(1, sizeof *b);
	int64_t hw;
	int codecs[16];

	kh_name(topic, sizeof topic, "keepgz");
	create_topic(fd, topic, "compression.type", "producer");
	wrapper(b, 1, C_GZIP, "gz", 0);
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 0);
	ck_assert_int_eq(fetch_all(fd, topic, recs, 16, &hw, codecs), 3);
	ck_assert_int_eq(codecs[0], C_GZIP);
	assert_rec(&recs[2], 2, TS_A + 2, "k2", "gz-2");

	kh_name(topic2, sizeof topic2, "togz");
	create_topic(fd, topic2, "compression.type", "gzip");
	b->n = 0;
	legacy_str(b, 0, 1, TS_B, "k", "plain");
	ck_assert_int_eq(produce_ver(fd, 2, topic2, 0, b->d, b->n).err, 0);
	ck_assert_int_eq(fetch_all(fd, topic2, recs, 16, &hw, codecs), 1);
	ck_assert_int_eq(codecs[0], C_GZIP);
	assert_rec(&recs[0], 0, TS_B, "k", "plain");
	free(b);
	close(fd);
}
END_TEST

/* Refusals, each appending nothing: a bad CRC (also of an inner message)
 * CORRUPT_MESSAGE, mixed magic, nested compression and two wrappers
 * INVALID_RECORD, LogAppendTime set by the producer INVALID_TIMESTAMP, a
 * zstd wrapper UNSUPPORTED_COMPRESSION_TYPE, a message below its minimum
 * size CORRUPT_MESSAGE. */
START_TEST(legacy_refused)
{
	char topic[128];
	static struct rec recs[16];
	int fd = kh_raw_connect(kh_main());
	struct wb *b = calloc(1, sizeof *b), *inner = calloc(1, sizeof *inner);
	int64_t hw;
	uint8_t z[4096];
	struct pres p;

	kh_name(topic, sizeof topic, "refused");
	create_topic(fd, topic, NULL, NULL);
	legacy_str(b, 0, 1, TS_A, "k", "good");
	legacy_msg(b, 1, 1, 0, TS_A, "k", "bad", 3, 1);
	p = produce_ver(fd, 2, topic, 0, b->d, b->n);
	ck_assert_int_eq(p.err, 2);
	ck_assert_int_eq(p.base, -1);

	legacy_msg(inner, 0, 1, 0, TS_A, "k", "bad", 3, 1);
	size_t zn = compress_set(C_GZIP, inner->d, inner->n, z, sizeof z);
	b->n = 0;
	legacy_msg(b, 0, 1, C_GZIP, TS_A, NULL, z, zn, 0);
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 2);

	b->n = 0;
	legacy_str(b, 0, 1, TS_A, "k", "one");
	legacy_str(b, 1, 0, 0, "k", "zero");
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 87);

	inner->n = 0;
	legacy_msg(inner, 0, 1, C_GZIP, TS_A, "k", "x", 1, 0); /* a compressed inner message */
	zn = compress_set(C_GZIP, inner->d, inner->n, z, sizeof z);
	b->n = 0;
	legacy_msg(b, 0, 1, C_GZIP, TS_A, NULL, z, zn, 0);
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 87);

	b->n = 0;
	wrapper(b, 1, C_GZIP, "a", 0);
	wrapper(b, 1, C_GZIP, "b", 0);
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 87);

	b->n = 0;
	legacy_msg(b, 0, 1, 0x08, TS_A, "k", "lat", 3, 0); /* LogAppendTime bit */
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 32);

	b->n = 0;
	legacy_msg(b, 0, 1, 4, TS_A, NULL, "zz", 2, 0); /* zstd */
	ck_assert_int_eq(produce_ver(fd, 2, topic, 0, b->d, b->n).err, 76);

	b->n = 0;
	legacy_str(b, 0, 0, 0, "k", "v");
	b->d[11] = 10; /* size below a magic 0 message's 14 */
	ck_assert_int_eq(produce_ver(fd, 0, topic, 0, b->d, 12 + 10).err, 2);

	ck_assert_int_eq(fetch_all(fd, topic, recs, 16, &hw, NULL), 0);
	ck_assert_int_eq(hw, 0);
	free(inner);
	free(b);
	close(fd);
}
END_TEST

/* DeleteRecords v1 of partition 0 up to offset. */
static void delete_records(int fd, const char *topic, int64_t offset)
{
	static struct wb b;
	b.n = 0;
	wbe(&b, 1, 4);
	wstr(&b, topic);
	wbe(&b, 1, 4);
	wbe(&b, 0, 4);
	wbe(&b, (uint64_t)offset, 8);
	wbe(&b, 5000, 4);
	kh_raw_request(fd, 21, 1, corr++, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	char s[256];
	r32(&r);
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, 0, s, sizeof s);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r64(&r), offset);
	ck_assert_int_eq(r16(&r), 0);
}

/* v3-v7 take the same batch; v5 answers the log start offset, which
 * DeleteRecords moved; v4 does not have it. */
START_TEST(log_start_offset_v5)
{
	char topic[128];
	uint8_t bt[256];
	int fd = kh_raw_connect(kh_main());
	size_t n = kh_batch_one(bt, "v", 0);
	struct pres p;

	kh_name(topic, sizeof topic, "lso");
	create_topic(fd, topic, NULL, NULL);
	for (int16_t ver = 3; ver <= 7; ver++) {
		p = produce_ver(fd, ver, topic, 0, bt, n);
		ck_assert_int_eq(p.err, 0);
		ck_assert_int_eq(p.base, ver - 3);
		if (ver >= 5)
			ck_assert_int_eq(p.log_start, 0);
	}
	delete_records(fd, topic, 3);
	p = produce_ver(fd, 5, topic, 0, bt, n);
	ck_assert_int_eq(p.err, 0);
	ck_assert_int_eq(p.base, 5);
	ck_assert_int_eq(p.log_start, 3);
	p = produce_ver(fd, 4, topic, 0, bt, n);
	ck_assert_int_eq(p.base, 6);
	ck_assert_int_eq(p.log_start, -2); /* not in a v4 answer */
	close(fd);
}
END_TEST

/* A RecordBatch v2 of two records: the first keyed "k", the second with
 * key key2 (NULL: null). */
static size_t batch_two(uint8_t *out, const char *key2)
{
	uint8_t rec[2][64];
	size_t rn[2] = { 0, 0 }, n = 0;
	const char *keys[2] = { "k", key2 };
	for (int i = 0; i < 2; i++) {
		rec[i][rn[i]++] = 0;
		rn[i] = kh_put_varint(rec[i], rn[i], 0);
		rn[i] = kh_put_varint(rec[i], rn[i], i);
		rn[i] = kh_put_varint(rec[i], rn[i], keys[i] ? (int64_t)strlen(keys[i]) : -1);
		if (keys[i]) {
			memcpy(rec[i] + rn[i], keys[i], strlen(keys[i]));
			rn[i] += strlen(keys[i]);
		}
		rn[i] = kh_put_varint(rec[i], rn[i], 1);
		rec[i][rn[i]++] = 'v';
		rn[i] = kh_put_varint(rec[i], rn[i], 0);
	}
	n = kh_put_be(out, n, 0, 8);
	n = kh_put_be(out, n, 0, 4);
	n = kh_put_be(out, n, 0xffffffff, 4);
	out[n++] = 2;
	n = kh_put_be(out, n, 0, 4);
	n = kh_put_be(out, n, 0, 2);
	n = kh_put_be(out, n, 1, 4); /* last offset delta */
	n = kh_put_be(out, n, (uint64_t)TS_A, 8);
	n = kh_put_be(out, n, (uint64_t)TS_A, 8);
	n = kh_put_be(out, n, UINT64_MAX, 8);
	n = kh_put_be(out, n, 0xffff, 2);
	n = kh_put_be(out, n, 0xffffffff, 4);
	n = kh_put_be(out, n, 2, 4);
	for (int i = 0; i < 2; i++) {
		n = kh_put_varint(out, n, (int64_t)rn[i]);
		memcpy(out + n, rec[i], rn[i]);
		n += rn[i];
	}
	kh_put_be(out, 8, n - 12, 4);
	kh_put_be(out, 17, kh_crc32c(out + 21, n - 21), 4);
	return n;
}

/* v8: a keyless record on a compacted topic names its index in
 * record_errors, with an error_message; a success has neither.  Format
 * refusals of v3+ say why in error_message: zstd below v7, two batches. */
START_TEST(record_errors_v8)
{
	char topic[128], plain[128];
	uint8_t bt[512];
	int fd = kh_raw_connect(kh_main());
	struct pres p;

	kh_name(topic, sizeof topic, "compact8");
	create_topic(fd, topic, "cleanup.policy", "compact");
	p = produce_ver(fd, 8, topic, 0, bt, batch_two(bt, NULL));
	ck_assert_int_eq(p.err, 87);
	ck_assert_int_eq(p.base, -1);
	ck_assert_int_eq(p.nrec_errors, 1);
	ck_assert_int_eq(p.rec_index, 1);
	ck_assert_msg(strstr(p.rec_msg, "without key") != NULL, "%s", p.rec_msg);
	ck_assert(!p.err_msg_null);
	p = produce_ver(fd, 8, topic, 0, bt, batch_two(bt, "k2"));
	ck_assert_int_eq(p.err, 0);
	ck_assert_int_eq(p.base, 0);
	ck_assert_int_eq(p.nrec_errors, 0);
	ck_assert(p.err_msg_null);

	kh_name(plain, sizeof plain, "plain8");
	create_topic(fd, plain, NULL, NULL);
	size_t n = kh_batch_one(bt, "z", 0);
	bt[22] = (uint8_t)((bt[22] & ~7) | 4); /* zstd (the CRC no longer matters: refused first) */
	p = produce_ver(fd, 6, plain, 0, bt, n);
	ck_assert_int_eq(p.err, 76);
	n = kh_batch_one(bt, "one", 0);
	n += kh_batch_one(bt + n, "two", 0);
	p = produce_ver(fd, 8, plain, 0, bt, n);
	ck_assert_int_eq(p.err, 87);
	ck_assert_int_eq(p.nrec_errors, 0);
	ck_assert_msg(strstr(p.err_msg, "exactly one") != NULL, "%s", p.err_msg);
	n = kh_batch_one(bt, "corrupt", 1);
	p = produce_ver(fd, 8, plain, 0, bt, n);
	ck_assert_int_eq(p.err, 2);
	ck_assert(!p.err_msg_null);
	close(fd);
}
END_TEST

/* v9 (flexible): compact request, response header v1 and compact answer
 * decoded to the last byte by produce_ver; a success and an unknown
 * partition (error_message set); the record is read back. */
START_TEST(flexible_v9)
{
	char topic[128];
	static struct rec recs[4];
	uint8_t bt[256];
	int fd = kh_raw_connect(kh_main());
	size_t n = kh_batch_one(bt, "flex-value", 0);
	int64_t hw;
	struct pres p;

	kh_name(topic, sizeof topic, "flex9");
	create_topic(fd, topic, NULL, NULL);
	p = produce_ver(fd, 9, topic, 0, bt, n);
	ck_assert_int_eq(p.err, 0);
	ck_assert_int_eq(p.base, 0);
	ck_assert_int_eq(p.log_append_time, -1);
	ck_assert_int_eq(p.log_start, 0);
	ck_assert_int_eq(p.nrec_errors, 0);
	ck_assert(p.err_msg_null);
	p = produce_ver(fd, 9, topic, 5, bt, n);
	ck_assert_int_eq(p.err, 3);
	ck_assert_int_eq(p.log_start, -1);
	ck_assert(!p.err_msg_null);
	ck_assert_int_eq(fetch_all(fd, topic, recs, 4, &hw, NULL), 1);
	assert_rec(&recs[0], 0, 1700000000000LL, NULL, "flex-value");
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_produce_versions");
	TCase *tc = kh_tcase("produce");
	tcase_add_test(tc, legacy_uncompressed);
	tcase_add_test(tc, legacy_wrapped);
	tcase_add_test(tc, legacy_target_codec);
	tcase_add_test(tc, legacy_refused);
	tcase_add_test(tc, log_start_offset_v5);
	tcase_add_test(tc, record_errors_v8);
	tcase_add_test(tc, flexible_v9);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
