/*
 * Frame output for the AMQP front end: methods encoded straight into the
 * connection's output evbuffer, content written from the message's stored
 * wire-form header and shared body.  Nothing is flushed here: libevent
 * writes the output buffer when the loop turns, so a dispatch pass that
 * delivers many messages becomes few writev calls.
 *
 * May depend on: amqp/am.h (the codec, net/net.h) and core/message.h.
 * Must not depend on: other front ends, core internals beyond message.h,
 * logstore/, libevent other than through net/net.h.
 */
#include <string.h>

#include "amqp/am.h"

/* Bodies at least this big are added by reference rather than copied: below
 * it, a copy is cheaper than an evbuffer chain and its cleanup callback. */
#define BODY_REF_MIN 2048

static void put_frame_header(uint8_t *p, uint8_t type, uint16_t channel, uint32_t size)
{
	p[0] = type;
	p[1] = (uint8_t)(channel >> 8);
	p[2] = (uint8_t)channel;
	p[3] = (uint8_t)(size >> 24);
	p[4] = (uint8_t)(size >> 16);
	p[5] = (uint8_t)(size >> 8);
	p[6] = (uint8_t)size;
}

void am_send_method(struct am_conn *c, uint16_t channel, const struct am_method *m)
{
	struct evbuffer *out = tdm_conn_out(c->net);
	size_t cap = 512;
	for (;;) {
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(out, cap, &v, 1) < 1)
			return;
		size_t len = 0;
		int rc = am_method_frame_encode(channel, m, v.iov_base, v.iov_len, &len);
		if (rc == AM_OK) {
			v.iov_len = len;
			evbuffer_commit_space(out, &v, 1);
			c->frames_out++;
			return;
		}
		if (rc != AM_ERR_NOSPACE || cap >= (1u << 20))
			return;
		cap *= 4;
	}
}

void am_send_simple(struct am_conn *c, uint16_t channel, uint32_t id)
{
	struct am_method m;
	memset(&m, 0, sizeof(m));
	m.id = id;
	am_send_method(c, channel, &m);
}

void am_send_heartbeat(struct am_conn *c)
{
	static const uint8_t hb[8] = { AM_FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, AM_FRAME_END };
	evbuffer_add(tdm_conn_out(c->net), hb, sizeof(hb));
	c->frames_out++;
}

static void body_ref_done(const void *data, size_t len, void *arg)
{
	(void)data, (void)len;
	tdm_message_unref(arg);
}

void am_send_content(struct am_conn *c, uint16_t channel, const struct tdm_message *msg)
{
	am_send_content_as(c, channel, msg, msg->header, msg->header_len);
}

void am_send_content_as(struct am_conn *c, uint16_t channel, const struct tdm_message *msg,
			const uint8_t *header, size_t header_len)
{
	struct evbuffer *out = tdm_conn_out(c->net);
	uint8_t fh[7];
	static const uint8_t end = AM_FRAME_END;
	put_frame_header(fh, AM_FRAME_HEADER, channel, (uint32_t)header_len);
	evbuffer_add(out, fh, sizeof(fh));
	evbuffer_add(out, header, header_len);
	evbuffer_add(out, &end, 1);
	size_t chunk = c->frame_max - AM_FRAME_OVERHEAD;
	for (uint64_t off = 0; off < msg->body_len; off += chunk) {
		size_t n = msg->body_len - off < chunk ? (size_t)(msg->body_len - off) : chunk;
		put_frame_header(fh, AM_FRAME_BODY, channel, (uint32_t)n);
		evbuffer_add(out, fh, sizeof(fh));
		if (n >= BODY_REF_MIN) {
			struct tdm_message *ref = tdm_message_ref((struct tdm_message *)msg);
			if (evbuffer_add_reference(out, msg->body + off, n, body_ref_done, ref) < 0)
				tdm_message_unref(ref);
		} else {
			evbuffer_add(out, msg->body + off, n);
		}
		evbuffer_add(out, &end, 1);
	}
	c->frames_out++;
}
