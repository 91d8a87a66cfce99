/*
 * A permission pattern (core/auth.h: a regular expression searched in a
 * resource name) as a list of top-level alternatives, for tools that
 * grant and revoke one name at a time: Kafka's ACL APIs
 * (src/kafka/acls.c).  Three forms of an alternative name something a
 * Kafka ACL binding can say:
 *   ".*"          every name          (Kafka: LITERAL "*")
 *   "^" N "$"     exactly the name N  (LITERAL N)
 *   "^" N         names starting N    (PREFIXED N)
 * where N is written with every character that is special in an extended
 * regular expression escaped by a backslash (tdm_perm_alt_make writes
 * that form; a reader takes ']' and '}' unescaped too, as ERE does).  Any
 * other alternative (".*\.log", "^a|b" is two) is of no such form: it
 * stays in the pattern untouched.  The pattern "" has no alternative (it
 * matches only the name "", which nothing has).
 *
 * Pure string work: no regcomp, no auth state.
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_PERM_ALTS_H
#define TANDEM_CORE_PERM_ALTS_H

#include <stddef.h>

enum tdm_alt_kind {
	TDM_ALT_OTHER = 0,   /* not one of the forms above */
	TDM_ALT_ANY = 1,     /* ".*" */
	TDM_ALT_LITERAL = 2, /* "^N$" */
	TDM_ALT_PREFIX = 3,  /* "^N" */
};

/* Called for each top-level alternative alt[0..len) of a pattern (a slice
 * of it); a nonzero return stops the walk. */
typedef int (*tdm_alt_fn)(const char *alt, size_t len, void *ctx);
/* Splits pattern at every '|' outside a bracket expression, parentheses
 * and an escape, calling fn for each piece in order ("" has none, "a|"
 * has "a" and "").  The number of pieces walked. */
size_t tdm_perm_alts(const char *pattern, tdm_alt_fn fn, void *ctx);

/* The kind of alternative alt[0..len); for LITERAL and PREFIX the name
 * (unescaped, NUL-terminated) in name, which has room for len + 1 bytes;
 * "" for ANY and OTHER. */
enum tdm_alt_kind tdm_perm_alt_parse(const char *alt, size_t len, char *name);

/* The alternative of kind (ANY, LITERAL or PREFIX) for name[0..len)
 * (ignored for ANY), malloc'd; NULL for OTHER, an empty name (but for
 * ANY), a NUL in it, or no memory. */
char *tdm_perm_alt_make(enum tdm_alt_kind kind, const char *name, size_t len);

/* pattern with alt appended as one more alternative ("" becomes alt, a
 * pattern that has alt as an alternative already stays as it is),
 * malloc'd; NULL when out of memory. */
char *tdm_perm_alt_add(const char *pattern, const char *alt);

/* pattern without its alternatives of the given kind and name, compared
 * by what they mean, not how they are spelled ("^a]$" and "^a\]$" are
 * both LITERAL "a]"); the rest joined by '|' in their order, "" when none
 * is left.
 * malloc'd, *removed the number taken out; NULL when out of memory. */
char *tdm_perm_alt_remove(const char *pattern, enum tdm_alt_kind kind, const char *name,
			  size_t *removed);

#endif
