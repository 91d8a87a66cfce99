/*
 * DescribeLogDirs v0-4 (kafka-log-dirs.sh, the admin clients'
 * describeLogDirs): this broker's one log directory, <data_dir>/logs, and
 * the partitions it holds there, each with its size in bytes (its
 * segments), offset lag 0 and is_future false (tandem never moves a
 * partition between directories).  Topics null: every topic here,
 * internal ones included (as Kafka lists __consumer_offsets); named: those
 * of them held here, partitions not held left out, as Kafka.  In a cluster
 * each node answers for its own disk.  v2 flexible; v3 a top-level error
 * code; v4 the directory's total and usable bytes (statvfs).
 *
 * Kafka asks DESCRIBE on the cluster: the administrator tag here;
 * anyone else gets CLUSTER_AUTHORIZATION_FAILED (31) at the top from v3,
 * and no directories before (what Kafka answers then).
 *
 * Must not depend on: src/amqp.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "core/config.h"
#include "kafka/kf.h"

struct dirs_ctx {
	struct evbuffer *b; /* the topics' answers */
	int flex;
	int32_t ntopics;
	const struct kf_log_dirs_topic *want; /* NULL: every partition */
};

/* One topic with the partitions of it held here that are asked for. */
static void put_topic(struct dirs_ctx *d, struct ls_topic *t)
{
	int32_t have = tdm_topic_partitions(t), n = 0;
	int32_t asked = d->want ? d->want->nparts : have;

	for (int32_t i = 0; i < asked; i++)
		n += d->want ? d->want->parts[i] >= 0 && d->want->parts[i] < have : 1;
	kf_put_fstr(d->b, d->flex, tdm_topic_name(t));
	kf_put_farray(d->b, d->flex, n);
	for (int32_t i = 0; i < asked; i++) {
		int32_t idx = d->want ? d->want->parts[i] : i;
		struct ls_partition *p = idx >= 0 && idx < have ? tdm_topic_partition(t, idx) : NULL;

		if (idx < 0 || idx >= have)
			continue;
		kf_put_i32(d->b, idx);
		kf_put_i64(d->b, p ? (int64_t)tdm_partition_bytes(p) : 0);
		kf_put_i64(d->b, 0); /* offset_lag: the current replica */
		kf_put_i8(d->b, 0);  /* is_future_key */
		kf_put_tags(d->b, d->flex);
	}
	kf_put_tags(d->b, d->flex);
	d->ntopics++;
}

static void put_each(struct ls_topic *t, void *arg)
{
	put_topic(arg, t);
}

/* The log directory's path, absolute when it can be made so. */
static void log_dir(const struct kf_server *srv, char *out, size_t cap)
{
	char abs[PATH_MAX];
	const char *dir = srv->cfg && srv->cfg->data_dir ? srv->cfg->data_dir : ".";

	snprintf(out, cap, "%s/logs", realpath(dir, abs) ? abs : dir);
}

/* The one directory's result: its topics, then (v4) its disk. */
static void put_result(struct kf_conn *kc, struct evbuffer *resp, int ver,
		       const struct kf_log_dirs_req *r)
{
	struct dirs_ctx d = { evbuffer_new(), kf_flex(kc), 0, NULL };
	char dir[PATH_MAX + 8];
	struct statvfs sv;

	log_dir(kc->srv, dir, sizeof(dir));
	kf_put_i16(resp, KF_ERR_NONE);
	kf_put_fstr(resp, d.flex, dir);
	if (!d.b) {
		kf_put_farray(resp, d.flex, 0);
	} else {
		if (r->ntopics < 0)
			tdm_topics_foreach(kc->srv->topics, put_each, &d);
		for (int32_t i = 0; i < r->ntopics; i++) {
			char name[256];
			struct ls_topic *t = kf_str_cstr(r->topics[i].name, name, sizeof(name)) == 0
						     ? tdm_topic_find(kc->srv->topics, name)
						     : NULL;

			d.want = &r->topics[i];
			if (t)
				put_topic(&d, t);
		}
		kf_put_farray(resp, d.flex, d.ntopics);
		evbuffer_add_buffer(resp, d.b);
		evbuffer_free(d.b);
	}
	if (ver >= 4) {
		int ok = statvfs(dir, &sv) == 0;

		kf_put_i64(resp, ok ? (int64_t)((uint64_t)sv.f_blocks * sv.f_frsize) : -1);
		kf_put_i64(resp, ok ? (int64_t)((uint64_t)sv.f_bavail * sv.f_frsize) : -1);
	}
	kf_put_tags(resp, d.flex);
}

int kf_h_describe_log_dirs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_log_dirs_req r;
	int allowed;

	if (kf_decode_describe_log_dirs(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	allowed = kf_authz_cluster(kc);
	kf_put_i32(resp, 0); /* throttle_time_ms */
	if (ver >= 3)
		kf_put_i16(resp, allowed ? KF_ERR_NONE : KF_ERR_CLUSTER_AUTHORIZATION_FAILED);
	kf_put_farray(resp, flex, allowed ? 1 : 0);
	if (allowed)
		put_result(kc, resp, ver, &r);
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
