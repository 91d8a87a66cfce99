/*
 * InitProducerId v0-4 for idempotent producers (a null transactional id):
 * a producer id never handed out before (core/topic_ops.h: blocks of ids
 * whose end is fsynced first), epoch 0.  v1 is v0; v2 is flexible
 * (KIP-482); v3 adds the producer's current producer_id and
 * producer_epoch (KIP-360), v4 is v3.  librdkafka 2.0.2 sends v4, kafkajs
 * 2.2.4 v1.
 *
 * KIP-360's epoch bump through InitProducerId is the transaction
 * coordinator's: with a null transactional id Kafka's broker (its
 * TransactionCoordinator.handleInitProducerId, every release since 2.5)
 * ignores the current id and epoch and hands out a new producer id with
 * epoch 0, and so does tandem: an idempotent producer bumps its epoch
 * itself (the Java client and librdkafka do, locally), and a new id
 * always has sequence state of its own, so nothing can be fenced by
 * mistake.  As Kafka's KafkaApis, an id without an epoch or an epoch
 * without an id (one of them -1) is INVALID_REQUEST (42).  In a cluster the node's id is in
 * bits 40 and up, so that ids given by different nodes never meet.  The
 * partitions check each batch's sequence against the producer's last
 * ones (logstore/producer.c): a retry is answered with the offsets it got
 * the first time, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, an older
 * epoch with INVALID_PRODUCER_EPOCH.
 *
 * With a transactional id it is the transaction coordinator's
 * (txn_coord.c, kf_txns_init): the id's producer id with its epoch
 * bumped (a transaction left open is aborted first), a timeout above
 * transaction_max_timeout_ms (Kafka's transaction.max.timeout.ms) or <= 0
 * INVALID_TRANSACTION_TIMEOUT (50), rights as for the other transaction
 * APIs (txn_apis.c); in a cluster only the coordinator answers (else
 * NOT_COORDINATOR: txn_coord.c).
 * Else it needs Kafka 3's rights for an idempotent producer
 * (kf_authz_idempotent_write), or CLUSTER_AUTHORIZATION_FAILED (31).
 *
 * Must not depend on: src/amqp.
 */
#include "core/config.h"
#include "core/log.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "kafka/kf.h"
#include "kafka/txn.h"

#define NODE_SHIFT 40

static void answer(struct evbuffer *resp, int flex, int16_t err, int64_t pid, int16_t epoch)
{
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i16(resp, err);
	kf_put_i64(resp, pid);
	kf_put_i16(resp, epoch);
	kf_put_tags(resp, flex);
}

/* InitProducerId of a transactional producer: the coordinator's. */
static int16_t transactional(struct kf_conn *kc, const struct kf_init_producer_id_req *r,
			     int64_t *pid, int16_t *epoch, uint64_t *end)
{
	const char *key;
	int16_t err;

	if (!kc->srv->txns)
		return KF_ERR_COORDINATOR_NOT_AVAILABLE;
	if ((err = kf_txns_coordinator(kc->srv->txns)) != KF_ERR_NONE)
		return err;
	if (!kf_authz_idempotent_write(kc))
		return KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	if (!(key = kf_txn_key(kc, &r->transactional_id)))
		return KF_ERR_INVALID_REQUEST;
	if (r->transaction_timeout_ms <= 0 ||
	    (uint32_t)r->transaction_timeout_ms > kc->srv->cfg->transaction_max_timeout_ms)
		return KF_ERR_INVALID_TRANSACTION_TIMEOUT;
	if ((r->producer_id == -1) != (r->producer_epoch == -1))
		return KF_ERR_INVALID_REQUEST;
	return kf_txns_init(kc->srv->txns, key, r->transaction_timeout_ms, r->producer_id,
			    r->producer_epoch,
			    kc->hdr.api_version >= 4 ? KF_ERR_PRODUCER_FENCED
						     : KF_ERR_INVALID_PRODUCER_EPOCH,
			    pid, epoch, end);
}

/* A transactional producer's id and epoch, answered once its state
 * record is durable (a new coordinator must fence an older epoch). */
struct init_answer {
	int64_t pid;
	int16_t epoch;
};

static void init_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct init_answer *a = ctx;

	answer(resp, kf_flex(kc), err, err == KF_ERR_NONE ? a->pid : -1,
	       err == KF_ERR_NONE ? a->epoch : -1);
}

int kf_h_init_producer_id(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_init_producer_id_req r;
	int flex = kf_flex(kc);
	int64_t pid = -1;

	if (kf_decode_init_producer_id(cur, kc->hdr.api_version, &r) < 0)
		return KF_R_CLOSE;
	if (r.transactional_id.len >= 0) {
		struct init_answer *a = kf_arena_alloc(&kc->arena, sizeof(*a));
		uint64_t end = 0;
		if (!a)
			return KF_R_CLOSE;
		int16_t err = transactional(kc, &r, &a->pid, &a->epoch, &end);
		if (err != KF_ERR_NONE) {
			init_answer(kc, resp, a, err);
			return KF_R_DONE;
		}
		return kf_txn_wait_durable(kc, end, init_answer, a, resp);
	}
	if (!kf_authz_idempotent_write(kc)) {
		answer(resp, flex, KF_ERR_CLUSTER_AUTHORIZATION_FAILED, -1, -1);
		return KF_R_DONE;
	}
	if ((r.producer_id == -1) != (r.producer_epoch == -1)) {
		answer(resp, flex, KF_ERR_INVALID_REQUEST, -1, -1);
		return KF_R_DONE;
	}
	int16_t err = kf_producer_id_new(kc->srv, &pid);
	answer(resp, flex, err, err == KF_ERR_NONE ? pid : -1, err == KF_ERR_NONE ? 0 : -1);
	return KF_R_DONE;
}

int16_t kf_producer_id_new(struct kf_server *srv, int64_t *pid)
{
	int rc = tdm_topics_producer_id(srv->topics, pid);

	if (rc != TDM_TOPIC_OK)
		return kf_err_from_core(rc);
	*pid += (int64_t)tdm_replica_node_id(srv->replica) << NODE_SHIFT;
	return KF_ERR_NONE;
}
