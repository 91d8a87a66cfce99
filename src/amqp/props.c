/*
 * AMQP 0-9-1 content headers (frame type 2) of class basic: class id,
 * weight, body size and the 14 basic properties selected by the property
 * flags.  One descriptor table drives both directions, reading and writing
 * each property with the same field routines as the method interpreter.
 *
 * Must not depend on: libevent, src/core, src/net; no allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "codec_internal.h"

#define AM_PROP_CONTINUATION 0x0001
#define AM_PROP_MASK 0xFFFC /* the 14 property bits of class basic */

/* The properties in wire order, highest flag bit first. */
static const struct am_prop_desc {
	uint16_t flag;
	uint8_t type;
	uint16_t offset;
} am_props[] = {
	{AM_P_CONTENT_TYPE, AM_T_SHORTSTR, offsetof(struct am_basic_props, content_type)},
	{AM_P_CONTENT_ENCODING, AM_T_SHORTSTR, offsetof(struct am_basic_props, content_encoding)},
	{AM_P_HEADERS, AM_T_TABLE, offsetof(struct am_basic_props, headers)},
	{AM_P_DELIVERY_MODE, AM_T_OCTET, offsetof(struct am_basic_props, delivery_mode)},
	{AM_P_PRIORITY, AM_T_OCTET, offsetof(struct am_basic_props, priority)},
	{AM_P_CORRELATION_ID, AM_T_SHORTSTR, offsetof(struct am_basic_props, correlation_id)},
	{AM_P_REPLY_TO, AM_T_SHORTSTR, offsetof(struct am_basic_props, reply_to)},
	{AM_P_EXPIRATION, AM_T_SHORTSTR, offsetof(struct am_basic_props, expiration)},
	{AM_P_MESSAGE_ID, AM_T_SHORTSTR, offsetof(struct am_basic_props, message_id)},
	{AM_P_TIMESTAMP, AM_T_LONGLONG, offsetof(struct am_basic_props, timestamp)},
	{AM_P_TYPE, AM_T_SHORTSTR, offsetof(struct am_basic_props, type)},
	{AM_P_USER_ID, AM_T_SHORTSTR, offsetof(struct am_basic_props, user_id)},
	{AM_P_APP_ID, AM_T_SHORTSTR, offsetof(struct am_basic_props, app_id)},
	{AM_P_CLUSTER_ID, AM_T_SHORTSTR, offsetof(struct am_basic_props, cluster_id)},
};

#define AM_NPROPS (sizeof(am_props) / sizeof(am_props[0]))

int am_content_header_decode(const uint8_t *payload, size_t len, struct am_content_header *h)
{
	uint8_t *base = (uint8_t *)&h->props;
	uint16_t flags, word;
	size_t pos = 14, i;
	int rc;

	if (len < 14)
		return AM_ERR_SYNTAX;
	h->class_id = am_rd16(payload);
	h->weight = am_rd16(payload + 2);
	h->body_size = am_rd64(payload + 4);
	flags = word = am_rd16(payload + 12);
	/* Continuation words would announce properties 15 and up: basic has none. */
	while (word & AM_PROP_CONTINUATION) {
		if (len - pos < 2)
			return AM_ERR_SYNTAX;
		word = am_rd16(payload + pos);
		pos += 2;
		if (word & ~AM_PROP_CONTINUATION)
			return AM_ERR_SYNTAX;
	}
	memset(&h->props, 0, sizeof(h->props));
	h->props.flags = flags & AM_PROP_MASK;
	for (i = 0; i < AM_NPROPS; i++) {
		if (!(flags & am_props[i].flag))
			continue;
		rc = am_field_get(am_props[i].type, payload, len, &pos, base + am_props[i].offset);
		if (rc != AM_OK)
			return rc;
	}
	return pos == len ? AM_OK : AM_ERR_SYNTAX;
}

int am_content_header_encode(uint64_t body_size, const struct am_basic_props *p, uint8_t *buf,
			     size_t cap, size_t *out_len)
{
	const uint8_t *base = (const uint8_t *)p;
	uint16_t flags = p->flags & AM_PROP_MASK;
	size_t pos = 14, i;
	int rc;

	if (cap < 14)
		return AM_ERR_NOSPACE;
	am_wr16(buf, 60);
	am_wr16(buf + 2, 0);
	am_wr64(buf + 4, body_size);
	am_wr16(buf + 12, flags);
	for (i = 0; i < AM_NPROPS; i++) {
		if (!(flags & am_props[i].flag))
			continue;
		rc = am_field_put(am_props[i].type, base + am_props[i].offset, buf, cap, &pos);
		if (rc != AM_OK)
			return rc;
	}
	*out_len = pos;
	return AM_OK;
}
