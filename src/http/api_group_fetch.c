/*
 * POST /api/groups/{group}/fetch {"topic": T, "count": M}: a consumer
 * without membership, as Kafka allows one for a group that has no live
 * members (a "simple" consumer committing with generation -1).  For each
 * partition of T in order it reads from the group's committed offset (the
 * log start when there is none or it fell below the log start), returns
 * up to M records in all, and commits the offsets after what it returned
 * through core's group offsets (core/groups.h), as OffsetCommit does, after
 * the same membership check: a group with live members answers 409, where
 * Kafka would refuse the commit (UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION).
 * It takes read on the group id and on the topic, as OffsetCommit and
 * Fetch from a Kafka client do.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/groups.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "http/hx.h"

struct fetch_req {
	char *group;      /* borrowed segment */
	char *topic;      /* owned */
	int64_t count;
};

/* Reads the body; 0, or -1 after an error reply. */
static int parse(struct hx_req *r, struct fetch_req *f)
{
	const struct js_doc *d;
	size_t len = 0;
	if (hx_body(r) < 0)
		return -1;
	d = &r->body;
	int t = js_get(d, 0, "topic"), c = js_get(d, 0, "count");
	if (js_type_of(d, t) != JS_STR || !(f->topic = js_strdup(d, t, &len)) ||
	    strlen(f->topic) != len || !len) {
		hx_error(r, 400, "bad_request", "topic must be a topic name");
		return -1;
	}
	f->count = HX_DEFAULT_RECORDS;
	if (c >= 0 && (js_int64(d, c, &f->count) < 0 || f->count < 1)) {
		hx_error(r, 400, "bad_request", "count must be a positive integer");
		return -1;
	}
	if (f->count > HX_MAX_RECORDS)
		f->count = HX_MAX_RECORDS;
	return 0;
}

static void write_offsets(struct js_w *w, struct tdm_groups *gs, const char *group,
			  struct ls_topic *t)
{
	js_key(w, "offsets");
	js_arr(w);
	for (int32_t i = 0; i < tdm_topic_partitions(t); i++) {
		struct ls_partition *p = tdm_topic_partition(t, i);
		int64_t off;
		uint64_t lag;
		if (!p)
			continue;
		tdm_groups_position(gs, group, t, p, &off, &lag);
		js_obj(w);
		js_kint(w, "partition", i);
		js_key(w, "committed_offset");
		if (off >= 0)
			js_int(w, off);
		else
			js_null(w);
		js_kuint(w, "log_end_offset", tdm_partition_log_end(p));
		js_kuint(w, "lag", lag);
		js_obj_end(w);
	}
	js_arr_end(w);
}

/* Reads the records into w and fills commits[] for the partitions read
 * from; returns TDM_TOPIC_OK or the read error. */
static int read_all(struct hx_req *r, const struct fetch_req *f, struct ls_topic *t,
		    struct js_w *w, struct tdm_offset_commit *commits, size_t *ncommits)
{
	struct tdm_groups *gs = r->h->broker->groups;
	size_t left = (size_t)f->count;
	*ncommits = 0;
	for (int32_t i = 0; i < tdm_topic_partitions(t) && left > 0; i++) {
		struct ls_partition *p = tdm_topic_partition(t, i);
		size_t n = 0;
		if (!p)
			continue;
		uint64_t next = tdm_groups_position(gs, f->group, t, p, NULL, NULL);
		int rc = hx_write_records(r->h->topics, p, &next, left, w, &n);
		if (rc != TDM_TOPIC_OK)
			return rc;
		if (n > 0)
			commits[(*ncommits)++] = (struct tdm_offset_commit){ tdm_topic_name(t), i,
									    (int64_t)next, NULL };
		left -= n;
	}
	return TDM_TOPIC_OK;
}

void hx_group_fetch(struct hx_req *r)
{
	struct fetch_req f = { r->seg[1].s, NULL, 0 };
	struct tdm_offset_commit *commits = NULL;
	size_t ncommits = 0;
	struct js_w w;
	js_w_init(&w);
	if (!r->seg[1].len || strlen(f.group) != r->seg[1].len) {
		hx_error(r, 400, "bad_request", "invalid group id");
		goto out;
	}
	if (parse(r, &f) < 0)
		goto out;
	struct tdm_groups *gs = r->h->broker->groups;
	struct ls_topic *t = gs ? tdm_topic_find(r->h->topics, f.topic) : NULL;
	if (!t || tdm_topic_is_internal(t) || !hx_topic_visible(r, f.topic)) {
		hx_not_found(r);
		goto out;
	}
	if (!hx_group_permitted(r, f.group, TDM_PERM_READ) ||
	    !hx_topic_permitted(r, f.topic, TDM_PERM_READ))
		goto out;
	/* the check OffsetCommit makes of a commit without membership */
	if (tdm_groups_check_commit(gs, f.group, r->seg[1].len, -1, "", 0, NULL, 0, NULL) != TDM_GROUP_OK) {
		char reason[700];
		snprintf(reason, sizeof(reason),
			 "group %.500s has live members: only a group without members can be consumed here",
			 f.group);
		hx_error(r, 409, "group_busy", reason);
		goto out;
	}
	commits = calloc((size_t)tdm_topic_partitions(t) + 1, sizeof(*commits));
	if (!commits) {
		hx_topic_error(r, TDM_ERR_NOMEM);
		goto out;
	}
	js_obj(&w);
	js_kstr(&w, "group", f.group);
	js_kstr(&w, "topic", f.topic);
	js_key(&w, "messages");
	js_arr(&w);
	int rc = read_all(r, &f, t, &w, commits, &ncommits);
	js_arr_end(&w);
	if (rc == TDM_TOPIC_OK && ncommits > 0 && !w.oom)
		rc = tdm_groups_commit(gs, f.group, commits, ncommits);
	if (rc != TDM_TOPIC_OK) {
		hx_topic_error(r, rc);
		goto out;
	}
	write_offsets(&w, gs, f.group, t);
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
out:
	js_w_free(&w);
	free(commits);
	free(f.topic);
}
