/*
 * The transaction coordinator's state and its log (txn.h says what it
 * does).  A state record, in the group offsets log: key (big-endian)
 * int16 TXN_KEY_VERSION then the transactional id's coordinator key;
 * value version int16 0, producer_id int64, epoch int16, timeout_ms
 * int32, state int8, then the partitions: count int32, each topic (int16
 * length, bytes) and partition int32; then a commit's offsets: count
 * int32, each group, topic, partition int32, offset int64, metadata.  A
 * record whose value does not parse is skipped (logged); the group
 * offsets' own records (key version 1) are not ours, and logstore's
 * offsets skip ours.
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
#include "net/net.h"

#define TXN_VALUE_VERSION 0
/* The key version of a state record in the group offsets log: the
 * offsets' own are 1 (logstore/offsets.c), Kafka's group metadata 2. */
#define TXN_KEY_VERSION 0x7478
#define CHECK_EVERY_MS 1000
#define TXN_TOPIC_NAME_MAX 255

struct kf_txns {
	struct kf_server *srv;
	struct tdm_map by_key; /* key -> struct kf_txn */
	struct event *timer;   /* owned: timeouts, unfinished completions */
	struct tdm_topics_waiter flushed; /* a completed fsync round */
	int clustered;         /* zookeeper_connect is set: coordinating comes and goes */
	int loaded;            /* the state is read (a cluster: at epoch) */
	int32_t epoch;         /* the coordinator epoch: the offsets partition's leader epoch */
};

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

static void txn_free(struct kf_txn *t)
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

static int part_add(struct kf_txn *t, const char *topic, int32_t partition)
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

/* ---- the state log -------------------------------------------------------- */

static void put16(uint8_t **p, uint16_t v)
{
	(*p)[0] = (uint8_t)(v >> 8);
	(*p)[1] = (uint8_t)v;
	*p += 2;
}

static void put32(uint8_t **p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

static void put64(uint8_t **p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p, (uint32_t)v);
}

static void put_str(uint8_t **p, const char *s)
{
	size_t k = s ? strlen(s) : 0;

	put16(p, s ? (uint16_t)k : 0xffff);
	memcpy(*p, s ? s : "", k);
	*p += k;
}

/* The offsets a record carries: a commit's, once decided (before, they
 * are only in memory: a restart aborts what is open). */
static size_t offsets_kept(const struct kf_txn *t)
{
	return t->state == KF_TXN_PREPARE_COMMIT ? t->noffsets : 0;
}

/* t's state record value (malloc'd), *len its size; NULL: no memory. */
static uint8_t *encode(const struct kf_txn *t, size_t *len)
{
	size_t n = 2 + 8 + 2 + 4 + 1 + 4 + 4;

	for (size_t i = 0; i < t->nparts; i++)
		n += 2 + strlen(t->parts[i].topic) + 4;
	for (size_t i = 0; i < offsets_kept(t); i++) {
		const struct kf_txn_offset *o = &t->offsets[i];
		n += 2 + strlen(o->group) + 2 + strlen(o->topic) + 4 + 8 + 2 +
		     (o->metadata ? strlen(o->metadata) : 0);
	}
	uint8_t *v = malloc(n), *p = v;
	if (!v)
		return NULL;
	put16(&p, TXN_VALUE_VERSION);
	put64(&p, (uint64_t)t->pid);
	put16(&p, (uint16_t)t->epoch);
	put32(&p, (uint32_t)t->timeout_ms);
	*p++ = (uint8_t)t->state;
	put32(&p, (uint32_t)t->nparts);
	for (size_t i = 0; i < t->nparts; i++) {
		put_str(&p, t->parts[i].topic);
		put32(&p, (uint32_t)t->parts[i].partition);
	}
	put32(&p, (uint32_t)offsets_kept(t));
	for (size_t i = 0; i < offsets_kept(t); i++) {
		const struct kf_txn_offset *o = &t->offsets[i];
		put_str(&p, o->group);
		put_str(&p, o->topic);
		put32(&p, (uint32_t)o->partition);
		put64(&p, (uint64_t)o->offset);
		put_str(&p, o->metadata);
	}
	*len = n;
	return v;
}

struct ls_partition *kf_txns_log(struct kf_txns *ts)
{
	return tdm_groups_log(ts->srv->cgroups);
}

/* t's record key (malloc'd: TXN_KEY_VERSION, then its id), *len its size. */
static char *record_key(const struct kf_txn *t, size_t *len)
{
	size_t n = strlen(t->id);
	char *k = malloc(n + 2);

	if (k) {
		k[0] = (char)(TXN_KEY_VERSION >> 8);
		k[1] = (char)(TXN_KEY_VERSION & 0xff);
		memcpy(k + 2, t->id, n);
		*len = n + 2;
	}
	return k;
}

/* Appends t's record (value NULL: a tombstone) to the state log; in a
 * cluster only while the in-sync replicas are enough (Kafka writes the
 * transaction log with acks=all).  TDM_TOPIC_OK with *res, or an error. */
static int append_record(struct kf_txns *ts, const struct kf_txn *t, const uint8_t *v,
			 size_t len, struct tdm_append_result *res)
{
	struct ls_partition *log = kf_txns_log(ts);
	struct kf_server *srv = ts->srv;
	size_t klen = 0;
	char *key = record_key(t, &klen);
	int rc = !key ? TDM_ERR_NOMEM : !log ? TDM_ERR_IO : TDM_TOPIC_OK;

	if (rc == TDM_TOPIC_OK && srv->replica)
		rc = tdm_replica_check_insync(srv->replica, TDM_GROUPS_TOPIC, 0, log);
	if (rc == TDM_TOPIC_OK) {
		struct tdm_record rec = { key, klen, v, len, NULL, 0, -1, 0 };
		rc = tdm_topics_append(srv->topics, log, &rec, 1, 0, res);
	}
	if (rc == TDM_TOPIC_OK)
		tdm_topics_flush_now(srv->topics, log);
	free(key);
	return rc;
}

int16_t kf_txns_persist(struct kf_txns *ts, struct kf_txn *t, uint64_t *end)
{
	struct tdm_append_result res;
	size_t len;
	uint8_t *v = encode(t, &len);
	int rc = v ? append_record(ts, t, v, len, &res) : TDM_ERR_NOMEM;

	free(v);
	if (rc != TDM_TOPIC_OK) {
		tdm_warn("kafka", "transaction %s: writing its state failed: %s", t->id,
			 tdm_replica_strerror(rc));
		/* Kafka: NOT_ENOUGH_REPLICAS and the like are
		 * COORDINATOR_NOT_AVAILABLE to the producer, which retries */
		return ts->srv->replica && rc != TDM_ERR_IO ? KF_ERR_COORDINATOR_NOT_AVAILABLE
							    : KF_ERR_KAFKA_STORAGE_ERROR;
	}
	t->last_ms = kf_groups_mono_ms();
	if (end)
		*end = res.last_offset + 1;
	return KF_ERR_NONE;
}

/* Forgets t: a tombstone in the log, then out of the map (freed). */
static void expire(struct kf_txns *ts, struct kf_txn *t)
{
	struct tdm_append_result res;

	if (append_record(ts, t, NULL, 0, &res) != TDM_TOPIC_OK)
		return; /* kept: tried again at the next check */
	tdm_info("kafka", "transactional id %s expired (idle %llu ms)", t->id,
		 (unsigned long long)ts->srv->cfg->transactional_id_expiration_ms);
	tdm_map_del(&ts->by_key, t->id, strlen(t->id));
	txn_free(t);
}

struct reader {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t get(struct reader *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->end - r->p < bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = v << 8 | *r->p++;
	return v;
}

/* A string of a record (int16 length, -1 null) into buf (cap bytes); 0,
 * or -1 when it does not fit or parse.  *null: it was null. */
static int get_str(struct reader *r, char *buf, size_t cap, int *null)
{
	uint16_t k = (uint16_t)get(r, 2);

	*null = k == 0xffff;
	if (*null)
		k = 0;
	if (r->bad || k >= cap || (size_t)(r->end - r->p) < k)
		return -1;
	memcpy(buf, r->p, k);
	buf[k] = '\0';
	r->p += k;
	return 0;
}

static int decode_offsets(struct reader *r, struct kf_txn *t, size_t len)
{
	uint32_t n = (uint32_t)get(r, 4);
	char group[1024], topic[TXN_TOPIC_NAME_MAX + 1], meta[4097];
	int null;

	if (r->bad || n > len)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (get_str(r, group, sizeof group, &null) < 0 ||
		    get_str(r, topic, sizeof topic, &null) < 0)
			return -1;
		int32_t part = (int32_t)get(r, 4);
		int64_t off = (int64_t)get(r, 8);
		if (get_str(r, meta, sizeof meta, &null) < 0 ||
		    kf_txns_add_offset(t, group, topic, part, off, null ? NULL : meta) != KF_ERR_NONE)
			return -1;
	}
	return 0;
}

/* Fills t (id set, empty) from a record value: 0, or -1 when it does not
 * parse. */
static int decode(struct kf_txn *t, const uint8_t *v, size_t len)
{
	struct reader r = { v, v + len, 0 };
	char name[TXN_TOPIC_NAME_MAX + 1];
	int null;

	if (get(&r, 2) != TXN_VALUE_VERSION)
		return -1;
	t->pid = (int64_t)get(&r, 8);
	t->epoch = (int16_t)get(&r, 2);
	t->timeout_ms = (int32_t)get(&r, 4);
	t->state = (enum kf_txn_state)get(&r, 1);
	uint32_t n = (uint32_t)get(&r, 4);
	if (r.bad || t->state > KF_TXN_COMPLETE_ABORT || n > len)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (get_str(&r, name, sizeof name, &null) < 0)
			return -1;
		int32_t part = (int32_t)get(&r, 4);
		if (r.bad || part_add(t, name, part) < 0)
			return -1;
	}
	if (decode_offsets(&r, t, len) < 0)
		return -1;
	return r.bad || r.p != r.end ? -1 : 0;
}

static int load_record(void *ctx, int32_t partition, const struct tdm_record *rec)
{
	struct kf_txns *ts = ctx;
	(void)partition;

	const unsigned char *k = (const unsigned char *)rec->key;

	if (!k || rec->key_len <= 2 || (k[0] << 8 | k[1]) != TXN_KEY_VERSION)
		return 0; /* a group offset, not ours */
	struct kf_txn *old = tdm_map_del(&ts->by_key, (const char *)rec->key + 2, rec->key_len - 2);
	txn_free(old);
	if (!rec->value)
		return 0; /* a tombstone */
	struct kf_txn *t = calloc(1, sizeof(*t));
	if (t) {
		t->last_ms = kf_groups_mono_ms();
		t->ts = ts;
	}
	if (!t || !(t->id = strndup((const char *)rec->key + 2, rec->key_len - 2)) ||
	    decode(t, rec->value, rec->value_len) < 0 ||
	    tdm_map_put(&ts->by_key, t->id, strlen(t->id), t) < 0) {
		tdm_warn("kafka", "transaction state: a record at offset %llu is not readable",
			 (unsigned long long)rec->offset);
		txn_free(t);
	}
	return 0;
}

static void load(struct kf_txns *ts)
{
	struct ls_partition *log = kf_txns_log(ts);
	uint64_t next = log ? tdm_partition_log_start(log) : 0;
	size_t n = 1;

	while (log && n > 0)
		if (tdm_partition_read_records(ts->srv->topics, log, &next, 1024, load_record, ts,
					       &n) != TDM_TOPIC_OK) {
			tdm_error("kafka", "transaction state: reading its log failed");
			break;
		}
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
			expire(ts, t);
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
		txn_free(v);
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
	load(ts);
	ts->loaded = 1;
	ts->epoch = epoch;
	while (tdm_map_next(&ts->by_key, &pos, NULL, NULL, &v)) {
		struct kf_txn *t = v;
		if (t->state == KF_TXN_ONGOING)
			abort_fenced(ts, t, ts->srv->replica ? "its coordinator moved during it"
							     : "the broker restarted during it");
		else
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
		txn_free(v);
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
		txn_free(t);
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
	int rc = part_add(t, topic, partition);

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
