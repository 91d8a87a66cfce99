/*
 * Permission patterns as lists of alternatives (core/perm_alts.h): the
 * split, the three forms Kafka's ACL bindings can name, adding and
 * removing one.  String work only.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdlib.h>
#include <string.h>

#include "core/perm_alts.h"

/* Characters an extended regular expression reads as operators: escaped
 * by tdm_perm_alt_make, refused unescaped by the parse. */
static const char special[] = ".[]{}()*+?^$|\\";

/* The end of the bracket expression starting at p ('['): the index just
 * past its closing ']', or the end of s when it has none. */
static size_t bracket_end(const char *s, size_t p, size_t n)
{
	size_t i = p + 1;

	if (i < n && s[i] == '^')
		i++;
	if (i < n && s[i] == ']') /* a leading ']' is a member */
		i++;
	while (i < n && s[i] != ']') {
		if (s[i] == '[' && i + 1 < n && strchr(":.=", s[i + 1])) {
			const char *e = strchr(s + i + 2, s[i + 1]);

			if (e && e[1] == ']') { /* [:alpha:], [.x.], [=x=] */
				i = (size_t)(e + 2 - s);
				continue;
			}
		}
		i++;
	}
	return i < n ? i + 1 : n;
}

size_t tdm_perm_alts(const char *pattern, tdm_alt_fn fn, void *ctx)
{
	size_t n = strlen(pattern), start = 0, count = 0, i = 0;
	int depth = 0;

	if (n == 0)
		return 0;
	while (i <= n) {
		if (i == n || (pattern[i] == '|' && depth == 0)) {
			count++;
			if (fn && fn(pattern + start, i - start, ctx))
				return count;
			start = ++i;
			continue;
		}
		if (pattern[i] == '\\')
			i += i + 1 < n ? 2 : 1;
		else if (pattern[i] == '[')
			i = bracket_end(pattern, i, n);
		else {
			depth += pattern[i] == '(' ? 1 : pattern[i] == ')' && depth > 0 ? -1 : 0;
			i++;
		}
	}
	return count;
}

enum tdm_alt_kind tdm_perm_alt_parse(const char *alt, size_t len, char *name)
{
	size_t i = 1, k = 0;

	name[0] = '\0';
	if (len == 2 && alt[0] == '.' && alt[1] == '*')
		return TDM_ALT_ANY;
	if (len < 2 || alt[0] != '^')
		return TDM_ALT_OTHER;
	while (i < len) {
		char c = alt[i];

		if (c == '$' && i == len - 1)
			break;
		if (c == '\\') {
			c = i + 1 < len ? alt[i + 1] : '\0';
			/* \w, \1 and the like are classes and references */
			if (!c || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9'))
				goto other;
			i++;
		} else if (c != ']' && c != '}' && strchr(special, c)) {
			goto other;
		}
		name[k++] = c;
		i++;
	}
	if (k == 0)
		goto other;
	name[k] = '\0';
	return i < len ? TDM_ALT_LITERAL : TDM_ALT_PREFIX;
other:
	name[0] = '\0';
	return TDM_ALT_OTHER;
}

char *tdm_perm_alt_make(enum tdm_alt_kind kind, const char *name, size_t len)
{
	char *out, *o;

	if (kind == TDM_ALT_ANY)
		return strdup(".*");
	if ((kind != TDM_ALT_LITERAL && kind != TDM_ALT_PREFIX) || len == 0 ||
	    memchr(name, '\0', len))
		return NULL;
	if (!(out = malloc(2 * len + 3)))
		return NULL;
	o = out;
	*o++ = '^';
	for (size_t i = 0; i < len; i++) {
		if (strchr(special, name[i]))
			*o++ = '\\';
		*o++ = name[i];
	}
	if (kind == TDM_ALT_LITERAL)
		*o++ = '$';
	*o = '\0';
	return out;
}

/* What one alternative means, for comparing two: its kind and name. */
struct alt_meaning {
	enum tdm_alt_kind kind;
	const char *name;
};

/* 1 when alt[0..len) means m (OTHER never compares equal). */
static int alt_is(const char *alt, size_t len, const struct alt_meaning *m)
{
	char buf[256], *name = len < sizeof(buf) ? buf : malloc(len + 1);
	int same;

	if (!name)
		return 0;
	same = tdm_perm_alt_parse(alt, len, name) == m->kind && m->kind != TDM_ALT_OTHER &&
	       strcmp(name, m->name) == 0;
	if (name != buf)
		free(name);
	return same;
}

/* Looking for one alternative: by meaning, or by spelling for OTHER. */
struct find {
	struct alt_meaning m;
	const char *text;
	size_t len;
	int found;
};

static int find_alt(const char *alt, size_t len, void *ctx)
{
	struct find *f = ctx;

	if (f->m.kind == TDM_ALT_OTHER)
		f->found = len == f->len && memcmp(alt, f->text, len) == 0;
	else
		f->found = alt_is(alt, len, &f->m);
	return f->found;
}

char *tdm_perm_alt_add(const char *pattern, const char *alt)
{
	size_t n = strlen(pattern), k = strlen(alt);
	char *name = malloc(k + 1), *out;
	struct find f = { { TDM_ALT_OTHER, name }, alt, k, 0 };

	if (!name)
		return NULL;
	f.m.kind = tdm_perm_alt_parse(alt, k, name);
	tdm_perm_alts(pattern, find_alt, &f);
	free(name);
	if (f.found)
		return strdup(pattern);
	if (!(out = malloc(n + k + 2)))
		return NULL;
	memcpy(out, pattern, n);
	if (n)
		out[n++] = '|';
	memcpy(out + n, alt, k + 1);
	return out;
}

/* The pattern being rebuilt without the alternatives removed. */
struct rebuild {
	struct alt_meaning m;
	char *out; /* owned until returned */
	size_t len;
	size_t removed;
};

static int keep_alt(const char *alt, size_t len, void *ctx)
{
	struct rebuild *rb = ctx;

	if (alt_is(alt, len, &rb->m)) {
		rb->removed++;
		return 0;
	}
	if (rb->len)
		rb->out[rb->len++] = '|';
	memcpy(rb->out + rb->len, alt, len);
	rb->len += len;
	return 0;
}

char *tdm_perm_alt_remove(const char *pattern, enum tdm_alt_kind kind, const char *name,
			  size_t *removed)
{
	struct rebuild rb = { { kind, name }, malloc(strlen(pattern) + 1), 0, 0 };

	*removed = 0;
	if (!rb.out)
		return NULL;
	tdm_perm_alts(pattern, keep_alt, &rb);
	rb.out[rb.len] = '\0';
	*removed = rb.removed;
	return rb.out;
}
