/*
 * exchange/topic.c: topic exchange routing over a trie of pattern words,
 * like RabbitMQ's topic trie.  A node is a pattern prefix; literal edges live
 * in one hash table keyed by (parent, word), the "*" and "#" edges are
 * pointers on the parent.  Bindings hang off the node of their whole pattern.
 *
 * Routing runs the trie as an automaton: the set of nodes whose prefix
 * matches the key's words so far, advanced one key word at a time (a "#"
 * node stays in the set and also lets its children in without consuming a
 * word).  Each step costs a few lookups per live node, so a route costs
 * (key words x live nodes) whatever the number of bindings, every trie node
 * is visited at most once per word, and each binding is emitted at most once
 * even for patterns such as "a.#.#.b" that match one key in many ways.
 *
 * Must not depend on anything outside libc.
 */
#include <stdlib.h>
#include <string.h>

#include "exchange_internal.h"

/* Live node sets up to this size need no allocation. */
#define NSET_STACK 64

enum tkind { TK_ROOT, TK_LIT, TK_STAR, TK_HASH };

struct ex_tnode {
	struct ex_hnode edge;          /* in t->edges, when kind == TK_LIT */
	struct ex_tnode *parent;       /* NULL for the root */
	struct ex_tnode *star, *hash;  /* owned: wildcard children */
	size_t nchildren;              /* all kinds of children */
	struct ex_blist bindings;      /* bindings whose pattern ends here */
	enum tkind kind;
	size_t wlen;
	char word[]; /* edge label from the parent */
};

static uint64_t edge_hash(const struct ex_table *t, const struct ex_tnode *parent,
			  const char *w, size_t wl)
{
	struct tu_sip s;

	tu_sip_init(&s, t->seed);
	tu_sip_u64(&s, (uint64_t)(uintptr_t)parent);
	tu_sip_update(&s, w, wl);
	return tu_sip_final(&s);
}

static struct ex_tnode *lit_child(const struct ex_table *t,
				  const struct ex_tnode *n, const char *w,
				  size_t wl)
{
	uint64_t hv;

	if (n->nchildren == 0)
		return NULL;
	hv = edge_hash(t, n, w, wl);
	for (struct ex_hnode *e = ex_htab_chain(&t->edges, hv); e != NULL;
	     e = e->next) {
		struct ex_tnode *c = EX_CONTAINER(e, struct ex_tnode, edge);

		if (e->hash == hv && c->parent == n && c->wlen == wl &&
		    (wl == 0 || memcmp(c->word, w, wl) == 0))
			return c;
	}
	return NULL;
}

static enum tkind word_kind(const char *w, size_t wl)
{
	if (wl == 1 && w[0] == '*')
		return TK_STAR;
	if (wl == 1 && w[0] == '#')
		return TK_HASH;
	return TK_LIT;
}

/* The child of n along pattern word w, created when missing; NULL when out
 * of memory. */
static struct ex_tnode *child_get(struct ex_table *t, struct ex_tnode *n,
				  const char *w, size_t wl)
{
	enum tkind k = word_kind(w, wl);
	struct ex_tnode *c;

	if (k == TK_STAR && n->star != NULL)
		return n->star;
	if (k == TK_HASH && n->hash != NULL)
		return n->hash;
	if (k == TK_LIT && (c = lit_child(t, n, w, wl)) != NULL)
		return c;
	c = calloc(1, sizeof *c + wl);
	if (c == NULL)
		return NULL;
	c->parent = n;
	c->kind = k;
	c->wlen = wl;
	if (wl > 0)
		memcpy(c->word, w, wl);
	if (k == TK_STAR)
		n->star = c;
	else if (k == TK_HASH)
		n->hash = c;
	else
		ex_htab_insert(&t->edges, &c->edge, edge_hash(t, n, w, wl));
	n->nchildren++;
	return c;
}

/* Frees n and its ancestors for as long as they hold nothing. */
static void prune(struct ex_table *t, struct ex_tnode *n)
{
	while (n->kind != TK_ROOT && n->nchildren == 0 &&
	       n->bindings.count == 0) {
		struct ex_tnode *p = n->parent;

		if (n->kind == TK_STAR)
			p->star = NULL;
		else if (n->kind == TK_HASH)
			p->hash = NULL;
		else
			ex_htab_remove(&t->edges, &n->edge);
		p->nchildren--;
		free(n);
		n = p;
	}
}

static int topic_init(struct ex_table *t)
{
	t->root = calloc(1, sizeof *t->root);
	if (t->root == NULL)
		return EX_ERR_NOMEM;
	t->root->kind = TK_ROOT;
	if (ex_htab_init(&t->edges) != 0) {
		free(t->root);
		t->root = NULL;
		return EX_ERR_NOMEM;
	}
	return EX_OK;
}

static void topic_fini(struct ex_table *t)
{
	/* With the bindings gone, pruning has left only the root. */
	free(t->root);
	t->root = NULL;
	ex_htab_fini(&t->edges);
}

static int topic_attach(struct ex_table *t, struct ex_binding *b)
{
	struct ex_tnode *n = t->root;
	struct ex_words ws;
	const char *w;
	size_t wl;

	ex_words_init(&ws, b->key, b->key_len);
	while (ex_words_next(&ws, &w, &wl)) {
		struct ex_tnode *c = child_get(t, n, w, wl);

		if (c == NULL) {
			prune(t, n); /* undo the part of the path just made */
			return EX_ERR_NOMEM;
		}
		n = c;
	}
	b->owner = n;
	ex_blist_add(&n->bindings, b);
	return EX_OK;
}

static void topic_detach(struct ex_table *t, struct ex_binding *b)
{
	struct ex_tnode *n = b->owner;

	ex_blist_del(b);
	b->owner = NULL;
	prune(t, n);
}

/* A set of live trie nodes; starts in caller-provided stack storage. */
struct nset {
	const struct ex_tnode **v;
	size_t n, cap;
	int heap;
};

static int nset_push(struct nset *s, const struct ex_tnode *x)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap * 2;
		const struct ex_tnode **v;

		if (ncap > SIZE_MAX / sizeof *v)
			return -1;
		v = s->heap ? realloc(s->v, ncap * sizeof *v)
			    : malloc(ncap * sizeof *v);
		if (v == NULL)
			return -1;
		if (!s->heap)
			memcpy(v, s->v, s->n * sizeof *v);
		s->v = v;
		s->cap = ncap;
		s->heap = 1;
	}
	s->v[s->n++] = x;
	return 0;
}

/* Adds the "#" children of every member (transitively): "#" may match
 * zero words. */
static int nset_close(struct nset *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->hash != NULL && nset_push(s, s->v[i]->hash) != 0)
			return -1;
	return 0;
}

static int node_ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const struct ex_tnode *const *)a;
	uintptr_t y = (uintptr_t) * (const struct ex_tnode *const *)b;

	return x < y ? -1 : x > y;
}

static void nset_dedupe(struct nset *s)
{
	size_t j = 0;

	qsort(s->v, s->n, sizeof *s->v, node_ptr_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (j == 0 || s->v[j - 1] != s->v[i])
			s->v[j++] = s->v[i];
	s->n = j;
}

/*
 * The automaton.  Returns 0 after emitting, -1 when out of memory (and then
 * nothing has been emitted: emission waits until the key is used up).
 */
static int route_nfa(const struct ex_table *t, const char *key, size_t key_len,
		     ex_emit_fn emit, void *ctx)
{
	const struct ex_tnode *buf_a[NSET_STACK], *buf_b[NSET_STACK];
	struct nset a = {buf_a, 0, NSET_STACK, 0};
	struct nset b = {buf_b, 0, NSET_STACK, 0};
	struct nset *cur = &a, *next = &b, *tmp;
	struct ex_words ws;
	const char *w;
	size_t wl;
	int rc = -1;

	ex_words_init(&ws, key, key_len);
	if (nset_push(cur, t->root) != 0 || nset_close(cur) != 0)
		goto out;
	while (ex_words_next(&ws, &w, &wl)) {
		int had_hash = 0;
		size_t before;

		next->n = 0;
		for (size_t i = 0; i < cur->n; i++) {
			const struct ex_tnode *x = cur->v[i];
			const struct ex_tnode *c;

			if (x->kind == TK_HASH) { /* "#" swallows this word */
				had_hash = 1;
				if (nset_push(next, x) != 0)
					goto out;
			}
			c = lit_child(t, x, w, wl);
			if (c != NULL && nset_push(next, c) != 0)
				goto out;
			if (x->star != NULL && nset_push(next, x->star) != 0)
				goto out;
		}
		before = next->n;
		if (nset_close(next) != 0)
			goto out;
		/* Children of distinct nodes are distinct, so a node can only
		 * come twice as a "#" node both kept and reached anew. */
		if (had_hash && next->n > before)
			nset_dedupe(next);
		if (next->n == 0) {
			rc = 0;
			goto out;
		}
		tmp = cur;
		cur = next;
		next = tmp;
	}
	for (size_t i = 0; i < cur->n; i++)
		ex_blist_emit(&cur->v[i]->bindings, emit, ctx);
	rc = 0;
out:
	if (a.heap)
		free(a.v);
	if (b.heap)
		free(b.v);
	return rc;
}

/* RabbitMQ's trie_match: try the literal, "*" and "#" edges recursively. */
static void dfs(const struct ex_table *t, const struct ex_tnode *n,
		struct ex_words ws, ex_emit_fn emit, void *ctx)
{
	struct ex_words rest = ws;
	const char *w;
	size_t wl;
	const struct ex_tnode *c;

	if (!ex_words_next(&rest, &w, &wl)) {
		ex_blist_emit(&n->bindings, emit, ctx);
		if (n->hash != NULL)
			dfs(t, n->hash, ws, emit, ctx);
		return;
	}
	c = lit_child(t, n, w, wl);
	if (c != NULL)
		dfs(t, c, rest, emit, ctx);
	if (n->star != NULL)
		dfs(t, n->star, rest, emit, ctx);
	if (n->hash != NULL) {
		/* "#" swallows 0, 1, ... all of the remaining words. */
		struct ex_words k = ws;

		do
			dfs(t, n->hash, k, emit, ctx);
		while (ex_words_next(&k, &w, &wl));
	}
}

void ex_topic_route_dfs(const struct ex_table *t, const char *key,
			size_t key_len, ex_emit_fn emit, void *ctx)
{
	struct ex_words ws;

	ex_words_init(&ws, key, key_len);
	dfs(t, t->root, ws, emit, ctx);
}

static void topic_route(const struct ex_table *t, const char *key,
			size_t key_len, const struct ex_hdr *hdrs, size_t nhdrs,
			ex_emit_fn emit, void *ctx)
{
	(void)hdrs;
	(void)nhdrs;
	if (route_nfa(t, key, key_len, emit, ctx) != 0)
		ex_topic_route_dfs(t, key, key_len, emit, ctx);
}

const struct ex_type_ops ex_topic_ops = {
	.init = topic_init,
	.fini = topic_fini,
	.attach = topic_attach,
	.detach = topic_detach,
	.route = topic_route,
};
