/*
 * The coordinator's groups as the core's group view (core/group_view.h),
 * for the management API and /metrics: states with Kafka's names, and
 * each member's assignment decoded from the consumer protocol's
 * Assignment bytes when the group's protocol type is "consumer".
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdlib.h>
#include <string.h>

#include "core/group_view.h"
#include "kafka/groups_internal.h"

static void info_of(const struct group *g, struct tdm_group_info *gi)
{
	memset(gi, 0, sizeof(*gi));
	gi->group = g->id;
	gi->state = kf_group_state_names[g->state];
	gi->protocol_type = g->protocol_type;
	gi->protocol = g->state == G_EMPTY ? NULL : g->protocol;
	gi->leader = g->leader;
	gi->generation = g->generation;
	gi->nmembers = g->nmembers;
	gi->handle = g;
}

static void view_foreach(void *ctx, tdm_group_fn fn, void *arg)
{
	struct kf_groups *gs = ctx;
	size_t pos = 0;
	const char *key;
	size_t klen;
	void *v;

	while (tdm_map_next(&gs->groups, &pos, &key, &klen, &v)) {
		struct tdm_group_info gi;

		info_of(v, &gi);
		fn(arg, &gi);
	}
}

static int view_find(void *ctx, const char *name, size_t len, tdm_group_fn fn, void *arg)
{
	struct kf_groups *gs = ctx;
	struct group *g = tdm_map_get(&gs->groups, name, len);
	struct tdm_group_info gi;

	if (!g)
		return 0;
	info_of(g, &gi);
	fn(arg, &gi);
	return 1;
}

/* Decodes m's assignment into tm (arrays in the arena); 0 topics when
 * it is not a well-formed consumer Assignment. */
static int decode(const struct group *g, const struct member *m, struct kf_arena *a,
		  struct tdm_group_member *tm)
{
	struct kf_consumer_assignment ca;
	struct tdm_group_assigned *t;

	if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0 || !m->assignment ||
	    kf_decode_consumer_assignment(m->assignment, (size_t)m->assignment_len, a, &ca) < 0)
		return 0;
	tm->assignment_decoded = 1;
	if (ca.ntopics == 0)
		return 0;
	t = kf_arena_alloc(a, (size_t)ca.ntopics * sizeof(*t));
	if (!t) {
		tm->assignment_decoded = 0;
		return -1;
	}
	for (int32_t i = 0; i < ca.ntopics; i++) {
		t[i].topic = ca.topics[i].topic.p;
		t[i].topic_len = (size_t)ca.topics[i].topic.len;
		t[i].partitions = ca.topics[i].partitions;
		t[i].npartitions = (size_t)ca.topics[i].npartitions;
	}
	tm->topics = t;
	tm->ntopics = (size_t)ca.ntopics;
	return 0;
}

static void view_members(void *ctx, const void *handle, tdm_group_member_fn fn, void *arg)
{
	const struct group *g = handle;
	struct kf_arena a;

	(void)ctx;
	kf_arena_init(&a);
	for (const struct member *m = g->members; m; m = m->next) {
		struct tdm_group_member tm = { 0 };

		tm.member_id = m->id;
		tm.client_id = m->client_id;
		tm.client_host = m->client_host;
		tm.assignment_len = m->assignment ? m->assignment_len : 0;
		decode(g, m, &a, &tm);
		fn(arg, &tm);
		kf_arena_reset(&a);
	}
	kf_arena_free(&a);
}

static int view_forget(void *ctx, const char *name, size_t len)
{
	return kf_group_drop(ctx, name, len);
}

static const struct tdm_group_view_ops view_ops = {
	.foreach = view_foreach,
	.find = view_find,
	.members = view_members,
	.forget = view_forget,
};

void kf_group_view_start(struct kf_groups *gs)
{
	tdm_group_view_register(&view_ops, gs);
}

void kf_group_view_stop(struct kf_groups *gs)
{
	tdm_group_view_unregister(gs);
}
