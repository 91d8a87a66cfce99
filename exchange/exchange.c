/*
 * exchange/exchange.c: the public face of exchange/: tables, binding
 * identity, per-destination lists, and dispatch to the type's routing
 * (direct.c, fanout.c, topic.c, headers.c).
 *
 * Must not depend on anything outside libc.
 */
#include "exchange.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "exchange_internal.h"

/* Up to this many args identity comparison is a plain quadratic scan; above
 * it both sides are sorted (a client could otherwise stall the loop with a
 * binding carrying thousands of args). */
#define EX_ARGS_SCAN_MAX 16

static const struct ex_type_ops *const ex_ops[] = {
	[EX_DIRECT] = &ex_direct_ops,
	[EX_FANOUT] = &ex_fanout_ops,
	[EX_TOPIC] = &ex_topic_ops,
	[EX_HEADERS] = &ex_headers_ops,
};

void ex_blist_add(struct ex_blist *l, struct ex_binding *b)
{
	b->list = l;
	b->prev = NULL;
	b->next = l->head;
	if (l->head != NULL)
		l->head->prev = b;
	l->head = b;
	l->count++;
}

void ex_blist_del(struct ex_binding *b)
{
	struct ex_blist *l = b->list;

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		l->head = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	l->count--;
	b->list = NULL;
	b->next = b->prev = NULL;
}

void ex_blist_emit(const struct ex_blist *l, ex_emit_fn emit, void *ctx)
{
	for (const struct ex_binding *b = l->head; b != NULL; b = b->next)
		emit(b->dest, ctx);
}

static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int ex_hdr_cmp(const struct ex_hdr *a, const struct ex_hdr *b)
{
	int c = bytes_cmp(a->key, a->key_len, b->key, b->key_len);

	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return bytes_cmp(a->val, a->val_len, b->val, b->val_len);
}

static int hdr_qsort_cmp(const void *a, const void *b)
{
	return ex_hdr_cmp(a, b);
}

static int hdr_ptr_cmp(const void *a, const void *b)
{
	return ex_hdr_cmp(*(const struct ex_hdr *const *)a,
			  *(const struct ex_hdr *const *)b);
}

/* Order-independent hash of a binding's identity. */
static uint64_t identity_hash(const struct ex_table *t, const void *dest,
			      const char *key, size_t key_len,
			      const struct ex_hdr *args, size_t nargs)
{
	struct tu_sip s;
	uint64_t args_sum = 0;

	for (size_t i = 0; i < nargs; i++) {
		struct tu_sip a;

		tu_sip_init(&a, t->seed);
		tu_sip_u64(&a, args[i].key_len);
		tu_sip_update(&a, args[i].key, args[i].key_len);
		tu_sip_u64(&a, args[i].type);
		tu_sip_update(&a, args[i].val, args[i].val_len);
		args_sum += tu_sip_final(&a); /* a sum ignores order */
	}
	tu_sip_init(&s, t->seed);
	tu_sip_u64(&s, (uint64_t)(uintptr_t)dest);
	tu_sip_u64(&s, nargs);
	tu_sip_u64(&s, args_sum);
	tu_sip_update(&s, key, key_len);
	return tu_sip_final(&s);
}

/* Occurrences of a in the sorted array s (binary search, then the run). */
static size_t sorted_count(const struct ex_hdr *s, size_t n,
			   const struct ex_hdr *a)
{
	size_t lo = 0, hi = n, c = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ex_hdr_cmp(&s[mid], a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < n && ex_hdr_cmp(&s[lo], a) == 0) {
		lo++;
		c++;
	}
	return c;
}

/* Quadratic multiset equality of unsorted `args` against sorted `sorted`
 * of the same length. */
static int args_equal_scan(const struct ex_hdr *sorted,
			   const struct ex_hdr *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t c = 0;

		for (size_t j = 0; j < n; j++)
			c += ex_hdr_cmp(&args[i], &args[j]) == 0;
		if (sorted_count(sorted, n, &args[i]) != c)
			return 0;
	}
	return 1;
}

/* Multiset equality of unsorted `args` against a binding's sorted args. */
static int args_equal(const struct ex_hdr *sorted, const struct ex_hdr *args,
		      size_t n)
{
	const struct ex_hdr **p;
	int eq = 1;

	if (n <= EX_ARGS_SCAN_MAX)
		return args_equal_scan(sorted, args, n);
	p = malloc(n * sizeof *p);
	if (p == NULL) /* still correct, only slower */
		return args_equal_scan(sorted, args, n);
	for (size_t i = 0; i < n; i++)
		p[i] = &args[i];
	qsort(p, n, sizeof *p, hdr_ptr_cmp);
	for (size_t i = 0; i < n && eq; i++)
		eq = ex_hdr_cmp(p[i], &sorted[i]) == 0;
	free(p);
	return eq;
}

static struct ex_binding *find_binding(const struct ex_table *t, void *dest,
				       const char *key, size_t key_len,
				       const struct ex_hdr *args, size_t nargs)
{
	uint64_t hv = identity_hash(t, dest, key, key_len, args, nargs);

	for (struct ex_hnode *n = ex_htab_chain(&t->ids, hv); n != NULL;
	     n = n->next) {
		struct ex_binding *b = EX_CONTAINER(n, struct ex_binding, id_node);

		if (n->hash == hv && b->dest == dest && b->key_len == key_len &&
		    (key_len == 0 || memcmp(b->key, key, key_len) == 0) &&
		    b->nargs == nargs && args_equal(b->args, args, nargs))
			return b;
	}
	return NULL;
}

static uint64_t dest_hash(const struct ex_table *t, const void *dest)
{
	struct tu_sip s;

	tu_sip_init(&s, t->seed);
	tu_sip_u64(&s, (uint64_t)(uintptr_t)dest);
	return tu_sip_final(&s);
}

static struct ex_dnode *find_dnode(const struct ex_table *t, const void *dest)
{
	uint64_t hv = dest_hash(t, dest);

	for (struct ex_hnode *n = ex_htab_chain(&t->dests, hv); n != NULL;
	     n = n->next) {
		struct ex_dnode *d = EX_CONTAINER(n, struct ex_dnode, hnode);

		if (n->hash == hv && d->dest == dest)
			return d;
	}
	return NULL;
}

/* Adds up a + b into *sum; 0 on overflow. */
static int size_add(size_t *sum, size_t a, size_t b)
{
	if (a > SIZE_MAX - b)
		return 0;
	*sum = a + b;
	return 1;
}

/*
 * One allocation holds the binding, its sorted args array and every byte it
 * copies (key, arg keys, arg values), so freeing a binding is one free().
 */
static struct ex_binding *binding_new(void *dest, const char *key,
				      size_t key_len, const struct ex_hdr *args,
				      size_t nargs)
{
	struct ex_binding *b;
	size_t size = sizeof *b, bytes = 0;
	char *p;

	if (nargs > (SIZE_MAX - size) / sizeof(struct ex_hdr))
		return NULL;
	size += nargs * sizeof(struct ex_hdr);
	if (!size_add(&bytes, key_len, 1))
		return NULL;
	for (size_t i = 0; i < nargs; i++)
		if (!size_add(&bytes, bytes, args[i].key_len) ||
		    !size_add(&bytes, bytes, 1) ||
		    !size_add(&bytes, bytes, args[i].val_len))
			return NULL;
	if (!size_add(&size, size, bytes))
		return NULL;
	b = calloc(1, size);
	if (b == NULL)
		return NULL;
	b->dest = dest;
	b->nargs = nargs;
	b->args = nargs > 0 ? (struct ex_hdr *)(void *)(b + 1) : NULL;
	p = (char *)(b + 1) + nargs * sizeof(struct ex_hdr);
	if (key_len > 0)
		memcpy(p, key, key_len);
	p[key_len] = '\0';
	b->key = p;
	b->key_len = key_len;
	p += key_len + 1;
	for (size_t i = 0; i < nargs; i++) {
		struct ex_hdr *h = &b->args[i];

		*h = args[i];
		if (h->key_len > 0)
			memcpy(p, args[i].key, h->key_len);
		p[h->key_len] = '\0';
		h->key = p;
		p += h->key_len + 1;
		if (h->val_len > 0)
			memcpy(p, args[i].val, h->val_len);
		h->val = (const uint8_t *)p;
		p += h->val_len;
	}
	if (nargs > 1)
		qsort(b->args, nargs, sizeof *b->args, hdr_qsort_cmp);
	return b;
}

static void dnode_link(struct ex_dnode *d, struct ex_binding *b)
{
	b->dnode = d;
	b->dprev = NULL;
	b->dnext = d->head;
	if (d->head != NULL)
		d->head->dprev = b;
	d->head = b;
}

/* Unlinks b from its destination, dropping the dnode when it empties. */
static void dnode_unlink(struct ex_table *t, struct ex_binding *b)
{
	struct ex_dnode *d = b->dnode;

	if (b->dprev != NULL)
		b->dprev->dnext = b->dnext;
	else
		d->head = b->dnext;
	if (b->dnext != NULL)
		b->dnext->dprev = b->dprev;
	b->dnode = NULL;
	if (d->head == NULL) {
		ex_htab_remove(&t->dests, &d->hnode);
		free(d);
	}
}

/* Takes b out of every structure of t and frees it. */
static void binding_remove(struct ex_table *t, struct ex_binding *b)
{
	t->ops->detach(t, b);
	ex_htab_remove(&t->ids, &b->id_node);
	dnode_unlink(t, b);
	t->count--;
	free(b);
}

static void seed_table(struct ex_table *t)
{
	/* A predictable seed only costs flooding resistance, not correctness,
	 * so a failing getrandom falls back to address and time. */
	if (getrandom(t->seed, sizeof t->seed, GRND_NONBLOCK) ==
	    (ssize_t)sizeof t->seed)
		return;
	t->seed[0] = (uint64_t)(uintptr_t)t ^ UINT64_C(0x9e3779b97f4a7c15);
	t->seed[1] = (uint64_t)time(NULL) ^ (uint64_t)clock();
}

struct ex_table *ex_table_new(enum ex_type type)
{
	struct ex_table *t = NULL, *ret = NULL;

	if ((unsigned)type >= sizeof ex_ops / sizeof ex_ops[0])
		goto out;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		goto out;
	t->type = type;
	t->ops = ex_ops[type];
	seed_table(t);
	/* A failing init cleans up after itself. */
	if (ex_htab_init(&t->ids) != 0 || ex_htab_init(&t->dests) != 0 ||
	    t->ops->init(t) != 0)
		goto out;
	ret = t;
	t = NULL;
out:
	if (t != NULL) {
		ex_htab_fini(&t->ids); /* fine on never-initialised tables */
		ex_htab_fini(&t->dests);
		free(t);
	}
	return ret;
}

void ex_table_free(struct ex_table *t)
{
	if (t == NULL)
		return;
	/* Bucket by bucket: the id table never shrinks, so indexes stay put. */
	for (size_t i = 0; i <= t->ids.mask; i++)
		while (t->ids.buckets[i] != NULL)
			binding_remove(t, EX_CONTAINER(t->ids.buckets[i],
						       struct ex_binding,
						       id_node));
	t->ops->fini(t);
	ex_htab_fini(&t->ids);
	ex_htab_fini(&t->dests);
	free(t);
}

enum ex_type ex_table_type(const struct ex_table *t)
{
	return t->type;
}

int ex_bind(struct ex_table *t, void *dest, const char *key, size_t key_len,
	    const struct ex_hdr *args, size_t nargs)
{
	enum ex_xmatch xmatch = EX_XMATCH_ALL;
	struct ex_binding *b = NULL;
	struct ex_dnode *d = NULL;
	int new_dnode = 0;
	int rc;

	if (t->type == EX_HEADERS) {
		rc = ex_headers_xmatch(args, nargs, &xmatch);
		if (rc != EX_OK)
			goto out;
	}
	if (find_binding(t, dest, key, key_len, args, nargs) != NULL) {
		rc = EX_ERR_EXISTS;
		goto out;
	}
	rc = EX_ERR_NOMEM;
	b = binding_new(dest, key, key_len, args, nargs);
	if (b == NULL)
		goto out;
	b->xmatch = xmatch;
	d = find_dnode(t, dest);
	if (d == NULL) {
		d = calloc(1, sizeof *d);
		if (d == NULL)
			goto out;
		d->dest = dest;
		new_dnode = 1;
	}
	rc = t->ops->attach(t, b);
	if (rc != EX_OK)
		goto out;
	/* Nothing below can fail. */
	if (new_dnode)
		ex_htab_insert(&t->dests, &d->hnode, dest_hash(t, dest));
	dnode_link(d, b);
	ex_htab_insert(&t->ids, &b->id_node,
		       identity_hash(t, dest, b->key, b->key_len, b->args,
				     b->nargs));
	t->count++;
	b = NULL;
	d = NULL;
	rc = EX_OK;
out:
	free(b);
	if (new_dnode)
		free(d);
	return rc;
}

int ex_unbind(struct ex_table *t, void *dest, const char *key, size_t key_len,
	      const struct ex_hdr *args, size_t nargs)
{
	struct ex_binding *b = find_binding(t, dest, key, key_len, args, nargs);

	if (b == NULL)
		return EX_ERR_NOT_FOUND;
	binding_remove(t, b);
	return EX_OK;
}

size_t ex_unbind_dest(struct ex_table *t, void *dest)
{
	struct ex_dnode *d = find_dnode(t, dest);
	size_t n = 0;

	/* The dnode is freed together with its last binding. */
	while (d != NULL) {
		int last = d->head->dnext == NULL;

		binding_remove(t, d->head);
		n++;
		if (last)
			break;
	}
	return n;
}

int ex_has_binding(const struct ex_table *t, void *dest, const char *key,
		   size_t key_len, const struct ex_hdr *args, size_t nargs)
{
	return find_binding(t, dest, key, key_len, args, nargs) != NULL;
}

size_t ex_binding_count(const struct ex_table *t)
{
	return t->count;
}

void ex_foreach(const struct ex_table *t, ex_binding_fn fn, void *ctx)
{
	for (size_t i = 0; i <= t->ids.mask; i++)
		for (struct ex_hnode *n = t->ids.buckets[i]; n != NULL;
		     n = n->next) {
			const struct ex_binding *b =
				EX_CONTAINER(n, struct ex_binding, id_node);

			fn(b->dest, b->key, b->key_len, b->args, b->nargs, ctx);
		}
}

void ex_route(const struct ex_table *t, const char *key, size_t key_len,
	      const struct ex_hdr *hdrs, size_t nhdrs, ex_emit_fn emit, void *ctx)
{
	if (t->count == 0)
		return;
	t->ops->route(t, key, key_len, hdrs, nhdrs, emit, ctx);
}
