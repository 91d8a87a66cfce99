/*
 * exchange/exchange_internal.h: layout of a routing table and of a binding,
 * and the per-type operations that exchange.c dispatches to (direct.c,
 * fanout.c, topic.c, headers.c).
 *
 * Every binding of a table sits in three places:
 *  - t->ids, keyed by its identity (dest, key, args as a multiset), which
 *    makes bind/unbind/has_binding O(1) for every exchange type;
 *  - the list of its destination (an ex_dnode in t->dests), which makes
 *    ex_unbind_dest proportional to that destination's bindings only;
 *  - the type's own routing structure (a key group, the trie, or the flat
 *    list of fanout and headers tables), linked through next/prev.
 *
 * Internal to exchange/.  Must not depend on anything outside libc.
 */
#ifndef TANDEM_EXCHANGE_INTERNAL_H
#define TANDEM_EXCHANGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "htab.h"

struct ex_binding;

/* A list of bindings that route together (one key, one trie node, ...). */
struct ex_blist {
	struct ex_binding *head; /* ref */
	size_t count;
};

/* Headers exchange x-match modes, parsed once at bind time. */
enum ex_xmatch { EX_XMATCH_ALL, EX_XMATCH_ANY, EX_XMATCH_ALL_X, EX_XMATCH_ANY_X };

/* Every binding to one destination. */
struct ex_dnode {
	struct ex_hnode hnode;   /* in t->dests, hashed by dest */
	void *dest;              /* ref: owned by the caller */
	struct ex_binding *head; /* ref: the bindings own themselves */
};

/* One binding; a single allocation with its key and args copies. */
struct ex_binding {
	struct ex_hnode id_node;          /* in t->ids */
	struct ex_binding *next, *prev;   /* ref: neighbours in *list */
	struct ex_blist *list;            /* ref: the routing list it is in */
	void *owner;                      /* ref: key group or trie node */
	struct ex_binding *dnext, *dprev; /* ref: neighbours in dnode's list */
	struct ex_dnode *dnode;           /* ref: its destination's node */
	void *dest;                       /* ref: owned by the caller */
	const char *key;     /* owned, in this allocation, NUL-terminated */
	size_t key_len;
	struct ex_hdr *args; /* owned, in this allocation, sorted (ex_hdr_cmp) */
	size_t nargs;
	enum ex_xmatch xmatch; /* headers tables only */
};

struct ex_table;

/* What differs between exchange types.  attach may fail (EX_ERR_NOMEM, with
 * nothing changed); detach and route never fail. */
struct ex_type_ops {
	int (*init)(struct ex_table *t);
	void (*fini)(struct ex_table *t);
	int (*attach)(struct ex_table *t, struct ex_binding *b);
	void (*detach)(struct ex_table *t, struct ex_binding *b);
	void (*route)(const struct ex_table *t, const char *key, size_t key_len,
		      const struct ex_hdr *hdrs, size_t nhdrs, ex_emit_fn emit,
		      void *ctx);
};

struct ex_tnode;

struct ex_table {
	enum ex_type type;
	const struct ex_type_ops *ops; /* static */
	uint64_t seed[2];              /* SipHash key, random per table */
	struct ex_htab ids;   /* owns the bindings: every one, by identity */
	struct ex_htab dests; /* owns the ex_dnodes, by dest */
	size_t count;
	/* direct */
	struct ex_htab keys; /* owns the key groups, by routing key */
	/* fanout, headers */
	struct ex_blist all;
	/* topic */
	struct ex_tnode *root; /* owned: the trie */
	struct ex_htab edges;  /* literal trie edges, by (parent, word) */
};

extern const struct ex_type_ops ex_direct_ops;
extern const struct ex_type_ops ex_fanout_ops;
extern const struct ex_type_ops ex_topic_ops;
extern const struct ex_type_ops ex_headers_ops;

/* Shared list plumbing (exchange.c). */
void ex_blist_add(struct ex_blist *l, struct ex_binding *b);
void ex_blist_del(struct ex_binding *b);
/* Emits every binding of l. */
void ex_blist_emit(const struct ex_blist *l, ex_emit_fn emit, void *ctx);

/* Total order on header entries: key bytes, then type, then value bytes. */
int ex_hdr_cmp(const struct ex_hdr *a, const struct ex_hdr *b);

/*
 * Headers (headers.c).  ex_headers_xmatch reads x-match from binding args:
 * EX_OK with *mode set (all when absent) or EX_ERR_INVALID_ARG.
 * ex_hdr_value_equal is RabbitMQ's value comparison (see exchange.h).
 */
int ex_headers_xmatch(const struct ex_hdr *args, size_t nargs,
		      enum ex_xmatch *mode);
int ex_hdr_value_equal(const struct ex_hdr *a, const struct ex_hdr *b);

/*
 * Topic routing without allocation (topic.c): a depth-first walk of the
 * trie like RabbitMQ's.  ex_route uses it only when it cannot allocate its
 * state sets; exported here so that tests can check it too.  May emit a
 * binding more than once.
 */
void ex_topic_route_dfs(const struct ex_table *t, const char *key,
			size_t key_len, ex_emit_fn emit, void *ctx);

/*
 * Word cursor over a topic key or pattern.  Words are separated by '.',
 * empty words are real words ("a." is "a" and ""), but the empty string has
 * no words at all, exactly like RabbitMQ's split_topic_key.  pos > len means
 * exhausted.
 */
struct ex_words {
	const char *s;
	size_t len;
	size_t pos;
};

static inline void ex_words_init(struct ex_words *w, const char *s, size_t len)
{
	w->s = s;
	w->len = len;
	w->pos = len == 0 ? 1 : 0;
}

/* Next word into (*word, *wlen); 0 when there is none. */
int ex_words_next(struct ex_words *w, const char **word, size_t *wlen);

#endif
