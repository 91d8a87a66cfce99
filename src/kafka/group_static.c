/*
 * Who a group member is: the member ids the coordinator hands out, the
 * ids handed out ahead of a join (JoinGroup v4+ answers a dynamic member
 * without one MEMBER_ID_REQUIRED with its new id, Kafka's KIP-394), and
 * static members (group.instance.id, Kafka's KIP-345).
 *
 * A static member is known by its instance id, which outlives its member
 * ids: when it restarts it joins with no member id and the same instance
 * id, takes a new member id and keeps its place, its assignment and, in
 * a Stable group whose protocol vote does not change, the generation: no
 * rebalance.  Requests naming the instance id with an older member id are
 * FENCED_INSTANCE_ID, as are the old incarnation's parked JoinGroup and
 * SyncGroup.  Static members do not send LeaveGroup on close (librdkafka,
 * the Java client): they go by session timeout or by a LeaveGroup v3
 * naming their instance id.  Membership is not persisted (groups.c), so
 * neither are instance ids: after a coordinator restart or move every
 * member joins anew.
 *
 * The rest of the protocol (the state machine, parked requests, timers)
 * is groups.c's.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kafka/groups_internal.h"
#include "kafka/kf.h"

/* Pending ids per group: a client that asks for ever more (and never
 * joins) pushes out its oldest. */
#define MAX_PENDING 1000

char *kf_group_new_member_id(struct kf_groups *gs, struct kf_conn *kc, struct kf_str instance)
{
	struct kf_str prefix = instance.len >= 0 ? instance : kc->hdr.client_id;
	char id[512];

	snprintf(id, sizeof(id), "%.*s-%08x-%llu",
		 (int)(prefix.len > 0 && prefix.len < 200 ? prefix.len : 0),
		 prefix.p ? prefix.p : "", (unsigned)random(),
		 (unsigned long long)++gs->next_member);
	return strdup(id);
}

/* ---- ids handed out with MEMBER_ID_REQUIRED ------------------------------------ */

/* Drops the expired ids, and past MAX_PENDING the oldest. */
static void pending_expire(struct group *g, int64_t now)
{
	struct pending_id **pp = &g->pending;
	int kept = 0;

	while (*pp) {
		struct pending_id *p = *pp;

		if (p->expires_ms > now && kept < MAX_PENDING) {
			kept++;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p->id);
		free(p);
		g->npending--;
	}
}

int kf_group_pending_add(struct group *g, const char *id, int32_t timeout_ms)
{
	struct pending_id *p = calloc(1, sizeof(*p));

	if (!p || !(p->id = strdup(id))) {
		free(p);
		return -1;
	}
	p->expires_ms = kf_groups_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	p->next = g->pending;
	g->pending = p;
	g->npending++;
	pending_expire(g, kf_groups_mono_ms());
	return 0;
}

int kf_group_pending_take(struct group *g, struct kf_str id, int forget)
{
	pending_expire(g, kf_groups_mono_ms());
	for (struct pending_id **pp = &g->pending; *pp; pp = &(*pp)->next) {
		struct pending_id *p = *pp;

		if (!kf_str_eq(id, p->id))
			continue;
		if (forget) {
			*pp = p->next;
			free(p->id);
			free(p);
			g->npending--;
		}
		return 1;
	}
	return 0;
}

void kf_group_pending_free(struct group *g)
{
	while (g->pending) {
		struct pending_id *p = g->pending;

		g->pending = p->next;
		free(p->id);
		free(p);
	}
	g->npending = 0;
}

/* ---- static members ---------------------------------------------------------------- */

struct member *kf_group_static_member(struct group *g, struct kf_str instance)
{
	if (!g || instance.len < 0)
		return NULL;
	return kf_member(tdm_group_member_find_instance(&g->c, instance.p, (size_t)instance.len));
}

int16_t kf_group_check_member(struct group *g, struct kf_str member_id, struct kf_str instance,
			      const char *op, struct member **m)
{
	struct tdm_group_member *who = NULL;
	int rc = tdm_group_check_member(g ? &g->c : NULL, member_id.len < 0 ? NULL : member_id.p,
					member_id.len < 0 ? 0 : (size_t)member_id.len,
					instance.len < 0 ? NULL : instance.p,
					instance.len < 0 ? 0 : (size_t)instance.len, &who);

	*m = who ? kf_member(who) : NULL;
	if (rc == TDM_GROUP_FENCED)
		tdm_info("kafka",
			 "group %s: %s of member %.*s fenced: instance %.*s is member %s now",
			 g->c.id, op, (int)(member_id.len > 0 ? member_id.len : 0),
			 member_id.p ? member_id.p : "", (int)instance.len, instance.p,
			 kf_group_static_member(g, instance)->c.id);
	return kf_err_from_group(rc);
}

char *kf_group_static_replace(struct kf_conn *kc, struct group *g, struct member *m)
{
	char *id = kf_group_new_member_id(kc->srv->groups, kc,
					  (struct kf_str){ m->c.instance_id,
							   (int32_t)strlen(m->c.instance_id) });
	char *old;

	if (!id)
		return NULL;
	/* the old incarnation may still wait in a rebalance (a duplicate
	 * instance, or a restart faster than its connection's close) */
	kf_member_answer_parked(m, KF_ERR_FENCED_INSTANCE_ID);
	old = tdm_group_member_rename(&m->c, id);
	tdm_info("kafka", "group %s: static member %s (instance %s) rejoined as %s in state %s",
		 g->c.id, old, m->c.instance_id, m->c.id, tdm_group_state_name(g->c.state));
	return old;
}

int kf_group_static_rejoined(struct group *g, struct member *m, const char *old_id,
			     struct evbuffer *b, int ver)
{
	const char *vote;
	const char *leader;

	if (g->c.state != TDM_GROUP_STABLE)
		return 0; /* Kafka: Completing rebalances (the leader may have
			     assigned the old id); Preparing waits */
	vote = tdm_group_choose_protocol(&g->c);
	if (!vote || !g->c.protocol || strcmp(vote, g->c.protocol) != 0)
		return 0;
	leader = g->c.leader && strcmp(g->c.leader, m->c.id) == 0 ? old_id : g->c.leader;
	kf_member_session_touch(m);
	kf_group_put_join(b, ver, KF_ERR_NONE, g, leader ? leader : "", m->c.id);
	kf_group_put_join_members(b, ver, NULL);
	tdm_info("kafka", "group %s: static member %s rejoined Stable generation %d: no rebalance",
		 g->c.id, m->c.id, (int)g->c.generation);
	return 1;
}

int16_t kf_group_leave_one(struct group *g, struct kf_str member_id, struct kf_str instance)
{
	struct member *m;
	int16_t err;

	if (member_id.len <= 0 && instance.len >= 0) {
		/* the admin's "remove members": by instance id alone */
		m = kf_group_static_member(g, instance);
		err = m ? KF_ERR_NONE : KF_ERR_UNKNOWN_MEMBER_ID;
	} else {
		err = kf_group_check_member(g, member_id, instance, "LeaveGroup", &m);
	}
	if (err)
		return err;
	tdm_info("kafka", "group %s: member %s%s%s left", g->c.id, m->c.id,
		 m->c.instance_id ? " of instance " : "", m->c.instance_id ? m->c.instance_id : "");
	kf_group_member_remove(g, m, KF_ERR_UNKNOWN_MEMBER_ID);
	return KF_ERR_NONE;
}
