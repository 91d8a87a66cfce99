/*
 * Definitions shared by the nodes of a cluster (issue 15): a change that
 * must be the same on every node is not made where it is asked for, but
 * proposed as a record of the replicated topic TDM_DEFS_TOPIC (one
 * partition, compacted, a replica on every node live when it was made,
 * its leader chosen by the controller like any partition's).  Every node
 * applies the records in offset order, up to its high watermark, through
 * the same core calls a single node makes; the node that proposed one
 * answers its client once it has applied it, with the outcome of that
 * apply.  So the cluster sees every change in one order, conflicts are
 * decided by that order (the later of two different declarations of one
 * name is refused, 406, wherever it was made), and nothing is answered
 * "ok" before the in-sync replicas have it.  Kafka's metadata log (KRaft)
 * on ZooKeeper-era replication; RabbitMQ keeps the same things in Mnesia.
 *
 * Exchanges (declare, delete), queues that are not exclusive (declare,
 * delete: core/defs_queue.c, with the node that declared one its home)
 * and bindings as commands, decided where they are applied; vhosts, users
 * (with their permissions) and limits as the state the proposing node's
 * store records for them, applied as recovery would (the last in the log
 * wins).  Exclusive queues stay each node's own (README: "Definitions in
 * a cluster").
 *
 * Records: key = kind, vhost and name (so compaction keeps each object's
 * latest command; a deletion is a command with a value, never a tombstone,
 * so a node that was away longer than delete.retention.ms still sees it);
 * value = version, command, the proposing node and its sequence number,
 * then the command's fields.
 *
 * A node keeps its applied offset in its own durable store
 * (tdm_durable_cluster_applied) with the objects the applies persisted;
 * after a restart it applies again from the log start, but below that
 * offset only what its store does not keep (transient exchanges), so the
 * state is rebuilt without undoing anything durable.
 *
 * Everything runs on the loop thread.
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#ifndef TANDEM_CORE_DEFS_H
#define TANDEM_CORE_DEFS_H

#include <stddef.h>
#include <stdint.h>

#include "core/replica.h"

struct tdm_broker;
struct tdm_vhost;
struct tdm_exchange_spec;
struct tdm_err;
struct tdm_defs;
struct tdm_defs_op;

#define TDM_DEFS_TOPIC "__tandem_definitions"
#define TDM_DEFS_TIMEOUT_MS 30000 /* a proposal not applied by then fails */

/* A proposal's outcome: status TDM_OK or a TDM_E_* code with RabbitMQ's
 * text (as the apply on this node decided it). */
typedef void (*tdm_defs_done_fn)(void *arg, int status, const char *text);

/* The definitions of broker b in a cluster (b->defs; b->replica and
 * b->topics set); NULL on allocation failure.  Applies nothing until
 * tdm_defs_poll.  A proposal is appended where TDM_DEFS_TOPIC-0 is led:
 * here, or on its leader over the cluster link (tdm_replica_forward). */
struct tdm_defs *tdm_defs_new(struct tdm_broker *b);
/* Proposals still waiting fail (541, the node is leaving). NULL is fine. */
void tdm_defs_free(struct tdm_defs *d);

/* 1 when b's definitions are the cluster's (a change must be proposed),
 * 0 on a single node and while a record is being applied. */
int tdm_defs_clustered(const struct tdm_broker *b);

/* Proposes what tdm_exchange_declare was asked (checked already: type t,
 * the spec's flags and arguments).  TDM_PROPOSED, or an error in err. */
int tdm_defs_propose_exchange(struct tdm_vhost *vh, const struct tdm_exchange_spec *s, int type,
			      struct tdm_err *err);
/* Proposes the deletion of exchange `name` of vh. TDM_PROPOSED or an error. */
int tdm_defs_propose_exchange_delete(struct tdm_vhost *vh, const char *name, size_t len,
				     int if_unused, struct tdm_err *err);

/* Proposes binding (bind) or unbinding dst to src, both exchanges
 * (checked already).  TDM_PROPOSED or an error. */
struct tdm_exchange;
struct ex_hdr;
int tdm_defs_propose_binding(struct tdm_exchange *src, struct tdm_exchange *dst, const char *key,
			     size_t key_len, const struct ex_hdr *args, size_t nargs, int bind,
			     struct tdm_err *err);

/* Proposes a new queue of the cluster, named name[0..len) (the spec's
 * name, or the one made for a server-named queue), with this node its
 * home (core/defs_queue.c).  TDM_PROPOSED or an error. */
struct tdm_queue_spec;
struct tdm_queue;
int tdm_defs_propose_queue(struct tdm_vhost *vh, const struct tdm_queue_spec *s, const char *name,
			   size_t len, struct tdm_err *err);
/* Proposes the deletion of the cluster's queue q everywhere. */
int tdm_defs_propose_queue_delete(struct tdm_queue *q, struct tdm_err *err);
/* Proposes binding (bind) or unbinding the cluster's queue q to src. */
int tdm_defs_propose_queue_binding(struct tdm_exchange *src, struct tdm_queue *q, const char *key,
				   size_t key_len, const struct ex_hdr *args, size_t nargs, int bind,
				   struct tdm_err *err);

/* The store's record key/val of a vhost, user or limit (durable_topology.c,
 * kinds 'V', 'U', 'L'), just changed here: proposed as that state, which
 * every node keeps and applies (the last one in the log wins).  0 or -1. */
int tdm_defs_share(struct tdm_broker *b, const void *key, size_t klen, const void *val,
		   size_t vlen);

/* The newest proposal not yet handed to a waiter (the one the last core
 * call that answered TDM_PROPOSED made; call again for more): done
 * (arg, ...) runs once it is applied here, fails or times out, unless the
 * op is forgotten first.  NULL when there is none (then call nothing). */
struct tdm_defs_op *tdm_defs_last(struct tdm_broker *b, tdm_defs_done_fn done, void *arg);
/* 1 when a proposal waits for tdm_defs_last. */
int tdm_defs_untaken(const struct tdm_broker *b);
/* done will not be called for op (its waiter went away). NULL is fine. */
void tdm_defs_op_forget(struct tdm_defs_op *op);

/* Applies what the log holds up to the high watermark, answers the
 * proposals applied, fails those past TDM_DEFS_TIMEOUT_MS, asks the
 * controller for the topic when a proposal needs it and it is missing.
 * src/cluster calls it when the partition's data or high watermark moves,
 * and at least every few hundred milliseconds. */
void tdm_defs_poll(struct tdm_defs *d, uint64_t now_ms);
/* The partition TDM_DEFS_TOPIC-0 on this node (borrowed), or NULL. */
struct ls_partition *tdm_defs_partition(const struct tdm_defs *d);
/* Records applied (the next offset to apply), and proposals waiting. */
uint64_t tdm_defs_applied(const struct tdm_defs *d);
size_t tdm_defs_waiting(const struct tdm_defs *d);

#endif
