/*
 * Queue state machine; see queue.h for the model.  A classic queue keeps
 * never-delivered entries in a ring (O(1) both ends) and returned entries in
 * a min-heap by sequence number, merged on dequeue.  A priority queue
 * (x-max-priority) keeps everything in the heap ordered by (priority,
 * sequence).  TTL deadlines are checked where a message leaves the head, as
 * RabbitMQ does, and by the broker's periodic tick.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/broker.h"
#include "core/durable.h"
#include "core/quorum.h"
#include "core/remote.h"
#include "core/stream.h"
#include "util/invariant.h"

uint64_t tdm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct tdm_queue *tdm_queue_new(struct tdm_vhost *vh, const char *name, size_t name_len)
{
	struct tdm_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->name = malloc(name_len + 1);
	if (!q->name) {
		free(q);
		return NULL;
	}
	memcpy(q->name, name, name_len);
	q->name[name_len] = '\0';
	q->name_len = (uint8_t)name_len;
	q->dest.kind = TDM_DEST_QUEUE;
	q->max_length = q->max_length_bytes = -1;
	q->message_ttl = q->expires_ms = -1;
	q->delivered_mark = TDM_NO_JOURNAL;
	q->vhost = vh;
	q->refcnt = 1;
	return q;
}

void tdm_queue_settings_init(struct tdm_queue_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->max_length = s->max_length_bytes = s->message_ttl = s->expires = -1;
	s->overflow = TDM_OVERFLOW_DROP_HEAD;
	s->delivery_limit = -1;
}

int tdm_queue_apply(struct tdm_queue *q, const struct tdm_queue_settings *s)
{
	q->max_length = s->max_length;
	q->max_length_bytes = s->max_length_bytes;
	q->overflow = s->overflow;
	q->message_ttl = s->message_ttl;
	q->expires_ms = s->expires;
	q->max_priority = s->max_priority;
	q->single_active = s->single_active;
	if ((s->dlx && !(q->dlx = strndup(s->dlx, s->dlx_len))) ||
	    (s->dlrk && !(q->dlrk = strndup(s->dlrk, s->dlrk_len))))
		return -1;
	if (q->message_ttl >= 0 || q->expires_ms >= 0)
		tdm_queue_set_timed(q);
	if (s->stream && tdm_stream_attach(q, s->stream) < 0)
		return -1;
	if (s->quorum &&
	    tdm_quorum_attach(q, s->group_size, s->delivery_limit, s->quorum_propose) < 0)
		return -1;
	return 0;
}

void tdm_queue_ref(struct tdm_queue *q)
{
	TDM_ASSERT(q->refcnt > 0 && q->refcnt < UINT32_MAX); /* live, and no wrap */
	q->refcnt++;
}

/* A quorum queue served here: its commands go to its log (core/quorum.h). */
static int quorum_here(const struct tdm_queue *q)
{
	return q->quorum && !q->remote;
}

/* m leaves a durable queue for good: the journal records it (ack). */
static void released(struct tdm_queue *q, const struct tdm_message *m)
{
	struct tdm_durable *d = q->vhost->broker->durable;
	if (q->qid && !q->quorum && m->persistent && m->journal_off != TDM_NO_JOURNAL && d)
		tdm_durable_release(d, q, m->journal_off);
}

/* A paged-out entry leaves without being read back. */
static void drop_paged(struct tdm_queue *q, const struct tdm_qentry *e)
{
	struct tdm_durable *d = q->vhost->broker->durable;
	if (!d)
		return;
	if (e->paged_own)
		tdm_durable_unlive(d, e->paged_off);
	else if (e->paged_durable)
		tdm_durable_release(d, q, e->paged_off);
}

/*
 * Paging: once a queue holds more than queue_memory_window bytes of ready
 * messages, further ones keep only their place (an entry) in memory; the
 * message waits in the journal (already there when persistent and durable,
 * else written as a page record) and is read back when it reaches the head.
 * Priority queues keep everything resident.
 */
static int page_out(struct tdm_queue *q, struct tdm_qentry *e)
{
	struct tdm_broker *b = q->vhost->broker;
	struct tdm_durable *d = b->durable;
	struct tdm_message *m = e->msg;
	if (!d || q->max_priority || q->quorum || !b->page_window ||
	    q->resident_bytes + tdm_message_size(m) <= b->page_window)
		return 0;
	if (m->journal_off == TDM_NO_JOURNAL && tdm_durable_page(d, m) < 0)
		return 0;
	int covered = q->qid && m->persistent; /* its journal record counts this copy */
	if (!covered)
		tdm_durable_stored(d, m->journal_off);
	e->paged_off = m->journal_off;
	e->paged_len = (uint32_t)m->body_len;
	e->paged_own = (uint8_t)!covered;
	e->paged_durable = (uint8_t)covered;
	e->msg = NULL;
	return 1;
}

/* Reads a paged-out entry's message back (NULL if the journal fails us). */
static int page_in(struct tdm_queue *q, struct tdm_qentry *e)
{
	struct tdm_durable *d = q->vhost->broker->durable;
	e->msg = d ? tdm_durable_load(d, e->paged_off) : NULL;
	if (!e->msg) {
		drop_paged(q, e);
		return 0;
	}
	if (e->paged_own)
		tdm_durable_unlive(d, e->paged_off);
	return 1;
}

/* Drops one ready or unacked message of q. */
static void drop(struct tdm_queue *q, struct tdm_message *m)
{
	released(q, m);
	tdm_message_unref(m);
}

static void drop_entry(struct tdm_queue *q, const struct tdm_qentry *e)
{
	if (e->msg)
		drop(q, e->msg);
	else
		drop_paged(q, e);
}

static void drop_ready(struct tdm_queue *q)
{
	for (size_t i = 0; i < q->ring_len; i++)
		drop_entry(q, &q->ring[(q->ring_head + i) % q->ring_cap]);
	for (size_t i = 0; i < q->heap_len; i++)
		drop_entry(q, &q->heap[i]);
	q->ring_len = q->ring_head = 0;
	q->heap_len = 0;
	q->ready_bytes = q->resident_bytes = 0;
}

void tdm_queue_unref(struct tdm_queue *q)
{
	TDM_ASSERT(q->refcnt > 0); /* an unref more than there were refs */
	if (--q->refcnt > 0)
		return;
	drop_ready(q);
	tdm_stream_free(q);
	tdm_quorum_free(q);
	free(q->ring);
	free(q->heap);
	free(q->arguments);
	free(q->dlx);
	free(q->dlrk);
	free(q->name);
	free(q);
}

/* ---- storage: ring and heap ---------------------------------------------- */

/* Moves the ring into a new array of ncap entries, head first. */
static int ring_resize(struct tdm_queue *q, size_t ncap)
{
	TDM_ASSERT(ncap >= q->ring_len && q->ring_len <= q->ring_cap);
	struct tdm_qentry *n = malloc(ncap * sizeof(*n));
	if (!n)
		return -1;
	for (size_t i = 0; i < q->ring_len; i++)
		n[i] = q->ring[(q->ring_head + i) % q->ring_cap];
	free(q->ring);
	q->ring = n;
	q->ring_cap = ncap;
	q->ring_head = 0;
	return 0;
}

static int ring_grow(struct tdm_queue *q)
{
	return ring_resize(q, q->ring_cap ? q->ring_cap * 2 : 16);
}

/* Shrinks a mostly empty ring so a drained backlog gives its memory back. */
static void ring_maybe_shrink(struct tdm_queue *q)
{
	if (q->ring_cap > 1024 && q->ring_len * 8 <= q->ring_cap)
		ring_resize(q, q->ring_cap / 4);
}

static unsigned prio(const struct tdm_queue *q, const struct tdm_qentry *e)
{
	return e->msg->priority < q->max_priority ? e->msg->priority : q->max_priority;
}

/* Heap order: higher priority first (priority queues), then older first. */
static int before(const struct tdm_queue *q, const struct tdm_qentry *a, const struct tdm_qentry *b)
{
	if (q->max_priority && prio(q, a) != prio(q, b))
		return prio(q, a) > prio(q, b);
	return a->seq < b->seq;
}

static void heap_swap(struct tdm_qentry *a, struct tdm_qentry *b)
{
	struct tdm_qentry t = *a;
	*a = *b;
	*b = t;
}

static int heap_push(struct tdm_queue *q, struct tdm_qentry e)
{
	if (q->heap_len == q->heap_cap) {
		size_t ncap = q->heap_cap ? q->heap_cap * 2 : 16;
		struct tdm_qentry *n = realloc(q->heap, ncap * sizeof(*n));
		if (!n)
			return -1;
		q->heap = n;
		q->heap_cap = ncap;
	}
	size_t i = q->heap_len++;
	q->heap[i] = e;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(q, &q->heap[i], &q->heap[p]))
			break;
		heap_swap(&q->heap[p], &q->heap[i]);
		i = p;
	}
	return 0;
}

static struct tdm_qentry heap_pop(struct tdm_queue *q)
{
	TDM_ASSERT(q->heap_len > 0 && q->heap_len <= q->heap_cap);
	struct tdm_qentry top = q->heap[0];
	q->heap[0] = q->heap[--q->heap_len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->heap_len && before(q, &q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->heap_len && before(q, &q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(&q->heap[m], &q->heap[i]);
		i = m;
	}
	return top;
}

/* The entry that leaves next, without removing it; NULL when empty. */
static const struct tdm_qentry *peek_ready(const struct tdm_queue *q)
{
	TDM_ASSERT(q->ring_len <= q->ring_cap && (!q->ring_len || q->ring_head < q->ring_cap));
	const struct tdm_qentry *r = q->ring_len ? &q->ring[q->ring_head] : NULL;
	if (q->heap_len && (!r || before(q, &q->heap[0], r)))
		return &q->heap[0];
	return r;
}

/* Removes the next ready entry (requeued ones first when older), reading
 * it back from the journal if it was paged out. */
static int take_ready(struct tdm_queue *q, struct tdm_qentry *out)
{
	for (;;) {
		const struct tdm_qentry *next = peek_ready(q);
		if (!next)
			return 0;
		if (!q->heap_len || next != &q->heap[0]) {
			TDM_ASSERT(q->ring_len > 0 && q->ring_len <= q->ring_cap &&
				   q->ring_head < q->ring_cap);
			*out = q->ring[q->ring_head];
			q->ring_head = (q->ring_head + 1) % q->ring_cap;
			q->ring_len--;
			ring_maybe_shrink(q);
		} else {
			*out = heap_pop(q);
		}
		if (out->msg) {
			q->ready_bytes -= out->msg->body_len;
			q->resident_bytes -= tdm_message_size(out->msg);
			return 1;
		}
		q->ready_bytes -= out->paged_len;
		if (page_in(q, out))
			return 1;
	}
}

/* Accounts a resident message that became ready. */
static void count_ready(struct tdm_queue *q, const struct tdm_message *m)
{
	q->ready_bytes += m->body_len;
	q->resident_bytes += tdm_message_size(m);
}

static int store_ready(struct tdm_queue *q, struct tdm_qentry e)
{
	if (q->max_priority || e.redelivered)
		return heap_push(q, e);
	if (q->ring_len == q->ring_cap && ring_grow(q) < 0)
		return -1;
	TDM_ASSERT(q->ring_len < q->ring_cap && q->ring_head < q->ring_cap);
	q->ring[(q->ring_head + q->ring_len) % q->ring_cap] = e;
	q->ring_len++;
	return 0;
}

/* Stores a new entry for m (taking a reference unless it is paged out). */
static int store_entry(struct tdm_queue *q, struct tdm_qentry e)
{
	struct tdm_message *m = e.msg;
	int paged = page_out(q, &e);
	if (store_ready(q, e) < 0) {
		if (paged)
			drop_paged(q, &e);
		return -1;
	}
	if (paged) {
		q->ready_bytes += e.paged_len;
		return 0;
	}
	tdm_message_ref(m);
	count_ready(q, m);
	return 0;
}

/* ---- publishing, limits, TTL ------------------------------------------------ */

static int over_limit(const struct tdm_queue *q, uint64_t extra_msgs, uint64_t extra_bytes)
{
	return (q->max_length >= 0 && tdm_queue_ready(q) + extra_msgs > (uint64_t)q->max_length) ||
	       (q->max_length_bytes >= 0 &&
		q->ready_bytes + extra_bytes > (uint64_t)q->max_length_bytes);
}

void tdm_queue_dead_letter(struct tdm_queue *q, struct tdm_message *m, enum tdm_dl_reason why)
{
	struct tdm_broker *b = q->vhost->broker;
	if (q->dlx && b->dead_letter)
		b->dead_letter(b->dead_letter_ctx, q, m, why);
}

/* The deadline of m in q, or 0; sets *now lazily (clock reads cost). */
static uint64_t deadline(struct tdm_queue *q, const struct tdm_message *m, uint64_t *now)
{
	int64_t ttl = q->message_ttl;
	if (m->ttl_ms >= 0 && (ttl < 0 || m->ttl_ms < ttl))
		ttl = m->ttl_ms;
	if (ttl < 0)
		return 0;
	if (!*now)
		*now = tdm_now_ms();
	return *now + (uint64_t)ttl + 1; /* +1: a TTL of 0 lives until the next ms */
}

static int would_deliver_now(struct tdm_queue *q);

/* limit * 0.8, truncated (without overflowing int64) */
static uint64_t soft_limit(int64_t limit)
{
	return (uint64_t)(limit / 10 * 8 + limit % 10 * 8 / 10);
}

/* A quorum queue with reject-publish, as RabbitMQ 3.10's (rabbit_fifo)
 * does it: a publish is taken while the queue is not over its limit (so
 * it may hold one message more than x-max-length); once over, publishes
 * are refused until the ready messages are down to 80% of the limit. */
static int quorum_full(const struct tdm_queue *q)
{
	if (over_limit(q, 0, 0))
		return 1;
	if (!q->full)
		return 0;
	return (q->max_length >= 0 && tdm_queue_ready(q) > soft_limit(q->max_length)) ||
	       (q->max_length_bytes >= 0 && q->ready_bytes > soft_limit(q->max_length_bytes));
}

int tdm_queue_would_reject(const struct tdm_queue *q, const struct tdm_message *m)
{
	if (q->quorum && q->overflow == TDM_OVERFLOW_REJECT_PUBLISH)
		return quorum_full(q);
	return q->overflow != TDM_OVERFLOW_DROP_HEAD && over_limit(q, 1, m->body_len);
}

/* An entry left q for good (dropped by a limit, expired, purged): a
 * quorum queue's log records it. */
static void left(struct tdm_queue *q, uint64_t seq)
{
	if (quorum_here(q))
		tdm_quorum_gone(q, seq);
}

int tdm_queue_push(struct tdm_queue *q, struct tdm_message *m)
{
	return tdm_queue_push_at(q, m, q->next_seq++);
}

int tdm_queue_push_at(struct tdm_queue *q, struct tdm_message *m, uint64_t seq)
{
	if (tdm_queue_would_reject(q, m)) {
		if (q->overflow == TDM_OVERFLOW_REJECT_PUBLISH_DLX)
			tdm_queue_dead_letter(q, m, TDM_DL_MAXLEN);
		return TDM_QUEUE_REJECTED;
	}
	uint64_t now = 0;
	struct tdm_qentry e = { .msg = m, .seq = seq, .expires_at = deadline(q, m, &now) };
	if (e.expires_at && e.expires_at == now + 1 && !would_deliver_now(q)) {
		/* TTL 0: expires at once unless a consumer takes it right away */
		tdm_queue_dead_letter(q, m, TDM_DL_EXPIRED);
		left(q, seq);
		return TDM_QUEUE_DROPPED;
	}
	if (store_entry(q, e) < 0)
		return -1;
	if (e.expires_at)
		tdm_queue_set_timed(q);
	q->stat_published++;
	if (q->quorum && q->overflow == TDM_OVERFLOW_REJECT_PUBLISH) {
		q->full = (uint8_t)over_limit(q, 0, 0); /* may be one over: see quorum_full */
		if (q->nconsumers)
			tdm_queue_kick(q);
		return 0;
	}
	while (over_limit(q, 0, 0)) { /* drop-head: the oldest ready messages go */
		struct tdm_qentry old;
		take_ready(q, &old);
		tdm_queue_dead_letter(q, old.msg, TDM_DL_MAXLEN);
		left(q, old.seq);
		drop(q, old.msg);
	}
	if (q->nconsumers)
		tdm_queue_kick(q);
	return 0;
}

void tdm_queue_expire(struct tdm_queue *q, uint64_t now)
{
	const struct tdm_qentry *h;
	while ((h = peek_ready(q)) && h->expires_at && h->expires_at <= now) {
		struct tdm_qentry e;
		take_ready(q, &e);
		tdm_queue_dead_letter(q, e.msg, TDM_DL_EXPIRED);
		left(q, e.seq);
		drop(q, e.msg);
	}
}

/* Takes the next live entry: expired heads are dead-lettered on the way. */
static int take_live(struct tdm_queue *q, struct tdm_qentry *out)
{
	const struct tdm_qentry *h = peek_ready(q);
	if (h && h->expires_at)
		tdm_queue_expire(q, tdm_now_ms());
	return take_ready(q, out);
}

int tdm_queue_pop(struct tdm_queue *q, struct tdm_qentry *out)
{
	if (!take_live(q, out))
		return 0;
	q->unacked++;
	q->stat_delivered++;
	if (quorum_here(q))
		tdm_quorum_out(q, out->seq);
	if (q->qid && out->msg->journal_off != TDM_NO_JOURNAL && q->vhost->broker->durable)
		tdm_durable_delivered(q->vhost->broker->durable, q, out->msg->journal_off);
	return 1;
}

int tdm_queue_push_entry(struct tdm_queue *q, struct tdm_message *m, uint64_t seq,
			 int redelivered)
{
	struct tdm_qentry e = { .msg = m, .seq = seq, .redelivered = (uint8_t)!!redelivered };
	if (store_ready(q, e) < 0)
		return -1;
	tdm_message_ref(m);
	count_ready(q, m);
	tdm_queue_kick(q);
	return 0;
}

int tdm_queue_restore(struct tdm_queue *q, struct tdm_message *m, int redelivered)
{
	uint64_t now = 0;
	struct tdm_qentry e = { .msg = m, .seq = q->next_seq++, .expires_at = deadline(q, m, &now),
				.redelivered = (uint8_t)!!redelivered };
	if (store_entry(q, e) < 0)
		return -1;
	if (e.expires_at)
		tdm_queue_set_timed(q);
	return 0;
}

/* A quorum queue's entry handed out by an earlier role of this node: the
 * log has it, the message ref goes.  1 when e was one. */
static int stale(struct tdm_queue *q, const struct tdm_qentry *e)
{
	if (!quorum_here(q) || tdm_quorum_known(q, e->seq))
		return 0;
	tdm_message_unref(e->msg);
	return 1;
}

void tdm_queue_requeue(struct tdm_queue *q, struct tdm_qentry e)
{
	if (q->remote) { /* the home keeps it */
		tdm_remote_settle(q, e, TDM_REMOTE_REQUEUE);
		return;
	}
	if (stale(q, &e))
		return;
	q->unacked--;
	e.redelivered = 1;
	if (quorum_here(q) && !q->deleted && tdm_quorum_returned(q, e.seq)) {
		/* past x-delivery-limit: dead-lettered, settled */
		tdm_queue_dead_letter(q, e.msg, TDM_DL_DELIVERY_LIMIT);
		drop(q, e.msg);
		return;
	}
	if (q->deleted || q->stream || heap_push(q, e) < 0) {
		drop(q, e.msg); /* nowhere to keep it; a stream keeps it in its log */
		return;
	}
	count_ready(q, e.msg);
	if (q->nconsumers)
		tdm_queue_kick(q);
}

void tdm_queue_settle(struct tdm_queue *q, struct tdm_qentry e)
{
	if (q->remote) {
		tdm_remote_settle(q, e, TDM_REMOTE_ACK);
		return;
	}
	if (stale(q, &e))
		return;
	q->unacked--;
	q->stat_acked++;
	left(q, e.seq);
	drop(q, e.msg);
}

void tdm_queue_reject(struct tdm_queue *q, struct tdm_qentry e)
{
	if (q->remote) { /* the home dead-letters it */
		tdm_remote_settle(q, e, TDM_REMOTE_REJECT);
		return;
	}
	if (stale(q, &e))
		return;
	if (!q->deleted)
		tdm_queue_dead_letter(q, e.msg, TDM_DL_REJECTED);
	tdm_queue_settle(q, e);
}

uint64_t tdm_queue_purge(struct tdm_queue *q)
{
	uint64_t n = tdm_queue_ready(q);
	if (quorum_here(q)) { /* the log records each one */
		for (size_t i = 0; i < q->ring_len; i++)
			tdm_quorum_gone(q, q->ring[(q->ring_head + i) % q->ring_cap].seq);
		for (size_t i = 0; i < q->heap_len; i++)
			tdm_quorum_gone(q, q->heap[i].seq);
	}
	drop_ready(q);
	return n;
}

void tdm_queue_clear(struct tdm_queue *q)
{
	drop_ready(q);
	q->unacked = 0;
}

/* ---- consumers -------------------------------------------------------------- */

void tdm_queue_attach(struct tdm_queue *q, struct tdm_consumer *c)
{
	tdm_queue_ref(q);
	c->queue = q;
	if (!q->consumers) {
		c->prev = c->next = c;
		q->consumers = c;
	} else { /* insert before the current head: served last in this round */
		struct tdm_consumer *h = q->consumers;
		c->next = h;
		c->prev = h->prev;
		h->prev->next = c;
		h->prev = c;
	}
	q->nconsumers++;
	if (c->priority)
		q->prio_consumers++;
	q->had_consumer = 1;
	if (q->remote)
		tdm_remote_attached(q, c); /* the home pushes to it */
	tdm_queue_kick(q);
}

void tdm_queue_detach(struct tdm_queue *q, struct tdm_consumer *c)
{
	if (c->next == c) {
		q->consumers = NULL;
	} else {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		if (q->consumers == c)
			q->consumers = c->next;
	}
	c->prev = c->next = NULL;
	c->queue = NULL;
	tdm_stream_unsubscribe(c);
	q->nconsumers--;
	if (c->priority)
		q->prio_consumers--;
	q->last_used = tdm_now_ms();
	if (q->remote)
		tdm_remote_detached(q, c);
	if (q->nconsumers)
		tdm_queue_kick(q); /* a single active consumer's successor takes over */
	tdm_queue_unref(q);
}

void tdm_queue_kick(struct tdm_queue *q)
{
	if (!q->dirty && !q->deleted)
		tdm_broker_mark_dirty(q);
}

/*
 * The consumer to serve next, or NULL when none can take a message:
 * single active consumer: only the oldest; with consumer priorities: the
 * highest priority that can take, least recently served among equals;
 * otherwise round-robin from the cursor.
 */
static struct tdm_consumer *next_ready(struct tdm_queue *q)
{
	struct tdm_consumer *c = q->consumers;
	if (q->single_active)
		return c->ops->can_take(c) ? c : NULL;
	if (q->prio_consumers) {
		struct tdm_consumer *best = NULL;
		for (uint32_t i = 0; i < q->nconsumers; i++, c = c->next)
			if ((!best || c->priority > best->priority ||
			     (c->priority == best->priority && c->served < best->served)) &&
			    c->ops->can_take(c))
				best = c;
		return best;
	}
	for (uint32_t i = 0; i < q->nconsumers; i++, c = c->next)
		if (c->ops->can_take(c))
			return c;
	return NULL;
}

static int would_deliver_now(struct tdm_queue *q)
{
	return q->nconsumers && tdm_queue_ready(q) == 0 && next_ready(q) != NULL;
}

int tdm_queue_dispatch(struct tdm_queue *q, unsigned budget)
{
	if (q->stream)
		return q->deleted ? 0 : tdm_stream_dispatch(q, budget);
	if (q->quorum)
		tdm_quorum_flush(q); /* the settles and returns of this turn, as one record each */
	while (tdm_queue_ready(q) && q->nconsumers && !q->deleted) {
		if (budget-- == 0)
			return 1;
		struct tdm_consumer *c = next_ready(q);
		if (!c)
			return 0;
		struct tdm_qentry e;
		if (!tdm_queue_pop(q, &e))
			return 0; /* everything left had expired */
		if (!q->single_active && !q->prio_consumers)
			q->consumers = c->next;
		c->served = ++q->serve_clock;
		c->ops->deliver(c, q, e);
	}
	return 0;
}

void tdm_queue_kill(struct tdm_queue *q)
{
	q->deleted = 1;
	drop_ready(q);
	while (q->consumers) {
		struct tdm_consumer *c = q->consumers;
		tdm_queue_ref(q);
		tdm_queue_detach(q, c);
		c->ops->queue_gone(c);
		tdm_queue_unref(q);
	}
}
