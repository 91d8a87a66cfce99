/*
 * exchange: pure AMQP routing tables (direct, fanout, topic, headers).
 *
 * This library knows nothing of sockets, libevent, the wire format or src/:
 * it maps a routing key (and, for headers exchanges, a list of typed headers)
 * to the set of destinations bound to one exchange.  Destinations are opaque
 * pointers owned by the caller (queues or exchanges in the broker core).
 *
 * Must not depend on: anything outside libc.
 */
#ifndef TANDEM_EXCHANGE_H
#define TANDEM_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

enum ex_type { EX_DIRECT, EX_FANOUT, EX_TOPIC, EX_HEADERS };

#define EX_OK 0
#define EX_ERR_NOMEM (-1)
#define EX_ERR_EXISTS (-2)      /* identical binding already present */
#define EX_ERR_NOT_FOUND (-3)   /* unbind of a binding that is not there */
#define EX_ERR_INVALID_ARG (-4) /* e.g. bad x-match value on a headers binding */

/*
 * One typed header or binding argument, neutral form of an AMQP field-table
 * entry.  `type` is the AMQP field type octet ('S', 'I', 't', 'V', ...), `val`
 * the value's wire encoding after the type octet.  Two values are equal when
 * type and bytes are equal (RabbitMQ compares type and value); a binding
 * argument of type 'V' (void) matches on presence of the key alone.
 * Keys and values are borrowed for the duration of the call.
 */
struct ex_hdr {
	const char *key;
	size_t key_len;
	uint8_t type;
	const uint8_t *val;
	size_t val_len;
};

struct ex_table; /* opaque: the bindings of one exchange */

/* Called once per matching binding; the same dest may be reported more than
 * once when several bindings match (the caller de-duplicates). */
typedef void (*ex_emit_fn)(void *dest, void *ctx);
/* Called once per binding by ex_foreach. */
typedef void (*ex_binding_fn)(void *dest, const char *key, size_t key_len,
			      const struct ex_hdr *args, size_t nargs, void *ctx);

/* A new, empty routing table of the given type; NULL on allocation failure. */
struct ex_table *ex_table_new(enum ex_type type);
/* Frees the table and its bindings (not the destinations). NULL is fine. */
void ex_table_free(struct ex_table *t);
enum ex_type ex_table_type(const struct ex_table *t);

/*
 * Adds binding (dest, key, args).  The table copies key and args.  A binding
 * is identified by (dest, key, args) as in RabbitMQ; args order does not
 * matter.  For headers tables x-match must be absent or one of all, any,
 * all-with-x, any-with-x (else EX_ERR_INVALID_ARG).  Returns EX_OK,
 * EX_ERR_EXISTS (nothing changed), EX_ERR_INVALID_ARG or EX_ERR_NOMEM.
 */
int ex_bind(struct ex_table *t, void *dest, const char *key, size_t key_len,
	    const struct ex_hdr *args, size_t nargs);
/* Removes binding (dest, key, args); EX_OK or EX_ERR_NOT_FOUND. */
int ex_unbind(struct ex_table *t, void *dest, const char *key, size_t key_len,
	      const struct ex_hdr *args, size_t nargs);
/* Removes every binding to dest; returns how many were removed. */
size_t ex_unbind_dest(struct ex_table *t, void *dest);
/* True when a binding (dest, key, args) exists. */
int ex_has_binding(const struct ex_table *t, void *dest, const char *key,
		   size_t key_len, const struct ex_hdr *args, size_t nargs);
/* Number of bindings in the table. */
size_t ex_binding_count(const struct ex_table *t);
/* Calls fn for every binding, in no particular order; fn must not modify t. */
void ex_foreach(const struct ex_table *t, ex_binding_fn fn, void *ctx);

/*
 * Routes one message: calls emit for each binding matching routing key
 * `key` (direct: equal; fanout: all; topic: AMQP topic pattern; headers:
 * headers `hdrs` against the binding args).  Cost is proportional to the
 * matches and the key's words, never to the number of bindings (fanout and
 * headers excepted, which by nature look at every binding).
 */
void ex_route(const struct ex_table *t, const char *key, size_t key_len,
	      const struct ex_hdr *hdrs, size_t nhdrs, ex_emit_fn emit, void *ctx);

/* Topic pattern test on its own (exported for tests and tools). */
int ex_topic_match(const char *pattern, size_t plen, const char *key, size_t klen);

#endif
