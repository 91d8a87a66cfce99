/*
 * Permission checks on broker objects, as RabbitMQ 3.10's
 * rabbit_access_control: the one place every front end asks "may this user
 * configure / write / read this queue, exchange or topic" and gets
 * RabbitMQ's refusal text.  The patterns themselves live in core/auth.h.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_ACCESS_H
#define TANDEM_CORE_ACCESS_H

#include <stddef.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/queue.h"

/* What a checked name names (for the refusal text only: RabbitMQ's
 * internal backend applies the same patterns to every kind). */
enum tdm_res_kind { TDM_RES_QUEUE, TDM_RES_EXCHANGE, TDM_RES_TOPIC };

/*
 * TDM_OK when user may p (configure, write or read) the queue, exchange or
 * Kafka topic name[0..len) of vh (core/auth.h: tdm_auth_permitted; the
 * default exchange "" counts as amq.default); else TDM_E_ACCESS with
 * RabbitMQ's text "access to queue 'q' in vhost '/' refused for user 'u'".
 * user NULL (an internal caller: recovery, the broker itself),
 * tdm_auth_link_user (the cluster link, the broker on another node) and a
 * broker without a user table are always allowed.
 */
int tdm_access(struct tdm_vhost *vh, const char *user, enum tdm_res_kind kind, enum tdm_perm p,
	       const char *name, size_t len, struct tdm_err *err);
/*
 * Topic permission on routing_key[0..len) through exchange x: TDM_OK
 * unless x is a topic exchange and user's topic permission for it refuses
 * (p TDM_PERM_WRITE: publishing; TDM_PERM_READ: binding); then
 * TDM_E_ACCESS with "access to topic 'rk' in exchange 'x' in vhost '/'
 * refused for user 'u'".  user NULL or tdm_auth_link_user: allowed.
 */
int tdm_topic_access(struct tdm_exchange *x, const char *user, enum tdm_perm p,
		     const char *routing_key, size_t len, struct tdm_err *err);

/*
 * A binding's checks, in rabbit_channel's binding_action order: write on
 * the destination (queue or exchange), read on the source, topic read on
 * the key (a topic source).  TDM_OK or TDM_E_ACCESS as above.  (The AMQP
 * front end makes the same calls itself, its lookups between them.)
 */
int tdm_binding_access(struct tdm_exchange *src, struct tdm_dest *dst, const char *user,
		       const char *key, size_t key_len, struct tdm_err *err);

#endif
