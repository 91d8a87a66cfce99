/*
 * Deleting what a group committed, on the coordinator (Kafka's
 * GroupCoordinator.handleDeleteGroups and handleDeleteOffsets).
 *
 * DeleteGroups v0-2 (v1 is v0, v2 flexible): each named group's committed offsets go, and the
 * group with them (core's tdm_groups_forget), on the coordinator, as
 * Kafka's GroupCoordinator.handleDeleteGroups.  Per group:
 *  - configure on the group id (Kafka's DELETE on the group; as the
 *    management API's DELETE of a group), else GROUP_AUTHORIZATION_FAILED;
 *  - an empty id INVALID_GROUP_ID;
 *  - not the coordinator: NOT_COORDINATOR (the client looks it up again);
 *  - neither a group nor committed offsets: GROUP_ID_NOT_FOUND;
 *  - live members: NON_EMPTY_GROUP, nothing deleted.
 *
 * OffsetDelete v0: the group's offsets of the partitions named go, unless
 * the group consumes the topic.  Top level: GROUP_AUTHORIZATION_FAILED
 * (configure on the id, as above), INVALID_GROUP_ID, NOT_COORDINATOR,
 * GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP for a group with members that is not
 * a consumer group; per partition: TOPIC_AUTHORIZATION_FAILED (read on
 * the topic), UNKNOWN_TOPIC_OR_PARTITION, GROUP_SUBSCRIBED_TO_TOPIC while
 * a member subscribes to it.
 *
 * The deletions are tombstones in the group offsets log; in a cluster the
 * answer waits until its in-sync replicas have them (kf_offsets_wait), so
 * a new coordinator does not bring the offsets back.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <string.h>

#include "core/groups.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/kf.h"

struct deleted {
	const struct kf_delete_groups_req *r;
	int16_t *errs;
};

static void encode(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct deleted *d = ctx;
	int flex = kf_flex(kc); /* kc's request, answered now or once unparked */

	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, d->r->ngroups);
	for (int32_t i = 0; i < d->r->ngroups; i++) {
		kf_put_fkstr(resp, flex, d->r->groups[i]);
		/* a deletion whose tombstones were not replicated failed */
		kf_put_i16(resp, d->errs[i] != KF_ERR_NONE ? d->errs[i] : err);
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
}

/* Deletes one group (its wire id); a Kafka error code. */
static int16_t delete_one(struct kf_conn *kc, struct kf_str wire, int *wrote)
{
	struct kf_server *srv = kc->srv;
	struct kf_str id = wire;
	char group[1024];
	int16_t err = kf_authz_group_as(kc, TDM_PERM_CONFIGURE, &id);

	if (err)
		return err;
	if (kf_str_cstr(id, group, sizeof(group)) < 0 || !wire.len)
		return KF_ERR_INVALID_GROUP_ID;
	if ((err = kf_groups_coordinator(srv->groups)) != KF_ERR_NONE)
		return err;
	if (!tdm_groups_find(srv->cgroups, group, strlen(group)) &&
	    !tdm_groups_has_offsets(srv->cgroups, group))
		return KF_ERR_GROUP_ID_NOT_FOUND;
	if (srv->replica) { /* Kafka writes the tombstones with acks=all */
		struct ls_partition *p = tdm_groups_log(srv->cgroups);
		int rc = p ? tdm_replica_check_insync(srv->replica, TDM_GROUPS_TOPIC, 0, p)
			   : TDM_REPL_UNKNOWN;
		if (rc != TDM_REPL_OK)
			return kf_offsets_err(rc);
	}
	int rc = tdm_groups_forget(srv->cgroups, group, strlen(group));
	if (rc == 1)
		return KF_ERR_NON_EMPTY_GROUP;
	if (rc != TDM_TOPIC_OK)
		return kf_offsets_err(rc);
	*wrote = 1;
	return KF_ERR_NONE;
}

int kf_h_delete_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_delete_groups_req *r = kf_arena_alloc(&kc->arena, sizeof(*r));
	struct deleted *d = kf_arena_alloc(&kc->arena, sizeof(*d));
	int wrote = 0;

	if (!r || !d || kf_decode_delete_groups(cur, kc->hdr.api_version, &kc->arena, r) < 0)
		return KF_R_CLOSE;
	d->r = r;
	d->errs = kf_arena_alloc(&kc->arena, ((size_t)r->ngroups + 1) * sizeof(*d->errs));
	if (!d->errs)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r->ngroups; i++)
		d->errs[i] = delete_one(kc, r->groups[i], &wrote);
	struct ls_partition *p = tdm_groups_log(kc->srv->cgroups);
	if (!wrote || !kc->srv->replica || !p) {
		encode(kc, resp, d, KF_ERR_NONE);
		return KF_R_DONE;
	}
	return kf_offsets_wait(kc, tdm_partition_log_end(p), encode, d, resp);
}

/* ---- OffsetDelete ---------------------------------------------------------------------- */

struct offsets_deleted {
	const struct kf_offset_delete_req *r;
	int16_t top;
	int16_t *errs; /* per partition, in request order */
};

static void encode_offsets(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct offsets_deleted *d = ctx;
	(void)kc;
	kf_put_i16(resp, d->top);
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i32(resp, d->top ? 0 : d->r->ntopics);
	for (int32_t i = 0, k = 0; !d->top && i < d->r->ntopics; i++) {
		const struct kf_offset_delete_topic *t = &d->r->topics[i];
		kf_put_kstr(resp, t->name);
		kf_put_i32(resp, t->nparts);
		for (int32_t j = 0; j < t->nparts; j++, k++) {
			kf_put_i32(resp, t->parts[j]);
			kf_put_i16(resp, d->errs[k] != KF_ERR_NONE ? d->errs[k] : err);
		}
	}
}

/* The group-level checks; a Kafka error code, *g the group (or NULL). */
static int16_t offsets_group(struct kf_conn *kc, struct kf_str *id, char *group, size_t cap,
			     struct tdm_group **g)
{
	struct kf_server *srv = kc->srv;
	struct kf_str wire = *id;
	int16_t err = kf_authz_group_as(kc, TDM_PERM_CONFIGURE, id);
	*g = NULL;
	if (err)
		return err;
	if (kf_str_cstr(*id, group, cap) < 0 || !wire.len)
		return KF_ERR_INVALID_GROUP_ID;
	if ((err = kf_groups_coordinator(srv->groups)) != KF_ERR_NONE)
		return err;
	*g = tdm_groups_find(srv->cgroups, group, strlen(group));
	if (!*g && !tdm_groups_has_offsets(srv->cgroups, group))
		return KF_ERR_GROUP_ID_NOT_FOUND;
	if (*g && (*g)->members && (!(*g)->protocol_type || strcmp((*g)->protocol_type, "consumer")))
		return KF_ERR_NON_EMPTY_GROUP;
	return KF_ERR_NONE;
}

/* One topic's partitions: their errors in errs; 1 when offsets were deleted. */
static int offsets_topic(struct kf_conn *kc, const char *group, const struct tdm_group *g,
			 const struct kf_offset_delete_topic *t, int16_t *errs)
{
	struct kf_server *srv = kc->srv;
	char topic[256];
	int16_t err = kf_authz_topic(kc, TDM_PERM_READ, t->name);
	struct ls_topic *lt = err ? NULL : kf_topic_lookup(kc, t->name);
	int32_t *ok = kf_arena_alloc(&kc->arena, ((size_t)t->nparts + 1) * sizeof(*ok));
	size_t n = 0;

	if (!err && !lt)
		err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (!err && !ok)
		err = KF_ERR_UNKNOWN_SERVER_ERROR;
	if (!err)
		snprintf(topic, sizeof(topic), "%s", tdm_topic_name(lt));
	if (!err && g && g->members && tdm_group_subscribes(srv->cgroups, g, topic))
		err = KF_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
	for (int32_t j = 0; j < t->nparts; j++) {
		errs[j] = err;
		if (!err && !tdm_topic_partition(lt, t->parts[j]))
			errs[j] = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		else if (!err)
			ok[n++] = t->parts[j];
	}
	if (!n)
		return 0;
	int rc = tdm_groups_delete_offsets(srv->cgroups, group, topic, ok, n);
	if (rc == TDM_TOPIC_OK)
		return 1;
	for (int32_t j = 0; j < t->nparts; j++)
		if (!errs[j])
			errs[j] = kf_offsets_err(rc);
	return 0;
}

int kf_h_offset_delete(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_offset_delete_req *r = kf_arena_alloc(&kc->arena, sizeof(*r));
	struct offsets_deleted *d = kf_arena_alloc(&kc->arena, sizeof(*d));
	struct tdm_group *g;
	char group[1024];
	size_t total = 0;
	int wrote = 0;

	if (!r || !d || kf_decode_offset_delete(cur, kc->hdr.api_version, &kc->arena, r) < 0)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r->ntopics; i++)
		total += (size_t)r->topics[i].nparts;
	d->r = r;
	d->errs = kf_arena_alloc(&kc->arena, (total + 1) * sizeof(*d->errs));
	if (!d->errs)
		return KF_R_CLOSE;
	d->top = offsets_group(kc, &r->group_id, group, sizeof(group), &g);
	if (!d->top && kc->srv->replica) { /* Kafka writes the tombstones with acks=all */
		struct ls_partition *p = tdm_groups_log(kc->srv->cgroups);
		int rc = p ? tdm_replica_check_insync(kc->srv->replica, TDM_GROUPS_TOPIC, 0, p)
			   : TDM_REPL_UNKNOWN;
		if (rc != TDM_REPL_OK)
			d->top = kf_offsets_err(rc);
	}
	for (int32_t i = 0, k = 0; !d->top && i < r->ntopics; k += r->topics[i].nparts, i++)
		wrote |= offsets_topic(kc, group, g, &r->topics[i], d->errs + k);
	struct ls_partition *p = tdm_groups_log(kc->srv->cgroups);
	if (!wrote || !kc->srv->replica || !p) {
		encode_offsets(kc, resp, d, KF_ERR_NONE);
		return KF_R_DONE;
	}
	return kf_offsets_wait(kc, tdm_partition_log_end(p), encode_offsets, d, resp);
}
