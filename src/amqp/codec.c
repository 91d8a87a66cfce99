/*
 * AMQP 0-9-1 frames and methods: the frame parser and the one interpreter
 * that decodes and encodes every method by walking the field descriptors
 * generated here from methods.h's AM_METHOD_TABLE.
 *
 * Must not depend on: libevent, src/core, src/net; no allocation.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "codec_internal.h"

/* One field of a method: its type and where it lives in the method's struct. */
struct am_field_desc {
	uint8_t type;
	uint16_t offset;
};

struct am_method_desc {
	uint32_t id;
	unsigned flags;
	const char *name;
	const struct am_field_desc *fields; /* ends with AM_T_END */
};

/* static const struct am_field_desc am_fd_queue_declare[] = { ... }; */
#define AM_GEN_FD(S, T, n) {AM_T_##T, (uint16_t)offsetof(struct am_##S, n)},
#define AM_GEN_FIELDS(cid, mid, UP, lo, name, flags, ...)                               \
	static const struct am_field_desc am_fd_##lo[] = {AM_EACH(AM_GEN_FD, lo, __VA_ARGS__) \
							   {AM_T_END, 0}};
AM_METHOD_TABLE(AM_GEN_FIELDS)
#undef AM_GEN_FIELDS
#undef AM_GEN_FD

/* Dense index of each method, in table order. */
#define AM_GEN_IDX(cid, mid, UP, lo, ...) AM_IDX_##lo,
enum { AM_METHOD_TABLE(AM_GEN_IDX) AM_IDX_COUNT };
#undef AM_GEN_IDX

#define AM_GEN_DESC(cid, mid, UP, lo, name, flags, ...) {AM_##UP, flags, name, am_fd_##lo},
static const struct am_method_desc am_methods[AM_IDX_COUNT] = {AM_METHOD_TABLE(AM_GEN_DESC)};
#undef AM_GEN_DESC

/* The descriptor of method id, or NULL.  A switch the compiler turns into a jump table. */
static const struct am_method_desc *am_method_find(uint32_t id)
{
	switch (id) {
#define AM_GEN_CASE(cid, mid, UP, lo, ...) \
	case AM_##UP:                      \
		return &am_methods[AM_IDX_##lo];
		AM_METHOD_TABLE(AM_GEN_CASE)
#undef AM_GEN_CASE
	}
	return NULL;
}

const char *am_method_name(uint32_t id)
{
	const struct am_method_desc *d = am_method_find(id);

	return d ? d->name : NULL;
}

int am_method_has_content(uint32_t id)
{
	const struct am_method_desc *d = am_method_find(id);

	return d && (d->flags & AM_MF_CONTENT);
}

int am_method_known(uint32_t id)
{
	return am_method_find(id) != NULL;
}

unsigned am_method_flags(uint32_t id)
{
	const struct am_method_desc *d = am_method_find(id);

	return d ? d->flags : 0;
}

long am_frame_parse(const uint8_t *buf, size_t avail, uint32_t frame_max, struct am_frame *f)
{
	uint64_t total;
	uint32_t size;

	if (avail < 7)
		return AM_AGAIN;
	switch (buf[0]) {
	case AM_FRAME_METHOD:
	case AM_FRAME_HEADER:
	case AM_FRAME_BODY:
	case AM_FRAME_HEARTBEAT:
		break;
	default:
		return AM_ERR_FRAME;
	}
	size = am_rd32(buf + 3);
	total = (uint64_t)size + AM_FRAME_OVERHEAD;
	if ((frame_max && total > frame_max) || total > LONG_MAX)
		return AM_ERR_FRAME;
	if (avail < total)
		return AM_AGAIN;
	if (buf[total - 1] != AM_FRAME_END)
		return AM_ERR_FRAME;
	f->type = buf[0];
	f->channel = am_rd16(buf + 1);
	f->size = size;
	f->payload = buf + 7;
	return (long)total;
}

int am_method_decode(const uint8_t *payload, size_t len, struct am_method *m)
{
	const struct am_method_desc *d;
	const struct am_field_desc *fd;
	uint8_t *base = (uint8_t *)&m->u;
	size_t pos = 4;
	unsigned bit = 8, octet = 0; /* bit == 8: the next BIT starts a new octet */
	int rc;

	if (len < 4)
		return AM_ERR_SYNTAX;
	m->id = AM_ID(am_rd16(payload), am_rd16(payload + 2));
	d = am_method_find(m->id);
	if (!d)
		return AM_ERR_UNKNOWN;
	for (fd = d->fields; fd->type != AM_T_END; fd++) {
		uint8_t *dst = base + fd->offset;

		if (fd->type == AM_T_BIT) {
			if (bit == 8) {
				if (pos >= len)
					return AM_ERR_SYNTAX;
				octet = payload[pos++];
				bit = 0;
			}
			*dst = (octet >> bit++) & 1;
			continue;
		}
		bit = 8;
		if (fd->type == AM_T_NONE) {
			*dst = 0;
			continue;
		}
		rc = am_field_get(fd->type, payload, len, &pos, dst);
		if (rc != AM_OK)
			return rc;
	}
	return pos == len ? AM_OK : AM_ERR_SYNTAX;
}

int am_method_frame_encode(uint16_t channel, const struct am_method *m, uint8_t *buf, size_t cap,
			   size_t *out_len)
{
	const struct am_method_desc *d = am_method_find(m->id);
	const struct am_field_desc *fd;
	const uint8_t *base = (const uint8_t *)&m->u;
	size_t pos = 11, limit, bitpos = 0;
	unsigned bit = 8;
	int rc;

	if (!d)
		return AM_ERR_UNKNOWN;
	if (cap < 12)
		return AM_ERR_NOSPACE;
	limit = cap - 1; /* keep room for the frame-end octet */
	for (fd = d->fields; fd->type != AM_T_END; fd++) {
		const uint8_t *src = base + fd->offset;

		if (fd->type == AM_T_BIT) {
			if (bit == 8) {
				if (pos >= limit)
					return AM_ERR_NOSPACE;
				bitpos = pos++;
				buf[bitpos] = 0;
				bit = 0;
			}
			if (*src)
				buf[bitpos] |= (uint8_t)(1u << bit);
			bit++;
			continue;
		}
		bit = 8;
		if (fd->type == AM_T_NONE)
			continue;
		rc = am_field_put(fd->type, src, buf, limit, &pos);
		if (rc != AM_OK)
			return rc;
	}
	if (pos - 7 > UINT32_MAX)
		return AM_ERR_RANGE;
	buf[0] = AM_FRAME_METHOD;
	am_wr16(buf + 1, channel);
	am_wr32(buf + 3, (uint32_t)(pos - 7));
	am_wr16(buf + 7, (uint16_t)(m->id >> 16));
	am_wr16(buf + 9, (uint16_t)m->id);
	buf[pos++] = AM_FRAME_END;
	*out_len = pos;
	return AM_OK;
}
