/*
 * Kafka's dynamic broker configs in a cluster (ZooKeeper mode): the
 * cluster-wide default in /config/brokers/<default>, this node's own in
 * /config/brokers/<id>, each {"version":1,"config":{...}} with Kafka's
 * broker names (log.retention.ms), as Kafka writes them.  Every node reads both at each
 * session and watches them (a missing one: its creation), and applies what
 * they hold to its dynamic topic defaults (core/dyn_defaults.h).  An
 * alteration asked of a node writes the znode and, once written, applies
 * it here at once; the others take it from their watch.
 *
 * Must not depend on: src/kafka, src/amqp, src/http.
 */
#ifndef TANDEM_CLUSTER_BROKER_CONFIG_H
#define TANDEM_CLUSTER_BROKER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/replica.h"

struct zk;
struct tdm_topics;
struct cnb;

/* NULL when out of memory.  zk and topics borrowed. */
struct cnb *cnb_new(struct zk *zk, struct tdm_topics *topics, int32_t id);
/* Reads (and watches) both znodes: at each new session. */
void cnb_join(struct cnb *b);
/* 1 when a watch on path is one of ours (then read again), else 0. */
int cnb_watch_fired(struct cnb *b, const char *path);
/* The layer (TDM_DYN_BROKER: this node's, TDM_DYN_DEFAULT) becomes
 * exactly kv (n pairs, values already checked): 0 and done(arg, ...) once
 * later, or a negative code at once (done never called). */
int cnb_alter(struct cnb *b, int layer, const struct tdm_kv *kv, size_t n, tdm_replica_done_fn done,
	      void *arg);
/* After zk_free (no callback comes any more): alterations still out are
 * told TDM_REPL_NO_CLUSTER. */
void cnb_free(struct cnb *b);

#endif
