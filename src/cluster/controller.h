/*
 * The cluster controller, Kafka's ZooKeeper-era KafkaController over one
 * ZooKeeper session (cluster/zk.h): controller election through the
 * ephemeral /controller and the /controller_epoch counter, and, while
 * this node is the controller, the reactions to broker deaths and returns
 * (/brokers/ids), new topics and partitions (/brokers/topics) and topic
 * deletions (/admin/delete_topics), with the rules of cluster/ctl.h.
 * Every partition-state write is fenced: a multi that checks the version
 * of /controller_epoch this controller set, plus the state's own version.
 * A failed epoch check means another controller took over: this one
 * resigns and runs for election again.
 *
 * The admin calls (create a topic, delete one, add partitions) work on
 * any node, controller or not, as Kafka's AdminZkClient: they write the
 * znodes and the controller picks them up through its watches.
 *
 * The controller writes no partition state while its own node is not in
 * /brokers/ids: register the node (/brokers/ids/N) before, or right after,
 * creating the controller, as Kafka registers a broker before its
 * controller starts.
 *
 * Threading: everything on the loop thread that runs the zk session's
 * event base; callbacks run there too, never inside the call that asked.
 *
 * The controller does not own the session: the owner creates it
 * (zk_new), forwards its session events here (ctlr_session_event), opens
 * it again after ZK_SESSION_EXPIRED, and frees the session (zk_free)
 * before the controller (ctlr_free), so that no callback of the session
 * comes after.  A session the owner closes itself (zk_close, zk_open)
 * reports nothing: the owner then calls ctlr_session_event(c,
 * ZK_SESSION_EXPIRED) so that the controller resigns at once.
 *
 * Must not depend on: the protocol front ends; core only through its
 * headers (replica.h's partition state, log.h).
 */
#ifndef TANDEM_CLUSTER_CONTROLLER_H
#define TANDEM_CLUSTER_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/zk.h"

struct tdm_controller;
struct tdm_partition_state;

struct ctlr_config {
	int32_t node_id;
	bool unclean_default;       /* unclean_leader_election: a topic's
				   * unclean.leader.election.enable overrides it */
	int32_t default_rf;         /* default_replication_factor, for rf -1 */
	int32_t default_partitions; /* num_partitions, for partitions -1 */
	/* auto.leader.rebalance: every this many ms (ctlr_tick) the preferred
	 * replicas that are in sync take their leads back; 0: never */
	int64_t rebalance_interval_ms;
};

struct ctlr_hooks {
	/* The controller changed: controller_id (CTL_NO_LEADER: none known)
	 * and the epoch this node saw it win with (0: not this node).  Called
	 * when this node wins, resigns, or learns another winner.  May be
	 * NULL. */
	void (*on_change)(void *ctx, int32_t controller_id, int32_t epoch);
	/* This controller wrote topic/partition's state (st valid for the
	 * call only).  May be NULL. */
	void (*on_state)(void *ctx, const char *topic, int32_t partition,
			 const struct tdm_partition_state *st);
};

/* Counters, for logs, metrics and tests. */
struct ctlr_stats {
	uint64_t elections_won;
	uint64_t resignations;
	uint64_t fenced_writes;   /* state writes refused by the epoch check */
	uint64_t state_writes;    /* state writes done */
	uint64_t state_conflicts; /* state version conflicts (re-read, redone) */
	uint64_t topics_deleted;
	uint64_t preferred_elections; /* leads given back to preferred replicas */
};

/*
 * A controller for node cfg->node_id over session zk (borrowed; see the
 * ownership rule above).  hooks is copied (NULL: none); ctx is passed to
 * them.  Runs for election when the session connects (ctlr_session_event)
 * or at once when it is connected already.  NULL on allocation failure.
 */
struct tdm_controller *ctlr_new(struct zk *zk, const struct ctlr_config *cfg,
				const struct ctlr_hooks *hooks, void *ctx);
/* Frees c (NULL is fine) without touching ZooKeeper; call it after
 * zk_free of its session.  Admin completions still pending are not
 * called. */
void ctlr_free(struct tdm_controller *c);

/* The owner's zk_session_fn forwards every event here: connected (a new
 * session runs for election), expired (this node resigns at once). */
void ctlr_session_event(struct tdm_controller *c, enum zk_session_event ev);

bool ctlr_is_controller(const struct tdm_controller *c);
/* The controller's node id as last seen in /controller, CTL_NO_LEADER
 * (-1) when none is known. */
int32_t ctlr_controller_id(const struct tdm_controller *c);
/* The controller epoch this node won with, 0 when it is not the
 * controller. */
int32_t ctlr_epoch(const struct tdm_controller *c);
const struct ctlr_stats *ctlr_stats(const struct tdm_controller *c);
/* Periodic work of the owner's loop (now_ms: a monotonic clock): the
 * controller's preferred replica elections, every rebalance_interval_ms. */
void ctlr_tick(struct tdm_controller *c, int64_t now_ms);

/* ---- admin, from any node ------------------------------------------ */

/* An admin call's completion: err 0, or a CTL_ERR_* of cluster/ctl.h (-err
 * is the Kafka error code); msg is Kafka's error message or NULL (valid
 * for the call only). */
typedef void (*ctlr_done_fn)(void *ctx, int err, const char *msg);

/* One partition's replicas in an explicit assignment. */
struct ctlr_replicas {
	const int32_t *ids;
	size_t n;
};

/*
 * Creates topic `name` as Kafka's AdminZkClient.createTopicWithAssignment:
 * with `assignment` (nassignment partitions, 0..n-1; then partitions and
 * rf must be -1), else `partitions` partitions of `rf` replicas (-1: the
 * configured defaults) placed by ctl_assign over the live brokers.
 * Writes /config/topics/T (keys/values, n configs; copied), then
 * /brokers/topics/T; the controller writes the partition states when it
 * sees the topic.  validate_only: checks everything, writes nothing.
 * done fires once the assignment znode is written (or the check is
 * over): 0, CTL_ERR_TOPIC_EXISTS (also when the topic is marked for
 * deletion), CTL_ERR_INVALID_PARTITIONS, CTL_ERR_INVALID_REPLICATION_FACTOR,
 * CTL_ERR_INVALID_REPLICA_ASSIGNMENT, CTL_ERR_NOMEM, or
 * CTL_ERR_UNKNOWN_SERVER with ZooKeeper's text when ZooKeeper fails.
 * 0, or -1 when out of memory (done is then never called).
 */
int ctlr_create_topic(struct tdm_controller *c, const char *name, int32_t partitions, int32_t rf,
		      const struct ctlr_replicas *assignment, size_t nassignment,
		      const char *const *keys, const char *const *values, size_t nconfigs,
		      bool validate_only, ctlr_done_fn done, void *ctx);

/*
 * Marks topic `name` for deletion (/admin/delete_topics/T), as
 * AdminZkClient.deleteTopic; the controller removes its znodes.  done: 0
 * (also when it was marked already), CTL_ERR_UNKNOWN_TOPIC.  0, or -1
 * when out of memory.
 */
int ctlr_delete_topic(struct tdm_controller *c, const char *name, ctlr_done_fn done, void *ctx);

/*
 * Grows topic `name` to `total` partitions (CreatePartitions), as
 * AdminZkClient.addPartitions: the new partitions get `assignment`
 * (total minus today's count entries) or ctl_assign_more's placement;
 * /brokers/topics/T is rewritten with compare-and-set on its version
 * (tried again on a conflict).  done: 0, CTL_ERR_UNKNOWN_TOPIC,
 * CTL_ERR_INVALID_TOPIC (marked for deletion), CTL_ERR_INVALID_PARTITIONS,
 * CTL_ERR_INVALID_REPLICATION_FACTOR, CTL_ERR_INVALID_REPLICA_ASSIGNMENT.
 * 0, or -1 when out of memory.
 */
int ctlr_create_partitions(struct tdm_controller *c, const char *name, int32_t total,
			   const struct ctlr_replicas *assignment, size_t nassignment,
			   bool validate_only, ctlr_done_fn done, void *ctx);

#endif
