/*
 * Unit tests for src/core/perm_alts.c: permission patterns split into
 * alternatives, the three forms Kafka's ACL bindings name (".*", "^N$",
 * "^N"), and adding and removing one alternative; each composed pattern
 * is also checked to mean what it says through core/auth.h's matcher.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/perm_alts.h"

/* The alternatives of a pattern joined by '\n' (to compare as a string). */
struct joined {
	char buf[512];
	size_t n, pieces;
};

static int join(const char *alt, size_t len, void *ctx)
{
	struct joined *j = ctx;

	if (j->pieces++)
		j->buf[j->n++] = '\n';
	memcpy(j->buf + j->n, alt, len);
	j->n += len;
	j->buf[j->n] = '\0';
	return 0;
}

static void check_split(const char *pattern, size_t count, const char *want)
{
	struct joined j = { "", 0, 0 };

	ck_assert_uint_eq(tdm_perm_alts(pattern, join, &j), count);
	ck_assert_str_eq(j.buf, want);
}

START_TEST(split_top_level)
{
	check_split("", 0, "");
	check_split(".*", 1, ".*");
	check_split("^a$|^b", 2, "^a$\n^b");
	check_split("(a|b)|c", 2, "(a|b)\nc");
	check_split("[|]|x", 2, "[|]\nx");
	check_split("[]|]|x", 2, "[]|]\nx");
	check_split("[[:alpha:]|]|y", 2, "[[:alpha:]|]\ny");
	check_split("a\\|b|c", 2, "a\\|b\nc");
	check_split("a|", 2, "a\n");
	check_split("|", 2, "\n");
}
END_TEST

static void check_parse(const char *alt, enum tdm_alt_kind kind, const char *name)
{
	char buf[128];

	ck_assert_int_eq(tdm_perm_alt_parse(alt, strlen(alt), buf), kind);
	ck_assert_str_eq(buf, name);
}

START_TEST(parse_forms)
{
	check_parse(".*", TDM_ALT_ANY, "");
	check_parse("^orders$", TDM_ALT_LITERAL, "orders");
	check_parse("^orders", TDM_ALT_PREFIX, "orders");
	check_parse("^a\\.b$", TDM_ALT_LITERAL, "a.b");
	check_parse("^a\\$", TDM_ALT_PREFIX, "a$");
	check_parse("^a]}$", TDM_ALT_LITERAL, "a]}");
	check_parse("^a\\|b\\*$", TDM_ALT_LITERAL, "a|b*");
	/* what is a regex and not a name */
	check_parse("^a.b$", TDM_ALT_OTHER, "");
	check_parse("^a*", TDM_ALT_OTHER, "");
	check_parse("orders", TDM_ALT_OTHER, "");
	check_parse("orders$", TDM_ALT_OTHER, "");
	check_parse("^$", TDM_ALT_OTHER, "");
	check_parse("^", TDM_ALT_OTHER, "");
	check_parse("^\\w$", TDM_ALT_OTHER, "");
	check_parse("^a\\", TDM_ALT_OTHER, "");
	check_parse("^.*", TDM_ALT_OTHER, "");
	check_parse("", TDM_ALT_OTHER, "");
}
END_TEST

START_TEST(make_round_trips)
{
	static const char *const names[] = { "t1", "a.b-c_d", "x$y^z", "[]{}()*+?|\\", "*" };
	char buf[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (int k = TDM_ALT_LITERAL; k <= TDM_ALT_PREFIX; k++) {
			char *alt =
				tdm_perm_alt_make((enum tdm_alt_kind)k, names[i], strlen(names[i]));

			ck_assert_ptr_nonnull(alt);
			ck_assert_int_eq(tdm_perm_alt_parse(alt, strlen(alt), buf), k);
			ck_assert_str_eq(buf, names[i]);
			free(alt);
		}
	}
	char *any = tdm_perm_alt_make(TDM_ALT_ANY, NULL, 0);
	ck_assert_str_eq(any, ".*");
	free(any);
	ck_assert_ptr_null(tdm_perm_alt_make(TDM_ALT_LITERAL, "", 0));
	ck_assert_ptr_null(tdm_perm_alt_make(TDM_ALT_PREFIX, "a\0b", 3));
	ck_assert_ptr_null(tdm_perm_alt_make(TDM_ALT_OTHER, "a", 1));
}
END_TEST

static void check_add(const char *pattern, const char *alt, const char *want)
{
	char *p = tdm_perm_alt_add(pattern, alt);

	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, want);
	free(p);
}

START_TEST(add_alternatives)
{
	check_add("", "^t$", "^t$");
	check_add("^t$", "^u$", "^t$|^u$");
	check_add("^t$|^u$", "^u$", "^t$|^u$"); /* there already */
	check_add("^a]$", "^a\\]$", "^a]$");    /* the same name, spelled otherwise */
	check_add("^t$", "^t", "^t$|^t");       /* a prefix is not the literal */
	check_add("x.*", ".*", "x.*|.*");
	check_add(".*", ".*", ".*");
	check_add("(a|b)", "^c$", "(a|b)|^c$");
}
END_TEST

static void check_remove(const char *pattern, enum tdm_alt_kind kind, const char *name,
			 const char *want, size_t nremoved)
{
	size_t n = 99;
	char *p = tdm_perm_alt_remove(pattern, kind, name, &n);

	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, want);
	ck_assert_uint_eq(n, nremoved);
	free(p);
}

START_TEST(remove_alternatives)
{
	check_remove("^t$|^u$", TDM_ALT_LITERAL, "t", "^u$", 1);
	check_remove("^t$", TDM_ALT_LITERAL, "t", "", 1);
	check_remove("^t$|x.*|^t$|^t", TDM_ALT_LITERAL, "t", "x.*|^t", 2);
	check_remove("^t$|^t", TDM_ALT_PREFIX, "t", "^t$", 1);
	check_remove(".*", TDM_ALT_ANY, "", "", 1);
	check_remove("x.*", TDM_ALT_ANY, "", "x.*", 0);
	check_remove("", TDM_ALT_LITERAL, "t", "", 0);
	check_remove("^a\\.b$|(^c$|^d$)", TDM_ALT_LITERAL, "a.b", "(^c$|^d$)", 1);
	/* OTHER never matches: a regex is left as it is */
	check_remove("x.*", TDM_ALT_OTHER, "", "x.*", 0);
}
END_TEST

/* The composed patterns mean what their forms say to the matcher. */
START_TEST(composed_patterns_match)
{
	struct tdm_config c;
	char err[256] = "";
	struct tdm_auth *a;
	char *lit = tdm_perm_alt_make(TDM_ALT_LITERAL, "a.b", 3);
	char *pre = tdm_perm_alt_make(TDM_ALT_PREFIX, "p[1]", 4);
	char *p1 = tdm_perm_alt_add("", lit), *p2 = tdm_perm_alt_add(p1, pre);

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_msg(tdm_config_set(&c, "default_user", "u", err, sizeof(err)) == 0, "%s", err);
	a = tdm_auth_new(&c, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	ck_assert_int_eq(tdm_auth_set_permissions(a, "u", "/", "", "", p2, err, sizeof(err)), 0);
	ck_assert(tdm_auth_permitted(a, "u", "/", TDM_PERM_READ, "a.b", 3));
	ck_assert(!tdm_auth_permitted(a, "u", "/", TDM_PERM_READ, "aXb", 3));
	ck_assert(!tdm_auth_permitted(a, "u", "/", TDM_PERM_READ, "a.bc", 4));
	ck_assert(tdm_auth_permitted(a, "u", "/", TDM_PERM_READ, "p[1]x", 5));
	ck_assert(!tdm_auth_permitted(a, "u", "/", TDM_PERM_READ, "xp[1]", 5));
	ck_assert(!tdm_auth_permitted(a, "u", "/", TDM_PERM_WRITE, "a.b", 3));
	tdm_auth_free(a);
	tdm_config_free(&c);
	free(lit);
	free(pre);
	free(p1);
	free(p2);
}
END_TEST

static Suite *perm_alts_suite(void)
{
	Suite *s = suite_create("perm_alts");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, split_top_level);
	tcase_add_test(tc, parse_forms);
	tcase_add_test(tc, make_round_trips);
	tcase_add_test(tc, add_alternatives);
	tcase_add_test(tc, remove_alternatives);
	tcase_add_test(tc, composed_patterns_match);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(perm_alts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
