/*
 * Reading the groups: ListGroups v0-4 (the groups held here and those known
 * only by committed offsets, as after a restart; v4 with their states)
 * and DescribeGroups v0-5
 * (v1+: throttle time; v3+: include_authorized_operations and each
 * group's authorized_operations; v4+: each member's group_instance_id;
 * v5 flexible, KIP-482).
 * The groups are the coordinator's (groups.c).
 *
 * Must not depend on: src/amqp.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "kafka/groups_internal.h"
#include "kafka/kf.h"

/* Groups known only by their committed offsets (after a restart). */
struct offset_groups {
	struct kf_conn *kc;
	struct kf_arena *arena;
	struct name_item {
		const char *name;
		struct name_item *next;
	} *list;
	int32_t count;
	int failed;
};

static void offset_group_fn(void *ctx, const char *group)
{
	struct offset_groups *og = ctx;
	struct name_item *it;
	char *copy;
	size_t n;

	if (!(group = kf_authz_group_listed(og->kc, group)))
		return; /* another vhost's, or not the user's */
	n = strlen(group) + 1;
	it = kf_arena_alloc(og->arena, sizeof(*it));
	copy = kf_arena_alloc(og->arena, n);
	if (!it || !copy) {
		og->failed = 1;
		return;
	}
	memcpy(copy, group, n);
	it->name = copy;
	it->next = og->list;
	og->list = it;
	og->count++;
}

/* Whether a group in state `state` is wanted by ListGroups v4's filter
 * (none: every group); Kafka matches the names without case. */
static int state_wanted(const struct kf_list_groups_req *r, const char *state)
{
	if (r->nstates <= 0)
		return 1;
	for (int32_t i = 0; i < r->nstates; i++)
		if (r->states[i].len == (int32_t)strlen(state) &&
		    !strncasecmp(r->states[i].p, state, (size_t)r->states[i].len))
			return 1;
	return 0;
}

/* One group of the answer: id, protocol type, (v4) state. */
static void put_listed(struct evbuffer *resp, int ver, int flex, const char *id, const char *type,
		       const char *state)
{
	kf_put_fstr(resp, flex, id);
	kf_put_fstr(resp, flex, type);
	if (ver >= 4)
		kf_put_fstr(resp, flex, state);
	kf_put_tags(resp, flex);
}

/* v0: error_code, [group_id, protocol_type]; v1+: throttle_time_ms first;
 * v3: flexible; v4: group_state per group, and the request's filter. */
int kf_h_list_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct tdm_groups *core = kc->srv->cgroups;
	struct offset_groups og = { kc, &kc->arena, NULL, 0, 0 };
	struct kf_list_groups_req r;
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct tdm_group *g;
	size_t pos = 0;
	int32_t n = 0;

	if (kf_decode_list_groups(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (ver >= 1)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i16(resp, KF_ERR_NONE);
	if (kf_groups_coordinator(kc->srv->groups) != KF_ERR_NONE) {
		/* Kafka: a broker lists the groups it coordinates, here none */
		kf_put_farray(resp, flex, 0);
		kf_put_tags(resp, flex);
		return KF_R_DONE;
	}
	tdm_groups_offset_only(core, offset_group_fn, &og);
	if (og.failed)
		return KF_R_CLOSE;
	while ((g = tdm_groups_next(core, &pos)))
		n += kf_authz_group_listed(kc, g->id) != NULL &&
		     state_wanted(&r, tdm_group_state_name(g->state));
	if (!state_wanted(&r, "Empty"))
		og.count = 0; /* groups known by their offsets alone are Empty */
	kf_put_farray(resp, flex, n + og.count);
	pos = 0;
	while ((g = tdm_groups_next(core, &pos))) {
		const char *id = kf_authz_group_listed(kc, g->id);
		const char *state = tdm_group_state_name(g->state);

		if (id && state_wanted(&r, state))
			put_listed(resp, ver, flex, id,
				   g->protocol_type ? g->protocol_type : "consumer", state);
	}
	for (struct name_item *it = og.list; og.count && it; it = it->next)
		put_listed(resp, ver, flex, it->name, "consumer", "Empty");
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}

/* Kafka's AclOperation codes, as bits of DescribeGroups v3's
 * authorized_operations. */
enum { OP_READ = 3, OP_DELETE = 6, OP_DESCRIBE = 8 };
#define OPS_NOT_ASKED INT32_MIN /* Kafka's default: not asked for */

/* What kc may do to group id (as sent): read gives Kafka's READ and
 * DESCRIBE, configure its DELETE (as DeleteGroups takes it). */
static int32_t group_operations(struct kf_conn *kc, struct kf_str id)
{
	struct kf_str read = id, conf = id;
	int32_t ops = 0;

	if (kf_authz_group(kc, &read) == KF_ERR_NONE)
		ops |= 1 << OP_READ | 1 << OP_DESCRIBE;
	if (kf_authz_group_as(kc, TDM_PERM_CONFIGURE, &conf) == KF_ERR_NONE)
		ops |= 1 << OP_DELETE;
	return ops;
}

/* A group without members: the error, its id, state and protocol type. */
static void put_memberless(struct evbuffer *resp, int flex, int16_t err, struct kf_str id,
			   const char *state, const char *type)
{
	kf_put_i16(resp, err);
	kf_put_fkstr(resp, flex, id);
	kf_put_fstr(resp, flex, state);
	kf_put_fstr(resp, flex, type);
	kf_put_fstr(resp, flex, "");
	kf_put_farray(resp, flex, 0);
}

/* A group the coordinator holds: members (v4+: with instance ids);
 * protocol, metadata and assignments only while Stable, as Kafka. */
static void put_group(struct evbuffer *resp, int ver, int flex, struct kf_str id,
		      const struct group *g)
{
	int stable = g->c.state == TDM_GROUP_STABLE;

	kf_put_i16(resp, KF_ERR_NONE);
	kf_put_fkstr(resp, flex, id);
	kf_put_fstr(resp, flex, tdm_group_state_name(g->c.state));
	kf_put_fstr(resp, flex, g->c.protocol_type ? g->c.protocol_type : "consumer");
	kf_put_fstr(resp, flex, stable && g->c.protocol ? g->c.protocol : "");
	kf_put_farray(resp, flex, g->c.nmembers);
	for (struct member *m = kf_member(g->c.members); m; m = kf_member(m->c.next)) {
		const struct tdm_group_proto *pm =
			stable ? kf_member_proto(m, g->c.protocol) : NULL;

		kf_put_fstr(resp, flex, m->c.id);
		if (ver >= 4)
			kf_put_fstr(resp, flex, m->c.instance_id);
		kf_put_fstr(resp, flex, m->c.client_id);
		kf_put_fstr(resp, flex, m->c.client_host);
		kf_put_fbytes(resp, flex, pm ? pm->meta : NULL, pm ? pm->len : 0);
		kf_put_fbytes(resp, flex, stable ? m->c.assignment : NULL,
			   stable && m->c.assignment_len > 0 ? m->c.assignment_len : 0);
		kf_put_tags(resp, flex);
	}
}

/* One group of the request: an error (Kafka: nothing about the group),
 * a group held here, or one known only by committed offsets (Empty) or
 * not at all (Dead).  1 when described without an error. */
static int describe_one(struct kf_conn *kc, struct evbuffer *resp, int ver, int flex,
			struct kf_str sent, int16_t cerr)
{
	struct kf_str gid = sent; /* as core keys it, after the check */
	struct group *g;
	char name[1024];
	int has;

	if (kf_authz_group(kc, &gid) != KF_ERR_NONE)
		cerr = KF_ERR_GROUP_AUTHORIZATION_FAILED;
	if (cerr != KF_ERR_NONE) {
		put_memberless(resp, flex, cerr, sent, "", "");
		return 0;
	}
	if ((g = kf_group_find(kc->srv->groups, gid))) {
		put_group(resp, ver, flex, sent, g);
		return 1;
	}
	has = kf_str_cstr(gid, name, sizeof(name)) == 0 &&
	      tdm_groups_has_offsets(kc->srv->cgroups, name);
	put_memberless(resp, flex, KF_ERR_NONE, sent, has ? "Empty" : "Dead", has ? "consumer" : "");
	return 1;
}

/* v1+: a throttle time first; v3+: authorized_operations per group
 * (INT32_MIN unless asked); v4+: each member's instance id; v5 flexible. */
int kf_h_describe_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_describe_groups_req r;
	int16_t cerr;

	if (kf_decode_describe_groups(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	cerr = kf_groups_coordinator(kc->srv->groups);
	if (ver >= 1)
		kf_put_i32(resp, 0);
	kf_put_farray(resp, flex, r.ngroups);
	for (int32_t i = 0; i < r.ngroups; i++) {
		int ok = describe_one(kc, resp, ver, flex, r.groups[i], cerr);

		if (ver >= 3)
			kf_put_i32(resp, ok && r.include_authorized_operations
						 ? group_operations(kc, r.groups[i])
						 : OPS_NOT_ASKED);
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
