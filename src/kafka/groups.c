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
 * Also FindCoordinator v0, ListGroups v0 and DescribeGroups v0.
 * Committed offsets: offsets.c.
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

static int64_t mono_ms(void)
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

static struct group *group_find(struct kf_groups *gs, struct kf_str id)
{
	return id.len < 0 ? NULL : kf_group(tdm_groups_find(gs->core, id.p, (size_t)id.len));
}

static struct group *group_get(struct kf_groups *gs, struct kf_str id)
{
	struct group *g = group_find(gs, id);

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

static const struct tdm_group_proto *member_proto(const struct member *m, const char *name)
{
	return tdm_group_member_proto(&m->c, name);
}

static void session_touch(struct member *m)
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
	if (jp->ver >= 2)
		kf_put_i32(b, 0);
	kf_put_i16(b, err);
	kf_put_i32(b, err ? -1 : g->c.generation);
	kf_put_str(b, err ? "" : g->c.protocol);
	kf_put_str(b, err ? "" : g->c.leader);
	kf_put_str(b, m ? m->c.id : "");
	if (!leader) {
		kf_put_i32(b, 0);
	} else {
		kf_put_i32(b, g->c.nmembers);
		for (struct member *o = kf_member(g->c.members); o; o = kf_member(o->c.next)) {
			const struct tdm_group_proto *pm = member_proto(o, g->c.protocol);

			kf_put_str(b, o->c.id);
			kf_put_bytes(b, pm ? pm->meta : NULL, pm ? pm->len : 0);
		}
	}
	kf_complete(kc, b);
}

static void put_sync(struct evbuffer *b, int ver, int16_t err, const uint8_t *a, int32_t len)
{
	if (ver >= 1)
		kf_put_i32(b, 0);
	kf_put_i16(b, err);
	kf_put_bytes(b, a, err ? 0 : len);
}

static void sync_respond(struct sync_park *sp, int16_t err)
{
	struct member *m = sp->m;

	if (m)
		m->sync = NULL;
	put_sync(sp->kc->resp, sp->ver, err, m ? m->c.assignment : NULL, m ? m->c.assignment_len : 0);
	kf_complete(sp->kc, sp->kc->resp);
}

/* ---- state machine ---------------------------------------------------------------- */

static void member_remove(struct group *g, struct member *m, int16_t err)
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
		g->initial_deadline_ms = mono_ms() + max;
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
			member_remove(g, m, KF_ERR_UNKNOWN_MEMBER_ID);
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
			member_remove(g, m, err);
		}
		go_empty(g);
		return;
	}
	tdm_info("kafka", "group %s: generation %d with %d members, protocol %s, leader %s", g->c.id,
		 (int)g->c.generation, g->c.nmembers, g->c.protocol, g->c.leader);
	for (m = kf_member(g->c.members); m; m = kf_member(m->c.next)) {
		session_touch(m);
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
			int64_t left = g->initial_deadline_ms - mono_ms();
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
		session_touch(m); /* waiting in a rebalance: the rebalance timeout rules */
		return;
	}
	tdm_info("kafka", "group %s: member %s session timed out", g->c.id, m->c.id);
	member_remove(g, m, KF_ERR_UNKNOWN_MEMBER_ID);
	if (!kf_member(g->c.members))
		go_empty(g);
	else {
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
	if (ver >= 2)
		kf_put_i32(b, 0);
	kf_put_i16(b, err);
	kf_put_i32(b, -1);
	kf_put_str(b, "");
	kf_put_str(b, "");
	kf_put_kstr(b, member_id.len < 0 ? (struct kf_str){ "", 0 } : member_id);
	kf_put_i32(b, 0);
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
			ok = m == self || member_proto(m, name) != NULL;
		if (ok)
			return 1;
	}
	return 0;
}

int kf_h_join_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_groups *gs = kc->srv->groups;
	const struct tdm_config *cfg = kc->srv->cfg;
	int ver = kc->hdr.api_version;
	struct kf_join_group_req r;
	struct group *g;
	struct member *m;
	struct join_park *jp;
	uint64_t meta;
	int16_t cerr;

	if (kf_decode_join_group(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (kf_authz_group(kc, &r.group_id) != KF_ERR_NONE)
		return join_error(resp, ver, KF_ERR_GROUP_AUTHORIZATION_FAILED, r.member_id);
	if (r.group_id.len <= 0)
		return join_error(resp, ver, KF_ERR_INVALID_GROUP_ID, r.member_id);
	if ((cerr = kf_groups_coordinator(gs)) != KF_ERR_NONE)
		return join_error(resp, ver, cerr, r.member_id);
	if (r.session_timeout_ms < (int32_t)cfg->group_min_session_timeout_ms ||
	    r.session_timeout_ms > (int32_t)cfg->group_max_session_timeout_ms)
		return join_error(resp, ver, KF_ERR_INVALID_SESSION_TIMEOUT, r.member_id);
	if (r.protocol_type.len <= 0 || r.nprotocols <= 0)
		return join_error(resp, ver, KF_ERR_INCONSISTENT_GROUP_PROTOCOL, r.member_id);
	g = r.member_id.len > 0 ? group_find(gs, r.group_id) : NULL;
	m = g ? member_find(g, r.member_id) : NULL;
	/* metadata is held per connection, up to group_max_metadata_bytes
	 * (a member joining again replaces its own) */
	meta = protos_bytes(&r);
	if (meta + kc->member_meta_bytes - (m && m->kc == kc ? m->meta_bytes : 0) >
	    cfg->group_max_metadata_bytes) {
		tdm_info("kafka", "%s: JoinGroup refused: %llu bytes of protocol metadata, more than "
			 "group_max_metadata_bytes (%llu) on one connection",
			 kc->c->peer, (unsigned long long)meta,
			 (unsigned long long)cfg->group_max_metadata_bytes);
		return join_error(resp, ver, KF_ERR_INVALID_REQUEST, r.member_id);
	}
	g = group_get(gs, r.group_id);
	if (!g)
		return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
	m = r.member_id.len > 0 ? member_find(g, r.member_id) : NULL;
	if (r.member_id.len > 0 && !m)
		return join_error(resp, ver, KF_ERR_UNKNOWN_MEMBER_ID, r.member_id);
	if (g->c.state != TDM_GROUP_EMPTY &&
	    (!g->c.protocol_type || !kf_str_eq(r.protocol_type, g->c.protocol_type) ||
	     !fits_protocols(g, m, &r)))
		return join_error(resp, ver, KF_ERR_INCONSISTENT_GROUP_PROTOCOL, r.member_id);
	if (!m) {
		char id[512];

		m = calloc(1, sizeof(*m));
		if (!m)
			return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
		snprintf(id, sizeof(id), "%.*s-%08x-%llu",
			 (int)(kc->hdr.client_id.len > 0 && kc->hdr.client_id.len < 200 ? kc->hdr.client_id.len : 0),
			 kc->hdr.client_id.p ? kc->hdr.client_id.p : "", (unsigned)random(),
			 (unsigned long long)++gs->next_member);
		m->c.id = strdup(id);
		m->c.client_id = dup_str(kc->hdr.client_id);
		m->c.client_host = strdup(kc->client_host);
		m->session_timer = evtimer_new(kc->srv->base, session_cb, m);
		if (!m->c.id || !m->c.client_id || !m->c.client_host || !m->session_timer) {
			if (m->session_timer)
				event_free(m->session_timer);
			free(m->c.id);
			free(m->c.client_id);
			free(m->c.client_host);
			free(m);
			return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
		}
		tdm_group_member_link(&g->c, &m->c);
		/* a new member during the initial delay extends it */
		if (g->c.state == TDM_GROUP_PREPARING && g->initial) {
			int64_t left = g->initial_deadline_ms - mono_ms();
			int64_t delay = cfg->group_initial_rebalance_delay_ms;
			arm(g->timer, left < delay ? (left > 0 ? left : 0) : delay);
		}
	}
	if (g->c.state == TDM_GROUP_EMPTY)
		tdm_group_set_protocol_type(&g->c, r.protocol_type.p, (size_t)r.protocol_type.len);
	tdm_group_member_set_timeouts(&m->c, r.session_timeout_ms, r.rebalance_timeout_ms);
	if (set_protocols(m, &r) < 0) {
		member_remove(g, m, KF_ERR_COORDINATOR_NOT_AVAILABLE);
		if (!kf_member(g->c.members))
			go_empty(g);
		return join_error(resp, ver, KF_ERR_COORDINATOR_NOT_AVAILABLE, r.member_id);
	}
	member_disown(m);
	m->meta_bytes = meta;
	member_own(m, kc);
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
		put_sync(resp, ver, KF_ERR_GROUP_AUTHORIZATION_FAILED, NULL, 0);
		return KF_R_DONE;
	}
	if ((cerr = kf_groups_coordinator(kc->srv->groups)) != KF_ERR_NONE) {
		put_sync(resp, ver, cerr, NULL, 0);
		return KF_R_DONE;
	}
	g = group_find(kc->srv->groups, r.group_id);
	m = g ? member_find(g, r.member_id) : NULL;
	if (!m) {
		put_sync(resp, ver, KF_ERR_UNKNOWN_MEMBER_ID, NULL, 0);
		return KF_R_DONE;
	}
	if (r.generation_id != g->c.generation) {
		put_sync(resp, ver, KF_ERR_ILLEGAL_GENERATION, NULL, 0);
		return KF_R_DONE;
	}
	if (g->c.state == TDM_GROUP_PREPARING) {
		put_sync(resp, ver, KF_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
		return KF_R_DONE;
	}
	session_touch(m);
	if (g->c.state == TDM_GROUP_STABLE) {
		put_sync(resp, ver, KF_ERR_NONE, m->c.assignment, m->c.assignment_len);
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
		put_sync(resp, ver, KF_ERR_NONE, m->c.assignment, m->c.assignment_len);
		return KF_R_DONE;
	}
	if (m->sync) {
		struct sync_park *old = m->sync;
		old->m = NULL;
		m->sync = NULL;
		put_sync(old->kc->resp, old->ver, KF_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
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
	g = err ? NULL : group_find(kc->srv->groups, r.group_id);
	m = g ? member_find(g, r.member_id) : NULL;
	if (err)
		m = NULL; /* refused: the group is not touched */
	else if (!m)
		err = KF_ERR_UNKNOWN_MEMBER_ID;
	else if (r.generation_id != g->c.generation)
		err = g->c.state == TDM_GROUP_PREPARING ? KF_ERR_REBALANCE_IN_PROGRESS : KF_ERR_ILLEGAL_GENERATION;
	else if (g->c.state == TDM_GROUP_PREPARING)
		err = KF_ERR_REBALANCE_IN_PROGRESS;
	if (m && !m->join)
		session_touch(m);
	if (ver >= 1)
		kf_put_i32(resp, 0);
	kf_put_i16(resp, err);
	return KF_R_DONE;
}

int kf_h_leave_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_leave_group_req r;
	struct group *g;
	struct member *m;
	int16_t err = KF_ERR_NONE;

	if (kf_decode_leave_group(cur, ver, &r) < 0)
		return KF_R_CLOSE;
	err = kf_authz_group(kc, &r.group_id);
	if (!err)
		err = kf_groups_coordinator(kc->srv->groups);
	g = err ? NULL : group_find(kc->srv->groups, r.group_id);
	m = g ? member_find(g, r.member_id) : NULL;
	if (err) {
		/* refused (or not coordinated here): the group is not touched */
	} else if (!m) {
		err = KF_ERR_UNKNOWN_MEMBER_ID;
	} else {
		tdm_info("kafka", "group %s: member %s left", g->c.id, m->c.id);
		member_remove(g, m, KF_ERR_UNKNOWN_MEMBER_ID);
		if (!kf_member(g->c.members)) {
			go_empty(g);
		} else {
			prepare_rebalance(g);
			schedule_check(g);
		}
	}
	if (ver >= 1)
		kf_put_i32(resp, 0);
	kf_put_i16(resp, err);
	return KF_R_DONE;
}

int16_t kf_groups_check_commit(struct kf_groups *gs, struct kf_str group, int32_t generation,
			       struct kf_str member)
{
	struct tdm_group_member *who;
	int rc = tdm_groups_check_commit(gs->core, group.len < 0 ? NULL : group.p,
					 group.len < 0 ? 0 : (size_t)group.len, generation,
					 member.len < 0 ? NULL : member.p,
					 member.len < 0 ? 0 : (size_t)member.len, &who);

	if (who && !kf_member(who)->join)
		session_touch(kf_member(who));
	return kf_err_from_group(rc);
}

static void offsets_topic_made(void *arg, int rc, const char *msg)
{
	struct kf_groups *gs = arg;

	gs->create_op = NULL;
	if (rc == TDM_TOPIC_OK)
		tdm_info("kafka", "group offsets topic %s created", TDM_GROUPS_TOPIC);
	else if (rc != TDM_ERR_EXISTS)
		tdm_warn("kafka", "creating the group offsets topic %s: %s", TDM_GROUPS_TOPIC,
			 msg && msg[0] ? msg : tdm_replica_strerror(rc));
}

/* Has the controller create the group offsets topic (Kafka: on the first
 * FindCoordinator): one partition, replication factor min(3, live nodes)
 * (offsets.topic.replication.factor 3), compacted. */
static void make_offsets_topic(struct kf_groups *gs, size_t live)
{
	static const struct tdm_kv compact[] = { { "cleanup.policy", "compact" } };
	struct tdm_replica_topic_spec spec = { .name = TDM_GROUPS_TOPIC,
					       .partitions = 1,
					       .replication_factor = live < 3 ? (int32_t)live : 3,
					       .configs = compact,
					       .nconfigs = 1 };
	char err[256] = "";
	int rc;

	if (gs->create_op || live == 0)
		return;
	rc = tdm_replica_create_topic(gs->srv->replica, &spec, offsets_topic_made, gs,
				      &gs->create_op, err, sizeof(err));
	if (rc != TDM_TOPIC_OK) {
		gs->create_op = NULL;
		tdm_warn("kafka", "creating the group offsets topic %s: %s", TDM_GROUPS_TOPIC,
			 err[0] ? err : tdm_replica_strerror(rc));
	}
}

/* FindCoordinator in a cluster: the leader of the offsets partition. */
static int find_in_cluster(struct kf_server *srv, struct evbuffer *resp)
{
	const struct tdm_partition_state *st = tdm_replica_state(srv->replica, TDM_GROUPS_TOPIC, 0);
	const struct tdm_replica_node *nodes, *nd = NULL;
	size_t n = tdm_replica_nodes(srv->replica, &nodes);

	if (!st)
		make_offsets_topic(srv->groups, n);
	for (size_t i = 0; st && st->leader != TDM_NO_NODE && i < n; i++)
		if (nodes[i].id == st->leader && nodes[i].kafka_port > 0)
			nd = &nodes[i];
	kf_put_i16(resp, nd ? KF_ERR_NONE : KF_ERR_COORDINATOR_NOT_AVAILABLE);
	kf_put_i32(resp, nd ? nd->id : -1);
	kf_put_str(resp, nd ? nd->host : "");
	kf_put_i32(resp, nd ? nd->kafka_port : -1);
	return KF_R_DONE;
}

int kf_h_find_coordinator(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_find_coordinator_req r;

	if (kf_decode_find_coordinator(cur, kc->hdr.api_version, &r) < 0)
		return KF_R_CLOSE;
	if (kf_authz_group(kc, &r.key) != KF_ERR_NONE) {
		/* Kafka: the error and no node */
		kf_put_i16(resp, KF_ERR_GROUP_AUTHORIZATION_FAILED);
		kf_put_i32(resp, -1);
		kf_put_str(resp, "");
		kf_put_i32(resp, -1);
		return KF_R_DONE;
	}
	if (kc->srv->replica && r.key.len > 0)
		return find_in_cluster(kc->srv, resp);
	kf_put_i16(resp, r.key.len <= 0 ? KF_ERR_INVALID_GROUP_ID : KF_ERR_NONE);
	kf_put_i32(resp, KF_NODE_ID);
	kf_put_str(resp, kc->host);
	kf_put_i32(resp, kc->port);
	return KF_R_DONE;
}

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

int kf_h_list_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct tdm_groups *core = kc->srv->cgroups;
	struct offset_groups og = { kc, &kc->arena, NULL, 0, 0 };
	struct tdm_group *g;
	size_t pos = 0;
	int32_t n = 0;

	if (kf_decode_list_groups(cur, kc->hdr.api_version) < 0)
		return KF_R_CLOSE;
	if (kf_groups_coordinator(kc->srv->groups) != KF_ERR_NONE) {
		/* Kafka: a broker lists the groups it coordinates, here none */
		kf_put_i16(resp, KF_ERR_NONE);
		kf_put_i32(resp, 0);
		return KF_R_DONE;
	}
	tdm_groups_offset_only(core, offset_group_fn, &og);
	if (og.failed)
		return KF_R_CLOSE;
	while ((g = tdm_groups_next(core, &pos)))
		n += kf_authz_group_listed(kc, g->id) != NULL;
	kf_put_i16(resp, KF_ERR_NONE);
	kf_put_i32(resp, n + og.count);
	pos = 0;
	while ((g = tdm_groups_next(core, &pos))) {
		const char *id = kf_authz_group_listed(kc, g->id);

		if (!id)
			continue;
		kf_put_str(resp, id);
		kf_put_str(resp, g->protocol_type ? g->protocol_type : "consumer");
	}
	for (struct name_item *it = og.list; it; it = it->next) {
		kf_put_str(resp, it->name);
		kf_put_str(resp, "consumer");
	}
	return KF_R_DONE;
}

int kf_h_describe_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_describe_groups_req r;
	int16_t cerr;

	if (kf_decode_describe_groups(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	cerr = kf_groups_coordinator(kc->srv->groups);
	kf_put_i32(resp, r.ngroups);
	for (int32_t i = 0; i < r.ngroups; i++) {
		struct kf_str gid = r.groups[i]; /* as core keys it, after the check */
		struct group *g;
		const char *state = "Dead";
		int stable;

		int16_t gerr = kf_authz_group(kc, &gid) != KF_ERR_NONE
				       ? KF_ERR_GROUP_AUTHORIZATION_FAILED : cerr;

		if (gerr != KF_ERR_NONE) {
			/* Kafka: the error, and nothing about the group */
			kf_put_i16(resp, gerr);
			kf_put_kstr(resp, r.groups[i]);
			kf_put_str(resp, "");
			kf_put_str(resp, "");
			kf_put_str(resp, "");
			kf_put_i32(resp, 0);
			continue;
		}
		g = group_find(kc->srv->groups, gid);
		if (!g) {
			char name[1024];
			int has = kf_str_cstr(gid, name, sizeof(name)) == 0 &&
				  tdm_groups_has_offsets(kc->srv->cgroups, name);

			kf_put_i16(resp, KF_ERR_NONE);
			kf_put_kstr(resp, r.groups[i]);
			kf_put_str(resp, has ? "Empty" : "Dead");
			kf_put_str(resp, has ? "consumer" : "");
			kf_put_str(resp, "");
			kf_put_i32(resp, 0);
			continue;
		}
		state = tdm_group_state_name(g->c.state);
		stable = g->c.state == TDM_GROUP_STABLE;
		kf_put_i16(resp, KF_ERR_NONE);
		kf_put_kstr(resp, r.groups[i]);
		kf_put_str(resp, state);
		kf_put_str(resp, g->c.protocol_type ? g->c.protocol_type : "consumer");
		kf_put_str(resp, stable && g->c.protocol ? g->c.protocol : "");
		kf_put_i32(resp, g->c.nmembers);
		for (struct member *m = kf_member(g->c.members); m; m = kf_member(m->c.next)) {
			const struct tdm_group_proto *pm = stable ? member_proto(m, g->c.protocol) : NULL;

			kf_put_str(resp, m->c.id);
			kf_put_str(resp, m->c.client_id);
			kf_put_str(resp, m->c.client_host);
			kf_put_bytes(resp, pm ? pm->meta : NULL, pm ? pm->len : 0);
			kf_put_bytes(resp, stable ? m->c.assignment : NULL, stable ? m->c.assignment_len : 0);
		}
	}
	return KF_R_DONE;
}

/* ---- life cycle ------------------------------------------------------------------- */

static void group_free(struct group *g)
{
	while (kf_member(g->c.members)) {
		struct member *m = kf_member(g->c.members);
		/* connections are gone: their parks were cancelled */
		m->join = NULL;
		m->sync = NULL;
		member_remove(g, m, KF_ERR_COORDINATOR_NOT_AVAILABLE);
	}
	event_free(g->timer);
	event_free(g->check_ev);
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
			member_remove(g, kf_member(g->c.members), err);
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
