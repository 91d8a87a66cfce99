/*
 * Permission checks on broker objects (core/access.h): RabbitMQ's texts
 * around core/auth.c's pattern matching.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <string.h>

#include "core/access.h"

int tdm_access(struct tdm_vhost *vh, const char *user, enum tdm_res_kind kind, enum tdm_perm p,
	       const char *name, size_t len, struct tdm_err *err)
{
	static const char *const word[] = { "queue", "exchange", "topic" };
	const struct tdm_auth *a = vh->broker->auth;

	if (!user || !a || tdm_auth_permitted(a, user, vh->name, p, name, len))
		return TDM_OK;
	if (kind == TDM_RES_EXCHANGE && len == 0) { /* rabbit_access_control's rewrite */
		name = "amq.default";
		len = 11;
	}
	return tdm_err_set(err, TDM_E_ACCESS,
			   "access to %s '%.*s' in vhost '%s' refused for user '%s'", word[kind],
			   (int)len, name, vh->name, user);
}

int tdm_topic_access(struct tdm_exchange *x, const char *user, enum tdm_perm p,
		     const char *routing_key, size_t len, struct tdm_err *err)
{
	const struct tdm_auth *a = x->vhost->broker->auth;

	if (!user || !a || x->type != EX_TOPIC ||
	    tdm_auth_topic_permitted(a, user, x->vhost->name, x->name, p, routing_key, len))
		return TDM_OK;
	return tdm_err_set(
		err, TDM_E_ACCESS,
		"access to topic '%.*s' in exchange '%s' in vhost '%s' refused for user '%s'",
		(int)len, routing_key, x->name, x->vhost->name, user);
}

int tdm_binding_access(struct tdm_exchange *src, struct tdm_dest *dst, const char *user,
		       const char *key, size_t key_len, struct tdm_err *err)
{
	struct tdm_vhost *vh = src->vhost;
	int rc;

	if (dst->kind == TDM_DEST_QUEUE) {
		const struct tdm_queue *q = (const struct tdm_queue *)dst;
		rc = tdm_access(vh, user, TDM_RES_QUEUE, TDM_PERM_WRITE, q->name, q->name_len, err);
	} else {
		const struct tdm_exchange *x = (const struct tdm_exchange *)dst;
		rc = tdm_access(vh, user, TDM_RES_EXCHANGE, TDM_PERM_WRITE, x->name, x->name_len,
				err);
	}
	if (rc == TDM_OK)
		rc = tdm_access(vh, user, TDM_RES_EXCHANGE, TDM_PERM_READ, src->name, src->name_len,
				err);
	if (rc == TDM_OK)
		rc = tdm_topic_access(src, user, TDM_PERM_READ, key, key_len, err);
	return rc;
}
