/*
 * Replication state of this node's partitions, protocol-neutral: Kafka's
 * ReplicaManager/Partition as core sees them.  In a cluster, src/cluster
 * learns the membership and every partition's state (replicas, leader,
 * leader epoch, ISR) from ZooKeeper and hands it here; the front ends ask
 * here who leads a partition, how far consumers may read (the high
 * watermark) and whether an acks=all write is replicated.
 *
 * Single node (no struct tdm_replica, the pointer is NULL): every call
 * below that takes a NULL replica answers as a lone broker does today:
 * every partition is led here, the high watermark is the log end, no
 * follower exists.
 *
 * The leader side follows Kafka: followers fetch with their node id as
 * replica id (tdm_replica_follower_fetch records each one's log end);
 * the high watermark is the smallest log end over the ISR (leader
 * included) and never moves back; a follower whose log end has not
 * reached the leader's for replica_lag_time_max_ms leaves the ISR, one
 * that reaches the high watermark (and the start of the leader's epoch)
 * joins it again.  ISR changes are not applied here: the isr_change hook
 * asks src/cluster to write them to ZooKeeper (compare-and-set on the
 * state's version) and the new state comes back through
 * tdm_replica_set_state, as in Kafka's ZooKeeper era.
 *
 * Everything runs on the loop thread.
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, protocol front ends.
 */
#ifndef TANDEM_CORE_REPLICA_H
#define TANDEM_CORE_REPLICA_H

#include <stddef.h>
#include <stdint.h>

struct tdm_topics;
struct tdm_kv;
struct ls_partition;
struct tdm_replica;
struct tdm_replica_stats;
struct tdm_record;

#define TDM_NO_NODE (-1)

/* A live node of the cluster, as registered in ZooKeeper. */
struct tdm_replica_node {
	int32_t id;
	const char *host; /* borrowed during tdm_replica_set_nodes, copied */
	int kafka_port;   /* 0: none */
	int amqp_port;
	int http_port;
	int cluster_port; /* the cluster link, 0: none */
	const char *rack; /* Kafka's broker.rack, NULL: none; copied as host */
};

/* One partition's state, as kept in ZooKeeper
 * (/brokers/topics/T/partitions/P/state plus the assignment). */
struct tdm_partition_state {
	int32_t leader; /* node id, TDM_NO_NODE: offline */
	int32_t leader_epoch;
	int32_t controller_epoch;
	int32_t version; /* of the state znode: for compare-and-set */
	const int32_t *replicas; /* assignment, preferred leader first */
	size_t nreplicas;
	const int32_t *isr;
	size_t nisr;
};

/* Completion of a cluster administration request: rc is TDM_TOPIC_OK or
 * a TDM_ERR_* / TDM_REPL_* code, msg a reason ("" when none). */
typedef void (*tdm_replica_done_fn)(void *arg, int rc, const char *msg);

/* One partition's replicas, the preferred leader first. */
struct tdm_replica_assignment {
	const int32_t *replicas;
	size_t n;
};

/* A topic to create in the cluster. */
struct tdm_replica_topic_spec {
	const char *name;
	int32_t partitions;         /* -1 with an assignment, or for num_partitions */
	int32_t replication_factor; /* -1: default_replication_factor, or with an assignment */
	const struct tdm_kv *configs;
	size_t nconfigs;
	const struct tdm_replica_assignment *assignment; /* partitions 0..n-1, or NULL */
	size_t nassignment;
};

/* The marker that ends producer_id's transaction in a partition (Kafka's
 * WriteTxnMarkers entry). */
struct tdm_txn_marker {
	int64_t producer_id;
	int16_t producer_epoch;
	int commit;                /* 1 commit, 0 abort */
	int32_t coordinator_epoch; /* the leader epoch of the coordinator's state partition */
};

/* What src/cluster does for the replica manager. */
struct tdm_replica_hooks {
	/* Leader: the ISR of topic/partition should become want->isr (want
	 * is the current state with the new ISR; the pointers are valid for
	 * the call only).  Write it with compare-and-set on want->version and
	 * hand the written state back with tdm_replica_set_state; on a
	 * version conflict re-read the state and hand that back. */
	void (*isr_change)(void *ctx, const char *topic, int32_t partition,
			   const struct tdm_partition_state *want);
	/* Follower: fetch topic/partition from node `leader` (leader epoch
	 * `leader_epoch`); before fetching, truncate where the leader's log
	 * differs (OffsetForLeaderEpoch).  leader == TDM_NO_NODE: stop
	 * fetching it (this node leads it now, left its replicas, or it is
	 * offline). */
	void (*follow)(void *ctx, const char *topic, int32_t partition, int32_t leader,
		       int32_t leader_epoch);
	/* Administration through the controller (any node may ask): 0 and
	 * done(arg, ...) exactly once later on the loop thread, once the
	 * change is in ZooKeeper and applied on this node (or failed); or a
	 * negative code at once (done never called). */
	int (*create_topic)(void *ctx, const struct tdm_replica_topic_spec *spec,
			    tdm_replica_done_fn done, void *arg);
	int (*delete_topic)(void *ctx, const char *name, tdm_replica_done_fn done, void *arg);
	int (*add_partitions)(void *ctx, const char *name, int32_t count, tdm_replica_done_fn done,
			      void *arg);
	/* The topic's configs become exactly configs (n of them: the
	 * overrides; every other key is the broker's default), on every
	 * node: done once this node applied them. */
	int (*alter_config)(void *ctx, const char *name, const struct tdm_kv *configs, size_t n,
			    tdm_replica_done_fn done, void *arg);
	/* Dynamic broker configs (core/dyn_defaults.h): layer (TDM_DYN_*)
	 * becomes exactly configs, cluster-wide (the default) or for this
	 * node: done once it is in ZooKeeper and applied on this node. */
	int (*alter_broker_config)(void *ctx, int layer, const struct tdm_kv *configs, size_t n,
				   tdm_replica_done_fn done, void *arg);
	/* A write to topic/partition that this node does not lead: send rec
	 * (borrowed for the call: the hook copies it) to node `leader` over
	 * the cluster link, gathered with the other records forwarded to the
	 * same partition into one RecordBatch v2 (tdm_replica_forward_batch)
	 * of one acks=all Produce.  0 and done(arg, ...) exactly once later,
	 * never during the call, with the answer to the Produce that carried
	 * rec (TDM_REPL_OK once the leader's in-sync replicas have it); the
	 * dones of one partition's records run in the order they were given.
	 * Or a negative code at once (done never called).  NULL: no link. */
	int (*forward)(void *ctx, int32_t leader, const char *topic, int32_t partition,
		       const struct tdm_record *rec, tdm_replica_done_fn done, void *arg);
	/* A transaction's marker m (borrowed for the call) for topic/partition,
	 * which node `leader` leads: one WriteTxnMarkers request over the
	 * cluster link.  0 and done(arg, ...) exactly once later, never during
	 * the call, with the leader's answer (TDM_REPL_OK once the marker is
	 * on its in-sync replicas); or a negative code at once (done never
	 * called).  NULL: no link. */
	int (*write_marker)(void *ctx, int32_t leader, const char *topic, int32_t partition,
			    const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg);
	/* The cluster link's counters into out's link_* fields (NULL: none). */
	void (*link_stats)(void *ctx, struct tdm_replica_stats *out);
};

/* Kafka's answers to a write or read on a partition of the cluster. */
#define TDM_REPL_OK 0
#define TDM_REPL_NOT_LEADER (-200)          /* NOT_LEADER_OR_FOLLOWER (6) */
#define TDM_REPL_NO_LEADER (-201)           /* LEADER_NOT_AVAILABLE (5) */
#define TDM_REPL_UNKNOWN (-202)             /* UNKNOWN_TOPIC_OR_PARTITION (3) */
#define TDM_REPL_NOT_ENOUGH (-203)          /* NOT_ENOUGH_REPLICAS (19) */
#define TDM_REPL_NOT_ENOUGH_AFTER (-204)    /* NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) */
#define TDM_REPL_FENCED_EPOCH (-205)        /* FENCED_LEADER_EPOCH (74) */
#define TDM_REPL_UNKNOWN_EPOCH (-206)       /* UNKNOWN_LEADER_EPOCH (75) */
#define TDM_REPL_BAD_FACTOR (-207)          /* INVALID_REPLICATION_FACTOR (38) */
#define TDM_REPL_BAD_ASSIGNMENT (-208)      /* INVALID_REPLICA_ASSIGNMENT (39) */
#define TDM_REPL_TIMED_OUT (-209)           /* REQUEST_TIMED_OUT (7) */
#define TDM_REPL_NO_CLUSTER (-210)          /* not reachable now: NOT_CONTROLLER-like (41) */

/* A short English description of a TDM_REPL_* code (else tdm_strerror's). */
const char *tdm_replica_strerror(int rc);

/*
 * A replica manager for node `node_id` over topics (borrowed).  hooks is
 * copied; ctx is passed to them.  lag_max_ms: replica_lag_time_max_ms;
 * min_insync: the broker default of min.insync.replicas (a topic's
 * config overrides it).  NULL on allocation failure.
 */
struct tdm_replica *tdm_replica_new(struct tdm_topics *topics, int32_t node_id,
				    const struct tdm_replica_hooks *hooks, void *ctx,
				    uint32_t lag_max_ms, uint32_t min_insync);
/* Frees r (NULL is fine); hooks are not called. */
void tdm_replica_free(struct tdm_replica *r);

/* ---- fed by src/cluster -------------------------------------------- */

/* The live nodes (copied), replacing the previous list. */
int tdm_replica_set_nodes(struct tdm_replica *r, const struct tdm_replica_node *nodes,
			  size_t n);
/* The controller's node id (TDM_NO_NODE: none elected). */
void tdm_replica_set_controller(struct tdm_replica *r, int32_t node_id);
/*
 * The state of topic/partition (copied).  A state older than the one
 * held (smaller leader epoch, or same epoch and smaller version) is
 * ignored.  When this node becomes the leader: the log gets the new
 * leader epoch starting at its log end, followers' positions start
 * unknown; when it becomes a follower: the follow hook is called.  The
 * local log must exist (src/cluster creates it first).  0, or
 * TDM_REPL_UNKNOWN when topics has no such partition.
 */
int tdm_replica_set_state(struct tdm_replica *r, const char *topic, int32_t partition,
			  const struct tdm_partition_state *st);
/* topic is gone from the cluster: forget its states (followers stop). */
void tdm_replica_forget_topic(struct tdm_replica *r, const char *topic);
/* This node lost its ZooKeeper session: it leads nothing and follows
 * nothing until states come again (Kafka fences an expired broker). */
void tdm_replica_resign_all(struct tdm_replica *r);
/* Periodic work (every 100 ms or so): ISR shrink of lagging followers.
 * now_ms here and in tdm_replica_follower_fetch: one clock for both
 * (CLOCK_MONOTONIC milliseconds), as a follower's lag is their difference. */
void tdm_replica_tick(struct tdm_replica *r, int64_t now_ms);

/* ---- asked by the front ends --------------------------------------- */

/* Counters and gauges of this node's replicas (for /metrics). */
struct tdm_replica_stats {
	uint64_t partitions;       /* partitions with a known state */
	uint64_t leaders;          /* led here */
	uint64_t under_replicated; /* led here with an ISR smaller than the replicas */
	uint64_t under_min_isr;    /* led here with an ISR below min.insync.replicas */
	uint64_t offline;          /* known with no leader */
	uint64_t isr_shrinks;      /* ISR shrinks this node asked for, since start */
	uint64_t isr_expands;
	uint64_t max_lag;          /* most records a follower of ours is behind */
	/* the cluster link (the link_stats hook; 0 without one) */
	uint64_t link_sent;        /* Produce requests sent to other nodes */
	uint64_t link_records;     /* records (forwarded publishes) those carried */
	uint64_t link_failed;      /* records answered with an error, or lost with their link */
	uint64_t link_losses;      /* link connections lost or refused */
	uint64_t link_peers;       /* link connections authenticated now */
};
void tdm_replica_get_stats(const struct tdm_replica *r, struct tdm_replica_stats *out);
/* Calls fn for every partition with a known state (order unspecified);
 * lag: for a partition led here, the most records a follower is behind
 * (0 otherwise). */
typedef void (*tdm_replica_part_fn)(void *ctx, const char *topic, int32_t partition,
				    const struct tdm_partition_state *st, uint64_t hw,
				    uint64_t lag);
void tdm_replica_foreach(const struct tdm_replica *r, tdm_replica_part_fn fn, void *ctx);

/*
 * Cluster administration (Kafka's CreateTopics, DeleteTopics,
 * CreatePartitions in a cluster), through the hooks.  0: done(arg, rc,
 * msg) runs later, exactly once, unless *op is forgotten first; else the
 * error at once (done never called), with a reason in err.
 */
struct tdm_replica_op;
int tdm_replica_create_topic(struct tdm_replica *r, const struct tdm_replica_topic_spec *spec,
			     tdm_replica_done_fn done, void *arg, struct tdm_replica_op **op,
			     char *err, size_t errlen);
int tdm_replica_delete_topic(struct tdm_replica *r, const char *name, tdm_replica_done_fn done,
			     void *arg, struct tdm_replica_op **op, char *err, size_t errlen);
int tdm_replica_add_partitions(struct tdm_replica *r, const char *name, int32_t count,
			       tdm_replica_done_fn done, void *arg, struct tdm_replica_op **op,
			       char *err, size_t errlen);
/* Kafka's AlterConfigs of a topic in a cluster (the alter_config hook). */
int tdm_replica_alter_config(struct tdm_replica *r, const char *name, const struct tdm_kv *configs,
			     size_t n, tdm_replica_done_fn done, void *arg,
			     struct tdm_replica_op **op, char *err, size_t errlen);
/* Kafka's AlterConfigs of a BROKER resource in a cluster (the
 * alter_broker_config hook), as tdm_replica_alter_config. */
int tdm_replica_alter_broker_config(struct tdm_replica *r, int layer,
				    const struct tdm_kv *configs, size_t n,
				    tdm_replica_done_fn done, void *arg, struct tdm_replica_op **op,
				    char *err, size_t errlen);
/*
 * A write to topic/partition on a node that does not lead it, sent to the
 * leader its state names (the forward hook): rec is borrowed for the call
 * (its timestamp < 0 becomes the time the link builds the batch: give it
 * the publish time).  The link gathers the records forwarded to one
 * partition in one loop turn into one Produce, so this is cheap to call
 * once per publish.  0: done(arg, rc, msg) later, exactly once, with the
 * answer to the Produce that carried rec, unless *op is forgotten first
 * (the other records of that Produce are still answered); else at once
 * TDM_REPL_NO_LEADER (none now), TDM_REPL_UNKNOWN (no state),
 * TDM_REPL_NOT_LEADER (this node leads it: append here),
 * TDM_REPL_NO_CLUSTER (no cluster link) or TDM_ERR_NOMEM, done never
 * called.
 */
int tdm_replica_forward(struct tdm_replica *r, const char *topic, int32_t partition,
			const struct tdm_record *rec, tdm_replica_done_fn done, void *arg,
			struct tdm_replica_op **op);
/*
 * A transaction coordinator's marker m (borrowed for the call) for
 * topic/partition, which another node leads: sent to the leader its state
 * names (the write_marker hook), which appends it as Kafka's
 * WriteTxnMarkers does.  0: done(arg, rc, msg) later on the loop thread,
 * never during this call, exactly once unless *op is forgotten first:
 * TDM_REPL_OK once the leader has appended the marker and every in-sync
 * replica has it (acks=all); TDM_ERR_PRODUCER_FENCED when the leader
 * refused m's producer epoch (an older one ended the transaction there
 * already, or a newer one exists); TDM_REPL_NOT_LEADER,
 * TDM_REPL_NOT_ENOUGH, TDM_REPL_NOT_ENOUGH_AFTER, TDM_REPL_TIMED_OUT,
 * TDM_REPL_UNKNOWN, TDM_ERR_IO ... for the leader's other answers;
 * TDM_REPL_NO_CLUSTER when the link was lost or the answer did not parse
 * (msg says why).  Else at once, done never called: TDM_REPL_UNKNOWN (no
 * state), TDM_REPL_NO_LEADER (none now), TDM_REPL_NOT_LEADER (this node
 * leads it: the caller appends the marker here itself),
 * TDM_REPL_NO_CLUSTER (no hook, no link) or TDM_ERR_NOMEM.
 */
int tdm_replica_write_marker(struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg,
			     struct tdm_replica_op **op);
/*
 * The one RecordBatch v2 that carries recs[0..n) forwarded to a leader
 * (uncompressed, as a producer sends it; timestamps < 0 become now) into
 * *out (malloc'd: the caller frees it) and *len.  0, TDM_ERR_NOMEM, or
 * TDM_ERR_TOO_LARGE.  For the cluster link, which must not depend on
 * logstore.
 */
int tdm_replica_forward_batch(const struct tdm_record *recs, size_t n, void **out, size_t *len);
/* done will not be called for op (its waiter went away).  NULL is fine. */
void tdm_replica_op_forget(struct tdm_replica_op *op);

int32_t tdm_replica_node_id(const struct tdm_replica *r); /* 1 for NULL (KF_NODE_ID) */
int32_t tdm_replica_controller(const struct tdm_replica *r);
/* The live nodes (borrowed until the next tdm_replica_set_nodes). */
size_t tdm_replica_nodes(const struct tdm_replica *r, const struct tdm_replica_node **nodes);
/* The state of topic/partition (borrowed until it changes), or NULL when
 * none is known. */
const struct tdm_partition_state *tdm_replica_state(const struct tdm_replica *r,
						     const char *topic, int32_t partition);
/* May this node serve produce, consumer fetch and list-offsets for it?
 * TDM_REPL_OK, TDM_REPL_NOT_LEADER, TDM_REPL_NO_LEADER, TDM_REPL_UNKNOWN.
 * NULL r: TDM_REPL_OK. */
int tdm_replica_check_leader(const struct tdm_replica *r, const char *topic,
			     int32_t partition);
/*
 * May this node serve a consumer's read of topic/partition whose fetch can
 * be served by a follower (Kafka's Fetch v11+, KIP-392)?  TDM_REPL_OK when
 * it leads it, or is one of its replicas while a leader is known (a
 * follower serves below the high watermark it learnt from the leader:
 * tdm_replica_high_watermark); else TDM_REPL_NO_LEADER,
 * TDM_REPL_NOT_LEADER (not a replica), TDM_REPL_UNKNOWN (no state: also
 * after the ZooKeeper session was lost).  NULL r: TDM_REPL_OK.
 */
int tdm_replica_check_read(const struct tdm_replica *r, const char *topic, int32_t partition);
/*
 * Leader: the replica a consumer in `rack` should read topic/partition
 * from at fetch_offset, as Kafka's RackAwareReplicaSelector picks it
 * (replica.selector.class; the front end asks only when it is configured):
 * the leader (TDM_NO_NODE) when its own rack is `rack`, when no live
 * in-sync follower in that rack holds fetch_offset yet, when rack is NULL
 * or empty, or when this node does not lead it; else the follower in that
 * rack with the longest log (then the one caught up last), whose node id is
 * returned.
 */
int32_t tdm_replica_preferred_read(const struct tdm_replica *r, const char *topic,
				   int32_t partition, const char *rack, uint64_t fetch_offset);
/* The high watermark of a partition here: how far consumers may read.
 * NULL r (or no state): the log end. */
uint64_t tdm_replica_high_watermark(const struct tdm_replica *r, const char *topic,
				    int32_t partition, const struct ls_partition *p);
/*
 * acks=all, before appending: TDM_REPL_NOT_ENOUGH when the ISR is smaller
 * than min.insync.replicas (the topic's, else the broker's), else
 * TDM_REPL_OK (also for NULL r).
 */
int tdm_replica_check_insync(const struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct ls_partition *p);
/*
 * acks=all, while waiting: TDM_REPL_OK once every ISR member has offset
 * `target` (the high watermark reached it), 1 while it has not,
 * TDM_REPL_NOT_ENOUGH_AFTER when the ISR shrank below min.insync.replicas
 * meanwhile, TDM_REPL_NOT_LEADER when this node stopped leading.  NULL r:
 * TDM_REPL_OK.  Waiters are woken through the topics' flush waiters
 * (tdm_topics_wait_flush) whenever a high watermark moves.
 */
int tdm_replica_acked(const struct tdm_replica *r, const char *topic, int32_t partition,
		      const struct ls_partition *p, uint64_t target);
/*
 * A follower (replica_id) fetched topic/partition at fetch_offset: its
 * log end is fetch_offset.  Moves the high watermark, may ask to expand
 * the ISR.  TDM_REPL_OK, or TDM_REPL_NOT_LEADER when this node does not
 * lead it, TDM_REPL_UNKNOWN when replica_id is not one of its replicas,
 * TDM_REPL_FENCED_EPOCH when leader_epoch (>= 0) is older than ours,
 * TDM_REPL_UNKNOWN_EPOCH when it is newer.
 */
int tdm_replica_follower_fetch(struct tdm_replica *r, int32_t replica_id, const char *topic,
			       int32_t partition, uint64_t fetch_offset, int32_t leader_epoch,
			       int64_t now_ms);
/* Follower: the leader's high watermark as its Fetch response gave it;
 * ours becomes min(that, our log end); when it moves, p's waiters are
 * woken (tdm_topics_notify: stream queue consumers read up to it). */
void tdm_replica_follower_hw(struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct ls_partition *p, uint64_t leader_hw);


/*
 * Applier topics: read-your-writes for the definitions log.  A record of
 * topic is acknowledged (tdm_replica_acked, acks=all) only once every ISR
 * member has *applied* it, not only stored it, so that whoever proposed a
 * definition may use it on any node as soon as it is answered, as a
 * RabbitMQ cluster's schema change is on every node once it returns.
 *  - Each node's applier reports what it applied (tdm_replica_set_applied).
 *  - A follower runs the applier (fn(ctx), on the loop thread) after a
 *    fetch response moved the high watermark of a partition of topic,
 *    before it fetches again (tdm_replica_fetched, called by the fetcher).
 *  - So the leader knows a follower's next fetch on the same connection
 *    means it applied up to the high watermark the previous response
 *    carried (tdm_replica_follower_sent / tdm_replica_follower_applied,
 *    called by the Kafka Fetch handler for follower fetches).
 * One applier topic per node; setting it again replaces it.  0 or
 * TDM_ERR_NOMEM.
 */
int tdm_replica_set_applier(struct tdm_replica *r, const char *topic, void (*fn)(void *ctx),
			    void *ctx);
/* This node's applier applied [0, offset) of topic/partition. */
void tdm_replica_set_applied(struct tdm_replica *r, const char *topic, int32_t partition,
			     uint64_t offset);
/* Leader: the response to replica_id's fetch, on connection conn (any
 * token that tells connections apart), carried high watermark hw. */
void tdm_replica_follower_sent(struct tdm_replica *r, int32_t replica_id, const void *conn,
			       const char *topic, int32_t partition, uint64_t hw);
/* Leader: replica_id fetches again on conn at fetch_offset. */
void tdm_replica_follower_applied(struct tdm_replica *r, int32_t replica_id, const void *conn,
				  const char *topic, int32_t partition, uint64_t fetch_offset);
/* Follower: a fetch response was handled; runs the applier when due. */
void tdm_replica_fetched(struct tdm_replica *r);

#endif
