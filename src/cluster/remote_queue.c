/*
 * Classic queues of other nodes over the cluster link (core/remote.h has
 * the model; cluster/remote_queue.h the lifetimes).  This node reaches a
 * proxy's home as an AMQP client (cluster/amc.h) of the home's
 * cluster port, logged in with the cluster secret, so the home serves it
 * with the code that serves every AMQP client:
 *
 * - one connection per home node and vhost, made when first needed and
 *   again after a loss;
 * - publishes on one channel in confirm mode, to the original exchange and
 *   routing key with the header x-tandem-queues naming the queue (the home
 *   delivers to exactly that queue and strips the header); the publisher's
 *   confirm waits for the home's;
 * - per proxy, one channel for its consumers (basic.qos of each consumer's
 *   prefetch before its basic.consume) and basic.get: what the home pushes
 *   goes into the proxy (tdm_remote_deliver) and on to this node's
 *   consumers; an entry's seq is its handle, the channel's generation and
 *   the home's delivery tag, so a settle after a lost link is dropped (the
 *   home requeued the message with the connection, redelivered);
 * - counts (queue.declare passive) and purges each on a channel of their
 *   own, so a refusal (404) closes only that one.
 *
 * A lost connection ends this node's consumers of the proxies it served
 * (basic.cancel to clients, as RabbitMQ does when a queue's node goes
 * down) and fails every request on it; the next use connects again.
 *
 * Everything runs on the loop thread.
 *
 * Must not depend on: protocol front ends (src/amqp is used only through
 * its neutral codec), logstore.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster/amc.h"
#include "cluster/remote_queue.h"
#include "core/broker.h"
#include "core/config.h"
#include "core/log.h"
#include "core/remote.h"
#include "core/replica.h"

#define TAG_BITS 40 /* handle = generation << TAG_BITS | the home's delivery tag */
#define TAG_MASK ((1ull << TAG_BITS) - 1)

struct rq_peer;

/* One consumer of a proxy, as its home sees it. */
struct rq_cons {
	struct rq_cons *next;
	struct rq_link *ql;          /* borrowed: its proxy's link */
	struct tdm_consumer *c;      /* borrowed; NULL once it left */
	char ctag[64];               /* the home's consumer tag, once consume-ok came */
	int cancelling;              /* our basic.cancel is out: its answer frees us */
};

/* A proxy's channel to its home. */
struct rq_link {
	struct rq_link *next;
	struct tdm_rq *rq;           /* borrowed */
	struct tdm_queue *q;         /* ref */
	struct rq_peer *peer;        /* borrowed */
	struct tdm_amc_chan *ch;     /* owned; NULL when lost */
	uint64_t gen;
	struct rq_cons *cons;        /* owned */
};

/* The connection to one home node for one vhost. */
struct rq_peer {
	struct rq_peer *next;
	struct tdm_rq *rq;           /* borrowed */
	int32_t node;
	char *vhost;                 /* owned */
	struct tdm_amc *conn;        /* owned; NULL when lost */
	struct tdm_amc_chan *pub;    /* owned: publishes, in confirm mode */
};

/* A forwarded operation under way (core/remote.h's op first). */
struct rq_op {
	struct tdm_remote_op op;
	struct rq_op *next;
	struct tdm_rq *rq;           /* borrowed */
	struct tdm_queue *q;         /* ref */
	struct tdm_amc_chan *ch;     /* owned for a count or purge; else borrowed */
	tdm_remote_done_fn done;     /* NULL once forgotten */
	tdm_remote_got_fn got;
	tdm_remote_count_fn counted;
	void *arg;
	uint64_t gen;
	int no_ack;
};

#define COUNT_EVERY_MS 5000 /* RabbitMQ's collect_statistics_interval */
#define COUNT_MAX 256        /* proxies counted per round, at most */

struct tdm_rq {
	struct event_base *base;     /* borrowed */
	struct event *count_ev;      /* owned: the proxies' counts, every COUNT_EVERY_MS */
	size_t count_from;           /* the proxies the last round did not reach */
	struct tdm_broker *b;        /* borrowed */
	char *secret;                /* owned, wiped when freed */
	size_t secret_len;
	struct rq_peer *peers;       /* owned */
	struct rq_link *links;       /* owned */
	struct rq_op *ops;           /* owned: under way */
	uint64_t next_gen;
};

/* ---- operations under way ------------------------------------------------- */

static void op_unlink(struct rq_op *o)
{
	for (struct rq_op **pp = &o->rq->ops; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
}

static void op_free(struct rq_op *o)
{
	op_unlink(o);
	if (o->ch)
		tdm_amc_channel_close(o->ch);
	tdm_queue_unref(o->q);
	free(o);
}

static void op_forget(struct tdm_remote_op *op)
{
	struct rq_op *o = (struct rq_op *)op;
	o->done = NULL;
	o->got = NULL;
	o->counted = NULL;
}

static struct rq_op *op_new(struct tdm_rq *rq, struct tdm_queue *q, void *arg,
			    struct tdm_remote_op **out)
{
	struct rq_op *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->op.forget = op_forget;
	o->rq = rq;
	o->q = q;
	tdm_queue_ref(q);
	o->arg = arg;
	o->next = rq->ops;
	rq->ops = o;
	if (out)
		*out = &o->op;
	return o;
}

/* The home's reply code as core's status (its text keeps RabbitMQ's words). */
static int status_of(int code)
{
	switch (code) {
	case 0:
		return TDM_OK;
	case 404:
		return TDM_E_NOT_FOUND;
	case 403:
		return TDM_E_ACCESS;
	case 405:
		return TDM_E_LOCKED;
	case 406:
		return TDM_E_INVALID;
	default:
		return TDM_E_NOMEM;
	}
}

/* The home's reply text without its "CODE_NAME - " (the front end adds it). */
static const char *plain_text(int code, const char *text, char *buf, size_t cap)
{
	if (code == TDM_AMC_ERR_LOST || code == TDM_AMC_ERR_CLOSED || !text) {
		snprintf(buf, cap, "the link to the queue's home node failed%s%s", text ? ": " : "",
			 text ? text : "");
		return buf;
	}
	const char *dash = strstr(text, " - ");
	return dash ? dash + 3 : text;
}

/* ---- connections ---------------------------------------------------------- */

static void link_lost(struct rq_link *ql);

static void peer_lost(void *arg, int code, const char *why)
{
	struct rq_peer *p = arg;
	tdm_warn("cluster", "AMQP link to node %d (vhost '%s') lost: %s (%d)", (int)p->node,
		 p->vhost, why ? why : "", code);
	for (struct rq_link *ql = p->rq->links; ql; ql = ql->next)
		if (ql->peer == p)
			link_lost(ql);
	struct tdm_amc *conn = p->conn;
	p->conn = NULL;
	p->pub = NULL; /* released with the connection */
	tdm_amc_free(conn);
}

/* The home's cluster port, from the live nodes ZooKeeper lists. */
static int resolve(struct tdm_rq *rq, int32_t node, char *host, size_t cap, int *port)
{
	const struct tdm_replica_node *nodes;
	size_t n = tdm_replica_nodes(rq->b->replica, &nodes);
	for (size_t i = 0; i < n; i++)
		if (nodes[i].id == node && nodes[i].cluster_port) {
			snprintf(host, cap, "%s", nodes[i].host ? nodes[i].host : "127.0.0.1");
			*port = nodes[i].cluster_port;
			return 0;
		}
	return -1;
}

/* The connection to node for vhost, made when missing; NULL when the
 * node cannot be reached now. */
static struct rq_peer *peer_get(struct tdm_rq *rq, int32_t node, const char *vhost)
{
	struct rq_peer *p = rq->peers;
	while (p && (p->node != node || strcmp(p->vhost, vhost) != 0))
		p = p->next;
	if (!p) {
		if (!(p = calloc(1, sizeof(*p))) || !(p->vhost = strdup(vhost))) {
			free(p);
			return NULL;
		}
		p->rq = rq;
		p->node = node;
		p->next = rq->peers;
		rq->peers = p;
	}
	if (p->conn && p->pub && !tdm_amc_chan_usable(p->pub)) {
		/* the home closed the publish channel (its unconfirmed publishes
		 * failed with it): a new one */
		tdm_amc_channel_close(p->pub);
		p->pub = tdm_amc_channel(p->conn, NULL, NULL);
		if (p->pub && tdm_amc_confirm_select(p->pub, NULL, NULL) < 0) {
			tdm_amc_channel_close(p->pub);
			p->pub = NULL;
		}
		return p->pub ? p : NULL;
	}
	if (p->conn)
		return p;
	char host[256];
	int port;
	if (resolve(rq, node, host, sizeof(host), &port) < 0)
		return NULL;
	struct tdm_amc_config cfg = { .host = host, .port = port, .user = TDM_CLUSTER_LINK_USER,
				      .pass = rq->secret, .pass_len = rq->secret_len,
				      .vhost = vhost, .heartbeat = 10, .name = "tandem cluster link" };
	p->conn = tdm_amc_new(rq->base, &cfg, NULL, peer_lost, p);
	if (!p->conn)
		return NULL;
	p->pub = tdm_amc_channel(p->conn, NULL, NULL);
	if (!p->pub || tdm_amc_confirm_select(p->pub, NULL, NULL) < 0) {
		tdm_amc_free(p->conn);
		p->conn = NULL;
		p->pub = NULL;
		return NULL;
	}
	return p;
}

/* ---- publishing ----------------------------------------------------------- */

static void confirmed(void *arg, int status)
{
	struct rq_op *o = arg;
	o->ch = NULL; /* the peer's publish channel: not ours */
	if (o->done) {
		char buf[200];
		if (status == TDM_AMC_ACK)
			o->done(o->arg, TDM_OK, "");
		else
			o->done(o->arg, TDM_E_NOMEM,
				status == TDM_AMC_NACK ? "the queue's home node refused the message"
						       : plain_text(status, NULL, buf, sizeof(buf)));
	}
	op_free(o);
}

/* m's content header with x-tandem-queues = [q] added to its headers;
 * 0 and *out (owned), or -1. */
static int header_for(const struct tdm_message *m, const struct tdm_queue *q, uint8_t **out,
		      size_t *out_len)
{
	struct am_content_header h;
	if (am_content_header_decode(m->header, m->header_len, &h) != AM_OK)
		return -1;
	static const char key[] = "x-tandem-queues";
	size_t old = (h.props.flags & AM_P_HEADERS) ? h.props.headers.len : 0;
	size_t add = 1 + sizeof(key) - 1 + 1 + 4 + 1 + 4 + q->name_len;
	uint8_t *tbl = malloc(old + add);
	if (!tbl)
		return -1;
	if (old)
		memcpy(tbl, h.props.headers.ptr, old);
	uint8_t *p = tbl + old;
	*p++ = (uint8_t)(sizeof(key) - 1);
	memcpy(p, key, sizeof(key) - 1);
	p += sizeof(key) - 1;
	*p++ = 'A';
	uint32_t alen = 1 + 4 + q->name_len;
	*p++ = (uint8_t)(alen >> 24), *p++ = (uint8_t)(alen >> 16), *p++ = (uint8_t)(alen >> 8),
	*p++ = (uint8_t)alen;
	*p++ = 'S';
	*p++ = 0, *p++ = 0, *p++ = 0, *p++ = q->name_len;
	memcpy(p, q->name, q->name_len);
	h.props.headers = (struct am_bytes){ tbl, (uint32_t)(old + add) };
	h.props.flags |= AM_P_HEADERS;
	size_t cap = m->header_len + add + 64;
	uint8_t *buf = malloc(cap);
	int rc = buf ? am_content_header_encode(m->body_len, &h.props, buf, cap, out_len) : -1;
	free(tbl);
	if (rc != AM_OK) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static int rq_publish(void *ctx, struct tdm_queue *q, struct tdm_message *m,
		      tdm_remote_done_fn done, void *arg, struct tdm_remote_op **op)
{
	struct tdm_rq *rq = ctx;
	struct rq_peer *p = peer_get(rq, q->home, q->vhost->name);
	uint8_t *hdr = NULL;
	size_t hlen = 0;
	if (!p || header_for(m, q, &hdr, &hlen) < 0)
		return -1;
	struct rq_op *o = op_new(rq, q, arg, op);
	if (!o) {
		free(hdr);
		return -1;
	}
	o->done = done;
	int rc = tdm_amc_publish(p->pub, m->exchange, m->exchange_len, m->routing_key,
				 m->routing_key_len, 0, hdr, hlen, m->body, m->body_len, confirmed, o);
	free(hdr);
	if (rc < 0) {
		if (op)
			*op = NULL;
		op_free(o);
		return -1;
	}
	return 0;
}

/* ---- a proxy's channel: consumers, gets, settles ---------------------------- */

static struct rq_link *link_find(struct tdm_rq *rq, const struct tdm_queue *q)
{
	struct rq_link *ql = rq->links;
	while (ql && ql->q != q)
		ql = ql->next;
	return ql;
}

static void link_closed(void *arg, int code, const char *text)
{
	struct rq_link *ql = arg;
	tdm_debug("cluster", "channel to queue '%s' on node %d closed: %d %s", ql->q->name,
		  (int)ql->q->home, code, text ? text : "");
	link_lost(ql);
}

/* The proxy's channel, opened when missing; NULL when the home cannot be
 * reached now. */
static struct rq_link *link_get(struct tdm_rq *rq, struct tdm_queue *q)
{
	struct rq_link *ql = link_find(rq, q);
	if (!ql) {
		if (!(ql = calloc(1, sizeof(*ql))))
			return NULL;
		ql->rq = rq;
		ql->q = q;
		tdm_queue_ref(q);
		ql->next = rq->links;
		rq->links = ql;
	}
	if (ql->ch)
		return ql;
	if (!(ql->peer = peer_get(rq, q->home, q->vhost->name)) ||
	    !(ql->ch = tdm_amc_channel(ql->peer->conn, link_closed, ql)))
		return NULL;
	ql->gen = ++rq->next_gen;
	return ql;
}

/* The channel is gone: what the home pushed is void (it requeues it), the
 * consumers end. */
static void link_lost(struct rq_link *ql)
{
	struct tdm_amc_chan *ch = ql->ch;
	ql->ch = NULL;
	ql->gen = 0;
	if (ch)
		tdm_amc_channel_close(ch);
	tdm_remote_lost(ql->q);
	struct rq_cons *k;
	while ((k = ql->cons) != NULL) {
		ql->cons = k->next;
		struct tdm_consumer *c = k->c;
		free(k);
		if (c && c->queue == ql->q) {
			c->remote = NULL;
			tdm_remote_consumer_gone(ql->q, c);
		}
	}
}

/* A message of the home's as this node's: NULL when memory is short. */
static struct tdm_message *message_of(const struct tdm_amc_msg *m)
{
	struct tdm_message *msg =
		tdm_message_new(m->exchange, m->exchange_len, m->routing_key, m->routing_key_len,
				m->header, m->header_len, m->body_len);
	if (!msg)
		return NULL;
	if (m->body_len)
		memcpy(msg->body, m->body, m->body_len);
	msg->body_filled = m->body_len;
	return msg;
}

static void delivered(void *arg, const struct tdm_amc_msg *m)
{
	struct rq_cons *k = arg;
	struct rq_link *ql = k->ql;
	if (!k->c) { /* it left; the home has not answered the cancel yet */
		tdm_amc_reject(ql->ch, m->delivery_tag, 1);
		return;
	}
	struct tdm_message *msg = message_of(m);
	uint64_t handle = ql->gen << TAG_BITS | (m->delivery_tag & TAG_MASK);
	if (!msg || tdm_remote_deliver(ql->q, msg, handle, m->redelivered) < 0)
		tdm_amc_nack(ql->ch, m->delivery_tag, 0, 1); /* the home keeps it */
	if (msg)
		tdm_message_unref(msg);
}

static void cons_unlink(struct rq_link *ql, struct rq_cons *k)
{
	for (struct rq_cons **pp = &ql->cons; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
}

/* The home refused or ended consumer k: it ends here too. */
static void cons_end(struct rq_cons *k, int code, const char *text)
{
	struct rq_link *ql = k->ql;
	struct tdm_consumer *c = k->c;
	if (k->cancelling)
		return; /* it left here already; cancel_done frees k */
	tdm_debug("cluster", "consumer of queue '%s' on node %d ended: %d %s", ql->q->name,
		  (int)ql->q->home, code, text ? text : "");
	cons_unlink(ql, k);
	free(k);
	if (c && c->queue == ql->q) {
		c->remote = NULL;
		tdm_remote_consumer_gone(ql->q, c);
	}
}

static void cancelled(void *arg, int code, const char *text)
{
	cons_end(arg, code, text);
}

/* The home answered our basic.cancel: k goes (deliveries before the
 * answer went back to the home). */
static void cancel_done(void *arg, int code, const char *text, const struct am_method *ok)
{
	(void)code;
	(void)text;
	(void)ok;
	struct rq_cons *k = arg;
	cons_unlink(k->ql, k);
	free(k);
}

/* Asks the home to stop pushing to k (its consumer left here). */
static void cons_cancel(struct rq_cons *k)
{
	struct am_method m = { .id = AM_BASIC_CANCEL };
	m.u.basic_cancel.consumer_tag =
		(struct am_bytes){ (const uint8_t *)k->ctag, (uint32_t)strlen(k->ctag) };
	k->cancelling = 1;
	if (tdm_amc_call(k->ql->ch, &m, cancel_done, k) < 0)
		cancel_done(k, 0, NULL, NULL);
}

static void consume_ok(void *arg, int code, const char *text, const char *ctag)
{
	struct rq_cons *k = arg;
	if (code != 0) {
		cons_end(k, code, text);
		return;
	}
	snprintf(k->ctag, sizeof(k->ctag), "%s", ctag);
	if (!k->c) /* it left while the home answered */
		cons_cancel(k);
}

static void rq_consume(void *ctx, struct tdm_queue *q, struct tdm_consumer *c)
{
	struct tdm_rq *rq = ctx;
	struct rq_link *ql = link_get(rq, q);
	struct rq_cons *k = ql ? calloc(1, sizeof(*k)) : NULL;
	struct am_method qos = { .id = AM_BASIC_QOS };
	qos.u.basic_qos.prefetch_count = c->prefetch;
	if (!k || tdm_amc_call(ql->ch, &qos, NULL, NULL) < 0 ||
	    tdm_amc_consume(ql->ch, q->name, q->name_len, 0, NULL, 0, delivered, cancelled,
			    consume_ok, k) < 0) {
		free(k);
		c->remote = NULL;
		if (!q->quorum) /* a quorum queue's consumer is linked again next tick */
			tdm_warn("cluster", "cannot consume queue '%s' of node %d: its home cannot "
				 "be reached", q->name, (int)q->home);
		tdm_remote_consumer_gone(q, c); /* basic.cancel to the client */
		return;
	}
	k->ql = ql;
	k->c = c;
	c->remote = k;
	k->next = ql->cons;
	ql->cons = k;
}

static void rq_cancel(void *ctx, struct tdm_queue *q, struct tdm_consumer *c)
{
	(void)ctx;
	(void)q;
	struct rq_cons *k = c->remote;
	c->remote = NULL;
	if (!k)
		return; /* refused or ended already */
	k->c = NULL;
	if (k->ctag[0]) /* else consume_ok cancels it */
		cons_cancel(k);
}

static void rq_moved(void *ctx, struct tdm_queue *q)
{
	struct rq_link *ql = link_find(ctx, q);
	if (ql)
		link_lost(ql);
}

static void rq_settle(void *ctx, struct tdm_queue *q, uint64_t handle, enum tdm_remote_settle how)
{
	struct rq_link *ql = link_find(ctx, q);
	if (!ql || !ql->ch || handle >> TAG_BITS != ql->gen)
		return; /* the link was lost since: the home requeued it */
	uint64_t tag = handle & TAG_MASK;
	if (how == TDM_REMOTE_ACK)
		tdm_amc_ack(ql->ch, tag, 0);
	else
		tdm_amc_reject(ql->ch, tag, how == TDM_REMOTE_REQUEUE);
}

static void got(void *arg, int code, const char *text, const struct tdm_amc_msg *m)
{
	struct rq_op *o = arg;
	o->ch = NULL; /* the proxy's channel: not ours */
	struct tdm_message *msg = m ? message_of(m) : NULL;
	struct rq_link *ql = link_find(o->rq, o->q);
	char buf[200];
	if (!o->got) {
		if (m && !o->no_ack && ql && ql->ch) /* nobody waits: back to the home */
			tdm_amc_reject(ql->ch, m->delivery_tag, 1);
	} else if (code != 0) {
		o->got(o->arg, status_of(code), plain_text(code, text, buf, sizeof(buf)), NULL, 0);
	} else if (m && !msg) {
		if (!o->no_ack && ql && ql->ch)
			tdm_amc_reject(ql->ch, m->delivery_tag, 1);
		o->got(o->arg, TDM_E_NOMEM, "out of memory", NULL, 0);
	} else if (!m) {
		o->got(o->arg, TDM_OK, "", NULL, 0);
	} else {
		struct tdm_qentry e = { .msg = msg, .redelivered = m->redelivered };
		if (!o->no_ack)
			e.seq = o->gen << TAG_BITS | (m->delivery_tag & TAG_MASK);
		o->got(o->arg, TDM_OK, "", &e, m->message_count);
	}
	if (msg)
		tdm_message_unref(msg);
	op_free(o);
}

static int rq_get(void *ctx, struct tdm_queue *q, int no_ack, tdm_remote_got_fn gotfn, void *arg,
		  struct tdm_remote_op **op)
{
	struct tdm_rq *rq = ctx;
	struct rq_link *ql = link_get(rq, q);
	if (!ql)
		return -1;
	struct rq_op *o = op_new(rq, q, arg, op);
	if (!o)
		return -1;
	o->got = gotfn;
	o->no_ack = no_ack;
	o->gen = ql->gen;
	if (tdm_amc_get(ql->ch, q->name, q->name_len, no_ack, got, o) < 0) {
		if (op)
			*op = NULL;
		op_free(o);
		return -1;
	}
	return 0;
}

/* ---- counts and purges ---------------------------------------------------- */

static void call_replied(void *arg, int code, const char *text, const struct am_method *ok)
{
	struct rq_op *o = arg;
	char buf[200];
	if (o->counted && code != 0)
		o->counted(o->arg, status_of(code), plain_text(code, text, buf, sizeof(buf)), 0, 0);
	else if (o->counted && ok->id == AM_QUEUE_PURGE_OK)
		o->counted(o->arg, TDM_OK, "", ok->u.queue_purge_ok.message_count, 0);
	else if (o->counted)
		o->counted(o->arg, TDM_OK, "", ok->u.queue_declare_ok.message_count,
			   ok->u.queue_declare_ok.consumer_count);
	op_free(o); /* closes its channel */
}

static int rq_call(void *ctx, struct tdm_queue *q, enum tdm_remote_call what,
		   tdm_remote_count_fn done, void *arg, struct tdm_remote_op **op)
{
	struct tdm_rq *rq = ctx;
	struct rq_peer *p = peer_get(rq, q->home, q->vhost->name);
	struct tdm_amc_chan *ch = p ? tdm_amc_channel(p->conn, NULL, NULL) : NULL;
	if (!ch)
		return -1;
	struct rq_op *o = op_new(rq, q, arg, op);
	if (!o) {
		tdm_amc_channel_close(ch);
		return -1;
	}
	o->ch = ch;
	o->counted = done;
	struct am_method m = { .id = what == TDM_REMOTE_PURGE ? AM_QUEUE_PURGE : AM_QUEUE_DECLARE };
	struct am_bytes name = { (const uint8_t *)q->name, q->name_len };
	if (what == TDM_REMOTE_PURGE) {
		m.u.queue_purge.queue = name;
	} else {
		m.u.queue_declare.queue = name;
		m.u.queue_declare.passive = 1;
	}
	if (tdm_amc_call(ch, &m, call_replied, o) < 0) {
		if (op)
			*op = NULL;
		op_free(o);
		return -1;
	}
	return 0;
}

/* ---- the management view: the homes' counts ---------------------------------- */

static void counted(void *arg, int status, const char *text, uint64_t messages,
		    uint64_t consumers)
{
	(void)text;
	struct tdm_queue *q = arg; /* the op holds a ref until after this call */
	if (status == TDM_OK) {
		q->home_ready = messages;
		q->home_consumers = consumers;
	}
}

/* The links of queues deleted since, with no consumer left: closed. */
static void sweep_links(struct tdm_rq *rq)
{
	for (struct rq_link **pp = &rq->links; *pp;) {
		struct rq_link *ql = *pp;
		if (!ql->q->deleted || ql->cons) {
			pp = &ql->next;
			continue;
		}
		*pp = ql->next;
		if (ql->ch)
			tdm_amc_channel_close(ql->ch);
		tdm_queue_unref(ql->q);
		free(ql);
	}
}

/* Asks each live home for its queues' counts (as RabbitMQ's nodes emit
 * their queues' statistics), for /api/queues and the console: at most
 * COUNT_MAX a round, going on where the last round stopped. */
static void count_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tdm_rq *rq = arg;
	size_t vpos = 0, seen = 0, asked = 0;
	struct tdm_vhost *vh;
	sweep_links(rq);
	while (asked < COUNT_MAX && tdm_map_next(&rq->b->vhosts, &vpos, NULL, NULL, (void **)&vh)) {
		size_t qpos = 0;
		struct tdm_queue *q;
		while (asked < COUNT_MAX && tdm_map_next(&vh->queues, &qpos, NULL, NULL, (void **)&q)) {
			if (!q->remote || !tdm_remote_home_up(q) || seen++ < rq->count_from)
				continue;
			rq_call(rq, q, TDM_REMOTE_COUNT, counted, q, NULL);
			asked++;
		}
	}
	rq->count_from = asked == COUNT_MAX ? rq->count_from + asked : 0;
}

/* ---- the whole ------------------------------------------------------------ */

static const struct tdm_remote_ops ops = {
	.publish = rq_publish,
	.consume = rq_consume,
	.cancel = rq_cancel,
	.settle = rq_settle,
	.get = rq_get,
	.call = rq_call,
	.moved = rq_moved,
};

struct tdm_rq *tdm_rq_start(struct event_base *base, struct tdm_broker *b,
			    const struct tdm_config *cfg, char *err, size_t errlen)
{
	struct tdm_rq *rq = calloc(1, sizeof(*rq));
	char *secret = malloc(TDM_CLUSTER_SECRET_MAX + 1);
	int len = secret ? tdm_config_cluster_secret(cfg, secret, TDM_CLUSTER_SECRET_MAX + 1, err,
						     errlen)
			 : -1;
	if (!rq || len < 0) {
		if (secret)
			explicit_bzero(secret, TDM_CLUSTER_SECRET_MAX + 1);
		free(secret);
		free(rq);
		if (!secret || !rq)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rq->base = base;
	rq->b = b;
	rq->secret = secret;
	rq->secret_len = (size_t)len;
	struct timeval every = { COUNT_EVERY_MS / 1000, (COUNT_EVERY_MS % 1000) * 1000 };
	rq->count_ev = event_new(base, -1, EV_PERSIST, count_tick, rq);
	if (!rq->count_ev || event_add(rq->count_ev, &every) < 0) {
		snprintf(err, errlen, "out of memory");
		tdm_rq_free(rq);
		return NULL;
	}
	tdm_remote_set(b, &ops, rq);
	return rq;
}

void tdm_rq_free(struct tdm_rq *rq)
{
	if (!rq)
		return;
	tdm_remote_set(rq->b, NULL, NULL);
	if (rq->count_ev)
		event_free(rq->count_ev);
	while (rq->ops) {
		struct rq_op *o = rq->ops;
		op_forget(&o->op);
		op_free(o);
	}
	while (rq->links) {
		struct rq_link *ql = rq->links;
		rq->links = ql->next;
		if (ql->ch) /* first: its pending cancels are answered now */
			tdm_amc_channel_close(ql->ch);
		ql->ch = NULL;
		while (ql->cons) {
			struct rq_cons *k = ql->cons;
			ql->cons = k->next;
			if (k->c)
				k->c->remote = NULL;
			free(k);
		}
		tdm_queue_unref(ql->q);
		free(ql);
	}
	while (rq->peers) {
		struct rq_peer *p = rq->peers;
		rq->peers = p->next;
		tdm_amc_free(p->conn);
		free(p->vhost);
		free(p);
	}
	explicit_bzero(rq->secret, TDM_CLUSTER_SECRET_MAX + 1);
	free(rq->secret);
	free(rq);
}
