/*
 * Produce v3: one RecordBatch v2 per partition, validated by the store
 * (CRC-32C, layout, sizes, codec) and stored byte for byte as sent, only
 * its baseOffset rewritten.  acks=0: no response; acks=1: answered once
 * appended; acks=all (-1): answered once the data is fsynced and, in a
 * cluster, every in-sync replica has it (the high watermark passed it;
 * NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas before the
 * append, _AFTER_APPEND when it shrank below while waiting; only the
 * leader takes writes: NOT_LEADER_OR_FOLLOWER elsewhere).  The wait
 * asks core/topics for an fsync right away (group commit on the helper
 * thread) instead of waiting for flush.ms; a partition still unflushed
 * after timeout_ms answers REQUEST_TIMED_OUT.
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
	uint64_t target; /* acks=all: flushed offset to wait for */
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

static void encode(struct evbuffer *b, const struct prod_topic *topics, int32_t n)
{
	kf_put_i32(b, n);
	for (int32_t i = 0; i < n; i++) {
		kf_put_kstr(b, topics[i].name);
		kf_put_i32(b, topics[i].nparts);
		for (int32_t j = 0; j < topics[i].nparts; j++) {
			const struct prod_part *pp = &topics[i].parts[j];

			kf_put_i32(b, pp->index);
			kf_put_i16(b, pp->err);
			kf_put_i64(b, pp->base_offset);
			kf_put_i64(b, pp->log_append_time);
		}
	}
	kf_put_i32(b, 0); /* throttle_time_ms */
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
	encode(kc->resp, pk->topics, pk->ntopics);
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
			struct tdm_append_result res;
			int rc;

			pp->index = rp->index;
			pp->base_offset = -1;
			pp->log_append_time = -1;
			if (!acks_ok) {
				pp->err = KF_ERR_INVALID_REQUIRED_ACKS;
				continue;
			}
			if (!p) {
				pp->err = aerr ? aerr : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (rp->records.len <= 0) {
				pp->err = KF_ERR_INVALID_RECORD;
				continue;
			}
			rc = tdm_replica_check_leader(srv->replica, tdm_topic_name(t), rp->index);
			if (rc == TDM_REPL_OK && r.acks == -1)
				rc = tdm_replica_check_insync(srv->replica, tdm_topic_name(t), rp->index,
							      p);
			if (rc == TDM_REPL_OK && kf_authz_trusted(kc))
				/* a node's forwarded publish: the broker's own headers */
				rc = tdm_topics_append_batch_trusted(srv->topics, p, rp->records.p,
								     (size_t)rp->records.len, &res);
			else if (rc == TDM_REPL_OK)
				rc = tdm_topics_append_batch(srv->topics, p, rp->records.p,
							     (size_t)rp->records.len, &res);
			pp->err = kf_err_from_core(rc);
			if (rc != TDM_TOPIC_OK)
				continue;
			pp->base_offset = (int64_t)res.base_offset;
			pp->log_append_time = res.log_append_time;
			pp->target = res.last_offset + 1;
			if (r.acks == -1 && !produce_acked(srv, t, rp->index, p, pp->target)) {
				pp->waiting = 1;
				waiting++;
				tdm_topics_flush_now(srv->topics, p);
			}
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
	encode(resp, topics, r.ntopics);
	return KF_R_DONE;
}
