/*
 * logstore/config.c: the topic configuration table.  Each key is one row
 * {name, type, offset, default, min, max} (plus value names for enums);
 * parsing, validation, formatting and defaults are generic over the table,
 * so adding a key is adding a row.
 *
 * Must not depend on anything outside libc.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logstore_internal.h"

enum cfg_type { CFG_LONG, CFG_RATIO, CFG_ENUM, CFG_VERSION };

struct cfg_enum {
	const char *name;
	int64_t value;
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	int64_t def, min, max;  /* CFG_LONG and CFG_ENUM (def only) */
	double ddef;            /* CFG_RATIO, in [0, 1] */
	const struct cfg_enum *values; /* CFG_ENUM and CFG_VERSION,
					  NULL-terminated; first name is the
					  canonical spelling */
};

static const struct cfg_enum cleanup_values[] = {
	{ "delete", LS_CLEANUP_DELETE },
	{ "compact", LS_CLEANUP_COMPACT },
	{ "compact,delete", LS_CLEANUP_COMPACT | LS_CLEANUP_DELETE },
	{ "delete,compact", LS_CLEANUP_COMPACT | LS_CLEANUP_DELETE },
	{ NULL, 0 },
};

static const struct cfg_enum bool_values[] = {
	{ "false", 0 },
	{ "true", 1 },
	{ NULL, 0 },
};

static const struct cfg_enum ts_values[] = {
	{ "CreateTime", LS_TS_CREATE_TIME },
	{ "LogAppendTime", LS_TS_LOG_APPEND_TIME },
	{ NULL, 0 },
};

/* Kafka's values of compression.type, every one of them. */
static const struct cfg_enum compression_values[] = {
	{ "producer", LS_COMPRESSION_PRODUCER },
	{ "uncompressed", LS_CODEC_NONE },
	{ "gzip", LS_CODEC_GZIP },
	{ "snappy", LS_CODEC_SNAPPY },
	{ "lz4", LS_CODEC_LZ4 },
	{ "zstd", LS_CODEC_ZSTD },
	{ NULL, 0 },
};

/* Kafka's releases, the values of message.format.version (CFG_VERSION:
 * also spelt with a patch level, "0.10.0.1", "2.4.1", or an inter-broker
 * version suffix, "0.10.0-IV1", as Kafka's parser reads them). */
static const struct cfg_enum release_values[] = {
	{ "0.8.0", 800 }, { "0.8.1", 801 }, { "0.8.2", 802 }, { "0.9.0", 900 },
	{ "0.10.0", 1000 }, { "0.10.1", 1001 }, { "0.10.2", 1002 }, { "0.11.0", 1100 },
	{ "1.0", 10000 }, { "1.1", 10100 }, { "2.0", 20000 }, { "2.1", 20100 },
	{ "2.2", 20200 }, { "2.3", 20300 }, { "2.4", 20400 }, { "2.5", 20500 },
	{ "2.6", 20600 }, { "2.7", 20700 }, { "2.8", 20800 }, { "3.0", 30000 },
	{ "3.1", 30100 }, { "3.2", 30200 }, { "3.3", 30300 }, { "3.4", 30400 },
	{ "3.5", 30500 }, { "3.6", 30600 }, { "3.7", 30700 }, { "3.8", 30800 },
	{ "3.9", 30900 }, { NULL, 0 },
};

#define OFF(f) offsetof(struct ls_topic_config, f)
#define DAY_MS INT64_C(86400000)

static const struct cfg_key keys[] = {
	{ "segment.bytes", CFG_LONG, OFF(segment_bytes), INT64_C(1073741824), 14,
	  INT32_MAX, 0, NULL },
	{ "segment.ms", CFG_LONG, OFF(segment_ms), 7 * DAY_MS, 1, INT64_MAX, 0, NULL },
	{ "segment.index.bytes", CFG_LONG, OFF(segment_index_bytes),
	  INT64_C(10485760), 8, INT32_MAX, 0, NULL },
	{ "index.interval.bytes", CFG_LONG, OFF(index_interval_bytes), 4096, 0,
	  INT32_MAX, 0, NULL },
	{ "retention.ms", CFG_LONG, OFF(retention_ms), 7 * DAY_MS, -1, INT64_MAX, 0,
	  NULL },
	{ "retention.bytes", CFG_LONG, OFF(retention_bytes), -1, -1, INT64_MAX, 0,
	  NULL },
	{ "cleanup.policy", CFG_ENUM, OFF(cleanup_policy), LS_CLEANUP_DELETE, 0, 0,
	  0, cleanup_values },
	{ "delete.retention.ms", CFG_LONG, OFF(delete_retention_ms), DAY_MS, 0,
	  INT64_MAX, 0, NULL },
	{ "min.cleanable.dirty.ratio", CFG_RATIO, OFF(min_cleanable_dirty_ratio), 0,
	  0, 0, 0.5, NULL },
	{ "flush.messages", CFG_LONG, OFF(flush_messages), INT64_MAX, 1, INT64_MAX,
	  0, NULL },
	{ "flush.ms", CFG_LONG, OFF(flush_ms), 1000, 0, INT64_MAX, 0, NULL },
	{ "max.message.bytes", CFG_LONG, OFF(max_message_bytes), 1048588, 0,
	  INT32_MAX, 0, NULL },
	{ "message.timestamp.type", CFG_ENUM, OFF(timestamp_type),
	  LS_TS_CREATE_TIME, 0, 0, 0, ts_values },
	{ "compression.type", CFG_ENUM, OFF(compression_type),
	  LS_COMPRESSION_PRODUCER, 0, 0, 0, compression_values },
	/* kept for the embedding broker's replication; the store ignores them */
	{ "min.insync.replicas", CFG_LONG, OFF(min_insync_replicas), 1, 1, INT32_MAX,
	  0, NULL },
	{ "unclean.leader.election.enable", CFG_ENUM, OFF(unclean_leader_election),
	  0, 0, 0, 0, bool_values },
	/* Kafka 3's rule (KIP-724): accepted, kept and ignored; every batch
	 * is stored in the v2 format */
	{ "message.format.version", CFG_VERSION, OFF(message_format_version), 30000,
	  0, 0, 0, release_values },
};

#define NKEYS (sizeof keys / sizeof keys[0])

size_t ls_config_count(void)
{
	return NKEYS;
}

const char *ls_config_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

int ls_config_index(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int64_t *long_field(struct ls_topic_config *c, const struct cfg_key *k)
{
	return (int64_t *)(void *)((char *)c + k->offset);
}

static double *ratio_field(struct ls_topic_config *c, const struct cfg_key *k)
{
	return (double *)(void *)((char *)c + k->offset);
}

void ls_config_defaults(struct ls_topic_config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == CFG_RATIO)
			*ratio_field(c, &keys[i]) = keys[i].ddef;
		else
			*long_field(c, &keys[i]) = keys[i].def;
	}
}

void ls_config_copy_key(struct ls_topic_config *dst,
			const struct ls_topic_config *src, int i)
{
	const struct cfg_key *k = &keys[i];

	if (k->type == CFG_RATIO)
		*ratio_field(dst, k) = *ratio_field((struct ls_topic_config *)src, k);
	else
		*long_field(dst, k) = *long_field((struct ls_topic_config *)src, k);
}

/* The release value names, the way Kafka's version parser reads it: the
 * first three dot-separated parts of a 0.x version, two of a later one
 * (so "0.10.0.1" is 0.10.0 and "2.4.1" is 2.4), then an optional
 * "-IV<digit>" suffix.  0 with *v set, or -1. */
static int release_parse(const struct cfg_enum *values, const char *value, int64_t *v)
{
	int parts = strncmp(value, "0.", 2) == 0 ? 3 : 2, dots = 0;
	size_t n = 0, len;

	while (value[n] != '\0' && !(value[n] == '.' && ++dots == parts))
		n++;
	len = n;
	if (len > 4 && value[len - 4] == '-' && value[len - 3] == 'I' &&
	    value[len - 2] == 'V' && value[len - 1] >= '0' && value[len - 1] <= '9')
		len -= 4;
	for (const struct cfg_enum *e = values; e->name != NULL; e++)
		if (strlen(e->name) == len && strncmp(e->name, value, len) == 0) {
			*v = e->value;
			return 0;
		}
	return -1;
}

int ls_config_set(struct ls_topic_config *c, const char *name, const char *value)
{
	int i = ls_config_index(name);
	const struct cfg_key *k;
	char *end;

	if (i < 0 || value == NULL || value[0] == '\0')
		return LS_ERR_INVALID_CONFIG;
	k = &keys[i];
	switch (k->type) {
	case CFG_LONG: {
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || *end != '\0' || value[0] == ' ' ||
		    value[0] == '+' || v < k->min || v > k->max)
			return LS_ERR_INVALID_CONFIG;
		*long_field(c, k) = v;
		return LS_OK;
	}
	case CFG_RATIO: {
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (errno != 0 || *end != '\0' || !(v >= 0.0 && v <= 1.0))
			return LS_ERR_INVALID_CONFIG;
		*ratio_field(c, k) = v;
		return LS_OK;
	}
	case CFG_ENUM:
		for (const struct cfg_enum *e = k->values; e->name != NULL; e++)
			if (strcmp(e->name, value) == 0) {
				*long_field(c, k) = e->value;
				return LS_OK;
			}
		return LS_ERR_INVALID_CONFIG;
	case CFG_VERSION:
		return release_parse(k->values, value, long_field(c, k)) == 0
			       ? LS_OK
			       : LS_ERR_INVALID_CONFIG;
	}
	return LS_ERR_INVALID_CONFIG;
}

int ls_config_format(const struct ls_topic_config *c, const char *name,
		     char *buf, size_t len)
{
	int i = ls_config_index(name);
	const struct cfg_key *k;
	struct ls_topic_config *cc = (struct ls_topic_config *)c;

	if (i < 0)
		return LS_ERR_INVALID_CONFIG;
	k = &keys[i];
	switch (k->type) {
	case CFG_LONG:
		snprintf(buf, len, "%" PRId64, *long_field(cc, k));
		break;
	case CFG_RATIO:
		snprintf(buf, len, "%.17g", *ratio_field(cc, k));
		break;
	case CFG_ENUM:
	case CFG_VERSION:
		snprintf(buf, len, "?");
		for (const struct cfg_enum *e = k->values; e->name != NULL; e++)
			if (e->value == *long_field(cc, k)) {
				snprintf(buf, len, "%s", e->name);
				break;
			}
		break;
	}
	return LS_OK;
}
