/*
 * InitProducerId v0-1 for idempotent producers (a null transactional id):
 * a producer id never handed out before (core/topic_ops.h: blocks of ids
 * whose end is fsynced first), epoch 0.  In a cluster the node's id is in
 * bits 40 and up, so that ids given by different nodes never meet.  The
 * partitions check each batch's sequence against the producer's last
 * ones (logstore/producer.c): a retry is answered with the offsets it got
 * the first time, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, an older
 * epoch with INVALID_PRODUCER_EPOCH.
 *
 * Transactions are not served: an InitProducerId with a transactional id
 * is answered UNSUPPORTED_VERSION (35), and logged.  Needs Kafka 3's
 * rights for an idempotent producer (kf_authz_idempotent_write), else
 * CLUSTER_AUTHORIZATION_FAILED (31).
 *
 * Must not depend on: src/amqp.
 */
#include "core/log.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "kafka/kf.h"

#define NODE_SHIFT 40

static void answer(struct evbuffer *resp, int16_t err, int64_t pid, int16_t epoch)
{
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i16(resp, err);
	kf_put_i64(resp, pid);
	kf_put_i16(resp, epoch);
}

int kf_h_init_producer_id(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_init_producer_id_req r;
	int64_t pid = -1;

	if (kf_decode_init_producer_id(cur, &r) < 0)
		return KF_R_CLOSE;
	if (r.transactional_id.len >= 0) {
		tdm_warn("kafka", "InitProducerId with transactional id %.*s: transactions are not "
			 "served (UNSUPPORTED_VERSION)", (int)r.transactional_id.len,
			 r.transactional_id.p);
		answer(resp, KF_ERR_UNSUPPORTED_VERSION, -1, -1);
		return KF_R_DONE;
	}
	if (!kf_authz_idempotent_write(kc)) {
		answer(resp, KF_ERR_CLUSTER_AUTHORIZATION_FAILED, -1, -1);
		return KF_R_DONE;
	}
	int rc = tdm_topics_producer_id(kc->srv->topics, &pid);
	if (rc != TDM_TOPIC_OK) {
		answer(resp, kf_err_from_core(rc), -1, -1);
		return KF_R_DONE;
	}
	pid += (int64_t)tdm_replica_node_id(kc->srv->replica) << NODE_SHIFT;
	answer(resp, KF_ERR_NONE, pid, 0);
	return KF_R_DONE;
}
