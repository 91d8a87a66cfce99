/*
 * The cluster link's publish to named queues: on a trusted connection
 * (am_conn_trusted) a basic.publish whose `headers` carry x-tandem-queues,
 * a field array of queue names (longstr, or byte array), goes to exactly
 * those queues of the vhost instead of through the exchange.  The node
 * that forwards a publish to a classic queue living here has routed it
 * already; the exchange and routing key stay the message's own, as its
 * publisher sent them (the exchange need not exist here), and the header
 * is taken out of the stored properties so consumers never see it.  A
 * named queue that is not here (deleted, or not made again yet after a
 * restart) nacks the publish instead of dropping it with an ack.
 * Anywhere else the header is an ordinary one.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h).  Must
 * not depend on: other front ends, logstore/.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"

struct am_targets {
	uint32_t len;
	uint8_t raw[]; /* the field array's entries (no length prefix) */
};

/* 1 when every entry of the validated array a is a queue name. */
static int names_only(struct am_bytes a)
{
	struct am_table_iter it;
	struct am_value v;

	am_array_iter_init(&it, a);
	while (am_table_next(&it, NULL, &v))
		if ((v.type != 'S' && v.type != 'x') || v.v.bytes.len == 0 || v.v.bytes.len > 255)
			return 0;
	return 1;
}

/* headers without key AM_TARGETS_HEADER into buf (cap bytes): AM_OK with
 * out (empty when nothing else was there), or the builder's error. */
static int headers_without(struct am_bytes headers, uint8_t *buf, size_t cap,
			   struct am_bytes *out)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	struct am_tb tb;
	char k[256];

	am_tb_init(&tb, buf, cap);
	am_table_iter_init(&it, headers);
	while (am_table_next(&it, &key, &v)) {
		if (key.len == sizeof(AM_TARGETS_HEADER) - 1 &&
		    memcmp(key.ptr, AM_TARGETS_HEADER, key.len) == 0)
			continue;
		memcpy(k, key.ptr, key.len);
		k[key.len] = '\0';
		am_tb_raw(&tb, k, v.type, v.raw.ptr, v.raw.len);
	}
	return am_tb_finish(&tb, out);
}

int am_targets_take(const struct am_conn *c, const uint8_t *payload, size_t len,
		    struct am_targets **targets, uint8_t **hdr, size_t *hdr_len, struct am_err *err)
{
	struct am_content_header h;
	struct am_bytes rest;
	struct am_value v;
	uint8_t *tbuf = NULL, *out = NULL;
	size_t cap = len + 64, olen;
	int rc = -1;

	*targets = NULL;
	if (!am_conn_trusted(c) || am_content_header_decode(payload, len, &h) != AM_OK ||
	    !(h.props.flags & AM_P_HEADERS) ||
	    !am_table_get(h.props.headers, AM_TARGETS_HEADER, &v))
		return 0;
	if (v.type != 'A' || !names_only(v.v.bytes))
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "invalid header '" AM_TARGETS_HEADER "': an array of queue names "
			       "(longstr) was expected, got %s",
			       v.type == 'A' ? "an array holding something else"
					     : am_type_word(v.type));
	tbuf = malloc(cap);
	out = malloc(cap);
	*targets = malloc(sizeof(**targets) + v.v.bytes.len);
	if (!tbuf || !out || !*targets)
		goto nomem;
	(*targets)->len = v.v.bytes.len;
	memcpy((*targets)->raw, v.v.bytes.ptr, v.v.bytes.len);
	if (headers_without(h.props.headers, tbuf, cap, &rest) != AM_OK)
		goto nomem; /* smaller than what was read: cannot be short of room */
	h.props.headers = rest;
	if (rest.len == 0) /* nothing else in it: no headers table at all */
		h.props.flags &= (uint16_t)~AM_P_HEADERS;
	if (am_content_header_encode(h.body_size, &h.props, out, cap, &olen) != AM_OK)
		goto nomem;
	*hdr = out;
	*hdr_len = olen;
	out = NULL;
	rc = 1;
	goto out;
nomem:
	am_targets_free(*targets);
	*targets = NULL;
	am_fail(err, AM_INTERNAL_ERROR, AM_BASIC_PUBLISH, "out of memory");
out:
	free(tbuf);
	free(out);
	return rc;
}

int am_targets_route(struct tdm_vhost *vh, const struct am_targets *t, struct tdm_route *r)
{
	struct am_table_iter it;
	struct am_value v;
	int missing = 0;

	am_array_iter_init(&it, (struct am_bytes){ t->raw, t->len });
	while (am_table_next(&it, NULL, &v)) {
		struct tdm_queue *q =
			tdm_map_get(&vh->queues, (const char *)v.v.bytes.ptr, v.v.bytes.len);

		if (q)
			tdm_route_add_queue(r, q);
		else
			missing++;
	}
	return missing;
}

void am_targets_free(struct am_targets *t)
{
	free(t);
}
