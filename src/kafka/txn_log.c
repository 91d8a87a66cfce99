/*
 * The transaction coordinator's state log (txn.h): one record per change
 * of a transactional id, in the group offsets log.  Key (big-endian)
 * int16 TXN_KEY_VERSION then the id's coordinator key; value version
 * int16 0, producer_id int64, epoch int16, timeout_ms int32, state int8,
 * then the partitions: count int32, each topic (int16 length, bytes) and
 * partition int32; then a commit's offsets: count int32, each group,
 * topic, partition int32, offset int64, metadata.  A record whose value
 * does not parse is skipped (logged); the group offsets' own records
 * (key version 1) are not ours, and logstore's offsets skip ours.
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/groups.h"
#include "core/log.h"
#include "core/map.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/groups_internal.h"
#include "kafka/kf.h"
#include "kafka/txn.h"
#include "kafka/txn_internal.h"

#define TXN_VALUE_VERSION 0
/* The key version of a state record in the group offsets log: the
 * offsets' own are 1 (logstore/offsets.c), Kafka's group metadata 2. */
#define TXN_KEY_VERSION 0x7478
#define TXN_TOPIC_NAME_MAX 255

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

/* The offsets a record carries: TxnOffsetCommit's, while the transaction
 * is open and once a commit is decided (an abort drops them). */
static size_t offsets_kept(const struct kf_txn *t)
{
	return t->state == KF_TXN_ONGOING || t->state == KF_TXN_PREPARE_COMMIT ? t->noffsets : 0;
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

void kf_txns_expire(struct kf_txns *ts, struct kf_txn *t)
{
	struct tdm_append_result res;

	if (append_record(ts, t, NULL, 0, &res) != TDM_TOPIC_OK)
		return; /* kept: tried again at the next check */
	tdm_info("kafka", "transactional id %s expired (idle %llu ms)", t->id,
		 (unsigned long long)ts->srv->cfg->transactional_id_expiration_ms);
	tdm_map_del(&ts->by_key, t->id, strlen(t->id));
	kf_txn_free(t);
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
		if (r.bad || kf_txn_part_add(t, name, part) < 0)
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
	kf_txn_free(old);
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
		kf_txn_free(t);
	}
	return 0;
}

void kf_txns_load(struct kf_txns *ts)
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
