/*
 * Queue state machine; see queue.h for the model.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/queue.h"

#include <stdlib.h>
#include <string.h>

#include "core/broker.h"

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
	q->vhost = vh;
	q->refcnt = 1;
	return q;
}

void tdm_queue_ref(struct tdm_queue *q)
{
	q->refcnt++;
}

static void drop_ready(struct tdm_queue *q)
{
	for (size_t i = 0; i < q->ring_len; i++)
		tdm_message_unref(q->ring[(q->ring_head + i) % q->ring_cap].msg);
	for (size_t i = 0; i < q->heap_len; i++)
		tdm_message_unref(q->heap[i].msg);
	q->ring_len = q->ring_head = 0;
	q->heap_len = 0;
	q->ready_bytes = 0;
}

void tdm_queue_unref(struct tdm_queue *q)
{
	if (--q->refcnt > 0)
		return;
	drop_ready(q);
	free(q->ring);
	free(q->heap);
	free(q->arguments);
	free(q->name);
	free(q);
}

static int ring_grow(struct tdm_queue *q)
{
	size_t ncap = q->ring_cap ? q->ring_cap * 2 : 16;
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

/* Shrinks a mostly empty ring so a drained backlog gives its memory back. */
static void ring_maybe_shrink(struct tdm_queue *q)
{
	if (q->ring_cap <= 1024 || q->ring_len * 8 > q->ring_cap)
		return;
	size_t ncap = q->ring_cap / 4;
	struct tdm_qentry *n = malloc(ncap * sizeof(*n));
	if (!n)
		return;
	for (size_t i = 0; i < q->ring_len; i++)
		n[i] = q->ring[(q->ring_head + i) % q->ring_cap];
	free(q->ring);
	q->ring = n;
	q->ring_cap = ncap;
	q->ring_head = 0;
}

static int take_ready(struct tdm_queue *q, struct tdm_qentry *out);

static int over_limit(const struct tdm_queue *q, uint64_t extra_msgs, uint64_t extra_bytes)
{
	return (q->max_length >= 0 && tdm_queue_ready(q) + extra_msgs > (uint64_t)q->max_length) ||
	       (q->max_length_bytes >= 0 &&
		q->ready_bytes + extra_bytes > (uint64_t)q->max_length_bytes);
}

int tdm_queue_push(struct tdm_queue *q, struct tdm_message *m)
{
	if (q->overflow != TDM_OVERFLOW_DROP_HEAD && over_limit(q, 1, m->body_len))
		return TDM_QUEUE_REJECTED;
	if (q->ring_len == q->ring_cap && ring_grow(q) < 0)
		return -1;
	struct tdm_qentry e = { tdm_message_ref(m), q->next_seq++, 0 };
	q->ring[(q->ring_head + q->ring_len) % q->ring_cap] = e;
	q->ring_len++;
	q->ready_bytes += m->body_len;
	q->stat_published++;
	while (over_limit(q, 0, 0)) { /* drop-head: the oldest ready messages go */
		struct tdm_qentry old;
		take_ready(q, &old);
		tdm_message_unref(old.msg);
	}
	if (q->nconsumers)
		tdm_queue_kick(q);
	return 0;
}

static void heap_swap(struct tdm_qentry *a, struct tdm_qentry *b)
{
	struct tdm_qentry t = *a;
	*a = *b;
	*b = t;
}

static void heap_push(struct tdm_queue *q, struct tdm_qentry e)
{
	size_t i = q->heap_len++;
	q->heap[i] = e;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (q->heap[p].seq <= q->heap[i].seq)
			break;
		heap_swap(&q->heap[p], &q->heap[i]);
		i = p;
	}
}

static struct tdm_qentry heap_pop(struct tdm_queue *q)
{
	struct tdm_qentry top = q->heap[0];
	q->heap[0] = q->heap[--q->heap_len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->heap_len && q->heap[l].seq < q->heap[m].seq)
			m = l;
		if (r < q->heap_len && q->heap[r].seq < q->heap[m].seq)
			m = r;
		if (m == i)
			break;
		heap_swap(&q->heap[m], &q->heap[i]);
		i = m;
	}
	return top;
}

/* Removes the next ready entry (requeued ones first when older). */
static int take_ready(struct tdm_queue *q, struct tdm_qentry *out)
{
	int from_heap = q->heap_len &&
			(!q->ring_len || q->heap[0].seq < q->ring[q->ring_head].seq);
	if (from_heap) {
		*out = heap_pop(q);
	} else if (q->ring_len) {
		*out = q->ring[q->ring_head];
		q->ring_head = (q->ring_head + 1) % q->ring_cap;
		q->ring_len--;
		ring_maybe_shrink(q);
	} else {
		return 0;
	}
	q->ready_bytes -= out->msg->body_len;
	return 1;
}

int tdm_queue_pop(struct tdm_queue *q, struct tdm_qentry *out)
{
	if (!take_ready(q, out))
		return 0;
	q->unacked++;
	q->stat_delivered++;
	return 1;
}

void tdm_queue_requeue(struct tdm_queue *q, struct tdm_qentry e)
{
	q->unacked--;
	if (q->deleted) {
		tdm_message_unref(e.msg);
		return;
	}
	if (q->heap_len == q->heap_cap) {
		size_t ncap = q->heap_cap ? q->heap_cap * 2 : 16;
		struct tdm_qentry *n = realloc(q->heap, ncap * sizeof(*n));
		if (!n) { /* cannot keep it: dropping is the only safe choice */
			tdm_message_unref(e.msg);
			return;
		}
		q->heap = n;
		q->heap_cap = ncap;
	}
	e.redelivered = 1;
	heap_push(q, e);
	q->ready_bytes += e.msg->body_len;
	if (q->nconsumers)
		tdm_queue_kick(q);
}

void tdm_queue_settle(struct tdm_queue *q, struct tdm_qentry e)
{
	q->unacked--;
	q->stat_acked++;
	tdm_message_unref(e.msg);
}

uint64_t tdm_queue_purge(struct tdm_queue *q)
{
	uint64_t n = tdm_queue_ready(q);
	drop_ready(q);
	return n;
}

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
	q->had_consumer = 1;
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
	q->nconsumers--;
	tdm_queue_unref(q);
}

void tdm_queue_kick(struct tdm_queue *q)
{
	if (!q->dirty && !q->deleted)
		tdm_broker_mark_dirty(q);
}

/* The next consumer, from the round-robin cursor on, that can take a message. */
static struct tdm_consumer *next_ready(struct tdm_queue *q)
{
	struct tdm_consumer *c = q->consumers;
	for (uint32_t i = 0; i < q->nconsumers; i++, c = c->next)
		if (c->ops->can_take(c))
			return c;
	return NULL;
}

int tdm_queue_dispatch(struct tdm_queue *q, unsigned budget)
{
	while (tdm_queue_ready(q) && q->nconsumers && !q->deleted) {
		if (budget-- == 0)
			return 1;
		struct tdm_consumer *c = next_ready(q);
		if (!c)
			return 0;
		struct tdm_qentry e;
		tdm_queue_pop(q, &e);
		q->consumers = c->next;
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
