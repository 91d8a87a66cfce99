/*
 * exchange/fanout.c: fanout exchange routing: every binding matches,
 * whatever the key; bindings sit in one flat list.
 *
 * Must not depend on anything outside libc.
 */
#include "exchange_internal.h"

static int fanout_init(struct ex_table *t)
{
	(void)t;
	return EX_OK;
}

static void fanout_fini(struct ex_table *t)
{
	(void)t;
}

static int fanout_attach(struct ex_table *t, struct ex_binding *b)
{
	ex_blist_add(&t->all, b);
	return EX_OK;
}

static void fanout_detach(struct ex_table *t, struct ex_binding *b)
{
	(void)t;
	ex_blist_del(b);
}

static void fanout_route(const struct ex_table *t, const char *key,
			 size_t key_len, const struct ex_hdr *hdrs,
			 size_t nhdrs, ex_emit_fn emit, void *ctx)
{
	(void)key;
	(void)key_len;
	(void)hdrs;
	(void)nhdrs;
	ex_blist_emit(&t->all, emit, ctx);
}

const struct ex_type_ops ex_fanout_ops = {
	.init = fanout_init,
	.fini = fanout_fini,
	.attach = fanout_attach,
	.detach = fanout_detach,
	.route = fanout_route,
};
