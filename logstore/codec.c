/*
 * logstore/codec.c: the compression codecs of RecordBatch v2, in Kafka's
 * wire formats: gzip (zlib), snappy (raw blocks, or xerial/snappy-java
 * framing, which the Java client writes and we write), lz4 (the LZ4 frame
 * format, independent 64 KiB blocks, no content size or checksum, as
 * Kafka's Java client writes it) and zstd (standard frames, streamed: a
 * frame need not declare its content size).
 *
 * Decompression never grows its output past the caller's bound: a batch
 * that would inflate beyond it is refused (LS_ERR_INVALID_RECORD), so a
 * decompression bomb costs at most that much memory.
 *
 * Must not depend on anything but libc, zlib, libsnappy, liblz4 and
 * libzstd.
 */
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "logstore_internal.h"

/* snappy-java's stream header: magic, then version and compatible
 * version (both 1, big-endian); blocks of up to 32 KiB follow, each as a
 * 4-byte big-endian length and one raw snappy block. */
static const unsigned char xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
#define XERIAL_HEADER 16
#define XERIAL_BLOCK (32u * 1024)

int ls_buf_reserve(unsigned char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	unsigned char *nb;

	if (need <= *cap)
		return LS_OK;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(*buf, ncap);
	if (nb == NULL)
		return LS_ERR_NOMEM;
	*buf = nb;
	*cap = ncap;
	return LS_OK;
}

int ls_codec_known(int codec)
{
	return codec >= LS_CODEC_NONE && codec <= LS_CODEC_ZSTD;
}

/* ---- compression ------------------------------------------------------- */

void ls_zip_free(struct ls_zip *z)
{
	if (z->zs_ready)
		deflateEnd(&z->zs);
	ZSTD_freeCCtx(z->zstd);
	LZ4F_freeCompressionContext(z->lz4);
	memset(z, 0, sizeof *z);
}

static int zip_gzip(struct ls_zip *z, const unsigned char *in, size_t len, unsigned char **out,
		    size_t *cap, size_t at, size_t *zlen)
{
	uLong bound;

	if (!z->zs_ready) {
		memset(&z->zs, 0, sizeof z->zs);
		if (deflateInit2(&z->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return LS_ERR_NOMEM;
		z->zs_ready = 1;
	} else if (deflateReset(&z->zs) != Z_OK) {
		return LS_ERR_NOMEM;
	}
	bound = deflateBound(&z->zs, (uLong)len) + 64;
	if (ls_buf_reserve(out, cap, at + bound) != LS_OK)
		return LS_ERR_NOMEM;
	z->zs.next_in = (unsigned char *)in;
	z->zs.avail_in = (uInt)len;
	z->zs.next_out = *out + at;
	z->zs.avail_out = (uInt)bound;
	if (deflate(&z->zs, Z_FINISH) != Z_STREAM_END)
		return LS_ERR_NOMEM;
	*zlen = bound - z->zs.avail_out;
	return LS_OK;
}

static int zip_snappy(const unsigned char *in, size_t len, unsigned char **out, size_t *cap,
		      size_t at, size_t *zlen)
{
	size_t blocks = len / XERIAL_BLOCK + 1;
	size_t bound = XERIAL_HEADER + blocks * (4 + snappy_max_compressed_length(XERIAL_BLOCK));
	size_t pos = XERIAL_HEADER;
	unsigned char *p;

	if (ls_buf_reserve(out, cap, at + bound) != LS_OK)
		return LS_ERR_NOMEM;
	p = *out + at;
	memcpy(p, xerial_magic, sizeof xerial_magic);
	ls_put_be32(p + 8, 1);
	ls_put_be32(p + 12, 1);
	for (size_t done = 0; done < len;) {
		size_t n = len - done < XERIAL_BLOCK ? len - done : XERIAL_BLOCK;
		size_t clen = bound - pos - 4;

		if (snappy_compress((const char *)in + done, n, (char *)p + pos + 4, &clen) !=
		    SNAPPY_OK)
			return LS_ERR_NOMEM;
		ls_put_be32(p + pos, (uint32_t)clen);
		pos += 4 + clen;
		done += n;
	}
	*zlen = pos;
	return LS_OK;
}

static int zip_lz4(struct ls_zip *z, const unsigned char *in, size_t len, unsigned char **out,
		   size_t *cap, size_t at, size_t *zlen)
{
	LZ4F_preferences_t prefs;
	size_t bound, n, pos;
	unsigned char *p;

	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	if (z->lz4 == NULL && LZ4F_isError(LZ4F_createCompressionContext(&z->lz4, LZ4F_VERSION)))
		return LS_ERR_NOMEM;
	bound = LZ4F_HEADER_SIZE_MAX + LZ4F_compressBound(len, &prefs);
	if (ls_buf_reserve(out, cap, at + bound) != LS_OK)
		return LS_ERR_NOMEM;
	p = *out + at;
	n = LZ4F_compressBegin(z->lz4, p, bound, &prefs);
	if (LZ4F_isError(n))
		return LS_ERR_NOMEM;
	pos = n;
	n = LZ4F_compressUpdate(z->lz4, p + pos, bound - pos, in, len, NULL);
	if (LZ4F_isError(n))
		return LS_ERR_NOMEM;
	pos += n;
	n = LZ4F_compressEnd(z->lz4, p + pos, bound - pos, NULL);
	if (LZ4F_isError(n))
		return LS_ERR_NOMEM;
	*zlen = pos + n;
	return LS_OK;
}

static int zip_zstd(struct ls_zip *z, const unsigned char *in, size_t len, unsigned char **out,
		    size_t *cap, size_t at, size_t *zlen)
{
	size_t bound = ZSTD_compressBound(len), n;

	if (z->zstd == NULL && (z->zstd = ZSTD_createCCtx()) == NULL)
		return LS_ERR_NOMEM;
	if (ls_buf_reserve(out, cap, at + bound) != LS_OK)
		return LS_ERR_NOMEM;
	n = ZSTD_compressCCtx(z->zstd, *out + at, bound, in, len, ZSTD_CLEVEL_DEFAULT);
	if (ZSTD_isError(n))
		return LS_ERR_NOMEM;
	*zlen = n;
	return LS_OK;
}

int ls_compress(struct ls_zip *z, int codec, const unsigned char *in, size_t len,
		unsigned char **out, size_t *cap, size_t at, size_t *zlen)
{
	switch (codec) {
	case LS_CODEC_GZIP:
		return zip_gzip(z, in, len, out, cap, at, zlen);
	case LS_CODEC_SNAPPY:
		return zip_snappy(in, len, out, cap, at, zlen);
	case LS_CODEC_LZ4:
		return zip_lz4(z, in, len, out, cap, at, zlen);
	case LS_CODEC_ZSTD:
		return zip_zstd(z, in, len, out, cap, at, zlen);
	default:
		return LS_ERR_UNSUPPORTED_CODEC;
	}
}

/* ---- decompression ----------------------------------------------------- */

void ls_unzip_free(struct ls_unzip *u)
{
	if (u->zs_ready)
		inflateEnd(&u->zs);
	free(u->buf);
	ZSTD_freeDCtx(u->zstd);
	LZ4F_freeDecompressionContext(u->lz4);
	memset(u, 0, sizeof *u);
}

/* Makes room after `used` bytes of the output: doubles it, but never past
 * max.  LS_ERR_INVALID_RECORD when it is already max (the bomb guard). */
static int room(struct ls_unzip *u, size_t used, size_t max)
{
	size_t want;

	if (used < u->cap)
		return LS_OK;
	if (u->cap >= max)
		return LS_ERR_INVALID_RECORD;
	want = u->cap < 65536 ? 65536 : u->cap * 2;
	if (want > max)
		want = max;
	return ls_buf_reserve(&u->buf, &u->cap, want);
}

/* Exactly `want` bytes of room, for codecs that say their size first. */
static int room_for(struct ls_unzip *u, size_t used, size_t want, size_t max)
{
	if (want > max || used > max - want)
		return LS_ERR_INVALID_RECORD;
	return ls_buf_reserve(&u->buf, &u->cap, used + want);
}

/* gzip (or zlib), possibly several concatenated gzip members. */
static int unzip_gzip(struct ls_unzip *u, const unsigned char *in, size_t len, size_t max,
		      size_t *out_len)
{
	size_t used = 0;
	int rc;

	if (!u->zs_ready) {
		memset(&u->zs, 0, sizeof u->zs);
		if (inflateInit2(&u->zs, 15 + 32) != Z_OK)
			return LS_ERR_NOMEM;
		u->zs_ready = 1;
	} else if (inflateReset(&u->zs) != Z_OK) {
		return LS_ERR_NOMEM;
	}
	u->zs.next_in = (unsigned char *)in;
	u->zs.avail_in = (uInt)len;
	for (;;) {
		if ((rc = room(u, used, max)) != LS_OK)
			return rc;
		u->zs.next_out = u->buf + used;
		u->zs.avail_out = (uInt)(u->cap - used);
		rc = inflate(&u->zs, Z_NO_FLUSH);
		used = u->cap - u->zs.avail_out;
		if (rc == Z_STREAM_END) {
			if (u->zs.avail_in == 0)
				break;
			if (inflateReset(&u->zs) != Z_OK)
				return LS_ERR_NOMEM;
			continue;
		}
		if (rc == Z_BUF_ERROR && u->zs.avail_in == 0)
			return LS_ERR_INVALID_RECORD; /* truncated stream */
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return rc == Z_MEM_ERROR ? LS_ERR_NOMEM : LS_ERR_INVALID_RECORD;
	}
	*out_len = used;
	return LS_OK;
}

/* One raw snappy block appended at u->buf + *used. */
static int snappy_block(struct ls_unzip *u, const unsigned char *in, size_t len, size_t max,
			size_t *used)
{
	size_t n;
	int rc;

	if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
		return LS_ERR_INVALID_RECORD;
	if ((rc = room_for(u, *used, n, max)) != LS_OK)
		return rc;
	if (n > 0 &&
	    snappy_uncompress((const char *)in, len, (char *)u->buf + *used, &n) != SNAPPY_OK)
		return LS_ERR_INVALID_RECORD;
	*used += n;
	return LS_OK;
}

/* A raw snappy block, or snappy-java's framing of blocks. */
static int unzip_snappy(struct ls_unzip *u, const unsigned char *in, size_t len, size_t max,
			size_t *out_len)
{
	size_t used = 0, pos = XERIAL_HEADER;
	int rc;

	if (len < XERIAL_HEADER || memcmp(in, xerial_magic, sizeof xerial_magic) != 0) {
		rc = snappy_block(u, in, len, max, &used);
		*out_len = used;
		return rc;
	}
	while (pos < len) {
		uint32_t blen;

		if (len - pos < 4)
			return LS_ERR_INVALID_RECORD;
		blen = ls_get_be32(in + pos);
		pos += 4;
		if (blen > len - pos)
			return LS_ERR_INVALID_RECORD;
		if ((rc = snappy_block(u, in + pos, blen, max, &used)) != LS_OK)
			return rc;
		pos += blen;
	}
	*out_len = used;
	return LS_OK;
}

/* One or more LZ4 frames. */
static int unzip_lz4(struct ls_unzip *u, const unsigned char *in, size_t len, size_t max,
		     size_t *out_len)
{
	size_t used = 0, pos = 0, hint;
	int rc;

	if (u->lz4 == NULL && LZ4F_isError(LZ4F_createDecompressionContext(&u->lz4, LZ4F_VERSION)))
		return LS_ERR_NOMEM;
	LZ4F_resetDecompressionContext(u->lz4);
	for (;;) {
		size_t src = len - pos, dst;

		if ((rc = room(u, used, max)) != LS_OK)
			return rc;
		dst = u->cap - used;
		hint = LZ4F_decompress(u->lz4, u->buf + used, &dst, in + pos, &src, NULL);
		if (LZ4F_isError(hint))
			return LS_ERR_INVALID_RECORD;
		pos += src;
		used += dst;
		if (hint == 0 && pos == len)
			break;
		/* no input left and nothing more came out: a truncated frame */
		if (dst == 0 && (pos == len || src == 0))
			return LS_ERR_INVALID_RECORD;
	}
	*out_len = used;
	return LS_OK;
}

/* log2 of the smallest power of two >= max, within what zstd allows by
 * default (10..27). */
static int window_log(size_t max)
{
	int lg = 10;

	while (lg < 27 && ((size_t)1 << lg) < max)
		lg++;
	return lg;
}

/* One or more zstd frames, streamed (no content size needed). */
static int unzip_zstd(struct ls_unzip *u, const unsigned char *in, size_t len, size_t max,
		      size_t *out_len)
{
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t used = 0, hint = 1;
	int rc;

	if (u->zstd == NULL && (u->zstd = ZSTD_createDCtx()) == NULL)
		return LS_ERR_NOMEM;
	ZSTD_DCtx_reset(u->zstd, ZSTD_reset_session_only);
	/* A window larger than the output bound is never needed: refusing it
	 * keeps a hostile frame header from costing 128 MiB of window. */
	if (ZSTD_isError(ZSTD_DCtx_setParameter(u->zstd, ZSTD_d_windowLogMax, window_log(max))))
		return LS_ERR_NOMEM;
	while (ib.pos < ib.size || hint != 0) {
		ZSTD_outBuffer ob;

		if ((rc = room(u, used, max)) != LS_OK)
			return rc;
		ob.dst = u->buf;
		ob.size = u->cap;
		ob.pos = used;
		hint = ZSTD_decompressStream(u->zstd, &ob, &ib);
		if (ZSTD_isError(hint))
			return LS_ERR_INVALID_RECORD;
		used = ob.pos;
		/* all input taken, the frame unfinished, room left: truncated */
		if (hint != 0 && ib.pos == ib.size && used < u->cap)
			return LS_ERR_INVALID_RECORD;
	}
	*out_len = used;
	return LS_OK;
}

int ls_decompress(struct ls_unzip *u, int codec, const unsigned char *in, size_t len, size_t max,
		  size_t *out_len)
{
	switch (codec) {
	case LS_CODEC_GZIP:
		return unzip_gzip(u, in, len, max, out_len);
	case LS_CODEC_SNAPPY:
		return unzip_snappy(u, in, len, max, out_len);
	case LS_CODEC_LZ4:
		return unzip_lz4(u, in, len, max, out_len);
	case LS_CODEC_ZSTD:
		return unzip_zstd(u, in, len, max, out_len);
	default:
		return LS_ERR_UNSUPPORTED_CODEC;
	}
}
