/*
 * OffsetFetch v1-8: a group's committed offsets (core's, core/groups.h).
 *
 * Versions: v2+ null topics = all the group's offsets (kafka-python's
 * admin asks so) and an error code after the topics; v3+ a throttle time
 * first (kafkajs asks for all topics with a null array from v3); v5 each
 * partition's committed_leader_epoch, always -1 here: tandem does not
 * keep the epoch a commit names (offsets.c), and -1 is Kafka's "none",
 * which clients take as unknown; v6 flexible (KIP-482); v7
 * require_stable: a partition asked by name for which an open
 * transaction holds an offset of the group (TxnOffsetCommit, not yet
 * committed) is UNSTABLE_OFFSET_COMMIT (88), which clients retry, as
 * Kafka (asking for all the group's offsets does not check); v8 a batch of groups, each with its topics
 * (null: all) and its own error code, and no top-level error.
 * librdkafka 2.0.2 sends v7, kafkajs 2.2.4 v4, kafka-python's consumer v1
 * and its admin v3.
 *
 * Read on the group id is needed (else GROUP_AUTHORIZATION_FAILED: per
 * partition in v1, the group's error from v2 on, with no topics) and read
 * on each topic (else TOPIC_AUTHORIZATION_FAILED for its partitions); all
 * of a group's offsets leave out the topics the user may not read
 * (authz.c).  In a cluster only the coordinator (groups.c) answers, else
 * NOT_COORDINATOR.  A group or partition with no commit: offset -1, no
 * error, as Kafka.
 *
 * Must not depend on: src/amqp.
 */
#include <string.h>

#include "kafka/kf.h"
#include "kafka/txn.h"

struct all_offsets {
	struct kf_conn *kc;
	struct kf_arena *arena;
	struct committed *list; /* newest first */
	int failed;
};

struct committed {
	char *topic;
	int32_t partition;
	int64_t offset;
	char *metadata;
	int done;
	struct committed *next;
};

/* How a version writes its answer. */
struct fetch_ver {
	int ver, flex;
	int stable; /* v7+ require_stable */
};

static char *arena_strdup(struct kf_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = kf_arena_alloc(a, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static void collect_fn(void *ctx, const struct tdm_group_offset *o)
{
	struct all_offsets *ao = ctx;
	struct committed *c = kf_arena_alloc(ao->arena, sizeof(*c));
	const char *topic = o->topic, *metadata = o->metadata;

	if (!kf_authz_topic_ok(ao->kc, TDM_PERM_READ, topic))
		return; /* another vhost's topic (committed over HTTP), or not the user's */
	if (!c || !(c->topic = arena_strdup(ao->arena, topic)) ||
	    (metadata && !(c->metadata = arena_strdup(ao->arena, metadata)))) {
		ao->failed = 1;
		return;
	}
	c->partition = o->partition;
	c->offset = o->offset;
	c->next = ao->list;
	ao->list = c;
}

/* One partition of the answer. */
static void put_part(struct evbuffer *resp, struct fetch_ver v, int32_t index, int64_t off,
		     const char *meta, int16_t err)
{
	kf_put_i32(resp, index);
	kf_put_i64(resp, off);
	if (v.ver >= 5)
		kf_put_i32(resp, -1); /* committed_leader_epoch: not kept */
	kf_put_fstr(resp, v.flex, off < 0 ? "" : meta ? meta : "");
	kf_put_i16(resp, err);
	kf_put_tags(resp, v.flex);
}

/* Null topics: every committed offset of the group, by topic. */
static int fetch_all(struct kf_conn *kc, struct fetch_ver v, const char *group,
		     struct evbuffer *resp)
{
	struct all_offsets ao = { kc, &kc->arena, NULL, 0 };
	int32_t ntopics = 0;

	tdm_groups_offsets(kc->srv->cgroups, group, collect_fn, &ao);
	if (ao.failed)
		return -1;
	for (struct committed *c = ao.list; c; c = c->next) {
		int first = 1;
		for (struct committed *d = ao.list; d != c && first; d = d->next)
			first = strcmp(d->topic, c->topic) != 0;
		ntopics += first;
	}
	kf_put_farray(resp, v.flex, ntopics);
	for (struct committed *c = ao.list; c; c = c->next) {
		int32_t n = 0;

		if (c->done)
			continue;
		for (struct committed *d = c; d; d = d->next)
			n += strcmp(d->topic, c->topic) == 0;
		kf_put_fstr(resp, v.flex, c->topic);
		kf_put_farray(resp, v.flex, n);
		for (struct committed *d = c; d; d = d->next) {
			if (strcmp(d->topic, c->topic) != 0)
				continue;
			d->done = 1;
			put_part(resp, v, d->partition, d->offset, d->metadata, KF_ERR_NONE);
		}
		kf_put_tags(resp, v.flex);
	}
	return 0;
}

/* The topics asked for, each partition with its offset or error. */
static void fetch_some(struct kf_conn *kc, struct fetch_ver v, const char *group, int gok,
		       int16_t gerr, int32_t ntopics, const struct kf_offset_fetch_topic *topics,
		       struct evbuffer *resp)
{
	char topic[256];

	kf_put_farray(resp, v.flex, ntopics);
	for (int32_t i = 0; i < ntopics; i++) {
		int tok = kf_str_cstr(topics[i].name, topic, sizeof(topic)) == 0;

		kf_put_fkstr(resp, v.flex, topics[i].name);
		kf_put_farray(resp, v.flex, topics[i].nparts);
		for (int32_t j = 0; j < topics[i].nparts; j++) {
			int64_t off = -1;
			const char *meta = NULL;
			int16_t err = gerr;

			if (!err && tok && !kf_authz_topic_ok(kc, TDM_PERM_READ, topic))
				err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
			if (!err && gok && tok && v.stable && kc->srv->txns &&
			    kf_txns_pending(kc->srv->txns, group, topic, topics[i].parts[j]))
				err = KF_ERR_UNSTABLE_OFFSET_COMMIT;
			if (!gok || !tok || err ||
			    tdm_groups_committed(kc->srv->cgroups, group, topic, topics[i].parts[j],
						 &off, &meta) != TDM_TOPIC_OK) {
				off = -1;
				meta = NULL;
			}
			put_part(resp, v, topics[i].parts[j], off, meta, err);
		}
		kf_put_tags(resp, v.flex);
	}
}

/*
 * One group's topics then (v2+) its error code: the body of v1-7 after
 * the throttle time, a group of v8's batch after its id.  0, or -1 when
 * memory ran out.
 */
static int fetch_group(struct kf_conn *kc, struct fetch_ver v, struct kf_str id, int32_t ntopics,
		       const struct kf_offset_fetch_topic *topics, struct evbuffer *resp)
{
	char group[1024];
	int16_t gerr = kf_authz_group(kc, &id), cerr = KF_ERR_NONE;
	int gok = kf_str_cstr(id, group, sizeof(group)) == 0;

	if (gerr && v.ver >= 2) {
		kf_put_farray(resp, v.flex, 0); /* Kafka: no topics, the group's error */
		kf_put_i16(resp, gerr);
		return 0;
	}
	if (!gerr && (cerr = kf_groups_coordinator(kc->srv->groups)) != KF_ERR_NONE) {
		/* Kafka: the error for every partition asked (v2+: and the group's) */
		gerr = cerr;
		if (ntopics < 0) {
			kf_put_farray(resp, v.flex, 0);
			kf_put_i16(resp, cerr);
			return 0;
		}
	}
	if (ntopics < 0 && !gok) {
		kf_put_farray(resp, v.flex, 0);
		kf_put_i16(resp, KF_ERR_INVALID_GROUP_ID);
		return 0;
	}
	if (ntopics < 0) {
		if (fetch_all(kc, v, group, resp) < 0)
			return -1;
	} else {
		fetch_some(kc, v, group, gok, gerr, ntopics, topics, resp);
	}
	if (v.ver >= 2)
		kf_put_i16(resp, cerr);
	return 0;
}

int kf_h_offset_fetch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct fetch_ver v = { kc->hdr.api_version, kf_flex(kc), 0 };
	struct kf_offset_fetch_req r;

	if (kf_decode_offset_fetch(cur, v.ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	v.stable = r.require_stable != 0;
	if (v.ver >= 3)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	if (v.ver <= 7) {
		if (fetch_group(kc, v, r.group_id, r.ntopics, r.topics, resp) < 0)
			return KF_R_CLOSE;
		kf_put_tags(resp, v.flex);
		return KF_R_DONE;
	}
	kf_put_farray(resp, v.flex, r.ngroups);
	for (int32_t i = 0; i < r.ngroups; i++) {
		const struct kf_offset_fetch_group *g = &r.groups[i];

		kf_put_fkstr(resp, v.flex, g->group_id);
		if (fetch_group(kc, v, g->group_id, g->ntopics, g->topics, resp) < 0)
			return KF_R_CLOSE;
		kf_put_tags(resp, v.flex);
	}
	kf_put_tags(resp, v.flex);
	return KF_R_DONE;
}
