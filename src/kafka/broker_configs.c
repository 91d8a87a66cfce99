/*
 * AlterConfigs and IncrementalAlterConfigs of a BROKER resource: Kafka's
 * dynamic broker configs (KIP-226) for the log.* settings that give every
 * topic its defaults (every broker synonym of a topic config but
 * log.message.format.version, as Kafka's DynamicLogConfig).  Resource name "" is
 * the cluster-wide default (DYNAMIC_DEFAULT_BROKER_CONFIG), this node's id
 * this broker's own value (DYNAMIC_BROKER_CONFIG); core/dyn_defaults.h
 * keeps, persists and applies them.
 *
 * As Kafka answers: the administrator tag, else
 * CLUSTER_AUTHORIZATION_FAILED; another broker's id INVALID_REQUEST; a
 * tandem setting that is not dynamic (broker.id, num.partitions, ...)
 * INVALID_REQUEST "Cannot update these configs dynamically: Set(...)"; a
 * name tandem has no setting for INVALID_REQUEST; a bad value
 * INVALID_REQUEST "Invalid config value for resource ..." (checked as the
 * topic config of the same meaning is); AlterConfigs replaces the
 * resource's whole set, IncrementalAlterConfigs applies SET, DELETE, and
 * APPEND / SUBTRACT on log.cleanup.policy.  In a cluster the set goes to
 * ZooKeeper (/config/brokers/<default> or /config/brokers/<id>), which
 * every node watches and applies (cluster/broker_config.h); the answer
 * comes once it is written and applied on this node.
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdio.h>
#include <string.h>

#include "core/dyn_defaults.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/admin_internal.h"

/* One layer's set being worked out, by topic config key. */
struct layer_set {
	int has[MAX_CONFIGS];
	char value[MAX_CONFIGS][VALUE_MAX];
	size_t nkeys;
};

static int key_index(const char *key)
{
	const char *k;
	for (size_t i = 0; i < MAX_CONFIGS && (k = tdm_topic_config_name(i)) != NULL; i++)
		if (!strcmp(k, key))
			return (int)i;
	return -1;
}

static void set_start(struct layer_set *o, const struct tdm_dyn *d, int layer, int from_layer)
{
	const char *key, *v;
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < MAX_CONFIGS && (key = tdm_topic_config_name(i)) != NULL; i++) {
		o->nkeys = i + 1;
		if (from_layer && (v = tdm_dyn_value(d, layer, key)) != NULL) {
			snprintf(o->value[i], VALUE_MAX, "%s", v);
			o->has[i] = 1;
		}
	}
}

/* Appends ", name" (or "name") to list. */
static void name_add(char *list, size_t cap, struct kf_str name)
{
	size_t used = strlen(list);
	if (used < cap)
		snprintf(list + used, cap - used, "%s%.*s", used ? ", " : "",
			 name.len > 0 ? (int)name.len : 0, name.p);
}

/* Names that are not dynamic or not tandem's: INVALID_REQUEST, else
 * KF_ERR_NONE. */
static int16_t refuse_names(const struct kf_alter_configs_resource *res, char *msg, size_t msglen)
{
	char fixed[200] = "", unknown[200] = "";
	for (int32_t j = 0; j < res->nconfigs; j++) {
		int is_static;
		if (kf_broker_config_topic_key(res->configs[j].name, &is_static))
			continue;
		if (is_static)
			name_add(fixed, sizeof(fixed), res->configs[j].name);
		else
			name_add(unknown, sizeof(unknown), res->configs[j].name);
	}
	if (fixed[0])
		snprintf(msg, msglen, "Cannot update these configs dynamically: Set(%s)", fixed);
	else if (unknown[0])
		snprintf(msg, msglen, "Unknown broker configs: %s (tandem has no such setting)",
			 unknown);
	return fixed[0] || unknown[0] ? KF_ERR_INVALID_REQUEST : KF_ERR_NONE;
}

/* The new value of one entry into o->value[i] (checked, canonical). */
static int16_t entry_value(struct kf_conn *kc, struct layer_set *o, int i,
			   const struct kf_alter_config *c, const struct kf_str rname, char *msg,
			   size_t msglen)
{
	const char *key = tdm_topic_config_name((size_t)i);
	char value[VALUE_MAX], cur[VALUE_MAX], why[200];

	if (c->value.len < 0 || kf_str_cstr(c->value, value, sizeof(value)) < 0) {
		snprintf(msg, msglen,
			 c->value.len < 0 ? "Null value not supported for : %.*s"
					  : "Value too long for configuration %.*s",
			 (int)c->name.len, c->name.p);
		return KF_ERR_INVALID_REQUEST;
	}
	if (c->op == KF_CONFIG_APPEND || c->op == KF_CONFIG_SUBTRACT) {
		if (strcmp(key, "cleanup.policy") != 0) {
			snprintf(msg, msglen, "Config value %s is not allowed for config key: %.*s",
				 c->op == KF_CONFIG_APPEND ? "append" : "subtract",
				 (int)c->name.len, c->name.p);
			return KF_ERR_INVALID_CONFIG;
		}
		if (o->has[i])
			snprintf(cur, sizeof(cur), "%s", o->value[i]);
		else
			tdm_topics_config_default(kc->srv->topics, key, cur, sizeof(cur));
		if (kf_config_list_edit(cur, value, c->op == KF_CONFIG_APPEND) < 0)
			return KF_ERR_INVALID_REQUEST;
		memcpy(value, cur, sizeof(value));
	}
	if (tdm_topics_check_default(kc->srv->topics, key, value, o->value[i], VALUE_MAX, why,
				     sizeof(why)) != TDM_TOPIC_OK) {
		snprintf(
			msg, msglen,
			"Invalid config value for resource ConfigResource(type=BROKER, name='%.*s'): %.120s",
			rname.len > 0 && rname.len < 16 ? (int)rname.len : 0, rname.p, why);
		return KF_ERR_INVALID_REQUEST;
	}
	o->has[i] = 1;
	return KF_ERR_NONE;
}

/* Applies entry j of res to o. */
static int16_t apply_entry(struct kf_conn *kc, struct layer_set *o,
			   const struct kf_alter_configs_resource *res, int32_t j, int incremental,
			   char *msg, size_t msglen)
{
	const struct kf_alter_config *c = &res->configs[j];
	int is_static;
	int i = key_index(kf_broker_config_topic_key(c->name, &is_static));

	for (int32_t k = 0; incremental && k < j; k++)
		if (res->configs[k].name.len == c->name.len &&
		    !memcmp(res->configs[k].name.p, c->name.p, (size_t)c->name.len)) {
			snprintf(msg, msglen, "Error due to duplicate config keys");
			return KF_ERR_INVALID_REQUEST;
		}
	if (c->op < KF_CONFIG_SET || c->op > KF_CONFIG_SUBTRACT) {
		snprintf(msg, msglen, "Unknown alter configs operation %d", (int)c->op);
		return KF_ERR_INVALID_REQUEST;
	}
	if (c->op == KF_CONFIG_DELETE || (!incremental && c->value.len < 0)) {
		o->has[i] = 0;
		return KF_ERR_NONE;
	}
	return entry_value(kc, o, i, c, res->name, msg, msglen);
}

/* In a cluster: through ZooKeeper (cluster/broker_config.h); kf_admin_made
 * sets the outcome. */
static int16_t alter_in_cluster(struct kf_conn *kc, int layer, const struct tdm_kv *kv, size_t n,
				struct made_slot *sl)
{
	sl->pk->pending++;
	int rc = tdm_replica_alter_broker_config(kc->srv->replica, layer, kv, n, kf_admin_made, sl,
						 &sl->op, sl->msg, sizeof(sl->msg));
	if (rc != TDM_TOPIC_OK)
		sl->pk->pending--;
	return kf_err_from_core(rc);
}

int16_t kf_alter_broker(struct kf_conn *kc, const struct kf_alter_configs_resource *res,
			int incremental, int validate_only, struct made_slot *sl)
{
	char *msg = sl->msg;
	size_t msglen = sizeof(sl->msg);
	struct tdm_dyn *d = tdm_topics_dyn(kc->srv->topics);
	int layer = res->name.len > 0 ? TDM_DYN_BROKER : TDM_DYN_DEFAULT;
	struct tdm_kv kv[MAX_CONFIGS];
	struct layer_set o;
	size_t n = 0;
	int16_t err;

	if (!kf_authz_cluster(kc)) {
		snprintf(msg, msglen, "Cluster authorization failed.");
		return KF_ERR_CLUSTER_AUTHORIZATION_FAILED;
	}
	if (!kf_this_broker(kc, res->name, msg, msglen))
		return KF_ERR_INVALID_REQUEST;
	if (res->nconfigs == 0 && incremental)
		return KF_ERR_NONE;
	if ((err = refuse_names(res, msg, msglen)) != KF_ERR_NONE)
		return err;
	if (!d)
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	set_start(&o, d, layer, incremental);
	for (int32_t j = 0; j < res->nconfigs; j++)
		if ((err = apply_entry(kc, &o, res, j, incremental, msg, msglen)) != KF_ERR_NONE)
			return err;
	if (validate_only)
		return KF_ERR_NONE;
	for (size_t i = 0; i < o.nkeys; i++)
		if (o.has[i])
			kv[n++] = (struct tdm_kv){ tdm_topic_config_name(i), o.value[i] };
	if (kc->srv->replica)
		return alter_in_cluster(kc, layer, kv, n, sl);
	int rc = tdm_dyn_set(d, layer, kv, n, msg, msglen);
	return rc == TDM_TOPIC_OK ? KF_ERR_NONE : kf_err_from_core(rc);
}
