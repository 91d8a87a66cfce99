/*
 * Handlers of class basic on the consuming side: basic.consume / cancel,
 * pushing deliveries with per-consumer and per-channel prefetch credit and
 * the connection's output watermark, and the channel's ring of unacked
 * deliveries (ack, nack, reject, requeue).  Publishing is in class_basic.c.
 *
 * The ring holds deliveries in tag order; tags only grow, so the oldest
 * (the usual ack) is at the head: O(1), and any other tag is a binary
 * search.  Settled entries in the middle are marked and skipped when the
 * head reaches them.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/access.h"
#include "core/stream.h"

/* ---- the unacked ring ----------------------------------------------------- */

static struct am_unacked *ring_at(struct am_channel *ch, size_t i)
{
	return &ch->ring[(ch->ring_head + i) & (ch->ring_cap - 1)];
}

static int ring_grow(struct am_channel *ch)
{
	size_t ncap = ch->ring_cap ? ch->ring_cap * 2 : 16;
	struct am_unacked *n = malloc(ncap * sizeof(*n));
	if (!n)
		return -1;
	for (size_t i = 0; i < ch->ring_len; i++)
		n[i] = *ring_at(ch, i);
	free(ch->ring);
	ch->ring = n;
	ch->ring_cap = ncap;
	ch->ring_head = 0;
	return 0;
}

static void ring_trim(struct am_channel *ch)
{
	while (ch->ring_len && ring_at(ch, 0)->done) {
		ch->ring_head = (ch->ring_head + 1) & (ch->ring_cap - 1);
		ch->ring_len--;
	}
}

/* Index of tag in the ring, or -1. */
static long ring_find(struct am_channel *ch, uint64_t tag)
{
	if (!ch->ring_len || tag < ring_at(ch, 0)->tag)
		return -1;
	if (ring_at(ch, 0)->tag == tag)
		return 0;
	size_t lo = 0, hi = ch->ring_len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t t = ring_at(ch, mid)->tag;
		if (t == tag)
			return (long)mid;
		if (t < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

uint64_t am_track(struct am_channel *ch, struct tdm_queue *q, struct tdm_qentry e,
		  struct am_consumer *cons)
{
	uint64_t tag = ++ch->next_tag;
	if (ch->ring_len == ch->ring_cap && ring_grow(ch) < 0) {
		tdm_queue_requeue(q, e); /* cannot track it: give it back */
		return tag;
	}
	struct am_unacked *u = ring_at(ch, ch->ring_len++);
	tdm_queue_ref(q);
	*u = (struct am_unacked){ tag, q, e, cons, q->vhost->broker->now_ms, 0 };
	if (cons) {
		cons->refcnt++;
		cons->unacked++;
	}
	ch->unacked++;
	return tag;
}

uint64_t am_oldest_unacked(struct am_channel *ch)
{
	for (size_t i = 0; i < ch->ring_len; i++) /* done ones wait at the head for a trim */
		if (!ring_at(ch, i)->done)
			return ring_at(ch, i)->at_ms;
	return UINT64_MAX;
}

/* Settles one ring entry: ack drops the message, otherwise it is requeued
 * (requeue) or rejected (dead-lettered or dropped). */
static void settle_one(struct am_channel *ch, struct am_unacked *u, int ack, int requeue)
{
	if (ack)
		tdm_queue_settle(u->q, u->e);
	else if (requeue)
		tdm_queue_requeue(u->q, u->e);
	else
		tdm_queue_reject(u->q, u->e); /* dead-lettered when the queue has a DLX */
	tdm_queue_unref(u->q);
	if (u->cons) {
		u->cons->unacked--;
		am_consumer_unref(u->cons);
	}
	u->done = 1;
	ch->unacked--;
}

/* RabbitMQ refuses nack and reject of stream deliveries (540, hard). */
static int refuse_stream_nack(struct am_channel *ch, uint64_t tag, int multiple, uint32_t method,
			      struct am_err *err)
{
	size_t from = 0, to = ch->ring_len;
	if (!multiple || tag) {
		long idx = ring_find(ch, tag);
		if (idx < 0)
			return 0; /* unknown tag: am_settle answers that */
		from = multiple ? 0 : (size_t)idx;
		to = (size_t)idx + 1;
	}
	for (size_t i = from; i < to; i++) {
		struct am_unacked *u = ring_at(ch, i);
		if (!u->done && u->q->stream)
			return am_fail(err, AM_NOT_IMPLEMENTED, method,
				       "basic.nack and basic.reject not supported by stream queues "
				       "queue '%s' in vhost '%s'",
				       u->q->name, u->q->vhost->name);
	}
	return 0;
}

int am_settle(struct am_channel *ch, uint64_t tag, int multiple, int ack, int requeue,
	      uint32_t method, struct am_err *err)
{
	if (!ack && refuse_stream_nack(ch, tag, multiple, method, err) < 0)
		return -1;
	if (multiple && tag == 0) { /* everything outstanding */
		for (size_t i = 0; i < ch->ring_len; i++)
			if (!ring_at(ch, i)->done)
				settle_one(ch, ring_at(ch, i), ack, requeue);
		ring_trim(ch);
		am_channel_kick_consumers(ch);
		return 0;
	}
	long idx = ring_find(ch, tag);
	if (idx < 0 || ring_at(ch, (size_t)idx)->done)
		return am_fail(err, AM_PRECONDITION_FAILED, method, "unknown delivery tag %llu",
			       (unsigned long long)tag);
	if (multiple) {
		for (size_t i = 0; i <= (size_t)idx; i++)
			if (!ring_at(ch, i)->done)
				settle_one(ch, ring_at(ch, i), ack, requeue);
	} else {
		settle_one(ch, ring_at(ch, (size_t)idx), ack, requeue);
	}
	ring_trim(ch);
	am_channel_kick_consumers(ch);
	return 0;
}

void am_requeue_all(struct am_channel *ch)
{
	for (size_t i = 0; i < ch->ring_len; i++)
		if (!ring_at(ch, i)->done)
			settle_one(ch, ring_at(ch, i), 0, 1);
	ch->ring_len = 0;
	ch->ring_head = 0;
}

/* ---- consumers ------------------------------------------------------------ */

void am_consumer_unref(struct am_consumer *cons)
{
	if (--cons->refcnt == 0)
		free(cons);
}

static int can_take(struct tdm_consumer *tc)
{
	struct am_consumer *cons = (struct am_consumer *)tc;
	struct am_channel *ch = cons->ch;
	if (!ch || ch->state != AM_CH_OPEN || ch->conn->state != AM_S_RUNNING ||
	    ch->conn->net->closing)
		return 0;
	if (tdm_conn_output_full(ch->conn->net))
		return 0;
	if (cons->no_ack)
		return 1;
	if (cons->prefetch && cons->unacked >= cons->prefetch)
		return 0;
	return !ch->prefetch_channel || ch->unacked < ch->prefetch_channel;
}

static void deliver(struct tdm_consumer *tc, struct tdm_queue *q, struct tdm_qentry e)
{
	struct am_consumer *cons = (struct am_consumer *)tc;
	struct am_channel *ch = cons->ch;
	struct am_conn *c = ch->conn;
	struct tdm_message *msg = e.msg;
	struct am_method d = { .id = AM_BASIC_DELIVER };
	d.u.basic_deliver.consumer_tag = (struct am_bytes){ (const uint8_t *)cons->tag, cons->tag_len };
	d.u.basic_deliver.redelivered = (uint8_t)e.redelivered;
	d.u.basic_deliver.exchange = (struct am_bytes){ (const uint8_t *)msg->exchange, msg->exchange_len };
	d.u.basic_deliver.routing_key =
		(struct am_bytes){ (const uint8_t *)msg->routing_key, msg->routing_key_len };
	if (cons->no_ack) {
		d.u.basic_deliver.delivery_tag = ++ch->next_tag;
		am_send_method(c, ch->id, &d);
		am_send_entry(c, ch->id, q, &e, 0);
		tdm_queue_settle(q, e);
		return;
	}
	d.u.basic_deliver.delivery_tag = am_track(ch, q, e, cons);
	am_send_method(c, ch->id, &d);
	am_send_entry(c, ch->id, q, &e, 0);
}

static void unlink_consumer(struct am_channel *ch, struct am_consumer *cons)
{
	for (struct am_consumer **pp = &ch->consumers; *pp; pp = &(*pp)->next) {
		if (*pp == cons) {
			*pp = cons->next;
			ch->nconsumers--;
			break;
		}
	}
	cons->next = NULL;
	cons->cancelled = 1;
	cons->ch = NULL;
}

static void queue_gone(struct tdm_consumer *tc)
{
	struct am_consumer *cons = (struct am_consumer *)tc;
	struct am_channel *ch = cons->ch;
	if (!ch)
		return;
	if (ch->conn->cap_cancel_notify) {
		struct am_method m = { .id = AM_BASIC_CANCEL };
		m.u.basic_cancel.consumer_tag = (struct am_bytes){ (const uint8_t *)cons->tag, cons->tag_len };
		m.u.basic_cancel.no_wait = 1;
		am_send_method(ch->conn, ch->id, &m);
	}
	unlink_consumer(ch, cons);
	am_consumer_unref(cons);
}

static const struct tdm_consumer_ops consumer_ops = { can_take, deliver, queue_gone,
							 am_stream_deliver };

static struct am_consumer *find_consumer(struct am_channel *ch, struct am_bytes tag)
{
	for (struct am_consumer *cons = ch->consumers; cons; cons = cons->next)
		if (cons->tag_len == tag.len && memcmp(cons->tag, tag.ptr, tag.len) == 0)
			return cons;
	return NULL;
}

int am_h_basic_consume(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	const struct am_basic_consume *b = &m->u.basic_consume;
	/* rabbit_channel: a reused tag, then read on the queue, then the queue */
	if (b->consumer_tag.len && find_consumer(ch, b->consumer_tag))
		return am_fail(err, AM_NOT_ALLOWED, m->id, "attempt to reuse consumer tag '%.*s'",
			       (int)b->consumer_tag.len, (const char *)b->consumer_tag.ptr);
	if (am_reply_is_pseudo(b->queue))
		return am_reply_consume(c, ch, b, m->id, err);
	struct tdm_queue *q = am_queue_resolve(c, ch, b->queue, TDM_PERM_READ, m->id, err);
	if (!q)
		return -1;
	if ((q->nconsumers && (b->exclusive || q->consumers->exclusive)) ||
	    (b->exclusive && q->single_active)) /* RabbitMQ: SAC queues refuse exclusive consumers */
		return am_fail(err, AM_ACCESS_REFUSED, m->id, "queue '%s' in vhost '%s' in exclusive use",
			       q->name, c->vhost->name);
	struct am_value pv;
	int64_t priority = 0;
	if (am_table_get(b->arguments, "x-priority", &pv)) {
		if (pv.type == 'b' || pv.type == 's' || pv.type == 'I' || pv.type == 'l')
			priority = pv.v.i;
		else if (pv.type == 'B' || pv.type == 'u' || pv.type == 'i')
			priority = (int64_t)pv.v.u;
		else
			return am_fail(err, AM_PRECONDITION_FAILED, m->id,
				       "invalid arg 'x-priority' for queue '%s' in vhost '%s': "
				       "\"expected integer, got %s\"",
				       q->name, c->vhost->name, am_type_word(pv.type));
		if (priority < INT32_MIN || priority > INT32_MAX)
			priority = priority < 0 ? INT32_MIN : INT32_MAX;
	}
	struct am_stream_start start;
	if (q->stream && am_stream_consume_args(c, ch, q, b, m->id, &start, err) < 0)
		return -1;
	if (q->stream && !tdm_stream_local(q, start.partition)) /* RabbitMQ 3.10's words, doubled quote and all */
		return am_fail(err, AM_PRECONDITION_FAILED, m->id,
			       "queue 'queue '%s' in vhost '%s'' does not have a replica on the local node",
			       q->name, c->vhost->name);
	struct am_consumer *cons = calloc(1, sizeof(*cons));
	if (!cons || (q->stream && tdm_stream_subscribe(q, &cons->core, (enum tdm_stream_from)start.from,
						       start.value, start.partition) < 0)) {
		free(cons);
		return am_fail(err, AM_INTERNAL_ERROR, m->id, "out of memory");
	}
	cons->core.ops = &consumer_ops;
	cons->core.priority = (int32_t)priority;
	cons->core.exclusive = b->exclusive;
	cons->ch = ch;
	cons->refcnt = 1;
	cons->no_ack = b->no_ack;
	cons->prefetch = ch->prefetch_consumer;
	if (b->consumer_tag.len) {
		memcpy(cons->tag, b->consumer_tag.ptr, b->consumer_tag.len);
		cons->tag_len = (uint8_t)b->consumer_tag.len;
	} else {
		cons->tag_len = (uint8_t)tdm_random_name(cons->tag, "amq.ctag-");
	}
	cons->next = ch->consumers;
	ch->consumers = cons;
	ch->nconsumers++;
	if (!b->no_wait) { /* consume-ok goes out before any delivery: those wait for dispatch */
		struct am_method ok = { .id = AM_BASIC_CONSUME_OK };
		ok.u.basic_consume_ok.consumer_tag = (struct am_bytes){ (const uint8_t *)cons->tag, cons->tag_len };
		am_send_method(c, ch->id, &ok);
	}
	/* a proxy's home pushes this much at a time (the channel's own limit
	 * when only that is set) */
	cons->core.prefetch = ch->prefetch_consumer ? ch->prefetch_consumer : ch->prefetch_channel;
	tdm_queue_attach(q, &cons->core);
	return 0;
}

/* Detaches and releases one consumer of ch. */
static void cancel_consumer(struct am_channel *ch, struct am_consumer *cons)
{
	struct tdm_queue *q = cons->core.queue;
	unlink_consumer(ch, cons);
	if (q) {
		tdm_queue_ref(q);
		tdm_queue_detach(q, &cons->core);
		tdm_queue_consumer_gone(q);
		tdm_queue_unref(q);
	}
	am_consumer_unref(cons);
}

int am_h_basic_cancel(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		      struct am_err *err)
{
	(void)err;
	const struct am_basic_cancel *b = &m->u.basic_cancel;
	struct am_consumer *cons = am_reply_cancel(ch, b->consumer_tag) ? NULL
					: find_consumer(ch, b->consumer_tag);
	if (cons)
		cancel_consumer(ch, cons);
	if (!b->no_wait) {
		struct am_method ok = { .id = AM_BASIC_CANCEL_OK };
		ok.u.basic_cancel_ok.consumer_tag = b->consumer_tag;
		am_send_method(c, ch->id, &ok);
	}
	return 0;
}

void am_channel_drop_consumers(struct am_channel *ch)
{
	while (ch->consumers)
		cancel_consumer(ch, ch->consumers);
}

void am_channel_kick_consumers(struct am_channel *ch)
{
	for (struct am_consumer *cons = ch->consumers; cons; cons = cons->next)
		if (cons->core.queue)
			tdm_queue_kick(cons->core.queue);
}

void am_conn_kick_consumers(struct am_conn *c)
{
	for (uint32_t i = 0; i < c->nchannels_open; i++)
		am_channel_kick_consumers(c->channels[i]);
}

/* ---- acknowledgements -------------------------------------------------------- */

static int tx_buffer(struct am_channel *ch, int kind, uint64_t tag, int multiple, int requeue,
		     uint32_t method, struct am_err *err)
{
	/* validate now, as RabbitMQ does, so a bad tag fails the ack not the commit */
	if (!(multiple && tag == 0)) {
		long idx = ring_find(ch, tag);
		if (idx < 0 || ring_at(ch, (size_t)idx)->done)
			return am_fail(err, AM_PRECONDITION_FAILED, method, "unknown delivery tag %llu",
				       (unsigned long long)tag);
	}
	struct am_tx_op *op = calloc(1, sizeof(*op));
	if (!op)
		return am_fail(err, AM_INTERNAL_ERROR, method, "out of memory");
	op->kind = (uint8_t)kind;
	op->tag = tag;
	op->multiple = (uint8_t)multiple;
	op->requeue = (uint8_t)requeue;
	*ch->tx_tail = op;
	ch->tx_tail = &op->next;
	return 0;
}

static int ack_like(struct am_channel *ch, uint64_t tag, int multiple, int ack, int requeue,
		    uint32_t method, struct am_err *err)
{
	if (ch->tx)
		return tx_buffer(ch, ack ? AM_TX_ACK : AM_TX_NACK, tag, multiple, requeue, method, err);
	return am_settle(ch, tag, multiple, ack, requeue, method, err);
}

int am_h_basic_ack(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		   struct am_err *err)
{
	(void)c;
	return ack_like(ch, m->u.basic_ack.delivery_tag, m->u.basic_ack.multiple, 1, 0, m->id, err);
}

int am_h_basic_nack(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		    struct am_err *err)
{
	(void)c;
	const struct am_basic_nack *n = &m->u.basic_nack;
	return ack_like(ch, n->delivery_tag, n->multiple, 0, n->requeue, m->id, err);
}

int am_h_basic_reject(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		      struct am_err *err)
{
	(void)c;
	const struct am_basic_reject *r = &m->u.basic_reject;
	return ack_like(ch, r->delivery_tag, 0, 0, r->requeue, m->id, err);
}
