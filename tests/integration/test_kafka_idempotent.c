/* Integration tests: idempotent producers (issue 16 item 1) over raw
 * sockets and librdkafka.  InitProducerId hands out new ids; a retried
 * batch is answered with the offset it got the first time and stored
 * once; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER (45), an older
 * epoch INVALID_PRODUCER_EPOCH (47); a retry after kill -9 and restart is still
 * recognised (the state is rebuilt from the log); librdkafka's
 * enable.idempotence produces in order with no error.
 *
 * The kill -9 test starts a tandemd of its own.  Every wait is bounded. */
#include "kafka_harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void make_topic(const char *bootstrap, const char *topic)
{
	rd_kafka_t *p = kh_producer(bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}

/* Reads partition 0 of topic: exactly the values in want, in order. */
static void expect_values(const char *bootstrap, const char *topic, const char *const *want, int n)
{
	rd_kafka_t *c = kh_consumer(bootstrap, (const char *const[]){ "group.id", "idem",
								       KH_READ_TO_END, NULL });
	struct kh_msg m[16];
	int got = kh_consume(c, topic, 0, RD_KAFKA_OFFSET_BEGINNING, m, 16, 10000);
	ck_assert_int_eq(got, n);
	for (int i = 0; i < n; i++) {
		ck_assert_str_eq(m[i].value, want[i]);
		ck_assert_int_eq(m[i].offset, i);
	}
	kh_msgs_free(m, got);
	rd_kafka_destroy(c);
}

START_TEST(idempotent_produce_over_the_wire)
{
	char topic[64];
	int64_t pid, pid2, base = -1;
	int16_t epoch;
	int fd = kh_raw_connect(kh_main());

	kh_name(topic, sizeof topic, "idem");
	make_topic(kh_bootstrap(), topic);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, NULL, &pid, &epoch), 0);
	ck_assert_int_ge(pid, 0);
	ck_assert_int_eq(epoch, 0);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, NULL, &pid2, &epoch), 0);
	ck_assert_int_ne(pid2, pid);

	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 0, "a", &base), 0);
	ck_assert_int_eq(base, 0);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid2, 0, 0, "x", &base), 0);
	ck_assert_int_eq(base, 1);
	base = -1; /* the retry: its first offset, stored once */
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 0, "a", &base), 0);
	ck_assert_int_eq(base, 0);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 1, "b", &base), 0);
	ck_assert_int_eq(base, 2);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 5, "gap", NULL), 45);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 1, 0, "c", &base), 0);
	ck_assert_int_eq(base, 3);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 2, "old", NULL), 47);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "idemtx-1", &pid2, &epoch), 0);
	ck_assert_int_eq(epoch, 0); /* a transactional producer (test_kafka_txn) */
	close(fd);
	expect_values(kh_bootstrap(), topic, (const char *const[]){ "a", "x", "b", "c" }, 4);
}
END_TEST

START_TEST(retry_after_kill9_is_recognised)
{
	struct kh_broker b;
	char topic[64];
	int64_t pid, base = -1;
	int16_t epoch;
	int status;

	ck_assert_int_eq(kh_broker_start(&b, NULL), 0);
	kh_name(topic, sizeof topic, "idemkill");
	make_topic(b.bootstrap, topic);
	int fd = kh_raw_connect(&b);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, NULL, &pid, &epoch), 0);
	for (int i = 0; i < 5; i++) {
		char v[8];
		snprintf(v, sizeof v, "v%d", i);
		ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, i, v, &base), 0);
		ck_assert_int_eq(base, i);
	}
	close(fd);
	kill(b.pid, SIGKILL); /* acks=all was answered: on disk, no snapshot written */
	waitpid(b.pid, &status, 0);
	b.pid = 0;
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	fd = kh_raw_connect(&b);
	base = -1;
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 4, "v4", &base), 0);
	ck_assert_int_eq(base, 4);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 6, "gap", NULL), 45);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, pid, 0, 5, "v5", &base), 0);
	ck_assert_int_eq(base, 5);
	/* a new id after the restart is not one handed out before it */
	int64_t again;
	ck_assert_int_eq(kh_raw_init_producer_id(fd, NULL, &again, &epoch), 0);
	ck_assert_int_gt(again, pid);
	close(fd);
	expect_values(b.bootstrap, topic,
		      (const char *const[]){ "v0", "v1", "v2", "v3", "v4", "v5" }, 6);
	kh_broker_destroy(&b);
}
END_TEST

START_TEST(librdkafka_enable_idempotence)
{
	char topic[64];
	kh_name(topic, sizeof topic, "idemrd");
	make_topic(kh_bootstrap(), topic);
	rd_kafka_t *p = kh_producer(kh_bootstrap(), (const char *const[]){ "enable.idempotence",
									    "true", "linger.ms", "2",
									    NULL });
	for (int i = 0; i < 10; i++) {
		char v[8];
		snprintf(v, sizeof v, "r%d", i);
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, v, -1, NULL), 0);
	}
	rd_kafka_destroy(p);
	expect_values(kh_bootstrap(), topic,
		      (const char *const[]){ "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8",
					     "r9" },
		      10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kafka-idempotent");
	TCase *tc = kh_tcase("idempotent");

	tcase_add_test(tc, idempotent_produce_over_the_wire);
	tcase_add_test(tc, retry_after_kill9_is_recognised);
	tcase_add_test(tc, librdkafka_enable_idempotence);
	suite_add_tcase(s, tc);
	return kh_run_suite(s, NULL);
}
