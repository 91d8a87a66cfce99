/*
 * OffsetCommit v2 and OffsetFetch v1-2 (v2: null topics = all the group's
 * offsets, and a top-level error code; kafka-python's admin needs it):
 * committed offsets are core's (core/groups.h: durable, reloaded at
 * start), checked against the group's generation and member first.  A commit with
 * generation -1 and no member is a "simple" commit (assign()-based
 * consumers), allowed while the group has no members.
 *
 * Both need read on the group id (else GROUP_AUTHORIZATION_FAILED: per
 * partition, or OffsetFetch v2's top-level error) and read on each topic
 * (else TOPIC_AUTHORIZATION_FAILED for its partitions); OffsetFetch of all
 * a group's offsets leaves out the topics the user may not read (authz.c).
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>
#include <string.h>

#include "kafka/kf.h"

#define MAX_METADATA 4096

int kf_h_offset_commit(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	struct kf_offset_commit_req r;
	char group[1024];
	int16_t gerr, merr = KF_ERR_NONE;
	size_t total = 0, n = 0;
	struct tdm_offset_commit *commits;
	int16_t *errs;
	char **names;
	int rc = TDM_TOPIC_OK;

	if (kf_decode_offset_commit(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.ntopics; i++)
		total += (size_t)r.topics[i].nparts;
	commits = kf_arena_alloc(&kc->arena, (total + 1) * sizeof(*commits));
	errs = kf_arena_alloc(&kc->arena, (total + 1) * sizeof(*errs));
	names = kf_arena_alloc(&kc->arena, ((size_t)r.ntopics + 1) * 2 * sizeof(*names));
	if (!commits || !errs || !names)
		return KF_R_CLOSE;
	gerr = kf_authz_group(kc, &r.group_id);
	if (!gerr && (kf_str_cstr(r.group_id, group, sizeof(group)) < 0 || !group[0]))
		gerr = KF_ERR_INVALID_GROUP_ID;
	if (!gerr)
		merr = kf_groups_check_commit(srv->groups, r.group_id, r.generation_id,
					      r.member_id);
	/* Collect the valid partitions into one commit. */
	for (int32_t i = 0, k = 0; i < r.ntopics; i++) {
		int16_t aerr = gerr ? gerr : kf_authz_topic(kc, TDM_PERM_READ, r.topics[i].name);
		struct ls_topic *t = aerr ? NULL : kf_topic_lookup(kc, r.topics[i].name);

		names[i] = t ? (char *)tdm_topic_name(t) : NULL;
		for (int32_t j = 0; j < r.topics[i].nparts; j++, k++) {
			const struct kf_commit_part *cp = &r.topics[i].parts[j];
			char *meta = NULL;

			errs[k] = aerr ? aerr : merr;
			if (errs[k])
				continue;
			if (!t || !tdm_topic_partition(t, cp->index)) {
				errs[k] = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (cp->metadata.len > MAX_METADATA) {
				errs[k] = KF_ERR_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			if (cp->metadata.len >= 0) {
				meta = kf_arena_alloc(&kc->arena, (size_t)cp->metadata.len + 1);
				if (!meta || kf_str_cstr(cp->metadata, meta, (size_t)cp->metadata.len + 1) < 0) {
					errs[k] = KF_ERR_INVALID_REQUEST;
					continue;
				}
			}
			commits[n].topic = names[i];
			commits[n].partition = cp->index;
			commits[n].offset = cp->offset;
			commits[n].metadata = meta;
			n++;
		}
	}
	if (n > 0)
		rc = tdm_groups_commit(srv->cgroups, group, commits, n);
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0, k = 0; i < r.ntopics; i++) {
		kf_put_kstr(resp, r.topics[i].name);
		kf_put_i32(resp, r.topics[i].nparts);
		for (int32_t j = 0; j < r.topics[i].nparts; j++, k++) {
			int16_t e = errs[k];

			if (e == KF_ERR_NONE && rc != TDM_TOPIC_OK)
				e = kf_err_from_core(rc);
			kf_put_i32(resp, r.topics[i].parts[j].index);
			kf_put_i16(resp, e);
		}
	}
	return KF_R_DONE;
}

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

/* v2 with null topics: every committed offset of the group, by topic. */
static int fetch_all(struct kf_conn *kc, const char *group, struct evbuffer *resp)
{
	struct all_offsets ao = { kc, &kc->arena, NULL, 0 };
	int32_t ntopics = 0;

	tdm_groups_offsets(kc->srv->cgroups, group, collect_fn, &ao);
	if (ao.failed)
		return KF_R_CLOSE;
	for (struct committed *c = ao.list; c; c = c->next) {
		int first = 1;
		for (struct committed *d = ao.list; d != c && first; d = d->next)
			first = strcmp(d->topic, c->topic) != 0;
		ntopics += first;
	}
	kf_put_i32(resp, ntopics);
	for (struct committed *c = ao.list; c; c = c->next) {
		int32_t n = 0;

		if (c->done)
			continue;
		for (struct committed *d = c; d; d = d->next)
			n += strcmp(d->topic, c->topic) == 0;
		kf_put_str(resp, c->topic);
		kf_put_i32(resp, n);
		for (struct committed *d = c; d; d = d->next) {
			if (strcmp(d->topic, c->topic) != 0)
				continue;
			d->done = 1;
			kf_put_i32(resp, d->partition);
			kf_put_i64(resp, d->offset);
			kf_put_str(resp, d->metadata ? d->metadata : "");
			kf_put_i16(resp, KF_ERR_NONE);
		}
	}
	kf_put_i16(resp, KF_ERR_NONE);
	return KF_R_DONE;
}

int kf_h_offset_fetch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_offset_fetch_req r;
	char group[1024], topic[256];

	if (kf_decode_offset_fetch(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	int16_t gerr = kf_authz_group(kc, &r.group_id);
	int gok = kf_str_cstr(r.group_id, group, sizeof(group)) == 0;
	if (gerr && kc->hdr.api_version >= 2) {
		kf_put_i32(resp, 0); /* Kafka: no topics, the error at the top */
		kf_put_i16(resp, gerr);
		return KF_R_DONE;
	}
	if (r.ntopics < 0) {
		if (!gok) {
			kf_put_i32(resp, 0);
			kf_put_i16(resp, KF_ERR_INVALID_GROUP_ID);
			return KF_R_DONE;
		}
		return fetch_all(kc, group, resp);
	}
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		int tok = kf_str_cstr(r.topics[i].name, topic, sizeof(topic)) == 0;

		kf_put_kstr(resp, r.topics[i].name);
		kf_put_i32(resp, r.topics[i].nparts);
		for (int32_t j = 0; j < r.topics[i].nparts; j++) {
			int64_t off = -1;
			const char *meta = NULL;
			int16_t err = KF_ERR_NONE;

			if (gerr)
				err = gerr;
			else if (tok && !kf_authz_topic_ok(kc, TDM_PERM_READ, topic))
				err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
			if (!gok || !tok || err ||
			    tdm_groups_committed(kc->srv->cgroups, group, topic, r.topics[i].parts[j],
						 &off, &meta) != TDM_TOPIC_OK) {
				off = -1;
				meta = NULL;
			}
			kf_put_i32(resp, r.topics[i].parts[j]);
			kf_put_i64(resp, off);
			kf_put_str(resp, off < 0 ? "" : meta ? meta : "");
			kf_put_i16(resp, err);
		}
	}
	if (kc->hdr.api_version >= 2)
		kf_put_i16(resp, KF_ERR_NONE);
	return KF_R_DONE;
}
