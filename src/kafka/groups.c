/*
 * The group coordinator: Kafka's classic JoinGroup/SyncGroup protocol.
 * The broker is a membership and barrier service; one member (the leader)
 * computes the assignment, which the broker relays as opaque bytes.
 *
 * States: Empty -> PreparingRebalance (collecting JoinGroups) ->
 * CompletingRebalance (waiting for the leader's SyncGroup) -> Stable, and
 * back to PreparingRebalance on any membership change: a join, a leave or
 * a session timeout.  A rebalance completes when every known member has
 * rejoined or when the rebalance timeout (the largest of the members')
 * expires, dropping those that did not.  The first rebalance of an empty
 * group waits group_initial_rebalance_delay_ms (extended while members
 * keep arriving) so that consumers starting together land in one
 * generation.  Completion work runs from an event in the next loop turn,
 * never inside the handler of the request that triggered it.
 *
 * The groups' state (members, generation, protocol, leader, assignments)
 * is core's (core/groups.h), shared with the management API; this file is
 * the protocol around it: requests, parked responses, timers.
 *
 * Versions: JoinGroup v0-9 (v4+: a dynamic member without a member id
 * gets one with MEMBER_ID_REQUIRED and joins again with it; v5: the
 * group_instance_id of static members; v6 flexible; v7 the protocol type
 * in the answer; v8 a reason, logged; v9 skip_assignment, false),
 * SyncGroup v0-5 (v4 flexible; v5 protocol type and name, which must be
 * the group's when not null: INCONSISTENT_GROUP_PROTOCOL), Heartbeat v0-4
 * (v3: group_instance_id; v4 flexible), LeaveGroup v0-5 (v3: a batch of
 * members, each by member id or, the admin's way, by instance id; v4
 * flexible; v5 a reason per member, logged).  The answers' wire layout:
 * group_answer.c.  Member identity, static members and their fencing:
 * group_static.c.  FindCoordinator: find_coordinator.c.  ListGroups and
 * DescribeGroups: group_describe.c.  Committed offsets: offsets.c and
 * offset_fetch.c.
 *
 * Single node: this broker coordinates every group.  In a cluster
 * (srv->replica set), as Kafka with one offsets partition: the leader of
 * partition 0 of the group offsets topic (TDM_GROUPS_TOPIC, replicated
 * like any topic; the first FindCoordinator that finds it missing has
 * the controller create it, replication factor min(3, live nodes),
 * compacted) coordinates every group.  FindCoordinator answers that
 * node (COORDINATOR_NOT_AVAILABLE while there is none); the other group
 * requests sent elsewhere answer NOT_COORDINATOR, and clients look the
 * coordinator up again.  A node that becomes the leader rebuilds the
 * committed offsets from its replicated log before serving; membership
 * is not replicated: members rejoin the new coordinator, as in Kafka.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "kafka/groups_internal.h"
#include "kafka/kf.h"
#include "net/net.h"

int64_t kf_groups_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(ev, &tv);
}

static char *dup_str(struct kf_str s)
{
	char *p = malloc(s.len > 0 ? (size_t)s.len + 1 : 1);

	if (!p)
		return NULL;
	if (s.len > 0)
		memcpy(p, s.p, (size_t)s.len);
	p[s.len > 0 ? s.len : 0] = '\0';
	return p;
}

/* ---- groups and members ------------------------------------------------------ */

static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void check_cb(evutil_socket_t fd, short what, void *arg);
static void session_cb(evutil_socket_t fd, short what, void *arg);

struct group *kf_group_find(struct kf_groups *gs, struct kf_str id)
{
	return id.len < 0 ? NULL : kf_group(tdm_groups_find(gs->core, id.p, (size_t)id.len));
}

static struct group *group_get(struct kf_groups *gs, struct kf_str id)
{
	struct group *g = kf_group_find(gs, id);

	if (g)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->gs = gs;
	g->c.id = dup_str(id);
	g->timer = evtimer_new(gs->srv->base, timer_cb, g);
	g->check_ev = event_new(gs->srv->base, -1, 0, check_cb, g);
	if (!g->c.id || !g->timer || !g->check_ev || tdm_groups_add(gs->core, &g->c) < 0) {
		if (g->timer)
			event_free(g->timer);
		if (g->check_ev)
			event_free(g->check_ev);
		free(g->c.id);
		free(g);
		return NULL;
	}
	return g;
}

static struct member *member_find(struct group *g, struct kf_str id)
{
	return id.len < 0 ? NULL : kf_member(tdm_group_member_find(&g->c, id.p, (size_t)id.len));
}

/* Bytes a JoinGroup's protocols would hold. */
static uint64_t protos_bytes(const struct kf_join_group_req *r)
{
	uint64_t n = 0;

	for (int32_t i = 0; i < r->nprotocols; i++)
		n += (uint64_t)(r->protocols[i].name.len > 0 ? r->protocols[i].name.len : 0) +
		     (uint64_t)(r->protocols[i].metadata.len > 0 ? r->protocols[i].metadata.len : 0);
	return n;
}

static void member_disown(struct member *m)
{
	struct kf_conn *kc = m->kc;

	if (!kc)
		return;
	if (m->kc_prev)
		m->kc_prev->kc_next = m->kc_next;
	else
		kc->members = m->kc_next;
	if (m->kc_next)
		m->kc_next->kc_prev = m->kc_prev;
	kc->member_meta_bytes -= m->meta_bytes;
	m->kc = NULL;
	m->kc_prev = m->kc_next = NULL;
}

static void member_own(struct member *m, struct kf_conn *kc)
{
	member_disown(m);
	m->kc = kc;
	m->kc_next = kc->members;
	if (kc->members)
		kc->members->kc_prev = m;
	kc->members = m;
	kc->member_meta_bytes += m->meta_bytes;
}

void kf_groups_conn_closed(struct kf_conn *kc)
{
	while (kc->members) {
		struct member *m = kc->members;

		tdm_group_member_drop_meta(&m->c);
		member_disown(m);
	}
}

const struct tdm_group_proto *kf_member_proto(const struct member *m, const char *name)
{
	return tdm_group_member_proto(&m->c, name);
}

void kf_member_session_touch(struct member *m)
{
	arm(m->session_timer, m->c.session_timeout_ms);
}

/* ---- responses ----------------------------------------------------------------- */

static void join_respond(struct join_park *jp, int16_t err)
{
	struct kf_conn *kc = jp->kc;
	struct member *m = jp->m;
	struct group *g = m ? kf_group(m->c.group) : NULL;
	struct evbuffer *b = kc->resp;

	/* A join whose member went away (jp->m cleared) is only ever answered
	 * with an error: below, g and m are read only when err is 0. */
	if (!g && !err)
		err = KF_ERR_UNKNOWN_MEMBER_ID;
	int leader = !err && g->c.leader && strcmp(g->c.leader, m->c.id) == 0;

	if (m)
		m->join = NULL;
	kf_group_put_join(b, jp->ver, err, g, err ? "" : g->c.leader, m ? m->c.id : "");
	kf_group_put_join_members(b, jp->ver, leader ? g : NULL);
	kf_complete(kc, b);
}

static void sync_respond(struct sync_park *sp, int16_t err)
{
	struct member *m = sp->m;

	if (m)
		m->sync = NULL;
	kf_group_put_sync(sp->kc->resp, sp->ver, err, m ? kf_group(m->c.group) : NULL,
			  m ? m->c.assignment : NULL, m ? m->c.assignment_len : 0);
	kf_complete(sp->kc, sp->kc->resp);
}

/* ---- state machine ---------------------------------------------------------------- */

void kf_member_answer_parked(struct member *m, int16_t err)
{
	if (m->join)
		join_respond(m->join, err);
	if (m->sync)
		sync_respond(m->sync, err);
}

void kf_group_member_remove(struct group *g, struct member *m, int16_t err)
{
	(void)g;
	tdm_group_member_unlink(&m->c);
	if (m->join) {
		struct join_park *jp = m->join;
		jp->m = NULL;
		m->join = NULL;
		join_respond(jp, err);
	}
	if (m->sync) {
		struct sync_park *sp = m->sync;
		sp->m = NULL;
		m->sync = NULL;
		sync_respond(sp, err);
	}
	member_disown(m);
	event_free(m->session_timer);
	tdm_group_member_clear(&m->c);
	free(m);
}

static void schedule_check(struct group *g)
{
	event_active(g->check_ev, 0, 0);
}

static void go_empty(struct group *g)
{
	tdm_group_go_empty(&g->c);
	g->initial = 0;
	evtimer_del(g->timer);
}

static void prepare_rebalance(struct group *g)
{
	int32_t max = 0;
	int was_empty = g->c.state == TDM_GROUP_EMPTY;

	if (g->c.state == TDM_GROUP_COMPLETING)
		for (struct member *m = kf_member(g->c.members); m; m = kf_member(m->c.next))
			if (m->sync) {
				struct sync_park *sp = m->sync;
				sync_respond(sp, KF_ERR_REBALANCE_IN_PROGRESS);
			}
	if (g->c.state == TDM_GROUP_PREPARING)
		return;
	tdm_group_set_state(&g->c, TDM_GROUP_PREPARING);
	for (struct member *m = kf_member(g->c.members); m; m = kf_member(m->c.next))
		if (m->c.rebalance_timeout_ms > max)
			max = m->c.rebalance_timeout_ms;
	if (was_empty && g->gs->srv->cfg->group_initial_rebalance_delay_ms > 0) {
		int64_t delay = g->gs->srv->cfg->group_initial_rebalance_delay_ms;

		g->initial = 1;
		g->initial_deadline_ms = kf_groups_mono_ms() + max;
		arm(g->timer, delay < max ? delay : max);
	} else {
		g->initial = 0;
		arm(g->timer, max);
	}
	tdm_debug("kafka", "group %s: preparing rebalance", g->c.id);
}

static void complete_join(struct group *g)
{
	struct member *m, *next;
	const char *proto;

	evtimer_del(g->timer);
	g->initial = 0;
	for (m = kf_member(g->c.members); m; m = next) {
		next = kf_member(m->c.next);
		if (!m->join)
			kf_group_member_remove(g, m, KF_ERR_UNKNOWN_MEMBER_ID);
	}
	if (!kf_member(g->c.members)) {
		go_empty(g);
		return;
	}
	proto = tdm_group_choose_protocol(&g->c);
	if (!proto || tdm_group_complete_join(&g->c, proto) < 0) {
		/* members were admitted one by one with a common protocol, so
		 * this only happens when none is left in common (or memory
		 * is short): fail them all */
		int16_t err = proto ? KF_ERR_COORDINATOR_NOT_AVAILABLE
				    : KF_ERR_INCONSISTENT_GROUP_PROTOCOL;
		for (m = kf_member(g->c.members); m; m = next) {
			next = kf_member(m->c.next);
			kf_group_member_remove(g, m, err);
		}
		go_empty(g);
		return;
	}
	tdm_info("kafka", "group %s: generation %d with %d members, protocol %s, leader %s", g->c.id,
		 (int)g->c.generation, g->c.nmembers, g->c.protocol, g->c.leader);
	for (m = kf_member(g->c.members); m; m = kf_member(m->c.next)) {
		kf_member_session_touch(m);
		join_respond(m->join, KF_ERR_NONE);
	}
}

static int all_joined(const struct group *g)
{
	for (const struct member *m = kf_member(g->c.members); m; m = kf_member(m->c.next))
		if (!m->join)
			return 0;
	return 1;
}

static void check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct group *g = arg;

	(void)fd, (void)what;
	if (g->c.state == TDM_GROUP_PREPARING && !g->initial && all_joined(g))
		complete_join(g);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct group *g = arg;

	(void)fd, (void)what;
	if (g->c.state != TDM_GROUP_PREPARING)
		return;
	if (g->initial) {
		g->initial = 0;
		if (!all_joined(g)) {
			int64_t left = g->initial_deadline_ms - kf_groups_mono_ms();
			arm(g->timer, left > 0 ? left : 0);
			return;
		}
	}
	complete_join(g); /* rebalance timeout: drop who did not rejoin */
}

static void session_cb(evutil_socket_t fd, short what, void *arg)
{
	struct member *m = arg;
	struct group *g = kf_group(m->c.group);

	(void)fd, (void)what;
	if (m->join) {
		kf_member_session_touch(m); /* waiting in a rebalance: the rebalance timeout rules */
		return;
	}
	tdm_info("kafka", "group %s: member %s%s%s session timed out", g->c.id, m->c.id,
		 m->c.instance_id ? " of instance " : "", m->c.instance_id ? m->c.instance_id : "");
	kf_group_member_remove(g, m, KF_ERR_UNKNOWN_MEMBER_ID);
	kf_group_members_changed(g);
}

void kf_group_members_changed(struct group *g)
{
	if (!kf_member(g->c.members)) {
		go_empty(g);
	} else {
		prepare_rebalance(g);
		schedule_check(g);
	}
}

/* ---- parks ------------------------------------------------------------------------ */

static void join_cancel(struct kf_park *p)
{
	struct join_park *jp = (struct join_park *)p;

	if (jp->m)
		jp->m->join = NULL;
}

static void sync_cancel(struct kf_park *p)
{
	struct sync_park *sp = (struct sync_park *)p;

	if (sp->m)
		sp->m->sync = NULL;
}

/* ---- handlers --------------------------------------------------------------------- */

static int join_error(struct evbuffer *b, int ver, int16_t err, struct kf_str member_id)
{
	char id[512];

	/* the id as sent (one handed out with MEMBER_ID_REQUIRED: ours) */
	if (kf_str_cstr(member_id, id, sizeof(id)) < 0)
		id[0] = '\0';
	kf_group_put_join(b, ver, err, NULL, "", id);
	kf_group_put_join_members(b, ver, NULL);
	return KF_R_DONE;
}

static int set_protocols(struct member *m, const struct kf_join_group_req *r)
{
	int n = r->nprotocols > 0 ? (int)r->nprotocols : 0;
	struct tdm_group_proto *p = calloc((size_t)(n ? n : 1), sizeof(*p));
	int ok = p != NULL;

	for (int i = 0; ok && i < n; i++) {
		p[i].name = dup_str(r->protocols[i].name);
		p[i].len = r->protocols[i].metadata.len > 0 ? r->protocols[i].metadata.len : 0;
		p[i].meta = malloc(p[i].len ? (size_t)p[i].len : 1);
		ok = p[i].name && p[i].meta;
		if (ok && p[i].len)
			memcpy(p[i].meta, r->protocols[i].metadata.p, (size_t)p[i].len);
	}
	if (!ok) {
		for (int i = 0; p && i < n; i++) {
			free(p[i].name);
			free(p[i].meta);
		}
		free(p);
		return -1;
	}
	tdm_group_member_set_protos(&m->c, p, n);
	return 0;
}

/* Would a member with these protocols leave the group a protocol in common? */
static int fits_protocols(struct group *g, struct member *self, const struct kf_join_group_req *r)
{
	for (int32_t i = 0; i < r->nprotocols; i++) {
		char name[256];
		int ok = 1;

		if (kf_str_cstr(r->protocols[i].name, name, sizeof(name)) < 0)
			continue;
		for (struct member *m = kf_member(g->c.members); m && ok; m = kf_member(m->c.next))
			ok = m == self || kf_member_proto(m, name) != NULL;
		if (ok)
			return 1;
	}
	return 0;
}

/* The checks of a JoinGroup before its group is looked at. */
static int16_t join_check(struct kf_conn *kc, struct kf_join_group_req *r)
{
	const struct tdm_config *cfg = kc->srv->cfg;
	int16_t cerr;

	if (kf_authz_group(kc, &r->group_id) != KF_ERR_NONE)
		return KF_ERR_GROUP_AUTHORIZATION_FAILED;
	if (r->group_id.len <= 0)
		return KF_ERR_INVALID_GROUP_ID;
	if ((cerr = kf_groups_coordinator(kc->srv->groups)) != KF_ERR_NONE)
		return cerr;
	if (r->session_timeout_ms < (int32_t)cfg->group_min_session_timeout_ms ||
	    r->session_timeout_ms > (int32_t)cfg->group_max_session_timeout_ms)
		return KF_ERR_INVALID_SESSION_TIMEOUT;
	if (r->protocol_type.len <= 0 || r->nprotocols <= 0)
		return KF_ERR_INCONSISTENT_GROUP_PROTOCOL;
	return KF_ERR_NONE;
}

/* Protocol metadata is held per connection, up to group_max_metadata_bytes
 * (a member joining again replaces its own): 1 when this join fits. */
static int join_fits_budget(struct kf_conn *kc, const struct kf_join_group_req *r, uint64_t meta)
{
	const struct tdm_config *cfg = kc->srv->cfg;
	struct group *g = r->member_id.len > 0 ? kf_group_find(kc->srv->groups, r->group_id) : NULL;
	struct member *m = g ? member_find(g, r->member_id) : NULL;

	if (meta + kc->member_meta_bytes - (m && m->kc == kc ? m->meta_bytes : 0) <=
	    cfg->group_max_metadata_bytes)
		return 1;
	tdm_info("kafka", "%s: JoinGroup refused: %llu bytes of protocol metadata, more than "
		 "group_max_metadata_bytes (%llu) on one connection",
		 kc->c->peer, (unsigned long long)meta,
		 (unsigned long long)cfg->group_max_metadata_bytes);
	return 0;
}

/* A join naming its member id: a current member (Kafka's member check),
 * or an id handed out with MEMBER_ID_REQUIRED (*m NULL: a new member
 * takes it). */
static int16_t join_known(struct group *g, const struct kf_join_group_req *r, struct member **m)
{
	int16_t err = kf_group_check_member(g, r->member_id, r->group_instance_id, "JoinGroup", m);

	if (err == KF_ERR_UNKNOWN_MEMBER_ID && r->group_instance_id.len < 0 &&
	    kf_group_pending_take(g, r->member_id, 0))
		return KF_ERR_NONE;
	return err;
}

/* JoinGroup v4+ of a dynamic member with no member id (KIP-394): it gets
 * one with MEMBER_ID_REQUIRED and joins again with it. */
static int require_member_id(struct kf_conn *kc, struct group *g, const struct kf_join_group_req *r,
			     struct evbuffer *resp, int ver)
{
	char *id = kf_group_new_member_id(kc->srv->groups, kc, (struct kf_str){ NULL, -1 });
	int16_t err = KF_ERR_MEMBER_ID_REQUIRED;

	if (!id || kf_group_pending_add(g, id, r->session_timeout_ms) < 0)
		err = KF_ERR_COORDINATOR_NOT_AVAILABLE;
	join_error(resp, ver, err,
		   err == KF_ERR_MEMBER_ID_REQUIRED ? (struct kf_str){ id, (int32_t)strlen(id) }
						    : r->member_id);
	free(id);
	return KF_R_DONE;
}

/* A new member of g with id (malloc'd, taken over) and the request's
 * instance id, linked at the end; NULL when memory is short. */
static struct member *member_new(struct kf_conn *kc, struct group *g, char *id,
				 struct kf_str instance)
{
	struct member *m = calloc(1, sizeof(*m));

	if (!m) {
		free(id);
		return NULL;
	}
	m->c.id = id;
	m->c.client_id = dup_str(kc->hdr.client_id);
	m->c.client_host = strdup(kc->client_host);
	m->c.instance_id = instance.len >= 0 ? dup_str(instance) : NULL;
	m->session_timer = evtimer_new(kc->srv->base, session_cb, m);
	if (!m->c.id || !m->c.client_id || !m->c.client_host || !m->session_timer ||
	    (instance.len >= 0 && !m->c.instance_id)) {
		if (m->session_timer)
			event_free(m->session_timer);
		tdm_group_member_clear(&m->c);
		free(m);
		return NULL;
	}
	tdm_group_member_link(&g->c, &m->c);
	/* a new member during the initial delay extends it */
	if (g->c.state == TDM_GROUP_PREPARING && g->initial) {
		int64_t left = g->initial_deadline_ms - kf_groups_mono_ms();
		int64_t delay = kc->srv->cfg->group_initial_rebalance_delay_ms;
		arm(g->timer, left < delay ? (left > 0 ? left : 0) : delay);
	}
	return m;
}

/* The member a join is for: a current one, the static member of its
 * instance id (renamed: *old_id gets its old member id), or a new one.
 * NULL when memory is short. */
static struct member *join_member(struct kf_conn *kc, struct group *g,
				  const struct kf_join_group_req *r, struct member *m, char **old_id)
{
	char *id;

	*old_id = NULL;
	if (m)
		return m;
	if ((m = kf_group_static_member(g, r->group_instance_id))) {
		*old_id = kf_group_static_replace(kc, g, m);
		return *old_id ? m : NULL;
	}
	if (r->member_id.len > 0) {
		kf_group_pending_take(g, r->member_id, 1);
		id = dup_str(r->member_id);
	} else {
		id = kf_group_new_member_id(kc->srv->groups, kc, r->group_instance_id);
	}
	return id ? member_new(kc, g, id, r->group_instance_id) : NULL;
}

/* m waits in the rebalance its join starts (or joins). */
static int join_park(struct kf_conn *kc, struct group *g, struct member *m, int ver)
{
	struct join_park *jp;

	if (m->join) {
		/* the same member joined again from another request: the old one loses */
		struct join_park *old = m->join;
		old->m = NULL;
		m->join = NULL;
		join_respond(old, KF_ERR_UNKNOWN_MEMBER_ID);
	}
	jp = kf_arena_alloc(&kc->arena, sizeof(*jp));
	if (!jp)
		return KF_R_CLOSE;
	jp->base.cancel = join_cancel;
	jp->kc = kc;
	jp->m = m;
	jp->ver = ver;
	m->join = jp;
	kc->park = &jp->base;
	evtimer_del(m->session_timer);
	prepare_rebalance(g);
	schedule_check(g);
	return KF_R_PARKED;
}

int kf_h_join_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_join_group_req r;
	struct group *g;
	struct member *m = NULL;
	char *old_id;
	uint64_t meta;
	int16_t err;
	int now;

	if (kf_decode_join_group(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (r.reason.len > 0) /* v8+ */
		tdm_debug("kafka", "%s: JoinGroup of %.*s: %.*s", kc->c->peer,
			  (int)(r.member_id.len > 0 ? r.member_id.len : 0),
			  r.member_id.p ? r.member_id.p : "", (int)r.reason.len, r.reason.p);
	if ((err = join_check(kc, &r)) != KF_ERR_NONE)
		return join_error(resp, ver, err, r.member_id);
	meta = protos_bytes(&r);
	if (!join_fits_budget(kc, &r, meta))
		return join_error(resp, ver, KF_ERR_INVALID_REQUEST, r.member_id);
	g = group_get(kc->srv->groups, r.group_id);
	if (!g)
		return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
	if (r.member_id.len > 0 && (err = join_known(g, &r, &m)) != KF_ERR_NONE)
		return join_error(resp, ver, err, r.member_id);
	if (g->c.state != TDM_GROUP_EMPTY &&
	    (!g->c.protocol_type || !kf_str_eq(r.protocol_type, g->c.protocol_type) ||
	     !fits_protocols(g, m, &r)))
		return join_error(resp, ver, KF_ERR_INCONSISTENT_GROUP_PROTOCOL, r.member_id);
	if (!m && r.member_id.len <= 0 && r.group_instance_id.len < 0 && ver >= 4)
		return require_member_id(kc, g, &r, resp, ver);
	if (!(m = join_member(kc, g, &r, m, &old_id)))
		return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
	if (g->c.state == TDM_GROUP_EMPTY)
		tdm_group_set_protocol_type(&g->c, r.protocol_type.p, (size_t)r.protocol_type.len);
	tdm_group_member_set_timeouts(&m->c, r.session_timeout_ms, r.rebalance_timeout_ms);
	if (set_protocols(m, &r) < 0) {
		free(old_id);
		kf_group_member_remove(g, m, KF_ERR_COORDINATOR_NOT_AVAILABLE);
		if (!kf_member(g->c.members))
			go_empty(g);
		return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
	}
	member_disown(m);
	m->meta_bytes = meta;
	member_own(m, kc);
	now = old_id && kf_group_static_rejoined(g, m, old_id, resp, ver);
	free(old_id);
	return now ? KF_R_DONE : join_park(kc, g, m, ver);
}

int kf_h_sync_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_sync_group_req r;
	struct group *g;
	struct member *m;
	struct sync_park *sp;
	int16_t cerr;

	if (kf_decode_sync_group(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (kf_authz_group(kc, &r.group_id) != KF_ERR_NONE) {
		kf_group_put_sync(resp, ver, KF_ERR_GROUP_AUTHORIZATION_FAILED, NULL, NULL, 0);
		return KF_R_DONE;
	}
	if ((cerr = kf_groups_coordinator(kc->srv->groups)) != KF_ERR_NONE) {
		kf_group_put_sync(resp, ver, cerr, NULL, NULL, 0);
		return KF_R_DONE;
	}
	g = kf_group_find(kc->srv->groups, r.group_id);
	if ((cerr = kf_group_check_member(g, r.member_id, r.group_instance_id, "SyncGroup", &m))) {
		kf_group_put_sync(resp, ver, cerr, NULL, NULL, 0);
		return KF_R_DONE;
	}
	cerr = r.generation_id != g->c.generation
		       ? KF_ERR_ILLEGAL_GENERATION
		       : kf_group_sync_protocol_check(g, r.protocol_type, r.protocol_name);
	if (!cerr && g->c.state == TDM_GROUP_PREPARING)
		cerr = KF_ERR_REBALANCE_IN_PROGRESS;
	if (cerr) {
		kf_group_put_sync(resp, ver, cerr, NULL, NULL, 0);
		return KF_R_DONE;
	}
	kf_member_session_touch(m);
	if (g->c.state == TDM_GROUP_STABLE) {
		kf_group_put_sync(resp, ver, KF_ERR_NONE, g, m->c.assignment, m->c.assignment_len);
		return KF_R_DONE;
	}
	/* CompletingRebalance */
	if (g->c.leader && strcmp(g->c.leader, m->c.id) == 0) {
		for (int32_t i = 0; i < r.nassignments; i++) {
			struct member *o = member_find(g, r.assignments[i].member_id);
			int32_t len = r.assignments[i].assignment.len;

			if (!o || len < 0)
				continue;
			tdm_group_set_assignment(&o->c, r.assignments[i].assignment.p, len);
		}
		tdm_group_set_state(&g->c, TDM_GROUP_STABLE);
		for (struct member *o = kf_member(g->c.members); o; o = kf_member(o->c.next))
			if (o->sync)
				sync_respond(o->sync, KF_ERR_NONE);
		kf_group_put_sync(resp, ver, KF_ERR_NONE, g, m->c.assignment, m->c.assignment_len);
		return KF_R_DONE;
	}
	if (m->sync) {
		struct sync_park *old = m->sync;
		old->m = NULL;
		m->sync = NULL;
		kf_group_put_sync(old->kc->resp, old->ver, KF_ERR_REBALANCE_IN_PROGRESS, NULL, NULL, 0);
		kf_complete(old->kc, old->kc->resp);
	}
	sp = kf_arena_alloc(&kc->arena, sizeof(*sp));
	if (!sp)
		return KF_R_CLOSE;
	sp->base.cancel = sync_cancel;
	sp->kc = kc;
	sp->m = m;
	sp->ver = ver;
	m->sync = sp;
	kc->park = &sp->base;
	return KF_R_PARKED;
}

int kf_h_heartbeat(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_heartbeat_req r;
	struct group *g;
	struct member *m;
	int16_t err = KF_ERR_NONE;

	if (kf_decode_heartbeat(cur, ver, &r) < 0)
		return KF_R_CLOSE;
	err = kf_authz_group(kc, &r.group_id);
	if (!err)
		err = kf_groups_coordinator(kc->srv->groups);
	g = err ? NULL : kf_group_find(kc->srv->groups, r.group_id);
	m = NULL; /* refused: the group is not touched */
	if (!err)
		err = kf_group_check_member(g, r.member_id, r.group_instance_id, "Heartbeat", &m);
	if (!err && (r.generation_id != g->c.generation || g->c.state == TDM_GROUP_PREPARING))
		err = g->c.state == TDM_GROUP_PREPARING ? KF_ERR_REBALANCE_IN_PROGRESS
							: KF_ERR_ILLEGAL_GENERATION;
	if (m && !m->join)
		kf_member_session_touch(m);
	kf_group_put_heartbeat(resp, ver, err);
	return KF_R_DONE;
}

/* LeaveGroup v3+'s answer: per member, its identity and error (v5: the
 * reason it gave is logged). */
static void leave_batch(struct group *g, const struct kf_leave_group_req *r, int flex,
			struct evbuffer *resp)
{
	int left = 0;

	kf_put_i16(resp, KF_ERR_NONE);
	kf_put_farray(resp, flex, r->nmembers);
	for (int32_t i = 0; i < r->nmembers; i++) {
		const struct kf_leave_member *lm = &r->members[i];
		int16_t err = kf_group_leave_one(g, lm->member_id, lm->group_instance_id);

		if (!err && lm->reason.len > 0)
			tdm_info("kafka", "group %s: member %.*s left: %.*s", g->c.id,
				 (int)lm->member_id.len, lm->member_id.p, (int)lm->reason.len,
				 lm->reason.p);
		left += err == KF_ERR_NONE;
		kf_put_fkstr(resp, flex, lm->member_id);
		kf_put_fkstr(resp, flex, lm->group_instance_id);
		kf_put_i16(resp, err);
		kf_put_tags(resp, flex);
	}
	if (left)
		kf_group_members_changed(g);
}

/* v0-2 name one member; v3 a batch, each with an instance id or none
 * (Kafka's admin removes static members by instance id, member id ""). */
int kf_h_leave_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_leave_group_req r;
	struct group *g;
	int16_t err;

	if (kf_decode_leave_group(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	err = kf_authz_group(kc, &r.group_id);
	if (!err)
		err = kf_groups_coordinator(kc->srv->groups);
	/* refused (or not coordinated here): the group is not touched */
	g = err ? NULL : kf_group_find(kc->srv->groups, r.group_id);
	if (ver >= 1)
		kf_put_i32(resp, 0);
	if (ver >= 3 && !err) {
		leave_batch(g, &r, flex, resp);
		kf_put_tags(resp, flex);
		return KF_R_DONE;
	}
	if (!err && (err = kf_group_leave_one(g, r.members[0].member_id,
					      r.members[0].group_instance_id)) == KF_ERR_NONE)
		kf_group_members_changed(g);
	kf_put_i16(resp, err);
	if (ver >= 3)
		kf_put_farray(resp, flex, 0); /* Kafka: a group-level error, no members */
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}

int16_t kf_groups_check_commit(struct kf_groups *gs, struct kf_str group, int32_t generation,
			       struct kf_str member, struct kf_str instance)
{
	struct tdm_group_member *who;
	int rc = tdm_groups_check_commit(gs->core, group.len < 0 ? NULL : group.p,
					 group.len < 0 ? 0 : (size_t)group.len, generation,
					 member.len < 0 ? NULL : member.p,
					 member.len < 0 ? 0 : (size_t)member.len,
					 instance.len < 0 ? NULL : instance.p,
					 instance.len < 0 ? 0 : (size_t)instance.len, &who);

	if (who && !kf_member(who)->join)
		kf_member_session_touch(kf_member(who));
	return kf_err_from_group(rc);
}

/* ---- life cycle ------------------------------------------------------------------- */

static void group_free(struct group *g)
{
	while (kf_member(g->c.members)) {
		struct member *m = kf_member(g->c.members);
		/* connections are gone: their parks were cancelled */
		m->join = NULL;
		m->sync = NULL;
		kf_group_member_remove(g, m, KF_ERR_COORDINATOR_NOT_AVAILABLE);
	}
	event_free(g->timer);
	event_free(g->check_ev);
	kf_group_pending_free(g);
	tdm_group_clear(&g->c);
	free(g);
}

/* Core dropped an Empty group (DeleteGroups from the management API). */
static void free_group(void *ctx, struct tdm_group *cg)
{
	(void)ctx;
	tdm_info("kafka", "group %s: deleted", cg->id);
	group_free(kf_group(cg));
}

/* ---- the coordinator in a cluster ---------------------------------------------- */

/* Drops every group held here (coordination moved, or a new term starts):
 * parked joins and syncs are answered err. */
static void unload_groups(struct kf_groups *gs, int16_t err)
{
	struct tdm_group *cg;
	size_t pos = 0;

	while ((cg = tdm_groups_next(gs->core, &pos))) {
		struct group *g = kf_group(cg);

		tdm_groups_remove(gs->core, cg);
		while (kf_member(g->c.members))
			kf_group_member_remove(g, kf_member(g->c.members), err);
		group_free(g);
	}
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	kf_groups_coordinator(arg);
}

int16_t kf_groups_coordinator(struct kf_groups *gs)
{
	struct tdm_replica *rep = gs->srv->replica;
	const struct tdm_partition_state *st;
	int rc;

	if (!rep)
		return KF_ERR_NONE;
	if (!gs->watch) {
		/* from the first group request on: notice a lost (or won)
		 * coordination without waiting for the next request */
		struct timeval tv = { 0, 200 * 1000 };

		gs->watch = event_new(gs->srv->base, -1, EV_PERSIST, watch_cb, gs);
		if (gs->watch)
			event_add(gs->watch, &tv);
	}
	st = tdm_replica_state(rep, TDM_GROUPS_TOPIC, 0);
	if (!st || !tdm_groups_log(gs->core) ||
	    tdm_replica_check_leader(rep, TDM_GROUPS_TOPIC, 0) != TDM_REPL_OK) {
		/* the offsets log here is a replica: only its leader writes it */
		tdm_groups_set_follower(gs->core, 1);
		if (gs->loaded) {
			tdm_info("kafka", "no longer the group coordinator (%s-0 is led by node %d)",
				 TDM_GROUPS_TOPIC, st ? (int)st->leader : -1);
			unload_groups(gs, KF_ERR_NOT_COORDINATOR);
			gs->loaded = 0;
		}
		return KF_ERR_NOT_COORDINATOR;
	}
	if (gs->loaded && gs->loaded_epoch == st->leader_epoch)
		return KF_ERR_NONE;
	/* a new term: what the log holds is what the offsets are */
	unload_groups(gs, KF_ERR_NOT_COORDINATOR);
	gs->loaded = 0;
	rc = tdm_groups_reload(gs->core);
	tdm_groups_set_follower(gs->core, rc != TDM_TOPIC_OK);
	if (rc != TDM_TOPIC_OK) {
		tdm_error("kafka", "reading the committed offsets from %s-0 failed: %s",
			  TDM_GROUPS_TOPIC, tdm_strerror(rc));
		return KF_ERR_COORDINATOR_NOT_AVAILABLE;
	}
	gs->loaded = 1;
	gs->loaded_epoch = st->leader_epoch;
	tdm_info("kafka", "group coordinator now (leader of %s-0, epoch %d): committed offsets "
		 "read from its log", TDM_GROUPS_TOPIC, (int)st->leader_epoch);
	return KF_ERR_NONE;
}

static const struct tdm_group_coordinator coordinator = {
	.free_group = free_group,
	.assignment = kf_group_assignment,
};

struct kf_groups *kf_groups_new(struct kf_server *srv)
{
	struct kf_groups *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return NULL;
	gs->srv = srv;
	gs->core = srv->cgroups;
	tdm_groups_set_coordinator(gs->core, &coordinator, gs);
	return gs;
}

void kf_groups_free(struct kf_groups *gs)
{
	struct tdm_group *g;
	size_t pos = 0;

	if (!gs)
		return;
	tdm_groups_set_coordinator(gs->core, NULL, NULL);
	tdm_replica_op_forget(gs->create_op);
	if (gs->watch)
		event_free(gs->watch);
	while ((g = tdm_groups_next(gs->core, &pos))) {
		tdm_groups_remove(gs->core, g);
		group_free(kf_group(g));
	}
	free(gs);
}
