/*
 * The controller's rules, pure logic: Kafka's ZooKeeper-era KafkaController
 * decisions without any I/O.  Replica assignment of new topics and new
 * partitions (AdminUtils' rack-unaware round robin), validation of
 * explicit assignments, leader election for offline partitions
 * (OfflinePartitionLeaderElectionStrategy), what a broker's death or
 * return does to a partition's leader and ISR, and the first state of a
 * new partition.  src/cluster/controller.c reads ZooKeeper, calls these,
 * and writes back what they changed.
 *
 * Every state these functions produce carries the caller's controller
 * epoch; a state written by a newer controller (a larger controller
 * epoch) is never changed here: CTL_ERR_STALE_CONTROLLER, as Kafka's
 * controller aborts a leader-and-ISR update when the znode's controller
 * epoch is newer than its own.
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, the front ends.
 */
#ifndef TANDEM_CLUSTER_CTL_H
#define TANDEM_CLUSTER_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tdm_partition_state;

/* Errors: -err is the Kafka error code a client sees. */
#define CTL_ERR_NOMEM (-1)                       /* UNKNOWN_SERVER_ERROR */
#define CTL_ERR_UNKNOWN_SERVER (-1)              /* UNKNOWN_SERVER_ERROR (ZooKeeper failed) */
#define CTL_ERR_UNKNOWN_TOPIC (-3)               /* UNKNOWN_TOPIC_OR_PARTITION */
#define CTL_ERR_INVALID_TOPIC (-17)              /* INVALID_TOPIC_EXCEPTION */
#define CTL_ERR_TOPIC_EXISTS (-36)               /* TOPIC_ALREADY_EXISTS */
#define CTL_ERR_INVALID_PARTITIONS (-37)         /* INVALID_PARTITIONS */
#define CTL_ERR_INVALID_REPLICATION_FACTOR (-38) /* INVALID_REPLICATION_FACTOR */
#define CTL_ERR_INVALID_REPLICA_ASSIGNMENT (-39) /* INVALID_REPLICA_ASSIGNMENT */
#define CTL_ERR_STALE_CONTROLLER (-41)           /* NOT_CONTROLLER */
#define CTL_ERR_INVALID_REQUEST (-42)            /* INVALID_REQUEST */

#define CTL_NO_LEADER (-1)

/* A set of broker ids (the live brokers): sorted ascending, no duplicates.
 * ctl_brokers_sort makes one so. */
struct ctl_brokers {
	int32_t *ids; /* borrowed from the caller */
	size_t n;
};
/* Sorts b->ids in place and drops duplicates. */
void ctl_brokers_sort(struct ctl_brokers *b);
bool ctl_brokers_has(const struct ctl_brokers *b, int32_t id);

/* A topic's replica assignment: parts[p] lists partition p's replicas,
 * the preferred leader first. */
struct ctl_replicas {
	int32_t *ids; /* owned */
	size_t n;
};
struct ctl_assignment {
	struct ctl_replicas *parts; /* owned, nparts of them */
	size_t nparts;
};
/* Frees what a holds (a itself is the caller's) and empties it. */
void ctl_assignment_free(struct ctl_assignment *a);

/*
 * Kafka's rack-unaware assignment (AdminUtils.assignReplicasToBrokers):
 * nparts partitions numbered from start_part, rf replicas each, over the
 * brokers (sorted by id first): partition p's first replica is broker
 * (p + start) % n, the others follow it shifted by a per-round replica
 * shift, so that leaders and followers spread evenly.  fixed_start < 0: a
 * random start index and shift, as Kafka does for a new topic.  out gets
 * nparts entries (out->parts[i] is partition start_part + i); free it with
 * ctl_assignment_free.  0, CTL_ERR_INVALID_PARTITIONS (nparts <= 0),
 * CTL_ERR_INVALID_REPLICATION_FACTOR (rf <= 0 or more than the brokers),
 * CTL_ERR_NOMEM.
 */
int ctl_assign(const struct ctl_brokers *brokers, int32_t nparts, int32_t rf, int32_t fixed_start,
	       int32_t start_part, struct ctl_assignment *out);

/*
 * New partitions for an existing topic, as Kafka's AdminZkClient.
 * addPartitions: the topic grows from existing->nparts to total
 * partitions, with partition 0's replication factor, starting at the index
 * of the first broker whose id is >= partition 0's first replica.  out
 * gets the new partitions only.  0, CTL_ERR_INVALID_PARTITIONS (total not
 * larger than today), CTL_ERR_INVALID_REPLICATION_FACTOR, CTL_ERR_NOMEM.
 */
int ctl_assign_more(const struct ctl_brokers *brokers, const struct ctl_assignment *existing,
		    int32_t total, struct ctl_assignment *out);

/*
 * An explicit assignment (CreateTopics' or CreatePartitions'
 * assignments): every partition has at least one replica, no duplicate
 * replica in a partition, every replica a broker in `brokers`, and every
 * partition the same replication factor (expected_rf when >= 0, as
 * CreatePartitions checks against partition 0's).  0 or
 * CTL_ERR_INVALID_REPLICA_ASSIGNMENT, with the reason in err (Kafka's
 * text) when err is not NULL.
 */
int ctl_validate_assignment(const struct ctl_assignment *a, const struct ctl_brokers *brokers,
			    int32_t expected_rf, char *err, size_t errlen);

/* One partition's leader and ISR, as the controller holds it. */
struct ctl_part {
	const int32_t *replicas; /* borrowed: the topic's assignment */
	size_t nreplicas;
	int32_t *isr; /* owned (malloc) */
	size_t nisr;
	int32_t leader; /* CTL_NO_LEADER: offline */
	int32_t leader_epoch;
	int32_t controller_epoch;
	int32_t version; /* of the state znode, for compare-and-set; not changed here */
};
/* Frees p->isr (p itself is the caller's). */
void ctl_part_free(struct ctl_part *p);
/* p as core's replica manager takes it (pointers borrowed from p). */
void ctl_part_view(const struct ctl_part *p, struct tdm_partition_state *out);

/*
 * Kafka's OfflinePartitionLeaderElectionStrategy: the first replica in
 * assignment order that is live and in the ISR; when there is none and
 * unclean election is on, the first live replica (*unclean set true);
 * else CTL_NO_LEADER.  unclean may be NULL.
 */
int32_t ctl_elect(const int32_t *replicas, size_t nreplicas, const int32_t *isr, size_t nisr,
		  const struct ctl_brokers *live, bool unclean_enabled, bool *unclean);

/*
 * Brings p in line with the live brokers, as Kafka's controller does on
 * a broker's death or return (and on failover, when it marks the replicas
 * of dead brokers offline and elects leaders of offline partitions):
 *   - the leader is dead or there is none: elect one (ctl_elect); the new
 *     ISR is the old one without dead brokers (a clean election), or
 *     [leader] (an unclean one); none electable: leader CTL_NO_LEADER,
 *     ISR without the dead brokers, except that the ISR keeps its last
 *     members rather than becoming empty, so that one of them can come
 *     back as the leader;
 *   - the leader is live: dead brokers leave the ISR, the leader stays.
 * Any change bumps the leader epoch (Kafka bumps it on every ISR change
 * the controller makes) and sets the controller epoch to cepoch.
 * 1 when p changed (write it), 0 when not, CTL_ERR_STALE_CONTROLLER when
 * p->controller_epoch > cepoch (p untouched), CTL_ERR_NOMEM.
 */
int ctl_reconcile(struct ctl_part *p, const struct ctl_brokers *live, bool unclean_enabled,
		  int32_t cepoch);

/*
 * Kafka's preferred replica election (auto.leader.rebalance.enable): the
 * preferred replica (the first of the assignment) takes the lead back
 * when it is live and in the ISR and another replica leads; the ISR stays,
 * the leader epoch is bumped and the controller epoch becomes cepoch.  1
 * when p changed (write it), 0 when not, CTL_ERR_STALE_CONTROLLER when
 * p->controller_epoch > cepoch (p untouched).
 */
int ctl_prefer_leader(struct ctl_part *p, const struct ctl_brokers *live, int32_t cepoch);

/*
 * A node that registered again (restarted, or a new ZooKeeper session)
 * while it led p: Kafka's controller takes it for failed and started
 * again (a "bounced" broker).  Its log may have lost a tail its followers
 * hold (unflushed when it died), so it must not go on under the same
 * leader epoch: the lead moves to the first other replica in assignment
 * order that is live and in the ISR, and `node` leaves the ISR until it
 * catches up; with no such replica it keeps the lead.  Either way the
 * leader epoch is bumped, so followers truncate to where the epochs say.
 * 1 when p changed, 0 when `node` did not lead p, CTL_ERR_STALE_CONTROLLER.
 */
int ctl_bounced(struct ctl_part *p, const struct ctl_brokers *live, int32_t node,
		int32_t cepoch);

/*
 * The first state of a new partition (Kafka's NewPartition ->
 * OnlinePartition): leader the first live replica, ISR the live replicas
 * in assignment order, leader epoch 0, controller epoch cepoch, version 0.
 * p->replicas must be set; p->isr is replaced.  0, CTL_ERR_NOMEM, or 1
 * when no replica is live: p gets no leader and an empty ISR and must not
 * be written (Kafka leaves such a partition new and tries again when a
 * broker comes).
 */
int ctl_new_state(struct ctl_part *p, const struct ctl_brokers *live, int32_t cepoch);

/* A state or request carrying controller epoch `seen` comes from a stale
 * controller when a newer one has been seen (`latest`). */
static inline bool ctl_epoch_stale(int32_t seen, int32_t latest)
{
	return seen < latest;
}

/* A boolean topic config (e.g. unclean.leader.election.enable) as Kafka
 * parses it: "true"/"false" in any case; NULL or anything else: dflt. */
bool ctl_config_bool(const char *value, bool dflt);

#endif
