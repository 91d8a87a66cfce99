/*
 * Dynamic topic defaults (core/dyn_defaults.h) over a real log store in a
 * temp dir: the precedence (topic override > this broker > cluster
 * default > tandem.conf), a topic taking a change at once, a refused
 * value changing nothing, the layers read back at the next open, and a
 * damaged file refused with its line.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/dyn_defaults.h"
#include "core/topic_ops.h"
#include "core/topics.h"

static struct tdm_config cfg;
static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static struct tdm_topics *open_topics(char *err, size_t errlen)
{
	return tdm_topics_open(&cfg, NULL, err, errlen);
}

static void setup(void)
{
	char err[256];
	snprintf(dir, sizeof(dir), "%s/tandem-dyn-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_retention_ms", "5000000", err, sizeof(err)), 0);
}

static void teardown(void)
{
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *value_of(struct tdm_topics *t, const char *topic, const char *key)
{
	static char buf[128];
	int is_default;
	ck_assert_int_eq(tdm_topic_config_value(tdm_topic_find(t, topic), key, buf, sizeof(buf),
						&is_default),
			 TDM_TOPIC_OK);
	return buf;
}

START_TEST(precedence_and_persistence)
{
	char err[256];
	struct tdm_topics *t = open_topics(err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	struct tdm_dyn *d = tdm_topics_dyn(t);
	struct tdm_kv ovr = { "segment.ms", "1000" };
	ck_assert_int_eq(tdm_topics_create(t, "a", 1, &ovr, 1, err, sizeof(err)), TDM_TOPIC_OK);
	ck_assert_str_eq(value_of(t, "a", "retention.ms"), "5000000"); /* tandem.conf */

	struct tdm_kv def[] = { { "retention.ms", "60000" }, { "segment.ms", "7777" } };
	ck_assert_int_eq(tdm_dyn_set(d, TDM_DYN_DEFAULT, def, 2, err, sizeof(err)), TDM_TOPIC_OK);
	ck_assert_str_eq(value_of(t, "a", "retention.ms"), "60000");
	ck_assert_str_eq(value_of(t, "a", "segment.ms"), "1000"); /* its own override */
	ck_assert_int_eq(tdm_dyn_source(d, "retention.ms"), TDM_DYN_DEFAULT);

	struct tdm_kv mine = { "retention.ms", "120000" };
	ck_assert_int_eq(tdm_dyn_set(d, TDM_DYN_BROKER, &mine, 1, err, sizeof(err)), TDM_TOPIC_OK);
	ck_assert_str_eq(value_of(t, "a", "retention.ms"), "120000");
	ck_assert_int_eq(tdm_dyn_source(d, "retention.ms"), TDM_DYN_BROKER);

	struct tdm_kv bad = { "retention.ms", "soon" };
	ck_assert_int_eq(tdm_dyn_set(d, TDM_DYN_BROKER, &bad, 1, err, sizeof(err)),
			 TDM_ERR_INVALID_CONFIG);
	ck_assert_str_eq(tdm_dyn_value(d, TDM_DYN_BROKER, "retention.ms"), "120000");
	char st[64];
	ck_assert_int_eq(tdm_dyn_static(d, "retention.ms", st, sizeof(st)), TDM_TOPIC_OK);
	ck_assert_str_eq(st, "5000000");
	tdm_topics_close(t);

	t = open_topics(err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	d = tdm_topics_dyn(t);
	ck_assert_str_eq(value_of(t, "a", "retention.ms"), "120000");
	ck_assert_str_eq(tdm_dyn_value(d, TDM_DYN_DEFAULT, "segment.ms"), "7777");
	ck_assert_int_eq(tdm_dyn_set(d, TDM_DYN_BROKER, NULL, 0, err, sizeof(err)), TDM_TOPIC_OK);
	ck_assert_str_eq(value_of(t, "a", "retention.ms"), "60000");
	ck_assert_int_eq(tdm_dyn_set(d, TDM_DYN_DEFAULT, NULL, 0, err, sizeof(err)), TDM_TOPIC_OK);
	ck_assert_str_eq(value_of(t, "a", "retention.ms"), "5000000");
	ck_assert_int_eq(tdm_dyn_source(d, "retention.ms"), -1);
	tdm_topics_close(t);
}
END_TEST

START_TEST(damaged_file_refused)
{
	char err[256], path[512];
	struct tdm_topics *t = open_topics(err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	tdm_topics_close(t);
	snprintf(path, sizeof(path), "%s/logs/broker_configs", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("default retention.ms=60000\nbroker no.such.key=1\n", f);
	fclose(f);
	ck_assert_ptr_null(open_topics(err, sizeof(err)));
	ck_assert_msg(strstr(err, "broker_configs:2:") != NULL, "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dyn_defaults");
	TCase *tc = tcase_create("dyn");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, precedence_and_persistence);
	tcase_add_test(tc, damaged_file_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
