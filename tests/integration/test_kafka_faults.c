/* Integration tests: Kafka produce under storage faults and the disk alarm
 * (issue 11, finding 1).  acks=all is answered only once the data is
 * fsynced: a failed fsync answers KAFKA_STORAGE_ERROR (never success, never
 * a silent timeout); a failed write answers KAFKA_STORAGE_ERROR and leaves
 * nothing behind; while the disk alarm is on, produce is refused with the
 * same retriable error, so a Kafka client cannot fill the disk that AMQP's
 * confirmed messages live on.
 *
 * Each test starts a tandemd of its own (faults armed through
 * TANDEM_FAULTS, read at start).  Every wait is bounded. */
#include "kafka_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "faulty"

static const char *const no_retry[] = { "acks", "all", "message.send.max.retries", "0",
					"message.timeout.ms", "15000", NULL };

static void start(struct kh_broker *b, const char *faults, const char *const *extra)
{
	if (faults)
		setenv("TANDEM_FAULTS", faults, 1);
	ck_assert_int_eq(kh_broker_start(b, extra), 0);
	unsetenv("TANDEM_FAULTS");
}

static rd_kafka_t *producer_with_topic(struct kh_broker *b)
{
	rd_kafka_t *p = kh_producer(b->bootstrap, no_retry);
	ck_assert_int_eq(kh_create_topic(p, TOPIC, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	return p;
}

/* Reads partition 0 from the start and checks it holds exactly `want`
 * values, in order. */
static void expect_values(struct kh_broker *b, const char *const *want, int n)
{
	rd_kafka_t *c = kh_consumer(b->bootstrap, (const char *const[]){ "group.id", "faults",
									  KH_READ_TO_END, NULL });
	struct kh_msg m[8];
	int got = kh_consume(c, TOPIC, 0, RD_KAFKA_OFFSET_BEGINNING, m, n, 10000);
	ck_assert_int_eq(got, n);
	for (int i = 0; i < n; i++) {
		ck_assert_str_eq(m[i].value, want[i]);
		ck_assert_int_eq(m[i].offset, i);
	}
	kh_msgs_free(m, got);
	/* and nothing after them: the partition ends there */
	got = kh_consume(c, TOPIC, 0, n, m, 1, 10000);
	kh_msgs_free(m, got);
	ck_assert_int_eq(got, 0);
	rd_kafka_destroy(c);
}

START_TEST(acks_all_failed_fsync_is_storage_error)
{
	struct kh_broker b;
	start(&b, "fsync:" TOPIC ":1:1", NULL);
	rd_kafka_t *p = producer_with_topic(&b);
	int64_t off = -1;
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "lost", -1, &off),
			 RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR);
	/* the partition is offline until restart: an fsync cannot be retried */
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "after", -1, &off),
			 RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR);
	rd_kafka_destroy(p);
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	p = kh_producer(b.bootstrap, no_retry);
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "again", -1, &off), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
	kh_broker_destroy(&b);
}
END_TEST

START_TEST(failed_write_is_storage_error_and_leaves_nothing)
{
	struct kh_broker b;
	start(&b, "short:" TOPIC ":2:1", NULL);
	rd_kafka_t *p = producer_with_topic(&b);
	int64_t off = -1;
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "one", -1, &off), RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "torn", -1, &off),
			 RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR);
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "two", -1, &off), RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(off, 1);
	rd_kafka_destroy(p);
	const char *want[] = { "one", "two" };
	expect_values(&b, want, 2);
	ck_assert_int_eq(kh_broker_restart(&b), 0); /* the cut-back tail recovers clean */
	expect_values(&b, want, 2);
	kh_broker_destroy(&b);
}
END_TEST

START_TEST(disk_alarm_refuses_produce)
{
	struct kh_broker b;
	static const char *const alarm[] = { "--disk-free-limit", "1000000GB", NULL };
	start(&b, NULL, alarm);
	rd_kafka_t *p = kh_producer(b.bootstrap, no_retry);
	rd_kafka_resp_err_t e = kh_create_topic(p, TOPIC, 1, 1, NULL);
	ck_assert_int_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR);
	int64_t off = -1;
	ck_assert_int_eq(kh_produce_sync(p, TOPIC, 0, NULL, "no room", -1, &off),
			 RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR);
	rd_kafka_destroy(p);
	kh_broker_destroy(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_faults");
	TCase *tc = kh_tcase("faults");
	tcase_add_test(tc, acks_all_failed_fsync_is_storage_error);
	tcase_add_test(tc, failed_write_is_storage_error_and_leaves_nothing);
	tcase_add_test(tc, disk_alarm_refuses_produce);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
