/*
 * The log side, read-only: /api/topics (partitions with log start and end
 * offsets, segments, bytes, retention settings) and /api/groups (committed
 * offsets and lag per partition), read from the logstore through
 * core/topics.h.  Group membership lives in the Kafka front end and is not
 * shown here; what a group has committed is.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/topics.h"
#include "http/hx.h"

static const char *const shown_configs[] = {
	"retention.ms", "retention.bytes", "segment.bytes", "segment.ms", "cleanup.policy",
	"flush.ms", "max.message.bytes",
};

static void write_topic(struct js_w *w, struct ls_topic *t)
{
	int32_t np = ls_topic_partition_count(t);
	uint64_t messages = 0, bytes = 0;
	js_obj(w);
	js_kstr(w, "name", ls_topic_name(t));
	js_kint(w, "partitions", np);
	js_kbool(w, "internal", ls_topic_is_internal(t));
	js_key(w, "config");
	js_obj(w);
	for (size_t i = 0; i < sizeof(shown_configs) / sizeof(shown_configs[0]); i++) {
		char v[64];
		if (ls_topic_config_value(t, shown_configs[i], v, sizeof(v), NULL) == LS_OK)
			js_kstr(w, shown_configs[i], v);
	}
	js_obj_end(w);
	js_key(w, "partition_details");
	js_arr(w);
	for (int32_t i = 0; i < np; i++) {
		struct ls_partition *p = ls_partition_get(t, i);
		if (!p)
			continue;
		uint64_t start = ls_log_start(p), end = ls_log_end(p), b = ls_partition_bytes(p);
		messages += end - start;
		bytes += b;
		js_obj(w);
		js_kint(w, "partition", i);
		js_kuint(w, "log_start_offset", start);
		js_kuint(w, "log_end_offset", end);
		js_kuint(w, "flushed_offset", ls_flushed_offset(p));
		js_kuint(w, "segments", ls_partition_segments(p));
		js_kuint(w, "bytes", b);
		js_obj_end(w);
	}
	js_arr_end(w);
	js_kuint(w, "messages", messages);
	js_kuint(w, "bytes", bytes);
	js_obj_end(w);
}

static void topic_cb(struct ls_topic *t, void *ctx)
{
	if (!ls_topic_is_internal(t))
		write_topic(ctx, t);
}

void hx_topics(struct hx_req *r)
{
	struct ls_store *s = r->h->topics ? tdm_topics_store(r->h->topics) : NULL;
	struct js_w w;
	js_w_init(&w);
	if (r->nseg == 1) {
		js_arr(&w);
		if (s)
			ls_topic_foreach(s, topic_cb, &w);
		js_arr_end(&w);
	} else if (r->nseg == 2) {
		struct ls_topic *t = s && strlen(r->seg[1].s) == r->seg[1].len
			? ls_topic_find(s, r->seg[1].s) : NULL;
		if (!t) {
			hx_not_found(r);
			goto out;
		}
		write_topic(&w, t);
	} else {
		hx_not_found(r);
		goto out;
	}
	hx_reply_json(r, 200, &w);
out:
	js_w_free(&w);
}

/* ---- committed offsets ---------------------------------------------------- */

struct offsets {
	struct hx_offset *v;
	size_t n, cap;
	int oom;
};

static void offset_cb(const char *group, const char *topic, int32_t partition, int64_t offset,
		      const char *metadata, int64_t commit_ms, void *ctx)
{
	(void)metadata, (void)commit_ms;
	struct offsets *o = ctx;
	if (o->oom)
		return;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 32;
		struct hx_offset *v = realloc(o->v, cap * sizeof(*v));
		if (!v) {
			o->oom = 1;
			return;
		}
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = (struct hx_offset){ group, topic, partition, offset, -1 };
}

static int cmp_offset(const void *a, const void *b)
{
	const struct hx_offset *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	if (!c)
		c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

struct hx_offset *hx_collect_offsets(struct tdm_topics *topics, size_t *n)
{
	struct offsets o = { 0 };
	*n = 0;
	struct ls_store *s = topics ? tdm_topics_store(topics) : NULL;
	if (!s)
		return NULL;
	ls_offsets_foreach(s, NULL, offset_cb, &o);
	if (o.oom) {
		free(o.v);
		return NULL;
	}
	for (size_t i = 0; i < o.n; i++) {
		struct ls_topic *t = ls_topic_find(s, o.v[i].topic);
		struct ls_partition *p = t ? ls_partition_get(t, o.v[i].partition) : NULL;
		o.v[i].end = p ? (int64_t)ls_log_end(p) : -1;
	}
	if (o.n)
		qsort(o.v, o.n, sizeof(*o.v), cmp_offset);
	*n = o.n;
	return o.v;
}

void hx_groups(struct hx_req *r)
{
	if (r->nseg > 2) {
		hx_not_found(r);
		return;
	}
	size_t n;
	struct hx_offset *v = hx_collect_offsets(r->h->topics, &n);
	const char *only = r->nseg == 2 ? r->seg[1].s : NULL;
	struct js_w w;
	js_w_init(&w);
	if (!only)
		js_arr(&w);
	int any = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && strcmp(v[j].group, v[i].group) == 0)
			j++;
		if (!only || strcmp(only, v[i].group) == 0) {
			any = 1;
			int64_t total = 0;
			js_obj(&w);
			js_kstr(&w, "group", v[i].group);
			js_key(&w, "offsets");
			js_arr(&w);
			for (size_t k = i; k < j; k++) {
				int64_t lag = v[k].end >= 0 && v[k].end > v[k].offset ? v[k].end - v[k].offset : 0;
				total += lag;
				js_obj(&w);
				js_kstr(&w, "topic", v[k].topic);
				js_kint(&w, "partition", v[k].partition);
				js_kint(&w, "committed_offset", v[k].offset);
				js_kint(&w, "log_end_offset", v[k].end);
				js_kint(&w, "lag", lag);
				js_obj_end(&w);
			}
			js_arr_end(&w);
			js_kint(&w, "lag", total);
			js_obj_end(&w);
		}
		i = j;
	}
	if (!only)
		js_arr_end(&w);
	if (only && !any)
		hx_not_found(r);
	else
		hx_reply_json(r, 200, &w);
	js_w_free(&w);
	free(v);
}
