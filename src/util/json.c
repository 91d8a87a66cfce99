/*
 * JSON writer and bounds-checked reader (see json.h).  The reader is a
 * recursive-descent parser with an explicit depth limit; every access to
 * the input goes through `p < end` checks.
 *
 * May depend on: libc and src/util (hex digits), so that tandemctl, the
 * fuzz target and the unit test link it alone.
 * Must not depend on: libevent, the broker core, protocol front ends.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "hex.h"

/* ---- writer ---------------------------------------------------------- */

void js_w_init(struct js_w *w)
{
	memset(w, 0, sizeof(*w));
	w->first[0] = 1;
}

void js_w_free(struct js_w *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

void js_raw(struct js_w *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n + 1)
			cap *= 2;
		char *b = realloc(w->buf, cap);
		if (!b) {
			w->oom = 1;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Separator before a value or key at the current level. */
static void sep(struct js_w *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (!w->first[w->depth])
		js_raw(w, ",", 1);
	w->first[w->depth] = 0;
}

static void open_level(struct js_w *w, char c)
{
	sep(w);
	js_raw(w, &c, 1);
	if (w->depth + 1 < JS_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = 1;
}

static void close_level(struct js_w *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	js_raw(w, &c, 1);
}

void js_obj(struct js_w *w)
{
	open_level(w, '{');
}
void js_obj_end(struct js_w *w)
{
	close_level(w, '}');
}
void js_arr(struct js_w *w)
{
	open_level(w, '[');
}
void js_arr_end(struct js_w *w)
{
	close_level(w, ']');
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		need = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		need = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		need = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (need > n)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static void put_str(struct js_w *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	js_raw(w, "\"", 1);
	size_t run = 0; /* bytes copied verbatim, flushed lazily */
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		char esc[8];
		const char *e = NULL;
		size_t elen = 0;
		if (c == '"')
			e = "\\\"", elen = 2;
		else if (c == '\\')
			e = "\\\\", elen = 2;
		else if (c == '\n')
			e = "\\n", elen = 2;
		else if (c == '\r')
			e = "\\r", elen = 2;
		else if (c == '\t')
			e = "\\t", elen = 2;
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			e = esc, elen = 6;
		} else if (c >= 0x80) {
			size_t l = utf8_len(p + i, n - i);
			if (l) {
				run += l;
				i += l;
				continue;
			}
			e = "\\ufffd", elen = 6;
		} else {
			run++;
			i++;
			continue;
		}
		js_raw(w, s + i - run, run);
		run = 0;
		js_raw(w, e, elen);
		i++;
	}
	js_raw(w, s + n - run, run);
	js_raw(w, "\"", 1);
}

void js_value_begin(struct js_w *w)
{
	sep(w);
}

void js_keyn(struct js_w *w, const char *k, size_t n)
{
	sep(w);
	put_str(w, k, n);
	js_raw(w, ":", 1);
	w->after_key = 1;
}

void js_key(struct js_w *w, const char *k)
{
	js_keyn(w, k, strlen(k));
}

void js_strn(struct js_w *w, const char *s, size_t n)
{
	sep(w);
	put_str(w, s ? s : "", s ? n : 0);
}

void js_str(struct js_w *w, const char *s)
{
	js_strn(w, s, s ? strlen(s) : 0);
}

void js_int(struct js_w *w, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", (long long)v);
	sep(w);
	js_raw(w, b, (size_t)n);
}

void js_uint(struct js_w *w, uint64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	sep(w);
	js_raw(w, b, (size_t)n);
}

void js_double(struct js_w *w, double v)
{
	char b[40];
	int n;
	if (!isfinite(v))
		v = 0;
	n = snprintf(b, sizeof(b), "%.17g", v);
	/* keep it a float in JSON: 1 -> 1.0 */
	if (!strpbrk(b, ".eE") && n + 2 < (int)sizeof(b)) {
		memcpy(b + n, ".0", 3);
		n += 2;
	}
	sep(w);
	js_raw(w, b, (size_t)n);
}

void js_bool(struct js_w *w, int v)
{
	sep(w);
	js_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void js_null(struct js_w *w)
{
	sep(w);
	js_raw(w, "null", 4);
}

void js_kstr(struct js_w *w, const char *k, const char *v)
{
	js_key(w, k);
	js_str(w, v);
}
void js_kstrn(struct js_w *w, const char *k, const char *v, size_t n)
{
	js_key(w, k);
	js_strn(w, v, n);
}
void js_kint(struct js_w *w, const char *k, int64_t v)
{
	js_key(w, k);
	js_int(w, v);
}
void js_kuint(struct js_w *w, const char *k, uint64_t v)
{
	js_key(w, k);
	js_uint(w, v);
}
void js_kbool(struct js_w *w, const char *k, int v)
{
	js_key(w, k);
	js_bool(w, v);
}

/* ---- reader ---------------------------------------------------------- */

struct parser {
	struct js_doc *d;
	const char *p, *end;
	const char *why;
	int depth;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int new_node(struct parser *ps, uint8_t type, const char *start)
{
	struct js_doc *d = ps->d;
	if (d->nn >= JS_MAX_NODES) {
		ps->why = "too many values";
		return -1;
	}
	if (d->nn == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 32;
		struct js_node *n = realloc(d->n, cap * sizeof(*n));
		if (!n) {
			ps->why = "out of memory";
			return -1;
		}
		d->n = n;
		d->cap = cap;
	}
	struct js_node *n = &d->n[d->nn];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->off = (uint32_t)(start - d->src);
	return (int)d->nn++;
}

static int parse_value(struct parser *ps);

/* The code unit of the 4 hex digits at p (checked by the caller). */
static uint32_t hex4(const char *p)
{
	uint32_t cp = 0;
	for (int k = 0; k < 4; k++)
		cp = cp << 4 | (uint32_t)tu_hex_value(p[k]);
	return cp;
}

/* 1 when p (end - p bytes left) starts a \uXXXX escape of a low surrogate. */
static int low_surrogate_at(const char *p, const char *end)
{
	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return 0;
	for (int k = 2; k < 6; k++)
		if (tu_hex_value(p[k]) < 0)
			return 0;
	uint32_t lo = hex4(p + 2);
	return lo >= 0xdc00 && lo <= 0xdfff;
}

/*
 * A string; name: it is an object's member name.  Besides RFC 8259's
 * grammar, the text must be UTF-8 both as bytes and once decoded: invalid
 * byte sequences and \u escapes of a lone surrogate are refused anywhere,
 * and \u0000 in a member name (names become C strings and broker names).
 */
static int parse_string(struct parser *ps, int name)
{
	const char *start = ++ps->p; /* after the quote */
	int i = new_node(ps, JS_STR, start);
	if (i < 0)
		return -1;
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			struct js_node *n = &ps->d->n[i];
			n->len = (uint32_t)(ps->p - start);
			n->end = ps->d->nn;
			ps->p++;
			return 0;
		}
		if (c < 0x20) {
			ps->why = "control character in string";
			return -1;
		}
		if (c >= 0x80) {
			size_t l = utf8_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
			if (!l) {
				ps->why = "invalid UTF-8 in string";
				return -1;
			}
			ps->p += l;
			continue;
		}
		if (c == '\\') {
			ps->d->n[i].escaped = 1;
			if (++ps->p >= ps->end)
				break;
			switch (*ps->p) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				ps->p++;
				continue;
			case 'u':
				if (ps->end - ps->p < 5) {
					ps->why = "truncated \\u escape";
					return -1;
				}
				for (int k = 1; k <= 4; k++)
					if (tu_hex_value(ps->p[k]) < 0) {
						ps->why = "bad \\u escape";
						return -1;
					}
				uint32_t cp = hex4(ps->p + 1);
				ps->p += 5;
				if (cp >= 0xd800 && cp <= 0xdbff && low_surrogate_at(ps->p, ps->end)) {
					ps->p += 6; /* a pair: one code point above U+FFFF */
					continue;
				}
				if (cp >= 0xd800 && cp <= 0xdfff) {
					ps->why = "lone surrogate in \\u escape";
					return -1;
				}
				if (cp == 0 && name) {
					ps->why = "\\u0000 in a member name";
					return -1;
				}
				continue;
			default:
				ps->why = "bad escape";
				return -1;
			}
		}
		ps->p++;
	}
	ps->why = "unterminated string";
	return -1;
}

static int parse_number(struct parser *ps)
{
	const char *s = ps->p;
	int i = new_node(ps, JS_NUM, s);
	if (i < 0)
		return -1;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end)
		goto bad;
	if (*ps->p == '0') {
		ps->p++;
	} else if (*ps->p >= '1' && *ps->p <= '9') {
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	} else {
		goto bad;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			goto bad;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			goto bad;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p - s > 400)
		goto bad;
	ps->d->n[i].len = (uint32_t)(ps->p - s);
	ps->d->n[i].end = ps->d->nn;
	return 0;
bad:
	ps->why = "malformed number";
	return -1;
}

static int parse_literal(struct parser *ps, const char *word, uint8_t type)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		ps->why = "unexpected character";
		return -1;
	}
	int i = new_node(ps, type, ps->p);
	if (i < 0)
		return -1;
	ps->p += n;
	ps->d->n[i].len = (uint32_t)n;
	ps->d->n[i].end = ps->d->nn;
	return 0;
}

static int parse_container(struct parser *ps, int is_obj)
{
	if (++ps->depth > JS_MAX_DEPTH) {
		ps->why = "nested too deeply";
		return -1;
	}
	int i = new_node(ps, is_obj ? JS_OBJ : JS_ARR, ps->p);
	if (i < 0)
		return -1;
	char close = is_obj ? '}' : ']';
	uint32_t count = 0;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		goto done;
	}
	for (;;) {
		skip_ws(ps);
		if (is_obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				ps->why = "expected a member name";
				return -1;
			}
			if (parse_string(ps, 1) < 0)
				return -1;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				ps->why = "expected ':'";
				return -1;
			}
			ps->p++;
		}
		if (parse_value(ps) < 0)
			return -1;
		count++;
		skip_ws(ps);
		if (ps->p >= ps->end) {
			ps->why = "unexpected end of input";
			return -1;
		}
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			break;
		}
		ps->why = is_obj ? "expected ',' or '}'" : "expected ',' or ']'";
		return -1;
	}
done:
	ps->d->n[i].count = count;
	ps->d->n[i].len = (uint32_t)(ps->p - (ps->d->src + ps->d->n[i].off));
	ps->d->n[i].end = ps->d->nn;
	ps->depth--;
	return 0;
}

static int parse_value(struct parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end) {
		ps->why = "unexpected end of input";
		return -1;
	}
	switch (*ps->p) {
	case '{':
		return parse_container(ps, 1);
	case '[':
		return parse_container(ps, 0);
	case '"':
		return parse_string(ps, 0);
	case 't':
		return parse_literal(ps, "true", JS_TRUE);
	case 'f':
		return parse_literal(ps, "false", JS_FALSE);
	case 'n':
		return parse_literal(ps, "null", JS_NULL);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		ps->why = "unexpected character";
		return -1;
	}
}

int js_parse(struct js_doc *d, const char *s, size_t len, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->src = s;
	d->srclen = len;
	if (len > UINT32_MAX / 2) {
		snprintf(err, errlen, "document too large");
		return -1;
	}
	struct parser ps = { d, s, s + len, NULL, 0 };
	if (parse_value(&ps) == 0) {
		skip_ws(&ps);
		if (ps.p == ps.end)
			return 0;
		ps.why = "trailing characters after the document";
	}
	snprintf(err, errlen, "%s at offset %zu", ps.why ? ps.why : "malformed", (size_t)(ps.p - s));
	js_doc_free(d);
	return -1;
}

void js_doc_free(struct js_doc *d)
{
	free(d->n);
	d->n = NULL;
	d->nn = d->cap = 0;
}

int js_child(const struct js_doc *d, int i)
{
	if (js_type_of(d, i) != JS_OBJ && js_type_of(d, i) != JS_ARR)
		return -1;
	return d->n[i].count ? i + 1 : -1;
}

int js_next(const struct js_doc *d, int parent, int i)
{
	if (i < 0 || parent < 0 || (uint32_t)i >= d->nn)
		return -1;
	uint32_t nx = d->n[i].end;
	return nx < d->n[parent].end ? (int)nx : -1;
}

/* Decodes string node i into out (which has room for len bytes: decoding
 * never grows a string); returns the decoded length. */
static size_t decode_str(const struct js_doc *d, int i, char *out)
{
	const char *p = d->src + d->n[i].off, *end = p + d->n[i].len;
	size_t o = 0;
	while (p < end) {
		if (*p != '\\') {
			out[o++] = *p++;
			continue;
		}
		p++; /* the parser checked every escape is complete */
		char c = *p++;
		switch (c) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			uint32_t cp = 0;
			for (int k = 0; k < 4; k++)
				cp = cp << 4 | (uint32_t)tu_hex_value(p[k]);
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				uint32_t lo = 0;
				int ok = 1;
				for (int k = 0; k < 4; k++) {
					int h = tu_hex_value(p[2 + k]);
					if (h < 0)
						ok = 0;
					lo = lo << 4 | (uint32_t)(h < 0 ? 0 : h);
				}
				if (ok && lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd; /* lone surrogate */
			/* \uXXXX is 6 bytes in, at most 3 out; a pair is 12 in, 4 out */
			if (cp < 0x80) {
				out[o++] = (char)cp;
			} else if (cp < 0x800) {
				out[o++] = (char)(0xc0 | cp >> 6);
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				out[o++] = (char)(0xe0 | cp >> 12);
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (char)(0xf0 | cp >> 18);
				out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default: out[o++] = c; break; /* " \ / */
		}
	}
	return o;
}

char *js_strdup(const struct js_doc *d, int i, size_t *len)
{
	if (js_type_of(d, i) != JS_STR)
		return NULL;
	char *out = malloc((size_t)d->n[i].len + 1);
	if (!out)
		return NULL;
	size_t n = d->n[i].escaped ? decode_str(d, i, out) : d->n[i].len;
	if (!d->n[i].escaped)
		memcpy(out, d->src + d->n[i].off, n);
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

int js_streq(const struct js_doc *d, int i, const char *s)
{
	if (js_type_of(d, i) != JS_STR)
		return 0;
	size_t sl = strlen(s);
	if (!d->n[i].escaped)
		return d->n[i].len == sl && memcmp(d->src + d->n[i].off, s, sl) == 0;
	size_t n;
	char *t = js_strdup(d, i, &n);
	int eq = t && n == sl && memcmp(t, s, sl) == 0;
	free(t);
	return eq;
}

int js_get(const struct js_doc *d, int obj, const char *key)
{
	if (js_type_of(d, obj) != JS_OBJ)
		return -1;
	for (int k = js_child(d, obj); k >= 0;) {
		int v = js_next(d, obj, k);
		if (v < 0)
			return -1;
		if (js_streq(d, k, key))
			return v;
		k = js_next(d, obj, v);
	}
	return -1;
}

int js_int64(const struct js_doc *d, int i, int64_t *out)
{
	if (js_type_of(d, i) != JS_NUM)
		return -1;
	char b[48];
	uint32_t n = d->n[i].len;
	if (n >= sizeof(b))
		return -1;
	memcpy(b, d->src + d->n[i].off, n);
	b[n] = '\0';
	if (strpbrk(b, ".eE"))
		return -1;
	errno = 0;
	char *e;
	long long v = strtoll(b, &e, 10);
	if (errno || *e)
		return -1;
	*out = v;
	return 0;
}

int js_num(const struct js_doc *d, int i, double *out)
{
	if (js_type_of(d, i) != JS_NUM)
		return -1;
	char b[416];
	uint32_t n = d->n[i].len;
	if (n >= sizeof(b))
		return -1;
	memcpy(b, d->src + d->n[i].off, n);
	b[n] = '\0';
	*out = strtod(b, NULL);
	return 0;
}

int js_truth(const struct js_doc *d, int i)
{
	int t = js_type_of(d, i);
	return t == JS_TRUE ? 1 : t == JS_FALSE ? 0 : -1;
}
