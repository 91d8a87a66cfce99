/*
 * Exchanges of a vhost: declare, delete, bindings and routing through
 * exchange/ tables, following RabbitMQ 3.x's rules and error texts.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/codec.h"
#include "core/access.h"
#include "core/broker.h"
#include "core/defs.h"
#include "core/durable.h"

int tdm_err_set(struct tdm_err *e, int status, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->text, sizeof(e->text), fmt, ap);
		va_end(ap);
		e->status = status;
	}
	return status;
}

static const char *const type_names[] = {
	[EX_DIRECT] = "direct", [EX_FANOUT] = "fanout",
	[EX_TOPIC] = "topic", [EX_HEADERS] = "headers",
};

const char *tdm_exchange_type_name(enum ex_type t)
{
	return type_names[t];
}

static int type_parse(const char *s, size_t len, enum ex_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strlen(type_names[i]) == len && memcmp(type_names[i], s, len) == 0) {
			*out = (enum ex_type)i;
			return 0;
		}
	}
	return -1;
}

static int has_amq_prefix(const char *name, size_t len)
{
	return len >= 4 && memcmp(name, "amq.", 4) == 0;
}

struct tdm_exchange *tdm_exchange_find(struct tdm_vhost *vh, const char *name, size_t len)
{
	return tdm_map_get(&vh->exchanges, name, len);
}

struct tdm_exchange *tdm_exchange_lookup(struct tdm_vhost *vh, const char *name, size_t len,
					 struct tdm_err *err)
{
	struct tdm_exchange *x = tdm_exchange_find(vh, name, len);
	if (!x)
		tdm_err_set(err, TDM_E_NOT_FOUND, "no exchange '%.*s' in vhost '%s'",
			    (int)len, name, vh->name);
	return x;
}

static const char *tf(int b)
{
	return b ? "true" : "false";
}

static int check_equivalent(struct tdm_vhost *vh, struct tdm_exchange *x, enum ex_type t,
			    struct tdm_exchange_spec *s, struct tdm_err *err)
{
	const char *arg = NULL;
	const char *got = NULL, *cur = NULL;
	if (x->type != t) {
		arg = "type";
		got = type_names[t];
		cur = type_names[x->type];
	} else if (x->durable != !!s->durable) {
		arg = "durable";
		got = tf(s->durable);
		cur = tf(x->durable);
	} else if (x->auto_delete != !!s->auto_delete) {
		arg = "auto_delete";
		got = tf(s->auto_delete);
		cur = tf(x->auto_delete);
	} else if (x->internal != !!s->internal) {
		arg = "internal";
		got = tf(s->internal);
		cur = tf(x->internal);
	}
	if (!arg)
		return TDM_OK;
	return tdm_err_set(err, TDM_E_INEQUIVALENT,
			   "inequivalent arg '%s' for exchange '%s' in vhost '%s': "
			   "received '%s' but current is '%s'",
			   arg, x->name, vh->name, got, cur);
}

static struct tdm_exchange *exchange_create(struct tdm_vhost *vh, const char *name, size_t len,
					    enum ex_type t)
{
	struct tdm_exchange *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->dest.kind = TDM_DEST_EXCHANGE;
	x->name = strndup(name, len);
	x->name_len = (uint8_t)len;
	x->type = t;
	x->vhost = vh;
	x->table = ex_table_new(t);
	if (!x->name || !x->table || tdm_map_put(&vh->exchanges, name, len, x) < 0) {
		ex_table_free(x->table);
		free(x->name);
		free(x);
		return NULL;
	}
	return x;
}

int tdm_exchange_declare(struct tdm_vhost *vh, struct tdm_exchange_spec *s,
			 struct tdm_exchange **out, struct tdm_err *err)
{
	if (s->name_len == 0)
		return tdm_err_set(err, TDM_E_ACCESS, "operation not permitted on the default exchange");
	struct tdm_exchange *x = tdm_exchange_find(vh, s->name, s->name_len);
	if (s->passive) {
		if (!x)
			return tdm_err_set(err, TDM_E_NOT_FOUND, "no exchange '%.*s' in vhost '%s'",
					   (int)s->name_len, s->name, vh->name);
		*out = x;
		return TDM_OK;
	}
	enum ex_type t;
	if (type_parse(s->type, s->type_len, &t) < 0)
		return tdm_err_set(err, TDM_E_COMMAND_INVALID, "unknown exchange type '%.*s'",
				   (int)s->type_len, s->type);
	/* rabbit_channel: configure on the exchange, new or not */
	if (tdm_access(vh, s->user, TDM_RES_EXCHANGE, TDM_PERM_CONFIGURE, s->name, s->name_len,
		       err) != TDM_OK)
		return err->status;
	if (x) { /* RabbitMQ checks equivalence first: redeclaring amq.direct is fine */
		int rc = check_equivalent(vh, x, t, s, err);
		if (rc == TDM_OK)
			*out = x;
		return rc;
	}
	if (has_amq_prefix(s->name, s->name_len))
		return tdm_err_set(err, TDM_E_ACCESS,
				   "exchange name '%.*s' contains reserved prefix 'amq.*'",
				   (int)s->name_len, s->name);
	/* a new exchange's alternate exchange: read on this one, write on that */
	struct am_value ae;
	if (s->user &&
	    am_table_get((struct am_bytes){ s->arguments ? s->arguments : (const uint8_t *)"",
					    (uint32_t)s->arguments_len },
			 "alternate-exchange", &ae) &&
	    ae.type == 'S' &&
	    (tdm_access(vh, s->user, TDM_RES_EXCHANGE, TDM_PERM_READ, s->name, s->name_len, err) !=
		     TDM_OK ||
	     tdm_access(vh, s->user, TDM_RES_EXCHANGE, TDM_PERM_WRITE, (const char *)ae.v.bytes.ptr,
			ae.v.bytes.len, err) != TDM_OK))
		return err->status;
	if (tdm_defs_clustered(vh->broker)) /* the cluster's: every node applies it */
		return tdm_defs_propose_exchange(vh, s, (int)t, err);
	x = exchange_create(vh, s->name, s->name_len, t);
	if (!x)
		return tdm_err_set(err, TDM_E_NOMEM, "out of memory");
	s->created = 1;
	x->durable = !!s->durable;
	x->auto_delete = !!s->auto_delete;
	x->internal = !!s->internal;
	if (s->arguments_len) {
		x->arguments = malloc(s->arguments_len);
		if (x->arguments) {
			memcpy(x->arguments, s->arguments, s->arguments_len);
			x->arguments_len = (uint32_t)s->arguments_len;
		}
	}
	if (tdm_durable_exchange_put(vh->broker->durable, x) < 0) {
		tdm_exchange_delete(vh, x->name, x->name_len, 0, NULL);
		return tdm_err_set(err, TDM_E_NOMEM, "could not persist exchange (disk error)");
	}
	*out = x;
	return TDM_OK;
}

/* Removes every binding that has d as destination, in every exchange of vh;
 * auto-delete exchanges left without bindings go too. */
void tdm_unbind_dest_all(struct tdm_vhost *vh, struct tdm_dest *d)
{
	struct tdm_exchange *victims[64];
	size_t nv = 0;
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&vh->exchanges, &pos, NULL, NULL, &v)) {
		struct tdm_exchange *x = v;
		size_t gone = ex_unbind_dest(x->table, d);
		if (x->type == EX_HEADERS)
			vh->headers_bindings -= gone;
		if (gone && x->auto_delete &&
		    ex_binding_count(x->table) == 0 && nv < 64)
			victims[nv++] = x;
	}
	for (size_t i = 0; i < nv; i++)
		tdm_exchange_delete(vh, victims[i]->name, victims[i]->name_len, 0, NULL);
}

static void drop_dest_count(void *dest, const char *key, size_t key_len,
			    const struct ex_hdr *args, size_t nargs, void *ctx)
{
	(void)key, (void)key_len, (void)args, (void)nargs, (void)ctx;
	struct tdm_dest *d = dest;
	if (d->kind == TDM_DEST_EXCHANGE)
		((struct tdm_exchange *)d)->dest_bindings--;
}

int tdm_exchange_delete(struct tdm_vhost *vh, const char *name, size_t len, int if_unused,
			struct tdm_err *err)
{
	return tdm_exchange_delete_by(vh, NULL, name, len, if_unused, err);
}

int tdm_exchange_delete_by(struct tdm_vhost *vh, const char *user, const char *name, size_t len,
			   int if_unused, struct tdm_err *err)
{
	if (len == 0)
		return tdm_err_set(err, TDM_E_ACCESS, "operation not permitted on the default exchange");
	if (has_amq_prefix(name, len))
		return tdm_err_set(err, TDM_E_ACCESS,
				   "exchange name '%.*s' contains reserved prefix 'amq.*'",
				   (int)len, name);
	if (tdm_access(vh, user, TDM_RES_EXCHANGE, TDM_PERM_CONFIGURE, name, len, err) != TDM_OK)
		return err->status;
	struct tdm_exchange *x = tdm_exchange_find(vh, name, len);
	if (!x)
		return TDM_OK; /* RabbitMQ 3.x: deleting a missing exchange succeeds */
	if (if_unused && ex_binding_count(x->table)) /* as RabbitMQ: only bindings as source */
		return tdm_err_set(err, TDM_E_IN_USE, "exchange '%s' in vhost '%s' in use",
				   x->name, vh->name);
	if (user && tdm_defs_clustered(vh->broker)) /* a client's, not a cascade's */
		return tdm_defs_propose_exchange_delete(vh, name, len, if_unused, err);
	tdm_durable_exchange_del(vh->broker->durable, x);
	tdm_map_del(&vh->exchanges, name, len);
	ex_foreach(x->table, drop_dest_count, NULL);
	if (x->type == EX_HEADERS)
		vh->headers_bindings -= ex_binding_count(x->table);
	if (x->dest_bindings)
		tdm_unbind_dest_all(vh, &x->dest);
	ex_table_free(x->table);
	free(x->arguments);
	free(x->name);
	free(x);
	return TDM_OK;
}

int tdm_bind(struct tdm_exchange *src, struct tdm_dest *dst, const char *key, size_t key_len,
	     const struct ex_hdr *args, size_t nargs, struct tdm_err *err)
{
	if (src->name_len == 0)
		return tdm_err_set(err, TDM_E_ACCESS, "operation not permitted on the default exchange");
	if (dst->kind == TDM_DEST_EXCHANGE && tdm_defs_clustered(src->vhost->broker))
		return tdm_defs_propose_binding(src, (struct tdm_exchange *)dst, key, key_len, args,
						nargs, 1, err); /* between two of the cluster's */
	if (dst->kind == TDM_DEST_QUEUE && ((struct tdm_queue *)dst)->shared &&
	    tdm_defs_clustered(src->vhost->broker))
		return tdm_defs_propose_queue_binding(src, (struct tdm_queue *)dst, key, key_len,
						      args, nargs, 1, err);
	int rc = ex_bind(src->table, dst, key, key_len, args, nargs);
	if (rc == EX_ERR_EXISTS)
		return TDM_OK;
	if (rc == EX_ERR_INVALID_ARG) {
		const char *v = "";
		size_t vlen = 0;
		for (size_t i = 0; i < nargs; i++)
			if (args[i].key_len == 7 && memcmp(args[i].key, "x-match", 7) == 0) {
				/* a longstr is its 4-byte length then the bytes */
				v = args[i].val_len > 4 ? (const char *)args[i].val + 4 : "";
				vlen = args[i].val_len > 4 ? args[i].val_len - 4 : 0;
				break;
			}
		return tdm_err_set(err, TDM_E_INVALID,
				   "Invalid x-match field value <<\"%.*s\">>; expected all, any, "
				   "all-with-x, or any-with-x",
				   (int)vlen, v);
	}
	if (rc != EX_OK)
		return tdm_err_set(err, TDM_E_NOMEM, "out of memory");
	if (dst->kind == TDM_DEST_EXCHANGE)
		((struct tdm_exchange *)dst)->dest_bindings++;
	if (src->type == EX_HEADERS)
		src->vhost->headers_bindings++;
	if (tdm_durable_binding(src->vhost->broker->durable, src, dst, key, key_len, args, nargs, 1) < 0)
		return tdm_err_set(err, TDM_E_NOMEM, "could not persist binding (disk error)");
	return TDM_OK;
}

int tdm_unbind(struct tdm_exchange *src, struct tdm_dest *dst, const char *key, size_t key_len,
	       const struct ex_hdr *args, size_t nargs, struct tdm_err *err)
{
	if (src->name_len == 0)
		return tdm_err_set(err, TDM_E_ACCESS, "operation not permitted on the default exchange");
	if (dst->kind == TDM_DEST_EXCHANGE && tdm_defs_clustered(src->vhost->broker))
		return tdm_defs_propose_binding(src, (struct tdm_exchange *)dst, key, key_len, args,
						nargs, 0, err);
	if (dst->kind == TDM_DEST_QUEUE && ((struct tdm_queue *)dst)->shared &&
	    tdm_defs_clustered(src->vhost->broker))
		return tdm_defs_propose_queue_binding(src, (struct tdm_queue *)dst, key, key_len,
						      args, nargs, 0, err);
	if (ex_unbind(src->table, dst, key, key_len, args, nargs) != EX_OK)
		return TDM_OK; /* RabbitMQ 3.x: unbinding a missing binding succeeds */
	tdm_durable_binding(src->vhost->broker->durable, src, dst, key, key_len, args, nargs, 0);
	if (dst->kind == TDM_DEST_EXCHANGE)
		((struct tdm_exchange *)dst)->dest_bindings--;
	if (src->type == EX_HEADERS)
		src->vhost->headers_bindings--;
	if (src->auto_delete && ex_binding_count(src->table) == 0)
		tdm_exchange_delete(src->vhost, src->name, src->name_len, 0, NULL);
	return TDM_OK;
}

/* ---- routing ---------------------------------------------------------- */

void tdm_route_init(struct tdm_route *r)
{
	r->queues = r->inline_q;
	r->n = 0;
	r->cap = sizeof(r->inline_q) / sizeof(r->inline_q[0]);
}

void tdm_route_free(struct tdm_route *r)
{
	if (r->queues != r->inline_q)
		free(r->queues);
	tdm_route_init(r);
}

static void route_add(struct tdm_route *r, struct tdm_queue *q)
{
	if (r->n == r->cap) {
		size_t ncap = r->cap * 2;
		struct tdm_queue **n = malloc(ncap * sizeof(*n));
		if (!n)
			return;
		memcpy(n, r->queues, r->n * sizeof(*n));
		if (r->queues != r->inline_q)
			free(r->queues);
		r->queues = n;
		r->cap = ncap;
	}
	r->queues[r->n++] = q;
}

void tdm_route_add_queue(struct tdm_route *r, struct tdm_queue *q)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->queues[i] == q)
			return;
	route_add(r, q);
}

struct route_walk {
	uint64_t epoch;
	struct tdm_route *out;
	struct tdm_exchange *pending[64]; /* exchanges still to route through */
	size_t npending;
};

static void route_emit(void *dest, void *ctx)
{
	struct route_walk *w = ctx;
	struct tdm_dest *d = dest;
	if (d->route_mark == w->epoch)
		return;
	d->route_mark = w->epoch;
	if (d->kind == TDM_DEST_QUEUE)
		route_add(w->out, (struct tdm_queue *)d);
	else if (w->npending < 64)
		w->pending[w->npending++] = (struct tdm_exchange *)d;
}

/* The default exchange's route: the queue named key, if any, once. */
static void route_named(struct tdm_vhost *vh, const char *key, size_t key_len, struct route_walk *w)
{
	struct tdm_queue *q = tdm_map_get(&vh->queues, key, key_len);
	if (q)
		route_emit(&q->dest, w);
}

void tdm_route_keys(struct tdm_exchange *x, const char *key, size_t key_len, const uint8_t *more,
		    size_t more_len, const struct ex_hdr *hdrs, size_t nhdrs, struct tdm_route *out)
{
	struct route_walk w = { .epoch = ++x->vhost->broker->route_epoch, .out = out };
	const char *k;
	size_t klen, pos = 0;
	x->stat_in++;
	if (x->name_len == 0) { /* the default exchange: a queue of that name */
		route_named(x->vhost, key, key_len, &w);
		while (tdm_rkeys_next(more, more_len, &pos, &k, &klen))
			route_named(x->vhost, k, klen, &w);
		return;
	}
	x->dest.route_mark = w.epoch;
	w.pending[w.npending++] = x;
	while (w.npending) {
		struct tdm_exchange *e = w.pending[--w.npending];
		ex_route(e->table, key, key_len, hdrs, nhdrs, route_emit, &w);
		/* every key at every exchange on the way (RabbitMQ keeps them
		 * with the message); fanout and headers ignore keys */
		enum ex_type t = ex_table_type(e->table);
		if (!more_len || t == EX_FANOUT || t == EX_HEADERS)
			continue;
		pos = 0;
		while (tdm_rkeys_next(more, more_len, &pos, &k, &klen))
			ex_route(e->table, k, klen, hdrs, nhdrs, route_emit, &w);
	}
}

void tdm_route(struct tdm_exchange *x, const char *key, size_t key_len,
	       const struct ex_hdr *hdrs, size_t nhdrs, struct tdm_route *out)
{
	tdm_route_keys(x, key, key_len, NULL, 0, hdrs, nhdrs, out);
}
