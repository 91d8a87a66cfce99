/*
 * The replica fetcher: Kafka's ReplicaFetcherThread on our event loop.
 * A follower's partitions are fetched from their leaders over the Kafka
 * protocol, one connection per leader node (a libevent
 * bufferevent), one request in flight on it at a time:
 *
 *   1. a partition newly given to a leader (tdm_fetcher_follow) first
 *      asks the leader OffsetForLeaderEpoch (v3, replica_id = our node
 *      id, current_leader_epoch = the leader's epoch) for our log's
 *      latest leader epoch, and truncates our log to the end offset the
 *      leader answers when that is below our log end (Kafka's KIP-101 /
 *      KIP-279 rule, walking back through our own epochs when the leader
 *      answers an older one); a log with no epoch is not truncated;
 *   2. then Fetch (v5, replica_id = our node id, max_wait 500 ms,
 *      min_bytes 1) from our log end; what arrives is appended as it is
 *      (tdm_topics_append_replica: the leader's batches, byte for byte),
 *      the leader's high watermark goes to tdm_replica_follower_hw, and
 *      the leader's log start becomes ours when it is within our log
 *      (tdm_topics_set_log_start; Kafka's follower log start); after each
 *      response the replica manager's applier runs (tdm_replica_fetched)
 *      before the next request goes;
 *   3. OFFSET_OUT_OF_RANGE: ListOffsets (replica_id = our node id) for the
 *      leader's log end; below ours we truncate to it, else ListOffsets for
 *      the leader's log start (Kafka's handleOutOfRangeError); when that is
 *      past our log end Kafka truncates fully and starts there, which the
 *      store cannot do yet (a log cannot restart past its end): the
 *      partition waits and logs why;
 *   4. NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
 *      UNKNOWN_TOPIC_OR_PARTITION and other partition errors: the
 *      partition waits (TDM_FETCHER_BACKOFF_MS, Kafka's
 *      replica.fetch.backoff.ms) and starts again at step 1, or at once
 *      when tdm_fetcher_follow hands it a new state;
 *   5. a lost or refused connection (or one not accepted within 10 s, a
 *      request not answered within 30 s past its max wait, a response
 *      that does not parse) is retried after 100 ms, doubling to 2 s, and
 *      every partition of that leader starts again at step 1.
 *
 * The leader's address comes from the owner's resolvers, asked at each
 * connection attempt.  Once tdm_fetcher_use_link gave the cluster's
 * secret (this node has a cluster port), a leader that registered a
 * cluster port is fetched from there: the connection first authenticates
 * as the cluster link does (SASL PLAIN as TDM_CLUSTER_LINK_USER with the
 * secret, kwire.h's kw_sasl_*) and the leader then serves it as the
 * broker itself.  A refusal is logged as a warning once per leader (until
 * an authentication succeeds again) and retried as a lost connection
 * (step 5).  Otherwise (no secret here, or no cluster port there) the
 * leader's Kafka listener is used, plain and anonymous, which must let
 * kafka_default_user in as an administrator; that is logged as a warning
 * once.  TLS between nodes is not done.
 *
 * Everything runs on the loop thread of base.
 *
 * Must not depend on: src/kafka's front end (the little Kafka client
 * codec it needs is its own, cluster/kwire.h), src/amqp, src/http.
 */
#ifndef TANDEM_CLUSTER_FETCHER_H
#define TANDEM_CLUSTER_FETCHER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct tdm_topics;
struct tdm_replica;
struct tdm_fetcher;

#define TDM_FETCHER_MAX_WAIT_MS 500   /* Kafka's replica.fetch.wait.max.ms */
#define TDM_FETCHER_BACKOFF_MS 1000   /* Kafka's replica.fetch.backoff.ms */
#define TDM_FETCHER_RECONNECT_MIN_MS 100
#define TDM_FETCHER_RECONNECT_MAX_MS 2000

/* Node id -> where its Kafka listener (or its cluster port) is: fills
 * host (hostlen bytes, NUL-terminated) and *port; 0, or -1 when the node
 * is unknown or has no such port (the connection is retried later, as
 * after a refusal). */
typedef int (*tdm_fetcher_resolve_fn)(void *ctx, int32_t node, char *host, size_t hostlen,
				      int *port);

/*
 * A fetcher for node node_id.  base, topics and replica are borrowed and
 * must outlive it; replica may be NULL (no high watermark is handed on:
 * tests, a single node).  resolve and ctx are kept.  NULL on allocation
 * failure.
 */
struct tdm_fetcher *tdm_fetcher_new(struct event_base *base, struct tdm_topics *topics,
				    struct tdm_replica *replica, int32_t node_id,
				    tdm_fetcher_resolve_fn resolve, void *ctx);
/*
 * Leaders that registered a cluster port (resolve_cluster, with the ctx
 * of tdm_fetcher_new) are fetched from there from the next connection
 * on, authenticated with secret[0..secret_len) (copied; wiped when f is
 * freed).  0, or -1 on allocation failure or when f is NULL.
 */
int tdm_fetcher_use_link(struct tdm_fetcher *f, const char *secret, size_t secret_len,
			 tdm_fetcher_resolve_fn resolve_cluster);
/*
 * core/replica.h's follow hook: fetch topic/partition from node leader at
 * leader_epoch from now on (starting at step 1 above whenever the leader
 * or the epoch changes), or stop fetching it when leader is TDM_NO_NODE.
 * The local partition must exist; a call naming the same leader and epoch
 * as the one in force changes nothing.  A connection with no partition
 * left is closed.  0, or -1 on allocation failure.
 */
int tdm_fetcher_follow(struct tdm_fetcher *f, const char *topic, int32_t partition,
		       int32_t leader, int32_t leader_epoch);
/* The same with the hook's signature (ctx is the fetcher). */
void tdm_fetcher_follow_hook(void *ctx, const char *topic, int32_t partition, int32_t leader,
			     int32_t leader_epoch);

/* What a partition is doing (for tests, logs and metrics). */
enum tdm_fetcher_state {
	TDM_FETCHER_NONE = 0,   /* not followed */
	TDM_FETCHER_TRUNCATING, /* OffsetForLeaderEpoch to send or under way */
	TDM_FETCHER_OUT_OF_RANGE, /* ListOffsets to send or under way */
	TDM_FETCHER_FETCHING,
	TDM_FETCHER_WAITING,    /* after an error: backing off */
};
/* The state of topic/partition, and (when not NULL) the number of
 * truncations done to it so far. */
enum tdm_fetcher_state tdm_fetcher_state(const struct tdm_fetcher *f, const char *topic,
					 int32_t partition, uint64_t *truncations);
/* Where the last truncation of topic/partition cut its log (the new log
 * end it asked for), or -1 when none was done. */
int64_t tdm_fetcher_last_truncation(const struct tdm_fetcher *f, const char *topic,
				    int32_t partition);

/* Stops every fetch and frees f (connections closed, nothing more
 * appended).  NULL is fine. */
void tdm_fetcher_free(struct tdm_fetcher *f);

/*
 * Kafka's truncation decision after OffsetForLeaderEpoch, as a pure
 * function (unit-tested).  We asked for epoch asked (our latest) and the
 * leader answered leader_epoch / leader_end (-1 / -1: it knows no epoch at
 * or below ours).  ours_end_for(leader_epoch) is our own answer to the
 * same question (our epoch cache: the largest epoch <= leader_epoch and
 * its end offset).  Sets *truncate_to (never above log_end) and returns 0
 * when done, or 1 with *next_epoch set when the leader answered an epoch
 * we do not have and the question must be asked again for that older one
 * of ours (Kafka: truncate to our end of it, then ask again).
 */
struct tdm_fetcher_epoch_end {
	int32_t epoch;   /* -1: none */
	int64_t end;     /* -1: none */
};
int tdm_fetcher_truncation(int32_t asked, struct tdm_fetcher_epoch_end leader,
			   struct tdm_fetcher_epoch_end ours_for_leader_epoch, uint64_t log_end,
			   uint64_t high_watermark, uint64_t *truncate_to, int32_t *next_epoch);

#endif
