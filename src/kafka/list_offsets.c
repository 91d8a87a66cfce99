/*
 * ListOffsets v1: timestamp -1 is the high watermark (latest), -2 the log
 * start offset (earliest), anything else the first offset whose record
 * timestamp is >= it (offset and timestamp -1 when there is none).  It
 * needs read on the topic (authz.c; Kafka asks only DESCRIBE, but an
 * offset by time tells what was written when).
 *
 * In a cluster (srv->replica set) only a partition's leader answers
 * (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE otherwise, as Kafka's
 * fetchOnlyFromLeader); latest is the high watermark for consumers
 * (replica_id -1) and the log end for replicas (replica_id >= 0), and a
 * consumer's lookup by time finds nothing at or past the high watermark.
 * On a single node the high watermark is the log end.  A replica's
 * request (replica_id >= 0) on an administrator's connection names topics
 * by their core names (any vhost, internal topics), as its Fetch does.
 *
 * Must not depend on: src/amqp.
 */
#include "core/replica.h"
#include "kafka/kf.h"

int kf_h_list_offsets(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct tdm_replica *repl = kc->srv->replica;
	struct kf_list_offsets_req r;
	int cluster;

	if (kf_decode_list_offsets(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	/* a replica on an administrator's connection names topics by their
	 * core names, as its Fetch does */
	cluster = r.replica_id >= 0 && kf_authz_cluster(kc);
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		char name[256];
		int named = kf_str_cstr(r.topics[i].name, name, sizeof(name)) == 0;
		int16_t aerr = cluster ? KF_ERR_NONE : kf_authz_topic(kc, TDM_PERM_READ, r.topics[i].name);
		struct ls_topic *t = aerr || !named ? NULL
				     : cluster ? tdm_topic_find(kc->srv->topics, name)
					       : kf_topic_lookup(kc, r.topics[i].name);

		kf_put_kstr(resp, r.topics[i].name);
		kf_put_i32(resp, r.topics[i].nparts);
		for (int32_t j = 0; j < r.topics[i].nparts; j++) {
			const struct kf_list_offsets_part *lp = &r.topics[i].parts[j];
			struct ls_partition *p = t ? tdm_topic_partition(t, lp->index) : NULL;
			int16_t err = KF_ERR_NONE;
			int64_t ts = -1, off = -1;
			uint64_t latest = 0;

			if (p && repl) {
				err = kf_err_from_replica(tdm_replica_check_leader(repl, name, lp->index));
				latest = r.replica_id >= 0 ? tdm_partition_log_end(p)
							   : tdm_replica_high_watermark(repl, name,
										       lp->index, p);
			} else if (p) {
				latest = tdm_partition_log_end(p);
			}
			if (!p) {
				err = aerr ? aerr : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			} else if (err != KF_ERR_NONE) {
				/* not the leader */
			} else if (lp->timestamp == -1) {
				off = (int64_t)latest;
			} else if (lp->timestamp == -2) {
				off = (int64_t)tdm_partition_log_start(p);
			} else if (lp->timestamp < 0) {
				err = KF_ERR_INVALID_REQUEST;
			} else {
				uint64_t o;
				int64_t found;
				int rc = tdm_partition_offset_for_time(p, lp->timestamp, &o, &found);

				if (rc == TDM_TOPIC_OK && o < latest) {
					off = (int64_t)o;
					ts = found;
				} else if (rc != TDM_TOPIC_OK && rc != TDM_ERR_NOT_FOUND) {
					err = kf_err_from_core(rc);
				}
			}
			kf_put_i32(resp, lp->index);
			kf_put_i16(resp, err);
			kf_put_i64(resp, ts);
			kf_put_i64(resp, off);
		}
	}
	return KF_R_DONE;
}
