/*
 * Enqueueing a routed message: journal first (persistent message, durable
 * queues), then one push per queue, keeping the journal's count of stored
 * copies true whatever each queue did with it.  Stream queues take a record
 * in their log instead (through the front end's stream_append hook).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdlib.h>

#include "core/broker.h"
#include "core/durable.h"
#include "core/quorum.h"
#include "core/remote.h"

#define DURABLE_STACK 16

/* Queues of other nodes whose home is down are not routed to (RabbitMQ
 * 3.10: a publisher confirm is an ack, mandatory returns 312 NO_ROUTE).
 * A quorum queue between leaders is: the publish is refused (nacked). */
static void drop_homeless(struct tdm_route *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		if (!r->queues[i]->remote || r->queues[i]->quorum ||
		    tdm_remote_home_up(r->queues[i]))
			r->queues[n++] = r->queues[i];
	r->n = n;
}

int tdm_publish(struct tdm_broker *b, struct tdm_route *r, struct tdm_message *m)
{
	if (b->remote_ops) /* in a cluster */
		drop_homeless(r);
	struct tdm_durable *d = b->durable;
	struct tdm_queue *stack[DURABLE_STACK], **dq = stack;
	size_t ndq = 0;
	int refused = 0;
	if (d && m->persistent) {
		if (r->n > DURABLE_STACK && !(dq = malloc(r->n * sizeof(*dq))))
			dq = stack; /* falls back to the first DURABLE_STACK below */
		for (size_t i = 0; i < r->n && (dq != stack || ndq < DURABLE_STACK); i++)
			if (r->queues[i]->qid && !r->queues[i]->stream &&
			    !r->queues[i]->quorum) /* streams and quorum queues have their logs */
				dq[ndq++] = r->queues[i];
		if (ndq && tdm_durable_enqueue(d, m, dq, ndq) < 0)
			refused = (int)ndq; /* could not journal it: refuse where it must be safe */
	}
	for (size_t i = 0; i < r->n; i++) {
		struct tdm_queue *q = r->queues[i];
		if (q->stream) { /* appended to its log as a record (front end's format) */
			if (!b->stream_append || b->stream_append(b->stream_append_ctx, q, m) < 0)
				refused++;
			continue;
		}
		if (q->quorum)
			tdm_quorum_track(q); /* its leader as ZooKeeper says now */
		if (q->quorum && !q->remote) { /* led here: appended to its log */
			uint64_t off;
			int rc = tdm_quorum_publish(q, m, &off);
			if (rc != 0 || (b->quorum_appended &&
					b->quorum_appended(b->quorum_appended_ctx, q, off) < 0))
				refused++;
			continue;
		}
		if (q->remote) { /* another node's queue: sent to its home */
			if (!b->remote_publish || b->remote_publish(b->remote_publish_ctx, q, m) < 0)
				refused++;
			continue;
		}
		int journaled = q->qid && m->journal_off != TDM_NO_JOURNAL;
		if (q->qid && m->persistent && d && !journaled)
			continue; /* journal failure: counted refused above */
		int rc = tdm_queue_push(q, m);
		if (journaled) {
			tdm_durable_stored(d, m->journal_off);
			if (rc != 0)
				tdm_durable_release(d, q, m->journal_off);
		}
		if (rc == TDM_QUEUE_REJECTED || rc < 0)
			refused++;
	}
	if (dq != stack)
		free(dq);
	return refused;
}
