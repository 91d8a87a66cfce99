/*
 * Classic queues of other nodes: the door to the cluster link's
 * operations (core/remote.h has the model).
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#include "core/remote.h"
#include "core/broker.h"
#include "core/replica.h"
#include "core/queue.h"

void tdm_remote_set(struct tdm_broker *b, const struct tdm_remote_ops *ops, void *ctx)
{
	b->remote_ops = ops;
	b->remote_ctx = ctx;
}

int tdm_remote_home_up(const struct tdm_queue *q)
{
	if (!q->remote)
		return 1;
	const struct tdm_replica_node *nodes;
	size_t n = tdm_replica_nodes(q->vhost->broker->replica, &nodes);
	for (size_t i = 0; i < n; i++)
		if (nodes[i].id == q->home)
			return 1;
	return 0;
}

int tdm_remote_down(const struct tdm_queue *q, struct tdm_err *err)
{
	if (q->quorum)
		return tdm_err_set(err, TDM_E_NOMEM,
				   "quorum queue '%s' in vhost '%s' has no leader now: a majority "
				   "of its members must be up", q->name, q->vhost->name);
	return tdm_err_set(err, TDM_E_NOT_FOUND,
			   "home node 'tandem@node-%d' of %s queue '%s' in vhost '%s' is down or "
			   "inaccessible",
			   (int)q->home, q->durable ? "durable" : "transient", q->name,
			   q->vhost->name);
}

int tdm_remote_publish(struct tdm_queue *q, struct tdm_message *m, tdm_remote_done_fn done,
		       void *arg, struct tdm_remote_op **op)
{
	struct tdm_broker *b = q->vhost->broker;
	if (op)
		*op = NULL;
	if (!b->remote_ops || !tdm_remote_home_up(q))
		return -1;
	return b->remote_ops->publish(b->remote_ctx, q, m, done, arg, op);
}

int tdm_remote_get(struct tdm_queue *q, int no_ack, tdm_remote_got_fn got, void *arg,
		   struct tdm_remote_op **op)
{
	struct tdm_broker *b = q->vhost->broker;
	if (op)
		*op = NULL;
	if (!b->remote_ops || !tdm_remote_home_up(q))
		return -1;
	return b->remote_ops->get(b->remote_ctx, q, no_ack, got, arg, op);
}

int tdm_remote_call(struct tdm_queue *q, enum tdm_remote_call what, tdm_remote_count_fn done,
		    void *arg, struct tdm_remote_op **op)
{
	struct tdm_broker *b = q->vhost->broker;
	if (op)
		*op = NULL;
	if (!b->remote_ops || !tdm_remote_home_up(q))
		return -1;
	return b->remote_ops->call(b->remote_ctx, q, what, done, arg, op);
}

void tdm_remote_attached(struct tdm_queue *q, struct tdm_consumer *c)
{
	struct tdm_broker *b = q->vhost->broker;
	if (b->remote_ops)
		b->remote_ops->consume(b->remote_ctx, q, c);
}

/* What the home pushed and no consumer here took goes back to it. */
static void give_back(struct tdm_queue *q)
{
	struct tdm_qentry e;
	while (tdm_queue_pop(q, &e))
		tdm_queue_requeue(q, e);
}

void tdm_remote_detached(struct tdm_queue *q, struct tdm_consumer *c)
{
	struct tdm_broker *b = q->vhost->broker;
	if (b->remote_ops)
		b->remote_ops->cancel(b->remote_ctx, q, c);
	if (!q->nconsumers)
		give_back(q);
}

void tdm_remote_settle(struct tdm_queue *q, struct tdm_qentry e, enum tdm_remote_settle how)
{
	struct tdm_broker *b = q->vhost->broker;
	if (q->unacked) /* 0: handed out before a quorum queue's role changed */
		q->unacked--;
	if (how == TDM_REMOTE_ACK)
		q->stat_acked++;
	if (e.seq && b->remote_ops)
		b->remote_ops->settle(b->remote_ctx, q, e.seq, how);
	tdm_message_unref(e.msg);
}

int tdm_remote_deliver(struct tdm_queue *q, struct tdm_message *m, uint64_t handle,
		       int redelivered)
{
	return tdm_queue_push_entry(q, m, handle, redelivered);
}

void tdm_remote_consumer_gone(struct tdm_queue *q, struct tdm_consumer *c)
{
	if (q->quorum && !q->deleted) { /* it goes on with the next leader */
		c->remote = NULL;
		return;
	}
	tdm_queue_ref(q);
	tdm_queue_detach(q, c);
	c->ops->queue_gone(c);
	tdm_queue_unref(q);
}

void tdm_remote_lost(struct tdm_queue *q)
{
	struct tdm_qentry e;
	while (tdm_queue_pop(q, &e)) { /* the home requeued them with the connection */
		q->unacked--;
		tdm_message_unref(e.msg);
	}
}

void tdm_remote_moved(struct tdm_queue *q)
{
	struct tdm_broker *b = q->vhost->broker;
	if (b->remote_ops && b->remote_ops->moved)
		b->remote_ops->moved(b->remote_ctx, q);
	struct tdm_consumer *c = q->consumers;
	for (uint32_t i = 0, n = q->nconsumers; i < n && c; i++, c = c->next)
		c->remote = NULL; /* linked again to the new home */
}
