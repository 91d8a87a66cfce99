/*
 * AlterConfigs v0-2 and IncrementalAlterConfigs v0-1 (AlterConfigs v2 and
 * IncrementalAlterConfigs v1 are the flexible encodings of the same): a
 * topic's configs changed, as Kafka's ZooKeeper-mode broker changes them.
 *
 *  - AlterConfigs replaces the topic's whole set of overrides: a key not
 *    in the request (or given a null value) goes back to the broker's
 *    default.
 *  - IncrementalAlterConfigs starts from the overrides the topic has and
 *    applies each operation: SET, DELETE (back to the default), APPEND and
 *    SUBTRACT (list configs only: cleanup.policy), from the current value,
 *    which is the default when the topic has no override.
 *
 * The new set is checked first (validate_only stops there).  One node:
 * the topic's metadata file is rewritten (core/topics.h).  A cluster: the
 * set goes to ZooKeeper's /config/topics/T, every node watches it and
 * applies it, and the request waits until this node has (core/replica.h).
 *
 * Per resource, as Kafka answers:
 *  - topic: the user's configure permission on it, else
 *    TOPIC_AUTHORIZATION_FAILED; unknown: UNKNOWN_TOPIC_OR_PARTITION;
 *    an unknown key INVALID_CONFIG ("Unknown topic config name: x"); a bad
 *    value INVALID_REQUEST ("Invalid config value for resource ...");
 *    APPEND/SUBTRACT on a key that is not a list INVALID_CONFIG; a key
 *    twice in one incremental resource, a SET of null or an unknown
 *    operation INVALID_REQUEST;
 *  - broker: dynamic topic defaults (broker_configs.c);
 *  - any other resource type: INVALID_REQUEST.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <string.h>

#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/admin_internal.h"

/* A topic's overrides being worked out: one slot per config key. */
struct override_set {
	int has[MAX_CONFIGS];
	char value[MAX_CONFIGS][VALUE_MAX];
	size_t nkeys;
};

/* throttle_time_ms, [error_code, error_message, resource_type, resource_name]
 * (compact, with tagged fields, in the flexible versions) */
static void encode_alter(const struct admin_park *pk, struct evbuffer *resp)
{
	kf_put_i32(resp, 0);
	kf_put_farray(resp, pk->flex, pk->n);
	for (int32_t i = 0; i < pk->n; i++) {
		const struct made_slot *sl = &pk->slots[i];
		kf_put_i16(resp, sl->err);
		kf_put_fstr(resp, pk->flex, sl->err == KF_ERR_NONE ? NULL
					    : sl->msg[0] ? sl->msg : kf_err_name(sl->err));
		kf_put_i8(resp, sl->rtype);
		kf_put_fkstr(resp, pk->flex, sl->name);
		kf_put_tags(resp, pk->flex);
	}
	kf_put_tags(resp, pk->flex);
}

/* The index of config key name (kf_str), or -1 when the store has none. */
static int key_index(struct kf_str name)
{
	const char *key;
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL && i < MAX_CONFIGS; i++)
		if (name.len == (int32_t)strlen(key) && !memcmp(name.p, key, (size_t)name.len))
			return (int)i;
	return -1;
}

static void set_start(struct override_set *o, const struct ls_topic *t, int from_topic)
{
	const char *key;
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL && i < MAX_CONFIGS; i++) {
		int is_default = 1;
		o->nkeys = i + 1;
		tdm_topic_config_value(t, key, o->value[i], VALUE_MAX, &is_default);
		o->has[i] = from_topic && !is_default;
	}
}

/* 1 when item (len bytes) is one of the comma-separated items of list. */
static int list_has(const char *list, const char *item, size_t len)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && !memcmp(p, item, len))
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* APPEND (add) or SUBTRACT the comma-separated items of arg to/from
 * *cur (the key's value now).  0, or -1 when the result does not fit. */
int kf_config_list_edit(char *cur, const char *arg, int add)
{
	const char *srcs[2] = { cur, arg };
	char out[VALUE_MAX] = "";
	size_t used = 0;

	for (int s = 0; s < (add ? 2 : 1); s++)
		for (const char *p = srcs[s]; *p;) {
			size_t n = strcspn(p, ",");
			int keep = n > 0 && (add ? !list_has(out, p, n) : !list_has(arg, p, n));
			if (keep) {
				if (used + n + 2 > sizeof(out))
					return -1;
				used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%.*s",
							 used ? "," : "", (int)n, p);
			}
			p += n + (p[n] == ',');
		}
	memcpy(cur, out, used + 1);
	return 0;
}

/* Applies one entry of the request to o.  KF_ERR_NONE, or the error with
 * its message in msg. */
static int16_t apply_entry(struct override_set *o, const struct kf_alter_config *c,
			   char *msg, size_t msglen)
{
	static const char *const op_names[] = { "SET", "DELETE", "APPEND", "SUBTRACT" };
	int i = key_index(c->name);
	char value[VALUE_MAX];

	if (c->op < KF_CONFIG_SET || c->op > KF_CONFIG_SUBTRACT) {
		snprintf(msg, msglen, "Unknown alter configs operation %d", (int)c->op);
		return KF_ERR_INVALID_REQUEST;
	}
	if (i < 0) {
		snprintf(msg, msglen, "Unknown topic config name: %.*s",
			 c->name.len > 0 ? (int)c->name.len : 0, c->name.p);
		return KF_ERR_INVALID_CONFIG;
	}
	if (c->op == KF_CONFIG_DELETE) {
		o->has[i] = 0;
		return KF_ERR_NONE;
	}
	if (c->value.len < 0 || kf_str_cstr(c->value, value, sizeof(value)) < 0) {
		if (c->value.len < 0)
			snprintf(msg, msglen, "Null value not supported for : %s:%s", op_names[c->op],
				 tdm_topic_config_name((size_t)i));
		else
			snprintf(msg, msglen, "Value too long for configuration %s",
				 tdm_topic_config_name((size_t)i));
		return KF_ERR_INVALID_REQUEST;
	}
	if (c->op == KF_CONFIG_SET) {
		memcpy(o->value[i], value, strlen(value) + 1);
	} else if (strcmp(tdm_topic_config_name((size_t)i), "cleanup.policy") != 0) {
		snprintf(msg, msglen, "Config value %s is not allowed for config key: %s",
			 c->op == KF_CONFIG_APPEND ? "append" : "subtract",
			 tdm_topic_config_name((size_t)i));
		return KF_ERR_INVALID_CONFIG;
	} else if (kf_config_list_edit(o->value[i], value, c->op == KF_CONFIG_APPEND) < 0) {
		snprintf(msg, msglen, "Value too long for configuration cleanup.policy");
		return KF_ERR_INVALID_REQUEST;
	}
	o->has[i] = 1;
	return KF_ERR_NONE;
}

/* The resource's new set of overrides in o.  KF_ERR_NONE or the error. */
static int16_t new_overrides(const struct kf_alter_configs_resource *res, int incremental,
			     const struct ls_topic *t, struct override_set *o, char *msg,
			     size_t msglen)
{
	set_start(o, t, incremental);
	for (int32_t j = 0; j < res->nconfigs; j++) {
		for (int32_t k = 0; incremental && k < j; k++)
			if (res->configs[k].name.len == res->configs[j].name.len &&
			    !memcmp(res->configs[k].name.p, res->configs[j].name.p,
				    (size_t)res->configs[j].name.len)) {
				snprintf(msg, msglen, "Error due to duplicate config keys");
				return KF_ERR_INVALID_REQUEST;
			}
		/* AlterConfigs: a null value is a key left out */
		if (!incremental && res->configs[j].value.len < 0) {
			int i = key_index(res->configs[j].name);
			if (i >= 0)
				o->has[i] = 0;
			continue;
		}
		int16_t err = apply_entry(o, &res->configs[j], msg, msglen);
		if (err != KF_ERR_NONE)
			return err;
	}
	return KF_ERR_NONE;
}

/* Checks the topic's new set and starts applying it (kf_admin_made then
 * sets the outcome in a cluster).  The error found here, else KF_ERR_NONE. */
static int16_t alter_topic(struct kf_conn *kc, const struct kf_alter_configs_resource *res,
			   int incremental, int validate_only, struct made_slot *sl)
{
	struct kf_server *srv = kc->srv;
	struct override_set o;
	struct tdm_kv kv[MAX_CONFIGS];
	size_t n = 0;
	char why[200];

	int16_t err = kf_authz_topic(kc, TDM_PERM_CONFIGURE, res->name);
	struct ls_topic *t = err ? NULL : kf_topic_lookup(kc, res->name);
	if (err)
		return err;
	if (!t) {
		snprintf(sl->msg, sizeof(sl->msg), "The topic does not exist.");
		return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	err = new_overrides(res, incremental, t, &o, sl->msg, sizeof(sl->msg));
	if (err != KF_ERR_NONE)
		return err;
	for (size_t i = 0; i < o.nkeys; i++)
		if (o.has[i])
			kv[n++] = (struct tdm_kv){ tdm_topic_config_name(i), o.value[i] };
	int rc = tdm_topics_set_config(srv->topics, t, kv, n, 1, why, sizeof(why));
	if (rc == TDM_ERR_INVALID) {
		snprintf(sl->msg, sizeof(sl->msg),
			 "Invalid config value for resource ConfigResource(type=TOPIC, name='%.80s'): %.100s",
			 tdm_topic_name(t), why);
		return KF_ERR_INVALID_REQUEST;
	}
	if (rc == TDM_TOPIC_OK && validate_only)
		return KF_ERR_NONE;
	if (rc == TDM_TOPIC_OK && srv->replica) {
		sl->pk->pending++;
		rc = tdm_replica_alter_config(srv->replica, tdm_topic_name(t), kv, n, kf_admin_made,
					      sl, &sl->op, sl->msg, sizeof(sl->msg));
		if (rc != TDM_TOPIC_OK)
			sl->pk->pending--;
		return kf_err_from_core(rc); /* KF_ERR_NONE: kf_admin_made sets the outcome */
	}
	if (rc == TDM_TOPIC_OK)
		rc = tdm_topics_set_config(srv->topics, t, kv, n, 0, why, sizeof(why));
	if (rc != TDM_TOPIC_OK)
		snprintf(sl->msg, sizeof(sl->msg), "%s", why[0] ? why : tdm_strerror(rc));
	return kf_err_from_core(rc);
}

static void alter_one(struct kf_conn *kc, const struct kf_alter_configs_resource *res,
		      int incremental, int validate_only, struct made_slot *sl)
{
	sl->name = res->name;
	sl->rtype = res->type;
	sl->msg[0] = '\0';
	if (res->type == KF_RESOURCE_TOPIC) {
		sl->err = alter_topic(kc, res, incremental, validate_only, sl);
	} else if (res->type == KF_RESOURCE_BROKER) {
		sl->err = kf_alter_broker(kc, res, incremental, validate_only, sl);
	} else {
		snprintf(sl->msg, sizeof(sl->msg),
			 "AlterConfigs is only supported for topics and brokers, but resource type is %d",
			 (int)res->type);
		sl->err = KF_ERR_INVALID_REQUEST;
	}
}

static int alter(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp, int incremental)
{
	struct kf_alter_configs_req r;
	struct admin_park *pk;

	if (kf_decode_alter_configs(cur, incremental, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (!(pk = kf_admin_park_new(kc, r.nresources, encode_alter)))
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.nresources; i++)
		alter_one(kc, &r.resources[i], incremental, r.validate_only, &pk->slots[i]);
	return kf_admin_park_or_answer(kc, pk, resp);
}

int kf_h_alter_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	return alter(kc, cur, resp, 0);
}

int kf_h_incremental_alter_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	return alter(kc, cur, resp, 1);
}
