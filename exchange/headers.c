/*
 * exchange/headers.c: headers exchange routing with RabbitMQ 3.10 semantics
 * (rabbit_exchange_type_headers): x-match all / any / all-with-x /
 * any-with-x, "x-" arguments ignored unless -with-x, void binding values
 * matching on presence, values compared the way RabbitMQ compares the
 * decoded Erlang terms.  Every route looks at every binding, as in RabbitMQ.
 *
 * Must not depend on anything outside libc.
 */
#include <stdlib.h>
#include <string.h>

#include "exchange_internal.h"

/* Message headers are sorted once per route; this many fit on the stack. */
#define HDR_STACK 32

static int key_cmp(const struct ex_hdr *a, const struct ex_hdr *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = n > 0 ? memcmp(a->key, b->key, n) : 0;

	if (c != 0)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static int key_is(const struct ex_hdr *h, const char *s)
{
	size_t n = strlen(s);

	return h->key_len == n && memcmp(h->key, s, n) == 0;
}

static int key_is_x(const struct ex_hdr *h)
{
	return h->key_len >= 2 && h->key[0] == 'x' && h->key[1] == '-';
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int ex_headers_xmatch(const struct ex_hdr *args, size_t nargs,
		      enum ex_xmatch *mode)
{
	static const struct {
		const char *name;
		enum ex_xmatch mode;
	} modes[] = {
		{"all", EX_XMATCH_ALL},
		{"any", EX_XMATCH_ANY},
		{"all-with-x", EX_XMATCH_ALL_X},
		{"any-with-x", EX_XMATCH_ANY_X},
	};

	*mode = EX_XMATCH_ALL; /* absent x-match: RabbitMQ allows it */
	for (size_t i = 0; i < nargs; i++) {
		const struct ex_hdr *h = &args[i];
		size_t slen;

		if (!key_is(h, "x-match"))
			continue;
		/* The first x-match decides, as rabbit_misc:table_lookup. */
		if (h->type != 'S' || h->val_len < 4)
			return EX_ERR_INVALID_ARG;
		slen = (size_t)load_be(h->val, 4);
		if (slen != h->val_len - 4)
			return EX_ERR_INVALID_ARG;
		for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
			if (strlen(modes[m].name) == slen &&
			    memcmp(modes[m].name, h->val + 4, slen) == 0) {
				*mode = modes[m].mode;
				return EX_OK;
			}
		return EX_ERR_INVALID_ARG;
	}
	return EX_OK;
}

/* A header value as the Erlang term RabbitMQ decodes it into, for the kinds
 * where terms of different AMQP types can be equal. */
enum val_kind { VK_OTHER, VK_INT, VK_BIG, VK_REAL, VK_BYTES, VK_BOOL };

struct val {
	enum val_kind kind;
	int64_t i;  /* VK_INT, VK_BOOL (0 or 1) */
	uint64_t u; /* VK_BIG: above INT64_MAX */
	double d;   /* VK_REAL */
};

/* The two's-complement value of a `bytes`-wide big-endian integer, without
 * implementation-defined conversions. */
static int64_t sign_extend(uint64_t v, unsigned bytes)
{
	uint64_t sign = UINT64_C(1) << (8 * bytes - 1);

	if ((v & sign) == 0)
		return (int64_t)v;
	return -(int64_t)(~v & (sign - 1)) - 1;
}

static struct val decode(const struct ex_hdr *h)
{
	struct val v = {VK_OTHER, 0, 0, 0.0};
	size_t width = 0;
	int is_signed = 0;

	switch (h->type) {
	case 'b': width = 1, is_signed = 1; break;
	case 'B': width = 1; break;
	case 's':
	case 'U': width = 2, is_signed = 1; break;
	case 'u': width = 2; break;
	case 'I': width = 4, is_signed = 1; break;
	case 'i': width = 4; break;
	case 'l': width = 8, is_signed = 1; break;
	case 'L':
	case 'T': width = 8; break;
	case 'f':
		if (h->val_len == 4) {
			uint32_t bits = (uint32_t)load_be(h->val, 4);
			float f;

			memcpy(&f, &bits, sizeof f);
			v.kind = VK_REAL;
			v.d = f;
		}
		return v;
	case 'd':
		if (h->val_len == 8) {
			uint64_t bits = load_be(h->val, 8);

			memcpy(&v.d, &bits, sizeof v.d);
			v.kind = VK_REAL;
		}
		return v;
	case 'S':
	case 'x': /* longstr and binary both decode to an Erlang binary */
		v.kind = VK_BYTES;
		return v;
	case 't':
		if (h->val_len == 1) {
			v.kind = VK_BOOL;
			v.i = h->val[0] != 0;
		}
		return v;
	default:
		return v;
	}
	if (h->val_len != width)
		return v;
	v.u = load_be(h->val, width);
	if (is_signed) {
		v.kind = VK_INT;
		v.i = sign_extend(v.u, (unsigned)width);
	} else if (v.u > INT64_MAX) {
		v.kind = VK_BIG;
	} else {
		v.kind = VK_INT;
		v.i = (int64_t)v.u;
	}
	return v;
}

/* Exact comparison of a double with an integer (Erlang: 5 == 5.0). */
static int real_equals_int(double d, const struct val *n)
{
	if (n->kind == VK_INT) {
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
			return 0;
		return (int64_t)d == n->i && (double)(int64_t)d == d;
	}
	if (!(d >= 9223372036854775808.0 && d < 18446744073709551616.0))
		return 0;
	return (uint64_t)d == n->u && (double)(uint64_t)d == d;
}

static int num_equal(const struct val *a, const struct val *b)
{
	if (a->kind == VK_REAL && b->kind == VK_REAL)
		return a->d == b->d;
	if (a->kind == VK_REAL)
		return real_equals_int(a->d, b);
	if (b->kind == VK_REAL)
		return real_equals_int(b->d, a);
	if (a->kind != b->kind)
		return 0; /* one fits int64, the other does not */
	return a->kind == VK_INT ? a->i == b->i : a->u == b->u;
}

static int is_num(enum val_kind k)
{
	return k == VK_INT || k == VK_BIG || k == VK_REAL;
}

int ex_hdr_value_equal(const struct ex_hdr *a, const struct ex_hdr *b)
{
	struct val va, vb;

	if (a->type == b->type && a->val_len == b->val_len &&
	    (a->val_len == 0 || memcmp(a->val, b->val, a->val_len) == 0))
		return 1;
	va = decode(a);
	vb = decode(b);
	if (is_num(va.kind) && is_num(vb.kind))
		return num_equal(&va, &vb);
	if (va.kind == VK_BYTES && vb.kind == VK_BYTES)
		/* Same 4-byte length prefix in both encodings. */
		return a->val_len == b->val_len &&
		       memcmp(a->val, b->val, a->val_len) == 0;
	if (va.kind == VK_BOOL && vb.kind == VK_BOOL)
		return va.i == vb.i;
	return 0;
}

static int xmatch_all(enum ex_xmatch m)
{
	return m == EX_XMATCH_ALL || m == EX_XMATCH_ALL_X;
}

static int xmatch_with_x(enum ex_xmatch m)
{
	return m == EX_XMATCH_ALL_X || m == EX_XMATCH_ANY_X;
}

/* Whether binding arg p takes part in matching under mode m. */
static int arg_counts(const struct ex_hdr *p, enum ex_xmatch m)
{
	if (key_is(p, "x-match"))
		return 0;
	return xmatch_with_x(m) || !key_is_x(p);
}

static int arg_matches(const struct ex_hdr *p, const struct ex_hdr *d)
{
	return p->type == 'V' || ex_hdr_value_equal(p, d);
}

/*
 * Binding args (sorted by key) against message headers sorted stably by
 * key: a merge, as RabbitMQ's headers_match, so that with duplicate keys
 * each binding arg meets the next message header of that key.
 */
static int match_sorted(const struct ex_binding *b,
			const struct ex_hdr *const *hd, size_t nh)
{
	int all = xmatch_all(b->xmatch);
	int all_ok = 1, any_ok = 0;
	size_t j = 0;

	for (size_t i = 0; i < b->nargs; i++) {
		const struct ex_hdr *p = &b->args[i];
		int c = 1;

		if (!arg_counts(p, b->xmatch))
			continue;
		if (all ? !all_ok : any_ok)
			break; /* the answer cannot change any more */
		while (j < nh && (c = key_cmp(hd[j], p)) < 0)
			j++;
		if (j == nh || c > 0) {
			all_ok = 0;
			continue;
		}
		if (arg_matches(p, hd[j]))
			any_ok = 1;
		else
			all_ok = 0;
		j++;
	}
	return all ? all_ok : any_ok;
}

/* Without a sorted index (no memory for one): each binding arg meets the
 * first message header with its key. */
static int match_linear(const struct ex_binding *b, const struct ex_hdr *hdrs,
			size_t nh)
{
	int all = xmatch_all(b->xmatch);
	int all_ok = 1, any_ok = 0;

	for (size_t i = 0; i < b->nargs; i++) {
		const struct ex_hdr *p = &b->args[i];
		const struct ex_hdr *d = NULL;

		if (!arg_counts(p, b->xmatch))
			continue;
		for (size_t j = 0; j < nh && d == NULL; j++)
			if (key_cmp(&hdrs[j], p) == 0)
				d = &hdrs[j];
		if (d != NULL && arg_matches(p, d))
			any_ok = 1;
		else
			all_ok = 0;
	}
	return all ? all_ok : any_ok;
}

/* By key, then by position in the message: a stable sort. */
static int hdr_ptr_cmp(const void *a, const void *b)
{
	const struct ex_hdr *x = *(const struct ex_hdr *const *)a;
	const struct ex_hdr *y = *(const struct ex_hdr *const *)b;
	int c = key_cmp(x, y);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

static void headers_route(const struct ex_table *t, const char *key,
			  size_t key_len, const struct ex_hdr *hdrs,
			  size_t nhdrs, ex_emit_fn emit, void *ctx)
{
	const struct ex_hdr *stack[HDR_STACK];
	const struct ex_hdr **hd = stack;

	(void)key;
	(void)key_len;
	if (nhdrs > HDR_STACK) {
		hd = nhdrs <= SIZE_MAX / sizeof *hd ? malloc(nhdrs * sizeof *hd)
						    : NULL;
		if (hd == NULL) {
			for (const struct ex_binding *b = t->all.head;
			     b != NULL; b = b->next)
				if (match_linear(b, hdrs, nhdrs))
					emit(b->dest, ctx);
			return;
		}
	}
	for (size_t i = 0; i < nhdrs; i++)
		hd[i] = &hdrs[i];
	if (nhdrs > 1)
		qsort(hd, nhdrs, sizeof *hd, hdr_ptr_cmp);
	for (const struct ex_binding *b = t->all.head; b != NULL; b = b->next)
		if (match_sorted(b, hd, nhdrs))
			emit(b->dest, ctx);
	if (hd != stack)
		free(hd);
}

static int headers_init(struct ex_table *t)
{
	(void)t;
	return EX_OK;
}

static void headers_fini(struct ex_table *t)
{
	(void)t;
}

static int headers_attach(struct ex_table *t, struct ex_binding *b)
{
	ex_blist_add(&t->all, b);
	return EX_OK;
}

static void headers_detach(struct ex_table *t, struct ex_binding *b)
{
	(void)t;
	ex_blist_del(b);
}

const struct ex_type_ops ex_headers_ops = {
	.init = headers_init,
	.fini = headers_fini,
	.attach = headers_attach,
	.detach = headers_detach,
	.route = headers_route,
};
