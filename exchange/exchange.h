/*
 * exchange: pure AMQP routing tables (direct, fanout, topic, headers).
 *
 * This library knows nothing of sockets, libevent, the wire format or src/:
 * it maps a routing key (and, for headers exchanges, a list of typed headers)
 * to the set of destinations bound to one exchange.  Destinations are opaque
 * pointers owned by the caller (queues or exchanges in the broker core).
 *
 * Threading: a table is not thread-safe; the broker's loop thread owns it.
 * ex_route, ex_has_binding and ex_foreach do not modify the table, so a
 * callback may route through the same table again, but no callback may
 * bind or unbind.  Nothing here keeps state outside the table.
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
 * the value's wire encoding after the type octet, big-endian as on the wire:
 * for 'S' (longstr) and 'x' (bytes) the 4-byte length then the bytes, for
 * 'I' 4 bytes, for 'V' nothing (val_len 0, val may be NULL).
 *
 * Headers matching compares values as RabbitMQ does, which compares the
 * decoded Erlang terms, not the AMQP types: integers of any width and sign
 * ('b' 'B' 's' 'u' 'I' 'i' 'l' 'L' 'T') and floats ('f' 'd') are equal when
 * numerically equal ('I' 5 == 'l' 5 == 'd' 5.0), 'S' equals 'x' with the same
 * bytes, 't' compares truth values; any other pair is equal when type and
 * bytes are equal.  A binding argument of type 'V' (void) matches on
 * presence of the key alone.  Keys and values are borrowed for the duration
 * of the call.
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
/* Called once per binding by ex_foreach.  key and args are the table's
 * copies, valid during the call only; key is also NUL-terminated (it may
 * contain NULs of its own), args are sorted by key. */
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
 * matter (they compare as a multiset of (key, type, bytes)), and args are
 * part of the identity for every type, even where routing ignores them.
 * For headers tables the first "x-match" argument, if any, must be an 'S'
 * longstr whose length prefix agrees with val_len and whose text is exactly
 * all, any, all-with-x or any-with-x (else EX_ERR_INVALID_ARG); other types
 * do not look at x-match.  Returns EX_OK, EX_ERR_EXISTS (nothing changed),
 * EX_ERR_INVALID_ARG or EX_ERR_NOMEM (nothing changed).
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
 * `key` (direct: equal bytes; fanout: all; topic: AMQP topic pattern, see
 * ex_topic_match; headers: headers `hdrs` against the binding args, key
 * ignored).  Cost is proportional to the matches and the key's words, never
 * to the number of bindings (fanout and headers excepted, which by nature
 * look at every binding).  Each binding is emitted at most once per call
 * (with a rare exception: a topic route that cannot allocate its state falls
 * back to a walk that may repeat a binding), so a dest bound several ways is
 * reported once per matching binding.  Headers semantics are RabbitMQ
 * 3.10's: x-match all (the default) needs every argument to match, and
 * matches every message when there is none; any needs one, so matches
 * nothing when there is none; arguments whose key starts with "x-" are
 * ignored unless x-match is all-with-x or any-with-x; x-match itself never
 * takes part.  When a message repeats a header key, each binding argument
 * meets the next occurrence in message order, as in RabbitMQ.  Never fails;
 * emit must not bind or unbind on t.
 */
void ex_route(const struct ex_table *t, const char *key, size_t key_len,
	      const struct ex_hdr *hdrs, size_t nhdrs, ex_emit_fn emit, void *ctx);

/*
 * Topic pattern test on its own (exported for tests and tools), with
 * RabbitMQ's semantics: words are separated by '.', "*" matches exactly one
 * word and "#" zero or more; empty words are words ("a..b" has three, "a."
 * two), except that the empty string has no words at all.  So "" is matched
 * by "" and "#" but not by "*", and "." (two empty words) by "*.*".  "*" and
 * "#" are wildcards only as whole pattern words.  Returns 1 or 0; allocates
 * nothing.
 */
int ex_topic_match(const char *pattern, size_t plen, const char *key, size_t klen);

#endif
