/*
 * Direct reply-to, as RabbitMQ 3.10's amq.rabbitmq.reply-to: an RPC client
 * consumes (no-ack) from the pseudo-queue "amq.rabbitmq.reply-to" and
 * publishes its requests with that name as reply_to; the broker rewrites
 * it to "amq.rabbitmq.reply-to.<suffix>", an address of this channel's
 * reply consumer, and a reply published to the default exchange with that
 * address as routing key (or among its CC and BCC keys) goes straight to
 * the consumer, no queue between.
 *
 * RabbitMQ's answers, kept here: consuming with acks is 406 "reply consumer
 * cannot acknowledge", a second reply consumer on the channel 406 "reply
 * consumer already set", publishing with reply_to set to the pseudo-queue
 * from a channel without one 406 "fast reply consumer does not exist".  A
 * reply to an address that is gone (its channel closed, or its consumer
 * cancelled) is dropped without an error.  A reply does not count as
 * routed, so a mandatory one also comes back with basic.return (312
 * NO_ROUTE), as on RabbitMQ 3.10.  queue.declare of the pseudo-queue, or of
 * an address whose consumer is there, answers declare-ok with 0 messages
 * and 1 consumer (an RPC server can ask whether its client still waits);
 * any other name that begins with the pseudo-queue's is 404.
 *
 * A reply's delivery tag is the channel's next one, which the next
 * delivery on the channel gets too (RabbitMQ does not count replies).
 *
 * An address is a random 128-bit name, looked up in this node's table:
 * replies reach clients connected to the same tandemd.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h), core/map.h.
 * Must not depend on: other front ends, logstore/.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/map.h"

#define PSEUDO "amq.rabbitmq.reply-to"
#define PSEUDO_LEN (sizeof(PSEUDO) - 1)

struct am_reply {
	struct am_channel *ch; /* borrowed: the channel owns this */
	char tag[256];
	uint8_t tag_len;
	char addr[PSEUDO_LEN + 1 + 40]; /* PSEUDO "." suffix */
	size_t addr_len;
};

static struct tdm_map replies; /* suffix -> struct am_reply */
static int replies_ready;

static int is_pseudo(struct am_bytes name)
{
	return name.len == PSEUDO_LEN && memcmp(name.ptr, PSEUDO, PSEUDO_LEN) == 0;
}

/* The reply consumer that address (PSEUDO ".suffix") names, or NULL. */
static struct am_reply *lookup(const char *addr, size_t len)
{
	if (!replies_ready || len <= PSEUDO_LEN + 1 || memcmp(addr, PSEUDO ".", PSEUDO_LEN + 1) != 0)
		return NULL;
	return tdm_map_get(&replies, addr + PSEUDO_LEN + 1, len - PSEUDO_LEN - 1);
}

int am_reply_consume(struct am_conn *c, struct am_channel *ch, const struct am_basic_consume *b,
		     uint32_t method, struct am_err *err)
{
	if (!b->no_ack)
		return am_fail(err, AM_PRECONDITION_FAILED, method, "reply consumer cannot acknowledge");
	if (ch->reply)
		return am_fail(err, AM_PRECONDITION_FAILED, method, "reply consumer already set");
	if (!replies_ready) {
		tdm_map_init(&replies);
		replies_ready = 1;
	}
	struct am_reply *r = calloc(1, sizeof(*r));
	if (!r)
		return am_fail(err, AM_INTERNAL_ERROR, method, "out of memory");
	r->ch = ch;
	if (b->consumer_tag.len) {
		memcpy(r->tag, b->consumer_tag.ptr, b->consumer_tag.len);
		r->tag_len = (uint8_t)b->consumer_tag.len;
	} else {
		r->tag_len = (uint8_t)tdm_random_name(r->tag, "amq.ctag-");
	}
	char suffix[40];
	size_t slen = tdm_random_name(suffix, "");
	memcpy(r->addr, PSEUDO ".", PSEUDO_LEN + 1);
	memcpy(r->addr + PSEUDO_LEN + 1, suffix, slen);
	r->addr_len = PSEUDO_LEN + 1 + slen;
	if (tdm_map_put(&replies, suffix, slen, r) < 0) {
		free(r);
		return am_fail(err, AM_INTERNAL_ERROR, method, "out of memory");
	}
	ch->reply = r;
	if (!b->no_wait) {
		struct am_method ok = { .id = AM_BASIC_CONSUME_OK };
		ok.u.basic_consume_ok.consumer_tag = (struct am_bytes){ (const uint8_t *)r->tag, r->tag_len };
		am_send_method(c, ch->id, &ok);
	}
	return 0;
}

int am_reply_is_pseudo(struct am_bytes queue)
{
	return is_pseudo(queue);
}

void am_reply_drop(struct am_channel *ch)
{
	struct am_reply *r = ch->reply;
	if (!r)
		return;
	tdm_map_del(&replies, r->addr + PSEUDO_LEN + 1, r->addr_len - PSEUDO_LEN - 1);
	free(r);
	ch->reply = NULL;
}

int am_reply_cancel(struct am_channel *ch, struct am_bytes tag)
{
	struct am_reply *r = ch->reply;
	if (!r || r->tag_len != tag.len || memcmp(r->tag, tag.ptr, tag.len) != 0)
		return 0;
	am_reply_drop(ch);
	return 1;
}

int am_reply_address(const struct am_channel *ch, const uint8_t *payload, size_t len,
		     uint8_t **out, size_t *out_len, struct am_err *err)
{
	struct am_content_header h;
	if (am_content_header_decode(payload, len, &h) != AM_OK || !(h.props.flags & AM_P_REPLY_TO) ||
	    !is_pseudo(h.props.reply_to))
		return 0;
	if (!ch->reply)
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "fast reply consumer does not exist");
	size_t cap = len + ch->reply->addr_len + 16;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return am_fail(err, AM_INTERNAL_ERROR, AM_BASIC_PUBLISH, "out of memory");
	h.props.reply_to = (struct am_bytes){ (const uint8_t *)ch->reply->addr, (uint32_t)ch->reply->addr_len };
	if (am_content_header_encode(h.body_size, &h.props, buf, cap, out_len) != AM_OK) {
		free(buf);
		return am_fail(err, AM_INTERNAL_ERROR, AM_BASIC_PUBLISH, "out of memory");
	}
	*out = buf;
	return 1;
}

/* Delivers msg to reply consumer r: RabbitMQ shows the message's own
 * routing key, whichever of its keys named the address. */
static void deliver_to(struct am_reply *r, const struct tdm_message *msg)
{
	struct am_channel *ch = r->ch;
	struct am_conn *c = ch->conn;
	if (ch->state != AM_CH_OPEN || c->state != AM_S_RUNNING || c->net->closing)
		return;
	struct am_method d = { .id = AM_BASIC_DELIVER };
	d.u.basic_deliver.consumer_tag = (struct am_bytes){ (const uint8_t *)r->tag, r->tag_len };
	/* RabbitMQ 3.10 gives a reply the channel's next tag without using
	 * it up: no-ack, it is never settled, and the next delivery or get on
	 * the channel has the same tag */
	d.u.basic_deliver.delivery_tag = ch->next_tag + 1;
	d.u.basic_deliver.exchange = (struct am_bytes){ (const uint8_t *)"", 0 };
	d.u.basic_deliver.routing_key =
		(struct am_bytes){ (const uint8_t *)msg->routing_key, msg->routing_key_len };
	am_send_method(c, ch->id, &d);
	am_send_content(c, ch->id, msg);
}

/* Whether key is among the extra routing keys before position end. */
static int seen_before(const struct tdm_message *msg, size_t end, const char *key, size_t len)
{
	size_t pos = 0, klen;
	const char *k;
	if (len == msg->routing_key_len && memcmp(key, msg->routing_key, len) == 0)
		return 1;
	while (pos < end && tdm_rkeys_next(msg->rkeys, msg->rkeys_len, &pos, &k, &klen))
		if (pos <= end && klen == len && memcmp(k, key, len) == 0)
			return 1;
	return 0;
}

void am_reply_deliver(const struct tdm_message *msg)
{
	if (msg->exchange_len != 0 || !replies_ready)
		return; /* only the default exchange knows the addresses */
	/* each address among the routing key and the CC/BCC keys, once; one
	 * that is gone is dropped, as RabbitMQ */
	struct am_reply *r = lookup(msg->routing_key, msg->routing_key_len);
	if (r)
		deliver_to(r, msg);
	size_t pos = 0, klen;
	const char *k;
	while (msg->rkeys) {
		size_t at = pos;
		if (!tdm_rkeys_next(msg->rkeys, msg->rkeys_len, &pos, &k, &klen))
			break;
		if ((r = lookup(k, klen)) != NULL && !seen_before(msg, at, k, klen))
			deliver_to(r, msg);
	}
}

int am_reply_declare(struct am_conn *c, struct am_channel *ch, const struct am_queue_declare *d,
		     uint32_t method, struct am_err *err)
{
	struct am_bytes name = d->queue;
	if (name.len < PSEUDO_LEN || memcmp(name.ptr, PSEUDO, PSEUDO_LEN) != 0)
		return 0;
	if (!is_pseudo(name) && !lookup((const char *)name.ptr, name.len))
		return am_fail(err, AM_NOT_FOUND, method, "no queue '%.*s' in vhost '%s'", (int)name.len,
			       (const char *)name.ptr, c->vhost->name);
	if (!d->no_wait) {
		struct am_method ok = { .id = AM_QUEUE_DECLARE_OK };
		ok.u.queue_declare_ok.queue = name;
		ok.u.queue_declare_ok.message_count = 0;
		ok.u.queue_declare_ok.consumer_count = 1;
		am_send_method(c, ch->id, &ok);
	}
	return 1;
}
