/*
 * Sender-selected distribution, as RabbitMQ 3.10: the CC and BCC headers of
 * a published message (arrays; their longstr elements count, others are
 * skipped) are routing keys besides the one of basic.publish, at every
 * exchange the message goes through; BCC is removed from the headers before
 * the message is stored or delivered; a CC or BCC that is not an array
 * makes the message invalid (406).  Dead-lettering routes a message with
 * the keys it was published with.
 *
 * Part of the codec library (bytes in, bytes out): besides basic.publish
 * (class_channel.c) and dead-lettering (deadletter.c), the HTTP API's
 * publish uses it.  Must not depend on: libevent, src/core, src/net.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

void am_ssd_find(struct am_bytes headers, struct am_ssd *s)
{
	struct am_table_iter it;
	struct am_bytes k;
	struct am_value v;
	memset(s, 0, sizeof(*s));
	am_table_iter_init(&it, headers);
	while (am_table_next(&it, &k, &v)) {
		/* RabbitMQ looks at the first of each, and strips the first BCC */
		if (k.len == 2 && k.ptr[0] == 'C' && k.ptr[1] == 'C' && !s->has_cc) {
			s->cc = v;
			s->has_cc = 1;
		} else if (k.len == 3 && memcmp(k.ptr, "BCC", 3) == 0 && !s->has_bcc) {
			s->bcc = v;
			s->has_bcc = 1;
			/* the entry: key length octet, key, type octet, value */
			s->bcc_entry.ptr = k.ptr - 1;
			s->bcc_entry.len = (uint32_t)(v.raw.ptr + v.raw.len - s->bcc_entry.ptr);
		}
	}
}

const char *am_ssd_bad(const struct am_ssd *s, uint8_t *type)
{
	if (s->has_cc && s->cc.type != 'A') {
		*type = s->cc.type;
		return "CC";
	}
	if (s->has_bcc && s->bcc.type != 'A') {
		*type = s->bcc.type;
		return "BCC";
	}
	return NULL;
}

int am_ssd_next_key(struct am_table_iter *it, struct am_bytes *key)
{
	struct am_value e;
	while (am_table_next(it, NULL, &e))
		if (e.type == 'S') {
			*key = e.v.bytes;
			return 1;
		}
	return 0;
}

/* Appends the longstr elements of array a (if a is one) to out at *n;
 * out NULL: only counts the bytes. */
static void pack_array(const struct am_value *a, uint8_t *out, size_t *n)
{
	struct am_table_iter it;
	struct am_bytes k;
	if (a->type != 'A')
		return;
	am_array_iter_init(&it, a->v.bytes);
	while (am_ssd_next_key(&it, &k)) {
		if (out) {
			uint8_t *p = out + *n;
			p[0] = (uint8_t)(k.len >> 24), p[1] = (uint8_t)(k.len >> 16);
			p[2] = (uint8_t)(k.len >> 8), p[3] = (uint8_t)k.len;
			memcpy(p + 4, k.ptr, k.len);
		}
		*n += 4 + (size_t)k.len;
	}
}

int am_ssd_pack(const struct am_ssd *s, int with_bcc, uint8_t **out, size_t *len)
{
	size_t n = 0;
	*out = NULL;
	*len = 0;
	if (s->has_cc)
		pack_array(&s->cc, NULL, &n);
	if (with_bcc && s->has_bcc)
		pack_array(&s->bcc, NULL, &n);
	if (n == 0)
		return 0;
	if (!(*out = malloc(n)))
		return -1;
	*len = n;
	n = 0;
	if (s->has_cc)
		pack_array(&s->cc, *out, &n);
	if (with_bcc && s->has_bcc)
		pack_array(&s->bcc, *out, &n);
	return 0;
}

int am_ssd_strip_bcc(const struct am_ssd *s, const struct am_content_header *h, size_t header_len,
		     uint8_t **out, size_t *out_len)
{
	struct am_bytes t = h->props.headers;
	size_t before = (size_t)(s->bcc_entry.ptr - t.ptr);
	size_t after = t.len - before - s->bcc_entry.len;
	struct am_basic_props p = h->props;
	/* the header without BCC is shorter than header_len */
	uint8_t *tbl = malloc(t.len), *buf = malloc(header_len);
	int rc = -1;
	if (!tbl || !buf)
		goto out;
	memcpy(tbl, t.ptr, before);
	memcpy(tbl + before, s->bcc_entry.ptr + s->bcc_entry.len, after);
	p.headers = (struct am_bytes){ tbl, (uint32_t)(before + after) };
	if (am_content_header_encode(h->body_size, &p, buf, header_len, out_len) != AM_OK)
		goto out;
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(tbl);
	return rc;
}
