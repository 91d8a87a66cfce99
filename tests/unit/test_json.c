/*
 * Unit tests for the management API's JSON reader (src/util/json.c): what
 * issue 11 (finding 7) asks it to refuse, strings that are not UTF-8 and
 * NUL in member names, next to what it must still accept.
 *
 * Must not depend on: libevent, the broker (the reader is compiled in).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static int parses(const char *text)
{
	struct js_doc d;
	char err[128];
	int rc = js_parse(&d, text, strlen(text), err, sizeof(err));
	if (rc == 0)
		js_doc_free(&d);
	return rc == 0;
}

/* Raw bytes that are not UTF-8, in names and in values. */
START_TEST(test_json_rejects_invalid_utf8)
{
	ck_assert(!parses("{\"a\xff\":1}"));
	ck_assert(!parses("{\"a\":\"\xff\"}"));
	ck_assert(!parses("{\"a\":\"\xc0\xaf\"}"));         /* overlong '/' */
	ck_assert(!parses("{\"a\":\"\xed\xa0\x80\"}"));     /* a surrogate, encoded */
	ck_assert(!parses("{\"a\":\"\xf4\x90\x80\x80\"}")); /* above U+10FFFF */
	ck_assert(!parses("{\"a\":\"\xe2\x82\"}"));         /* truncated sequence */
	ck_assert(!parses("[\"\x80\"]"));
	ck_assert(parses("{\"\xc3\xa9t\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}"));
}
END_TEST

/* \u escapes must decode to UTF-8 too: a surrogate only in a pair. */
START_TEST(test_json_rejects_lone_surrogates)
{
	ck_assert(!parses("{\"\\ud800\":1}"));
	ck_assert(!parses("{\"a\":\"\\ud800\"}"));
	ck_assert(!parses("{\"a\":\"\\ud800x\"}"));
	ck_assert(!parses("{\"a\":\"\\udc00\"}"));
	ck_assert(!parses("{\"a\":\"\\udc00\\ud800\"}"));   /* reversed pair */
	ck_assert(!parses("{\"a\":\"\\ud800\\ud800\"}"));
	ck_assert(!parses("{\"a\":\"\\ud800\\u0041\"}"));

	struct js_doc d;
	char err[128];
	const char *text = "{\"\\uD83D\\uDE00\":\"\\ud83d\\ude00\"}";
	ck_assert_int_eq(js_parse(&d, text, strlen(text), err, sizeof(err)), 0);
	size_t n;
	char *s = js_strdup(&d, 2, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "\xf0\x9f\x98\x80");
	free(s);
	ck_assert_int_ge(js_get(&d, 0, "\xf0\x9f\x98\x80"), 0);
	js_doc_free(&d);
}
END_TEST

/* NUL is refused in member names (they become C strings and broker names),
 * kept in values (a published payload may hold it). */
START_TEST(test_json_rejects_nul_in_names)
{
	ck_assert(!parses("{\"a\\u0000b\":1}"));
	ck_assert(!parses("{\"ok\":{\"\\u0000\":1}}"));
	ck_assert(!parses("[{\"x\":1,\"\\u0000\":2}]"));

	struct js_doc d;
	char err[128];
	const char *text = "{\"payload\":\"a\\u0000b\"}";
	ck_assert_int_eq(js_parse(&d, text, strlen(text), err, sizeof(err)), 0);
	size_t n;
	char *s = js_strdup(&d, js_get(&d, 0, "payload"), &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(s, "a\0b", 3) == 0);
	free(s);
	js_doc_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *t = tcase_create("reader");
	tcase_add_test(t, test_json_rejects_invalid_utf8);
	tcase_add_test(t, test_json_rejects_lone_surrogates);
	tcase_add_test(t, test_json_rejects_nul_in_names);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
