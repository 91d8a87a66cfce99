/*
 * exchange/direct.c: direct exchange routing.  Bindings are grouped by
 * routing key in a hash table, so a route is one lookup plus the matches,
 * whatever the number of bindings.
 *
 * Must not depend on anything outside libc.
 */
#include <stdlib.h>
#include <string.h>

#include "exchange_internal.h"

/* Every binding with one routing key. */
struct ex_dkey {
	struct ex_hnode hnode; /* in t->keys */
	struct ex_blist bindings;
	size_t key_len;
	char key[];
};

static uint64_t key_hash(const struct ex_table *t, const char *key,
			 size_t key_len)
{
	return tu_siphash(t->seed, key, key_len);
}

static struct ex_dkey *find_key(const struct ex_table *t, const char *key,
				size_t key_len)
{
	uint64_t hv = key_hash(t, key, key_len);

	for (struct ex_hnode *n = ex_htab_chain(&t->keys, hv); n != NULL;
	     n = n->next) {
		struct ex_dkey *k = EX_CONTAINER(n, struct ex_dkey, hnode);

		if (n->hash == hv && k->key_len == key_len &&
		    (key_len == 0 || memcmp(k->key, key, key_len) == 0))
			return k;
	}
	return NULL;
}

static int direct_init(struct ex_table *t)
{
	return ex_htab_init(&t->keys);
}

static void direct_fini(struct ex_table *t)
{
	/* Bindings are gone by now, and each group went with its last one. */
	ex_htab_fini(&t->keys);
}

static int direct_attach(struct ex_table *t, struct ex_binding *b)
{
	struct ex_dkey *k = find_key(t, b->key, b->key_len);

	if (k == NULL) {
		k = calloc(1, sizeof *k + b->key_len);
		if (k == NULL)
			return EX_ERR_NOMEM;
		k->key_len = b->key_len;
		if (b->key_len > 0)
			memcpy(k->key, b->key, b->key_len);
		ex_htab_insert(&t->keys, &k->hnode,
			       key_hash(t, b->key, b->key_len));
	}
	b->owner = k;
	ex_blist_add(&k->bindings, b);
	return EX_OK;
}

static void direct_detach(struct ex_table *t, struct ex_binding *b)
{
	struct ex_dkey *k = b->owner;

	ex_blist_del(b);
	b->owner = NULL;
	if (k->bindings.count == 0) {
		ex_htab_remove(&t->keys, &k->hnode);
		free(k);
	}
}

static void direct_route(const struct ex_table *t, const char *key,
			 size_t key_len, const struct ex_hdr *hdrs,
			 size_t nhdrs, ex_emit_fn emit, void *ctx)
{
	const struct ex_dkey *k = find_key(t, key, key_len);

	(void)hdrs;
	(void)nhdrs;
	if (k != NULL)
		ex_blist_emit(&k->bindings, emit, ctx);
}

const struct ex_type_ops ex_direct_ops = {
	.init = direct_init,
	.fini = direct_fini,
	.attach = direct_attach,
	.detach = direct_detach,
	.route = direct_route,
};
