/*
 * Queues: a FIFO of message references with O(1) enqueue and dequeue,
 * requeue to the original position (a min-heap of returned entries keyed by
 * sequence number, merged with the FIFO on dequeue: O(log r) for r entries
 * returned), unacked accounting, and round-robin push to consumers with
 * credit.  Deliveries are not pushed from inside publish: a queue that has
 * work marks itself dirty and the broker's dispatch pass (once per event
 * loop turn, see broker.h) pushes, so a burst becomes one batch of writes.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_QUEUE_H
#define TANDEM_CORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/message.h"

struct tdm_queue;
struct tdm_vhost;
struct tdm_broker;
struct tdm_stream;        /* core/stream.h */
struct tdm_stream_spec;
struct tdm_stream_cursor;
struct tdm_record;        /* core/topic_types.h */
struct tdm_quorum;        /* core/quorum.h */

/* A queued or in-flight message as a queue sees it. */
struct tdm_qentry {
	struct tdm_message *msg; /* ref held by whoever holds the entry; NULL: paged out */
	uint64_t seq;            /* position in the queue, for requeue */
	uint64_t expires_at;     /* tdm_now_ms() deadline, 0 = never */
	uint64_t paged_off;      /* paged out: the journal record holding the message */
	uint32_t paged_len;      /* paged out: body length */
	uint8_t redelivered;     /* 1 once it has been delivered and returned */
	uint8_t paged_own;       /* paged out: this entry holds its own journal count */
	uint8_t paged_durable;   /* paged out: a journaled copy of a durable queue */
};

/* Why a message is dead-lettered (RabbitMQ's x-death reasons). */
enum tdm_dl_reason { TDM_DL_REJECTED, TDM_DL_EXPIRED, TDM_DL_MAXLEN, TDM_DL_DELIVERY_LIMIT };

/* Milliseconds of a monotonic clock (the time base of TTLs and expiry). */
uint64_t tdm_now_ms(void);

struct tdm_consumer;
struct tdm_consumer_ops {
	/* 1 when the consumer can take one more message now. */
	int (*can_take)(struct tdm_consumer *c);
	/* Hands entry e over (with its message ref); the consumer settles it
	 * with tdm_queue_settle or returns it with tdm_queue_requeue. */
	void (*deliver)(struct tdm_consumer *c, struct tdm_queue *q, struct tdm_qentry e);
	/* The queue was deleted; c has been detached already. */
	void (*queue_gone)(struct tdm_consumer *c);
	/* Stream queues (core/stream.h): hands over one record read from the
	 * log (borrowed for the call), already counted unacked on q; the
	 * consumer settles it with tdm_queue_settle on an entry of its own. */
	void (*deliver_record)(struct tdm_consumer *c, struct tdm_queue *q,
			       const struct tdm_record *rec);
};

/* Embedded in the front end's consumer object. */
struct tdm_consumer {
	const struct tdm_consumer_ops *ops;
	struct tdm_queue *queue;         /* ref while attached */
	struct tdm_consumer *prev, *next;/* queue's consumer ring, in attach order */
	uint8_t exclusive;
	int32_t priority;                /* x-priority: higher is served first */
	uint64_t served;                 /* when last served, for fairness among equals */
	struct tdm_stream_cursor *cursor;/* owned: a stream queue consumer's read position */
	uint16_t prefetch;               /* its credit (0: none), for a proxy's home */
	void *remote;                    /* a proxy's consumer: the link's state (core/remote.h) */
};

/* Destination kinds for exchange bindings (first member of queue and exchange). */
enum tdm_dest_kind { TDM_DEST_QUEUE = 1, TDM_DEST_EXCHANGE = 2 };
struct tdm_dest {
	uint8_t kind;
	uint64_t route_mark; /* de-duplicates destinations within one routing */
};

struct tdm_queue {
	struct tdm_dest dest;          /* must stay first */
	char *name;                    /* owned */
	uint8_t name_len;
	uint8_t durable, exclusive, auto_delete, deleted, dirty, had_consumer;
	void *owner;                   /* exclusive: the owning connection (opaque) */
	uint8_t *arguments;            /* owned: raw field table as declared */
	uint32_t arguments_len;
	struct tdm_vhost *vhost;       /* borrowed: the vhost outlives its queues */
	uint32_t refcnt;
	/* FIFO ring of entries never delivered, in seq order */
	struct tdm_qentry *ring;       /* owned */
	size_t ring_cap, ring_head, ring_len;
	/* min-heap (by seq) of returned entries */
	struct tdm_qentry *heap;       /* owned */
	size_t heap_len, heap_cap;
	uint64_t next_seq;
	uint64_t unacked;
	uint64_t ready_bytes;
	uint64_t resident_bytes;       /* memory held by ready messages not paged out */
	struct tdm_consumer *consumers;/* ring; NULL when none; next to serve */
	uint32_t nconsumers;
	struct tdm_queue *dirty_next;  /* broker's dirty list */
	/* length limits (x-max-length, x-max-length-bytes, x-overflow); -1 = none */
	int64_t max_length, max_length_bytes;
	uint8_t overflow;              /* enum tdm_overflow */
	uint8_t full;                  /* quorum, reject-publish: refusing until the soft limit */
	/* x-message-ttl and x-expires in ms, -1 = none */
	int64_t message_ttl, expires_ms;
	uint64_t last_used;            /* tdm_now_ms() of the last use, for x-expires */
	uint8_t max_priority;          /* x-max-priority, 0 = not a priority queue */
	uint8_t single_active;         /* x-single-active-consumer */
	uint8_t timed;                 /* on the broker's list of queues with timers */
	char *dlx;                     /* owned: x-dead-letter-exchange, NULL = none */
	char *dlrk;                    /* owned: x-dead-letter-routing-key, NULL = keep */
	uint32_t prio_consumers;       /* consumers with a non-zero x-priority */
	uint64_t serve_clock;
	struct tdm_queue *timed_prev, *timed_next;
	/* durability: the queue's id in the journal (0 = not persisted) */
	uint32_t qid;
	uint8_t delivered_dirty;
	uint64_t delivered_mark;       /* highest journal offset handed out */
	struct tdm_queue *delivered_next;
	/* counters */
	uint64_t stat_published, stat_delivered, stat_acked;
	struct tdm_stream *stream;     /* owned: a stream queue's log (core/stream.h), NULL = classic */
	/* In a cluster (core/defs.h): a queue whose record is the cluster's
	 * lives on its home node; the other nodes hold a proxy (remote = 1)
	 * that routes and serves it through the home (core/remote.h). */
	uint8_t shared, remote;
	int32_t home;                  /* shared: the home node's id */
	/* a proxy: the home's counts as of its last answer (core/remote.h) */
	uint64_t home_ready, home_consumers;
	/* a quorum queue (core/quorum.h): owned; on the leader q->remote is 0 */
	struct tdm_quorum *quorum;
};

enum tdm_overflow { TDM_OVERFLOW_DROP_HEAD, TDM_OVERFLOW_REJECT_PUBLISH, TDM_OVERFLOW_REJECT_PUBLISH_DLX };
#define TDM_QUEUE_REJECTED 1 /* tdm_queue_push: the queue is full and refuses */
#define TDM_QUEUE_DROPPED 2  /* tdm_queue_push: TTL 0 and no consumer: expired at once */

/* What a queue's declaration arguments ask for, protocol-neutral. */
struct tdm_queue_settings {
	int64_t max_length, max_length_bytes; /* -1 = unlimited */
	int64_t message_ttl, expires;         /* ms, -1 = none */
	uint8_t overflow;                     /* enum tdm_overflow */
	uint8_t max_priority, single_active;
	const char *dlx, *dlrk;               /* borrowed; NULL = none */
	size_t dlx_len, dlrk_len;
	const struct tdm_stream_spec *stream; /* borrowed; non-NULL: a stream queue */
	uint8_t quorum;                       /* x-queue-type quorum (core/quorum.h) */
	uint8_t quorum_propose;               /* this node asks for its log (declared here) */
	int32_t group_size;                   /* x-quorum-initial-group-size, 0 = every node */
	int64_t delivery_limit;               /* x-delivery-limit, -1 = none */
};
void tdm_queue_settings_init(struct tdm_queue_settings *s);
/* Applies s to a new queue (copies the strings). 0 or -1 (ENOMEM). */
int tdm_queue_apply(struct tdm_queue *q, const struct tdm_queue_settings *s);

/* Creates a queue with refcnt 1 (the vhost's reference). */
struct tdm_queue *tdm_queue_new(struct tdm_vhost *vh, const char *name, size_t name_len);
void tdm_queue_ref(struct tdm_queue *q);
void tdm_queue_unref(struct tdm_queue *q);

/* Appends a message (takes a new reference) and schedules dispatch.
 * Enforces the length limits: drop-head drops the oldest ready messages,
 * reject-publish refuses with TDM_QUEUE_REJECTED.  0, 1 or -1 (ENOMEM). */
int tdm_queue_push(struct tdm_queue *q, struct tdm_message *m);
/* tdm_queue_push with entry seq given (a quorum queue's log offset). */
int tdm_queue_push_at(struct tdm_queue *q, struct tdm_message *m, uint64_t seq);
/* 1 when tdm_queue_push would refuse m (reject-publish and full; a quorum
 * queue as RabbitMQ 3.10's: one over x-max-length, then refusing until
 * 80% of it). */
int tdm_queue_would_reject(const struct tdm_queue *q, const struct tdm_message *m);
/* Drops every ready message and forgets the unacked count, writing
 * nothing (a quorum queue changing roles: the log keeps them). */
void tdm_queue_clear(struct tdm_queue *q);
/* Appends m (a new reference) as entry seq, not paged, no limits, and
 * schedules dispatch: a proxy's message pushed by its home
 * (core/remote.h).  0 or -1. */
int tdm_queue_push_entry(struct tdm_queue *q, struct tdm_message *m, uint64_t seq,
			 int redelivered);
/* Puts back a message recovered from the journal (already journaled). 0 or -1. */
int tdm_queue_restore(struct tdm_queue *q, struct tdm_message *m, int redelivered);
/* Takes the next ready entry (counted as unacked); 1 if one was taken, 0 if empty. */
int tdm_queue_pop(struct tdm_queue *q, struct tdm_qentry *out);
/* Returns an unacked entry to its original position, marked redelivered.
 * On a deleted queue the message is dropped instead. */
void tdm_queue_requeue(struct tdm_queue *q, struct tdm_qentry e);
/* Acknowledges (drops) an unacked entry. */
void tdm_queue_settle(struct tdm_queue *q, struct tdm_qentry e);
/* Rejects an unacked entry without requeue: dead-lettered (reason
 * rejected) when the queue has a dead-letter exchange, else dropped. */
void tdm_queue_reject(struct tdm_queue *q, struct tdm_qentry e);
/* Hands m to the broker's dead-letter hook for q (if q has a DLX). */
void tdm_queue_dead_letter(struct tdm_queue *q, struct tdm_message *m, enum tdm_dl_reason why);
/* Expires ready messages at the head whose deadline passed (now: tdm_now_ms()). */
void tdm_queue_expire(struct tdm_queue *q, uint64_t now);
/* Puts q on the broker's list of queues that need the periodic tick. */
void tdm_queue_set_timed(struct tdm_queue *q);
/* Drops every ready message; returns how many. */
uint64_t tdm_queue_purge(struct tdm_queue *q);
static inline uint64_t tdm_queue_ready(const struct tdm_queue *q)
{
	return q->ring_len + q->heap_len;
}

/* Attaches c (takes a queue ref) and schedules dispatch. */
void tdm_queue_attach(struct tdm_queue *q, struct tdm_consumer *c);
/* Detaches c (drops the queue ref). */
void tdm_queue_detach(struct tdm_queue *q, struct tdm_consumer *c);
/* Marks q for the next dispatch pass. */
void tdm_queue_kick(struct tdm_queue *q);
/*
 * Pushes ready messages to consumers that can take them, round-robin, at
 * most `budget` messages.  Returns 1 when it stopped on the budget with work
 * left (the caller should come back), else 0.
 */
int tdm_queue_dispatch(struct tdm_queue *q, unsigned budget);
/* Marks q deleted: detaches consumers (calling queue_gone), drops ready
 * messages; unacked entries are dropped as they come back. */
void tdm_queue_kill(struct tdm_queue *q);

#endif
