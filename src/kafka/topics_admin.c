/*
 * CreateTopics v0-7 (v5+ flexible, answering each new topic's partitions,
 * replication factor and configs: create_topics_v5.c; v7 its topic id),
 * DeleteTopics v0-6 (v4+ flexible, v5 an error message, v6 topics named
 * by name or by id: UNKNOWN_TOPIC_ID, 100, for an id no topic has),
 * CreatePartitions v0-3 (v2+ flexible).  Topic ids are the cluster's
 * (the controller gives each topic one); a single node's topics have
 * none yet, so they answer the zero uuid and cannot be named by id.  One
 * broker: the replication factor must be 1 (or -1, the default), and
 * explicit replica assignments may only fix the partition count.  In a
 * cluster each request goes to the controller through the replica manager
 * (core/replica.h: ZooKeeper's /brokers/topics, /admin/delete_topics) and
 * waits until the change is applied on this node.  Topic
 * configs go to core's topics as given (retention.ms, retention.bytes,
 * segment.bytes, cleanup.policy, ...); an unknown key is INVALID_CONFIG.
 * The broker's limits (core/topics.h) answer INVALID_PARTITIONS (per
 * topic), POLICY_VIOLATION (per broker) and INVALID_CONFIG (segment.bytes
 * below its floor), with the reason in error_message.
 *
 * Each topic needs the user's configure permission on its name
 * (authz.c); without it the topic gets TOPIC_AUTHORIZATION_FAILED,
 * whether or not it exists.
 *
 * Making a topic's or its new partitions' folders and files is a
 * background job (tdm_topics_create_bg): the request parks until every
 * topic of it is made, and the answer then carries each one's outcome.
 * Only this connection waits; the loop goes on serving everyone else.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "kafka/kf.h"

#include "kafka/admin_internal.h"

/* CreateTopics v0: [name, error_code]; v1: + error_message; v2-4:
 * throttle_time_ms first (v4 only lets num_partitions and
 * replication_factor be -1, the broker's defaults, which every version
 * here takes).  CreatePartitions: throttle_time_ms, [name, error_code,
 * error_message]. */
static void encode_topics(const struct admin_park *pk, struct evbuffer *resp)
{
	int ver = pk->kc->hdr.api_version, flex = pk->flex;
	int created = !pk->partitions && !pk->deleting;

	if (pk->partitions || (pk->deleting && ver >= 1) || (!pk->deleting && ver >= 2))
		kf_put_i32(resp, 0);
	kf_put_farray(resp, flex, pk->n);
	for (int32_t i = 0; i < pk->n; i++) {
		const struct made_slot *sl = &pk->slots[i];
		const char *msg = sl->msg[0] ? sl->msg : kf_err_name(sl->err);
		uint8_t id[16];

		memcpy(id, sl->topic_id, sizeof(id));
		if (created && sl->err == KF_ERR_NONE && !pk->validate_only)
			kf_topic_uuid(kf_topic_lookup(pk->kc, sl->name), id);
		kf_put_fkstr(resp, flex, sl->name);
		if ((created && ver >= 7) || (pk->deleting && ver >= 6))
			evbuffer_add(resp, id, sizeof(id));
		kf_put_i16(resp, sl->err);
		if (pk->partitions || (created && ver >= 1) || (pk->deleting && ver >= 5))
			kf_put_fstr(resp, flex, sl->err == KF_ERR_NONE ? NULL : msg);
		if (created && ver >= 5)
			kf_put_created_topic(pk, sl, resp);
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
}

void kf_admin_made(void *ctx, int rc, const char *err)
{
	struct made_slot *sl = ctx;
	struct admin_park *pk = sl->pk;

	sl->job = NULL;
	sl->op = NULL;
	sl->err = kf_err_from_core(rc);
	snprintf(sl->msg, sizeof(sl->msg), "%s", rc == TDM_TOPIC_OK ? "" : err);
	if (--pk->pending > 0)
		return;
	pk->encode(pk, pk->kc->resp);
	kf_complete(pk->kc, pk->kc->resp);
}

static void admin_cancel(struct kf_park *p)
{
	struct admin_park *pk = (struct admin_park *)p;

	for (int32_t i = 0; i < pk->n; i++) {
		tdm_topics_job_forget(pk->slots[i].job);
		tdm_replica_op_forget(pk->slots[i].op);
	}
}

struct admin_park *kf_admin_park_new(struct kf_conn *kc, int32_t n,
				     void (*encode)(const struct admin_park *, struct evbuffer *))
{
	struct admin_park *pk = kf_arena_alloc(&kc->arena, sizeof(*pk));

	if (!pk)
		return NULL;
	memset(pk, 0, sizeof(*pk));
	if (n > 0 && !(pk->slots = kf_arena_alloc(&kc->arena, (size_t)n * sizeof(*pk->slots))))
		return NULL;
	/* zeroed: a connection closing while parked forgets every slot's job,
	 * also of those that never started one */
	if (n > 0)
		memset(pk->slots, 0, (size_t)n * sizeof(*pk->slots));
	pk->base.cancel = admin_cancel;
	pk->kc = kc;
	pk->encode = encode;
	pk->flex = kf_flex(kc);
	pk->n = n;
	pk->pending = 1;
	for (int32_t i = 0; i < n; i++)
		pk->slots[i].pk = pk;
	return pk;
}

/* The handler is done starting jobs: answer now, or park until they end. */
int kf_admin_park_or_answer(struct kf_conn *kc, struct admin_park *pk, struct evbuffer *resp)
{
	if (--pk->pending == 0) {
		pk->encode(pk, resp);
		return KF_R_DONE;
	}
	kc->park = &pk->base;
	return KF_R_PARKED;
}

/* An explicit replica assignment of CreateTopics, for the cluster: its
 * partitions in index order (they must be 0..n-1, each once), in the
 * request arena.  KF_ERR_NONE (spec untouched without one), or
 * INVALID_REPLICA_ASSIGNMENT. */
static int16_t cluster_assignment(struct kf_conn *kc, const struct kf_create_topic *t,
				  struct tdm_replica_topic_spec *spec)
{
	struct tdm_replica_assignment *as;
	int32_t n = t->nassignments;

	if (n <= 0)
		return KF_ERR_NONE;
	if (!(as = kf_arena_alloc(&kc->arena, (size_t)n * sizeof(*as))))
		return KF_ERR_INVALID_REPLICA_ASSIGNMENT;
	memset(as, 0, (size_t)n * sizeof(*as));
	for (int32_t i = 0; i < n; i++) {
		const struct kf_replica_assignment *ra = &t->assignments[i];

		if (ra->partition_index < 0 || ra->partition_index >= n || ra->nbrokers <= 0 ||
		    as[ra->partition_index].n)
			return KF_ERR_INVALID_REPLICA_ASSIGNMENT;
		as[ra->partition_index].replicas = ra->brokers;
		as[ra->partition_index].n = (size_t)ra->nbrokers;
	}
	spec->assignment = as;
	spec->nassignment = (size_t)n;
	spec->partitions = -1;
	spec->replication_factor = -1;
	return KF_ERR_NONE;
}

/* Checks one topic and starts its making (kf_admin_made then sets the outcome);
 * returns the error found here, KF_ERR_NONE if none. */
static int16_t check_one(struct kf_conn *kc, const struct kf_create_topic *t, int validate_only,
			 struct made_slot *sl)
{
	struct kf_server *srv = kc->srv;
	char *msg = sl->msg;
	size_t msglen = sizeof(sl->msg);
	struct tdm_kv kv[MAX_CONFIGS];
	char name[256], keys[MAX_CONFIGS][128], vals[MAX_CONFIGS][256];
	int32_t parts = t->num_partitions;
	int rc;

	msg[0] = '\0';
	if (kf_str_cstr(t->name, name, sizeof(name)) < 0 || t->name.len == 0)
		return KF_ERR_INVALID_TOPIC_EXCEPTION;
	if (!kf_authz_topic_ok(kc, TDM_PERM_CONFIGURE, name))
		return KF_ERR_TOPIC_AUTHORIZATION_FAILED; /* another vhost's, internal, or refused */
	if (t->nassignments > 0) {
		if (parts != -1)
			return KF_ERR_INVALID_REQUEST;
		parts = t->nassignments;
	}
	if (parts == -1)
		parts = (int32_t)srv->cfg->num_partitions;
	if (parts <= 0)
		return KF_ERR_INVALID_PARTITIONS;
	sl->parts = parts;
	sl->rf = t->nassignments > 0 ? (int16_t)t->assignments[0].nbrokers
		 : t->replication_factor != -1 ? t->replication_factor
		 : srv->replica ? (int16_t)srv->cfg->default_replication_factor : 1;
	if (t->replication_factor != 1 && t->replication_factor != -1 && t->nassignments == 0 &&
	    !srv->replica)
		return KF_ERR_INVALID_REPLICATION_FACTOR;
	if (t->replication_factor == 0 || t->replication_factor < -1)
		return KF_ERR_INVALID_REPLICATION_FACTOR;
	if (t->nconfigs > MAX_CONFIGS)
		return KF_ERR_INVALID_CONFIG;
	for (int32_t i = 0; i < t->nconfigs; i++) {
		if (kf_str_cstr(t->configs[i].name, keys[i], sizeof(keys[i])) < 0)
			return KF_ERR_INVALID_CONFIG;
		kv[i].name = keys[i];
		kv[i].value = NULL;
		if (t->configs[i].value.len >= 0) {
			if (kf_str_cstr(t->configs[i].value, vals[i], sizeof(vals[i])) < 0)
				return KF_ERR_INVALID_CONFIG;
			kv[i].value = vals[i];
		}
		if (!kv[i].value)
			return KF_ERR_INVALID_CONFIG;
	}
	if (validate_only) {
		if (tdm_topic_find(srv->topics, name))
			return KF_ERR_TOPIC_ALREADY_EXISTS;
		rc = tdm_topics_check(srv->topics, parts, kv, (size_t)t->nconfigs, msg, msglen);
		if (rc != TDM_TOPIC_OK)
			return kf_err_from_core(rc);
		for (int32_t i = 0; i < t->nconfigs; i++)
			if (tdm_topic_config_try(NULL, kv[i].name, kv[i].value, NULL, 0) != TDM_TOPIC_OK) {
				snprintf(msg, msglen, "invalid config %s", kv[i].name);
				return KF_ERR_INVALID_CONFIG;
			}
		return KF_ERR_NONE;
	}
	sl->pk->pending++;
	if (srv->replica) {
		struct tdm_replica_topic_spec spec = { name, parts, t->replication_factor, kv,
						       (size_t)t->nconfigs, NULL, 0 };
		int16_t aerr = cluster_assignment(kc, t, &spec);

		if (aerr != KF_ERR_NONE) {
			sl->pk->pending--;
			return aerr;
		}
		rc = tdm_replica_create_topic(srv->replica, &spec, kf_admin_made, sl, &sl->op, msg, msglen);
	} else {
		rc = tdm_topics_create_bg(srv->topics, name, parts, kv, (size_t)t->nconfigs, kf_admin_made,
					  sl, &sl->job, msg, msglen);
	}
	if (rc != TDM_TOPIC_OK)
		sl->pk->pending--;
	return kf_err_from_core(rc); /* KF_ERR_NONE: kf_admin_made sets the outcome */
}

static void create_one(struct kf_conn *kc, const struct kf_create_topic *t, int validate_only,
		       struct made_slot *sl)
{
	int16_t err;

	sl->name = t->name;
	sl->err = KF_ERR_NONE;
	sl->req = t;
	err = check_one(kc, t, validate_only, sl);
	if (err != KF_ERR_NONE)
		sl->err = err;
}

int kf_h_create_topics(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_create_topics_req r;
	struct admin_park *pk;

	if (kf_decode_create_topics(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (!(pk = kf_admin_park_new(kc, r.ntopics, encode_topics)))
		return KF_R_CLOSE;
	pk->validate_only = r.validate_only;
	for (int32_t i = 0; i < r.ntopics; i++)
		create_one(kc, &r.topics[i], r.validate_only, &pk->slots[i]);
	return kf_admin_park_or_answer(kc, pk, resp);
}

/* DeleteTopics v6 names a topic by id (null name): its name (an arena
 * copy: the answer outlives the topic), or KF_ERR_UNKNOWN_TOPIC_ID. */
static int16_t name_by_id(struct kf_conn *kc, const uint8_t id[16], struct kf_str *name)
{
	struct ls_topic *t = kf_topic_by_uuid(kc, id);
	const char *n = t ? tdm_topic_name(t) : NULL;
	char *copy = n ? kf_arena_alloc(&kc->arena, strlen(n) + 1) : NULL;

	if (!copy)
		return t ? KF_ERR_UNKNOWN_SERVER_ERROR : KF_ERR_UNKNOWN_TOPIC_ID;
	memcpy(copy, n, strlen(n) + 1);
	*name = (struct kf_str){ copy, (int32_t)strlen(n) };
	return KF_ERR_NONE;
}

/* One topic of a DeleteTopics request: its outcome in sl (or a job). */
static void delete_one(struct kf_conn *kc, struct made_slot *sl)
{
	char name[256];
	struct ls_topic *t;

	if (kf_str_cstr(sl->name, name, sizeof(name)) < 0)
		return;
	if (!kf_authz_topic_ok(kc, TDM_PERM_CONFIGURE, name)) {
		sl->err = KF_ERR_TOPIC_AUTHORIZATION_FAILED; /* another vhost's, internal, refused */
		return;
	}
	if ((t = tdm_topic_find(kc->srv->topics, name)) != NULL)
		kf_topic_uuid(t, sl->topic_id);
	if (!kc->srv->replica) {
		sl->err = kf_err_from_core(tdm_topics_admin_delete(kc->srv->topics, name));
	} else if (!t) {
		sl->err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else {
		int rc;

		sl->pk->pending++;
		rc = tdm_replica_delete_topic(kc->srv->replica, name, kf_admin_made, sl, &sl->op,
					      sl->msg, sizeof(sl->msg));
		if (rc != TDM_TOPIC_OK)
			sl->pk->pending--;
		sl->err = kf_err_from_core(rc);
	}
}

/* v1: throttle_time_ms first; [name, error_code].  In a cluster the
 * deletion goes through the controller and the request waits for it. */
int kf_h_delete_topics(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_delete_topics_req r;
	struct admin_park *pk;

	if (kf_decode_delete_topics(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (!(pk = kf_admin_park_new(kc, r.ntopics, encode_topics)))
		return KF_R_CLOSE;
	pk->deleting = 1;
	for (int32_t i = 0; i < r.ntopics; i++) {
		struct made_slot *sl = &pk->slots[i];

		sl->name = r.topics[i];
		sl->err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (r.topic_ids && r.topics[i].len < 0) {
			memcpy(sl->topic_id, r.topic_ids[i], sizeof(sl->topic_id));
			if ((sl->err = name_by_id(kc, r.topic_ids[i], &sl->name)) != KF_ERR_NONE)
				continue;
			sl->err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		}
		delete_one(kc, sl);
	}
	return kf_admin_park_or_answer(kc, pk, resp);
}

/* Checks one topic's new count and starts making the partitions. */
static void grow_one(struct kf_conn *kc, const struct kf_create_partitions_topic *ct,
		     int validate_only, struct made_slot *sl)
{
	int16_t err = kf_authz_topic(kc, TDM_PERM_CONFIGURE, ct->name);
	struct ls_topic *t = err ? NULL : kf_topic_lookup(kc, ct->name);
	int rc;

	sl->name = ct->name;
	sl->err = KF_ERR_NONE;
	if (!t) {
		sl->err = err ? err : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else if (ct->count <= tdm_topic_partitions(t)) {
		sl->err = KF_ERR_INVALID_PARTITIONS;
		snprintf(sl->msg, sizeof(sl->msg), "Partitions can only grow.");
	} else if (ct->nassignments >= 0 &&
		   ct->nassignments != ct->count - tdm_topic_partitions(t)) {
		sl->err = KF_ERR_INVALID_REPLICA_ASSIGNMENT;
	} else if (!validate_only) {
		sl->pk->pending++;
		if (kc->srv->replica)
			rc = tdm_replica_add_partitions(kc->srv->replica, tdm_topic_name(t), ct->count,
							kf_admin_made, sl, &sl->op, sl->msg, sizeof(sl->msg));
		else
			rc = tdm_topics_add_partitions_bg(kc->srv->topics, t, ct->count, kf_admin_made, sl,
							  &sl->job, sl->msg, sizeof(sl->msg));
		if (rc != TDM_TOPIC_OK) {
			sl->pk->pending--;
			sl->err = kf_err_from_core(rc);
		}
	}
}

int kf_h_create_partitions(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_create_partitions_req r;
	struct admin_park *pk;

	if (kf_decode_create_partitions(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (!(pk = kf_admin_park_new(kc, r.ntopics, encode_topics)))
		return KF_R_CLOSE;
	pk->partitions = 1;
	for (int32_t i = 0; i < r.ntopics; i++)
		grow_one(kc, &r.topics[i], r.validate_only, &pk->slots[i]);
	return kf_admin_park_or_answer(kc, pk, resp);
}
