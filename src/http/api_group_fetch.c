/*
 * POST /api/groups/{group}/fetch {"topic": T, "count": M}: a consumer
 * without membership, as Kafka allows one for a group that has no live
 * members (a "simple" consumer committing with generation -1).  For each
 * partition of T in order it reads from the group's committed offset (the
 * log start when there is none or it fell below the log start), returns
 * up to M records in all, and commits the offsets after what it returned
 * through logstore's offset commit, as OffsetCommit does.  A group with
 * live members answers 409: Kafka would refuse this commit
 * (UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/group_view.h"
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

/* Where the group reads p from: its committed offset, or the log start. */
static uint64_t position(struct ls_store *s, const char *group, struct ls_topic *t,
			 struct ls_partition *p)
{
	int64_t off;
	uint64_t start = ls_log_start(p), end = ls_log_end(p);
	if (ls_offset_fetch(s, group, ls_topic_name(t), ls_partition_index(p), &off, NULL) != LS_OK ||
	    off < 0 || (uint64_t)off < start)
		return start;
	return (uint64_t)off > end ? end : (uint64_t)off;
}

static void write_offsets(struct js_w *w, struct ls_store *s, const char *group, struct ls_topic *t)
{
	js_key(w, "offsets");
	js_arr(w);
	for (int32_t i = 0; i < ls_topic_partition_count(t); i++) {
		struct ls_partition *p = ls_partition_get(t, i);
		int64_t off;
		if (!p)
			continue;
		int has = ls_offset_fetch(s, group, ls_topic_name(t), i, &off, NULL) == LS_OK && off >= 0;
		uint64_t end = ls_log_end(p);
		uint64_t from = has && (uint64_t)off > ls_log_start(p) ? (uint64_t)off : ls_log_start(p);
		js_obj(w);
		js_kint(w, "partition", i);
		js_key(w, "committed_offset");
		if (has)
			js_int(w, off);
		else
			js_null(w);
		js_kuint(w, "log_end_offset", end);
		js_kuint(w, "lag", end > from ? end - from : 0);
		js_obj_end(w);
	}
	js_arr_end(w);
}

/* Reads the records into w and fills commits[] for the partitions read
 * from; returns LS_OK or the read error. */
static int read_all(struct hx_req *r, const struct fetch_req *f, struct ls_topic *t,
		    struct js_w *w, struct ls_offset_commit *commits, size_t *ncommits)
{
	struct ls_store *s = tdm_topics_store(r->h->topics);
	size_t left = (size_t)f->count;
	*ncommits = 0;
	for (int32_t i = 0; i < ls_topic_partition_count(t) && left > 0; i++) {
		struct ls_partition *p = ls_partition_get(t, i);
		size_t n = 0;
		if (!p)
			continue;
		uint64_t next = position(s, f->group, t, p);
		int rc = hx_write_records(r->h->topics, p, &next, left, w, &n);
		if (rc != LS_OK)
			return rc;
		if (n > 0)
			commits[(*ncommits)++] = (struct ls_offset_commit){ ls_topic_name(t), i,
									    (int64_t)next, NULL };
		left -= n;
	}
	return LS_OK;
}

void hx_group_fetch(struct hx_req *r)
{
	struct fetch_req f = { r->seg[1].s, NULL, 0 };
	struct ls_offset_commit *commits = NULL;
	size_t ncommits = 0;
	struct js_w w;
	js_w_init(&w);
	if (!r->seg[1].len || strlen(f.group) != r->seg[1].len) {
		hx_error(r, 400, "bad_request", "invalid group id");
		goto out;
	}
	if (parse(r, &f) < 0)
		goto out;
	struct ls_store *s = r->h->topics ? tdm_topics_store(r->h->topics) : NULL;
	struct ls_topic *t = s ? ls_topic_find(s, f.topic) : NULL;
	if (!t || ls_topic_is_internal(t) || !hx_topic_visible(r, f.topic)) {
		hx_not_found(r);
		goto out;
	}
	if (tdm_group_view_busy(f.group, r->seg[1].len)) {
		char reason[700];
		snprintf(reason, sizeof(reason),
			 "group %.500s has live members: only a group without members can be consumed here",
			 f.group);
		hx_error(r, 409, "group_busy", reason);
		goto out;
	}
	commits = calloc((size_t)ls_topic_partition_count(t) + 1, sizeof(*commits));
	if (!commits) {
		hx_ls_error(r, LS_ERR_NOMEM);
		goto out;
	}
	js_obj(&w);
	js_kstr(&w, "group", f.group);
	js_kstr(&w, "topic", f.topic);
	js_key(&w, "messages");
	js_arr(&w);
	int rc = read_all(r, &f, t, &w, commits, &ncommits);
	js_arr_end(&w);
	if (rc == LS_OK && ncommits > 0 && !w.oom)
		rc = ls_offsets_commit(s, f.group, commits, ncommits);
	if (rc != LS_OK) {
		hx_ls_error(r, rc);
		goto out;
	}
	write_offsets(&w, s, f.group, t);
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
out:
	js_w_free(&w);
	free(commits);
	free(f.topic);
}
