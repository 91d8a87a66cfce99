/*
 * Internals shared by the codec's files (codec.c, props.c, table.c):
 * big-endian loads and stores, the field type codes the method table's
 * TYPE column pastes into, and the one routine per direction that reads or
 * writes a single non-bit field.  Not for use outside src/amqp/.
 *
 * Must not depend on anything but codec.h and libc.
 */
#ifndef TANDEM_AMQP_CODEC_INTERNAL_H
#define TANDEM_AMQP_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"

/* Field type codes: AM_T_##TYPE for each TYPE of methods.h, plus END. */
enum {
	AM_T_END = 0,
	AM_T_NONE,
	AM_T_BIT,
	AM_T_OCTET,
	AM_T_SHORT,
	AM_T_LONG,
	AM_T_LONGLONG,
	AM_T_SHORTSTR,
	AM_T_LONGSTR,
	AM_T_TABLE,
};

static inline uint16_t am_rd16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t am_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t am_rd64(const uint8_t *p)
{
	return (uint64_t)am_rd32(p) << 32 | am_rd32(p + 4);
}

static inline void am_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void am_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void am_wr64(uint8_t *p, uint64_t v)
{
	am_wr32(p, (uint32_t)(v >> 32));
	am_wr32(p + 4, (uint32_t)v);
}

/*
 * Reads one field of type t (not BIT or NONE) from p[*pos..len) into dst,
 * which has the type's C type (methods.h AM_CTYPE_*).  Advances *pos.
 * Tables are validated to AM_TABLE_MAX_DEPTH.  AM_OK or AM_ERR_SYNTAX.
 */
static inline int am_field_get(int t, const uint8_t *p, size_t len, size_t *pos, void *dst)
{
	size_t at = *pos, avail = len - at, n;

	switch (t) {
	case AM_T_OCTET:
		if (avail < 1)
			return AM_ERR_SYNTAX;
		*(uint8_t *)dst = p[at];
		*pos = at + 1;
		return AM_OK;
	case AM_T_SHORT:
		if (avail < 2)
			return AM_ERR_SYNTAX;
		*(uint16_t *)dst = am_rd16(p + at);
		*pos = at + 2;
		return AM_OK;
	case AM_T_LONG:
		if (avail < 4)
			return AM_ERR_SYNTAX;
		*(uint32_t *)dst = am_rd32(p + at);
		*pos = at + 4;
		return AM_OK;
	case AM_T_LONGLONG:
		if (avail < 8)
			return AM_ERR_SYNTAX;
		*(uint64_t *)dst = am_rd64(p + at);
		*pos = at + 8;
		return AM_OK;
	case AM_T_SHORTSTR:
		if (avail < 1 || (n = p[at]) > avail - 1)
			return AM_ERR_SYNTAX;
		((struct am_bytes *)dst)->ptr = p + at + 1;
		((struct am_bytes *)dst)->len = (uint32_t)n;
		*pos = at + 1 + n;
		return AM_OK;
	case AM_T_LONGSTR:
	case AM_T_TABLE:
		if (avail < 4 || (n = am_rd32(p + at)) > avail - 4)
			return AM_ERR_SYNTAX;
		((struct am_bytes *)dst)->ptr = p + at + 4;
		((struct am_bytes *)dst)->len = (uint32_t)n;
		*pos = at + 4 + n;
		if (t == AM_T_TABLE)
			return am_table_validate(*(struct am_bytes *)dst, AM_TABLE_MAX_DEPTH);
		return AM_OK;
	}
	return AM_ERR_SYNTAX;
}

/*
 * Writes one field of type t (not BIT or NONE) from src into buf[*pos..cap).
 * Advances *pos.  AM_OK, AM_ERR_NOSPACE or AM_ERR_RANGE.
 */
static inline int am_field_put(int t, const void *src, uint8_t *buf, size_t cap, size_t *pos)
{
	size_t at = *pos, room = cap - at;
	const struct am_bytes *b = src;

	switch (t) {
	case AM_T_OCTET:
		if (room < 1)
			return AM_ERR_NOSPACE;
		buf[at] = *(const uint8_t *)src;
		*pos = at + 1;
		return AM_OK;
	case AM_T_SHORT:
		if (room < 2)
			return AM_ERR_NOSPACE;
		am_wr16(buf + at, *(const uint16_t *)src);
		*pos = at + 2;
		return AM_OK;
	case AM_T_LONG:
		if (room < 4)
			return AM_ERR_NOSPACE;
		am_wr32(buf + at, *(const uint32_t *)src);
		*pos = at + 4;
		return AM_OK;
	case AM_T_LONGLONG:
		if (room < 8)
			return AM_ERR_NOSPACE;
		am_wr64(buf + at, *(const uint64_t *)src);
		*pos = at + 8;
		return AM_OK;
	case AM_T_SHORTSTR:
		if (b->len > 255)
			return AM_ERR_RANGE;
		if (room < 1 || b->len > room - 1)
			return AM_ERR_NOSPACE;
		buf[at] = (uint8_t)b->len;
		if (b->len)
			memcpy(buf + at + 1, b->ptr, b->len);
		*pos = at + 1 + b->len;
		return AM_OK;
	case AM_T_LONGSTR:
	case AM_T_TABLE:
		if (room < 4 || b->len > room - 4)
			return AM_ERR_NOSPACE;
		am_wr32(buf + at, b->len);
		if (b->len)
			memcpy(buf + at + 4, b->ptr, b->len);
		*pos = at + 4 + b->len;
		return AM_OK;
	}
	return AM_ERR_RANGE;
}

#endif
