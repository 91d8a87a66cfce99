/*
 * The replica manager (core/replica.h): per partition, the state the
 * cluster gave it and, where this node leads, each follower's log end, the
 * high watermark and the ISR checks (Kafka's Partition.scala:
 * maybeExpandIsr, maybeShrinkIsr, maybeIncrementLeaderHW,
 * checkEnoughReplicasReachOffset).
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, protocol front ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/map.h"
#include "core/replica.h"
#include "core/replica_internal.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "logstore/logstore.h"

/* Ticks (about 100 ms each) an ISR change may stay unanswered. */
#define ISR_PENDING_TICKS 50

static size_t part_key(char *buf, size_t len, const char *topic, int32_t partition)
{
	int n = snprintf(buf, len, "%s/%" PRId32, topic, partition);
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

struct rep_part *tdm_replica_part_get(const struct tdm_replica *r, const char *topic,
				      int32_t partition)
{
	char key[320];
	size_t n = part_key(key, sizeof(key), topic, partition);
	return n ? tdm_map_get(&r->parts, key, n) : NULL;
}

static void part_free(struct rep_part *rp)
{
	if (!rp)
		return;
	free(rp->topic);
	free(rp->replicas);
	free(rp->isr);
	free(rp->fol);
	free(rp);
}

static struct ls_partition *part_log(const struct tdm_replica *r, const struct rep_part *rp)
{
	struct ls_topic *t = tdm_topic_find(r->topics, rp->topic);
	return t ? tdm_topic_partition(t, rp->partition) : NULL;
}

static int in_list(const int32_t *ids, size_t n, int32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static int update_hw(struct tdm_replica *r, struct rep_part *rp, struct ls_partition *p);

struct rep_follower *tdm_replica_follower_of(const struct rep_part *rp, int32_t id)
{
	for (size_t i = 0; i < rp->nfol; i++)
		if (rp->fol[i].id == id)
			return &rp->fol[i];
	return NULL;
}

/* topics' append hook: after a leader's append the high watermark may
 * move, when the leader is alone in its ISR (Kafka's maybeIncrementLeaderHW
 * after appendRecordsToLeader); with followers in the ISR it moves on
 * their fetches. */
static void leader_appended(void *ctx, struct ls_partition *p)
{
	struct tdm_replica *r = ctx;
	const struct ls_topic *tp = ls_partition_topic(p);
	struct rep_part *rp = tp ? tdm_replica_part_get(r, tdm_topic_name(tp), tdm_partition_index(p)) : NULL;
	if (rp && rp->leader_here)
		update_hw(r, rp, p);
}

struct tdm_replica *tdm_replica_new(struct tdm_topics *topics, int32_t node_id,
				    const struct tdm_replica_hooks *hooks, void *ctx,
				    uint32_t lag_max_ms, uint32_t min_insync)
{
	struct tdm_replica *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->topics = topics;
	r->node_id = node_id;
	if (hooks)
		r->hooks = *hooks;
	r->ctx = ctx;
	r->lag_max_ms = lag_max_ms;
	r->min_insync = min_insync ? min_insync : 1;
	r->controller = TDM_NO_NODE;
	tdm_map_init(&r->parts);
	if (topics)
		tdm_topics_set_append_hook(topics, leader_appended, r);
	return r;
}

static void free_nodes(struct tdm_replica *r)
{
	for (size_t i = 0; i < r->nnodes; i++) {
		free((char *)r->nodes[i].host);
		free((char *)r->nodes[i].rack);
	}
	free(r->nodes);
	r->nodes = NULL;
	r->nnodes = 0;
}

void tdm_replica_free(struct tdm_replica *r)
{
	if (!r)
		return;
	if (r->topics)
		tdm_topics_set_append_hook(r->topics, NULL, NULL);
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&r->parts, &pos, NULL, NULL, &v))
		part_free(v);
	tdm_map_free(&r->parts);
	free_nodes(r);
	free(r->applier_topic);
	free(r);
}

int tdm_replica_set_nodes(struct tdm_replica *r, const struct tdm_replica_node *nodes, size_t n)
{
	struct tdm_replica_node *copy = n ? calloc(n, sizeof(*copy)) : NULL;
	if (n && !copy)
		return -1;
	for (size_t i = 0; i < n; i++) {
		copy[i] = nodes[i];
		copy[i].host = strdup(nodes[i].host ? nodes[i].host : "");
		copy[i].rack = nodes[i].rack && nodes[i].rack[0] ? strdup(nodes[i].rack) : NULL;
		if (!copy[i].host || (nodes[i].rack && nodes[i].rack[0] && !copy[i].rack)) {
			for (size_t j = 0; j <= i; j++) {
				free((char *)copy[j].host);
				free((char *)copy[j].rack);
			}
			free(copy);
			return -1;
		}
	}
	free_nodes(r);
	r->nodes = copy;
	r->nnodes = n;
	return 0;
}

void tdm_replica_set_controller(struct tdm_replica *r, int32_t node_id)
{
	r->controller = node_id;
}

/* The minimum in-sync replicas of a partition's topic: its
 * min.insync.replicas, else the broker default. */
static uint32_t min_insync_of(const struct tdm_replica *r, const struct rep_part *rp)
{
	struct ls_topic *t = tdm_topic_find(r->topics, rp->topic);
	char buf[32];
	int is_default = 1;
	if (t &&
	    tdm_topic_config_value(t, "min.insync.replicas", buf, sizeof(buf), &is_default) == 0 &&
	    !is_default) {
		long v = strtol(buf, NULL, 10);
		if (v >= 1)
			return (uint32_t)v;
	}
	return r->min_insync;
}

/* Copies st's lists into rp (owned arrays). */
static int part_take_state(struct rep_part *rp, const struct tdm_partition_state *st)
{
	int32_t *rep = malloc((st->nreplicas ? st->nreplicas : 1) * sizeof(int32_t));
	int32_t *isr = malloc((st->nisr ? st->nisr : 1) * sizeof(int32_t));
	if (!rep || !isr) {
		free(rep);
		free(isr);
		return -1;
	}
	if (st->nreplicas)
		memcpy(rep, st->replicas, st->nreplicas * sizeof(int32_t));
	if (st->nisr)
		memcpy(isr, st->isr, st->nisr * sizeof(int32_t));
	free(rp->replicas);
	free(rp->isr);
	rp->replicas = rep;
	rp->isr = isr;
	rp->st = *st;
	rp->st.replicas = rep;
	rp->st.isr = isr;
	return 0;
}

/* Leader: one follower entry per other replica, keeping what is known of
 * those that stay. */
static int part_reset_followers(struct tdm_replica *r, struct rep_part *rp, int keep)
{
	size_t n = 0;
	struct rep_follower *f = calloc(rp->st.nreplicas ? rp->st.nreplicas : 1, sizeof(*f));
	if (!f)
		return -1;
	for (size_t i = 0; i < rp->st.nreplicas; i++) {
		int32_t id = rp->st.replicas[i];
		if (id == r->node_id)
			continue;
		f[n].id = id;
		for (size_t j = 0; keep && j < rp->nfol; j++)
			if (rp->fol[j].id == id)
				f[n] = rp->fol[j];
		n++;
	}
	free(rp->fol);
	rp->fol = f;
	rp->nfol = n;
	return 0;
}

static int state_is_older(const struct tdm_partition_state *have,
			  const struct tdm_partition_state *st)
{
	if (st->leader_epoch != have->leader_epoch)
		return st->leader_epoch < have->leader_epoch;
	return st->version < have->version;
}

static void become_leader(struct tdm_replica *r, struct rep_part *rp, struct ls_partition *p,
			  int was_leader)
{
	int rc = tdm_partition_assign_epoch(p, rp->st.leader_epoch, tdm_partition_log_end(p));
	if (rc != 0)
		tdm_log(TDM_LOG_WARNING, "replica",
			"%s-%" PRId32 ": recording leader epoch %" PRId32 " failed: %s", rp->topic,
			rp->partition, rp->st.leader_epoch, tdm_strerror(rc));
	if (!was_leader) {
		/* the high watermark this node last knew (checkpointed), never
		 * past its own log end */
		uint64_t hw = tdm_partition_high_watermark(p);
		uint64_t leo = tdm_partition_log_end(p);
		rp->hw = hw < leo ? hw : leo;
		if (r->hooks.follow)
			r->hooks.follow(r->ctx, rp->topic, rp->partition, TDM_NO_NODE,
					rp->st.leader_epoch);
		tdm_log(TDM_LOG_INFO, "replica",
			"%s-%" PRId32 ": leader with epoch %" PRId32 " at log end %" PRIu64, rp->topic,
			rp->partition, rp->st.leader_epoch, leo);
	}
	part_reset_followers(r, rp, was_leader);
	rp->leader_here = 1;
}

int tdm_replica_set_state(struct tdm_replica *r, const char *topic, int32_t partition,
			  const struct tdm_partition_state *st)
{
	char key[320];
	size_t klen = part_key(key, sizeof(key), topic, partition);
	struct ls_topic *t = tdm_topic_find(r->topics, topic);
	struct ls_partition *p = t ? tdm_topic_partition(t, partition) : NULL;
	if (!klen || !p)
		return TDM_REPL_UNKNOWN;
	struct rep_part *rp = tdm_map_get(&r->parts, key, klen);
	if (!rp) {
		rp = calloc(1, sizeof(*rp));
		if (!rp || !(rp->topic = strdup(topic)) || tdm_map_put(&r->parts, key, klen, rp) < 0) {
			part_free(rp);
			return TDM_ERR_NOMEM;
		}
		rp->partition = partition;
		rp->applier = r->applier_topic && !strcmp(topic, r->applier_topic);
		rp->st.leader = TDM_NO_NODE;
		rp->st.leader_epoch = -1;
		rp->st.version = -1;
	} else if (state_is_older(&rp->st, st)) {
		return TDM_REPL_OK;
	}
	int was_leader = rp->leader_here;
	int32_t old_leader = rp->st.leader, old_epoch = rp->st.leader_epoch;
	if (part_take_state(rp, st) < 0)
		return TDM_ERR_NOMEM;
	rp->isr_pending = 0;
	rp->pending_ticks = 0;
	if (st->leader == r->node_id) {
		become_leader(r, rp, p, was_leader);
		/* a smaller ISR may let the high watermark move (Kafka's
		 * maybeIncrementLeaderHW after a shrink) */
		if (!update_hw(r, rp, p))
			tdm_topics_notify(r->topics, p); /* acks=all waiters re-check the ISR */
		return TDM_REPL_OK;
	}
	rp->leader_here = 0;
	free(rp->fol);
	rp->fol = NULL;
	rp->nfol = 0;
	int follower = in_list(st->replicas, st->nreplicas, r->node_id);
	if (was_leader || old_leader != st->leader || old_epoch != st->leader_epoch) {
		if (r->hooks.follow)
			r->hooks.follow(r->ctx, topic, partition, follower ? st->leader : TDM_NO_NODE,
					st->leader_epoch);
	}
	if (was_leader)
		tdm_topics_notify(r->topics, p); /* parked requests answer NOT_LEADER */
	return TDM_REPL_OK;
}

void tdm_replica_forget_topic(struct tdm_replica *r, const char *topic)
{
	size_t pos = 0, klen;
	const char *key;
	void *v;
	size_t tl = strlen(topic);
	while (tdm_map_next(&r->parts, &pos, &key, &klen, &v)) {
		struct rep_part *rp = v;
		if (klen <= tl || memcmp(key, topic, tl) != 0 || key[tl] != '/')
			continue;
		if (!rp->leader_here && r->hooks.follow)
			r->hooks.follow(r->ctx, rp->topic, rp->partition, TDM_NO_NODE, -1);
		tdm_map_del(&r->parts, key, klen);
		part_free(rp);
	}
}

/* Leader: asks the cluster to write a new ISR (at most one change out at
 * a time per partition; the written state comes back through
 * tdm_replica_set_state). */
static void propose_isr(struct tdm_replica *r, struct rep_part *rp, const int32_t *isr,
			size_t nisr)
{
	if (rp->isr_pending || !r->hooks.isr_change)
		return;
	struct tdm_partition_state want = rp->st;
	want.isr = isr;
	want.nisr = nisr;
	rp->isr_pending = 1;
	if (nisr > rp->st.nisr)
		r->isr_expands++;
	else
		r->isr_shrinks++;
	tdm_log(TDM_LOG_INFO, "replica", "%s-%" PRId32 ": ISR %s from %zu to %zu replicas",
		rp->topic, rp->partition, nisr > rp->st.nisr ? "expands" : "shrinks", rp->st.nisr,
		nisr);
	r->hooks.isr_change(r->ctx, rp->topic, rp->partition, &want);
}

/* Leader: the high watermark becomes the smallest log end over the ISR
 * (a member not heard from since this node became leader holds it);
 * never moves back.  1 when it moved. */
static int update_hw(struct tdm_replica *r, struct rep_part *rp, struct ls_partition *p)
{
	uint64_t low = tdm_partition_log_end(p);
	for (size_t i = 0; i < rp->st.nisr; i++) {
		int32_t id = rp->st.isr[i];
		if (id == r->node_id)
			continue;
		const struct rep_follower *f = NULL;
		for (size_t j = 0; j < rp->nfol; j++)
			if (rp->fol[j].id == id)
				f = &rp->fol[j];
		if (!f || !f->known)
			return 0;
		if (f->leo < low)
			low = f->leo;
	}
	if (low <= rp->hw)
		return 0;
	rp->hw = low;
	tdm_partition_set_high_watermark(p, low);
	tdm_topics_notify(r->topics, p);
	return 1;
}

/* Leader: a follower out of the ISR that has everything up to the high
 * watermark, and at least the start of this leader's epoch, joins it. */
static void maybe_expand(struct tdm_replica *r, struct rep_part *rp, const struct rep_follower *f,
			 struct ls_partition *p)
{
	if (in_list(rp->st.isr, rp->st.nisr, f->id) || f->leo < rp->hw)
		return;
	int32_t ep;
	int64_t start;
	/* the end of the previous epoch is where this leader's epoch starts */
	tdm_partition_epoch_end(p, rp->st.leader_epoch - 1, &ep, &start);
	if (start >= 0 && f->leo < (uint64_t)start)
		return;
	int32_t *isr = malloc((rp->st.nisr + 1) * sizeof(int32_t));
	if (!isr)
		return;
	memcpy(isr, rp->st.isr, rp->st.nisr * sizeof(int32_t));
	isr[rp->st.nisr] = f->id;
	propose_isr(r, rp, isr, rp->st.nisr + 1);
	free(isr);
}

int tdm_replica_follower_fetch(struct tdm_replica *r, int32_t replica_id, const char *topic,
			       int32_t partition, uint64_t fetch_offset, int32_t leader_epoch,
			       int64_t now_ms)
{
	if (!r)
		return TDM_REPL_NOT_LEADER;
	struct rep_part *rp = tdm_replica_part_get(r, topic, partition);
	if (!rp)
		return TDM_REPL_UNKNOWN;
	if (!rp->leader_here)
		return TDM_REPL_NOT_LEADER;
	if (leader_epoch >= 0 && leader_epoch < rp->st.leader_epoch)
		return TDM_REPL_FENCED_EPOCH;
	if (leader_epoch > rp->st.leader_epoch)
		return TDM_REPL_UNKNOWN_EPOCH;
	struct rep_follower *f = NULL;
	for (size_t i = 0; i < rp->nfol; i++)
		if (rp->fol[i].id == replica_id)
			f = &rp->fol[i];
	if (!f)
		return TDM_REPL_UNKNOWN;
	struct ls_partition *p = part_log(r, rp);
	if (!p)
		return TDM_REPL_UNKNOWN;
	uint64_t leo = tdm_partition_log_end(p);
	/* Kafka's lastCaughtUpTime: caught up now, or as of its previous
	 * fetch when it has what the leader had then; until it is, the lag
	 * counts from when this node took the lead (or its first fetch) */
	if (f->caught_up_ms == 0)
		f->caught_up_ms = now_ms;
	if (fetch_offset >= leo)
		f->caught_up_ms = now_ms;
	else if (f->known && fetch_offset >= f->leader_leo_at_last)
		f->caught_up_ms = f->last_fetch_ms;
	f->known = 1;
	f->leo = fetch_offset < leo ? fetch_offset : leo;
	f->last_fetch_ms = now_ms;
	f->leader_leo_at_last = leo;
	maybe_expand(r, rp, f, p);
	update_hw(r, rp, p);
	return TDM_REPL_OK;
}

/* Leader: members that have not caught up for lag_max_ms leave the ISR. */
static void maybe_shrink(struct tdm_replica *r, struct rep_part *rp, int64_t now_ms)
{
	struct ls_partition *p = part_log(r, rp);
	if (!p)
		return;
	/* an ISR write whose answer never came back (the ZooKeeper
	 * connection was lost meanwhile) must not freeze the ISR for good:
	 * after a while the change is asked again */
	if (rp->isr_pending && ++rp->pending_ticks > ISR_PENDING_TICKS) {
		rp->isr_pending = 0;
		rp->pending_ticks = 0;
	}
	if (rp->isr_pending)
		return;
	uint64_t leo = tdm_partition_log_end(p);
	int32_t *keep = malloc((rp->st.nisr ? rp->st.nisr : 1) * sizeof(int32_t));
	size_t n = 0;
	if (!keep)
		return;
	for (size_t i = 0; i < rp->st.nisr; i++) {
		int32_t id = rp->st.isr[i];
		const struct rep_follower *f = NULL;
		for (size_t j = 0; j < rp->nfol; j++)
			if (rp->fol[j].id == id)
				f = &rp->fol[j];
		int out = 0;
		if (id != r->node_id) {
			/* one never heard from counts from when this node took the lead */
			if (f && !f->known && f->caught_up_ms == 0)
				((struct rep_follower *)f)->caught_up_ms = now_ms;
			out = !f || (!(f->known && f->leo >= leo) &&
				     now_ms - f->caught_up_ms > (int64_t)r->lag_max_ms);
		}
		if (!out)
			keep[n++] = id;
	}
	if (n < rp->st.nisr)
		propose_isr(r, rp, keep, n);
	free(keep);
}

void tdm_replica_resign_all(struct tdm_replica *r)
{
	size_t pos = 0, klen;
	const char *key;
	void *v;
	while (tdm_map_next(&r->parts, &pos, &key, &klen, &v)) {
		struct rep_part *rp = v;
		struct ls_partition *p = part_log(r, rp);
		int led = rp->leader_here;
		if (!led && r->hooks.follow)
			r->hooks.follow(r->ctx, rp->topic, rp->partition, TDM_NO_NODE, -1);
		tdm_map_del(&r->parts, key, klen);
		part_free(rp);
		if (led && p)
			tdm_topics_notify(r->topics, p); /* parked requests answer now */
	}
}

void tdm_replica_tick(struct tdm_replica *r, int64_t now_ms)
{
	if (!r)
		return;
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&r->parts, &pos, NULL, NULL, &v)) {
		struct rep_part *rp = v;
		if (rp->leader_here)
			maybe_shrink(r, rp, now_ms);
	}
}

void tdm_replica_follower_hw(struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct ls_partition *p, uint64_t leader_hw)
{
	if (!r)
		return;
	struct rep_part *rp = tdm_replica_part_get(r, topic, partition);
	if (!rp || rp->leader_here)
		return;
	uint64_t leo = tdm_partition_log_end(p);
	uint64_t hw = leader_hw < leo ? leader_hw : leo;
	if (hw > rp->hw) {
		rp->hw = hw;
		tdm_partition_set_high_watermark((struct ls_partition *)p, hw);
		/* stream queue consumers here read up to it: wake them */
		tdm_topics_notify(r->topics, (struct ls_partition *)p);
		if (rp->applier)
			r->apply_due = 1;
	}
}

int tdm_replica_set_applier(struct tdm_replica *r, const char *topic, void (*fn)(void *ctx),
			    void *ctx)
{
	if (!r)
		return 0;
	char *t = strdup(topic);
	if (!t)
		return TDM_ERR_NOMEM;
	free(r->applier_topic);
	r->applier_topic = t;
	r->applier = fn;
	r->applier_ctx = ctx;
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&r->parts, &pos, NULL, NULL, &v))
		((struct rep_part *)v)->applier = !strcmp(((struct rep_part *)v)->topic, topic);
	return 0;
}

void tdm_replica_set_applied(struct tdm_replica *r, const char *topic, int32_t partition,
			     uint64_t offset)
{
	struct rep_part *rp = r ? tdm_replica_part_get(r, topic, partition) : NULL;
	if (!rp || !rp->applier || offset <= rp->applied_here)
		return;
	rp->applied_here = offset;
	struct ls_partition *p = rp->leader_here ? part_log(r, rp) : NULL;
	if (p) /* acks=all waiters look again */
		tdm_topics_notify(r->topics, p);
}

void tdm_replica_follower_sent(struct tdm_replica *r, int32_t replica_id, const void *conn,
			       const char *topic, int32_t partition, uint64_t hw)
{
	struct rep_part *rp = r ? tdm_replica_part_get(r, topic, partition) : NULL;
	struct rep_follower *f = rp && rp->applier && rp->leader_here ? tdm_replica_follower_of(rp, replica_id)
								       : NULL;
	if (f) {
		f->sent_conn = conn;
		f->hw_sent = hw;
	}
}

void tdm_replica_follower_applied(struct tdm_replica *r, int32_t replica_id, const void *conn,
				  const char *topic, int32_t partition, uint64_t fetch_offset)
{
	struct rep_part *rp = r ? tdm_replica_part_get(r, topic, partition) : NULL;
	struct rep_follower *f = rp && rp->applier && rp->leader_here ? tdm_replica_follower_of(rp, replica_id)
								       : NULL;
	if (!f || f->sent_conn != conn) /* the last response may not have arrived */
		return;
	uint64_t applied = f->hw_sent < fetch_offset ? f->hw_sent : fetch_offset;
	struct ls_partition *p = part_log(r, rp);
	if (applied > f->applied) {
		f->applied = applied;
		if (p) /* acks=all waiters look again */
			tdm_topics_notify(r->topics, p);
	}
}

void tdm_replica_fetched(struct tdm_replica *r)
{
	if (!r || !r->apply_due)
		return;
	r->apply_due = 0;
	if (r->applier)
		r->applier(r->applier_ctx);
}

int32_t tdm_replica_node_id(const struct tdm_replica *r)
{
	return r ? r->node_id : 1;
}

int32_t tdm_replica_controller(const struct tdm_replica *r)
{
	return r ? r->controller : 1;
}

size_t tdm_replica_nodes(const struct tdm_replica *r, const struct tdm_replica_node **nodes)
{
	*nodes = r ? r->nodes : NULL;
	return r ? r->nnodes : 0;
}

const struct tdm_partition_state *tdm_replica_state(const struct tdm_replica *r,
						     const char *topic, int32_t partition)
{
	const struct rep_part *rp = r ? tdm_replica_part_get(r, topic, partition) : NULL;
	return rp ? &rp->st : NULL;
}

int tdm_replica_check_leader(const struct tdm_replica *r, const char *topic, int32_t partition)
{
	if (!r)
		return TDM_REPL_OK;
	const struct rep_part *rp = tdm_replica_part_get(r, topic, partition);
	if (!rp)
		return TDM_REPL_UNKNOWN;
	if (rp->leader_here)
		return TDM_REPL_OK;
	return rp->st.leader == TDM_NO_NODE ? TDM_REPL_NO_LEADER : TDM_REPL_NOT_LEADER;
}

uint64_t tdm_replica_high_watermark(const struct tdm_replica *r, const char *topic,
				    int32_t partition, const struct ls_partition *p)
{
	const struct rep_part *rp = r ? tdm_replica_part_get(r, topic, partition) : NULL;
	uint64_t leo = tdm_partition_log_end(p);
	if (!rp)
		return r ? (tdm_partition_high_watermark(p) < leo ? tdm_partition_high_watermark(p)
								   : leo)
			 : leo;
	return rp->hw < leo ? rp->hw : leo;
}

int tdm_replica_check_insync(const struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct ls_partition *p)
{
	(void)p;
	if (!r)
		return TDM_REPL_OK;
	const struct rep_part *rp = tdm_replica_part_get(r, topic, partition);
	if (!rp)
		return TDM_REPL_UNKNOWN;
	if (!rp->leader_here)
		return TDM_REPL_NOT_LEADER;
	return rp->st.nisr < min_insync_of(r, rp) ? TDM_REPL_NOT_ENOUGH : TDM_REPL_OK;
}

/* Leader of an applier topic's partition: what every ISR member (this
 * node included) has applied; 0 while one has not fetched since. */
static uint64_t applied_by_isr(const struct tdm_replica *r, const struct rep_part *rp)
{
	uint64_t low = rp->applied_here;
	for (size_t i = 0; i < rp->st.nisr; i++) {
		const struct rep_follower *f = NULL;
		for (size_t j = 0; j < rp->nfol; j++)
			if (rp->fol[j].id == rp->st.isr[i])
				f = &rp->fol[j];
		if (rp->st.isr[i] == r->node_id)
			continue;
		if (!f || !f->known)
			return 0;
		if (f->applied < low)
			low = f->applied;
	}
	return low;
}

int tdm_replica_acked(const struct tdm_replica *r, const char *topic, int32_t partition,
		      const struct ls_partition *p, uint64_t target)
{
	(void)p;
	if (!r)
		return TDM_REPL_OK;
	const struct rep_part *rp = tdm_replica_part_get(r, topic, partition);
	if (!rp)
		return TDM_REPL_UNKNOWN;
	if (!rp->leader_here)
		return TDM_REPL_NOT_LEADER;
	if (rp->hw < target || (rp->applier && applied_by_isr(r, rp) < target))
		return 1;
	return rp->st.nisr < min_insync_of(r, rp) ? TDM_REPL_NOT_ENOUGH_AFTER : TDM_REPL_OK;
}

const char *tdm_replica_strerror(int rc)
{
	switch (rc) {
	case TDM_REPL_NOT_LEADER:
		return "this node is not the partition's leader";
	case TDM_REPL_NO_LEADER:
		return "the partition has no leader";
	case TDM_REPL_UNKNOWN:
		return "unknown topic or partition";
	case TDM_REPL_NOT_ENOUGH:
		return "fewer in-sync replicas than min.insync.replicas";
	case TDM_REPL_NOT_ENOUGH_AFTER:
		return "the in-sync replicas fell below min.insync.replicas after the append";
	case TDM_REPL_FENCED_EPOCH:
		return "the leader epoch is older than the leader's";
	case TDM_REPL_UNKNOWN_EPOCH:
		return "the leader epoch is newer than the leader's";
	case TDM_REPL_BAD_FACTOR:
		return "replication factor larger than the live nodes, or below 1";
	case TDM_REPL_BAD_ASSIGNMENT:
		return "invalid replica assignment";
	case TDM_REPL_TIMED_OUT:
		return "the cluster did not apply the change in time";
	case TDM_REPL_NO_CLUSTER:
		return "the cluster (ZooKeeper) is not reachable";
	default:
		return tdm_strerror(rc);
	}
}

/* A cluster administration request out: its waiter may go away first. */
struct tdm_replica_op {
	tdm_replica_done_fn done;
	void *arg;
	int forgotten;
	struct tdm_replica_op **slot; /* the caller's handle, cleared at the end */
};

static void op_done(void *arg, int rc, const char *msg)
{
	struct tdm_replica_op *op = arg;
	if (op->slot)
		*op->slot = NULL;
	if (!op->forgotten)
		op->done(op->arg, rc, msg ? msg : "");
	free(op);
}

static struct tdm_replica_op *op_new(tdm_replica_done_fn done, void *arg,
				     struct tdm_replica_op **slot)
{
	struct tdm_replica_op *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->done = done;
	op->arg = arg;
	op->slot = slot;
	if (slot)
		*slot = op;
	return op;
}

/* Starts op through a hook's result: on an immediate error op is freed
 * and the caller gets the code with a reason. */
static int op_started(struct tdm_replica_op *op, int rc, char *err, size_t errlen)
{
	if (rc == 0)
		return TDM_TOPIC_OK;
	if (op->slot)
		*op->slot = NULL;
	free(op);
	if (err && errlen)
		snprintf(err, errlen, "%s", tdm_replica_strerror(rc));
	return rc;
}

/* The leader a request about topic/partition goes to when another node
 * leads it and its hook is there (has_hook): 0 with *leader and a new op (*o), else the
 * code tdm_replica_forward and tdm_replica_write_marker answer at once. */
static int remote_leader(struct tdm_replica *r, const char *topic, int32_t partition,
			 int has_hook, tdm_replica_done_fn done, void *arg,
			 struct tdm_replica_op **op, int32_t *leader, struct tdm_replica_op **o)
{
	const struct tdm_partition_state *st = r ? tdm_replica_state(r, topic, partition) : NULL;
	if (!st)
		return TDM_REPL_UNKNOWN;
	if (st->leader == TDM_NO_NODE)
		return TDM_REPL_NO_LEADER;
	if (st->leader == r->node_id)
		return TDM_REPL_NOT_LEADER;
	if (!has_hook)
		return TDM_REPL_NO_CLUSTER;
	if (!(*o = op_new(done, arg, op)))
		return TDM_ERR_NOMEM;
	*leader = st->leader;
	return 0;
}

int tdm_replica_forward(struct tdm_replica *r, const char *topic, int32_t partition,
			const struct tdm_record *rec, tdm_replica_done_fn done, void *arg,
			struct tdm_replica_op **op)
{
	struct tdm_replica_op *o = NULL;
	int32_t leader = TDM_NO_NODE;
	int rc = remote_leader(r, topic, partition, r && r->hooks.forward, done, arg, op,
			       &leader, &o);
	if (rc != 0)
		return rc;
	return op_started(o, r->hooks.forward(r->ctx, leader, topic, partition, rec, op_done, o),
			  NULL, 0);
}

int tdm_replica_write_marker(struct tdm_replica *r, const char *topic, int32_t partition,
			     const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg,
			     struct tdm_replica_op **op)
{
	struct tdm_replica_op *o = NULL;
	int32_t leader = TDM_NO_NODE;
	int rc = remote_leader(r, topic, partition, r && r->hooks.write_marker, done, arg,
			       op, &leader, &o);
	if (rc != 0)
		return rc;
	return op_started(o,
			  r->hooks.write_marker(r->ctx, leader, topic, partition, m, op_done, o),
			  NULL, 0);
}

int tdm_replica_forward_batch(const struct tdm_record *recs, size_t n, void **out, size_t *len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* struct tdm_record is laid out as ls_record (core/topic_ops.c checks) */
	int rc = ls_batch_build((const struct ls_record *)recs, n, LS_CODEC_NONE,
				(int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, out, len);
	if (rc == LS_OK)
		return 0;
	return rc == LS_ERR_NOMEM ? TDM_ERR_NOMEM : TDM_ERR_TOO_LARGE;
}

int tdm_replica_create_topic(struct tdm_replica *r, const struct tdm_replica_topic_spec *spec,
			     tdm_replica_done_fn done, void *arg, struct tdm_replica_op **op,
			     char *err, size_t errlen)
{
	struct tdm_replica_op *o = op_new(done, arg, op);
	if (!o)
		return TDM_ERR_NOMEM;
	int rc = r->hooks.create_topic ? r->hooks.create_topic(r->ctx, spec, op_done, o)
				       : TDM_REPL_NO_CLUSTER;
	return op_started(o, rc, err, errlen);
}

int tdm_replica_delete_topic(struct tdm_replica *r, const char *name, tdm_replica_done_fn done,
			     void *arg, struct tdm_replica_op **op, char *err, size_t errlen)
{
	struct tdm_replica_op *o = op_new(done, arg, op);
	if (!o)
		return TDM_ERR_NOMEM;
	int rc = r->hooks.delete_topic ? r->hooks.delete_topic(r->ctx, name, op_done, o)
				       : TDM_REPL_NO_CLUSTER;
	return op_started(o, rc, err, errlen);
}

int tdm_replica_add_partitions(struct tdm_replica *r, const char *name, int32_t count,
			       tdm_replica_done_fn done, void *arg, struct tdm_replica_op **op,
			       char *err, size_t errlen)
{
	struct tdm_replica_op *o = op_new(done, arg, op);
	if (!o)
		return TDM_ERR_NOMEM;
	int rc = r->hooks.add_partitions ? r->hooks.add_partitions(r->ctx, name, count, op_done, o)
					 : TDM_REPL_NO_CLUSTER;
	return op_started(o, rc, err, errlen);
}

int tdm_replica_alter_config(struct tdm_replica *r, const char *name, const struct tdm_kv *configs,
			     size_t n, tdm_replica_done_fn done, void *arg,
			     struct tdm_replica_op **op, char *err, size_t errlen)
{
	struct tdm_replica_op *o = op_new(done, arg, op);
	if (!o)
		return TDM_ERR_NOMEM;
	int rc = r->hooks.alter_config
			 ? r->hooks.alter_config(r->ctx, name, configs, n, op_done, o)
			 : TDM_REPL_NO_CLUSTER;
	return op_started(o, rc, err, errlen);
}

int tdm_replica_alter_broker_config(struct tdm_replica *r, int layer,
				    const struct tdm_kv *configs, size_t n,
				    tdm_replica_done_fn done, void *arg, struct tdm_replica_op **op,
				    char *err, size_t errlen)
{
	struct tdm_replica_op *o = op_new(done, arg, op);
	if (!o)
		return TDM_ERR_NOMEM;
	int rc = r->hooks.alter_broker_config
			 ? r->hooks.alter_broker_config(r->ctx, layer, configs, n, op_done, o)
			 : TDM_REPL_NO_CLUSTER;
	return op_started(o, rc, err, errlen);
}

void tdm_replica_op_forget(struct tdm_replica_op *op)
{
	if (!op)
		return;
	op->forgotten = 1;
	if (op->slot)
		*op->slot = NULL;
	op->slot = NULL;
}

/* Leader: the most records a follower is behind (one never heard from:
 * the whole log). */
static uint64_t part_lag(const struct tdm_replica *r, const struct rep_part *rp)
{
	struct ls_partition *p = rp->leader_here ? part_log(r, rp) : NULL;
	uint64_t leo = p ? tdm_partition_log_end(p) : 0, lag = 0;
	for (size_t i = 0; p && i < rp->nfol; i++) {
		uint64_t have = rp->fol[i].known ? rp->fol[i].leo : 0;
		if (leo > have && leo - have > lag)
			lag = leo - have;
	}
	return lag;
}

void tdm_replica_get_stats(const struct tdm_replica *r, struct tdm_replica_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&r->parts, &pos, NULL, NULL, &v)) {
		const struct rep_part *rp = v;
		out->partitions++;
		if (rp->st.leader == TDM_NO_NODE)
			out->offline++;
		if (!rp->leader_here)
			continue;
		out->leaders++;
		if (rp->st.nisr < rp->st.nreplicas)
			out->under_replicated++;
		if (rp->st.nisr < min_insync_of(r, rp))
			out->under_min_isr++;
		uint64_t lag = part_lag(r, rp);
		if (lag > out->max_lag)
			out->max_lag = lag;
	}
	out->isr_shrinks = r->isr_shrinks;
	out->isr_expands = r->isr_expands;
	if (r->hooks.link_stats)
		r->hooks.link_stats(r->ctx, out);
}

void tdm_replica_foreach(const struct tdm_replica *r, tdm_replica_part_fn fn, void *ctx)
{
	size_t pos = 0;
	void *v;
	while (r && tdm_map_next(&r->parts, &pos, NULL, NULL, &v)) {
		const struct rep_part *rp = v;
		fn(ctx, rp->topic, rp->partition, &rp->st, rp->hw, part_lag(r, rp));
	}
}
