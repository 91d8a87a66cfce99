/*
 * The transaction coordinator (Kafka's KIP-98): the transactional ids,
 * each with its producer id and epoch, its state and the partitions and
 * groups of its open transaction; kept in the group offsets log
 * (TDM_GROUPS_TOPIC, one record per change keyed by the id, a key version
 * of its own: txn_coord.c) and read back at start.  Kafka keeps them in a
 * topic of their own, "__transaction_state"; sharing the group
 * coordinator's log keeps the two coordinators on one node, so a
 * transaction's offsets (TxnOffsetCommit, sent to the group coordinator)
 * are where its commit is decided.
 *
 * In a cluster the coordinator is the leader of that log's partition
 * (kf_txns_coordinator): it reads the state when it becomes the leader
 * (its leader epoch is the coordinator epoch of the markers it writes),
 * drops it when it stops, and every state record it writes is answered
 * once every in-sync replica has it (Kafka writes its transaction log
 * with acks=all).  A marker for a partition led by another node is
 * written there (WriteTxnMarkers over the cluster link, answered once
 * that partition's in-sync replicas have it).  A new coordinator finishes
 * a decided transaction and lets an open one go on, as after a restart
 * below.
 *
 * States, with Kafka's names: Empty (no transaction yet, or just
 * initialised), Ongoing (partitions or offsets added), PrepareCommit and
 * PrepareAbort (EndTxn decided: the markers are being written),
 * CompleteCommit and CompleteAbort (every marker written and fsynced).
 *
 * Every change is answered once its record is durable (fsynced on a
 * single node): InitProducerId (a restart must fence the older epoch),
 * AddPartitionsToTxn (a restart must know the partitions to end them),
 * TxnOffsetCommit (the offsets wait in the record until the commit).
 *
 * Ending a transaction: the decision (Prepare*, a commit's offsets with
 * it) is appended to the state log.  Once it is durable, and not before,
 * the offsets are committed to their groups (an abort drops them) and the
 * markers appended to every partition of the transaction
 * (tdm_partition_append_marker), each log asked for an fsync; EndTxn is
 * answered once the decision is durable (txn_apis.c).  Once every marker
 * is durable the Complete* record is appended: a restart that finds a
 * Prepare* commits its offsets and writes its markers again (a second
 * marker for a closed transaction changes nothing).  A transaction found
 * Ongoing at start goes on, as with Kafka's coordinator: its producer may
 * still end it, a new InitProducerId aborts it, and its timeout (counted
 * again from the start) aborts it if nobody does.  One open longer than
 * its transaction timeout (checked every second) is aborted with its
 * epoch bumped: its producer is fenced and must start again, as with
 * Kafka's coordinator.  An id with nothing open and no request for
 * transactional_id_expiration_ms is forgotten (a tombstone in the log).
 *
 * Loop thread only.  Must not depend on: src/amqp.
 */
#ifndef TANDEM_KAFKA_TXN_H
#define TANDEM_KAFKA_TXN_H

#include <stddef.h>
#include <stdint.h>

struct kf_server;

enum kf_txn_state {
	KF_TXN_EMPTY,
	KF_TXN_ONGOING,
	KF_TXN_PREPARE_COMMIT,
	KF_TXN_PREPARE_ABORT,
	KF_TXN_COMPLETE_COMMIT,
	KF_TXN_COMPLETE_ABORT,
};
const char *kf_txn_state_name(enum kf_txn_state s);

enum kf_txn_mark {
	MARK_NONE, /* its marker is not written yet */
	MARK_HERE, /* appended here, at marker_end - 1: durable soon */
	MARK_DONE, /* durable (here, or on the leader that was asked), or not needed */
};
struct kf_txn;
struct tdm_replica_op;
struct kf_txn_part {
	char *topic; /* owned: the core name */
	int32_t partition;
	enum kf_txn_mark marked;
	uint64_t marker_end;       /* MARK_HERE: the offset after the marker */
	struct tdm_replica_op *op; /* its leader, another node, is writing it */
	struct kf_txn *txn;        /* the transaction it is part of */
};
struct kf_txn_offset {
	char *group, *topic; /* owned: core names */
	int32_t partition;
	int64_t offset;
	char *metadata; /* owned, or NULL */
};
struct kf_txns;
struct kf_txn {
	struct kf_txns *ts; /* its coordinator */
	char *id; /* owned: the key (vhost-qualified, kf_txn_key) */
	int64_t pid;
	int16_t epoch;
	int32_t timeout_ms;
	enum kf_txn_state state;
	int64_t start_ms; /* monotonic: when it became Ongoing */
	int64_t last_ms;  /* monotonic: its last change or request */
	struct kf_txn_part *parts;
	size_t nparts, cap_parts;
	struct kf_txn_offset *offsets;
	size_t noffsets, cap_offsets;
	uint64_t decided_end; /* the state log's end after the Prepare* record */
};

/* The coordinator of srv: on a single node reads its state (finishing
 * what a restart interrupted); arms the timeout check.  NULL: no memory. */
struct kf_txns *kf_txns_new(struct kf_server *srv);
/* May this node coordinate transactions now?  KF_ERR_NONE (a single
 * node; in a cluster while it is the group coordinator, its state read
 * from the log for the current leader epoch), else the group
 * coordinator's answer (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE): the
 * state is dropped until this node leads again.  Every transaction API
 * asks first. */
int16_t kf_txns_coordinator(struct kf_txns *ts);
/* A kf_wait_check_fn: 1 while the state log's records below target are
 * not durable (fsynced on a single node, on every in-sync replica in a
 * cluster), else 0 with *err set when they cannot become so here
 * (KAFKA_STORAGE_ERROR, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE). */
int kf_txns_waiting(struct kf_server *srv, uint64_t target, int16_t *err, void *ctx);
void kf_txns_free(struct kf_txns *ts);

struct kf_txn *kf_txns_find(struct kf_txns *ts, const char *key);
/* InitProducerId for key: a new id (epoch 0) the first time, else its
 * epoch bumped (a new producer id when the epoch is exhausted), after
 * aborting a transaction left open.  expect_pid/expect_epoch (-1: none,
 * KIP-360) must be the current ones.  Returns a Kafka error code;
 * KF_ERR_CONCURRENT_TRANSACTIONS while a previous one is completing. */
int16_t kf_txns_init(struct kf_txns *ts, const char *key, int32_t timeout_ms, int64_t expect_pid,
		     int16_t expect_epoch, int fenced_code, int64_t *pid, int16_t *epoch,
		     uint64_t *end);
/* The transaction of key checked for a request of (pid, epoch): KF_ERR_NONE
 * with *out, INVALID_PRODUCER_ID_MAPPING (unknown id or another pid),
 * fenced_code (an older epoch: INVALID_PRODUCER_EPOCH or PRODUCER_FENCED),
 * CONCURRENT_TRANSACTIONS (a transaction is completing). */
int16_t kf_txns_check(struct kf_txns *ts, const char *key, int64_t pid, int16_t epoch,
		      int fenced_code, struct kf_txn **out);
/* Adds a partition (core topic name) to t, which becomes Ongoing: the
 * state record is appended when the set changed.  KF_ERR_NONE or
 * KAFKA_STORAGE_ERROR / UNKNOWN_SERVER_ERROR. */
int16_t kf_txns_add_partition(struct kf_txns *ts, struct kf_txn *t, const char *topic,
			      int32_t partition);
/* Writes t's state record now (after a batch of add_partition with
 * persist 0); *end (may be NULL): the state log's end after it. */
int16_t kf_txns_persist(struct kf_txns *ts, struct kf_txn *t, uint64_t *end);
/* Keeps an offset of TxnOffsetCommit for t's commit. */
int16_t kf_txns_add_offset(struct kf_txn *t, const char *group, const char *topic,
			   int32_t partition, int64_t offset, const char *metadata);
/* Ends t (commit 1 / abort 0): the decision appended (see above).
 * KF_ERR_NONE with t->decided_end (the state log offset that must be
 * fsynced before answering), INVALID_TXN_STATE, KAFKA_STORAGE_ERROR. */
int16_t kf_txns_end(struct kf_txns *ts, struct kf_txn *t, int commit);
/* 1 when an open transaction holds an offset of group (core key) for
 * topic/partition (core name) that it has not committed yet. */
int kf_txns_pending(struct kf_txns *ts, const char *group, const char *topic, int32_t partition);
/* Moves key's decided transaction on (markers, offsets, completion) as
 * far as the fsyncs done allow. */
void kf_txns_progress(struct kf_txns *ts, const char *key);
/* The state log (NULL when it could not be created). */
struct ls_partition *kf_txns_log(struct kf_txns *ts);

/* The coordinator's key of a transactional id for connection kc's vhost
 * (the id itself in kafka_vhost, "vhost\x1f" + id elsewhere), in kc's
 * arena; NULL: no memory or an empty id. */
struct kf_conn;
struct kf_str;
const char *kf_txn_key(struct kf_conn *kc, const struct kf_str *id);

#endif
