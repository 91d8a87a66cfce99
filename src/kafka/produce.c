/*
 * Produce v0-9.  acks=0: no response; acks=1: answered once appended;
 * acks=all (-1): answered once the data is fsynced and, in a cluster,
 * every in-sync replica has it (the high watermark passed it;
 * NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas before the
 * append, _AFTER_APPEND when it shrank below while waiting; only the
 * leader takes writes: NOT_LEADER_OR_FOLLOWER elsewhere).  The wait asks
 * core/topics for an fsync right away (group commit on the helper thread)
 * instead of waiting for flush.ms; a partition still unflushed after
 * timeout_ms answers REQUEST_TIMED_OUT.
 *
 * The data of a partition:
 *   v3-9: exactly one RecordBatch v2, validated by the store (CRC-32C,
 *     layout, sizes, codec) and stored byte for byte as sent, only its
 *     baseOffset rewritten (or recompressed when the topic's
 *     compression.type names another codec).  As Kafka's ProduceRequest:
 *     another magic, or more than one batch, is INVALID_RECORD; zstd below
 *     v7 is UNSUPPORTED_COMPRESSION_TYPE (KIP-110).
 *   v0-2: a legacy MessageSet, magic 0 (v0-1 clients) or 1 (v2), converted
 *     to a RecordBatch v2 on append (logstore/legacy.c: CRC-32 of every
 *     message, CORRUPT_MESSAGE on a mismatch; magic 0 timestamps become
 *     NO_TIMESTAMP, -1; a compressed wrapper's inner set is unpacked and
 *     the batch written in the topic's compression.type, or the
 *     producer's codec with "producer").  Kafka checks the format only
 *     from v3, so a RecordBatch v2 (magic byte 2) is taken here too.
 *
 * Request: transactional_id (v3+; not checked against the coordinator,
 * as Kafka before KIP-890 does not: a transactional batch opens its
 * producer's transaction in the partition, logstore/producer.c), acks, timeout_ms, topics [name, partitions [index,
 * records]]; v9 is flexible (KIP-482: compact strings, arrays and records,
 * tagged fields).  Response: topics [name, partitions [index, error_code,
 * base_offset, log_append_time_ms (v2+), log_start_offset (v5+),
 * record_errors [batch_index, batch_index_error_message] and
 * error_message (v8+)]], throttle_time_ms (v1+).  record_errors name the
 * record the store refused (a keyless record on a compacted topic, a
 * reserved header, an offset delta out of sequence); error_message says
 * why any partition failed (null on success).
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>

#include "core/config.h"
#include "core/log.h"
#include "kafka/kf.h"
#include "net/net.h"

struct prod_part {
	int32_t index;
	int16_t err;
	int64_t base_offset;
	int64_t log_append_time;
	int64_t log_start_offset; /* v5+; -1 when the partition is unknown */
	const char *err_msg;      /* static; NULL: kf_err_name's when failed */
	struct tdm_append_error rec_err; /* index -1: no record named */
	uint64_t target;          /* acks=all: flushed offset to wait for */
	int waiting;
};

struct prod_topic {
	struct kf_str name; /* slice of the frame, kept while parked */
	int32_t nparts;
	struct prod_part *parts;
};

/* Lives in the request arena: the connection reads nothing while parked. */
struct prod_park {
	struct kf_park base;
	struct kf_conn *kc;
	struct tdm_topics_waiter w;
	struct event *timer; /* owned */
	int32_t ntopics;
	struct prod_topic *topics;
};

static void encode_part(struct evbuffer *b, int ver, int flex, const struct prod_part *pp)
{
	kf_put_i32(b, pp->index);
	kf_put_i16(b, pp->err);
	kf_put_i64(b, pp->base_offset);
	if (ver >= 2)
		kf_put_i64(b, pp->log_append_time);
	if (ver >= 5)
		kf_put_i64(b, pp->log_start_offset);
	if (ver >= 8) {
		int named = pp->err != KF_ERR_NONE && pp->rec_err.index >= 0;

		kf_put_farray(b, flex, named ? 1 : 0);
		if (named) {
			kf_put_i32(b, pp->rec_err.index);
			kf_put_fstr(b, flex, pp->rec_err.message);
			kf_put_tags(b, flex);
		}
		kf_put_fstr(b, flex, pp->err == KF_ERR_NONE ? NULL
				     : pp->err_msg ? pp->err_msg : kf_err_name(pp->err));
	}
	kf_put_tags(b, flex);
}

static void encode(struct evbuffer *b, const struct kf_conn *kc, const struct prod_topic *topics,
		   int32_t n)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);

	kf_put_farray(b, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kf_put_fkstr(b, flex, topics[i].name);
		kf_put_farray(b, flex, topics[i].nparts);
		for (int32_t j = 0; j < topics[i].nparts; j++)
			encode_part(b, ver, flex, &topics[i].parts[j]);
		kf_put_tags(b, flex);
	}
	if (ver >= 1)
		kf_put_i32(b, 0); /* throttle_time_ms */
	kf_put_tags(b, flex);
}

/* Re-checks every waiting partition (looked up again: the topic may have
 * been deleted meanwhile); returns how many still wait. */
static int check_flushed(struct prod_park *pk, int timed_out)
{
	int left = 0;

	int rc;

	for (int32_t i = 0; i < pk->ntopics; i++) {
		struct prod_topic *pt = &pk->topics[i];
		struct ls_topic *t = kf_topic_lookup(pk->kc, pt->name);

		for (int32_t j = 0; j < pt->nparts; j++) {
			struct prod_part *pp = &pt->parts[j];
			struct ls_partition *p = t ? tdm_topic_partition(t, pp->index) : NULL;

			if (!pp->waiting)
				continue;
			if (!p) {
				pp->err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION; /* deleted meanwhile */
				pp->waiting = 0;
			} else if ((rc = tdm_replica_acked(pk->kc->srv->replica, tdm_topic_name(t),
							   pp->index, p, pp->target)) < 0) {
				pp->err = kf_err_from_core(rc); /* fenced, or the ISR shrank */
				pp->waiting = 0;
			} else if (rc == TDM_REPL_OK && tdm_partition_flushed(p) >= pp->target) {
				pp->waiting = 0;
			} else if (tdm_partition_failed(p)) { /* its fsync failed: never durable */
				pp->err = KF_ERR_KAFKA_STORAGE_ERROR;
				pp->waiting = 0;
			} else if (timed_out) {
				pp->err = KF_ERR_REQUEST_TIMED_OUT;
				pp->waiting = 0;
			} else {
				left++;
			}
		}
	}
	return left;
}

/* acks=all is answered at once: the data is fsynced here and, in a
 * cluster, every ISR member has it. */
static int produce_acked(const struct kf_server *srv, struct ls_topic *t, int32_t index,
			 const struct ls_partition *p, uint64_t target)
{
	return tdm_partition_flushed(p) >= target &&
	       tdm_replica_acked(srv->replica, tdm_topic_name(t), index, p, target) == TDM_REPL_OK;
}

static void park_release(struct prod_park *pk)
{
	tdm_topics_unwait(pk->kc->srv->topics, &pk->w);
	if (pk->timer)
		event_free(pk->timer);
	pk->timer = NULL;
}

static void park_cancel(struct kf_park *p)
{
	park_release((struct prod_park *)p);
}

static void park_check(struct prod_park *pk, int timed_out)
{
	struct kf_conn *kc = pk->kc;

	if (check_flushed(pk, timed_out) > 0) {
		tdm_topics_wait_flush(kc->srv->topics, &pk->w);
		return;
	}
	park_release(pk);
	encode(kc->resp, kc, pk->topics, pk->ntopics);
	kf_complete(kc, kc->resp);
}

static void flushed_fn(void *ctx)
{
	park_check(ctx, 0);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	park_check(arg, 1);
}

/* Kafka's ProduceRequest checks of a partition's data for version ver
 * (v3+: exactly one RecordBatch v2; zstd from v7 only): KF_ERR_NONE, or
 * the error with its message in *msg.  *legacy: a MessageSet (v0-2). */
static int16_t check_format(int ver, struct kf_bytes rec, int *legacy, const char **msg)
{
	int magic = rec.len > 16 ? rec.p[16] : -1;

	*legacy = ver <= 2 && magic != 2;
	if (*legacy)
		return KF_ERR_NONE; /* checked by the conversion */
	if (magic != 2) {
		*msg = "Produce requests with version 3 and above may only carry record batches "
		       "with magic 2";
		return KF_ERR_INVALID_RECORD;
	}
	if (rec.len >= 23 && (rec.p[22] & 7) == TDM_CODEC_ZSTD && ver < 7) {
		*msg = "Produce requests below version 7 may not use ZStandard compression";
		return KF_ERR_UNSUPPORTED_COMPRESSION_TYPE;
	}
	if (rec.len >= 12 && 12 + (int64_t)((uint32_t)rec.p[8] << 24 | (uint32_t)rec.p[9] << 16 |
					     (uint32_t)rec.p[10] << 8 | rec.p[11]) < rec.len) {
		*msg = "Produce requests with version 3 and above may carry exactly one record batch";
		return KF_ERR_INVALID_RECORD;
	}
	return KF_ERR_NONE;
}

/* Appends one partition's data (p known, acks valid), filling pp; 1 when
 * an acks=all answer must wait for it. */
static int produce_part(struct kf_conn *kc, const struct kf_produce_req *r, struct ls_topic *t,
			struct ls_partition *p, const struct kf_produce_part *rp,
			struct prod_part *pp)
{
	struct kf_server *srv = kc->srv;
	struct tdm_append_result res;
	int legacy = 0, rc;

	pp->log_start_offset = (int64_t)tdm_partition_log_start(p);
	if (rp->records.len <= 0) {
		pp->err = KF_ERR_INVALID_RECORD;
		pp->err_msg = "No records";
		return 0;
	}
	pp->err = check_format(kc->hdr.api_version, rp->records, &legacy, &pp->err_msg);
	if (pp->err != KF_ERR_NONE)
		return 0;
	rc = tdm_replica_check_leader(srv->replica, tdm_topic_name(t), rp->index);
	if (rc == TDM_REPL_OK && r->acks == -1)
		rc = tdm_replica_check_insync(srv->replica, tdm_topic_name(t), rp->index, p);
	if (rc == TDM_REPL_OK && kf_authz_trusted(kc) && !legacy)
		/* a node's forwarded publish: the broker's own headers */
		rc = tdm_topics_append_batch_trusted(srv->topics, p, rp->records.p,
						     (size_t)rp->records.len, &res);
	else if (rc == TDM_REPL_OK)
		rc = tdm_topics_produce(srv->topics, p, rp->records.p, (size_t)rp->records.len,
					legacy, &res, &pp->rec_err);
	pp->err = kf_err_from_core(rc);
	pp->log_start_offset = (int64_t)tdm_partition_log_start(p);
	if (rc != TDM_TOPIC_OK) {
		/* the store's own words; replica refusals get kf_err_name's */
		pp->err_msg = pp->rec_err.message ? pp->rec_err.message
			      : rc > TDM_REPL_NOT_LEADER ? tdm_strerror(rc) : NULL;
		return 0;
	}
	pp->base_offset = (int64_t)res.base_offset;
	pp->log_append_time = res.log_append_time;
	pp->target = res.last_offset + 1;
	if (r->acks == -1 && !produce_acked(srv, t, rp->index, p, pp->target)) {
		pp->waiting = 1;
		tdm_topics_flush_now(srv->topics, p);
		return 1;
	}
	return 0;
}

int kf_h_produce(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	struct kf_produce_req r;
	struct prod_topic *topics;
	int acks_ok, waiting = 0, refused = 0;

	if (kf_decode_produce(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	acks_ok = r.acks == 0 || r.acks == 1 || r.acks == -1;
	topics = r.ntopics > 0 ? kf_arena_alloc(&kc->arena, (size_t)r.ntopics * sizeof(*topics)) : NULL;
	if (r.ntopics > 0 && !topics)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.ntopics; i++) {
		const struct kf_produce_topic *rt = &r.topics[i];
		struct prod_topic *pt = &topics[i];
		int16_t aerr = kf_authz_topic(kc, TDM_PERM_WRITE, rt->name);
		struct ls_topic *t = aerr ? NULL : kf_topic_lookup(kc, rt->name);

		refused |= aerr != KF_ERR_NONE;
		pt->name = rt->name;
		pt->nparts = rt->nparts;
		pt->parts = rt->nparts > 0 ? kf_arena_alloc(&kc->arena,
							    (size_t)rt->nparts * sizeof(*pt->parts))
					   : NULL;
		if (rt->nparts > 0 && !pt->parts)
			return KF_R_CLOSE;
		for (int32_t j = 0; j < rt->nparts; j++) {
			const struct kf_produce_part *rp = &rt->parts[j];
			struct prod_part *pp = &pt->parts[j];
			struct ls_partition *p = t ? tdm_topic_partition(t, rp->index) : NULL;

			pp->index = rp->index;
			pp->base_offset = -1;
			pp->log_append_time = -1;
			pp->log_start_offset = -1;
			pp->rec_err.index = -1;
			if (!acks_ok)
				pp->err = KF_ERR_INVALID_REQUIRED_ACKS;
			else if (!p)
				pp->err = aerr ? aerr : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			else
				waiting += produce_part(kc, &r, t, p, rp, pp);
		}
	}
	if (r.acks == 0 && acks_ok && refused) {
		/* Kafka closes an acks=0 producer's connection on an error: it
		 * has no other way to tell the client. */
		tdm_info("kafka", "%s: Produce (acks=0) refused: topic authorization failed",
			 kc->c->peer);
		return KF_R_CLOSE;
	}
	if (r.acks == 0 && acks_ok)
		return KF_R_NONE;
	if (waiting) {
		struct prod_park *pk = kf_arena_alloc(&kc->arena, sizeof(*pk));
		struct timeval tv;
		int32_t ms = r.timeout_ms > 0 ? r.timeout_ms : 0;

		if (!pk)
			return KF_R_CLOSE;
		pk->base.cancel = park_cancel;
		pk->kc = kc;
		pk->ntopics = r.ntopics;
		pk->topics = topics;
		pk->w.fn = flushed_fn;
		pk->w.ctx = pk;
		pk->timer = evtimer_new(srv->base, timeout_cb, pk);
		if (!pk->timer)
			return KF_R_CLOSE;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(pk->timer, &tv);
		tdm_topics_wait_flush(srv->topics, &pk->w);
		kc->park = &pk->base;
		return KF_R_PARKED;
	}
	encode(resp, kc, topics, r.ntopics);
	return KF_R_DONE;
}
