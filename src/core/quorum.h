/*
 * Quorum queues (x-queue-type: quorum, issue 15): a queue whose state is a
 * replicated log of commands, RabbitMQ's Raft-based queue type built on our
 * Kafka-style replication (core/replica.h) as DESIGN.md §8 says.
 *
 * The queue's own topic (one partition, the queue's group size of
 * replicas, min.insync.replicas a majority of them) holds records:
 *   E  enqueue: a message (headers t, x, r, h and p as the journal's
 *      'E' records; the body as value); its offset is the message's id;
 *   S  settle: offsets (8 bytes each, big-endian) that left for good
 *      (acked, rejected, dead-lettered, dropped by a limit, purged);
 *   R  return: offsets that went back to the queue (nack or reject with
 *      requeue, a consumer gone): each occurrence is one more delivery,
 *      RabbitMQ's x-delivery-count;
 *   D  handed out: offsets delivered to a consumer or a get; one handed
 *      out last and neither settled nor returned when the log ends was
 *      returned by a crash (one more delivery, redelivered), as RabbitMQ
 *      counts it after a restart.
 * The commands of one loop turn are written in their order, a run of one
 * kind as one record; a lost D or R (the leader died before writing it)
 * only costs a redelivery, so none is waited for.
 *
 * The node that leads the partition serves the queue: it rebuilds the
 * ready list from the log (E minus S, counts from R, in offset order),
 * appends E before it takes a message (the publisher's confirm waits for
 * the in-sync replicas: a majority), D, S and R as it hands messages out
 * and consumers settle.  After a leader change every message rebuilt is
 * flagged redelivered (the old leader's last D may not have arrived).  Every
 * other node holds a proxy (q->remote, core/remote.h) whose home is the
 * leader.  When the leader changes, the new leader rebuilds (what the old
 * one had handed out and not settled is ready again, redelivered), the
 * other nodes' proxies follow it and their consumers go on there; a
 * consumer is not cancelled by a leader change.
 *
 * On a single node the queue leads its local topic and is rebuilt from it
 * after a restart.
 *
 * Everything runs on the loop thread.
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#ifndef TANDEM_CORE_QUORUM_H
#define TANDEM_CORE_QUORUM_H

#include <stddef.h>
#include <stdint.h>

#include "core/queue.h"

struct tdm_broker;
struct tdm_quorum;

/*
 * Makes q (new, not yet used) a quorum queue of group_size replicas (0:
 * every live node, RabbitMQ's default) with x-delivery-limit
 * delivery_limit (-1: none).  The topic is made here (single node) or
 * asked of the controller by the node that declared the queue (propose
 * 1); the others wait for it.  0, or -1 (memory, or the local topic
 * cannot be made).
 */
int tdm_quorum_attach(struct tdm_queue *q, int32_t group_size, int64_t delivery_limit,
		      int propose);
/* q's group size and x-delivery-limit, as attached. */
void tdm_quorum_settings(const struct tdm_queue *q, int32_t *group_size, int64_t *delivery_limit);
/* Frees q's quorum state (the queue is being freed). */
void tdm_quorum_free(struct tdm_queue *q);
/* q was deleted: its topic goes (in a cluster through the controller,
 * asked by the leader). */
void tdm_quorum_removed(struct tdm_queue *q);
/* The queue's topic name (NUL-terminated, borrowed from q), or NULL. */
const char *tdm_quorum_topic(const struct tdm_queue *q);
/* 1 when q can be used: its topic exists with a leader, and when this node
 * leads it, the queue was rebuilt.  0 with a reason in *why. */
int tdm_quorum_ready(struct tdm_queue *q, const char **why);

/*
 * Leader: appends m as an E record and enqueues it (limits as
 * tdm_queue_push: drop-head drops the oldest as S).  0 with *offset the
 * record's offset (the publisher's confirm waits for it:
 * tdm_stream_acked), TDM_QUEUE_REJECTED (reject-publish), or -1 (not
 * appended: not the leader, too few in-sync replicas, I/O).
 */
int tdm_quorum_publish(struct tdm_queue *q, struct tdm_message *m, uint64_t *offset);

/* ---- for core/queue.c: the leader's commands ---- */
/* Entry seq was handed out (counted as checked out). */
void tdm_quorum_out(struct tdm_queue *q, uint64_t seq);
/* 1 when seq is checked out here now (a settle of an entry handed out
 * by an earlier role of this node is not). */
int tdm_quorum_known(const struct tdm_queue *q, uint64_t seq);
/* Entry seq left for good: an S record. */
void tdm_quorum_gone(struct tdm_queue *q, uint64_t seq);
/* Entry seq returned: an R record and one more delivery; 1 when that
 * passed x-delivery-limit (the caller dead-letters it with reason
 * delivery_limit and drops it: an S record is written), else 0. */
int tdm_quorum_returned(struct tdm_queue *q, uint64_t seq);
/* The delivery count of entry seq (RabbitMQ's x-delivery-count). */
uint32_t tdm_quorum_delivery_count(const struct tdm_queue *q, uint64_t seq);

/* Looks at q's leader now (else the next tick does): a publish or a
 * consumer goes to the right node at once after a change. */
void tdm_quorum_track(struct tdm_queue *q);
/* Periodic work for every quorum queue of b (every tick): follows
 * leadership changes (rebuild here, or the proxy's home moves), writes
 * pending S and R records. */
void tdm_quorum_tick(struct tdm_broker *b);
/* Writes the pending S and R records of q (end of a dispatch pass). */
void tdm_quorum_flush(struct tdm_queue *q);

#endif
