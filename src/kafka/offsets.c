/*
 * OffsetCommit v1-8 (v1 has a commit timestamp per partition instead of
 * v2's retention time, neither kept: Sarama 1.22 sends v1 unless
 * Consumer.Offsets.Retention is set; v3+: a throttle time first in the
 * answer; v5 drops
 * the retention time, which Kafka's broker config rules and tandem does
 * not keep; v6's committed leader epoch is not kept; v7's
 * group_instance_id is checked: a static member's old incarnation gets
 * FENCED_INSTANCE_ID; v8 is flexible, KIP-482; librdkafka 2.0.2 sends v7,
 * kafkajs v5, kafka-python's consumer v2).  OffsetFetch: offset_fetch.c.
 * Committed offsets are core's (core/groups.h: durable, reloaded at
 * start), checked against the group's generation and member first.  A commit with
 * generation -1 and no member is a "simple" commit (assign()-based
 * consumers), allowed while the group has no members.
 *
 * Both need read on the group id (else GROUP_AUTHORIZATION_FAILED: per
 * partition, or OffsetFetch v2's top-level error) and read on each topic
 * (else TOPIC_AUTHORIZATION_FAILED for its partitions); OffsetFetch of all
 * a group's offsets leaves out the topics the user may not read (authz.c).
 *
 * In a cluster only the group coordinator (groups.c: the leader of the
 * offsets partition) takes them, NOT_COORDINATOR elsewhere.  A commit is
 * answered once every in-sync replica of the offsets partition has it
 * (Kafka appends commits with acks=all): NOT_COORDINATOR when leadership
 * moved meanwhile, COORDINATOR_NOT_AVAILABLE when the ISR is (or fell)
 * below min.insync.replicas, REQUEST_TIMED_OUT after
 * offsets.commit.timeout.ms (5 s).
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>
#include <string.h>

#include "kafka/kf.h"
#include "net/net.h"

#define MAX_METADATA 4096
#define COMMIT_TIMEOUT_MS 5000 /* Kafka's offsets.commit.timeout.ms */

/* Kafka's mapping of the offsets log's append errors for a commit. */
int16_t kf_offsets_err(int rc)
{
	switch (rc) {
	case TDM_TOPIC_OK:
		return KF_ERR_NONE;
	case TDM_REPL_NOT_LEADER:
		return KF_ERR_NOT_COORDINATOR;
	case TDM_REPL_NO_LEADER:
	case TDM_REPL_UNKNOWN:
	case TDM_REPL_NOT_ENOUGH:
	case TDM_REPL_NOT_ENOUGH_AFTER:
		return KF_ERR_COORDINATOR_NOT_AVAILABLE;
	default:
		return kf_err_from_core(rc);
	}
}

static void commit_encode(struct evbuffer *resp, int ver, const struct kf_offset_commit_req *r,
			  const int16_t *errs, int16_t cerr)
{
	int first = kf_first_flexible(KF_OFFSET_COMMIT), flex = first >= 0 && ver >= first;

	if (ver >= 3)
		kf_put_i32(resp, 0);
	kf_put_farray(resp, flex, r->ntopics);
	for (int32_t i = 0, k = 0; i < r->ntopics; i++) {
		kf_put_fkstr(resp, flex, r->topics[i].name);
		kf_put_farray(resp, flex, r->topics[i].nparts);
		for (int32_t j = 0; j < r->topics[i].nparts; j++, k++) {
			kf_put_i32(resp, r->topics[i].parts[j].index);
			kf_put_i16(resp, errs[k] != KF_ERR_NONE ? errs[k] : cerr);
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
}

/* A request waiting for a log write to become durable (in the request
 * arena: the connection reads nothing while parked). */
struct offsets_park {
	struct kf_park base;
	struct kf_conn *kc;
	struct tdm_topics_waiter w;
	struct event *timer; /* owned */
	uint64_t target;     /* the log's end after the write */
	kf_wait_check_fn check;
	kf_offsets_answer_fn answer;
	void *ctx;
};

/* 1 while the write waits, else the error to answer with. */
static int offsets_acked(struct kf_server *srv, uint64_t target, int16_t *err, void *ctx)
{
	(void)ctx;
	struct ls_partition *p = tdm_groups_log(srv->cgroups);
	int rc = p ? tdm_replica_acked(srv->replica, TDM_GROUPS_TOPIC, 0, p, target)
		   : TDM_REPL_UNKNOWN;

	if (rc == 1)
		return 1;
	*err = kf_offsets_err(rc);
	return 0;
}

static void park_release(struct offsets_park *op)
{
	tdm_topics_unwait(op->kc->srv->topics, &op->w);
	if (op->timer)
		event_free(op->timer);
	op->timer = NULL;
}

static void park_cancel(struct kf_park *p)
{
	park_release((struct offsets_park *)p);
}

static void park_check(struct offsets_park *op, int timed_out)
{
	struct kf_conn *kc = op->kc;
	int16_t err = KF_ERR_NONE;

	if (op->check(kc->srv, op->target, &err, op->ctx)) {
		if (!timed_out) {
			tdm_topics_wait_flush(kc->srv->topics, &op->w);
			return;
		}
		err = KF_ERR_REQUEST_TIMED_OUT;
	}
	park_release(op);
	op->answer(kc, kc->resp, op->ctx, err);
	kf_complete(kc, kc->resp);
}

static void park_woken(void *ctx)
{
	park_check(ctx, 0);
}

static void park_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	park_check(arg, 1);
}

int kf_wait_durable(struct kf_conn *kc, uint64_t target, int timeout_ms, kf_wait_check_fn check,
		    kf_offsets_answer_fn answer, void *ctx, struct evbuffer *resp)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int16_t err = KF_ERR_NONE;

	if (!check(kc->srv, target, &err, ctx)) {
		answer(kc, resp, ctx, err);
		return KF_R_DONE;
	}
	struct offsets_park *op = kf_arena_alloc(&kc->arena, sizeof(*op));
	if (!op)
		return KF_R_CLOSE;
	memset(op, 0, sizeof(*op));
	op->base.cancel = park_cancel;
	op->kc = kc;
	op->target = target;
	op->check = check;
	op->answer = answer;
	op->ctx = ctx;
	op->w.fn = park_woken;
	op->w.ctx = op;
	op->timer = evtimer_new(kc->srv->base, park_timeout_cb, op);
	if (!op->timer)
		return KF_R_CLOSE;
	evtimer_add(op->timer, &tv);
	tdm_topics_wait_flush(kc->srv->topics, &op->w);
	kc->park = &op->base;
	return KF_R_PARKED;
}

int kf_offsets_wait(struct kf_conn *kc, uint64_t target, kf_offsets_answer_fn answer, void *ctx,
		    struct evbuffer *resp)
{
	return kf_wait_durable(kc, target, COMMIT_TIMEOUT_MS, offsets_acked, answer, ctx, resp);
}

/* A commit's request and per-partition errors, for its answer. */
struct commit_answer {
	struct kf_offset_commit_req r;
	int16_t *errs;
	int ver;
};

static void commit_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct commit_answer *ca = ctx;
	(void)kc;
	commit_encode(resp, ca->ver, &ca->r, ca->errs, err);
}

int kf_h_offset_commit(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	struct kf_offset_commit_req r;
	char group[1024];
	int16_t gerr, merr = KF_ERR_NONE;
	size_t total = 0, n = 0;
	struct tdm_offset_commit *commits;
	int16_t *errs;
	char **names;
	int rc = TDM_TOPIC_OK;

	if (kf_decode_offset_commit(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.ntopics; i++)
		total += (size_t)r.topics[i].nparts;
	commits = kf_arena_alloc(&kc->arena, (total + 1) * sizeof(*commits));
	errs = kf_arena_alloc(&kc->arena, (total + 1) * sizeof(*errs));
	names = kf_arena_alloc(&kc->arena, ((size_t)r.ntopics + 1) * 2 * sizeof(*names));
	if (!commits || !errs || !names)
		return KF_R_CLOSE;
	gerr = kf_authz_group(kc, &r.group_id);
	if (!gerr && (kf_str_cstr(r.group_id, group, sizeof(group)) < 0 || !group[0]))
		gerr = KF_ERR_INVALID_GROUP_ID;
	if (!gerr)
		gerr = kf_groups_coordinator(srv->groups);
	if (!gerr)
		merr = kf_groups_check_commit(srv->groups, r.group_id, r.generation_id,
					      r.member_id, r.group_instance_id);
	/* Collect the valid partitions into one commit. */
	for (int32_t i = 0, k = 0; i < r.ntopics; i++) {
		int16_t aerr = gerr ? gerr : kf_authz_topic(kc, TDM_PERM_READ, r.topics[i].name);
		struct ls_topic *t = aerr ? NULL : kf_topic_lookup(kc, r.topics[i].name);

		names[i] = t ? (char *)tdm_topic_name(t) : NULL;
		for (int32_t j = 0; j < r.topics[i].nparts; j++, k++) {
			const struct kf_commit_part *cp = &r.topics[i].parts[j];
			char *meta = NULL;

			errs[k] = aerr ? aerr : merr;
			if (errs[k])
				continue;
			if (!t || !tdm_topic_partition(t, cp->index)) {
				errs[k] = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (cp->metadata.len > MAX_METADATA) {
				errs[k] = KF_ERR_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			if (cp->metadata.len >= 0) {
				meta = kf_arena_alloc(&kc->arena, (size_t)cp->metadata.len + 1);
				if (!meta || kf_str_cstr(cp->metadata, meta, (size_t)cp->metadata.len + 1) < 0) {
					errs[k] = KF_ERR_INVALID_REQUEST;
					continue;
				}
			}
			commits[n].topic = names[i];
			commits[n].partition = cp->index;
			commits[n].offset = cp->offset;
			commits[n].metadata = meta;
			n++;
		}
	}
	if (n > 0 && srv->replica) {
		/* Kafka appends a commit with acks=all */
		struct ls_partition *p = tdm_groups_log(srv->cgroups);

		rc = p ? tdm_replica_check_insync(srv->replica, TDM_GROUPS_TOPIC, 0, p)
		       : TDM_REPL_UNKNOWN;
		if (rc == TDM_REPL_OK)
			rc = tdm_groups_commit(srv->cgroups, group, commits, n);
		if (rc == TDM_TOPIC_OK) {
			struct commit_answer *ca = kf_arena_alloc(&kc->arena, sizeof(*ca));
			if (!ca)
				return KF_R_CLOSE;
			ca->r = r;
			ca->errs = errs;
			ca->ver = kc->hdr.api_version;
			return kf_offsets_wait(kc, tdm_partition_log_end(p), commit_answer, ca, resp);
		}
		commit_encode(resp, kc->hdr.api_version, &r, errs, kf_offsets_err(rc));
		return KF_R_DONE;
	}
	if (n > 0)
		rc = tdm_groups_commit(srv->cgroups, group, commits, n);
	commit_encode(resp, kc->hdr.api_version, &r, errs,
		      rc != TDM_TOPIC_OK ? kf_err_from_core(rc) : KF_ERR_NONE);
	return KF_R_DONE;
}
