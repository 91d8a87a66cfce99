/*
 * Messages routed to a proxy of another node's queue (core/remote.h): sent
 * to the queue's home over the cluster link.  A publisher's confirm waits
 * for the home's own confirm, as it waits for a cluster stream's
 * replicas (the same am_repl_wait, collected around the publish).
 * basic.get, queue.purge and a declaration's counts on a proxy are the
 * home's: the connection's input is held until it answers.
 *
 * May depend on: amqp/am.h, core.  Must not depend on: other front ends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "amqp/am.h"
#include "core/log.h"
#include "core/remote.h"
#include "core/replica.h"

/* The home answered (arg: the publish's wait). */
static void sent(void *arg, int status, const char *text)
{
	struct am_repl_wait *w = arg;
	w->rop = NULL;
	if (status != TDM_OK)
		tdm_debug("amqp", "publish to another node's queue: %s", text ? text : "failed");
	w->fwd_rc = status == TDM_OK ? TDM_REPL_OK : TDM_REPL_UNKNOWN;
	am_confirms_kick();
}

static int remote_publish(void *ctx, struct tdm_queue *q, struct tdm_message *m)
{
	(void)ctx;
	/* no wait when nobody asks: a channel without confirms */
	struct am_repl_wait *w = am_stream_collecting() ? calloc(1, sizeof(*w) + 1) : NULL;
	if (am_stream_collecting() && !w)
		return -1;
	if (w) {
		w->forwarded = 1;
		w->fwd_rc = 1; /* the answer comes later, never during the call */
	}
	if (tdm_remote_publish(q, m, w ? sent : NULL, w, w ? &w->rop : NULL) < 0) {
		free(w);
		return -1;
	}
	if (w)
		am_stream_collect_add(w);
	return 0;
}

void am_remote_install(struct tdm_broker *b)
{
	b->remote_publish = remote_publish;
	b->remote_publish_ctx = NULL;
}

/* ---- methods answered by the home: basic.get, queue.purge, declare-ok ---- */

/* A method of a connection held until the home answers (as a cluster
 * declaration holds it, am_defs_wait). */
struct remote_wait {
	struct remote_wait *next;
	struct am_conn *c;          /* borrowed: am_remote_conn_gone unlinks us */
	struct tdm_queue *q;        /* ref */
	struct tdm_remote_op *op;   /* while the answer is awaited */
	uint16_t channel;
	uint32_t method;
	uint8_t no_ack, no_wait, if_unused, if_empty;
};

static struct remote_wait *waits;

static void unlink_wait(struct remote_wait *w)
{
	for (struct remote_wait **pp = &waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
}

static struct remote_wait *park(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
				uint32_t method, struct am_err *err)
{
	struct remote_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		am_fail(err, AM_INTERNAL_ERROR, method, "out of memory");
		return NULL;
	}
	w->c = c;
	w->q = q;
	tdm_queue_ref(q);
	w->channel = ch->id;
	w->method = method;
	w->next = waits;
	waits = w;
	c->parked = 1;
	tdm_conn_pause_reading(c->net, 1);
	return w;
}

/* The answer came: the connection reads again; its channel, when still
 * open, is returned for the reply (NULL: nobody to answer). */
static struct am_channel *unpark(struct remote_wait *w)
{
	struct am_conn *c = w->c;
	unlink_wait(w);
	c->parked = 0;
	if (!c->blocked)
		tdm_conn_pause_reading(c->net, 0);
	struct am_channel *ch = am_channel_get(c, w->channel);
	if (c->state != AM_S_RUNNING || c->net->closing || !ch || ch->state != AM_CH_OPEN)
		return NULL;
	return ch;
}

static void wait_free(struct remote_wait *w)
{
	tdm_queue_unref(w->q);
	free(w);
}

/* Raises the home's error on the channel. */
static void raise_remote(struct am_conn *c, struct am_channel *ch, uint32_t method, int status,
			 const char *text)
{
	struct tdm_err te = { .status = status };
	snprintf(te.text, sizeof(te.text), "%s", text ? text : "");
	struct am_err err;
	am_fail_core(&err, &te, method);
	am_raise(c, ch, &err);
}

/* The refusal when the link cannot even try (no link, home down). */
static int refuse(struct am_conn *c, struct tdm_queue *q, uint32_t method, struct am_err *err)
{
	struct tdm_err te;
	if (!tdm_remote_home_up(q))
		tdm_remote_down(q, &te);
	else
		tdm_err_set(&te, TDM_E_NOMEM,
			    "queue '%s' in vhost '%s' lives on node %d, which this node cannot "
			    "reach now",
			    q->name, c->vhost->name, (int)q->home);
	return am_fail_core(err, &te, method);
}

static void got(void *arg, int status, const char *text, const struct tdm_qentry *e,
		uint64_t left)
{
	struct remote_wait *w = arg;
	w->op = NULL;
	struct am_channel *ch = unpark(w);
	struct am_conn *c = w->c;
	struct tdm_qentry en = e ? *e : (struct tdm_qentry){ 0 };
	if (status == TDM_OK && e) { /* unacked here until settled at the home */
		tdm_message_ref(en.msg);
		w->q->unacked++;
		w->q->stat_delivered++;
		if (w->no_ack)
			en.seq = 0; /* settled there already: nothing to send back */
	}
	if (!ch) {
		if (status == TDM_OK && e) /* nobody takes it: back to the home */
			tdm_queue_requeue(w->q, en);
	} else if (status != TDM_OK) {
		raise_remote(c, ch, w->method, status, text);
	} else if (!e) {
		am_send_simple(c, ch->id, AM_BASIC_GET_EMPTY);
	} else {
		struct am_method ok = { .id = AM_BASIC_GET_OK };
		struct tdm_message *msg = en.msg;
		ok.u.basic_get_ok.redelivered = en.redelivered;
		ok.u.basic_get_ok.exchange =
			(struct am_bytes){ (const uint8_t *)msg->exchange, msg->exchange_len };
		ok.u.basic_get_ok.routing_key =
			(struct am_bytes){ (const uint8_t *)msg->routing_key, msg->routing_key_len };
		ok.u.basic_get_ok.message_count = (uint32_t)left;
		ok.u.basic_get_ok.delivery_tag =
			w->no_ack ? ++ch->next_tag : am_track(ch, w->q, en, NULL);
		am_send_method(c, ch->id, &ok);
		am_send_content(c, ch->id, msg);
		if (w->no_ack)
			tdm_queue_settle(w->q, en);
	}
	wait_free(w);
}

int am_remote_get(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q, int no_ack,
		  struct am_err *err)
{
	struct remote_wait *w = park(c, ch, q, AM_BASIC_GET, err);
	if (!w)
		return -1;
	w->no_ack = (uint8_t)!!no_ack;
	if (tdm_remote_get(q, no_ack, got, w, &w->op) < 0) {
		unpark(w);
		wait_free(w);
		return refuse(c, q, AM_BASIC_GET, err);
	}
	return 0;
}

/* queue.delete of a proxy, once its home counted: its checks, then the
 * cluster's deletion, answered with the home's count once applied here. */
static void delete_counted(struct remote_wait *w, struct am_channel *ch, uint64_t messages,
			   uint64_t consumers)
{
	struct tdm_queue *q = w->q;
	struct tdm_err te;
	struct am_err err;
	uint64_t n;
	int rc = TDM_OK;
	if (w->if_unused && consumers)
		rc = tdm_err_set(&te, TDM_E_IN_USE, "queue '%s' in vhost '%s' in use", q->name,
				 q->vhost->name);
	else if (w->if_empty && messages)
		rc = tdm_err_set(&te, TDM_E_NOT_EMPTY, "queue '%s' in vhost '%s' not empty", q->name,
				 q->vhost->name);
	else
		rc = tdm_queue_delete(q->vhost, q->name, q->name_len, w->c, 0, 0, &n, &te);
	struct am_method ok = { .id = AM_QUEUE_DELETE_OK };
	ok.u.queue_delete_ok.message_count = (uint32_t)messages;
	if (rc == TDM_PROPOSED && am_defs_wait_ok(w->c, ch, &ok, AM_QUEUE_DELETE, w->no_wait, &err) == 0)
		return;
	if (rc == TDM_PROPOSED) {
		am_raise(w->c, ch, &err);
	} else if (rc != TDM_OK) {
		am_fail_core(&err, &te, AM_QUEUE_DELETE);
		am_raise(w->c, ch, &err);
	} else if (!w->no_wait) {
		am_send_method(w->c, ch->id, &ok);
	}
}

static void counted(void *arg, int status, const char *text, uint64_t messages,
		    uint64_t consumers)
{
	struct remote_wait *w = arg;
	w->op = NULL;
	struct am_channel *ch = unpark(w);
	if (status != TDM_OK && w->q->quorum && w->method == AM_QUEUE_DECLARE) {
		/* a quorum queue between leaders exists all the same: its counts
		 * as last known (RabbitMQ answers from its local member) */
		status = TDM_OK;
		messages = w->q->home_ready;
		consumers = w->q->home_consumers;
	}
	if (ch && status == TDM_OK && w->method == AM_QUEUE_DELETE) {
		delete_counted(w, ch, messages, consumers);
	} else if (ch && status != TDM_OK) {
		raise_remote(w->c, ch, w->method, status, text);
	} else if (ch && !w->no_wait) {
		struct am_method ok = { .id = w->method == AM_QUEUE_PURGE ? AM_QUEUE_PURGE_OK
									  : AM_QUEUE_DECLARE_OK };
		if (w->method == AM_QUEUE_PURGE) {
			ok.u.queue_purge_ok.message_count = (uint32_t)messages;
		} else {
			ok.u.queue_declare_ok.queue =
				(struct am_bytes){ (const uint8_t *)w->q->name, w->q->name_len };
			ok.u.queue_declare_ok.message_count = (uint32_t)messages;
			/* the home's consumers, with this node's among them */
			ok.u.queue_declare_ok.consumer_count = (uint32_t)consumers;
		}
		am_send_method(w->c, ch->id, &ok);
	}
	wait_free(w);
}

int am_remote_counted(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
		      uint32_t method, int no_wait, struct am_err *err)
{
	struct remote_wait *w = park(c, ch, q, method, err);
	if (!w)
		return -1;
	w->no_wait = (uint8_t)!!no_wait;
	enum tdm_remote_call what = method == AM_QUEUE_PURGE ? TDM_REMOTE_PURGE : TDM_REMOTE_COUNT;
	if (tdm_remote_call(q, what, counted, w, &w->op) < 0) {
		if (q->quorum && method == AM_QUEUE_DECLARE) { /* no leader now: last counts */
			counted(w, TDM_E_NOMEM, NULL, 0, 0);
			return 0;
		}
		unpark(w);
		wait_free(w);
		return refuse(c, q, method, err);
	}
	return 0;
}

int am_remote_delete(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
		     const struct am_queue_delete *d, struct am_err *err)
{
	struct remote_wait *w = park(c, ch, q, AM_QUEUE_DELETE, err);
	if (!w)
		return -1;
	w->no_wait = d->no_wait;
	w->if_unused = d->if_unused;
	w->if_empty = d->if_empty;
	if (tdm_remote_call(q, TDM_REMOTE_COUNT, counted, w, &w->op) < 0) {
		unpark(w);
		wait_free(w);
		return refuse(c, q, AM_QUEUE_DELETE, err);
	}
	return 0;
}

void am_remote_conn_gone(struct am_conn *c)
{
	struct remote_wait *w = waits, *next;
	for (; w; w = next) {
		next = w->next;
		if (w->c != c)
			continue;
		unlink_wait(w);
		tdm_remote_forget(w->op);
		wait_free(w);
	}
}
