/*
 * Consumer groups over HTTP: GET /api/groups[/name] (membership from the
 * core's group view, committed offsets and lag from logstore), DELETE
 * /api/groups/{name} (Kafka's DeleteGroups: an Empty group's offsets go)
 * and POST /api/groups/{name}/fetch, a consumer without membership as
 * Kafka allows one for a group without live members: it reads from the
 * group's committed offsets and commits what it returned.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka); group
 * membership comes through core/group_view.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/group_view.h"
#include "core/topics.h"
#include "http/hx.h"

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

/* ---- GET ---------------------------------------------------------------------- */

/* One group's committed offsets: v[0..n). */
struct group_out {
	struct js_w *w;
	const struct hx_offset *v;
	size_t n;
};

static void write_offsets(struct js_w *w, const struct hx_offset *v, size_t n)
{
	int64_t total = 0;
	js_key(w, "offsets");
	js_arr(w);
	for (size_t k = 0; k < n; k++) {
		int64_t lag = v[k].end >= 0 && v[k].end > v[k].offset ? v[k].end - v[k].offset : 0;
		total += lag;
		js_obj(w);
		js_kstr(w, "topic", v[k].topic);
		js_kint(w, "partition", v[k].partition);
		js_kint(w, "committed_offset", v[k].offset);
		js_kint(w, "log_end_offset", v[k].end);
		js_kint(w, "lag", lag);
		js_obj_end(w);
	}
	js_arr_end(w);
	js_kint(w, "lag", total);
}

static void kstr_or_null(struct js_w *w, const char *k, const char *v)
{
	js_key(w, k);
	if (v)
		js_str(w, v);
	else
		js_null(w);
}

static void member_cb(void *arg, const struct tdm_group_member *m)
{
	struct js_w *w = arg;
	js_obj(w);
	js_kstr(w, "member_id", m->member_id);
	js_kstr(w, "client_id", m->client_id);
	js_kstr(w, "client_host", m->client_host);
	js_kint(w, "assignment_bytes", m->assignment_len);
	js_key(w, "assignment");
	if (!m->assignment_decoded) {
		js_null(w);
	} else {
		js_arr(w);
		for (size_t i = 0; i < m->ntopics; i++) {
			js_obj(w);
			js_kstrn(w, "topic", m->topics[i].topic, m->topics[i].topic_len);
			js_key(w, "partitions");
			js_arr(w);
			for (size_t j = 0; j < m->topics[i].npartitions; j++)
				js_int(w, m->topics[i].partitions[j]);
			js_arr_end(w);
			js_obj_end(w);
		}
		js_arr_end(w);
	}
	js_obj_end(w);
}

static void group_cb(void *arg, const struct tdm_group_info *g)
{
	struct group_out *go = arg;
	struct js_w *w = go->w;
	js_obj(w);
	js_kstr(w, "group", g->group);
	js_kstr(w, "state", g->state);
	/* as DescribeGroups: a group that has no protocol type now is a consumer group */
	js_kstr(w, "protocol_type", g->protocol_type ? g->protocol_type : "consumer");
	kstr_or_null(w, "protocol", g->protocol);
	js_kint(w, "generation", g->generation);
	kstr_or_null(w, "leader", g->leader);
	js_key(w, "members");
	js_arr(w);
	tdm_group_view_members(g, member_cb, w);
	js_arr_end(w);
	write_offsets(w, go->v, go->n);
	js_obj_end(w);
}

/* Writes group name: the coordinator's view of it, or an Empty group
 * known by its committed offsets v[0..n). */
static void write_group(struct js_w *w, const char *name, const struct hx_offset *v, size_t n)
{
	struct group_out go = { w, v, n };
	if (tdm_group_view_find(name, strlen(name), group_cb, &go))
		return;
	struct tdm_group_info gi = { .group = name, .state = "Empty" };
	group_cb(&go, &gi);
}

struct names {
	char **v;
	size_t n, cap;
	int oom;
};

static void name_cb(void *arg, const struct tdm_group_info *g)
{
	struct names *nm = arg;
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 16;
		char **v = realloc(nm->v, cap * sizeof(*v));
		if (!v) {
			nm->oom = 1;
			return;
		}
		nm->v = v;
		nm->cap = cap;
	}
	if (!(nm->v[nm->n] = strdup(g->group)))
		nm->oom = 1;
	else
		nm->n++;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void found_cb(void *arg, const struct tdm_group_info *g)
{
	(void)g;
	*(int *)arg = 1;
}

/* 1 when the Kafka group coordinator knows group name (it has members or
 * had them since the start). */
static int coordinator_knows(const char *name, size_t len)
{
	int known = 0;
	tdm_group_view_find(name, len, found_cb, &known);
	return known;
}

/* 1 when the user may see the coordinator's groups: their members are
 * Kafka clients of kafka_vhost, assigned its topics. */
static int members_visible(struct hx_req *r)
{
	const char *vh = r->h->cfg && r->h->cfg->kafka_vhost ? r->h->cfg->kafka_vhost : "/";
	return hx_is_admin(r) || tdm_auth_vhost_allowed(r->h->broker->auth, r->user, vh, strlen(vh));
}

/* Every group, in name order: the coordinator's (when members) merged with
 * those known only by committed offsets (v sorted by group). */
static void write_all(struct js_w *w, const struct hx_offset *v, size_t n, struct names *nm,
		      int members)
{
	size_t i = 0, k = 0;
	if (members)
		tdm_group_view_foreach(name_cb, nm);
	if (nm->n)
		qsort(nm->v, nm->n, sizeof(*nm->v), cmp_name);
	js_arr(w);
	while (i < n || k < nm->n) {
		const char *name = i < n && (k == nm->n || strcmp(v[i].group, nm->v[k]) <= 0)
			? v[i].group : nm->v[k];
		size_t j = i;
		while (j < n && strcmp(v[j].group, name) == 0)
			j++;
		if (members || !coordinator_knows(name, strlen(name)))
			write_group(w, name, v + i, j - i);
		i = j;
		while (k < nm->n && strcmp(nm->v[k], name) == 0)
			k++;
	}
	js_arr_end(w);
}

/* Drops the offsets of topics the user may not see from v[0..*n). */
static void visible_only(struct hx_req *r, struct hx_offset *v, size_t *n)
{
	size_t k = 0;
	for (size_t i = 0; i < *n; i++)
		if (hx_topic_visible(r, v[i].topic))
			v[k++] = v[i];
	*n = k;
}

static void get_groups(struct hx_req *r)
{
	size_t n;
	struct hx_offset *v = hx_collect_offsets(r->h->topics, &n);
	visible_only(r, v, &n);
	struct names nm = { 0 };
	struct js_w w;
	int members = members_visible(r);
	js_w_init(&w);
	if (r->nseg == 1) {
		write_all(&w, v, n, &nm, members);
	} else {
		const char *name = r->seg[1].s;
		size_t i = 0, j;
		while (i < n && strcmp(v[i].group, name) != 0)
			i++;
		for (j = i; j < n && strcmp(v[j].group, name) == 0;)
			j++;
		if (strlen(name) != r->seg[1].len ||
		    (!members && coordinator_knows(name, r->seg[1].len)) ||
		    (j == i && !tdm_group_view_find(name, r->seg[1].len, name_cb, &nm))) {
			hx_not_found(r);
			goto out;
		}
		write_group(&w, name, v + i, j - i);
	}
	if (nm.oom)
		w.oom = 1;
	hx_reply_json(r, 200, &w);
out:
	js_w_free(&w);
	for (size_t k = 0; k < nm.n; k++)
		free(nm.v[k]);
	free(nm.v);
	free(v);
}

/* ---- DELETE -------------------------------------------------------------------- */

static void has_offset_cb(const char *group, const char *topic, int32_t partition, int64_t offset,
			  const char *metadata, int64_t commit_ms, void *ctx)
{
	(void)group, (void)topic, (void)partition, (void)offset, (void)metadata, (void)commit_ms;
	*(int *)ctx = 1;
}

/* 1 when the group is known to the coordinator or has committed offsets. */
static int group_known(struct hx_req *r, const char *name, size_t len)
{
	int known = 0;
	if (strlen(name) != len)
		return 0;
	tdm_group_view_find(name, len, found_cb, &known);
	if (!known && r->h->topics)
		ls_offsets_foreach(tdm_topics_store(r->h->topics), name, has_offset_cb, &known);
	return known;
}

static void group_busy(struct hx_req *r, const char *name)
{
	char reason[600];
	snprintf(reason, sizeof(reason),
		 "group %.500s has live members: only an Empty group can be %s here", name,
		 r->method == EVHTTP_REQ_DELETE ? "deleted" : "consumed");
	hx_error(r, 409, "group_busy", reason);
}

static void delete_group(struct hx_req *r, const char *name, size_t len)
{
	if (!group_known(r, name, len)) {
		hx_not_found(r);
		return;
	}
	if (tdm_group_view_busy(name, len)) {
		group_busy(r, name);
		return;
	}
	int rc = r->h->topics ? ls_offsets_delete_group(tdm_topics_store(r->h->topics), name) : LS_OK;
	if (rc != LS_OK) {
		hx_ls_error(r, rc);
		return;
	}
	tdm_group_view_forget(name, len);
	hx_no_content(r, 204);
}

/* ---- routing ---------------------------------------------------------------------- */

void hx_group_list(struct hx_req *r)
{
	get_groups(r);
}

void hx_group_get(struct hx_req *r)
{
	get_groups(r);
}

void hx_group_delete(struct hx_req *r)
{
	delete_group(r, r->seg[1].s, r->seg[1].len);
}
