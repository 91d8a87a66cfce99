/*
 * The transaction coordinator's state machine (txn.h says what it does):
 * the transactions, ending them (the decision, its markers, completion),
 * timeouts and expiry, and in a cluster coming and going with the
 * leadership of the group offsets partition.  The state log's records
 * are txn_log.c's.
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/groups.h"
#include "core/log.h"
#include "core/map.h"
#include "core/topic_ops.h"
#include "core/replica.h"
#include "core/topics.h"
#include "kafka/groups_internal.h"
#include "kafka/kf.h"
#include "kafka/txn.h"
#include "kafka/txn_internal.h"
#include "net/net.h"

#define CHECK_EVERY_MS 1000


const char *kf_txn_state_name(enum kf_txn_state s)
{
	static const char *const n[] = { "Empty", "Ongoing", "PrepareCommit", "PrepareAbort",
					 "CompleteCommit", "CompleteAbort" };
	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "Dead";
}

/* ---- one transaction ------------------------------------------------------ */

static void clear_offsets(struct kf_txn *t)
{
	for (size_t i = 0; i < t->noffsets; i++) {
		free(t->offsets[i].group);
		free(t->offsets[i].topic);
		free(t->offsets[i].metadata);
	}
	t->noffsets = 0;
}

static void clear_parts(struct kf_txn *t)
{
	for (size_t i = 0; i < t->nparts; i++) {
		tdm_replica_op_forget(t->parts[i].op);
		free(t->parts[i].topic);
	}
	t->nparts = 0;
}

void kf_txn_free(struct kf_txn *t)
{
	if (!t)
		return;
	clear_parts(t);
	clear_offsets(t);
	free(t->parts);
	free(t->offsets);
	free(t->id);
	free(t);
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 4;
	while (n < need)
		n *= 2;
	void *p = realloc(*v, n * size);
	if (!p)
		return -1;
	*v = p;
	*cap = n;
	return 0;
}

int kf_txn_part_add(struct kf_txn *t, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < t->nparts; i++)
		if (t->parts[i].partition == partition && strcmp(t->parts[i].topic, topic) == 0)
			return 0;
	if (grow((void **)&t->parts, &t->cap_parts, t->nparts + 1, sizeof(*t->parts)) < 0)
		return -1;
	char *dup = strdup(topic);
	if (!dup)
		return -1;
	t->parts[t->nparts++] = (struct kf_txn_part){ dup, partition, MARK_NONE, 0, NULL, t };
	return 1;
}

/* ---- ending --------------------------------------------------------------- */

static int completing(const struct kf_txn *t);
static void watch_flushes(struct kf_txns *ts);

static struct ls_partition *part_log(struct kf_txns *ts, const struct kf_txn_part *tp)
{
	struct ls_topic *topic = tdm_topic_find(ts->srv->topics, tp->topic);

	return topic ? tdm_topic_partition(topic, tp->partition) : NULL;
}

/* Where [.., end) of p (topic/partition) stands: DURABLE once fsynced on
 * a single node or on every in-sync replica in a cluster, PENDING, or
 * else why it cannot become so here (*rc: a TDM_REPL_* code in a
 * cluster, TDM_ERR_IO for a failed log). */
enum { DURABLE, PENDING, NEVER };
static int durable(struct kf_server *srv, const char *topic, int32_t partition,
		   const struct ls_partition *p, uint64_t end, int *rc)
{
	*rc = TDM_ERR_IO;
	if (!p || tdm_partition_failed(p))
		return NEVER;
	if (!srv->replica)
		return tdm_partition_flushed(p) < end ? PENDING : DURABLE;
	*rc = tdm_replica_acked(srv->replica, topic, partition, p, end);
	return *rc == 1 ? PENDING : *rc == TDM_REPL_OK ? DURABLE : NEVER;
}

int kf_txns_waiting(struct kf_server *srv, uint64_t target, int16_t *err, void *ctx)
{
	(void)ctx;
	int rc, d = durable(srv, TDM_GROUPS_TOPIC, 0, tdm_groups_log(srv->cgroups), target, &rc);

	if (d == NEVER)
		*err = !srv->replica ? KF_ERR_KAFKA_STORAGE_ERROR
		       : rc == TDM_REPL_NOT_LEADER || rc == TDM_REPL_UNKNOWN
			       ? KF_ERR_NOT_COORDINATOR
			       : KF_ERR_COORDINATOR_NOT_AVAILABLE;
	return d == PENDING;
}

static void try_complete(struct kf_txns *ts, struct kf_txn *t);

/* A marker another node was asked to write is answered: on its in-sync
 * replicas (or fenced: a newer epoch ended the transaction there), else
 * sent again at the next check. */
static void marker_done(void *arg, int rc, const char *msg)
{
	struct kf_txn_part *tp = arg;
	struct kf_txn *t = tp->txn;

	if (rc == TDM_REPL_OK || rc == TDM_ERR_PRODUCER_FENCED) {
		tp->marked = MARK_DONE;
		try_complete(t->ts, t);
		return;
	}
	tdm_warn("kafka", "transaction %s: the marker of %s-%d was not written: %s", t->id,
		 tp->topic, (int)tp->partition, msg && msg[0] ? msg : tdm_replica_strerror(rc));
}

/* Appends tp's marker here: MARK_HERE until it is durable, or MARK_DONE
 * when a newer epoch already ended it. */
static void mark_here(struct kf_txns *ts, struct kf_txn *t, struct kf_txn_part *tp,
		      struct ls_partition *p)
{
	int commit = t->state == KF_TXN_PREPARE_COMMIT;
	uint64_t off;

	if (ts->srv->replica &&
	    tdm_replica_check_insync(ts->srv->replica, tp->topic, tp->partition, p) != TDM_REPL_OK)
		return; /* tried again at the next check */
	int rc = tdm_partition_append_marker(ts->srv->topics, p, t->pid, t->epoch, commit,
					     ts->epoch, &off);
	if (rc == TDM_TOPIC_OK) {
		tp->marked = MARK_HERE;
		tp->marker_end = off + 1;
		tdm_topics_flush_now(ts->srv->topics, p);
	} else if (rc == TDM_ERR_PRODUCER_FENCED) {
		tp->marked = MARK_DONE;
	}
}

/* Has tp's leader, another node, write its marker (WriteTxnMarkers over
 * the cluster link); 0, or -1 when it must be written here. */
static int mark_remote(struct kf_txns *ts, struct kf_txn *t, struct kf_txn_part *tp)
{
	struct tdm_txn_marker m = { t->pid, t->epoch, t->state == KF_TXN_PREPARE_COMMIT,
				    ts->epoch };
	int rc = tdm_replica_write_marker(ts->srv->replica, tp->topic, tp->partition, &m,
					  marker_done, tp, &tp->op);

	if (rc == TDM_REPL_UNKNOWN && !tdm_topic_find(ts->srv->topics, tp->topic))
		tp->marked = MARK_DONE; /* the topic is gone: nothing to mark */
	return rc == TDM_REPL_NOT_LEADER ? -1 : 0;
}

/* Appends (or sends) the markers still missing; 1 when every one is
 * written, 0 while some are not yet. */
static int write_markers(struct kf_txns *ts, struct kf_txn *t)
{
	int all = 1;

	for (size_t i = 0; i < t->nparts; i++) {
		struct kf_txn_part *tp = &t->parts[i];
		struct ls_partition *p = part_log(ts, tp);

		if (tp->marked == MARK_NONE && !tp->op) {
			if (ts->srv->replica && mark_remote(ts, t, tp) == 0)
				;
			else if (!p)
				tp->marked = MARK_DONE; /* the topic is gone: nothing to mark */
			else
				mark_here(ts, t, tp, p);
		}
		all &= tp->marked != MARK_NONE;
	}
	return all;
}

/* 1 once every marker of t is durable. */
static int markers_durable(struct kf_txns *ts, struct kf_txn *t)
{
	for (size_t i = 0; i < t->nparts; i++) {
		struct kf_txn_part *tp = &t->parts[i];
		int rc;

		if (tp->marked == MARK_HERE) {
			int d = durable(ts->srv, tp->topic, tp->partition, part_log(ts, tp),
					tp->marker_end, &rc);
			if (d == PENDING)
				return 0;
			/* NEVER: leadership moved or the log failed; the new
			 * leader (or a restart) has it or not: write it again */
			tp->marked = d == DURABLE ? MARK_DONE : MARK_NONE;
		}
		if (tp->marked != MARK_DONE)
			return 0;
	}
	return 1;
}

static void commit_offsets(struct kf_txns *ts, struct kf_txn *t)
{
	for (size_t i = 0; i < t->noffsets; i++) {
		const struct kf_txn_offset *o = &t->offsets[i];
		struct tdm_offset_commit c = { o->topic, o->partition, o->offset, o->metadata };

		if (tdm_groups_commit(ts->srv->cgroups, o->group, &c, 1) != TDM_TOPIC_OK)
			tdm_warn("kafka", "transaction %s: committing its offsets of group %s failed",
				 t->id, o->group);
	}
	if (t->noffsets > 0 && tdm_groups_log(ts->srv->cgroups))
		tdm_topics_flush_now(ts->srv->topics, tdm_groups_log(ts->srv->cgroups));
	clear_offsets(t);
}

/* Once the decision is fsynced: a commit's offsets to their groups, the
 * markers appended; Complete* once every marker is fsynced. */
static void try_complete(struct kf_txns *ts, struct kf_txn *t)
{
	int16_t err = KF_ERR_NONE;

	if (t->state != KF_TXN_PREPARE_COMMIT && t->state != KF_TXN_PREPARE_ABORT)
		return;
	if (kf_txns_waiting(ts->srv, t->decided_end, &err, NULL) || err != KF_ERR_NONE)
		return; /* nothing may show the decision before it is durable */
	if (t->state == KF_TXN_PREPARE_COMMIT)
		commit_offsets(ts, t);
	if (!write_markers(ts, t) || !markers_durable(ts, t))
		return;
	enum kf_txn_state prev = t->state;
	t->state = prev == KF_TXN_PREPARE_COMMIT ? KF_TXN_COMPLETE_COMMIT : KF_TXN_COMPLETE_ABORT;
	clear_parts(t);
	if (kf_txns_persist(ts, t, NULL) != KF_ERR_NONE) {
		t->state = prev; /* markers are all there: the next try only writes this */
		return;
	}
}

/* Decides t: Prepare* appended (with a commit's offsets); the rest
 * follows its fsync (try_complete). */
static int16_t decide(struct kf_txns *ts, struct kf_txn *t, int commit)
{
	enum kf_txn_state prev = t->state;

	t->state = commit ? KF_TXN_PREPARE_COMMIT : KF_TXN_PREPARE_ABORT;
	for (size_t i = 0; i < t->nparts; i++)
		t->parts[i].marked = MARK_NONE;
	int16_t err = kf_txns_persist(ts, t, &t->decided_end);
	if (err != KF_ERR_NONE) {
		t->state = prev;
		return err;
	}
	if (!commit)
		clear_offsets(t);
	try_complete(ts, t);
	if (completing(t))
		watch_flushes(ts);
	return KF_ERR_NONE;
}

int16_t kf_txns_end(struct kf_txns *ts, struct kf_txn *t, int commit)
{
	if (t->state != KF_TXN_ONGOING)
		return KF_ERR_INVALID_TXN_STATE;
	return decide(ts, t, commit);
}

/* Aborts t's open transaction with its epoch bumped (a timeout, a restart,
 * a new InitProducerId): its producer is fenced. */
static void abort_fenced(struct kf_txns *ts, struct kf_txn *t, const char *why)
{
	tdm_info("kafka", "transaction %s (producer %lld epoch %d) aborted: %s", t->id,
		 (long long)t->pid, t->epoch, why);
	if (t->epoch < INT16_MAX - 1)
		t->epoch++;
	decide(ts, t, 0);
}

/* 1 when t has nothing open or completing and was idle past the
 * expiration. */
static int idle(const struct kf_txns *ts, const struct kf_txn *t, int64_t now)
{
	return (t->state == KF_TXN_EMPTY || t->state == KF_TXN_COMPLETE_COMMIT ||
		t->state == KF_TXN_COMPLETE_ABORT) &&
	       (uint64_t)(now - t->last_ms) > ts->srv->cfg->transactional_id_expiration_ms;
}

static void check_all(struct kf_txns *ts)
{
	int64_t now = kf_groups_mono_ms();
	size_t pos = 0;
	void *v;

	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v)) {
		struct kf_txn *t = v;

		if (t->state == KF_TXN_ONGOING && now - t->start_ms > t->timeout_ms)
			abort_fenced(ts, t, "its transaction timeout passed");
		else if (idle(ts, t, now))
			kf_txns_expire(ts, t);
		else
			try_complete(ts, t);
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kf_txns *ts = arg;
	struct timeval tv = { CHECK_EVERY_MS / 1000, 0 };
	(void)fd, (void)what;

	if (kf_txns_coordinator(ts) == KF_ERR_NONE)
		check_all(ts);
	evtimer_add(ts->timer, &tv);
}

static void flushed_cb(void *ctx)
{
	struct kf_txns *ts = ctx;
	size_t pos = 0;
	void *v;
	int pending = 0;

	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v)) {
		struct kf_txn *t = v;
		if (t->state == KF_TXN_PREPARE_COMMIT || t->state == KF_TXN_PREPARE_ABORT) {
			try_complete(ts, t);
			pending |= t->state == KF_TXN_PREPARE_COMMIT ||
				   t->state == KF_TXN_PREPARE_ABORT;
		}
	}
	if (pending)
		tdm_topics_wait_flush(ts->srv->topics, &ts->flushed);
}

/* Waits for the next fsync round to finish what is prepared. */
static void watch_flushes(struct kf_txns *ts)
{
	tdm_topics_unwait(ts->srv->topics, &ts->flushed);
	tdm_topics_wait_flush(ts->srv->topics, &ts->flushed);
}

/* ---- the coordinator ------------------------------------------------------ */

/* Forgets every transaction (another node coordinates them now). */
static void unload(struct kf_txns *ts)
{
	size_t pos = 0;
	void *v;

	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v))
		kf_txn_free(v);
	tdm_map_free(&ts->by_key);
	tdm_map_init(&ts->by_key);
	ts->loaded = 0;
}

/* Reads the state from the log and finishes what was interrupted: at
 * start on a single node; in a cluster on becoming the leader of the
 * group offsets partition (epoch: its leader epoch, the coordinator
 * epoch of the markers written from now on). */
static void take_over(struct kf_txns *ts, int32_t epoch)
{
	size_t pos = 0;
	void *v;

	unload(ts);
	kf_txns_load(ts);
	ts->loaded = 1;
	ts->epoch = epoch;
	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v)) {
		struct kf_txn *t = v;
		/* an open transaction goes on (Kafka's coordinator keeps it):
		 * its timeout counts from now */
		t->start_ms = t->last_ms;
		try_complete(ts, t);
	}
	watch_flushes(ts);
}

int16_t kf_txns_coordinator(struct kf_txns *ts)
{
	struct kf_server *srv = ts->srv;
	int16_t err;

	if (!ts->clustered)
		return KF_ERR_NONE;
	err = srv->replica ? kf_groups_coordinator(srv->groups) : KF_ERR_COORDINATOR_NOT_AVAILABLE;
	if (err != KF_ERR_NONE) {
		if (ts->loaded)
			tdm_info("kafka", "no longer the transaction coordinator (%s-0 moved)",
				 TDM_GROUPS_TOPIC);
		unload(ts);
		return err;
	}
	if (!ts->loaded || ts->epoch != srv->groups->loaded_epoch) {
		take_over(ts, srv->groups->loaded_epoch);
		tdm_info("kafka", "transaction coordinator now (coordinator epoch %d): "
			 "transactions read from %s-0", (int)ts->epoch, TDM_GROUPS_TOPIC);
	}
	return KF_ERR_NONE;
}

struct kf_txns *kf_txns_new(struct kf_server *srv)
{
	struct kf_txns *ts = calloc(1, sizeof(*ts));
	struct timeval tv = { CHECK_EVERY_MS / 1000, 0 };

	if (!ts)
		return NULL;
	ts->srv = srv;
	tdm_map_init(&ts->by_key);
	ts->flushed.fn = flushed_cb;
	ts->flushed.ctx = ts;
	if (!(ts->timer = evtimer_new(srv->base, timer_cb, ts))) {
		free(ts);
		return NULL;
	}
	/* in a cluster the state is read once this node coordinates (the
	 * replica manager comes later: tdm_kafka_set_replica) */
	ts->clustered = srv->cfg->zookeeper_connect && srv->cfg->zookeeper_connect[0];
	if (!ts->clustered)
		take_over(ts, 0);
	evtimer_add(ts->timer, &tv);
	return ts;
}

void kf_txns_free(struct kf_txns *ts)
{
	size_t pos = 0;
	void *v;

	if (!ts)
		return;
	tdm_topics_unwait(ts->srv->topics, &ts->flushed);
	event_free(ts->timer);
	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v))
		kf_txn_free(v);
	tdm_map_free(&ts->by_key);
	free(ts);
}

struct kf_txn *kf_txns_find(struct kf_txns *ts, const char *key)
{
	return tdm_map_get(&ts->by_key, key, strlen(key));
}

static int completing(const struct kf_txn *t)
{
	return t->state == KF_TXN_PREPARE_COMMIT || t->state == KF_TXN_PREPARE_ABORT;
}

static struct kf_txn *txn_new(struct kf_txns *ts, const char *key)
{
	struct kf_txn *t = calloc(1, sizeof(*t));

	if (!t || !(t->id = strdup(key)) || tdm_map_put(&ts->by_key, t->id, strlen(t->id), t) < 0) {
		kf_txn_free(t);
		return NULL;
	}
	t->ts = ts;
	t->pid = -1;
	t->epoch = -1;
	return t;
}

/* A fresh producer id for t (epoch 0): KF_ERR_NONE or the store's error. */
static int16_t new_pid(struct kf_txns *ts, struct kf_txn *t)
{
	int64_t pid;
	int16_t err = kf_producer_id_new(ts->srv, &pid);

	if (err != KF_ERR_NONE)
		return err;
	t->pid = pid;
	t->epoch = 0;
	return KF_ERR_NONE;
}

int16_t kf_txns_init(struct kf_txns *ts, const char *key, int32_t timeout_ms, int64_t expect_pid,
		     int16_t expect_epoch, int fenced_code, int64_t *pid, int16_t *epoch,
		     uint64_t *end)
{
	struct kf_txn *t = kf_txns_find(ts, key);
	int16_t err;

	if (t && completing(t)) {
		try_complete(ts, t);
		if (completing(t))
			return KF_ERR_CONCURRENT_TRANSACTIONS;
	}
	if (expect_pid >= 0 && (!t || t->pid != expect_pid || t->epoch != expect_epoch))
		return t && t->pid == expect_pid && expect_epoch < t->epoch
			       ? (int16_t)fenced_code
			       : KF_ERR_INVALID_PRODUCER_ID_MAPPING;
	if (!t && !(t = txn_new(ts, key)))
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	if (t->state == KF_TXN_ONGOING) {
		abort_fenced(ts, t, "its producer was initialised again");
		if (completing(t)) {
			watch_flushes(ts);
			return KF_ERR_CONCURRENT_TRANSACTIONS; /* the client retries */
		}
	}
	if (t->pid < 0 || t->epoch >= INT16_MAX - 1)
		err = new_pid(ts, t);
	else
		t->epoch++, err = KF_ERR_NONE;
	if (err != KF_ERR_NONE)
		return err;
	t->timeout_ms = timeout_ms;
	t->state = KF_TXN_EMPTY;
	clear_parts(t);
	clear_offsets(t);
	if ((err = kf_txns_persist(ts, t, end)) != KF_ERR_NONE)
		return err;
	*pid = t->pid;
	*epoch = t->epoch;
	return KF_ERR_NONE;
}

int16_t kf_txns_check(struct kf_txns *ts, const char *key, int64_t pid, int16_t epoch,
		      int fenced_code, struct kf_txn **out)
{
	struct kf_txn *t = kf_txns_find(ts, key);

	if (!t || t->pid != pid)
		return KF_ERR_INVALID_PRODUCER_ID_MAPPING;
	t->last_ms = kf_groups_mono_ms();
	if (epoch != t->epoch)
		return epoch < t->epoch ? (int16_t)fenced_code : KF_ERR_INVALID_PRODUCER_EPOCH;
	if (completing(t)) {
		try_complete(ts, t);
		if (completing(t))
			return KF_ERR_CONCURRENT_TRANSACTIONS;
	}
	*out = t;
	return KF_ERR_NONE;
}

int16_t kf_txns_add_partition(struct kf_txns *ts, struct kf_txn *t, const char *topic,
			      int32_t partition)
{
	(void)ts;
	int rc = kf_txn_part_add(t, topic, partition);

	if (rc < 0)
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	if (t->state != KF_TXN_ONGOING) {
		t->state = KF_TXN_ONGOING;
		t->start_ms = kf_groups_mono_ms();
	}
	return KF_ERR_NONE;
}

int16_t kf_txns_add_offset(struct kf_txn *t, const char *group, const char *topic,
			   int32_t partition, int64_t offset, const char *metadata)
{
	for (size_t i = 0; i < t->noffsets; i++) {
		struct kf_txn_offset *o = &t->offsets[i];
		if (o->partition == partition && strcmp(o->group, group) == 0 &&
		    strcmp(o->topic, topic) == 0) {
			char *m = metadata ? strdup(metadata) : NULL;
			if (metadata && !m)
				return KF_ERR_UNKNOWN_SERVER_ERROR;
			free(o->metadata);
			o->metadata = m;
			o->offset = offset;
			return KF_ERR_NONE;
		}
	}
	if (grow((void **)&t->offsets, &t->cap_offsets, t->noffsets + 1, sizeof(*t->offsets)) < 0)
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	struct kf_txn_offset o = { strdup(group), strdup(topic), partition, offset,
				   metadata ? strdup(metadata) : NULL };
	if (!o.group || !o.topic || (metadata && !o.metadata)) {
		free(o.group), free(o.topic), free(o.metadata);
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	}
	t->offsets[t->noffsets++] = o;
	return KF_ERR_NONE;
}

int kf_txns_pending(struct kf_txns *ts, const char *group, const char *topic, int32_t partition)
{
	size_t pos = 0;
	void *v;

	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v)) {
		const struct kf_txn *t = v;

		for (size_t i = 0; i < t->noffsets; i++) {
			const struct kf_txn_offset *o = &t->offsets[i];
			if (o->partition == partition && strcmp(o->topic, topic) == 0 &&
			    strcmp(o->group, group) == 0)
				return 1;
		}
	}
	return 0;
}

void kf_txns_progress(struct kf_txns *ts, const char *key)
{
	struct kf_txn *t = kf_txns_find(ts, key);

	if (t)
		try_complete(ts, t);
}
