/*
 * Kafka's broker limits in core/limits.c: max.connections.per.ip.overrides
 * parsed as Kafka writes it (IPv6 without brackets, spaces, malformed
 * entries refused), the value in force (set at run time over tandem.conf's;
 * removing it goes back), and run-time overrides replacing tandem.conf's as
 * a whole, each change reported for persistence.
 *
 * Depends on: Check, src/core (libtdmcore).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/limits.h"

struct seen {
	char text[512];
};

static void collect(void *ctx, const char *ip, size_t len, int64_t count)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "[%.*s=%lld]", (int)len, ip, (long long)count);
}

START_TEST(test_overrides_parse)
{
	struct seen s = { "" };
	char err[256];

	ck_assert_int_eq(tdm_limits_parse_overrides(" 127.0.0.1:5 ,::1:7,,10.0.0.1:0 ", collect, &s,
						    err, sizeof(err)),
			 0);
	ck_assert_str_eq(s.text, "[127.0.0.1=5][::1=7][10.0.0.1=0]");
	ck_assert_int_eq(tdm_limits_parse_overrides("", NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_limits_parse_overrides(NULL, NULL, NULL, err, sizeof(err)), 0);
	static const char *const bad[][2] = {
		{ "127.0.0.1", "is not IP:COUNT" },      { ":5", "is not IP:COUNT" },
		{ "127.0.0.1:", "is not IP:COUNT" },     { "127.0.0.1:x", "is not a count" },
		{ "127.0.0.1:-1", "is not a count" },    { "h:2147483648", "is not a count" },
		{ "a:1, 127.0.0.1", "is not IP:COUNT" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(tdm_limits_parse_overrides(bad[i][0], NULL, NULL, err,
							    sizeof(err)),
				 -1);
		ck_assert_msg(strstr(err, bad[i][1]), "'%s': %s", bad[i][0], err);
	}
}
END_TEST

static int changes;

static void changed(void *ctx, const char *owner, const char *field)
{
	(void)ctx, (void)owner, (void)field;
	changes++;
}

START_TEST(test_values_in_force)
{
	struct tdm_config cfg;
	struct tdm_limits *l = tdm_limits_new();
	char err[256];

	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_ptr_nonnull(l);
	cfg.kafka_max_connections_per_ip = 10;
	free(cfg.kafka_max_connections_per_ip_overrides);
	cfg.kafka_max_connections_per_ip_overrides = strdup("127.0.0.2:3");
	/* tandem.conf's */
	ck_assert_int_eq(tdm_limits_kafka(l, &cfg, TDM_KAFKA_PER_IP), 10);
	ck_assert_int_eq(tdm_limits_kafka(l, &cfg, TDM_KAFKA_PARTITIONS), cfg.max_partitions);
	ck_assert_int_eq(tdm_limits_kafka(l, &cfg, TDM_KAFKA_REQUEST_SIZE),
			 (int64_t)cfg.kafka_max_request_size);
	ck_assert_int_eq(tdm_limits_kafka(l, &cfg, "no.such"), -1);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.2"), 3);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.1"), 10);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(NULL, &cfg, "127.0.0.2"), 3);
	/* set at run time wins; removed, tandem.conf's again */
	ck_assert_int_eq(tdm_limits_set(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PER_IP, 4), 0);
	ck_assert_int_eq(tdm_limits_set(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PARTITIONS, 7), 0);
	ck_assert_int_eq(tdm_limits_kafka(l, &cfg, TDM_KAFKA_PARTITIONS), 7);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.1"), 4);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.2"), 3);
	ck_assert_int_eq(tdm_limits_clear(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PARTITIONS), 0);
	ck_assert_int_eq(tdm_limits_kafka(l, &cfg, TDM_KAFKA_PARTITIONS), cfg.max_partitions);
	/* run-time overrides replace tandem.conf's as a whole */
	changes = 0;
	ck_assert_int_eq(tdm_limits_kafka_set_overrides(l, "127.0.0.9:1,::1:2", changed, NULL, err,
							sizeof(err)),
			 0);
	ck_assert_int_eq(changes, 3); /* two addresses and the marker */
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.2"), 4);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.9"), 1);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "::1"), 2);
	changes = 0;
	ck_assert_int_eq(tdm_limits_kafka_set_overrides(l, "10.0.0.1:5", changed, NULL, err,
							sizeof(err)),
			 0);
	ck_assert_int_eq(changes, 5); /* two removed, the marker cleared, one set, the marker */
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.9"), 4);
	ck_assert_int_eq(tdm_limits_kafka_set_overrides(l, "x", changed, NULL, err, sizeof(err)),
			 -2);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "10.0.0.1"), 5); /* unchanged */
	ck_assert_int_eq(tdm_limits_kafka_set_overrides(l, "", changed, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.2"), 4); /* none at all */
	tdm_limits_kafka_clear_overrides(l, changed, NULL);
	ck_assert_int_eq(tdm_limits_kafka_per_ip(l, &cfg, "127.0.0.2"), 3); /* tandem.conf's */
	tdm_limits_kafka_refused(l);
	ck_assert_uint_eq(tdm_limits_kafka_refused_count(l), 1);
	tdm_limits_free(l);
	tdm_config_free(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limits_kafka");
	TCase *tc = tcase_create("limits_kafka");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_overrides_parse);
	tcase_add_test(tc, test_values_in_force);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
