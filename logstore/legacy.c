/*
 * logstore/legacy.c: Kafka's legacy message sets (MessageSet magic 0 and
 * magic 1, what Produce v0-2 carries) converted to the one format the log
 * stores, a RecordBatch v2, as Kafka's broker converts them when the log's
 * message format is newer (its LogValidator):
 *
 *   message = offset int64, size int32, crc uint32 (CRC-32 IEEE over magic
 *   to the end), magic int8, attributes int8 (bits 0-2 codec; magic 1: bit
 *   3 timestamp type), timestamp int64 (magic 1 only), key bytes, value
 *   bytes.  A compressed message (a wrapper) holds a whole inner message
 *   set as its value; the inner offsets (relative for magic 1) are not
 *   used: the log assigns offsets.
 *
 * Checks, as Kafka: every message's CRC (a mismatch is LS_ERR_CORRUPT, also
 * inside a wrapper), a size below a message's minimum (LS_ERR_CORRUPT), all
 * messages of one magic, a compressed set being exactly one wrapper whose
 * inner messages are not compressed again and share its magic
 * (LS_ERR_INVALID_RECORD), no LogAppendTime set by a producer
 * (LS_ERR_INVALID_TIMESTAMP); zstd (codec 4) never existed for these
 * formats and 5-7 are unknown (LS_ERR_UNSUPPORTED_CODEC).  A trailing
 * partial message of the outer set is ignored, as Kafka trims it.
 *
 * The converted batch keeps keys, values and magic 1 timestamps; a magic 0
 * message has no timestamp and gets Kafka's NO_TIMESTAMP (-1) (a topic
 * with LogAppendTime stamps the broker's time, as for any batch).  Its
 * codec is the topic's compression.type, or with "producer" the codec the
 * producer used (Kafka's target codec rule).  lz4 with magic 0 was written
 * with a wrong frame header checksum by the old clients (KAFKA-3160: the
 * hash covered the frame magic too); Kafka ignores that checksum for magic
 * 0, and so do we, by recomputing it before decompressing.
 *
 * Must not depend on anything but libc, zlib and the codecs (codec.c).
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "logstore_internal.h"

#define LEGACY_LOG_OVERHEAD 12 /* offset, size */
#define LEGACY_MIN_V0 14       /* crc, magic, attributes, key and value lengths */
#define LEGACY_MIN_V1 22       /* the same and a timestamp */

struct legacy_conv {
	struct ls_record *recs; /* owned, grown */
	size_t n, cap;
	int magic; /* of the first message; -1 before */
	int codec; /* the producer's: the wrapper's, else none */
	struct ls_append_error *err;
};

static int fail(struct legacy_conv *cv, int rc, int32_t index, const char *msg)
{
	if (cv->err) {
		cv->err->index = index;
		cv->err->message = msg;
	}
	return rc;
}

static int add_record(struct legacy_conv *cv, const struct ls_record *r)
{
	if (cv->n == cv->cap) {
		size_t cap = cv->cap ? cv->cap * 2 : 64;
		struct ls_record *nr = realloc(cv->recs, cap * sizeof *nr);

		if (nr == NULL)
			return LS_ERR_NOMEM;
		cv->recs = nr;
		cv->cap = cap;
	}
	cv->recs[cv->n++] = *r;
	return LS_OK;
}

/* One message's fields after its log overhead (m[0..size)). */
struct legacy_msg {
	int magic, codec, ts_type;
	struct ls_record rec;
};

/* Reads nullable bytes (int32 length) at *pos of m[0..end). */
static int get_bytes(const unsigned char *m, size_t end, size_t *pos, const void **p, size_t *len)
{
	int32_t n;

	if (end - *pos < 4)
		return -1;
	n = (int32_t)ls_get_be32(m + *pos);
	*pos += 4;
	if (n == -1) {
		*p = NULL;
		*len = 0;
		return 0;
	}
	if (n < 0 || (size_t)n > end - *pos)
		return -1;
	*p = m + *pos;
	*len = (size_t)n;
	*pos += (size_t)n;
	return 0;
}

/* Parses and checks message m[0..size) (crc onwards): LS_OK,
 * LS_ERR_CORRUPT (short or CRC), LS_ERR_INVALID_RECORD (magic, layout). */
static int parse_msg(const unsigned char *m, size_t size, struct legacy_msg *out)
{
	size_t pos = 6;

	memset(out, 0, sizeof *out);
	if (size < LEGACY_MIN_V0)
		return LS_ERR_CORRUPT;
	out->magic = m[4];
	if (out->magic > 1)
		return LS_ERR_INVALID_RECORD;
	if (out->magic == 1 && size < LEGACY_MIN_V1)
		return LS_ERR_CORRUPT;
	if ((uint32_t)crc32(0, m + 4, (uInt)(size - 4)) != ls_get_be32(m))
		return LS_ERR_CORRUPT;
	out->codec = m[5] & 7;
	out->ts_type = out->magic == 1 && (m[5] & 8);
	out->rec.timestamp = -1; /* magic 0: Kafka's NO_TIMESTAMP */
	if (out->magic == 1) {
		out->rec.timestamp = (int64_t)ls_get_be64(m + 6);
		pos += 8;
	}
	if (get_bytes(m, size, &pos, &out->rec.key, &out->rec.key_len) != 0 ||
	    get_bytes(m, size, &pos, &out->rec.value, &out->rec.value_len) != 0 || pos != size)
		return LS_ERR_INVALID_RECORD;
	return LS_OK;
}

/* XXH32 (seed 0) of fewer than 16 bytes: an LZ4 frame descriptor. */
static uint32_t xxh32_short(const unsigned char *p, size_t len)
{
	const uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u, p4 = 668265263u,
		       p5 = 374761393u;
	uint32_t h = p5 + (uint32_t)len;
	size_t i = 0;

	for (; i + 4 <= len; i += 4) {
		uint32_t v = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
			     (uint32_t)p[i + 3] << 24;
		h += v * p3;
		h = (h << 17 | h >> 15) * p4;
	}
	for (; i < len; i++) {
		h += p[i] * p5;
		h = (h << 11 | h >> 21) * p1;
	}
	h ^= h >> 15;
	h *= p2;
	h ^= h >> 13;
	h *= p3;
	h ^= h >> 16;
	return h;
}

/* A magic 0 lz4 frame with its header checksum made right (KAFKA-3160):
 * a malloc'd copy in *fixed, or NULL when in is not an LZ4 frame we can
 * mend (left to the decompressor to refuse). */
static unsigned char *lz4_mend(const unsigned char *in, size_t len)
{
	size_t desc;
	unsigned char *fixed;

	if (len < 7 || ls_get_be32(in) != 0x04224d18u) /* 0x184D2204 little-endian */
		return NULL;
	desc = 2 + ((in[4] & 0x08) ? 8 : 0) + ((in[4] & 0x01) ? 4 : 0);
	if (len < 4 + desc + 1 || (fixed = malloc(len)) == NULL)
		return NULL;
	memcpy(fixed, in, len);
	fixed[4 + desc] = (unsigned char)(xxh32_short(in + 4, desc) >> 8);
	return fixed;
}

static int add_msg(struct legacy_conv *cv, const struct legacy_msg *m, int32_t index)
{
	if (m->ts_type)
		return fail(
			cv, LS_ERR_INVALID_TIMESTAMP, index,
			"Invalid timestamp type in message: producers should not set timestamp type to LogAppendTime");
	return add_record(cv, &m->rec) == LS_OK ? LS_OK : fail(cv, LS_ERR_NOMEM, -1, NULL);
}

/* The inner set of a wrapper, in[0..len) decompressed. */
static int parse_inner(struct legacy_conv *cv, const struct legacy_msg *w, const unsigned char *in,
		       size_t len)
{
	size_t pos = 0;
	int32_t i = 0;
	int rc;

	for (; pos < len; i++) {
		struct legacy_msg m;
		uint32_t size;

		if (len - pos < LEGACY_LOG_OVERHEAD ||
		    (size = ls_get_be32(in + pos + 8)) > len - pos - LEGACY_LOG_OVERHEAD)
			return fail(cv, LS_ERR_INVALID_RECORD, i,
				    "Truncated inner message in a compressed wrapper");
		rc = parse_msg(in + pos + LEGACY_LOG_OVERHEAD, size, &m);
		if (rc == LS_ERR_CORRUPT)
			return fail(cv, rc, i,
				    "Inner message is corrupt (CRC mismatch or too short)");
		if (rc != LS_OK || m.magic != w->magic)
			return fail(cv, LS_ERR_INVALID_RECORD, i,
				    "Inner message's magic does not match its wrapper's");
		if (m.codec != LS_CODEC_NONE)
			return fail(cv, LS_ERR_INVALID_RECORD, i,
				    "Compressed records are not allowed in a compressed wrapper");
		m.ts_type = w->ts_type;
		if ((rc = add_msg(cv, &m, i)) != LS_OK)
			return rc;
		pos += LEGACY_LOG_OVERHEAD + size;
	}
	if (i == 0)
		return fail(cv, LS_ERR_INVALID_RECORD, -1, "Compressed wrapper holds no message");
	return LS_OK;
}

static int unwrap(struct legacy_conv *cv, struct ls_unzip *u, const struct legacy_msg *w,
		  size_t max_inflated)
{
	const unsigned char *in = w->rec.value;
	unsigned char *mended = NULL;
	size_t out_len = 0;
	int rc;

	if (w->codec > LS_CODEC_LZ4)
		return fail(cv, LS_ERR_UNSUPPORTED_CODEC, -1,
			    "Unsupported compression codec for the legacy message format");
	if (in == NULL)
		return fail(cv, LS_ERR_INVALID_RECORD, -1, "Compressed wrapper without a value");
	if (w->codec == LS_CODEC_LZ4 && w->magic == 0 &&
	    (mended = lz4_mend(in, w->rec.value_len)) != NULL)
		in = mended;
	rc = ls_decompress(u, w->codec, in, w->rec.value_len, max_inflated, &out_len);
	free(mended);
	if (rc == LS_ERR_NOMEM)
		return fail(cv, rc, -1, NULL);
	if (rc != LS_OK)
		return fail(cv, LS_ERR_INVALID_RECORD, -1,
			    "Compressed wrapper cannot be decompressed");
	return parse_inner(cv, w, u->buf, out_len);
}

/* The outer set: uncompressed messages, or exactly one wrapper. */
static int parse_outer(struct legacy_conv *cv, struct ls_unzip *u, const unsigned char *set,
		       size_t len, size_t max_inflated)
{
	struct legacy_msg w = { 0 };
	size_t pos = 0;
	int32_t i = 0;
	int wrapped = 0, rc;

	for (; len - pos >= LEGACY_LOG_OVERHEAD; i++) {
		struct legacy_msg m;
		uint32_t size = ls_get_be32(set + pos + 8);

		if (size > len - pos - LEGACY_LOG_OVERHEAD)
			break; /* a trailing partial message: Kafka trims it */
		rc = parse_msg(set + pos + LEGACY_LOG_OVERHEAD, size, &m);
		if (rc == LS_ERR_CORRUPT)
			return fail(cv, rc, i, "Message is corrupt (CRC mismatch or too short)");
		if (rc != LS_OK)
			return fail(cv, rc, i, "Message has an invalid magic or layout");
		if (cv->magic >= 0 && m.magic != cv->magic)
			return fail(cv, LS_ERR_INVALID_RECORD, i,
				    "All messages of a set must have the same magic");
		cv->magic = m.magic;
		if (wrapped || (m.codec != LS_CODEC_NONE && i > 0))
			return fail(cv, LS_ERR_INVALID_RECORD, i,
				    "Compressed outer record has more than one batch");
		if (m.codec != LS_CODEC_NONE) {
			wrapped = 1;
			w = m;
		} else if ((rc = add_msg(cv, &m, i)) != LS_OK) {
			return rc;
		}
		pos += LEGACY_LOG_OVERHEAD + size;
	}
	if (i == 0)
		return fail(cv, LS_ERR_INVALID_RECORD, -1, "Message set holds no whole message");
	if (!wrapped)
		return LS_OK;
	cv->codec = w.codec;
	return unwrap(cv, u, &w, max_inflated);
}

int ls_legacy_convert(const void *set, size_t len, int compression_type, size_t max_inflated,
		      void **out, size_t *out_len, struct ls_append_error *err)
{
	struct legacy_conv cv = { .magic = -1, .codec = LS_CODEC_NONE, .err = err };
	struct ls_unzip u;
	int rc;

	memset(&u, 0, sizeof u);
	if (err) {
		err->index = -1;
		err->message = NULL;
	}
	rc = parse_outer(&cv, &u, set, len, max_inflated ? max_inflated : (64u << 20));
	if (rc == LS_OK) {
		int codec =
			compression_type == LS_COMPRESSION_PRODUCER ? cv.codec : compression_type;
		/* now = -1: timestamps as sent, NO_TIMESTAMP kept */
		rc = ls_batch_build(cv.recs, cv.n, codec, -1, out, out_len);
	}
	ls_unzip_free(&u);
	free(cv.recs);
	return rc;
}
