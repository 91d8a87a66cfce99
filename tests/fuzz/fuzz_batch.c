/*
 * libFuzzer target for logstore's RecordBatch v2 parser and its codecs
 * (logstore/batch.c, logstore/codec.c): what a producer sends and what a
 * segment file holds, read three ways:
 *   1. as one producer batch: ls_batch_validate;
 *   2. as a run of stored batches: ls_decoder over every record;
 *   3. as one batch whose header is repaired (batchLength, magic, CRC-32C)
 *      for each codec in turn, so that the bytes after the 61-byte header
 *      reach the gzip, snappy (raw and snappy-java framing), lz4 and zstd
 *      decoders, which a fuzzer could not reach through a valid CRC alone;
 *   4. as a legacy message set (logstore/legacy.c, Produce v0-2), as sent
 *      and, repaired as one message (size, magic, CRC-32) of each codec, a
 *      wrapper whose value reaches the decompressors: a set converted
 *      without an error always gives a batch ls_batch_validate takes;
 *   5. as a control batch (a transaction marker), as sent and repaired
 *      (control, uncompressed, CRC-32C): ls_batch_control_type reads the
 *      marker's type within the bytes it is given (each short prefix in a
 *      buffer of its own, so a read past it is caught), the decoder gives
 *      no record of it, and a producer may not send it.
 * Invariants: no crash, no read outside the input, every record's fields
 * within its batch's decoded bytes, the decompressed size bounded by the
 * decoder's max_inflated (1 MiB here).  tests/fuzz/replay.c runs the same
 * function over the committed corpus in `make check`.
 *
 * Depends on: logstore/batch.c, codec.c, crc32c.c, legacy.c and the codec
 * libraries (logstore_internal.h for ls_batch_control_type).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz.h"
#include "crc32c.h"
#include "logstore.h"
#include "logstore_internal.h"



#define MAX_INFLATED (1u << 20)

/* Every record of buf[0..len): its fields have sane lengths. */
static void decode_all(struct ls_decoder *d, const uint8_t *buf, size_t len)
{
	struct ls_batch_info info;
	struct ls_record rec;
	int rc;

	ls_decoder_set(d, buf, len, 0);
	while ((rc = ls_decoder_next(d, &rec, &info)) == 1) {
		CHECK(rec.key_len <= MAX_INFLATED && rec.value_len <= MAX_INFLATED);
		CHECK(rec.key != NULL || rec.key_len == 0);
		CHECK(rec.value != NULL || rec.value_len == 0);
		for (size_t i = 0; i < rec.header_count; i++)
			CHECK(rec.headers[i].key != NULL && rec.headers[i].key_len <= MAX_INFLATED);
		CHECK(info.codec >= LS_CODEC_NONE && info.codec <= LS_CODEC_ZSTD);
	}
	CHECK(rc <= 0);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Converts buf[0..len) as a legacy message set; a success must be one
 * valid producer batch. */
static void legacy_one(struct ls_decoder *d, const uint8_t *buf, size_t len)
{
	struct ls_append_error err;
	struct ls_batch_info info;
	void *out = NULL;
	size_t out_len = 0;
	int rc = ls_legacy_convert(buf, len, LS_COMPRESSION_PRODUCER, MAX_INFLATED, &out, &out_len,
				   &err);

	CHECK(rc <= 0);
	if (rc == LS_OK) {
		CHECK(ls_batch_validate(d, out, out_len, 0, &info) == LS_OK);
		decode_all(d, out, out_len);
	} else {
		CHECK(err.index >= -1);
	}
	free(out);
}

/* The input as a legacy message set, then as one message of each codec
 * with its size, magic and CRC-32 repaired. */
static void legacy_all(struct ls_decoder *d, const uint8_t *data, size_t size)
{
	uint8_t *b;

	legacy_one(d, data, size);
	if (size < 26 || size >= (1u << 24) || (b = malloc(size)) == NULL)
		return;
	for (int codec = LS_CODEC_NONE; codec <= LS_CODEC_LZ4; codec++) {
		memcpy(b, data, size);
		put_be32(b + 8, (uint32_t)(size - 12));
		b[16] &= 1;
		b[17] = (uint8_t)((b[17] & 0x08) | codec);
		put_be32(b + 12, (uint32_t)crc32(0, b + 16, (uInt)(size - 16)));
		legacy_one(d, b, size);
	}
	free(b);
}

/* ls_batch_control_type of buf[0..len) copied into a buffer of exactly len
 * bytes: a marker type or -1. */
static void control_type_exact(const uint8_t *buf, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	if (b == NULL)
		return;
	memcpy(b, buf, len);
	int t = ls_batch_control_type(b, len);
	CHECK(t == -1 || t == LS_TXN_ABORT || t == LS_TXN_COMMIT);
	free(b);
}

/* The input as a control batch: as sent, then repaired as one. */
static void control_all(struct ls_decoder *d, const uint8_t *data, size_t size)
{
	struct ls_batch_info info;
	struct ls_record rec;
	uint8_t *b;

	control_type_exact(data, size);
	if (size < LS_BATCH_HEADER_SIZE || size >= (1u << 24) || (b = malloc(size)) == NULL)
		return;
	memcpy(b, data, size);
	put_be32(b + 8, (uint32_t)(size - 12));
	b[16] = 2;
	b[21] = 0;
	b[22] = (uint8_t)((b[22] & ~0x07) | 0x30); /* transactional, control, no codec */
	put_be32(b + 17, ls_crc32c(0, b + 21, size - 21));
	for (size_t cut = LS_BATCH_HEADER_SIZE; cut < size && cut <= LS_BATCH_HEADER_SIZE + 24;
	     cut++)
		control_type_exact(b, cut);
	control_type_exact(b, size);
	ls_decoder_set(d, b, size, 0);
	CHECK(ls_decoder_next(d, &rec, NULL) <= 0);
	CHECK(ls_batch_validate(d, b, size, 0, &info) == LS_ERR_INVALID_RECORD);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ls_decoder *d = ls_decoder_new(MAX_INFLATED);
	struct ls_batch_info info;
	uint8_t *b;

	if (d == NULL)
		return 0;
	(void)ls_batch_validate(d, data, size, 1, &info);
	decode_all(d, data, size);
	if (size >= LS_BATCH_HEADER_SIZE && size < (1u << 24) && (b = malloc(size)) != NULL) {
		for (int codec = LS_CODEC_NONE; codec <= LS_CODEC_ZSTD; codec++) {
			memcpy(b, data, size);
			put_be32(b + 8, (uint32_t)(size - 12));
			b[16] = 2;
			/* attributes (low byte): this codec, not control, not
			 * transactional */
			b[22] = (uint8_t)((b[22] & ~0x37) | codec);
			put_be32(b + 17, ls_crc32c(0, b + 21, size - 21));
			(void)ls_batch_validate(d, b, size, 0, &info);
			decode_all(d, b, size);
		}
		free(b);
	}
	legacy_all(d, data, size);
	control_all(d, data, size);
	ls_decoder_free(d);
	return 0;
}
