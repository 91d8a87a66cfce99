/*
 * Topic reads and administration for the front ends: looking topics and
 * partitions up, their bounds and sizes, configuration, offsets by time,
 * decoded records.  Together with core/topics.h (appends, reads for
 * sendfile, create/delete, waiters) and core/groups.h (consumer groups and
 * committed offsets) this is the one door to the logs: front ends call
 * these and never logstore, so that replication (later) plugs in here.
 *
 * Handles (struct ls_topic, struct ls_partition) are opaque above core:
 * valid until the topic is deleted, so look them up per request.
 * Everything runs on the loop thread.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_TOPIC_OPS_H
#define TANDEM_CORE_TOPIC_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/topic_types.h"

struct tdm_topics;

/* Topic `name` (internal ones included: check tdm_topic_is_internal), or
 * NULL when unknown or t is NULL. */
struct ls_topic *tdm_topic_find(struct tdm_topics *t, const char *name);
typedef void (*tdm_topic_fn)(struct ls_topic *topic, void *ctx);
/* fn for every topic in name order (internal ones included); fn must not
 * create or delete topics.  t NULL: none. */
void tdm_topics_foreach(struct tdm_topics *t, tdm_topic_fn fn, void *ctx);
const char *tdm_topic_name(const struct ls_topic *topic);
/* Its id in a cluster (ls_topic_id: "" when none), and setting it
 * (ls_topic_set_id: TDM_TOPIC_OK, TDM_ERR_INVALID, TDM_ERR_IO). */
const char *tdm_topic_id(const struct ls_topic *topic);
int tdm_topic_set_id(struct ls_topic *topic, const char *id);
int32_t tdm_topic_partitions(const struct ls_topic *topic);
/* 1 for the store's own topics ("__consumer_offsets"), else 0. */
int tdm_topic_is_internal(const struct ls_topic *topic);
/* Partition i of topic, or NULL out of range. */
struct ls_partition *tdm_topic_partition(struct ls_topic *topic, int32_t i);

/* Formats config `name` of topic into buf (NUL-terminated); *is_default
 * (may be NULL) tells whether it is the broker's default.  TDM_TOPIC_OK or
 * TDM_ERR_INVALID_CONFIG for an unknown key. */
int tdm_topic_config_value(const struct ls_topic *topic, const char *name, char *buf,
			   size_t len, int *is_default);
/* The i-th topic config key (every one the store knows, in a fixed
 * order), NULL past the last. */
const char *tdm_topic_config_name(size_t i);
/* Formats the broker's default for topic config `name` (tandem.conf's
 * log_* settings, else Kafka's) into buf.  TDM_TOPIC_OK or
 * TDM_ERR_INVALID_CONFIG for an unknown key. */
int tdm_topics_config_default(struct tdm_topics *t, const char *name, char *buf, size_t len);
/* Validates config `name` = value against topic's configuration (NULL:
 * Kafka's defaults) without changing anything, and writes the value as the
 * topic would show it into out (may be NULL).  TDM_TOPIC_OK or
 * TDM_ERR_INVALID_CONFIG. */
int tdm_topic_config_try(const struct ls_topic *topic, const char *name, const char *value,
			 char *out, size_t outlen);

/* A new idempotent producer id of this node's store (ls_producer_id_next):
 * TDM_TOPIC_OK or TDM_ERR_IO. */
int tdm_topics_producer_id(struct tdm_topics *t, int64_t *pid);

int32_t tdm_partition_index(const struct ls_partition *p);
/* Offset of the first record still stored (Kafka's log start offset). */
uint64_t tdm_partition_log_start(const struct ls_partition *p);
/* Offset the next record gets (the high watermark). */
uint64_t tdm_partition_log_end(const struct ls_partition *p);
/* Every record below this offset is fsynced. */
uint64_t tdm_partition_flushed(const struct ls_partition *p);
/* 1 once a write or fsync of p failed: nothing more will become durable. */
int tdm_partition_failed(const struct ls_partition *p);
uint64_t tdm_partition_bytes(const struct ls_partition *p);
size_t tdm_partition_segments(const struct ls_partition *p);
/* The replicated high watermark of p (ls_partition_high_watermark): 0
 * until set; set stores min(hw, log end), checkpointed with the recovery
 * point and at close, restored at open as min(checkpointed, log end).
 * Setting it wakes nobody: call tdm_topics_notify when it moved. */
uint64_t tdm_partition_high_watermark(const struct ls_partition *p);
void tdm_partition_set_high_watermark(struct ls_partition *p, uint64_t hw);
/*
 * Leader epochs of p (ls_partition_assign_epoch and friends, persisted in
 * the partition's leader-epoch-checkpoint before the call returns):
 * assign records that `epoch` starts at `start_offset` (above the latest:
 * appended; equal: TDM_TOPIC_OK, nothing changes; below, or a start below
 * the latest's: TDM_ERR_INVALID; TDM_ERR_IO: the partition is failed).
 * While p has an epoch, appends stamp the latest into each batch.
 * latest: -1 when none.  epoch_end answers OffsetForLeaderEpoch as
 * Kafka's LeaderEpochFileCache.endOffsetFor: the latest epoch -> (epoch,
 * log end); below it -> (largest epoch <= it, start of the next higher
 * one), (epoch, first start) when below the first; above the latest, -1
 * or no epochs -> (-1, -1).
 */
int tdm_partition_assign_epoch(struct ls_partition *p, int32_t epoch, uint64_t start_offset);
int32_t tdm_partition_latest_epoch(const struct ls_partition *p);
void tdm_partition_epoch_end(const struct ls_partition *p, int32_t epoch, int32_t *out_epoch,
			     int64_t *end_offset);
/* The first offset whose record timestamp is >= ts: TDM_TOPIC_OK with *offset
 * and *found_ts (may be NULL), TDM_ERR_NOT_FOUND when none, TDM_ERR_IO. */
int tdm_partition_offset_for_time(struct ls_partition *p, int64_t ts, uint64_t *offset,
				  int64_t *found_ts);
/* The largest record timestamp p holds, -1 when none. */
int64_t tdm_partition_max_timestamp(const struct ls_partition *p);

/*
 * Transactions (logstore.h: ls_append_txn_marker and friends).
 * append_marker writes the marker ending producer pid's transaction in p
 * (commit 1: LS_TXN_COMMIT, 0: abort), wakes the partition's waiters and
 * the append hook as an append does: TDM_TOPIC_OK with *offset (may be
 * NULL), TDM_ERR_PRODUCER_FENCED, TDM_ERR_IO (the partition is failed, or
 * the disk alarm is on: refused as tdm_topics_append_batch refuses),
 * TDM_ERR_INVALID (pid < 0, deleted topic), TDM_ERR_NOMEM.
 * first_unstable: ls_partition_first_unstable (TDM_TOPIC_OK, TDM_ERR_IO,
 * TDM_ERR_NOMEM).
 * aborted: the aborted transactions overlapping [from, to), as
 * ls_partition_aborted_txns.
 */
int tdm_partition_append_marker(struct tdm_topics *t, struct ls_partition *p, int64_t pid,
				int16_t epoch, int commit, int32_t coordinator_epoch,
				uint64_t *offset);
int tdm_partition_first_unstable(struct ls_partition *p, uint64_t *offset);
struct tdm_aborted_txn {
	int64_t producer_id;
	uint64_t first_offset, last_offset;
};
int tdm_partition_aborted_txns(struct ls_partition *p, uint64_t from, uint64_t to,
			       struct tdm_aborted_txn *out, size_t max, size_t *n);

/*
 * Reads up to max records of p from *next on, decoded, calling fn for each
 * (rec borrowed for the call); *next moves past the records given, *count
 * (may be NULL) says how many.  fn returns 0 to go on, nonzero to stop
 * (that record counts as given).  TDM_TOPIC_OK (also at the log end),
 * TDM_ERR_OFFSET_OUT_OF_RANGE, or a read or decode error.
 */
typedef int (*tdm_record_fn)(void *ctx, int32_t partition, const struct tdm_record *rec);
int tdm_partition_read_records(struct tdm_topics *t, struct ls_partition *p, uint64_t *next,
			       size_t max, tdm_record_fn fn, void *ctx, size_t *count);

/* The fsync durations of the topics' store (a copy, for /metrics). */
void tdm_topics_fsync_hist(struct tdm_topics *t, struct tdm_fsync_hist *out);

#endif
