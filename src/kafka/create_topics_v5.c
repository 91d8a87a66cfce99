/*
 * CreateTopics v5+ (KIP-525): the answer tells, for each topic made (or
 * that would be made, with validate_only), its partition count,
 * replication factor and every config with its value and source, so a
 * client that asked for the broker's defaults (-1) learns them.  For a
 * topic that failed: -1, -1 and null configs, as Kafka answers.
 *
 * config_source: DYNAMIC_TOPIC_CONFIG (1) for what the request set (the
 * topic's overrides), DEFAULT_CONFIG (5) for the broker's defaults; never
 * read-only, never sensitive.
 *
 * Must not depend on: src/amqp.
 */
#include <string.h>

#include "core/topic_ops.h"
#include "kafka/admin_internal.h"

enum { SRC_TOPIC = 1, SRC_DEFAULT = 5 };

/* The value the request gave key (validate_only), or NULL. */
static const struct kf_config_kv *asked(const struct kf_create_topic *t, const char *key)
{
	for (int32_t i = 0; t && i < t->nconfigs; i++)
		if (kf_str_eq(t->configs[i].name, key))
			return &t->configs[i];
	return NULL;
}

/* Key's value and source for the answer: the made topic's, or (validate
 * only) the request's over the broker's default. */
static int config_of(const struct admin_park *pk, const struct made_slot *sl,
		     const struct ls_topic *t, const char *key, char *buf, size_t len)
{
	int is_default = 1;
	if (t) {
		tdm_topic_config_value(t, key, buf, len, &is_default);
		return is_default ? SRC_DEFAULT : SRC_TOPIC;
	}
	const struct kf_config_kv *kv = asked(sl->req, key);
	char given[256];
	if (kv && kf_str_cstr(kv->value, given, sizeof(given)) == 0 &&
	    tdm_topic_config_try(NULL, key, given, buf, len) == TDM_TOPIC_OK)
		return SRC_TOPIC;
	tdm_topics_config_default(pk->kc->srv->topics, key, buf, len);
	return SRC_DEFAULT;
}

void kf_put_created_topic(const struct admin_park *pk, const struct made_slot *sl,
			  struct evbuffer *resp)
{
	int flex = pk->flex;
	struct ls_topic *t = NULL;
	const char *key;
	int32_t n = 0;

	if (sl->err == KF_ERR_NONE && !pk->validate_only)
		t = kf_topic_lookup(pk->kc, sl->name);
	if (sl->err != KF_ERR_NONE || (!t && !pk->validate_only)) {
		kf_put_i32(resp, -1);
		kf_put_i16(resp, -1);
		kf_put_farray(resp, flex, -1);
		return;
	}
	kf_put_i32(resp, t ? tdm_topic_partitions(t) : sl->parts);
	kf_put_i16(resp, sl->rf);
	while (tdm_topic_config_name((size_t)n))
		n++;
	kf_put_farray(resp, flex, n);
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL; i++) {
		char value[128];
		int source = config_of(pk, sl, t, key, value, sizeof(value));
		kf_put_fstr(resp, flex, key);
		kf_put_fstr(resp, flex, value);
		kf_put_i8(resp, 0); /* read_only */
		kf_put_i8(resp, (int8_t)source);
		kf_put_i8(resp, 0); /* is_sensitive */
		kf_put_tags(resp, flex);
	}
}
