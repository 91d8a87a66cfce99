/*
 * What the transaction coordinator's files share (txn_coord.c: the state
 * machine; txn_log.c: its log).
 *
 * Loop thread only.  Must not depend on: src/amqp.
 */
#ifndef TANDEM_KAFKA_TXN_INTERNAL_H
#define TANDEM_KAFKA_TXN_INTERNAL_H

#include <stdint.h>

#include "core/map.h"
#include "core/topics.h"
#include "kafka/txn.h"

struct kf_txns {
	struct kf_server *srv;
	struct tdm_map by_key; /* key -> struct kf_txn */
	struct event *timer;   /* owned: timeouts, unfinished completions */
	struct tdm_topics_waiter flushed; /* a completed fsync round */
	int clustered;         /* zookeeper_connect is set: coordinating comes and goes */
	int loaded;            /* the state is read (a cluster: at epoch) */
	int32_t epoch;         /* the coordinator epoch: the offsets partition's leader epoch */
};

void kf_txn_free(struct kf_txn *t); /* NULL is fine; forgets its markers in flight */
/* Adds topic/partition to t's partitions: 1 added, 0 already there, -1 no memory. */
int kf_txn_part_add(struct kf_txn *t, const char *topic, int32_t partition);
/* Reads the state log into ts's map (a record replaces its id's). */
void kf_txns_load(struct kf_txns *ts);
/* Forgets t: a tombstone in the log, then out of the map (freed); kept
 * (tried again at the next check) when the tombstone cannot be written. */
void kf_txns_expire(struct kf_txns *ts, struct kf_txn *t);

#endif
