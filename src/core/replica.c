/*
 * PLACEHOLDER for the replica manager (core/replica.h), committed on
 * branch h-wire only so that the Kafka front end links before the real
 * implementation lands: every call gives the single-node answer the
 * header promises for a NULL replica, and tdm_replica_new makes none.
 * On merge, take the lead's src/core/replica.c instead of this file.
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, protocol front ends.
 */
#include <stddef.h>

#include "core/replica.h"
#include "core/topic_ops.h"

struct tdm_replica *tdm_replica_new(struct tdm_topics *topics, int32_t node_id,
				    const struct tdm_replica_hooks *hooks, void *ctx,
				    uint32_t lag_max_ms, uint32_t min_insync)
{
	(void)topics, (void)node_id, (void)hooks, (void)ctx, (void)lag_max_ms, (void)min_insync;
	return NULL;
}

void tdm_replica_free(struct tdm_replica *r)
{
	(void)r;
}

int tdm_replica_set_nodes(struct tdm_replica *r, const struct tdm_replica_node *nodes, size_t n)
{
	(void)r, (void)nodes, (void)n;
	return 0;
}

void tdm_replica_set_controller(struct tdm_replica *r, int32_t node_id)
{
	(void)r, (void)node_id;
}

int tdm_replica_set_state(struct tdm_replica *r, const char *topic, int32_t partition,
			  const struct tdm_partition_state *st)
{
	(void)r, (void)topic, (void)partition, (void)st;
	return TDM_REPL_UNKNOWN;
}

void tdm_replica_forget_topic(struct tdm_replica *r, const char *topic)
{
	(void)r, (void)topic;
}

void tdm_replica_tick(struct tdm_replica *r, int64_t now_ms)
{
	(void)r, (void)now_ms;
}

int32_t tdm_replica_node_id(const struct tdm_replica *r)
{
	(void)r;
	return 1;
}

int32_t tdm_replica_controller(const struct tdm_replica *r)
{
	(void)r;
	return 1;
}

size_t tdm_replica_nodes(const struct tdm_replica *r, const struct tdm_replica_node **nodes)
{
	(void)r;
	*nodes = NULL;
	return 0;
}

const struct tdm_partition_state *tdm_replica_state(const struct tdm_replica *r,
						     const char *topic, int32_t partition)
{
	(void)r, (void)topic, (void)partition;
	return NULL;
}

int tdm_replica_check_leader(const struct tdm_replica *r, const char *topic, int32_t partition)
{
	(void)r, (void)topic, (void)partition;
	return TDM_REPL_OK;
}

uint64_t tdm_replica_high_watermark(const struct tdm_replica *r, const char *topic,
				    int32_t partition, const struct ls_partition *p)
{
	(void)r, (void)topic, (void)partition;
	return tdm_partition_log_end(p);
}

int tdm_replica_check_insync(const struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct ls_partition *p)
{
	(void)r, (void)topic, (void)partition, (void)p;
	return TDM_REPL_OK;
}

int tdm_replica_acked(const struct tdm_replica *r, const char *topic, int32_t partition,
		      const struct ls_partition *p, uint64_t target)
{
	(void)r, (void)topic, (void)partition, (void)p, (void)target;
	return TDM_REPL_OK;
}

int tdm_replica_follower_fetch(struct tdm_replica *r, int32_t replica_id, const char *topic,
			       int32_t partition, uint64_t fetch_offset, int32_t leader_epoch,
			       int64_t now_ms)
{
	(void)r, (void)replica_id, (void)topic, (void)partition, (void)fetch_offset;
	(void)leader_epoch, (void)now_ms;
	return TDM_REPL_UNKNOWN;
}

void tdm_replica_follower_hw(struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct ls_partition *p, uint64_t leader_hw)
{
	(void)r, (void)topic, (void)partition, (void)p, (void)leader_hw;
}
