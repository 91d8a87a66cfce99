/*
 * tests/unit/test_exchange.c: Check suite for exchange/: table life cycle,
 * binding identity (bind / unbind / exists / not found / unbind_dest /
 * counts / foreach), direct and fanout routing, the hash underneath.  Topic
 * and headers have their own files; main() runs all three suites.
 *
 * Must not depend on src/ or libevent: it sees only exchange/.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exchange.h"
#include "exchange_internal.h"
#include "htab.h"

Suite *ex_topic_suite(void);
Suite *ex_headers_suite(void);

/* A passing ck_assert costs a write (Check records the last checkpoint), so
 * loops that check millions of things test first and report only failures. */
#define HOT_ASSERT(expr, ...) \
	do { \
		if (!(expr)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* Destinations are just distinct addresses. */
static char q[16];
#define Q(i) ((void *)&q[i])

/* Collects emitted destinations in order. */
struct coll {
	void *d[256];
	size_t n;
};

static void collect(void *dest, void *ctx)
{
	struct coll *c = ctx;

	HOT_ASSERT(c->n < 256, "too many emissions");
	c->d[c->n++] = dest;
}

static size_t times(const struct coll *c, void *dest)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		k += c->d[i] == dest;
	return k;
}

static struct coll route_s(const struct ex_table *t, const char *key)
{
	struct coll c = {.n = 0};

	ex_route(t, key, strlen(key), NULL, 0, collect, &c);
	return c;
}

static int bind_s(struct ex_table *t, void *dest, const char *key)
{
	return ex_bind(t, dest, key, strlen(key), NULL, 0);
}

static int unbind_s(struct ex_table *t, void *dest, const char *key)
{
	return ex_unbind(t, dest, key, strlen(key), NULL, 0);
}

/* A longstr argument: the value is the 4-byte length and the bytes. */
static struct ex_hdr arg_s(const char *key, const char *s, uint8_t *buf)
{
	size_t n = strlen(s);
	struct ex_hdr h = {key, strlen(key), 'S', buf, n + 4};

	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, s, n);
	return h;
}

START_TEST(test_table_basics)
{
	static const enum ex_type types[] = {EX_DIRECT, EX_FANOUT, EX_TOPIC,
					     EX_HEADERS};

	for (size_t i = 0; i < 4; i++) {
		struct ex_table *t = ex_table_new(types[i]);
		struct coll c;

		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(ex_table_type(t), types[i]);
		ck_assert_uint_eq(ex_binding_count(t), 0);
		c = route_s(t, "a");
		ck_assert_uint_eq(c.n, 0);
		ck_assert_uint_eq(ex_unbind_dest(t, Q(0)), 0);
		ck_assert_int_eq(unbind_s(t, Q(0), "a"), EX_ERR_NOT_FOUND);
		ex_table_free(t);
	}
	ex_table_free(NULL);
	ck_assert_ptr_null(ex_table_new((enum ex_type)99));
}
END_TEST

START_TEST(test_direct_route)
{
	struct ex_table *t = ex_table_new(EX_DIRECT);
	static const char bin[] = {'k', '\0', 'x'};
	struct coll c;

	ck_assert_int_eq(bind_s(t, Q(1), "a"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(2), "a"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(3), "b"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(4), ""), EX_OK);
	ck_assert_int_eq(ex_bind(t, Q(5), bin, sizeof bin, NULL, 0), EX_OK);
	ck_assert_uint_eq(ex_binding_count(t), 5);

	c = route_s(t, "a");
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(times(&c, Q(1)), 1);
	ck_assert_uint_eq(times(&c, Q(2)), 1);
	c = route_s(t, "b");
	ck_assert_uint_eq(c.n, 1);
	ck_assert_ptr_eq(c.d[0], Q(3));
	c = route_s(t, "");
	ck_assert_uint_eq(c.n, 1);
	ck_assert_ptr_eq(c.d[0], Q(4));
	/* No prefix matching, no wildcards, and embedded NULs count. */
	ck_assert_uint_eq(route_s(t, "ab").n, 0);
	ck_assert_uint_eq(route_s(t, "#").n, 0);
	ck_assert_uint_eq(route_s(t, "k").n, 0);
	c.n = 0;
	ex_route(t, bin, sizeof bin, NULL, 0, collect, &c);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_ptr_eq(c.d[0], Q(5));

	/* A key group goes away with its last binding and comes back. */
	ck_assert_int_eq(unbind_s(t, Q(3), "b"), EX_OK);
	ck_assert_uint_eq(route_s(t, "b").n, 0);
	ck_assert_int_eq(bind_s(t, Q(3), "b"), EX_OK);
	ck_assert_uint_eq(route_s(t, "b").n, 1);
	ex_table_free(t);
}
END_TEST

START_TEST(test_direct_key_is_copied)
{
	struct ex_table *t = ex_table_new(EX_DIRECT);
	char buf[8] = "orders";

	ck_assert_int_eq(ex_bind(t, Q(1), buf, 6, NULL, 0), EX_OK);
	memcpy(buf, "XXXXXX", 6);
	ck_assert_uint_eq(route_s(t, "orders").n, 1);
	ck_assert_uint_eq(route_s(t, "XXXXXX").n, 0);
	ex_table_free(t);
}
END_TEST

START_TEST(test_identity)
{
	struct ex_table *t = ex_table_new(EX_DIRECT);
	uint8_t b1[16], b2[16], b3[16];
	struct ex_hdr ab[2] = {arg_s("a", "1", b1), arg_s("b", "2", b2)};
	struct ex_hdr ba[2] = {ab[1], ab[0]};
	struct ex_hdr a2[2] = {ab[0], arg_s("b", "3", b3)};

	ck_assert_int_eq(bind_s(t, Q(1), "k"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(1), "k"), EX_ERR_EXISTS);
	ck_assert_uint_eq(ex_binding_count(t), 1);
	/* Same dest, other key; same key, other dest: new bindings. */
	ck_assert_int_eq(bind_s(t, Q(1), "l"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(2), "k"), EX_OK);
	/* Args are part of the identity, their order is not. */
	ck_assert_int_eq(ex_bind(t, Q(1), "k", 1, ab, 2), EX_OK);
	ck_assert_int_eq(ex_bind(t, Q(1), "k", 1, ba, 2), EX_ERR_EXISTS);
	ck_assert_int_eq(ex_bind(t, Q(1), "k", 1, a2, 2), EX_OK);
	ck_assert_int_eq(ex_bind(t, Q(1), "k", 1, ab, 1), EX_OK);
	ck_assert_uint_eq(ex_binding_count(t), 6);

	ck_assert(ex_has_binding(t, Q(1), "k", 1, NULL, 0));
	ck_assert(ex_has_binding(t, Q(1), "k", 1, ba, 2));
	ck_assert(!ex_has_binding(t, Q(3), "k", 1, NULL, 0));
	ck_assert(!ex_has_binding(t, Q(1), "m", 1, NULL, 0));
	ck_assert(!ex_has_binding(t, Q(1), "k", 1, &ab[1], 1));

	/* Direct routing ignores args: dest 1 has four bindings on "k". */
	ck_assert_uint_eq(times((struct coll[]){route_s(t, "k")}, Q(1)), 4);

	ck_assert_int_eq(ex_unbind(t, Q(1), "k", 1, ba, 2), EX_OK);
	ck_assert_int_eq(ex_unbind(t, Q(1), "k", 1, ab, 2), EX_ERR_NOT_FOUND);
	ck_assert_int_eq(ex_unbind(t, Q(1), "k", 1, &ab[1], 1),
			 EX_ERR_NOT_FOUND);
	ck_assert(!ex_has_binding(t, Q(1), "k", 1, ab, 2));
	ck_assert(ex_has_binding(t, Q(1), "k", 1, a2, 2));
	ck_assert_uint_eq(ex_binding_count(t), 5);
	ex_table_free(t);
}
END_TEST

/* Above the small-args threshold identity comparison sorts both sides. */
START_TEST(test_identity_many_args)
{
	enum { N = 40 };
	struct ex_table *t = ex_table_new(EX_TOPIC);
	static uint8_t vals[N][16], spare[16];
	static char keys[N][16];
	struct ex_hdr fwd[N], rev[N];

	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof keys[i], "k%02d", i);
		fwd[i] = arg_s(keys[i], i % 2 ? "odd" : "even", vals[i]);
		rev[N - 1 - i] = fwd[i];
	}
	ck_assert_int_eq(ex_bind(t, Q(1), "a.b", 3, fwd, N), EX_OK);
	ck_assert_int_eq(ex_bind(t, Q(1), "a.b", 3, rev, N), EX_ERR_EXISTS);
	ck_assert(ex_has_binding(t, Q(1), "a.b", 3, rev, N));
	ck_assert(!ex_has_binding(t, Q(1), "a.b", 3, rev, N - 1));
	/* Same multiset size, one value changed. */
	rev[7] = arg_s(rev[7].key, "changed", spare);
	ck_assert(!ex_has_binding(t, Q(1), "a.b", 3, rev, N));
	ck_assert_int_eq(ex_unbind(t, Q(1), "a.b", 3, rev, N), EX_ERR_NOT_FOUND);
	ck_assert_int_eq(ex_unbind(t, Q(1), "a.b", 3, fwd, N), EX_OK);
	ck_assert_uint_eq(ex_binding_count(t), 0);
	ex_table_free(t);
}
END_TEST

START_TEST(test_unbind_dest)
{
	static const enum ex_type types[] = {EX_DIRECT, EX_FANOUT, EX_TOPIC,
					     EX_HEADERS};

	for (size_t ti = 0; ti < 4; ti++) {
		struct ex_table *t = ex_table_new(types[ti]);

		ck_assert_int_eq(bind_s(t, Q(1), "a"), EX_OK);
		ck_assert_int_eq(bind_s(t, Q(1), "b"), EX_OK);
		ck_assert_int_eq(bind_s(t, Q(1), "c.d"), EX_OK);
		ck_assert_int_eq(bind_s(t, Q(2), "a"), EX_OK);
		ck_assert_int_eq(bind_s(t, Q(3), "b"), EX_OK);
		ck_assert_uint_eq(ex_binding_count(t), 5);

		ck_assert_uint_eq(ex_unbind_dest(t, Q(1)), 3);
		ck_assert_uint_eq(ex_binding_count(t), 2);
		ck_assert_uint_eq(ex_unbind_dest(t, Q(1)), 0);
		ck_assert(!ex_has_binding(t, Q(1), "a", 1, NULL, 0));
		ck_assert(ex_has_binding(t, Q(2), "a", 1, NULL, 0));
		ck_assert_uint_eq(times((struct coll[]){route_s(t, "a")}, Q(1)), 0);
		ck_assert_uint_eq(times((struct coll[]){route_s(t, "b")}, Q(3)), 1);

		/* The dest can be bound again afterwards. */
		ck_assert_int_eq(bind_s(t, Q(1), "a"), EX_OK);
		ck_assert_uint_eq(ex_binding_count(t), 3);
		ck_assert_uint_eq(ex_unbind_dest(t, Q(2)), 1);
		ck_assert_uint_eq(ex_unbind_dest(t, Q(3)), 1);
		ck_assert_uint_eq(ex_unbind_dest(t, Q(1)), 1);
		ck_assert_uint_eq(ex_binding_count(t), 0);
		ex_table_free(t);
	}
}
END_TEST

START_TEST(test_fanout)
{
	struct ex_table *t = ex_table_new(EX_FANOUT);
	struct coll c;

	ck_assert_int_eq(bind_s(t, Q(1), ""), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(2), "ignored"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(2), "other"), EX_OK);
	ck_assert_int_eq(bind_s(t, Q(2), "other"), EX_ERR_EXISTS);
	c = route_s(t, "anything");
	ck_assert_uint_eq(c.n, 3);
	ck_assert_uint_eq(times(&c, Q(1)), 1);
	/* One emission per binding; the caller de-duplicates dests. */
	ck_assert_uint_eq(times(&c, Q(2)), 2);
	ck_assert_int_eq(unbind_s(t, Q(2), "ignored"), EX_OK);
	ck_assert_uint_eq(route_s(t, "").n, 2);
	ex_table_free(t);
}
END_TEST

struct listing {
	size_t n;
	size_t with_args;
	int sorted;
};

static void list_cb(void *dest, const char *key, size_t key_len,
		    const struct ex_hdr *args, size_t nargs, void *ctx)
{
	struct listing *l = ctx;

	ck_assert_ptr_nonnull(dest);
	ck_assert_uint_eq(strlen(key), key_len); /* copies are terminated */
	l->n++;
	if (nargs > 0)
		l->with_args++;
	for (size_t i = 1; i < nargs; i++)
		if (strcmp(args[i - 1].key, args[i].key) > 0)
			l->sorted = 0;
}

START_TEST(test_foreach)
{
	struct ex_table *t = ex_table_new(EX_TOPIC);
	uint8_t b1[16], b2[16];
	struct ex_hdr args[2] = {arg_s("zz", "1", b1), arg_s("aa", "2", b2)};
	struct listing l = {0, 0, 1};

	for (int i = 0; i < 100; i++) {
		char key[16];

		snprintf(key, sizeof key, "k.%d.#", i);
		ck_assert_int_eq(bind_s(t, Q(i % 16), key), EX_OK);
	}
	ck_assert_int_eq(ex_bind(t, Q(1), "x", 1, args, 2), EX_OK);
	ex_foreach(t, list_cb, &l);
	ck_assert_uint_eq(l.n, 101);
	ck_assert_uint_eq(l.n, ex_binding_count(t));
	ck_assert_uint_eq(l.with_args, 1);
	ck_assert(l.sorted);
	ex_table_free(t);
}
END_TEST

/* Many bindings: checks structure, not speed (no timed assertions). */
START_TEST(test_direct_many)
{
	enum { KEYS = 1000, PER = 100 };
	struct ex_table *t = ex_table_new(EX_DIRECT);
	static char dests[PER];
	char key[32];
	size_t removed = 0;

	for (int k = 0; k < KEYS; k++)
		for (int d = 0; d < PER; d++) {
			snprintf(key, sizeof key, "key-%d", k);
			HOT_ASSERT(bind_s(t, &dests[d], key) == EX_OK, "bind");
		}
	ck_assert_uint_eq(ex_binding_count(t), KEYS * PER);
	for (int k = 0; k < KEYS; k += 97) {
		struct coll c = {.n = 0};

		snprintf(key, sizeof key, "key-%d", k);
		ex_route(t, key, strlen(key), NULL, 0, collect, &c);
		ck_assert_uint_eq(c.n, PER);
	}
	for (int d = 0; d < PER; d += 2)
		removed += ex_unbind_dest(t, &dests[d]);
	ck_assert_uint_eq(removed, KEYS * PER / 2);
	ck_assert_uint_eq(ex_binding_count(t), KEYS * PER / 2);
	ck_assert_uint_eq(route_s(t, "key-5").n, PER / 2);
	ex_table_free(t); /* frees the rest; ASan checks for leaks */
}
END_TEST

/* SipHash-2-4 reference vectors (key 00..0f, message 00..n-1). */
START_TEST(test_siphash_vectors)
{
	uint8_t kb[16], msg[64];
	uint64_t key[2] = {0, 0};
	struct tu_sip s;

	for (int i = 0; i < 16; i++)
		kb[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int i = 0; i < 8; i++) {
		key[0] |= (uint64_t)kb[i] << (8 * i);
		key[1] |= (uint64_t)kb[8 + i] << (8 * i);
	}
	ck_assert_uint_eq(tu_siphash(key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
	ck_assert_uint_eq(tu_siphash(key, msg, 15),
			  UINT64_C(0xa129ca6149be45e5));
	/* Incremental in odd pieces equals one shot. */
	for (size_t n = 0; n <= 64; n++) {
		tu_sip_init(&s, key);
		for (size_t off = 0; off < n;) {
			size_t step = (off % 3) + 1;

			if (step > n - off)
				step = n - off;
			tu_sip_update(&s, msg + off, step);
			off += step;
		}
		HOT_ASSERT(tu_sip_final(&s) == tu_siphash(key, msg, n), "n=%zu", n);
	}
}
END_TEST

static Suite *ex_core_suite(void)
{
	Suite *s = suite_create("exchange");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_table_basics);
	tcase_add_test(tc, test_direct_route);
	tcase_add_test(tc, test_direct_key_is_copied);
	tcase_add_test(tc, test_identity);
	tcase_add_test(tc, test_identity_many_args);
	tcase_add_test(tc, test_unbind_dest);
	tcase_add_test(tc, test_fanout);
	tcase_add_test(tc, test_foreach);
	tcase_add_test(tc, test_direct_many);
	tcase_add_test(tc, test_siphash_vectors);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ex_core_suite());
	int failed;

	srunner_add_suite(sr, ex_topic_suite());
	srunner_add_suite(sr, ex_headers_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
