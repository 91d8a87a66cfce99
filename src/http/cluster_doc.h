/*
 * What the HTTP front end shows of the cluster: GET /api/cluster's
 * document and the cluster series of /metrics, both read from the replica
 * manager (core/replica.h) at the moment they are asked for.  Kept apart
 * from the endpoint (api_cluster.c) so the unit tests build them with a
 * replica manager filled by hand, without libevent or a server.
 *
 * Must not depend on: libevent, other front ends; the broker only through
 * core/replica.h.
 */
#ifndef TANDEM_HTTP_CLUSTER_DOC_H
#define TANDEM_HTTP_CLUSTER_DOC_H

struct js_w;
struct tdm_replica;
struct tdm_replica_node;

/*
 * Writes /api/cluster's object into w:
 *   {"clustered":B,"node_id":N,"controller":C,"nodes":[{"id","host",
 *    "kafka_port","amqp_port","http_port"}...],"partitions":[{"topic",
 *    "partition","leader","leader_epoch","replicas":[..],"isr":[..],
 *    "high_watermark","under_replicated":B,"offline":B,
 *    "max_follower_lag"}...],"under_replicated":N,"offline":N}
 * nodes sorted by id, partitions by topic then partition.  r NULL: a
 * single node ("clustered":false), described by self (borrowed), with no
 * partitions.  A partition is under-replicated when it has a leader and
 * an ISR smaller than its replicas, offline when it has no leader
 * (Kafka's kafka-topics --under-replicated-partitions and
 * --unavailable-partitions).  Allocation failures set w->oom.
 */
void hx_cluster_write(struct js_w *w, const struct tdm_replica *r,
		      const struct tdm_replica_node *self);

/*
 * Appends the cluster's Prometheus series (tandem_cluster_*,
 * tandem_partitions_*, tandem_isr_*, tandem_replica_max_lag_messages) to
 * w, raw text; nothing when r is NULL (a single node's /metrics stays as
 * it was).
 */
void hx_cluster_metrics(struct js_w *w, const struct tdm_replica *r);
/* The cluster definitions log's series (core/defs.h); nothing for NULL. */
struct tdm_defs;
void hx_defs_metrics(struct js_w *w, const struct tdm_defs *d);

#endif
