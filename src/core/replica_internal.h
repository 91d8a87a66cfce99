/*
 * The replica manager's state (core/replica.h), for the files that make it
 * up: replica.c (states, the leader's high watermark and ISR, the
 * follower's high watermark) and replica_read.c (who may serve a
 * consumer's read, and which replica it should read from: KIP-392).
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, protocol front ends.
 */
#ifndef TANDEM_CORE_REPLICA_INTERNAL_H
#define TANDEM_CORE_REPLICA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/map.h"
#include "core/replica.h"

/* A follower as its leader sees it. */
struct rep_follower {
	int32_t id;
	int known;                   /* fetched since this node became leader */
	uint64_t leo;                /* its log end: the offset it last fetched at */
	int64_t caught_up_ms;        /* last time it had everything the leader had */
	int64_t last_fetch_ms;       /* time of its previous fetch */
	uint64_t leader_leo_at_last; /* the leader's log end at that fetch */
	/* applier topics (tdm_replica_set_applier): */
	const void *sent_conn;       /* the connection of the last response, */
	uint64_t hw_sent;            /* and the high watermark it carried */
	uint64_t applied;            /* what it has applied, as its fetches tell */
};

struct rep_part {
	char *topic; /* owned */
	int32_t partition;
	struct tdm_partition_state st; /* replicas and isr point into the arrays below */
	int32_t *replicas;             /* owned */
	int32_t *isr;                  /* owned */
	int leader_here;
	uint64_t hw;
	struct rep_follower *fol; /* owned: leader only, one per other replica */
	size_t nfol;
	int applier;     /* its topic is the applier's (tdm_replica_set_applier) */
	int apply_due;   /* follower: the high watermark moved since the applier ran */
	uint64_t applied_here; /* leader: what this node's applier applied */
	int isr_pending; /* an ISR change is being written */
	int pending_ticks; /* ticks it has been out: past ISR_PENDING_TICKS, asked again */
};

struct tdm_replica {
	struct tdm_topics *topics; /* borrowed */
	int32_t node_id;
	struct tdm_replica_hooks hooks;
	void *ctx;
	uint32_t lag_max_ms;
	uint32_t min_insync;
	int32_t controller;
	struct tdm_replica_node *nodes; /* owned, hosts and racks owned */
	size_t nnodes;
	struct tdm_map parts; /* "topic/partition" -> struct rep_part */
	uint64_t isr_shrinks, isr_expands;
	char *applier_topic; /* owned */
	void (*applier)(void *ctx);
	void *applier_ctx;
	int apply_due;
};

/* The state of topic/partition, or NULL when none is known. */
struct rep_part *tdm_replica_part_get(const struct tdm_replica *r, const char *topic,
				      int32_t partition);
/* Leader: the follower entry of node id, or NULL. */
struct rep_follower *tdm_replica_follower_of(const struct rep_part *rp, int32_t id);

#endif
