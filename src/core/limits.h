/*
 * RabbitMQ's per-vhost and per-user limits: a vhost's max-connections and
 * max-queues, a user's max-connections and max-channels (rabbitmqctl
 * set_vhost_limits / set_user_limits, the HTTP API's /api/vhost-limits and
 * /api/user-limits); and Kafka's broker limits set at run time
 * (/api/kafka-limits, see TDM_LIMIT_KAFKA).  A limit that is not set, or set negative, is no
 * limit; 0 refuses everything.  Limits are checked when something new is
 * made (connection.open, channel.open, a new queue); what exists over a
 * newly lowered limit stays, as in RabbitMQ.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_LIMITS_H
#define TANDEM_CORE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct tdm_broker;
struct tdm_err;
struct tdm_limits; /* opaque */

enum tdm_limit_scope { TDM_LIMIT_VHOST = 'v', TDM_LIMIT_USER = 'u', TDM_LIMIT_KAFKA = 'k' };

/*
 * Kafka's broker limits (scope TDM_LIMIT_KAFKA), set at run time over
 * /api/kafka-limits as Kafka's dynamic broker configs: a value set here
 * overrides tandem.conf's, and removing it goes back to tandem.conf's.
 * Owner "" holds the broker-wide fields below; owner IP holds that
 * address's max.connections.per.ip override, in force while owner ""
 * has TDM_KAFKA_PER_IP_OVERRIDES set (the run-time overrides replace
 * tandem.conf's as a whole).
 */
#define TDM_KAFKA_PER_IP "max.connections.per.ip"
#define TDM_KAFKA_PER_IP_OVERRIDES "max.connections.per.ip.overrides"
#define TDM_KAFKA_PARTITIONS_PER_TOPIC "max_partitions_per_topic"
#define TDM_KAFKA_PARTITIONS "max_partitions"
#define TDM_KAFKA_REQUEST_SIZE "socket.request.max.bytes"

struct tdm_limits *tdm_limits_new(void);
void tdm_limits_free(struct tdm_limits *l);
/* 1 when field (RabbitMQ's spelling, e.g. "max-queues") is a limit of scope. */
int tdm_limits_known(enum tdm_limit_scope scope, const char *field);
/* Sets owner's limit (a negative value is kept: it lists, and means no
 * limit).  0, -1 ENOMEM, -2 unknown field. */
int tdm_limits_set(struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		   const char *field, int64_t value);
/* Removes one limit (field NULL: every limit of owner).  0, or -1 when
 * there was none. */
int tdm_limits_clear(struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		     const char *field);
/* The limit in force: the value set, or -1 (none). */
int64_t tdm_limits_get(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		       const char *field);
/* 1 with *value when owner has field set (even negative), else 0. */
int tdm_limits_lookup(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		      const char *field, int64_t *value);
typedef void (*tdm_limit_fn)(void *ctx, const char *owner, const char *field, int64_t value);
/* Calls fn for every limit set in scope (owner NULL) or of one owner, in
 * the order they were first set (strings borrowed for the call). */
void tdm_limits_foreach(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
			tdm_limit_fn fn, void *ctx);

/* ---- Kafka's broker limits ---------------------------------------------- */

struct tdm_config;
/* The Kafka limit field (one of TDM_KAFKA_*, not the overrides) in force:
 * set at run time, else tandem.conf's; -1 for an unknown field. */
int64_t tdm_limits_kafka(const struct tdm_limits *l, const struct tdm_config *cfg,
			 const char *field);
/* The most Kafka connections address ip (text, as the socket gives it)
 * may have: its override in force, else max.connections.per.ip. */
int64_t tdm_limits_kafka_per_ip(const struct tdm_limits *l, const struct tdm_config *cfg,
				const char *ip);
typedef void (*tdm_override_fn)(void *ctx, const char *ip, size_t len, int64_t count);
/*
 * Parses Kafka's max.connections.per.ip.overrides, "IP:COUNT,..." (the
 * count after the last colon, so IPv6 addresses need no brackets;
 * whitespace around entries is ignored), calling fn (may be NULL: only
 * validate) per entry.  0, or -1 with a message in err.
 */
int tdm_limits_parse_overrides(const char *s, tdm_override_fn fn, void *ctx, char *err,
			       size_t errlen);
/* Replaces the run-time overrides with those of s (Kafka's form; "" = none
 * at all, tandem.conf's included), calling changed(ctx, owner, field) for
 * every record that changed (to persist it).  0, -1 ENOMEM, -2 malformed
 * (message in err). */
int tdm_limits_kafka_set_overrides(struct tdm_limits *l, const char *s,
				   void (*changed)(void *ctx, const char *owner, const char *field),
				   void *ctx, char *err, size_t errlen);
/* Drops the run-time overrides (tandem.conf's apply again), calling
 * changed as above. */
void tdm_limits_kafka_clear_overrides(struct tdm_limits *l,
				      void (*changed)(void *ctx, const char *owner,
						      const char *field),
				      void *ctx);
/* Kafka connections refused by max.connections.per.ip since start. */
void tdm_limits_kafka_refused(struct tdm_limits *l);
uint64_t tdm_limits_kafka_refused_count(const struct tdm_limits *l);

/*
 * The checks, with RabbitMQ 3.10's refusals in err (TDM_E_NOT_ALLOWED for
 * connections and channels, TDM_E_INEQUIVALENT (406) for queues).  Each
 * returns TDM_OK or the status set.  Connections and channels are counted
 * from the connection registry (core/registry.h), queues from the vhost.
 */
/* A new connection of user to vhost (before it is registered). */
int tdm_limits_check_connection(struct tdm_broker *b, const char *user, const char *vhost,
				struct tdm_err *err);
/* A new channel of user (those already open are counted). */
int tdm_limits_check_channel(struct tdm_broker *b, const char *user, struct tdm_err *err);
/* A new queue named name in vhost. */
int tdm_limits_check_queue(struct tdm_broker *b, const char *vhost, size_t nqueues,
			   const char *name, size_t name_len, struct tdm_err *err);

#endif
