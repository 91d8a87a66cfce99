/*
 * Topics: the broker's Kafka-style logs, protocol-neutral.  Owns the
 * logstore store under <data_dir>/logs and the loop-side machinery around
 * it: fsync as background jobs with group commit (core/bg.h), the
 * flush.ms and checkpoint work and retention and compaction in small
 * budgets (main's timers call tdm_topics_tick and tdm_topics_retention),
 * and two kinds of waiters:
 * "data available" (woken by appends to a partition they watch) and
 * "flushed" (woken after every fsync round and topic deletion).
 *
 * Front ends turn wire requests into these calls; nothing here knows a
 * wire format.  With core/topic_ops.h (reads, administration) and
 * core/groups.h (consumer groups, committed offsets) this is the only way
 * above core to the logs: logstore.h stays below (core/topic_types.h
 * gives the front ends the types they need).  Everything runs on the loop
 * thread except the background jobs' work.
 *
 * Must not depend on: libevent, pthreads, protocol front ends.
 */
#ifndef TANDEM_CORE_TOPICS_H
#define TANDEM_CORE_TOPICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/topic_types.h"

struct tdm_bg;
struct tdm_config;
struct tdm_dyn;
struct tdm_topics;
struct ls_store;

/*
 * Record headers starting with this are the broker's own: the AMQP front
 * end keeps a published message's properties ("x-amqp-properties", with
 * the user_id RabbitMQ validated) and exchange in them.  A producer's batch
 * (tdm_topics_append_batch: Kafka's Produce) carrying one is refused with
 * TDM_ERR_INVALID_RECORD, so no record a Kafka client wrote can pass for an
 * AMQP publish (logstore's options.reserved_header_prefix); only the
 * cluster link's batches (tdm_topics_append_batch_trusted) may carry them.
 */
#define TDM_TOPICS_RESERVED_HEADER_PREFIX "x-amqp-"

/*
 * Opens (creating) <cfg->data_dir>/logs with the broker-wide log defaults
 * of cfg (retention, segment size, flush interval).  Blocking work goes
 * through bg (copied; NULL or an empty hook: done inline).  NULL with a
 * message in err on failure.
 */
struct tdm_topics *tdm_topics_open(const struct tdm_config *cfg, const struct tdm_bg *bg,
				   char *err, size_t errlen);
/*
 * Closes the store, at once or, while ls_read results are held
 * (tdm_topics_read) or fsync rounds are out, when the last of them ends;
 * rounds still out start no next one.  Waiters must be gone.  NULL is
 * fine.
 */
void tdm_topics_close(struct tdm_topics *t);
/* Periodic work, every 100 ms from main's timer: fsync rounds for the
 * partitions whose flush.ms has passed, the recovery checkpoint. */
void tdm_topics_tick(struct tdm_topics *t);
/* One retention and compaction step (a budget of bytes), every
 * log_retention_check_interval_ms from main's timer: 1 when there is more
 * to do (call again on the next loop turn), else 0. */
int tdm_topics_retention(struct tdm_topics *t);
/* The store (borrowed), for core and tests only: front ends go through
 * core/topic_ops.h and core/groups.h. */
struct ls_store *tdm_topics_store(struct tdm_topics *t);

/* The store's dynamic topic defaults (core/dyn_defaults.h); NULL when t
 * is NULL. */
struct tdm_dyn *tdm_topics_dyn(struct tdm_topics *t);
/* Checks value for topic config key as a topic's value is checked
 * (tdm_topics_check's segment.bytes floor, then the store's own check)
 * and writes it as the store shows it into out (may be NULL).
 * TDM_TOPIC_OK or TDM_ERR_INVALID_CONFIG with Kafka's words in err. */
int tdm_topics_check_default(struct tdm_topics *t, const char *key, const char *value,
			     char *out, size_t outlen, char *err, size_t errlen);
/*
 * Checks a new topic against the broker's limits, as tdm_topics_create
 * does (for validate-only requests): TDM_ERR_INVALID (partitions <= 0 or
 * over max_partitions_per_topic), TDM_TOPICS_ERR_LIMIT (over
 * max_partitions of the broker), TDM_ERR_INVALID_CONFIG (segment.bytes
 * below log_min_segment_bytes), each with a message in err; else TDM_TOPIC_OK.
 */
int tdm_topics_check(struct tdm_topics *t, int32_t partitions, const struct tdm_kv *configs,
		     size_t nconfigs, char *err, size_t errlen);
/*
 * Gives topic exactly the overrides in configs (Kafka's AlterConfigs: a
 * key not listed, or listed with a NULL value, goes back to the broker's
 * default).  validate_only: checks and changes nothing.  TDM_TOPIC_OK;
 * TDM_ERR_INVALID_CONFIG for an unknown key ("Unknown topic config name:
 * x", in err) or a change the topic refuses (an internal topic's
 * compaction); TDM_ERR_INVALID for a bad value or a segment.bytes below
 * log_min_segment_bytes (the reason in err); TDM_ERR_IO when the topic's
 * metadata cannot be written (the topic keeps its configs).
 */
int tdm_topics_set_config(struct tdm_topics *t, struct ls_topic *topic,
			  const struct tdm_kv *configs, size_t nconfigs, int validate_only,
			  char *err, size_t errlen);
/* The smallest segment.bytes a topic may get (log_min_segment_bytes). */
int64_t tdm_topics_min_segment_bytes(const struct tdm_topics *t);

/* Topic administration: the logstore calls, plus waking the waiters of a
 * deleted topic.  Same return codes as ls_topic_create / _delete /
 * _add_partitions; create and add_partitions check the limits first
 * (tdm_topics_check's codes). */
int tdm_topics_create(struct tdm_topics *t, const char *name, int32_t partitions,
		      const struct tdm_kv *configs, size_t nconfigs, char *err, size_t errlen);
int tdm_topics_delete(struct tdm_topics *t, const char *name);
int tdm_topics_add_partitions(struct tdm_topics *t, struct ls_topic *topic, int32_t count);
/*
 * The same two, with the folder and file work (about 0.5 s for 2000
 * partitions) as a TDM_BG_FILES background job, so the loop goes on
 * serving: the limits and the name are checked here (an error is returned
 * at once, with its message in err, and done is never called); LS_OK means
 * done(ctx, rc, err) runs later on the loop thread, exactly once, when the
 * topic or its new partitions exist (rc LS_OK) or making them failed
 * (LS_ERR_IO, LS_ERR_NOT_FOUND when the topic was deleted meanwhile).
 * Until then the new topic is invisible and its name taken (another create
 * is LS_ERR_EXISTS, another grow LS_ERR_BUSY).  *job (may be NULL) lets
 * the caller give up waiting: tdm_topics_job_forget, until done has run.
 * Without a background service, done runs before the call returns.
 */
struct tdm_topics_job;
typedef void (*tdm_topics_made_fn)(void *ctx, int rc, const char *err);
int tdm_topics_create_bg(struct tdm_topics *t, const char *name, int32_t partitions,
			 const struct tdm_kv *configs, size_t nconfigs, tdm_topics_made_fn done,
			 void *ctx, struct tdm_topics_job **job, char *err, size_t errlen);
int tdm_topics_add_partitions_bg(struct tdm_topics *t, struct ls_topic *topic, int32_t count,
				 tdm_topics_made_fn done, void *ctx, struct tdm_topics_job **job,
				 char *err, size_t errlen);
/* done will not be called for job (the waiter went away).  NULL is fine. */
void tdm_topics_job_forget(struct tdm_topics_job *job);
/* Deletes a topic because a client asked (Kafka's DeleteTopics, the
 * management API): TDM_ERR_NOT_FOUND for an unknown or internal topic,
 * else as tdm_topics_delete.  A stream queue over the topic stays and
 * recreates it on its next append. */
int tdm_topics_admin_delete(struct tdm_topics *t, const char *name);

/* ls_append (records built here), then wakes the partition's data waiters. */
int tdm_topics_append(struct tdm_topics *t, struct ls_partition *p, const struct tdm_record *recs,
		      size_t n, int codec, struct tdm_append_result *res);
/* ls_append_batch, then wakes the partition's data waiters.  While the
 * broker's disk alarm is on, nothing is appended: TDM_ERR_IO, which Kafka
 * clients hear as the retriable KAFKA_STORAGE_ERROR (they retry, as AMQP
 * publishers wait while blocked). */
int tdm_topics_append_batch(struct tdm_topics *t, struct ls_partition *p, const void *batch,
			    size_t len, struct tdm_append_result *res);
/* The same for a batch this broker vouches for: records of its own a node
 * of the cluster forwarded over the cluster link (an AMQP publish to a
 * stream queue, with its TDM_TOPICS_RESERVED_HEADER_PREFIX headers), so the
 * reserved headers are not refused (ls_append_batch_trusted).  Never for a
 * client's batch. */
int tdm_topics_append_batch_trusted(struct tdm_topics *t, struct ls_partition *p, const void *batch,
				    size_t len, struct tdm_append_result *res);
/* A Kafka producer's data: tdm_topics_append_batch (legacy 0: one
 * RecordBatch v2), or with legacy 1 a legacy message set (Produce v0-2:
 * MessageSet magic 0 or 1) converted to a RecordBatch v2 on append
 * (ls_append_legacy: the topic's compression.type, the producer's codec
 * with "producer").  Same returns, and TDM_ERR_INVALID_TIMESTAMP; err
 * (may be NULL) says which record was refused and why, where known. */
int tdm_topics_produce(struct tdm_topics *t, struct ls_partition *p, const void *data, size_t len,
		       int legacy, struct tdm_append_result *res, struct tdm_append_error *err);

/* ls_append_replica (a follower writing what its leader's Fetch returned:
 * whole batches kept as sent, the first at the log end, a trailing
 * incomplete batch left out and *consumed saying how far it went), then
 * wakes the partition's data waiters when something was appended.  The
 * disk alarm does not stop it (the leader's Produce obeys it; a follower
 * that stopped would only fall out of the ISR).  Same returns as
 * ls_append_replica; res (may be NULL) filled when a batch was appended. */
int tdm_topics_append_replica(struct tdm_topics *t, struct ls_partition *p, const void *data,
			      size_t len, size_t *consumed, struct tdm_append_result *res);

/* ls_partition_truncate (Kafka's truncateTo; below the log start,
 * truncateFullyAndStartAt: afterwards the log end is <= offset, on a batch
 * boundary, durably), then wakes p's data waiters and the flush waiters
 * so that parked Fetch and acks=all Produce requests look again (their
 * offsets may be gone).  Reads held stay valid.  Same returns as
 * ls_partition_truncate (TDM_ERR_IO: p is failed). */
int tdm_topics_truncate(struct tdm_topics *t, struct ls_partition *p, uint64_t offset);
/* ls_partition_start_at (the log restarts empty at offset, also past its
 * end), logged and waking readers as tdm_topics_truncate. */
int tdm_topics_start_at(struct tdm_topics *t, struct ls_partition *p, uint64_t offset);

/* Kafka's DeleteRecords at segment granularity (ls_delete_records): the
 * whole segments below offset go, the log start moves up to the base of
 * the segment holding it.  For a log's owner that no longer needs what is
 * below offset (a quorum queue's settled prefix), and for a follower
 * following its leader's log start.  Returns the segments deleted. */
size_t tdm_topics_delete_before(struct tdm_topics *t, struct ls_partition *p, uint64_t offset);

/* Kafka's DeleteRecords (ls_partition_set_log_start): p's log start
 * becomes offset (never lower than it is, at most the log end), durably;
 * reads below it are out of range from now on, and p's readers are woken
 * (a parked Fetch looks again).  TDM_TOPIC_OK, TDM_ERR_OFFSET_OUT_OF_RANGE,
 * TDM_ERR_IO. */
int tdm_topics_set_log_start(struct tdm_topics *t, struct ls_partition *p, uint64_t offset);

/* The broker's resource-alarm bits (borrowed; TDM_ALARM_* of broker.h),
 * which tdm_topics_append_batch obeys. */
void tdm_topics_set_alarms(struct tdm_topics *t, const unsigned *alarms);
/* The broker's limits (borrowed, core/limits.h): max_partitions_per_topic
 * and max_partitions set at run time there override tandem.conf's. */
struct tdm_limits;
void tdm_topics_set_limits(struct tdm_topics *t, const struct tdm_limits *limits);

/* ls_read that also keeps the store open until tdm_topics_read_release
 * (which may run after tdm_topics_close, e.g. from a buffer cleanup). */
int tdm_topics_read(struct tdm_topics *t, struct ls_partition *p, uint64_t offset,
		    size_t max_bytes, struct tdm_read_result *r);
void tdm_topics_read_release(struct tdm_topics *t, struct tdm_read_result *r);
/* tdm_topics_read through ls_read_bounded: only whole batches whose last
 * offset is below `limit` (the high watermark, exclusive); an offset at or
 * past limit reads nothing (TDM_TOPIC_OK, len 0), as at the log end;
 * r->high_watermark is min(log end, limit).  Released the same way. */
int tdm_topics_read_bounded(struct tdm_topics *t, struct ls_partition *p, uint64_t offset,
			    size_t max_bytes, uint64_t limit, struct tdm_read_result *r);
/* Wakes the data waiters watching p and every flush waiter, so that parked
 * Fetch long-polls and acks=all Produce requests check their condition
 * again (the replica manager calls it when p's high watermark moves). */
void tdm_topics_notify(struct tdm_topics *t, struct ls_partition *p);
/* fn(ctx, p) after every append that is not a follower's
 * (tdm_topics_append, tdm_topics_append_batch(_trusted)), before p's data
 * waiters are woken: the replica manager's high watermark, which moves on
 * such an append when the leader is alone in its ISR.  NULL clears it. */
void tdm_topics_set_append_hook(struct tdm_topics *t, void (*fn)(void *ctx, struct ls_partition *p),
				void *ctx);
/* Copies the range of a read into buf (r->len bytes).  TDM_TOPIC_OK or TDM_ERR_IO. */
int tdm_topics_read_copy(const struct tdm_read_result *r, void *buf);

/* Asks for an fsync of p as a background job now (acks=all), joining a
 * round already under way or queueing the next one (group commit). */
void tdm_topics_flush_now(struct tdm_topics *t, struct ls_partition *p);

/*
 * A one-shot waiter.  The owner fills fn, ctx and (data waiters) the
 * watched partitions, which must stay valid while it waits; the waiter is
 * unlinked before fn runs, and fn may re-arm it.  fn runs inside the call
 * that woke it (an append, a completed fsync round, a deletion): it should
 * only schedule work (e.g. event_active) or check a condition.
 */
struct tdm_topics_waiter {
	void (*fn)(void *ctx);
	void *ctx;
	struct ls_partition *const *parts; /* borrowed: data waiters only */
	size_t nparts;
	struct tdm_topics_waiter *prev, *next; /* internal */
	int linked;                            /* internal: 0, 1 data, 2 flush */
};
void tdm_topics_wait_data(struct tdm_topics *t, struct tdm_topics_waiter *w);
void tdm_topics_wait_flush(struct tdm_topics *t, struct tdm_topics_waiter *w);
/* Unlinks w if it waits; safe to call at any time. */
void tdm_topics_unwait(struct tdm_topics *t, struct tdm_topics_waiter *w);

#endif
