/*
 * OffsetForLeaderEpoch v0-4 (api key 23; v4 flexible): for each
 * partition, the end offset of the requested leader epoch in the leader's
 * log, i.e. the start of the next newer epoch, or the log end when the
 * epoch is the latest; with it (v1+) the largest epoch at or below the
 * requested one.  A follower asks it before fetching from a new leader and
 * truncates its log to that end offset (Kafka's KIP-101/KIP-279 rule).
 * The answers come from the log's epoch cache through core
 * (tdm_partition_epoch_end): no epoch at or below the requested one gives
 * epoch -1 and offset -1 (Kafka's UNDEFINED_EPOCH(_OFFSET)).
 *
 * Only a partition's leader answers, for consumers and replicas alike
 * (Kafka's fetchOnlyFromLeader): NOT_LEADER_OR_FOLLOWER otherwise.  With
 * v2+ a current_leader_epoch >= 0 is checked against the partition's
 * leader epoch: FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when
 * newer.  On a single node (no replica manager, so no leader epoch to
 * check against) every partition is led here and the check is skipped.
 *
 * Who may ask: a connection whose user is tagged administrator (Kafka's
 * CLUSTER_ACTION) for every topic by its core name; anyone else for the
 * topics of its vhost it may describe (TOPIC_AUTHORIZATION_FAILED
 * otherwise).
 *
 * Must not depend on: src/amqp.
 */
#include "core/replica.h"
#include "kafka/kf.h"

/* The partition the request names, with a Kafka error code when none. */
static struct ls_partition *find_part(struct kf_conn *kc, int cluster, struct kf_str name,
				      const char *cname, int32_t index, int16_t *err)
{
	struct ls_topic *t;

	*err = KF_ERR_NONE;
	if (cluster) {
		t = cname ? tdm_topic_find(kc->srv->topics, cname) : NULL;
	} else {
		if (!kf_authz_topic_visible(kc, name.p ? name.p : "", name.len > 0 ? (size_t)name.len : 0)) {
			*err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
			return NULL;
		}
		t = kf_topic_lookup(kc, name);
	}
	struct ls_partition *p = t ? tdm_topic_partition(t, index) : NULL;

	if (!p)
		*err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	return p;
}

/* err (from the replica manager), or when none the epoch check. */
static int16_t epoch_check(struct kf_conn *kc, const char *topic, int32_t partition,
			   int32_t current_epoch, int16_t err)
{
	const struct tdm_partition_state *st =
		err ? NULL : tdm_replica_state(kc->srv->replica, topic, partition);

	if (st && current_epoch >= 0 && current_epoch < st->leader_epoch)
		return KF_ERR_FENCED_LEADER_EPOCH;
	if (st && current_epoch >= 0 && current_epoch > st->leader_epoch)
		return KF_ERR_UNKNOWN_LEADER_EPOCH;
	return err;
}

int16_t kf_leader_check(struct kf_conn *kc, const char *topic, int32_t partition,
			int32_t current_epoch)
{
	const struct tdm_replica *repl = kc->srv->replica;

	if (!repl)
		return KF_ERR_NONE;
	return epoch_check(kc, topic, partition, current_epoch,
			   kf_err_from_replica(tdm_replica_check_leader(repl, topic, partition)));
}

int16_t kf_read_check(struct kf_conn *kc, const char *topic, int32_t partition,
		      int32_t current_epoch)
{
	const struct tdm_replica *repl = kc->srv->replica;

	if (!repl)
		return KF_ERR_NONE;
	return epoch_check(kc, topic, partition, current_epoch,
			   kf_err_from_replica(tdm_replica_check_read(repl, topic, partition)));
}

int kf_h_offset_for_leader_epoch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_ofle_req r;
	int cluster;

	if (kf_decode_offset_for_leader_epoch(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	cluster = kf_authz_cluster(kc);
	if (ver >= 2)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		const struct kf_ofle_topic *ot = &r.topics[i];
		char name[256];
		const char *cname = kf_str_cstr(ot->topic, name, sizeof(name)) == 0 ? name : NULL;

		kf_put_fkstr(resp, flex, ot->topic);
		kf_put_farray(resp, flex, ot->nparts);
		for (int32_t j = 0; j < ot->nparts; j++) {
			const struct kf_ofle_part *op = &ot->parts[j];
			int16_t err;
			struct ls_partition *p =
				find_part(kc, cluster, ot->topic, cname, op->partition, &err);
			int32_t epoch = -1;
			int64_t end = -1;

			if (p)
				err = kf_leader_check(kc, cname, op->partition,
						      op->current_leader_epoch);
			if (p && err == KF_ERR_NONE)
				tdm_partition_epoch_end(p, op->leader_epoch, &epoch, &end);
			kf_put_i16(resp, err);
			kf_put_i32(resp, op->partition);
			if (ver >= 1)
				kf_put_i32(resp, epoch);
			kf_put_i64(resp, end);
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
