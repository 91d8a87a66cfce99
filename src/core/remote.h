/*
 * Classic queues of other nodes (issue 15): in a cluster, a queue that is
 * the cluster's (core/defs.h) lives on its home node; every other node
 * holds a proxy of it (q->remote), which routes like the queue and reaches
 * the home through the operations src/cluster registers here (over the
 * cluster link), as RabbitMQ's nodes reach a classic queue's process on
 * its node.  Core and the front ends use only this door.
 *
 * A proxy whose home is not live answers as RabbitMQ 3.10 does for a
 * durable classic queue whose node is down: 404 NOT_FOUND "home node ...
 * is down or inaccessible".  A quorum queue's proxy (core/quorum.h) has
 * the leader as its home, which moves; without one, what cannot wait
 * answers 541 "... has no leader now".
 *
 * Everything runs on the loop thread.
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#ifndef TANDEM_CORE_REMOTE_H
#define TANDEM_CORE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

struct tdm_broker;
struct tdm_queue;
struct tdm_message;
struct tdm_err;
struct tdm_remote_op;

/* A forwarded operation's outcome: TDM_OK, or a TDM_E_* status with text. */
typedef void (*tdm_remote_done_fn)(void *arg, int status, const char *text);

struct tdm_consumer;
struct tdm_qentry;

/* How a proxy's entry is settled at its home. */
enum tdm_remote_settle { TDM_REMOTE_ACK, TDM_REMOTE_REQUEUE, TDM_REMOTE_REJECT };

/* A basic.get's outcome: status TDM_OK with e (its message ref is the
 * callee's: take one to keep it; NULL when the queue was empty) and the
 * messages left, or an error with text. */
typedef void (*tdm_remote_got_fn)(void *arg, int status, const char *text,
				  const struct tdm_qentry *e, uint64_t left);
/* A count or a purge: status, text and the count (messages, consumers). */
typedef void (*tdm_remote_count_fn)(void *arg, int status, const char *text, uint64_t messages,
				    uint64_t consumers);

enum tdm_remote_call { TDM_REMOTE_COUNT, TDM_REMOTE_PURGE };

/* What src/cluster provides (every call gets the ctx given with them). */
struct tdm_remote_ops {
	/* Sends m, routed here to proxy q, to q's home; done runs once when
	 * the home has taken it (its publisher confirm) or it failed.
	 * done may be NULL (nobody waits); *op (op may be NULL) lets the caller
	 * forget done.  0, or -1: refused
	 * at once (done not called). */
	int (*publish)(void *ctx, struct tdm_queue *q, struct tdm_message *m,
		       tdm_remote_done_fn done, void *arg, struct tdm_remote_op **op);
	/* Consumer c attached to proxy q: the home pushes to it (c->prefetch
	 * at a time); what it pushes arrives through tdm_remote_deliver.
	 * A failure, now or later, ends c with tdm_remote_consumer_gone. */
	void (*consume)(void *ctx, struct tdm_queue *q, struct tdm_consumer *c);
	/* c detached from q: the home stops pushing to it. */
	void (*cancel)(void *ctx, struct tdm_queue *q, struct tdm_consumer *c);
	/* Settles the home's entry `handle` (seq of an entry it gave). */
	void (*settle)(void *ctx, struct tdm_queue *q, uint64_t handle, enum tdm_remote_settle how);
	/* basic.get at the home (no_ack: settled there at once). 0, or -1:
	 * refused now (got not called). */
	int (*get)(void *ctx, struct tdm_queue *q, int no_ack, tdm_remote_got_fn got, void *arg,
		   struct tdm_remote_op **op);
	/* A count (queue.declare passive) or a purge at the home. 0 or -1. */
	int (*call)(void *ctx, struct tdm_queue *q, enum tdm_remote_call what,
		    tdm_remote_count_fn done, void *arg, struct tdm_remote_op **op);
	/* Quorum queue q's home is about to change (core/quorum.h): the link
	 * to the old one goes (what it pushed is dropped, settles of it are
	 * void), q's consumers are not ended. */
	void (*moved)(void *ctx, struct tdm_queue *q);
};

/* An operation under way (the first member of the link's own): forget
 * makes sure its done is not called; the link frees it. */
struct tdm_remote_op {
	void (*forget)(struct tdm_remote_op *op);
};

/* Registers ops (borrowed, NULL to remove) for b's proxies. */
void tdm_remote_set(struct tdm_broker *b, const struct tdm_remote_ops *ops, void *ctx);

/* 1 when q is not a proxy, or its home node is live. */
int tdm_remote_home_up(const struct tdm_queue *q);
/* Sets RabbitMQ's 404 for a proxy whose home is down; returns its status. */
int tdm_remote_down(const struct tdm_queue *q, struct tdm_err *err);

/* Sends m to proxy q's home (see struct tdm_remote_ops.publish); -1 when
 * no link is registered or the home is down. */
int tdm_remote_publish(struct tdm_queue *q, struct tdm_message *m, tdm_remote_done_fn done,
		       void *arg, struct tdm_remote_op **op);
/* The same for a basic.get, and for a count or purge; -1 when no link is
 * registered or the home is down. */
int tdm_remote_get(struct tdm_queue *q, int no_ack, tdm_remote_got_fn got, void *arg,
		   struct tdm_remote_op **op);
int tdm_remote_call(struct tdm_queue *q, enum tdm_remote_call what, tdm_remote_count_fn done,
		    void *arg, struct tdm_remote_op **op);

/* ---- for core/queue.c: a proxy's consumers and entries ---- */
void tdm_remote_attached(struct tdm_queue *q, struct tdm_consumer *c);
/* c left: the home stops; with no consumer left, what the home pushed
 * and nobody took goes back to it. */
void tdm_remote_detached(struct tdm_queue *q, struct tdm_consumer *c);
/* e (unacked here) settled: at the home, and dropped here. */
void tdm_remote_settle(struct tdm_queue *q, struct tdm_qentry e, enum tdm_remote_settle how);

/* ---- for the link ---- */
/* The home pushed m (a new reference is taken) as its entry `handle`
 * for proxy q's consumers here. 0, or -1 (out of memory: settle it back). */
int tdm_remote_deliver(struct tdm_queue *q, struct tdm_message *m, uint64_t handle,
		       int redelivered);
/* Consumer c of proxy q can no longer be served (refused, the link or the
 * home lost): detached, its front end told (queue_gone: basic.cancel).
 * A quorum queue's consumer stays, unlinked: it goes on with the next
 * leader (core/quorum.h links it again). */
void tdm_remote_consumer_gone(struct tdm_queue *q, struct tdm_consumer *c);
/* The link to q's home was lost: what it pushed and nobody took is
 * dropped here (the home gets it back with the connection). */
void tdm_remote_lost(struct tdm_queue *q);

/* Quorum queue q's home moves (its leader changed): the link to the old
 * home goes; q's consumers stay attached and unlinked (c->remote NULL)
 * until tdm_remote_attached links them to the new one. */
void tdm_remote_moved(struct tdm_queue *q);

/* done will not be called for op (NULL is fine). */
static inline void tdm_remote_forget(struct tdm_remote_op *op)
{
	if (op)
		op->forget(op);
}

#endif
