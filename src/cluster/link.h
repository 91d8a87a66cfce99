/*
 * The cluster link, client side: this node's connections to the other
 * nodes' cluster ports (`cluster_port`, registered in ZooKeeper), the way
 * the AMQP side of one node reaches another, as RabbitMQ's nodes use
 * Erlang distribution.  The wire is the Kafka protocol (cluster/kwire.h):
 * each connection first authenticates with the cluster secret (SaslHandshake
 * v1 "PLAIN", SaslAuthenticate v0 as TDM_CLUSTER_LINK_USER of
 * core/config.h), then carries
 * requests pipelined (Kafka answers in order).
 *
 * Two requests.  Produce v3 (acks=all) of one record batch to a
 * partition's leader, for stream queue publishes on a node that does not
 * lead the partition; and WriteTxnMarkers v0 of one transaction marker to
 * a partition's leader, for a transaction coordinator on another node
 * (one request per marker, queued on the peer's connection at once, so
 * not ordered with records of the same loop turn, which gather until its
 * end: the two come from different writers).  Records are gathered per peer and partition as
 * Kafka's producer does: those given in one loop turn go at its end as
 * one RecordBatch v2 in one Produce (at most 500 records and about 1 MiB
 * each; more make several), with at most 2 Produces of a partition
 * queued or in flight while the next batch gathers.  A partition's
 * records go in the order given, on the one connection to the peer, and
 * Kafka answers in order.  The records may carry the broker's own
 * headers ("x-amqp-properties"): the peer takes them from a connection
 * that knows the secret, never from a Kafka client.
 *
 * Failures: a connection not made and authenticated within 10 s, a
 * request not answered within 35 s (the Produce's own timeout is 30 s,
 * and a leader answers a marker not replicated within 30 s), a
 * refused secret, or a lost connection fails every request queued or in
 * flight on it (done with TDM_REPL_NO_CLUSTER and the reason), is logged
 * once as a warning ("cluster link to node N lost: ..."), and the next
 * request connects again.  Records still gathering for that node fail
 * with them; a failed request fails each record it carries.  An answer
 * that does not parse fails its request (TDM_REPL_NO_CLUSTER) and keeps
 * the connection.  A peer closing an idle connection (Kafka's
 * connections.max.idle.ms) loses nothing: the next request reconnects.  A request is never resent: a publisher's
 * message whose fate is unknown is nacked, and the publisher republishes,
 * as with any unconfirmed publish.
 *
 * Everything runs on the loop thread of base.
 *
 * Must not depend on: protocol front ends (src/kafka, src/amqp), logstore.
 */
#ifndef TANDEM_CLUSTER_LINK_H
#define TANDEM_CLUSTER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/replica.h"
#include "core/topic_types.h"

struct event_base;
struct tdm_link;

#define TDM_LINK_CONNECT_TIMEOUT_MS 10000 /* connected and authenticated */
#define TDM_LINK_PRODUCE_TIMEOUT_MS 30000 /* the Produce's timeout_ms */
#define TDM_LINK_REQUEST_TIMEOUT_MS 35000 /* an answer, else the link is lost */

/* Node id -> where its cluster port is (host NUL-terminated in hostlen
 * bytes); 0, or -1 when unknown (the request fails at once). */
typedef int (*tdm_link_resolve_fn)(void *ctx, int32_t node, char *host, size_t hostlen,
				   int *port);

/*
 * The link of node node_id.  secret[0..secret_len) is copied; resolve and
 * ctx are kept.  NULL on allocation failure.
 */
struct tdm_link *tdm_link_new(struct event_base *base, int32_t node_id, const char *secret,
			      size_t secret_len, tdm_link_resolve_fn resolve, void *ctx);
/* Closes every connection; requests still waiting get done(arg,
 * TDM_REPL_NO_CLUSTER, ...) first.  NULL is fine. */
void tdm_link_free(struct tdm_link *l);

/*
 * Sends rec (copied; a timestamp < 0 becomes the time its batch is
 * built) to topic/partition on node `node`, in the next acks=all Produce
 * of that partition (see above: gathered with the other records given
 * for it in this loop turn).  0: done(arg, rc, msg) runs later on the
 * loop thread, never during this call, exactly once, with the answer to
 * the Produce that carried rec: TDM_REPL_OK once the leader has it on
 * its in-sync replicas, else a TDM_REPL_* / TDM_ERR_* code with a reason
 * (every record of a Produce gets the same).  The dones of one
 * partition's records run in the order the records were given.  -1 at
 * once (done never called) on allocation failure.
 */
int tdm_link_produce(struct tdm_link *l, int32_t node, const char *topic, int32_t partition,
		     const struct tdm_record *rec, tdm_replica_done_fn done, void *arg);

/*
 * Sends transaction marker m (copied) for topic/partition to node `node`
 * in one WriteTxnMarkers v0 request, queued on the peer after what is
 * already queued.  0: done(arg, rc, msg) runs later on the loop thread,
 * never during this call, exactly once: TDM_REPL_OK once the leader has
 * the marker on its in-sync replicas; the leader's error through
 * tdm_link_produce_error (TDM_ERR_PRODUCER_FENCED for a refused producer
 * epoch); TDM_REPL_NO_CLUSTER with the reason when the link was lost, the
 * request not answered in time, or the answer does not parse (or does not
 * name the partition asked).  -1 at once (done never called) on
 * allocation failure.
 */
int tdm_link_write_marker(struct tdm_link *l, int32_t node, const char *topic, int32_t partition,
			  const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg);

/* Link counters (for /metrics and tests). */
struct tdm_link_stats {
	uint64_t sent;      /* Produce requests written */
	uint64_t markers;   /* WriteTxnMarkers requests written */
	uint64_t records;   /* records those carried */
	uint64_t ok;        /* records answered without error */
	uint64_t failed;    /* records answered with an error, lost with their link, or
			     * not sent (their batch could not be built) */
	uint64_t losses;    /* connections lost or refused */
	uint64_t connected; /* peers authenticated now */
};
void tdm_link_get_stats(const struct tdm_link *l, struct tdm_link_stats *out);

/* Kafka's error code of a Produce or WriteTxnMarkers answer as a
 * TDM_REPL_* / TDM_ERR_* code: INVALID_PRODUCER_EPOCH (47) and
 * PRODUCER_FENCED (90) are TDM_ERR_PRODUCER_FENCED, a code without a
 * counterpart TDM_REPL_NO_CLUSTER (a pure function, unit-tested). */
int tdm_link_produce_error(int16_t kafka_error);
/*
 * The body of a WriteTxnMarkers v0 answer (after its correlation id:
 * markers [producer_id, topics [name, partitions [partition_index,
 * error_code]]]) in body[0..len): 0 with *kafka_error, the error of
 * topic/partition under producer_id; -1 when it does not parse (short,
 * trailing bytes) or does not name that partition (a pure function,
 * unit-tested).
 */
int tdm_link_marker_answer(const void *body, size_t len, int64_t producer_id, const char *topic,
			   int32_t partition, int16_t *kafka_error);

#endif
