/*
 * tests/unit/test_exchange_topic.c: Check suite for topic routing: RabbitMQ
 * edge cases (empty words, empty key, "#" anywhere, "*" vs ""), and a
 * property test where the trie, its allocation-free fallback walk,
 * ex_topic_match and a naive recursive matcher written here must agree on
 * random patterns and keys.
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

Suite *ex_topic_suite(void);

/* A passing ck_assert costs a write (Check records the last checkpoint), so
 * loops that check millions of things test first and report only failures. */
#define HOT_ASSERT(expr, ...) \
	do { \
		if (!(expr)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* ---- naive oracle: split into words, then plain recursion ---- */

struct word {
	const char *p;
	size_t n;
};

#define MAX_WORDS 512

/* RabbitMQ's split_topic_key: "" has no words, otherwise split on '.'. */
static size_t split(const char *s, struct word *w)
{
	size_t n = 0;
	const char *start = s;

	if (*s == '\0')
		return 0;
	for (const char *c = s;; c++)
		if (*c == '.' || *c == '\0') {
			HOT_ASSERT(n < MAX_WORDS, "too many words");
			w[n].p = start;
			w[n].n = (size_t)(c - start);
			n++;
			if (*c == '\0')
				return n;
			start = c + 1;
		}
}

static int is_word(const struct word *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

static int naive(const struct word *p, size_t np, const struct word *k,
		 size_t nk)
{
	if (np == 0)
		return nk == 0;
	if (is_word(p, "#")) {
		for (size_t i = 0; i <= nk; i++)
			if (naive(p + 1, np - 1, k + i, nk - i))
				return 1;
		return 0;
	}
	if (nk == 0)
		return 0;
	if (is_word(p, "*") || (p->n == k->n && memcmp(p->p, k->p, p->n) == 0))
		return naive(p + 1, np - 1, k + 1, nk - 1);
	return 0;
}

static int naive_match(const char *pattern, const char *key)
{
	static struct word pw[MAX_WORDS], kw[MAX_WORDS];
	size_t np = split(pattern, pw), nk = split(key, kw);

	return naive(pw, np, kw, nk);
}

/* ---- emission counting: dest i is &slots[i] ---- */

#define MAX_BINDINGS 100000
static char slots[MAX_BINDINGS];
static unsigned hits[MAX_BINDINGS];
static size_t emitted;

static void count_emit(void *dest, void *ctx)
{
	size_t i = (size_t)((char *)dest - slots);

	(void)ctx;
	HOT_ASSERT(i < MAX_BINDINGS, "unknown dest");
	hits[i]++;
	emitted++;
}

static void reset_hits(size_t n)
{
	memset(hits, 0, n * sizeof hits[0]);
	emitted = 0;
}

static void route_nfa(const struct ex_table *t, const char *key, size_t n)
{
	reset_hits(n);
	ex_route(t, key, strlen(key), NULL, 0, count_emit, NULL);
}

static void route_dfs(const struct ex_table *t, const char *key, size_t n)
{
	reset_hits(n);
	ex_topic_route_dfs(t, key, strlen(key), count_emit, NULL);
}

/* ---- edge cases ---- */

static const struct {
	const char *pattern, *key;
	int match;
} cases[] = {
	/* "#" alone */
	{"#", "", 1}, {"#", "a", 1}, {"#", "a.b.c", 1}, {"#", ".", 1},
	{"#", "..", 1}, {"#.#", "", 1}, {"#.#", "a.b", 1}, {"#.#.#", "a", 1},
	/* the empty key has no words; the empty pattern matches only it */
	{"", "", 1}, {"", "a", 0}, {"", ".", 0}, {".", "", 0},
	{"*", "", 0}, {"*.#", "", 0}, {"#.*", "", 0}, {"#.", "", 0},
	/* "*" is exactly one word, possibly empty */
	{"*", "a", 1}, {"*", "a.b", 0}, {"*", ".", 0}, {"*.*", ".", 1},
	{"*.*", "a.", 1}, {"*.*", ".a", 1}, {"*.*.*", "a.b", 0},
	{"a.*.c", "a.b.c", 1}, {"a.*.c", "a..c", 1}, {"a.*.c", "a.b.b.c", 0},
	/* "#" at either end */
	{"#.a", "a", 1}, {"#.a", "b.a", 1}, {"#.a", "b.c.a", 1},
	{"#.a", "a.b", 0}, {"a.#", "a", 1}, {"a.#", "a.b.c", 1},
	{"a.#", "b", 0}, {"a.#", "ab", 0}, {"a.#", "a.", 1},
	{"#.b.#", "b", 1}, {"#.b.#", "a.b.c", 1}, {"#.b.#", "a.c", 0},
	/* repeated "#" */
	{"a.#.#.b", "a.b", 1}, {"a.#.#.b", "a.x.b", 1},
	{"a.#.#.b", "a.x.y.z.b", 1}, {"a.#.#.b", "a.b.b", 1},
	{"a.#.#.b", "a", 0}, {"a.#.#.b", "b", 0}, {"a.#.#.b", "a.b.c", 0},
	{"*.#", "a", 1}, {"*.#", "a.b", 1}, {"#.*", "a", 1}, {"#.*", "a.b", 1},
	{"a.#.b.#.c", "a.b.c", 1}, {"a.#.b.#.c", "a.x.b.y.c", 1},
	{"a.#.b.#.c", "a.c.b", 0}, {"#.a.#.a", "a.a", 1},
	{"#.a.#.a", "a.b.a.b", 0},
	/* empty words: "..", leading and trailing dots */
	{"a..b", "a..b", 1}, {"a.*.b", "a..b", 1}, {"a.#.b", "a..b", 1},
	{"a.b", "a..b", 0}, {"a..b", "a.b", 0}, {".a", ".a", 1},
	{"*.a", ".a", 1}, {"a", ".a", 0}, {"a.", "a.", 1}, {"a.", "a", 0},
	{"a.*", "a.", 1}, {"a.*", "a", 0}, {".", ".", 1}, {"..", "..", 1},
	{"#.", ".", 1}, {"#.", "a.", 1}, {"#.", "a", 0}, {".#", ".x.y", 1},
	/* wildcards only as whole words; key words are always literal */
	{"a*", "a*", 1}, {"a*", "ab", 0}, {"a#", "a#", 1}, {"a#", "ab", 0},
	{"#a", "xa", 0}, {"a", "*", 0}, {"a", "#", 0}, {"*", "#", 1},
	{"#", "*.#", 1}, {"a.b", "a.b", 1}, {"a.b", "a.c", 0},
};

START_TEST(test_topic_cases)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *p = cases[i].pattern, *k = cases[i].key;
		int want = cases[i].match;
		struct ex_table *t = ex_table_new(EX_TOPIC);

		ck_assert_msg(naive_match(p, k) == want, "oracle: '%s' vs '%s'",
			      p, k);
		ck_assert_msg(ex_topic_match(p, strlen(p), k, strlen(k)) == want,
			      "ex_topic_match: '%s' vs '%s'", p, k);
		ck_assert_int_eq(ex_bind(t, &slots[0], p, strlen(p), NULL, 0),
				 EX_OK);
		route_nfa(t, k, 1);
		ck_assert_msg(emitted == (size_t)want, "trie: '%s' vs '%s': %zu",
			      p, k, emitted);
		route_dfs(t, k, 1);
		ck_assert_msg((emitted > 0) == want, "dfs: '%s' vs '%s'", p, k);
		ex_table_free(t);
	}
}
END_TEST

/* Patterns that match one key in many ways still emit once. */
START_TEST(test_topic_no_repeats)
{
	static const char *const patterns[] = {
		"a.#.#.b", "#.#", "#.#.#.#", "#.a.#", "#.*.#", "*.#.*", "#",
	};
	size_t n = sizeof patterns / sizeof patterns[0];
	struct ex_table *t = ex_table_new(EX_TOPIC);

	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ex_bind(t, &slots[i], patterns[i],
					 strlen(patterns[i]), NULL, 0),
				 EX_OK);
	route_nfa(t, "a.a.b.a.b.b", n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(hits[i] == 1, "%s: %u", patterns[i], hits[i]);
	ex_table_free(t);
}
END_TEST

/* A long run of "#" against a long key: the automaton stays linear where a
 * backtracking walk would explode. */
START_TEST(test_topic_pathological)
{
	char pattern[256], key[1024];
	size_t pl = 0, kl = 0;
	struct ex_table *t = ex_table_new(EX_TOPIC);

	for (int i = 0; i < 40; i++)
		pl += (size_t)snprintf(pattern + pl, sizeof pattern - pl, "#.");
	pl += (size_t)snprintf(pattern + pl, sizeof pattern - pl, "b");
	for (int i = 0; i < 300; i++)
		kl += (size_t)snprintf(key + kl, sizeof key - kl, "a.");
	snprintf(key + kl, sizeof key - kl, "b");
	ck_assert_int_eq(ex_bind(t, &slots[0], pattern, pl, NULL, 0), EX_OK);
	ck_assert_int_eq(ex_bind(t, &slots[1], "#.c", 3, NULL, 0), EX_OK);
	route_nfa(t, key, 2);
	ck_assert_uint_eq(hits[0], 1);
	ck_assert_uint_eq(hits[1], 0);
	ck_assert(ex_topic_match(pattern, pl, key, strlen(key)));
	ex_table_free(t);
}
END_TEST

/* ---- property test ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static void random_words(char *out, size_t cap, const char *const *alphabet,
			 size_t nalpha, size_t max_words)
{
	size_t nw = rng() % (max_words + 1), len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < nw; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
					i > 0 ? "." : "",
					alphabet[rng() % nalpha]);
}

enum { NPAT = 400, NKEY = 1500 };
static char pats[NPAT][64];

static void check_against_oracle(const struct ex_table *t, const char *key,
				 const unsigned char *bound)
{
	route_nfa(t, key, NPAT);
	for (size_t i = 0; i < NPAT; i++) {
		int want = bound[i] && naive_match(pats[i], key);

		HOT_ASSERT(hits[i] == (unsigned)want,
			      "trie: '%s' vs '%s': %u, want %d", pats[i], key,
			      hits[i], want);
	}
	route_dfs(t, key, NPAT);
	for (size_t i = 0; i < NPAT; i++) {
		int want = bound[i] && naive_match(pats[i], key);

		HOT_ASSERT((hits[i] > 0) == want, "dfs: '%s' vs '%s'",
			      pats[i], key);
	}
}

START_TEST(test_topic_property)
{
	static const char *const pat_alpha[] = {"a", "b", "", "ab", "*", "#",
						"*", "#"};
	static const char *const key_alpha[] = {"a", "b", "", "ab", "*", "#"};
	static unsigned char bound[NPAT];
	char key[64];

	rng_state = UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)_i;
	for (int round = 0; round < 4; round++) {
		struct ex_table *t = ex_table_new(EX_TOPIC);

		for (size_t i = 0; i < NPAT; i++) {
			random_words(pats[i], sizeof pats[i], pat_alpha, 8, 6);
			/* Duplicated patterns are fine: dests differ. */
			HOT_ASSERT(ex_bind(t, &slots[i], pats[i],
					   strlen(pats[i]), NULL, 0) == EX_OK,
				   "bind '%s'", pats[i]);
			bound[i] = 1;
		}
		for (size_t k = 0; k < NKEY; k++) {
			random_words(key, sizeof key, key_alpha, 6, 7);
			for (size_t i = 0; i < NPAT; i += 7)
				HOT_ASSERT(ex_topic_match(pats[i], strlen(pats[i]),
							  key, strlen(key)) ==
						   naive_match(pats[i], key),
					   "match: '%s' vs '%s'", pats[i], key);
			check_against_oracle(t, key, bound);
		}
		/* Unbinding must prune the trie without losing anything. */
		for (size_t i = 0; i < NPAT; i++)
			if (rng() % 2) {
				ck_assert_int_eq(ex_unbind(t, &slots[i], pats[i],
							   strlen(pats[i]),
							   NULL, 0),
						 EX_OK);
				bound[i] = 0;
			}
		for (size_t k = 0; k < NKEY / 4; k++) {
			random_words(key, sizeof key, key_alpha, 6, 7);
			check_against_oracle(t, key, bound);
		}
		for (size_t i = 0; i < NPAT; i++)
			if (bound[i])
				ck_assert_uint_eq(ex_unbind_dest(t, &slots[i]),
						  1);
		ck_assert_uint_eq(ex_binding_count(t), 0);
		ck_assert_uint_eq(t->edges.count, 0); /* trie fully pruned */
		ex_table_free(t);
	}
}
END_TEST

/* 100k bindings: correctness at size (speed is for benchmarks, not here). */
START_TEST(test_topic_many)
{
	enum { HALF = MAX_BINDINGS / 2 };
	struct ex_table *t = ex_table_new(EX_TOPIC);
	char p[32];

	for (size_t i = 0; i < HALF; i++) {
		snprintf(p, sizeof p, "s.%zu.*", i);
		HOT_ASSERT(ex_bind(t, &slots[i], p, strlen(p), NULL, 0) == EX_OK,
			   "bind %s", p);
		snprintf(p, sizeof p, "#.%zu", i);
		HOT_ASSERT(ex_bind(t, &slots[HALF + i], p, strlen(p), NULL, 0) ==
				   EX_OK,
			   "bind %s", p);
	}
	ck_assert_uint_eq(ex_binding_count(t), MAX_BINDINGS);
	route_nfa(t, "s.123.x", MAX_BINDINGS);
	ck_assert_uint_eq(emitted, 1);
	ck_assert_uint_eq(hits[123], 1);
	route_nfa(t, "s.77.77", MAX_BINDINGS);
	ck_assert_uint_eq(emitted, 2);
	ck_assert_uint_eq(hits[77], 1);
	ck_assert_uint_eq(hits[HALF + 77], 1);
	route_nfa(t, "x.y.z.49999", MAX_BINDINGS);
	ck_assert_uint_eq(emitted, 1);
	ck_assert_uint_eq(hits[HALF + 49999], 1);
	route_nfa(t, "s.1", MAX_BINDINGS);
	ck_assert_uint_eq(emitted, 1); /* "#.1" only; "s.1.*" needs a word */
	ex_table_free(t);
}
END_TEST

Suite *ex_topic_suite(void)
{
	Suite *s = suite_create("exchange-topic");
	TCase *tc = tcase_create("topic");

	tcase_add_test(tc, test_topic_cases);
	tcase_add_test(tc, test_topic_no_repeats);
	tcase_add_test(tc, test_topic_pathological);
	tcase_add_loop_test(tc, test_topic_property, 0, 3);
	tcase_add_test(tc, test_topic_many);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
