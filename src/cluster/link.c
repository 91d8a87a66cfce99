/*
 * The cluster link, client side (see link.h).  One struct peer per node
 * asked: its connection, its requests queued until the connection is
 * authenticated, and those in flight in the order they were written
 * (Kafka answers a connection's requests in order, so the oldest in
 * flight is the one a response answers; its correlation id is checked).
 *
 * Must not depend on: protocol front ends, logstore.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/kwire.h"
#include "cluster/link.h"
#include "core/config.h"
#include "core/log.h"
#include "core/topic_types.h"

enum { KW_PRODUCE = 0, KW_SASL_HANDSHAKE = 17, KW_SASL_AUTHENTICATE = 36 };
#define RESPONSE_MAX (1u << 20) /* Produce and SASL answers are small */

struct lreq {
	struct lreq *next;
	int32_t corr;
	int16_t api; /* KW_PRODUCE, or a SASL step (no done) */
	int64_t deadline_ms;
	struct evbuffer *out; /* the encoded request until written */
	tdm_replica_done_fn done;
	void *arg;
};

enum peer_state { P_IDLE, P_CONNECTING, P_AUTH, P_READY };

struct peer {
	struct peer *next;
	struct tdm_link *l;
	int32_t node;
	enum peer_state state;
	struct bufferevent *bev;
	struct event *timer;
	int64_t connect_deadline_ms;
	struct lreq *queued, **queued_tail;   /* waiting for P_READY */
	struct lreq *flight, **flight_tail;   /* written, oldest first */
};

struct tdm_link {
	struct event_base *base;
	int32_t node_id;
	char *secret;
	size_t secret_len;
	tdm_link_resolve_fn resolve;
	void *ctx;
	int32_t next_corr;
	char client_id[32];
	struct peer *peers;
	struct tdm_link_stats stats;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tdm_link_produce_error(int16_t e)
{
	switch (e) {
	case 0:
		return TDM_REPL_OK;
	case 3:
		return TDM_REPL_UNKNOWN;
	case 5:
		return TDM_REPL_NO_LEADER;
	case 6:
		return TDM_REPL_NOT_LEADER;
	case 7:
		return TDM_REPL_TIMED_OUT;
	case 10:
		return TDM_ERR_TOO_LARGE;
	case 19:
		return TDM_REPL_NOT_ENOUGH;
	case 20:
		return TDM_REPL_NOT_ENOUGH_AFTER;
	case 56:
		return TDM_ERR_IO;
	case 87:
		return TDM_ERR_INVALID_RECORD;
	default:
		return TDM_REPL_NO_CLUSTER;
	}
}

/* ---- requests ------------------------------------------------------------ */

static void req_finish(struct tdm_link *l, struct lreq *q, int rc, const char *msg)
{
	if (q->api == KW_PRODUCE) {
		if (rc == TDM_REPL_OK)
			l->stats.ok++;
		else
			l->stats.failed++;
		q->done(q->arg, rc, msg);
	}
	if (q->out)
		evbuffer_free(q->out);
	free(q);
}

/* A request of api with its header written (the body follows), or NULL. */
static struct lreq *req_new(struct tdm_link *l, int16_t api, int16_t version, size_t *off)
{
	struct lreq *q = calloc(1, sizeof(*q));
	if (!q || !(q->out = evbuffer_new())) {
		free(q);
		return NULL;
	}
	if (++l->next_corr <= 0)
		l->next_corr = 1;
	q->corr = l->next_corr;
	q->api = api;
	*off = kw_request_begin(q->out, api, version, q->corr, l->client_id);
	return q;
}

static void push(struct lreq ***tail, struct lreq *q)
{
	q->next = NULL;
	**tail = q;
	*tail = &q->next;
}

static struct lreq *pop(struct lreq **head, struct lreq ***tail)
{
	struct lreq *q = *head;
	if (q && !(*head = q->next))
		*tail = head;
	return q;
}

/* Writes q on p's connection; it is in flight from now on. */
static int write_req(struct peer *p, struct lreq *q)
{
	if (bufferevent_write_buffer(p->bev, q->out) < 0)
		return -1;
	evbuffer_free(q->out);
	q->out = NULL;
	q->deadline_ms = now_ms() + TDM_LINK_REQUEST_TIMEOUT_MS;
	push(&p->flight_tail, q);
	if (q->api == KW_PRODUCE)
		p->l->stats.sent++;
	return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void arm(struct peer *p, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(p->timer, &tv);
}

/* The connection is gone (or never came): every request fails with why. */
static void peer_lost(struct peer *p, const char *why)
{
	struct tdm_link *l = p->l;
	char msg[200];
	struct lreq *q;

	snprintf(msg, sizeof(msg), "cluster link to node %d lost: %s", (int)p->node, why);
	tdm_warn("cluster", "%s", msg);
	l->stats.losses++;
	if (p->state == P_READY && l->stats.connected)
		l->stats.connected--;
	if (p->bev)
		bufferevent_free(p->bev);
	p->bev = NULL;
	p->state = P_IDLE;
	evtimer_del(p->timer);
	while ((q = pop(&p->flight, &p->flight_tail)))
		req_finish(l, q, TDM_REPL_NO_CLUSTER, msg);
	while ((q = pop(&p->queued, &p->queued_tail)))
		req_finish(l, q, TDM_REPL_NO_CLUSTER, msg);
}

static void send_queued(struct peer *p)
{
	struct lreq *q;
	while (p->state == P_READY && (q = pop(&p->queued, &p->queued_tail)))
		if (write_req(p, q) < 0) {
			req_finish(p->l, q, TDM_REPL_NO_CLUSTER, "cluster link: write failed");
			peer_lost(p, "write failed");
			return;
		}
	if (p->flight)
		arm(p, p->flight->deadline_ms - now_ms());
}

/* SaslHandshake v1 "PLAIN", then (on its answer) SaslAuthenticate v0. */
static int send_handshake(struct peer *p)
{
	size_t off;
	struct lreq *q = req_new(p->l, KW_SASL_HANDSHAKE, 1, &off);
	if (!q)
		return -1;
	kw_put_str(q->out, "PLAIN");
	if (kw_request_end(q->out, off) < 0 || write_req(p, q) < 0) {
		req_finish(p->l, q, 0, NULL);
		return -1;
	}
	return 0;
}

static int send_authenticate(struct peer *p)
{
	struct tdm_link *l = p->l;
	size_t off, ulen = strlen(TDM_CLUSTER_LINK_USER);
	struct lreq *q = req_new(l, KW_SASL_AUTHENTICATE, 0, &off);
	if (!q)
		return -1;
	/* RFC 4616: [authzid] NUL authcid NUL passwd */
	kw_put_i32(q->out, (int32_t)(2 + ulen + l->secret_len));
	evbuffer_add(q->out, "", 1);
	evbuffer_add(q->out, TDM_CLUSTER_LINK_USER, ulen);
	evbuffer_add(q->out, "", 1);
	evbuffer_add(q->out, l->secret, l->secret_len);
	if (kw_request_end(q->out, off) < 0 || write_req(p, q) < 0) {
		req_finish(l, q, 0, NULL);
		return -1;
	}
	return 0;
}

/* The answer to a SASL step: 0 to go on, -1 with why. */
static int on_sasl(struct peer *p, struct lreq *q, struct kw_cur *c, const char **why)
{
	int16_t err = kw_get_i16(c);
	if (c->bad) {
		*why = "a SASL answer did not parse";
		return -1;
	}
	if (q->api == KW_SASL_HANDSHAKE) {
		if (err != 0) {
			*why = "the peer does not offer SASL PLAIN on its cluster port";
			return -1;
		}
		return send_authenticate(p) < 0 ? (*why = "write failed", -1) : 0;
	}
	if (err != 0) {
		*why = "the peer refused the cluster secret (is cluster_secret_file the same on "
		       "every node?)";
		return -1;
	}
	p->state = P_READY;
	p->l->stats.connected++;
	evtimer_del(p->timer);
	tdm_info("cluster", "cluster link to node %d up", (int)p->node);
	send_queued(p);
	return 0;
}

/* Produce v3 answer: [topic [partition error base_offset log_append_time]]
 * throttle_time_ms; one topic with one partition was asked. */
static void on_produce(struct peer *p, struct lreq *q, struct kw_cur *c)
{
	char msg[160] = "";
	int32_t nt = kw_get_array(c, 6), np;
	int16_t err = -1;
	const char *name;

	if (nt >= 1) {
		kw_get_str(c, &name);
		np = kw_get_array(c, 22);
		if (np >= 1) {
			kw_get_i32(c);
			err = kw_get_i16(c);
		}
	}
	int rc = c->bad || err < 0 ? TDM_REPL_NO_CLUSTER : tdm_link_produce_error(err);
	if (rc != TDM_REPL_OK)
		snprintf(msg, sizeof(msg), "node %d answered the forwarded publish with %s",
			 (int)p->node, c->bad || err < 0 ? "an answer that does not parse"
							: tdm_replica_strerror(rc));
	req_finish(p->l, q, rc, msg);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const uint8_t *frame;
	size_t size;
	int got;

	while ((got = kw_frame_next(in, RESPONSE_MAX, &frame, &size)) == 1) {
		struct kw_cur c;
		const char *why = "answered a request it was not asked";
		struct lreq *q = p->flight;
		kw_cur_init(&c, frame, size);
		if (!q || kw_get_i32(&c) != q->corr) {
			peer_lost(p, why);
			return;
		}
		pop(&p->flight, &p->flight_tail);
		if (q->api == KW_PRODUCE) {
			on_produce(p, q, &c);
		} else {
			int bad = on_sasl(p, q, &c, &why) < 0;
			req_finish(p->l, q, 0, NULL);
			if (bad) {
				peer_lost(p, why);
				return;
			}
		}
		evbuffer_drain(in, size + 4);
		if (!p->bev)
			return;
	}
	if (got < 0)
		peer_lost(p, "sent a bad frame");
	else if (p->flight)
		arm(p, p->flight->deadline_ms - now_ms());
	else if (p->state == P_READY)
		evtimer_del(p->timer);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer *p = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		p->state = P_AUTH;
		if (send_handshake(p) < 0)
			peer_lost(p, "write failed");
		return;
	}
	if ((what & BEV_EVENT_EOF) && p->state == P_READY && !p->flight && !p->queued) {
		/* the peer closed an idle link (its connections.max.idle.ms):
		 * nothing was lost; the next request connects again */
		tdm_debug("cluster", "cluster link to node %d closed while idle", (int)p->node);
		bufferevent_free(p->bev);
		p->bev = NULL;
		p->state = P_IDLE;
		if (p->l->stats.connected)
			p->l->stats.connected--;
		evtimer_del(p->timer);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		peer_lost(p, what & BEV_EVENT_EOF ? "closed by the peer" : "connection failed");
}

static void peer_connect(struct peer *p)
{
	char host[256];
	int port = 0;

	if (p->l->resolve(p->l->ctx, p->node, host, sizeof(host), &port) < 0 || port <= 0) {
		peer_lost(p, "the node has no cluster port registered (cluster_port)");
		return;
	}
	p->state = P_CONNECTING;
	p->bev = kw_connect(p->l->base, host, port, read_cb, event_cb, p);
	if (!p->bev) {
		peer_lost(p, "cannot connect");
		return;
	}
	p->connect_deadline_ms = now_ms() + TDM_LINK_CONNECT_TIMEOUT_MS;
	arm(p, TDM_LINK_CONNECT_TIMEOUT_MS);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	int64_t now = now_ms();
	(void)fd, (void)what;
	if (p->state == P_IDLE && p->queued)
		peer_connect(p);
	else if (p->state != P_READY && p->state != P_IDLE && now >= p->connect_deadline_ms)
		peer_lost(p, "not connected and authenticated within 10 s");
	else if (p->flight && now >= p->flight->deadline_ms)
		peer_lost(p, "a request was not answered within 35 s");
	else if (p->flight)
		arm(p, p->flight->deadline_ms - now);
}

static struct peer *peer_get(struct tdm_link *l, int32_t node)
{
	struct peer *p;
	for (p = l->peers; p; p = p->next)
		if (p->node == node)
			return p;
	if (!(p = calloc(1, sizeof(*p))) || !(p->timer = evtimer_new(l->base, timer_cb, p))) {
		free(p);
		return NULL;
	}
	p->l = l;
	p->node = node;
	p->queued_tail = &p->queued;
	p->flight_tail = &p->flight;
	p->next = l->peers;
	l->peers = p;
	return p;
}

/* ---- public ---------------------------------------------------------------- */

struct tdm_link *tdm_link_new(struct event_base *base, int32_t node_id, const char *secret,
			      size_t secret_len, tdm_link_resolve_fn resolve, void *ctx)
{
	struct tdm_link *l = calloc(1, sizeof(*l));
	if (!l || !(l->secret = malloc(secret_len ? secret_len : 1))) {
		free(l);
		return NULL;
	}
	memcpy(l->secret, secret, secret_len);
	l->secret_len = secret_len;
	l->base = base;
	l->node_id = node_id;
	l->resolve = resolve;
	l->ctx = ctx;
	snprintf(l->client_id, sizeof(l->client_id), "tandem-node-%d", (int)node_id);
	return l;
}

void tdm_link_free(struct tdm_link *l)
{
	if (!l)
		return;
	while (l->peers) {
		struct peer *p = l->peers;
		l->peers = p->next;
		if (p->flight || p->queued)
			peer_lost(p, "this node is stopping"); /* their waiters are told */
		else if (p->bev)
			bufferevent_free(p->bev); /* idle: nothing to report */
		event_free(p->timer);
		free(p);
	}
	explicit_bzero(l->secret, l->secret_len);
	free(l->secret);
	free(l);
}

int tdm_link_produce(struct tdm_link *l, int32_t node, const char *topic, int32_t partition,
		     const void *batch, size_t len, tdm_replica_done_fn done, void *arg)
{
	struct peer *p = peer_get(l, node);
	size_t off;
	struct lreq *q = p ? req_new(l, KW_PRODUCE, 3, &off) : NULL;
	if (!q)
		return -1;
	q->done = done;
	q->arg = arg;
	kw_put_i16(q->out, -1); /* transactional_id: null */
	kw_put_i16(q->out, -1); /* acks: all */
	kw_put_i32(q->out, TDM_LINK_PRODUCE_TIMEOUT_MS);
	kw_put_i32(q->out, 1);
	kw_put_str(q->out, topic);
	kw_put_i32(q->out, 1);
	kw_put_i32(q->out, partition);
	kw_put_i32(q->out, (int32_t)len);
	if (evbuffer_add(q->out, batch, len) < 0 || kw_request_end(q->out, off) < 0) {
		evbuffer_free(q->out);
		free(q);
		return -1;
	}
	push(&p->queued_tail, q);
	if (p->state == P_IDLE)
		arm(p, 0); /* connects from the loop: done never runs before this returns */
	else
		send_queued(p);
	return 0;
}

void tdm_link_get_stats(const struct tdm_link *l, struct tdm_link_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (l)
		*out = l->stats;
}
