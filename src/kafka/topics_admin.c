/*
 * CreateTopics v0-1, DeleteTopics v0-1, CreatePartitions v0-1.  One
 * broker: the replication factor must be 1 (or -1, the default), and
 * explicit replica assignments may only fix the partition count.  Topic
 * configs go to core's topics as given (retention.ms, retention.bytes,
 * segment.bytes, cleanup.policy, ...); an unknown key is INVALID_CONFIG.
 * The broker's limits (core/topics.h) answer INVALID_PARTITIONS (per
 * topic), POLICY_VIOLATION (per broker) and INVALID_CONFIG (segment.bytes
 * below its floor), with the reason in error_message.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"
#include "kafka/kf.h"

#define MAX_CONFIGS 64

static int16_t create_one(struct kf_server *srv, const struct kf_create_topic *t, int validate_only,
			  char *msg, size_t msglen)
{
	struct tdm_kv kv[MAX_CONFIGS];
	char name[256], keys[MAX_CONFIGS][128], vals[MAX_CONFIGS][256];
	int32_t parts = t->num_partitions;
	int rc;

	msg[0] = '\0';
	if (kf_str_cstr(t->name, name, sizeof(name)) < 0 || t->name.len == 0)
		return KF_ERR_INVALID_TOPIC_EXCEPTION;
	if (!kf_topic_allowed(srv, name, strlen(name)))
		return KF_ERR_TOPIC_AUTHORIZATION_FAILED; /* another vhost's, or internal */
	if (t->nassignments > 0) {
		if (parts != -1)
			return KF_ERR_INVALID_REQUEST;
		parts = t->nassignments;
	}
	if (parts == -1)
		parts = (int32_t)srv->cfg->num_partitions;
	if (parts <= 0)
		return KF_ERR_INVALID_PARTITIONS;
	if (t->replication_factor != 1 && t->replication_factor != -1 && t->nassignments == 0)
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
	rc = tdm_topics_create(srv->topics, name, parts, kv, (size_t)t->nconfigs, msg, msglen);
	return kf_err_from_core(rc);
}

/* v0: [name, error_code]; v1: + error_message. */
int kf_h_create_topics(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_create_topics_req r;

	if (kf_decode_create_topics(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		char msg[256];
		int16_t err = create_one(kc->srv, &r.topics[i], r.validate_only, msg, sizeof(msg));

		kf_put_kstr(resp, r.topics[i].name);
		kf_put_i16(resp, err);
		if (ver >= 1)
			kf_put_str(resp, err == KF_ERR_NONE ? NULL : msg[0] ? msg : kf_err_name(err));
	}
	return KF_R_DONE;
}

/* v1: throttle_time_ms first; [name, error_code]. */
int kf_h_delete_topics(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_delete_topics_req r;

	if (kf_decode_delete_topics(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (ver >= 1)
		kf_put_i32(resp, 0);
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		int16_t err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		char name[256];

		if (kf_str_cstr(r.topics[i], name, sizeof(name)) < 0)
			err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		else if (!kf_topic_allowed(kc->srv, name, strlen(name)))
			err = KF_ERR_TOPIC_AUTHORIZATION_FAILED; /* another vhost's, or internal */
		else
			err = kf_err_from_core(tdm_topics_admin_delete(kc->srv->topics, name));
		kf_put_kstr(resp, r.topics[i]);
		kf_put_i16(resp, err);
	}
	return KF_R_DONE;
}

/* throttle_time_ms, [name, error_code, error_message]. */
int kf_h_create_partitions(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	struct kf_create_partitions_req r;

	if (kf_decode_create_partitions(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	kf_put_i32(resp, 0);
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		const struct kf_create_partitions_topic *ct = &r.topics[i];
		struct ls_topic *t = kf_topic_lookup(kc->srv, ct->name);
		int16_t err = KF_ERR_NONE;
		const char *msg = NULL;

		if (!t) {
			err = kf_topic_error(kc->srv, ct->name);
		} else if (ct->count <= tdm_topic_partitions(t)) {
			err = KF_ERR_INVALID_PARTITIONS;
			msg = "Partitions can only grow.";
		} else if (ct->nassignments >= 0 &&
			   ct->nassignments != ct->count - tdm_topic_partitions(t)) {
			err = KF_ERR_INVALID_REPLICA_ASSIGNMENT;
		} else if (!r.validate_only) {
			err = kf_err_from_core(tdm_topics_add_partitions(kc->srv->topics, t, ct->count));
		}
		kf_put_kstr(resp, ct->name);
		kf_put_i16(resp, err);
		kf_put_str(resp, err == KF_ERR_NONE ? NULL : msg ? msg : kf_err_name(err));
	}
	return KF_R_DONE;
}
