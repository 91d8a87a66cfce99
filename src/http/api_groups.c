/*
 * Consumer groups over HTTP: GET /api/groups[/name] (membership, committed
 * offsets and lag, all from core/groups.h), DELETE
 * /api/groups/{name} (Kafka's DeleteGroups: an Empty group's offsets go)
 * and POST /api/groups/{name}/fetch, a consumer without membership as
 * Kafka allows one for a group without live members: it reads from the
 * group's committed offsets and commits what it returned.  Deleting or
 * consuming takes read on the group id in its vhost (kafka_vhost, or V
 * for "__" + esc(V) + "." + id) and consuming read on the topic, as Kafka
 * clients' group operations (src/kafka/authz.c).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka); groups
 * come from core/groups.h, the same objects the Kafka coordinator drives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/groups.h"
#include "core/stream.h"
#include "http/hx.h"

/* ---- committed offsets ---------------------------------------------------- */

struct offsets {
	struct hx_offset *v;
	size_t n, cap;
	int oom;
};

static void offset_cb(void *ctx, const struct tdm_group_offset *go)
{
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
	o->v[o->n++] = (struct hx_offset){ go->group, go->topic, go->partition, go->offset,
					   go->log_end, go->lag };
}

static int cmp_offset(const void *a, const void *b)
{
	const struct hx_offset *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	if (!c)
		c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

struct hx_offset *hx_collect_offsets(struct tdm_groups *groups, size_t *n)
{
	struct offsets o = { 0 };
	*n = 0;
	if (!groups)
		return NULL;
	tdm_groups_offsets(groups, NULL, offset_cb, &o);
	if (o.oom) {
		free(o.v);
		return NULL;
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
		int64_t lag = v[k].lag;
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

static void assigned_cb(void *arg, const char *topic, size_t topic_len,
			const int32_t *partitions, size_t npartitions)
{
	struct js_w *w = arg;
	js_obj(w);
	js_kstrn(w, "topic", topic, topic_len);
	js_key(w, "partitions");
	js_arr(w);
	for (size_t j = 0; j < npartitions; j++)
		js_int(w, partitions[j]);
	js_arr_end(w);
	js_obj_end(w);
}

static void skip_cb(void *arg, const char *topic, size_t topic_len, const int32_t *partitions,
		    size_t npartitions)
{
	(void)arg, (void)topic, (void)topic_len, (void)partitions, (void)npartitions;
}

static void write_member(struct js_w *w, struct tdm_groups *gs, const struct tdm_group *g,
			 const struct tdm_group_member *m)
{
	js_obj(w);
	js_kstr(w, "member_id", m->id);
	js_key(w, "group_instance_id"); /* a static member's (KIP-345), else null */
	if (m->instance_id)
		js_str(w, m->instance_id);
	else
		js_null(w);
	js_kstr(w, "client_id", m->client_id);
	js_kstr(w, "client_host", m->client_host);
	js_kint(w, "assignment_bytes", m->assignment ? m->assignment_len : 0);
	js_key(w, "assignment");
	/* null when the bytes are not the consumer protocol's Assignment */
	if (!tdm_group_member_assignment(gs, g, m, skip_cb, NULL)) {
		js_null(w);
	} else {
		js_arr(w);
		tdm_group_member_assignment(gs, g, m, assigned_cb, w);
		js_arr_end(w);
	}
	js_obj_end(w);
}

/* Writes group name: g (NULL: an Empty group known by its committed
 * offsets) with its offsets v[0..n). */
static void write_group_obj(struct js_w *w, struct tdm_groups *gs, const char *name,
			    const struct tdm_group *g, const struct hx_offset *v, size_t n)
{
	js_obj(w);
	js_kstr(w, "group", name);
	js_kstr(w, "state", g ? tdm_group_state_name(g->state) : "Empty");
	/* as DescribeGroups: a group that has no protocol type now is a consumer group */
	js_kstr(w, "protocol_type", g && g->protocol_type ? g->protocol_type : "consumer");
	kstr_or_null(w, "protocol", g && g->state != TDM_GROUP_EMPTY ? g->protocol : NULL);
	js_kint(w, "generation", g ? g->generation : 0);
	kstr_or_null(w, "leader", g ? g->leader : NULL);
	js_key(w, "members");
	js_arr(w);
	for (const struct tdm_group_member *m = g ? g->members : NULL; m; m = m->next)
		write_member(w, gs, g, m);
	js_arr_end(w);
	write_offsets(w, v, n);
	js_obj_end(w);
}

/* Writes group name: the coordinator's view of it, or an Empty group
 * known by its committed offsets v[0..n). */
static void write_group(struct js_w *w, struct tdm_groups *gs, const char *name,
			const struct hx_offset *v, size_t n)
{
	write_group_obj(w, gs, name, gs ? tdm_groups_find(gs, name, strlen(name)) : NULL, v, n);
}

struct names {
	char **v;
	size_t n, cap;
	int oom;
};

static void name_add(struct names *nm, const char *name)
{
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
	if (!(nm->v[nm->n] = strdup(name)))
		nm->oom = 1;
	else
		nm->n++;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when the Kafka group coordinator knows group name (it has members or
 * had them since the start). */
static int coordinator_knows(struct tdm_groups *gs, const char *name, size_t len)
{
	return gs && tdm_groups_find(gs, name, len) != NULL;
}

/* 1 when the user may see the members of the coordinator's group id: an
 * administrator, or a user who may open the group's vhost (kafka_vhost, or
 * V for a group of Kafka clients acting in V). */
static int members_visible(struct hx_req *r, const char *id)
{
	char vh[TDM_TOPIC_NAME_MAX + 1];

	if (hx_is_admin(r))
		return 1;
	hx_group_vhost(r, id, vh, sizeof(vh));
	return tdm_auth_vhost_allowed(r->h->broker->auth, r->user, vh, strlen(vh));
}

/* Every group, in name order: the coordinator's whose members the user may
 * see merged with those known only by committed offsets (v sorted by group). */
static void write_all(struct hx_req *r, struct js_w *w, struct tdm_groups *gs,
		      const struct hx_offset *v, size_t n, struct names *nm)
{
	size_t i = 0, k = 0;
	struct tdm_group *g;
	size_t pos = 0;
	while (gs && (g = tdm_groups_next(gs, &pos)))
		if (members_visible(r, g->id))
			name_add(nm, g->id);
	if (nm->n)
		qsort(nm->v, nm->n, sizeof(*nm->v), cmp_name);
	js_arr(w);
	while (i < n || k < nm->n) {
		const char *name = i < n && (k == nm->n || strcmp(v[i].group, nm->v[k]) <= 0)
			? v[i].group : nm->v[k];
		size_t j = i;
		while (j < n && strcmp(v[j].group, name) == 0)
			j++;
		if (!coordinator_knows(gs, name, strlen(name)) || members_visible(r, name))
			write_group(w, gs, name, v + i, j - i);
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
	struct tdm_groups *gs = r->h->broker->groups;
	struct hx_offset *v = hx_collect_offsets(gs, &n);
	visible_only(r, v, &n);
	struct names nm = { 0 };
	struct js_w w;
	js_w_init(&w);
	if (r->nseg == 1) {
		write_all(r, &w, gs, v, n, &nm);
	} else {
		const char *name = r->seg[1].s;
		size_t i = 0, j;
		while (i < n && strcmp(v[i].group, name) != 0)
			i++;
		for (j = i; j < n && strcmp(v[j].group, name) == 0;)
			j++;
		if (strlen(name) != r->seg[1].len ||
		    (coordinator_knows(gs, name, r->seg[1].len) && !members_visible(r, name)) ||
		    (j == i && !coordinator_knows(gs, name, r->seg[1].len))) {
			hx_not_found(r);
			goto out;
		}
		write_group(&w, gs, name, v + i, j - i);
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

/* 1 when the group is known to the coordinator or has committed offsets. */
static int group_known(struct hx_req *r, const char *name, size_t len)
{
	struct tdm_groups *gs = r->h->broker->groups;
	if (strlen(name) != len || !gs)
		return 0;
	return coordinator_knows(gs, name, len) || tdm_groups_has_offsets(gs, name);
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
	if (!hx_group_permitted(r, name, TDM_PERM_CONFIGURE))
		return;
	int rc = tdm_groups_forget(r->h->broker->groups, name, len);
	if (rc == 1) {
		group_busy(r, name);
		return;
	}
	if (rc != TDM_TOPIC_OK) {
		hx_topic_error(r, rc);
		return;
	}
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
