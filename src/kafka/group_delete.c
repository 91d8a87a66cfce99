/*
 * DeleteGroups v0-1: each named group's committed offsets go, and the
 * group with them (core's tdm_groups_forget), on the coordinator, as
 * Kafka's GroupCoordinator.handleDeleteGroups.  Per group:
 *  - configure on the group id (Kafka's DELETE on the group; as the
 *    management API's DELETE of a group), else GROUP_AUTHORIZATION_FAILED;
 *  - an empty id INVALID_GROUP_ID;
 *  - not the coordinator: NOT_COORDINATOR (the client looks it up again);
 *  - neither a group nor committed offsets: GROUP_ID_NOT_FOUND;
 *  - live members: NON_EMPTY_GROUP, nothing deleted.
 * The deletions are tombstones in the group offsets log; in a cluster the
 * answer waits until its in-sync replicas have them (kf_offsets_wait), so
 * a new coordinator does not bring the offsets back.
 *
 * Must not depend on: src/amqp.
 */
#include <string.h>

#include "core/groups.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "kafka/kf.h"

struct deleted {
	const struct kf_delete_groups_req *r;
	int16_t *errs;
};

static void encode(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct deleted *d = ctx;
	(void)kc;
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i32(resp, d->r->ngroups);
	for (int32_t i = 0; i < d->r->ngroups; i++) {
		kf_put_kstr(resp, d->r->groups[i]);
		/* a deletion whose tombstones were not replicated failed */
		kf_put_i16(resp, d->errs[i] != KF_ERR_NONE ? d->errs[i] : err);
	}
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
