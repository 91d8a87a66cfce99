/*
 * ListOffsets v1: timestamp -1 is the high watermark (latest), -2 the log
 * start offset (earliest), anything else the first offset whose record
 * timestamp is >= it (offset and timestamp -1 when there is none).  It
 * needs read on the topic (authz.c; Kafka asks only DESCRIBE, but an
 * offset by time tells what was written when).
 *
 * Must not depend on: src/amqp.
 */
#include "kafka/kf.h"

int kf_h_list_offsets(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_list_offsets_req r;

	if (kf_decode_list_offsets(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		int16_t aerr = kf_authz_topic(kc, TDM_PERM_READ, r.topics[i].name);
		struct ls_topic *t = aerr ? NULL : kf_topic_lookup(kc, r.topics[i].name);

		kf_put_kstr(resp, r.topics[i].name);
		kf_put_i32(resp, r.topics[i].nparts);
		for (int32_t j = 0; j < r.topics[i].nparts; j++) {
			const struct kf_list_offsets_part *lp = &r.topics[i].parts[j];
			struct ls_partition *p = t ? tdm_topic_partition(t, lp->index) : NULL;
			int16_t err = KF_ERR_NONE;
			int64_t ts = -1, off = -1;

			if (!p) {
				err = aerr ? aerr : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			} else if (lp->timestamp == -1) {
				off = (int64_t)tdm_partition_log_end(p);
			} else if (lp->timestamp == -2) {
				off = (int64_t)tdm_partition_log_start(p);
			} else if (lp->timestamp < 0) {
				err = KF_ERR_INVALID_REQUEST;
			} else {
				uint64_t o;
				int64_t found;
				int rc = tdm_partition_offset_for_time(p, lp->timestamp, &o, &found);

				if (rc == TDM_TOPIC_OK) {
					off = (int64_t)o;
					ts = found;
				} else if (rc != TDM_ERR_NOT_FOUND) {
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
