/*
 * Dynamic topic defaults (core/dyn_defaults.h): two layers of values over
 * the static defaults, kept in the store's folder and applied to the log
 * store's defaults.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dyn_defaults.h"
#include "core/log.h"
#include "logstore/logstore.h"

#define DYN_FILE "broker_configs"
#define DYN_KEYS 64
#define DYN_VALUE_MAX 256

static const char *const layer_names[TDM_DYN_LAYERS] = { "broker", "default" };

/* Topic config -> the broker setting Kafka names its default by. */
static const struct {
	const char *topic, *broker;
} names[] = {
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
	{ "message.format.version", "log.message.format.version" },
};

const char *tdm_dyn_broker_name(const char *topic_key)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].topic, topic_key))
			return names[i].broker;
	return NULL;
}

const char *tdm_dyn_topic_key(const char *broker_name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].broker, broker_name))
			return names[i].topic;
	return NULL;
}

struct tdm_dyn {
	struct ls_store *store;              /* borrowed */
	struct ls_topic_config statics;      /* the defaults before any layer */
	char *val[TDM_DYN_LAYERS][DYN_KEYS]; /* owned; NULL: not set */
};

static int key_index(const char *key)
{
	const char *k;
	for (size_t i = 0; i < DYN_KEYS && (k = ls_config_name(i)) != NULL; i++)
		if (!strcmp(k, key))
			return (int)i;
	return -1;
}

/* The statics, then the default layer, then this broker's. */
static void apply(struct tdm_dyn *d)
{
	struct ls_topic_config c = d->statics;
	for (int layer = TDM_DYN_LAYERS - 1; layer >= 0; layer--)
		for (size_t i = 0; i < DYN_KEYS && ls_config_name(i); i++)
			if (d->val[layer][i])
				ls_config_set(&c, ls_config_name(i), d->val[layer][i]);
	ls_store_set_defaults(d->store, &c);
}

static void free_layer(char **val)
{
	for (size_t i = 0; i < DYN_KEYS; i++) {
		free(val[i]);
		val[i] = NULL;
	}
}

/* One "layer key=value" line into d.  0, or -1 (a bad line). */
static int load_line(struct tdm_dyn *d, char *line)
{
	char *sp = strchr(line, ' '), *eq = sp ? strchr(sp, '=') : NULL;
	struct ls_topic_config c = d->statics;
	int layer = -1, i;

	if (!eq)
		return -1;
	*sp = *eq = '\0';
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		if (!strcmp(line, layer_names[l]))
			layer = l;
	i = key_index(sp + 1);
	if (layer < 0 || i < 0 || ls_config_set(&c, sp + 1, eq + 1) != LS_OK)
		return -1;
	free(d->val[layer][i]);
	return (d->val[layer][i] = strdup(eq + 1)) ? 0 : -1;
}

static int load(struct tdm_dyn *d, const char *dir, char *err, size_t errlen)
{
	char path[4096], line[512];
	int lineno = 0, rc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" DYN_FILE, dir);
	if (!(f = fopen(path, "r"))) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && load_line(d, line) < 0) {
			snprintf(err, errlen, "%s:%d: not a valid dynamic broker config", path,
				 lineno);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

struct tdm_dyn *tdm_dyn_open(struct ls_store *s, const char *dir, char *err, size_t errlen)
{
	struct tdm_dyn *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->store = s;
	d->statics = *ls_store_defaults(s);
	if (load(d, dir, err, errlen) < 0) {
		tdm_dyn_free(d);
		return NULL;
	}
	apply(d);
	return d;
}

void tdm_dyn_free(struct tdm_dyn *d)
{
	if (!d)
		return;
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		free_layer(d->val[l]);
	free(d);
}

/* Both layers as the file holds them into buf.  Its length, or -1 when
 * it does not fit. */
static int serialize(char *const val[TDM_DYN_LAYERS][DYN_KEYS], char *buf, size_t cap)
{
	size_t used = 0;
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		for (size_t i = 0; i < DYN_KEYS && ls_config_name(i); i++) {
			if (!val[l][i])
				continue;
			int n = snprintf(buf + used, cap - used, "%s %s=%s\n", layer_names[l],
					 ls_config_name(i), val[l][i]);
			if (n < 0 || (size_t)n >= cap - used)
				return -1;
			used += (size_t)n;
		}
	return (int)used;
}

/* The new layer from kv into fresh (all NULL before).  TDM_TOPIC_OK or
 * TDM_ERR_INVALID_CONFIG / TDM_ERR_NOMEM. */
static int build_layer(const struct tdm_dyn *d, const struct tdm_kv *kv, size_t n, char **fresh,
		       char *err, size_t errlen)
{
	for (size_t j = 0; j < n; j++) {
		struct ls_topic_config c = d->statics;
		int i = key_index(kv[j].name);
		if (!kv[j].value)
			continue;
		if (i < 0 || strlen(kv[j].value) >= DYN_VALUE_MAX || strchr(kv[j].value, '\n') ||
		    ls_config_set(&c, kv[j].name, kv[j].value) != LS_OK) {
			snprintf(err, errlen, "Invalid value %.100s for configuration %s",
				 kv[j].value, kv[j].name);
			return TDM_ERR_INVALID_CONFIG;
		}
		free(fresh[i]);
		if (!(fresh[i] = strdup(kv[j].value)))
			return TDM_ERR_NOMEM;
	}
	return TDM_TOPIC_OK;
}

int tdm_dyn_set(struct tdm_dyn *d, int layer, const struct tdm_kv *kv, size_t n, char *err,
		size_t errlen)
{
	char *fresh[DYN_KEYS] = { 0 }, *all[TDM_DYN_LAYERS][DYN_KEYS];
	char buf[TDM_DYN_LAYERS * DYN_KEYS * (DYN_VALUE_MAX + 48)];
	int rc, len;

	if (layer < 0 || layer >= TDM_DYN_LAYERS)
		return TDM_ERR_INVALID;
	rc = build_layer(d, kv, n, fresh, err, errlen);
	if (rc != TDM_TOPIC_OK)
		goto out;
	memcpy(all, d->val, sizeof(all));
	memcpy(all[layer], fresh, sizeof(fresh));
	len = serialize(all, buf, sizeof(buf));
	rc = len < 0 ? TDM_ERR_INVALID : ls_store_write_file(d->store, DYN_FILE, buf, (size_t)len);
	if (rc != TDM_TOPIC_OK) {
		snprintf(err, errlen, "cannot write %s: %s", DYN_FILE,
			 rc == TDM_ERR_IO ? strerror(errno) : "too long");
		goto out;
	}
	free_layer(d->val[layer]);
	memcpy(d->val[layer], fresh, sizeof(fresh));
	memset(fresh, 0, sizeof(fresh));
	apply(d);
	tdm_info("topics", "dynamic broker configs (%s) changed: %zu set", layer_names[layer], n);
out:
	free_layer(fresh);
	return rc;
}

const char *tdm_dyn_value(const struct tdm_dyn *d, int layer, const char *key)
{
	int i = key_index(key);
	return d && i >= 0 && layer >= 0 && layer < TDM_DYN_LAYERS ? d->val[layer][i] : NULL;
}

int tdm_dyn_static(const struct tdm_dyn *d, const char *key, char *buf, size_t len)
{
	return ls_config_format(&d->statics, key, buf, len) == LS_OK ? TDM_TOPIC_OK
								     : TDM_ERR_INVALID_CONFIG;
}

int tdm_dyn_source(const struct tdm_dyn *d, const char *key)
{
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		if (tdm_dyn_value(d, l, key))
			return l;
	return -1;
}
