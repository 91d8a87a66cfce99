/*
 * Handlers of class queue: declare, bind, unbind, purge, delete.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdio.h>
#include <string.h>

#include "amqp/am.h"
#include "core/access.h"
#include "core/qargs.h"
#include "core/remote.h"
#include "core/stream.h"

int am_queue_name(struct am_conn *c, struct am_channel *ch, struct am_bytes name, int perm,
		  uint32_t method, struct am_bytes *out, struct am_err *err)
{
	if (name.len == 0) {
		if (!ch->last_queue_len)
			return am_fail(err, AM_NOT_FOUND, method, "no previously declared queue");
		name = (struct am_bytes){ (const uint8_t *)ch->last_queue, ch->last_queue_len };
	}
	struct tdm_err te;
	if (perm >= 0 && tdm_access(c->vhost, c->user, TDM_RES_QUEUE, (enum tdm_perm)perm,
				    (const char *)name.ptr, name.len, &te) != TDM_OK)
		return am_fail_core(err, &te, method);
	*out = name;
	return 0;
}

struct tdm_queue *am_queue_resolve(struct am_conn *c, struct am_channel *ch, struct am_bytes name,
				   int perm, uint32_t method, struct am_err *err)
{
	struct tdm_err te;
	if (am_queue_name(c, ch, name, perm, method, &name, err) < 0)
		return NULL;
	struct tdm_queue *q = tdm_queue_lookup(c->vhost, (const char *)name.ptr, name.len, c, &te);
	if (!q)
		am_fail_core(err, &te, method);
	return q;
}

int am_h_queue_declare(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	const struct am_queue_declare *d = &m->u.queue_declare;
	int pseudo = am_reply_declare(c, ch, d, m->id, err); /* amq.rabbitmq.reply-to* */
	if (pseudo)
		return pseudo < 0 ? -1 : 0;
	struct tdm_queue_spec s = {
		.name = (const char *)d->queue.ptr,
		.name_len = d->queue.len,
		.passive = d->passive,
		.durable = d->durable,
		.exclusive = d->exclusive,
		.auto_delete = d->auto_delete,
		.arguments = d->arguments.ptr,
		.arguments_len = d->arguments.len,
		.owner = c,
		.user = c->user,
	};
	if (s.passive && s.name_len == 0 && ch->last_queue_len) {
		s.name = ch->last_queue;
		s.name_len = ch->last_queue_len;
	}
	struct tdm_queue_settings qa;
	char shown[256];
	snprintf(shown, sizeof(shown), "%.*s", (int)d->queue.len, (const char *)d->queue.ptr);
	/* RabbitMQ validates arguments only for a new queue: an existing one is
	 * compared with what was asked (inequivalent arg), whatever it is */
	int exists = d->queue.len && tdm_map_get(&c->vhost->queues, (const char *)d->queue.ptr, d->queue.len);
	struct tdm_stream_spec stream;
	if (!s.passive && !exists && tdm_qargs_is_stream(d->arguments.ptr, d->arguments.len)) {
		if (am_stream_declare_args(c, d, shown, &qa, &stream, m->id, err) < 0)
			return -1;
	} else if (!s.passive && !exists) {
		struct tdm_err te;
		if (tdm_qargs_quorum(shown, d->queue.len, c->vhost->name, d->durable, d->exclusive,
				     d->auto_delete, d->arguments.ptr, d->arguments.len,
				     &te) != TDM_OK ||
		    tdm_qargs_parse(d->arguments.ptr, d->arguments.len, shown, c->vhost->name, &qa,
				    &te) != TDM_OK)
			return am_fail_core(err, &te, m->id);
	}
	s.settings = s.passive || exists ? NULL : &qa;
	struct tdm_queue *q;
	struct tdm_err te;
	int rc = tdm_queue_declare(c->vhost, &s, &q, &te);
	if (rc == TDM_PROPOSED) { /* the cluster's: run again once applied here */
		struct am_method again = *m;
		if (d->queue.len == 0) /* the name it was proposed with */
			again.u.queue_declare.queue = (struct am_bytes){
				(const uint8_t *)s.generated, (uint32_t)strlen(s.generated) };
		return am_defs_wait_rerun(c, ch, &again, err);
	}
	if (rc != TDM_OK)
		return am_fail_core(err, &te, m->id);
	if (!s.created && !s.passive &&
	    am_args_equivalent((struct am_bytes){ q->arguments, q->arguments_len }, d->arguments,
			       q->stream   ? am_stream_queue_arg_keys
			       : q->quorum ? am_quorum_queue_arg_keys
					   : am_queue_arg_keys,
			       "queue",
			       q->name, c->vhost->name, m->id, err) < 0)
		return -1;
	if (!s.created && !s.passive && q->stream &&
	    am_args_equivalent((struct am_bytes){ q->arguments, q->arguments_len }, d->arguments,
			       am_stream_arg_keys, "queue", q->name, c->vhost->name, m->id, err) < 0)
		return -1;
	memcpy(ch->last_queue, q->name, q->name_len);
	ch->last_queue_len = q->name_len;
	if ((q->stream || q->quorum) && !s.passive) { /* in a cluster: once its topic is ready */
		rc = am_stream_declared(c, ch, q, d->no_wait, err);
		if (rc <= 0)
			return rc;
	}
	if (q->remote && !d->no_wait) /* another node's queue: its home counts */
		return am_remote_counted(c, ch, q, AM_QUEUE_DECLARE, d->no_wait, err);
	if (d->no_wait)
		return 0;
	struct am_method ok = { .id = AM_QUEUE_DECLARE_OK };
	ok.u.queue_declare_ok.queue = (struct am_bytes){ (const uint8_t *)q->name, q->name_len };
	ok.u.queue_declare_ok.message_count =
		(uint32_t)(q->stream ? tdm_stream_count(q) : tdm_queue_ready(q));
	ok.u.queue_declare_ok.consumer_count = q->nconsumers;
	am_send_method(c, ch->id, &ok);
	return 0;
}

static int queue_binding(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			 struct am_bytes qname, struct am_bytes exchange, struct am_bytes key,
			 struct am_bytes args, int bind, struct am_err *err)
{
	/* rabbit_channel's binding_action: write on the queue first; whether it
	 * exists is am_binding_op's call, after the exchange's checks */
	struct am_bytes name;
	if (am_queue_name(c, ch, qname, TDM_PERM_WRITE, m->id, &name, err) < 0)
		return -1;
	if (qname.len == 0 && key.len == 0) /* spec: the last queue's name is the key */
		key = name;
	int rc = am_binding_op(c, m->id, exchange, 1, name, key, args, bind, err);
	if (rc == 1) /* the cluster's queue: once applied here */
		return am_defs_wait(c, ch, m->id, bind ? AM_QUEUE_BIND_OK : AM_QUEUE_UNBIND_OK,
				    bind ? m->u.queue_bind.no_wait : 0, err) < 0 ? -1 : 1;
	return rc;
}

int am_h_queue_bind(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		    struct am_err *err)
{
	const struct am_queue_bind *b = &m->u.queue_bind;
	int rc = queue_binding(c, ch, m, b->queue, b->exchange, b->routing_key, b->arguments, 1, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (!b->no_wait)
		am_send_simple(c, ch->id, AM_QUEUE_BIND_OK);
	return 0;
}

int am_h_queue_unbind(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		      struct am_err *err)
{
	const struct am_queue_unbind *b = &m->u.queue_unbind;
	int rc = queue_binding(c, ch, m, b->queue, b->exchange, b->routing_key, b->arguments, 0, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	am_send_simple(c, ch->id, AM_QUEUE_UNBIND_OK);
	return 0;
}

int am_h_queue_purge(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		     struct am_err *err)
{
	const struct am_queue_purge *p = &m->u.queue_purge;
	struct tdm_queue *q = am_queue_resolve(c, ch, p->queue, TDM_PERM_READ, m->id, err);
	if (!q)
		return -1;
	if (q->stream)
		return am_fail(err, AM_NOT_IMPLEMENTED, m->id,
			       "queue.purge not supported by stream queues queue '%s' in vhost '%s'",
			       q->name, c->vhost->name);
	if (q->remote) /* another node's queue: its home purges */
		return am_remote_counted(c, ch, q, AM_QUEUE_PURGE, p->no_wait, err);
	uint64_t n = tdm_queue_purge(q);
	if (p->no_wait)
		return 0;
	struct am_method ok = { .id = AM_QUEUE_PURGE_OK };
	ok.u.queue_purge_ok.message_count = (uint32_t)n;
	am_send_method(c, ch->id, &ok);
	return 0;
}

int am_h_queue_delete(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		      struct am_err *err)
{
	const struct am_queue_delete *d = &m->u.queue_delete;
	struct am_bytes name = d->queue;
	if (name.len == 0) {
		if (!ch->last_queue_len)
			return am_fail(err, AM_NOT_FOUND, m->id, "no previously declared queue");
		name = (struct am_bytes){ (const uint8_t *)ch->last_queue, ch->last_queue_len };
	}
	uint64_t n = 0;
	struct tdm_err te;
	if (tdm_access(c->vhost, c->user, TDM_RES_QUEUE, TDM_PERM_CONFIGURE, (const char *)name.ptr,
		       name.len, &te) != TDM_OK)
		return am_fail_core(err, &te, m->id);
	struct tdm_queue *q = tdm_map_get(&c->vhost->queues, (const char *)name.ptr, name.len);
	if (q && q->remote && tdm_remote_home_up(q)) /* its home counts, the cluster deletes */
		return am_remote_delete(c, ch, q, d, err);
	int rc = tdm_queue_delete(c->vhost, (const char *)name.ptr, name.len, c, d->if_unused,
				  d->if_empty, &n, &te);
	if (rc != TDM_OK && rc != TDM_PROPOSED)
		return am_fail_core(err, &te, m->id);
	struct am_method ok = { .id = AM_QUEUE_DELETE_OK };
	ok.u.queue_delete_ok.message_count = (uint32_t)n;
	if (rc == TDM_PROPOSED) /* the cluster's queue: gone everywhere first */
		return am_defs_wait_ok(c, ch, &ok, m->id, d->no_wait, err);
	if (d->no_wait)
		return 0;
	am_send_method(c, ch->id, &ok);
	return 0;
}
