/*
 * ListOffsets v1-7: timestamp -1 is the high watermark (latest), -2 the log
 * start offset (earliest), -3 (v7, KIP-734) the record with the largest
 * timestamp, anything else the first offset whose record
 * timestamp is >= it (offset and timestamp -1 when there is none).
 * v2: isolation_level and a throttle time; read_committed stops at the
 * last stable offset (the first offset of the oldest open transaction,
 * when below the high watermark).  v4: current_leader_epoch checked as OffsetForLeaderEpoch
 * does (kf_leader_check), and each answer's leader epoch: the partition's
 * latest for latest (-1 without epochs: a single node), -1 (unknown)
 * otherwise.  v6 flexible.  It
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

#define MAX_TIMESTAMP (-3)

struct lo_answer {
	int16_t err;
	int64_t ts, off;
	int32_t epoch;
};

/* The offset for lp's timestamp below latest (what consumers may read). */
static void look_up(struct ls_partition *p, const struct kf_list_offsets_part *lp, int ver,
		    uint64_t latest, struct lo_answer *a)
{
	int64_t want = lp->timestamp;
	uint64_t o;
	int64_t found;

	if (want == -1) {
		a->off = (int64_t)latest;
		a->epoch = tdm_partition_latest_epoch(p);
		return;
	}
	if (want == -2) {
		a->off = (int64_t)tdm_partition_log_start(p);
		return;
	}
	if (want == MAX_TIMESTAMP && ver >= 7) {
		want = tdm_partition_max_timestamp(p);
		if (want < 0)
			return; /* no record: -1, -1 */
	} else if (want < 0) {
		a->err = KF_ERR_INVALID_REQUEST;
		return;
	}
	int rc = tdm_partition_offset_for_time(p, want, &o, &found);
	if (rc == TDM_TOPIC_OK && o < latest) {
		a->off = (int64_t)o;
		a->ts = found;
	} else if (rc != TDM_TOPIC_OK && rc != TDM_ERR_NOT_FOUND) {
		a->err = kf_err_from_core(rc);
	}
}

/* One partition's answer; t NULL: refused with aerr, or unknown. */
static void answer(struct kf_conn *kc, const struct kf_list_offsets_req *r, int ver,
		   const char *name, struct ls_topic *t, int16_t aerr,
		   const struct kf_list_offsets_part *lp, struct lo_answer *a)
{
	struct tdm_replica *repl = kc->srv->replica;
	struct ls_partition *p = t ? tdm_topic_partition(t, lp->index) : NULL;

	*a = (struct lo_answer){ KF_ERR_NONE, -1, -1, -1 };
	if (!p) {
		a->err = aerr ? aerr : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	a->err = kf_leader_check(kc, name, lp->index, lp->current_leader_epoch);
	if (a->err != KF_ERR_NONE)
		return;
	/* a replica reads to the log end, consumers to the high watermark */
	uint64_t latest = repl && r->replica_id < 0
				  ? tdm_replica_high_watermark(repl, name, lp->index, p)
				  : tdm_partition_log_end(p);
	uint64_t first_open;

	if (r->isolation_level == 1 && r->replica_id < 0) {
		/* read_committed: what lies below the last stable offset */
		if (tdm_partition_first_unstable(p, &first_open) != TDM_TOPIC_OK) {
			a->err = KF_ERR_KAFKA_STORAGE_ERROR;
			return;
		}
		if (first_open < latest)
			latest = first_open;
	}
	look_up(p, lp, ver, latest, a);
}

int kf_h_list_offsets(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_list_offsets_req r;
	int cluster;

	if (kf_decode_list_offsets(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	/* a replica on an administrator's connection names topics by their
	 * core names, as its Fetch does */
	cluster = r.replica_id >= 0 && kf_authz_cluster(kc);
	if (ver >= 2)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		char name[256];
		int named = kf_str_cstr(r.topics[i].name, name, sizeof(name)) == 0;
		int16_t aerr = cluster ? KF_ERR_NONE : kf_authz_topic(kc, TDM_PERM_READ, r.topics[i].name);
		struct ls_topic *t = aerr || !named ? NULL
				     : cluster ? tdm_topic_find(kc->srv->topics, name)
					       : kf_topic_lookup(kc, r.topics[i].name);

		kf_put_fkstr(resp, flex, r.topics[i].name);
		kf_put_farray(resp, flex, r.topics[i].nparts);
		for (int32_t j = 0; j < r.topics[i].nparts; j++) {
			struct lo_answer a;

			answer(kc, &r, ver, name, t, aerr, &r.topics[i].parts[j], &a);
			kf_put_i32(resp, r.topics[i].parts[j].index);
			kf_put_i16(resp, a.err);
			kf_put_i64(resp, a.ts);
			kf_put_i64(resp, a.off);
			if (ver >= 4)
				kf_put_i32(resp, a.epoch);
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
