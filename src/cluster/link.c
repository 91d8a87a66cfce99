/*
 * The cluster link, client side (see link.h).  One struct peer per node
 * asked: its connection, its requests queued until the connection is
 * authenticated, and those in flight in the order they were written
 * (Kafka answers a connection's requests in order, so the oldest in
 * flight is the one a response answers; its correlation id is checked).
 *
 * Records to produce gather per peer and partition (struct lpart), as in
 * Kafka's producer (RecordAccumulator, linger.ms, max.in.flight): one
 * event made active by the first record of a loop turn runs after the
 * callbacks already active in that turn and cuts what gathered into
 * batches of at most LINK_BATCH_RECORDS records and LINK_BATCH_BYTES
 * bytes, each one Produce, while the partition has fewer than
 * LINK_INFLIGHT of them queued or in flight; the rest keeps gathering
 * until an answer frees a slot.  A Produce keeps its records (their done)
 * and answers each of them, in order, with its one answer.
 *
 * A transaction marker is one WriteTxnMarkers v0 request of its own,
 * queued on the peer at once (nothing to gather: a coordinator ends a
 * transaction once), answered through its own done.
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

enum { KW_PRODUCE = 0, KW_WRITE_TXN_MARKERS = 27 }; /* and kwire.h's KW_SASL_* */
#define RESPONSE_MAX (1u << 20) /* Produce, WriteTxnMarkers and SASL answers are small */
#define LINK_BATCH_RECORDS 500  /* records in one Produce, at most */
/* and their bytes, about (rec_copy's estimate, never below what they
 * take): under Kafka's default max.message.bytes (1 MiB + 12) with the
 * batch header, for a stream queue that is a view of a Kafka topic.
 * Kafka's batch.size is 16 KiB; a forwarded publish is one AMQP message,
 * often larger. */
#define LINK_BATCH_BYTES ((1u << 20) - 4096)
/*
 * Produces of one partition queued or in flight, at most.  The leader
 * handles one acks=all Produce of a connection at a time (it reads the
 * next once it has answered), so a second one is all the pipeline needs:
 * it waits in the leader's socket while the first waits for the
 * followers, and starts the moment the first is answered, not a link
 * round trip later; while both are out the next batch gathers.  Measured
 * (tandem-perf, RF 3, 100 B, confirms 1000, one publisher on a follower):
 * 1 in flight about 10,500 msg/s, 2 about 55,000-70,000, 4 no better
 * (61,000-63,000) with twice the requests for the same records.
 */
#define LINK_INFLIGHT 2

/* A record to produce: a copy of what tdm_link_produce was given, and
 * whom to tell. */
struct lrec {
	struct lrec *next;
	tdm_replica_done_fn done;
	void *arg;
	size_t bytes;          /* about what it adds to a batch */
	struct tdm_record rec; /* points into this allocation */
};

/* One partition of one peer: records gathering, Produces out. */
struct lpart {
	struct lpart *next;
	char *topic; /* owned */
	int32_t partition;
	struct lrec *pending, **pending_tail; /* not in a Produce yet, oldest first */
	int inflight;                         /* its Produces queued or in flight */
};

struct lreq {
	struct lreq *next;
	int32_t corr;
	int16_t api; /* KW_PRODUCE, KW_WRITE_TXN_MARKERS, or a SASL step */
	int64_t deadline_ms;
	struct evbuffer *out; /* the encoded request until written */
	struct lpart *part;   /* KW_PRODUCE: the partition (lives while inflight) */
	struct lrec *recs;    /* KW_PRODUCE: the records it carries, in order (owned) */
	size_t nrecs;
	/* KW_WRITE_TXN_MARKERS: whom to tell, and what the answer must name */
	tdm_replica_done_fn done;
	void *arg;
	char *topic; /* owned */
	int32_t partition;
	int64_t producer_id;
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
	struct lpart *parts;                  /* partitions with records pending or out */
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
	struct event *flush; /* made active when records gather */
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
	case 47: /* INVALID_PRODUCER_EPOCH */
	case 90: /* PRODUCER_FENCED */
		return TDM_ERR_PRODUCER_FENCED;
	case 56:
		return TDM_ERR_IO;
	case 87:
		return TDM_ERR_INVALID_RECORD;
	default:
		return TDM_REPL_NO_CLUSTER;
	}
}

/* ---- requests ------------------------------------------------------------ */

/* Tells recs (a chain, freed) rc and msg, in order. */
static void recs_finish(struct tdm_link *l, struct lrec *recs, int rc, const char *msg)
{
	while (recs) {
		struct lrec *r = recs;
		recs = r->next;
		if (rc == TDM_REPL_OK)
			l->stats.ok++;
		else
			l->stats.failed++;
		r->done(r->arg, rc, msg);
		free(r);
	}
}

static void req_finish(struct tdm_link *l, struct lreq *q, int rc, const char *msg)
{
	if (q->api == KW_PRODUCE) {
		/* a slot is free: what gathered meanwhile goes at the end of
		 * this loop turn (the part is swept there when idle) */
		q->part->inflight--;
		event_active(l->flush, EV_TIMEOUT, 0);
		recs_finish(l, q->recs, rc, msg);
	} else if (q->api == KW_WRITE_TXN_MARKERS) {
		q->done(q->arg, rc, msg ? msg : "");
		free(q->topic);
	}
	if (q->out)
		evbuffer_free(q->out);
	free(q);
}

/* A request of api, empty, or NULL. */
static struct lreq *req_alloc(struct tdm_link *l, int16_t api)
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
	return q;
}

/* A request of api with its header written (the body follows), or NULL. */
static struct lreq *req_new(struct tdm_link *l, int16_t api, int16_t version, size_t *off)
{
	struct lreq *q = req_alloc(l, api);
	if (q)
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
	if (q->api == KW_PRODUCE) {
		p->l->stats.sent++;
		p->l->stats.records += q->nrecs;
	} else if (q->api == KW_WRITE_TXN_MARKERS) {
		p->l->stats.markers++;
	}
	return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void arm(struct peer *p, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(p->timer, &tv);
}

/* The connection is gone (or never came): every request fails with why,
 * and so does every record gathering for p (it would have been queued on
 * this connection, after them). */
static void peer_lost(struct peer *p, const char *why)
{
	struct tdm_link *l = p->l;
	char msg[200];
	struct lreq *q, *flight, *queued;
	struct lrec *pending = NULL, **ptail = &pending;
	struct lpart *pp;

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
	/* taken off p first: a done may produce again, to a connection to come */
	flight = p->flight;
	queued = p->queued;
	p->flight = p->queued = NULL;
	p->flight_tail = &p->flight;
	p->queued_tail = &p->queued;
	for (pp = p->parts; pp; pp = pp->next) {
		if (!pp->pending)
			continue;
		*ptail = pp->pending;
		ptail = pp->pending_tail;
		pp->pending = NULL;
		pp->pending_tail = &pp->pending;
	}
	while ((q = flight)) {
		flight = q->next;
		req_finish(l, q, TDM_REPL_NO_CLUSTER, msg);
	}
	while ((q = queued)) {
		queued = q->next;
		req_finish(l, q, TDM_REPL_NO_CLUSTER, msg);
	}
	recs_finish(l, pending, TDM_REPL_NO_CLUSTER, msg);
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

/* SASL step api (kwire.h: the handshake, then on its answer the
 * authentication with the secret). */
static int send_sasl(struct peer *p, int16_t api)
{
	struct tdm_link *l = p->l;
	struct lreq *q = req_alloc(l, api);
	if (!q)
		return -1;
	if (kw_sasl_request(q->out, api, q->corr, l->client_id, TDM_CLUSTER_LINK_USER, l->secret,
			    l->secret_len) < 0 ||
	    write_req(p, q) < 0) {
		req_finish(l, q, 0, NULL);
		return -1;
	}
	return 0;
}

/* The answer to a SASL step: 0 to go on, -1 with why. */
static int on_sasl(struct peer *p, struct lreq *q, struct kw_cur *c, const char **why)
{
	int rc = kw_sasl_answer(c, q->api, why);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return send_sasl(p, KW_SASL_AUTHENTICATE) < 0 ? (*why = "write failed", -1) : 0;
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

int tdm_link_marker_answer(const void *body, size_t len, int64_t producer_id, const char *topic,
			   int32_t partition, int16_t *kafka_error)
{
	struct kw_cur c;
	size_t tlen = strlen(topic);
	int found = 0;

	kw_cur_init(&c, body, len);
	int32_t nm = kw_get_array(&c, 12);
	for (int32_t i = 0; i < nm && !c.bad; i++) {
		int64_t pid = kw_get_i64(&c);
		int32_t nt = kw_get_array(&c, 6);
		for (int32_t j = 0; j < nt && !c.bad; j++) {
			const char *name;
			int32_t nlen = kw_get_str(&c, &name);
			int same = pid == producer_id && name && nlen == (int32_t)tlen &&
				   memcmp(name, topic, tlen) == 0;
			int32_t np = kw_get_array(&c, 6);
			for (int32_t k = 0; k < np && !c.bad; k++) {
				int32_t idx = kw_get_i32(&c);
				int16_t err = kw_get_i16(&c);
				if (same && idx == partition && !c.bad && !found) {
					*kafka_error = err;
					found = 1;
				}
			}
		}
	}
	return c.bad || c.p != c.end || !found ? -1 : 0;
}

/* WriteTxnMarkers v0 answer: the one marker's one partition asked. */
static void on_marker(struct peer *p, struct lreq *q, struct kw_cur *c)
{
	char msg[200] = "";
	int16_t err = 0;
	int bad = tdm_link_marker_answer(c->p, (size_t)(c->end - c->p), q->producer_id, q->topic,
					 q->partition, &err) < 0;
	int rc = bad ? TDM_REPL_NO_CLUSTER : tdm_link_produce_error(err);

	if (bad)
		snprintf(msg, sizeof(msg), "node %d answered the transaction marker unparsably",
			 (int)p->node);
	else if (rc == TDM_REPL_NO_CLUSTER)
		snprintf(msg, sizeof(msg), "node %d refused the transaction marker: Kafka error %d",
			 (int)p->node, (int)err);
	else if (rc != TDM_REPL_OK)
		snprintf(msg, sizeof(msg), "node %d refused the transaction marker: %s",
			 (int)p->node, tdm_replica_strerror(rc));
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
		} else if (q->api == KW_WRITE_TXN_MARKERS) {
			on_marker(p, q, &c);
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
		if (send_sasl(p, KW_SASL_HANDSHAKE) < 0)
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

/* ---- gathering ------------------------------------------------------------ */

/* topic/partition's part of p, made (at the end of the list: flush_cb may
 * be walking it when a done produces again) when there is none. */
static struct lpart *part_get(struct peer *p, const char *topic, int32_t partition)
{
	struct lpart *pp, **end = &p->parts;
	for (; (pp = *end); end = &pp->next)
		if (pp->partition == partition && strcmp(pp->topic, topic) == 0)
			return pp;
	if (!(pp = calloc(1, sizeof(*pp))) || !(pp->topic = strdup(topic))) {
		free(pp);
		return NULL;
	}
	pp->partition = partition;
	pp->pending_tail = &pp->pending;
	*end = pp;
	return pp;
}

/* A copy of rec (its bytes in the same allocation), or NULL. */
static struct lrec *rec_copy(const struct tdm_record *rec, tdm_replica_done_fn done, void *arg)
{
	size_t data = rec->key_len + rec->value_len, i;
	for (i = 0; i < rec->header_count; i++)
		data += rec->headers[i].key_len + rec->headers[i].value_len;
	size_t hdrs = rec->header_count * sizeof(struct tdm_header);
	struct lrec *r = malloc(sizeof(*r) + hdrs + data);
	if (!r)
		return NULL;
	struct tdm_header *h = (struct tdm_header *)(r + 1);
	char *d = (char *)h + hdrs;
	r->next = NULL;
	r->done = done;
	r->arg = arg;
	r->rec = *rec;
	r->rec.headers = rec->header_count ? h : NULL;
	if (rec->key) {
		memcpy(d, rec->key, rec->key_len);
		r->rec.key = d;
		d += rec->key_len;
	}
	if (rec->value) {
		memcpy(d, rec->value, rec->value_len);
		r->rec.value = d;
		d += rec->value_len;
	}
	for (i = 0; i < rec->header_count; i++) {
		const struct tdm_header *from = &rec->headers[i];
		h[i] = *from;
		memcpy(d, from->key, from->key_len);
		h[i].key = d;
		d += from->key_len;
		if (from->value) {
			memcpy(d, from->value, from->value_len);
			h[i].value = d;
			d += from->value_len;
		}
	}
	/* a record's framing is a few varints (Kafka's DefaultRecord): at most
	 * 29 bytes, and 10 a header */
	r->bytes = data + 32 + 10 * rec->header_count;
	return r;
}

/*
 * The oldest records pending on pp, up to the caps (one at least), as one
 * Produce queued on p.  A batch that cannot be built fails its records
 * (too large, or out of memory).
 */
static void part_send(struct peer *p, struct lpart *pp)
{
	struct tdm_link *l = p->l;
	struct lrec *recs = pp->pending, *r, *last = NULL;
	struct tdm_record *arr = NULL;
	struct lreq *q = NULL;
	size_t n = 0, bytes = 0, off, len = 0;
	void *batch = NULL;
	char msg[160];
	int rc = TDM_ERR_NOMEM;

	for (r = recs; r && n < LINK_BATCH_RECORDS; last = r, r = r->next) {
		if (n && bytes + r->bytes > LINK_BATCH_BYTES)
			break;
		bytes += r->bytes;
		n++;
	}
	last->next = NULL; /* recs..last leave the pending list */
	if (!(pp->pending = r))
		pp->pending_tail = &pp->pending;
	if (!(arr = malloc(n * sizeof(*arr))))
		goto fail;
	for (n = 0, r = recs; r; r = r->next)
		arr[n++] = r->rec;
	if ((rc = tdm_replica_forward_batch(arr, n, &batch, &len)) != 0)
		goto fail;
	rc = TDM_ERR_NOMEM;
	if (!(q = req_new(l, KW_PRODUCE, 3, &off)))
		goto fail;
	kw_put_i16(q->out, -1); /* transactional_id: null */
	kw_put_i16(q->out, -1); /* acks: all */
	kw_put_i32(q->out, TDM_LINK_PRODUCE_TIMEOUT_MS);
	kw_put_i32(q->out, 1);
	kw_put_str(q->out, pp->topic);
	kw_put_i32(q->out, 1);
	kw_put_i32(q->out, pp->partition);
	kw_put_i32(q->out, (int32_t)len);
	if (evbuffer_add(q->out, batch, len) < 0 || kw_request_end(q->out, off) < 0)
		goto fail;
	q->part = pp;
	q->recs = recs;
	q->nrecs = n;
	pp->inflight++;
	push(&p->queued_tail, q);
	free(arr);
	free(batch);
	return;
fail:
	if (q) {
		evbuffer_free(q->out);
		free(q);
	}
	free(arr);
	free(batch);
	snprintf(msg, sizeof(msg), "cluster link: cannot forward to node %d: %s", (int)p->node,
		 tdm_replica_strerror(rc));
	recs_finish(l, recs, rc, msg);
}

/* The end of a loop turn where records gathered, a Produce was answered
 * or a marker queued: each partition sends what it can, idle partitions
 * go, and peers with requests queued connect or write them. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_link *l = arg;
	struct peer *p;
	(void)fd, (void)what;
	for (p = l->peers; p; p = p->next) {
		struct lpart **pp = &p->parts;
		while (*pp) {
			struct lpart *x = *pp;
			while (x->pending && x->inflight < LINK_INFLIGHT)
				part_send(p, x);
			if (!x->pending && !x->inflight) {
				*pp = x->next;
				free(x->topic);
				free(x);
			} else {
				pp = &x->next;
			}
		}
		if (!p->queued)
			continue;
		if (p->state == P_IDLE)
			peer_connect(p);
		else if (p->state == P_READY)
			send_queued(p); /* else once authenticated (on_sasl) */
	}
}

/* ---- public ---------------------------------------------------------------- */

struct tdm_link *tdm_link_new(struct event_base *base, int32_t node_id, const char *secret,
			      size_t secret_len, tdm_link_resolve_fn resolve, void *ctx)
{
	struct tdm_link *l = calloc(1, sizeof(*l));
	if (!l || !(l->secret = malloc(secret_len ? secret_len : 1)) ||
	    !(l->flush = event_new(base, -1, 0, flush_cb, l))) {
		if (l)
			free(l->secret);
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
		int waiting = p->flight || p->queued;
		for (struct lpart *pp = p->parts; pp; pp = pp->next)
			waiting |= pp->pending != NULL;
		if (waiting)
			peer_lost(p, "this node is stopping"); /* their waiters are told */
		else if (p->bev)
			bufferevent_free(p->bev); /* idle: nothing to report */
		while (p->parts) {
			struct lpart *pp = p->parts;
			p->parts = pp->next;
			free(pp->topic);
			free(pp);
		}
		event_free(p->timer);
		free(p);
	}
	event_free(l->flush);
	explicit_bzero(l->secret, l->secret_len);
	free(l->secret);
	free(l);
}

int tdm_link_produce(struct tdm_link *l, int32_t node, const char *topic, int32_t partition,
		     const struct tdm_record *rec, tdm_replica_done_fn done, void *arg)
{
	struct peer *p = peer_get(l, node);
	struct lpart *pp = p ? part_get(p, topic, partition) : NULL;
	struct lrec *r = pp ? rec_copy(rec, done, arg) : NULL;
	if (!r)
		return -1; /* an empty part is swept by the next flush */
	*pp->pending_tail = r;
	pp->pending_tail = &r->next;
	event_active(l->flush, EV_TIMEOUT, 0); /* runs after this loop turn's callbacks */
	return 0;
}

int tdm_link_write_marker(struct tdm_link *l, int32_t node, const char *topic, int32_t partition,
			  const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg)
{
	struct peer *p = peer_get(l, node);
	size_t off;
	struct lreq *q = p ? req_new(l, KW_WRITE_TXN_MARKERS, 0, &off) : NULL;

	if (!q)
		return -1;
	if (!(q->topic = strdup(topic)))
		goto fail;
	kw_put_i32(q->out, 1); /* markers */
	kw_put_i64(q->out, m->producer_id);
	kw_put_i16(q->out, m->producer_epoch);
	kw_put_i8(q->out, m->commit ? 1 : 0); /* transaction_result */
	kw_put_i32(q->out, 1); /* topics */
	kw_put_str(q->out, topic);
	kw_put_i32(q->out, 1); /* partition_indexes */
	kw_put_i32(q->out, partition);
	kw_put_i32(q->out, m->coordinator_epoch);
	if (kw_request_end(q->out, off) < 0)
		goto fail;
	q->done = done;
	q->arg = arg;
	q->partition = partition;
	q->producer_id = m->producer_id;
	push(&p->queued_tail, q);
	event_active(l->flush, EV_TIMEOUT, 0); /* connects or writes at the end of this turn */
	return 0;
fail:
	free(q->topic);
	evbuffer_free(q->out);
	free(q);
	return -1;
}

void tdm_link_get_stats(const struct tdm_link *l, struct tdm_link_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (l)
		*out = l->stats;
}
