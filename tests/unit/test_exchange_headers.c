/*
 * tests/unit/test_exchange_headers.c: Check suite for headers routing with
 * RabbitMQ 3.10 semantics: x-match all / any / all-with-x / any-with-x,
 * "x-" arguments, void values, value comparison across AMQP types, empty
 * argument lists, duplicate message headers, invalid x-match values.
 *
 * Must not depend on src/ or libevent: it sees only exchange/.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exchange.h"

Suite *ex_headers_suite(void);

/* Encoded values live in this arena for the duration of one test. */
static uint8_t arena[1 << 16];
static size_t arena_used;

static void setup(void)
{
	arena_used = 0;
}

static uint8_t *take(size_t n)
{
	uint8_t *p = arena + arena_used;

	ck_assert_uint_le(arena_used + n, sizeof arena);
	arena_used += n;
	return p;
}

static struct ex_hdr raw(const char *key, uint8_t type, uint64_t v,
			 size_t width)
{
	uint8_t *p = take(width);

	for (size_t i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	return (struct ex_hdr){key, strlen(key), type, p, width};
}

/* longstr ('S') or binary ('x'): 4-byte length, then the bytes. */
static struct ex_hdr str_t(const char *key, uint8_t type, const char *s)
{
	size_t n = strlen(s);
	uint8_t *p = take(4 + n);

	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	memcpy(p + 4, s, n);
	return (struct ex_hdr){key, strlen(key), type, p, 4 + n};
}

static struct ex_hdr S(const char *key, const char *s)
{
	return str_t(key, 'S', s);
}

static struct ex_hdr I(const char *key, int32_t v)
{
	return raw(key, 'I', (uint32_t)v, 4);
}

static struct ex_hdr V(const char *key)
{
	return (struct ex_hdr){key, strlen(key), 'V', NULL, 0};
}

static struct ex_hdr D(const char *key, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof bits);
	return raw(key, 'd', bits, 8);
}

static struct ex_hdr F(const char *key, float f)
{
	uint32_t bits;

	memcpy(&bits, &f, sizeof bits);
	return raw(key, 'f', bits, 4);
}

static struct ex_hdr XM(const char *mode)
{
	return S("x-match", mode);
}

static size_t hits;

static void count(void *dest, void *ctx)
{
	(void)dest;
	(void)ctx;
	hits++;
}

#define ARR(...) ((struct ex_hdr[]){__VA_ARGS__})
#define N(...) (sizeof(ARR(__VA_ARGS__)) / sizeof(struct ex_hdr))

/* Does a lone binding with `args` match a message with `hdrs`? */
static int matches(const struct ex_hdr *args, size_t nargs,
		   const struct ex_hdr *hdrs, size_t nhdrs)
{
	struct ex_table *t = ex_table_new(EX_HEADERS);
	static char q;

	ck_assert_int_eq(ex_bind(t, &q, "", 0, args, nargs), EX_OK);
	hits = 0;
	ex_route(t, "ignored", 7, hdrs, nhdrs, count, NULL);
	ex_table_free(t);
	ck_assert_uint_le(hits, 1);
	return hits == 1;
}

#define BIND(...) ARR(__VA_ARGS__), N(__VA_ARGS__)
#define MSG(...) ARR(__VA_ARGS__), N(__VA_ARGS__)
#define NOMSG NULL, 0

START_TEST(test_headers_all)
{
	/* x-match absent means all. */
	ck_assert(matches(BIND(S("a", "1"), S("b", "2")),
			  MSG(S("c", "3"), S("b", "2"), S("a", "1"))));
	ck_assert(!matches(BIND(S("a", "1"), S("b", "2")), MSG(S("a", "1"))));
	ck_assert(!matches(BIND(S("a", "1"), S("b", "2")),
			   MSG(S("a", "1"), S("b", "3"))));
	ck_assert(matches(BIND(XM("all"), S("a", "1")), MSG(S("a", "1"))));
	ck_assert(!matches(BIND(XM("all"), S("a", "1")), NOMSG));
	ck_assert(!matches(BIND(XM("all"), S("a", "1")), MSG(S("A", "1"))));
}
END_TEST

START_TEST(test_headers_any)
{
	ck_assert(matches(BIND(XM("any"), S("a", "1"), S("b", "2")),
			  MSG(S("a", "1"))));
	ck_assert(matches(BIND(XM("any"), S("a", "1"), S("b", "2")),
			  MSG(S("z", "0"), S("b", "2"))));
	ck_assert(!matches(BIND(XM("any"), S("a", "1"), S("b", "2")),
			   MSG(S("a", "2"), S("b", "1"))));
	ck_assert(!matches(BIND(XM("any"), S("a", "1")), NOMSG));
}
END_TEST

/* all with nothing to compare matches everything; any matches nothing. */
START_TEST(test_headers_empty)
{
	ck_assert(matches(NULL, 0, NOMSG));
	ck_assert(matches(NULL, 0, MSG(S("a", "1"))));
	ck_assert(matches(BIND(XM("all")), NOMSG));
	ck_assert(matches(BIND(XM("all"), S("x-foo", "1")), NOMSG));
	ck_assert(!matches(BIND(XM("any")), MSG(S("a", "1"))));
	ck_assert(!matches(BIND(XM("any"), S("x-foo", "1")),
			   MSG(S("x-foo", "1"))));
	/* The -with-x modes count x- args, but never x-match itself. */
	ck_assert(matches(BIND(XM("all-with-x")), NOMSG));
	ck_assert(!matches(BIND(XM("any-with-x")),
			   MSG(XM("any-with-x"))));
}
END_TEST

START_TEST(test_headers_x_args)
{
	/* all / any: x- args are ignored, on either side. */
	ck_assert(matches(BIND(XM("all"), S("x-foo", "1"), S("a", "1")),
			  MSG(S("a", "1"))));
	ck_assert(matches(BIND(XM("all"), S("x-foo", "1"), S("a", "1")),
			  MSG(S("a", "1"), S("x-foo", "2"))));
	ck_assert(!matches(BIND(XM("any"), S("x-foo", "1"), S("a", "1")),
			   MSG(S("x-foo", "1"))));
	/* Only the exact prefix "x-" is special. */
	ck_assert(!matches(BIND(S("X-foo", "1")), NOMSG));
	ck_assert(!matches(BIND(S("xfoo", "1")), NOMSG));
	/* all-with-x / any-with-x: they take part. */
	ck_assert(!matches(BIND(XM("all-with-x"), S("x-foo", "1"), S("a", "1")),
			   MSG(S("a", "1"))));
	ck_assert(matches(BIND(XM("all-with-x"), S("x-foo", "1"), S("a", "1")),
			  MSG(S("a", "1"), S("x-foo", "1"))));
	ck_assert(!matches(BIND(XM("all-with-x"), S("x-foo", "1")),
			   MSG(S("x-foo", "2"))));
	ck_assert(matches(BIND(XM("any-with-x"), S("x-foo", "1"), S("a", "1")),
			  MSG(S("x-foo", "1"))));
	ck_assert(!matches(BIND(XM("any-with-x"), S("x-foo", "1"), S("a", "1")),
			   MSG(S("x-foo", "2"), S("a", "2"))));
}
END_TEST

START_TEST(test_headers_void)
{
	ck_assert(matches(BIND(V("a")), MSG(S("a", "anything"))));
	ck_assert(matches(BIND(V("a")), MSG(I("a", 7))));
	ck_assert(matches(BIND(V("a")), MSG(V("a"))));
	ck_assert(!matches(BIND(V("a")), MSG(S("b", "1"))));
	ck_assert(matches(BIND(XM("any"), V("a"), S("b", "1")),
			  MSG(I("a", 0))));
	/* A void message value equals nothing but presence tests. */
	ck_assert(!matches(BIND(S("a", "")), MSG(V("a"))));
}
END_TEST

/* RabbitMQ compares decoded values: numbers by value across integer and
 * float types, longstr and binary by bytes, booleans by truth. */
START_TEST(test_headers_value_types)
{
	/* Different kinds never match. */
	ck_assert(!matches(BIND(S("a", "1")), MSG(I("a", 1))));
	ck_assert(!matches(BIND(raw("a", 't', 1, 1)), MSG(I("a", 1))));
	ck_assert(!matches(BIND(S("a", "1")), MSG(raw("a", 'F', 0, 4))));
	/* Same kind, different AMQP type. */
	ck_assert(matches(BIND(S("a", "abc")), MSG(str_t("a", 'x', "abc"))));
	ck_assert(!matches(BIND(S("a", "abc")), MSG(str_t("a", 'x', "abd"))));
	ck_assert(matches(BIND(I("a", 5)), MSG(raw("a", 'l', 5, 8))));
	ck_assert(matches(BIND(raw("a", 'b', 0xff, 1)), MSG(I("a", -1))));
	ck_assert(matches(BIND(raw("a", 's', 0xfffe, 2)),
			  MSG(raw("a", 'l', (uint64_t)-2, 8))));
	ck_assert(!matches(BIND(I("a", -1)), MSG(raw("a", 'i', 0xffffffff, 4))));
	ck_assert(matches(BIND(raw("a", 'B', 200, 1)),
			  MSG(raw("a", 'u', 200, 2))));
	ck_assert(matches(BIND(raw("a", 'T', 1700000000, 8)),
			  MSG(raw("a", 'l', 1700000000, 8))));
	ck_assert(!matches(BIND(raw("a", 'L', UINT64_MAX, 8)),
			   MSG(raw("a", 'l', UINT64_MAX, 8))));
	ck_assert(matches(BIND(D("a", 5.0)), MSG(I("a", 5))));
	ck_assert(!matches(BIND(D("a", 5.5)), MSG(I("a", 5))));
	ck_assert(matches(BIND(F("a", 0.5f)), MSG(D("a", 0.5))));
	ck_assert(!matches(BIND(F("a", 0.1f)), MSG(D("a", 0.1))));
	ck_assert(matches(BIND(D("a", 9223372036854775808.0)),
			  MSG(raw("a", 'L', UINT64_C(9223372036854775808), 8))));
	ck_assert(!matches(BIND(D("a", 9223372036854775808.0)),
			   MSG(raw("a", 'l', INT64_MAX, 8))));
	ck_assert(matches(BIND(raw("a", 't', 1, 1)), MSG(raw("a", 't', 2, 1))));
	ck_assert(!matches(BIND(raw("a", 't', 1, 1)), MSG(raw("a", 't', 0, 1))));
	/* Other types: type and bytes. */
	ck_assert(matches(BIND(raw("a", 'D', 0x0200000064, 5)),
			  MSG(raw("a", 'D', 0x0200000064, 5))));
	ck_assert(!matches(BIND(raw("a", 'D', 0x0200000064, 5)),
			   MSG(raw("a", 'D', 0x0100000064, 5))));
	/* A malformed width is compared as bytes, never read past. */
	ck_assert(!matches(BIND(raw("a", 'I', 5, 2)), MSG(I("a", 5))));
}
END_TEST

/* Duplicate message keys: like RabbitMQ's merge, each binding arg meets
 * the next message header with its key, in message order. */
START_TEST(test_headers_duplicates)
{
	ck_assert(matches(BIND(S("a", "1")), MSG(S("a", "1"), S("a", "2"))));
	ck_assert(!matches(BIND(S("a", "2")), MSG(S("a", "1"), S("a", "2"))));
}
END_TEST

/* More message headers than fit on the stack index. */
START_TEST(test_headers_many)
{
	enum { NH = 100 };
	static char keys[NH][16];
	struct ex_hdr hdrs[NH];

	for (int i = 0; i < NH; i++) {
		snprintf(keys[i], sizeof keys[i], "h%d", NH - i);
		hdrs[i] = I(keys[i], NH - i);
	}
	ck_assert(matches(BIND(I("h1", 1), I("h50", 50), I("h100", 100)),
			  hdrs, NH));
	ck_assert(!matches(BIND(I("h1", 1), I("h50", 51)), hdrs, NH));
	ck_assert(matches(BIND(XM("any"), I("h0", 0), I("h99", 99)), hdrs, NH));
}
END_TEST

START_TEST(test_headers_invalid_xmatch)
{
	struct ex_table *t = ex_table_new(EX_HEADERS);
	struct ex_hdr bad_len = S("x-match", "all");
	static const char *const bad[] = {"", "ALL", "none", "all ", "all-x",
					  "any-with-x "};
	static char q;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ex_hdr a = XM(bad[i]);

		ck_assert_int_eq(ex_bind(t, &q, "", 0, &a, 1),
				 EX_ERR_INVALID_ARG);
	}
	/* Right string, wrong type. */
	ck_assert_int_eq(ex_bind(t, &q, "", 0, ARR(str_t("x-match", 'x', "all")),
				 1),
			 EX_ERR_INVALID_ARG);
	ck_assert_int_eq(ex_bind(t, &q, "", 0, ARR(I("x-match", 1)), 1),
			 EX_ERR_INVALID_ARG);
	ck_assert_int_eq(ex_bind(t, &q, "", 0, ARR(V("x-match")), 1),
			 EX_ERR_INVALID_ARG);
	/* A longstr whose length prefix disagrees with val_len. */
	bad_len.val_len--;
	ck_assert_int_eq(ex_bind(t, &q, "", 0, &bad_len, 1), EX_ERR_INVALID_ARG);
	ck_assert_uint_eq(ex_binding_count(t), 0);
	/* The first x-match decides. */
	ck_assert_int_eq(ex_bind(t, &q, "", 0, BIND(XM("any"), XM("bogus"))),
			 EX_OK);
	ck_assert_int_eq(ex_bind(t, &q, "", 0, BIND(XM("bogus"), XM("any"))),
			 EX_ERR_INVALID_ARG);
	ex_table_free(t);

	/* Other exchange types do not look at x-match. */
	t = ex_table_new(EX_DIRECT);
	ck_assert_int_eq(ex_bind(t, &q, "k", 1, BIND(XM("bogus"))), EX_OK);
	ex_table_free(t);
}
END_TEST

START_TEST(test_headers_identity)
{
	struct ex_table *t = ex_table_new(EX_HEADERS);
	static char q1, q2;

	ck_assert_int_eq(ex_bind(t, &q1, "", 0, BIND(XM("any"), S("a", "1"))),
			 EX_OK);
	ck_assert_int_eq(ex_bind(t, &q1, "", 0, BIND(S("a", "1"), XM("any"))),
			 EX_ERR_EXISTS);
	ck_assert_int_eq(ex_bind(t, &q1, "", 0, BIND(XM("all"), S("a", "1"))),
			 EX_OK);
	ck_assert_int_eq(ex_bind(t, &q2, "", 0, BIND(XM("any"), S("b", "1"))),
			 EX_OK);
	ck_assert_uint_eq(ex_binding_count(t), 3);
	hits = 0;
	ex_route(t, "", 0, MSG(S("a", "1")), count, NULL);
	ck_assert_uint_eq(hits, 2); /* both q1 bindings, once each */
	ck_assert_int_eq(ex_unbind(t, &q1, "", 0, BIND(S("a", "1"), XM("all"))),
			 EX_OK);
	hits = 0;
	ex_route(t, "", 0, MSG(S("a", "1"), S("b", "1")), count, NULL);
	ck_assert_uint_eq(hits, 2);
	ck_assert_uint_eq(ex_unbind_dest(t, &q1), 1);
	ex_table_free(t);
}
END_TEST

Suite *ex_headers_suite(void)
{
	Suite *s = suite_create("exchange-headers");
	TCase *tc = tcase_create("headers");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_headers_all);
	tcase_add_test(tc, test_headers_any);
	tcase_add_test(tc, test_headers_empty);
	tcase_add_test(tc, test_headers_x_args);
	tcase_add_test(tc, test_headers_void);
	tcase_add_test(tc, test_headers_value_types);
	tcase_add_test(tc, test_headers_duplicates);
	tcase_add_test(tc, test_headers_many);
	tcase_add_test(tc, test_headers_invalid_xmatch);
	tcase_add_test(tc, test_headers_identity);
	suite_add_tcase(s, tc);
	return s;
}
