/*
 * WriteTxnMarkers (27), v0-1 (v1 flexible, KIP-482): the inter-broker
 * API by which a transaction coordinator has a partition's leader append
 * the marker (commit or abort) that ends a producer's transaction there
 * (Kafka's KIP-98).  In tandem it comes over the cluster link
 * (cluster/link.c, tdm_link_write_marker) from a coordinator on another
 * node; a coordinator appends the markers of the partitions it leads
 * itself (txn_coord.c).
 *
 * Only the trusted link (kf_authz_trusted) may send it, naming topics by
 * their core names: any other connection gets CLUSTER_AUTHORIZATION_FAILED
 * (31) for every partition (Kafka requires ClusterAction) and stays open.
 *
 * Per marker and partition, in the request's order: an unknown topic or
 * partition (internal topics included) is UNKNOWN_TOPIC_OR_PARTITION (3);
 * in a cluster a partition this node does not lead is
 * NOT_LEADER_OR_FOLLOWER (6) or LEADER_NOT_AVAILABLE (5), one whose ISR
 * is below min.insync.replicas NOT_ENOUGH_REPLICAS (19); then the marker
 * is appended (tdm_partition_append_marker): INVALID_PRODUCER_EPOCH (47)
 * when the partition knows a newer epoch of the producer,
 * KAFKA_STORAGE_ERROR (56) when the log is failed or the disk alarm is
 * on, INVALID_REQUEST (42) for a negative producer id.
 *
 * Waiting: the answer goes once every marker appended is durable: fsynced
 * here and, in a cluster, on every in-sync replica (the high watermark
 * past it), as Kafka appends markers with acks=all, so a coordinator
 * completes a transaction only with markers that survive a change of
 * leader.  Meanwhile a partition whose lead moved answers
 * NOT_LEADER_OR_FOLLOWER, one whose ISR fell below min.insync.replicas
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND (20), one whose fsync failed
 * KAFKA_STORAGE_ERROR; those still waiting after 30 s answer
 * REQUEST_TIMED_OUT (7) (the link waits 35 s for the answer).  The wait is
 * kf_wait_durable's (offsets.c): the connection reads nothing meanwhile,
 * and its answers stay in order.
 *
 * Must not depend on: src/amqp.
 */
#include <string.h>

#include "core/topic_ops.h"
#include "kafka/kf.h"

#define MARKERS_TIMEOUT_MS 30000 /* the link's Produce timeout too */

/* One partition of one marker, in the request's order. */
struct wtm_part {
	struct kf_str name; /* the topic (a slice of the frame: kept while parked) */
	int32_t index;
	int16_t err;
	int waiting;     /* its marker is appended, not durable yet */
	uint64_t target; /* the log's end after the marker */
};

/* A request and its partitions' answers (in the request arena). */
struct wtm_answer {
	struct kf_conn *kc;
	struct kf_write_txn_markers_req r;
	struct wtm_part *parts;
	size_t n;
};

static int16_t wtm_err(int rc)
{
	/* a negative producer id (append_marker's TDM_ERR_INVALID) */
	return rc == TDM_ERR_INVALID ? KF_ERR_INVALID_REQUEST : kf_err_from_core(rc);
}

/* Appends marker m to wp's partition, if it may: wp->err, or waiting. */
static void wtm_append(struct kf_conn *kc, const struct kf_txn_marker_entry *m, struct wtm_part *wp)
{
	struct kf_server *srv = kc->srv;
	struct ls_topic *t = kf_topic_lookup(kc, wp->name);
	struct ls_partition *p = t ? tdm_topic_partition(t, wp->index) : NULL;
	uint64_t off = 0;
	int rc;

	if (!p) {
		wp->err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	rc = tdm_replica_check_leader(srv->replica, tdm_topic_name(t), wp->index);
	if (rc == TDM_REPL_OK)
		rc = tdm_replica_check_insync(srv->replica, tdm_topic_name(t), wp->index, p);
	if (rc == TDM_REPL_OK)
		rc = tdm_partition_append_marker(srv->topics, p, m->producer_id, m->producer_epoch,
						 m->transaction_result != 0, m->coordinator_epoch,
						 &off);
	if (rc != TDM_TOPIC_OK) {
		wp->err = wtm_err(rc);
		return;
	}
	wp->target = off + 1;
	wp->waiting = 1;
	tdm_topics_flush_now(srv->topics, p);
}

/* 1 while wp's marker is not durable yet; else 0 with its error set (the
 * partition looked up again: its topic may be gone). */
static int wtm_check(struct kf_server *srv, struct kf_conn *kc, struct wtm_part *wp)
{
	struct ls_topic *t = kf_topic_lookup(kc, wp->name);
	struct ls_partition *p = t ? tdm_topic_partition(t, wp->index) : NULL;
	int rc = p ? tdm_replica_acked(srv->replica, tdm_topic_name(t), wp->index, p, wp->target)
		   : TDM_REPL_UNKNOWN;

	if (rc == 1 || (rc == TDM_REPL_OK && tdm_partition_flushed(p) < wp->target)) {
		if (!tdm_partition_failed(p))
			return 1;
		rc = TDM_ERR_IO; /* its fsync failed: never durable */
	}
	wp->err = wtm_err(rc);
	wp->waiting = 0;
	return 0;
}

/* kf_wait_check_fn: 1 while a marker of the request is not durable. */
static int wtm_waiting(struct kf_server *srv, uint64_t target, int16_t *err, void *ctx)
{
	struct wtm_answer *wa = ctx;
	int left = 0;

	(void)target, (void)err; /* each partition has its own */
	for (size_t k = 0; k < wa->n; k++)
		if (wa->parts[k].waiting)
			left += wtm_check(srv, wa->kc, &wa->parts[k]);
	return left > 0;
}

/* markers [producer_id, topics [name, partitions [partition_index,
 * error_code]]] */
static void wtm_encode(struct evbuffer *resp, int flex, const struct wtm_answer *wa)
{
	size_t k = 0;

	kf_put_farray(resp, flex, wa->r.nmarkers);
	for (int32_t i = 0; i < wa->r.nmarkers; i++) {
		const struct kf_txn_marker_entry *m = &wa->r.markers[i];

		kf_put_i64(resp, m->producer_id);
		kf_put_farray(resp, flex, m->ntopics);
		for (int32_t j = 0; j < m->ntopics; j++) {
			const struct kf_txn_topic *t = &m->topics[j];

			kf_put_fkstr(resp, flex, t->name);
			kf_put_farray(resp, flex, t->nparts);
			for (int32_t q = 0; q < t->nparts; q++) {
				kf_put_i32(resp, t->parts[q]);
				kf_put_i16(resp, wa->parts[k++].err);
				kf_put_tags(resp, flex);
			}
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
}

/* kf_offsets_answer_fn: err is REQUEST_TIMED_OUT for the partitions still
 * waiting at the timeout (KF_ERR_NONE otherwise: none is). */
static void wtm_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct wtm_answer *wa = ctx;

	for (size_t k = 0; k < wa->n; k++)
		if (wa->parts[k].waiting) {
			wa->parts[k].err = err != KF_ERR_NONE ? err : KF_ERR_REQUEST_TIMED_OUT;
			wa->parts[k].waiting = 0;
		}
	wtm_encode(resp, kf_flex(kc), wa);
}

int kf_h_write_txn_markers(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct wtm_answer *wa = kf_arena_alloc(&kc->arena, sizeof(*wa));
	int trusted = kf_authz_trusted(kc);
	size_t k = 0;

	if (!wa || kf_decode_write_txn_markers(cur, kc->hdr.api_version, &kc->arena, &wa->r) < 0)
		return KF_R_CLOSE;
	wa->kc = kc;
	for (int32_t i = 0; i < wa->r.nmarkers; i++)
		for (int32_t j = 0; j < wa->r.markers[i].ntopics; j++)
			wa->n += (size_t)wa->r.markers[i].topics[j].nparts;
	if (wa->n && !(wa->parts = kf_arena_alloc(&kc->arena, wa->n * sizeof(*wa->parts))))
		return KF_R_CLOSE;
	for (int32_t i = 0; i < wa->r.nmarkers; i++) {
		const struct kf_txn_marker_entry *m = &wa->r.markers[i];

		for (int32_t j = 0; j < m->ntopics; j++)
			for (int32_t q = 0; q < m->topics[j].nparts; q++) {
				struct wtm_part *wp = &wa->parts[k++];

				wp->name = m->topics[j].name;
				wp->index = m->topics[j].parts[q];
				if (trusted)
					wtm_append(kc, m, wp);
				else
					wp->err = KF_ERR_CLUSTER_AUTHORIZATION_FAILED;
			}
	}
	return kf_wait_durable(kc, 0, MARKERS_TIMEOUT_MS, wtm_waiting, wtm_answer, wa, resp);
}
