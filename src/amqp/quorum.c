/*
 * Quorum queues seen over AMQP (core/quorum.h): the x-delivery-count
 * header of a delivery, and the publisher confirm of an append.
 *
 * RabbitMQ 3.10 puts x-delivery-count (a long) on every basic.get-ok of a
 * quorum queue (0 the first time) and on a consumer's delivery once the
 * message was returned at least once; the message itself is not changed,
 * only the content header sent.
 *
 * Must not depend on: src/cluster, logstore.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/quorum.h"

/* The content header of e's delivery with x-delivery-count n, malloc'd
 * into *out; 0 or -1. */
static int with_count(const struct tdm_message *m, uint32_t n, uint8_t **out, size_t *out_len)
{
	struct am_content_header h;
	if (am_content_header_decode(m->header, m->header_len, &h) != AM_OK)
		return -1;
	size_t old = (h.props.flags & AM_P_HEADERS) ? h.props.headers.len : 0;
	size_t cap = old + 64;
	uint8_t *tbuf = malloc(cap), *hbuf = malloc(m->header_len + 64);
	struct am_tb tb;
	struct am_bytes table;
	char key[256];
	if (!tbuf || !hbuf)
		goto fail;
	am_tb_init(&tb, tbuf, cap);
	if (old) {
		struct am_table_iter it;
		struct am_bytes k;
		struct am_value v;
		am_table_iter_init(&it, h.props.headers);
		while (am_table_next(&it, &k, &v)) {
			if (k.len == 16 && memcmp(k.ptr, "x-delivery-count", 16) == 0)
				continue;
			memcpy(key, k.ptr, k.len);
			key[k.len] = '\0';
			am_tb_raw(&tb, key, v.type, v.raw.ptr, v.raw.len);
		}
	}
	am_tb_long(&tb, "x-delivery-count", n);
	if (am_tb_finish(&tb, &table) != AM_OK)
		goto fail;
	h.props.flags |= AM_P_HEADERS;
	h.props.headers = table;
	if (am_content_header_encode(m->body_len, &h.props, hbuf, m->header_len + 64, out_len) !=
	    AM_OK)
		goto fail;
	free(tbuf);
	*out = hbuf;
	return 0;
fail:
	free(tbuf);
	free(hbuf);
	return -1;
}

void am_send_entry(struct am_conn *c, uint16_t channel, const struct tdm_queue *q,
		   const struct tdm_qentry *e, int get)
{
	uint32_t n = q->quorum && !q->remote ? tdm_quorum_delivery_count(q, e->seq) : 0;
	uint8_t *hdr;
	size_t len;
	if (!q->quorum || q->remote || (!n && !get) || with_count(e->msg, n, &hdr, &len) < 0) {
		am_send_content(c, channel, e->msg);
		return;
	}
	am_send_content_as(c, channel, e->msg, hdr, len);
	free(hdr);
}
