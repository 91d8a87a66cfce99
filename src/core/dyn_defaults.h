/*
 * Dynamic topic defaults (Kafka's dynamic broker configs, KIP-226, for the
 * log.* settings that give every topic its defaults): two layers set at
 * run time over the static defaults (tandem.conf's log_* settings, else
 * Kafka's), in Kafka's precedence: a topic's own override > this broker's
 * value (TDM_DYN_BROKER) > the cluster-wide default (TDM_DYN_DEFAULT) >
 * static.  The effective defaults are the log store's (ls_store_defaults),
 * so tdm_topics_config_default and every topic without an override take a
 * change at once.  Keys are topic config names ("retention.ms"); the
 * front end maps Kafka's broker names to them.
 *
 * Persisted in <data_dir>/logs/broker_configs ("broker|default key=value"
 * lines), written by ls_store_write_file: temp file, fsync, rename, fsync
 * of the folder, before a change is applied.  In a cluster ZooKeeper is
 * the source (cluster/broker_config.h sets the layers from it); the file
 * is then this node's copy, read at start until the session has them.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_DYN_DEFAULTS_H
#define TANDEM_CORE_DYN_DEFAULTS_H

#include <stddef.h>

#include "core/topic_types.h"

struct ls_store;
struct tdm_dyn;

enum { TDM_DYN_BROKER = 0, TDM_DYN_DEFAULT = 1, TDM_DYN_LAYERS = 2 };

/* Reads the file under dir (the store's folder) and applies it over the
 * store's defaults as they are now (the static ones).  NULL on failure
 * (err says why: an unreadable file, a bad line). */
struct tdm_dyn *tdm_dyn_open(struct ls_store *s, const char *dir, char *err, size_t errlen);
void tdm_dyn_free(struct tdm_dyn *d);
/* Replaces layer's whole set with kv (n pairs, values checked by
 * tdm_topics_check_default; a NULL value is left out), persists both layers, then
 * applies them.  TDM_TOPIC_OK, TDM_ERR_INVALID_CONFIG, TDM_ERR_IO (nothing
 * changed), TDM_ERR_NOMEM. */
int tdm_dyn_set(struct tdm_dyn *d, int layer, const struct tdm_kv *kv, size_t n, char *err,
		size_t errlen);
/* Layer's value for key, NULL when it sets none; borrowed until the next
 * tdm_dyn_set. */
const char *tdm_dyn_value(const struct tdm_dyn *d, int layer, const char *key);
/* The static default of key into buf: TDM_TOPIC_OK or
 * TDM_ERR_INVALID_CONFIG. */
int tdm_dyn_static(const struct tdm_dyn *d, const char *key, char *buf, size_t len);
/* Kafka's broker name of a topic config's default ("retention.ms" ->
 * "log.retention.ms") and back; NULL when it has none. */
const char *tdm_dyn_broker_name(const char *topic_key);
const char *tdm_dyn_topic_key(const char *broker_name);
/* The layer the effective default of key comes from, -1 when static. */
int tdm_dyn_source(const struct tdm_dyn *d, const char *key);

#endif
