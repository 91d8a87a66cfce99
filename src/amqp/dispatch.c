/*
 * The dispatcher: one table of the methods a client may send on a channel,
 * with their handler and preconditions.  It checks the preconditions
 * generically, calls the handler, and is the one place that turns an error
 * into channel.close (soft codes) or connection.close (hard codes).
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <string.h>

#include "amqp/am.h"

enum {
	PRE_OPEN = 1,     /* the channel must be open */
	PRE_NOT_OPEN = 2, /* the channel must not be open (channel.open) */
};

static const struct {
	uint32_t id;
	am_handler_fn fn;
	uint8_t pre;
} handlers[] = {
	{ AM_CHANNEL_OPEN, NULL, PRE_NOT_OPEN },
	{ AM_CHANNEL_CLOSE, am_h_channel_close, PRE_OPEN },
	{ AM_CHANNEL_FLOW, am_h_channel_flow, PRE_OPEN },
	{ AM_EXCHANGE_DECLARE, am_h_exchange_declare, PRE_OPEN },
	{ AM_EXCHANGE_DELETE, am_h_exchange_delete, PRE_OPEN },
	{ AM_EXCHANGE_BIND, am_h_exchange_bind, PRE_OPEN },
	{ AM_EXCHANGE_UNBIND, am_h_exchange_unbind, PRE_OPEN },
	{ AM_QUEUE_DECLARE, am_h_queue_declare, PRE_OPEN },
	{ AM_QUEUE_BIND, am_h_queue_bind, PRE_OPEN },
	{ AM_QUEUE_UNBIND, am_h_queue_unbind, PRE_OPEN },
	{ AM_QUEUE_PURGE, am_h_queue_purge, PRE_OPEN },
	{ AM_QUEUE_DELETE, am_h_queue_delete, PRE_OPEN },
	{ AM_BASIC_QOS, am_h_basic_qos, PRE_OPEN },
	{ AM_BASIC_CONSUME, am_h_basic_consume, PRE_OPEN },
	{ AM_BASIC_CANCEL, am_h_basic_cancel, PRE_OPEN },
	{ AM_BASIC_PUBLISH, am_h_basic_publish, PRE_OPEN },
	{ AM_BASIC_GET, am_h_basic_get, PRE_OPEN },
	{ AM_BASIC_ACK, am_h_basic_ack, PRE_OPEN },
	{ AM_BASIC_NACK, am_h_basic_nack, PRE_OPEN },
	{ AM_BASIC_REJECT, am_h_basic_reject, PRE_OPEN },
	{ AM_BASIC_RECOVER, am_h_basic_recover, PRE_OPEN },
	{ AM_BASIC_RECOVER_ASYNC, am_h_basic_recover, PRE_OPEN },
	{ AM_CONFIRM_SELECT, am_h_confirm_select, PRE_OPEN },
	{ AM_TX_SELECT, am_h_tx_select, PRE_OPEN },
	{ AM_TX_COMMIT, am_h_tx_commit, PRE_OPEN },
	{ AM_TX_ROLLBACK, am_h_tx_rollback, PRE_OPEN },
	{ AM_ACCESS_REQUEST, am_h_access_request, PRE_OPEN },
};

void am_raise(struct am_conn *c, struct am_channel *ch, const struct am_err *err)
{
	am_flush_confirms(c); /* what was confirmed before the error still is */
	if (am_code_is_hard(err->code) || !ch) {
		am_conn_close_with(c, err);
		return;
	}
	struct am_method m = { .id = AM_CHANNEL_CLOSE };
	struct am_channel_close *cc = &m.u.channel_close;
	am_close_fields(err, &cc->reply_code, &cc->reply_text, &cc->class_id, &cc->method_id);
	uint16_t id = ch->id;
	am_channel_release(c, ch);   /* resources go now; the id waits for close-ok */
	am_send_method(c, id, &m);
	struct am_channel *closing = am_channel_get(c, id);
	if (closing)
		closing->state = AM_CH_CLOSING;
}

void am_dispatch_method(struct am_conn *c, uint16_t channel, const struct am_method *m)
{
	struct am_err err = { 0 };
	struct am_channel *ch = am_channel_get(c, channel);
	if (c->confirm_due && m->id != AM_BASIC_PUBLISH)
		am_flush_confirms(c); /* confirms precede any later reply, as sent */
	if (ch && ch->state == AM_CH_CLOSING) {
		/* after our channel.close only close-ok (or a crossing close) counts */
		if (m->id == AM_CHANNEL_CLOSE_OK || m->id == AM_CHANNEL_CLOSE)
			am_h_channel_close_ok(c, ch, m, &err);
		return;
	}
	if (ch && ch->expect) { /* reported against the publish whose content broke */
		am_fail(&err, AM_UNEXPECTED_FRAME, AM_BASIC_PUBLISH,
			"expected content %s for class 60, got non content %s frame instead",
			ch->expect == 1 ? "header" : "body", ch->expect == 1 ? "header" : "body");
		am_raise(c, NULL, &err);
		return;
	}
	if (m->id == AM_CHANNEL_CLOSE_OK) { /* we sent no channel.close: nothing to confirm */
		am_fail(&err, AM_COMMAND_INVALID, m->id, "unexpected channel.close-ok");
		am_raise(c, NULL, &err);
		return;
	}
	size_t i;
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].id == m->id)
			break;
	if (i == sizeof(handlers) / sizeof(handlers[0])) {
		const char *name = am_method_name(m->id);
		if (m->id >> 16 == 10)
			am_fail(&err, AM_COMMAND_INVALID, m->id, "%s on a non-zero channel", name);
		else if (!ch)
			am_fail(&err, AM_CHANNEL_ERROR, m->id, "expected 'channel.open'");
		else
			am_fail(&err, AM_NOT_IMPLEMENTED, m->id, "%s is not supported",
				name ? name : "method");
		am_raise(c, NULL, &err);
		return;
	}
	if ((handlers[i].pre & PRE_OPEN) && !ch) {
		am_fail(&err, AM_CHANNEL_ERROR, m->id, "expected 'channel.open'");
		am_raise(c, NULL, &err);
		return;
	}
	if ((handlers[i].pre & PRE_NOT_OPEN) && ch) {
		am_fail(&err, AM_CHANNEL_ERROR, m->id, "second 'channel.open' seen");
		am_raise(c, NULL, &err);
		return;
	}
	if (m->id == AM_CHANNEL_OPEN) {
		if (c->nchannels_open >= c->channel_max)
			am_fail(&err, AM_NOT_ALLOWED, 0,
				"number of channels opened (%u) has reached the negotiated channel_max (%u)",
				c->nchannels_open, c->channel_max);
		else
			am_channel_open(c, channel, &err);
		if (err.code)
			am_raise(c, NULL, &err);
		return;
	}
	if (handlers[i].fn(c, ch, m, &err) < 0)
		am_raise(c, am_channel_get(c, channel), &err);
}

void am_dispatch_content(struct am_conn *c, const struct am_frame *f)
{
	struct am_err err = { 0 };
	struct am_channel *ch = am_channel_get(c, f->channel);
	if (ch && ch->state == AM_CH_CLOSING)
		return;
	if (!ch) {
		am_fail(&err, AM_UNEXPECTED_FRAME, 0, "content frame on a channel that is not open");
		am_raise(c, NULL, &err);
		return;
	}
	if (am_channel_content(c, ch, f, &err) < 0)
		am_raise(c, ch, &err);
}
