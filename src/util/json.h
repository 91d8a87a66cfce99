/*
 * JSON for the management API, tandemctl and the ZooKeeper znodes: a small writer into a growable buffer and
 * a bounds-checked reader that parses a complete document into a flat
 * array of nodes (each value knows where its subtree ends, so siblings are
 * found without recursion).  The reader never reads outside the input,
 * limits nesting depth and node count, and rejects anything RFC 8259 does
 * not allow (trailing commas, bare control characters, bad escapes,
 * leading zeros, trailing garbage), strings that are not UTF-8 (invalid
 * byte sequences, \u escapes of lone surrogates) and \u0000 in member
 * names.
 *
 * Must not depend on: libevent, the broker core, protocol front ends.
 */
#ifndef TANDEM_UTIL_JSON_H
#define TANDEM_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

/* ---- writer ---------------------------------------------------------- */
#define JS_MAX_DEPTH 64

struct js_w {
	char *buf;          /* owned */
	size_t len, cap;
	int oom;            /* an allocation failed: the output is incomplete */
	int depth;
	uint8_t first[JS_MAX_DEPTH]; /* no element written yet at this level */
	uint8_t after_key;  /* a key was just written: no comma before the value */
};

void js_w_init(struct js_w *w);
void js_w_free(struct js_w *w);
void js_obj(struct js_w *w);
void js_obj_end(struct js_w *w);
void js_arr(struct js_w *w);
void js_arr_end(struct js_w *w);
void js_key(struct js_w *w, const char *k);
/* A key of n bytes (escaped as js_strn). */
void js_keyn(struct js_w *w, const char *k, size_t n);
/* A string value of n bytes (any bytes: control characters are escaped,
 * bytes >= 0x80 are copied, invalid UTF-8 becomes U+FFFD). */
void js_strn(struct js_w *w, const char *s, size_t n);
void js_str(struct js_w *w, const char *s);
void js_int(struct js_w *w, int64_t v);
void js_uint(struct js_w *w, uint64_t v);
void js_double(struct js_w *w, double v);
void js_bool(struct js_w *w, int v);
void js_null(struct js_w *w);
/* key + value shorthands */
void js_kstr(struct js_w *w, const char *k, const char *v);
void js_kstrn(struct js_w *w, const char *k, const char *v, size_t n);
void js_kint(struct js_w *w, const char *k, int64_t v);
void js_kuint(struct js_w *w, const char *k, uint64_t v);
void js_kbool(struct js_w *w, const char *k, int v);
/* Starts a value the caller writes with js_raw (writes the comma when one
 * is due), so the next value or key is separated from it. */
void js_value_begin(struct js_w *w);
/* Appends raw bytes (no separators): for text formats built alongside. */
void js_raw(struct js_w *w, const char *s, size_t n);

/* ---- reader ---------------------------------------------------------- */
enum js_type { JS_NULL, JS_FALSE, JS_TRUE, JS_NUM, JS_STR, JS_ARR, JS_OBJ };

struct js_node {
	uint8_t type;
	uint32_t off, len;  /* source span; strings: between the quotes */
	uint32_t end;       /* index one past this node's subtree */
	uint32_t count;     /* arrays: elements; objects: members */
	uint8_t escaped;    /* strings: contains a backslash escape */
};

struct js_doc {
	const char *src;    /* borrowed: the parsed text */
	size_t srclen;
	struct js_node *n;  /* owned; n[0] is the root */
	uint32_t nn, cap;
};

#define JS_MAX_NODES 100000

/* Parses len bytes of s (which must stay valid while d is used).  0, or -1
 * with a short reason in err (malformed, too deep, too big, ENOMEM). */
int js_parse(struct js_doc *d, const char *s, size_t len, char *err, size_t errlen);
void js_doc_free(struct js_doc *d);
/* Member `key` of object node obj: its value's index, or -1. */
int js_get(const struct js_doc *d, int obj, const char *key);
/* Children: first child (for objects, the first key) and next sibling; -1 at the end. */
int js_child(const struct js_doc *d, int i);
int js_next(const struct js_doc *d, int parent, int i);
/* Decodes string node i (escapes, \u surrogate pairs to UTF-8) into a new
 * NUL-terminated buffer (*len without the NUL); NULL if not a string or ENOMEM. */
char *js_strdup(const struct js_doc *d, int i, size_t *len);
/* 1 when string node i equals s exactly (after decoding). */
int js_streq(const struct js_doc *d, int i, const char *s);
/* Number node i as an integer (no fraction or exponent, in range): 0 or -1. */
int js_int64(const struct js_doc *d, int i, int64_t *out);
/* Number node i as a double: 0 or -1. */
int js_num(const struct js_doc *d, int i, double *out);
/* 1/0 for JSON true/false, -1 otherwise. */
int js_truth(const struct js_doc *d, int i);
static inline int js_type_of(const struct js_doc *d, int i)
{
	return i >= 0 && (uint32_t)i < d->nn ? d->n[i].type : -1;
}

#endif
