/*
 * Consumers' reads in a cluster (core/replica.h), Kafka's KIP-392: which
 * nodes may serve a consumer's Fetch of a partition (its leader, and any
 * follower holding a replica, up to the high watermark it knows), and,
 * on the leader, which replica a consumer in a given rack should read
 * from (Kafka's RackAwareReplicaSelector, with the candidates Kafka's
 * ReplicaManager.findPreferredReadReplica offers it).
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, protocol front ends.
 */
#include <string.h>

#include "core/replica.h"
#include "core/replica_internal.h"

int tdm_replica_check_read(const struct tdm_replica *r, const char *topic, int32_t partition)
{
	int rc = tdm_replica_check_leader(r, topic, partition);
	if (rc != TDM_REPL_NOT_LEADER)
		return rc;
	const struct rep_part *rp = tdm_replica_part_get(r, topic, partition);
	for (size_t i = 0; i < rp->st.nreplicas; i++)
		if (rp->st.replicas[i] == r->node_id)
			return TDM_REPL_OK; /* a follower: reads below its high watermark */
	return TDM_REPL_NOT_LEADER;
}

/* The rack node id registered (NULL: none, or not live). */
static const char *rack_of(const struct tdm_replica *r, int32_t id)
{
	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].id == id)
			return r->nodes[i].rack;
	return NULL;
}

static int in_isr(const struct rep_part *rp, int32_t id)
{
	for (size_t i = 0; i < rp->st.nisr; i++)
		if (rp->st.isr[i] == id)
			return 1;
	return 0;
}

/* 1 when follower f may serve a consumer in rack at fetch_offset: live,
 * in the rack, in the ISR (one out of it may lag without bound, and the
 * consumer with it) and holding fetch_offset. */
static int candidate(const struct tdm_replica *r, const struct rep_part *rp,
		     const struct rep_follower *f, const char *rack, uint64_t fetch_offset)
{
	const char *fr = rack_of(r, f->id);
	return fr && !strcmp(fr, rack) && in_isr(rp, f->id) && f->known && f->leo >= fetch_offset;
}

/* 1 when a serves better than b: the longer log, then the one caught up
 * more recently (Kafka's ReplicaView comparator). */
static int better(const struct rep_follower *a, const struct rep_follower *b)
{
	if (a->leo != b->leo)
		return a->leo > b->leo;
	return a->caught_up_ms > b->caught_up_ms;
}

int32_t tdm_replica_preferred_read(const struct tdm_replica *r, const char *topic,
				   int32_t partition, const char *rack, uint64_t fetch_offset)
{
	const struct rep_part *rp = r ? tdm_replica_part_get(r, topic, partition) : NULL;
	const char *own;

	if (!rp || !rp->leader_here || !rack || !rack[0])
		return TDM_NO_NODE;
	own = rack_of(r, r->node_id);
	if (own && !strcmp(own, rack))
		return TDM_NO_NODE; /* the leader is in the client's rack */
	const struct rep_follower *best = NULL;
	for (size_t i = 0; i < rp->nfol; i++)
		if (candidate(r, rp, &rp->fol[i], rack, fetch_offset) &&
		    (!best || better(&rp->fol[i], best)))
			best = &rp->fol[i];
	return best ? best->id : TDM_NO_NODE;
}
