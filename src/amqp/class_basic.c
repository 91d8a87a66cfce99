/*
 * Handlers of class basic on the publishing side and the simple requests:
 * publish (routing, mandatory returns, confirms), get, qos, recover.
 * Consuming and acknowledgements are in class_basic_consume.c.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/access.h"
#include "core/durable.h"

#define HDRS_STACK 32

int am_h_basic_publish(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	(void)c;
	const struct am_basic_publish *p = &m->u.basic_publish;
	if (p->immediate)
		return am_fail(err, AM_NOT_IMPLEMENTED, m->id, "immediate=true");
	memcpy(ch->pub_exchange, p->exchange.ptr, p->exchange.len);
	ch->pub_exchange_len = (uint8_t)p->exchange.len;
	memcpy(ch->pub_routing_key, p->routing_key.ptr, p->routing_key.len);
	ch->pub_routing_key_len = (uint8_t)p->routing_key.len;
	ch->pub_mandatory = p->mandatory;
	ch->expect = 1;
	return 0;
}

static void send_return(struct am_conn *c, struct am_channel *ch, const struct tdm_message *msg)
{
	struct am_method r = { .id = AM_BASIC_RETURN };
	r.u.basic_return.reply_code = AM_NO_ROUTE;
	r.u.basic_return.reply_text = (struct am_bytes){ (const uint8_t *)"NO_ROUTE", 8 };
	r.u.basic_return.exchange = (struct am_bytes){ (const uint8_t *)msg->exchange, msg->exchange_len };
	r.u.basic_return.routing_key =
		(struct am_bytes){ (const uint8_t *)msg->routing_key, msg->routing_key_len };
	am_send_method(c, ch->id, &r);
	am_send_content(c, ch->id, msg);
}

/* The exchange named by x's alternate-exchange argument, or NULL. */
static struct tdm_exchange *alternate(struct tdm_exchange *x)
{
	struct am_value v;
	if (!x->arguments_len ||
	    !am_table_get((struct am_bytes){ x->arguments, x->arguments_len }, "alternate-exchange", &v) ||
	    v.type != 'S')
		return NULL;
	return tdm_exchange_find(x->vhost, (const char *)v.v.bytes.ptr, v.v.bytes.len);
}

void am_route_message(struct tdm_exchange *x, const struct tdm_message *msg, struct tdm_route *r)
{
	struct ex_hdr stack[HDRS_STACK], *hdrs = stack;
	int n = 0;
	struct am_content_header h;
	/* decoding the properties costs on every publish: only headers
	 * exchanges look at them, so skip it while no such binding exists */
	if (x->vhost->headers_bindings &&
	    am_content_header_decode(msg->header, msg->header_len, &h) == AM_OK &&
	    (h.props.flags & AM_P_HEADERS)) {
		size_t want = am_table_count(h.props.headers);
		if (want > HDRS_STACK && !(hdrs = malloc(want * sizeof(*hdrs))))
			hdrs = stack, want = HDRS_STACK;
		n = am_table_to_hdrs(h.props.headers, hdrs, want > HDRS_STACK ? want : HDRS_STACK);
		if (n < 0)
			n = 0;
	}
	tdm_route_keys(x, msg->routing_key, msg->routing_key_len, msg->rkeys, msg->rkeys_len, hdrs,
		       (size_t)n, r);
	/* unroutable: on through the alternate exchanges, each at most once */
	struct tdm_exchange *seen[8] = { x };
	size_t nseen = 1;
	while (r->n == 0 && nseen < 8 && (x = alternate(x)) != NULL) {
		for (size_t i = 0; i < nseen; i++)
			if (seen[i] == x)
				goto out;
		seen[nseen++] = x;
		tdm_route_keys(x, msg->routing_key, msg->routing_key_len, msg->rkeys,
			       msg->rkeys_len, hdrs, (size_t)n, r);
	}
out:
	if (hdrs != stack)
		free(hdrs);
}

/* The exchange msg is published to, or NULL with err (no such exchange,
 * an internal one, topic permission). */
static struct tdm_exchange *publish_exchange(struct am_conn *c, struct tdm_message *msg,
					     struct am_err *err)
{
	struct tdm_err te;
	struct tdm_exchange *x = tdm_exchange_lookup(c->vhost, msg->exchange, msg->exchange_len, &te);
	if (!x) {
		am_fail_core(err, &te, AM_BASIC_PUBLISH);
		return NULL;
	}
	if (x->internal) {
		am_fail(err, AM_ACCESS_REFUSED, AM_BASIC_PUBLISH,
			"cannot publish to internal exchange '%s' in vhost '%s'", x->name,
			c->vhost->name);
		return NULL;
	}
	if (tdm_topic_access(x, c->user, TDM_PERM_WRITE, msg->routing_key, msg->routing_key_len,
			     &te) != TDM_OK) {
		am_fail_core(err, &te, AM_BASIC_PUBLISH);
		return NULL;
	}
	return x;
}

/* Routes and enqueues now (outside a transaction, or at tx.commit). */
/* The queues msg goes to through its exchange: 0 with r filled, or -1
 * with err (as publish_exchange). */
static int route_by_exchange(struct am_conn *c, struct tdm_message *msg, struct tdm_route *r,
			     struct am_err *err)
{
	struct tdm_exchange *x = publish_exchange(c, msg, err);
	if (!x)
		return -1;
	am_route_message(x, msg, r);
	return 0;
}

int am_publish_now(struct am_conn *c, struct am_channel *ch, struct tdm_message *msg,
		   int mandatory, const struct am_targets *targets, struct am_err *err)
{
	struct tdm_route r;
	int missing = 0;
	tdm_route_init(&r);
	if (targets) {
		missing = am_targets_route(c->vhost, targets, &r); /* the exchange need not exist */
	} else if (route_by_exchange(c, msg, &r, err) < 0) {
		tdm_route_free(&r);
		return -1;
	}
	am_stream_collect_begin(); /* cluster stream appends: the confirm waits for their ISR */
	/* a full reject-publish queue, or a named queue that is not here */
	int rejected = tdm_publish(c->broker, &r, msg) > 0 || missing;
	if (!targets) /* a reply address: straight to its consumer, not counted as routed */
		am_reply_deliver(msg);
	struct am_repl_wait *repl = am_stream_collect_end();
	c->broker->stat_published++;
	if (r.n == 0) {
		c->broker->stat_unroutable++;
		if (mandatory)
			send_return(c, ch, msg);
	}
	tdm_route_free(&r);
	/* a journaled message is confirmed once it is on disk; a transient one
	 * paged out has a page record, which only frees memory: no wait */
	if (ch->confirm)
		am_confirm_repl(c, ch, msg->persistent ? msg->journal_off : TDM_NO_JOURNAL, rejected,
				repl);
	else
		am_repl_wait_free(repl);
	return 0;
}

int am_publish_route(struct am_conn *c, struct am_channel *ch, struct tdm_message *msg,
		     int mandatory, struct am_targets *targets, struct am_err *err)
{
	/* rabbit_channel: write on the exchange before looking it up, when the
	 * message is published (in a transaction too) */
	struct tdm_err te;
	int rc;
	if (tdm_access(c->vhost, c->user, TDM_RES_EXCHANGE, TDM_PERM_WRITE, msg->exchange,
		       msg->exchange_len, &te) != TDM_OK) {
		am_targets_free(targets);
		return am_fail_core(err, &te, AM_BASIC_PUBLISH);
	}
	if (ch->pub_bad_hdr) { /* rabbit_channel: after the exchange's checks */
		const char *bad = ch->pub_bad_hdr;
		ch->pub_bad_hdr = NULL;
		am_targets_free(targets);
		if (!publish_exchange(c, msg, err))
			return -1;
		return am_fail(err, AM_PRECONDITION_FAILED, AM_BASIC_PUBLISH,
			       "invalid message: {unacceptable_type_in_header,\"%s\",%s}", bad,
			       am_type_word(ch->pub_bad_type));
	}
	if (!ch->tx) {
		rc = am_publish_now(c, ch, msg, mandatory, targets, err);
		am_targets_free(targets);
		return rc;
	}
	struct tdm_exchange *x = tdm_exchange_find(c->vhost, msg->exchange, msg->exchange_len);
	if (x && tdm_topic_access(x, c->user, TDM_PERM_WRITE, msg->routing_key,
				  msg->routing_key_len, &te) != TDM_OK) {
		am_targets_free(targets);
		return am_fail_core(err, &te, AM_BASIC_PUBLISH);
	}
	struct am_tx_op *op = calloc(1, sizeof(*op));
	if (!op) {
		am_targets_free(targets);
		return am_fail(err, AM_INTERNAL_ERROR, AM_BASIC_PUBLISH, "out of memory");
	}
	op->kind = AM_TX_PUBLISH;
	op->msg = tdm_message_ref(msg);
	op->targets = targets;
	op->mandatory = (uint8_t)mandatory;
	*ch->tx_tail = op;
	ch->tx_tail = &op->next;
	return 0;
}

int am_h_basic_get(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		   struct am_err *err)
{
	const struct am_basic_get *g = &m->u.basic_get;
	struct tdm_queue *q = am_queue_resolve(c, ch, g->queue, TDM_PERM_READ, m->id, err);
	if (!q)
		return -1;
	if (q->stream)
		return am_fail(err, AM_NOT_IMPLEMENTED, m->id,
			       "basic.get not supported by stream queues queue '%s' in vhost '%s'",
			       q->name, c->vhost->name);
	if (q->remote) /* another node's queue: its home answers */
		return am_remote_get(c, ch, q, g->no_ack, err);
	struct tdm_qentry e;
	q->last_used = tdm_now_ms(); /* basic.get counts as use for x-expires */
	if (!tdm_queue_pop(q, &e)) {
		am_send_simple(c, ch->id, AM_BASIC_GET_EMPTY);
		return 0;
	}
	struct am_method ok = { .id = AM_BASIC_GET_OK };
	struct tdm_message *msg = e.msg;
	ok.u.basic_get_ok.redelivered = (uint8_t)e.redelivered;
	ok.u.basic_get_ok.exchange = (struct am_bytes){ (const uint8_t *)msg->exchange, msg->exchange_len };
	ok.u.basic_get_ok.routing_key =
		(struct am_bytes){ (const uint8_t *)msg->routing_key, msg->routing_key_len };
	tdm_queue_expire(q, tdm_now_ms()); /* an expired new head is not counted */
	ok.u.basic_get_ok.message_count = (uint32_t)tdm_queue_ready(q);
	if (g->no_ack) {
		ok.u.basic_get_ok.delivery_tag = ++ch->next_tag;
		am_send_method(c, ch->id, &ok);
		am_send_entry(c, ch->id, q, &e, 1);
		tdm_queue_settle(q, e);
	} else {
		ok.u.basic_get_ok.delivery_tag = am_track(ch, q, e, NULL);
		am_send_method(c, ch->id, &ok);
		am_send_entry(c, ch->id, q, &e, 1);
	}
	return 0;
}

int am_h_basic_qos(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		   struct am_err *err)
{
	const struct am_basic_qos *q = &m->u.basic_qos;
	if (q->prefetch_size)
		return am_fail(err, AM_NOT_IMPLEMENTED, m->id, "prefetch_size!=0 (%u)", q->prefetch_size);
	if (q->global)
		ch->prefetch_channel = q->prefetch_count;
	else
		ch->prefetch_consumer = q->prefetch_count;
	am_send_simple(c, ch->id, AM_BASIC_QOS_OK);
	am_channel_kick_consumers(ch);
	return 0;
}

int am_h_basic_recover(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	/* recover and recover-async share the layout: one `requeue` bit */
	if (!m->u.basic_recover.requeue)
		return am_fail(err, AM_NOT_IMPLEMENTED, m->id, "requeue=false");
	am_requeue_all(ch);
	if (m->id == AM_BASIC_RECOVER)
		am_send_simple(c, ch->id, AM_BASIC_RECOVER_OK);
	return 0;
}
