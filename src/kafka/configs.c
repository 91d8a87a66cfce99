/*
 * DescribeConfigs v0-4: a topic's configs (every key the store knows, or
 * those asked for: unknown names are left out, as Kafka does) with their
 * values and where they come from, and the broker's: its topic defaults
 * under Kafka's broker names (log.retention.ms, ...) and the few broker
 * settings with a Kafka name (broker.id, num.partitions, broker.rack, ...),
 * read-only (the log.* defaults are dynamic).
 *
 * Per resource, as Kafka answers:
 *  - a topic the user may not see (none of configure, write, read on it):
 *    TOPIC_AUTHORIZATION_FAILED (29), whether it exists or not; an unknown
 *    one UNKNOWN_TOPIC_OR_PARTITION (3);
 *  - the broker: the administrator tag (Kafka's DESCRIBE_CONFIGS on the
 *    cluster), else CLUSTER_AUTHORIZATION_FAILED (31); a name other than
 *    "" or this node's id INVALID_REQUEST (42);
 *  - any other resource type: INVALID_REQUEST.
 * config_source (v1+): DYNAMIC_TOPIC_CONFIG (1) for a topic's override;
 * for what the broker gives every topic DYNAMIC_BROKER_CONFIG (2) or
 * DYNAMIC_DEFAULT_BROKER_CONFIG (3) when set at run time
 * (broker_configs.c, core/dyn_defaults.h), else DEFAULT_CONFIG (5); and
 * STATIC_BROKER_CONFIG (4) for the broker's own, read-only settings; v0's
 * is_default is "not an override".  With include_synonyms (v1+) a topic
 * config lists itself, then its broker default's synonyms in Kafka's
 * order: this broker's dynamic value, the cluster-wide dynamic default,
 * the static default.  v3: each
 * entry's config_type (Kafka's ConfigType: BOOLEAN 1, STRING 2, INT 3,
 * LONG 5, DOUBLE 6, LIST 7) and, when include_documentation, a sentence
 * on what it does (null otherwise); v4 flexible.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/dyn_defaults.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/admin_internal.h"

enum {
	SRC_TOPIC = 1,
	SRC_DYN_BROKER = 2,
	SRC_DYN_DEFAULT = 3,
	SRC_STATIC_BROKER = 4,
	SRC_DEFAULT = 5
};
enum { T_BOOLEAN = 1, T_STRING = 2, T_INT = 3, T_LONG = 5, T_DOUBLE = 6, T_LIST = 7 };

/* Topic config (its broker name: tdm_dyn_broker_name), its type and
 * what it does. */
static const struct {
	const char *topic;
	int8_t type;
	const char *doc;
} synonyms[] = {
	{ "segment.bytes", T_INT, "Size at which a segment file is rolled." },
	{ "segment.ms", T_LONG, "Age at which a segment is rolled even if not full." },
	{ "segment.index.bytes", T_INT,
	  "Largest offset index of a segment; a full index rolls the segment." },
	{ "index.interval.bytes", T_INT,
	  "Bytes of records between two entries of the offset index." },
	{ "retention.ms", T_LONG, "Age after which whole segments are deleted (-1: no limit)." },
	{ "retention.bytes", T_LONG,
	  "Size a partition may reach before its oldest segments are deleted (-1: no limit)." },
	{ "cleanup.policy", T_LIST,
	  "delete (retention), compact (the last record per key) or both." },
	{ "delete.retention.ms", T_LONG, "How long compaction keeps a key's tombstone." },
	{ "min.cleanable.dirty.ratio", T_DOUBLE,
	  "Share of not yet compacted bytes that makes a log worth compacting." },
	{ "flush.messages", T_LONG, "Records appended between two forced fsyncs." },
	{ "flush.ms", T_LONG, "Longest time between two fsyncs." },
	{ "max.message.bytes", T_INT, "Largest record batch accepted." },
	{ "message.timestamp.type", T_STRING,
	  "CreateTime (the producer's) or LogAppendTime (the broker's)." },
	{ "compression.type", T_STRING,
	  "Codec batches are stored with; producer keeps the producer's." },
	{ "min.insync.replicas", T_INT, "In-sync replicas an acks=all write needs." },
	{ "unclean.leader.election.enable", T_BOOLEAN,
	  "Whether a replica out of sync may become leader (never in tandem)." },
	{ "message.format.version", T_STRING,
	  "Record format of an old release; ignored as in Kafka 3 (always v2)." },
};

/* The broker's own settings with a Kafka name. */
static const struct {
	const char *name;
	int8_t type;
	const char *doc;
} own_settings[5] = {
	{ "broker.id", T_INT, "This broker's id (the node id in a cluster)." },
	{ "num.partitions", T_INT, "Partitions of a topic created without a count." },
	{ "default.replication.factor", T_INT, "Replicas of a topic created without a factor." },
	{ "auto.create.topics.enable", T_BOOLEAN,
	  "Whether a topic is created when a client first names it." },
	{ "broker.rack", T_STRING, "This broker's rack (broker_rack); null when it has none." },
};

/* 1 when the broker setting of synonyms[i] can change at run time: every
 * one but log.message.format.version, as Kafka's DynamicLogConfig
 * (checking a format version against every broker is left out there). */
static int is_dynamic(size_t i)
{
	return strcmp(tdm_dyn_broker_name(synonyms[i].topic), "log.message.format.version") != 0;
}

const char *kf_broker_config_topic_key(struct kf_str name, int *is_static)
{
	*is_static = 0;
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
		if (kf_str_eq(name, tdm_dyn_broker_name(synonyms[i].topic))) {
			*is_static = !is_dynamic(i);
			return is_dynamic(i) ? synonyms[i].topic : NULL;
		}
	for (size_t i = 0; i < sizeof(own_settings) / sizeof(own_settings[0]); i++)
		if (kf_str_eq(name, own_settings[i].name))
			*is_static = 1;
	return NULL;
}

/* How entries are written: the request's version and flags. */
struct out {
	struct evbuffer *b;
	int ver, flex, synonyms, docs;
};

/* This node's broker.id: the cluster's node id, else what Metadata says. */
static int node_id(const struct kf_conn *kc)
{
	return kc->srv->replica ? (int)tdm_replica_node_id(kc->srv->replica) : KF_NODE_ID;
}

/* The synonyms row of a topic config, or -1. */
static int synonym_index(const char *topic_key)
{
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
		if (!strcmp(synonyms[i].topic, topic_key))
			return (int)i;
	return -1;
}

/* 1 when key is wanted by resource res (every key when none is named). */
static int wanted(const struct kf_describe_configs_resource *res, const char *key)
{
	if (res->nkeys < 0)
		return 1;
	for (int32_t i = 0; i < res->nkeys; i++)
		if (res->keys[i].len == (int32_t)strlen(key) &&
		    !memcmp(res->keys[i].p, key, strlen(key)))
			return 1;
	return 0;
}

/* One config entry's head in the response (synonyms follow from v1). */
static void put_entry(const struct out *o, const char *name, const char *value, int read_only,
		      int source)
{
	kf_put_fstr(o->b, o->flex, name);
	kf_put_fstr(o->b, o->flex, value);
	kf_put_i8(o->b, (int8_t)read_only);
	if (o->ver == 0)
		kf_put_i8(o->b, source != SRC_TOPIC); /* is_default */
	else
		kf_put_i8(o->b, (int8_t)source);
	kf_put_i8(o->b, 0); /* is_sensitive */
}

/* An entry's end: (v3) its type and documentation, (flex) tags. */
static void put_entry_end(const struct out *o, int8_t type, const char *doc)
{
	if (o->ver >= 3) {
		kf_put_i8(o->b, type);
		kf_put_fstr(o->b, o->flex, o->docs ? doc : NULL);
	}
	kf_put_tags(o->b, o->flex);
}

static void put_synonym(const struct out *o, const char *name, const char *value, int source)
{
	kf_put_fstr(o->b, o->flex, name);
	kf_put_fstr(o->b, o->flex, value);
	kf_put_i8(o->b, (int8_t)source);
	kf_put_tags(o->b, o->flex);
}

/* Where the broker's default of synonyms[k] comes from. */
static int default_source(struct kf_conn *kc, int k)
{
	int l = tdm_dyn_source(tdm_topics_dyn(kc->srv->topics), synonyms[k].topic);
	return l < 0 ? SRC_DEFAULT : l == TDM_DYN_BROKER ? SRC_DYN_BROKER : SRC_DYN_DEFAULT;
}

/* The broker-level synonyms of synonyms[k] in Kafka's order: this
 * broker's dynamic value, the cluster default, the static default.  Their
 * count; written when o is not NULL. */
static int broker_synonyms(struct kf_conn *kc, const struct out *o, int k)
{
	struct tdm_dyn *d = tdm_topics_dyn(kc->srv->topics);
	const char *v;
	char def[128];
	int n = 1;

	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		if ((v = tdm_dyn_value(d, l, synonyms[k].topic)) != NULL) {
			n++;
			if (o)
				put_synonym(o, tdm_dyn_broker_name(synonyms[k].topic), v,
					    l == TDM_DYN_BROKER ? SRC_DYN_BROKER : SRC_DYN_DEFAULT);
		}
	if (!o)
		return n;
	if (!d || tdm_dyn_static(d, synonyms[k].topic, def, sizeof(def)) != TDM_TOPIC_OK)
		tdm_topics_config_default(kc->srv->topics, synonyms[k].topic, def, sizeof(def));
	put_synonym(o, tdm_dyn_broker_name(synonyms[k].topic), def, SRC_DEFAULT);
	return n;
}

/* A topic's configs: count, then each entry (and its synonyms). */
static void put_topic_configs(struct kf_conn *kc, const struct out *o, const struct ls_topic *t,
			      const struct kf_describe_configs_resource *res)
{
	const char *key;
	int32_t n = 0;
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL; i++)
		n += wanted(res, key);
	kf_put_farray(o->b, o->flex, n);
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL; i++) {
		char value[128];
		int is_default = 1, k = synonym_index(key);
		if (!wanted(res, key))
			continue;
		tdm_topic_config_value(t, key, value, sizeof(value), &is_default);
		put_entry(o, key, value, 0,
			  !is_default ? SRC_TOPIC
			  : k >= 0    ? default_source(kc, k)
				      : SRC_DEFAULT);
		if (o->ver >= 1) {
			int nsyn = o->synonyms ? (!is_default) +
							 (k >= 0 ? broker_synonyms(kc, NULL, k) : 0)
					       : 0;
			kf_put_farray(o->b, o->flex, nsyn);
			if (nsyn && !is_default)
				put_synonym(o, key, value, SRC_TOPIC);
			if (nsyn && k >= 0)
				broker_synonyms(kc, o, k);
		}
		put_entry_end(o, k >= 0 ? synonyms[k].type : T_STRING,
			      k >= 0 ? synonyms[k].doc : NULL);
	}
}

/* The broker's settings with a Kafka name: this node's own first. */
static void put_broker_configs(struct kf_conn *kc, const struct out *o,
			       const struct kf_describe_configs_resource *res)
{
	const struct tdm_config *cfg = kc->srv->cfg;
	char own[4][24];
	snprintf(own[0], sizeof(own[0]), "%d", node_id(kc));
	snprintf(own[1], sizeof(own[1]), "%u", cfg ? cfg->num_partitions : 1u);
	snprintf(own[2], sizeof(own[2]), "%u", cfg ? cfg->default_replication_factor : 1u);
	snprintf(own[3], sizeof(own[3]), "%s", cfg && cfg->auto_create_topics ? "true" : "false");
	const char *val[5] = { own[0], own[1], own[2], own[3], cfg ? cfg->broker_rack : NULL };
	int32_t n = 0;
	for (size_t i = 0; i < 5; i++)
		n += wanted(res, own_settings[i].name);
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
		n += wanted(res, tdm_dyn_broker_name(synonyms[i].topic));
	kf_put_farray(o->b, o->flex, n);
	for (size_t i = 0; i < 5; i++) {
		if (!wanted(res, own_settings[i].name))
			continue;
		put_entry(o, own_settings[i].name, val[i], 1, SRC_STATIC_BROKER);
		if (o->ver >= 1)
			kf_put_farray(o->b, o->flex, 0); /* no synonyms */
		put_entry_end(o, own_settings[i].type, own_settings[i].doc);
	}
	for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++) {
		char def[128];
		if (!wanted(res, tdm_dyn_broker_name(synonyms[i].topic)))
			continue;
		tdm_topics_config_default(kc->srv->topics, synonyms[i].topic, def, sizeof(def));
		put_entry(o, tdm_dyn_broker_name(synonyms[i].topic), def, !is_dynamic(i),
			  default_source(kc, (int)i));
		if (o->ver >= 1) {
			kf_put_farray(o->b, o->flex,
				      o->synonyms ? broker_synonyms(kc, NULL, (int)i) : 0);
			if (o->synonyms)
				broker_synonyms(kc, o, (int)i);
		}
		put_entry_end(o, synonyms[i].type, synonyms[i].doc);
	}
}

/* The head of a result: error, message, type, name. */
static void put_result_head(const struct out *o, int16_t err, const char *msg,
			    const struct kf_describe_configs_resource *res)
{
	kf_put_i16(o->b, err);
	kf_put_fstr(o->b, o->flex, msg);
	kf_put_i8(o->b, res->type);
	kf_put_fkstr(o->b, o->flex, res->name);
}

/* A result with no configs. */
static void put_refused(const struct out *o, int16_t err, const char *msg,
			const struct kf_describe_configs_resource *res)
{
	put_result_head(o, err, msg, res);
	kf_put_farray(o->b, o->flex, 0);
}

int kf_this_broker(const struct kf_conn *kc, struct kf_str name, char *msg, size_t msglen)
{
	char id[16];
	int n = snprintf(id, sizeof(id), "%d", node_id(kc));
	if (name.len == 0 || (name.len == n && !memcmp(name.p, id, (size_t)n)))
		return 1;
	snprintf(msg, msglen,
		 "Unexpected broker id, expected %d or empty string, but received %.*s",
		 node_id(kc), name.len > 0 ? (int)name.len : 0, name.p);
	return 0;
}

static void describe_one(struct kf_conn *kc, const struct out *o,
			 const struct kf_describe_configs_resource *res)
{
	char msg[300];
	if (res->type == KF_RESOURCE_BROKER) {
		if (!kf_authz_cluster(kc)) {
			put_refused(o, KF_ERR_CLUSTER_AUTHORIZATION_FAILED,
				    "Cluster authorization failed.", res);
		} else if (!kf_this_broker(kc, res->name, msg, sizeof(msg))) {
			put_refused(o, KF_ERR_INVALID_REQUEST, msg, res);
		} else {
			put_result_head(o, KF_ERR_NONE, NULL, res);
			put_broker_configs(kc, o, res);
		}
		return;
	}
	if (res->type != KF_RESOURCE_TOPIC) {
		snprintf(msg, sizeof(msg), "Unsupported resource type %d", (int)res->type);
		put_refused(o, KF_ERR_INVALID_REQUEST, msg, res);
		return;
	}
	struct ls_topic *t = NULL;
	int16_t err = KF_ERR_NONE;
	if (res->name.len <= 0 || !kf_authz_topic_visible(kc, res->name.p, (size_t)res->name.len))
		err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
	else if (!(t = kf_topic_lookup(kc, res->name)))
		err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (err) {
		put_refused(o, err,
			    err == KF_ERR_UNKNOWN_TOPIC_OR_PARTITION
				    ? "The topic does not exist."
				    : "Topic authorization failed.",
			    res);
		return;
	}
	put_result_head(o, KF_ERR_NONE, NULL, res);
	put_topic_configs(kc, o, t, res);
}

int kf_h_describe_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_describe_configs_req r;
	int ver = kc->hdr.api_version;

	if (kf_decode_describe_configs(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	struct out o = { resp, ver, kf_flex(kc), r.include_synonyms, r.include_documentation };
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, o.flex, r.nresources);
	for (int32_t i = 0; i < r.nresources; i++) {
		describe_one(kc, &o, &r.resources[i]);
		kf_put_tags(resp, o.flex);
	}
	kf_put_tags(resp, o.flex);
	return KF_R_DONE;
}
