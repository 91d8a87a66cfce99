/*
 * RabbitMQ's per-vhost and per-user limits: a vhost's max-connections and
 * max-queues, a user's max-connections and max-channels (rabbitmqctl
 * set_vhost_limits / set_user_limits, the HTTP API's /api/vhost-limits and
 * /api/user-limits).  A limit that is not set, or set negative, is no
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

enum tdm_limit_scope { TDM_LIMIT_VHOST = 'v', TDM_LIMIT_USER = 'u' };

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
