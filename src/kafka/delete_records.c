/*
 * DeleteRecords v0-2 (v2 flexible): each partition's log start becomes the offset asked
 * (-1: the high watermark), on its leader, durably (core's
 * tdm_topics_set_log_start: the log start checkpoint is written before the
 * answer); reads below it are OFFSET_OUT_OF_RANGE from then on, whole
 * segments below it are deleted, and followers take the new log start
 * from their next Fetch (v5).  Per partition, as Kafka answers:
 *  - configure on the topic (Kafka's DELETE), else
 *    TOPIC_AUTHORIZATION_FAILED; an unknown topic or partition
 *    UNKNOWN_TOPIC_OR_PARTITION;
 *  - in a cluster, a node that does not lead it NOT_LEADER_OR_FOLLOWER;
 *  - an offset past the high watermark (or negative but -1)
 *    OFFSET_OUT_OF_RANGE;
 *  - a topic whose cleanup.policy has no "delete" POLICY_VIOLATION;
 *  - else low_watermark, the new log start.
 * Kafka answers once every follower's log start reached the offset (its
 * low watermark); tandem answers once the leader's did, the followers'
 * follow within a fetch round trip.
 *
 * Must not depend on: src/amqp.
 */
#include <string.h>

#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/kf.h"

/* 1 when topic t's records may be deleted (its cleanup.policy has delete). */
static int deletable(const struct ls_topic *t)
{
	char policy[64];
	if (tdm_topic_config_value(t, "cleanup.policy", policy, sizeof(policy), NULL) != TDM_TOPIC_OK)
		return 0;
	return strstr(policy, "delete") != NULL;
}

/* One partition; its error, *low the log start after it. */
static int16_t delete_one(struct kf_conn *kc, struct ls_topic *t,
			  const struct kf_delete_records_part *dp, int64_t *low)
{
	struct kf_server *srv = kc->srv;
	struct ls_partition *p = tdm_topic_partition(t, dp->index);
	*low = -1;
	if (!p)
		return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (srv->replica) {
		int rc = tdm_replica_check_leader(srv->replica, tdm_topic_name(t), dp->index);
		if (rc != TDM_REPL_OK)
			return kf_err_from_replica(rc);
	}
	uint64_t hw = srv->replica
			      ? tdm_replica_high_watermark(srv->replica, tdm_topic_name(t), dp->index, p)
			      : tdm_partition_log_end(p);
	if (dp->offset < -1 || (dp->offset >= 0 && (uint64_t)dp->offset > hw))
		return KF_ERR_OFFSET_OUT_OF_RANGE;
	if (!deletable(t))
		return KF_ERR_POLICY_VIOLATION;
	int rc = tdm_topics_set_log_start(srv->topics, p, dp->offset < 0 ? hw : (uint64_t)dp->offset);
	*low = (int64_t)tdm_partition_log_start(p);
	return rc == TDM_TOPIC_OK ? KF_ERR_NONE : kf_err_from_core(rc);
}

int kf_h_delete_records(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_delete_records_req r;

	if (kf_decode_delete_records(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	int flex = kf_flex(kc);

	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		const struct kf_delete_records_topic *dt = &r.topics[i];
		int16_t terr = kf_authz_topic(kc, TDM_PERM_CONFIGURE, dt->name);
		struct ls_topic *t = terr ? NULL : kf_topic_lookup(kc, dt->name);

		if (!terr && !t)
			terr = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		kf_put_fkstr(resp, flex, dt->name);
		kf_put_farray(resp, flex, dt->nparts);
		for (int32_t j = 0; j < dt->nparts; j++) {
			int64_t low = -1;
			int16_t err = terr ? terr : delete_one(kc, t, &dt->parts[j], &low);

			kf_put_i32(resp, dt->parts[j].index);
			kf_put_i64(resp, low);
			kf_put_i16(resp, err);
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
