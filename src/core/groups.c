/*
 * Consumer groups (core/groups.h): the registry of groups and their
 * members, the commit check, committed offsets over logstore's offsets
 * API, positions and lag.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdlib.h>
#include <string.h>

#include "core/groups.h"
#include "core/map.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "logstore/logstore.h"

struct tdm_groups {
	struct tdm_topics *topics; /* borrowed */
	struct tdm_map groups;     /* id -> struct tdm_group (the coordinator's) */
	const struct tdm_group_coordinator *ops; /* borrowed, static; may be NULL */
	void *ops_ctx;
	int follower; /* tdm_groups_set_follower */
};

static const char *const state_names[] = { "Empty", "PreparingRebalance", "CompletingRebalance",
					   "Stable" };

const char *tdm_group_state_name(enum tdm_group_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "Dead";
}

struct tdm_groups *tdm_groups_new(struct tdm_topics *topics)
{
	struct tdm_groups *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return NULL;
	gs->topics = topics;
	tdm_map_init(&gs->groups);
	return gs;
}

void tdm_groups_free(struct tdm_groups *gs)
{
	if (!gs)
		return;
	tdm_map_free(&gs->groups);
	free(gs);
}

void tdm_groups_set_coordinator(struct tdm_groups *gs, const struct tdm_group_coordinator *ops,
				void *ctx)
{
	gs->ops = ops;
	gs->ops_ctx = ops ? ctx : NULL;
}

/* ---- membership ---------------------------------------------------------- */

struct tdm_group *tdm_groups_find(struct tdm_groups *gs, const char *id, size_t len)
{
	return id ? tdm_map_get(&gs->groups, id, len) : NULL;
}

int tdm_groups_add(struct tdm_groups *gs, struct tdm_group *g)
{
	size_t len = strlen(g->id);

	if (tdm_map_get(&gs->groups, g->id, len) || tdm_map_put(&gs->groups, g->id, len, g) < 0)
		return -1;
	g->gs = gs;
	return 0;
}

void tdm_groups_remove(struct tdm_groups *gs, struct tdm_group *g)
{
	if (tdm_map_get(&gs->groups, g->id, strlen(g->id)) == g)
		tdm_map_del(&gs->groups, g->id, strlen(g->id));
	g->gs = NULL;
}

struct tdm_group *tdm_groups_next(struct tdm_groups *gs, size_t *pos)
{
	const char *key;
	size_t klen;
	void *v;

	return tdm_map_next(&gs->groups, pos, &key, &klen, &v) ? v : NULL;
}

size_t tdm_groups_count(const struct tdm_groups *gs)
{
	return gs->groups.count;
}

struct tdm_group_member *tdm_group_member_find(struct tdm_group *g, const char *id, size_t len)
{
	for (struct tdm_group_member *m = g->members; id && m; m = m->next)
		if (strlen(m->id) == len && memcmp(m->id, id, len) == 0)
			return m;
	return NULL;
}

struct tdm_group_member *tdm_group_member_find_instance(struct tdm_group *g, const char *id,
							size_t len)
{
	for (struct tdm_group_member *m = g->members; id && m; m = m->next)
		if (m->instance_id && strlen(m->instance_id) == len &&
		    memcmp(m->instance_id, id, len) == 0)
			return m;
	return NULL;
}

char *tdm_group_member_rename(struct tdm_group_member *m, char *new_id)
{
	struct tdm_group *g = m->group;
	char *old = m->id;

	if (g && g->leader && strcmp(g->leader, old) == 0) {
		char *leader = strdup(new_id);

		/* short of memory the group has no leader: the next rebalance
		 * picks one, as after the leader left */
		free(g->leader);
		g->leader = leader;
	}
	m->id = new_id;
	return old;
}

void tdm_group_member_link(struct tdm_group *g, struct tdm_group_member *m)
{
	struct tdm_group_member **pp = &g->members;

	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
	m->next = NULL;
	m->group = g;
	g->nmembers++;
}

void tdm_group_member_unlink(struct tdm_group_member *m)
{
	struct tdm_group *g = m->group;
	struct tdm_group_member **pp;

	if (!g)
		return;
	pp = &g->members;
	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = m->next;
		g->nmembers--;
	}
	if (g->leader && strcmp(g->leader, m->id) == 0) {
		free(g->leader);
		g->leader = NULL;
	}
	m->next = NULL;
	m->group = NULL;
}

static void protos_free(struct tdm_group_member *m)
{
	for (int i = 0; i < m->nprotos; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	free(m->protos);
	m->protos = NULL;
	m->nprotos = 0;
}

void tdm_group_member_clear(struct tdm_group_member *m)
{
	protos_free(m);
	free(m->assignment);
	free(m->id);
	free(m->client_id);
	free(m->client_host);
	free(m->instance_id);
	m->assignment = NULL;
	m->assignment_len = 0;
	m->id = m->client_id = m->client_host = m->instance_id = NULL;
}

const struct tdm_group_proto *tdm_group_member_proto(const struct tdm_group_member *m,
						     const char *name)
{
	for (int i = 0; name && i < m->nprotos; i++)
		if (strcmp(m->protos[i].name, name) == 0)
			return &m->protos[i];
	return NULL;
}

void tdm_group_member_set_timeouts(struct tdm_group_member *m, int32_t session_ms,
				   int32_t rebalance_ms)
{
	m->session_timeout_ms = session_ms;
	m->rebalance_timeout_ms = rebalance_ms > 0 ? rebalance_ms : session_ms;
}

void tdm_group_member_set_protos(struct tdm_group_member *m, struct tdm_group_proto *p, int n)
{
	protos_free(m);
	m->protos = p;
	m->nprotos = n;
}

void tdm_group_member_drop_meta(struct tdm_group_member *m)
{
	for (int i = 0; i < m->nprotos; i++) {
		free(m->protos[i].meta);
		m->protos[i].meta = NULL;
		m->protos[i].len = 0;
	}
}

int tdm_group_set_assignment(struct tdm_group_member *m, const void *bytes, int32_t len)
{
	free(m->assignment);
	m->assignment = malloc(len > 0 ? (size_t)len : 1);
	m->assignment_len = m->assignment ? len : 0;
	if (!m->assignment)
		return -1;
	if (len > 0)
		memcpy(m->assignment, bytes, (size_t)len);
	return 0;
}

int tdm_group_set_protocol_type(struct tdm_group *g, const char *type, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return -1;
	memcpy(p, type, len);
	p[len] = '\0';
	free(g->protocol_type);
	g->protocol_type = p;
	return 0;
}

/* 1 when every member of g supports protocol name. */
static int common(const struct tdm_group *g, const char *name)
{
	for (const struct tdm_group_member *m = g->members; m; m = m->next)
		if (!tdm_group_member_proto(m, name))
			return 0;
	return 1;
}

const char *tdm_group_choose_protocol(const struct tdm_group *g)
{
	const struct tdm_group_member *first = g->members;
	const char *best = NULL;
	int best_votes = -1;

	for (int i = 0; first && i < first->nprotos; i++) {
		const char *cand = first->protos[i].name;
		int votes = 0;

		if (!common(g, cand))
			continue;
		for (const struct tdm_group_member *m = g->members; m; m = m->next)
			for (int j = 0; j < m->nprotos; j++) {
				if (!common(g, m->protos[j].name))
					continue;
				votes += strcmp(m->protos[j].name, cand) == 0;
				break;
			}
		if (votes > best_votes) {
			best = cand;
			best_votes = votes;
		}
	}
	return best;
}

int tdm_group_complete_join(struct tdm_group *g, const char *protocol)
{
	char *p = strdup(protocol);

	if (!p)
		return -1;
	g->generation++;
	free(g->protocol);
	g->protocol = p;
	if (!g->leader && g->members)
		g->leader = strdup(g->members->id);
	g->state = TDM_GROUP_COMPLETING;
	for (struct tdm_group_member *m = g->members; m; m = m->next) {
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
	}
	return 0;
}

void tdm_group_set_state(struct tdm_group *g, enum tdm_group_state s)
{
	g->state = s;
}

void tdm_group_go_empty(struct tdm_group *g)
{
	g->state = TDM_GROUP_EMPTY;
	g->generation++;
	free(g->protocol);
	free(g->protocol_type);
	free(g->leader);
	g->protocol = g->protocol_type = g->leader = NULL;
}

void tdm_group_clear(struct tdm_group *g)
{
	free(g->id);
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	g->id = g->protocol_type = g->protocol = g->leader = NULL;
}

int tdm_group_check_member(struct tdm_group *g, const char *member, size_t member_len,
			   const char *instance, size_t instance_len,
			   struct tdm_group_member **who)
{
	struct tdm_group_member *m;

	if (who)
		*who = NULL;
	if (!g)
		return TDM_GROUP_UNKNOWN_MEMBER;
	if (instance) {
		m = tdm_group_member_find_instance(g, instance, instance_len);
		if (!m)
			return TDM_GROUP_UNKNOWN_MEMBER;
		if (!member || strlen(m->id) != member_len || memcmp(m->id, member, member_len) != 0)
			return TDM_GROUP_FENCED;
	} else {
		m = tdm_group_member_find(g, member, member_len);
		if (!m)
			return TDM_GROUP_UNKNOWN_MEMBER;
	}
	if (who)
		*who = m;
	return TDM_GROUP_OK;
}

int tdm_groups_check_commit(struct tdm_groups *gs, const char *id, size_t len,
			    int32_t generation, const char *member, size_t member_len,
			    const char *instance, size_t instance_len,
			    struct tdm_group_member **who)
{
	struct tdm_group *g = tdm_groups_find(gs, id, len);
	struct tdm_group_member *m;
	int rc;

	if (who)
		*who = NULL;
	if (!g || g->state == TDM_GROUP_EMPTY)
		return generation < 0 ? TDM_GROUP_OK : TDM_GROUP_ILLEGAL_GENERATION;
	/* Kafka fences a restarted static member's old incarnation first */
	if (instance && (rc = tdm_group_check_member(g, member, member_len, instance,
						      instance_len, NULL)) != TDM_GROUP_OK)
		return rc;
	if (g->state == TDM_GROUP_COMPLETING)
		return TDM_GROUP_REBALANCING;
	m = tdm_group_member_find(g, member, member_len);
	if (!m)
		return TDM_GROUP_UNKNOWN_MEMBER;
	if (generation != g->generation)
		return TDM_GROUP_ILLEGAL_GENERATION;
	if (who)
		*who = m;
	return TDM_GROUP_OK;
}

int tdm_groups_busy(struct tdm_groups *gs, const char *id, size_t len)
{
	struct tdm_group *g = tdm_groups_find(gs, id, len);

	return g && g->state != TDM_GROUP_EMPTY;
}

int tdm_groups_forget(struct tdm_groups *gs, const char *id, size_t len)
{
	struct tdm_group *g = tdm_groups_find(gs, id, len);
	int rc;

	if (g && (g->members || g->state != TDM_GROUP_EMPTY))
		return 1;
	if (gs->follower)
		return TDM_REPL_NOT_LEADER;
	rc = ls_offsets_delete_group(tdm_topics_store(gs->topics), id);
	if (rc != LS_OK)
		return rc;
	if (g) {
		tdm_groups_remove(gs, g);
		if (gs->ops && gs->ops->free_group)
			gs->ops->free_group(gs->ops_ctx, g);
	}
	return TDM_TOPIC_OK;
}

int tdm_groups_delete_offsets(struct tdm_groups *gs, const char *group, const char *topic,
			      const int32_t *partitions, size_t n)
{
	if (gs->follower)
		return TDM_REPL_NOT_LEADER;
	return ls_offsets_delete(tdm_topics_store(gs->topics), group, topic, partitions, n);
}

/* ConsumerProtocolSubscription (v0+: version, [topic], ...): 1 when it
 * lists topic, 0 when not, -1 when it cannot be read. */
static int subscription_lists(const uint8_t *p, int32_t len, const char *topic)
{
	size_t tl = strlen(topic), off;
	if (!p || len < 6)
		return -1;
	int32_t n = (int32_t)((uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5]);
	off = 6;
	for (int32_t i = 0; i < n; i++) {
		if (off + 2 > (size_t)len)
			return -1;
		size_t sl = (size_t)(p[off] << 8 | p[off + 1]);
		off += 2;
		if (off + sl > (size_t)len)
			return -1;
		if (sl == tl && !memcmp(p + off, topic, tl))
			return 1;
		off += sl;
	}
	return 0;
}

struct assigned_find {
	const char *topic;
	int found;
};

static void assigned_fn(void *arg, const char *topic, size_t len, const int32_t *parts, size_t n)
{
	struct assigned_find *a = arg;
	(void)parts, (void)n;
	if (len == strlen(a->topic) && !memcmp(topic, a->topic, len))
		a->found = 1;
}

int tdm_group_subscribes(struct tdm_groups *gs, const struct tdm_group *g, const char *topic)
{
	for (const struct tdm_group_member *m = g->members; m; m = m->next) {
		const struct tdm_group_proto *p =
			g->protocol ? tdm_group_member_proto(m, g->protocol) : NULL;
		int listed = p && g->protocol_type && !strcmp(g->protocol_type, "consumer")
				     ? subscription_lists(p->meta, p->len, topic)
				     : -1;
		if (listed == 1)
			return 1;
		if (listed == 0)
			continue;
		struct assigned_find a = { topic, 0 };
		if (!tdm_group_member_assignment(gs, g, m, assigned_fn, &a) || a.found)
			return 1; /* cannot tell: assumed to */
	}
	return 0;
}

int tdm_group_member_assignment(struct tdm_groups *gs, const struct tdm_group *g,
				const struct tdm_group_member *m, tdm_group_assigned_fn fn,
				void *arg)
{
	if (!gs->ops || !gs->ops->assignment || !m->assignment)
		return 0;
	return gs->ops->assignment(gs->ops_ctx, g, m, fn, arg);
}

/* ---- committed offsets and lag --------------------------------------------- */

int tdm_groups_commit(struct tdm_groups *gs, const char *group, const struct tdm_offset_commit *c,
		      size_t n)
{
	struct ls_offset_commit stack[16], *lc;
	int rc;

	if (gs->follower)
		return TDM_REPL_NOT_LEADER;
	lc = n <= 16 ? stack : calloc(n, sizeof(*lc));
	if (!lc)
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		lc[i] = (struct ls_offset_commit){ c[i].topic, c[i].partition, c[i].offset,
						   c[i].metadata };
	rc = ls_offsets_commit(tdm_topics_store(gs->topics), group, lc, n);
	if (lc != stack)
		free(lc);
	if (rc == LS_OK && n > 0 && tdm_groups_log(gs))
		tdm_topics_notify(gs->topics, tdm_groups_log(gs)); /* followers fetch it */
	return rc;
}

struct ls_partition *tdm_groups_log(struct tdm_groups *gs)
{
	struct ls_topic *t = tdm_topic_find(gs->topics, TDM_GROUPS_TOPIC);

	return t ? ls_partition_get(t, 0) : NULL;
}

int tdm_groups_reload(struct tdm_groups *gs)
{
	return ls_offsets_reload(tdm_topics_store(gs->topics));
}

void tdm_groups_set_follower(struct tdm_groups *gs, int follower)
{
	gs->follower = follower != 0;
	ls_offsets_set_replica(tdm_topics_store(gs->topics), gs->follower);
}

int tdm_groups_committed(struct tdm_groups *gs, const char *group, const char *topic,
			 int32_t partition, int64_t *offset, const char **metadata)
{
	return ls_offset_fetch(tdm_topics_store(gs->topics), group, topic, partition, offset,
			       metadata);
}

struct offsets_walk {
	struct tdm_groups *gs;
	tdm_group_offset_fn fn;
	void *ctx;
};

static void offset_fn(const char *group, const char *topic, int32_t partition, int64_t offset,
		      const char *metadata, int64_t commit_ms, void *ctx)
{
	struct offsets_walk *ow = ctx;
	struct ls_topic *t = tdm_topic_find(ow->gs->topics, topic);
	struct ls_partition *p = t ? ls_partition_get(t, partition) : NULL;
	struct tdm_group_offset o = { group, topic, partition, offset, metadata, -1, 0 };

	(void)commit_ms;
	if (p)
		o.log_end = (int64_t)ls_log_end(p);
	if (o.log_end >= 0 && o.log_end > offset)
		o.lag = o.log_end - offset;
	ow->fn(ow->ctx, &o);
}

void tdm_groups_offsets(struct tdm_groups *gs, const char *group, tdm_group_offset_fn fn,
			void *ctx)
{
	struct offsets_walk ow = { gs, fn, ctx };

	ls_offsets_foreach(tdm_topics_store(gs->topics), group, offset_fn, &ow);
}

static void has_fn(const char *group, const char *topic, int32_t partition, int64_t offset,
		   const char *metadata, int64_t commit_ms, void *ctx)
{
	(void)group, (void)topic, (void)partition, (void)offset, (void)metadata, (void)commit_ms;
	*(int *)ctx = 1;
}

int tdm_groups_has_offsets(struct tdm_groups *gs, const char *group)
{
	int has = 0;

	ls_offsets_foreach(tdm_topics_store(gs->topics), group, has_fn, &has);
	return has;
}

struct offset_only {
	struct tdm_groups *gs;
	struct tdm_map seen;
	void (*fn)(void *ctx, const char *group);
	void *ctx;
};

static void only_fn(const char *group, const char *topic, int32_t partition, int64_t offset,
		    const char *metadata, int64_t commit_ms, void *ctx)
{
	struct offset_only *oo = ctx;
	size_t len = strlen(group);

	(void)topic, (void)partition, (void)offset, (void)metadata, (void)commit_ms;
	if (tdm_map_get(&oo->gs->groups, group, len) || tdm_map_get(&oo->seen, group, len))
		return;
	tdm_map_put(&oo->seen, group, len, oo);
	oo->fn(oo->ctx, group);
}

void tdm_groups_offset_only(struct tdm_groups *gs, void (*fn)(void *ctx, const char *group),
			    void *ctx)
{
	struct offset_only oo = { gs, { 0 }, fn, ctx };

	tdm_map_init(&oo.seen);
	ls_offsets_foreach(tdm_topics_store(gs->topics), NULL, only_fn, &oo);
	tdm_map_free(&oo.seen);
}

uint64_t tdm_groups_position(struct tdm_groups *gs, const char *group, struct ls_topic *topic,
			     struct ls_partition *p, int64_t *committed, uint64_t *lag)
{
	uint64_t start = ls_log_start(p), end = ls_log_end(p), pos = start;
	int64_t off;

	if (ls_offset_fetch(tdm_topics_store(gs->topics), group, ls_topic_name(topic),
			    ls_partition_index(p), &off, NULL) != LS_OK || off < 0)
		off = -1;
	if (off >= 0 && (uint64_t)off > start)
		pos = (uint64_t)off > end ? end : (uint64_t)off;
	if (committed)
		*committed = off;
	if (lag)
		*lag = end > pos ? end - pos : 0;
	return pos;
}
