/*
 * AMQP channels: the channel class (open, close, flow) and the deprecated
 * access.request, channel lifetime, and assembly of published content
 * (method, header, body frames).
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/config.h"
#include "core/limits.h"

/* Index of the first open channel with an id >= id. */
static uint32_t channel_slot(const struct am_conn *c, uint16_t id)
{
	uint32_t lo = 0, hi = c->nchannels_open;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->channels[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct am_channel *am_channel_get(struct am_conn *c, uint16_t id)
{
	if (c->last_ch && c->last_ch->id == id)
		return c->last_ch;
	uint32_t i = channel_slot(c, id);
	if (i == c->nchannels_open || c->channels[i]->id != id)
		return NULL;
	return c->last_ch = c->channels[i];
}

/* Creates channel `id` (called by the dispatcher for channel.open). */
static struct am_channel *channel_new(struct am_conn *c, uint16_t id)
{
	if (c->nchannels_open == c->nchannels_alloc) {
		uint32_t n = c->nchannels_alloc ? c->nchannels_alloc * 2 : 4;
		struct am_channel **a = realloc(c->channels, n * sizeof(*a));
		if (!a)
			return NULL;
		c->channels = a;
		c->nchannels_alloc = n;
	}
	struct am_channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->conn = c;
	ch->id = id;
	ch->tx_tail = &ch->tx_head;
	uint32_t i = channel_slot(c, id);
	memmove(&c->channels[i + 1], &c->channels[i], (c->nchannels_open - i) * sizeof(ch));
	c->channels[i] = ch;
	c->nchannels_open++;
	return ch;
}

int am_channel_open(struct am_conn *c, uint16_t id, struct am_err *err)
{
	struct tdm_err te = { 0 };
	/* RabbitMQ closes the connection (530) over the user's max-channels */
	if (tdm_limits_check_channel(c->broker, c->user, &te) != TDM_OK)
		return am_fail(err, AM_NOT_ALLOWED, 0, "%s", te.text);
	if (!channel_new(c, id))
		return am_fail(err, AM_INTERNAL_ERROR, AM_CHANNEL_OPEN, "out of memory");
	struct am_method ok = { .id = AM_CHANNEL_OPEN_OK };
	am_send_method(c, id, &ok);
	return 0;
}

void am_channel_release(struct am_conn *c, struct am_channel *ch)
{
	(void)c;
	am_channel_drop_consumers(ch);
	am_reply_drop(ch);
	am_requeue_all(ch);
	am_tx_discard(ch);
	if (ch->pub_msg) {
		tdm_message_unref(ch->pub_msg);
		ch->pub_msg = NULL;
	}
	am_targets_free(ch->pub_targets);
	ch->pub_targets = NULL;
	ch->expect = 0;
}

void am_channel_destroy(struct am_conn *c, struct am_channel *ch)
{
	am_channel_release(c, ch);
	for (struct am_channel **pp = &c->confirm_due; *pp; pp = &(*pp)->confirm_next) {
		if (*pp == ch) {
			*pp = ch->confirm_next;
			break;
		}
	}
	am_confirms_release(ch);
	uint32_t i = channel_slot(c, ch->id);
	memmove(&c->channels[i], &c->channels[i + 1], (c->nchannels_open - i - 1) * sizeof(ch));
	c->nchannels_open--;
	if (c->last_ch == ch)
		c->last_ch = NULL;
	free(ch->ring);
	free(ch);
}

int am_h_channel_close(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	(void)m, (void)err;
	uint16_t id = ch->id;
	am_channel_destroy(c, ch);
	am_send_simple(c, id, AM_CHANNEL_CLOSE_OK);
	return 0;
}

int am_h_channel_close_ok(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			  struct am_err *err)
{
	(void)m, (void)err;
	if (ch && ch->state == AM_CH_CLOSING)
		am_channel_destroy(c, ch);
	return 0;
}

int am_h_channel_flow(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		      struct am_err *err)
{
	if (!m->u.channel_flow.active) /* as RabbitMQ 3.x: consumers use prefetch instead */
		return am_fail(err, AM_NOT_IMPLEMENTED, m->id, "active=false");
	struct am_method ok = { .id = AM_CHANNEL_FLOW_OK };
	ok.u.channel_flow_ok.active = 1;
	am_send_method(c, ch->id, &ok);
	return 0;
}

static int parse_expiration(struct am_bytes e, int64_t *ttl, struct am_err *err);

void am_message_restore(void *ctx, struct tdm_message *m)
{
	(void)ctx;
	struct am_content_header h;
	struct am_err err;
	if (am_content_header_decode(m->header, m->header_len, &h) != AM_OK)
		return;
	m->priority = (h.props.flags & AM_P_PRIORITY) ? h.props.priority : 0;
	if (h.props.flags & AM_P_EXPIRATION)
		parse_expiration(h.props.expiration, &m->ttl_ms, &err);
}

/* access.request is deprecated: RabbitMQ grants ticket 1 and ignores it. */
int am_h_access_request(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			struct am_err *err)
{
	(void)m, (void)err;
	struct am_method ok = { .id = AM_ACCESS_REQUEST_OK };
	ok.u.access_request_ok.reserved_1 = 1;
	am_send_method(c, ch->id, &ok);
	return 0;
}

/* ---- content assembly ------------------------------------------------------ */

/* The expiration property: a decimal count of milliseconds (RabbitMQ). */
static int parse_expiration(struct am_bytes e, int64_t *ttl, struct am_err *err)
{
	int64_t v = 0;
	size_t i = 0;
	int neg = e.len && e.ptr[0] == '-';
	if (neg || (e.len && e.ptr[0] == '+'))
		i = 1;
	if (i == e.len)
		goto bad;
	for (; i < e.len; i++) {
		if (e.ptr[i] < '0' || e.ptr[i] > '9')
			goto bad;
		v = v > (INT64_MAX - 9) / 10 ? INT64_MAX / 10 : v * 10 + (e.ptr[i] - '0');
	}
	if (neg)
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "invalid expiration '%.*s': {value_negative,-%lld}", (int)e.len,
			       (const char *)e.ptr, (long long)v);
	if (v > 315360000000LL) /* RabbitMQ's ceiling: ten years */
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "invalid expiration '%.*s': {value_too_large,%lld}", (int)e.len,
			       (const char *)e.ptr, (long long)v);
	*ttl = v;
	return 0;
bad:
	return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
		       "invalid expiration '%.*s': no_integer", (int)e.len, (const char *)e.ptr);
}

/* reply_to "amq.rabbitmq.reply-to": this channel's reply address instead
 * (reply_to.c).  *hdr is the header so far (malloc'd; NULL: the frame's
 * own), replaced when rewritten.  0 or 1, or -1 with err (*hdr freed). */
static int address_reply(const struct am_channel *ch, const struct am_content_header *h,
			 const struct am_frame *f, uint8_t **hdr, size_t *hdr_len, struct am_err *err)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	if (!(h->props.flags & AM_P_REPLY_TO) || !am_reply_is_pseudo(h->props.reply_to))
		return 0;
	int rc = am_reply_address(ch, *hdr ? *hdr : f->payload, *hdr ? *hdr_len : f->size, &out,
				  &out_len, err);
	if (rc == 0)
		return 0;
	free(*hdr);
	*hdr = rc > 0 ? out : NULL;
	*hdr_len = rc > 0 ? out_len : 0;
	return rc;
}

static int content_header(struct am_conn *c, struct am_channel *ch, const struct am_frame *f,
			  struct am_err *err)
{
	struct am_content_header h;
	if (f->size >= 2 && (f->payload[0] << 8 | f->payload[1]) != 60)
		return am_fail(err, AM_UNEXPECTED_FRAME, AM_BASIC_PUBLISH,
			       "expected content header for class 60, got one for class %u",
			       f->payload[0] << 8 | f->payload[1]);
	if (am_content_header_decode(f->payload, f->size, &h) != AM_OK) /* RabbitMQ: 541 */
		return am_fail(err, AM_INTERNAL_ERROR, 0, "unable to parse the content header");
	/* the link forwards publishes whose user_id their node checked */
	if ((h.props.flags & AM_P_USER_ID) && !am_conn_trusted(c) &&
	    (h.props.user_id.len != strlen(c->user) ||
	     memcmp(h.props.user_id.ptr, c->user, h.props.user_id.len) != 0))
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "user_id property set to '%.*s' but authenticated user was '%s'",
			       (int)h.props.user_id.len, (const char *)h.props.user_id.ptr, c->user);
	uint64_t max = c->broker->cfg->max_message_size;
	if (h.body_size > max)
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "message size %llu is larger than configured max size %llu",
			       (unsigned long long)h.body_size, (unsigned long long)max);
	/* the cluster link names its queues: stored without that header */
	uint8_t *stripped = NULL;
	size_t stripped_len = 0;
	am_targets_free(ch->pub_targets);
	ch->pub_targets = NULL;
	if (am_targets_take(c, f->payload, f->size, &ch->pub_targets, &stripped, &stripped_len,
			    err) < 0)
		return -1;
	/* sender-selected distribution: CC and BCC are more routing keys, BCC
	 * is not kept (the cluster link's publishes were routed already) */
	uint8_t *rkeys = NULL;
	size_t rkeys_len = 0;
	ch->pub_bad_hdr = NULL;
	if (!ch->pub_targets && (h.props.flags & AM_P_HEADERS)) {
		struct am_ssd s;
		am_ssd_find(h.props.headers, &s);
		if ((s.has_cc || s.has_bcc) &&
		    !(ch->pub_bad_hdr = am_ssd_bad(&s, &ch->pub_bad_type)) &&
		    (am_ssd_pack(&s, 1, &rkeys, &rkeys_len) < 0 ||
		     (s.has_bcc && am_ssd_strip_bcc(&s, &h, f->size, &stripped, &stripped_len) < 0))) {
			free(rkeys);
			return am_fail(err, AM_INTERNAL_ERROR, AM_BASIC_PUBLISH, "out of memory");
		}
	}
	if (address_reply(ch, &h, f, &stripped, &stripped_len, err) < 0) {
		free(rkeys);
		am_targets_free(ch->pub_targets);
		ch->pub_targets = NULL;
		return -1;
	}
	ch->pub_msg = tdm_message_new(ch->pub_exchange, ch->pub_exchange_len, ch->pub_routing_key,
				      ch->pub_routing_key_len, stripped ? stripped : f->payload,
				      stripped ? stripped_len : f->size, h.body_size);
	free(stripped);
	if (ch->pub_msg && tdm_message_set_rkeys(ch->pub_msg, rkeys, rkeys_len) < 0) {
		tdm_message_unref(ch->pub_msg);
		ch->pub_msg = NULL;
	}
	free(rkeys);
	if (!ch->pub_msg) {
		am_targets_free(ch->pub_targets);
		ch->pub_targets = NULL;
		return am_fail(err, AM_INTERNAL_ERROR, AM_BASIC_PUBLISH, "out of memory");
	}
	if ((h.props.flags & AM_P_EXPIRATION) && parse_expiration(h.props.expiration, &ch->pub_msg->ttl_ms, err) < 0) {
		tdm_message_unref(ch->pub_msg);
		ch->pub_msg = NULL;
		am_targets_free(ch->pub_targets);
		ch->pub_targets = NULL;
		return -1;
	}
	ch->pub_msg->persistent = (h.props.flags & AM_P_DELIVERY_MODE) && h.props.delivery_mode == 2;
	ch->pub_msg->priority = (h.props.flags & AM_P_PRIORITY) ? h.props.priority : 0;
	ch->expect = 2;
	return 0;
}

int am_channel_content(struct am_conn *c, struct am_channel *ch, const struct am_frame *f,
		       struct am_err *err)
{
	if (f->type == AM_FRAME_HEADER) {
		if (ch->expect != 1)
			return am_fail(err, AM_UNEXPECTED_FRAME, 0, "unexpected content header frame");
		
		if (content_header(c, ch, f, err) < 0) {
			ch->expect = 0;
			return -1;
		}
	} else {
		if (ch->expect != 2)
			return am_fail(err, AM_UNEXPECTED_FRAME, 0,
				       ch->expect == 1 ? "expected content header for class 60, got non content header frame instead"
						       : "unexpected content body frame");
		struct tdm_message *msg = ch->pub_msg;
		if (msg->body_filled + f->size > msg->body_len)
			return am_fail(err, AM_FRAME_ERROR, AM_BASIC_PUBLISH,
				       "content body exceeds the size in the content header");
		memcpy(msg->body + msg->body_filled, f->payload, f->size);
		msg->body_filled += f->size;
	}
	struct tdm_message *msg = ch->pub_msg;
	if (msg->body_filled < msg->body_len)
		return 0;
	ch->expect = 0;
	ch->pub_msg = NULL;
	struct am_targets *targets = ch->pub_targets;
	ch->pub_targets = NULL;
	int rc = am_publish_route(c, ch, msg, ch->pub_mandatory, targets, err);
	tdm_message_unref(msg);
	return rc;
}
