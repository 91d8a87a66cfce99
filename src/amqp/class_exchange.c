/*
 * Handlers of class exchange: declare, delete, bind, unbind.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <string.h>

#include "amqp/am.h"
#include "core/access.h"

#define MAX_BIND_ARGS 64

int am_h_exchange_declare(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			  struct am_err *err)
{
	const struct am_exchange_declare *d = &m->u.exchange_declare;
	struct tdm_exchange_spec s = {
		.name = (const char *)d->exchange.ptr,
		.name_len = d->exchange.len,
		.type = (const char *)d->type.ptr,
		.type_len = d->type.len,
		.passive = d->passive,
		.durable = d->durable,
		.auto_delete = d->auto_delete,
		.internal = d->internal,
		.arguments = d->arguments.ptr,
		.arguments_len = d->arguments.len,
		.user = c->user,
	};
	struct tdm_exchange *x;
	struct tdm_err te;
	struct am_value ae;
	if (!d->passive && am_table_get(d->arguments, "alternate-exchange", &ae) && ae.type != 'S')
		return am_fail(err, AM_PRECONDITION_FAILED, m->id,
			       "invalid type '%s' for arg 'alternate-exchange' in exchange '%.*s' in vhost '%s'",
			       am_type_word(ae.type), (int)d->exchange.len, (const char *)d->exchange.ptr,
			       c->vhost->name);
	int rc = tdm_exchange_declare(c->vhost, &s, &x, &te);
	if (rc == TDM_PROPOSED) /* a cluster's: answered once applied here */
		return am_defs_wait(c, ch, m->id, AM_EXCHANGE_DECLARE_OK, d->no_wait, err);
	if (rc != TDM_OK)
		return am_fail_core(err, &te, m->id);
	if (!s.created && !s.passive &&
	    am_args_equivalent((struct am_bytes){ x->arguments, x->arguments_len }, d->arguments,
			       am_exchange_arg_keys, "exchange", x->name, c->vhost->name, m->id, err) < 0)
		return -1;
	if (!d->no_wait)
		am_send_simple(c, ch->id, AM_EXCHANGE_DECLARE_OK);
	return 0;
}

int am_h_exchange_delete(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			 struct am_err *err)
{
	const struct am_exchange_delete *d = &m->u.exchange_delete;
	struct tdm_err te;
	int rc = tdm_exchange_delete_by(c->vhost, c->user, (const char *)d->exchange.ptr,
					d->exchange.len, d->if_unused, &te);
	if (rc == TDM_PROPOSED)
		return am_defs_wait(c, ch, m->id, AM_EXCHANGE_DELETE_OK, d->no_wait, err);
	if (rc != TDM_OK)
		return am_fail_core(err, &te, m->id);
	if (!d->no_wait)
		am_send_simple(c, ch->id, AM_EXCHANGE_DELETE_OK);
	return 0;
}

/* Shared by exchange.bind/unbind and queue.bind/unbind: source exchange,
 * destination (a queue when dst_queue, else an exchange: its name, whose
 * write permission and default-exchange checks the caller made), key,
 * args; `bind` selects the operation.  0 done, 1 proposed to the cluster
 * (an exchange destination: core/defs.h), -1 with err.  In the order of
 * rabbit_channel's binding_action and rabbit_binding. */
int am_binding_op(struct am_conn *c, uint32_t method, struct am_bytes src_name, int dst_queue,
		  struct am_bytes dst_name, struct am_bytes key, struct am_bytes args, int bind,
		  struct am_err *err)
{
	struct ex_hdr hdrs[MAX_BIND_ARGS];
	int n = am_table_to_hdrs(args, hdrs, MAX_BIND_ARGS);
	if (n < 0)
		return am_fail(err, AM_PRECONDITION_FAILED, method, "too many binding arguments");
	struct tdm_err te;
	if (src_name.len == 0)
		return am_fail(err, AM_ACCESS_REFUSED, method,
			       "operation not permitted on the default exchange");
	/* read on the source, then (a topic exchange) topic read on the key */
	if (tdm_access(c->vhost, c->user, TDM_RES_EXCHANGE, TDM_PERM_READ,
		       (const char *)src_name.ptr, src_name.len, &te) != TDM_OK)
		return am_fail_core(err, &te, method);
	struct tdm_exchange *src = tdm_exchange_lookup(c->vhost, (const char *)src_name.ptr,
						       src_name.len, &te);
	if (!src && !bind && te.status == TDM_E_NOT_FOUND)
		return 0; /* RabbitMQ 3.10: unbinding is idempotent */
	if (!src || tdm_topic_access(src, c->user, TDM_PERM_READ, (const char *)key.ptr, key.len,
				     &te) != TDM_OK)
		return am_fail_core(err, &te, method);
	/* then the destination: missing is 404 (unbind: done); another
	 * connection's exclusive queue 405 (unbind: only a binding it has) */
	const char *dn = (const char *)dst_name.ptr;
	struct tdm_dest *dst;
	if (dst_queue) {
		struct tdm_queue *q = tdm_map_get(&c->vhost->queues, dn, dst_name.len);
		if (q && !bind &&
		    !ex_has_binding(src->table, &q->dest, (const char *)key.ptr, key.len, hdrs, (size_t)n))
			return 0;
		if (!q && !bind)
			return 0;
		if (!(q = tdm_queue_lookup(c->vhost, dn, dst_name.len, c, &te)))
			return am_fail_core(err, &te, method);
		dst = &q->dest;
	} else {
		struct tdm_exchange *x = tdm_exchange_lookup(c->vhost, dn, dst_name.len, &te);
		if (!x)
			return bind ? am_fail_core(err, &te, method) : 0;
		dst = &x->dest;
	}
	int rc = bind ? tdm_bind(src, dst, (const char *)key.ptr, key.len, hdrs, (size_t)n, &te)
		      : tdm_unbind(src, dst, (const char *)key.ptr, key.len, hdrs, (size_t)n, &te);
	if (rc == TDM_PROPOSED)
		return 1; /* a cluster's: the caller waits for it (am_defs_wait) */
	return rc == TDM_OK ? 0 : am_fail_core(err, &te, method);
}

static int exchange_binding(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			    struct am_err *err, int bind)
{
	/* exchange.bind and exchange.unbind have the same fields */
	const struct am_exchange_bind *b = &m->u.exchange_bind;
	struct tdm_err te;
	if (tdm_access(c->vhost, c->user, TDM_RES_EXCHANGE, TDM_PERM_WRITE,
		       (const char *)b->destination.ptr, b->destination.len, &te) != TDM_OK)
		return am_fail_core(err, &te, m->id);
	if (b->destination.len == 0)
		return am_fail(err, AM_ACCESS_REFUSED, m->id,
			       "operation not permitted on the default exchange");
	int rc = am_binding_op(c, m->id, b->source, 0, b->destination, b->routing_key, b->arguments,
			       bind, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return am_defs_wait(c, ch, m->id, bind ? AM_EXCHANGE_BIND_OK : AM_EXCHANGE_UNBIND_OK,
				    b->no_wait, err);
	if (!b->no_wait)
		am_send_simple(c, ch->id, bind ? AM_EXCHANGE_BIND_OK : AM_EXCHANGE_UNBIND_OK);
	return 0;
}

int am_h_exchange_bind(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	return exchange_binding(c, ch, m, err, 1);
}

int am_h_exchange_unbind(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			 struct am_err *err)
{
	return exchange_binding(c, ch, m, err, 0);
}
