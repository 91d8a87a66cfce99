/*
 * DescribeConfigs v0-2: a topic's configs (every key the store knows, or
 * those asked for: unknown names are left out, as Kafka does) with their
 * values and where they come from, and the broker's: its topic defaults
 * under Kafka's broker names (log.retention.ms, ...) and the few broker
 * settings with a Kafka name (broker.id, num.partitions, ...), read-only.
 *
 * Per resource, as Kafka answers:
 *  - a topic the user may not see (none of configure, write, read on it):
 *    TOPIC_AUTHORIZATION_FAILED (29), whether it exists or not; an unknown
 *    one UNKNOWN_TOPIC_OR_PARTITION (3);
 *  - the broker: the administrator tag (Kafka's DESCRIBE_CONFIGS on the
 *    cluster), else CLUSTER_AUTHORIZATION_FAILED (31); a name other than
 *    "" or this node's id INVALID_REQUEST (42);
 *  - any other resource type: INVALID_REQUEST.
 * config_source (v1+): DYNAMIC_TOPIC_CONFIG (1) for a topic's override,
 * DEFAULT_CONFIG (5) for what the broker gives every topic, and
 * STATIC_BROKER_CONFIG (4) for the broker's own; v0's is_default is
 * "not an override".  With include_synonyms (v1+) a topic config lists
 * itself and then its broker default, as Kafka's synonyms do.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/kf.h"

enum { SRC_TOPIC = 1, SRC_STATIC_BROKER = 4, SRC_DEFAULT = 5 };

/* Topic config -> the broker setting Kafka names its default by. */
static const struct {
	const char *topic, *broker;
} synonyms[] = {
	{ "segment.bytes", "log.segment.bytes" },
	{ "segment.ms", "log.roll.ms" },
	{ "segment.index.bytes", "log.index.size.max.bytes" },
	{ "index.interval.bytes", "log.index.interval.bytes" },
	{ "retention.ms", "log.retention.ms" },
	{ "retention.bytes", "log.retention.bytes" },
	{ "cleanup.policy", "log.cleanup.policy" },
	{ "delete.retention.ms", "log.cleaner.delete.retention.ms" },
	{ "min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio" },
	{ "flush.messages", "log.flush.interval.messages" },
	{ "flush.ms", "log.flush.interval.ms" },
	{ "max.message.bytes", "message.max.bytes" },
	{ "message.timestamp.type", "log.message.timestamp.type" },
	{ "compression.type", "compression.type" },
	{ "min.insync.replicas", "min.insync.replicas" },
	{ "unclean.leader.election.enable", "unclean.leader.election.enable" },
};

/* This node's broker.id: the cluster's node id, else what Metadata says. */
static int node_id(const struct kf_conn *kc)
{
	return kc->srv->replica ? (int)tdm_replica_node_id(kc->srv->replica) : KF_NODE_ID;
}

static const char *broker_name_of(const char *topic_key)
{
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
		if (!strcmp(synonyms[i].topic, topic_key))
			return synonyms[i].broker;
	return NULL;
}

/* 1 when key is wanted by resource res (every key when none is named). */
static int wanted(const struct kf_describe_configs_resource *res, const char *key)
{
	if (res->nkeys < 0)
		return 1;
	for (int32_t i = 0; i < res->nkeys; i++)
		if (res->keys[i].len == (int32_t)strlen(key) && !memcmp(res->keys[i].p, key, strlen(key)))
			return 1;
	return 0;
}

/* One config entry in the response of version ver. */
static void put_entry(struct evbuffer *b, int ver, const char *name, const char *value,
		      int read_only, int source)
{
	kf_put_str(b, name);
	kf_put_str(b, value);
	kf_put_i8(b, (int8_t)read_only);
	if (ver == 0)
		kf_put_i8(b, source != SRC_TOPIC); /* is_default */
	else
		kf_put_i8(b, (int8_t)source);
	kf_put_i8(b, 0); /* is_sensitive */
}

static void put_synonym(struct evbuffer *b, const char *name, const char *value, int source)
{
	kf_put_str(b, name);
	kf_put_str(b, value);
	kf_put_i8(b, (int8_t)source);
}

/* A topic's configs: count, then each entry (and its synonyms). */
static void put_topic_configs(struct kf_conn *kc, struct evbuffer *b, int ver, int synonyms_too,
			      const struct ls_topic *t, const struct kf_describe_configs_resource *res)
{
	const char *key;
	int32_t n = 0;
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL; i++)
		n += wanted(res, key);
	kf_put_i32(b, n);
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL; i++) {
		char value[128], def[128];
		int is_default = 1;
		if (!wanted(res, key))
			continue;
		tdm_topic_config_value(t, key, value, sizeof(value), &is_default);
		put_entry(b, ver, key, value, 0, is_default ? SRC_DEFAULT : SRC_TOPIC);
		if (ver == 0)
			continue;
		const char *bname = broker_name_of(key);
		int nsyn = synonyms_too ? (!is_default) + (bname != NULL) : 0;
		kf_put_i32(b, nsyn);
		if (nsyn && !is_default)
			put_synonym(b, key, value, SRC_TOPIC);
		if (nsyn && bname) {
			tdm_topics_config_default(kc->srv->topics, key, def, sizeof(def));
			put_synonym(b, bname, def, SRC_DEFAULT);
		}
	}
}

/* The broker's settings with a Kafka name: this node's own first. */
static void put_broker_configs(struct kf_conn *kc, struct evbuffer *b, int ver, int synonyms_too,
			       const struct kf_describe_configs_resource *res)
{
	const struct tdm_config *cfg = kc->srv->cfg;
	char own[4][24];
	const char *own_names[4] = { "broker.id", "num.partitions", "default.replication.factor",
				     "auto.create.topics.enable" };
	snprintf(own[0], sizeof(own[0]), "%d", node_id(kc));
	snprintf(own[1], sizeof(own[1]), "%u", cfg ? cfg->num_partitions : 1u);
	snprintf(own[2], sizeof(own[2]), "%u", cfg ? cfg->default_replication_factor : 1u);
	snprintf(own[3], sizeof(own[3]), "%s", cfg && cfg->auto_create_topics ? "true" : "false");
	int32_t n = 0;
	for (size_t i = 0; i < 4; i++)
		n += wanted(res, own_names[i]);
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
		n += wanted(res, synonyms[i].broker);
	kf_put_i32(b, n);
	for (size_t i = 0; i < 4; i++) {
		if (!wanted(res, own_names[i]))
			continue;
		put_entry(b, ver, own_names[i], own[i], 1, SRC_STATIC_BROKER);
		if (ver >= 1)
			kf_put_i32(b, 0); /* no synonyms */
	}
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++) {
		char def[128];
		if (!wanted(res, synonyms[i].broker))
			continue;
		tdm_topics_config_default(kc->srv->topics, synonyms[i].topic, def, sizeof(def));
		put_entry(b, ver, synonyms[i].broker, def, 1, SRC_DEFAULT);
		if (ver >= 1) {
			kf_put_i32(b, synonyms_too ? 1 : 0);
			if (synonyms_too)
				put_synonym(b, synonyms[i].broker, def, SRC_DEFAULT);
		}
	}
}

/* The head of a result: error, message, type, name. */
static void put_result_head(struct evbuffer *b, int16_t err, const char *msg,
			    const struct kf_describe_configs_resource *res)
{
	kf_put_i16(b, err);
	kf_put_str(b, msg);
	kf_put_i8(b, res->type);
	kf_put_kstr(b, res->name);
}

int kf_this_broker(const struct kf_conn *kc, struct kf_str name, char *msg, size_t msglen)
{
	char id[16];
	int n = snprintf(id, sizeof(id), "%d", node_id(kc));
	if (name.len == 0 || (name.len == n && !memcmp(name.p, id, (size_t)n)))
		return 1;
	snprintf(msg, msglen, "Unexpected broker id, expected %d or empty string, but received %.*s",
		 node_id(kc), name.len > 0 ? (int)name.len : 0, name.p);
	return 0;
}

static void describe_one(struct kf_conn *kc, struct evbuffer *b, int ver, int synonyms_too,
			 const struct kf_describe_configs_resource *res)
{
	char msg[300];
	if (res->type == KF_RESOURCE_BROKER) {
		if (!kf_authz_cluster(kc)) {
			put_result_head(b, KF_ERR_CLUSTER_AUTHORIZATION_FAILED,
					"Cluster authorization failed.", res);
			kf_put_i32(b, 0);
		} else if (!kf_this_broker(kc, res->name, msg, sizeof(msg))) {
			put_result_head(b, KF_ERR_INVALID_REQUEST, msg, res);
			kf_put_i32(b, 0);
		} else {
			put_result_head(b, KF_ERR_NONE, NULL, res);
			put_broker_configs(kc, b, ver, synonyms_too, res);
		}
		return;
	}
	if (res->type != KF_RESOURCE_TOPIC) {
		snprintf(msg, sizeof(msg), "Unsupported resource type %d", (int)res->type);
		put_result_head(b, KF_ERR_INVALID_REQUEST, msg, res);
		kf_put_i32(b, 0);
		return;
	}
	struct ls_topic *t = NULL;
	int16_t err = KF_ERR_NONE;
	if (res->name.len <= 0 || !kf_authz_topic_visible(kc, res->name.p, (size_t)res->name.len))
		err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
	else if (!(t = kf_topic_lookup(kc, res->name)))
		err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (err) {
		put_result_head(b, err, err == KF_ERR_UNKNOWN_TOPIC_OR_PARTITION
					     ? "The topic does not exist."
					     : "Topic authorization failed.", res);
		kf_put_i32(b, 0);
		return;
	}
	put_result_head(b, KF_ERR_NONE, NULL, res);
	put_topic_configs(kc, b, ver, synonyms_too, t, res);
}

int kf_h_describe_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_describe_configs_req r;
	int ver = kc->hdr.api_version;

	if (kf_decode_describe_configs(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i32(resp, r.nresources);
	for (int32_t i = 0; i < r.nresources; i++)
		describe_one(kc, resp, ver, r.include_synonyms, &r.resources[i]);
	return KF_R_DONE;
}
